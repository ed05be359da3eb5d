"""The blocking client, for scripts and the REPL::

    from eventsocket.client import sync

    with sync.connect("127.0.0.1", 8021, "ClueCon") as conn:
        print(conn.api("status").body)
        conn.subscribe("BACKGROUND_JOB", "CHANNEL_CREATE")
        job = conn.bgapi("status")
        print(job.result(timeout=5).body)
        for event in conn.events(timeout=1.0):
            print(event.name)

Why a private event-loop thread rather than plain blocking sockets: the asyncio client
already does the hard parts (replies matched in order even after a timeout, bgapi jobs
matched by Job-UUID, the events the client subscribes to for itself kept apart from the
application's, reconnect with the subscriptions replayed, bounded queues). Running that
same client on its own event loop in a daemon thread gives the blocking API exactly the
same behaviour with no second implementation to keep in step. The socket is also read
continuously while the script is busy elsewhere, so the server never sees a stalled
reader and events are queued (within the bound) until the script asks for them. The cost
is one thread per connection and a thread hop per call, a few tens of microseconds,
which is small next to a network round trip.

Handlers registered with :meth:`SyncConnection.on` run one at a time, in order, on a
separate dispatcher thread, so they may call back into the connection.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from typing import Any, Literal, Self, TypeVar, overload

from eventsocket.client.connection import DEFAULT, BackgroundJob, check_text
from eventsocket.client.errors import ConnectionLostError
from eventsocket.client.events import Event, EventFormat
from eventsocket.client.inbound import InboundConnection, ReconnectPolicy
from eventsocket.client.inbound import connect as async_connect
from eventsocket.client.queues import BoundedQueue, OverflowPolicy
from eventsocket.client.results import ApiResponse, CommandReply, LogLine

__all__ = ["SyncConnection", "SyncJob", "connect"]

log = logging.getLogger("eventsocket.client.sync")

T = TypeVar("T")
SyncHandler = Callable[[Event], object]
_STOP = object()


class _LoopThread:
    """An event loop running in a daemon thread, owned by one connection."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="eventsocket-sync-loop", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (its own timeouts apply)."""
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("a blocking call was made from the connection's own event loop thread")
        if self.loop.is_closed():
            coro.close()
            raise ConnectionLostError("the connection is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # e.g. KeyboardInterrupt: do not leave the request running
            raise

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)


class SyncJob:
    """A background job: ``job.result(timeout)`` blocks until its BACKGROUND_JOB arrives."""

    def __init__(self, job: BackgroundJob, runner: _LoopThread) -> None:
        self._job = job
        self._runner = runner
        self.job_uuid = job.job_uuid
        self.command = job.command
        self.reply = job.reply

    def done(self) -> bool:
        return self._job.done()

    def result(self, timeout: float | None = None) -> ApiResponse:
        return self._runner.run(self._job.result(timeout))

    def __repr__(self) -> str:
        return f"<SyncJob {self.job_uuid} {self.command!r}>"


class SyncConnection:
    """A blocking inbound connection; the same operations as the asyncio one."""

    def __init__(self, conn: InboundConnection, runner: _LoopThread) -> None:
        self._conn = conn
        self._runner = runner
        self._handler_queue: queue.Queue[Any] | None = None
        self._handler_thread: threading.Thread | None = None
        self.handler_events_dropped = 0

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def connection(self) -> InboundConnection:
        """The underlying asyncio connection (lives on the private loop's thread)."""
        return self._conn

    @property
    def connected(self) -> bool:
        return self._conn.connected

    @property
    def closed(self) -> bool:
        return self._conn.closed

    def close(self) -> None:
        """``exit``, close, and stop the private loop thread."""
        try:
            if not self._runner.loop.is_closed():
                self._run(self._conn.close())
        finally:
            if self._handler_queue is not None:
                self._handler_queue.put(_STOP)
                thread = self._handler_thread
                if thread is not None and thread is not threading.current_thread():
                    thread.join(timeout=5.0)
            self._runner.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SyncConnection {self._conn!r}>"

    # -- commands ----------------------------------------------------------------------------

    def send(self, command: str, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
             body: str | bytes | None = None, *,
             timeout: float | None = DEFAULT) -> CommandReply | ApiResponse:
        return self._run(self._conn.send(command, headers, body, timeout=timeout))

    def api(self, command: str, args: str | None = None, *, timeout: float | None = DEFAULT) -> ApiResponse:
        return self._run(self._conn.api(command, args, timeout=timeout))

    def bgapi(self, command: str, args: str | None = None, *, timeout: float | None = DEFAULT) -> SyncJob:
        return SyncJob(self._run(self._conn.bgapi(command, args, timeout=timeout)), self._runner)

    def subscribe(self, *names: str, format: EventFormat | None = None,
                  timeout: float | None = DEFAULT) -> CommandReply:
        return self._run(self._conn.subscribe(*names, format=format, timeout=timeout))

    def nixevent(self, *names: str, timeout: float | None = DEFAULT) -> CommandReply:
        return self._run(self._conn.nixevent(*names, timeout=timeout))

    def noevents(self, *, timeout: float | None = DEFAULT) -> CommandReply:
        return self._run(self._conn.noevents(timeout=timeout))

    def filter(self, header: str, value: str, *, timeout: float | None = DEFAULT) -> CommandReply:
        return self._run(self._conn.filter(header, value, timeout=timeout))

    def filter_delete(self, header: str = "all", value: str | None = None, *,
                      timeout: float | None = DEFAULT) -> CommandReply:
        return self._run(self._conn.filter_delete(header, value, timeout=timeout))

    def myevents(self, uuid: str, format: EventFormat | None = None, *,
                 timeout: float | None = DEFAULT) -> CommandReply:
        return self._run(self._conn.myevents(uuid, format, timeout=timeout))

    def sendevent(self, name: str, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
                  body: str | bytes | None = None, *, subclass: str | None = None,
                  timeout: float | None = DEFAULT) -> CommandReply:
        return self._run(self._conn.sendevent(name, headers, body, subclass=subclass, timeout=timeout))

    def sendmsg(self, uuid: str | None, headers: Mapping[str, str] | Iterable[tuple[str, str]],
                body: str | bytes | None = None, *, timeout: float | None = DEFAULT) -> CommandReply:
        return self._run(self._conn.sendmsg(uuid, headers, body, timeout=timeout))

    @overload
    def execute(self, uuid: str, app: str, arg: str = "", *, wait: Literal[True] = True,
                timeout: float | None = None, event_lock: bool = False, loops: int | None = None,
                headers: Mapping[str, str] | None = None) -> Event: ...
    @overload
    def execute(self, uuid: str, app: str, arg: str = "", *, wait: Literal[False],
                timeout: float | None = None, event_lock: bool = False, loops: int | None = None,
                headers: Mapping[str, str] | None = None) -> CommandReply: ...

    def execute(self, uuid: str, app: str, arg: str = "", *, wait: bool = True, timeout: float | None = None,
                event_lock: bool = False, loops: int | None = None,
                headers: Mapping[str, str] | None = None) -> Event | CommandReply:
        return self._run(self._conn._execute(uuid, app, arg, wait=wait, timeout=timeout,
                                             event_lock=event_lock, loops=loops, headers=headers))

    def log(self, level: str | int = "debug", *, timeout: float | None = DEFAULT) -> None:
        """Start receiving log lines (read them with :meth:`recv_log` or :meth:`logs`)."""
        self._run(self._conn.log(level, timeout=timeout))

    def nolog(self, *, timeout: float | None = DEFAULT) -> CommandReply:
        return self._run(self._conn.nolog(timeout=timeout))

    @property
    def subscriptions(self) -> dict[str, Any]:
        return self._conn.subscriptions

    # -- events ------------------------------------------------------------------------------

    def _recv(self, source: BoundedQueue[T], timeout: float | None) -> T | None:
        try:
            return self._run(source.get(timeout))
        except TimeoutError:
            return None

    def _iterate(self, source: BoundedQueue[T], timeout: float | None) -> Iterator[T]:
        while True:
            try:
                item = self._recv(source, timeout)
            except ConnectionLostError:
                if self._conn.close_error is None:  # closed by the application: just stop
                    return
                raise
            if item is None:
                return
            yield item

    def recv_event(self, timeout: float | None = None) -> Event | None:
        """The next event, or None after ``timeout`` seconds (raises once the connection is gone)."""
        return self._recv(self._conn.events(), timeout)

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Iterate events; stops after ``timeout`` seconds without one, or when the connection closes."""
        return self._iterate(self._conn.events(), timeout)

    def recv_log(self, timeout: float | None = None) -> LogLine | None:
        """The next log line (after :meth:`log`), or None after ``timeout`` seconds."""
        return self._recv(self._conn.logs(), timeout)

    def logs(self, timeout: float | None = None) -> Iterator[LogLine]:
        """Iterate log lines, as :meth:`events` does events."""
        return self._iterate(self._conn.logs(), timeout)

    def on(self, name: str, handler: SyncHandler, *, subclass: str | None = None) -> SyncHandler:
        """Call ``handler(event)`` for each ``name`` event (``"*"``: all), on the dispatcher thread."""
        if subclass is not None:
            check_text(subclass, "subclass")
        if self._handler_queue is None:
            self._handler_queue = queue.Queue(maxsize=self._conn.events().maxsize)
            self._handler_thread = threading.Thread(target=self._dispatch, name="eventsocket-sync-handlers",
                                                    daemon=True)
            self._handler_thread.start()
        handlers = self._handler_queue

        def forward(event: Event) -> None:
            try:
                handlers.put_nowait((handler, event))
            except queue.Full:
                self.handler_events_dropped += 1

        async def register() -> None:
            self._conn.on(name, forward, subclass=subclass)

        self._run(register())
        return handler

    def _dispatch(self) -> None:
        assert self._handler_queue is not None
        while True:
            item = self._handler_queue.get()
            if item is _STOP:
                return
            handler, event = item
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed", handler)


def connect(
    host: str = "127.0.0.1",
    port: int = 8021,
    password: str = "ClueCon",
    *,
    user: str | None = None,
    timeout: float | None = 10.0,
    connect_timeout: float | None = 10.0,
    reconnect: bool | ReconnectPolicy = False,
    queue_size: int = 10_000,
    overflow: OverflowPolicy = "drop_oldest",
    log_queue_size: int = 10_000,
) -> SyncConnection:
    """Connect and authenticate; the arguments are those of :func:`eventsocket.connect`."""
    runner = _LoopThread()
    try:
        conn = runner.run(async_connect(
            host, port, password, user=user, timeout=timeout, connect_timeout=connect_timeout,
            reconnect=reconnect, queue_size=queue_size, overflow=overflow, log_queue_size=log_queue_size))
    except BaseException:
        runner.stop()
        raise
    return SyncConnection(conn, runner)
