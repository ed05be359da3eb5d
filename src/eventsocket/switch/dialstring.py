"""Dial strings as ``switch_ivr_originate`` reads them.

``{a=1,b=2}[c=3]null/1000,[d=4]sim/2000|error/USER_BUSY``: ``{}`` variables apply to
every leg, ``[]`` to one leg, ``,`` rings legs at once, ``|`` tries the next group
when a whole group failed. Also the ``<...>`` form of global variables, quoting with
single quotes, and ``\\,`` escapes inside variable lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Leg:
    target: str
    variables: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return self.target.split("/", 1)[0].lower()

    @property
    def destination(self) -> str:
        return self.target.split("/", 1)[1] if "/" in self.target else ""


@dataclass(slots=True)
class DialString:
    variables: dict[str, str] = field(default_factory=dict)
    groups: list[list[Leg]] = field(default_factory=list)


def parse_variables(text: str) -> dict[str, str]:
    """``a=1,b='x,y',c=z\\,w`` -> {a: 1, b: "x,y", c: "z,w"}; ``^^:a=1:b=x,y`` picks ``:`` as the
    separator (``switch_event_create_brackets``)."""
    out: dict[str, str] = {}
    separator = ","
    if text.startswith("^^") and len(text) > 2:
        separator, text = text[2], text[3:]
    for item in split_top(text, separator):
        name, eq, value = item.partition("=")
        name = name.strip()
        if not name or not eq:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name] = value.replace("\\,", ",")
    return out


def split_top(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside quotes, brackets and braces, honouring backslash escapes."""
    parts: list[str] = []
    depth = 0
    quote = ""
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            current.append(text[i : i + 2])
            i += 2
            continue
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'":
            quote = ch
        elif ch in "{[<(":
            depth += 1
        elif ch in "}]>)":
            depth = max(0, depth - 1)
        elif ch == separator and depth == 0:
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _take_block(text: str, opener: str, closer: str) -> tuple[str | None, str]:
    text = text.lstrip()
    if not text.startswith(opener):
        return None, text
    depth = 0
    for i, ch in enumerate(text):
        if ch == opener:
            depth += 1
        elif ch == closer:
            depth -= 1
            if depth == 0:
                return text[1:i], text[i + 1 :]
    return text[1:], ""


def parse_dial_string(text: str) -> DialString:
    result = DialString()
    rest = text.strip()
    while True:
        block, rest = _take_block(rest, "{", "}")
        if block is None:
            block, rest = _take_block(rest, "<", ">")
        if block is None:
            break
        result.variables.update(parse_variables(block))
    for group_text in split_top(rest, "|"):
        group: list[Leg] = []
        for leg_text in split_top(group_text, ","):
            leg_text = leg_text.strip()
            if not leg_text:
                continue
            leg_vars: dict[str, str] = {}
            while True:
                block, leg_text = _take_block(leg_text, "[", "]")
                if block is None:
                    block, leg_text = _take_block(leg_text, "{", "}")
                    if block is not None:
                        result.variables.update(parse_variables(block))
                        continue
                    break
                leg_vars.update(parse_variables(block))
            group.append(Leg(leg_text.strip(), leg_vars))
        if group:
            result.groups.append(group)
    return result


def separate_args(text: str) -> list[str]:
    """``switch_separate_string`` on spaces: single quotes group words (and are removed).

    Spaces inside ``{...}`` variable blocks do not split either, so
    ``{origination_caller_id_name='A B'}null/1`` stays one argument; parentheses do
    split, as in FreeSWITCH (quote ``'&socket(host async full)'``).
    """
    args: list[str] = []
    current: list[str] = []
    quote = False
    braces = 0
    has = False
    for ch in text:
        if ch == "'" and not braces:
            quote = not quote
            has = True
            continue
        if ch == "{":
            braces += 1
        elif ch == "}":
            braces = max(0, braces - 1)
        if ch == " " and not quote and not braces:
            if has:
                args.append("".join(current))
            current = []
            has = False
            continue
        current.append(ch)
        has = True
    if has:
        args.append("".join(current))
    return args
