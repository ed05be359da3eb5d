"""The console's history file, with fs_cli's rules (libedit's ``H_SETSIZE 800`` and
``H_SETUNIQUE``) applied to prompt_toolkit's file format.

prompt_toolkit's ``FileHistory`` appends forever and reads the whole file at start; here
at most :data:`HISTORY_SIZE` entries are read, the file is rewritten with the newest ones
when it holds twice that, and a line equal to the one before it is not stored again.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit.history import FileHistory

__all__ = ["HISTORY_SIZE", "ConsoleHistory"]

HISTORY_SIZE = 800


class ConsoleHistory(FileHistory):
    def __init__(self, path: Path, size: int = HISTORY_SIZE) -> None:
        super().__init__(str(path))
        self.path = path
        self.size = size
        self._last: str | None = None

    def load_history_strings(self) -> Iterable[str]:
        newest_first = list(super().load_history_strings())
        if len(newest_first) > 2 * self.size:
            self._rewrite(newest_first[: self.size])
        if newest_first and self._last is None:
            self._last = newest_first[0]
        return newest_first[: self.size]

    def append_string(self, string: str) -> None:
        if string == self._last:
            return
        self._last = string
        super().append_string(string)

    def _rewrite(self, newest_first: list[str]) -> None:
        """Replace the file by one holding ``newest_first`` (atomically: a crash leaves the
        old file)."""
        stamp = datetime.datetime.now()
        parts: list[str] = []
        for string in reversed(newest_first):
            parts.append(f"\n# {stamp}\n")
            parts.extend(f"+{line}\n" for line in string.split("\n"))
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text("".join(parts), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
