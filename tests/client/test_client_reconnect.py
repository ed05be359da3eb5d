"""Automatic reconnection: the server goes away and comes back on the same port."""

from __future__ import annotations

import asyncio
import socket

import pytest
from scripted import Peer, ScriptedServer

from esl_harness import Harness, start_harness, stop_harness
from eventsocket.client import (
    AuthenticationError,
    ConnectionLostError,
    InboundConnection,
    ReconnectPolicy,
    connect,
)
from eventsocket.server.settings import EventSocketSettings

FAST = ReconnectPolicy(initial_delay=0.05, max_delay=0.2, factor=2.0, jitter=0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def harness_on(port: int, password: str = "ClueCon") -> Harness:
    settings = EventSocketSettings(listen_ip="127.0.0.1", listen_port=port, password=password)
    return await start_harness(settings)


def server_side(h: Harness) -> object:
    conns = list(h.server.connections)
    assert len(conns) == 1, conns
    return conns[0]


async def test_reconnect_restores_subscriptions_filters_and_log() -> None:
    port = free_port()
    h = await harness_on(port)
    reconnected = asyncio.Event()
    conn: InboundConnection = await connect("127.0.0.1", port, "ClueCon", reconnect=FAST,
                                            on_reconnect=lambda c: reconnected.set())
    try:
        await conn.subscribe("CHANNEL_CREATE", "CUSTOM", "test::ev", format="json")
        await conn.subscribe("HEARTBEAT")
        await conn.filter("Seq", "1")
        await conn.filter("Seq", "/^2$/")
        await conn.log("notice")
        assert (await (await conn.bgapi("echo before")).result(3)).body == "before"
        before = server_side(h)
        await stop_harness(h)
        await asyncio.sleep(0.2)
        assert not conn.connected and not conn.closed
        h = await harness_on(port)
        await asyncio.wait_for(reconnected.wait(), 5)
        assert conn.connected and conn.reconnects == 1
        after = server_side(h)
        assert after is not before
        subs = after.subs
        assert subs.format == "json"
        assert {"CUSTOM", "CHANNEL_CREATE", "HEARTBEAT", "BACKGROUND_JOB"} <= subs.types
        assert subs.subclasses == {"test::ev"}
        assert ("Seq", "1") in subs.filters and ("Seq", "/^2$/") in subs.filters
        assert ("Event-Name", "BACKGROUND_JOB") in subs.filters
        assert after.log_level == 5
        # and it all works: the filters pass Seq 1 and 2 only, in json; bgapi still matches
        async with await connect("127.0.0.1", port, "ClueCon") as sender:
            for i in range(4):
                await sender.sendevent("CUSTOM", {"Seq": str(i)}, subclass="test::ev")
        got = [await conn.events().get(3) for _ in range(2)]
        assert [e["Seq"] for e in got] == ["1", "2"] and got[0].format == "json"
        assert (await (await conn.bgapi("echo after")).result(3)).body == "after"
    finally:
        await conn.close()
        await stop_harness(h)


async def test_requests_wait_for_the_reconnection_within_their_timeout() -> None:
    port = free_port()
    h = await harness_on(port)
    conn = await connect("127.0.0.1", port, "ClueCon", reconnect=FAST)
    try:
        pending = asyncio.ensure_future(conn.api("msleep", "5000"))
        await asyncio.sleep(0.05)
        await stop_harness(h)
        with pytest.raises(ConnectionLostError):  # it was in flight: the server may or may not have run it
            await asyncio.wait_for(pending, 3)
        waiting = asyncio.ensure_future(conn.api("echo", "queued", timeout=5))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        h = await harness_on(port)
        assert (await asyncio.wait_for(waiting, 5)).body == "queued"
    finally:
        await conn.close()
        await stop_harness(h)


async def test_reconnect_gives_up_after_max_attempts() -> None:
    port = free_port()
    h = await harness_on(port)
    conn = await connect("127.0.0.1", port, "ClueCon",
                         reconnect=ReconnectPolicy(initial_delay=0.01, max_delay=0.02, max_attempts=3))
    await stop_harness(h)
    await asyncio.wait_for(conn.wait_closed(), 5)
    assert isinstance(conn.close_error, ConnectionLostError)
    with pytest.raises(ConnectionLostError):
        await conn.api("status")


async def test_a_refused_password_stops_reconnecting() -> None:
    port = free_port()
    h = await harness_on(port)
    conn = await connect("127.0.0.1", port, "ClueCon", reconnect=FAST)
    await stop_harness(h)
    h = await harness_on(port, password="changed")
    try:
        await asyncio.wait_for(conn.wait_closed(), 5)
        assert isinstance(conn.close_error, AuthenticationError)
    finally:
        await stop_harness(h)


async def test_close_while_reconnecting() -> None:
    port = free_port()
    h = await harness_on(port)
    conn = await connect("127.0.0.1", port, "ClueCon", reconnect=FAST)
    await stop_harness(h)
    await asyncio.sleep(0.1)
    await conn.close()
    assert conn.closed and conn.close_error is None


async def test_reconnect_replays_in_order_against_a_scripted_server() -> None:
    """What goes on the wire after a reconnect, exactly."""
    sessions: list[list[str]] = []

    async def script(peer: Peer) -> None:
        await peer.greet_and_auth()
        lines: list[str] = []
        sessions.append(lines)
        while True:
            try:
                request = await peer.recv(5)
            except (TimeoutError, ConnectionError):
                return
            lines.append(request.line)
            if request.line == "api drop":
                peer.close()
                return
            if request.line.startswith("api "):
                peer.api("ok")
            else:
                peer.reply("+OK")

    server = ScriptedServer(script)
    port = await server.start()
    conn = await connect("127.0.0.1", port, "ClueCon", reconnect=FAST)
    try:
        await conn.subscribe("CHANNEL_CREATE", "CUSTOM", "a::b", format="xml")
        await conn.subscribe("ALL")
        await conn.nixevent("HEARTBEAT")
        await conn.filter("Unique-ID", "u1")
        await conn.filter("Unique-ID", "u2")
        await conn.filter_delete("Unique-ID", "u1")
        await conn.myevents("u2")
        with pytest.raises(ConnectionLostError):
            await conn.api("drop")
        assert (await conn.api("after", timeout=5)).body == "ok"
    finally:
        await conn.close()
        await server.stop()
    assert sessions[1][:5] == [
        "event xml ALL CUSTOM a::b",
        "nixevent HEARTBEAT",
        "filter Unique-ID u2",
        "myevents u2 xml",
        "api after",
    ]
