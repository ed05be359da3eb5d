"""Events fired just after a reply wait ``reply_event_hold``, so a command sent straight after
the reply is answered first, as FreeSWITCH's connection thread does (see Connection._write_out)."""

from __future__ import annotations

import asyncio

from test_connection_turns import RecordingTransport

from eventsocket.protocol.framing import FrameParser
from eventsocket.server.connection import Connection
from eventsocket.server.listener import EventSocketServer
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.builder import Switch, build_switch


def connect(hold: float) -> tuple[Switch, Connection, RecordingTransport]:
    switch = build_switch(heartbeat_interval=0)
    server = EventSocketServer(switch, EventSocketSettings(listen_port=0, reply_event_hold=hold))
    conn = Connection(server)
    transport = RecordingTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]  # (a stand-in)
    return switch, conn, transport


def kinds(transport: RecordingTransport) -> list[str]:
    return [f.content_type for f in FrameParser().feed(b"".join(transport.writes))]


async def test_an_event_fired_after_a_reply_waits_for_the_next_command() -> None:
    switch, conn, transport = connect(hold=60.0)
    conn.data_received(b"auth ClueCon\n\nevent plain CUSTOM x::y\n\n")
    transport.writes.clear()
    conn.data_received(b"api echo one\n\n")  # the express lane starts the hold too
    switch.bus.fire(switch.bus.create("CUSTOM", subclass="x::y"))
    await asyncio.sleep(0.01)
    assert kinds(transport) == ["api/response"]  # held
    conn.data_received(b"api echo two\n\n")
    assert kinds(transport) == ["api/response", "api/response", "text/event-plain"]
    conn.close(None)


async def test_without_a_hold_the_event_goes_at_once() -> None:
    switch, conn, transport = connect(hold=0.0)
    conn.data_received(b"auth ClueCon\n\nevent plain CUSTOM x::y\n\n")
    transport.writes.clear()
    conn.data_received(b"api echo one\n\n")
    switch.bus.fire(switch.bus.create("CUSTOM", subclass="x::y"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert kinds(transport) == ["api/response", "text/event-plain"]
    conn.close(None)


async def test_a_socket_that_starts_listening_is_held_from_that_reply() -> None:
    switch, conn, transport = connect(hold=60.0)
    conn.data_received(b"auth ClueCon\n\napi echo before\n\n")  # not listening: no hold needed
    conn.data_received(b"event plain CUSTOM x::y\n\n")  # this reply starts it
    transport.writes.clear()
    switch.bus.fire(switch.bus.create("CUSTOM", subclass="x::y"))
    await asyncio.sleep(0.01)
    assert kinds(transport) == []
    conn.close(None)
