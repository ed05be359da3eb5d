"""Virtual time: calls that last minutes or hours of simulated time finish at once, with CDR
variables, event timestamps, heartbeats and uptime that agree with the simulated clock.
"""

from __future__ import annotations

import asyncio
import itertools
import time

from calls_harness import Calls, Switch, over_socket, virtual
from eventsocket.switch.virtualtime import run_virtual


def local_stamp(us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000))


@virtual
async def test_call_longer_than_a_minute(calls: Calls) -> None:
    wall_start = calls.core.clock.time()
    started = calls.now()
    uuid = await calls.originate("{sim_ring_ms=20000}sim/1000 &park")
    assert 20 <= calls.now() - started < 20.5
    playback = await calls.execute(uuid, "playback", "silence_stream://45000")
    assert playback["Application-Response"] == "FILE PLAYED"
    await calls.execute(uuid, "hangup", "NORMAL_CLEARING")
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    await calls.gone(uuid)
    assert 65 <= calls.now() - started < 66
    assert 65 <= calls.core.clock.time() - wall_start < 66

    cdr = {k[len("variable_") :]: v for k, v in complete.items() if k.startswith("variable_")}
    assert int(cdr["duration"]) >= 65 and int(cdr["billsec"]) >= 45
    assert (cdr["duration"], cdr["billsec"], cdr["answersec"], cdr["waitsec"]) == ("65", "45", "20", "20")
    assert 65_000 <= int(cdr["mduration"]) < 65_500
    assert 45_000 <= int(cdr["billmsec"]) < 45_500
    assert int(cdr["end_epoch"]) - int(cdr["start_epoch"]) in (65, 66)
    assert int(cdr["answer_epoch"]) - int(cdr["start_epoch"]) in (20, 21)
    assert cdr["start_stamp"] == local_stamp(int(cdr["start_uepoch"]))
    assert cdr["answer_stamp"] == local_stamp(int(cdr["answer_uepoch"]))
    assert cdr["end_stamp"] == local_stamp(int(cdr["end_uepoch"]))

    events = calls.of(uuid)
    first, last = int(events[0]["Event-Date-Timestamp"]), int(events[-1]["Event-Date-Timestamp"])
    assert 65_000_000 <= last - first < 65_500_000
    assert int(cdr["start_uepoch"]) - 1_000_000 < first <= int(cdr["start_uepoch"]) + 500_000
    answer = calls.of(uuid, "CHANNEL_ANSWER")[0]
    assert int(answer["Event-Date-Timestamp"]) - first >= 20_000_000
    start = calls.of(uuid, "PLAYBACK_START")[0]
    stop = calls.of(uuid, "PLAYBACK_STOP")[0]
    assert 45_000_000 <= int(stop["Event-Date-Timestamp"]) - int(start["Event-Date-Timestamp"]) < 45_500_000
    for event in events:
        stamp = int(event["Event-Date-Timestamp"])
        assert event["Event-Date-Local"] == local_stamp(stamp)
        gmt = time.strftime("%d %b %Y %H:%M:%S GMT", time.gmtime(stamp / 1_000_000))
        assert event["Event-Date-GMT"].endswith(gmt)
    stamps = [int(e["Event-Date-Timestamp"]) for e in events]
    assert stamps == sorted(stamps)


@virtual
async def test_hour_long_call_and_uptime(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.completed(
        uuid, calls.start(uuid, "sleep", str(2 * 3600 * 1000 + 5 * 60 * 1000)), timeout=9000
    )
    await calls.api("uuid_kill", uuid)
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    assert complete["variable_duration"] == str(2 * 3600 + 300)
    assert complete["variable_billsec"] == str(2 * 3600 + 300)
    status = await calls.api("status")
    assert status is not None and status.startswith("UP 0 years, 0 days, 2 hours, 5 minutes, ")
    assert await calls.api("uptime", "m") == "125\n"


@virtual
async def test_no_answer_after_the_default_sixty_seconds(calls: Calls) -> None:
    started = calls.now()
    assert await calls.api("originate", "sim/noanswer &park") == "-ERR NO_ANSWER\n"
    assert 60 <= calls.now() - started < 61


@virtual
async def test_concurrent_calls_answer_in_ring_time_order(calls: Calls) -> None:
    rings = [7, 3, 9, 1, 5, 8, 2, 6, 4, 10]
    replies = await asyncio.gather(
        *(calls.api("originate", f"{{sim_ring_ms={ring * 1000}}}sim/{ring} &park") for ring in rings)
    )
    uuids = [reply[4:-1] for reply in replies if reply]
    assert len(uuids) == len(rings)
    answers = [e for e in calls.events if e.name == "CHANNEL_ANSWER"]
    assert [int(e["Caller-Destination-Number"]) for e in answers] == sorted(rings)
    created = min(int(e["Caller-Channel-Created-Time"]) for e in answers)
    for event in answers:
        ring = int(event["Caller-Destination-Number"])
        offset = int(event["Caller-Channel-Answered-Time"]) - created
        assert ring * 1_000_000 <= offset < ring * 1_000_000 + 500_000
    assert await calls.api("show", "channels count") == "\n10 total.\n"
    assert await calls.api("hupall", "") == "+OK hangup all channels with cause MANAGER_REQUEST\n"
    for uuid in uuids:
        await calls.gone(uuid)


@virtual
async def test_sched_hangup_and_sleep_share_the_clock(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()  # +90 counts from when sched_hangup runs, just after this
    await calls.execute(uuid, "sched_hangup", "+90")
    done = await calls.execute(uuid, "sleep", "600000")  # cut short by the scheduled hangup
    assert 90 <= calls.now() - started < 91
    assert done["Hangup-Cause"] == "ALLOTTED_TIMEOUT"


def test_heartbeats_during_a_long_call() -> None:
    async def main() -> None:
        calls = Calls(heartbeat_interval=20)
        await calls.core.start()
        try:
            # the call ends half a second after the fifth heartbeat: at exactly 100 s, the real time
            # spent between heartbeats (virtual time is real time plus the jumps) could order them
            # either way on a loaded machine
            uuid = await calls.originate("{sim_ring_ms=5000,sim_hangup_ms=95500}sim/1000 &park")
            await calls.gone(uuid)
            beats = [e for e in calls.events if e.name == "HEARTBEAT"]
            assert len(beats) == 5  # 20, 40, 60, 80 and 100 seconds
            stamps = [int(e["Event-Date-Timestamp"]) for e in beats]
            assert all(20_000_000 <= b - a < 20_500_000 for a, b in itertools.pairwise(stamps))
            assert [int(e["Uptime-msec"]) // 20_000 for e in beats] == [1, 2, 3, 4, 5]
            assert beats[2]["Up-Time"].startswith("0 years, 0 days, 0 hours, 1 minute, 0 seconds")
            assert [e["Session-Count"] for e in beats] == ["1", "1", "1", "1", "1"]
        finally:
            await calls.core.stop()

    run_virtual(main())


@over_socket
async def test_long_call_over_the_socket(switch: Switch) -> None:
    esl = await switch.client()
    assert (
        await esl.cmd(
            "event plain CHANNEL_ANSWER PLAYBACK_START PLAYBACK_STOP CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY"
        )
        == "+OK event listener enabled plain"
    )
    uuid = await esl.originate("{sim_ring_ms=20000}sim/1000 &park")
    assert (
        await esl.cmd(
            f"sendmsg {uuid}",
            "call-command: execute",
            "execute-app-name: playback",
            "execute-app-arg: silence_stream://45000",
        )
        == "+OK"
    )
    await esl.fired(uuid, "PLAYBACK_STOP")
    assert await esl.cmd(f"sendmsg {uuid}", "call-command: hangup") == "+OK"
    complete = await esl.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    await esl.fired(uuid, "CHANNEL_DESTROY")
    assert (complete["variable_duration"], complete["variable_billsec"]) == ("65", "45")
    start, stop = esl.of(uuid, "PLAYBACK_START")[0], esl.of(uuid, "PLAYBACK_STOP")[0]
    assert 45_000_000 <= int(stop["Event-Date-Timestamp"]) - int(start["Event-Date-Timestamp"]) < 45_500_000
    answer = esl.of(uuid, "CHANNEL_ANSWER")[0]
    assert int(complete["Event-Date-Timestamp"]) - int(answer["Event-Date-Timestamp"]) >= 45_000_000
