"""Turns of request handling: a pipelined window is one turn; a long pipeline yields to others.

A turn is bounded by time (``TURN_SECONDS``, looked at every ``TURN_CLOCK_EVERY``
requests) and by reply bytes, not by a count of requests: a count would split a client's
window of pipelined ``bgapi`` into several turns, and the events the window caused (written
only once no request is queued) would wait for whatever arrived between the turns.
"""

from __future__ import annotations

import asyncio

import pytest

from eventsocket.protocol.framing import FrameParser
from eventsocket.server import connection as connection_module
from eventsocket.server.connection import TURN_CLOCK_EVERY, Connection
from eventsocket.server.listener import EventSocketServer
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.builder import build_switch


class RecordingTransport:
    """Just enough of an asyncio transport: records every write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 5555) if name == "peername" else default

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def connect() -> tuple[Connection, RecordingTransport]:
    server = EventSocketServer(build_switch(heartbeat_interval=0), EventSocketSettings(listen_port=0))
    conn = Connection(server)
    transport = RecordingTransport()
    conn.connection_made(transport)  # type: ignore[arg-type]  # (a stand-in)
    conn.data_received(b"auth ClueCon\n\nevent plain BACKGROUND_JOB\n\n")
    transport.writes.clear()
    return conn, transport


def window(jobs: int) -> bytes:
    return b"".join(b"bgapi echo %d\nJob-UUID: job-%d\n\n" % (i, i) for i in range(jobs))


async def test_a_pipelined_window_is_one_turn_then_its_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_module, "TURN_SECONDS", 3600.0)  # no count of requests cuts a turn
    conn, transport = connect()
    conn.data_received(window(256))
    frames = FrameParser().feed(b"".join(transport.writes))
    kinds = [f.content_type for f in frames]
    assert kinds == ["command/reply"] * 256 + ["text/event-plain"] * 256
    assert len(transport.writes) == 2  # the replies in one write, the events in another
    conn.close(None)


async def test_a_turn_past_its_time_lets_the_loop_serve_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection_module, "TURN_SECONDS", 0.0)  # every look at the clock ends the turn
    conn, transport = connect()
    conn.data_received(window(3 * TURN_CLOCK_EVERY))
    replies = FrameParser().feed(b"".join(transport.writes))
    assert len(replies) == TURN_CLOCK_EVERY - 1  # one turn: up to the first look at the clock
    assert all(f.content_type == "command/reply" for f in replies)  # events wait for the queue to empty
    for _ in range(10):
        await asyncio.sleep(0)
    frames = FrameParser().feed(b"".join(transport.writes))
    kinds = [f.content_type for f in frames]
    assert kinds == ["command/reply"] * (3 * TURN_CLOCK_EVERY) + ["text/event-plain"] * (3 * TURN_CLOCK_EVERY)
    conn.close(None)
