"""FreeSWITCH's configuration preprocessor (``preprocess()`` in ``switch_xml.c``), line for line.

A line-based pass before any XML parsing: ``$${name}`` global variables are expanded,
``<X-PRE-PROCESS cmd=... data=.../>`` directives (``include``, ``set``, ``env-set``,
``exec-set``, ``exec``, ``stun-set``) and the older ``<!--#cmd arg-->`` form are run, and
lines holding ``<include>``, ``</include>`` or ``<?`` are dropped. Its quirks are part of
what a working FreeSWITCH configuration relies on; see :mod:`eventsocket.switch.config` for
the pipeline as a whole and where this one differs from FreeSWITCH.
"""

from __future__ import annotations

import glob
import logging
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("eventsocket.config")

#: FreeSWITCH gives up past 100 nested includes (``rlevel > 100`` in ``preprocess()``).
MAX_INCLUDE_DEPTH = 100

# How long an ``exec``/``exec-set`` command may run when exec is allowed. FreeSWITCH waits forever;
# a configuration load that hangs is never what anyone wants.
_EXEC_TIMEOUT = 30.0

class ConfigError(Exception):
    """A configuration cannot be loaded: missing directory, malformed XML, include loop.

    The message always names the offending file, because with dozens of included files a bare
    parser error ("mismatched tag: line 412") is useless.
    """


def disable_channel_vars(value: str) -> str:
    """Turn ``${`` into ``%{`` as ``switch_string_var_check(v, SWITCH_TRUE)`` does.

    ``switch_core_set_variable()`` applies it to every global it stores, so a global can never
    smuggle a channel-variable expansion into the places it is pasted. Backslashes between the
    ``$`` and the ``{`` do not break the pair, as in FreeSWITCH.
    """
    if "$" not in value:
        return value
    chars = list(value)
    dollar = -1
    for i, ch in enumerate(chars):
        if ch == "$":
            dollar = i
        elif dollar >= 0:
            if ch == "{":
                chars[dollar] = "%"
                dollar = -1
            elif ch != "\\":
                dollar = -1
    return "".join(chars)


class GlobalVars:
    """FreeSWITCH's global variables: case-insensitive names, insertion order kept.

    FreeSWITCH keeps them in an event whose header lookup ignores case, and setting a variable
    deletes the old header and appends a new one, so a re-set variable moves to the end.
    """

    def __init__(self) -> None:
        self._items: dict[str, tuple[str, str]] = {}

    def get(self, name: str) -> str | None:
        item = self._items.get(name.lower())
        return item[1] if item is not None else None

    def set(self, name: str, value: str, *, keep_position: bool = False) -> None:
        key = name.lower()
        if keep_position and key in self._items:
            self._items[key] = (name, value)
            return
        self._items.pop(key, None)
        self._items[key] = (name, value)

    def as_dict(self) -> dict[str, str]:
        return dict(self._items.values())


def _find_end_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``start`` (nesting counted), or -1.

    The same rule as ``switch_find_end_paren()``, so ``$${a{b}c}`` names the variable ``a{b}c``.
    """
    depth = 0
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i
    return -1


def expand_globals(text: str, variables: GlobalVars) -> tuple[str, bool]:
    """Replace each ``$${name}`` of ``text``; returns the text and whether one was unterminated.

    An unknown name expands to the empty string and an unterminated ``$${`` is copied as it is,
    both as ``expand_vars()`` does; values are pasted verbatim, never expanded again.
    """
    if "$${" not in text:
        return text, False
    out: list[str] = []
    unterminated = False
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("$${", i):
            end = _find_end_brace(text, i + 2)
            if end >= 0:
                value = variables.get(text[i + 3 : end])
                if value is not None:
                    out.append(value)
                i = end + 1
                continue
            unterminated = True
        out.append(text[i])
        i += 1
    return "".join(out), unterminated


def _split_keyval(data: str) -> tuple[str, str] | None:
    """``name = value`` as ``cmd="set"`` splits it: blanks around ``=`` trimmed, nothing else."""
    name, eq, value = data.partition("=")
    if not eq:
        return None
    return name.rstrip(" "), value.lstrip(" ")


def _quoted_after(text: str, keyword: str, start: int) -> tuple[str, int] | None:
    """The double-quoted value following ``keyword`` then ``=`` at or after ``start``.

    Mirrors the ``switch_stristr`` chain of ``preprocess()``: find the keyword (any case), then
    the next ``=``, then the next ``"``; the value runs to the next ``"`` (or the end of the line
    when that quote is missing). Returns the value and the index just past its closing quote, or
    -1 for that index when the quote was missing.
    """
    pos = text.lower().find(keyword, start)
    if pos < 0:
        return None
    pos = text.find("=", pos)
    if pos < 0:
        return None
    pos = text.find('"', pos)
    if pos < 0:
        return None
    end = text.find('"', pos + 1)
    if end < 0:
        return text[pos + 1 :], -1
    return text[pos + 1 : end], end + 1


@dataclass
class Output:
    """The preprocessed document as lines, each remembering the file and line it came from."""

    lines: list[str] = field(default_factory=list)
    origins: list[tuple[str, int]] = field(default_factory=list)
    # For each source, the indexes of the output lines it produced itself (not its includes):
    # used to find which file is malformed when the whole document fails to parse.
    own: dict[str, list[int]] = field(default_factory=dict)

    def emit(self, text: str, source: str, line: int) -> None:
        self.own.setdefault(source, []).append(len(self.lines))
        self.lines.append(text)
        self.origins.append((source, line))


class Preprocessor:
    """``preprocess()`` of ``switch_xml.c``, reading files and writing :class:`Output` lines."""

    def __init__(self, variables: GlobalVars, *, allow_exec: bool) -> None:
        self.vars = variables
        self.allow_exec = allow_exec
        self.out = Output()
        self.files: list[Path] = []

    def run_file(self, path: Path, cwd: Path, depth: int) -> None:
        if depth > MAX_INCLUDE_DEPTH:
            raise ConfigError(
                f"{path}: includes nested deeper than {MAX_INCLUDE_DEPTH} levels (an include loop?)"
            )
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError as exc:
            # FreeSWITCH logs "Couldnt open" and carries on without the file.
            log.error("cannot open %s (%s); skipped", path, exc.strerror or exc)
            return
        self.files.append(path)
        self.run_text(text, str(path), cwd, depth)

    def run_text(self, text: str, source: str, cwd: Path, depth: int) -> None:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        in_hash_comment = False
        for number, raw in enumerate(lines, start=1):
            line, unterminated = expand_globals(raw, self.vars)
            if unterminated:
                log.error("unterminated $${var} in file %s line %d", source, number)
            # For the sake of validators, FreeSWITCH drops every line holding these, whole.
            if "<include>" in raw or "</include>" in raw or "<?" in raw:
                continue
            if in_hash_comment:
                end = line.find("-->")
                if end < 0:
                    continue
                in_hash_comment = False
                line = line[end + 3 :]
            pos = line.lower().find("x-pre-process")
            if pos >= 0:
                # Only a tag counts (``<`` right before the name), and it counts even inside an
                # XML comment; a line merely mentioning the name is dropped all the same.
                if pos > 0 and line[pos - 1] == "<":
                    self._directive(line, pos, source, number, cwd, depth)
                continue
            pos = line.find("<!--#")
            if pos >= 0:
                end = line.find("-->", pos)
                kept = line[:pos]
                if end >= 0:
                    kept += line[end + 3 :]
                    body = line[pos + 5 : end]
                else:
                    in_hash_comment = True
                    body = line[pos + 5 :]
                if kept:
                    self.out.emit(kept, source, number)
                self._hash_command(body, source, number, cwd, depth)
                continue
            self.out.emit(line, source, number)

    def _directive(self, line: str, pos: int, source: str, number: int, cwd: Path, depth: int) -> None:
        found = _quoted_after(line, "cmd", pos)
        if found is None or found[1] < 0:
            return
        cmd, after = found
        data = _quoted_after(line, "data", after)
        if data is None:
            return
        self._command(cmd, data[0], source, number, cwd, depth)

    def _hash_command(self, body: str, source: str, number: int, cwd: Path, depth: int) -> None:
        """``<!--#cmd arg-->``: the argument may be quoted; ``#comment`` and friends do nothing."""
        cmd, space, arg = body.partition(" ")
        if not space:
            return
        first = arg.find('"')
        if first >= 0:
            second = arg.find('"', first + 1)
            if second >= 0:
                arg = arg[first + 1 : second]
        self._command(cmd, arg, source, number, cwd, depth)

    def _command(self, cmd: str, data: str, source: str, number: int, cwd: Path, depth: int) -> None:
        name = cmd.lower()
        if name == "set":
            keyval = _split_keyval(data)
            if keyval is not None:
                self.vars.set(keyval[0], disable_channel_vars(keyval[1]))
        elif name == "env-set":
            key, eq, value = data.partition("=")
            if eq and value.startswith("$"):
                env = os.environ.get(value[1:])
                if env is not None:
                    self.vars.set(key, disable_channel_vars(env))
        elif name == "include":
            self._include(data, cwd, depth + 1)
        elif name == "exec-set":
            self._exec_set(data, source, number)
        elif name == "exec":
            self._exec(data, source, number)
        elif name == "stun-set":
            # A STUN lookup at load time would make loading depend on the network; FreeSWITCH
            # leaves the variable unset when the lookup fails, and so do we, always.
            log.warning("%s:%d: stun-set is not supported; %r left unset", source, number, data)

    def _include(self, pattern: str, cwd: Path, depth: int) -> None:
        """Include every file matching the glob ``pattern``, relative to the including file's dir."""
        full = pattern if os.path.isabs(pattern) else os.path.join(cwd, pattern)
        matches = sorted(glob.glob(full))
        if not matches:
            log.warning("include %s: no such file; skipped", full)
            return
        for match in matches:
            path = Path(match)
            if path.is_dir():
                continue
            self.run_file(path, path.parent, depth)

    def _run(self, command: str, source: str, number: int) -> str | None:
        if not self.allow_exec:
            log.warning("%s:%d: exec of %r skipped (exec is not enabled)", source, number, command)
            return None
        try:
            done = subprocess.run(
                command, shell=True, capture_output=True, text=True, timeout=_EXEC_TIMEOUT, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            log.error("%s:%d: exec of %r failed: %s", source, number, command, exc)
            return None
        return done.stdout

    def _exec_set(self, data: str, source: str, number: int) -> None:
        keyval = _split_keyval(data)
        if keyval is None:
            return
        output = self._run(keyval[1], source, number)
        if output is not None:
            value = output.rstrip(" \n")
            if value:
                self.vars.set(keyval[0], disable_channel_vars(value))

    def _exec(self, command: str, source: str, number: int) -> None:
        output = self._run(command, source, number)
        if output is None:
            return
        origin = f"<exec {command}>"
        for i, text in enumerate(output.replace("\r\n", "\n").split("\n"), start=1):
            self.out.emit(text, origin, i)
