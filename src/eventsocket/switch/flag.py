"""A small asyncio.Event: what a session waits on, at a fraction of its memory.

A session holds half a dozen of these for its whole life (signal, state change, hangup,
destroy...), and with 10,000 parked calls the empty waiter deques of ``asyncio.Event``
(about 600 bytes each) were the largest part of a call's memory. ``Flag`` keeps the same
behaviour (``set``/``clear``/``is_set``/``wait``; waiters woken by ``set`` even if it is
cleared again before they run) with slots and a waiter list made only while someone waits.
"""

from __future__ import annotations

import asyncio


class Flag:
    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[bool]] | None = None

    def __repr__(self) -> str:
        waiting = len(self._waiters) if self._waiters else 0
        return f"<Flag {'set' if self._value else 'unset'}{f', waiters:{waiting}' if waiting else ''}>"

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        """Set the flag and wake every waiter."""
        if not self._value:
            self._value = True
            for fut in self._waiters or ():
                if not fut.done():
                    fut.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        """Return at once if set, else when :meth:`set` is next called."""
        if self._value:
            return True
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        waiters = self._waiters
        if waiters is None:
            waiters = self._waiters = []
        waiters.append(fut)
        try:
            await fut
            return True
        finally:
            waiters.remove(fut)
            if not waiters and self._waiters is waiters:
                self._waiters = None
