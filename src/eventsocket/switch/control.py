"""A socket's hold on the switch: its event feed and its hold on a session (``ControlledCall``).

The event socket server controls calls (outbound mode, ``myevents <uuid>``) through
this handle only, so it needs no knowledge of the session's lock count, controller
list or divert hook, and a switch reached some other way (a gateway) can hand out its
own handle with the same methods.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from eventsocket.protocol.events import Event, HeaderValue
from eventsocket.protocol.message import Request
from eventsocket.switch.bus import EventBus
from eventsocket.switch.channel import Channel


class NamedInterest(Protocol):
    """The part of a socket's event selection the bus uses: which names it may accept."""

    def wants(self, name: str) -> bool: ...


class BusFeed:
    """A socket's subscription to the event bus (the server's ``EventFeed``)."""

    __slots__ = ("_bus", "_listener")

    def __init__(self, bus: EventBus, listener: Callable[[Event], None]) -> None:
        self._bus: EventBus | None = bus
        self._listener = listener
        bus.subscribe(listener)

    def update(self, selection: NamedInterest) -> None:
        """Events the selection can never accept need not be built (the socket still checks each)."""
        if self._bus is not None:
            self._bus.set_interest(self._listener, selection.wants)

    def close(self) -> None:
        if self._bus is not None:
            self._bus.unsubscribe(self._listener)
            self._bus = None


class Controllable(Protocol):
    """The parts of a session a controlling socket's handle uses (``Session`` has them).

    Written as a protocol so that this module depends only on the channel, not on the
    session and the call layer above it.
    """

    uuid: str
    channel: Channel
    controllers: list[Callable[[Any], None]]
    divert: Callable[[Event], None] | None

    @property
    def ready(self) -> bool: ...
    def lock(self) -> None: ...
    def unlock(self) -> None: ...
    def signal(self) -> None: ...
    def get_variable(self, name: str) -> str | None: ...
    def set_variable(self, name: str, value: str | None) -> None: ...
    def queue_message(self, request: Request) -> None: ...
    def run_message(self, request: Request) -> Awaitable[None]: ...


class SessionControl:
    """One controller's hold on a session (lock, hangup callback, event divert)."""

    __slots__ = ("_divert", "_on_hangup_complete", "_session")

    def __init__(self, session: Controllable) -> None:
        self._session = session
        self._on_hangup_complete: Callable[[], None] | None = None
        self._divert: Callable[[Event], None] | None = None

    @property
    def session(self) -> Controllable:
        return self._session

    @property
    def uuid(self) -> str:
        return self._session.uuid

    @property
    def channel_name(self) -> str:
        return self._session.channel.name

    @property
    def ready(self) -> bool:
        return self._session.ready

    def attach(self, on_hangup_complete: Callable[[], None]) -> None:
        """Lock the session and follow it: ``on_hangup_complete`` runs in its reporting state."""
        if self._on_hangup_complete is not None:
            return
        self._on_hangup_complete = on_hangup_complete
        session = self._session
        session.lock()
        session.controllers.append(self._hangup_complete)

    def _hangup_complete(self, _session: Controllable) -> None:
        callback = self._on_hangup_complete
        if callback is not None:
            callback()

    def release(self) -> None:
        """Let go: no more callbacks or diverted events, and the session may be destroyed."""
        if self._on_hangup_complete is None:
            return
        self._on_hangup_complete = None
        session = self._session
        if self._hangup_complete in session.controllers:
            session.controllers.remove(self._hangup_complete)
        if self._divert is not None and session.divert == self._divert:
            session.divert = None
        self._divert = None
        session.unlock()

    def wake(self) -> None:
        self._session.signal()

    def get_variable(self, name: str) -> str | None:
        return self._session.get_variable(name)

    def set_variable(self, name: str, value: str | None) -> None:
        self._session.set_variable(name, value)

    def queue_message(self, request: Request) -> None:
        self._session.queue_message(request)

    def run_message(self, request: Request) -> Awaitable[None]:
        return self._session.run_message(request)

    def divert_events(self, listener: Callable[[Event], None] | None) -> None:
        session = self._session
        if listener is None:
            if self._divert is not None and session.divert == self._divert:
                session.divert = None
            self._divert = None
            return
        self._divert = listener
        session.divert = listener

    def channel_data(self) -> list[tuple[str, HeaderValue]]:
        channel = self._session.channel
        data: list[tuple[str, HeaderValue]] = list(channel.profile.headers("Channel"))
        data.extend(channel.data_headers("CHANNEL_DATA", with_variables=True))
        return data
