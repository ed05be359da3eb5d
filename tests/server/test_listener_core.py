"""The listener core without sockets: bytes in; bytes, actions and state out (inbound mode).

The backend is the embedded switch (no event loop is needed for commands that answer at
once); a list-backed sink stands in for the connection's queues.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from eventsocket.protocol.events import Event
from eventsocket.protocol.framing import GOODBYE, FrameParser
from eventsocket.protocol.message import Frame, Request
from eventsocket.server.backend import LogRecord
from eventsocket.server.commands import COMMANDS, Command, When
from eventsocket.server.listener_core import ListenerCore
from eventsocket.server.settings import EventSocketSettings
from eventsocket.server.state import (
    BackgroundJob,
    Close,
    FlushEvents,
    FlushLogs,
    ListenerState,
    ModuleCommand,
)
from eventsocket.switch.builder import Switch, build_switch
from eventsocket.switch.config import ConfDir


class ListSink:
    """The connection's queues, as lists."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.logs: list[LogRecord] = []
        self.ready = 0

    def enqueue_event(self, event: Event) -> None:
        self.events.append(event)

    def enqueue_log(self, line: LogRecord) -> None:
        self.logs.append(line)

    def output_ready(self) -> None:
        self.ready += 1


def make_core(switch: Switch | None = None, password: str = "ClueCon") -> tuple[ListenerCore, ListSink]:
    sink = ListSink()
    backend = switch or build_switch(heartbeat_interval=0)
    return ListenerCore(backend, EventSocketSettings(password=password), sink), sink


def feed(core: ListenerCore, data: bytes | str) -> list[Frame]:
    """Feed bytes, handle every request that answers at once, and parse what the core wrote."""
    core.receive_data(data.encode() if isinstance(data, str) else data)
    while core.pending_requests:
        pending = core.handle_next()
        assert pending is None, "a command that waits; use the async helper"
    return FrameParser().feed(core.take_output())


def authed() -> tuple[ListenerCore, ListSink]:
    core, sink = make_core()
    assert [f.reply_text for f in feed(core, "auth ClueCon\n\n")] == ["+OK accepted"]
    return core, sink


# -- authentication ------------------------------------------------------------------------------


def test_auth_accepts_the_password() -> None:
    core, _ = make_core()
    assert not core.authenticated
    core.receive_data(b"auth ClueCon\n\n")
    assert core.pending_requests == 1
    assert core.handle_next() is None
    assert core.take_output() == b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
    assert core.authenticated and core.take_actions() == []


def test_a_wrong_password_closes_and_nothing_after_it_runs() -> None:
    core, _ = make_core()
    frames = feed(core, "auth nope\n\napi echo x\n\n")
    assert [f.reply_text for f in frames] == ["-ERR invalid"]
    assert core.take_actions() == [Close(GOODBYE)]
    assert core.closing and not core.authenticated and core.pending_requests == 0


def test_before_auth_only_auth_userauth_and_exit() -> None:
    core, _ = make_core()
    frames = feed(core, "api echo x\n\nevent plain ALL\n\nexit\n\n")
    assert [f.reply_text for f in frames] == ["-ERR command not found", "-ERR command not found", "+OK bye"]
    assert core.take_actions() == [Close(GOODBYE)]


def test_userauth_sets_permissions() -> None:
    switch = build_switch(ConfDir.load(), heartbeat_interval=0)
    assert switch.conf is not None
    domain = switch.conf.global_vars["domain"]
    core, _ = make_core(switch)
    (frame,) = feed(core, f"userauth limited@{domain}:secret\n\n")
    assert frame.reply_text == "+OK accepted" and frame.get("Allowed-API") == "echo,status,bgapi"
    assert core.permissions is not None and core.permissions.api == {"echo", "status", "bgapi"}
    (denied,) = feed(core, "api uptime\n\n")
    assert denied.reply_text == "-ERR permission denied"
    (allowed,) = feed(core, "api echo hi\n\n")
    assert allowed.body == b"hi"
    (events,) = feed(core, "event plain HEARTBEAT\n\n")
    assert events.reply_text == "-ERR permission denied"


# -- api, bgapi, pipelining ------------------------------------------------------------------------


def test_pipelined_requests_answer_in_order_in_one_write() -> None:
    core, _ = authed()
    core.receive_data(b"api echo 1\n\napi echo 2\n\napi nosuch\n\n")
    while core.pending_requests:
        assert core.handle_next() is None
    out = core.take_output()
    frames = FrameParser().feed(out)
    assert [f.body for f in frames] == [b"1", b"2", b"-ERR nosuch Command not found!\n"]
    assert core.replied and core.take_output() == b""


def test_a_packet_split_anywhere_is_the_same_packet() -> None:
    core, _ = authed()
    data = b"api echo split\n\n"
    for i in range(len(data)):
        core.receive_data(data[i : i + 1])
    assert core.pending_requests == 1
    assert core.handle_next() is None
    assert FrameParser().feed(core.take_output())[0].body == b"split"


def test_bgapi_replies_then_asks_for_the_job() -> None:
    core, _ = authed()
    (frame,) = feed(core, "bgapi status\nJob-UUID: job-1\n\n")
    assert frame.reply_text == "+OK Job-UUID: job-1" and frame.get("Job-UUID") == "job-1"
    assert core.take_actions() == [BackgroundJob("job-1", "status", "", None)]


def test_module_commands_become_jobs() -> None:
    core, _ = authed()
    (frame,) = feed(core, "api reload mod_event_socket\nJob-UUID: j\n\n")
    assert frame.body == b"+OK Job-UUID: j\n"
    assert core.take_actions() == [ModuleCommand("j", "reload")]
    (echo,) = feed(core, "api echo mod_event_socket\n\n")  # only the real module command
    assert echo.body == b"mod_event_socket"


@pytest.mark.asyncio
async def test_a_slow_api_returns_an_awaitable_and_answers_when_done() -> None:
    core, _ = authed()
    core.receive_data(b"api msleep 10\n\napi echo after\n\n")
    pending = core.handle_next()
    assert pending is not None and core.take_output() == b""
    await pending
    assert FrameParser().feed(core.take_output())[0].body == b"+OK"
    assert core.pending_requests == 1


# -- events ----------------------------------------------------------------------------------------


def test_event_subscription_selects_what_reaches_the_sink() -> None:
    core, sink = authed()
    (frame,) = feed(core, "event json CHANNEL_CREATE CUSTOM my::sub\n\n")
    assert frame.reply_text == "+OK event listener enabled json"
    subs = core.subs
    assert subs.enabled and subs.format == "json"
    assert subs.types == {"CHANNEL_CREATE", "CUSTOM"} and subs.subclasses == {"my::sub"}
    core.on_event(Event("CUSTOM", subclass="my::sub"))
    core.on_event(Event("CUSTOM", subclass="other"))
    core.on_event(Event("HEARTBEAT"))
    assert [(e.name, e.subclass) for e in sink.events] == [("CUSTOM", "my::sub")]
    assert [f.reply_text for f in feed(core, "nixevent CUSTOM my::sub\n\n")] == ["+OK events nixed"]
    assert subs.subclasses == set()
    (off,) = feed(core, "noevents\n\n")
    assert off.reply_text == "+OK no longer listening for events"
    assert core.take_actions() == [FlushEvents()] and not subs.enabled
    assert feed(core, "noevents\n\n")[0].reply_text == "-ERR not listening for events"


def test_events_arrive_through_the_backend_feed() -> None:
    switch = build_switch(heartbeat_interval=0)
    core, sink = make_core(switch)
    feed(core, "auth ClueCon\n\n")
    feed(core, "event plain CUSTOM x::y\n\n")
    switch.fire_event(switch.bus.create("CUSTOM", subclass="x::y"))
    assert [e.subclass for e in sink.events] == ["x::y"]
    core.release()
    switch.fire_event(switch.bus.create("CUSTOM", subclass="x::y"))
    assert len(sink.events) == 1  # the feed is closed


def test_event_grammar_keywords_and_format() -> None:
    core, _ = authed()
    assert feed(core, "event xml\n\n")[0].reply_text == "-ERR no keywords supplied"
    assert core.subs.format == "xml"  # the format word counts even without keywords, as in FreeSWITCH
    assert feed(core, "event  json ALL\n\n")[0].reply_text == "+OK event listener enabled xml"


def test_filters() -> None:
    core, _ = authed()
    replies = [
        f.reply_text
        for f in feed(
            core,
            "filter Unique-ID abc\n\nfilter add Event-Name\n\nfilter delete Unique-ID abc\n\n"
            "filter x\n\nfilter Event-Name HEARTBEAT\n\nfilter delete all\n\n",
        )
    ]
    assert replies == [
        "+OK filter added. [Unique-ID]=[abc]",
        "+OK filter added. [Event-Name]=[(null)]",
        "+OK filter deleted. [Unique-ID][abc]",
        "-ERR invalid syntax",
        "+OK filter added. [Event-Name]=[HEARTBEAT]",
        "+OK filter deleted. [all][]",
    ]
    assert core.subs.filters == []


def test_sendevent_fires_with_standard_headers_after_the_client_ones() -> None:
    switch = build_switch(heartbeat_interval=0)
    fired: list[Event] = []
    switch.bus.subscribe(fired.append)
    core, _ = make_core(switch)
    feed(core, "auth ClueCon\n\n")
    (frame,) = feed(core, "sendevent CUSTOM\nEvent-Subclass: a::b\nX: 1\n\n")
    assert re.fullmatch(r"\+OK [0-9a-f-]{36}", frame.reply_text)
    (event,) = fired
    names = [k for k, _ in event.headers]
    assert names[:2] == ["Command", "X"] and event.subclass == "a::b"
    assert names.index("Event-Subclass") < names.index("Event-Name")


def test_sendmsg_to_no_such_call() -> None:
    core, _ = authed()
    (frame,) = feed(core, "sendmsg 1234\ncall-command: hangup\n\n")
    assert frame.reply_text == "-ERR invalid session id [1234]"


# -- log -------------------------------------------------------------------------------------------


def test_log_level_selects_lines_and_nolog_stops() -> None:
    switch = build_switch(heartbeat_interval=0)
    core, sink = make_core(switch)
    feed(core, "auth ClueCon\n\n")
    assert feed(core, "log notice\n\n")[0].reply_text == "+OK log level notice [5]"
    switch.log(5, "shown")
    switch.log(7, "hidden")
    assert [line.text.endswith("shown\n") for line in sink.logs] == [True]
    assert feed(core, "log bogus\n\n")[0].reply_text == "-ERR invalid log level"
    assert feed(core, "nolog\n\n")[0].reply_text == "+OK no longer logging"
    assert core.take_actions() == [FlushLogs()]
    switch.log(1, "after")
    assert len(sink.logs) == 1
    assert feed(core, "nolog\n\n")[0].reply_text == "-ERR not loging"


# -- session commands without a session, exit, framing errors ---------------------------------------


def test_session_commands_need_a_call() -> None:
    core, _ = authed()
    replies = [f.reply_text for f in feed(core, "linger\n\nnolinger\n\ndivert_events on\n\ngetvar x\n\n")]
    assert replies == [
        "-ERR not controlling a session",
        "-ERR not controlling a session",
        "-ERR not controlling a session.",
        "-ERR command not found",
    ]
    assert feed(core, "myevents 0000\n\n")[0].reply_text == "-ERR invalid uuid"


def test_exit_by_any_prefix() -> None:
    core, _ = authed()
    assert feed(core, "exitnow\n\napi echo x\n\n")[0].reply_text == "+OK bye"
    assert core.take_actions() == [Close(GOODBYE)] and core.pending_requests == 0


def test_packets_before_a_framing_error_run_first() -> None:
    core, _ = authed()
    core.receive_data(b"api echo 1\n\napi echo 2\n\napi x\nContent-Length: -1\n\n")
    assert core.failed is not None and not core.framing_error_due()
    while core.pending_requests:
        assert core.handle_next() is None
    assert [f.body for f in FrameParser().feed(core.take_output())] == [b"1", b"2"]
    assert core.framing_error_due()


# -- the table ---------------------------------------------------------------------------------------


EVERY_COMMAND = [
    "exit", "auth", "userauth", "api", "bgapi", "event", "nixevent", "noevents", "filter", "sendevent",
    "sendmsg", "myevents", "divert_events", "linger", "nolinger", "log", "nolog", "connect", "getvar",
    "resume",
]  # fmt: skip


def test_every_command_is_an_entry_of_the_one_table() -> None:
    names = {command.name for command in COMMANDS}
    assert set(EVERY_COMMAND) <= names
    for command in COMMANDS:
        assert command.match is not None or command.prefix.strip() == command.name
    assert {c.when for c in COMMANDS} == set(When)


def test_a_command_is_found_by_its_name_in_one_grep() -> None:
    table = Path(__file__).resolve().parents[2] / "src" / "eventsocket" / "server" / "commands.py"
    for name in EVERY_COMMAND:
        found = subprocess.run(["grep", "-n", f'"{name}"', str(table)], capture_output=True, text=True)
        lines = [line for line in found.stdout.splitlines() if "Command(" in line]
        assert lines, name
        assert all(f"cmd_{name}" in line for line in lines), lines


def test_extension_commands_take_only_lines_freeswitch_refuses() -> None:
    def cmd_resume_feed(state: ListenerState, request: Request) -> None:
        state.reply(f"+OK resuming {request.line[7:]}")

    extra = (Command("resume", "resume ", cmd_resume_feed, When.WITHOUT_CALL),)
    core = ListenerCore(build_switch(heartbeat_interval=0), EventSocketSettings(), ListSink(),
                        extra_commands=extra)  # fmt: skip
    assert feed(core, "resume x\n\n")[0].reply_text == "-ERR command not found"  # not before auth
    feed(core, "auth ClueCon\n\n")
    replies = [f.reply_text for f in feed(core, "resume feed-1\n\nexit\n\n")]
    assert replies == ["+OK resuming feed-1", "+OK bye"]
