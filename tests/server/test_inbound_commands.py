"""Every inbound command's replies, errors first (PROTOCOL.md §1.5, §1.6, §3), then api and bgapi."""

from __future__ import annotations

import json
import re

import pytest
from inbound_wire import Harness, Wire, api_response, logged_in, plain_lines, reply

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


# -- error replies of every command ----------------------------------------------------------------

ERROR_REPLIES = [
    ("api", "-ERR command not found"),
    ("bgapi", "-ERR command not found"),
    ("event", "-ERR no keywords supplied"),
    ("event plain", "-ERR no keywords supplied"),
    ("event plain NOSUCHEVENT", "-ERR no keywords supplied"),
    ("nixevent", "-ERR no keywords supplied"),
    ("nixevent FOO", "-ERR no keywords supplied"),
    ("noevents", "-ERR not listening for events"),
    ("filter", "-ERR command not found"),
    ("filter Foo", "-ERR invalid syntax"),
    ("filter ", "-ERR invalid syntax"),
    ("filter delete", "-ERR invalid syntax"),
    ("filter delete ", "-ERR invalid syntax"),
    ("filter add Foo", "+OK filter added. [Foo]=[(null)]"),
    ("filter  X  John Doe", "+OK filter added. [X]=[ John Doe]"),
    ("filter Foo ", "+OK filter added. [Foo]=[]"),
    ("filter delete all", "+OK filter deleted. [all][]"),
    ("filter delete all x", "+OK filter deleted. [all][]"),
    ("filter delete Nope", "+OK filter deleted. [Nope][]"),
    ("filter delete Nope val ue", "+OK filter deleted. [Nope][val ue]"),
    ("log error", "-ERR invalid log level"),
    ("log foo", "-ERR invalid log level"),
    ("logx", "-ERR invalid log level"),
    ("nolog", "-ERR not loging"),
    ("linger", "-ERR not controlling a session"),
    ("linger 5", "-ERR not controlling a session"),
    ("nolinger", "-ERR not controlling a session"),
    ("divert_events", "-ERR not controlling a session."),
    ("divert_events on", "-ERR not controlling a session."),
    ("divert_events off", "-ERR not controlling a session."),
    ("sendmsg", "-ERR invalid session id []"),
    ("sendmsg bogus", "-ERR invalid session id [bogus]"),
    ("sendmsg  bogus ", "-ERR invalid session id [bogus ]"),
    ("myevents", "-ERR command not found"),
    ("myevents ", "-ERR invalid uuid"),  # §9: an unknown uuid is always refused
    ("myevents json", "-ERR invalid uuid"),
    ("myevents json 5e1b4bf0-0000-4000-8000-00000000beef", "-ERR invalid uuid"),
    ("myevents 5e1b4bf0-0000-4000-8000-00000000beef", "-ERR invalid uuid"),
    ("myevents 5e1b4bf0-0000-4000-8000-00000000beef json", "-ERR invalid uuid"),
    ("getvar", "-ERR command not found"),
    ("getvar channel_name", "-ERR command not found"),
    ("connect", "-ERR command not found"),
    ("resume", "-ERR command not found"),
    ("hello", "-ERR command not found"),
    ("apix echo", "-ERR command not found"),
    ("events", "-ERR no keywords supplied"),
    # commands match by case-insensitive prefix (§1.5)
    ("lingerfoo", "-ERR not controlling a session"),
    ("nologx", "-ERR not loging"),
    ("noeventsx", "-ERR not listening for events"),
    ("sendmsgfoo", "-ERR invalid session id [foo]"),
    ("Divert_Events on", "-ERR not controlling a session."),
    ("log 7x", "-ERR invalid log level"),
]


async def test_command_replies(harness: Harness) -> None:
    """Every line of ERROR_REPLIES, in turn on one connection, gets exactly its reply."""
    wire = await logged_in(harness)
    got = [(line, (await wire.cmd(line)).raw) for line, _ in ERROR_REPLIES]
    assert got == [(line, reply(expected)) for line, expected in ERROR_REPLIES]
    # the connection is still usable afterwards
    assert (await wire.cmd("api echo ok")).raw == api_response("ok")


async def test_sendmsg_takes_the_uuid_from_session_id(harness: Harness) -> None:
    wire = await logged_in(harness)
    msg = await wire.cmd("sendmsg\nSession-ID: 8c1f2b6e-no-such-channel\ncall-command: hangup")
    assert msg.raw == reply("-ERR invalid session id [8c1f2b6e-no-such-channel]")


async def test_event_json_alone_switches_the_format_anyway(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("event json")).raw == reply("-ERR no keywords supplied")
    assert (await wire.cmd("event API")).raw == reply("+OK event listener enabled json")


async def test_noevents_after_listening(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("event plain API")).raw == reply("+OK event listener enabled plain")
    assert (await wire.cmd("noevents")).raw == reply("+OK no longer listening for events")
    assert (await wire.cmd("noevents")).raw == reply("-ERR not listening for events")


LOG_LEVELS = [
    ("log", "+OK log level  [7]"),
    ("log err", "+OK log level err [3]"),
    ("log ERR", "+OK log level ERR [3]"),
    ("log 200", "+OK log level 200 [63]"),
    ("log 64", "+OK log level 64 [64]"),
    ("log -5", "+OK log level -5 [0]"),
    ("log 6", "+OK log level 6 [6]"),
    ("log debug", "+OK log level debug [7]"),
    ("log info extra words", "+OK log level info [6]"),
    ("log   notice", "+OK log level notice [5]"),
    ("log console", "+OK log level console [0]"),
    ("log alert", "+OK log level alert [1]"),
    ("log crit", "+OK log level crit [2]"),
    ("log warning", "+OK log level warning [4]"),
    ("log disable", "+OK log level disable [-1]"),
]


async def test_log_levels(harness: Harness) -> None:
    wire = await logged_in(harness)
    got = [(line, (await wire.cmd(line)).raw) for line, _ in LOG_LEVELS]
    assert got == [(line, reply(expected)) for line, expected in LOG_LEVELS]


async def test_nolog_twice(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("log err")).raw == reply("+OK log level err [3]")
    assert (await wire.cmd("nolog")).raw == reply("+OK no longer logging")
    assert (await wire.cmd("nolog")).raw == reply("-ERR not loging")


async def test_reply_text_is_cut_to_511_bytes(harness: Harness) -> None:
    wire = await logged_in(harness)
    value = "v" * 700
    msg = await wire.cmd(f"filter X-Long {value}")
    text = f"+OK filter added. [X-Long]=[{value}]"[:511]
    assert msg.raw == reply(text)
    assert len(msg.reply_text) == 511


async def test_commands_are_case_insensitive_prefixes(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("API echo x")).raw == api_response("x")
    assert (await wire.cmd("EVENTS plain API")).raw == reply("+OK event listener enabled plain")
    assert (await wire.cmd("NoEvents")).raw == reply("+OK no longer listening for events")
    assert (await wire.cmd("FILTER Foo bar")).raw == reply("+OK filter added. [Foo]=[bar]")


# -- api -------------------------------------------------------------------------------------------


API_RESPONSES = [
    ("api echo hello world", "hello world"),
    ("api ", "-ERR  Command not found!\n"),
    ("api nosuchcommand", "-ERR nosuchcommand Command not found!\n"),
    ("api nosuchcommand with args", "-ERR nosuchcommand Command not found!\n"),
    ("api echo", "-ERR no reply\n"),
    ("api echo    ", "-ERR no reply\n"),
    ("api global_getvar no_such_variable_here", "-ERR no reply\n"),
    ("api echo   padded   ", "padded"),
    ("api ECHO upper", "upper"),
    ("api version short", "1.11.3-dev\n"),
    ("api global_setvar", "-USAGE: <var>=<value> [=<value2>]\n"),
    (
        "api uptime fortnights",
        "-USAGE: [us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]\n",
    ),
]


async def test_api_responses(harness: Harness) -> None:
    wire = await logged_in(harness)
    got = [(line, (await wire.cmd(line)).raw) for line, _ in API_RESPONSES]
    assert got == [(line, api_response(body)) for line, body in API_RESPONSES]


async def test_api_console_execute_failure_names_the_whole_line(harness: Harness) -> None:
    wire = await logged_in(harness)
    msg = await wire.cmd("api nosuch a  b\nconsole_execute: true")
    assert msg.raw == api_response("-ERR nosuch a  b Command not found!\n")


async def test_unload_words_in_a_header_are_not_a_module_command(harness: Harness) -> None:
    """§9: only a real ``api``/``bgapi`` ``unload``/``reload mod_event_socket`` is one."""
    wire = await logged_in(harness)
    msg = await wire.cmd("api echo hi\nX-Note: unload mod_event_socket")
    assert msg.raw == api_response("hi")
    msg = await wire.cmd("api echo reload mod_event_socket later")
    assert msg.raw == api_response("reload mod_event_socket later")
    assert len(harness.server.connections) == 1


async def test_api_status_with_trailing_space(harness: Harness) -> None:
    wire = await logged_in(harness)
    msg = await wire.cmd("api status ")
    assert msg.content_type == "api/response"
    lines = msg.body.decode().split("\n")
    assert lines[0].startswith("UP 0 years, 0 days, ")
    assert lines[1] == "FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready"


async def test_api_that_waits_holds_later_commands_in_order(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.send("api msleep 30\n\napi echo after\n\nfilter A b\n\n")
    assert (await wire.frame()).raw == api_response("+OK")
    assert (await wire.frame()).raw == api_response("after")
    assert (await wire.frame()).raw == reply("+OK filter added. [A]=[b]")


# -- bgapi -----------------------------------------------------------------------------------------


async def bg_client(harness: Harness, fmt: str = "plain") -> Wire:
    wire = await logged_in(harness)
    assert (await wire.cmd(f"event {fmt} BACKGROUND_JOB")).raw == reply(f"+OK event listener enabled {fmt}")
    return wire


@pytest.mark.parametrize(
    "job_uuid",
    [
        "b0a2d7b4-3f1e-4c6b-9d62-0a4b7c1e9f00",
        "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "any string at all, even with spaces",
        "x" * 50,
    ],
)
async def test_bgapi_with_job_uuid(harness: Harness, job_uuid: str) -> None:
    wire = await bg_client(harness)
    msg = await wire.cmd(f"bgapi echo hello there\nJob-UUID: {job_uuid}")
    assert msg.raw == reply(f"+OK Job-UUID: {job_uuid}", ("Job-UUID", job_uuid))
    event_msg = await wire.frame()
    assert event_msg.content_type == "text/event-plain"
    event = event_msg.event()
    assert event.name == "BACKGROUND_JOB"
    assert event["Job-UUID"] == job_uuid
    assert event["Job-Command"] == "echo"
    assert event["Job-Command-Arg"] == "hello there"
    assert "Job-Owner-UUID" not in event
    assert event["Event-Calling-Function"] == "api_exec"
    assert event.body == "hello there"
    assert event_msg.body.endswith(b"\nContent-Length: 11\n\nhello there")
    names = [name for name, _ in event.headers]
    assert names[-3:] == ["Job-UUID", "Job-Command", "Job-Command-Arg"]
    assert names[0] == "Event-Name"


async def test_bgapi_job_uuid_is_cut_to_256_characters(harness: Harness) -> None:
    wire = await bg_client(harness)
    long_id = "".join(str(i % 10) for i in range(300))
    msg = await wire.cmd(f"bgapi echo x\nJob-UUID: {long_id}")
    assert msg.raw == reply(f"+OK Job-UUID: {long_id[:256]}", ("Job-UUID", long_id[:256]))
    assert (await wire.frame()).event()["Job-UUID"] == long_id[:256]


async def test_bgapi_lowercase_job_uuid_header(harness: Harness) -> None:
    wire = await bg_client(harness)
    msg = await wire.cmd("bgapi echo x\njob-uuid: lower-case-header")
    assert msg.raw == reply("+OK Job-UUID: lower-case-header", ("Job-UUID", "lower-case-header"))
    assert (await wire.frame()).event()["Job-UUID"] == "lower-case-header"


async def test_bgapi_empty_job_uuid_header_means_generated(harness: Harness) -> None:
    wire = await bg_client(harness)
    msg = await wire.cmd("bgapi echo x\nJob-UUID: ")
    job = msg.frame.get("Job-UUID")
    assert job is not None and UUID_RE.match(job)
    assert (await wire.frame()).event()["Job-UUID"] == job


async def test_bgapi_generates_a_uuid(harness: Harness) -> None:
    wire = await bg_client(harness)
    msg = await wire.cmd("bgapi echo generated")
    job = msg.frame.get("Job-UUID")
    assert job is not None and UUID_RE.match(job)
    assert msg.raw == reply(f"+OK Job-UUID: {job}", ("Job-UUID", job))
    event = (await wire.frame()).event()
    assert event["Job-UUID"] == job
    assert event.body == "generated"
    # each job gets its own
    again = await wire.cmd("bgapi echo generated")
    assert again.frame.get("Job-UUID") != job


async def test_bgapi_unknown_command_body(harness: Harness) -> None:
    wire = await bg_client(harness)
    await wire.cmd("bgapi nosuch arg1 arg2\nJob-UUID: j1")
    event = (await wire.frame()).event()
    assert event.body == "-ERR nosuch Command not found!\n"
    assert event["Job-Command"] == "nosuch"
    assert event["Job-Command-Arg"] == "arg1 arg2"


async def test_bgapi_empty_output_gives_an_event_without_body(harness: Harness) -> None:
    wire = await bg_client(harness)
    await wire.cmd("bgapi echo\nJob-UUID: empty")
    msg = await wire.frame()
    lines = plain_lines(msg)
    assert not any(line.startswith("Content-Length") for line in lines)
    assert msg.body.endswith(b"\n\n")
    assert msg.body.count(b"\n\n") == 1
    event = msg.event()
    assert event.body is None
    assert event["Job-Command"] == "echo"
    assert "Job-Command-Arg" not in event


async def test_bgapi_with_nothing_after_the_space(harness: Harness) -> None:
    wire = await bg_client(harness)
    assert (await wire.cmd("bgapi \nJob-UUID: e")).raw == reply("+OK Job-UUID: e", ("Job-UUID", "e"))
    event = (await wire.frame()).event()
    assert event.body == "-ERR  Command not found!\n"
    assert "Job-Command" not in event


async def test_bgapi_reply_comes_before_the_event(harness: Harness) -> None:
    wire = await bg_client(harness)
    await wire.send(
        "bgapi echo one\nJob-UUID: a\n\nbgapi msleep 20\nJob-UUID: b\n\nbgapi echo three\nJob-UUID: c\n\n"
    )
    frames = [await wire.frame() for _ in range(6)]
    kinds = [(m.content_type, m.frame.get("Job-UUID") or m.event()["Job-UUID"]) for m in frames]
    replies = [job for ctype, job in kinds if ctype == "command/reply"]
    events = [job for ctype, job in kinds if ctype == "text/event-plain"]
    assert replies == ["a", "b", "c"]
    assert sorted(events) == ["a", "b", "c"]
    for job in "abc":
        assert kinds.index(("command/reply", job)) < kinds.index(("text/event-plain", job))
    # the job that waited finishes last
    assert events[-1] == "b"
    assert frames[[k for k in kinds].index(("text/event-plain", "b"))].event().body == "+OK"


async def test_bgapi_without_subscription_gets_only_the_reply(harness: Harness) -> None:
    wire = await logged_in(harness)
    msg = await wire.cmd("bgapi echo quiet\nJob-UUID: q")
    assert msg.raw == reply("+OK Job-UUID: q", ("Job-UUID", "q"))
    assert (await wire.cmd("api echo next")).raw == api_response("next")


async def test_event_json_all_after_event_json_background_job(harness: Harness) -> None:
    """What modesl sends: ``event json BACKGROUND_JOB`` then ``event json ALL``."""
    wire = await logged_in(harness)
    assert (await wire.cmd("event json BACKGROUND_JOB")).raw == reply("+OK event listener enabled json")
    assert (await wire.cmd("event json ALL")).raw == reply("+OK event listener enabled json")
    await wire.send("bgapi echo js\nJob-UUID: json-job\n\n")
    assert (await wire.frame()).raw == reply("+OK Job-UUID: json-job", ("Job-UUID", "json-job"))
    seen = {}
    for _ in range(2):  # the API event of the job and BACKGROUND_JOB, in firing order
        msg = await wire.frame()
        assert msg.content_type == "text/event-json"
        data = json.loads(msg.body)
        seen[data["Event-Name"]] = data
    assert set(seen) == {"API", "BACKGROUND_JOB"}
    job = seen["BACKGROUND_JOB"]
    assert job["Job-UUID"] == "json-job"
    assert job["_body"] == "js"
    assert job["Content-Length"] == "2"
