"""What the console prints: log lines in fs_cli's colours, events, the prompt, help texts.

Pure functions from data to text (with ANSI colour sequences when colour is on), so the
terminal code only moves strings and tests can check the exact output.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterable

import orjson

from eventsocket.cli.console.profiles import DEFAULT_COLOR, Profile
from eventsocket.client import Event, LogLine

__all__ = [
    "CLI_USAGE",
    "LOG_COLORS",
    "color_off",
    "expand_prompt",
    "format_event",
    "format_event_summary",
    "format_log_line",
    "log_line_visible",
]

# fs_cli's colors[]: console, alert, crit, err, warning, notice, info, debug
LOG_COLORS: tuple[str, ...] = (
    DEFAULT_COLOR,
    "\033[31m",
    "\033[31m",
    "\033[31m",
    "\033[35m",
    "\033[36m",
    "\033[32m",
    "\033[33m",
)

CLI_USAGE = (
    "Command                    \tDescription\n"
    "-----------------------------------------------\n"
    "/help                      \tHelp\n"
    "/exit, /quit, /bye, ...    \tExit the program.\n"
    "/event, /noevents, /nixevent\tEvent commands.\n"
    "/log, /nolog               \tLog commands.\n"
    "/uuid                      \tFilter logs for a single call uuid\n"
    "/filter                    \tFilter commands.\n"
    "/logfilter                 \tFilter Log for a single string.\n"
    "/debug [0-7]               \tSet debug level.\n"
    "/bgapi <command>           \tRun a command in the background; its output follows.\n"
    "/summary [on|off]          \tOne line per event instead of the whole event.\n"
    "\n"
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def color_off(text: str) -> str:
    """``text`` without colour sequences (``-n``, batch mode)."""
    return _ANSI.sub("", text)


def log_line_visible(line: LogLine, uuid_filter: str | None, text_filter: str | None) -> bool:
    """fs_cli's rules: ``/uuid`` hides lines of other calls (lines of no call stay);
    ``/logfilter`` keeps only lines containing a string."""
    if uuid_filter and line.user_data and line.user_data.lower() != uuid_filter.lower():
        return False
    return not (text_filter and text_filter not in line.text)


def format_log_line(line: LogLine, *, color: bool, log_uuid: bool = False, uuid_length: int = 0) -> str:
    """One ``log/data`` body as fs_cli prints it: coloured by level, optionally prefixed by
    the call's uuid (``-U``, or its first ``uuid_length`` characters with ``-S``), and
    ending with exactly one newline. A body that is only a newline prints nothing."""
    parts: list[str] = []
    if color:
        parts.append(LOG_COLORS[min(max(line.level, 0), len(LOG_COLORS) - 1)])
    if log_uuid and line.user_data:
        uuid = line.user_data[:uuid_length] if uuid_length else line.user_data
        parts.append(uuid + " ")
    body = line.text
    if body != "\n":
        parts.append(body)
        if body and not body.endswith("\n"):
            parts.append("\n")
    if color:
        parts.append(DEFAULT_COLOR)
    return "".join(parts)


def _aligned(pairs: Iterable[tuple[str, str]]) -> str:
    items = list(pairs)
    width = max((len(name) for name, _ in items), default=0) + 1
    return "".join(f"{name + ':':<{width}} {value}\n" for name, value in items)


def format_event(event: Event) -> str:
    """An event in full: plain headers aligned on their colon, JSON indented, XML as it
    came; the body (of plain and JSON events) after a blank line."""
    if event.format == "json":
        try:
            data = orjson.loads(event.payload)
        except orjson.JSONDecodeError:
            return "RECV EVENT\n" + event.payload.decode("utf-8", "replace") + "\n"
        return "RECV EVENT\n" + orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"
    if event.format == "xml":
        return "RECV EVENT\n" + event.payload.decode("utf-8", "replace").rstrip("\n") + "\n"
    text = "RECV EVENT\n" + _aligned(event.all_items())
    body = event.body
    if body:
        text += "\n" + body + ("" if body.endswith("\n") else "\n")
    return text


def format_event_summary(event: Event) -> str:
    """One line per event (``/summary on``): time, name (and subclass), the channel's
    uuid, name and state, or the job's uuid."""
    name = event.name
    if event.subclass:
        name += " " + event.subclass
    fields = [
        event.get("Event-Date-Local", ""),
        name,
        event.uuid or event.get("Job-UUID", ""),
        event.get("Channel-Name", ""),
        event.get("Channel-State", "") or event.get("Answer-State", ""),
    ]
    return " ".join(f for f in fields if f) + "\n"


def expand_prompt(template: str, profile: Profile, switchname: str, switch_hostname: str) -> str:
    """fs_cli's ``prompt-string``: ``%s`` switch name, ``%h`` this host, ``%H`` the switch's
    host name, ``%p`` profile name, ``%o`` profile host, ``%P`` port, ``%%`` a percent."""
    values = {
        "s": switchname,
        "h": socket.gethostname(),
        "H": switch_hostname,
        "p": profile.name,
        "o": profile.host,
        "P": str(profile.port),
        "%": "%",
    }
    out: list[str] = []
    chars = iter(template)
    for ch in chars:
        if ch == "%":
            out.append(values.get(next(chars, ""), ""))
        else:
            out.append(ch)
    return "".join(out)


def prompt_text(profile: Profile, switchname: str, switch_hostname: str) -> str:
    """The bare prompt: ``freeswitch@<switchname>> `` unless the profile sets one."""
    if profile.prompt_string:
        return expand_prompt(profile.prompt_string, profile, switchname, switch_hostname) + "> "
    return f"freeswitch@{switchname}> "
