"""Channel events: their order through a whole call, Event-Sequence, timestamps, and the header sets
of PROTOCOL.md §7.2 (compared with the events FreeSWITCH sent in the shared conformance cases).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from calls_harness import STANDARD_HEADERS as STANDARD
from calls_harness import Calls, virtual, write_wav
from eventsocket.protocol.events import Event

CASES = Path(__file__).resolve().parents[2].parent / "shared" / "conformance" / "cases"
BASIC = [
    "Channel-State",
    "Channel-Call-State",
    "Channel-State-Number",
    "Channel-Name",
    "Unique-ID",
    "Call-Direction",
    "Presence-Call-Direction",
    "Channel-HIT-Dialplan",
    "Channel-Call-UUID",
    "Answer-State",
    "Channel-Read-Codec-Name",
    "Channel-Read-Codec-Rate",
    "Channel-Read-Codec-Bit-Rate",
    "Channel-Write-Codec-Name",
    "Channel-Write-Codec-Rate",
    "Channel-Write-Codec-Bit-Rate",
]
PROFILE_TIMES = [
    "Profile-Created-Time",
    "Channel-Created-Time",
    "Channel-Answered-Time",
    "Channel-Progress-Time",
    "Channel-Progress-Media-Time",
    "Channel-Hangup-Time",
    "Channel-Transfer-Time",
    "Channel-Resurrect-Time",
    "Channel-Bridged-Time",
    "Channel-Last-Hold",
    "Channel-Hold-Accum",
]
WITH_VARIABLES = {
    "CHANNEL_CREATE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_ANSWER",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_DESTROY",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "RECORD_START",
    "RECORD_STOP",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
}


def recorded() -> dict[str, list[str]]:
    """The header lists FreeSWITCH sent, from the shared conformance cases."""
    out: dict[str, list[str]] = {}
    for name in ("originate-null-park-kill", "myevents-locks-on-one-call", "sendmsg-execute-event-uuid"):
        case = json.loads((CASES / f"{name}.json").read_text())
        for step in case["steps"]:
            expect = step.get("expect", {})
            if "event_has" in expect:
                out[expect["event"]["Event-Name"]] = expect["event_has"]
    return out


def names(event: Event) -> list[str]:
    return [name for name, _ in event.headers]


def first_occurrences(event: Event) -> list[str]:
    return list(dict.fromkeys(names(event)))


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(item in it for item in part)


async def full_call(calls: Calls, tmp_path: Path) -> tuple[str, str]:
    """originate null &park, answer, playback, bridge to null, hang up the a-leg; returns (a, b)."""
    prompt = write_wav(tmp_path / "prompt.wav", 1.5)
    a = await calls.parked("null/1000 &park")
    await calls.execute(a, "answer")
    await calls.execute(a, "playback", str(prompt))
    calls.start(a, "bridge", "null/2000")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    await asyncio.sleep(5)
    await calls.api("uuid_kill", a)
    await calls.gone(a)
    await calls.gone(b)
    return a, b


# -- order -------------------------------------------------------------------------------------------------


@virtual
async def test_full_call_event_order(calls: Calls, tmp_path: Path) -> None:
    a, b = await full_call(calls, tmp_path)
    sequence = [
        (e.name, e.get("Application", ""))
        for e in calls.of(a)
        if e.name not in ("CHANNEL_STATE", "CHANNEL_CALLSTATE")
    ]
    # the order FreeSWITCH fires them (../shared/conformance/traces)
    assert sequence == [
        ("CODEC", ""),
        ("CODEC", ""),
        ("CHANNEL_OUTGOING", ""),
        ("CHANNEL_CREATE", ""),
        ("CHANNEL_ORIGINATE", ""),
        ("CHANNEL_ANSWER", ""),
        ("CALL_UPDATE", ""),
        ("CHANNEL_EXECUTE", "park"),
        ("CHANNEL_PARK", ""),
        ("CHANNEL_EXECUTE", "answer"),
        ("CHANNEL_EXECUTE_COMPLETE", "answer"),
        ("PRIVATE_COMMAND", ""),
        ("CHANNEL_EXECUTE", "playback"),
        ("PLAYBACK_START", ""),
        ("PLAYBACK_STOP", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "playback"),
        ("PRIVATE_COMMAND", ""),
        ("CHANNEL_EXECUTE", "bridge"),
        ("CHANNEL_BRIDGE", ""),
        ("CHANNEL_HANGUP", ""),
        ("CHANNEL_UNBRIDGE", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "bridge"),
        ("PRIVATE_COMMAND", ""),
        ("CHANNEL_UNPARK", ""),
        ("CHANNEL_EXECUTE_COMPLETE", "park"),
        ("CHANNEL_HANGUP_COMPLETE", ""),
        ("CHANNEL_DESTROY", ""),
    ]
    states = [e["Channel-State"] for e in calls.of(a, "CHANNEL_STATE")]
    assert states == [
        "CS_INIT",
        "CS_ROUTING",
        "CS_CONSUME_MEDIA",
        "CS_EXECUTE",
        "CS_HANGUP",
        "CS_REPORTING",
        "CS_DESTROY",
    ]
    callstates = [
        (e["Original-Channel-Call-State"], e["Channel-Call-State"]) for e in calls.of(a, "CHANNEL_CALLSTATE")
    ]
    # RING_WAIT while the answered a-leg originates the b-leg
    assert callstates == [
        ("DOWN", "ACTIVE"),
        ("ACTIVE", "RING_WAIT"),
        ("RING_WAIT", "ACTIVE"),
        ("ACTIVE", "HANGUP"),
    ]
    # the b-leg: created for the a-leg's bridge, hung up with it
    b_sequence = [e.name for e in calls.of(b) if e.name not in ("CHANNEL_STATE", "CHANNEL_CALLSTATE")]
    assert b_sequence == [
        "CODEC",
        "CODEC",
        "CHANNEL_OUTGOING",
        "CHANNEL_CREATE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_ANSWER",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
    ]
    b_states = [e["Channel-State"] for e in calls.of(b, "CHANNEL_STATE")]
    assert b_states == [
        "CS_INIT",
        "CS_ROUTING",
        "CS_CONSUME_MEDIA",
        "CS_EXCHANGE_MEDIA",
        "CS_HANGUP",
        "CS_REPORTING",
        "CS_DESTROY",
    ]


@virtual
async def test_execute_pairs_and_sequence_numbers(calls: Calls, tmp_path: Path) -> None:
    a, _b = await full_call(calls, tmp_path)
    events = calls.of(a)
    sequence = [int(e["Event-Sequence"]) for e in events]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
    stamps = [int(e["Event-Date-Timestamp"]) for e in events]
    assert stamps == sorted(stamps)
    # CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE nest like brackets, matched by Application-UUID
    stack: list[Event] = []
    pairs = 0
    for event in events:
        if event.name == "CHANNEL_EXECUTE":
            stack.append(event)
        elif event.name == "CHANNEL_EXECUTE_COMPLETE":
            opened = stack.pop()
            assert opened["Application"] == event["Application"]
            assert opened.get("Application-Data") == event.get("Application-Data")
            assert opened.get("Application-UUID") == event.get("Application-UUID")
            pairs += 1
    assert not stack and pairs == 4
    # every execution has an Application-UUID: the sendmsg's Event-UUID, or one of its own
    executes = [e for e in events if e.name == "CHANNEL_EXECUTE"]
    assert all("Application-UUID" in e for e in executes)
    assert len({e["Application-UUID"] for e in executes}) == len(executes)
    every = [int(e["Event-Sequence"]) for e in calls.events if e.name != "API"]
    assert every == sorted(every)


@virtual
async def test_lifecycle_timestamps_follow_virtual_time(calls: Calls) -> None:
    uuid = await calls.originate("{sim_ring_ms=4000}sim/1000 &park")
    await asyncio.sleep(30)
    await calls.api("uuid_kill", uuid)
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    created = int(complete["Caller-Channel-Created-Time"])
    progress = int(complete["Caller-Channel-Progress-Time"])
    answered = int(complete["Caller-Channel-Answered-Time"])
    hungup = int(complete["Caller-Channel-Hangup-Time"])
    assert created <= progress < answered < hungup
    assert 4_000_000 <= answered - created < 4_500_000
    assert 30_000_000 <= hungup - answered < 30_500_000
    assert complete["variable_duration"] == "34"
    assert complete["variable_billsec"] == "30"
    assert complete["variable_answersec"] == "4"
    assert complete["variable_waitsec"] == "4"
    assert complete["variable_start_epoch"] == str(created // 1_000_000)
    assert complete["variable_answer_uepoch"] == str(answered)
    assert complete["variable_end_uepoch"] == str(hungup)
    event_stamp = int(complete["Event-Date-Timestamp"])
    assert hungup <= event_stamp < hungup + 500_000


# -- headers -----------------------------------------------------------------------------------------------


@pytest.mark.skipif(not CASES.is_dir(), reason="../shared/conformance/cases is not beside the project")
@virtual
async def test_headers_match_the_recorded_freeswitch_events(calls: Calls) -> None:
    """Exactly the header names FreeSWITCH sent for a parked null call and a sendmsg set, in its order."""
    want = recorded()
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(uuid, "set", "conformance=yes")
    set_done = await calls.completed(uuid, app_uuid)
    assert first_occurrences(set_done) == want["CHANNEL_EXECUTE_COMPLETE"]
    for name in ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_PARK"):
        assert first_occurrences(calls.of(uuid, name)[0]) == want[name], name

    other = await calls.parked("null/2000 &park")
    await calls.api("uuid_kill", other)
    hangup = await calls.fired(other, "CHANNEL_HANGUP")
    assert first_occurrences(hangup) == want["CHANNEL_HANGUP"]
    complete = await calls.fired(other, "CHANNEL_HANGUP_COMPLETE")
    assert set(names(complete)) == set(want["CHANNEL_HANGUP_COMPLETE"])
    assert is_subsequence(want["CHANNEL_HANGUP_COMPLETE"], first_occurrences(complete))
    assert names(complete)[13] == "Hangup-Cause"  # before the channel data


@virtual
async def test_channel_data_header_order(calls: Calls, tmp_path: Path) -> None:
    a, b = await full_call(calls, tmp_path)
    for event in [*calls.of(a), *calls.of(b)]:
        if not event.name.startswith("CHANNEL_"):
            continue
        header_names = names(event)
        assert header_names[:13] == STANDARD, event.name
        basic = [n for n in header_names if n in BASIC]
        assert basic == BASIC, event.name
        assert is_subsequence(
            ["Channel-State", "Unique-ID", "Answer-State", "Caller-Direction", "Caller-Logical-Direction"],
            header_names,
        )
        times = [
            n[len("Caller-") :]
            for n in header_names
            if n.startswith("Caller-") and n.endswith(("Time", "Hold", "Hold-Accum"))
        ]
        assert times == PROFILE_TIMES, event.name
        assert header_names.index("Caller-Screen-Bit") > header_names.index("Caller-Channel-Hold-Accum")
        variables = [n for n in header_names if n.startswith("variable_")]
        if event.name in WITH_VARIABLES or event.name == "CHANNEL_DESTROY":
            assert variables, event.name
            assert header_names.index(variables[0]) > header_names.index("Caller-Privacy-Hide-Number")
        else:
            assert not variables, event.name


@virtual
async def test_state_and_callstate_events(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    create = calls.of(uuid, "CHANNEL_CREATE")[0]
    # the running state and the requested state's number can differ (PROTOCOL.md §7.2)
    assert (create["Channel-State"], create["Channel-State-Number"]) == ("CS_INIT", "2")
    for event in calls.of(uuid, "CHANNEL_STATE"):
        assert not any(n.startswith("variable_") for n in names(event))
        number = {"CS_INIT": "1", "CS_ROUTING": "2", "CS_CONSUME_MEDIA": "7", "CS_EXECUTE": "4"}
        assert event["Channel-State-Number"] == number[event["Channel-State"]]
    callstate = calls.of(uuid, "CHANNEL_CALLSTATE")[0]
    assert not any(n.startswith("variable_") for n in names(callstate))
    header_names = names(callstate)
    assert header_names[13:15] == ["Original-Channel-Call-State", "Channel-Call-State-Number"]
    assert (
        callstate["Original-Channel-Call-State"],
        callstate["Channel-Call-State"],
        callstate["Channel-Call-State-Number"],
    ) == ("DOWN", "ACTIVE", "4")


@virtual
async def test_verbose_events_put_variables_on_callstate(calls: Calls) -> None:
    uuid = await calls.parked("{verbose_events=true}null/1000 &park")
    await calls.api("uuid_kill", uuid)
    await calls.gone(uuid)
    assert calls.of(uuid, "CHANNEL_CALLSTATE")[-1]["variable_verbose_events"] == "true"


@virtual
async def test_verbose_events_put_variables_on_state(calls: Calls) -> None:
    uuid = await calls.parked("{verbose_events=true}null/1000 &park")
    await calls.api("uuid_kill", uuid)
    await calls.gone(uuid)
    assert all(e.get("variable_verbose_events") == "true" for e in calls.of(uuid, "CHANNEL_STATE")[-3:])


@virtual
async def test_hangup_headers(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.api("uuid_kill", f"{uuid} CALL_REJECTED")
    hangup = await calls.fired(uuid, "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "CALL_REJECTED"
    assert hangup["Answer-State"] == "hangup"
    # the call state and the hangup time change when the state machine enters CS_HANGUP
    assert hangup["Channel-Call-State"] == "ACTIVE"
    assert hangup["Channel-State"] == "CS_EXECUTE"
    assert hangup["Caller-Channel-Hangup-Time"] == "0"
    assert names(hangup).index("Hangup-Cause") == names(hangup).index("Answer-State") + 1
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    assert complete["Channel-State"] == "CS_REPORTING"
    assert complete["Channel-Call-State"] == "HANGUP"
    assert int(complete["Caller-Channel-Hangup-Time"]) > 0
    assert complete["variable_hangup_cause"] == "CALL_REJECTED"
    assert complete["variable_hangup_cause_q850"] == "21"
    destroy = await calls.gone(uuid)
    # CHANNEL_DESTROY comes before the last CHANNEL_STATE (CS_DESTROY)
    assert destroy["Channel-State"] == "CS_REPORTING"
    assert destroy["Channel-State-Number"] == "12"
    assert calls.of(uuid, "CHANNEL_STATE")[-1]["Channel-State"] == "CS_DESTROY"


@virtual
async def test_bridge_events_carry_the_other_leg(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    calls.start(a, "bridge", "null/2000")
    bridge = await calls.fired(a, "CHANNEL_BRIDGE")
    b = bridge["Bridge-B-Unique-ID"]
    header_names = names(bridge)
    assert header_names[13:15] == ["Bridge-A-Unique-ID", "Bridge-B-Unique-ID"]
    assert bridge["Other-Type"] == "originatee"
    assert bridge["Other-Leg-Unique-ID"] == b
    assert bridge["Other-Leg-Channel-Name"] == "null/2000"
    assert bridge["Other-Leg-Direction"] == "outbound"
    assert header_names.index("Other-Type") > header_names.index("Caller-Privacy-Hide-Number")
    assert int(bridge["Caller-Channel-Bridged-Time"]) > 0
    await calls.api("uuid_kill", a)
    await calls.gone(b)
    b_hangup = calls.of(b, "CHANNEL_HANGUP")[0]
    assert b_hangup["Other-Type"] == "originator"
    assert b_hangup["Other-Leg-Unique-ID"] == a


@virtual
async def test_presence_and_call_uuid_headers(calls: Calls) -> None:
    uuid = await calls.parked("{presence_id=1000@example.com,presence_data=vip}null/1000 &park")
    park = calls.of(uuid, "CHANNEL_PARK")[0]
    assert park["Channel-Presence-ID"] == "1000@example.com"
    assert park["Channel-Presence-Data"] == "vip"
    header_names = names(park)
    assert header_names.index("Channel-Presence-ID") == header_names.index("Channel-HIT-Dialplan") + 1
    assert park["Channel-Call-UUID"] == uuid


@virtual
async def test_media_event_headers(calls: Calls, tmp_path: Path) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.execute(uuid, "playback", "silence_stream://100")
    start = calls.of(uuid, "PLAYBACK_START")[0]
    stop = calls.of(uuid, "PLAYBACK_STOP")[0]
    assert names(start)[-1] == "Playback-File-Path"
    assert names(stop)[-2:] == ["Playback-File-Path", "Playback-Status"]
    target = tmp_path / "r.wav"
    await calls.execute(uuid, "record", f"{target} 1")
    record_start = calls.of(uuid, "RECORD_START")[0]
    record_stop = calls.of(uuid, "RECORD_STOP")[0]
    assert record_start["Record-File-Path"] == str(target)
    assert record_stop["Record-File-Path"] == str(target)
    assert "variable_uuid" in record_start and "variable_uuid" in record_stop
    await calls.api("uuid_recv_dtmf", f"{uuid} 5")
    dtmf = await calls.fired(uuid, "DTMF")
    assert (dtmf["DTMF-Digit"], dtmf["DTMF-Duration"], dtmf["DTMF-Source"]) == ("5", "2000", "APP")
    assert not any(n.startswith("variable_") for n in names(dtmf))


@virtual
async def test_an_empty_channel_value_drops_only_its_own_header(calls: Calls) -> None:
    """A header whose value is empty is left out; the channel data after it is all there."""
    uuid = await calls.parked("null/1000 &park")
    session = calls.session(uuid)
    session.channel.name = ""
    event = session.event("CHANNEL_DATA")
    header_names = names(event)
    assert "Channel-Name" not in header_names
    assert "Unique-ID" in header_names and "Caller-Unique-ID" in header_names
    assert event["variable_uuid"] == uuid
