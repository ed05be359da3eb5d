"""``log``/``nolog`` and the ``log/data`` frame (PROTOCOL.md §0, §3.12)."""

from __future__ import annotations

import re

from inbound_wire import Harness, Msg, Wire, api_response, logged_in, reply

LOG_HEAD = (
    "Content-Type: log/data\nContent-Length: {length}\nLog-Level: {level}\nText-Channel: 3\n"
    "Log-File: mod_commands.c\nLog-Func: log_function\nLog-Line: 7247\nUser-Data: \n\n"
)
BODY_RE = r"\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{{6}} \d+\.\d\d% \[{name}\] mod_commands\.c:7247 {message}\n"


def assert_log_frame(msg: Msg, level: int, name: str, message: str) -> None:
    body = msg.body
    assert msg.raw == LOG_HEAD.format(length=len(body), level=level).encode() + body
    assert re.fullmatch(BODY_RE.format(name=name, message=re.escape(message)), body.decode()), body


async def logs_between(wire: Wire) -> list[Msg]:
    return [m for m in await wire.sync() if m.content_type == "log/data"]


async def test_log_line_frame_is_exact(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("log 7")).raw == reply("+OK log level 7 [7]")
    assert (await wire.cmd("api log info hello")).raw == api_response("+OK\n")
    msg = await wire.frame()
    assert_log_frame(msg, 6, "INFO", "hello")
    assert msg.body.endswith(b"[INFO] mod_commands.c:7247 hello\n")


async def test_log_message_keeps_spaces(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.cmd("log")
    await wire.ask("api log notice hello  big world")
    (msg,) = await logs_between(wire)
    assert_log_frame(msg, 5, "NOTICE", "hello  big world")


async def test_log_level_filters_lines(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("log 3")).raw == reply("+OK log level 3 [3]")
    for line in [
        "api log info not-sent",
        "api log debug not-sent",
        "api log warning not-sent",
        "api log err sent-err",
        "api log crit sent-crit",
        "api log alert sent-alert",
    ]:
        assert (await wire.ask(line)).raw == api_response("+OK\n")
    got = await logs_between(wire)
    assert [m.frame.get("Log-Level") for m in got] == ["3", "2", "1"]
    assert_log_frame(got[0], 3, "ERR", "sent-err")
    assert_log_frame(got[1], 2, "CRIT", "sent-crit")
    assert_log_frame(got[2], 1, "ALERT", "sent-alert")


async def test_log_level_by_name_and_changes(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("log warning")).raw == reply("+OK log level warning [4]")
    await wire.ask("api log notice no")
    await wire.ask("api log warning yes")
    assert [m.body.decode().rsplit(" ", 1)[1] for m in await logs_between(wire)] == ["yes\n"]
    assert (await wire.ask("log debug")).raw == reply("+OK log level debug [7]")
    await wire.ask("api log debug dbg")
    (msg,) = await logs_between(wire)
    assert_log_frame(msg, 7, "DEBUG", "dbg")


async def test_log_message_without_level_is_debug(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.cmd("log")
    await wire.ask("api log lonely")
    (msg,) = await logs_between(wire)
    assert_log_frame(msg, 7, "DEBUG", "lonely")


async def test_nolog_stops_log_lines(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.cmd("log 7")
    assert (await wire.ask("nolog")).raw == reply("+OK no longer logging")
    await wire.ask("api log err after-nolog")
    assert await logs_between(wire) == []
    assert (await wire.ask("nolog")).raw == reply("-ERR not loging")


async def test_invalid_level_keeps_the_previous_one(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.cmd("log err")
    assert (await wire.cmd("log error")).raw == reply("-ERR invalid log level")
    await wire.ask("api log info dropped")
    await wire.ask("api log err kept")
    (msg,) = await logs_between(wire)
    assert_log_frame(msg, 3, "ERR", "kept")


async def test_log_lines_reach_every_logging_client_and_no_other(harness: Harness) -> None:
    loggers = [await logged_in(harness) for _ in range(3)]
    for wire in loggers:
        await wire.cmd("log info")
    other = await logged_in(harness)
    assert (await other.ask("api log info from-other")).raw == api_response("+OK\n")
    for wire in loggers:
        msg, before = await wire.until("log/data")
        assert before == []
        assert_log_frame(msg, 6, "INFO", "from-other")
    # the client that caused the line does not log, so it gets none
    assert await other.sync() == []


async def test_log_lines_and_events_both_arrive(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.cmd("log 7")
    await wire.cmd("event plain API")
    assert (await wire.ask("api log info both")).raw == api_response("+OK\n")
    got = await wire.sync()
    assert sorted(m.content_type for m in got) == ["log/data", "text/event-plain"]
    event = next(m for m in got if m.is_event).event()
    assert event["API-Command"] == "log"
    assert event["API-Command-Argument"] == "info both"
