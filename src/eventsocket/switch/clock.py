"""Where the switch core reads time from.

Everything in the core that waits (sleeps, playbacks, ring timers, heartbeats) goes
through a :class:`Clock`, so the same code runs on real time in production and on
virtual time in tests, where a 30-second call completes at once.
"""

from __future__ import annotations

import asyncio
import time


class Clock:
    """Real time: wall clock for timestamps, the event loop for waiting."""

    def time(self) -> float:
        """Seconds since the epoch (for timestamps such as Event-Date-Timestamp)."""
        return time.time()

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps (for durations and uptime)."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def sleep_periodic(self, seconds: float) -> None:
        """Sleep between two runs of periodic work (the HEARTBEAT).

        The same as :meth:`sleep` on real time; on virtual time such a wait alone never
        makes the clock jump, so an idle switch does not race through its heartbeats.
        """
        await self.sleep(seconds)

    def call_later(self, seconds: float, callback: object, *args: object) -> asyncio.TimerHandle:
        """Schedule ``callback`` after ``seconds`` on this clock."""
        loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, seconds), callback, *args)  # type: ignore[arg-type]
