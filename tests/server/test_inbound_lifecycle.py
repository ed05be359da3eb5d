"""The life of inbound connections on the server: accept, socket options, bookkeeping, stop (§2)."""

from __future__ import annotations

import socket

from inbound_wire import GOODBYE, SHUTDOWN, Harness, Wire, api_response, logged_in, reply, wait_for


def server_socket(harness: Harness, wire: Wire) -> socket.socket:
    conn = next(c for c in harness.server.connections if c.peer[1] == wire.local_port)
    assert conn.transport is not None
    sock: socket.socket | None = conn.transport.get_extra_info("socket")
    assert sock is not None
    return sock


async def test_accepted_socket_is_tcp_nodelay(harness: Harness) -> None:
    wire = await logged_in(harness)
    sock = server_socket(harness, wire)
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_connections_are_tracked_until_they_end(harness: Harness) -> None:
    wires = [await logged_in(harness) for _ in range(5)]
    assert sorted(c.peer[1] for c in harness.server.connections) == sorted(w.local_port for w in wires)
    await wires[0].send("exit\n\n")
    assert await wires[0].rest() == reply("+OK bye") + GOODBYE
    await wires[1].close()
    await wait_for(lambda: len(harness.server.connections) == 3)
    assert {c.peer[1] for c in harness.server.connections} == {w.local_port for w in wires[2:]}
    for wire in wires[2:]:
        assert (await wire.cmd("api echo left")).raw == api_response("left")


async def test_a_closed_client_no_longer_receives_events(harness: Harness) -> None:
    gone = await logged_in(harness)
    await gone.cmd("event plain ALL")
    await gone.close()
    await wait_for(lambda: len(harness.server.connections) == 0)
    listeners_before = harness.core.bus.listener_count
    stay = await logged_in(harness)
    await stay.cmd("event plain API")
    assert harness.core.bus.listener_count == listeners_before + 1
    assert (await stay.cmd("api echo x")).raw == api_response("x")
    assert (await stay.frame()).event()["API-Command-Argument"] == "x"


async def test_stop_during_a_waiting_command(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.send("api msleep 5000\n\n")
    await wait_for(lambda: any(getattr(c, "_busy", True) for c in harness.server.connections))
    await harness.server.stop()
    assert await wire.rest() == SHUTDOWN
