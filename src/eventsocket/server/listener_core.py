"""The listener core: one event socket connection's protocol, sans I/O (like h11's ``Connection``).

Bytes and switch events go in; bytes to send, actions and state come out::

    core = ListenerCore(backend, settings, sink)
    core.receive_data(b"auth ClueCon\\n\\n")
    while core.pending_requests:
        waiting = core.handle_next()      # None, or an awaitable the caller runs to completion
    core.take_output()                    # b"Content-Type: command/reply\\nReply-Text: +OK accepted\\n\\n"
    core.take_actions()                   # [] (or Close, Linger, BackgroundJob, ...)

Requests are handled strictly in order; the caller handles the next one only after an
awaitable returned by :meth:`handle_next` has completed. The caller (server/connection.py)
owns the socket, the timers and the bounded event and log queues (the :class:`Sink`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Sequence

from eventsocket.protocol.framing import GOODBYE, ContentLengthError, ProtocolError, RequestParser
from eventsocket.protocol.message import Request
from eventsocket.server.backend import SwitchBackend
from eventsocket.server.commands import COMMANDS, Command, api_reply, dispatch, finish_api
from eventsocket.server.settings import EventSocketSettings
from eventsocket.server.state import ListenerState, Sink

__all__ = ["ListenerCore"]

log = logging.getLogger("eventsocket.connection")


class ListenerCore(ListenerState):
    """Framing in, commands handled in order, replies and actions out."""

    def __init__(
        self,
        backend: SwitchBackend,
        settings: EventSocketSettings,
        sink: Sink,
        *,
        outbound: bool = False,
        async_mode: bool = True,
        full: bool = True,
        extra_commands: Sequence[Command] = (),
    ) -> None:
        super().__init__(backend, settings, sink, outbound=outbound, async_mode=async_mode, full=full)
        # extensions come after FreeSWITCH's commands, so they can only take lines FreeSWITCH refuses
        self.table: tuple[Command, ...] | None = COMMANDS + tuple(extra_commands) if extra_commands else None
        self.parser = RequestParser()
        self.requests: deque[Request] = deque()
        #: the framing error that ends the connection once the packets before it are handled
        self.failed: ProtocolError | None = None
        self.got_first_packet = False
        self.packets = 0  # complete packets received so far
        self._handled_first = False

    # -- input ---------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Parse ``data``: complete packets queue up as requests, a framing error waits in :attr:`failed`."""
        if self.failed is not None or self.closing:
            return
        try:
            requests = self.parser.feed(data)
        except ProtocolError as exc:
            self.failed = exc
            return
        if self.parser.failed is not None:
            self.failed = self.parser.failed
        if requests:
            self.got_first_packet = True
            self.packets += len(requests)
            self.requests.extend(requests)

    def express(self, data: bytes) -> bytes | Awaitable[None] | None:
        """Answer ``data`` at once if it is one whole ``api`` packet without headers that no
        other request waits before, on an authenticated, unrestricted socket: the packet a
        controlling program sends over and over. The answer is the one :meth:`receive_data`
        and :meth:`handle_next` would give, in a fraction of the steps (it is the request
        path's hot spot, and every step in it costs a few cache misses per request).

        Returns None when the packet is not taken (feed it to :meth:`receive_data`), the
        reply to write, or an awaitable to run to completion as :meth:`handle_next`'s.
        """
        if (
            self.requests
            or not self.authenticated
            or not self.full
            or self.permissions is not None
            or self.failed is not None
            or self.closing
            or not self._handled_first
        ):
            return None
        line = self.parser.lone_line(data)
        if line is None or line[:4] != "api " or "mod_event_socket" in line.lower():
            return None
        self.packets += 1
        command, _, args = line[4:].partition(" ")
        try:
            outcome = self.backend.call_api(command, args, self.session_uuid)
        except Exception:
            log.exception("command failed: %r", line[:200])
            self.reply("-ERR command failed")
            return self.take_output()
        if outcome is None or isinstance(outcome, str):
            self.replied = True
            return api_reply(command, outcome)
        return self._complete(finish_api(self, command, outcome), line)

    @property
    def pending_requests(self) -> int:
        return len(self.requests) if not self.closing else 0

    def handle_next(self) -> Awaitable[None] | None:
        """Handle the oldest request: None when it has been answered, else an awaitable to run first.

        The awaitable does not raise (a failing command answers ``-ERR command failed``).
        """
        request = self.requests.popleft()
        if not self.authenticated and self._too_big(request):
            return None
        first = not self._handled_first
        if first:
            self._handled_first = True
            # outbound: the reply to a first packet that is not ``connect`` is never sent (§5.2)
            self.muted = self.outbound and not request.line.strip().lower().startswith("connect")
        try:
            pending = dispatch(self, request, self.table)
        except Exception:
            log.exception("command failed: %r", request.line[:200])
            self.reply("-ERR command failed")
            pending = None
        if pending is None:
            self.muted = False
            return None
        return self._complete(pending, request.line)

    async def _complete(self, pending: Awaitable[None], line: str) -> None:
        try:
            await pending
        except Exception:
            log.exception("command failed: %r", line[:200])
            self.reply("-ERR command failed")
        finally:
            self.muted = False

    # -- before authentication ----------------------------------------------------------------------

    def _too_big(self, request: Request) -> bool:
        size = len(request.raw) + len(request.body or "")
        if size <= self.settings.preauth_max_packet:
            return False
        self.refuse_oversized(size)
        return True

    def preauth_overflow(self) -> bool:
        """Before authentication, the packet being received is already too big: refuse it."""
        if self.authenticated or self.closing:
            return False
        size = self.parser.partial_size
        if size <= self.settings.preauth_max_packet:
            return False
        self.refuse_oversized(size)
        return True

    def refuse_oversized(self, size: int) -> None:
        """A packet over ``preauth-max-packet`` before authentication: log it and say goodbye."""
        self.requests.clear()
        self.backend.log(
            4,
            f"Rejecting a {size}-byte packet before authentication (preauth-max-packet "
            f"{self.settings.preauth_max_packet})",
            file="mod_event_socket.c",
            function="read_packet",
        )
        self.close(GOODBYE)

    def framing_error_due(self) -> bool:
        """A framing error was read and every packet before it has been handled: time to close.

        Logs FreeSWITCH's line for a bad Content-Length (the caller closes with the goodbye).
        """
        failed = self.failed
        if failed is None or self.requests or self.closing:
            return False
        if isinstance(failed, ContentLengthError):
            self.backend.log(3, str(failed), file="mod_event_socket.c", function="read_packet", line=1431)
        return True
