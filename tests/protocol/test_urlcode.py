"""FreeSWITCH's url encoding of plain-event values (PROTOCOL.md §4.2)."""

from __future__ import annotations

import string

import pytest

from eventsocket.protocol.urlcode import url_decode, url_encode

ENCODED_PUNCTUATION = ' #%&+:;<=>?@[\\]^`{|}"'
PLAIN_PUNCTUATION = "!$'()*,-./_~"


def test_punctuation_lists_cover_printable_ascii() -> None:
    assert sorted(ENCODED_PUNCTUATION + PLAIN_PUNCTUATION) == sorted(string.punctuation + " ")


@pytest.mark.parametrize("char", list(ENCODED_PUNCTUATION))
def test_encoded_punctuation(char: str) -> None:
    assert url_encode(char) == f"%{ord(char):02X}"
    assert url_encode(f"a{char}b") == f"a%{ord(char):02X}b"


def test_encoded_punctuation_exact() -> None:
    assert url_encode(ENCODED_PUNCTUATION) == (
        "%20%23%25%26%2B%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D%22"
    )


@pytest.mark.parametrize("char", list(PLAIN_PUNCTUATION))
def test_plain_punctuation(char: str) -> None:
    assert url_encode(char) == char
    assert url_encode(f"x{char} ") == f"x{char}%20"


def test_letters_and_digits_unchanged() -> None:
    text = string.ascii_letters + string.digits
    assert url_encode(text) == text
    assert url_encode(text + " ") == text + "%20"


def test_control_bytes_uppercase_hex() -> None:
    assert url_encode("\t") == "%09"
    assert url_encode("\r\n") == "%0D%0A"
    assert url_encode("\x00\x01\x1f\x7f") == "%00%01%1F%7F"
    assert url_encode("a\tb") == "a%09b"


def test_every_byte_of_ascii() -> None:
    for code in range(0x80):
        char = chr(code)
        expected = char if (char.isalnum() or char in PLAIN_PUNCTUATION) else f"%{code:02X}"
        # a single % is never followed by hex digits, so it is always encoded
        assert url_encode(char) == expected, code


def test_utf8_bytes() -> None:
    assert url_encode("é") == "%C3%A9"
    assert url_encode("café au lait") == "caf%C3%A9%20au%20lait"
    assert url_encode("€") == "%E2%82%AC"
    assert url_encode("😀") == "%F0%9F%98%80"


def test_existing_uppercase_escape_kept() -> None:
    assert url_encode("100%25 %zz %2b") == "100%25%20%25zz%20%252b"
    assert url_encode("%2B") == "%2B"
    assert url_encode("%AF%09") == "%AF%09"
    assert url_encode("a%2") == "a%252"
    assert url_encode("%") == "%25"
    assert url_encode("%%41") == "%25%41"
    assert url_encode("%G1") == "%25G1"
    assert url_encode("%a1") == "%25a1"
    assert url_encode("%1a") == "%251a"
    assert url_encode("x%4") == "x%254"


def test_protocol_examples() -> None:
    assert url_encode("2026-11-28 17:02:05") == "2026-11-28%2017%3A02%3A05"
    assert url_encode("Sat, 28 Nov 2026 17:02:05 GMT") == "Sat,%2028%20Nov%202026%2017%3A02%3A05%20GMT"
    assert url_encode("fd00::2") == "fd00%3A%3A2"
    assert url_encode("my::sub") == "my%3A%3Asub"
    assert url_encode("ARRAY::one|:two") == "ARRAY%3A%3Aone%7C%3Atwo"
    assert url_encode("+OK\n") == "%2BOK%0A"


def test_surrogateescape_bytes() -> None:
    assert url_encode("\udcff") == "%FF"
    assert url_decode("%FF") == "\udcff"


def test_empty() -> None:
    assert url_encode("") == ""
    assert url_decode("") == ""


def test_url_decode() -> None:
    assert url_decode("2026-11-28%2017%3A02%3A05") == "2026-11-28 17:02:05"
    assert url_decode("caf%C3%A9") == "café"
    assert url_decode("%2bok%2B") == "+ok+"
    assert url_decode("a+b") == "a+b"
    assert url_decode("100%") == "100%"
    assert url_decode("%zz") == "%zz"
    assert url_decode("no escapes") == "no escapes"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain",
        "a b",
        "100% %zz %2b",
        "é€😀",
        "\t\r\n\x00",
        ENCODED_PUNCTUATION,
        PLAIN_PUNCTUATION,
        "%",
        "%2",
    ],
)
def test_decode_inverts_encode(text: str) -> None:
    assert url_decode(url_encode(text)) == text


def test_decode_does_not_invert_existing_escapes() -> None:
    # the no-double-encoding rule makes the encoding lossy for text that already holds %XX
    assert url_encode("%41") == "%41"
    assert url_decode(url_encode("%41")) == "A"
