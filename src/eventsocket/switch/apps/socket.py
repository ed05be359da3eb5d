"""``socket <host>[:<port>][/<path>][|<host>...] [async] [full]``: hand the call to an outbound socket.

The switch core does not open sockets itself; the event socket server registers a
connector on the core (``core.outbound_connector``). Without one (the core used
alone), every host fails as if unreachable and the dialplan goes on, as FreeSWITCH
does after ``Socket Error!``.

After the socket closes, the channel hangs up, or with ``resume`` (or the channel
variable ``socket_resume=true``) continues with the next application; a channel the
application transferred (or parked) goes on where it was sent. FreeSWITCH
documents this; its own code can leave a channel parked forever or stuck in CS_RESET
(PROTOCOL.md §9), which is fixed here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from eventsocket.protocol.compat import atoi, switch_true
from eventsocket.switch.channel import CS

if TYPE_CHECKING:
    from eventsocket.switch.calls import CallManager
    from eventsocket.switch.session import Session

DEFAULT_PORT = 8084


class OutboundLink(Protocol):
    """What the socket application needs from a connected outbound socket."""

    closed: asyncio.Future[None]
    connected: asyncio.Event
    resume: bool
    async_mode: bool


OutboundConnector = Callable[["Session", str, int, bool, bool], Awaitable[OutboundLink | None]]


def parse_hosts(spec: str) -> list[tuple[str, int, str]]:
    """``host[:port][/path]|...`` -> [(host, port, path)], with FreeSWITCH's quirks.

    The port is after the last ``:`` (so ``::1:8084`` works and a bare IPv6 address
    does not); an entry without a port reuses the port of the entry before it.
    """
    hosts: list[tuple[str, int, str]] = []
    port = DEFAULT_PORT
    for entry in spec.split("|"):
        entry = entry.strip()
        if not entry:
            continue
        host, path = entry, ""
        if ":" in entry:
            host, _, rest = entry.rpartition(":")
            port_text, slash, path = rest.partition("/")
            port = atoi(port_text) or DEFAULT_PORT
            path = slash + path if slash else ""
        elif "/" in entry:
            host, slash, path = entry.partition("/")
            path = slash + path
        hosts.append((host, port, path))
    return hosts


async def socket_app(session: Session, data: str) -> None:
    words = data.split()
    if not words:
        session.core.log(
            3,
            "Usage: <ip>[:<port>]",
            file="mod_event_socket.c",
            function="socket_function",
            line=384,
            session_uuid=session.uuid,
        )
        return
    async_mode = any(w.lower() == "async" for w in words[1:])
    full = any(w.lower() == "full" for w in words[1:])
    connector: OutboundConnector | None = getattr(session.core, "outbound_connector", None)
    link: OutboundLink | None = None
    for host, port, path in parse_hosts(words[0]):
        session.set_variable("socket_host", host)
        if path:
            session.set_variable("socket_path", path)
        if connector is not None:
            link = await connector(session, host, port, async_mode, full)
        if link is not None:
            break
    if link is None:
        session.core.log(
            3,
            "Socket Error!",
            file="mod_event_socket.c",
            function="socket_function",
            line=431,
            session_uuid=session.uuid,
        )
        return
    if async_mode:
        await _run_async(session, link)
    else:
        # static mode: the application holds the call until the socket goes away
        await session.wait(
            None, messages=False, breakable=False, stop_on_state=False, until=lambda: link.closed.done()
        )
    _after_socket(session, link)


async def _run_async(session: Session, link: OutboundLink) -> None:
    """Wait for ``connect`` (or the end), then park until the socket closes, running queued commands."""
    await session.wait(
        None,
        messages=False,
        breakable=False,
        stop_on_state=False,
        until=lambda: link.connected.is_set() or link.closed.done(),
    )
    if not session.ready or link.closed.done():
        await session.process_messages()
        return
    session.parked = True
    session.fire(
        "CHANNEL_PARK", calling_file="switch_ivr.c", calling_function="switch_ivr_park", calling_line=1005
    )
    try:
        # as switch_ivr_park: a transfer (or anything that moves the channel out of
        # CS_EXECUTE) ends the park, and the call goes on there while the socket stays
        while session.ready and not link.closed.done() and session.channel.state == CS.CS_EXECUTE:
            await session.wait(
                None,
                breakable=False,
                stop_on_state=False,
                until=lambda: link.closed.done() or session.channel.state != CS.CS_EXECUTE,
            )
    finally:
        session.parked = False
        session.fire(
            "CHANNEL_UNPARK",
            calling_file="switch_ivr.c",
            calling_function="switch_ivr_park",
            calling_line=1245,
        )
    if session.ready:
        await session.process_messages()


def _after_socket(session: Session, link: OutboundLink) -> None:
    if not session.ready or session.channel.state != CS.CS_EXECUTE:
        return  # hung up, or transferred/parked by the application: the call goes on there
    resume = link.resume or switch_true(session.get_variable("socket_resume"))
    if not resume:
        session.hangup("NORMAL_CLEARING")


def register(manager: CallManager) -> None:
    manager.add_application(
        "socket", socket_app, "Connect to a socket", "<ip>[:<port>]", module="mod_event_socket"
    )
