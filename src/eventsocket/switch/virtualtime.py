"""Virtual time for asyncio: a 30-second simulated call finishes in milliseconds.

:class:`VirtualTimeLoop` is an ordinary selector event loop whose clock jumps ahead
whenever the loop would otherwise sit idle waiting for a timer. Everything that waits on
the loop's clock (``asyncio.sleep``, ``call_later``, ``wait_for``, ``asyncio.timeout``, and
so the switch core's sleeps, playbacks and ring times) completes as soon as nothing else
is runnable, while sockets keep working in real time: ``start_server``, connections and
reads are untouched.

How the jump works. Each loop iteration asks the selector for I/O with a timeout: 0 when
callbacks are ready, the distance to the nearest timer when there is one, ``None`` (block)
when there are none. The loop wraps its selector so that, given a positive timeout, it
first polls for at most ``grace`` real seconds; if nothing became ready, it moves the
virtual clock forward to the timer's deadline and returns, and the loop runs the timer at
once. With no timers at all it blocks on I/O exactly as the normal loop does.

Virtual time is real time plus the jumps: the loop's clock keeps running while the loop
works or waits for a client, so a server left idle for a minute shows a minute passing,
and a long chain of short sleeps drifts by the real time spent between them (what real
FreeSWITCH does too). Only the waits with nothing to do are skipped.

This needs asyncio's own selector loop: uvloop keeps its clock and its I/O wait in C.

The grace trade-off. Jumping ahead is only correct when no I/O is about to arrive. Data
already sent by a client in this process, or delivered to the socket by another process,
is read first: the poll sees it. But a packet still in flight from another process when
the poll ends loses the race: the timer fires first, as if the client had been slow. A
larger ``grace`` makes that rarer and makes every jump cost that much real time (a call
with a thousand timer waits spends a thousand graces); ``grace=0`` is right when every
party runs on this loop. Work handed to an executor (``run_in_executor``,
``asyncio.to_thread``, ``getaddrinfo`` for host names) stops the jumps until it returns,
since its result comes back through the loop; other threads that call
``call_soon_threadsafe`` are not tracked.

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
    "VirtualClock",
    "VirtualTimeLoop",
    "VirtualTimePolicy",
    "new_virtual_loop",
    "run_virtual",
    "virtual_loop_factory",
]

T = TypeVar("T")
_Ts = TypeVarTuple("_Ts")

#: Real seconds the loop polls for I/O before it jumps ahead to the next timer.
DEFAULT_GRACE = 0.0005


class _JumpingSelector(selectors.BaseSelector):
    """Delegates to the loop's real selector; its ``select`` jumps virtual time when idle."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._inner = inner
        self._loop = loop

    def register(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: FileDescriptorLike, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        loop = self._loop
        if timeout is None or timeout <= 0 or loop._executor_jobs:
            # no timer to jump to, callbacks ready, or a thread will report back: plain I/O wait
            return self._inner.select(timeout)
        deadline = loop.time() + timeout
        events = self._inner.select(min(timeout, loop.grace))
        if not events:
            loop.advance(deadline - loop.time())
        return events

    def close(self) -> None:
        self._inner.close()

    def get_key(self, fileobj: FileDescriptorLike) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[FileDescriptorLike, selectors.SelectorKey]:
        return self._inner.get_map()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock jumps to the next timer when the loop is idle.

    ``time()`` is the real monotonic clock plus :attr:`offset`, the total of the jumps, so
    it never goes backwards and real work still takes (a little) time. See the module
    docstring for ``grace``.
    """

    def __init__(
        self, selector: selectors.BaseSelector | None = None, *, grace: float = DEFAULT_GRACE
    ) -> None:
        self.grace = grace
        self._offset = 0.0
        self._executor_jobs = 0
        super().__init__(selector)
        if grace < 0:
            self.close()
            raise ValueError(f"grace must be >= 0, not {grace}")
        # BaseSelectorEventLoop keeps its selector in ``_selector`` and calls only the
        # BaseSelector methods on it, so a delegating wrapper is a complete substitute.
        inner: selectors.BaseSelector = getattr(self, "_selector")  # noqa: B009
        self._selector = _JumpingSelector(inner, self)

    @property
    def offset(self) -> float:
        """Seconds virtual time is ahead of the real monotonic clock."""
        return self._offset

    def time(self) -> float:
        return time.monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        """Move virtual time forward by ``seconds`` (never backwards).

        Timers that become due run on the next loop iteration, as if the time had passed.
        """
        if seconds > 0:
            self._offset += seconds

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[*_Ts], T],
        *args: *_Ts,
    ) -> asyncio.Future[T]:
        # Time must not jump while a thread works for the loop: a wait_for around
        # getaddrinfo would otherwise time out at once.
        future = super().run_in_executor(executor, func, *args)
        self._executor_jobs += 1
        future.add_done_callback(self._executor_job_done)
        return future

    def _executor_job_done(self, _future: asyncio.Future[Any]) -> None:
        self._executor_jobs -= 1


def new_virtual_loop(*, grace: float = DEFAULT_GRACE) -> VirtualTimeLoop:
    """A new :class:`VirtualTimeLoop` (not set as the current loop)."""
    return VirtualTimeLoop(grace=grace)


def virtual_loop_factory(*, grace: float = DEFAULT_GRACE) -> Callable[[], VirtualTimeLoop]:
    """A ``loop_factory`` for ``asyncio.Runner`` (and ``asyncio.run`` from Python 3.12)."""

    def factory() -> VirtualTimeLoop:
        return VirtualTimeLoop(grace=grace)

    return factory


def run_virtual(
    main: Coroutine[Any, Any, T], *, debug: bool | None = None, grace: float = DEFAULT_GRACE
) -> T:
    """Run ``main`` like ``asyncio.run``, on a :class:`VirtualTimeLoop`."""
    with asyncio.Runner(debug=debug, loop_factory=virtual_loop_factory(grace=grace)) as runner:
        return runner.run(main)


class VirtualTimePolicy(asyncio.DefaultEventLoopPolicy):
    """An event loop policy whose new loops are :class:`VirtualTimeLoop`.

    For code that creates its loop through the policy (``asyncio.set_event_loop_policy``);
    prefer :func:`run_virtual` or ``asyncio.Runner(loop_factory=...)``.
    """

    def __init__(self, *, grace: float = DEFAULT_GRACE) -> None:
        super().__init__()
        self.grace = grace

    def new_event_loop(self) -> VirtualTimeLoop:
        return VirtualTimeLoop(grace=self.grace)


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
