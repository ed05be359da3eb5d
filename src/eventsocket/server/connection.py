"""One event socket connection's transport: bytes in and out, timers, bounded event and log queues.

The protocol (authentication, selection, every command) is the sans-I/O
:class:`~eventsocket.server.listener_core.ListenerCore`; this class feeds it what the
socket reads, writes what it produces and carries out its actions.

Requests are handled strictly in order. A command that answers at once (nearly all)
is handled inline in ``data_received``; one that waits (a slow ``api``, a static
``sendmsg``) makes the connection busy until it finishes, and requests that arrive
meanwhile wait their turn. Events and log lines are queued and written only between
commands, so a reply always precedes the events its command caused, as in FreeSWITCH.

Slow readers: the transport's write buffer has a high-water mark. While the peer
does not read, nothing more is written and events pile up in the bounded queue;
past its size they are dropped and counted, and past ``lost_events_limit``
consecutive drops the listener is killed with FreeSWITCH's notice. A write that makes
no progress for ``write_stall_timeout`` seconds closes the connection. Nothing here
ever blocks the event loop, so other connections never notice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable
from typing import Protocol, cast

from eventsocket.protocol.events import Event
from eventsocket.protocol.framing import (
    AUTH_REQUEST,
    GOODBYE,
    LOST_EVENTS,
    LOST_LOGS,
    RUDE_REJECTION,
    disconnect_frame,
    log_frame,
)
from eventsocket.server.acl import AclRegistry
from eventsocket.server.backend import ControlledCall, LogRecord, SwitchBackend
from eventsocket.server.commands import Command
from eventsocket.server.listener_core import ListenerCore
from eventsocket.server.settings import EventSocketSettings
from eventsocket.server.state import (
    BackgroundJob,
    Close,
    Connected,
    FlushEvents,
    FlushLogs,
    Linger,
    ModuleCommand,
)
from eventsocket.server.subscriptions import Subscriptions

__all__ = ["MAX_PENDING_REQUESTS", "WRITE_HIGH_WATER", "Connection", "ServerContext"]

log = logging.getLogger("eventsocket.connection")

WRITE_HIGH_WATER = 1024 * 1024
MAX_PENDING_REQUESTS = 1024
#: One turn of request handling: so long, or so many bytes of replies, then the others' turn.
#: A turn counted in requests instead would split a client's pipelined window into several
#: turns; requests arriving between them keep the queue from emptying, and the events the
#: window caused (written only once it is empty, as FreeSWITCH does) would wait for them.
TURN_SECONDS = 0.002
TURN_BYTES = 256 * 1024
#: requests handled between two looks at the clock
TURN_CLOCK_EVERY = 16


class ServerContext(Protocol):
    """What a connection needs from the server that accepted it."""

    backend: SwitchBackend
    settings: EventSocketSettings
    acl: AclRegistry
    connections: set[Connection]
    inbound: set[Connection]  # the accepted inbound ones, counted against max-connections
    extra_commands: tuple[Command, ...]

    def run_background_job(self, job_uuid: str, command: str, args: str, owner_uuid: str | None) -> None: ...
    def module_command(self, job_uuid: str, action: str) -> None: ...


class Connection(asyncio.Protocol):
    """The server side of one TCP connection (inbound mode)."""

    def __init__(
        self,
        server: ServerContext,
        *,
        outbound: bool = False,
        async_mode: bool = True,
        full: bool = True,
        greeted: bool = False,
    ) -> None:
        self.server = server
        self.greeted = greeted  # the listener already sent the greeting (it passed the ACL and the limit)
        self.backend = server.backend
        self.settings = server.settings
        self.core = ListenerCore(
            server.backend,
            server.settings,
            self,
            outbound=outbound,
            async_mode=async_mode,
            full=full,
            extra_commands=server.extra_commands,
        )
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.closing = False
        self._busy = False
        self._reading_paused = False
        self._turn_scheduled = False
        self._events: deque[Event] = deque()
        self._logs: deque[LogRecord] = deque()
        self._flush_scheduled = False
        self._hold_until = 0.0
        self._loop: asyncio.AbstractEventLoop | None = None  # looked up once (a getpid() per lookup)
        self._write_paused = False
        self._stall_timer: asyncio.TimerHandle | None = None
        self._first_packet_timer: asyncio.TimerHandle | None = None
        self._partial_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.lost_events = 0
        self.lost_logs = 0
        self.total_lost_events = 0
        self.total_lost_logs = 0

    # -- the protocol state, for inspection --------------------------------------------------------

    @property
    def subs(self) -> Subscriptions:
        return self.core.subs

    @property
    def log_level(self) -> int | None:
        return self.core.log_level

    @property
    def session_uuid(self) -> str | None:
        return self.core.session_uuid

    @property
    def authenticated(self) -> bool:
        return self.core.authenticated

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = (str(peer[0]), int(peer[1]))
        self.server.connections.add(self)
        if self.greeted:
            self.server.inbound.add(self)
            if self.settings.debug:
                log.info("connection from %s:%s", *self.peer)
            self._arm_first_packet_timer()
            return
        rejecting = self.server.acl.first_rejecting(self.settings.apply_inbound_acl, self.peer[0])
        if rejecting is not None:
            self.backend.log(
                4,
                f'IP {self.peer[0]} Rejected by acl "{rejecting}"',
                file="mod_event_socket.c",
                function="listener_run",
                line=1834,
            )
            transport.write(RUDE_REJECTION)
            self.close(GOODBYE)
            return
        inbound = self.server.inbound
        limit = self.settings.max_connections
        if len(inbound) >= limit:
            log.warning("refusing %s:%s: max-connections %d reached", *self.peer, limit)
            self.backend.log(
                4,
                f"Refusing connection from {self.peer[0]}: max-connections {limit} reached",
                file="mod_event_socket.c",
                function="listener_run",
            )
            self.close(f"Too many connections (max-connections {limit}); try again later.\n")
            return
        inbound.add(self)
        if self.settings.debug:
            log.info("connection from %s:%s", *self.peer)
        transport.write(AUTH_REQUEST)
        self._arm_first_packet_timer()

    def _arm_first_packet_timer(self) -> None:
        loop = asyncio.get_running_loop()
        self._first_packet_timer = loop.call_later(
            self.settings.first_packet_timeout, self._first_packet_expired
        )

    def _first_packet_expired(self) -> None:
        self._first_packet_timer = None
        if not self.core.got_first_packet and not self.closing:
            self.close(GOODBYE)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        core = self.core
        if data[:4] == b"api " and not (self._busy or self._turn_scheduled or self._write_paused):
            answer = core.express(data)
            if answer is not None:
                self._express_answer(answer)
                return
        packets = core.packets
        core.receive_data(data)
        if core.requests:
            if self._first_packet_timer is not None:
                self._first_packet_timer.cancel()
                self._first_packet_timer = None
            if len(core.requests) > MAX_PENDING_REQUESTS:
                self._update_reading()
        if not self._busy and not self._turn_scheduled:
            self._process()
        if not core.authenticated:
            self._watch_preauth(core.packets != packets)

    def _express_answer(self, answer: bytes | Awaitable[None]) -> None:
        """Write what :meth:`ListenerCore.express` answered, as :meth:`_process` would."""
        if isinstance(answer, bytes):
            transport = self.transport
            if transport is not None:
                transport.write(answer)
            self._replied()
        else:
            self._wait_for(answer)
            return
        if self._events or self._logs:
            self._flush_now()  # what the command caused follows its reply at once

    # -- before authentication: bounded packets, bounded time -----------------------------------------

    def _watch_preauth(self, progressed: bool) -> None:
        """Until the client has authenticated, a packet may neither exceed ``preauth-max-packet``
        nor take longer than ``first-packet-timeout`` to arrive in full."""
        core = self.core
        if self.closing:
            return
        if core.preauth_overflow():
            self._run_actions()
            return
        timer = self._partial_timer
        if core.authenticated or core.parser.idle or progressed:
            if timer is not None:
                timer.cancel()
                self._partial_timer = None
            if core.authenticated or core.parser.idle:
                return
        if self._partial_timer is None and self._first_packet_timer is None:
            loop = asyncio.get_running_loop()
            self._partial_timer = loop.call_later(self.settings.first_packet_timeout, self._partial_expired)

    def _partial_expired(self) -> None:
        self._partial_timer = None
        core = self.core
        if self.closing or core.authenticated or core.parser.idle:
            return
        log.info("closing %s:%s: a packet took over %ss before auth", *self.peer,
                 self.settings.first_packet_timeout)  # fmt: skip
        self.close(GOODBYE)

    def eof_received(self) -> bool | None:
        """The client closed its side: the usual goodbye, as for any other end (§2.4)."""
        self.close(GOODBYE)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self._detach()
        if self.transport is not None:
            self.server.connections.discard(self)
            self.server.inbound.discard(self)

    def pause_writing(self) -> None:
        """The peer is not reading: stop reading its requests too, so replies cannot pile up."""
        self._write_paused = True
        self._update_reading()
        if self._stall_timer is None:
            loop = asyncio.get_running_loop()
            self._stall_timer = loop.call_later(self.settings.write_stall_timeout, self._write_stalled)

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        self._update_reading()
        if self.core.requests and not self._busy:
            self._schedule_turn()
        self._schedule_flush()

    def _update_reading(self) -> None:
        """Read while the peer drains what we write and the queue of its requests is short.

        This is the backpressure: a client that sends faster than it reads finds the socket
        full, and the server holds at most a write buffer, one turn of replies and the
        queued requests for it, whatever the client does.
        """
        transport = self.transport
        if transport is None or self.closing:
            return
        queued = len(self.core.requests)
        if self._reading_paused:
            if not self._write_paused and queued < MAX_PENDING_REQUESTS // 2:
                self._reading_paused = False
                transport.resume_reading()
        elif self._write_paused or queued > MAX_PENDING_REQUESTS:
            self._reading_paused = True
            transport.pause_reading()

    def _write_stalled(self) -> None:
        self._stall_timer = None
        if self._write_paused and self.transport is not None:
            log.warning(
                "closing %s:%s: no write progress for %ss", *self.peer, self.settings.write_stall_timeout
            )
            self.closing = True
            self._detach()
            self.transport.abort()

    # -- command processing ------------------------------------------------------------------

    def _process(self) -> None:
        """Handle queued requests in order until one has to wait; write what they produced.

        One turn lasts at most ``TURN_SECONDS`` (or ``TURN_BYTES`` of replies), then lets
        the event loop serve everyone else before the next turn, and no turn starts while
        the peer is not reading what we wrote.
        """
        core = self.core
        handled = 0
        started = time.monotonic()
        while core.requests and not self._busy and not self.closing and not self._write_paused:
            look = handled % TURN_CLOCK_EVERY == TURN_CLOCK_EVERY - 1
            if core.outbox_size >= TURN_BYTES or (look and time.monotonic() - started >= TURN_SECONDS):
                self._schedule_turn()
                break
            pending = core.handle_next()
            handled += 1
            if core.actions:
                self._run_actions()
            if pending is not None:
                self._wait_for(pending)
                break
        self._write_out()
        if self._reading_paused:
            self._update_reading()
        if self._busy or self.closing or core.requests:
            return
        if core.failed is not None and core.framing_error_due():
            # every packet read before the bad one has been handled; now the goodbye
            self.close(GOODBYE)
            return
        if not self._write_paused and (self._events or self._logs):
            # events the commands caused follow their replies at once; the hold after a
            # reply only delays events that are fired later
            self._flush_now()

    def _wait_for(self, pending: Awaitable[None]) -> None:
        """A command waits: the connection is busy (later requests queue) until it is done."""
        self._busy = True
        self._task = asyncio.ensure_future(self._finish(pending))

    async def _finish(self, pending: Awaitable[None]) -> None:
        try:
            await pending
        finally:
            self._busy = False
            self._task = None
        if self.core.actions:
            self._run_actions()
        if not self.closing:
            self._process()

    def _schedule_turn(self) -> None:
        if not self._turn_scheduled and not self.closing:
            self._turn_scheduled = True
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self._turn_scheduled = False
        if not self._busy and not self.closing:
            self._process()

    def _run_actions(self) -> None:
        """Carry out what the core asked for, in order."""
        for action in self.core.take_actions():
            if isinstance(action, Close):
                self.close(action.message, action.abort_after)
            elif isinstance(action, BackgroundJob):
                job = action
                self.server.run_background_job(job.job_uuid, job.command, job.args, job.owner_uuid)
            elif isinstance(action, FlushEvents):
                self._events.clear()
            elif isinstance(action, FlushLogs):
                self._logs.clear()
            elif isinstance(action, Linger):
                self._linger(action)
            elif isinstance(action, ModuleCommand):
                self.server.module_command(action.job_uuid, action.action)
            elif isinstance(action, Connected):
                self.call_connected()

    def call_connected(self) -> None:
        """Hook for outbound mode: the application sent ``connect``."""

    # -- writing -----------------------------------------------------------------------------

    def _write_out(self) -> None:
        """Write what the core produced, in one write; a reply holds later events briefly.

        FreeSWITCH's connection thread writes the events queued when it finishes a
        command, then polls the socket for up to 20 ms, so a command a client sends
        straight after a reply is answered before the events fired meanwhile. Holding
        events fired after a reply for ``reply_event_hold`` seconds keeps that order
        (clients and recorded sessions rely on it) while an idle subscriber still gets
        every event at once.
        """
        core = self.core
        out = core.outbox
        if out:
            core.outbox = []
            core.outbox_size = 0
            if self.transport is not None and not self.closing:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))
        if core.replied:
            self._replied()

    def _replied(self) -> None:
        """A reply went out: events fired from now on wait ``reply_event_hold`` (see :meth:`_write_out`).

        Only for a socket that receives events or log lines now: one that starts to later
        does so with a command, whose own reply starts the hold.
        """
        core = self.core
        core.replied = False
        if not core.subs.enabled and core.log_level is None:
            return
        hold = self.settings.reply_event_hold
        if hold > 0:
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            self._hold_until = loop.time() + hold

    def close(self, message: str | None = GOODBYE, abort_after: float = 5.0) -> None:
        """Send the disconnect notice (unless ``message`` is None) and close."""
        if self.closing or self.transport is None:
            return
        self._write_out()
        self._flush_now()
        if message is not None:
            self.transport.write(disconnect_frame(message, self.core.session_uuid))
        self.closing = True
        self._detach()
        transport = self.transport
        transport.close()
        if transport.get_write_buffer_size():
            # a reader that is merely late still gets its backlog and the notice
            asyncio.get_running_loop().call_later(max(abort_after, self.settings.write_stall_timeout),
                                                  transport.abort)

    def _detach(self) -> None:
        """Stop receiving events and logs; let go of the call; cancel timers and a running command."""
        call = self.core.release()
        if call is not None:
            self.call_released(call)
        for timer in (self._first_packet_timer, self._partial_timer, self._stall_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        self._first_packet_timer = self._partial_timer = self._stall_timer = self._linger_timer = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._events.clear()
        self._logs.clear()

    def call_released(self, call: ControlledCall) -> None:
        """Hook for outbound mode: what the channel does once its socket has let go."""

    # -- the controlled call's end --------------------------------------------------------------

    def output_ready(self) -> None:
        """The core produced output outside a request (the controlled call hung up)."""
        if self.closing or self.transport is None:
            return
        self._run_actions()
        self._write_out()

    def _linger(self, action: Linger) -> None:
        """The call hung up while lingering: its last events, the linger notice, and maybe a timer."""
        if self.closing or self.transport is None:
            return
        self._flush_now()
        self.transport.write(action.notice)
        if action.seconds >= 0:
            loop = asyncio.get_running_loop()
            self._linger_timer = loop.call_later(action.seconds, self._linger_expired)

    def _linger_expired(self) -> None:
        self._linger_timer = None
        self.close(GOODBYE)

    # -- events and logs (the core's Sink) -----------------------------------------------------

    def enqueue_event(self, event: Event) -> None:
        if len(self._events) >= self.settings.event_queue_size:
            self.lost_events += 1
            self.total_lost_events += 1
            if self.lost_events > self.settings.lost_events_limit:
                self.backend.log(
                    2,
                    f"Killing listener because of too many lost events. Lost [{self.lost_events}]",
                    file="mod_event_socket.c",
                    function="event_handler",
                    line=446,
                )
                self.kill(LOST_EVENTS)
            return
        if self.lost_events:
            self.backend.log(
                2,
                f"Lost [{self.lost_events}] events! Event Queue size: [{len(self._events)}/"
                f"{self.settings.event_queue_size}]",
                file="mod_event_socket.c",
                function="event_handler",
                line=438,
            )
            self.lost_events = 0
        self._events.append(event)
        self._schedule_flush()

    def enqueue_log(self, line: LogRecord) -> None:
        if len(self._logs) >= self.settings.log_queue_size:
            self.lost_logs += 1
            self.total_lost_logs += 1
            if self.lost_logs > self.settings.lost_events_limit:
                self.kill(LOST_LOGS)
            return
        self.lost_logs = 0
        self._logs.append(line)
        self._schedule_flush()

    def kill(self, message: str) -> None:
        """Close a listener that lost too much: the notice, then the socket goes, whatever it holds."""
        if self.closing or self.transport is None:
            return
        self._events.clear()
        self._logs.clear()
        self.close(message, abort_after=0.0)

    def _schedule_flush(self) -> None:
        if self._flush_scheduled or self._busy or self._write_paused or self.closing:
            return
        self._flush_scheduled = True
        loop = asyncio.get_running_loop()
        delay = self._hold_until - loop.time()
        if delay > 0:
            loop.call_later(delay, self._flush)
        else:
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._busy or self._write_paused or self.closing:
            return
        if self._hold_until > asyncio.get_running_loop().time():
            self._schedule_flush()
            return
        self._flush_now()

    def _flush_now(self) -> None:
        """Write queued events (in the listener's current format) and log lines, until the buffer is full."""
        transport = self.transport
        if transport is None:
            return
        self._write_out()
        events = self._events
        if events:
            fmt = self.core.subs.format
            batch: list[bytes] = []
            size = 0
            while events and size < WRITE_HIGH_WATER:
                frame = events.popleft().frame(fmt)
                batch.append(frame)
                size += len(frame)
            transport.write(b"".join(batch))
            if events:
                self._schedule_flush()
        logs = self._logs
        if logs and not self._write_paused:
            batch = []
            while logs and len(batch) < 256:
                line = logs.popleft()
                batch.append(
                    log_frame(
                        line.text,
                        line.level,
                        line.channel,
                        line.file,
                        line.function,
                        line.line,
                        line.user_data,
                    )
                )
            transport.write(b"".join(batch))
            if logs:
                self._schedule_flush()

    @property
    def queued_events(self) -> int:
        return len(self._events)
