"""Bounded queues for events and log lines, with an explicit overflow policy.

A consumer that reads slower than the server sends must not make the client's
memory grow without bound. Each queue holds at most ``maxsize`` items; when it is
full the ``overflow`` policy decides:

* ``"drop_oldest"`` (the default): the oldest queued item is discarded, so a consumer
  that falls behind sees the most recent events;
* ``"drop_newest"``: the arriving item is discarded, so the consumer sees an unbroken
  prefix of the stream;
* ``"disconnect"``: the connection is closed and the consumer gets
  :class:`~eventsocket.client.errors.QueueOverflowError` once it has read what was queued.
  That is FreeSWITCH's own policy for its listeners.

Every discarded item is counted in ``dropped``. Reading is never blocked by the
socket: replies to requests are matched as they arrive, whatever the queue holds.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Generic, Literal, TypeVar

from eventsocket.client.errors import ConnectionLostError

__all__ = ["BoundedQueue", "OverflowPolicy"]

T = TypeVar("T")
OverflowPolicy = Literal["drop_oldest", "drop_newest", "disconnect"]
_POLICIES = ("drop_oldest", "drop_newest", "disconnect")


class BoundedQueue(Generic[T]):
    """An asyncio queue of events (or log lines) that never grows past ``maxsize``.

    Iterate it with ``async for``; iteration ends when the connection is closed by the
    application, and raises the connection's error (after the queued items) when it was
    lost or closed by the server.
    """

    __slots__ = ("_closed", "_error", "_items", "_waiters", "dropped", "maxsize", "overflow")

    def __init__(self, maxsize: int = 10_000, overflow: OverflowPolicy = "drop_oldest") -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        if overflow not in _POLICIES:
            raise ValueError(f"overflow must be one of {', '.join(_POLICIES)}")
        self.maxsize = maxsize
        self.overflow: OverflowPolicy = overflow
        self.dropped = 0
        self._items: deque[T] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._error: BaseException | None = None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, item: T) -> bool:
        """Queue ``item``; False when it overflowed under the ``"disconnect"`` policy."""
        items = self._items
        if len(items) >= self.maxsize:
            self.dropped += 1
            policy = self.overflow
            if policy != "drop_oldest":
                return policy == "drop_newest"  # the item is dropped; False asks to disconnect
            items.popleft()
        items.append(item)
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break
        return True

    def get_nowait(self) -> T:
        """The next item; raises ``IndexError`` when empty (or the close reason when closed)."""
        if self._items:
            return self._items.popleft()
        if self._closed and self._error is not None:
            raise self._error
        raise IndexError("queue is empty")

    async def get(self, timeout: float | None = None) -> T:
        """The next item, waiting up to ``timeout`` seconds (``TimeoutError`` after that).

        Raises :class:`ConnectionLostError` (or the connection's own error when it was lost)
        once the queue is closed and empty.
        """
        if self._items:  # the common case, without a timeout context
            return self._items.popleft()
        async with asyncio.timeout(timeout):
            while not self._items:
                if self._closed:
                    raise self._error or ConnectionLostError("the connection is closed")
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                except BaseException:
                    if not waiter.done():
                        waiter.cancel()
                    elif self._items:  # we were woken but are leaving: wake the next reader
                        self._wake_one()
                    raise
        return self._items.popleft()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self, error: BaseException | None = None) -> None:
        """No more items will come; readers finish what is queued, then stop (or get ``error``)."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def reopen(self) -> None:
        """Accept items again (a connection was restored)."""
        self._closed = False
        self._error = None

    def clear(self) -> None:
        self._items.clear()

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._items:
            return self._items.popleft()
        if self._closed and self._error is None:
            raise StopAsyncIteration
        try:
            return await self.get()
        except ConnectionLostError:
            if self._error is None:
                raise StopAsyncIteration from None
            raise
