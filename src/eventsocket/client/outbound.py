"""The outbound-mode application server: the switch connects to us, once per call.

A dialplan like ``<action application="socket" data="127.0.0.1:8084 async full"/>``
makes the switch open a TCP connection to this server when a call reaches it. The
server sends ``connect``, reads the channel data from the reply, by default sends
``myevents`` (the call's own events) and ``linger`` (keep the socket after hangup so
the last events arrive), then hands an :class:`OutboundCall` to your handler::

    async def handler(call: eventsocket.OutboundCall) -> None:
        print("call from", call.data.get("Caller-Caller-ID-Number"))
        await call.answer()
        digits = await call.play_and_get_digits(1, 4, 3, 5000, "#", "ivr/enter.wav")
        await call.playback(f"digits/{digits}.wav")
        await call.hangup()

    async with eventsocket.OutboundServer(handler, port=8084) as server:
        await server.serve_forever()

Both socket modes work the same way for the handler. In ``async`` mode the switch
acknowledges each ``sendmsg`` at once and the call waits for the matching
CHANNEL_EXECUTE_COMPLETE; in the default static mode the acknowledgement itself comes
when the application has finished, and the completion event follows it. Either way
:meth:`OutboundCall.execute` returns that CHANNEL_EXECUTE_COMPLETE event.

When the handler returns, the server says ``exit`` and closes the socket (the switch
then goes on with the dialplan or hangs up, as FreeSWITCH documents). When the call
hangs up first, requests still pending fail with
:class:`~eventsocket.client.errors.DisconnectedError`, which the server treats as the
normal end of a call rather than a handler error. With ``linger`` (the default) the socket
outlives the channel: the application the hangup interrupted still returns its completion
event, applications queued behind it fail with ``DisconnectedError`` once the channel's
hangup is complete, and an application requested after the hangup fails at once, while
commands such as ``getvar`` and ``api`` keep working until the socket closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal, Self, overload

from eventsocket.client.connection import DEFAULT, BaseConnection, _Link, check_text, check_word
from eventsocket.client.errors import ConnectionLostError, DisconnectedError, ESLError, RequestTimeoutError
from eventsocket.client.events import Event, EventFormat
from eventsocket.client.queues import OverflowPolicy
from eventsocket.client.results import CommandReply
from eventsocket.protocol.message import Frame

__all__ = ["OutboundCall", "OutboundServer"]

log = logging.getLogger("eventsocket.client.outbound")

CallHandler = Callable[["OutboundCall"], Awaitable[None]]
#: Called when a call's handler has finished: with None when it returned (or the call hung
#: up under it), with the exception when it failed. May be a coroutine function.
FinishedHook = Callable[["OutboundCall", "BaseException | None"], "Awaitable[None] | None"]

# Events after which a channel has finished running applications (after CHANNEL_HANGUP, the
# application it interrupted still completes).
_CHANNEL_ENDS = frozenset({"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"})


class _OutboundLink(_Link):
    """Starts the call's life once the switch's connection is made."""

    def __init__(self, call: OutboundCall, server: OutboundServer) -> None:
        super().__init__(call)
        self.call = call
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.server._started(self.call, self)


class OutboundCall(BaseConnection):
    """One call handed to the application by the switch.

    * ``data``: the channel data from the ``connect`` reply (an :class:`Event`: dict-like,
      decoded on read), ``uuid``, ``mode`` (``"async"``/``"static"``), ``control``
      (``"full"``/``"single-channel"``);
    * call control: :meth:`answer`, :meth:`playback`, :meth:`play_and_get_digits`,
      :meth:`bridge`, :meth:`set`, :meth:`getvar`, :meth:`hangup`, and :meth:`execute`
      for any application, each waiting for its CHANNEL_EXECUTE_COMPLETE;
    * session commands: :meth:`myevents`, :meth:`linger`, :meth:`nolinger`, :meth:`resume`;
    * the channel's own events: ``async for event in call.events()`` or :meth:`on`;
    * with ``full`` control, everything an inbound connection offers (``api``, ``bgapi``,
      ``subscribe``, ``sendevent``...).
    """

    def __init__(self, *, timeout: float | None, queue_size: int, overflow: OverflowPolicy,
                 log_queue_size: int) -> None:
        super().__init__(timeout=timeout, queue_size=queue_size, overflow=overflow,
                         log_queue_size=log_queue_size)
        self.data: Event = Event()
        self.uuid: str = ""
        self.mode: str = ""
        self.control: str = ""
        self.peer: tuple[str, int] = ("", 0)
        self._hangup: asyncio.Future[Event | None] = asyncio.get_running_loop().create_future()
        self.linger_notice: Frame | None = None

    def __repr__(self) -> str:
        return f"<OutboundCall {self.uuid or '?'} {self.mode or '?'} {self.control or '?'}>"

    # -- startup -------------------------------------------------------------------------------

    async def _connect(self, link: _Link, timeout: float | None) -> None:
        """Send ``connect`` and read the channel data it returns."""
        frame = await self._roundtrip(b"connect\n\n", timeout, link=link, what="connect")
        data = Event.from_pairs(list(frame.headers), encoded=True)
        reply = data.get("Reply-Text") or ""
        if not reply.startswith("+OK"):
            raise ConnectionLostError(f"the switch refused connect: {reply.strip() or 'no reply'}")
        self.data = data
        self.uuid = data.get("Unique-ID") or data.get("Channel-Unique-ID") or ""
        self.mode = data.get("Socket-Mode") or ""
        self.control = data.get("Control") or ""
        self._link = link
        self._ready.set()

    # -- hangup tracking -----------------------------------------------------------------------

    @property
    def hungup(self) -> bool:
        """True once the channel has hung up (CHANNEL_HANGUP, a linger notice, or disconnect)."""
        return self._hangup.done()

    async def wait_hangup(self, timeout: float | None = None) -> Event | None:
        """Wait for the hangup; returns the CHANNEL_HANGUP event when it was received."""
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._hangup)

    def _set_hangup(self, event: Event | None) -> None:
        if not self._hangup.done():
            self._hangup.set_result(event)

    def _hung_up_error(self) -> DisconnectedError:
        notice = self.linger_notice
        return DisconnectedError(f"the call {self.uuid} has hung up; it runs no more applications",
                                 tuple(notice.headers) if notice is not None else ())

    def _check_execute(self, uuid: str | None) -> None:
        # With linger on, the socket outlives the channel: the switch still answers commands
        # (getvar, api...) but runs no application, so waiting for one would wait forever.
        if self.hungup and (not uuid or uuid == self.uuid):
            raise self._hung_up_error()

    def _on_event(self, event: Event) -> None:
        name = event.name
        if name in _CHANNEL_ENDS and (not self.uuid or event.get("Unique-ID") == self.uuid):
            if name == "CHANNEL_HANGUP":
                self._set_hangup(event)
            else:
                # the completion of an application the hangup interrupted came before this;
                # whatever is still pending on the channel was never started and never will be
                super()._on_event(event)
                self._set_hangup(None)
                self._fail_executions_on({"", self.uuid}, self._hung_up_error())
                return
        super()._on_event(event)

    def _on_linger(self, frame: Frame) -> None:
        self.linger_notice = frame
        self._set_hangup(None)

    def _finalize(self, error: BaseException | None) -> None:
        self._set_hangup(None)
        super()._finalize(error)

    def _subscribe_internal(self, name: str) -> list[str]:
        if name == "CHANNEL_EXECUTE_COMPLETE":
            if self._state.myevents:
                return []
            self._state.myevents = True
            return ["myevents"]
        return super()._subscribe_internal(name)

    # -- session commands ----------------------------------------------------------------------

    async def myevents(self, format: EventFormat | None = None, *, timeout: float | None = DEFAULT,
                       ) -> CommandReply:
        """Receive this channel's events (CHANNEL_*, DTMF, ...; see PROTOCOL.md §3.4)."""
        line = "myevents" + (f" {format}" if format else "")
        if format is not None and format not in ("plain", "json", "xml"):
            raise ValueError(f"format must be plain, json or xml, not {format!r}")
        reply = await self._command(line, timeout, check=False)
        if reply.ok or reply.text == "-ERR aready enabled.":
            self._state.myevents = True
            if format:
                self._state.format = format
        else:
            reply.raise_for_error()
        return reply

    async def linger(self, seconds: int | None = None, *, timeout: float | None = DEFAULT) -> CommandReply:
        """Keep the socket open after hangup (``seconds``, or until ``exit`` when None)."""
        line = "linger" if seconds is None else f"linger {int(seconds)}"
        return await self._command(line, timeout)

    async def nolinger(self, *, timeout: float | None = DEFAULT) -> CommandReply:
        return await self._command("nolinger", timeout)

    async def resume(self, *, timeout: float | None = DEFAULT) -> CommandReply:
        """Let the dialplan go on after this socket closes."""
        return await self._command("resume", timeout)

    async def getvar(self, name: str, *, timeout: float | None = DEFAULT) -> str | None:
        """A channel variable (None when unset). Long values come back cut to 511 bytes."""
        check_word(name, "variable name")
        reply = await self._command(f"getvar {name}", timeout, check=False)
        if reply.text == "-ERR command not found":
            return None
        return reply.text

    async def exit(self, *, timeout: float | None = DEFAULT) -> None:
        """Tell the switch we are done with the call and close the socket."""
        await self.close(timeout=2.0 if timeout is DEFAULT or timeout is None else timeout)

    # -- call control --------------------------------------------------------------------------

    @overload
    async def execute(self, app: str, arg: str = "", *, wait: Literal[True] = True,
                      timeout: float | None = None, event_lock: bool = False, loops: int | None = None,
                      headers: Mapping[str, str] | None = None) -> Event: ...
    @overload
    async def execute(self, app: str, arg: str = "", *, wait: Literal[False],
                      timeout: float | None = None, event_lock: bool = False, loops: int | None = None,
                      headers: Mapping[str, str] | None = None) -> CommandReply: ...

    async def execute(self, app: str, arg: str = "", *, wait: bool = True, timeout: float | None = None,
                      event_lock: bool = False, loops: int | None = None,
                      headers: Mapping[str, str] | None = None) -> Event | CommandReply:
        """Run dialplan application ``app`` on this call.

        With ``wait`` (the default) returns its CHANNEL_EXECUTE_COMPLETE event, matched by
        the ``Event-UUID`` the client sends (``Application-UUID`` in the event); turns on
        ``myevents`` first if it is off. ``timeout`` (default none) covers the whole wait.
        """
        return await self._execute(None, app, arg, wait=wait, timeout=timeout, event_lock=event_lock,
                                   loops=loops, headers=headers)

    async def answer(self, *, timeout: float | None = None) -> Event:
        return await self.execute("answer", timeout=timeout)

    async def pre_answer(self, *, timeout: float | None = None) -> Event:
        return await self.execute("pre_answer", timeout=timeout)

    async def playback(self, path: str, *, timeout: float | None = None) -> Event:
        """Play a file; ``Application-Response`` of the result says how it ended (``FILE PLAYED``...)."""
        return await self.execute("playback", path, timeout=timeout)

    async def bridge(self, target: str, *, timeout: float | None = None) -> Event:
        """Bridge to ``target`` (a dial string); returns when the bridge ends."""
        return await self.execute("bridge", target, timeout=timeout)

    async def set(self, name: str, value: str, *, timeout: float | None = None) -> Event:
        """Set a channel variable (the ``set`` application)."""
        check_word(name, "variable name")
        check_text(value, "variable value")
        return await self.execute("set", f"{name}={value}", timeout=timeout)

    async def play_and_get_digits(
        self, min_digits: int, max_digits: int, tries: int, timeout_ms: int, terminators: str,
        file: str, invalid_file: str = "silence_stream://250", variable: str = "pagd_digits",
        regexp: str = "\\d+", digit_timeout_ms: int | None = None, *, timeout: float | None = None,
    ) -> str | None:
        """Prompt with ``file`` and collect digits; returns them, or None when none matched.

        Arguments as the ``play_and_get_digits`` application takes them; the digits are read
        from ``variable`` in the CHANNEL_EXECUTE_COMPLETE event (or with getvar).
        """
        for word, what in ((terminators or "none", "terminators"), (file, "file"),
                           (invalid_file, "invalid_file"), (variable, "variable"), (regexp, "regexp")):
            check_word(word, what)
        arg = (f"{int(min_digits)} {int(max_digits)} {int(tries)} {int(timeout_ms)} {terminators or 'none'} "
               f"{file} {invalid_file} {variable} {regexp}")
        if digit_timeout_ms is not None:
            arg += f" {int(digit_timeout_ms)}"
        event = await self.execute("play_and_get_digits", arg, timeout=timeout)
        value = event.get(f"variable_{variable}")
        if value is None and not self.hungup:
            value = await self.getvar(variable)
        return value or None

    async def hangup(self, cause: str = "NORMAL_CLEARING", *,
                     timeout: float | None = DEFAULT) -> CommandReply:
        """Hang up the call (``sendmsg`` with ``call-command: hangup``)."""
        check_word(cause, "hangup cause")
        return await self.sendmsg(None, [("call-command", "hangup"), ("hangup-cause", cause)],
                                  timeout=timeout)


class OutboundServer:
    """Listens for the switch's outbound connections and runs ``handler(call)`` for each.

    ``myevents`` and ``linger`` (both on by default) are sent right after ``connect``;
    ``format`` is the event format asked with ``myevents``. ``timeout`` is the default
    reply timeout of each call's requests; ``connect_timeout`` bounds the ``connect``
    exchange. ``queue_size``/``overflow`` bound each call's event queue.
    ``on_finished(call, error)`` is called after each handler ends: ``error`` is None when it
    returned or the call hung up under it, the exception when it failed (tests wait on it).
    """

    def __init__(
        self,
        handler: CallHandler,
        host: str = "127.0.0.1",
        port: int = 8084,
        *,
        myevents: bool = True,
        linger: bool = True,
        format: EventFormat | None = None,
        timeout: float | None = 10.0,
        connect_timeout: float | None = 10.0,
        queue_size: int = 10_000,
        overflow: OverflowPolicy = "drop_oldest",
        log_queue_size: int = 1_000,
        on_finished: FinishedHook | None = None,
    ) -> None:
        self.handler = handler
        self.on_finished = on_finished
        self.host = host
        self._port = port
        self.myevents = myevents
        self.linger = linger
        self.format = format
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.queue_size = queue_size
        self.overflow: OverflowPolicy = overflow
        self.log_queue_size = log_queue_size
        self.calls: set[OutboundCall] = set()
        self.calls_handled = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port (the real one when started with port 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    async def start(self) -> None:
        """Bind and start accepting calls."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._make_link, self.host, self._port, reuse_address=True)

    async def serve_forever(self) -> None:
        await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self, close_calls: bool = True) -> None:
        """Stop listening; with ``close_calls``, also end the calls being handled."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        if close_calls:
            for call in list(self.calls):
                await call.close(timeout=1.0)
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
        if server is not None:
            try:
                async with asyncio.timeout(2.0):
                    await server.wait_closed()
            except TimeoutError:
                pass

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _make_link(self) -> _OutboundLink:
        call = OutboundCall(timeout=self.timeout, queue_size=self.queue_size, overflow=self.overflow,
                            log_queue_size=self.log_queue_size)
        return _OutboundLink(call, self)

    def _started(self, call: OutboundCall, link: _Link) -> None:
        assert link.transport is not None
        peer = link.transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            call.peer = (str(peer[0]), int(peer[1]))
        # The link is the call's from the start, so a switch that goes away at once is noticed.
        call._link = link
        task = asyncio.ensure_future(self._run(call, link))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, call: OutboundCall, link: _Link) -> None:
        self.calls.add(call)
        error: BaseException | None = None
        try:
            try:
                await call._connect(link, self.connect_timeout)
            except RequestTimeoutError as exc:
                log.warning("no reply to connect from %s:%s", *call.peer)
                error = exc
                return
            self.calls_handled += 1
            if self.myevents:
                await call.myevents(self.format)
            if self.linger:
                await call.linger()
            await self.handler(call)
        except asyncio.CancelledError as exc:
            error = exc
            raise
        except ConnectionLostError as exc:
            log.debug("call %s ended: %s", call.uuid, exc)
        except Exception as exc:
            error = exc
            log.exception("outbound handler failed for call %s", call.uuid)
        finally:
            self.calls.discard(call)
            if not call.closed:
                try:
                    await call.close(timeout=2.0)
                except (ESLError, OSError):
                    pass
            await self._finished(call, error)

    async def _finished(self, call: OutboundCall, error: BaseException | None) -> None:
        hook = self.on_finished
        if hook is None:
            return
        try:
            outcome = hook(call, error)
            if outcome is not None:
                await outcome
        except Exception:
            log.exception("on_finished hook failed for call %s", call.uuid)

    def __repr__(self) -> str:
        return f"<OutboundServer {self.host}:{self.port} calls={len(self.calls)}>"

