"""FreeSWITCH's URL encoding of plain-event header values (``switch_url_encode``).

The rule is not RFC 3986: a fixed set of ASCII punctuation is encoded, every byte
outside 0x20..0x7E is encoded, hex is uppercase, and an existing ``%XX`` escape with
*uppercase* hex digits is copied through so that an already-encoded value is not
encoded twice. Clients decode with ordinary percent-decoding.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_SPECIAL = set(b'\r\n #%&+:;<=>?@[\\]^`{|}"')
_HEX_UPPER = set(b"0123456789ABCDEF")

# One table of the output for every byte; "%" is handled apart because of the escape rule.
_TABLE: list[str] = [f"%{b:02X}" if (b < 0x20 or b > 0x7E or b in _SPECIAL) else chr(b) for b in range(256)]
_SAFE_RE = re.compile(r"[A-Za-z0-9!$'()*,\-./_~]*\Z")


def url_encode(value: str) -> str:
    """Encode ``value`` exactly as FreeSWITCH does for ``text/event-plain``."""
    if _SAFE_RE.match(value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    out: list[str] = []
    append = out.append
    table = _TABLE
    n = len(data)
    i = 0
    while i < n:
        b = data[i]
        if b == 0x25 and i + 2 < n and data[i + 1] in _HEX_UPPER and data[i + 2] in _HEX_UPPER:
            append("%")
        else:
            append(table[b])
        i += 1
    return "".join(out)


def url_decode(value: str) -> str:
    """Percent-decode a value (what every ESL client does with plain events)."""
    if "%" not in value:
        return value
    return unquote(value, errors="surrogateescape")
