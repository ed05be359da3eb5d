"""Media for the simulated applications: how long a playback lasts, and real WAV files.

The switch core carries no audio, yet what an ESL application can observe of media must be
real: a ``playback`` of a 7.3-second prompt keeps the channel busy for 7.3 seconds (of the
switch clock, which may be virtual), ``PLAYBACK_STOP`` comes after that, and a ``record``
leaves a WAV file on disk that other tools can open. This module answers the two questions
the playback and record applications ask, with the standard library only:

- :func:`playback_duration`: how many seconds FreeSWITCH would spend playing a file spec
  (a WAV file, ``silence_stream://``, ``tone_stream://``, ``file_string://``, ``say:`` ...);
- :func:`write_wav` / :func:`write_silence_wav`: write a real 16-bit PCM WAV file.

Tone streams are parsed the way libteletone's ``teletone_run`` does it, quirks included
(see :func:`parse_tone_stream`), because applications time their logic on how long a
``tone_stream://`` ringback or beep lasts.
"""

from __future__ import annotations

import errno
import math
import re
import struct
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from eventsocket.protocol.compat import atof, atoi

__all__ = [
    "DEFAULT_RATE",
    "SPEECH_SECONDS_PER_WORD",
    "MediaError",
    "MediaNotFoundError",
    "ToneSegment",
    "ToneStream",
    "parse_tone_stream",
    "playback_duration",
    "resolve_sound",
    "split_file_params",
    "wav_duration",
    "write_silence_wav",
    "write_wav",
]

#: Sample rate of a simulated channel (PCMU/PCMA). FreeSWITCH generates tones and looks for
#: ``<dir>/<rate>/<file>`` at the channel's rate.
DEFAULT_RATE = 8000

#: How long simulated text-to-speech (``say:``, ``phrase:``) takes per word: 150 words a
#: minute, a common speaking rate. There is no speech engine, so this is an estimate.
SPEECH_SECONDS_PER_WORD = 0.4

_WAVE_FORMAT_PCM = 1
_TELETONE_MAX_TONES = 18
# libteletone's default tone and gap lengths are set in samples, not milliseconds
# (teletone_init_session: duration = 2000, wait = 500), so a bare DTMF digit in a tone
# stream lasts 250 ms followed by 62.5 ms of silence on an 8 kHz channel.
_TELETONE_DEFAULT_DURATION = 2000
_TELETONE_DEFAULT_WAIT = 500
_DTMF_TONES: dict[str, tuple[float, ...]] = {
    "1": (697.0, 1209.0),
    "2": (697.0, 1336.0),
    "3": (697.0, 1477.0),
    "A": (697.0, 1633.0),
    "4": (770.0, 1209.0),
    "5": (770.0, 1336.0),
    "6": (770.0, 1477.0),
    "B": (770.0, 1633.0),
    "7": (859.0, 1209.0),
    "8": (859.0, 1336.0),
    "9": (859.0, 1477.0),
    "C": (859.0, 1633.0),
    "*": (941.0, 1209.0),
    "0": (941.0, 1336.0),
    "#": (941.0, 1477.0),
    "D": (941.0, 1633.0),
}


class MediaError(Exception):
    """A file spec that cannot be played.

    ``str(error)`` is the line FreeSWITCH would log; ``response`` is the value the playback
    application leaves in ``Application-Response`` (``current_application_response``).
    """

    response = "FILE NOT FOUND"

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return self.message


class MediaNotFoundError(MediaError, FileNotFoundError):
    """The file does not exist: a :class:`MediaError` that is also a ``FileNotFoundError``."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message, path=path)
        self.errno = errno.ENOENT
        self.strerror = "No such file or directory"
        self.filename = path


def _not_found(path: str) -> MediaNotFoundError:
    # mod_sndfile's log line when libsndfile cannot open a file
    return MediaNotFoundError(
        f"Error Opening File [{path}] [System error : No such file or directory.]", path=path
    )


def _bad_format(path: str) -> MediaError:
    return MediaError(f"Error Opening File [{path}] [File contains data in an unknown format.]", path=path)


# --------------------------------------------------------------------------- C helpers

def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


# --------------------------------------------------------------------------- file params


def split_file_params(spec: str) -> tuple[dict[str, str], str]:
    """Split FreeSWITCH's leading ``{name=value,...}`` file parameters from a file spec.

    ``{loops=3}tone_stream://%(100,100,350)`` gives ``({"loops": "3"}, "tone_stream://...")``.
    Several ``{...}`` blocks may follow one another; an unterminated block is left as part
    of the path, as FreeSWITCH does.
    """
    params: dict[str, str] = {}
    rest = spec.lstrip()
    while rest.startswith("{"):
        close = rest.find("}")
        if close < 0:
            break
        for item in rest[1:close].split(","):
            name, sep, value = item.partition("=")
            if sep and name.strip():
                params[name.strip()] = value.strip()
        rest = rest[close + 1 :]
    return params, rest


# --------------------------------------------------------------------------- tone_stream


@dataclass(frozen=True)
class ToneSegment:
    """One generated tone followed by its silence, as heard on the channel.

    ``on_ms``/``off_ms`` are what the channel hears (libteletone counts in samples, so
    defaults and ``r=`` can give fractions of a millisecond). ``repeat`` is how many times
    the segment is generated in a row (``l=N`` before it); -1 means forever.
    """

    on_ms: float
    off_ms: float
    freqs: tuple[float, ...]
    repeat: int = 1

    @property
    def seconds(self) -> float:
        """Length of the segment including its repeats (``math.inf`` when endless)."""
        if self.repeat < 0:
            return math.inf
        return (self.on_ms + self.off_ms) * self.repeat / 1000.0


class ToneStream(list[ToneSegment]):
    """The segments one generation of a ``tone_stream://`` produces, plus its ``loops``.

    ``L=N`` regenerates the whole string, so its repeats appear as segments; ``;loops=N``
    (or the ``{loops=N}`` file parameter) replays the generated audio: 0 or 1 plays it
    once, N plays it N times, a negative value forever.
    """

    def __init__(self, segments: list[ToneSegment] | None = None, *, loops: int = 0) -> None:
        super().__init__(segments or [])
        self.loops = loops

    @property
    def seconds(self) -> float:
        """Seconds a playback of this stream lasts (``math.inf`` when it never ends)."""
        once = sum(segment.seconds for segment in self)
        if once == 0:
            # an empty buffer ends the playback at once, even when told to loop forever
            return 0.0
        if self.loops < 0:
            return math.inf
        return once * max(self.loops, 1)


@dataclass
class _ToneState:
    """The parts of libteletone's generation session that affect timing."""

    rate: int
    duration: int = _TELETONE_DEFAULT_DURATION  # samples
    wait: int = _TELETONE_DEFAULT_WAIT  # samples
    loops: int = 0  # l=N: how many times the next tone is generated
    big_loops: int = 0  # L=N: how many times the whole string is run


def _cstr(buf: list[str], start: int) -> str:
    end = buf.index("\0", start)
    return "".join(buf[start:end])


def _strchr(buf: list[str], start: int, ch: str) -> int:
    i = start
    while buf[i] != "\0":
        if buf[i] == ch:
            return i
        i += 1
    return -1


def _teletone_run(cmd: str, st: _ToneState, play_rate: int, out: list[ToneSegment]) -> bool:
    """Port of libteletone's ``teletone_run`` that records segments instead of samples.

    The C code cuts its copy of the string in place (``;``, ``,`` and ``)`` become NULs)
    and a few odd inputs behave differently because of it (a missing ``)`` makes the
    digits that follow play as DTMF); working on a NUL-terminated list of characters
    keeps those quirks. Returns False once a segment repeats forever.
    """
    looping = False
    first = True
    while first or st.big_loops:
        first = False
        buf = [*cmd, "\0", "\0"]
        cur = 0
        syntax_error = False
        while buf[cur] != "\0" and not syntax_error:
            if buf[cur] in " \r\n":
                cur += 1
                continue
            end = _strchr(buf, cur, ";")
            if end >= 0:
                buf[end] = "\0"
                end += 1
            per_ms = _c_div(st.rate, 1000)
            if buf[cur + 1] == "=":
                key, value = buf[cur], _cstr(buf, cur + 2)
                if key == "r":
                    st.rate = atoi(value)
                elif key == "d":
                    st.duration = atoi(value) * per_ms
                elif key == "w":
                    st.wait = atoi(value) * per_ms
                elif key == "l":
                    st.loops = atoi(value)
                elif key == "L" and not looping:
                    big = atoi(value)
                    if big > 0:
                        st.big_loops = big
                        looping = True
                # c= (channels) does not change the length written; v=, >=, <=, += only
                # shape the volume
            else:
                while buf[cur] != "\0":
                    if buf[cur] in " \r\n":
                        cur += 1
                        continue
                    tmp_duration = tmp_wait = -1
                    tone: tuple[float, ...] | None = None
                    close = -1
                    if buf[cur + 1] == "(":
                        p = cur + 2
                        i = 0
                        freqs: list[float] = []
                        close = _strchr(buf, p, ")")
                        if close >= 0:
                            buf[close] = "\0"
                            close += 1
                        while True:
                            nxt = _strchr(buf, p, ",")
                            if nxt >= 0:
                                buf[nxt] = "\0"
                                nxt += 1
                            field = _cstr(buf, p)
                            if i == 0:
                                tmp_duration = atoi(field) * per_ms
                            elif i == 1:
                                tmp_wait = atoi(field) * per_ms
                            else:
                                freqs.append(atof(field))
                            i += 1
                            if nxt < 0 or i - 2 >= _TELETONE_MAX_TONES:
                                break
                            p = nxt
                        if i > 2 and buf[cur] == "%":
                            tone = tuple(freqs)
                        elif i != 2 or buf[cur] == "%":
                            syntax_error = True  # "Syntax Error!": the rest of this run is dropped
                            break
                    if tone is None:
                        tone = _DTMF_TONES.get(buf[cur], ())
                    if tone and tone[0]:
                        on = tmp_duration if tmp_duration > -1 else st.duration
                        off = tmp_wait if tmp_wait > -1 else st.wait
                        if st.loops < 0:
                            repeat = -1
                        else:
                            repeat = max(st.loops, 1)
                            st.loops = 0
                        out.append(
                            ToneSegment(
                                on_ms=max(on, 0) * 1000.0 / play_rate,
                                off_ms=max(off, 0) * 1000.0 / play_rate,
                                freqs=tone,
                                repeat=repeat,
                            )
                        )
                        if repeat < 0:
                            return False
                    cur = close if close >= 0 else cur + 1
            if syntax_error:
                break
            if end >= 0:
                cur = end
            elif buf[cur] != "\0":
                cur += 1
        if st.big_loops > 0:
            st.big_loops -= 1
    return True


_LOOPS_MARK = re.compile(re.escape(";loops="), re.IGNORECASE)


def parse_tone_stream(spec: str, *, rate: int = DEFAULT_RATE) -> ToneStream:
    """Parse a ``tone_stream://`` spec (the prefix and ``{...}`` parameters are optional).

    Follows mod_tone_stream and libteletone: ``;loops=N`` cuts the spec there and sets how
    many times the generated audio plays; ``;``-separated items are either settings
    (``L=N`` runs the whole string N times, ``l=N`` repeats the next tone N times, ``d=``
    and ``w=`` set the default tone and gap in ms, ``r=`` the generation rate; ``v=``,
    ``>=``, ``<=``, ``+=`` only change volume) or tones: ``%(on,off,freq[,freq...])`` in
    milliseconds and Hz, ``X(on,off)`` for a DTMF digit X, or bare DTMF digits with the
    default lengths. ``path=<file>`` reads the items from a file, one run per line.

    Examples: ``%(2000,4000,440,480);loops=2`` is 12 s; ``L=3;%(100,100,350)`` is 0.6 s.
    """
    params, body = split_file_params(spec)
    if body[:14].lower() == "tone_stream://":
        body = body[14:]
    loops = 0
    mark = _LOOPS_MARK.search(body)
    if mark:
        loops = atoi(body[mark.end() :])
        body = body[: mark.start()]
    if "loops" in params:
        loops = atoi(params["loops"])
    play_rate = rate if rate > 0 else DEFAULT_RATE
    st = _ToneState(rate=play_rate)
    out: list[ToneSegment] = []
    if body[:5].lower() == "path=":
        path = body[5:]
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            raise MediaNotFoundError(f"Failed to open [{path}]", path=path) from None
        for line in lines:
            if not _teletone_run(line, st, play_rate, out):
                break
    else:
        _teletone_run(body, st, play_rate, out)
    return ToneStream(out, loops=loops)


# --------------------------------------------------------------------------- WAV files


def wav_duration(path: str | Path) -> float:
    """Seconds of audio in a WAV file, read from its header.

    The ``wave`` module reads PCM files; files it rejects (mu-law, a-law, GSM,
    WAVE_FORMAT_EXTENSIBLE ...) and files whose header claims more data than they hold
    (a recording still being written) are measured from their RIFF chunks: the ``fact``
    sample count when there is one, else data size over byte rate.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except (OSError, ValueError):
        raise _not_found(str(p)) from None
    try:
        with wave.open(str(p), "rb") as w:
            frames, framerate = w.getnframes(), w.getframerate()
            frame_bytes = w.getsampwidth() * w.getnchannels()
        if framerate > 0 and frames * frame_bytes <= size:
            return frames / framerate
    except (wave.Error, EOFError, struct.error):
        pass
    except OSError:
        raise _not_found(str(p)) from None
    return _riff_duration(p, size)


def _riff_duration(path: Path, size: int) -> float:
    try:
        with path.open("rb") as f:
            header = f.read(12)
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                raise _bad_format(str(path))
            fmt: tuple[int, int, int, int] | None = None  # format, channels, rate, byte rate
            fact: int | None = None
            data_size: int | None = None
            pos = 12
            while pos + 8 <= size:
                f.seek(pos)
                chunk = f.read(8)
                if len(chunk) < 8:
                    break
                chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                body_at = pos + 8
                if chunk_id == b"fmt ":
                    raw = f.read(16)
                    if len(raw) == 16:
                        tag, channels, rate, byte_rate = struct.unpack("<HHII", raw[:12])
                        fmt = (tag, channels, rate, byte_rate)
                elif chunk_id == b"fact":
                    raw = f.read(4)
                    if len(raw) == 4:
                        fact = struct.unpack("<I", raw)[0]
                elif chunk_id == b"data":
                    data_size = min(chunk_size, max(0, size - body_at))
                    if fmt is not None:
                        break
                pos = body_at + chunk_size + (chunk_size & 1)
    except OSError:
        raise _not_found(str(path)) from None
    if fmt is None or data_size is None:
        raise _bad_format(str(path))
    tag, _channels, rate, byte_rate = fmt
    if tag != _WAVE_FORMAT_PCM and fact is not None and rate > 0:
        return fact / rate
    if byte_rate <= 0:
        raise _bad_format(str(path))
    return data_size / byte_rate


def resolve_sound(name: str, *, sounds_dir: Path | None = None, rate: int = DEFAULT_RATE) -> Path:
    """Find the file FreeSWITCH would open for ``name``.

    A relative name is taken under ``sounds_dir`` (the ``sound_prefix``); without one,
    under the current directory. Like mod_sndfile, the rate directory is tried first
    (``<dir>/8000/<file>`` next to the file, and ``<sounds_dir>/8000/<name>``), then the
    path itself.
    """
    p = Path(name)
    relative = not p.is_absolute() and sounds_dir is not None
    base = Path(sounds_dir) / p if relative and sounds_dir is not None else p
    candidates = [base.parent / str(rate) / base.name]
    if relative and sounds_dir is not None:
        candidates.append(Path(sounds_dir) / str(rate) / p)
    candidates.append(base)
    for candidate in candidates:
        if _is_file(candidate):
            return candidate
    raise _not_found(str(base))


def _is_file(path: Path) -> bool:
    """``Path.is_file``, but a name the system refuses (too long, a NUL byte) is just not there.

    A file name comes from a client's bytes; FreeSWITCH's ``stat`` fails on such a name and
    the file is "not found", where Python raises.
    """
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


# --------------------------------------------------------------------------- playback


def _speech_seconds(text: str) -> float:
    return max(1, len(text.split())) * SPEECH_SECONDS_PER_WORD


def playback_duration(spec: str, *, sounds_dir: Path | None = None, rate: int = DEFAULT_RATE) -> float:
    """Seconds a FreeSWITCH ``playback`` of ``spec`` lasts on a channel at ``rate`` Hz.

    - a WAV file (absolute, or relative to ``sounds_dir``, see :func:`resolve_sound`);
    - ``silence_stream://<ms>[,<thresh>]``: ``ms`` <= 0 or missing plays forever;
    - ``tone_stream://...`` (:func:`parse_tone_stream`);
    - ``file_string://a!b!...``: the sum of the parts; like mod_file_string, parts that do
      not open are skipped, and only when none opens is it an error;
    - ``local_stream://`` (music on hold) never ends;
    - ``say:`` and ``phrase:`` (speech) are estimated at :data:`SPEECH_SECONDS_PER_WORD`.

    Returns ``math.inf`` for a playback that only ends when interrupted. Raises
    :class:`MediaNotFoundError` for a missing file and :class:`MediaError` for anything
    else that cannot be played.
    """
    # file parameters ({volume=...}) do not change a file's length; tone_stream reads loops
    _params, body = split_file_params(spec)
    body = body.strip()
    if not body:
        raise MediaError("Invalid file spec []", path=spec)
    lower = body.lower()
    if lower.startswith("silence_stream://"):
        ms = atoi(body[17:])
        return ms / 1000.0 if ms > 0 else math.inf
    if lower.startswith("tone_stream://"):
        return parse_tone_stream(spec, rate=rate).seconds
    if lower.startswith("file_string://"):
        total = 0.0
        opened = 0
        for part in body[14:].split("!"):
            if not part.strip():
                continue
            try:
                total += playback_duration(part, sounds_dir=sounds_dir, rate=rate)
            except MediaError:
                continue
            opened += 1
        if not opened:
            raise _not_found(body)
        return total
    if lower.startswith("local_stream://"):
        return math.inf
    if lower.startswith("say:"):
        # say:<engine>:<voice>:<text>, or say:<text> with the channel's tts_engine
        engine, _, rest = body[4:].partition(":")
        voice, _, text = rest.partition(":")
        return _speech_seconds(text if engine and voice and text else body[4:])
    if lower.startswith("phrase:"):
        macro, _, data = body[7:].partition(":")
        return _speech_seconds(data or macro)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9_+.-]*)://", body)
    if scheme:
        raise MediaError(f"Invalid file format [{scheme.group(1)}] for [{body}]!", path=body)
    return wav_duration(resolve_sound(body, sounds_dir=sounds_dir, rate=rate))


# --------------------------------------------------------------------------- writing


def _create(path: str | Path) -> BinaryIO:
    """Open ``path`` for writing, creating its directories, as FreeSWITCH's ``record`` does.

    Every failure is an :class:`OSError`, including a name the system cannot take (a NUL byte
    from a client's argument, which Python reports as ValueError), so callers handle one kind.
    The file is opened before ``wave`` sees it: ``wave.open`` on a name it cannot open leaves
    a half-built writer that complains when collected.
    """
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        return open(p, "wb")
    except ValueError as exc:
        raise OSError(errno.EINVAL, str(exc), str(path)) from None


def write_wav(path: str | Path, frames: bytes, rate: int = DEFAULT_RATE, channels: int = 1) -> None:
    """Write ``frames`` (16-bit little-endian PCM, interleaved) as a WAV file.

    Parent directories are created, as FreeSWITCH's ``record`` does for its target.
    """
    if rate <= 0 or channels <= 0:
        raise ValueError(f"bad WAV format: rate={rate} channels={channels}")
    if len(frames) % (2 * channels):
        raise ValueError(f"{len(frames)} bytes is not a whole number of {channels}-channel 16-bit frames")
    with _create(path) as f, wave.open(f, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)


def write_silence_wav(path: str | Path, seconds: float, rate: int = DEFAULT_RATE, channels: int = 1) -> None:
    """Write a real 16-bit PCM WAV file holding ``seconds`` of silence.

    This is what ``record`` leaves when the far end is silent, which on a simulated call it
    always is. The file is written a second at a time, so long recordings do not need their
    whole audio in memory.
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"bad duration: {seconds}")
    if rate <= 0 or channels <= 0:
        raise ValueError(f"bad WAV format: rate={rate} channels={channels}")
    nframes = round(seconds * rate)
    frame_bytes = 2 * channels
    block = bytes(frame_bytes * rate)
    with _create(path) as f, wave.open(f, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.setnframes(nframes)
        left = nframes
        while left > 0:
            n = min(left, rate)
            w.writeframesraw(block[: n * frame_bytes])
            left -= n
