"""The listener core in outbound mode and with a controlled call, without sockets.

A hand-written :class:`ControlledCall` stands in for the switch's handle, which also
shows what any backend has to provide for a held call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import pytest
from test_listener_core import ListSink, feed

from eventsocket.protocol.events import Event, HeaderValue
from eventsocket.protocol.framing import GOODBYE, FrameParser
from eventsocket.protocol.message import Request
from eventsocket.server.listener_core import ListenerCore
from eventsocket.server.settings import EventSocketSettings
from eventsocket.server.state import Close, Connected, Linger
from eventsocket.switch.builder import build_switch


class FakeCall:
    """A held call that records what the socket did with it."""

    def __init__(self, uuid: str = "11111111-2222-3333-4444-555555555555") -> None:
        self.uuid = uuid
        self.channel_name = "null/1000"
        self.ready = True
        self.variables: dict[str, str] = {}
        self.queued: list[Request] = []
        self.ran: list[Request] = []
        self.on_hangup_complete: Callable[[], None] | None = None
        self.diverted: Callable[[Event], None] | None = None
        self.locks = 0
        self.woken = 0

    def attach(self, on_hangup_complete: Callable[[], None]) -> None:
        self.on_hangup_complete = on_hangup_complete
        self.locks += 1

    def release(self) -> None:
        self.locks -= 1
        self.on_hangup_complete = None

    def wake(self) -> None:
        self.woken += 1

    def get_variable(self, name: str) -> str | None:
        return self.variables.get(name)

    def set_variable(self, name: str, value: str | None) -> None:
        if value is None:
            self.variables.pop(name, None)
        else:
            self.variables[name] = value

    def queue_message(self, request: Request) -> None:
        self.queued.append(request)

    def run_message(self, request: Request) -> Awaitable[None]:
        async def run() -> None:
            await asyncio.sleep(0)
            self.ran.append(request)

        return run()

    def divert_events(self, listener: Callable[[Event], None] | None) -> None:
        self.diverted = listener

    def channel_data(self) -> Sequence[tuple[str, HeaderValue]]:
        return [("Channel-Channel-Name", self.channel_name), ("Unique-ID", self.uuid), ("variable_a", "b")]


def outbound(async_mode: bool = True, full: bool = False) -> tuple[ListenerCore, ListSink, FakeCall]:
    sink = ListSink()
    core = ListenerCore(
        build_switch(heartbeat_interval=0), EventSocketSettings(), sink,
        outbound=True, async_mode=async_mode, full=full,
    )  # fmt: skip
    call = FakeCall()
    core.attach_call(call)
    return core, sink, call


def test_connect_answers_with_the_channel_data_and_lets_the_call_go_on() -> None:
    core, _, call = outbound(async_mode=True, full=False)
    assert core.authenticated and call.locks == 1
    core.receive_data(b"connect\n\n")
    assert core.handle_next() is None
    out = core.take_output()
    assert b"Content-Length" not in out.split(b"\n\n")[0]
    headers = dict(line.split(": ", 1) for line in out.decode().strip().split("\n"))
    assert headers["Event-Name"] == "CHANNEL_DATA" and headers["Unique-ID"] == call.uuid
    assert headers["Reply-Text"] == "%2BOK%0A" and headers["Socket-Mode"] == "async"
    assert headers["Control"] == "single-channel" and headers["variable_a"] == "b"
    assert core.take_actions() == [Connected()]


def test_the_reply_to_a_first_packet_other_than_connect_is_never_sent() -> None:
    core, _, _ = outbound()
    frames = feed(core, "getvar a\n\nresume\n\n")
    assert [f.reply_text for f in frames] == ["+OK"]  # getvar's reply is swallowed, resume's is not
    assert core.resume


def test_single_channel_sockets_have_only_the_basic_commands() -> None:
    core, _, call = outbound(full=False)
    feed(core, "connect\n\n")
    replies = [f.reply_text for f in feed(core, "api echo x\n\nevent plain ALL\n\nlinger\n\nmyevents\n\n")]
    assert replies == ["-ERR command not found"] * 3 + ["+OK Events Enabled"]
    assert core.subs.myevents and core.subs.session_uuid == call.uuid
    full, _, _ = outbound(full=True)
    feed(full, "connect\n\n")
    assert feed(full, "api echo x\n\n")[0].body == b"x"


def test_getvar_resume_and_async_sendmsg() -> None:
    core, _, call = outbound()
    feed(core, "connect\n\n")
    call.variables["x"] = "y"
    replies = [f.reply_text for f in feed(core, "getvar x\n\ngetvar none\n\nresume\n\n")]
    assert replies == ["y", "-ERR command not found", "+OK"]
    assert call.variables["socket_resume"] == "true"
    (frame,) = feed(core, "sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n")
    assert frame.reply_text == "+OK" and [r.get("execute-app-name") for r in call.queued] == ["answer"]


@pytest.mark.asyncio
async def test_static_sendmsg_answers_when_the_command_is_done() -> None:
    core, _, call = outbound(async_mode=False)
    feed(core, "connect\n\n")
    core.receive_data(b"sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n")
    pending = core.handle_next()
    assert pending is not None and core.take_output() == b"" and call.ran == []
    await pending
    assert len(call.ran) == 1 and FrameParser().feed(core.take_output())[0].reply_text == "+OK"


def test_divert_events_hands_the_calls_events_to_the_sink() -> None:
    core, sink, call = outbound()
    feed(core, "connect\n\n")
    assert feed(core, "divert_events on\n\n")[0].reply_text == "+OK events diverted"
    assert call.diverted is not None
    call.diverted(Event("CUSTOM"))
    assert sink.events == []  # delivery is off until an event command
    feed(core, "myevents\n\n")
    call.diverted(Event("CUSTOM"))
    assert [e.name for e in sink.events] == ["CUSTOM"]
    assert feed(core, "divert_events off\n\n")[0].reply_text == "+OK events not diverted"
    assert call.diverted is None


def test_hangup_without_linger_says_goodbye() -> None:
    core, sink, call = outbound(full=True)
    feed(core, "connect\n\nnolinger\n\n")
    assert core.take_actions() == [Connected()]
    assert call.on_hangup_complete is not None
    call.on_hangup_complete()
    assert sink.ready == 1 and core.take_actions() == [Close(GOODBYE)]


def test_hangup_with_linger_sends_the_notice_then_waits() -> None:
    core, _, call = outbound(full=True)  # linger is not a single-channel command, as in FreeSWITCH
    frames = feed(core, "connect\n\nlinger 7\n\n")
    assert frames[-1].reply_text == "+OK will linger 7 seconds"
    assert call.on_hangup_complete is not None
    core.take_actions()
    call.on_hangup_complete()
    (action,) = core.take_actions()
    assert isinstance(action, Linger) and action.seconds == 7
    (notice,) = FrameParser().feed(action.notice)
    assert notice.get("Content-Disposition") == "linger" and notice.get("Channel-Name") == "null/1000"
    assert notice.get("Controlled-Session-UUID") == call.uuid and notice.get("Linger-Time") == "7"


def test_release_lets_go_once() -> None:
    core, _, call = outbound()
    assert core.release() is call and call.locks == 0
    assert core.release() is None and call.locks == 0
    assert core.session_uuid == call.uuid  # kept for the goodbye notice
