"""What inbound connections and outbound calls share: requests, replies, events, state.

One :class:`_Link` (an ``asyncio.Protocol``) exists per TCP connection; it feeds the
protocol layer's :class:`~eventsocket.protocol.framing.FrameParser` and hands frames
to its owner, a :class:`BaseConnection`. The owner outlives its links, so an inbound
connection can reconnect and keep its handlers, queues and subscription state.

Matching replies: the server answers every command with exactly one ``command/reply``
or ``api/response``, in order. Each request appends a future to the link's FIFO and
writes its bytes in the same step (no ``await`` in between), so the order of the FIFO
is the order on the wire. A request that times out leaves its (cancelled) future in
place: the late reply still consumes it, and later replies stay aligned.

Matching jobs and executions: ``bgapi`` sends a ``Job-UUID`` it generated and waits
for the BACKGROUND_JOB carrying it; ``execute`` sends an ``Event-UUID`` and waits for
the CHANNEL_EXECUTE_COMPLETE whose ``Application-UUID`` carries it. The events these
need are subscribed to *internally* (see :class:`_SubscriptionState`), and are shown
to the application only if its own subscriptions and filters ask for them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid as uuidlib
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from typing import Any, Self, TypeVar, cast, overload

from eventsocket.client.errors import (
    CommandError,
    ConnectionLostError,
    DisconnectedError,
    ESLError,
    InvalidArgumentError,
    QueueOverflowError,
    RequestTimeoutError,
    RudeRejectionError,
)
from eventsocket.client.events import Event, EventFormat
from eventsocket.client.queues import BoundedQueue, OverflowPolicy
from eventsocket.client.results import ApiResponse, CommandReply, LogLine
from eventsocket.protocol import selection
from eventsocket.protocol.eventlist import ALL, CUSTOM, event_format, lookup_event_name, parse_event_list
from eventsocket.protocol.framing import FrameParser, ProtocolError
from eventsocket.protocol.message import Frame, Request
from eventsocket.protocol.selection import MYEVENTS_TYPES

__all__ = ["BackgroundJob", "BaseConnection", "EventHandler", "check_text"]

log = logging.getLogger("eventsocket.client")

EventHandler = Callable[[Event], Awaitable[None] | None]
H = TypeVar("H", bound=EventHandler)


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()
"""Marker for "use the connection's default timeout"."""

_FORMATS = ("plain", "json", "xml")
_EVENT_TYPES = {"text/event-plain", "text/event-json", "text/event-xml"}


# -- argument safety -------------------------------------------------------------------------------


def check_text(value: str, what: str) -> str:
    """Refuse a value that would end the current line on the wire (CR or LF)."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{what} must be a string, not {type(value).__name__}")
    if "\n" in value or "\r" in value:
        raise InvalidArgumentError(f"{what} contains CR or LF, which could inject a command: {value!r}")
    return value


def check_header_name(name: str) -> str:
    check_text(name, "header name")
    if not name or ":" in name or name != name.strip():
        raise InvalidArgumentError(f"invalid header name {name!r}")
    return name


def check_word(value: str, what: str) -> str:
    """A single token: no spaces either (event names, formats, uuids)."""
    check_text(value, what)
    if not value or " " in value or "\t" in value:
        raise InvalidArgumentError(f"{what} must be one non-empty word: {value!r}")
    return value


def header_pairs(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> list[tuple[str, str]]:
    """Validated (name, value) pairs from a mapping or an iterable of pairs."""
    if headers is None:
        return []
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: list[tuple[str, str]] = []
    for name, value in items:
        check_header_name(name)
        check_text(str(value), f"value of header {name!r}")
        out.append((name, str(value)))
    return out


def encode_request(line: str, headers: Iterable[tuple[str, str]] = (),
                   body: str | bytes | None = None) -> bytes:
    """A packet on the wire, built by the protocol layer once every part is known to be safe.

    ``Content-Length`` always comes from the body: a caller's own (say, from headers copied
    off a received event) is dropped, or the server would read the next command as a body.
    """
    check_text(line, "command")
    pairs = [(k, v) for k, v in headers if k.lower() != "content-length"]
    if body is None or body == b"" or body == "":
        if not pairs:
            return line.encode("utf-8", "surrogateescape") + b"\n\n"
        return Request(line, pairs).to_bytes()
    text = body.decode("utf-8", "surrogateescape") if isinstance(body, bytes) else body
    return Request(line, pairs, text).to_bytes()


# -- client-side filter evaluation (PROTOCOL.md §4.6) ------------------------------------------------



def filters_accept(filters: list[tuple[str, str]], event: Event) -> bool:
    """Would a server holding ``filters`` deliver ``event``? (The server's own walk.)"""
    return selection.filters_accept(filters, event.get)


# -- subscription state --------------------------------------------------------------------------


def normalize_event_name(name: str) -> str:
    """An event name as the server reads it (``switch_name_event``: any case, ``SWITCH_EVENT_``
    prefix); a name the server does not know is kept, upper-cased, for handler keys."""
    check_word(name, "event name")
    known = lookup_event_name(name)
    if known is not None:
        return known
    upper = name.upper()
    return upper[13:] if upper.startswith("SWITCH_EVENT_") else upper


class _SubscriptionState:
    """What the application subscribed to, mirrored so it can be replayed and compared.

    ``internal`` holds the event names the client itself needs (BACKGROUND_JOB for bgapi,
    CHANNEL_EXECUTE_COMPLETE for execute). ``server_filters`` is the server's filter list
    as it stands: the application's filters plus, while the application has filters and
    the client has internal needs, one ``Event-Name <name>`` filter per internal name (so
    the application's filters cannot starve the client of its own events).
    """

    def __init__(self) -> None:
        self.format: EventFormat = "plain"
        self.all = False
        self.names: set[str] = set()
        self.nixed: set[str] = set()
        self.subclasses: set[str] = set()
        self.myevents = False
        self.myevents_uuid: str | None = None
        self.filters: list[tuple[str, str]] = []
        self.server_filters: list[tuple[str, str]] = []
        self.internal: set[str] = set()
        self.internal_sent: set[str] = set()
        self.log_level: str | None = None

    def user_wants(self, name: str) -> bool:
        if self.all:
            return name not in self.nixed
        return name in self.names or (self.myevents and name in MYEVENTS_TYPES)

    def visible(self, event: Event) -> bool:
        """Should an event of an internal type reach the application?"""
        return self.user_wants(event.name) and filters_accept(self.filters, event)

    def apply_event(self, names: list[str]) -> None:
        """Mirror ``event NAMES``, read with the server's own grammar (unknown names skipped)."""
        for key in parse_event_list(names):
            if key.subclass is not None:
                self.subclasses.add(key.subclass)
                continue
            name = key.name
            if name == ALL:
                self.all = True
                self.nixed.clear()
            elif self.all:
                self.nixed.discard(name)
            self.names.add(name)

    def apply_nixevent(self, names: list[str]) -> None:
        """Mirror ``nixevent NAMES``."""
        for key in parse_event_list(names):
            if key.subclass is not None:
                self.subclasses.discard(key.subclass)
                continue
            name = key.name
            if name == CUSTOM:
                continue
            if name == ALL:
                self.all = False
                self.names.clear()
                self.nixed.clear()
            elif self.all:
                self.nixed.add(name)
                self.names.discard(name)
            else:
                self.names.discard(name)

    def apply_noevents(self) -> None:
        self.all = False
        self.names.clear()
        self.nixed.clear()
        self.subclasses.clear()
        self.internal_sent.clear()

    def delete_filter(self, header: str, value: str | None) -> None:
        self.filters = selection.delete_filters(self.filters, header, value)
        self.server_filters = selection.delete_filters(self.server_filters, header, value)

    def filter_fixups(self) -> list[str]:
        """Commands that bring the server's filters in line with what the client needs."""
        commands: list[str] = []
        want = bool(self.filters) and bool(self.internal)
        for name in sorted(self.internal):
            pair = ("Event-Name", name)
            present = any(h.lower() == "event-name" and v == name for h, v in self.server_filters)
            if want and not present:
                commands.append(f"filter Event-Name {name}")
                self.server_filters.append(pair)
            elif not want and present and not any(
                h.lower() == "event-name" and v == name for h, v in self.filters
            ):
                commands.append(f"filter delete Event-Name {name}")
                self.server_filters = selection.delete_filters(self.server_filters, "Event-Name", name)
        return commands

    def event_lines(self, include_format: bool = True) -> list[str]:
        """The ``event``/``nixevent`` commands that recreate the subscriptions on a new connection."""
        names: list[str] = []
        if self.all:
            names.append("ALL")
        else:
            names.extend(sorted(n for n in self.names if n != "CUSTOM"))
        names.extend(sorted(n for n in self.internal if n not in names))
        if "CUSTOM" in self.names or self.subclasses:
            names.append("CUSTOM")
            names.extend(sorted(self.subclasses))
        lines: list[str] = []
        if names:
            fmt = f"{self.format} " if include_format else ""
            lines.append(f"event {fmt}{' '.join(names)}")
        if self.all and self.nixed:
            nix = sorted(n for n in self.nixed if n not in self.internal)
            if nix:
                lines.append(f"nixevent {' '.join(nix)}")
        return lines


# -- bgapi jobs --------------------------------------------------------------------------------


class BackgroundJob:
    """A ``bgapi`` command in flight. ``await job`` gives its :class:`ApiResponse`.

    ``job_uuid`` is known at once (the client generates it); ``reply`` is the server's
    ``+OK Job-UUID: ...`` acknowledgement.
    """

    __slots__ = ("_future", "command", "job_uuid", "reply")

    def __init__(self, job_uuid: str, command: str, future: asyncio.Future[ApiResponse],
                 reply: CommandReply) -> None:
        self.job_uuid = job_uuid
        self.command = command
        self.reply = reply
        self._future = future

    def done(self) -> bool:
        return self._future.done()

    async def result(self, timeout: float | None = None) -> ApiResponse:
        """The job's output, waiting up to ``timeout`` seconds (:class:`RequestTimeoutError`)."""
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.shield(self._future)
        except TimeoutError as exc:
            if isinstance(exc, ESLError):
                raise
            raise RequestTimeoutError(f"background job {self.job_uuid} ({self.command!r}) "
                                      f"did not finish within {timeout}s") from None

    def __await__(self) -> Generator[Any, None, ApiResponse]:
        return asyncio.shield(self._future).__await__()

    def __repr__(self) -> str:
        state = "done" if self._future.done() else "pending"
        return f"<BackgroundJob {self.job_uuid} {self.command!r} {state}>"


# -- the per-socket protocol -------------------------------------------------------------------


class _Link(asyncio.Protocol):
    """One TCP connection: parser, reply FIFO, flow control."""

    def __init__(self, owner: BaseConnection) -> None:
        loop = asyncio.get_running_loop()
        self.owner = owner
        self.parser = FrameParser()
        self.transport: asyncio.Transport | None = None
        self.pending: deque[asyncio.Future[Frame]] = deque()
        self.greeting: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.error: ESLError | None = None
        self.closing = False
        self._paused = False
        self._drain_waiters: list[asyncio.Future[None]] = []

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.parser.feed(data)
        except ProtocolError as exc:
            self.fail(ConnectionLostError(f"protocol error from server: {exc}"))
            if self.transport is not None:
                self.transport.abort()
            return
        on_frame = self.owner._on_frame
        for frame in frames:
            try:
                on_frame(self, frame)
            except Exception:  # one bad frame must not take the connection down
                log.exception("failed to handle a frame from the server: %r", frame.headers[:4])
        failed = self.parser.failed
        if failed is not None:  # the frames before the error were handled; now give up
            self.fail(ConnectionLostError(f"protocol error from server: {failed}"))
            if self.transport is not None:
                self.transport.abort()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        if self.error is None:
            detail = f": {exc}" if exc else ""
            self.error = ConnectionLostError(f"connection to the server was lost{detail}")
        self.fail(self.error)
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()
        if not self.lost.done():
            self.lost.set_result(None)
        self.owner._on_link_lost(self)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        for waiter in self._drain_waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._drain_waiters.clear()

    # requests

    @property
    def usable(self) -> bool:
        return not self.closing and self.transport is not None

    def send(self, data: bytes) -> asyncio.Future[Frame]:
        """Queue a reply future and write the request, in one step."""
        if not self.usable:
            raise self.error or ConnectionLostError("not connected")
        assert self.transport is not None
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        self.transport.write(data)
        return future

    async def drain(self) -> None:
        if self._paused and not self.closing:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def next_reply(self) -> asyncio.Future[Frame] | None:
        """The future this reply belongs to; None when its request timed out (the reply is
        then dropped, and the next reply goes to the next request)."""
        if not self.pending:
            return None
        future = self.pending.popleft()
        return None if future.done() else future

    def fail(self, error: ESLError) -> None:
        """Fail every pending request with ``error`` (the socket will not answer them)."""
        self.closing = True
        if self.error is None:
            self.error = error
        if not self.greeting.done():
            self.greeting.set_exception(error)
            self.greeting.exception()  # retrieved: only awaited during connect
        pending, self.pending = self.pending, deque()
        _fail_all(pending, error)

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()


# -- the shared connection -------------------------------------------------------------------------


class BaseConnection:
    """Requests, replies, events, handlers and subscription state of one ESL session.

    Not created directly: use :func:`eventsocket.connect` (inbound) or
    :class:`eventsocket.OutboundServer` (outbound).
    """

    def __init__(
        self,
        *,
        timeout: float | None = 10.0,
        queue_size: int = 10_000,
        overflow: OverflowPolicy = "drop_oldest",
        log_queue_size: int = 10_000,
    ) -> None:
        self.timeout = timeout
        self._link: _Link | None = None
        self._ready = asyncio.Event()
        self._closing = False
        self._closed = False
        self._close_error: BaseException | None = None
        self._closed_future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._state = _SubscriptionState()
        self._jobs: dict[str, asyncio.Future[ApiResponse]] = {}
        self._executions: dict[str, asyncio.Future[Event]] = {}
        # the channel each pending execution runs on ("" for an outbound call's own channel)
        self._execution_targets: dict[str, str] = {}
        self._handlers: dict[str, list[EventHandler]] = {}
        self._subclass_handlers = False
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._events: BoundedQueue[Event] = BoundedQueue(queue_size, overflow)
        self._logs: BoundedQueue[LogLine] = BoundedQueue(log_queue_size, overflow)
        self._internal_names: frozenset[str] = frozenset()
        self.events_received = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while a session with the server is up and usable."""
        return self._ready.is_set() and self._link is not None and self._link.usable

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def close_error(self) -> BaseException | None:
        """Why the connection ended, when it was not closed by the application."""
        return self._close_error

    async def wait_closed(self) -> None:
        """Wait until the connection is finally closed (after any reconnect attempts)."""
        await asyncio.shield(self._closed_future)

    async def close(self, timeout: float = 2.0) -> None:
        """Say ``exit`` to the server and close. Queued events can still be read afterwards."""
        if self._closed:
            return
        self._closing = True
        self._stop_reconnecting()
        link = self._link
        if link is not None and link.usable:
            try:
                await self._roundtrip(b"exit\n\n", timeout, link=link, what="exit")
            except (ESLError, OSError):
                pass
            link.close()
            try:
                async with asyncio.timeout(timeout):
                    await asyncio.shield(link.lost)
            except TimeoutError:
                if link.transport is not None:
                    link.transport.abort()
        elif link is not None:
            link.close()
        self._finalize(None)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _stop_reconnecting(self) -> None:
        """Overridden by inbound connections."""

    def _finalize(self, error: BaseException | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_error = error
        self._ready.clear()
        failure = error if isinstance(error, ESLError) else ConnectionLostError("the connection is closed")
        self._fail_waiters(failure)
        self._events.close(error)
        self._logs.close(error)
        if not self._closed_future.done():
            self._closed_future.set_result(None)

    def _fail_waiters(self, error: ESLError) -> None:
        jobs, self._jobs = self._jobs, {}
        executions, self._executions = self._executions, {}
        _fail_all([*jobs.values(), *executions.values()], error)

    def _on_link_lost(self, link: _Link) -> None:
        if link is not self._link:
            return
        self._ready.clear()
        error = link.error or ConnectionLostError("connection to the server was lost")
        self._fail_waiters(error)
        if self._closing:
            self._finalize(None)
        elif not self._maybe_reconnect(error):
            self._finalize(error)

    def _maybe_reconnect(self, error: ESLError) -> bool:
        """Overridden by inbound connections that reconnect; True when a reconnect started."""
        return False

    # -- frames in -------------------------------------------------------------------------------

    def _on_frame(self, link: _Link, frame: Frame) -> None:
        headers = frame.headers
        # an event envelope is exactly Content-Length, Content-Type: skip the generic lookup
        ctype = headers[1][1] if len(headers) == 2 and headers[1][0] == "Content-Type" else frame.content_type
        if ctype in _EVENT_TYPES:
            if ctype == "text/event-plain":
                event = Event.from_plain(frame.body)
            else:
                try:
                    event = Event.from_payload(ctype, frame.body)
                    event.name  # noqa: B018 - parse now, so a bad payload fails here
                except ValueError as exc:
                    log.warning("dropping an event that does not parse: %s", exc)
                    return
            self._on_event(event)
        elif ctype == "command/reply" or ctype == "api/response":
            future = link.next_reply()
            if future is not None:
                future.set_result(frame)
        elif ctype == "log/data":
            if not self._logs.put(LogLine.from_frame(frame)):
                self._overflow(link, "log")
        elif ctype == "auth/request":
            if not link.greeting.done():
                link.greeting.set_result(None)
        elif ctype == "text/disconnect-notice":
            if (frame.get("Content-Disposition") or "").lower() == "linger":
                self._on_linger(frame)
            else:
                link.fail(DisconnectedError(frame.text, tuple(frame.headers)))
                self._ready.clear()
        elif ctype == "text/rude-rejection":
            link.fail(RudeRejectionError(frame.text))
        else:
            log.debug("ignoring a frame of type %r", ctype)

    def _on_linger(self, frame: Frame) -> None:
        """A lingering session's channel hung up (outbound calls override this)."""

    def _overflow(self, link: _Link, what: str) -> None:
        error = QueueOverflowError(f"the {what} queue overflowed (overflow policy 'disconnect')")
        link.fail(error)
        self._closing = True
        link.close()
        self._finalize(error)

    def _on_event(self, event: Event) -> None:
        self.events_received += 1
        name = event._name or event.name
        if name in self._internal_names:
            if name == "BACKGROUND_JOB":
                job = self._jobs.pop(event.get("Job-UUID") or "", None)
                if job is not None and not job.done():
                    job.set_result(ApiResponse(event.body or "", event.get("Job-UUID"), event))
            elif name == "CHANNEL_EXECUTE_COMPLETE":
                waiter = self._executions.pop(event.get("Application-UUID") or "", None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(event)
            if not self._state.visible(event):
                return
        if self._handlers:
            self._run_handlers(name, event)
        queue = self._events
        items = queue._items
        if len(items) < queue.maxsize and not queue._waiters:
            items.append(event)  # BoundedQueue.put's fast path, inline: this runs for every event
        elif not queue.put(event) and self._link is not None:
            self._overflow(self._link, "event")

    def _run_handlers(self, name: str, event: Event) -> None:
        handlers = self._handlers
        selected: list[EventHandler] = []
        for key in (name, "*"):
            found = handlers.get(key)
            if found:
                selected.extend(found)
        if self._subclass_handlers and name == "CUSTOM":
            found = handlers.get("CUSTOM " + (event.subclass or ""))
            if found:
                selected.extend(found)
        for handler in selected:
            try:
                result = handler(event)
            except Exception:
                log.exception("event handler %r failed", handler)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._handler_tasks.add(task)
                task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[Any]) -> None:
        self._handler_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("event handler failed", exc_info=task.exception())

    # -- events and handlers out ------------------------------------------------------------------

    def events(self) -> BoundedQueue[Event]:
        """The connection's event queue: ``async for event in conn.events()``.

        One bounded queue per connection, filled from the moment the connection exists,
        so no event is missed between ``subscribe()`` and the start of the loop. Several
        readers share it (each event goes to one of them). It is bounded by
        ``queue_size``; when full, ``overflow`` decides (:mod:`eventsocket.client.queues`).
        ``events().dropped`` counts what was discarded.
        """
        return self._events

    def __aiter__(self) -> BoundedQueue[Event]:
        return self._events

    def logs(self) -> BoundedQueue[LogLine]:
        """The connection's log queue (after :meth:`log`): ``async for line in conn.logs()``."""
        return self._logs

    @overload
    def on(self, name: str, handler: None = None, *, subclass: str | None = None) -> Callable[[H], H]: ...
    @overload
    def on(self, name: str, handler: H, *, subclass: str | None = None) -> H: ...

    def on(self, name: str, handler: H | None = None, *, subclass: str | None = None) -> Any:
        """Call ``handler(event)`` for each event named ``name`` (``"*"``: every event).

        ``subclass`` narrows a CUSTOM handler to one subclass. Handlers may be plain
        functions (run at once, in arrival order, so they must not block) or coroutine
        functions (each call runs as its own task). Usable as a decorator. Handlers see
        every event that is delivered, in addition to the :meth:`events` queue.
        Registering a handler does not subscribe: call :meth:`subscribe` too.
        """
        if name != "*":
            name = normalize_event_name(name)
        key = name
        if subclass is not None:
            check_text(subclass, "subclass")
            if name != "CUSTOM":
                raise InvalidArgumentError("only CUSTOM events have subclasses")
            key = f"CUSTOM {subclass}"
            self._subclass_handlers = True

        def register(func: H) -> H:
            self._handlers.setdefault(key, []).append(func)
            return func

        return register if handler is None else register(handler)

    def off(self, name: str, handler: EventHandler, *, subclass: str | None = None) -> None:
        """Remove a handler registered with :meth:`on`."""
        if name != "*":
            name = normalize_event_name(name)
        key = f"CUSTOM {subclass}" if subclass is not None else name
        found = self._handlers.get(key)
        if found and handler in found:
            found.remove(handler)
            if not found:
                del self._handlers[key]

    # -- sending ------------------------------------------------------------------------------------

    async def _ready_link(self) -> _Link:
        while True:
            link = self._link
            if self._ready.is_set() and link is not None and link.usable:
                return link
            if self._closed or self._closing:
                error = self._close_error
                if isinstance(error, ESLError):
                    raise error
                raise ConnectionLostError("the connection is closed")
            if not self._reconnecting():
                if link is not None and link.error is not None:
                    raise link.error
                raise ConnectionLostError("not connected")
            await self._ready.wait()

    def _reconnecting(self) -> bool:
        return False

    async def _exchange(self, packets: list[bytes] | Callable[[], list[bytes]], timeout: float | None, *,
                        link: _Link | None = None, what: str = "") -> list[Frame]:
        """Write ``packets`` back to back and return their replies, in order.

        ``packets`` may be a function, called once the connection is ready (after a
        reconnect, say), for packets that depend on the state at that moment.
        """
        t = self.timeout if timeout is DEFAULT else timeout
        data: list[bytes] = []
        try:
            async with asyncio.timeout(t):
                if link is None:
                    link = await self._ready_link()
                data = packets() if callable(packets) else packets
                futures = [link.send(packet) for packet in data]
                await link.drain()
                return [await future for future in futures]
        except TimeoutError as exc:
            if isinstance(exc, ESLError):
                raise
            label = what or (data[-1].split(b"\n", 1)[0].decode("utf-8", "replace")[:80] if data else "")
            raise RequestTimeoutError(f"no reply to {label!r} within {t}s") from None

    async def _roundtrip(self, data: bytes, timeout: float | None, *, link: _Link | None = None,
                         what: str = "") -> Frame:
        return (await self._exchange([data], timeout, link=link, what=what))[0]

    async def send(self, command: str, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
                   body: str | bytes | None = None, *, timeout: float | None = DEFAULT,
                   ) -> CommandReply | ApiResponse:
        """Send any command (validated against CR/LF injection) and return its reply as is."""
        frame = await self._roundtrip(encode_request(command, header_pairs(headers), body), timeout)
        return self._result(frame)

    @staticmethod
    def _result(frame: Frame) -> CommandReply | ApiResponse:
        if frame.content_type == "api/response":
            return ApiResponse(frame.text)
        return CommandReply.from_frame(frame)

    async def _command(self, line: str, timeout: float | None = DEFAULT,
                       headers: Iterable[tuple[str, str]] = (), body: str | bytes | None = None,
                       *, check: bool = True) -> CommandReply:
        frame = await self._roundtrip(encode_request(line, headers, body), timeout)
        reply = CommandReply.from_frame(frame)
        if check and not reply.ok:
            raise CommandError(f"{line.split(' ', 1)[0]}: {reply.text}", reply)
        return reply

    async def _pipeline(self, lines: list[str], timeout: float | None) -> list[CommandReply]:
        """Send several commands back to back, with no other request between them."""
        if not lines:
            return []
        frames = await self._exchange([encode_request(line) for line in lines], timeout, what=lines[0])
        return [CommandReply.from_frame(frame) for frame in frames]

    # -- API ------------------------------------------------------------------------------------

    async def api(self, command: str, args: str | None = None, *, timeout: float | None = DEFAULT,
                  ) -> ApiResponse:
        """Run an API command and return its output (``ApiResponse.ok`` is False on ``-ERR``).

        ``api("show", "channels")`` and ``api("show channels")`` are the same. Raises
        :class:`CommandError` only when the server refuses the command itself (e.g.
        ``-ERR permission denied``), not when the command reports an error.
        """
        line = _api_line("api", command, args)
        frame = await self._roundtrip(encode_request(line), timeout)
        if frame.content_type != "api/response":
            reply = CommandReply.from_frame(frame)
            raise CommandError(f"api {command}: {reply.text}", reply)
        return ApiResponse(frame.text)

    async def bgapi(self, command: str, args: str | None = None, *, timeout: float | None = DEFAULT,
                    ) -> BackgroundJob:
        """Start an API command in the background; ``await`` the returned job for its output.

        The client generates the ``Job-UUID``, sends it with the command, and resolves the
        job from the BACKGROUND_JOB event carrying it. It subscribes to BACKGROUND_JOB by
        itself when needed; those events reach the application only if it subscribed to
        them too (when the server refuses that subscription, :class:`CommandError` is raised
        and the command is not sent). ``timeout`` covers the server's acknowledgement; give
        one to ``job.result(timeout)`` for the job itself.
        """
        line = _api_line("bgapi", command, args)
        job_uuid = str(uuidlib.uuid4())
        future: asyncio.Future[ApiResponse] = asyncio.get_running_loop().create_future()
        self._jobs[job_uuid] = future
        try:
            data = encode_request(line, [("Job-UUID", job_uuid)])
            frame = await self._with_internal("BACKGROUND_JOB", data, timeout)
        except BaseException:
            self._jobs.pop(job_uuid, None)
            raise
        reply = CommandReply.from_frame(frame)
        if not reply.ok:
            self._jobs.pop(job_uuid, None)
            raise CommandError(f"bgapi {command}: {reply.text}", reply)
        return BackgroundJob(job_uuid, line[6:], future, reply)

    async def _with_internal(self, name: str, data: bytes, timeout: float | None) -> Frame:
        """Send ``data`` once the client receives the internal event ``name`` it needs.

        What that takes (an ``event`` command, filters) is decided when the connection is
        ready, from the state at that moment, and sent first. If the server refuses the
        subscription (``userauth`` with ``esl-allowed-events``), ``data`` is not sent: the
        answer it asks for could never arrive.
        """
        prelude: list[str] = []

        def packets() -> list[bytes]:
            prelude.extend(self._internal_prelude(name))
            return [encode_request(line) for line in prelude]

        frames = await self._exchange(packets, timeout)
        for line, frame in zip(prelude, frames, strict=True):
            reply = CommandReply.from_frame(frame)
            if reply.ok:
                continue
            if line.startswith("event ") or line == "myevents":
                self._state.internal_sent.discard(name)
                error = CommandError(f"cannot receive {name} ({line!r}: {reply.text}), so the request "
                                     "was not sent", reply)
                # requests sent meanwhile by other tasks wait for the same event: none will come
                waiters = self._jobs if name == "BACKGROUND_JOB" else self._executions
                _fail_all(list(waiters.values()), error)
                raise error
            log.warning("%r failed: %s", line, reply.text)
        return await self._roundtrip(data, timeout)

    def _internal_prelude(self, name: str) -> list[str]:
        """Commands to send before a request that needs event ``name``; updates the state."""
        state = self._state
        if name not in state.internal:
            state.internal.add(name)
            self._internal_names = frozenset(state.internal)
        lines: list[str] = []
        if name not in state.internal_sent and not state.user_wants(name):
            lines.extend(self._subscribe_internal(name))
        state.internal_sent.add(name)
        lines.extend(state.filter_fixups())
        return lines

    def _subscribe_internal(self, name: str) -> list[str]:
        """How this kind of connection subscribes to an internal event."""
        return [f"event {name}"]

    # -- subscriptions ------------------------------------------------------------------------------

    async def subscribe(self, *names: str, format: EventFormat | None = None,
                        timeout: float | None = DEFAULT) -> CommandReply:
        """``event [format] NAME...``: receive these events (``"ALL"`` for all of them).

        Names after ``"CUSTOM"`` are subclasses: ``subscribe("CUSTOM", "sofia::register")``.
        ``format`` switches the format of every event on this connection.
        """
        if names and format is None and event_format(names[0]) is not None:  # subscribe("json", "ALL")
            format, names = event_format(names[0]), names[1:]
        if not names:
            raise InvalidArgumentError("subscribe() needs at least one event name")
        tokens = [check_word(n, "event name") for n in names]
        if format is not None and format not in _FORMATS:
            raise InvalidArgumentError(f"format must be plain, json or xml, not {format!r}")
        line = "event " + (f"{format} " if format else "") + " ".join(tokens)
        reply = await self._command(line, timeout)
        state = self._state
        if format:
            state.format = format
        state.apply_event(tokens)
        return reply

    async def nixevent(self, *names: str, timeout: float | None = DEFAULT) -> CommandReply:
        """Stop receiving these events (``"ALL"``: all of them; filters stay)."""
        if not names:
            raise InvalidArgumentError("nixevent() needs at least one event name")
        tokens = [check_word(n, "event name") for n in names]
        state = self._state
        wire: list[str] = []
        custom = False
        for token in tokens:
            name = None if custom else lookup_event_name(token)
            if name is not None and name in state.internal:
                continue  # the client still needs it; hide it instead
            custom = custom or name == CUSTOM
            wire.append(token)
        state.apply_nixevent(tokens)
        lines: list[str] = []
        if wire:
            lines.append("nixevent " + " ".join(wire))
        if any(key == (ALL, None) for key in parse_event_list(wire)) and state.internal:
            lines.append("event " + " ".join(sorted(state.internal)))
        if not lines:
            return CommandReply("+OK events nixed")
        replies = await self._pipeline(lines, timeout)
        return replies[0].raise_for_error()

    async def noevents(self, timeout: float | None = DEFAULT) -> CommandReply:
        """Stop receiving events (filters stay); the client keeps what it needs itself."""
        state = self._state
        state.apply_noevents()
        lines = ["noevents"]
        if state.internal:
            lines.append("event " + " ".join(sorted(state.internal)))
            state.internal_sent.update(state.internal)
        replies = await self._pipeline(lines, timeout)
        return replies[0]

    async def filter(self, header: str, value: str, *, timeout: float | None = DEFAULT) -> CommandReply:
        """``filter <header> <value>``: only receive events matching this (filters are ORed;
        a value starting with ``-`` excludes, ``/regex/`` matches by regular expression)."""
        check_word(header, "filter header")
        check_text(value, "filter value")
        if not value or header.lower() in ("add", "delete"):
            raise InvalidArgumentError("filter() needs a header name and a non-empty value")
        state = self._state
        state.filters.append((header, value))
        lines = state.filter_fixups()
        lines.append(f"filter {header} {value}")
        state.server_filters.append((header, value))
        try:
            replies = await self._pipeline(lines, timeout)
        except BaseException:
            self._forget_filter(header, value)
            raise
        reply = replies[-1]
        if not reply.ok:
            self._forget_filter(header, value)
            raise CommandError(f"filter: {reply.text}", reply)
        return reply

    def _forget_filter(self, header: str, value: str) -> None:
        state = self._state
        if (header, value) in state.filters:
            state.filters.remove((header, value))
        if (header, value) in state.server_filters:
            state.server_filters.remove((header, value))

    async def filter_delete(self, header: str = "all", value: str | None = None, *,
                            timeout: float | None = DEFAULT) -> CommandReply:
        """``filter delete <header> [<value>]``; ``filter_delete()`` removes every filter."""
        check_word(header, "filter header")
        line = f"filter delete {header}"
        if value is not None:
            check_text(value, "filter value")
            line += f" {value}"
        state = self._state
        state.delete_filter(header, value)
        lines = [line, *state.filter_fixups()]
        replies = await self._pipeline(lines, timeout)
        return replies[0].raise_for_error()

    @property
    def subscriptions(self) -> dict[str, Any]:
        """A snapshot of what the application subscribed to (for display and tests)."""
        s = self._state
        return {
            "format": s.format, "all": s.all, "names": sorted(s.names), "nixed": sorted(s.nixed),
            "subclasses": sorted(s.subclasses), "filters": list(s.filters), "myevents": s.myevents,
            "log_level": s.log_level,
        }

    # -- logs ----------------------------------------------------------------------------------------

    async def log(self, level: str | int = "debug", *, timeout: float | None = DEFAULT,
                  ) -> BoundedQueue[LogLine]:
        """``log <level>``: receive log lines up to ``level``; returns :meth:`logs` to iterate."""
        word = check_word(str(level), "log level")
        await self._command(f"log {word}", timeout)
        self._state.log_level = word
        return self._logs

    async def nolog(self, *, timeout: float | None = DEFAULT) -> CommandReply:
        """Stop receiving log lines."""
        self._state.log_level = None
        return await self._command("nolog", timeout, check=False)

    # -- events out, calls ---------------------------------------------------------------------------

    async def sendevent(self, name: str, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
                        body: str | bytes | None = None, *, subclass: str | None = None,
                        timeout: float | None = DEFAULT) -> CommandReply:
        """Fire an event on the switch (``sendevent NAME``); the reply's text is ``+OK <Event-UUID>``."""
        check_word(name, "event name")
        pairs = header_pairs(headers)
        if subclass is not None:
            check_text(subclass, "subclass")
            pairs.insert(0, ("Event-Subclass", subclass))
        return await self._command(f"sendevent {name}", timeout, pairs, body)

    async def sendmsg(self, uuid: str | None, headers: Mapping[str, str] | Iterable[tuple[str, str]],
                      body: str | bytes | None = None, *, timeout: float | None = DEFAULT) -> CommandReply:
        """``sendmsg [<uuid>]`` with ``headers`` (``call-command`` and its parameters)."""
        line = "sendmsg" if not uuid else f"sendmsg {check_word(uuid, 'uuid')}"
        return await self._command(line, timeout, header_pairs(headers), body)

    async def _execute(self, uuid: str | None, app: str, arg: str = "", *, wait: bool = True,
                       timeout: float | None = None, event_lock: bool = False, loops: int | None = None,
                       headers: Mapping[str, str] | None = None) -> Event | CommandReply:
        """``sendmsg [<uuid>]`` with ``call-command: execute``; see the public ``execute()``s."""
        check_word(app, "application name")
        check_text(arg, "application argument")
        event_uuid = str(uuidlib.uuid4())
        pairs = [("call-command", "execute"), ("execute-app-name", app)]
        if arg:
            pairs.append(("execute-app-arg", arg))
        if loops is not None:
            pairs.append(("loops", str(int(loops))))
        if event_lock:
            pairs.append(("event-lock", "true"))
        pairs.append(("Event-UUID", event_uuid))
        pairs.extend(header_pairs(headers))
        line = "sendmsg" if not uuid else f"sendmsg {check_word(uuid, 'uuid')}"
        data = encode_request(line, pairs)
        self._check_execute(uuid)
        if not wait:
            frame = await self._roundtrip(data, timeout)
            return CommandReply.from_frame(frame).raise_for_error()
        waiter: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._executions[event_uuid] = waiter
        self._execution_targets[event_uuid] = uuid or ""
        try:
            async with asyncio.timeout(timeout):
                frame = await self._with_internal("CHANNEL_EXECUTE_COMPLETE", data, None)
                reply = CommandReply.from_frame(frame)
                if not reply.ok:
                    raise CommandError(f"execute {app}: {reply.text}", reply)
                return await waiter
        except TimeoutError as exc:
            if isinstance(exc, ESLError):
                raise
            raise RequestTimeoutError(f"{app} did not complete within {timeout}s") from None
        finally:
            self._executions.pop(event_uuid, None)
            self._execution_targets.pop(event_uuid, None)

    def _check_execute(self, uuid: str | None) -> None:
        """Raise when the channel cannot run an application any more (outbound calls)."""

    def _fail_executions_on(self, uuids: set[str], error: ESLError) -> None:
        """Fail the pending executions on these channels: they will never complete."""
        for event_uuid, target in list(self._execution_targets.items()):
            if target in uuids:
                waiter = self._executions.pop(event_uuid, None)
                if waiter is not None:
                    _fail_all([waiter], error)


def _fail_all(futures: Iterable[asyncio.Future[Any]], error: BaseException) -> None:
    """Fail waiters that nobody may be awaiting any more, without "never retrieved" warnings."""
    for future in futures:
        if not future.done():
            future.set_exception(error)
            future.exception()


def _api_line(verb: str, command: str, args: str | None) -> str:
    check_text(command, "API command")
    text = command.strip()
    if not text:
        raise InvalidArgumentError("empty API command")
    if args is not None:
        check_text(args, "API arguments")
        if args:
            text = f"{text} {args}"
    return f"{verb} {text}"
