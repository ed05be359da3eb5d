"""Virtual time for asyncio: a 30-second simulated call finishes in milliseconds.

:class:`VirtualTime` gives an asyncio selector event loop a clock that jumps ahead
whenever the loop would otherwise sit idle waiting for a timer. Everything that waits on
the loop's clock (``asyncio.sleep``, ``call_later``, ``wait_for``, ``asyncio.timeout``, and
so the switch core's sleeps, playbacks and ring times) completes as soon as nothing else
is runnable, while sockets keep working in real time. :class:`VirtualTimeLoop` is a loop
born with it; :func:`install` adds it to a loop that already runs (what the pytest
plugin does with the loop of the test).

How the jump works. Each loop iteration asks the selector for I/O with a timeout: 0 when
callbacks are ready, the distance to the nearest timer when there is one, ``None`` (block)
when there are none. The loop's selector is wrapped so that, given a positive timeout, it
first polls for at most ``grace`` real seconds; if nothing became ready, it moves the
virtual clock forward to the timer's deadline and returns, and the loop runs the timer at
once. With no timers at all it blocks on I/O exactly as the normal loop does.

When the clock does *not* jump:

- **The application is busy.** Everything on this loop (the switch, and an application
  under test that runs on the same loop) must be idle: a ready callback means a 0 timeout,
  and data one party wrote to another is already readable when the selector polls.
- **Only periodic timers are pending.** Timers scheduled with :meth:`VirtualTime.call_later_background`
  or :meth:`VirtualTime.sleep_background` (the HEARTBEAT) never cause a jump: alone,
  they run in real time, so an idle server neither spins nor ages two days in a minute.
- **A peer in another thread or process has just been spoken to.** After this loop
  writes to a socket whose other end is not on this loop, or reads from one, the clock
  waits ``window`` real seconds of quiet before it jumps (each new write or read starts
  the window again), so a client over TCP that reacts within that window (a dialer that
  bridges after CHANNEL_ANSWER, digits sent while a prompt plays) is not overtaken by the
  timers. Peers on this loop are recognised by their addresses and cost nothing.
- **Work was handed to an executor** (``run_in_executor``, ``asyncio.to_thread``,
  ``getaddrinfo``): its result comes back through the loop, so the clock waits for it.
- **It is paused** (:meth:`VirtualTime.pause`): time then runs at real speed until
  :meth:`VirtualTime.resume`; :meth:`VirtualTime.advance` moves it by hand.

Virtual time is real time plus the jumps: the loop's clock keeps running while the loop
works or waits for a client, so a server left idle for a minute shows a minute passing,
and a long chain of short sleeps drifts by the real time spent between them (what real
FreeSWITCH does too). Only the waits with nothing to do are skipped.

This needs asyncio's own selector loop: uvloop keeps its clock and its I/O wait in C.

:class:`VirtualClock` is the switch core's :class:`~eventsocket.switch.clock.Clock` on
such a loop: timestamps start at the real wall clock and advance with virtual time, so
``Event-Date-Timestamp`` and durations agree with what the simulated calls did.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import selectors
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple

from eventsocket.switch.clock import Clock

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_WINDOW",
    "VirtualClock",
    "VirtualTime",
    "VirtualTimeLoop",
    "VirtualTimePolicy",
    "install",
    "new_virtual_loop",
    "run_virtual",
    "virtual_loop_factory",
    "virtual_time_of",
]

T = TypeVar("T")
_Ts = TypeVarTuple("_Ts")

#: Real seconds the loop polls for I/O before it jumps ahead to the next timer.
DEFAULT_GRACE = 0.0005
#: Real seconds of quiet after talking to a peer outside the loop before the clock jumps:
#: enough for a client that reacts within 50 ms, with room for a loaded machine.
DEFAULT_WINDOW = 0.1

_ATTR = "_eventsocket_virtual_time"
Address = tuple[Any, ...]


class _JumpingSelector(selectors.BaseSelector):
    """Delegates to the loop's real selector; its ``select`` jumps virtual time when idle."""

    def __init__(self, inner: selectors.BaseSelector, vt: VirtualTime) -> None:
        self._inner = inner
        self._vt = vt

    def register(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        return self._vt._select(self._inner, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_key(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._inner.get_map()


class VirtualTime:
    """The virtual clock of one selector event loop (see the module docstring).

    ``time()`` is the real monotonic clock plus :attr:`offset`, the total of the jumps, so
    it never goes backwards and real work still takes (a little) time.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, *, grace: float = DEFAULT_GRACE, window: float = DEFAULT_WINDOW
    ) -> None:
        if grace < 0:
            raise ValueError(f"grace must be >= 0, not {grace}")
        if window < 0:
            raise ValueError(f"window must be >= 0, not {window}")
        self.loop = loop
        self.grace = grace
        self.window = window
        self.offset = 0.0
        self.jumps = 0
        self.paused = False
        self.executor_jobs = 0
        # peers outside the loop recently written to or read from: address -> real deadline
        self._holds: dict[Address, float] = {}
        # every socket transport of the loop: fd -> (own address, peer address)
        self._sockets: dict[int, tuple[Address | None, Address | None]] = {}

    # -- the clock -----------------------------------------------------------------------------

    def time(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds`` (never backwards).

        Timers that become due run on the next loop iteration, as if the time had passed.
        """
        if seconds > 0:
            self.offset += seconds

    def pause(self) -> None:
        """Stop jumping: time runs at real speed (``advance`` still works) until :meth:`resume`."""
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    # -- periodic timers -----------------------------------------------------------------------

    def call_later_background(
        self, delay: float, callback: Callable[..., object], *args: object
    ) -> asyncio.TimerHandle:
        """``call_later`` for a timer that alone must not make the clock jump (a heartbeat)."""
        return self.loop.call_later(max(0.0, delay), self._background, callback, *args)

    async def sleep_background(self, seconds: float) -> None:
        """``asyncio.sleep`` for periodic work: it never makes the clock jump by itself."""
        future: asyncio.Future[None] = self.loop.create_future()
        handle = self.call_later_background(seconds, _resolve, future)
        try:
            await future
        finally:
            handle.cancel()

    @staticmethod
    def _background(callback: Callable[..., object], *args: object) -> None:
        callback(*args)

    def _has_foreground_timer(self) -> bool:
        scheduled: list[asyncio.TimerHandle] = getattr(self.loop, "_scheduled", [])
        background = VirtualTime._background
        for handle in scheduled:
            if not handle.cancelled() and getattr(handle, "_callback", None) is not background:
                return True
        return False

    # -- peers outside the loop ----------------------------------------------------------------

    def _track(self, transport: asyncio.BaseTransport, sock: Any) -> None:
        """A socket transport was made: remember its addresses and notice what it writes."""
        try:
            fd = sock.fileno()
            own = sock.getsockname()
        except OSError:
            return
        try:
            peer = sock.getpeername()
        except OSError:
            peer = None
        own_t = tuple(own) if isinstance(own, tuple) else None
        peer_t = tuple(peer) if isinstance(peer, tuple) else None
        self._sockets[fd] = (own_t, peer_t)
        if peer_t is None:
            return
        write = transport.write  # type: ignore[attr-defined]
        writelines = transport.writelines  # type: ignore[attr-defined]

        def noting_write(data: Any) -> None:
            self._spoke(peer_t)
            write(data)

        def noting_writelines(lines: Any) -> None:
            self._spoke(peer_t)
            writelines(lines)

        transport.write = noting_write  # type: ignore[attr-defined]
        transport.writelines = noting_writelines  # type: ignore[attr-defined]

    def _spoke(self, peer: Address) -> None:
        if self.window > 0:
            self._holds[peer] = time.monotonic() + self.window

    def _quiet_left(self) -> float:
        """Real seconds until every peer outside the loop has had its quiet window."""
        holds = self._holds
        if not holds:
            return 0.0
        now = time.monotonic()
        local = {own for own, _peer in self._sockets.values() if own is not None}
        for peer, deadline in list(holds.items()):
            if deadline <= now or peer in local:
                del holds[peer]
        return max(holds.values(), default=now) - now

    def _noted_reads(self, events: list[tuple[selectors.SelectorKey, int]]) -> None:
        if self.window <= 0:
            return
        for key, mask in events:
            if mask & selectors.EVENT_READ:
                entry = self._sockets.get(key.fd)
                if entry is not None and entry[1] is not None:
                    self._spoke(entry[1])

    # -- the jump ------------------------------------------------------------------------------

    def _select(
        self, inner: selectors.BaseSelector, timeout: float | None
    ) -> list[tuple[selectors.SelectorKey, int]]:
        if (
            timeout is None
            or timeout <= 0
            or self.paused
            or self.executor_jobs
            or not self._has_foreground_timer()
        ):
            # nothing to jump to, callbacks ready, held by hand or by a thread: plain I/O wait
            events = inner.select(timeout)
            self._noted_reads(events)
            return events
        quiet = self._quiet_left()
        if quiet > 0:
            events = inner.select(min(timeout, quiet))
            self._noted_reads(events)
            return events
        deadline = self.time() + timeout
        events = inner.select(min(timeout, self.grace))
        if events:
            self._noted_reads(events)
        else:
            self.advance(deadline - self.time())
            self.jumps += 1
        return events

    def _executor_job_done(self, _future: asyncio.Future[Any]) -> None:
        self.executor_jobs -= 1


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def virtual_time_of(loop: asyncio.AbstractEventLoop | None = None) -> VirtualTime | None:
    """The :class:`VirtualTime` of ``loop`` (default: the running loop), or None."""
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
    found = getattr(loop, _ATTR, None)
    return found if isinstance(found, VirtualTime) else None


def install(
    loop: asyncio.AbstractEventLoop | None = None,
    *,
    grace: float = DEFAULT_GRACE,
    window: float = DEFAULT_WINDOW,
) -> VirtualTime:
    """Put ``loop`` (default: the running one) on virtual time; returns its :class:`VirtualTime`.

    The loop must be asyncio's own selector loop. Installing twice returns the same object
    with the new ``grace`` and ``window``. Timers already scheduled keep their deadlines:
    virtual time starts where the loop's clock stood.
    """
    if loop is None:
        loop = asyncio.get_running_loop()
    found = virtual_time_of(loop)
    if found is not None:
        if grace < 0 or window < 0:
            raise ValueError("grace and window must be >= 0")
        found.grace, found.window = grace, window
        return found
    inner = getattr(loop, "_selector", None)
    if not isinstance(loop, asyncio.SelectorEventLoop) or not isinstance(inner, selectors.BaseSelector):
        raise TypeError(
            f"virtual time needs asyncio's selector event loop, not {type(loop).__name__} "
            "(uvloop keeps its clock in C)"
        )
    vt = VirtualTime(loop, grace=grace, window=window)
    setattr(loop, _ATTR, vt)
    # BaseSelectorEventLoop keeps its selector in ``_selector`` and calls only the
    # BaseSelector methods on it, so a delegating wrapper is a complete substitute.
    loop._selector = _JumpingSelector(inner, vt)  # type: ignore[attr-defined]
    if not isinstance(loop, VirtualTimeLoop):
        # instance attributes win over the class's methods for every caller of loop.time()
        original_executor = loop.run_in_executor
        make_transport = loop._make_socket_transport  # type: ignore[attr-defined]

        def run_in_executor(executor: Any, func: Any, *args: Any) -> asyncio.Future[Any]:
            future = original_executor(executor, func, *args)
            vt.executor_jobs += 1
            future.add_done_callback(vt._executor_job_done)
            return future

        def make_socket_transport(sock: Any, *args: Any, **kwargs: Any) -> Any:
            transport = make_transport(sock, *args, **kwargs)
            vt._track(transport, sock)
            return transport

        loop.time = vt.time  # type: ignore[method-assign]
        loop.run_in_executor = run_in_executor  # type: ignore[method-assign,assignment]
        loop._make_socket_transport = make_socket_transport  # type: ignore[attr-defined]
    return vt


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop born on virtual time (see the module docstring)."""

    def __init__(
        self,
        selector: selectors.BaseSelector | None = None,
        *,
        grace: float = DEFAULT_GRACE,
        window: float = DEFAULT_WINDOW,
    ) -> None:
        super().__init__(selector)
        try:
            self.virtual_time = install(self, grace=grace, window=window)
        except ValueError:
            self.close()
            raise

    @property
    def grace(self) -> float:
        return self.virtual_time.grace

    @grace.setter
    def grace(self, value: float) -> None:
        self.virtual_time.grace = value

    @property
    def offset(self) -> float:
        """Seconds virtual time is ahead of the real monotonic clock."""
        return self.virtual_time.offset

    def time(self) -> float:
        vt: VirtualTime | None = getattr(self, _ATTR, None)
        return time.monotonic() if vt is None else vt.time()

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds`` (never backwards)."""
        self.virtual_time.advance(seconds)

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[*_Ts], T],
        *args: *_Ts,
    ) -> asyncio.Future[T]:
        # Time must not jump while a thread works for the loop: a wait_for around
        # getaddrinfo would otherwise time out at once.
        future = super().run_in_executor(executor, func, *args)
        self.virtual_time.executor_jobs += 1
        future.add_done_callback(self.virtual_time._executor_job_done)
        return future

    def _make_socket_transport(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
        transport = super()._make_socket_transport(sock, *args, **kwargs)  # type: ignore[misc]
        self.virtual_time._track(transport, sock)
        return transport


def new_virtual_loop(*, grace: float = DEFAULT_GRACE, window: float = DEFAULT_WINDOW) -> VirtualTimeLoop:
    """A new :class:`VirtualTimeLoop` (not set as the current loop)."""
    return VirtualTimeLoop(grace=grace, window=window)


def virtual_loop_factory(
    *, grace: float = DEFAULT_GRACE, window: float = DEFAULT_WINDOW
) -> Callable[[], VirtualTimeLoop]:
    """A ``loop_factory`` for ``asyncio.Runner`` (and ``asyncio.run`` from Python 3.12)."""

    def factory() -> VirtualTimeLoop:
        return VirtualTimeLoop(grace=grace, window=window)

    return factory


def run_virtual(
    main: Coroutine[Any, Any, T],
    *,
    debug: bool | None = None,
    grace: float = DEFAULT_GRACE,
    window: float = DEFAULT_WINDOW,
) -> T:
    """Run ``main`` like ``asyncio.run``, on a :class:`VirtualTimeLoop`."""
    factory = virtual_loop_factory(grace=grace, window=window)
    with asyncio.Runner(debug=debug, loop_factory=factory) as runner:
        return runner.run(main)


class VirtualTimePolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose new loops are :class:`VirtualTimeLoop`.

    For code that creates its loop through the policy (``asyncio.set_event_loop_policy``);
    prefer :func:`run_virtual` or ``asyncio.Runner(loop_factory=...)``.
    """

    def __init__(self, *, grace: float = DEFAULT_GRACE, window: float = DEFAULT_WINDOW) -> None:
        super().__init__()
        self.grace = grace
        self.window = window

    def new_event_loop(self) -> VirtualTimeLoop:
        return VirtualTimeLoop(grace=self.grace, window=self.window)


class VirtualClock(Clock):
    """The switch clock on a (virtual-time) event loop.

    ``monotonic()`` is ``loop.time()``; ``time()`` is the wall clock read once, at
    construction, plus the loop time elapsed since the clock was bound to its loop, so
    timestamps advance exactly as far as the simulated calls slept. Sleeping and
    ``call_later`` go through the running loop, which on a :class:`VirtualTimeLoop` is
    virtual. Works on any loop; on a normal one it simply reads the loop's real clock.

    Pass the loop, or construct the clock while a loop is running; otherwise it binds to
    the running loop on first use, and before that time stands still at its creation.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None, *, epoch: float | None = None) -> None:
        self._epoch = time.time() if epoch is None else epoch
        self._created = time.monotonic()
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start = 0.0
        if loop is not None:
            self._bind(loop)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._start = loop.time()

    def _bound(self) -> asyncio.AbstractEventLoop | None:
        if self._loop is None:
            try:
                self._bind(asyncio.get_running_loop())
            except RuntimeError:
                return None
        return self._loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop this clock reads, once bound."""
        return self._bound()

    @property
    def epoch(self) -> float:
        """The wall-clock time (seconds since the epoch) the clock started at."""
        return self._epoch

    def time(self) -> float:
        loop = self._bound()
        if loop is None:
            return self._epoch
        return self._epoch + (loop.time() - self._start)

    def monotonic(self) -> float:
        loop = self._bound()
        if loop is None:
            return self._created
        return loop.time()

    async def sleep_periodic(self, seconds: float) -> None:
        vt = virtual_time_of(self._bound())
        if vt is None:
            await asyncio.sleep(max(0.0, seconds))
        else:
            await vt.sleep_background(seconds)
