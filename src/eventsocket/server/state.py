"""One listener's protocol state and what command handlers may do with it, without I/O.

Everything mod_event_socket keeps per listener lives here: authentication, a
``userauth`` user's permissions, the event selection (types, subclasses, filters,
format, ``myevents``), the log level, linger, resume, the socket's mode (inbound,
outbound async/static, full or single-channel) and the call it controls.

Handlers (server/commands.py) read and change that state and produce output; they
never touch a socket or the event loop:

* bytes to send go to :attr:`ListenerState.outbox` (:meth:`reply`, :meth:`send`);
* what only the transport can do is asked for with an :data:`Action` in
  :attr:`ListenerState.actions` (close, linger, start a background job...);
* events and log lines that pass the selection go to the :class:`Sink` (the
  connection's bounded queues).

The switch is reached through :class:`~eventsocket.server.backend.SwitchBackend` only.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

from eventsocket.protocol.events import Event
from eventsocket.protocol.framing import GOODBYE, command_reply_frame, linger_frame
from eventsocket.server.backend import ControlledCall, EventFeed, LogRecord, SwitchBackend
from eventsocket.server.permissions import Permissions
from eventsocket.server.settings import EventSocketSettings
from eventsocket.server.subscriptions import Subscriptions

__all__ = [
    "Action",
    "BackgroundJob",
    "Close",
    "Connected",
    "FlushEvents",
    "FlushLogs",
    "Linger",
    "ListenerState",
    "ModuleCommand",
    "Sink",
]


# -- what only the transport can do ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Close:
    """Write what is queued, then the disconnect notice (none when ``message`` is None), then close."""

    message: str | None = GOODBYE
    abort_after: float = 5.0


@dataclass(frozen=True, slots=True)
class Linger:
    """The controlled call hung up and the socket lingers: write the queued events (its
    CHANNEL_HANGUP_COMPLETE among them), then ``notice``; close after ``seconds`` (never when < 0)."""

    notice: bytes
    seconds: int


@dataclass(frozen=True, slots=True)
class FlushEvents:
    """Drop the events queued for this socket (``noevents``)."""


@dataclass(frozen=True, slots=True)
class FlushLogs:
    """Drop the log lines queued for this socket (``nolog``)."""


@dataclass(frozen=True, slots=True)
class BackgroundJob:
    """``bgapi``: run a command apart from the connection and fire BACKGROUND_JOB with its output."""

    job_uuid: str
    command: str
    args: str
    owner_uuid: str | None


@dataclass(frozen=True, slots=True)
class ModuleCommand:
    """``api|bgapi unload|reload mod_event_socket``: the listener itself goes away (and comes back)."""

    job_uuid: str
    action: str


@dataclass(frozen=True, slots=True)
class Connected:
    """Outbound mode: the application sent ``connect``; the ``socket`` application may go on."""


Action = Close | Linger | FlushEvents | FlushLogs | BackgroundJob | ModuleCommand | Connected


class Sink(Protocol):
    """Where the state delivers what the switch pushes: the connection's bounded queues."""

    def enqueue_event(self, event: Event) -> None: ...
    def enqueue_log(self, line: LogRecord) -> None: ...
    def output_ready(self) -> None:
        """Output or actions were produced outside a request (the controlled call hung up)."""
        ...


class ListenerState:
    """Per-listener protocol state (see the module docstring)."""

    def __init__(
        self,
        backend: SwitchBackend,
        settings: EventSocketSettings,
        sink: Sink,
        *,
        outbound: bool = False,
        async_mode: bool = True,
        full: bool = True,
    ) -> None:
        self.backend = backend
        self.settings = settings
        self.sink = sink
        # output
        self.outbox: list[bytes] = []
        self.outbox_size = 0
        self.actions: list[Action] = []
        self.replied = False  # a reply was produced (the transport holds later events briefly)
        self.closing = False  # a Close was asked for: no further request is handled
        self.muted = False  # outbound: the reply to a first packet other than ``connect`` is never sent
        # the socket
        self.outbound = outbound
        self.authenticated = outbound  # an outbound socket starts authenticated
        self.async_mode = async_mode
        self.full = full
        self.permissions: Permissions | None = None
        # what it receives
        self.subs = Subscriptions()
        self.log_level: int | None = None
        self._feed: EventFeed | None = None
        self._logging = False
        # the controlled call (outbound, or inbound after ``myevents <uuid>``)
        self.call: ControlledCall | None = None
        self.session_uuid: str | None = None  # kept after the call is released, for the goodbye
        self.linger: int | None = None  # None: no linger; -1: until the client leaves
        self.resume = False

    # -- output --------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if not self.muted:
            self.outbox.append(data)
            self.outbox_size += len(data)

    def reply(self, text: str, extra: list[tuple[str, str]] | None = None) -> None:
        """A ``command/reply``."""
        if not self.muted:
            frame = command_reply_frame(text, extra or ())
            self.outbox.append(frame)
            self.outbox_size += len(frame)
        self.replied = True

    def close(self, message: str | None = GOODBYE, abort_after: float = 5.0) -> None:
        """Ask the transport to say goodbye and close; later requests are not handled."""
        if not self.closing:
            self.closing = True
            self.actions.append(Close(message, abort_after))

    def take_output(self) -> bytes:
        """The bytes produced since the last call, as one write."""
        out = self.outbox
        if not out:
            return b""
        self.outbox = []
        self.outbox_size = 0
        return out[0] if len(out) == 1 else b"".join(out)

    def take_actions(self) -> list[Action]:
        actions = self.actions
        self.actions = []
        return actions

    # -- events and logs -----------------------------------------------------------------------

    def listen_to_events(self) -> None:
        """Open the event feed (once); tell it the selection whenever it changes."""
        if self._feed is None and not self.closing:
            self._feed = self.backend.open_event_feed(self.on_event)

    def selection_changed(self) -> Awaitable[None] | None:
        """The selection changed: the feed's awaitable (reply when it is done), or None."""
        feed = self._feed
        return feed.update(self.subs) if feed is not None else None

    def on_event(self, event: Event) -> None:
        """An event from the switch: deliver it when the selection accepts it."""
        if self.subs.accepts(event):
            self.sink.enqueue_event(event)

    def _diverted(self, event: Event) -> None:
        """Events sent to the controlled call come here unfiltered, but only with delivery on."""
        if self.subs.enabled:
            self.sink.enqueue_event(event)

    def start_logging(self, level: int) -> None:
        self.log_level = level
        if not self._logging:
            self._logging = True
            self.backend.add_log_listener(self.on_log)

    def stop_logging(self) -> None:
        self.log_level = None
        if self._logging:
            self._logging = False
            self.backend.remove_log_listener(self.on_log)

    def on_log(self, line: LogRecord) -> None:
        level = self.log_level
        if level is not None and line.level <= level:
            self.sink.enqueue_log(line)

    # -- the controlled call -------------------------------------------------------------------

    def attach_call(self, call: ControlledCall) -> None:
        """Hold ``call`` and follow it (outbound, or ``myevents <uuid>``)."""
        self.call = call
        self.session_uuid = call.uuid
        self.subs.session_uuid = call.uuid
        call.attach(self._call_ended)

    def divert(self, on: bool) -> None:
        if self.call is not None:
            self.call.divert_events(self._diverted if on else None)

    def _call_ended(self) -> None:
        """The call reached its reporting state (its HANGUP_COMPLETE is queued): linger or goodbye."""
        if self.closing:
            return
        call = self.call
        if self.linger is None or call is None:
            self.close(GOODBYE)
        else:
            self.actions.append(Linger(linger_frame(call.uuid, call.channel_name, self.linger), self.linger))
        self.sink.output_ready()

    def release(self) -> ControlledCall | None:
        """Let go of everything held in the switch (feed, log listener, call); returns the call."""
        self.closing = True
        if self._feed is not None:
            self._feed.close()
            self._feed = None
        self.stop_logging()
        call = self.call
        if call is not None:
            self.call = None
            call.release()
        return call

