"""Outbound mode: the ``socket`` application connects out and hands a call to an application.

The switch side of the connection is an ordinary :class:`Connection` that starts
authenticated, controls one session, sends no greeting and answers its first packet
only when that packet is ``connect`` (PROTOCOL.md §5). Single-channel sockets may only
use the session commands; ``full`` ones may use every inbound command.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

from eventsocket.protocol.events import Event
from eventsocket.protocol.framing import GOODBYE
from eventsocket.protocol.message import Request
from eventsocket.server.connection import Connection

if TYPE_CHECKING:
    from eventsocket.server.listener import EventSocketServer
    from eventsocket.switch.session import Session

log = logging.getLogger("eventsocket.outbound")

CONNECT_TIMEOUT = 5.0


def channel_data_reply(session: Session, socket_mode: str, control: str) -> bytes:
    """The ``connect`` reply: a CHANNEL_DATA event serialized flat, with a command/reply inside.

    Standard headers, the caller profile under the ``Channel`` prefix, the channel data
    with every variable, then Content-Type, the URL-encoded ``+OK\\n`` Reply-Text,
    Socket-Mode and Control; no envelope, no Content-Length (§5.3). CHANNEL_DATA events
    keep one header per name.
    """
    bus = session.core.bus
    event = Event(
        "CHANNEL_DATA", bus.standard_headers("CHANNEL_DATA", "mod_event_socket.c", "parse_command", 2209)
    )
    for key, value in session.channel.profile.headers("Channel"):
        event.set(key, value)
    for key, data_value in session.channel.data_headers("CHANNEL_DATA", with_variables=True):
        event.set(key, data_value)
    event.set("Content-Type", "command/reply")
    event.set("Reply-Text", "+OK\n")
    event.set("Socket-Mode", socket_mode)
    event.set("Control", control)
    return event.serialize("plain")


class OutboundConnection(Connection):
    """The switch's end of an outbound socket."""

    def __init__(self, server: EventSocketServer, session: Session, async_mode: bool, full: bool) -> None:
        super().__init__(server)
        self.outbound = True
        self.authenticated = True
        self.async_mode = async_mode
        self.full = full
        self.closed = asyncio.get_running_loop().create_future()
        self.connected = asyncio.Event()  # the application sent ``connect``
        self._muted = False
        self.bind_session(session)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        from typing import cast

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
        # no ACL check and no greeting: the application speaks first (§5.2)
        self._arm_first_packet_timer()

    def before_first(self, request: Request) -> None:
        """The reply to a first packet that is not ``connect`` is never sent (§5.2)."""
        self._muted = not request.line.strip().lower().startswith("connect")

    def after_first(self) -> None:
        self._muted = False

    def send(self, data: bytes) -> None:
        if self._muted:
            return
        super().send(data)

    def session_connect(self) -> None:
        super().session_connect()
        self.connected.set()
        if self.session is not None:
            self.session.signal()  # the socket application parks the channel now (async mode)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self, message: str | None = GOODBYE, abort_after: float = 5.0) -> None:
        super().close(message, abort_after)

    def session_released(self, session: Session) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        session.signal()


async def connect_outbound(
    server: EventSocketServer, session: Session, host: str, port: int, async_mode: bool, full: bool
) -> OutboundConnection | None:
    """Open the socket application's connection; None when the host cannot be reached."""
    loop = asyncio.get_running_loop()
    try:
        _transport, protocol = await asyncio.wait_for(
            loop.create_connection(lambda: OutboundConnection(server, session, async_mode, full), host, port),
            CONNECT_TIMEOUT,
        )
    except (TimeoutError, OSError, ValueError) as exc:
        log.info("socket %s:%s failed: %s", host, port, exc)
        return None
    return protocol
