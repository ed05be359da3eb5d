"""The switch's log: levels, log lines, and their delivery to ``log`` subscribers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

LEVELS: dict[str, int] = {
    "console": 0,
    "alert": 1,
    "crit": 2,
    "err": 3,
    "warning": 4,
    "notice": 5,
    "info": 6,
    "debug": 7,
}
LEVEL_NAMES: dict[int, str] = {v: k.upper() for k, v in LEVELS.items()}
DISABLE = -1
DEBUG = 7
INFO = 6
NOTICE = 5
WARNING = 4
ERR = 3

# Text-Channel numbers of switch_text_channel_t
CHANNEL_LOG = 0
CHANNEL_LOG_CLEAN = 1
CHANNEL_EVENT = 2
CHANNEL_SESSION = 3


def level_from_text(text: str) -> int | None:
    """``switch_log_str2level``: a number (digits, "-" and "." as ``switch_is_number`` allows,
    read with atoi and clamped), or a level name in any case; None when invalid."""
    if text and all(ch in "-.0123456789" for ch in text):
        from eventsocket.protocol.compat import atoi

        value = atoi(text)
        return 63 if value > 64 else max(0, value)
    if text.lower() == "disable":
        return DISABLE
    return LEVELS.get(text.lower())


@dataclass(slots=True, frozen=True)
class LogLine:
    """One log message, formatted once; listeners choose by level."""

    level: int
    message: str
    file: str
    function: str
    line: int
    channel: int
    user_data: str
    timestamp: float
    idle_cpu: float
    clean: bool = False

    @property
    def text(self) -> str:
        """The line as FreeSWITCH sends it in a ``log/data`` body."""
        if self.clean:
            return self.message
        micros = int(self.timestamp * 1_000_000) % 1_000_000
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.timestamp))
        name = LEVEL_NAMES.get(self.level, "DEBUG")
        return f"{stamp}.{micros:06d} {self.idle_cpu:.2f}% [{name}] {self.file}:{self.line} {self.message}"


LogListener = Callable[[LogLine], None]
