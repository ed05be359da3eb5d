"""The switch's counters: sessions (``status``, HEARTBEAT, ``show status``) and idle CPU.

Kept apart from the core so that the numbers FreeSWITCH reports are computed in one place:
the call layer counts sessions in and out, the core and the ``status`` command read them.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class SessionStats:
    """The counters that ``status`` and HEARTBEAT report; the call layer keeps them current."""

    count: int = 0
    since_startup: int = 0
    peak: int = 0
    peak_five_min: int = 0
    max_sessions: int = 1000
    sps_max: int = 30
    sps_peak: int = 0
    sps_peak_five_min: int = 0
    _created: deque[float] = field(default_factory=deque)

    def session_created(self, now: float) -> None:
        self.count += 1
        self.since_startup += 1
        self.peak = max(self.peak, self.count)
        self.peak_five_min = max(self.peak_five_min, self.count)
        self._created.append(now)
        sps = self.sps(now)
        self.sps_peak = max(self.sps_peak, sps)
        self.sps_peak_five_min = max(self.sps_peak_five_min, sps)

    def session_destroyed(self) -> None:
        self.count = max(0, self.count - 1)

    def sps(self, now: float) -> int:
        """Sessions created in the last second."""
        created = self._created
        while created and created[0] < now - 1.0:
            created.popleft()
        return len(created)


class CpuMeter:
    """Idle CPU percentage of this process's share of one core, measured between calls."""

    def __init__(self) -> None:
        self._wall = time.monotonic()
        self._cpu = time.process_time()
        self.idle = 100.0

    def sample(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        dt = wall - self._wall
        if dt >= 0.5:
            busy = (cpu - self._cpu) / dt * 100.0
            self.idle = max(0.0, min(100.0, 100.0 - busy))
            self._wall, self._cpu = wall, cpu
        return self.idle
