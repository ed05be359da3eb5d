"""Date and time conditions of the XML dialplan, as ``switch_xml_std_datetime_check`` tests them.

``year``, ``yday``, ``mon``, ``mday``, ``week``, ``mweek``, ``wday``, ``hour``, ``minute``,
``minute-of-day``, ``time-of-day``, ``date-time``, ``tz-offset`` and ``dst``, with
FreeSWITCH's range syntax (``1-5``, ``mon-fri``, ``09:00-17:30``, lists, wrap-around) and
its quirks, in the zone the channel asks for.
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from eventsocket.protocol.compat import atoi, switch_is_number, switch_true

__all__ = ["datetime_check", "local_now"]

log = logging.getLogger("eventsocket.dialplan")


_TIME_ATTRS = (
    "date-time",
    "year",
    "yday",
    "mon",
    "mday",
    "week",
    "mweek",
    "wday",
    "hour",
    "minute",
    "minute-of-day",
    "time-of-day",
    "tz-offset",
    "dst",
)
_DOW = {"sun": 1, "mon": 2, "tue": 3, "wed": 4, "thu": 5, "fri": 6, "sat": 7}
_DOW_EOF, _DOW_ERR, _DOW_COMMA, _DOW_HYPHEN = -1, -2, ord(","), ord("-")


def _strtol(text: str, start: int) -> tuple[int, int]:
    """C's strtol(text + start, &end, 10): the value and the index where parsing stopped."""
    i = start
    while i < len(text) and text[i] in " \t\n\v\f\r":
        i += 1
    sign = 1
    if i < len(text) and text[i] in "+-":
        sign = -1 if text[i] == "-" else 1
        i += 1
    digits_at = i
    while i < len(text) and "0" <= text[i] <= "9":
        i += 1
    if i == digits_at:
        return 0, start
    return sign * int(text[digits_at:i]), i


def _number_cmp(expression: str, value: int) -> bool:
    """switch_number_cmp(): a comma list of numbers and ranges; ``18-8`` wraps around."""
    i = 0
    while True:
        low, i = _strtol(expression, i)
        if i < len(expression) and expression[i] == "-":
            high, i = _strtol(expression, i + 1)
            if (low <= value <= high) if low <= high else (value >= low or value <= high):
                return True
        elif low == value:
            return True
        if i >= len(expression) or expression[i] != ",":
            return False
        i += 1


def _dow_cmp(expression: str, value: int) -> bool:
    """switch_dow_cmp(): days as ``1``-``7`` (Sunday is 1) or ``sun``..``sat``, lists and ranges."""
    prev = range_start = _DOW_EOF
    i = 0
    while i < len(expression):
        ch = expression[i]
        if ch == "-":
            cur, i = _DOW_HYPHEN, i + 1
        elif ch == ",":
            cur, i = _DOW_COMMA, i + 1
        elif "1" <= ch <= "7":
            cur, i = int(ch), i + 1
        elif expression[i : i + 3].lower() in _DOW:
            cur, i = _DOW[expression[i : i + 3].lower()], i + 3
        else:
            log.error("Parse error for [%s] at position %d", expression, i)
            break
        if cur == _DOW_COMMA:
            cur = _DOW_EOF
        elif cur == _DOW_HYPHEN:
            range_start = prev
        elif range_start != _DOW_EOF:
            inside = (
                range_start <= value <= cur if range_start <= cur else value >= range_start or value <= cur
            )
            if inside:
                return True
            range_start = _DOW_EOF
        elif value == cur:
            return True
        prev = cur
    return False


def _tod_cmp(expression: str, value: int) -> bool:
    """switch_tod_cmp(): comma list of ``hh:mm[:ss]-hh:mm[:ss]`` ranges, ends included, may wrap."""
    for item in expression.split(","):
        hour, colon, rest = item.partition(":")
        dash = rest.find("-")
        if not colon or dash < 0:
            continue
        upper = rest[dash + 1 :]
        max_hour, colon, max_rest = upper.partition(":")
        if not colon:
            continue
        minute, _, second = rest[:dash].partition(":")
        max_minute, _, max_second = max_rest.partition(":")
        start = atoi(hour) * 3600 + atoi(minute) * 60 + atoi(second or "00")
        end = atoi(max_hour) * 3600 + atoi(max_minute) * 60 + atoi(max_second or "00")
        if (start <= value <= end) if start <= end else (value >= start or value <= end):
            return True
    return False


def _parse_datetime(text: str, zone: tzinfo | None) -> datetime | None:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=zone)
        except ValueError:
            continue
    return None


def _fulldate_cmp(expression: str, now: datetime) -> bool:
    """switch_fulldate_cmp(): comma list of ``YYYY-MM-DD HH:MM:SS~YYYY-MM-DD HH:MM:SS`` spans,
    start included, end excluded, read in local time."""
    for item in expression.split(","):
        start_text, tilde, end_text = item.partition("~")
        if not tilde:
            continue
        start = _parse_datetime(start_text, now.tzinfo)
        end = _parse_datetime(end_text, now.tzinfo)
        if start is None or end is None:
            log.error("Parse error for date time range (%s~%s)", start_text, end_text)
            break
        if start <= now < end:
            return True
    return False


def _c_mod(a: int, b: int) -> int:
    """C's ``%``, whose result takes the sign of the dividend."""
    return int(math.fmod(a, b))


def local_now() -> datetime:
    return datetime.now().astimezone()


def datetime_check(element: ET.Element, variables: Mapping[str, str], now: datetime) -> int:
    """switch_xml_std_datetime_check(): -1 without time attributes, else 1 (pass) or 0.

    The time is read in the zone the channel asks for: ``tod_tz_offset`` (hours from UTC)
    or ``timezone`` (a zone name), else local time. ``dst`` compares with local time, and
    ``dst="false"`` never passes, as in FreeSWITCH. ``now`` is the switch's time (injectable,
    so tests and virtual-time runs are deterministic).
    """
    attrs = {name: element.get(name) for name in _TIME_ATTRS}
    if all(value is None for value in attrs.values()):
        return -1
    local = now
    if local.tzinfo is None:
        local = local.astimezone()
    offset: int | None = None
    tz_offset_var = variables.get("tod_tz_offset")
    if tz_offset_var and switch_is_number(tz_offset_var):
        offset = atoi(tz_offset_var)
    tm = local
    if offset is not None:
        tm = local.astimezone(timezone(timedelta(hours=offset)))
    elif variables.get("timezone"):
        try:
            tm = local.astimezone(ZoneInfo(variables["timezone"]))
        except (ValueError, OSError):
            log.error("Invalid timezone %s", variables["timezone"])
    gmtoff = tm.utcoffset() or timedelta()
    effective = offset if offset is not None else int(gmtoff.total_seconds() / 3600)

    match = True
    tz_offset = attrs["tz-offset"]
    if tz_offset is not None:
        wanted = atoi(tz_offset) if tz_offset and switch_is_number(tz_offset) else effective
        match = wanted == effective
    dst = attrs["dst"]
    if match and dst:
        match = bool(local.dst()) and switch_true(dst)
    yday = tm.timetuple().tm_yday
    wday = (tm.weekday() + 1) % 7  # C's tm_wday: Sunday is 0
    checks: list[tuple[str, Callable[[str], bool]]] = [
        ("date-time", lambda e: _fulldate_cmp(e, local)),
        ("year", lambda e: _number_cmp(e, tm.year)),
        ("yday", lambda e: _number_cmp(e, yday)),
        ("mon", lambda e: _number_cmp(e, tm.month)),
        ("mday", lambda e: _number_cmp(e, tm.day)),
        ("week", lambda e: _number_cmp(e, (yday - 1) // 7 + 1)),
        ("mweek", lambda e: _number_cmp(e, _week_of_month(tm.day, wday))),
        ("wday", lambda e: _dow_cmp(e, wday + 1)),
        ("hour", lambda e: _number_cmp(e, tm.hour)),
        ("minute", lambda e: _number_cmp(e, tm.minute)),
        ("minute-of-day", lambda e: _number_cmp(e, tm.hour * 60 + tm.minute + 1)),
        ("time-of-day", lambda e: _tod_cmp(e, tm.hour * 3600 + tm.minute * 60 + tm.second)),
    ]
    for name, check in checks:
        expression = attrs[name]
        if match and expression is not None:
            match = check(expression)
    return 1 if match else 0


def _week_of_month(mday: int, wday: int) -> int:
    """The ``mweek`` of a day (1-6), as switch_xml_std_datetime_check() computes it."""
    first_dow = _c_mod(7 - _c_mod(mday - (wday + 1), 7), 7)
    return math.ceil((mday + first_dow) / 7.0)
