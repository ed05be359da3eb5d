"""Outbound mode: the ``socket`` application connects out and hands a call to an application.

The switch side of the connection is an ordinary :class:`Connection` whose listener
core starts authenticated, controls one call, sends no greeting and answers its first
packet only when that packet is ``connect`` (PROTOCOL.md §5). Single-channel sockets
may only use the commands every socket has; ``full`` ones may use every inbound
command (the command table says which is which).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import cast

from eventsocket.server.backend import ControlledCall
from eventsocket.server.connection import Connection, ServerContext

__all__ = ["OutboundConnection", "connect_outbound"]

log = logging.getLogger("eventsocket.outbound")



class OutboundConnection(Connection):
    """The switch's end of an outbound socket.

    The call is attached when the connection is made, not when the object is built:
    uvloop builds the protocol before the connection exists, and a connect that fails
    then must leave nothing held.
    """

    def __init__(self, server: ServerContext, call: ControlledCall, async_mode: bool, full: bool) -> None:
        super().__init__(server, outbound=True, async_mode=async_mode, full=full)
        self.call = call
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.connected = asyncio.Event()  # the application sent ``connect``

    # what the ``socket`` application watches (its OutboundLink): closed, connected, resume, async_mode

    @property
    def resume(self) -> bool:
        return self.core.resume

    @property
    def async_mode(self) -> bool:
        return self.core.async_mode

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if hasattr(socket, "TCP_KEEPIDLE"):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 30)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 30)
            except OSError:
                pass
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = (str(peer[0]), int(peer[1]))
        self.server.connections.add(self)
        self.core.attach_call(self.call)
        # no ACL check and no greeting: the application speaks first (§5.2)
        self._arm_first_packet_timer()

    def call_connected(self) -> None:
        self.connected.set()
        self.call.wake()  # the socket application parks the channel now (async mode)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.closed.done():
            self.closed.set_result(None)

    def call_released(self, call: ControlledCall) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        call.wake()


async def connect_outbound(
    server: ServerContext, call: ControlledCall, host: str, port: int, async_mode: bool, full: bool
) -> OutboundConnection | None:
    """Open the socket application's connection; None when the host cannot be reached."""
    loop = asyncio.get_running_loop()
    try:
        _transport, protocol = await asyncio.wait_for(
            loop.create_connection(lambda: OutboundConnection(server, call, async_mode, full), host, port),
            server.settings.outbound_connect_timeout,
        )
    except (TimeoutError, OSError, ValueError) as exc:
        log.info("socket %s:%s failed: %s", host, port, exc)
        return None
    return protocol
