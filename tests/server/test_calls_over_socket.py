"""A whole call through the event socket: originate, sendmsg (PROTOCOL.md §3.10), channel events on
the wire, myevents with its lock-on semantics, linger, and bgapi originate.

The server and the clients share one virtual-time event loop, so playbacks, rings and linger
times take simulated seconds while the sockets stay real.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import uuid as uuidlib
import xml.etree.ElementTree as ET

import pytest

from calls_harness import STANDARD_HEADERS, UUID, Esl, Switch, over_socket, server_connection
from eventsocket.protocol.events import Event, parse_event

GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
CHANNEL_EVENTS = (
    "CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP "
    "CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_BRIDGE CHANNEL_UNBRIDGE "
    "CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK CHANNEL_ORIGINATE "
    "PLAYBACK_START PLAYBACK_STOP PRIVATE_COMMAND"
)
WITH_VARIABLES = {
    "CHANNEL_CREATE",
    "CHANNEL_ORIGINATE",
    "CHANNEL_ANSWER",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_DESTROY",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
}


def execute(uuid: str, app: str, arg: str | None = None, *extra: str) -> tuple[str, ...]:
    """A ``sendmsg`` execute packet (line and headers) with a fresh Event-UUID as its last header."""
    headers = ["call-command: execute", f"execute-app-name: {app}"]
    if arg is not None:
        headers.append(f"execute-app-arg: {arg}")
    return (f"sendmsg {uuid}", *headers, *extra, f"Event-UUID: {uuidlib.uuid4()}")


def app_uuid(packet: tuple[str, ...]) -> str:
    return packet[-1].split(": ", 1)[1]


def names(event: Event) -> list[str]:
    return [name for name, _ in event.headers]


@over_socket
async def test_server_disables_nagle(switch: Switch) -> None:
    raw = await switch.harness.connect()
    conn = await server_connection(switch.harness, raw)
    sock = conn.transport.get_extra_info("socket")
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


# -- a whole call, as a client sees it ------------------------------------------------------------------


async def run_full_call(switch: Switch) -> tuple[Esl, str, str]:
    esl = await switch.client()
    assert await esl.cmd(f"event plain {CHANNEL_EVENTS}") == "+OK event listener enabled plain"
    a = await esl.originate("null/1000 &park")
    for packet in (
        execute(a, "answer"),
        execute(a, "playback", "silence_stream://2000"),
        execute(a, "bridge", "null/2000"),
    ):
        assert await esl.cmd(*packet) == "+OK"
        if "bridge" in packet[2]:
            break
        await esl.wait(
            lambda e, p=packet: (
                e.name == "CHANNEL_EXECUTE_COMPLETE"  # type: ignore[misc]
                and e.get("Application-UUID") == app_uuid(p)
            )
        )
    b = (await esl.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    assert await esl.cmd(f"api uuid_kill {a}") == "+OK\n"
    await esl.fired(a, "CHANNEL_DESTROY")
    await esl.fired(b, "CHANNEL_DESTROY")
    for leg in (a, b):  # CHANNEL_STATE CS_DESTROY follows CHANNEL_DESTROY
        await esl.wait(
            lambda e, u=leg: (
                e.name == "CHANNEL_STATE"  # type: ignore[misc]
                and e.get("Unique-ID") == u
                and e.get("Channel-State") == "CS_DESTROY"
            )
        )
    return esl, a, b


@over_socket
async def test_full_call_event_sequence_on_the_wire(switch: Switch) -> None:
    esl, a, b = await run_full_call(switch)
    # FreeSWITCH's order (../shared/conformance/traces)
    assert [e.name for e in esl.of(a)] == [
        "CHANNEL_OUTGOING",
        "CHANNEL_STATE",
        "CHANNEL_CREATE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_STATE",
        "CHANNEL_STATE",
        "CHANNEL_ANSWER",
        "CHANNEL_CALLSTATE",
        "CHANNEL_STATE",
        "CHANNEL_EXECUTE",
        "CHANNEL_PARK",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "PRIVATE_COMMAND",
        "CHANNEL_EXECUTE",
        "PLAYBACK_START",
        "PLAYBACK_STOP",
        "CHANNEL_EXECUTE_COMPLETE",
        "PRIVATE_COMMAND",
        "CHANNEL_EXECUTE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_BRIDGE",
        "CHANNEL_HANGUP",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_EXECUTE_COMPLETE",
        "PRIVATE_COMMAND",
        "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_STATE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_STATE",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
        "CHANNEL_STATE",
    ]
    assert [e["Channel-State"] for e in esl.of(a, "CHANNEL_STATE")] == [
        "CS_INIT",
        "CS_ROUTING",
        "CS_CONSUME_MEDIA",
        "CS_EXECUTE",
        "CS_HANGUP",
        "CS_REPORTING",
        "CS_DESTROY",
    ]
    assert [e.name for e in esl.of(b) if e.name not in ("CHANNEL_STATE", "CHANNEL_CALLSTATE")] == [
        "CHANNEL_OUTGOING",
        "CHANNEL_CREATE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_ANSWER",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_DESTROY",
    ]
    # the a-leg's hangup reached its b-leg with the same cause
    assert esl.of(b, "CHANNEL_HANGUP")[0]["Hangup-Cause"] == "NORMAL_CLEARING"


@over_socket
async def test_full_call_sequence_numbers_and_execute_pairs(switch: Switch) -> None:
    esl, a, _b = await run_full_call(switch)
    sequence = [int(e["Event-Sequence"]) for e in esl.events]
    assert all(x < y for x, y in itertools.pairwise(sequence))
    executes = [e for e in esl.of(a) if e.name in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE")]
    stack: list[Event] = []
    for event in executes:
        if event.name == "CHANNEL_EXECUTE":
            stack.append(event)
            continue
        opened = stack.pop()
        assert (opened["Application"], opened.get("Application-UUID")) == (
            event["Application"],
            event.get("Application-UUID"),
        )
    assert not stack
    completes = {e["Application"]: e for e in esl.of(a, "CHANNEL_EXECUTE_COMPLETE")}
    # every execution carries an Application-UUID (its own when the sendmsg gave none)
    assert all(
        re.fullmatch(UUID, completes[app]["Application-UUID"])
        for app in ("park", "answer", "playback", "bridge")
    )
    assert completes["playback"]["Application-Response"] == "FILE PLAYED"
    assert completes["answer"]["Application-Response"] == "_none_"


@over_socket
async def test_full_call_header_sets(switch: Switch) -> None:
    esl, a, b = await run_full_call(switch)
    standard = STANDARD_HEADERS
    for event in [*esl.of(a), *esl.of(b)]:
        header_names = names(event)
        variables = [n for n in header_names if n.startswith("variable_")]
        if event.name == "PRIVATE_COMMAND":
            assert header_names[0] == "Command" and not variables
            continue
        assert header_names[:13] == standard, event.name
        for name in (
            "Channel-State",
            "Channel-Call-State",
            "Channel-State-Number",
            "Channel-Name",
            "Unique-ID",
            "Call-Direction",
            "Answer-State",
            "Caller-Direction",
            "Caller-Unique-ID",
            "Caller-Channel-Created-Time",
            "Caller-Screen-Bit",
        ):
            assert name in event, (event.name, name)
        assert event["Caller-Unique-ID"] == event["Unique-ID"]
        if event.name in WITH_VARIABLES:
            assert variables and event["variable_uuid"] == event["Unique-ID"], event.name
        else:
            assert not variables, event.name
    callstate = esl.of(a, "CHANNEL_CALLSTATE")[0]
    assert (
        callstate["Original-Channel-Call-State"],
        callstate["Channel-Call-State"],
        callstate["Channel-Call-State-Number"],
    ) == ("DOWN", "ACTIVE", "4")
    hangup = esl.of(a, "CHANNEL_HANGUP")[0]
    # the call state becomes HANGUP when the state machine enters CS_HANGUP, after CHANNEL_HANGUP
    assert (hangup["Channel-Call-State"], hangup["Answer-State"], hangup["Hangup-Cause"]) == (
        "ACTIVE",
        "hangup",
        "NORMAL_CLEARING",
    )
    bridge = esl.of(a, "CHANNEL_BRIDGE")[0]
    assert (bridge["Other-Type"], bridge["Other-Leg-Unique-ID"]) == ("originatee", b)


# -- sendmsg ------------------------------------------------------------------------------------------------


@over_socket
async def test_sendmsg_targets(switch: Switch) -> None:
    esl = await switch.client()
    assert await esl.cmd("sendmsg bogus", "call-command: hangup") == "-ERR invalid session id [bogus]"
    assert await esl.cmd("sendmsg", "call-command: hangup") == "-ERR invalid session id []"
    uuid = await esl.originate("null/1000 &park")
    assert await esl.cmd("event plain CHANNEL_HANGUP") == "+OK event listener enabled plain"
    # the Session-ID header names the channel when the line does not
    assert (
        await esl.cmd("sendmsg", f"Session-ID: {uuid}", "call-command: hangup", "hangup-cause: CALL_REJECTED")
        == "+OK"
    )
    assert (await esl.fired(uuid, "CHANNEL_HANGUP"))["Hangup-Cause"] == "CALL_REJECTED"


@over_socket
async def test_sendmsg_execute_application_uuid(switch: Switch) -> None:
    esl = await switch.client()
    assert await esl.cmd("event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE") == (
        "+OK event listener enabled plain"
    )
    uuid = await esl.originate("null/4000 &park")
    packet = execute(uuid, "set", "conformance=yes")
    assert await esl.cmd(*packet) == "+OK"
    begin = await esl.wait(lambda e: e.name == "CHANNEL_EXECUTE" and e["Application"] == "set")
    done = await esl.fired(uuid, "CHANNEL_EXECUTE_COMPLETE")
    assert begin["Application-UUID"] == done["Application-UUID"] == app_uuid(packet)
    assert (done["Application-Data"], done["Application-Response"]) == ("conformance=yes", "_none_")
    assert done["variable_conformance"] == "yes"
    assert names(done)[-4:] == ["Application", "Application-Data", "Application-Response", "Application-UUID"]
    assert await esl.cmd(f"api uuid_getvar {uuid} conformance") == "yes"


@over_socket
async def test_sendmsg_loops(switch: Switch) -> None:
    esl = await switch.client()
    assert await esl.cmd("event plain CHANNEL_EXECUTE_COMPLETE") == "+OK event listener enabled plain"
    uuid = await esl.originate("null/1000 &park")
    started = switch.now()
    packet = execute(uuid, "playback", "silence_stream://1000", "loops: 3")
    assert await esl.cmd(*packet) == "+OK"
    runs = [
        await esl.wait(
            lambda e, n=n: (
                e.name == "CHANNEL_EXECUTE_COMPLETE"  # type: ignore[misc]
                and e.get("variable_current_loop") == str(n)
            )
        )
        for n in (1, 2, 3)
    ]
    assert 3 <= switch.now() - started < 3.5
    assert [e["variable_total_loops"] for e in runs] == ["3", "3", "3"]
    assert {e["Application-UUID"] for e in runs} == {app_uuid(packet)}
    # a run shorter than half a second ends the loop
    fast = execute(uuid, "set", "counted=yes", "loops: 5")
    assert await esl.cmd(*fast) == "+OK"
    await esl.wait(lambda e: e.get("Application-UUID") == app_uuid(fast))
    assert await esl.cmd("api msleep 2000") == "+OK"
    assert len([e for e in esl.events if e.get("Application-UUID") == app_uuid(fast)]) == 1


@pytest.mark.parametrize("locked", [False, True])
@over_socket
async def test_sendmsg_event_lock(switch: Switch, locked: bool) -> None:
    esl = await switch.client()
    assert await esl.cmd("event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE") == (
        "+OK event listener enabled plain"
    )
    uuid = await esl.originate("null/1000 &park")
    await esl.wait(lambda e: e.name == "CHANNEL_EXECUTE" and e["Application"] == "park")
    lock = ("event-lock: true",) if locked else ()
    assert await esl.cmd(*execute(uuid, "playback", "silence_stream://3000", *lock)) == "+OK"
    assert await esl.cmd(*execute(uuid, "set", "second=1")) == "+OK"
    await esl.wait(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and e["Application"] == "set")
    await esl.wait(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE" and e["Application"] == "playback")
    order = [
        (e.name[len("CHANNEL_") :], e["Application"]) for e in esl.of(uuid) if e["Application"] != "park"
    ]
    if locked:
        assert order == [
            ("EXECUTE", "playback"),
            ("EXECUTE_COMPLETE", "playback"),
            ("EXECUTE", "set"),
            ("EXECUTE_COMPLETE", "set"),
        ]
    else:  # the playback runs the queued command while it plays
        assert order == [
            ("EXECUTE", "playback"),
            ("EXECUTE", "set"),
            ("EXECUTE_COMPLETE", "set"),
            ("EXECUTE_COMPLETE", "playback"),
        ]


@over_socket
async def test_sendmsg_argument_in_a_text_plain_body(switch: Switch) -> None:
    esl = await switch.client()
    uuid = await esl.originate("null/1000 &park")
    body = "from_body=two words: and more"
    assert (
        await esl.cmd(
            f"sendmsg {uuid}",
            "call-command: execute",
            "execute-app-name: set",
            "content-type: text/plain",
            body=body,
        )
        == "+OK"
    )
    assert await esl.cmd("api msleep 100") == "+OK"
    assert await esl.cmd(f"api uuid_getvar {uuid} from_body") == "two words: and more"


@pytest.mark.parametrize(
    ("header", "cause"),
    [
        ("hangup-cause: USER_BUSY", "USER_BUSY"),
        ("hangup-cause: user_busy", "USER_BUSY"),
        ("hangup-cause: 21", "CALL_REJECTED"),
        ("hangup-cause: NO_SUCH_CAUSE", "NORMAL_CLEARING"),
        (None, "NORMAL_CLEARING"),
    ],
)
@over_socket
async def test_sendmsg_hangup(switch: Switch, header: str | None, cause: str) -> None:
    esl = await switch.client()
    assert await esl.cmd("event plain CHANNEL_HANGUP") == "+OK event listener enabled plain"
    uuid = await esl.originate("null/3000 &park")
    headers = ["call-command: hangup"] + ([header] if header else [])
    assert await esl.cmd(f"sendmsg {uuid}", *headers) == "+OK"
    assert (await esl.fired(uuid, "CHANNEL_HANGUP"))["Hangup-Cause"] == cause


@over_socket
async def test_private_command_after_a_queued_command(switch: Switch) -> None:
    esl = await switch.client()
    assert await esl.cmd("event plain PRIVATE_COMMAND CHANNEL_EXECUTE_COMPLETE") == (
        "+OK event listener enabled plain"
    )
    uuid = await esl.originate("null/1000 &park")
    packet = execute(uuid, "set", "pc=1")
    assert await esl.cmd(*packet) == "+OK"
    private = await esl.fired(uuid, "PRIVATE_COMMAND")
    done = esl.of(uuid, "CHANNEL_EXECUTE_COMPLETE")
    assert done and int(done[0]["Event-Sequence"]) < int(private["Event-Sequence"])
    header_names = names(private)
    assert header_names[:6] == [
        "Command",
        "call-command",
        "execute-app-name",
        "execute-app-arg",
        "Event-UUID",
        "Event-Name",
    ]
    assert private["Command"] == f"sendmsg {uuid}"
    assert (private["call-command"], private["execute-app-name"], private["execute-app-arg"]) == (
        "execute",
        "set",
        "pc=1",
    )
    assert private["Event-UUID"] == app_uuid(packet)
    assert private["Event-Calling-Function"] == "switch_ivr_parse_next_event"
    assert header_names.index("Event-Sequence") < header_names.index("Channel-State")
    assert private["Unique-ID"] == uuid


@over_socket
async def test_sendmsg_xferext(switch: Switch) -> None:
    esl = await switch.client()
    assert await esl.cmd("event plain CHANNEL_EXECUTE CHANNEL_HANGUP") == "+OK event listener enabled plain"
    uuid = await esl.originate("null/1000 &park")
    assert (
        await esl.cmd(
            f"sendmsg {uuid}",
            "call-command: xferext",
            "application: set xfer=1",
            "application: playback silence_stream://500",
            "application: hangup USER_BUSY",
        )
        == "+OK"
    )
    hangup = await esl.fired(uuid, "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "USER_BUSY"
    assert [(e["Application"], e.get("Application-Data")) for e in esl.of(uuid, "CHANNEL_EXECUTE")] == [
        ("park", None),
        ("set", "xfer=1"),
        ("playback", "silence_stream://500"),
        ("hangup", "USER_BUSY"),
    ]


# -- myevents -------------------------------------------------------------------------------------------


@over_socket
async def test_myevents_follows_one_call_and_closes_when_it_ends(switch: Switch) -> None:
    watcher = await switch.client()
    assert await watcher.cmd("event plain CHANNEL_DESTROY") == "+OK event listener enabled plain"
    one = await watcher.originate("null/2000 &park")
    two = await watcher.originate("null/2001 &park")
    follower = await switch.client()
    assert await follower.cmd(f"myevents {uuidlib.uuid4()}") == "-ERR invalid uuid"
    assert await follower.cmd(f"myevents {one}") == "+OK Events Enabled"
    assert await follower.cmd("myevents") == "-ERR aready enabled."
    assert await follower.cmd(f"api uuid_kill {two}") == "+OK\n"
    await watcher.fired(two, "CHANNEL_DESTROY")
    assert await follower.cmd("getvar channel_name") == "null/2000"
    assert await follower.cmd(f"api uuid_kill {one}") == "+OK\n"
    notice = await follower.notice()
    assert notice.content_type == "text/disconnect-notice"
    assert notice.headers == [
        ("Content-Type", "text/disconnect-notice"),
        ("Controlled-Session-UUID", one),
        ("Content-Disposition", "disconnect"),
        ("Content-Length", "67"),
    ]
    assert notice.text == GOODBYE
    assert await follower.closed()
    # only that call's events, up to its HANGUP_COMPLETE, never its CHANNEL_DESTROY
    assert {e["Unique-ID"] for e in follower.events} == {one}
    got = [e.name for e in follower.events]
    assert "CHANNEL_HANGUP" in got and got[-1] == "CHANNEL_HANGUP_COMPLETE"
    assert "CHANNEL_DESTROY" not in got
    await watcher.fired(one, "CHANNEL_DESTROY")


@pytest.mark.parametrize(
    ("line", "content_type"),
    [
        ("myevents {uuid}", "text/event-plain"),
        ("myevents {uuid} json", "text/event-json"),
        ("myevents json {uuid}", "text/event-json"),
        ("myevents {uuid} xml", "text/event-xml"),
        ("myevents xml {uuid}", "text/event-xml"),
    ],
)
@over_socket
async def test_myevents_argument_orders_and_formats(switch: Switch, line: str, content_type: str) -> None:
    esl = await switch.client()
    uuid = await esl.originate("null/2000 &park")
    assert await esl.cmd(line.format(uuid=uuid)) == "+OK Events Enabled"
    await esl.send(*execute(uuid, "set", "fmt=1"))
    frame = await esl.raw.recv(600)
    assert frame.content_type == "command/reply"
    frame = await esl.raw.recv(600)
    assert frame.content_type == content_type
    event = parse_event(frame.content_type, frame.body)
    assert event.name == "CHANNEL_EXECUTE" and event["Unique-ID"] == uuid
    if content_type == "text/event-json":
        assert json.loads(frame.body)["Application"] == "set"
    elif content_type == "text/event-xml":
        assert ET.fromstring(frame.body).tag == "event"


@over_socket
async def test_myevents_sendmsg_without_uuid_is_queued_on_its_call(switch: Switch) -> None:
    esl = await switch.client()
    uuid = await esl.originate("null/2000 &park")
    assert await esl.cmd(f"myevents {uuid}") == "+OK Events Enabled"
    packet = execute("", "set", "mine=yes")
    assert await esl.cmd("sendmsg", *packet[1:]) == "+OK"
    done = await esl.wait(
        lambda e: e.get("Application-UUID") == app_uuid(packet) and e.name == "CHANNEL_EXECUTE_COMPLETE"
    )
    assert done["variable_mine"] == "yes"
    assert await esl.cmd("getvar mine") == "yes"


@over_socket
async def test_myevents_linger_holds_the_channel_until_exit(switch: Switch) -> None:
    watcher = await switch.client()
    assert await watcher.cmd("event plain CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY") == (
        "+OK event listener enabled plain"
    )
    uuid = await watcher.originate("null/2000 &park")
    follower = await switch.client()
    assert await follower.cmd(f"myevents {uuid}") == "+OK Events Enabled"
    assert await follower.cmd("linger") == "+OK will linger"
    assert await watcher.cmd(f"api uuid_kill {uuid}") == "+OK\n"
    notice = await follower.notice()
    assert notice.headers == [
        ("Content-Type", "text/disconnect-notice"),
        ("Controlled-Session-UUID", uuid),
        ("Content-Disposition", "linger"),
        ("Channel-Name", "null/2000"),
        ("Linger-Time", "-1"),
        ("Content-Length", "0"),
    ]
    await watcher.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    # lingering: commands still work, and the channel is not destroyed for as long as it takes
    assert await follower.cmd("api echo still here") == "still here"
    assert await watcher.cmd("api msleep 90000") == "+OK"
    assert not watcher.of(uuid, "CHANNEL_DESTROY")
    assert await follower.cmd("exit") == "+OK bye"
    notice = await follower.notice()
    assert notice.get("Content-Disposition") == "disconnect"
    assert notice.text == GOODBYE
    assert await follower.closed()
    await watcher.fired(uuid, "CHANNEL_DESTROY")
    assert not follower.of(uuid, "CHANNEL_DESTROY")


@over_socket
async def test_myevents_linger_seconds_then_nolinger(switch: Switch) -> None:
    esl = await switch.client()
    uuid = await esl.originate("null/2000 &park")
    other = await esl.originate("null/2001 &park")
    timed = await switch.client()
    assert await timed.cmd("linger") == "-ERR not controlling a session"
    assert await timed.cmd(f"myevents {uuid}") == "+OK Events Enabled"
    assert await timed.cmd("linger 7") == "+OK will linger 7 seconds"
    assert await esl.cmd(f"api uuid_kill {uuid}") == "+OK\n"
    notice = await timed.notice()
    assert notice.get("Content-Disposition") == "linger" and notice.get("Linger-Time") == "7"
    lingering = switch.now()
    goodbye = await timed.notice()
    assert goodbye.get("Content-Disposition") == "disconnect"
    assert 6.9 <= switch.now() - lingering < 8
    assert await timed.closed()

    quick = await switch.client()
    assert await quick.cmd(f"myevents {other}") == "+OK Events Enabled"
    assert await quick.cmd("linger 30") == "+OK will linger 30 seconds"
    assert await quick.cmd("nolinger") == "+OK will not linger"
    assert await esl.cmd(f"api uuid_kill {other}") == "+OK\n"
    notice = await quick.notice()
    assert notice.get("Content-Disposition") == "disconnect"
    assert await quick.closed()


# -- bgapi originate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "body"),
    [
        ("null/1000 &park", rf"\+OK {UUID}\n"),
        ("error/USER_BUSY &park", r"-ERR USER_BUSY\n"),
        ("{sim_ring_ms=9000}sim/1000 &park", rf"\+OK {UUID}\n"),
    ],
)
@over_socket
async def test_bgapi_originate(switch: Switch, args: str, body: str) -> None:
    esl = await switch.client()
    assert await esl.cmd("event plain BACKGROUND_JOB") == "+OK event listener enabled plain"
    started = switch.now()
    await esl.send(f"bgapi originate {args}")
    reply = await esl.reply()
    job = reply.get("Job-UUID")
    assert job is not None and reply.reply_text == f"+OK Job-UUID: {job}"
    assert switch.now() - started < 1  # the reply does not wait for the call
    event = await esl.wait(lambda e: e.name == "BACKGROUND_JOB")
    assert event["Job-UUID"] == job
    assert (event["Job-Command"], event["Job-Command-Arg"]) == ("originate", args)
    assert re.fullmatch(body, event.body or "")
    if "sim_ring_ms" in args:
        assert 9 <= switch.now() - started < 10
