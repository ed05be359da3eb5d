"""Every event socket command, inbound and outbound: the one command table and its handlers.

To find a command's code, search the table for its name (``grep -n '"filter"'``): the
entry names the handler, written below in the table's order of sections.

Matching is FreeSWITCH's (PROTOCOL.md §1.5, ``parse_command`` in mod_event_socket.c): a
case-insensitive prefix of the command line, tried in the table's order, so
``logfoo`` is ``log`` and ``exitnow`` is ``exit``. Each entry also says when it applies
(:class:`When`): before authentication, with or without a controlled call, on any
socket, or only on inbound and ``full`` outbound sockets. A line no entry takes gets
``-ERR command not found``.

A handler returns None when it has answered, or an awaitable when the answer has to
wait (a slow ``api``, a static ``sendmsg``); the connection then handles later requests
only after it completes. Reply texts are FreeSWITCH's, typos included.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from eventsocket.protocol.eventlist import (
    ALL,
    CUSTOM,
    event_format,
    lookup_event_name,
    parse_event_list,
)
from eventsocket.protocol.events import Event, EventFormat
from eventsocket.protocol.framing import GOODBYE, api_response_frame, atoi
from eventsocket.protocol.message import Request
from eventsocket.protocol.selection import MYEVENTS_TYPES
from eventsocket.server.permissions import Permissions
from eventsocket.server.state import (
    BackgroundJob,
    Connected,
    FlushEvents,
    FlushLogs,
    ListenerState,
    ModuleCommand,
)
from eventsocket.switch.log import DEBUG, level_from_text

__all__ = ["COMMANDS", "Command", "Handler", "When", "api_reply", "dispatch", "finish_api", "run_api"]

Handler = Callable[[ListenerState, Request], Awaitable[None] | None]

NOT_FOUND = "-ERR command not found"


class When(Enum):
    """When a command applies."""

    ALWAYS = "always"  # before and after authentication
    BEFORE_AUTH = "before auth"  # only until the socket is authenticated
    WITH_CALL = "with a call"  # authenticated and controlling a call
    WITHOUT_CALL = "without a call"  # authenticated and controlling none
    ANY_SOCKET = "any socket"  # authenticated, single-channel outbound sockets too
    FULL = "full"  # authenticated inbound sockets and ``full`` outbound ones


@dataclass(frozen=True, slots=True)
class Command:
    """One entry of the table: the command's ``name``, the lower-case ``prefix`` FreeSWITCH
    compares, its handler and when it applies; ``match``, when set, decides instead of the prefix."""

    name: str
    prefix: str
    handler: Handler
    when: When
    match: Callable[[str], bool] | None = None

    def applies(self, state: ListenerState) -> bool:
        when = self.when
        if when is When.ALWAYS:
            return True
        if not state.authenticated:
            return when is When.BEFORE_AUTH
        if when is When.FULL:
            return state.full
        if when is When.WITH_CALL:
            return state.session_uuid is not None
        if when is When.WITHOUT_CALL:
            return state.session_uuid is None
        return when is When.ANY_SOCKET


def dispatch(
    state: ListenerState, request: Request, table: tuple[Command, ...] | None = None
) -> Awaitable[None] | None:
    """Run the first entry of ``table`` (default :data:`COMMANDS`) whose prefix matches and that
    applies; else ``command not found``."""
    line = request.line
    low = line.lower()
    # the hot path: an authenticated ``api`` that is not about this module (the table's
    # "api" entry; nothing before it in the table takes such a line)
    if low.startswith("api ") and state.authenticated and state.full and "mod_event_socket" not in low:
        return cmd_api(state, request)
    for command in COMMANDS if table is None else table:
        match = command.match
        if (match(line) if match is not None else low.startswith(command.prefix)) and command.applies(state):
            return command.handler(state, request)
    state.reply(NOT_FOUND)
    return None


# -- the connection --------------------------------------------------------------------------------


def cmd_exit(state: ListenerState, request: Request) -> None:
    state.reply("+OK bye")
    state.close(GOODBYE)


def cmd_auth(state: ListenerState, request: Request) -> None:
    password = request.line[5:]
    if password == state.settings.password:
        state.authenticated = True
        state.reply("+OK accepted")
        return
    state.reply("-ERR invalid")
    state.close(GOODBYE)


def parse_userauth(text: str) -> tuple[str, str, str]:
    """``user@domain:pass`` or ``user:pass@domain`` -> (user, domain, password)."""
    user, _, domain = text.partition("@")
    domain, _, password = domain.partition(":")
    if ":" in user:
        user, _, password = user.partition(":")
    return user, domain, password


def cmd_userauth(state: ListenerState, request: Request) -> None:
    user, domain, password = parse_userauth(request.line[9:])
    params = state.backend.find_user(user, domain) if user and domain else None
    expected = params.get("esl-password") if params else None
    if params is None or not expected or expected != password:
        state.backend.log(
            3,
            f"Authentication Failure for user {user}@{domain}",
            file="mod_event_socket.c",
            function="parse_command",
            line=1787,
        )
        state.reply("-ERR invalid")
        state.close(GOODBYE)
        return
    state.authenticated = True
    state.permissions = Permissions.from_params(params)
    state.reply(
        "+OK accepted",
        [
            ("Allowed-Events", params.get("esl-allowed-events") or "all"),
            ("Allowed-API", params.get("esl-allowed-api") or "all"),
            ("Allowed-LOG", "true" if state.permissions.log else "false"),
        ],
    )


# only a command that really unloads or reloads this module (FreeSWITCH matches the words anywhere)
_MODULE_COMMAND = re.compile(r"(api|bgapi) +(unload|reload) +mod_event_socket *\Z", re.IGNORECASE)


def _is_module_command(line: str) -> bool:
    return "mod_event_socket" in line.lower() and _MODULE_COMMAND.match(line) is not None


def cmd_module(state: ListenerState, request: Request) -> None:
    """Rewritten to ``api bgapi <action> mod_event_socket`` as FreeSWITCH does: a job id, then the work."""
    module = _MODULE_COMMAND.match(request.line)
    assert module is not None  # the table's match
    kind, action = module.group(1).lower(), module.group(2).lower()
    job_uuid = (request.get("Job-UUID") or "")[:256] or str(uuidlib.uuid4())
    if kind == "api":
        state.send(api_response_frame(f"+OK Job-UUID: {job_uuid}\n"))
        state.replied = True
    else:
        state.reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)])
    state.actions.append(ModuleCommand(job_uuid, action))


# -- api / bgapi -----------------------------------------------------------------------------------


def cmd_api(state: ListenerState, request: Request) -> Awaitable[None] | None:
    text = request.line[4:]
    perms = state.permissions
    if perms is not None and not perms.api_allowed(text):
        state.reply("-ERR permission denied")
        return None
    console = bool(request.headers) and (request.get("console_execute") or "").lower() == "true"
    return run_api(state, text, console)


def run_api(state: ListenerState, text: str, console: bool = False) -> Awaitable[None] | None:
    """Run ``api <text>`` and answer it (the permission check is done): at once, or by the
    awaitable returned. ``console`` (the ``console_execute`` header) names the whole text
    in the not-found reply."""
    command, _, args = text.partition(" ")
    outcome = state.backend.call_api(command, args, state.session_uuid)
    shown = text if console else command
    if outcome is None or isinstance(outcome, str):
        state.send(api_reply(shown, outcome))
        state.replied = True
        return None
    return finish_api(state, shown, outcome)


def api_reply(command: str, output: str | None) -> bytes:
    """The ``api/response`` for ``output``: FreeSWITCH's texts for an unknown command (None)
    and for a command that printed nothing."""
    if output:
        return api_response_frame(output)
    if output is None:
        return api_response_frame(f"-ERR {command.strip()} Command not found!\n")
    return api_response_frame("-ERR no reply\n")


async def finish_api(state: ListenerState, command: str, outcome: Awaitable[str | None]) -> None:
    """Answer an ``api`` command that waits, once it is done."""
    output = await outcome
    state.send(api_reply(command, output))
    state.replied = True


def cmd_bgapi(state: ListenerState, request: Request) -> None:
    text = request.line[6:]
    perms = state.permissions
    if perms is not None and not perms.api_allowed(text):
        state.reply("-ERR permission denied")
        return
    job_uuid = (request.get("Job-UUID") or "")[:256] or str(uuidlib.uuid4())
    command, _, args = text.partition(" ")
    state.reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)])
    state.actions.append(BackgroundJob(job_uuid, command, args, state.session_uuid))


# -- events ----------------------------------------------------------------------------------------


def _reply_when_live(state: ListenerState, text: str) -> Awaitable[None] | None:
    """Reply once the backend delivers the new selection (at once for the embedded switch)."""
    pending = state.selection_changed()
    if pending is None:
        state.reply(text)
        return None
    return _reply_after(state, pending, text)


async def _reply_after(state: ListenerState, pending: Awaitable[None], text: str) -> None:
    await pending
    state.reply(text)


def cmd_filter(state: ListenerState, request: Request) -> Awaitable[None] | None:
    text = request.line[7:].lstrip(" ")
    header, space, value = text.partition(" ")
    subs = state.subs
    if header.lower() == "delete":
        target, space2, target_value = value.lstrip(" ").partition(" ")
        if not target:
            state.reply("-ERR invalid syntax")
            return None
        if target.lower() == "all":
            subs.delete_filter("all")
            return _reply_when_live(state, "+OK filter deleted. [all][]")
        subs.delete_filter(target, target_value if space2 else None)
        return _reply_when_live(state, f"+OK filter deleted. [{target}][{target_value}]")
    if header.lower() == "add":
        header, space, value = value.lstrip(" ").partition(" ")
        if not header:
            state.reply("-ERR invalid syntax")
            return None
        if not space:
            state.reply(f"+OK filter added. [{header}]=[(null)]")
            return None
    if not header or not space:
        state.reply("-ERR invalid syntax")
        return None
    subs.add_filter(header, value)
    return _reply_when_live(state, f"+OK filter added. [{header}]=[{value}]")


def _event_words(line: str) -> list[str]:
    """Words after the first space, split on single spaces (empty ones kept: the format is the first)."""
    _, space, rest = line.partition(" ")
    return rest.split(" ") if space else []


def cmd_event(state: ListenerState, request: Request) -> Awaitable[None] | None:
    words = _event_words(request.line)
    subs = state.subs
    perms = state.permissions
    if words:
        fmt = event_format(words[0])
        if fmt is not None:
            subs.format = fmt
            words = words[1:]
    keys = 0
    for key in parse_event_list(words):
        if key.subclass is not None:
            if perms is not None and not perms.subclass_allowed(key.subclass):
                state.reply("-ERR permission denied")
                return None
            subs.subclasses.add(key.subclass)
            continue
        if perms is not None and not perms.event_allowed(key.name):
            state.reply("-ERR permission denied")
            return None
        subs.add_type(key.name)
        keys += 1
    if not keys:
        state.reply("-ERR no keywords supplied")
        return None
    subs.enabled = True
    state.listen_to_events()
    return _reply_when_live(state, f"+OK event listener enabled {subs.format}")


def cmd_nixevent(state: ListenerState, request: Request) -> Awaitable[None] | None:
    subs = state.subs
    keys = 0
    for key in parse_event_list(_event_words(request.line)):
        if key.subclass is not None:
            subs.subclasses.discard(key.subclass)
            continue
        if key.name != CUSTOM:
            subs.remove_type(key.name)
        keys += 1
    if not keys:
        state.reply("-ERR no keywords supplied")
        return None
    subs.enabled = True
    state.listen_to_events()
    return _reply_when_live(state, "+OK events nixed")


def cmd_noevents(state: ListenerState, request: Request) -> Awaitable[None] | None:
    state.actions.append(FlushEvents())
    subs = state.subs
    if subs.enabled:
        subs.clear()
        return _reply_when_live(state, "+OK no longer listening for events")
    state.reply("-ERR not listening for events")
    return None


def _enable_myevents(state: ListenerState, fmt: EventFormat | None) -> None:
    subs = state.subs
    if fmt:
        subs.format = fmt
    for name in MYEVENTS_TYPES:
        subs.add_type(name)
    subs.myevents = True
    subs.enabled = True
    state.listen_to_events()


def cmd_myevents_inbound(state: ListenerState, request: Request) -> Awaitable[None] | None:
    """``myevents <uuid> [fmt]`` or ``myevents [fmt] <uuid>``: lock this listener onto one call."""
    words = [w for w in request.line[9:].split(" ") if w]
    fmt: EventFormat | None = None
    if words and event_format(words[0]) is not None:
        fmt = event_format(words.pop(0))
    elif len(words) > 1 and event_format(words[1]) is not None:
        fmt = event_format(words.pop(1))
    uuid = words[0] if words else ""
    call = state.backend.control_call(uuid) if uuid else None
    if call is None:
        state.reply("-ERR invalid uuid")
        return None
    state.attach_call(call)
    _enable_myevents(state, fmt)
    return _reply_when_live(state, "+OK Events Enabled")


def cmd_myevents_session(state: ListenerState, request: Request) -> Awaitable[None] | None:
    if state.subs.myevents:
        state.reply("-ERR aready enabled.")
        return None
    raw = request.raw
    fmt: EventFormat | None = None
    if "xml" in raw or "XML" in raw:
        fmt = "xml"
    if "json" in raw or "JSON" in raw:
        fmt = "json"
    state.subs.session_uuid = state.session_uuid
    _enable_myevents(state, fmt)
    return _reply_when_live(state, "+OK Events Enabled")


def cmd_divert_events(state: ListenerState, request: Request) -> None:
    if state.session_uuid is None:
        state.reply("-ERR not controlling a session.")
        return
    _, _space, value = request.line.partition(" ")
    value = value.strip()
    if not value:
        state.reply("-ERR missing value.")
        return
    on = value.lower() == "on"
    state.divert(on)
    state.reply("+OK events diverted" if on else "+OK events not diverted")


# -- sendevent / sendmsg ---------------------------------------------------------------------------


def cmd_sendevent(state: ListenerState, request: Request) -> None:
    backend = state.backend
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
    if unique_id and backend.deliver_session_event(unique_id, event):
        state.reply(f"+OK {event_uuid}")
        return
    event.headers.extend(backend.standard_headers(name, "mod_event_socket.c", "parse_command", 2118))
    state.reply(f"+OK {event_uuid}")
    backend.fire_event(event)


def cmd_sendmsg(state: ListenerState, request: Request) -> Awaitable[None] | None:
    target = request.line[7:].lstrip(" ")
    if not target:
        target = request.get("Session-ID") or ""
    if target and target == state.session_uuid:
        target = ""
    if not target and state.session_uuid is not None:
        return _sendmsg_own_call(state, request)
    if target and state.backend.queue_message(target, request):
        state.reply("+OK")
        return None
    state.reply(f"-ERR invalid session id [{target}]")
    return None


def _sendmsg_own_call(state: ListenerState, request: Request) -> Awaitable[None] | None:
    """``sendmsg`` without a uuid: queue it (async) or run it now and answer when done (static)."""
    call = state.call
    if call is None:
        state.reply("-ERR invalid session id []")
        return None
    if state.async_mode or (request.get("async") or "").lower() == "true":
        call.queue_message(request)
        state.reply("+OK")
        return None
    return _sendmsg_now(state, call.run_message(request))


async def _sendmsg_now(state: ListenerState, running: Awaitable[None]) -> None:
    await running
    state.reply("+OK")


# -- log -------------------------------------------------------------------------------------------


def cmd_log(state: ListenerState, request: Request) -> None:
    perms = state.permissions
    if perms is not None and not perms.log:
        state.reply("-ERR permission denied")
        return
    word = request.line[3:].lstrip(" ").split(" ", 1)[0]
    if not word:
        level = DEBUG
    else:
        parsed = level_from_text(word)
        if parsed is None:
            state.reply("-ERR invalid log level")
            return
        level = parsed
    state.start_logging(level)
    state.reply(f"+OK log level {word} [{level}]")


def cmd_nolog(state: ListenerState, request: Request) -> None:
    state.actions.append(FlushLogs())
    if state.log_level is not None:
        state.stop_logging()
        state.reply("+OK no longer logging")
    else:
        state.reply("-ERR not loging")


# -- the controlled call (outbound, or inbound after ``myevents <uuid>``) --------------------------


def cmd_linger(state: ListenerState, request: Request) -> None:
    if state.session_uuid is None:
        state.reply("-ERR not controlling a session")
        return
    # seconds only after a space: "lingerfoo" lingers forever, as in FreeSWITCH
    _, space, rest = request.line.partition(" ")
    rest = rest.strip() if space else ""
    seconds = atoi(rest) if rest else -1
    state.linger = seconds
    state.reply(f"+OK will linger {seconds} seconds" if rest else "+OK will linger")


def cmd_nolinger(state: ListenerState, request: Request) -> None:
    if state.session_uuid is None:
        state.reply("-ERR not controlling a session")
        return
    state.linger = None
    state.reply("+OK will not linger")


def cmd_resume(state: ListenerState, request: Request) -> None:
    state.resume = True
    if state.call is not None:
        state.call.set_variable("socket_resume", "true")
    state.reply("+OK")


def cmd_connect(state: ListenerState, request: Request) -> None:
    """The call's data as a flat CHANNEL_DATA event with a command/reply inside (§5.3).

    Standard headers, the caller profile under the ``Channel`` prefix, the channel data
    with every variable, then Content-Type, the URL-encoded ``+OK\\n`` Reply-Text,
    Socket-Mode and Control; no envelope, no Content-Length. One header per name.
    """
    call = state.call
    if call is None:
        state.reply(NOT_FOUND)
        return
    event = Event(
        "CHANNEL_DATA",
        state.backend.standard_headers("CHANNEL_DATA", "mod_event_socket.c", "parse_command", 2209),
    )
    for key, value in call.channel_data():
        event.set(key, value)
    event.set("Content-Type", "command/reply")
    event.set("Reply-Text", "+OK\n")
    event.set("Socket-Mode", "async" if state.async_mode else "static")
    event.set("Control", "full" if state.full else "single-channel")
    state.send(event.serialize("plain"))
    state.replied = True
    state.actions.append(Connected())


def cmd_getvar(state: ListenerState, request: Request) -> None:
    # the name is everything after the first space, untrimmed, as in FreeSWITCH
    _, space, name = request.line.partition(" ")
    call = state.call
    value = call.get_variable(name) if call is not None and space and name else None
    state.reply(value if value else NOT_FOUND)


# -- the table -------------------------------------------------------------------------------------

#: Every command, in FreeSWITCH's matching order. ``grep -n '"<name>"'`` finds an entry.
COMMANDS: tuple[Command, ...] = (
    Command("exit", "exit", cmd_exit, When.ALWAYS),
    Command("...", "...", cmd_exit, When.ALWAYS),
    Command("auth", "auth ", cmd_auth, When.BEFORE_AUTH),
    Command("userauth", "userauth ", cmd_userauth, When.BEFORE_AUTH),
    Command("module", "", cmd_module, When.ANY_SOCKET, match=_is_module_command),
    Command("api", "api ", cmd_api, When.FULL),
    Command("bgapi", "bgapi ", cmd_bgapi, When.FULL),
    Command("filter", "filter ", cmd_filter, When.ANY_SOCKET),
    Command("resume", "resume", cmd_resume, When.WITH_CALL),
    Command("connect", "connect", cmd_connect, When.WITH_CALL),
    Command("getvar", "getvar", cmd_getvar, When.WITH_CALL),
    Command("myevents", "myevents", cmd_myevents_session, When.WITH_CALL),
    Command("myevents", "myevents ", cmd_myevents_inbound, When.WITHOUT_CALL),
    Command("divert_events", "divert_events", cmd_divert_events, When.ANY_SOCKET),
    Command("sendmsg", "sendmsg", cmd_sendmsg, When.ANY_SOCKET),
    Command("sendevent", "sendevent", cmd_sendevent, When.FULL),
    Command("log", "log", cmd_log, When.FULL),
    Command("linger", "linger", cmd_linger, When.FULL),
    Command("nolinger", "nolinger", cmd_nolinger, When.FULL),
    Command("nolog", "nolog", cmd_nolog, When.FULL),
    Command("event", "event", cmd_event, When.FULL),
    Command("nixevent", "nixevent", cmd_nixevent, When.FULL),
    Command("noevents", "noevents", cmd_noevents, When.FULL),
)
