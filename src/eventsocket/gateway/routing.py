"""Which node an API command goes to, and how the answers of several nodes become one.

Pure functions, no I/O: the backend asks :func:`route_api` where a command goes, and
merges with :func:`merge_show` / :func:`merge_status` when it went everywhere.

* a call's command (``uuid_*`` with the uuid first) goes to the node that owns the call;
* ``originate`` goes to the node a :class:`Placement` picks: ``{gateway_node=NAME}``
  among the leading variables, else round-robin over the nodes that are up;
* ``show ...`` and ``status`` go to every node, and the answers are merged in
  FreeSWITCH's own format (one header, every row, the summed total);
* ``hupall`` goes to every node; anything else to one node that is up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import orjson

__all__ = ["Placement", "Route", "merge_show", "merge_status", "originate_node", "route_api"]

RouteKind = Literal["call", "originate", "merge_show", "merge_status", "every", "any"]


@dataclass(frozen=True, slots=True)
class Route:
    kind: RouteKind
    uuid: str | None = None  # kind "call": the call whose node answers


_BROADCAST = frozenset({"hupall", "reloadxml"})


def route_api(command: str, args: str) -> Route:
    name = command.strip().lower()
    if name.startswith("uuid_"):
        first = args.strip().split(" ", 1)[0] if args.strip() else ""
        return Route("call", first or None)
    if name == "originate":
        return Route("originate")
    if name == "show":
        return Route("merge_show")
    if name == "status":
        return Route("merge_status")
    if name in _BROADCAST:
        return Route("every")
    return Route("any")


_VARS = re.compile(r"\s*[{<\[]([^}>\]]*)[}>\]]")


def originate_node(args: str) -> str | None:
    """The ``gateway_node`` variable of an originate's leading ``{...}``/``<...>``/``[...]`` blocks."""
    pos = 0
    while True:
        match = _VARS.match(args, pos)
        if match is None:
            return None
        for pair in match.group(1).split(","):
            key, eq, value = pair.partition("=")
            if eq and key.strip() == "gateway_node":
                return value.strip() or None
        pos = match.end()


class Placement:
    """Round-robin over the nodes that are up, unless the command names one."""

    def __init__(self, preferred: Sequence[str] = ()) -> None:
        self.preferred = list(preferred)
        self._next = 0

    def choose(self, args: str, up: Sequence[str]) -> str | None:
        named = originate_node(args)
        if named is not None:
            return named  # even when it is down: the caller gets that node's error
        for node in self.preferred:
            if node in up:
                return node
        if not up:
            return None
        node = up[self._next % len(up)]
        self._next += 1
        return node


# -- merging -------------------------------------------------------------------------------------

_TOTAL = re.compile(r"(\d+) total\.\Z")


def merge_show(outputs: Sequence[str]) -> str:
    """Merge ``show ...`` answers: CSV (header, rows, ``N total.``), ``as json``, or anything else."""
    if not outputs:
        return "-ERR no node available\n"
    first = outputs[0]
    if first.lstrip().startswith("{"):
        return _merge_json(outputs)
    header: str | None = None
    rows: list[str] = []
    total = 0
    for text in outputs:
        lines = text.rstrip("\n").split("\n")
        match = _TOTAL.match(lines[-1]) if lines else None
        if match is None:
            return first  # not a table (an error, a usage line): the first answer as it is
        total += int(match.group(1))
        body = lines[:-1]
        while body and body[-1] == "":
            body.pop()
        if body:
            if header is None:
                header = body[0]
            rows.extend(line for line in body[1:] if line)
    if header is None:
        return f"\n{total} total.\n"
    return header + "\n" + "".join(row + "\n" for row in rows) + f"\n{total} total.\n"


def _merge_json(outputs: Sequence[str]) -> str:
    rows: list[object] = []
    for text in outputs:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            return outputs[0]
        if isinstance(data, dict):
            rows.extend(data.get("rows") or [])
    if not rows:
        return '{"row_count":0}'
    return orjson.dumps({"row_count": len(rows), "rows": rows}).decode()


_SUMMED = (
    re.compile(r"(\d+)( session\(s\) since startup)"),
    re.compile(r"(\d+)( session\(s\) - peak )(\d+)(, last 5min )(\d+)( )"),
    re.compile(r"(\d+)( session\(s\) per Sec out of max )(\d+)(, peak )(\d+)(, last 5min )(\d+)( )"),
    re.compile(r"(\d+)( session\(s\) max)"),
)


def merge_status(outputs: Sequence[str]) -> str:
    """``status`` of several nodes: the first node's text with the session counts summed."""
    if not outputs:
        return "-ERR no node available\n"
    lines = outputs[0].split("\n")
    others = [text.split("\n") for text in outputs[1:]]
    merged: list[str] = []
    for i, line in enumerate(lines):
        for pattern in _SUMMED:
            match = pattern.fullmatch(line)
            if match is None:
                continue
            groups = list(match.groups())
            for other in others:
                found = pattern.fullmatch(other[i]) if i < len(other) else None
                if found is None:
                    continue
                for g, value in enumerate(found.groups()):
                    if g % 2 == 0:  # the numbers are the even groups
                        groups[g] = str(int(groups[g]) + int(value))
            line = "".join(groups)
            break
        merged.append(line)
    return "\n".join(merged)
