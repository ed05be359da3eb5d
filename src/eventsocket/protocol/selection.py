"""Which events a listener receives: filter matching and the ``myevents`` set (PROTOCOL.md §3.4, §4.6).

Both sides need the same rules: the server to select what it delivers, the client to
know what the server will let through (its own bgapi and execute tracking must not be
hidden by the application's filters). One implementation keeps them identical.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

# The event types ``myevents`` subscribes to.
MYEVENTS_TYPES: tuple[str, ...] = (
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
    "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
    "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
)  # fmt: skip

_REGEX_CACHE: dict[str, re.Pattern[str] | None] = {}


def filter_regex(value: str) -> re.Pattern[str] | None:
    """``/pattern/flags`` -> compiled regex (flags ``i``, ``s``); None when the closing slash is
    missing or the pattern is invalid, which FreeSWITCH treats as no match."""
    if value in _REGEX_CACHE:
        return _REGEX_CACHE[value]
    pattern: re.Pattern[str] | None = None
    end = value.rfind("/")
    if end > 0:
        flags = 0
        for flag in value[end + 1 :]:
            if flag == "i":
                flags |= re.IGNORECASE
            elif flag == "s":
                flags |= re.DOTALL
        try:
            pattern = re.compile(value[1:end], flags)
        except re.error:
            pattern = None
    if len(_REGEX_CACHE) > 4096:
        _REGEX_CACHE.clear()
    _REGEX_CACHE[value] = pattern
    return pattern


def filters_accept(filters: Sequence[tuple[str, str]], lookup: Callable[[str], str | None]) -> bool:
    """FreeSWITCH's filter walk; ``lookup`` finds an event header (any case). No filters: accept.

    The event starts rejected. Filters whose header the event lacks are ignored; a
    value's leading ``+``/``-``/spaces give its sign (the last one wins); once accepted,
    further positive filters are skipped; a stored value that itself starts with ``/``
    is a regex searched unanchored, anything else is compared case-insensitively (so
    ``-/re/`` is the literal text ``/re/``); a positive match accepts, a negative one
    rejects at once.
    """
    if not filters:
        return True
    accepted = False
    for header, stored in filters:
        actual = lookup(header)
        if actual is None:
            continue
        negative = False
        i = 0
        while i < len(stored) and stored[i] in "+- ":
            negative = stored[i] == "-" if stored[i] != " " else negative
            i += 1
        if accepted and not negative:
            continue
        if stored.startswith("/"):
            pattern = filter_regex(stored)
            matched = pattern is not None and pattern.search(actual) is not None
        else:
            matched = stored[i:].lower() == actual.lower()
        if matched:
            if negative:
                return False
            accepted = True
    return accepted


def delete_filters(filters: Sequence[tuple[str, str]], header: str, value: str | None = None,
                   ) -> list[tuple[str, str]]:
    """``filter delete``: the filters left after deleting ``header`` (any case) or only its
    pairs equal to ``value``; ``all`` as the header deletes every filter."""
    low = header.lower()
    if low == "all":
        return []
    return [(h, v) for h, v in filters if not (h.lower() == low and (value is None or v == value))]
