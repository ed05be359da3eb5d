"""``show``: FreeSWITCH's table output in CSV, JSON, XML or a custom delimiter.

Tables come from providers keyed by the ``show`` subcommand; the call layer adds
``channels`` and ``calls`` providers. The output shapes (header line only when there
are rows, the ``\\n<N> total.\\n`` footer, ``{"row_count": 0}\\n`` for an empty JSON
table) are FreeSWITCH's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import orjson

from eventsocket.switch.api import ApiCall

if TYPE_CHECKING:
    from eventsocket.switch.core import SwitchCore

Table = tuple[Sequence[str], list[list[str]]]
ShowProvider = Callable[["SwitchCore", list[str]], Table]

SHOW_SYNTAX = (
    "codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|"
    "calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|"
    "nat_map|say|interfaces|interface_types|tasks|limits|status"
)


def format_table(columns: Sequence[str], rows: list[list[str]], fmt: str, delim: str = ",",
                 count_only: bool = False) -> str:
    """Render rows the way ``show`` does for each output format."""
    if fmt == "json":
        if not rows:
            return '{"row_count": 0}\n'
        items = [dict(zip(columns, row, strict=False)) for row in rows]
        if count_only:
            return orjson.dumps({"row_count": len(rows)}).decode()
        return orjson.dumps({"row_count": len(rows), "rows": items}).decode()
    if fmt == "xml":
        if not rows:
            return '<result row_count="0"/>\n'
        parts = [f'<result row_count="{len(rows)}">']
        if not count_only:
            for index, row in enumerate(rows, 1):
                cells = "".join(f"<{c}>{escape(v)}</{c}>" for c, v in zip(columns, row, strict=False))
                parts.append(f'<row row_id="{index}">{cells}</row>')
        parts.append("</result>\n")
        return "".join(parts)
    if count_only or not rows:
        return f"\n{len(rows)} total.\n"
    lines = [delim.join(columns)]
    lines += [delim.join(row) for row in rows]
    return "\n".join(lines) + f"\n\n{len(rows)} total.\n"


def _api_table(core: SwitchCore, _args: list[str]) -> Table:
    rows = sorted(([c.name, c.description, c.syntax, c.module] for c in core.api), key=lambda r: r[0])
    return ("name", "description", "syntax", "ikey"), rows


def _interface_table(type_: str) -> ShowProvider:
    def provider(core: SwitchCore, _args: list[str]) -> Table:
        rows = sorted(
            ([i.type, i.name, i.description, i.module, i.filename] for i in core.interfaces_of(type_)),
            key=lambda r: r[1],
        )
        return ("type", "name", "description", "ikey", "filename"), [[r[0], r[1], r[2], r[3]] for r in rows]

    return provider


def _modules_table(core: SwitchCore, _args: list[str]) -> Table:
    rows = sorted(
        ([i.type, i.name, i.module, i.filename] for i in core.interfaces), key=lambda r: (r[0], r[1])
    )
    return ("type", "name", "ikey", "filename"), rows


def _interfaces_table(core: SwitchCore, _args: list[str]) -> Table:
    rows = sorted(([i.type, i.name, i.module] for i in core.interfaces), key=lambda r: (r[0], r[1]))
    return ("type", "name", "ikey"), rows


PROVIDERS: dict[str, ShowProvider] = {
    "api": _api_table,
    "application": _interface_table("application"),
    "endpoint": _interface_table("endpoint"),
    "dialplan": _interface_table("dialplan"),
    "management": _interface_table("management"),
    "modules": _modules_table,
    "module": _modules_table,
    "interfaces": _interfaces_table,
}


def show(call: ApiCall) -> str:
    words = call.args.split()
    if not words:
        return f"-USAGE: {SHOW_SYNTAX}\n"
    what = words[0].lower()
    providers: dict[str, ShowProvider] = getattr(call.core, "show_providers", PROVIDERS)
    provider = providers.get(what)
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
        elif kind == "delim" and len(spec) > 1:
            delim = spec[1]
        else:
            return f"-ERR Cannot find format {kind}\n"
    if rest and rest[0].lower() == "count":
        count_only = True
        rest = rest[1:]
    columns, rows = provider(call.core, rest)
    return format_table(columns, rows, fmt, delim, count_only)
