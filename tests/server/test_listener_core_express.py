"""The express lane for ``api`` (``ListenerCore.express``) answers exactly as the whole path does.

A packet that is one ``api`` line, arriving whole on an idle, authenticated and
unrestricted socket, is answered without queuing a request; everything else is refused
by the lane (it returns None) and takes the whole path. These tests hold the two paths
to the same bytes, state and events.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_listener_core import ListSink, authed, feed, make_core

from eventsocket.server.listener_core import ListenerCore
from eventsocket.server.permissions import Permissions
from eventsocket.server.settings import EventSocketSettings
from eventsocket.server.state import ModuleCommand
from eventsocket.switch.builder import build_switch

SWITCH = build_switch(heartbeat_interval=0)


def fresh() -> ListenerCore:
    core = ListenerCore(SWITCH, EventSocketSettings(), ListSink())
    core.receive_data(b"auth ClueCon\n\n")
    assert core.handle_next() is None
    core.take_output()
    return core


def whole_path(packet: bytes) -> bytes:
    core = fresh()
    core.receive_data(packet)
    while core.pending_requests:
        assert core.handle_next() is None
    return core.take_output()


def express_path(packet: bytes) -> bytes | None:
    core = fresh()
    answer = core.express(packet)
    assert answer is None or isinstance(answer, bytes)
    if answer is not None:
        assert core.replied and not core.pending_requests and core.packets == 2
        assert core.take_output() == b""  # the answer is returned, not left in the outbox
    return answer


API_TEXTS = st.one_of(
    st.sampled_from([
        "echo x", "echo", "echo ", "  echo   spaced  ", "ECHO upper", "nosuch thing", "nosuch",
        "eval ${hostname}", "expand echo $${domain}", "md5 abc", "global_getvar hostname",
        "show channels count", "uuid_kill", "uuid_dump nosuch", "version",
    ]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40)
    .map(lambda t: "echo " + t),
)


@settings(max_examples=200, deadline=None)
@given(API_TEXTS, st.binary(max_size=8))
def test_the_express_answer_is_the_whole_paths_answer(text: str, tail: bytes) -> None:
    packet = b"api " + text.encode() + tail.replace(b"\n", b"").replace(b"\r", b"") + b"\n\n"
    answer = express_path(packet)
    assert answer is not None
    assert answer == whole_path(packet)


def test_packets_the_lane_leaves_to_the_whole_path() -> None:
    refused = [
        b"api echo x\nHeader: y\n\n",  # headers (console_execute is one)
        b"api echo x\n\napi echo y\n\n",  # two packets
        b"api echo x\n",  # not whole yet
        b"\napi echo x\n\n",  # a leading blank line
        b"api echo x\r\n\r\n",
        b"API echo x\n\n",  # FreeSWITCH compares lower case; the lane takes only the usual form
        b"api unload mod_event_socket\n\n",  # this module's own commands
        b"api echo MOD_EVENT_SOCKET\n\n",
        b"bgapi echo x\n\n",
    ]
    for packet in refused:
        assert express_path(packet) is None, packet


def test_a_socket_in_any_other_state_is_refused() -> None:
    before_auth, _ = make_core()
    assert before_auth.express(b"api echo x\n\n") is None

    waiting = fresh()
    waiting.receive_data(b"api echo queued\n")  # half a packet in the parser
    assert waiting.express(b"api echo x\n\n") is None

    queued = fresh()
    queued.receive_data(b"api echo first\n\n")  # a request not yet handled
    assert queued.express(b"api echo x\n\n") is None

    restricted, _ = make_core(SWITCH)
    restricted.permissions = Permissions.from_params({"esl-allowed-api": "echo"})  # a userauth user
    restricted.authenticated = True
    assert restricted.express(b"api echo x\n\n") is None

    outbound = ListenerCore(SWITCH, EventSocketSettings(), ListSink(), outbound=True)
    assert outbound.express(b"api echo x\n\n") is None  # the first packet: its reply is muted

    closing = fresh()
    closing.close()
    assert closing.express(b"api echo x\n\n") is None


def test_module_command_through_the_whole_path_still_becomes_a_job() -> None:
    core, _ = authed()
    assert core.express(b"api reload mod_event_socket\n\n") is None
    frames = feed(core, b"api reload mod_event_socket\n\n")
    assert frames[0].body.startswith(b"+OK Job-UUID: ")
    assert [type(a) for a in core.take_actions()] == [ModuleCommand]


async def test_an_api_that_waits_gives_an_awaitable_that_answers() -> None:
    core = fresh()
    answer = core.express(b"api msleep 1\n\n")
    assert answer is not None and not isinstance(answer, bytes)
    assert core.take_output() == b""
    await answer
    assert core.take_output() == b"Content-Type: api/response\nContent-Length: 3\n\n+OK"
    assert core.replied


def test_the_api_event_follows_the_express_answer_for_a_subscriber() -> None:
    core, sink = authed()
    feed(core, "event plain API\n\n")
    answer = core.express(b"api echo hello\n\n")
    assert answer == b"Content-Type: api/response\nContent-Length: 5\n\nhello"
    assert [(e.name, e.get("API-Command"), e.get("API-Command-Argument")) for e in sink.events] == [
        ("API", "echo", "hello")
    ]


def test_a_failing_command_answers_command_failed(monkeypatch: object) -> None:
    switch = build_switch(heartbeat_interval=0)

    def broken(command: str, args: str = "", session_uuid: str | None = None) -> str:
        raise RuntimeError("boom")

    switch.call_api = broken  # type: ignore[method-assign]
    core = ListenerCore(switch, EventSocketSettings(), ListSink())
    core.receive_data(b"auth ClueCon\n\n")
    core.handle_next()
    core.take_output()
    failed = b"Content-Type: command/reply\nReply-Text: -ERR command failed\n\n"
    assert core.express(b"api echo x\n\n") == failed
    core.receive_data(b"api echo x\n\n")
    core.handle_next()
    assert core.take_output() == failed
