"""The command table: FreeSWITCH's prefix matching (PROTOCOL.md §1.5) and every handler.

``dispatch`` returns None when the command was answered at once, or an awaitable
when it has to wait (the connection then holds later requests until it completes).
Reply texts are FreeSWITCH's, typos included.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from eventsocket.protocol.eventlist import (
    ALL,
    CUSTOM,
    EVENT_NAMES,
    event_format,
    lookup_event_name,
    parse_event_list,
)
from eventsocket.protocol.events import Event
from eventsocket.protocol.framing import GOODBYE, api_response_frame, atoi
from eventsocket.protocol.message import Request
from eventsocket.protocol.selection import MYEVENTS_TYPES
from eventsocket.server.permissions import Permissions
from eventsocket.switch.log import DEBUG, level_from_text

if TYPE_CHECKING:
    from eventsocket.server.connection import Connection

Handler = Callable[["Connection", Request], Awaitable[None] | None]

NOT_FOUND = "-ERR command not found"
# only a command that really unloads or reloads this module (FreeSWITCH matches the words anywhere)
_MODULE_COMMAND = re.compile(r"(api|bgapi) +(unload|reload) +mod_event_socket *\Z", re.IGNORECASE)
_FORMATS = ("plain", "json", "xml")


# -- dispatch --------------------------------------------------------------------------------------


def dispatch(conn: Connection, request: Request) -> Awaitable[None] | None:
    line = request.line
    low = line.lower()
    if low.startswith("exit") or low.startswith("..."):
        cmd_exit(conn, request)
        return None
    if not conn.authenticated:
        if low.startswith("auth "):
            cmd_auth(conn, request)
            return None
        if low.startswith("userauth "):
            cmd_userauth(conn, request)
            return None
        conn.reply(NOT_FOUND)
        return None
    if low.startswith("api ") and conn.full and "mod_event_socket" not in low:
        return cmd_api(conn, request)  # the common case, first; nothing earlier in the table matches it
    module = _MODULE_COMMAND.match(line)
    if module is not None:
        cmd_module(conn, module.group(1).lower(), module.group(2).lower(), request)
        return None
    if low.startswith("filter "):
        cmd_filter(conn, request)
        return None
    session = conn.session_uuid is not None
    if session:
        if low.startswith("resume"):
            cmd_resume(conn, request)
            return None
        if low.startswith("connect"):
            cmd_connect(conn, request)
            return None
        if low.startswith("getvar"):
            cmd_getvar(conn, request)
            return None
        if low.startswith("myevents"):
            cmd_myevents_session(conn, request)
            return None
    elif low.startswith("myevents "):
        return cmd_myevents_inbound(conn, request)
    if low.startswith("divert_events"):
        cmd_divert_events(conn, request)
        return None
    if low.startswith("sendmsg"):
        return cmd_sendmsg(conn, request)
    if conn.outbound and not conn.full:
        conn.reply(NOT_FOUND)
        return None
    for prefix, handler in _FULL_TABLE:
        if low.startswith(prefix):
            return handler(conn, request)
    conn.reply(NOT_FOUND)
    return None


# -- connection --------------------------------------------------------------------------------


def cmd_exit(conn: Connection, request: Request) -> None:
    conn.reply("+OK bye")
    conn.close(GOODBYE)


def cmd_auth(conn: Connection, request: Request) -> None:
    password = request.line[5:]
    if password == conn.settings.password:
        conn.authenticated = True
        conn.reply("+OK accepted")
        return
    conn.reply("-ERR invalid")
    conn.close(GOODBYE)


def parse_userauth(text: str) -> tuple[str, str, str]:
    """``user@domain:pass`` or ``user:pass@domain`` -> (user, domain, password)."""
    user, _, domain = text.partition("@")
    domain, _, password = domain.partition(":")
    if ":" in user:
        user, _, password = user.partition(":")
    return user, domain, password


def cmd_userauth(conn: Connection, request: Request) -> None:
    user, domain, password = parse_userauth(request.line[9:])
    params = conn.core.find_user(user, domain) if user and domain else None
    expected = params.get("esl-password") if params else None
    if params is None or not expected or expected != password:
        conn.core.log(
            3,
            f"Authentication Failure for user {user}@{domain}",
            file="mod_event_socket.c",
            function="parse_command",
            line=1787,
        )
        conn.reply("-ERR invalid")
        conn.close(GOODBYE)
        return
    conn.authenticated = True
    conn.permissions = Permissions.from_params(params)
    conn.reply(
        "+OK accepted",
        [
            ("Allowed-Events", params.get("esl-allowed-events") or "all"),
            ("Allowed-API", params.get("esl-allowed-api") or "all"),
            ("Allowed-LOG", "true" if conn.permissions.log else "false"),
        ],
    )


def cmd_module(conn: Connection, kind: str, action: str, request: Request) -> None:
    """Rewritten to ``api bgapi <action> mod_event_socket`` as FreeSWITCH does: a job id, then the work."""
    job_uuid = (request.get("Job-UUID") or "")[:256] or str(uuidlib.uuid4())
    if kind == "api":
        conn.send(api_response_frame(f"+OK Job-UUID: {job_uuid}\n"))
        conn.replied()
    else:
        conn.reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)])
    conn.server.module_command(job_uuid, action)


# -- filters -----------------------------------------------------------------------------------


def cmd_filter(conn: Connection, request: Request) -> None:
    text = request.line[7:].lstrip(" ")
    header, space, value = text.partition(" ")
    subs = conn.subs
    if header.lower() == "delete":
        target, space2, target_value = value.lstrip(" ").partition(" ")
        if not target:
            conn.reply("-ERR invalid syntax")
            return
        if target.lower() == "all":
            subs.delete_filter("all")
            conn.reply("+OK filter deleted. [all][]")
            return
        subs.delete_filter(target, target_value if space2 else None)
        conn.reply(f"+OK filter deleted. [{target}][{target_value}]")
        return
    if header.lower() == "add":
        header, space, value = value.lstrip(" ").partition(" ")
        if not header:
            conn.reply("-ERR invalid syntax")
            return
        if not space:
            conn.reply(f"+OK filter added. [{header}]=[(null)]")
            return
    if not header or not space:
        conn.reply("-ERR invalid syntax")
        return
    subs.add_filter(header, value)
    conn.reply(f"+OK filter added. [{header}]=[{value}]")


# -- events ------------------------------------------------------------------------------------


def _event_words(line: str) -> list[str]:
    """Words after the first space, split on single spaces (empty ones kept: the format is the first)."""
    _, space, rest = line.partition(" ")
    return rest.split(" ") if space else []


def cmd_event(conn: Connection, request: Request) -> None:
    words = _event_words(request.line)
    subs = conn.subs
    perms = conn.permissions
    if words:
        fmt = event_format(words[0])
        if fmt is not None:
            subs.format = fmt
            words = words[1:]
    keys = 0
    for key in parse_event_list(words):
        if key.subclass is not None:
            if perms is not None and not perms.subclass_allowed(key.subclass):
                conn.reply("-ERR permission denied")
                return
            subs.subclasses.add(key.subclass)
            continue
        if perms is not None and not perms.event_allowed(key.name):
            conn.reply("-ERR permission denied")
            return
        subs.add_type(key.name)
        keys += 1
    if not keys:
        conn.reply("-ERR no keywords supplied")
        return
    subs.enabled = True
    conn.listen_to_bus()
    conn.reply(f"+OK event listener enabled {subs.format}")


def cmd_nixevent(conn: Connection, request: Request) -> None:
    subs = conn.subs
    keys = 0
    for key in parse_event_list(_event_words(request.line)):
        if key.subclass is not None:
            subs.subclasses.discard(key.subclass)
            continue
        if key.name != CUSTOM:
            subs.remove_type(key.name)
        keys += 1
    if not keys:
        conn.reply("-ERR no keywords supplied")
        return
    subs.enabled = True
    conn.listen_to_bus()
    conn.reply("+OK events nixed")


def cmd_noevents(conn: Connection, request: Request) -> None:
    conn.flush_events()
    subs = conn.subs
    if subs.enabled:
        subs.clear()
        conn.reply("+OK no longer listening for events")
    else:
        conn.reply("-ERR not listening for events")


def _enable_myevents(conn: Connection, fmt: str | None) -> None:
    subs = conn.subs
    if fmt:
        subs.format = fmt  # type: ignore[assignment]
    for name in MYEVENTS_TYPES:
        subs.add_type(name)
    subs.myevents = True
    subs.enabled = True
    conn.listen_to_bus()


def cmd_myevents_inbound(conn: Connection, request: Request) -> Awaitable[None] | None:
    """``myevents <uuid> [fmt]`` or ``myevents [fmt] <uuid>``: lock this listener onto one call."""
    words = [w for w in request.line[9:].split(" ") if w]
    fmt: str | None = None
    if words and words[0].lower() in _FORMATS:
        fmt = words.pop(0).lower()
    elif len(words) > 1 and words[1].lower() in _FORMATS:
        fmt = words.pop(1).lower()
    uuid = words[0] if words else ""
    if not uuid or not conn.attach_session(uuid):
        conn.reply("-ERR invalid uuid")
        return None
    _enable_myevents(conn, fmt)
    conn.reply("+OK Events Enabled")
    return None


def cmd_myevents_session(conn: Connection, request: Request) -> None:
    if conn.subs.myevents:
        conn.reply("-ERR aready enabled.")
        return
    raw = request.raw
    fmt = None
    if "xml" in raw or "XML" in raw:
        fmt = "xml"
    if "json" in raw or "JSON" in raw:
        fmt = "json"
    conn.subs.session_uuid = conn.session_uuid
    _enable_myevents(conn, fmt)
    conn.reply("+OK Events Enabled")


def cmd_divert_events(conn: Connection, request: Request) -> None:
    if conn.session_uuid is None:
        conn.reply("-ERR not controlling a session.")
        return
    _, _space, value = request.line.partition(" ")
    value = value.strip()
    if not value:
        conn.reply("-ERR missing value.")
        return
    on = value.lower() == "on"
    conn.set_divert(on)
    conn.reply("+OK events diverted" if on else "+OK events not diverted")


# -- sendevent / sendmsg -----------------------------------------------------------------------


def cmd_sendevent(conn: Connection, request: Request) -> None:
    core = conn.core
    name_text = request.line[9:].lstrip(" \t")
    name = lookup_event_name(name_text) if name_text else None
    if name is None or name == ALL:
        name = CUSTOM
    event = Event(name)
    event.headers.append(("Command", request.line))
    for key, value in request.headers:
        event.add(key, value)
    event.body = request.body or None
    event_uuid = str(uuidlib.uuid4())
    event.add("Event-UUID", event_uuid)
    if name == CUSTOM and name_text and lookup_event_name(name_text) == CUSTOM:
        subclass = event.get("Event-Subclass")
        if subclass:
            event.delete("Event-Subclass")
            event.headers.append(("Event-Subclass", subclass))
            event.subclass = subclass
    unique_id = event.get("Unique-ID")
    if unique_id and core.deliver_session_event(unique_id, event):
        conn.reply(f"+OK {event_uuid}")
        return
    event.headers.extend(core.bus.standard_headers(name, "mod_event_socket.c", "parse_command", 2118))
    conn.reply(f"+OK {event_uuid}")
    core.bus.fire(event)


def cmd_sendmsg(conn: Connection, request: Request) -> Awaitable[None] | None:
    target = request.line[7:].lstrip(" ")
    if not target:
        target = request.get("Session-ID") or ""
    if target and target == conn.session_uuid:
        target = ""
    if not target and conn.session_uuid is not None:
        return conn.session_sendmsg(request)
    if target and conn.core.queue_message(target, request):
        conn.reply("+OK")
        return None
    conn.reply(f"-ERR invalid session id [{target}]")
    return None


# -- api / bgapi -------------------------------------------------------------------------------


def _split_api(text: str) -> tuple[str, str]:
    command, _, args = text.partition(" ")
    return command, args


def cmd_api(conn: Connection, request: Request) -> Awaitable[None] | None:
    text = request.line[4:]
    perms = conn.permissions
    if perms is not None and not perms.api_allowed(text):
        conn.reply("-ERR permission denied")
        return None
    console = (request.get("console_execute") or "").lower() == "true"
    command, args = _split_api(text)
    shown = text.strip() if console else command.strip()
    outcome = conn.core.call_api(command, args, conn.session_uuid)
    if not isinstance(outcome, str) and outcome is not None:
        return _finish_api(conn, shown, outcome)
    _send_api(conn, shown, outcome)
    return None


def _send_api(conn: Connection, command: str, output: str | None) -> None:
    if output is None:
        body = f"-ERR {command} Command not found!\n"
    elif output == "":
        body = "-ERR no reply\n"
    else:
        body = output
    conn.send(api_response_frame(body))
    conn.replied()


async def _finish_api(conn: Connection, command: str, outcome: Awaitable[str | None]) -> None:
    _send_api(conn, command, await outcome)


def cmd_bgapi(conn: Connection, request: Request) -> None:
    text = request.line[6:]
    perms = conn.permissions
    if perms is not None and not perms.api_allowed(text):
        conn.reply("-ERR permission denied")
        return
    job_uuid = (request.get("Job-UUID") or "")[:256] or str(uuidlib.uuid4())
    command, args = _split_api(text)
    conn.reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)])
    conn.server.run_background_job(job_uuid, command, args, conn.session_uuid)


# -- log ---------------------------------------------------------------------------------------


def cmd_log(conn: Connection, request: Request) -> None:
    perms = conn.permissions
    if perms is not None and not perms.log:
        conn.reply("-ERR permission denied")
        return
    word = request.line[3:].lstrip(" ").split(" ", 1)[0]
    if not word:
        level = DEBUG
    else:
        parsed = level_from_text(word)
        if parsed is None:
            conn.reply("-ERR invalid log level")
            return
        level = parsed
    conn.log_level = level
    conn.core.add_log_listener(conn.on_log)
    conn.reply(f"+OK log level {word} [{level}]")


def cmd_nolog(conn: Connection, request: Request) -> None:
    conn.flush_logs()
    if conn.log_level is not None:
        conn.log_level = None
        conn.core.remove_log_listener(conn.on_log)
        conn.reply("+OK no longer logging")
    else:
        conn.reply("-ERR not loging")


# -- session commands (outbound, or inbound after myevents <uuid>) -------------------------------


def cmd_linger(conn: Connection, request: Request) -> None:
    if conn.session_uuid is None:
        conn.reply("-ERR not controlling a session")
        return
    # seconds only after a space: "lingerfoo" lingers forever, as in FreeSWITCH
    _, space, rest = request.line.partition(" ")
    rest = rest.strip() if space else ""
    seconds = atoi(rest) if rest else -1
    conn.linger = seconds
    conn.reply(f"+OK will linger {seconds} seconds" if rest else "+OK will linger")


def cmd_nolinger(conn: Connection, request: Request) -> None:
    if conn.session_uuid is None:
        conn.reply("-ERR not controlling a session")
        return
    conn.linger = None
    conn.reply("+OK will not linger")


def cmd_resume(conn: Connection, request: Request) -> None:
    conn.session_resume()
    conn.reply("+OK")


def cmd_connect(conn: Connection, request: Request) -> None:
    conn.session_connect()


def cmd_getvar(conn: Connection, request: Request) -> None:
    # the name is everything after the first space, untrimmed, as in FreeSWITCH
    _, space, name = request.line.partition(" ")
    value = conn.session_getvar(name) if space and name else None
    conn.reply(value if value else NOT_FOUND)


_FULL_TABLE: tuple[tuple[str, Handler], ...] = (
    ("sendevent", cmd_sendevent),
    ("api ", cmd_api),
    ("bgapi ", cmd_bgapi),
    ("log", cmd_log),
    ("linger", cmd_linger),
    ("nolinger", cmd_nolinger),
    ("nolog", cmd_nolog),
    ("event", cmd_event),
    ("nixevent", cmd_nixevent),
    ("noevents", cmd_noevents),
)

__all__ = ["EVENT_NAMES", "dispatch"]
