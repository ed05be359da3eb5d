"""What the event socket server needs from a switch: the narrow interface behind the server.

mod_event_socket talks to the rest of FreeSWITCH through a handful of core calls
(``switch_api_execute``, ``switch_event_bind``/``switch_event_fire``, the log hooks,
``switch_xml_locate_user``, ``switch_core_session_locate`` plus a message queue). The
server here does the same through :class:`SwitchBackend`, a structural
``typing.Protocol``: the embedded switch core implements it, and so can anything else
(a gateway in front of many switches, a test double), without importing the server or
being imported by it.

Calls a socket controls (outbound mode, or inbound after ``myevents <uuid>``) are
reached through :class:`ControlledCall`, a handle the backend gives out: the server
never touches a session's internals, it asks the handle.

Nothing here is asyncio-specific except that slow operations return awaitables; a
backend answers at once whenever it can, which keeps the hot path (``api`` request ->
reply) free of scheduling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from eventsocket.protocol.events import Event, HeaderValue
from eventsocket.protocol.message import Request

__all__ = [
    "ApiOutcome",
    "ControlledCall",
    "EventFeed",
    "EventListener",
    "EventSelection",
    "LogListener",
    "LogRecord",
    "OutboundConnector",
    "OutboundLink",
    "SwitchBackend",
]

#: What running an API command gives: its output now, None (unknown command or failure),
#: or an awaitable of those for a command that has to wait.
ApiOutcome = str | Awaitable[str | None] | None


class LogRecord(Protocol):
    """One log line as the server writes it in a ``log/data`` frame."""

    @property
    def level(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def channel(self) -> int: ...
    @property
    def file(self) -> str: ...
    @property
    def function(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def user_data(self) -> str: ...


EventListener = Callable[[Event], None]
LogListener = Callable[[LogRecord], None]


class EventSelection(Protocol):
    """What one connection asked to receive (``event``, ``nixevent``, ``filter``, ``myevents``...).

    The server applies it to every event it is given (:meth:`accepts`); a backend may also
    use it to narrow what it sends at all (a gateway turns it into a stream consumer).
    """

    @property
    def enabled(self) -> bool: ...
    @property
    def types(self) -> set[str]: ...
    @property
    def subclasses(self) -> set[str]: ...
    @property
    def filters(self) -> list[tuple[str, str]]: ...
    @property
    def myevents(self) -> bool: ...
    @property
    def session_uuid(self) -> str | None: ...
    def accepts(self, event: Event) -> bool: ...
    def wants(self, name: str) -> bool:
        """Whether an event of this name may be accepted (before it is built)."""
        ...


class EventFeed(Protocol):
    """One connection's supply of events, opened with :meth:`SwitchBackend.open_event_feed`."""

    def update(self, selection: EventSelection) -> Awaitable[None] | None:
        """The connection's selection changed. An awaitable delays the command's reply until
        events of the new selection are sure to be delivered (None: already so)."""
        ...

    def close(self) -> None:
        """No more events (idempotent)."""
        ...


class ControlledCall(Protocol):
    """A call held by one socket: what ``myevents <uuid>`` and outbound mode may do with it.

    ``attach`` makes the socket the call's controller: the call is locked (it is not
    destroyed before the socket lets go, so the socket sees CHANNEL_HANGUP_COMPLETE and
    can linger) and ``on_hangup_complete`` runs when the call reaches its reporting
    state. ``release`` undoes both; it is idempotent.
    """

    @property
    def uuid(self) -> str: ...
    @property
    def channel_name(self) -> str: ...
    @property
    def ready(self) -> bool:
        """Up and not hanging up (``switch_channel_ready``)."""
        ...

    def attach(self, on_hangup_complete: Callable[[], None]) -> None: ...
    def release(self) -> None: ...
    def wake(self) -> None:
        """Wake whatever the call waits on (the socket application notices a closed socket)."""
        ...

    def get_variable(self, name: str) -> str | None: ...
    def set_variable(self, name: str, value: str | None) -> None: ...
    def queue_message(self, request: Request) -> None:
        """``sendmsg`` in async mode: run by the call's own loop, in order."""
        ...

    def run_message(self, request: Request) -> Awaitable[None]:
        """``sendmsg`` in static mode: run now; the awaitable ends when the command has."""
        ...

    def divert_events(self, listener: EventListener | None) -> None:
        """``divert_events on``: events sent to the call come to ``listener`` instead of the bus."""
        ...

    def channel_data(self) -> Sequence[tuple[str, HeaderValue]]:
        """The caller profile (``Channel-`` prefixed) then the channel data with every variable,
        as the ``connect`` reply and CHANNEL_DATA carry them."""
        ...


class OutboundLink(Protocol):
    """What the switch's ``socket`` application watches on a connected outbound socket."""

    @property
    def closed(self) -> asyncio.Future[None]: ...
    @property
    def connected(self) -> asyncio.Event: ...
    @property
    def resume(self) -> bool: ...
    @property
    def async_mode(self) -> bool: ...


#: Opens an outbound socket for a call: (call, host, port, async, full) -> the link, or None
#: when the host cannot be reached (the application then tries the next host).
OutboundConnector = Callable[[ControlledCall, str, int, bool, bool], Awaitable[OutboundLink | None]]


class SwitchBackend(Protocol):
    """The switch as the event socket server sees it."""

    # -- API -----------------------------------------------------------------------------------

    def call_api(self, command: str, args: str = "", session_uuid: str | None = None) -> ApiOutcome:
        """Run an API command (``switch_api_execute``); the API event is the backend's to fire."""
        ...

    # -- events --------------------------------------------------------------------------------

    def open_event_feed(self, listener: EventListener) -> EventFeed:
        """Start giving events to ``listener`` (in firing order; it filters and queues, never blocks)."""
        ...

    def fire_event(self, event: Event) -> None: ...
    def fire_new_event(self, build: Callable[[], Event], name: str | None = None) -> None:
        """Fire ``build()``; a backend may skip building it when nobody listens (to ``name``)."""
        ...

    def standard_headers(
        self, name: str, calling_file: str, calling_function: str, calling_line: int
    ) -> list[tuple[str, HeaderValue]]:
        """Event-Name .. Event-Sequence for a new event, in FreeSWITCH's order."""
        ...

    # -- log -----------------------------------------------------------------------------------

    def add_log_listener(self, listener: LogListener) -> None: ...
    def remove_log_listener(self, listener: LogListener) -> None: ...
    def log(self, level: int, message: str, *, file: str = ..., function: str = ..., line: int = ...) -> None:
        """Write a line to the switch's log (the server logs what mod_event_socket logs)."""
        ...

    # -- directory -----------------------------------------------------------------------------

    def find_user(self, user: str, domain: str) -> dict[str, str] | None:
        """The merged params of a directory user (lower-cased names), for ``userauth``."""
        ...

    # -- calls ---------------------------------------------------------------------------------

    def queue_message(self, uuid: str, request: Request) -> bool:
        """``sendmsg <uuid>``: queue on that call; False when there is no such call."""
        ...

    def deliver_session_event(self, uuid: str, event: Event) -> bool:
        """``sendevent`` naming a live call's Unique-ID: hand the event to that call."""
        ...

    def control_call(self, uuid: str) -> ControlledCall | None:
        """A handle on a call that is up, for ``myevents <uuid>``; None when there is none."""
        ...

    def set_outbound_connector(self, connector: OutboundConnector | None) -> None:
        """How the ``socket`` application opens outbound sockets (None: every host fails)."""
        ...
