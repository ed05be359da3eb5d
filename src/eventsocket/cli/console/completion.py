"""Tab completion: API command names from the connected server's ``show api``, channel
uuids (from ``show channels``) for ``uuid_*`` commands, and the slash commands.

The names come from the server the console is connected to, so completion offers what
that server has (a FreeSWITCH with mod_sofia offers ``sofia``; eventsocket does not).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator

import orjson
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from eventsocket.client import ESLError, InboundConnection

__all__ = ["SLASH_COMMANDS", "ConsoleCompleter", "parse_console_complete", "parse_show_api", "parse_uuids"]

SLASH_COMMANDS = (
    "/help", "/exit", "/quit", "/bye", "/event", "/noevents", "/nixevent", "/log", "/nolog",
    "/filter", "/uuid", "/logfilter", "/debug", "/bgapi", "/summary",
)
LOG_LEVELS = ("console", "alert", "crit", "err", "warning", "notice", "info", "debug")
FORMATS = ("plain", "json", "xml")
UUID_TTL = 2.0  # seconds a list of channels stays fresh while the user presses Tab


def _event_names() -> tuple[str, ...]:
    from eventsocket.switch.eventtypes import EVENT_NAMES

    return ("ALL", *EVENT_NAMES)


def parse_show_api(body: str) -> dict[str, str]:
    """``show api as json`` -> {name: syntax}; also reads the CSV form, by its first column."""
    text = body.strip()
    if text.startswith("{"):
        try:
            rows = orjson.loads(text).get("rows") or []
        except (orjson.JSONDecodeError, AttributeError):
            return {}
        return {str(r["name"]): str(r.get("syntax") or "")
                for r in rows if isinstance(r, dict) and r.get("name")}
    names: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        if "," in line:
            names.setdefault(line.split(",", 1)[0], "")
    return names


def parse_uuids(body: str) -> list[str]:
    """Channel uuids from ``show channels as json`` (``{"row_count": 0}`` when none)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return []
    rows = data.get("rows") if isinstance(data, dict) else None
    return [str(r["uuid"]) for r in rows or [] if isinstance(r, dict) and r.get("uuid")]


_MATCH = re.compile(r"\[ *([^\]\t]+)\]\t")


def parse_console_complete(body: str) -> list[str]:
    """The candidates of FreeSWITCH's ``console_complete`` API: each printed as
    ``[%20s]\\t`` (four to a line), then a blank line and ``write=<len>:<text>``."""
    head = body.split("\n\nwrite=", 1)[0]
    return [m.strip() for m in _MATCH.findall(head) if m.strip()]


def _first_words(syntax: str) -> list[str]:
    """``codec|endpoint|calls [count]|...`` -> the alternatives' first words (no ``<...>``)."""
    words: list[str] = []
    for alt in syntax.split("|"):
        word = alt.strip().split(" ", 1)[0] if alt.strip() else ""
        if word and word[0] not in "<[" and word not in words:
            words.append(word)
    return words


class ConsoleCompleter(Completer):
    """Completes from the server; the API names are fetched once per connection."""

    def __init__(self, connection: Callable[[], InboundConnection | None]) -> None:
        self._connection = connection
        self.api: dict[str, str] = {}
        self._uuids: list[str] = []
        self._uuids_at = -UUID_TTL

    async def refresh(self) -> None:
        """Read ``show api`` from the server (after each (re)connection)."""
        conn = self._connection()
        if conn is None:
            return
        try:
            response = await conn.api("show api as json", timeout=10.0)
        except (ESLError, OSError):
            return
        self.api = parse_show_api(response.body)

    async def uuids(self) -> list[str]:
        now = time.monotonic()
        conn = self._connection()
        if conn is not None and now - self._uuids_at >= UUID_TTL:
            try:
                response = await conn.api("show channels as json", timeout=5.0)
            except (ESLError, OSError):
                return self._uuids
            self._uuids = parse_uuids(response.body)
            self._uuids_at = now
        return self._uuids

    def _static(self, words: list[str], current: str) -> Iterable[str] | None:
        """Candidates that need no request; None when the server must be asked (uuids)."""
        if not words:
            if current.startswith("/"):
                return SLASH_COMMANDS
            return sorted(self.api)
        head = words[0].lower()
        if head == "/log" and len(words) == 1:
            return LOG_LEVELS
        if head == "/event":
            return FORMATS + _event_names() if len(words) == 1 else _event_names()
        if head == "/nixevent":
            return _event_names()
        if head == "/debug" and len(words) == 1:
            return tuple(str(i) for i in range(8))
        if head == "/summary" and len(words) == 1:
            return ("on", "off")
        if head == "/bgapi":
            return self._static(words[1:], current)
        if head == "/uuid" and len(words) == 1:
            return None
        if head.startswith("uuid_") and len(words) == 1:
            return None
        if len(words) == 1 and head in self.api:
            return _first_words(self.api[head])
        return ()

    @staticmethod
    def _split(document: Document) -> tuple[list[str], str]:
        text = document.text_before_cursor.lstrip(" ")
        parts = text.split(" ")
        return [p for p in parts[:-1] if p], parts[-1]

    @staticmethod
    def _matches(candidates: Iterable[str], current: str) -> Iterator[Completion]:
        low = current.lower()
        for word in candidates:
            if word.lower().startswith(low):
                yield Completion(word, start_position=-len(current))

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        words, current = self._split(document)
        found = self._static(words, current)
        yield from self._matches(self._uuids if found is None else found, current)

    async def server_complete(self, text: str) -> list[str]:
        """Ask a FreeSWITCH (which has ``console_complete``: the completion its own console
        and fs_cli use, with its tables of profiles, gateways...) for the word being typed."""
        conn = self._connection()
        if conn is None or "console_complete" not in self.api:
            return []
        try:
            response = await conn.api("console_complete", text, timeout=5.0)  # keeps a trailing blank
        except (ESLError, OSError):
            return []
        return parse_console_complete(response.body)

    async def get_completions_async(self, document: Document,
                                    complete_event: CompleteEvent) -> AsyncGenerator[Completion, None]:
        words, current = self._split(document)
        found = self._static(words, current)
        if found is None:
            found = await self.uuids()
        elif words and not words[0].startswith("/"):
            # a command's arguments: the server's own completion when it has one
            found = await self.server_complete(document.text_before_cursor.lstrip(" ")) or found
        for completion in self._matches(found, current):
            yield completion
