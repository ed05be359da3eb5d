r"""FreeSWITCH's regular expressions on Python's ``re``: translation, matching, ``$N`` substitution.

FreeSWITCH matches dialplan conditions with PCRE (``switch_regex_perform``), substitutes
``$1``..``$N`` into action data (``switch_perform_substitution``) and stores captures in
channel variables (``switch_capture_regex``). Python's ``re`` differs from PCRE in syntax
(POSIX classes, ``\Q...\E``, possessive quantifiers, named-group spellings...), so patterns
are translated first; a pattern that cannot be translated or compiled never matches, as a
PCRE compile error makes FreeSWITCH's condition fail.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import lru_cache

from eventsocket.protocol.compat import atoi

__all__ = ["NO_MATCH", "Capture", "Match", "perform", "push_captures", "substitute"]

log = logging.getLogger("eventsocket.dialplan")


@dataclass(frozen=True, slots=True)
class Match:
    """What switch_regex_perform() leaves behind: PCRE's match count and the captured groups.

    ``count`` is 0 on no match, else one more than the highest group that took part in the match,
    which is how many values ``DP_MATCH`` receives. ``groups[0]`` is the whole match; a group that
    did not take part is None (PCRE2 reports it unset, so ``$N`` gives nothing for it).
    """

    count: int
    groups: tuple[str | None, ...] = ()

    def group(self, number: int) -> str | None:
        if 0 <= number < self.count:
            return self.groups[number]
        return None


NO_MATCH = Match(0)

# POSIX classes inside [...]: PCRE knows them, Python's re does not.
_POSIX_CLASSES = {
    "alpha": "a-zA-Z",
    "digit": "0-9",
    "alnum": "a-zA-Z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "space": r" \t\n\r\f\v",
    "blank": r" \t",
    "xdigit": "0-9A-Fa-f",
    "word": r"\w",
    "punct": r"!-/:-@\[-`{-~",
    "cntrl": r"\x00-\x1f\x7f",
    "print": r"\x20-\x7e",
    "graph": r"\x21-\x7e",
}


def _group_name(pattern: str, start: int, close: str) -> tuple[str, int] | None:
    """The group name starting at ``start`` and ending before ``close``, and the index after it."""
    end = pattern.find(close, start)
    if end <= start:
        return None
    return pattern[start:end], end + 1


def _translate_pcre(pattern: str) -> str:
    """Rewrite the PCRE constructs that Python's ``re`` spells differently or lacks.

    Dialplans are written for PCRE; most of PCRE is also Python syntax, and this covers the rest
    that dialplans use: named groups ``(?<n>...)`` / ``(?'n'...)`` and their back-references,
    ``\\z`` / ``\\Z``, ``\\Q...\\E``, ``\\h``, ``\\e``, ``\\x{hh}`` and POSIX classes in brackets.
    Anything else Python rejects makes the expression fail to compile, as a bad one would.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                literal = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            if nxt == "x" and i + 2 < n and pattern[i + 2] == "{":
                end = pattern.find("}", i + 3)
                digits = pattern[i + 3 : end] if end > 0 else ""
                if digits and all(ch in "0123456789abcdefABCDEF" for ch in digits):
                    out.append(f"\\U{int(digits, 16):08x}")
                    i = end + 1
                    continue
            if nxt == "h":
                out.append(r" \t" if in_class else r"[ \t]")
                i += 2
                continue
            if nxt == "e":
                out.append(r"\x1b")
                i += 2
                continue
            if not in_class:
                if nxt == "z":
                    out.append(r"\Z")
                    i += 2
                    continue
                if nxt == "Z":
                    out.append(r"(?=\n?\Z)")
                    i += 2
                    continue
                if nxt == "k" and i + 2 < n and pattern[i + 2] in "<{'":
                    named = _group_name(pattern, i + 3, {"<": ">", "{": "}", "'": "'"}[pattern[i + 2]])
                    if named:
                        out.append(f"(?P={named[0]})")
                        i = named[1]
                        continue
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "[" and pattern.startswith("[:", i):
                end = pattern.find(":]", i + 2)
                posix = _POSIX_CLASSES.get(pattern[i + 2 : end]) if end > 0 else None
                if posix is not None:
                    out.append(posix)
                    i = end + 2
                    continue
            if c == "]":
                in_class = False
                out.append(c)
            elif c in "[&~|":
                # Literal in PCRE; escaped so Python never reads them as set operations.
                out.append("\\" + c)
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append(r"\]")
                i += 1
            continue
        if pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        if pattern.startswith("(?'", i):
            named = _group_name(pattern, i + 3, "'")
            if named:
                out.append(f"(?P<{named[0]}>")
                i = named[1]
                continue
        out.append(c)
        i += 1
    return "".join(out)


def _ast2regex(pattern: str) -> str:
    """switch_ast2regex(): Asterisk-style ``_NXXXXXX`` patterns (``N`` 2-9, ``X`` 0-9, ``Z`` 1-9,
    ``.`` anything), anchored at both ends."""
    table = {"N": "[2-9]", "X": "[0-9]", "Z": "[1-9]", ".": ".*"}
    return "^" + "".join(table.get(ch, ch) for ch in pattern) + "$"


@lru_cache(maxsize=1024)
def _compile(expression: str) -> re.Pattern[str] | None:
    """Compile a dialplan expression as switch_regex_perform() reads it, or None if it is invalid.

    A leading ``_`` makes it an Asterisk-style pattern; ``/regex/flags`` takes the flags ``i``
    (caseless) and ``s`` (dot matches newline), and without the closing ``/`` it is an error.
    PCRE2 runs without UTF, so ``\\d``, ``\\w`` and caseless matching are ASCII-only: ``re.ASCII``.
    """
    if expression.startswith("_"):
        expression = _ast2regex(expression[1:])
    flags = re.ASCII
    if expression.startswith("/"):
        body = expression[1:]
        slash = body.rfind("/")
        if slash < 0:
            log.error("Regular Expression Error expression[%s] missing ending '/' delimeter", expression)
            return None
        options = body[slash + 1 :]
        expression = body[:slash]
        if "i" in options:
            flags |= re.IGNORECASE
        if "s" in options:
            flags |= re.DOTALL
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(_translate_pcre(expression), flags)
    except (re.error, ValueError, OverflowError) as exc:
        log.error("COMPILE ERROR: [%s][%s]", exc, expression)
        return None


def perform(subject: str, expression: str) -> Match:
    """switch_regex_perform(): an unanchored search of ``subject``."""
    pattern = _compile(expression)
    if pattern is None:
        return NO_MATCH
    found = pattern.search(subject)
    if found is None:
        return NO_MATCH
    groups: tuple[str | None, ...] = (found.group(0), *found.groups())
    count = max(i for i, value in enumerate(groups) if value is not None) + 1
    return Match(count, groups[:count])


@dataclass(slots=True)
class Capture:
    """The regex whose groups ``$N`` and ``DP_MATCH`` draw on for a condition's actions."""

    field_data: str
    match: Match


def substitute(data: str, capture: Capture) -> str:
    """switch_perform_substitution(): replace ``$N`` and ``${N}`` in ``data`` by capture group N.

    Transcribed state machine and all, so odd input (``${12x``, ``$300``) comes out as it does
    from FreeSWITCH: a group that does not exist gives nothing, a ``$`` not followed by a digit is
    kept, and the output stops at the buffer size FreeSWITCH allocates, (len(data) +
    len(field) + 10) * match count, less the terminator.
    """
    # With no match FreeSWITCH allocates nothing (undefined behaviour); one match's worth is used.
    limit = (len(data) + len(capture.field_data) + 10) * max(capture.match.count, 1) - 1
    out: list[str] = []
    index: list[str] = [""] * 10  # the C index[10] buffer; its fill level z survives an error
    z = 0
    x = 0
    n = len(data)

    while len(out) < limit and x < n:
        if data[x] != "$":
            out.append(data[x])
            x += 1
            continue
        x += 1
        brace = x < n and data[x] == "{"
        if brace:
            x += 1
        if not (x < n and _is_digit(data[x])):
            x -= brace
            out.append(data[x - 1])
            continue
        while x < n and _is_digit(data[x]) and z < len(index) - 1:
            index[z] = data[x]
            z += 1
            x += 1
        if brace:
            if not (x < n and data[x] == "}"):
                x = max(x - (z - 1), 1)
                out.append(data[x - 1])
                continue
            x += 1
        index[z] = ""
        number = atoi("".join(index[:z]))
        z = 0
        if number < 0 or number > 256:
            number = -1
        value = capture.match.group(number)
        if value:
            out.extend(value[: limit - len(out)])
    return "".join(out)


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def push_captures(variables: MutableMapping[str, str], name: str, match: Match) -> None:
    """switch_capture_regex() into channel variable ``name``: whole match then each group.

    The values are pushed onto the variable, so with more than one it reads as FreeSWITCH shows
    an array variable, ``ARRAY::whole|:group1|:...``. The variable is cleared first.
    """
    variables.pop(name, None)
    values = [value for value in match.groups[: match.count] if value is not None]
    if len(values) == 1:
        variables[name] = values[0]
    elif values:
        variables[name] = "ARRAY::" + "|:".join(values)
