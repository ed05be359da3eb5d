"""FreeSWITCH's URL encoding of plain-event header values (``switch_url_encode``).

The rule is not RFC 3986: a fixed set of ASCII punctuation is encoded, every byte
outside 0x20..0x7E is encoded, hex is uppercase, and an existing ``%XX`` escape with
*uppercase* hex digits is copied through so that an already-encoded value is not
encoded twice. Clients decode with ordinary percent-decoding (:func:`url_decode`, the
one decoder of the project: clients, tests and the server's own parsers use it).
"""

from __future__ import annotations

import binascii
import re
from urllib.parse import unquote_to_bytes

_SPECIAL = frozenset(b"\r\n #%&+:;<=>?@[\\]^`{|}\"")
# Every code point 0..255 that must be written as %XX, except "%" (see the escape rule).
# Text is first turned into one code point per UTF-8 byte, so a single C-level
# str.translate encodes a whole value.
_TRANSLATE: dict[int, str] = {
    b: f"%{b:02X}" for b in range(256) if (b < 0x20 or b > 0x7E or b in _SPECIAL) and b != 0x25
}
_SAFE_RE = re.compile(r"[A-Za-z0-9!$'()*,\-./_~]*\Z")
_LONE_PERCENT = re.compile(r"%(?![0-9A-F]{2})")


_CACHE: dict[str, str] = {}
_CACHE_LIMIT = 1 << 16
#: url_encode's memo (value -> encoding; cleared in place, never replaced): hot loops look a
#: value up here first and call url_encode only on a miss.
ENCODED: dict[str, str] = _CACHE


def url_encode(value: str) -> str:
    """Encode ``value`` exactly as FreeSWITCH does for ``text/event-plain``.

    Event headers repeat the same values endlessly (Core-UUID, host names, channel
    names, states), so results are memoized in a bounded table.
    """
    cached = _CACHE.get(value)
    if cached is not None:
        return cached
    encoded = value
    if not _SAFE_RE.match(value):
        if not encoded.isascii():
            encoded = encoded.encode("utf-8", "surrogateescape").decode("latin-1")
        if "%" in encoded:
            encoded = _LONE_PERCENT.sub("%25", encoded)
        encoded = encoded.translate(_TRANSLATE)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[value] = encoded
    return encoded


def url_decode_bytes(data: bytes) -> bytes:
    """Percent-decode bytes, in C: ``%XX`` becomes ``=XX`` for ``binascii.a2b_qp`` (existing
    ``=`` escaped first). Every escape that decodes removes two bytes; any other outcome (a
    ``%`` not followed by two hex digits, a line break that quoted-printable would treat as
    special) falls back to the standard library's decoder. Both give the same bytes."""
    if b"%" not in data:
        return data
    if b"%\n" in data or b"%\r" in data or data.endswith(b"%"):
        return unquote_to_bytes(data)  # "=" there would be a quoted-printable soft line break
    escapes = data.count(b"%")
    quoted = data.replace(b"=", b"=3D") if b"=" in data else data
    out = binascii.a2b_qp(quoted.replace(b"%", b"="))
    if len(out) == len(data) - 2 * escapes and (b"\n" not in data or out.count(b"\n") == data.count(b"\n")):
        return out
    return unquote_to_bytes(data)


def url_decode(value: str) -> str:
    """Percent-decode a value, what every ESL client does with plain-event values.

    Decoding works on the UTF-8 bytes (undecodable bytes, in and out, are kept as
    surrogates), so ``%C3%A9`` is ``é`` and a lone ``%`` or ``%zz`` stays as it is.
    """
    if "%" not in value:
        return value
    return url_decode_bytes(value.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")
