"""FreeSWITCH's configuration directory: preprocessing, global variables and lookups.

The server and the switch core read the same files FreeSWITCH reads, so that users can point
eventsocket at the conf_dir they already have. FreeSWITCH does not hand its files to an XML
parser directly: a line-based preprocessor (``preprocess()`` in ``switch_xml.c``) first expands
``$${name}`` global variables, runs ``<X-PRE-PROCESS cmd=... data=.../>`` directives (``include``,
``set``, ``env-set``, ``exec-set``, ``exec``, ``stun-set``) and the older ``<!--#cmd arg-->`` form,
and drops lines holding ``<include>``, ``</include>`` or ``<?``. Only the result is parsed.
:class:`ConfDir` reproduces that pipeline line for line, because its quirks are part of what a
working FreeSWITCH configuration relies on (a directive is processed even inside an XML comment,
which is why FreeSWITCH's vars.xml warns that such lines cannot be commented out; anything else
on a directive's line is discarded; an unknown ``$${name}`` expands to nothing).

Where FreeSWITCH's behaviour only does harm, this module differs, and says so where it does:
an include loop is an error instead of 100 nested copies, ``exec``/``exec-set`` run only when
asked for (loading a configuration should not run shell commands by surprise), and the XML
parser accepts the sloppiness FreeSWITCH's own parser accepts (a bare ``&``, ``<`` inside an
attribute value) instead of refusing a file that works in FreeSWITCH.

Everything here is standard library only and does no I/O after :meth:`ConfDir.load` returns.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import logging
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_CONF_DIR",
    "MAX_INCLUDE_DEPTH",
    "ConfDir",
    "ConfigError",
    "DirectoryUser",
]

log = logging.getLogger("eventsocket.config")

#: The configuration shipped with the package; ``eventsocket serve`` uses it when given no conf_dir.
DEFAULT_CONF_DIR: Path = Path(__file__).resolve().parent.parent / "default_conf"

#: FreeSWITCH gives up past 100 nested includes (``rlevel > 100`` in ``preprocess()``).
MAX_INCLUDE_DEPTH = 100

# How long an ``exec``/``exec-set`` command may run when exec is allowed. FreeSWITCH waits forever;
# a configuration load that hangs is never what anyone wants.
_EXEC_TIMEOUT = 30.0

# Where ``switch_find_local_ip()`` "connects" a UDP socket to learn the outgoing interface. No
# packet is sent; any routable address works, these are the ones FreeSWITCH uses.
_PROBE_V4 = ("82.45.148.209", 80)
_PROBE_V6 = ("2001:503:ba3e::2:30", 80)



class ConfigError(Exception):
    """A configuration cannot be loaded: missing directory, malformed XML, include loop.

    The message always names the offending file, because with dozens of included files a bare
    parser error ("mismatched tag: line 412") is useless.
    """


def _disable_channel_vars(value: str) -> str:
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


class _GlobalVars:
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


def _expand(text: str, variables: _GlobalVars) -> tuple[str, bool]:
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
class _Output:
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


class _Preprocessor:
    """``preprocess()`` of ``switch_xml.c``, reading files and writing :class:`_Output` lines."""

    def __init__(self, variables: _GlobalVars, *, allow_exec: bool) -> None:
        self.vars = variables
        self.allow_exec = allow_exec
        self.out = _Output()
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
            line, unterminated = _expand(raw, self.vars)
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
                self.vars.set(keyval[0], _disable_channel_vars(keyval[1]))
        elif name == "env-set":
            key, eq, value = data.partition("=")
            if eq and value.startswith("$"):
                env = os.environ.get(value[1:])
                if env is not None:
                    self.vars.set(key, _disable_channel_vars(env))
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
                self.vars.set(keyval[0], _disable_channel_vars(value))

    def _exec(self, command: str, source: str, number: int) -> None:
        output = self._run(command, source, number)
        if output is None:
            return
        origin = f"<exec {command}>"
        for i, text in enumerate(output.replace("\r\n", "\n").split("\n"), start=1):
            self.out.emit(text, origin, i)


# ---------------------------------------------------------------------------------------------
# Parsing


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


def _parse(text: str) -> ET.Element:
    """Parse ``text`` strictly first and, only if that fails, after :func:`_lenient` repairs."""
    try:
        return ET.fromstring(text)
    except ET.ParseError:
        pass
    return ET.fromstring(_lenient(text))


_POSITION_SUFFIX = re.compile(r":\s*line \d+, column \d+$")


def _reason(exc: ET.ParseError) -> str:
    return _POSITION_SUFFIX.sub("", str(exc))


def _blame(out: _Output, order: list[str], exc: ET.ParseError) -> ConfigError:
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
            _parse(fragment)
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


# ---------------------------------------------------------------------------------------------
# Predefined globals


def _local_ip(family: socket.AddressFamily) -> str | None:
    """The address of the interface that routes to the outside, as ``switch_find_local_ip()``.

    A UDP ``connect()`` only consults the routing table; nothing is sent. None when there is no
    route, and the caller falls back to loopback as FreeSWITCH does.
    """
    target = _PROBE_V4 if family == socket.AF_INET else _PROBE_V6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(target)
            address = sock.getsockname()[0]
    except OSError:
        return None
    return str(address).split("%")[0]


def _netmask_v4(ip: str) -> str:
    """The netmask of the interface holding ``ip`` (Linux ioctls), else a safe guess.

    The standard library has no ``getifaddrs``; on other systems, or when the lookup fails, a
    loopback address gets 255.0.0.0 and anything else 255.255.255.255, so that ``localnet.auto``
    never grows beyond what is known to be local.
    """
    fallback = "255.0.0.0" if ip.startswith("127.") else "255.255.255.255"
    if not sys.platform.startswith("linux"):
        return fallback
    try:
        import fcntl

        packed = socket.inet_aton(ip)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _, name in socket.if_nameindex():
                request = struct.pack("256s", name.encode()[:15])
                with contextlib.suppress(OSError):
                    address = fcntl.ioctl(sock.fileno(), 0x8915, request)  # SIOCGIFADDR
                    if address[20:24] != packed:
                        continue
                    mask = fcntl.ioctl(sock.fileno(), 0x891B, request)  # SIOCGIFNETMASK
                    return socket.inet_ntoa(mask[20:24])
    except (OSError, ImportError, ValueError):
        pass
    return fallback


def _serial(conf_dir: Path, ip: str, hostname: str) -> str:
    """``switch_serial``: ``freeswitch.serial`` in conf_dir if present, else 12 hex digits.

    FreeSWITCH writes 8 hex digits of the IPv4 address plus 4 random ones to that file on first
    start. Writing into a user's conf_dir is not ours to do, so the 4 digits are derived from the
    host instead: the value stays stable from one load to the next.
    """
    path = conf_dir / "freeswitch.serial"
    with contextlib.suppress(OSError):
        stored = path.read_bytes()[:12].split(b"\0")[0].decode("ascii", "replace")
        if stored:
            return stored
    try:
        head = socket.inet_aton(ip).hex()
    except OSError:
        head = "00000000"
    tail = hashlib.sha256(f"{hostname}:{conf_dir}".encode()).hexdigest()[:4]
    return head + tail


def _predefined(conf_dir: Path, initial: Mapping[str, str]) -> _GlobalVars:
    """The globals FreeSWITCH defines at start, in its order, then ``initial`` over them.

    The directories follow FreeSWITCH's default layout under a prefix; the prefix is taken to be
    the parent of conf_dir, which is right for a source install (``<prefix>/conf``) and harmless
    otherwise. Probes (local addresses) are skipped for names ``initial`` already provides.
    """
    given = {name.lower(): value for name, value in initial.items()}
    hostname = given["hostname"] if "hostname" in given else socket.gethostname()
    ip4 = given["local_ip_v4"] if "local_ip_v4" in given else _local_ip(socket.AF_INET) or "127.0.0.1"
    mask = given["local_mask_v4"] if "local_mask_v4" in given else _netmask_v4(ip4)
    ip6 = given["local_ip_v6"] if "local_ip_v6" in given else _local_ip(socket.AF_INET6) or "::1"
    serial = given["switch_serial"] if "switch_serial" in given else _serial(conf_dir, ip4, hostname)
    base = conf_dir.parent
    sounds = str(base / "sounds")
    variables = _GlobalVars()
    for name, value in (
        ("hostname", hostname),
        ("local_ip_v4", ip4),
        ("local_mask_v4", mask),
        ("local_ip_v6", ip6),
        ("switch_serial", serial),
        ("base_dir", str(base)),
        ("recordings_dir", str(base / "recordings")),
        ("sound_prefix", sounds),
        ("sounds_dir", sounds),
        ("conf_dir", str(conf_dir)),
        ("log_dir", str(base / "log")),
        ("run_dir", str(base / "run")),
        ("db_dir", str(base / "db")),
        ("mod_dir", str(base / "mod")),
        ("htdocs_dir", str(base / "htdocs")),
        ("script_dir", str(base / "scripts")),
        ("temp_dir", tempfile.gettempdir()),
        ("grammar_dir", str(base / "grammar")),
        ("certs_dir", str(base / "certs")),
        ("storage_dir", str(base / "storage")),
        ("cache_dir", str(base / "cache")),
    ):
        variables.set(name, value)
    # Given values replace the computed ones in place (new names are appended): they are starting
    # values, not FreeSWITCH ``set`` commands, so a ``${`` in them is kept as it is.
    for name, value in initial.items():
        variables.set(name, value, keep_position=True)
    return variables


# ---------------------------------------------------------------------------------------------
# The loaded configuration


@dataclass(slots=True)
class DirectoryUser:
    """A directory user with the params and variables of its domain and group merged in.

    ``params`` and ``variables`` are read from the domain, then the group, then the user, a later
    one overriding an earlier one (``switch_xml_merge_user()``). Keys are lower-cased because
    FreeSWITCH compares these names without regard to case (``esl-password`` and
    ``ESL-Password`` are the same param).
    """

    id: str
    domain: str
    params: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    group: str | None = None

    def param(self, name: str) -> str | None:
        """The merged param ``name`` (any case), or None."""
        return self.params.get(name.lower())

    def variable(self, name: str) -> str | None:
        """The merged variable ``name`` (any case), or None."""
        return self.variables.get(name.lower())


def _collect(element: ET.Element | None, container: str, tag: str, into: dict[str, str]) -> None:
    """Add the ``<container><tag name= value=/>`` pairs of ``element`` to ``into``.

    Only the first ``<container>`` counts, as ``switch_xml_child()`` returns the first one; a
    missing ``value`` reads as empty (``switch_xml_attr_soft``), a missing ``name`` is skipped.
    """
    if element is None:
        return
    box = element.find(container)
    if box is None:
        return
    for item in box.findall(tag):
        name = item.get("name")
        if name:
            into[name.lower()] = item.get("value", "")


def _match_user(users: ET.Element, user: str) -> ET.Element | None:
    """The first ``<user>`` child whose ``id`` or ``number-alias`` is ``user`` (any case).

    ``type="pointer"`` entries only say "this user is also in this group" and are skipped, as
    FreeSWITCH's own documentation describes them.
    """
    wanted = user.lower()
    for candidate in users.findall("user"):
        if (candidate.get("type") or "").lower() == "pointer":
            continue
        if (candidate.get("id") or "").lower() == wanted:
            return candidate
        if (candidate.get("number-alias") or "").lower() == wanted:
            return candidate
    return None


class ConfDir:
    """A loaded FreeSWITCH configuration: the preprocessed ``<document>`` and its globals.

    Build one with :meth:`load` (a conf_dir, or the packaged default) or :meth:`from_text`. The
    lookups answer the questions the server and the switch core ask (which ``<configuration>``
    is ``event_socket.conf``, which dialplan context is ``default``, who is ``1000@domain``),
    with FreeSWITCH's matching rules: names compared without regard to case.
    """

    def __init__(
        self,
        root: ET.Element,
        global_vars: Mapping[str, str] | None = None,
        *,
        path: Path | None = None,
        files: list[Path] | None = None,
    ) -> None:
        self.root = root
        self.global_vars: dict[str, str] = dict(global_vars or {})
        self.path = path
        self.files: list[Path] = list(files or [])

    def __repr__(self) -> str:
        return f"ConfDir(path={str(self.path)!r}, files={len(self.files)})"

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        initial_vars: Mapping[str, str] | None = None,
        allow_exec: bool = False,
    ) -> ConfDir:
        """Load the conf_dir at ``path`` (None: :data:`DEFAULT_CONF_DIR`).

        With a ``freeswitch.xml`` in it, that file is the root, preprocessed like FreeSWITCH's.
        Without one, an equivalent root is assembled from whatever of ``vars.xml``,
        ``autoload_configs/*.xml`` (and top-level ``*.conf.xml``), ``dialplan/*.xml`` and
        ``directory/*.xml`` exists, so a directory holding just an ``event_socket.conf.xml``
        works. ``path`` may also name a root file directly.

        ``initial_vars`` override the predefined globals (``hostname``, ``local_ip_v4``...);
        ``core_uuid`` exists only when given here. ``exec`` and ``exec-set`` directives run shell
        commands only with ``allow_exec=True``; otherwise they are skipped with a warning.

        Raises :class:`ConfigError` naming the file for a missing path, malformed XML or an
        include loop.
        """
        target = Path(path) if path is not None else DEFAULT_CONF_DIR
        target = target.expanduser()
        if not target.exists():
            raise ConfigError(f"{target}: no such configuration directory or file")
        target = target.resolve()
        root_file: Path | None
        if target.is_file():
            conf_dir, root_file = target.parent, target
        else:
            conf_dir = target
            candidate = conf_dir / "freeswitch.xml"
            root_file = candidate if candidate.is_file() else None
        variables = _predefined(conf_dir, initial_vars or {})
        pre = _Preprocessor(variables, allow_exec=allow_exec)
        if root_file is not None:
            pre.run_file(root_file, conf_dir, 0)
            if not pre.files:
                raise ConfigError(f"{root_file}: cannot be read")
        else:
            pre.run_text(_assembled_root(conf_dir), f"{conf_dir}{os.sep}<assembled root>", conf_dir, 0)
        return cls._finish(pre, variables, conf_dir)

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        initial_vars: Mapping[str, str] | None = None,
        allow_exec: bool = False,
    ) -> ConfDir:
        """Preprocess and parse ``text`` as if it were a ``freeswitch.xml`` in ``base_dir``.

        Meant for tests and embedders that keep their configuration in code: includes resolve
        against ``base_dir`` (default: the current directory).
        """
        conf_dir = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
        variables = _predefined(conf_dir, initial_vars or {})
        pre = _Preprocessor(variables, allow_exec=allow_exec)
        pre.run_text(text, "<text>", conf_dir, 0)
        return cls._finish(pre, variables, conf_dir)

    @classmethod
    def _finish(cls, pre: _Preprocessor, variables: _GlobalVars, conf_dir: Path) -> ConfDir:
        out = pre.out
        text = "\n".join(out.lines)
        if not text.strip():
            raise ConfigError(f"{conf_dir}: the configuration is empty")
        try:
            root = _parse(text)
        except ET.ParseError as exc:
            order = list(dict.fromkeys(src for src, _ in out.origins))
            raise _blame(out, order, exc) from None
        if root.tag == "configuration":
            # A bare ``<configuration>`` file given as the root: file it where it belongs.
            document = ET.Element("document", {"type": "freeswitch/xml"})
            section = ET.SubElement(document, "section", {"name": "configuration"})
            section.append(root)
            root = document
        return cls(root, variables.as_dict(), path=conf_dir, files=pre.files)

    # -- globals -------------------------------------------------------------------------------

    def get_var(self, name: str) -> str | None:
        """The global variable ``name`` (any case, as FreeSWITCH looks them up), or None."""
        if name in self.global_vars:
            return self.global_vars[name]
        wanted = name.lower()
        for key, value in self.global_vars.items():
            if key.lower() == wanted:
                return value
        return None

    def expand_globals(self, text: str) -> str:
        """Replace ``$${name}`` in ``text`` with the globals, unknown names with nothing."""
        variables = _GlobalVars()
        for name, value in self.global_vars.items():
            variables.set(name, value)
        return _expand(text, variables)[0]

    # -- sections ------------------------------------------------------------------------------

    def sections(self, name: str) -> list[ET.Element]:
        """Every ``<section name=...>`` of the document called ``name`` (any case), in order."""
        wanted = name.lower()
        return [s for s in self.root.findall("section") if (s.get("name") or "").lower() == wanted]

    def configuration(self, name: str) -> ET.Element | None:
        """The ``<configuration name=...>`` element of section ``configuration``, or None.

        ``name`` may be given with or without its ``.conf`` suffix (``"event_socket"`` or
        ``"event_socket.conf"``); the exact spelling is preferred when both exist. Names compare
        without regard to case, as ``switch_xml_find_child()`` compares them.
        """
        lowered = name.lower()
        candidates = [lowered]
        if lowered.endswith(".conf"):
            candidates.append(lowered[: -len(".conf")])
        else:
            candidates.append(lowered + ".conf")
        sections = self.sections("configuration")
        for candidate in candidates:
            for section in sections:
                for element in section.findall("configuration"):
                    if (element.get("name") or "").lower() == candidate:
                        return element
        return None

    def dialplan_contexts(self) -> list[ET.Element]:
        """All ``<context>`` elements of section ``dialplan``, in document order."""
        return [c for s in self.sections("dialplan") for c in s.findall("context")]

    def dialplan_context(self, name: str) -> ET.Element | None:
        """The dialplan ``<context name=...>`` called ``name`` (any case), or None.

        There is no fallback here; mod_dialplan_xml's retry with context ``global`` belongs to the
        dialplan engine.
        """
        wanted = name.lower()
        for context in self.dialplan_contexts():
            if (context.get("name") or "").lower() == wanted:
                return context
        return None

    # -- directory -----------------------------------------------------------------------------

    def domains(self) -> list[ET.Element]:
        """All ``<domain>`` elements of section ``directory``, in document order."""
        return [d for s in self.sections("directory") for d in s.findall("domain")]

    def find_domain(self, domain: str) -> ET.Element | None:
        """The directory ``<domain>`` whose ``name`` is ``domain`` (any case), or None.

        A name still holding ``$${var}`` (an element built by hand rather than preprocessed) is
        compared after expansion, so ``$${domain}`` matches the value of the ``domain`` global.
        """
        if not domain:
            return None
        wanted = domain.lower()
        for element in self.domains():
            name = element.get("name") or ""
            if name.lower() == wanted:
                return element
            if "$${" in name and self.expand_globals(name).lower() == wanted:
                return element
        return None

    def find_user(self, user: str, domain: str) -> DirectoryUser | None:
        """The user ``user@domain`` with merged params and variables, or None when unknown.

        Searched as ``switch_xml_locate_user("id", ...)`` searches: each group's
        ``<groups><group><users><user>`` first, then the domain's ``<users><user>`` (or, when the
        domain has no ``<users>``, its direct ``<user>`` children). A user matches on ``id`` or
        ``number-alias``, without regard to case.
        """
        if not user or not domain:
            return None
        x_domain = self.find_domain(domain)
        if x_domain is None:
            return None
        x_user: ET.Element | None = None
        x_group: ET.Element | None = None
        groups = x_domain.find("groups")
        if groups is not None:
            for group in groups.findall("group"):
                users = group.find("users")
                if users is None:
                    continue
                x_user = _match_user(users, user)
                if x_user is not None:
                    x_group = group
                    break
        if x_user is None:
            users = x_domain.find("users")
            x_user = _match_user(users if users is not None else x_domain, user)
        if x_user is None:
            return None
        params: dict[str, str] = {}
        variables: dict[str, str] = {}
        for element in (x_domain, x_group, x_user):
            _collect(element, "params", "param", params)
            _collect(element, "variables", "variable", variables)
        return DirectoryUser(
            id=x_user.get("id") or user,
            domain=x_domain.get("name") or domain,
            params=params,
            variables=variables,
            group=x_group.get("name") if x_group is not None else None,
        )

    def domain_cidrs(self, domain: str) -> list[str]:
        """The ``cidr`` of every user of ``domain`` that has one, for ACL ``domain=`` nodes.

        As ``switch_load_network_lists()`` walks them: the domain's own users, then every group's
        users; a user's ``cidr`` attribute, or failing that its ``cidr`` param. Unknown domain:
        an empty list.
        """
        x_domain = self.find_domain(domain)
        if x_domain is None:
            return []
        found: list[str] = []
        holders: list[ET.Element] = [x_domain]
        holders.extend(x_domain.findall("users"))
        for groups in x_domain.findall("groups"):
            for group in groups.findall("group"):
                holders.extend(group.findall("users"))
        for holder in holders:
            for x_user in holder.findall("user"):
                if not x_user.get("id"):
                    continue
                cidr = x_user.get("cidr")
                if cidr is None:
                    own: dict[str, str] = {}
                    _collect(x_user, "params", "param", own)
                    cidr = own.get("cidr")
                if cidr:
                    found.append(cidr)
        return found


def _assembled_root(conf_dir: Path) -> str:
    """The ``freeswitch.xml`` equivalent for a conf_dir that has none.

    Each include only appears when its files exist, so a sparse directory yields a sparse but
    valid document; the sections are those of FreeSWITCH's vanilla root file.
    """

    def present(pattern: str) -> bool:
        return any(Path(p).is_file() for p in glob.glob(str(conf_dir / pattern)))

    lines = ['<document type="freeswitch/xml">']
    found = False
    if present("vars.xml"):
        found = True
        lines.append('  <X-PRE-PROCESS cmd="include" data="vars.xml"/>')
    lines.append('  <section name="configuration" description="Various Configuration">')
    for pattern in ("autoload_configs/*.xml", "*.conf.xml"):
        if present(pattern):
            found = True
            lines.append(f'    <X-PRE-PROCESS cmd="include" data="{pattern}"/>')
    lines.append("  </section>")
    for section, pattern in (("dialplan", "dialplan/*.xml"), ("directory", "directory/*.xml")):
        lines.append(f'  <section name="{section}">')
        if present(pattern):
            found = True
            lines.append(f'    <X-PRE-PROCESS cmd="include" data="{pattern}"/>')
        lines.append("  </section>")
    lines.append("</document>")
    if not found:
        log.warning("%s holds neither freeswitch.xml nor any known configuration file", conf_dir)
    return "\n".join(lines) + "\n"
