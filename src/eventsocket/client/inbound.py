"""The asyncio inbound client: connect to an event socket server and drive it.

::

    async with await eventsocket.connect("127.0.0.1", 8021, "ClueCon") as conn:
        print((await conn.api("status")).body)
        await conn.subscribe("CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE")
        job = await conn.bgapi("originate", "null/1000 &park")
        print((await job).body)
        async for event in conn.events():
            print(event.name, event.uuid)

Reconnecting: with ``reconnect=True`` (or a :class:`ReconnectPolicy`), a connection
that drops is re-established with exponential back-off, and the subscriptions, event
format, filters, ``myevents`` and log level are sent again, in their original order,
before any new request goes out. Requests pending when the connection dropped fail
with :class:`~eventsocket.client.errors.ConnectionLostError` (the server may or may not
have run them); requests made while reconnecting wait for the new connection within
their own timeout. A refused password or an ACL rejection stops reconnecting: those do
not heal by retrying.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, overload

from eventsocket.client.connection import (
    DEFAULT,
    BaseConnection,
    _Link,
    check_text,
    check_word,
    encode_request,
)
from eventsocket.client.errors import (
    AuthenticationError,
    ConnectionLostError,
    ESLError,
    RequestTimeoutError,
    RudeRejectionError,
)
from eventsocket.client.events import Event, EventFormat
from eventsocket.client.queues import OverflowPolicy
from eventsocket.client.results import CommandReply

__all__ = ["InboundConnection", "ReconnectPolicy", "connect"]

log = logging.getLogger("eventsocket.client")

ReconnectCallback = Callable[["InboundConnection"], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential back-off between reconnection attempts.

    The first attempt is immediate; then ``initial_delay``, multiplied by ``factor`` after
    each failure, capped at ``max_delay``, each spread by ±``jitter`` (a fraction) so that
    many clients do not come back in lockstep. ``max_attempts`` (None: forever) bounds the
    attempts before the connection is given up.
    """

    initial_delay: float = 0.1
    max_delay: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1
    max_attempts: int | None = None


class InboundConnection(BaseConnection):
    """An authenticated inbound connection (see :func:`connect`)."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        user: str | None = None,
        timeout: float | None = 10.0,
        connect_timeout: float | None = 10.0,
        reconnect: ReconnectPolicy | None = None,
        on_reconnect: ReconnectCallback | None = None,
        queue_size: int = 10_000,
        overflow: OverflowPolicy = "drop_oldest",
        log_queue_size: int = 10_000,
    ) -> None:
        super().__init__(timeout=timeout, queue_size=queue_size, overflow=overflow,
                         log_queue_size=log_queue_size)
        self.host = host
        self.port = port
        self._password = check_text(password, "password")
        self._user = check_text(user, "user") if user is not None else None
        self.connect_timeout = connect_timeout
        self.reconnect_policy = reconnect
        self._on_reconnect = on_reconnect
        self._reconnect_task: asyncio.Task[None] | None = None
        self._established = False
        self.reconnects = 0
        self.auth_reply: CommandReply | None = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else ("closed" if self.closed else "reconnecting")
        return f"<InboundConnection {self.host}:{self.port} {state}>"

    # -- opening -----------------------------------------------------------------------------

    async def _open(self, restore: bool) -> None:
        loop = asyncio.get_running_loop()
        link: _Link | None = None
        try:
            async with asyncio.timeout(self.connect_timeout):
                try:
                    _, link = await loop.create_connection(lambda: _Link(self), self.host, self.port)
                except OSError as exc:
                    raise ConnectionLostError(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
                await link.greeting
                if self._user is not None:
                    line = f"userauth {self._user}:{self._password}"
                else:
                    line = f"auth {self._password}"
                frame = await self._roundtrip(encode_request(line), None, link=link, what="auth")
                reply = CommandReply.from_frame(frame)
                if reply.text != "+OK accepted":
                    raise AuthenticationError(f"authentication failed: {reply.text or 'no reply'}")
                self.auth_reply = reply
                if restore:
                    await self._restore(link)
        except TimeoutError as exc:
            if link is not None:
                link.close()
            if isinstance(exc, ESLError):
                raise
            raise RequestTimeoutError(
                f"connecting to {self.host}:{self.port} took more than {self.connect_timeout}s") from None
        except BaseException:
            if link is not None:
                link.close()
            raise
        if not link.usable:
            raise link.error or ConnectionLostError("connection lost while connecting")
        self._link = link
        self._ready.set()

    async def _restore(self, link: _Link) -> None:
        """Send the subscriptions, filters, myevents and log level again on a new connection."""
        state = self._state
        lines = state.event_lines()
        lines.extend(f"filter {h} {v}" for h, v in state.server_filters)
        if state.myevents_uuid is not None:
            lines.append(f"myevents {state.myevents_uuid} {state.format}")
        if state.log_level is not None:
            lines.append(f"log {state.log_level}")
        if not lines:
            return
        frames = await self._exchange([encode_request(line) for line in lines], None, link=link)
        for line, frame in zip(lines, frames, strict=True):
            reply = CommandReply.from_frame(frame)
            if not reply.ok:
                log.warning("restoring %r after reconnecting failed: %s", line, reply.text)
        state.internal_sent = set(state.internal)

    # -- reconnecting ------------------------------------------------------------------------

    def _reconnecting(self) -> bool:
        return self._reconnect_task is not None and not self._reconnect_task.done()

    def _maybe_reconnect(self, error: ESLError) -> bool:
        if self.reconnect_policy is None or not self._established:
            return False
        if isinstance(error, RudeRejectionError):
            return False
        if self._reconnecting():
            return True
        self._link = None
        log.warning("connection to %s:%s lost (%s); reconnecting", self.host, self.port, error)
        self._reconnect_task = asyncio.ensure_future(self._reconnect_loop(error))
        return True

    def _stop_reconnecting(self) -> None:
        task = self._reconnect_task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()

    async def _reconnect_loop(self, error: BaseException) -> None:
        policy = self.reconnect_policy
        assert policy is not None
        delay = policy.initial_delay
        attempt = 0
        last: BaseException = error
        while not self._closing:
            attempt += 1
            try:
                await self._open(restore=True)
            except (AuthenticationError, RudeRejectionError) as exc:
                log.error("reconnecting to %s:%s refused: %s", self.host, self.port, exc)
                self._finalize(exc)
                return
            except asyncio.CancelledError:
                raise
            except (OSError, ESLError, TimeoutError) as exc:
                last = exc
                log.info("reconnect attempt %d to %s:%s failed: %s", attempt, self.host, self.port, exc)
            else:
                self.reconnects += 1
                log.info("reconnected to %s:%s", self.host, self.port)
                await self._notify_reconnect()
                return
            if policy.max_attempts is not None and attempt >= policy.max_attempts:
                self._finalize(last if isinstance(last, ESLError) else ConnectionLostError(str(last)))
                return
            spread = 1.0 + random.uniform(-policy.jitter, policy.jitter)
            await asyncio.sleep(max(0.0, delay * spread))
            delay = min(delay * policy.factor, policy.max_delay)

    async def _notify_reconnect(self) -> None:
        callback = self._on_reconnect
        if callback is None:
            return
        try:
            result = callback(self)
            if result is not None:
                await result
        except Exception:
            log.exception("on_reconnect callback failed")

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until the connection is up (useful after a drop, while reconnecting)."""
        async with asyncio.timeout(timeout):
            while not self.connected:
                if self.closed:
                    raise self.close_error if isinstance(self.close_error, ESLError) else ConnectionLostError(
                        "the connection is closed")
                await self._ready.wait()

    # -- inbound-only commands ------------------------------------------------------------------

    @overload
    async def execute(self, uuid: str, app: str, arg: str = "", *, wait: Literal[True] = True,
                      timeout: float | None = None, event_lock: bool = False, loops: int | None = None,
                      headers: Mapping[str, str] | None = None) -> Event: ...
    @overload
    async def execute(self, uuid: str, app: str, arg: str = "", *, wait: Literal[False],
                      timeout: float | None = None, event_lock: bool = False, loops: int | None = None,
                      headers: Mapping[str, str] | None = None) -> CommandReply: ...

    async def execute(self, uuid: str, app: str, arg: str = "", *, wait: bool = True,
                      timeout: float | None = None, event_lock: bool = False, loops: int | None = None,
                      headers: Mapping[str, str] | None = None) -> Event | CommandReply:
        """Run dialplan application ``app`` on channel ``uuid`` (``sendmsg`` + ``call-command: execute``).

        With ``wait`` (the default), returns the CHANNEL_EXECUTE_COMPLETE event of this very
        execution, matched through the ``Event-UUID`` the client generates (it comes back as
        ``Application-UUID``); ``event["Application-Response"]`` is the application's result.
        The client subscribes to CHANNEL_EXECUTE_COMPLETE by itself (hidden from the
        application unless it subscribed too). ``timeout`` (default: none, applications may
        run for minutes) covers the whole wait. Without ``wait``, returns the server's
        acknowledgement. ``event_lock``, ``loops`` and extra ``headers`` go into the message.
        """
        return await self._execute(uuid, app, arg, wait=wait, timeout=timeout, event_lock=event_lock,
                                   loops=loops, headers=headers)

    async def myevents(self, uuid: str, format: EventFormat | None = None, *,
                       timeout: float | None = DEFAULT) -> CommandReply:
        """``myevents <uuid>``: follow one channel's events, as an outbound socket would."""
        check_word(uuid, "uuid")
        line = f"myevents {uuid}" + (f" {format}" if format else "")
        reply = await self._command(line, timeout)
        state = self._state
        state.myevents = True
        state.myevents_uuid = uuid
        if format:
            state.format = format
        return reply


async def connect(
    host: str = "127.0.0.1",
    port: int = 8021,
    password: str = "ClueCon",
    *,
    user: str | None = None,
    timeout: float | None = 10.0,
    connect_timeout: float | None = 10.0,
    reconnect: bool | ReconnectPolicy = False,
    on_reconnect: ReconnectCallback | None = None,
    queue_size: int = 10_000,
    overflow: OverflowPolicy = "drop_oldest",
    log_queue_size: int = 10_000,
) -> InboundConnection:
    """Connect, authenticate and return an :class:`InboundConnection`.

    * ``user``: authenticate with ``userauth user@domain:password`` instead of ``auth``;
    * ``timeout``: the default reply timeout of every request (each method also takes one);
    * ``connect_timeout``: for TCP connect, greeting and authentication together;
    * ``reconnect``: ``True`` or a :class:`ReconnectPolicy` to reconnect automatically;
      ``on_reconnect(conn)`` is called (or awaited) after each successful reconnection;
    * ``queue_size`` / ``overflow``: the bound of the event queue and what happens when a
      slow reader lets it fill (see :mod:`eventsocket.client.queues`); the log queue
      has its own ``log_queue_size``.

    Raises :class:`RudeRejectionError` when the server's ACL refuses this address,
    :class:`AuthenticationError` for a wrong password, :class:`ConnectionLostError` when
    the server cannot be reached, :class:`RequestTimeoutError` after ``connect_timeout``.
    """
    policy = ReconnectPolicy() if reconnect is True else (reconnect or None)
    conn = InboundConnection(
        host, port, password, user=user, timeout=timeout, connect_timeout=connect_timeout,
        reconnect=policy, on_reconnect=on_reconnect, queue_size=queue_size, overflow=overflow,
        log_queue_size=log_queue_size,
    )
    try:
        await conn._open(restore=False)
    except BaseException as exc:
        conn._closing = True
        conn._finalize(exc)
        raise
    conn._established = True
    return conn
