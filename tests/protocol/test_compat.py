"""The FreeSWITCH-compatible helpers behave as the C functions they copy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventsocket.protocol.compat import (
    ATOI_MAX,
    ATOI_MIN,
    atof,
    atoi,
    switch_false,
    switch_is_leading_number,
    switch_is_number,
    switch_is_uint_in_range,
    switch_true,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("8021abc", 8021),
        ("  -7x", -7),
        ("+8", 8),
        ("abc", 0),
        ("", 0),
        ("- 1", 0),
        ("\t\n\v\f\r12", 12),
        ("\u00a05", 0),  # isspace() of the C locale knows ASCII blanks only
        ("\u0665", 0),  # nor Unicode digits
        ("0009", 9),
        ("1" * 40, ATOI_MAX),
        ("-" + "1" * 40, ATOI_MIN),
        ("9223372036854775808", ATOI_MAX),
        ("-9223372036854775808", ATOI_MIN),
    ],
)
def test_atoi(text: str, value: int) -> None:
    assert atoi(text) == value


@given(st.integers(min_value=ATOI_MIN, max_value=ATOI_MAX), st.text(alphabet="x. -"))
def test_atoi_reads_the_leading_integer(number: int, tail: str) -> None:
    assert atoi(f"{number}{tail}") == number


@pytest.mark.parametrize(
    ("text", "value"), [("1.5s", 1.5), (" -2e3", -2000.0), (".5", 0.5), ("x", 0.0), ("", 0.0)]
)
def test_atof(text: str, value: float) -> None:
    assert atof(text) == value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", True),
        ("-1.5", True),
        ("1.2.3", True),
        ("", True),
        ("+", True),
        ("1a", False),
        (" 1", False),
        ("--1", False),
    ],
)
def test_switch_is_number(text: str, expected: bool) -> None:
    assert switch_is_number(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"), [("abc1", True), ("-x.", True), ("+", False), ("", False), ("abc", False)]
)
def test_switch_is_leading_number(text: str, expected: bool) -> None:
    assert switch_is_leading_number(text) is expected


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ("5", 1, 10, True),
        ("0", 1, 10, False),
        ("11", 1, 10, False),
        ("-5", 0, 10, False),
        ("", 0, 1, False),
        (None, 0, 1, False),
        ("5", 10, 1, False),
    ],
)
def test_switch_is_uint_in_range(text: str | None, low: int, high: int, expected: bool) -> None:
    assert switch_is_uint_in_range(text, low, high) is expected


@pytest.mark.parametrize(
    "word", ["yes", "YES", "on", "True", "t", "T", "enabled", "active", "allow", "1", "1.5", "-3", "07"]
)
def test_switch_true(word: str) -> None:
    assert switch_true(word)
    assert not switch_false(word)


@pytest.mark.parametrize(
    "word", ["no", "OFF", "false", "f", "disabled", "inactive", "disallow", "0", "0.9", "", "-0"]
)
def test_switch_false(word: str) -> None:
    assert switch_false(word)
    assert not switch_true(word)


@pytest.mark.parametrize("word", [None, " yes", "yes ", "maybe", "1a", "y", "\u0131"])
def test_neither_true_nor_false(word: str | None) -> None:
    # no trimming and no partial words, as strcasecmp() and switch_is_number() have it
    assert not switch_true(word)
    assert not switch_false(word)
