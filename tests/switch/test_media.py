"""Playback durations of every file spec the simulated applications accept, and WAV writing."""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import pytest

from eventsocket.switch.media import (
    MediaError,
    MediaNotFoundError,
    ToneSegment,
    parse_tone_stream,
    playback_duration,
    resolve_sound,
    split_file_params,
    wav_duration,
    write_silence_wav,
    write_wav,
)

MS = 1e-3


def make_wav(path: Path, frames: int, rate: int = 8000, channels: int = 1, width: int = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x01" * (frames * channels * width))
    return path


def riff(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"WAVE"
    for cid, data in chunks:
        body += cid + struct.pack("<I", len(data)) + data + (b"\0" if len(data) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def fmt_chunk(
    tag: int, channels: int, rate: int, byte_rate: int, align: int, bits: int, extra: bytes = b""
) -> bytes:
    return struct.pack("<HHIIHH", tag, channels, rate, byte_rate, align, bits) + extra


# --------------------------------------------------------------------------- WAV files


@pytest.mark.parametrize(
    ("frames", "rate", "channels", "width"),
    [(12345, 8000, 1, 2), (16000, 16000, 2, 2), (44100 * 3 + 7, 44100, 1, 1), (480, 48000, 2, 2)],
)
def test_wav_duration_from_header(tmp_path: Path, frames: int, rate: int, channels: int, width: int) -> None:
    path = make_wav(tmp_path / "prompt.wav", frames, rate, channels, width)
    expected = frames / rate
    assert wav_duration(path) == pytest.approx(expected, abs=MS)
    assert playback_duration(str(path)) == pytest.approx(expected, abs=MS)


def test_relative_to_sounds_dir(tmp_path: Path) -> None:
    make_wav(tmp_path / "ivr" / "welcome.wav", 8000 * 3)
    assert playback_duration("ivr/welcome.wav", sounds_dir=tmp_path) == pytest.approx(3.0, abs=MS)


def test_rate_directory_under_sounds_dir(tmp_path: Path) -> None:
    make_wav(tmp_path / "8000" / "beep.wav", 4000)
    assert playback_duration("beep.wav", sounds_dir=tmp_path) == pytest.approx(0.5, abs=MS)


def test_rate_directory_next_to_file_is_preferred(tmp_path: Path) -> None:
    # mod_sndfile opens <dir>/<rate>/<file> before <dir>/<file>
    make_wav(tmp_path / "ivr" / "8000" / "hello.wav", 8000 * 2)
    make_wav(tmp_path / "ivr" / "hello.wav", 8000 * 5)
    assert playback_duration("ivr/hello.wav", sounds_dir=tmp_path) == pytest.approx(2.0, abs=MS)
    assert resolve_sound("ivr/hello.wav", sounds_dir=tmp_path) == tmp_path / "ivr" / "8000" / "hello.wav"
    assert playback_duration(str(tmp_path / "ivr" / "hello.wav")) == pytest.approx(2.0, abs=MS)


def test_absolute_path_ignores_sounds_dir(tmp_path: Path) -> None:
    path = make_wav(tmp_path / "abs" / "x.wav", 800)
    assert playback_duration(str(path), sounds_dir=tmp_path / "elsewhere") == pytest.approx(0.1, abs=MS)


def test_mulaw_with_fact_chunk(tmp_path: Path) -> None:
    # WAVE_FORMAT_MULAW (7), which the wave module rejects: 2.5 s at 8000 Hz, 1 byte a sample
    samples = 20000
    data = riff(
        (b"fmt ", fmt_chunk(7, 1, 8000, 8000, 1, 8, b"\0\0")),
        (b"fact", struct.pack("<I", samples)),
        (b"data", b"\xff" * samples),
    )
    path = tmp_path / "ulaw.wav"
    path.write_bytes(data)
    with pytest.raises(wave.Error), wave.open(str(path), "rb"):
        pass
    assert playback_duration(str(path)) == pytest.approx(2.5, abs=MS)


def test_non_pcm_without_fact_uses_byte_rate(tmp_path: Path) -> None:
    # a-law (6), an odd-sized LIST chunk before the data (RIFF pads it to even)
    data = riff(
        (b"fmt ", fmt_chunk(6, 1, 8000, 8000, 1, 8)),
        (b"LIST", b"INFOabc"),
        (b"data", b"\xd5" * 6000),
    )
    path = tmp_path / "alaw.wav"
    path.write_bytes(data)
    assert playback_duration(str(path)) == pytest.approx(0.75, abs=MS)


def test_extensible_pcm(tmp_path: Path) -> None:
    # WAVE_FORMAT_EXTENSIBLE, stereo 16-bit at 16 kHz: 1.25 s
    pcm_guid = b"\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    extra = struct.pack("<HHI", 22, 16, 3) + pcm_guid
    frames = 20000
    data = riff((b"fmt ", fmt_chunk(0xFFFE, 2, 16000, 64000, 4, 16, extra)), (b"data", b"\0" * frames * 4))
    path = tmp_path / "ext.wav"
    path.write_bytes(data)
    assert playback_duration(str(path)) == pytest.approx(1.25, abs=MS)


def test_header_claiming_more_data_than_the_file_holds(tmp_path: Path) -> None:
    # a recording still being written: data size 0xFFFFFFFF, 1 s of audio present
    header = riff((b"fmt ", fmt_chunk(1, 1, 8000, 16000, 2, 16)))
    header = header[:4] + struct.pack("<I", 0xFFFFFFFF) + header[8:]
    path = tmp_path / "growing.wav"
    path.write_bytes(header + b"data" + struct.pack("<I", 0xFFFFFFFF) + b"\0" * 16000)
    assert playback_duration(str(path)) == pytest.approx(1.0, abs=MS)


def test_not_a_wav_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    with pytest.raises(MediaError) as info:
        playback_duration(str(path))
    assert not isinstance(info.value, FileNotFoundError)
    assert "unknown format" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError) as info:
        playback_duration("no/such/prompt.wav", sounds_dir=tmp_path)
    error = info.value
    assert isinstance(error, MediaError)
    assert isinstance(error, FileNotFoundError)
    assert str(error) == (
        f"Error Opening File [{tmp_path / 'no/such/prompt.wav'}] [System error : No such file or directory.]"
    )
    assert error.response == "FILE NOT FOUND"
    assert error.path == str(tmp_path / "no/such/prompt.wav")


def test_missing_absolute_file_without_sounds_dir(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        playback_duration(str(tmp_path / "gone.wav"))


def test_unknown_scheme_is_an_invalid_format() -> None:
    with pytest.raises(MediaError, match=r"Invalid file format \[shout\]"):
        playback_duration("shout://example.com/stream.mp3")


def test_empty_spec() -> None:
    with pytest.raises(MediaError):
        playback_duration("  ")


# --------------------------------------------------------------------------- silence, streams, speech


@pytest.mark.parametrize(
    ("spec", "seconds"),
    [
        ("silence_stream://1500", 1.5),
        ("silence_stream://250,1400", 0.25),
        ("silence_stream://1", 0.001),
        ("silence_stream://-1", math.inf),
        ("silence_stream://0", math.inf),
        ("silence_stream://", math.inf),
        ("silence_stream://,1400", math.inf),
        ("SILENCE_STREAM://2000", 2.0),
        ("local_stream://moh", math.inf),
        ("local_stream://default/8000", math.inf),
    ],
)
def test_streams(spec: str, seconds: float) -> None:
    assert playback_duration(spec) == pytest.approx(seconds, abs=MS)


def test_say_is_estimated_from_the_words() -> None:
    one = playback_duration("say:hello")
    assert one > 0
    assert playback_duration("say:flite:kal:one two three four") == pytest.approx(4 * one)
    assert playback_duration("say:one two three four") == pytest.approx(4 * one)
    assert playback_duration("phrase:voicemail_hello:1 2") == pytest.approx(2 * one)


# --------------------------------------------------------------------------- tone_stream


@pytest.mark.parametrize(
    ("spec", "seconds"),
    [
        ("tone_stream://%(2000,4000,440,480);loops=2", 12.0),
        ("tone_stream://%(2000,4000,440,480);LOOPS=1", 6.0),
        ("tone_stream://%(2000,4000,440,480)", 6.0),
        ("tone_stream://%(100,100,350)", 0.2),
        ("tone_stream://L=3;%(100,100,350)", 0.6),
        ("tone_stream://%(100,100,350);%(200,0,440)", 0.4),
        ("tone_stream://%(100,100,350)%(200,0,440)", 0.4),
        ("tone_stream://v=-7;>=2;+=.1;%(1000,0,350,440)", 1.0),
        ("tone_stream://v=-20;%(500,500,1000);loops=3", 3.0),
        ("tone_stream://l=3;%(100,100,350);%(100,100,350)", 0.8),
        ("tone_stream://L=2;l=2;%(100,0,350)", 0.4),
        ("{loops=3}tone_stream://%(100,100,350)", 0.6),
        ("tone_stream://%(100,100,350);loops=-1", math.inf),
        ("tone_stream://l=-1;%(100,100,350)", math.inf),
        ("tone_stream://d=100;w=50;1234", 0.6),
        ("tone_stream://1(100,50)", 0.15),
        # bare DTMF digits use libteletone's defaults: 2000 samples on, 500 off (250 + 62.5 ms)
        ("tone_stream://0", 0.3125),
        # a map without a frequency plays nothing; a malformed tone stops the run
        ("tone_stream://%(1000,1000,0)", 0.0),
        ("tone_stream://%(100,100);%(100,100,350)", 0.0),
        ("tone_stream://%(100,100,350);x(5,5,5)", 0.2),
        ("tone_stream://", 0.0),
        ("tone_stream://;loops=-1", 0.0),
    ],
)
def test_tone_stream_durations(spec: str, seconds: float) -> None:
    assert playback_duration(spec) == pytest.approx(seconds, abs=MS)


def test_parse_tone_stream_segments() -> None:
    stream = parse_tone_stream("tone_stream://v=-7;%(100,50,941.0,1477.0);%(1400,0,350,440);loops=2")
    assert list(stream) == [
        ToneSegment(on_ms=100.0, off_ms=50.0, freqs=(941.0, 1477.0)),
        ToneSegment(on_ms=1400.0, off_ms=0.0, freqs=(350.0, 440.0)),
    ]
    assert stream.loops == 2
    assert stream.seconds == pytest.approx(3.1)


def test_parse_tone_stream_without_prefix() -> None:
    assert parse_tone_stream("%(2000,4000,440,480)") == [ToneSegment(2000.0, 4000.0, (440.0, 480.0))]


def test_parse_tone_stream_big_loops_regenerate() -> None:
    stream = parse_tone_stream("L=3;%(100,100,350)")
    assert len(stream) == 3
    assert all(segment == ToneSegment(100.0, 100.0, (350.0,)) for segment in stream)


def test_parse_tone_stream_small_loops_apply_to_the_next_tone() -> None:
    stream = parse_tone_stream("l=4;%(10,10,350);%(20,20,440)")
    assert [segment.repeat for segment in stream] == [4, 1]
    assert stream[0].seconds == pytest.approx(0.08)


def test_parse_tone_stream_dtmf_digits() -> None:
    stream = parse_tone_stream("12")
    assert [segment.freqs for segment in stream] == [(697.0, 1209.0), (697.0, 1336.0)]
    assert stream[0].on_ms == pytest.approx(250.0)
    assert stream[0].off_ms == pytest.approx(62.5)


def test_parse_tone_stream_forever() -> None:
    stream = parse_tone_stream("l=-1;%(100,100,350);%(1,1,1)")
    assert len(stream) == 1
    assert stream[0].repeat == -1
    assert stream.seconds == math.inf


def test_parse_tone_stream_rate() -> None:
    # on a 16 kHz channel, explicit milliseconds stay milliseconds; sample defaults halve
    assert parse_tone_stream("%(100,100,350)", rate=16000).seconds == pytest.approx(0.2)
    assert parse_tone_stream("1", rate=16000).seconds == pytest.approx(0.15625)


def test_tone_stream_from_file(tmp_path: Path) -> None:
    tones = tmp_path / "tones.ttml"
    tones.write_text("%(100,100,350)\n%(300,0,440)\n")
    assert playback_duration(f"tone_stream://path={tones}") == pytest.approx(0.5, abs=MS)
    with pytest.raises(MediaNotFoundError):
        playback_duration(f"tone_stream://path={tmp_path / 'missing.ttml'}")


# --------------------------------------------------------------------------- file_string


def test_file_string_sums_its_parts(tmp_path: Path) -> None:
    a = make_wav(tmp_path / "a.wav", 8000)
    make_wav(tmp_path / "b.wav", 4000)
    spec = f"file_string://{a}!b.wav!silence_stream://250!tone_stream://%(100,100,350)"
    assert playback_duration(spec, sounds_dir=tmp_path) == pytest.approx(1.0 + 0.5 + 0.25 + 0.2, abs=MS)


def test_file_string_skips_parts_that_do_not_open(tmp_path: Path) -> None:
    make_wav(tmp_path / "a.wav", 8000)
    assert playback_duration("file_string://missing.wav!a.wav", sounds_dir=tmp_path) == pytest.approx(
        1.0, abs=MS
    )


def test_file_string_with_no_playable_part(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError):
        playback_duration("file_string://a.wav!b.wav", sounds_dir=tmp_path)


def test_file_string_forever() -> None:
    assert playback_duration("file_string://silence_stream://100!local_stream://moh") == math.inf


def test_file_params() -> None:
    assert split_file_params("{loops=3,volume=-2}{x=y}a.wav") == (
        {"loops": "3", "volume": "-2", "x": "y"},
        "a.wav",
    )
    assert split_file_params("{broken a.wav") == ({}, "{broken a.wav")
    assert playback_duration("{volume=-2}silence_stream://500") == pytest.approx(0.5)


# --------------------------------------------------------------------------- writing


@pytest.mark.parametrize(
    ("seconds", "rate", "channels", "frames"),
    [
        (2.5, 8000, 1, 20000),
        (1.0, 16000, 2, 16000),
        (0.0, 8000, 1, 0),
        (0.0001, 8000, 1, 1),
        (3.25, 48000, 1, 156000),
    ],
)
def test_write_silence_wav(tmp_path: Path, seconds: float, rate: int, channels: int, frames: int) -> None:
    path = tmp_path / "recordings" / "deep" / "call.wav"
    write_silence_wav(path, seconds, rate=rate, channels=channels)
    with wave.open(str(path), "rb") as w:
        assert w.getnframes() == frames
        assert w.getframerate() == rate
        assert w.getnchannels() == channels
        assert w.getsampwidth() == 2
        assert w.readframes(frames) == bytes(frames * 2 * channels)
    assert path.stat().st_size == 44 + frames * 2 * channels
    assert playback_duration(str(path)) == pytest.approx(frames / rate, abs=MS)


def test_write_silence_wav_rejects_bad_durations(tmp_path: Path) -> None:
    for seconds in (-1.0, math.inf, math.nan):
        with pytest.raises(ValueError):
            write_silence_wav(tmp_path / "x.wav", seconds)


def test_write_wav_round_trip(tmp_path: Path) -> None:
    frames = struct.pack("<4h", 0, 1000, -1000, 32767) * 2000  # 4000 stereo frames
    path = tmp_path / "out" / "tone.wav"
    write_wav(path, frames, 8000, 2)
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (2, 2, 8000, 4000)
        assert w.readframes(4000) == frames
    assert playback_duration(str(path)) == pytest.approx(0.5, abs=MS)


def test_write_wav_rejects_partial_frames(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_wav(tmp_path / "x.wav", b"\0\0\0", 8000, 1)
    with pytest.raises(ValueError):
        write_wav(tmp_path / "x.wav", b"\0\0", 8000, 2)
