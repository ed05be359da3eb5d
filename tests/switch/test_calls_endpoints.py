"""Endpoints: null (answers at once), loopback (two legs, the b-leg runs the dialplan), error
(fails with a cause) and sim (a scriptable far end: ring time, early media, no answer, busy or
failure causes, far-end hangup, digits), all on a virtual clock.
"""

from __future__ import annotations

import itertools

import pytest

from calls_harness import Calls, virtual
from eventsocket.protocol.events import Event


def create_of(calls: Calls, name: str) -> list[Event]:
    return [e for e in calls.events if e.name == "CHANNEL_CREATE" and e["Channel-Name"] == name]


# -- null -------------------------------------------------------------------------------------------------


@virtual
async def test_null_answers_at_once(calls: Calls) -> None:
    started = calls.now()
    uuid = await calls.originate("null/4242 &park")
    assert calls.now() - started < 0.5
    await calls.fired(uuid, "CHANNEL_PARK")
    names = [
        e.name for e in calls.of(uuid) if e.name in ("CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_ORIGINATE")
    ]
    # CHANNEL_ORIGINATE fires in CS_INIT; a null channel answers in CS_CONSUME_MEDIA
    assert names == ["CHANNEL_CREATE", "CHANNEL_ORIGINATE", "CHANNEL_ANSWER"]
    create = calls.of(uuid, "CHANNEL_CREATE")[0]
    assert create["Channel-Name"] == "null/4242"
    assert create["Caller-Destination-Number"] == "4242"
    assert create["Channel-Read-Codec-Name"] == "L16"
    assert create["Channel-Read-Codec-Rate"] == "8000"
    assert create["variable_originate_endpoint"] == "null"
    assert not calls.of(uuid, "CHANNEL_PROGRESS")
    assert calls.var(uuid, "endpoint_disposition") == "ANSWER"


# -- loopback ---------------------------------------------------------------------------------------------


@virtual
async def test_loopback_two_legs_b_runs_the_dialplan(calls: Calls) -> None:
    a = await calls.originate("{leg_var=given}loopback/9196 &park")
    b = calls.var(a, "other_loopback_leg_uuid")
    assert b is not None and b != a
    assert calls.var(b, "other_loopback_leg_uuid") == a
    assert (calls.var(a, "loopback_leg"), calls.var(b, "loopback_leg")) == ("A", "B")
    await calls.fired(a, "CHANNEL_PARK")
    await calls.until(
        lambda: [e["Application"] for e in calls.of(b, "CHANNEL_EXECUTE")] == ["answer", "echo"]
    )
    a_create = calls.of(a, "CHANNEL_CREATE")[0]
    b_create = calls.of(b, "CHANNEL_CREATE")[0]
    assert (a_create["Channel-Name"], a_create["Call-Direction"]) == ("loopback/9196-a", "outbound")
    assert (b_create["Channel-Name"], b_create["Call-Direction"]) == ("loopback/9196-b", "inbound")
    assert b_create["Caller-Destination-Number"] == "9196"
    assert b_create["Caller-Context"] == "default"
    assert b_create["Channel-HIT-Dialplan"] == "true"
    assert calls.var(b, "leg_var") == "given"
    # the b-leg's answer is the a-leg's answer
    assert calls.of(a, "CHANNEL_ANSWER") and calls.of(b, "CHANNEL_ANSWER")
    assert int(calls.of(a, "CHANNEL_ANSWER")[0]["Event-Sequence"]) > int(
        calls.of(b, "CHANNEL_ANSWER")[0]["Event-Sequence"]
    )
    rows = await calls.api("show", "channels count")
    assert rows == "\n2 total.\n"


@pytest.mark.parametrize("kill", ["a", "b"])
@virtual
async def test_loopback_hangup_propagates(calls: Calls, kill: str) -> None:
    a = await calls.originate("loopback/9196 &park")
    b = calls.var(a, "other_loopback_leg_uuid")
    assert b is not None
    await calls.fired(a, "CHANNEL_PARK")
    await calls.api("uuid_kill", f"{a if kill == 'a' else b} USER_BUSY")
    await calls.gone(a)
    await calls.gone(b)
    assert calls.of(a, "CHANNEL_HANGUP")[0]["Hangup-Cause"] == "USER_BUSY"
    assert calls.of(b, "CHANNEL_HANGUP")[0]["Hangup-Cause"] == "USER_BUSY"
    assert await calls.api("show", "channels") == "\n0 total.\n"


@virtual
async def test_loopback_b_leg_hangs_up_after_its_extension(calls: Calls) -> None:
    started = calls.now()
    a = await calls.originate("loopback/9664 &park")
    b = calls.var(a, "other_loopback_leg_uuid")
    assert b is not None
    await calls.gone(a)
    await calls.gone(b)
    assert 3 <= calls.now() - started < 4
    assert [e["Application"] for e in calls.of(b, "CHANNEL_EXECUTE")] == ["answer", "playback", "hangup"]
    assert calls.of(a, "CHANNEL_HANGUP")[0]["Hangup-Cause"] == "NORMAL_CLEARING"


@virtual
async def test_loopback_context_and_dialplan(calls: Calls) -> None:
    a = await calls.originate("loopback/9196/public/XML &park")
    b = calls.var(a, "other_loopback_leg_uuid")
    assert b is not None
    # public transfers every number to default, where 9196 answers and echoes
    await calls.until(lambda: len(calls.of(b, "CHANNEL_EXECUTE")) == 3)
    executed = calls.of(b, "CHANNEL_EXECUTE")
    assert [e["Application"] for e in executed] == ["transfer", "answer", "echo"]
    assert executed[0]["Application-Data"] == "9196 XML default"
    assert calls.of(b, "CHANNEL_CREATE")[0]["Caller-Context"] == "public"
    assert executed[1]["Caller-Context"] == "default"


@virtual
async def test_loopback_no_route(calls: Calls) -> None:
    reply = await calls.api("originate", "loopback/31337 &park")
    assert reply == "-ERR NO_ROUTE_DESTINATION\n"
    b_create = create_of(calls, "loopback/31337-b")[0]
    hangup = await calls.fired(b_create["Unique-ID"], "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "NO_ROUTE_DESTINATION"


# -- error ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dest", "cause"),
    [
        ("USER_BUSY", "USER_BUSY"),
        ("normal_temporary_failure", "NORMAL_TEMPORARY_FAILURE"),
        ("21", "CALL_REJECTED"),
        ("NO_ANSWER", "NO_ANSWER"),
    ],
)
@virtual
async def test_error_endpoint_fails_with_its_cause(calls: Calls, dest: str, cause: str) -> None:
    assert await calls.api("originate", f"error/{dest} &park") == f"-ERR {cause}\n"
    assert not [e for e in calls.events if e.name.startswith("CHANNEL_")]
    assert calls.core.stats.since_startup == 0


@pytest.mark.parametrize("dest", ["NOT_A_CAUSE", ""])
@virtual
async def test_error_endpoint_unknown_cause(calls: Calls, dest: str) -> None:
    assert await calls.api("originate", f"error/{dest} &park") == "-ERR DESTINATION_OUT_OF_ORDER\n"


# -- sim ------------------------------------------------------------------------------------------------


@virtual
async def test_sim_rings_then_answers(calls: Calls) -> None:
    started = calls.now()
    uuid = await calls.originate("{sim_ring_ms=8000}sim/555 &park")
    assert 8 <= calls.now() - started < 8.5
    progress = calls.of(uuid, "CHANNEL_PROGRESS")[0]
    answer = calls.of(uuid, "CHANNEL_ANSWER")[0]
    assert progress["Answer-State"] == "ringing"
    ring = int(answer["Caller-Channel-Answered-Time"]) - int(progress["Caller-Channel-Progress-Time"])
    assert 8_000_000 <= ring < 8_500_000
    assert calls.of(uuid, "CHANNEL_CREATE")[0]["Channel-Name"] == "sim/555"


@virtual
async def test_sim_early_media_completes_the_originate(calls: Calls) -> None:
    started = calls.now()
    uuid = await calls.originate("{sim_early_media_ms=2000,sim_ring_ms=6000}sim/555 &park")
    assert 2 <= calls.now() - started < 2.5
    assert calls.of(uuid, "CHANNEL_PROGRESS_MEDIA")
    assert not calls.of(uuid, "CHANNEL_ANSWER")
    assert calls.var(uuid, "endpoint_disposition") == "EARLY MEDIA"
    await calls.fired(uuid, "CHANNEL_ANSWER")
    assert 6 <= calls.now() - started < 6.5


@virtual
async def test_sim_ignore_early_media_waits_for_answer(calls: Calls) -> None:
    started = calls.now()
    uuid = await calls.originate(
        "{ignore_early_media=true,sim_early_media_ms=2000,sim_ring_ms=6000}sim/555 &park"
    )
    assert 6 <= calls.now() - started < 6.5
    assert calls.of(uuid, "CHANNEL_PROGRESS_MEDIA") and calls.of(uuid, "CHANNEL_ANSWER")
    assert calls.var(uuid, "endpoint_disposition") == "ANSWER"


@virtual
async def test_sim_never_answers(calls: Calls) -> None:
    started = calls.now()
    reply = await calls.api("originate", "{sim_answer=false,originate_timeout=20}sim/555 &park")
    assert reply == "-ERR NO_ANSWER\n"
    assert 20 <= calls.now() - started < 21
    uuid = create_of(calls, "sim/555")[0]["Unique-ID"]
    assert calls.of(uuid, "CHANNEL_PROGRESS")
    await calls.gone(uuid)


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("sim/busy", "USER_BUSY"),
        ("sim/reject", "CALL_REJECTED"),
        ("sim/fail", "NORMAL_TEMPORARY_FAILURE"),
        ("{sim_fail_cause=UNALLOCATED_NUMBER}sim/555", "UNALLOCATED_NUMBER"),
    ],
)
@virtual
async def test_sim_failure_causes(calls: Calls, url: str, cause: str) -> None:
    assert await calls.api("originate", f"{url} &park") == f"-ERR {cause}\n"
    create = next(e for e in calls.events if e.name == "CHANNEL_CREATE")
    hangup = await calls.fired(create["Unique-ID"], "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == cause
    assert not calls.of(create["Unique-ID"], "CHANNEL_ANSWER")


@virtual
async def test_sim_fails_after_ringing(calls: Calls) -> None:
    started = calls.now()
    reply = await calls.api("originate", "{sim_ring_ms=3000,sim_fail_cause=NO_USER_RESPONSE}sim/555 &park")
    assert reply == "-ERR NO_USER_RESPONSE\n"
    assert 3 <= calls.now() - started < 3.5


@virtual
async def test_sim_far_end_hangs_up(calls: Calls) -> None:
    uuid = await calls.originate("{sim_hangup_ms=15000,sim_hangup_cause=USER_BUSY}sim/555 &park")
    hangup = await calls.fired(uuid, "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "USER_BUSY"
    # the hangup time is stamped when the channel enters CS_HANGUP, after CHANNEL_HANGUP
    assert hangup["Caller-Channel-Hangup-Time"] == "0"
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    talk = int(complete["Caller-Channel-Hangup-Time"]) - int(complete["Caller-Channel-Answered-Time"])
    assert 15_000_000 <= talk < 15_500_000
    assert complete["variable_billsec"] == "15"


@virtual
async def test_sim_presses_digits(calls: Calls) -> None:
    uuid = await calls.originate(
        "{sim_dtmf=1*9#,sim_dtmf_delay_ms=1000,sim_dtmf_interval_ms=250}sim/555 &park"
    )
    await calls.until(lambda: len(calls.of(uuid, "DTMF")) == 4)
    digits = calls.of(uuid, "DTMF")
    answered = int(calls.of(uuid, "CHANNEL_ANSWER")[0]["Event-Date-Timestamp"])
    assert 1_000_000 <= int(digits[0]["Event-Date-Timestamp"]) - answered < 1_100_000
    assert 1_750_000 <= int(digits[-1]["Event-Date-Timestamp"]) - answered < 1_900_000
    assert [e["DTMF-Digit"] for e in digits] == ["1", "*", "9", "#"]
    assert {e["DTMF-Source"] for e in digits} == {"RTP"}
    stamps = [int(e["Event-Date-Timestamp"]) for e in digits]
    assert all(240_000 <= b - a < 300_000 for a, b in itertools.pairwise(stamps))


# -- dial strings with several legs -----------------------------------------------------------------------


@virtual
async def test_simultaneous_legs_first_answer_wins(calls: Calls) -> None:
    uuid = await calls.originate("{sim_ring_ms=5000}sim/slow,null/fast &park")
    assert calls.of(uuid, "CHANNEL_CREATE")[0]["Channel-Name"] == "null/fast"
    loser = create_of(calls, "sim/slow")[0]["Unique-ID"]
    hangup = await calls.fired(loser, "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "LOSE_RACE"


@virtual
async def test_failover_to_the_next_group(calls: Calls) -> None:
    uuid = await calls.originate("error/USER_BUSY|sim/busy|null/last &park")
    assert calls.of(uuid, "CHANNEL_CREATE")[0]["Channel-Name"] == "null/last"
    assert await calls.api("originate", "error/USER_BUSY|error/CALL_REJECTED &park") == "-ERR CALL_REJECTED\n"
