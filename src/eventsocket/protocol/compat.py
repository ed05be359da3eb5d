"""FreeSWITCH-compatible helpers: the C library and switch_utils functions its parsing relies on.

FreeSWITCH reads numbers with C's ``atoi`` and booleans with ``switch_true``; a value that
means something to FreeSWITCH must mean the same here ("8021abc" is 8021, "1.5" is true,
"0.9" is false, "TRUE" is true, " yes" is false). Every layer (protocol, client, server,
switch) uses these, so each rule is written once.

Sources: ``src/include/switch_utils.h`` (``switch_true``, ``switch_false``) and
``src/switch_utils.c`` (``switch_is_number``, ``switch_is_leading_number``,
``switch_is_uint_in_range``) in FreeSWITCH; glibc for ``atoi``/``atol``/``atof``.
"""

from __future__ import annotations

import re

__all__ = [
    "ATOI_MAX",
    "ATOI_MIN",
    "atof",
    "atoi",
    "switch_false",
    "switch_is_leading_number",
    "switch_is_number",
    "switch_is_uint_in_range",
    "switch_true",
]

# strtol saturates at LONG_MAX / LONG_MIN (64-bit) instead of overflowing.
ATOI_MAX = 2**63 - 1
ATOI_MIN = -(2**63)

# C's isspace() in the "C" locale, then an optional sign, then ASCII digits (never Unicode ones).
_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?)0*([0-9]+)", re.ASCII)
_ATOF = re.compile(r"[ \t\n\v\f\r]*([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)", re.ASCII)
_IS_NUMBER = re.compile(r"[+-]?[0-9.]*", re.ASCII)
_LEADING_NUMBER = re.compile(r"[+-]?[^0-9.]*[0-9.]", re.ASCII)
_UINT = re.compile(r"[0-9]+", re.ASCII)

_TRUE_WORDS = frozenset({"yes", "on", "true", "t", "enabled", "active", "allow"})
_FALSE_WORDS = frozenset({"no", "off", "false", "f", "disabled", "inactive", "disallow"})


def atoi(text: str) -> int:
    """C's ``atoi``: leading blanks, an optional sign, ASCII digits; no digits gives 0.

    ``"8021abc"`` is 8021, ``"abc"`` and ``""`` are 0, ``" -7"`` is -7. Out-of-range values
    saturate as ``strtol`` does (which also keeps ``int()`` away from huge digit strings).
    """
    match = _ATOI.match(text)
    if match is None:
        return 0
    digits = match.group(2)
    negative = match.group(1) == "-"
    if len(digits) > 19:
        return ATOI_MIN if negative else ATOI_MAX
    value = int(digits)
    if negative:
        return max(-value, ATOI_MIN)
    return min(value, ATOI_MAX)


def atof(text: str) -> float:
    """C's ``atof`` for decimal notation: the leading number, 0.0 when there is none."""
    match = _ATOF.match(text)
    return float(match.group(1)) if match else 0.0


def switch_is_number(text: str) -> bool:
    """``switch_is_number()``: an optional sign, then only digits and dots.

    As in FreeSWITCH, the empty string, a lone sign and ``"1.2.3"`` count as numbers.
    """
    return _IS_NUMBER.fullmatch(text) is not None


def switch_is_leading_number(text: str) -> bool:
    """``switch_is_leading_number()``: after an optional sign, a digit or dot occurs somewhere."""
    return _LEADING_NUMBER.match(text) is not None


def switch_is_uint_in_range(text: str | None, low: int, high: int) -> bool:
    """``switch_is_uint_in_range()``: only ASCII digits, and ``low <= atoi(text) <= high``."""
    if not text or low > high or _UINT.fullmatch(text) is None:
        return False
    return low <= atoi(text) <= high


def switch_true(value: str | None) -> bool:
    """``switch_true()``: the truth test of every boolean parameter and variable.

    True for ``yes``, ``on``, ``true``, ``t``, ``enabled``, ``active``, ``allow`` in any case,
    and for a :func:`switch_is_number` whose :func:`atoi` is not zero: ``"1"`` and ``"1.5"``
    are true; ``"0.9"``, ``""``, ``" yes"`` and ``None`` are false. No trimming, as in C.
    """
    if value is None:
        return False
    if value.lower() in _TRUE_WORDS:
        return True
    return _IS_NUMBER.fullmatch(value) is not None and atoi(value) != 0


def switch_false(value: str | None) -> bool:
    """``switch_false()``: explicitly false, which is not the same as "not true".

    True for ``no``, ``off``, ``false``, ``f``, ``disabled``, ``inactive``, ``disallow`` in any
    case and for a :func:`switch_is_number` whose :func:`atoi` is zero (including ``""``);
    ``None`` and unknown words are neither true nor false.
    """
    if value is None:
        return False
    if value.lower() in _FALSE_WORDS:
        return True
    return _IS_NUMBER.fullmatch(value) is not None and atoi(value) == 0
