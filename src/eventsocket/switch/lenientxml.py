"""XML parsing as lenient as FreeSWITCH's ezxml, and errors that name the guilty file.

FreeSWITCH's own parser accepts a bare ``&`` and a ``<`` inside an attribute value, and real
configurations rely on it; ElementTree does not, so such text is escaped before parsing.
When the assembled document is malformed anyway, :func:`blame` finds which included file
broke it, because "mismatched tag: line 412" of a document made of dozens of files is useless.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from eventsocket.switch.preprocessor import ConfigError, Output

_ENTITY = re.compile(r"&(?:#[0-9]+|#x[0-9a-fA-F]+|lt|gt|amp|quot|apos);")
_NAME_START = re.compile(r"[A-Za-z_:\x80-\U0010ffff/]")


def _lenient(text: str) -> str:
    """Make text that FreeSWITCH's parser accepts acceptable to ElementTree; lines are kept.

    FreeSWITCH's ezxml leaves a ``&`` that starts no known entity as a literal ``&`` and reads an
    attribute value up to its closing quote whatever it holds, so real configurations contain
    ``data="a=1&b=2"`` and regular expressions with ``<``. Those are escaped here; comments,
    CDATA and processing instructions are left alone. Nothing else is repaired.
    """
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "&":
            out.append("&" if _ENTITY.match(text, i) else "&amp;")
            i += 1
            continue
        if ch != "<":
            out.append(ch)
            i += 1
            continue
        for opener, closer in (("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>")):
            if text.startswith(opener, i):
                end = text.find(closer, i + len(opener))
                stop = n if end < 0 else end + len(closer)
                out.append(text[i:stop])
                i = stop
                break
        else:
            if i + 1 < n and _NAME_START.match(text, i + 1):
                i = _lenient_tag(text, i, out)
            else:
                out.append(ch)
                i += 1
    return "".join(out)


def _lenient_tag(text: str, i: int, out: list[str]) -> int:
    """Copy the tag starting at ``text[i] == "<"``, escaping ``<`` and bare ``&`` in its values."""
    n = len(text)
    out.append("<")
    i += 1
    quote = ""
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
                out.append(ch)
            elif ch == "<":
                out.append("&lt;")
            elif ch == "&":
                out.append("&" if _ENTITY.match(text, i) else "&amp;")
            else:
                out.append(ch)
        else:
            out.append(ch)
            if ch in "\"'":
                quote = ch
            elif ch == ">":
                return i + 1
        i += 1
    return i


def parse(text: str) -> ET.Element:
    """Parse ``text`` strictly first and, only if that fails, after :func:`_lenient` repairs."""
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        pass
    return ET.fromstring(_lenient(text))


_POSITION_SUFFIX = re.compile(r":\s*line \d+, column \d+$")


def _reason(exc: ET.ParseError) -> str:
    return _POSITION_SUFFIX.sub("", str(exc))


def blame(out: Output, order: list[str], exc: ET.ParseError) -> ConfigError:
    """Turn a parse error of the assembled document into an error naming the guilty file.

    Each source's own lines are parsed on their own first: the first source that is malformed by
    itself is the culprit (an unclosed tag is only noticed at the end of the whole document, far
    from the file that left it open). Failing that, the error line is mapped back to its origin.
    """
    for source in order:
        own = out.own.get(source)
        if not own:
            continue
        fragment = "<fragment>\n" + "\n".join(out.lines[i] for i in own) + "\n</fragment>"
        try:
            parse(fragment)
        except ET.ParseError as inner:
            row = inner.position[0] - 2
            row = min(max(row, 0), len(own) - 1)
            src, line = out.origins[own[row]]
            return ConfigError(f"{src}: malformed XML near line {line}: {_reason(inner)}")
    row = min(max(exc.position[0] - 1, 0), len(out.origins) - 1) if out.origins else -1
    if row < 0:
        return ConfigError(f"malformed configuration: {_reason(exc)}")
    src, line = out.origins[row]
    return ConfigError(f"{src}: malformed XML near line {line}: {_reason(exc)}")
