"""Dialplan applications on simulated calls: their arguments, effects, events and Application-Response.

Applications run the way an ESL client runs them, through ``sendmsg`` execute (or an inline
dialplan), on a switch core whose clock is virtual: sleeps, prompts, ring times and digit
timeouts take simulated seconds only.
"""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from calls_harness import Calls, virtual, wav_seconds, write_wav


def loopback_b(calls: Calls, a: str) -> str:
    b = calls.var(a, "other_loopback_leg_uuid")
    assert b is not None
    return b


def apps(calls: Calls, uuid: str) -> list[str]:
    return [e["Application"] for e in calls.of(uuid, "CHANNEL_EXECUTE")]


# -- answer, pre_answer, ring_ready -----------------------------------------------------------------


@virtual
async def test_ring_ready_pre_answer_answer_on_an_inbound_leg(calls: Calls) -> None:
    started = calls.now()
    a = await calls.originate(
        "loopback/m:~:ring_ready~sleep:2000~pre_answer~sleep:2000~answer~park/default/inline &park"
    )
    # early media from the b-leg completes the originate
    assert 2 <= calls.now() - started < 3
    b = loopback_b(calls, a)
    await calls.fired(b, "CHANNEL_PARK")
    assert apps(calls, b) == ["ring_ready", "sleep", "pre_answer", "sleep", "answer", "park"]
    progress = calls.of(b, "CHANNEL_PROGRESS")[0]
    assert (progress["Channel-Call-State"], progress["Answer-State"]) == ("RINGING", "ringing")
    # each event fires before the call state it leads to (switch_channel_perform_mark_*)
    media = calls.of(b, "CHANNEL_PROGRESS_MEDIA")[0]
    assert (media["Channel-Call-State"], media["Answer-State"]) == ("RINGING", "early")
    answer = calls.of(b, "CHANNEL_ANSWER")[0]
    assert (answer["Channel-Call-State"], answer["Answer-State"]) == ("EARLY", "answered")
    assert int(progress["Caller-Channel-Progress-Time"]) > 0
    assert (
        int(answer["Caller-Channel-Answered-Time"]) - int(media["Caller-Channel-Progress-Media-Time"])
        >= 2_000_000
    )
    states = [
        (e["Original-Channel-Call-State"], e["Channel-Call-State"]) for e in calls.of(b, "CHANNEL_CALLSTATE")
    ]
    assert states == [("DOWN", "RINGING"), ("RINGING", "EARLY"), ("EARLY", "ACTIVE")]
    # each step reached the a-leg too
    assert [
        e.name
        for e in calls.of(a)
        if e.name in ("CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER")
    ] == ["CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER"]
    for name in ("ring_ready", "pre_answer", "answer"):
        done = next(e for e in calls.of(b, "CHANNEL_EXECUTE_COMPLETE") if e["Application"] == name)
        assert done["Application-Response"] == "_none_"


@virtual
async def test_answer_twice_fires_once(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.execute(uuid, "answer")
    await calls.execute(uuid, "pre_answer")
    await calls.execute(uuid, "ring_ready")
    assert len(calls.of(uuid, "CHANNEL_ANSWER")) == 1
    assert not calls.of(uuid, "CHANNEL_PROGRESS") and not calls.of(uuid, "CHANNEL_PROGRESS_MEDIA")


# -- hangup, park -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "cause"),
    [
        ("", "NORMAL_CLEARING"),
        ("USER_BUSY", "USER_BUSY"),
        ("call_rejected", "CALL_REJECTED"),
        ("21", "CALL_REJECTED"),
    ],
)
@virtual
async def test_hangup_with_cause(calls: Calls, arg: str, cause: str) -> None:
    uuid = await calls.parked("null/1000 &park")
    done = await calls.execute(uuid, "hangup", arg)
    assert done["Application"] == "hangup"
    assert done["Hangup-Cause"] == cause
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    assert complete["variable_hangup_cause"] == cause
    assert complete["variable_last_app"] == "hangup"


@virtual
async def test_park_waits_until_moved(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    await asyncio.sleep(3600)
    assert not calls.of(uuid, "CHANNEL_UNPARK")
    assert calls.session(uuid).parked
    assert await calls.api("uuid_transfer", f"{uuid} 9664") == "+OK\n"
    await calls.gone(uuid)
    unpark = calls.of(uuid, "CHANNEL_UNPARK")
    assert len(unpark) == 1
    assert apps(calls, uuid) == ["park", "answer", "playback", "hangup"]


# -- set, unset, export, multiset -------------------------------------------------------------------------


@virtual
async def test_set_and_unset(calls: Calls) -> None:
    uuid = await calls.parked("{base=one}null/1000 &park")
    done = await calls.execute(uuid, "set", "greeting=hello world")
    assert done["variable_greeting"] == "hello world"
    assert done["Application-Response"] == "_none_"
    await calls.execute(uuid, "set", "derived=${base}-${greeting}")
    assert calls.var(uuid, "derived") == "one-hello world"
    await calls.execute(uuid, "set", "with_equals=a=b")
    assert calls.var(uuid, "with_equals") == "a=b"
    await calls.execute(uuid, "set", "greeting=")
    assert calls.var(uuid, "greeting") is None
    await calls.execute(uuid, "unset", "derived")
    assert calls.var(uuid, "derived") is None
    done = await calls.execute(uuid, "unset", "never_set")
    assert done["Application-Response"] == "_none_"


@virtual
async def test_multiset(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.execute(uuid, "multiset", "a=1 b=2 c=")
    assert (calls.var(uuid, "a"), calls.var(uuid, "b"), calls.var(uuid, "c")) == ("1", "2", None)
    await calls.execute(uuid, "multiset", "^^,d=x y,e=z")
    assert (calls.var(uuid, "d"), calls.var(uuid, "e")) == ("x y", "z")


@virtual
async def test_export_reaches_the_bridged_leg(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    await calls.execute(a, "export", "shared=yes")
    await calls.execute(a, "export", "nolocal:remote_only=1")
    assert calls.var(a, "shared") == "yes"
    assert calls.var(a, "remote_only") is None
    assert (calls.var(a, "export_vars") or "").split(",") == ["shared", "remote_only"]
    calls.start(a, "bridge", "null/2000")
    bridge = await calls.fired(a, "CHANNEL_BRIDGE")
    b = bridge["Bridge-B-Unique-ID"]
    assert calls.var(b, "shared") == "yes"
    assert calls.var(b, "remote_only") == "1"


# -- sleep ----------------------------------------------------------------------------------------------


@virtual
async def test_sleep_takes_virtual_time(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    done = await calls.execute(uuid, "sleep", "45000")
    assert 45 <= calls.now() - started < 46
    assert done["Application-Data"] == "45000"
    assert done["Application-Response"] == "_none_"
    execute = next(e for e in calls.of(uuid, "CHANNEL_EXECUTE") if e["Application"] == "sleep")
    gap = int(done["Event-Date-Timestamp"]) - int(execute["Event-Date-Timestamp"])
    assert 45_000_000 <= gap < 46_000_000


@virtual
async def test_sleep_ends_on_hangup(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(uuid, "sleep", "600000")
    await asyncio.sleep(5)
    started = calls.now()
    await calls.api("uuid_kill", uuid)
    await calls.completed(uuid, app_uuid)
    assert calls.now() - started < 1


# -- playback -------------------------------------------------------------------------------------------


@virtual
async def test_playback_of_a_wav_file(calls: Calls, tmp_path: Path) -> None:
    prompt = write_wav(tmp_path / "prompt.wav", 3.25)
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    done = await calls.execute(uuid, "playback", str(prompt))
    assert 3.25 <= calls.now() - started < 3.75
    start = calls.of(uuid, "PLAYBACK_START")[0]
    stop = calls.of(uuid, "PLAYBACK_STOP")[0]
    assert start["Playback-File-Path"] == str(prompt)
    assert stop["Playback-File-Path"] == str(prompt)
    assert stop["Playback-Status"] == "done"
    assert "variable_uuid" in start and "variable_uuid" in stop
    assert 3_250_000 <= int(stop["Event-Date-Timestamp"]) - int(start["Event-Date-Timestamp"]) < 3_750_000
    assert done["Application-Response"] == "FILE PLAYED"
    assert done["variable_playback_seconds"] == "3"
    assert done["variable_playback_ms"] == "3250"
    assert [
        e.name
        for e in calls.of(uuid)
        if e.name in ("CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE")
    ][-4:] == ["CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE"]


@pytest.mark.parametrize(
    ("spec", "seconds"),
    [
        ("silence_stream://2500", 2.5),
        ("tone_stream://%(1000,0,440)", 1.0),
        ("tone_stream://%(1000,500,440);loops=3", 4.5),
    ],
)
@virtual
async def test_playback_of_streams(calls: Calls, spec: str, seconds: float) -> None:
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    done = await calls.execute(uuid, "playback", spec)
    assert seconds <= calls.now() - started < seconds + 0.5
    assert done["Application-Response"] == "FILE PLAYED"
    assert calls.of(uuid, "PLAYBACK_STOP")[0]["Playback-File-Path"] == spec


@virtual
async def test_playback_of_file_string(calls: Calls, tmp_path: Path) -> None:
    one = write_wav(tmp_path / "one.wav", 1.0)
    two = write_wav(tmp_path / "two.wav", 2.0)
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    spec = f"file_string://{one}!silence_stream://500!{two}"
    done = await calls.execute(uuid, "playback", spec)
    assert 3.5 <= calls.now() - started < 4.0
    assert done["Application-Response"] == "FILE PLAYED"


@virtual
async def test_playback_file_not_found(calls: Calls, tmp_path: Path) -> None:
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    done = await calls.execute(uuid, "playback", str(tmp_path / "missing.wav"))
    assert calls.now() - started < 0.5
    assert done["Application-Response"] == "FILE NOT FOUND"
    assert not calls.of(uuid, "PLAYBACK_START")
    assert not calls.of(uuid, "CHANNEL_HANGUP")  # the call goes on


@virtual
async def test_playback_terminator_digit(calls: Calls) -> None:
    uuid = await calls.parked("{playback_terminators=#}null/1000 &park")
    app_uuid = calls.start(uuid, "playback", "silence_stream://30000")
    await calls.fired(uuid, "PLAYBACK_START")
    await asyncio.sleep(2)
    assert (await calls.api("uuid_recv_dtmf", f"{uuid} #") or "").startswith("+OK")
    done = await calls.completed(uuid, app_uuid)
    assert calls.of(uuid, "PLAYBACK_STOP")[0]["Playback-Status"] == "break"
    assert done["variable_playback_terminator_used"] == "#"
    assert done["variable_playback_seconds"] == "2"


# -- read, play_and_get_digits --------------------------------------------------------------------------


PAGD = "1 4 2 3000 # silence_stream://1000 silence_stream://250 pin [0-9]+"


@virtual
async def test_play_and_get_digits_from_uuid_recv_dtmf(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(uuid, "play_and_get_digits", PAGD)
    await calls.fired(uuid, "PLAYBACK_START")
    assert (await calls.api("uuid_recv_dtmf", f"{uuid} 123#") or "").startswith("+OK")
    done = await calls.completed(uuid, app_uuid)
    assert done["variable_pin"] == "123"
    assert done["variable_read_result"] == "success"
    assert done["variable_read_terminator_used"] == "#"
    # the first digit cut the prompt short
    assert calls.of(uuid, "PLAYBACK_STOP")[0]["Playback-Status"] == "break"


@virtual
async def test_play_and_get_digits_from_the_far_end(calls: Calls) -> None:
    started = calls.now()
    uuid = await calls.originate(
        "{sim_dtmf=4711#,sim_dtmf_delay_ms=1500,sim_dtmf_interval_ms=300}sim/1000 "
        f"'m:~:play_and_get_digits:{PAGD}~park' inline"
    )
    await calls.fired(uuid, "CHANNEL_PARK")
    done = next(
        e for e in calls.of(uuid, "CHANNEL_EXECUTE_COMPLETE") if e["Application"] == "play_and_get_digits"
    )
    assert done["variable_pin"] == "4711"
    assert done["variable_read_result"] == "success"
    await calls.until(lambda: len(calls.of(uuid, "DTMF")) == 5)  # max digits reached before the '#'
    digits = calls.of(uuid, "DTMF")
    assert [e["DTMF-Digit"] for e in digits] == ["4", "7", "1", "1", "#"]
    assert {e["DTMF-Source"] for e in digits} == {"RTP"}
    # 1.5 s before the first digit, then 300 ms apart
    assert 1.5 + 4 * 0.3 <= calls.now() - started < 4
    assert calls.of(uuid, "PLAYBACK_STOP")[0]["Playback-Status"] == "done"  # digits came after the prompt


@virtual
async def test_play_and_get_digits_retries_then_fails(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    done = await calls.execute(
        uuid, "play_and_get_digits", "1 3 3 2000 # silence_stream://500 silence_stream://250 pin [0-9]+"
    )
    # three tries of a 0.5 s prompt and a 2 s wait for the first digit
    assert 7.5 <= calls.now() - started < 9
    assert len(calls.of(uuid, "PLAYBACK_START")) >= 3
    assert done["variable_read_result"] == "failure"
    assert "variable_pin" not in done


@virtual
async def test_play_and_get_digits_regex_mismatch(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(
        uuid, "play_and_get_digits", "1 3 2 2000 # silence_stream://500 silence_stream://250 pin 5[0-9]*"
    )
    await calls.fired(uuid, "PLAYBACK_START")
    await calls.api("uuid_recv_dtmf", f"{uuid} 12#")
    await calls.fired(uuid, "PLAYBACK_START", 2)
    assert calls.var(uuid, "pin_invalid") == "12"
    await calls.api("uuid_recv_dtmf", f"{uuid} 57#")
    done = await calls.completed(uuid, app_uuid)
    assert done["variable_pin"] == "57"
    assert done["variable_read_result"] == "success"


@virtual
async def test_play_and_get_digits_keeps_invalid_input(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(
        uuid, "play_and_get_digits", "1 3 2 2000 # silence_stream://500 silence_stream://250 pin 5[0-9]*"
    )
    await calls.fired(uuid, "PLAYBACK_START")
    await calls.api("uuid_recv_dtmf", f"{uuid} 12#")
    done = await calls.completed(uuid, app_uuid)  # the second try times out
    assert done["variable_read_result"] == "failure"
    assert done["variable_pin_invalid"] == "12"


@virtual
async def test_play_and_get_digits_failure_extension(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    calls.start(
        uuid,
        "play_and_get_digits",
        "1 1 1 1000 # silence_stream://100 silence_stream://100 choice [0-9] 1000 '9664 XML default'",
    )
    await calls.gone(uuid)
    assert apps(calls, uuid)[-3:] == ["answer", "playback", "hangup"]


@virtual
async def test_play_and_get_digits_from_sendmsg(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(uuid, "play_and_get_digits", PAGD)
    await calls.fired(uuid, "PLAYBACK_START")
    calls.start(uuid, "queue_dtmf", "55#")
    done = await calls.completed(uuid, app_uuid)
    assert done["variable_pin"] == "55"
    assert not calls.of(uuid, "CHANNEL_HANGUP")


@virtual
async def test_read_from_uuid_recv_dtmf(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(uuid, "read", "1 3 silence_stream://2000 myvar 5000 #")
    await calls.fired(uuid, "PLAYBACK_START")
    await calls.api("uuid_recv_dtmf", f"{uuid} 98#")
    done = await calls.completed(uuid, app_uuid)
    assert done["variable_myvar"] == "98"
    assert done["variable_read_result"] == "success"
    assert done["variable_read_terminator_used"] == "#"


@virtual
async def test_read_max_digits_without_terminator(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(uuid, "read", "2 2 silence myvar 5000 #")
    await calls.fired(uuid, "CHANNEL_EXECUTE", 2)
    await calls.api("uuid_recv_dtmf", f"{uuid} 345")
    done = await calls.completed(uuid, app_uuid)
    assert done["variable_myvar"] == "34"
    assert done["variable_read_result"] == "success"


@virtual
async def test_read_times_out(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    done = await calls.execute(uuid, "read", "1 3 silence_stream://1000 myvar 4000 #")
    assert 5 <= calls.now() - started < 5.5
    assert done["variable_read_result"] in ("timeout", "failure")
    assert "variable_myvar" not in done


@virtual
async def test_read_result_as_switch_ivr_read(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    nothing = await calls.execute(uuid, "read", "1 3 silence myvar 2000 #")
    assert nothing["variable_read_result"] == "failure"
    app_uuid = calls.start(uuid, "read", "1 5 silence myvar 2000 #")
    await calls.fired(uuid, "CHANNEL_EXECUTE", 3)
    await calls.api("uuid_recv_dtmf", f"{uuid} 12")
    partial = await calls.completed(uuid, app_uuid)
    assert partial["variable_myvar"] == "12"
    assert partial["variable_read_result"] == "timeout"


@virtual
async def test_read_from_the_far_end(calls: Calls) -> None:
    uuid = await calls.originate(
        "{sim_dtmf=77#,sim_dtmf_delay_ms=200}sim/1000 "
        "'m:~:read:1 5 silence_stream://10000 code 5000 #~park' inline"
    )
    await calls.fired(uuid, "CHANNEL_PARK")
    done = next(e for e in calls.of(uuid, "CHANNEL_EXECUTE_COMPLETE") if e["Application"] == "read")
    assert done["variable_code"] == "77"
    assert done["variable_read_result"] == "success"


# -- record ------------------------------------------------------------------------------------------------


@virtual
async def test_record_time_limit_writes_silence(calls: Calls, tmp_path: Path) -> None:
    target = tmp_path / "rec" / "limit.wav"
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    await calls.execute(uuid, "record", f"{target} 6")
    assert 6 <= calls.now() - started < 6.5
    start = calls.of(uuid, "RECORD_START")[0]
    stop = calls.of(uuid, "RECORD_STOP")[0]
    assert start["Record-File-Path"] == stop["Record-File-Path"] == str(target)
    assert wav_seconds(target) == pytest.approx(6.0, abs=0.05)
    with wave.open(str(target), "rb") as w:
        assert set(w.readframes(w.getnframes())) == {0}
    assert calls.var(uuid, "record_seconds") == "6"
    assert 6000 <= int(calls.var(uuid, "record_ms") or 0) < 6100


@virtual
async def test_record_stops_on_terminator_and_hangup(calls: Calls, tmp_path: Path) -> None:
    uuid = await calls.parked("null/1000 &park")
    first = tmp_path / "first.wav"
    app_uuid = calls.start(uuid, "record", str(first))
    await calls.fired(uuid, "RECORD_START")
    await asyncio.sleep(2.5)
    await calls.api("uuid_recv_dtmf", f"{uuid} #")
    await calls.completed(uuid, app_uuid)
    assert wav_seconds(first) == pytest.approx(2.5, abs=0.05)
    assert calls.var(uuid, "playback_terminator_used") == "#"
    second = tmp_path / "second.wav"
    calls.start(uuid, "record", str(second))
    await calls.fired(uuid, "RECORD_START", 2)
    await asyncio.sleep(4)
    await calls.api("uuid_kill", uuid)
    await calls.fired(uuid, "RECORD_STOP", 2)
    assert wav_seconds(second) == pytest.approx(4.0, abs=0.05)


# -- bridge ----------------------------------------------------------------------------------------------


@virtual
async def test_bridge_to_null(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    app_uuid = calls.start(a, "bridge", "null/2000")
    bridge = await calls.fired(a, "CHANNEL_BRIDGE")
    b = bridge["Bridge-B-Unique-ID"]
    assert bridge["Bridge-A-Unique-ID"] == a
    assert bridge["Other-Type"] == "originatee"
    assert bridge["Other-Leg-Unique-ID"] == b
    outgoing = calls.of(b, "CHANNEL_OUTGOING")
    assert len(outgoing) == 1
    assert outgoing[0]["Channel-Name"] == "null/2000"
    assert calls.var(a, "bridge_uuid") == b
    assert calls.var(b, "bridge_uuid") == a
    # switch_ivr_originate's own words (its DIALSTATUS is EARLY for an answered leg)
    assert calls.var(a, "originate_disposition") == "call accepted"
    assert calls.var(a, "DIALSTATUS") == "EARLY"
    # the a-leg hangs up: the bridge ends and the b-leg follows
    await calls.api("uuid_kill", f"{a} USER_BUSY")
    unbridge = await calls.fired(a, "CHANNEL_UNBRIDGE")
    assert unbridge["Bridge-B-Unique-ID"] == b
    done = await calls.completed(a, app_uuid)
    assert done["Application"] == "bridge"
    await calls.gone(b)
    assert calls.of(b, "CHANNEL_HANGUP")[0]["Hangup-Cause"] == "USER_BUSY"


@virtual
async def test_bridge_to_sim_rings_then_answers(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    started = calls.now()
    calls.start(a, "bridge", "{sim_ring_ms=4000}sim/2000")
    bridge = await calls.fired(a, "CHANNEL_BRIDGE")
    assert 4 <= calls.now() - started < 4.5
    b = bridge["Bridge-B-Unique-ID"]
    assert calls.of(b, "CHANNEL_PROGRESS")
    assert calls.of(b, "CHANNEL_ANSWER")


@virtual
async def test_bridge_to_loopback(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    calls.start(a, "bridge", "loopback/9196")
    bridge = await calls.fired(a, "CHANNEL_BRIDGE")
    b = bridge["Bridge-B-Unique-ID"]
    other = calls.var(b, "other_loopback_leg_uuid")
    assert other is not None
    assert [e["Application"] for e in calls.of(other, "CHANNEL_EXECUTE")] == ["answer", "echo"]
    await calls.api("uuid_kill", a)
    await calls.gone(b)
    await calls.gone(other)


@virtual
async def test_bridge_failure_hangs_up_without_continue_on_fail(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    done = await calls.execute(a, "bridge", "error/NORMAL_TEMPORARY_FAILURE")
    assert done["Application"] == "bridge"
    hangup = await calls.fired(a, "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "NORMAL_TEMPORARY_FAILURE"
    assert hangup["variable_originate_disposition"] == "NORMAL_TEMPORARY_FAILURE"
    assert hangup["variable_DIALSTATUS"] == "NORMAL_TEMPORARY_FAILURE"
    assert hangup["variable_originate_failed_cause"] == "NORMAL_TEMPORARY_FAILURE"


@virtual
async def test_bridge_busy_hangs_up_the_caller(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    await calls.execute(a, "bridge", "error/USER_BUSY")
    hangup = await calls.fired(a, "CHANNEL_HANGUP", timeout=10)
    assert hangup["Hangup-Cause"] == "USER_BUSY"


# a comma separates {} variables, so a list of causes escapes it, as in FreeSWITCH
@pytest.mark.parametrize("continue_on_fail", ["true", "USER_BUSY", "normal_clearing\\,user_busy"])
@virtual
async def test_bridge_continue_on_fail(calls: Calls, continue_on_fail: str) -> None:
    a = await calls.parked(f"{{continue_on_fail={continue_on_fail}}}null/1000 &park")
    await calls.execute(a, "bridge", "error/USER_BUSY")
    assert calls.var(a, "originate_disposition") == "USER_BUSY"
    assert calls.var(a, "DIALSTATUS") == "BUSY"
    done = await calls.execute(a, "set", "after_bridge=1")
    assert done["variable_after_bridge"] == "1"
    assert not calls.of(a, "CHANNEL_HANGUP")


@pytest.mark.parametrize(
    ("variables", "goes_on"),
    [
        ("continue_on_fail=17", True),  # a cause number (USER_BUSY)
        ("continue_on_fail=false", False),
        ("continue_on_fail=NO_ANSWER", False),
        ("failure_causes=NO_ANSWER", True),  # USER_BUSY is not listed as a failure
        ("failure_causes=USER_BUSY", False),
    ],
)
@virtual
async def test_bridge_failure_handling_as_switch_channel_handle_cause(
    calls: Calls, variables: str, goes_on: bool
) -> None:
    a = await calls.parked(f"{{{variables}}}null/1000 &park")
    await calls.execute(a, "bridge", "error/USER_BUSY")
    if goes_on:
        done = await calls.execute(a, "set", "after_bridge=1")
        assert done["variable_after_bridge"] == "1"
        assert not calls.of(a, "CHANNEL_HANGUP")
    else:
        hangup = await calls.fired(a, "CHANNEL_HANGUP")
        assert hangup["Hangup-Cause"] == "USER_BUSY"


@virtual
async def test_bridge_variables_as_freeswitch_sets_them(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    calls.start(a, "bridge", "null/2000")
    bridge = await calls.fired(a, "CHANNEL_BRIDGE")
    b = bridge["Bridge-B-Unique-ID"]
    assert bridge["variable_signal_bond"] == b
    assert bridge["variable_originated_legs"] == f"{b};Outbound Call;2000"
    assert calls.var(b, "originator") == a
    assert calls.var(b, "originating_leg_uuid") == a
    assert calls.var(b, "max_forwards") == "70"
    assert calls.var(b, "originator_codec") == "L16@8000h@20i"
    assert calls.var(b, "call_uuid") == a  # while bridged
    assert calls.var(a, "bridge_to") == b and calls.var(b, "bridge_to") == a
    assert calls.var(a, "last_sent_callee_id_number") == "2000"
    await calls.api("uuid_kill", b)
    unbridge = await calls.fired(a, "CHANNEL_UNBRIDGE")
    assert unbridge["variable_bridge_hangup_cause"] == "NORMAL_CLEARING"
    assert unbridge["variable_last_bridge_hangup_cause"] == "NORMAL_CLEARING"
    hangup_b = calls.of(b, "CHANNEL_HANGUP")[0]
    assert hangup_b["variable_last_bridge_role"] == "originatee"
    assert calls.var(a, "originate_causes") == f"{b};NONE"


@virtual
async def test_bridge_no_answer_always_continues(calls: Calls) -> None:
    a = await calls.parked("{call_timeout=3}null/1000 &park")
    started = calls.now()
    await calls.execute(a, "bridge", "sim/noanswer")
    assert 3 <= calls.now() - started < 4
    assert calls.var(a, "originate_disposition") == "NO_ANSWER"
    assert calls.var(a, "DIALSTATUS") == "NOANSWER"
    assert not calls.of(a, "CHANNEL_HANGUP")


@virtual
async def test_bridge_b_leg_hangup_returns_to_the_a_leg(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    app_uuid = calls.start(a, "bridge", "{sim_hangup_ms=5000,sim_hangup_cause=USER_BUSY}sim/2000")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    await calls.gone(b)
    await calls.fired(a, "CHANNEL_UNBRIDGE", timeout=10)
    await calls.completed(a, app_uuid, timeout=10)
    assert calls.var(a, "bridge_hangup_cause") == "USER_BUSY"
    assert not calls.of(a, "CHANNEL_HANGUP")  # hangup_after_bridge is false: the a-leg goes on


@virtual
async def test_bridge_hangup_after_bridge(calls: Calls) -> None:
    a = await calls.parked("{hangup_after_bridge=true}null/1000 &park")
    app = calls.start(a, "bridge", "null/2000")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    await calls.api("uuid_kill", f"{b} USER_BUSY")
    hangup = await calls.fired(a, "CHANNEL_HANGUP", timeout=10)
    # the caller hangs up because the bridge ended: with the peer's cause (switch_ivr_bridge.c),
    # after the peer's hangup and the bridge's end, not killed along with the peer
    assert hangup["Hangup-Cause"] == "USER_BUSY"
    assert calls.of(b, "CHANNEL_HANGUP")[0]["Hangup-Cause"] == "USER_BUSY"
    unbridge = await calls.fired(a, "CHANNEL_UNBRIDGE")
    assert calls.events.index(unbridge) < calls.events.index(hangup)
    assert (await calls.completed(a, app))["Application"] == "bridge"


@virtual
async def test_bridge_without_hangup_after_bridge_keeps_the_caller(calls: Calls) -> None:
    # the control for the test above: the same bridge without the variable leaves A up
    a = await calls.parked("null/1000 &park")
    app = calls.start(a, "bridge", "null/2000")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    await calls.api("uuid_kill", f"{b} USER_BUSY")
    await calls.completed(a, app)
    await calls.fired(a, "CHANNEL_UNBRIDGE")
    await asyncio.sleep(30)  # virtual time: anything that would follow has happened
    assert calls.of(b, "CHANNEL_HANGUP")
    assert not calls.of(a, "CHANNEL_HANGUP")
    assert calls.session(a).ready


# -- transfer, echo ---------------------------------------------------------------------------------------


@virtual
async def test_transfer_application(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    calls.start(uuid, "transfer", "9664 XML default")
    await calls.gone(uuid)
    assert apps(calls, uuid) == ["park", "transfer", "answer", "playback", "hangup"]
    transferred = next(e for e in calls.of(uuid, "CHANNEL_EXECUTE") if e["Application"] == "answer")
    assert transferred["Caller-Destination-Number"] == "9664"
    assert transferred["Caller-RDNIS"] == "1000"
    assert transferred["Caller-Profile-Index"] == "2"
    # the new caller profile has its own time table: transferred is the old profile's
    assert transferred["Caller-Channel-Transfer-Time"] == "0"
    assert int(transferred["Caller-Profile-Created-Time"]) > int(transferred["Caller-Channel-Created-Time"])
    assert transferred["variable_max_forwards"] == "70"  # no max_forwards before: 70


@virtual
async def test_transfer_bleg(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    calls.start(a, "bridge", "null/2000")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    done = await calls.execute(b, "transfer", "-bleg 9999")
    assert done["Application"] == "transfer" and done["Application-Data"] == "-bleg 9999"
    # "-bleg" on B moves the other leg, A, to 9999 (the dialplan parks it there); B stays put
    park = await calls.fired(a, "CHANNEL_PARK", 2)
    assert park["Caller-Destination-Number"] == "9999"
    assert [e["Application"] for e in calls.of(a, "CHANNEL_EXECUTE")][-1] == "park"
    assert calls.of(b, "CHANNEL_EXECUTE")[-1]["Application"] == "transfer"
    assert not [e for e in calls.of(b, "CHANNEL_PARK") if e["Caller-Destination-Number"] == "9999"]


@virtual
async def test_echo_holds_until_break(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(uuid, "echo")
    await asyncio.sleep(120)
    assert not [e for e in calls.of(uuid, "CHANNEL_EXECUTE_COMPLETE") if e["Application"] == "echo"]
    await calls.api("uuid_break", uuid)
    done = await calls.completed(uuid, app_uuid)
    assert done["Application-Response"] == "_none_"
    assert not calls.of(uuid, "CHANNEL_HANGUP")


# -- log, info, event, sched_hangup ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arg", "level", "message"),
    [
        ("INFO hello there", 6, "hello there\n"),
        ("ERR broken", 3, "broken\n"),
        ("just text", 7, "just text\n"),
    ],
)
@virtual
async def test_log_application(calls: Calls, arg: str, level: int, message: str) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.execute(uuid, "log", arg)
    lines = [line for line in calls.logs if line.user_data == uuid and line.function == "log_function"]
    assert [(line.level, line.message) for line in lines] == [(level, message)]


@virtual
async def test_info_application(calls: Calls) -> None:
    uuid = await calls.parked("{info_var=shown}null/1000 &park")
    await calls.execute(uuid, "info")
    lines = [line for line in calls.logs if line.user_data == uuid and line.function == "info_function"]
    assert len(lines) == 1
    assert lines[0].level == 6
    text = lines[0].message
    assert text.startswith("CHANNEL_DATA:\n")
    assert f"Unique-ID: [{uuid}]" in text.split("\n")
    assert "variable_info_var: [shown]" in text.split("\n")


@virtual
async def test_event_application(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.execute(uuid, "event", "Event-Name=CUSTOM,Event-Subclass=calls::test,Tag=one,Other=two")
    custom = calls.of(uuid, "CUSTOM")
    assert len(custom) == 1
    assert custom[0].subclass == "calls::test"
    assert custom[0]["Event-Subclass"] == "calls::test"
    assert (custom[0]["Tag"], custom[0]["Other"]) == ("one", "two")
    assert custom[0]["Channel-Name"] == "null/1000"
    await calls.execute(uuid, "event", "Tag=plain")
    application = calls.of(uuid, "CHANNEL_APPLICATION")
    assert len(application) == 1 and application[0]["Tag"] == "plain"


@pytest.mark.parametrize(
    ("arg", "seconds", "cause"),
    [
        ("+5", 5, "ALLOTTED_TIMEOUT"),
        ("+12 USER_BUSY", 12, "USER_BUSY"),
    ],
)
@virtual
async def test_sched_hangup(calls: Calls, arg: str, seconds: int, cause: str) -> None:
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    done = await calls.execute(uuid, "sched_hangup", arg)
    assert calls.now() - started < 0.5  # scheduling returns at once
    assert done["Application-Response"] == "_none_"
    hangup = await calls.fired(uuid, "CHANNEL_HANGUP")
    assert seconds <= calls.now() - started < seconds + 1
    assert hangup["Hangup-Cause"] == cause


@virtual
async def test_sched_hangup_absolute_time(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()
    when = int(calls.core.clock.time()) + 8
    await calls.execute(uuid, "sched_hangup", str(when))
    await calls.fired(uuid, "CHANNEL_HANGUP")
    assert 7 <= calls.now() - started < 9
