"""One event socket connection: framing in, command dispatch, bounded event and log queues out.

Requests are handled strictly in order. A command that answers at once (nearly all)
is handled inline in ``data_received``; one that waits (a slow ``api``, a blocking
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
from collections import deque
from collections.abc import Awaitable
from typing import TYPE_CHECKING, cast

from eventsocket.protocol.events import Event
from eventsocket.protocol.framing import (
    AUTH_REQUEST,
    GOODBYE,
    LOST_EVENTS,
    LOST_LOGS,
    RUDE_REJECTION,
    ContentLengthError,
    ProtocolError,
    RequestParser,
    command_reply_frame,
    disconnect_frame,
    log_frame,
)
from eventsocket.protocol.message import Request
from eventsocket.server.commands import dispatch
from eventsocket.server.subscriptions import Subscriptions
from eventsocket.switch.log import LogLine

if TYPE_CHECKING:
    from eventsocket.server.listener import EventSocketServer
    from eventsocket.server.permissions import Permissions
    from eventsocket.switch.session import Session

log = logging.getLogger("eventsocket.connection")

WRITE_HIGH_WATER = 1024 * 1024
MAX_PENDING_REQUESTS = 1024


class Connection(asyncio.Protocol):
    """The server side of one TCP connection (inbound mode)."""

    def __init__(self, server: EventSocketServer) -> None:
        self.server = server
        self.core = server.core
        self.settings = server.settings
        self.transport: asyncio.Transport | None = None
        self.peer: tuple[str, int] = ("", 0)
        self.parser = RequestParser()
        self.subs = Subscriptions()
        self.authenticated = False
        self.outbound = False
        self.full = True
        self.permissions: Permissions | None = None
        self.session_uuid: str | None = None
        self.session: Session | None = None
        self.linger: int | None = None  # None: no linger; -1: until the client leaves
        self.resume = False
        self.async_mode = True
        self._linger_timer: asyncio.TimerHandle | None = None
        self.log_level: int | None = None
        self.closing = False
        self.got_first_packet = False
        self._requests: deque[Request] = deque()
        self._out: list[bytes] | None = None  # replies gathered while handling one read
        self._handled_first = False
        self._busy = False
        self._reading_paused = False
        self._events: deque[Event] = deque()
        self._logs: deque[LogLine] = deque()
        self._flush_scheduled = False
        self._hold_until = 0.0
        self._write_paused = False
        self._stall_timer: asyncio.TimerHandle | None = None
        self._first_packet_timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.lost_events = 0
        self.lost_logs = 0
        self.total_lost_events = 0
        self.total_lost_logs = 0
        self._on_bus = False

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
        rejecting = self.server.acl.first_rejecting(self.settings.apply_inbound_acl, self.peer[0])
        if rejecting is not None:
            self.core.log(
                4,
                f'IP {self.peer[0]} Rejected by acl "{rejecting}"',
                file="mod_event_socket.c",
                function="listener_run",
                line=1834,
            )
            transport.write(RUDE_REJECTION)
            self.close(GOODBYE)
            return
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
        if not self.got_first_packet and not self.closing:
            self.close(GOODBYE)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            requests = self.parser.feed(data)
        except ContentLengthError as exc:
            self.core.log(3, str(exc), file="mod_event_socket.c", function="read_packet", line=1431)
            self.close(GOODBYE)
            return
        except ProtocolError:
            self.close(GOODBYE)
            return
        if requests:
            if not self.got_first_packet:
                self.got_first_packet = True
                if self._first_packet_timer is not None:
                    self._first_packet_timer.cancel()
                    self._first_packet_timer = None
            self._requests.extend(requests)
            if len(self._requests) > MAX_PENDING_REQUESTS and self.transport and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            # the replies to everything one read brought in leave in one write
            self._out = []
            try:
                self._process()
            finally:
                self._write_out()
                self._out = None
        failed = self.parser.failed
        if failed is not None and not self.closing:
            # a bad packet after good ones in the same read: the good ones were answered first
            if isinstance(failed, ContentLengthError):
                self.core.log(3, str(failed), file="mod_event_socket.c", function="read_packet", line=1431)
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

    def pause_writing(self) -> None:
        self._write_paused = True
        if self._stall_timer is None:
            loop = asyncio.get_running_loop()
            self._stall_timer = loop.call_later(self.settings.write_stall_timeout, self._write_stalled)

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        self._schedule_flush()

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
        """Handle queued requests in order until one has to wait."""
        while self._requests and not self._busy and not self.closing:
            request = self._requests.popleft()
            first = not self._handled_first
            if first:
                self._handled_first = True
                self.before_first(request)
            try:
                pending = dispatch(self, request)
            except Exception:
                log.exception("command failed: %r", request.line[:200])
                self.reply("-ERR command failed")
                pending = None
            if pending is not None:
                self._busy = True
                self._task = asyncio.ensure_future(self._finish(pending, first))
                return
            if first:
                self.after_first()
        if self._reading_paused and len(self._requests) < MAX_PENDING_REQUESTS // 2 and self.transport:
            self._reading_paused = False
            self.transport.resume_reading()
        if not self._busy and not self._write_paused and (self._events or self._logs):
            # events the commands caused follow their replies at once; the hold after a
            # reply only delays events that are fired later
            self._flush_now()

    async def _finish(self, pending: Awaitable[None], first: bool = False) -> None:
        try:
            await pending
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("command failed")
            self.reply("-ERR command failed")
        finally:
            self._busy = False
            self._task = None
            if first:
                self.after_first()
        if not self.closing:
            self._process()

    def before_first(self, request: Request) -> None:
        """Hook: the connection's first packet is about to be handled."""

    def after_first(self) -> None:
        """Hook: the connection's first packet has been handled."""

    # -- writing -----------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        if self.transport is None or self.closing:
            return
        out = self._out
        if out is not None:
            out.append(data)
        else:
            self.transport.write(data)

    def _write_out(self) -> None:
        """Write the replies gathered while handling one read."""
        out = self._out
        if out and self.transport is not None:
            self._out = []
            self.transport.write(b"".join(out))

    def reply(self, text: str, extra: list[tuple[str, str]] | None = None) -> None:
        self.send(command_reply_frame(text, extra or ()))
        self.replied()

    def replied(self) -> None:
        """Hold queued events briefly after a reply.

        FreeSWITCH's connection thread writes the events queued when it finishes a
        command, then polls the socket for up to 20 ms, so a command a client sends
        straight after a reply is answered before the events fired meanwhile. Holding
        events fired after a reply for ``reply_event_hold`` seconds keeps that order
        (clients and recorded sessions rely on it) while an idle subscriber still gets
        every event at once.
        """
        hold = self.settings.reply_event_hold
        if hold > 0:
            self._hold_until = asyncio.get_running_loop().time() + hold

    def close(self, message: str | None = GOODBYE, abort_after: float = 5.0) -> None:
        """Send the disconnect notice (unless ``message`` is None) and close."""
        if self.closing or self.transport is None:
            return
        self._write_out()
        self._flush_now()
        if message is not None:
            self.transport.write(disconnect_frame(message, self.session_uuid))
        self.closing = True
        self._detach()
        transport = self.transport
        transport.close()
        if transport.get_write_buffer_size():
            # a reader that is merely late still gets its backlog and the notice
            asyncio.get_running_loop().call_later(max(abort_after, self.settings.write_stall_timeout),
                                                  transport.abort)

    def _detach(self) -> None:
        """Stop receiving events and logs; cancel timers and a running command."""
        if self._on_bus:
            self.core.bus.unsubscribe(self.on_event)
            self._on_bus = False
        self.core.remove_log_listener(self.on_log)
        for timer in (self._first_packet_timer, self._stall_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        self._first_packet_timer = self._stall_timer = self._linger_timer = None
        self._release_session()
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._events.clear()
        self._logs.clear()

    # -- the controlled session (outbound, or inbound after ``myevents <uuid>``) -----------------

    def attach_session(self, uuid: str) -> bool:
        """``myevents <uuid>``: hold that channel and follow it; False when there is no such channel."""
        session = self.core.calls.get(uuid)
        if session is None or not session.ready:
            return False
        self.bind_session(session)
        return True

    def bind_session(self, session: Session) -> None:
        self.session = session
        self.session_uuid = session.uuid
        self.subs.session_uuid = session.uuid
        session.lock()
        session.controllers.append(self._session_ended)

    def _release_session(self) -> None:
        session = self.session
        if session is None:
            return
        self.session = None
        if self._session_ended in session.controllers:
            session.controllers.remove(self._session_ended)
        if session.divert == self._diverted:
            session.divert = None
        self.session_released(session)
        session.unlock()

    def session_released(self, session: Session) -> None:
        """Hook for outbound mode: what the channel does once its socket has let go."""

    def _session_ended(self, session: Session) -> None:
        """The channel hung up (its HANGUP_COMPLETE is queued): linger, or say goodbye."""
        if self.closing or self.transport is None:
            return
        if self.linger is None:
            self.close(GOODBYE)
            return
        self._flush_now()
        from eventsocket.protocol.framing import linger_frame

        self.transport.write(linger_frame(session.uuid, session.channel.name, self.linger))
        if self.linger >= 0:
            loop = asyncio.get_running_loop()
            self._linger_timer = loop.call_later(self.linger, self._linger_expired)

    def _linger_expired(self) -> None:
        self._linger_timer = None
        self.close(GOODBYE)

    def session_getvar(self, name: str) -> str | None:
        return self.session.get_variable(name) if self.session is not None else None

    def session_resume(self) -> None:
        self.resume = True
        if self.session is not None:
            self.session.set_variable("socket_resume", "true")

    def session_connect(self) -> None:
        """``connect``: the channel's data as a flat CHANNEL_DATA event with a command/reply inside."""
        session = self.session
        if session is None:
            self.reply("-ERR command not found")
            return
        from eventsocket.server.outbound import channel_data_reply

        self.send(
            channel_data_reply(
                session, "async" if self.async_mode else "static", "full" if self.full else "single-channel"
            )
        )
        self.replied()

    def session_sendmsg(self, request: Request) -> Awaitable[None] | None:
        """``sendmsg`` without a uuid: queue it (async) or run it now and answer when done (static)."""
        session = self.session
        if session is None:
            self.reply("-ERR invalid session id []")
            return None
        if self.async_mode or (request.get("async") or "").lower() == "true":
            session.queue_message(request)
            self.reply("+OK")
            return None
        return self._sendmsg_now(session, request)

    async def _sendmsg_now(self, session: Session, request: Request) -> None:
        await session.run_message(request)
        self.reply("+OK")

    def set_divert(self, on: bool) -> None:
        if self.session is not None:
            self.session.divert = self._diverted if on else None

    def _diverted(self, event: Event) -> None:
        """Events queued on the session come here unfiltered, but only with delivery switched on."""
        if self.subs.enabled:
            self.enqueue_event(event)

    # -- events and logs ---------------------------------------------------------------------

    def listen_to_bus(self) -> None:
        if not self._on_bus and not self.closing:
            self.core.bus.subscribe(self.on_event)
            self._on_bus = True

    def on_event(self, event: Event) -> None:
        """Bus listener: select, then enqueue within the queue's bound."""
        if not self.subs.accepts(event):
            return
        self.enqueue_event(event)

    def enqueue_event(self, event: Event) -> None:
        if len(self._events) >= self.settings.event_queue_size:
            self.lost_events += 1
            self.total_lost_events += 1
            if self.lost_events > self.settings.lost_events_limit:
                self.core.log(
                    2,
                    f"Killing listener because of too many lost events. Lost [{self.lost_events}]",
                    file="mod_event_socket.c",
                    function="event_handler",
                    line=446,
                )
                self.kill(LOST_EVENTS)
            return
        if self.lost_events:
            self.core.log(
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

    def on_log(self, line: LogLine) -> None:
        level = self.log_level
        if level is None or line.level > level:
            return
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

    def flush_events(self) -> None:
        self._events.clear()

    def flush_logs(self) -> None:
        self._logs.clear()

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
            fmt = self.subs.format
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
