"""``${var}`` expansion as FreeSWITCH's ``switch_channel_expand_variables`` does it.

Supported: ``${name}`` (channel variable, then global), ``$${name}`` (global),
``${name:offset[:length]}`` substrings, nested ``${${inner}}``, and API calls in
``${command args}`` / ``${command(args)}`` form. Unknown names expand to nothing.
"""

from __future__ import annotations

from collections.abc import Callable

VarLookup = Callable[[str], str | None]
ApiRunner = Callable[[str, str], str]


def _find_close(text: str, start: int) -> int:
    """Index of the ``}`` matching the ``{`` just before ``start``, or -1."""
    depth = 1
    i = start
    while i < len(text):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _substring(value: str, spec: list[str]) -> str:
    try:
        offset = int(spec[0])
        length = int(spec[1]) if len(spec) > 1 and spec[1] else None
    except ValueError:
        return value
    if offset < 0:
        offset = max(0, len(value) + offset)
    piece = value[offset:]
    if length is not None:
        piece = piece[:length]
    return piece


def expand(
    text: str,
    lookup: VarLookup,
    global_lookup: VarLookup,
    run_api: ApiRunner | None = None,
    depth: int = 0,
) -> str:
    """Expand every ``${...}`` in ``text``."""
    if "$" not in text or depth > 16:
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        is_global = text.startswith("$${", i)
        if ch == "$" and (is_global or text.startswith("${", i)):
            open_at = i + (3 if is_global else 2)
            close = _find_close(text, open_at)
            if close < 0:
                out.append(text[i:])
                break
            inner = expand(text[open_at:close], lookup, global_lookup, run_api, depth + 1)
            out.append(_resolve(inner, is_global, lookup, global_lookup, run_api))
            i = close + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _resolve(
    inner: str, is_global: bool, lookup: VarLookup, global_lookup: VarLookup, run_api: ApiRunner | None
) -> str:
    if is_global:
        return global_lookup(inner) or ""
    paren = inner.find("(")
    space = inner.find(" ")
    if paren > 0 and inner.endswith(")") and (space < 0 or paren < space):
        return run_api(inner[:paren], inner[paren + 1 : -1]) if run_api else ""
    if space > 0:
        return run_api(inner[:space], inner[space + 1 :].strip()) if run_api else ""
    name, *spec = inner.split(":")
    value = lookup(name)
    if value is None:
        value = global_lookup(name)
    if value is None:
        return ""
    return _substring(value, spec) if spec else value
