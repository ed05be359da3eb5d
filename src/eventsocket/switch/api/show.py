"""``show``: FreeSWITCH's table output in CSV, JSON, XML or a custom delimiter.

Tables come from providers keyed by the ``show`` subcommand; the call layer adds
``channels`` and ``calls`` providers. The output shapes (header line only when there
are rows, the ``\\n<N> total.\\n`` footer, ``{"row_count": 0}\\n`` for an empty JSON
table) are FreeSWITCH's.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

import orjson

from eventsocket.switch.core import ApiCall, ShowProvider, SwitchCore, Table

SHOW_SYNTAX = (
    "codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|"
    "calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|"
    "nat_map|say|interfaces|interface_types|tasks|limits|status"
)


def _json_text(text: str) -> str:
    """``text`` as JSON can carry it: undecodable bytes become U+FFFD, as in events' JSON."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def format_count(count: int, fmt: str) -> str:
    """``show <what> count`` in each output format: the row count alone."""
    if fmt == "json":
        return orjson.dumps({"row_count": count, "rows": []}).decode() if count else '{"row_count": 0}\n'
    if fmt == "xml":
        return f'<result row_count="{count}">\n</result>\n' if count else '<result row_count="0"/>\n'
    return f"\n{count} total.\n"


def format_table(
    columns: Sequence[str], rows: list[list[str]], fmt: str, delim: str = ",", count_only: bool = False
) -> str:
    """Render rows the way ``show`` does for each output format."""
    if count_only:
        return format_count(len(rows), fmt)
    if fmt == "json":
        if not rows:
            return '{"row_count": 0}\n'
        items = [dict(zip(columns, row, strict=False)) for row in rows]
        try:
            return orjson.dumps({"row_count": len(rows), "rows": items}).decode()
        except TypeError:  # lone surrogates: bytes a client sent that were not UTF-8
            items = [{_json_text(k): _json_text(v) for k, v in item.items()} for item in items]
            return orjson.dumps({"row_count": len(rows), "rows": items}).decode()
    if fmt == "xml":
        if not rows:
            return '<result row_count="0"/>\n'
        parts = [f'<result row_count="{len(rows)}">\n']
        for index, row in enumerate(rows, 1):
            parts.append(f'  <row row_id="{index}">\n')
            parts += [f"    <{c}>{escape(v)}</{c}>\n" for c, v in zip(columns, row, strict=False)]
            parts.append("  </row>\n")
        parts.append("</result>\n")
        return "".join(parts)
    if not rows:
        return f"\n{len(rows)} total.\n"
    lines = [delim.join(columns)]
    lines += [delim.join(row) for row in rows]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


def _named_table(type_: str) -> ShowProvider:
    """``show api`` / ``show application``: rows with a description, optionally one name."""

    def provider(core: SwitchCore, args: list[str]) -> Table:
        rows = [
            [i.name, i.description, i.syntax, i.module]
            for i in core.interfaces_of(type_)
            if i.description and (not args or i.name == args[0])
        ]
        return ("name", "description", "syntax", "ikey"), sorted(rows, key=lambda r: r[0].encode())

    return provider


def _typed_table(type_: str) -> ShowProvider:
    def provider(core: SwitchCore, _args: list[str]) -> Table:
        rows = sorted(
            ([i.type, i.name, i.module] for i in core.interfaces_of(type_)), key=lambda r: r[1].encode()
        )
        return ("type", "name", "ikey"), rows

    return provider


def _modules_table(core: SwitchCore, args: list[str]) -> Table:
    rows = sorted(
        {(i.type, i.name, i.module, i.filename) for i in core.interfaces if not args or i.module == args[0]},
        key=lambda r: (r[0].encode(), r[1].encode()),
    )
    return ("type", "name", "ikey", "filename"), [list(r) for r in rows]


def _interfaces_table(core: SwitchCore, _args: list[str]) -> Table:
    rows = sorted(
        ([i.type, i.name, i.module] for i in core.interfaces), key=lambda r: (r[0].encode(), r[1].encode())
    )
    return ("type", "name", "ikey"), rows


def _interface_types_table(core: SwitchCore, _args: list[str]) -> Table:
    counts: dict[str, int] = {}
    for iface in core.interfaces:
        counts[iface.type] = counts.get(iface.type, 0) + 1
    return ("type", "total"), [[t, str(n)] for t, n in sorted(counts.items())]


# exact names; the typed tables also match by prefix with a trailing "s" dropped, as FreeSWITCH does
PROVIDERS: dict[str, ShowProvider] = {
    "api": _named_table("api"),
    "application": _named_table("application"),
    "interfaces": _interfaces_table,
    "interface_types": _interface_types_table,
}
TYPED_PREFIXES = ("codec", "dialplan", "file", "timer", "chat", "limit", "say", "management", "endpoint")


def find_provider(core: SwitchCore, what: str) -> ShowProvider | None:
    if what in core.show_providers:
        return core.show_providers[what]
    if what in PROVIDERS:
        return PROVIDERS[what]
    if what.startswith("module"):
        return _modules_table
    for prefix in TYPED_PREFIXES:
        if what.startswith(prefix):
            return _typed_table(prefix)
    return None


def show(call: ApiCall) -> str:
    words = call.args.split()
    if not words:
        return f"-USAGE: {SHOW_SYNTAX}\n"
    what = words[0].lower()
    provider = find_provider(call.core, what)
    if provider is None:
        return f"-USAGE: {SHOW_SYNTAX}\n"
    fmt, delim = "csv", ","
    rest = words[1:]
    count_only = False
    if "as" in [w.lower() for w in rest]:
        at = [w.lower() for w in rest].index("as")
        spec = rest[at + 1 :]
        rest = rest[:at]
        kind = spec[0].lower() if spec else ""
        if kind == "json":
            fmt = "json"
        elif kind == "xml":
            fmt = "xml"
        elif kind in ("delim", "csv"):
            delim = spec[1] if kind == "delim" and len(spec) > 1 else ","
        else:
            return f"-ERR Cannot find format {kind}\n"
    if rest and rest[0].lower() == "count":
        count_only = True
        rest = rest[1:]
    if count_only:
        counter = call.core.show_counters.get(what)
        if counter is not None:  # counted without building a row per channel
            return format_count(counter(call.core, rest), fmt)
    columns, rows = provider(call.core, rest)
    return format_table(columns, rows, fmt, delim, count_only)
