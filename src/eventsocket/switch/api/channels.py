"""Call-control API commands (mod_commands): originate, uuid_*, hupall, show channels/calls."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

from eventsocket.switch.api import ApiCall
from eventsocket.switch.calls import OriginateFailure
from eventsocket.switch.causes import cause_from_text
from eventsocket.switch.channel import CS
from eventsocket.switch.core import Table
from eventsocket.switch.dialstring import separate_args

if TYPE_CHECKING:
    from eventsocket.switch.calls import CallManager
    from eventsocket.switch.core import SwitchCore
    from eventsocket.switch.session import Session

ORIGINATE_SYNTAX = (
    "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] "
    "[<timeout_sec>]"
)
NO_SUCH_CHANNEL = "-ERR No such channel!\n"


async def originate(calls: CallManager, call: ApiCall) -> str:
    args = separate_args(call.args)
    if len(args) < 2 or len(args) > 7:
        return f"-USAGE: {ORIGINATE_SYNTAX}\n"
    args = [("" if a == "undef" else a) for a in args] + [""] * (7 - len(args))
    url, exten, dialplan, context, cid_name, cid_num, timeout_text = args
    extra: dict[str, str] = {}
    if cid_name:
        extra["origination_caller_id_name"] = cid_name
    if cid_num:
        extra["origination_caller_id_number"] = cid_num
    try:
        timeout = float(timeout_text) if timeout_text else 60.0
    except ValueError:
        timeout = 60.0
    try:
        session = await calls.originate(url, timeout=timeout, extra_variables=extra)
    except OriginateFailure as failure:
        return f"-ERR {failure.cause}\n"
    start_originated(session, exten, dialplan or "XML", context or "default")
    return f"+OK {session.uuid}\n"


def start_originated(session: Session, exten: str, dialplan: str, context: str) -> None:
    """After ``originate``: run ``&app(args)`` or send the leg through the dialplan."""
    if exten.startswith("&") and len(exten) > 1:
        name = exten[1:]
        arg = ""
        if "(" in name:
            name, _, arg = name.partition("(")
            arg = arg[: arg.rfind(")")] if ")" in arg else arg
        session.set_caller_extension([(name, arg)])
        session.set_state(CS.CS_EXECUTE)
        return
    session.manager.transfer(session, exten, dialplan, context)


def uuid_kill(calls: CallManager, call: ApiCall) -> str:
    args = call.args.split()
    if not args:
        return "-USAGE: <uuid> [cause]\n"
    session = calls.get(args[0])
    if session is None:
        return NO_SUCH_CHANNEL
    session.kill(cause_from_text(args[1]) if len(args) > 1 else "NORMAL_CLEARING")
    return "+OK\n"


def uuid_answer(calls: CallManager, call: ApiCall) -> str:
    session = calls.get(call.args.split()[0]) if call.args.split() else None
    if session is None:
        return "-ERROR\n"
    session.answer_call()
    return "+OK\n"


def uuid_pre_answer(calls: CallManager, call: ApiCall) -> str:
    session = calls.get(call.args.split()[0]) if call.args.split() else None
    if session is None:
        return "-ERROR\n"
    session.pre_answer()
    return "+OK\n"


def park_session(session: Session) -> None:
    if session.partner is not None:
        session.manager.unbridge(session)
    session.extension = []
    session.app_index = 0
    session.set_state(CS.CS_PARK)


def uuid_park(calls: CallManager, call: ApiCall) -> str:
    session = calls.get(call.args.strip()) if call.args.strip() else None
    if session is None:
        return NO_SUCH_CHANNEL
    park_session(session)
    return "+OK\n"


def uuid_transfer(calls: CallManager, call: ApiCall) -> str:
    usage = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    args = call.args.split()
    if len(args) < 2:
        return usage
    session = calls.get(args[0])
    if session is None:
        return NO_SUCH_CHANNEL
    rest = args[1:]
    targets = [session]
    if rest[0] in ("-bleg", "-both"):
        if len(rest) < 2:
            return usage
        partner = session.partner
        if partner is not None:  # without a bridged leg, the channel itself is transferred
            targets = [partner] if rest[0] == "-bleg" else [partner, session]
        rest = rest[1:]
    dest = rest[0]
    dialplan = rest[1] if len(rest) > 1 else "XML"
    for target in targets:
        context = rest[2] if len(rest) > 2 else target.channel.profile.context or "default"
        target.manager.transfer(target, dest, dialplan, context)
    return "+OK\n"


def uuid_bridge(calls: CallManager, call: ApiCall) -> str:
    args = call.args.split()
    if len(args) < 2:
        return "-USAGE: <uuid> <other_uuid>\n"
    a, b = calls.get(args[0]), calls.get(args[1])
    if a is None or b is None or a is b or not a.ready or not b.ready:
        return "-ERR Invalid uuid\n"
    calls.uuid_bridge(a, b)
    return f"+OK {b.uuid}\n"


def uuid_break(calls: CallManager, call: ApiCall) -> str:
    args = call.args.split()
    if not args:
        return "-USAGE: <uuid> [all]\n"
    session = calls.get(args[0])
    if session is None:
        return NO_SUCH_CHANNEL
    session.request_break()
    return "+OK\n"


def uuid_broadcast(calls: CallManager, call: ApiCall) -> str:
    args = call.args.split()
    if len(args) < 2:
        return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
    session = calls.get(args[0])
    if session is None:
        return "-ERR invalid uuid\n"
    path = args[1]
    leg = args[2].lower() if len(args) > 2 else "aleg"
    targets = [session]
    if leg in ("bleg", "both") and session.partner is not None:
        targets = [session.partner] if leg == "bleg" else [session, session.partner]
    from eventsocket.protocol.message import Request

    for target in targets:
        if "::" in path:
            app, _, arg = path.partition("::")
        else:
            app, arg = "playback", path
        target.queue_message(
            Request(
                "sendmsg", [("call-command", "execute"), ("execute-app-name", app), ("execute-app-arg", arg)]
            )
        )
    return "+OK Message sent\n"


def uuid_getvar(calls: CallManager, call: ApiCall) -> str:
    args = call.args.split()
    if len(args) < 2:
        return "-USAGE: <uuid> <var>\n"
    session = calls.get(args[0])
    if session is None:
        return NO_SUCH_CHANNEL
    value = session.get_variable(args[1])
    return "_undef_" if value is None else value


def uuid_setvar(calls: CallManager, call: ApiCall) -> str:
    uuid, _, rest = call.args.strip().partition(" ")
    name, _, value = rest.strip().partition(" ")
    if not uuid or not name:
        return "-USAGE: <uuid> <var> [value]\n"
    session = calls.get(uuid)
    if session is None:
        return NO_SUCH_CHANNEL
    session.set_variable(name, value.strip() or None)
    return "+OK\n"


def uuid_setvar_multi(calls: CallManager, call: ApiCall) -> str:
    uuid, _, rest = call.args.strip().partition(" ")
    if not uuid or not rest.strip():
        return "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"
    session = calls.get(uuid)
    if session is None:
        return NO_SUCH_CHANNEL
    for item in rest.split(";"):
        name, _, value = item.partition("=")
        if name.strip():
            session.set_variable(name.strip(), value or None)
    return "+OK\n"


def uuid_dump(calls: CallManager, call: ApiCall) -> str:
    args = call.args.split()
    if not args:
        return "-USAGE: <uuid> [format]\n"
    session = calls.get(args[0])
    if session is None:
        return NO_SUCH_CHANNEL
    fmt = args[1].lower() if len(args) > 1 else "txt"
    event = session.event(
        "CHANNEL_DATA",
        calling_file="mod_commands.c",
        calling_function="uuid_dump_function",
        calling_line=5030,
    )
    if fmt == "json":
        return event.serialize("json").decode("utf-8", "replace")
    if fmt == "xml":
        return event.serialize("xml").decode("utf-8", "replace")
    if fmt == "plain":
        return "".join(f"{k}: [{v}]\n" for k, v in event.all_items()) + "\n"
    return event.serialize("plain").decode("utf-8", "replace")


def uuid_exists(calls: CallManager, call: ApiCall) -> str:
    uuid = call.args.strip()
    return "true" if uuid and calls.get(uuid) is not None else "false"


def _dtmf_args(call: ApiCall) -> tuple[str, str] | None:
    args = call.args.split()
    if len(args) < 2:
        return None
    return args[0], args[1]


def uuid_send_dtmf(calls: CallManager, call: ApiCall) -> str:
    """Send digits to the channel's far end (no DTMF event on this channel)."""
    args = _dtmf_args(call)
    if args is None:
        return "-USAGE: <uuid> <dtmf_data>\n"
    uuid, digits = args
    session = calls.get(uuid)
    if session is None:
        return "-ERR Cannot locate session!\n"
    if session.send_dtmf(digits):
        return f"+OK {uuid} sent DTMF {digits}.\n"
    return "-ERR Operation failed\n"


def uuid_recv_dtmf(calls: CallManager, call: ApiCall) -> str:
    """The channel receives digits as if its far end pressed them (DTMF events)."""
    args = _dtmf_args(call)
    if args is None:
        return "-USAGE: <uuid> <dtmf_data>\n"
    uuid, digits = args
    session = calls.get(uuid)
    if session is None:
        return "-ERR Cannot locate session!\n"
    if not session.queue_dtmf(digits, source="APP"):
        return "-USAGE: <uuid> <dtmf_data>\n"
    return f"+OK {uuid} received DTMF {digits}.\n"


def uuid_hold(calls: CallManager, call: ApiCall) -> str:
    """``switch_ivr_hold_uuid`` / ``unhold`` / ``hold_toggle``: an unknown uuid succeeds (FreeSWITCH
    does nothing and reports success); unholding a channel that is not HELD fails."""
    args = call.args.split()
    if not args:
        return "-USAGE: [off|toggle] <uuid> [<display>]\n"
    mode = args[0].lower()
    named = args[1:] if mode in ("off", "toggle") else args
    session = calls.get(named[0]) if named else None
    ok = True
    if session is not None:
        state = session.channel.call_state
        if mode == "off":
            ok = session.unhold()
        elif mode == "toggle":
            if state in ("ACTIVE", "UNHELD"):
                ok = session.hold()
            elif state == "HELD":
                ok = session.unhold()
        else:
            ok = session.hold()
    return "+OK Success\n" if ok else "-ERR Operation failed\n"


def uuid_record(calls: CallManager, call: ApiCall) -> str:
    args = call.args.split()
    usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    if len(args) < 3:
        return usage
    session = calls.get(args[0])
    if session is None:
        return "-ERR Cannot locate session!\n"
    action, path = args[1].lower(), args[2]
    from eventsocket.switch.apps import media

    if action == "start":
        limit = float(args[3]) if len(args) > 3 and args[3].isdigit() else 0.0
        media.start_recording(session, path, limit)
    elif action == "stop":
        if not media.stop_recording(session, path):
            return "-ERR Cannot stop record session!\n"
    elif action not in ("mask", "unmask"):
        return usage
    return "+OK Success\n"


def uuid_displace(calls: CallManager, call: ApiCall) -> str:
    args = call.args.split()
    if len(args) < 3:
        return "-USAGE: <uuid> [start|stop] <path> [<limit>] [mux]\n"
    if calls.get(args[0]) is None:
        return "-ERR Cannot locate session!\n"
    if args[1].lower() not in ("start", "stop"):
        return "-USAGE: <uuid> [start|stop] <path> [<limit>] [mux]\n"
    return "+OK Success\n"


def uuid_phone_event(calls: CallManager, call: ApiCall) -> str:
    return (
        "+OK Success\n"
        if calls.get(call.args.split()[0] if call.args.split() else "")
        else "-ERR No such channel!\n"
    )


def hupall(calls: CallManager, call: ApiCall) -> str:
    args = call.args.split()
    cause_text = args[0] if args else ""
    cause = "MANAGER_REQUEST" if cause_text.upper() in ("", "NONE", "0") else cause_from_text(cause_text)
    pairs = list(zip(args[1::2], args[2::2], strict=False))
    for session in list(calls.sessions.values()):
        if pairs and not all(session.get_variable(name) == value for name, value in pairs):
            continue
        session.kill(cause)  # a channel already hanging up but held is released too
    if pairs:
        name, value = pairs[0]
        more = "..." if len(pairs) > 1 else ""
        return f"+OK hangup all channels matching [{name}]=[{value}]{more} with cause: {cause}\n"
    return f"+OK hangup all channels with cause {cause}\n"


# -- show channels / calls -------------------------------------------------------------------------

CHANNEL_COLUMNS = (
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "application",
    "application_data",
    "dialplan",
    "context",
    "read_codec",
    "read_rate",
    "read_bit_rate",
    "write_codec",
    "write_rate",
    "write_bit_rate",
    "secure",
    "hostname",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "sent_callee_name",
    "sent_callee_num",
    "initial_cid_name",
    "initial_cid_num",
    "initial_ip_addr",
    "initial_dest",
    "initial_dialplan",
    "initial_context",
)
CALL_COLUMNS = (
    "uuid",
    "direction",
    "created",
    "created_epoch",
    "name",
    "state",
    "cid_name",
    "cid_num",
    "ip_addr",
    "dest",
    "presence_id",
    "presence_data",
    "accountcode",
    "callstate",
    "callee_name",
    "callee_num",
    "callee_direction",
    "call_uuid",
    "hostname",
    "sent_callee_name",
    "sent_callee_num",
    "b_uuid",
    "b_direction",
    "b_created",
    "b_created_epoch",
    "b_name",
    "b_state",
    "b_cid_name",
    "b_cid_num",
    "b_ip_addr",
    "b_dest",
    "b_presence_id",
    "b_presence_data",
    "b_accountcode",
    "b_callstate",
    "b_callee_name",
    "b_callee_num",
    "b_callee_direction",
    "b_sent_callee_name",
    "b_sent_callee_num",
    "call_created_epoch",
)


def channel_row(core: SwitchCore, session: Session) -> list[str]:
    channel = session.channel
    profile = channel.profile
    created = profile.created // 1_000_000
    codec = channel.codec
    var = channel.variables.get
    return [
        session.uuid,
        channel.direction,
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(created)),
        str(created),
        channel.name,
        channel.running_state.name,
        profile.caller_id_name,
        profile.caller_id_number,
        profile.network_addr,
        profile.destination_number,
        var("current_application", "") or "",
        var("current_application_data", "") or "",
        profile.dialplan,
        profile.context,
        codec.name if codec else "",
        str(codec.rate) if codec else "",
        str(codec.bit_rate) if codec else "",
        codec.name if codec else "",
        str(codec.rate) if codec else "",
        str(codec.bit_rate) if codec else "",
        "",
        core.identity.hostname,
        var("presence_id", "") or "",
        var("presence_data", "") or "",
        var("accountcode", "") or "",
        channel.call_state,
        profile.callee_id_name,
        profile.callee_id_number,
        "",
        var("call_uuid", session.uuid) or session.uuid,
        "",
        "",
        profile.caller_id_name,
        profile.caller_id_number,
        profile.network_addr,
        profile.destination_number,
        profile.dialplan,
        profile.context,
    ]


def _channels_table(calls: CallManager, core: SwitchCore, args: list[str]) -> Table:
    sessions = sorted(calls.sessions.values(), key=lambda s: s.channel.profile.created)
    rows = [channel_row(core, s) for s in sessions]
    if len(args) >= 2 and args[0].lower() == "like":
        needle = args[1].replace("%", "").lower()
        rows = [r for r in rows if any(needle in r[i].lower() for i in (0, 4, 6, 7, 23, 24))]
    return CHANNEL_COLUMNS, rows


def _channels_count(calls: CallManager, core: SwitchCore, args: list[str]) -> int:
    """``show channels count``: one row per session, so no row needs building (unless filtered)."""
    if len(args) >= 2 and args[0].lower() == "like":
        return len(_channels_table(calls, core, args)[1])
    return len(calls.sessions)


def _calls_count(calls: CallManager, core: SwitchCore, args: list[str]) -> int:
    """``show calls count``: the rows ``_calls_table`` makes (a leg and its partner share one),
    grouped the same way without building them."""
    count = 0
    seen: set[str] = set()
    for session in sorted(calls.sessions.values(), key=lambda s: s.channel.profile.created):
        if session.uuid in seen:
            continue
        seen.add(session.uuid)
        count += 1
        partner = session.partner or session.loopback_peer
        if partner is not None:
            seen.add(partner.uuid)
    return count


def _calls_table(calls: CallManager, core: SwitchCore, args: list[str]) -> Table:
    rows: list[list[str]] = []
    seen: set[str] = set()
    for session in sorted(calls.sessions.values(), key=lambda s: s.channel.profile.created):
        if session.uuid in seen:
            continue
        seen.add(session.uuid)
        a = channel_row(core, session)
        base = [
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            a[5],
            a[6],
            a[7],
            a[8],
            a[9],
            a[22],
            a[23],
            a[24],
            a[25],
            a[26],
            a[27],
            a[28],
            a[29],
            a[21],
            a[30],
            a[31],
        ]
        partner = session.partner or session.loopback_peer
        if partner is not None and partner.uuid not in seen:
            seen.add(partner.uuid)
            b = channel_row(core, partner)
            base += [
                b[0],
                b[1],
                b[2],
                b[3],
                b[4],
                b[5],
                b[6],
                b[7],
                b[8],
                b[9],
                b[22],
                b[23],
                b[24],
                b[25],
                b[26],
                b[27],
                b[28],
                b[30],
                b[31],
            ]
        else:
            base += [""] * 19
        base.append(a[3])
        rows.append(base)
    return CALL_COLUMNS, rows


def _bridged_calls_table(calls: CallManager, core: SwitchCore, args: list[str]) -> Table:
    columns, rows = _calls_table(calls, core, args)
    return columns, [r for r in rows if r[21]]


def _detailed_calls_table(calls: CallManager, core: SwitchCore, args: list[str]) -> Table:
    columns, rows = _channels_table(calls, core, [])
    b_columns = tuple(f"b_{c}" for c in columns)
    out: list[list[str]] = []
    by_uuid = {r[0]: r for r in rows}
    seen: set[str] = set()
    for row in rows:
        if row[0] in seen:
            continue
        seen.add(row[0])
        session = calls.get(row[0])
        partner = (session.partner or session.loopback_peer) if session else None
        if partner is not None and partner.uuid in by_uuid and partner.uuid not in seen:
            seen.add(partner.uuid)
            out.append(row + by_uuid[partner.uuid])
        else:
            out.append(row + [""] * len(columns))
    return (*columns, *b_columns), out


def sofia_contact(call: ApiCall) -> str:
    """mod_sofia's contact lookup. No phone ever registers with this switch, so every user is
    unreachable: ``error/user_not_registered``, which is what a FreeSWITCH without
    registrations answers (a vanilla directory's dial-string then fails with
    USER_NOT_REGISTERED)."""
    return "error/user_not_registered"


def register(core: SwitchCore, calls: CallManager) -> None:
    """Load the call-control commands into ``core``, bound to the call layer ``calls``."""
    add = core.register_api
    add("originate", "Originate a call", ORIGINATE_SYNTAX, "mod_commands", partial(originate, calls))
    add("uuid_kill", "Kill channel", "<uuid> [cause]", "mod_commands", partial(uuid_kill, calls))
    add("uuid_answer", "answer", "<uuid>", "mod_commands", partial(uuid_answer, calls))
    add("uuid_pre_answer", "pre_answer", "<uuid>", "mod_commands", partial(uuid_pre_answer, calls))
    add("uuid_park", "Park channel", "<uuid>", "mod_commands", partial(uuid_park, calls))
    add(
        "uuid_transfer",
        "Transfer a session",
        "<uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]",
        "mod_commands",
        partial(uuid_transfer, calls),
    )
    add("uuid_bridge", "Bridge call legs", "<uuid> <other_uuid>", "mod_commands", partial(uuid_bridge, calls))
    add(
        "uuid_break",
        "Break out of media sent to channel",
        "<uuid> [all]",
        "mod_commands",
        partial(uuid_break, calls),
    )
    add(
        "uuid_broadcast",
        "Execute dialplan application",
        "<uuid> <path> [aleg|bleg|holdb|both]",
        "mod_commands",
        partial(uuid_broadcast, calls),
    )
    add(
        "uuid_getvar",
        "Get a variable from a channel",
        "<uuid> <var>",
        "mod_commands",
        partial(uuid_getvar, calls),
    )
    add("uuid_setvar", "Set a variable", "<uuid> <var> [value]", "mod_commands", partial(uuid_setvar, calls))
    add(
        "uuid_setvar_multi",
        "Set multiple variables",
        "<uuid> <var>=<value>;<var>=<value>...",
        "mod_commands",
        partial(uuid_setvar_multi, calls),
    )
    add("uuid_dump", "Dump session vars", "<uuid> [format]", "mod_commands", partial(uuid_dump, calls))
    add("uuid_exists", "Check if a uuid exists", "<uuid>", "mod_commands", partial(uuid_exists, calls))
    add(
        "uuid_send_dtmf",
        "Send dtmf digits",
        "<uuid> <dtmf_data>",
        "mod_commands",
        partial(uuid_send_dtmf, calls),
    )
    add("sofia_contact", "Sofia Contacts", "[profile/]<user>@<domain>", "mod_sofia", sofia_contact)
    add(
        "uuid_recv_dtmf",
        "Receive dtmf digits",
        "<uuid> <dtmf_data>",
        "mod_commands",
        partial(uuid_recv_dtmf, calls),
    )
    add(
        "uuid_hold",
        "Place call on hold",
        "[off|toggle] <uuid> [<display>]",
        "mod_commands",
        partial(uuid_hold, calls),
    )
    add(
        "uuid_record",
        "Record session audio",
        "<uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]",
        "mod_commands",
        partial(uuid_record, calls),
    )
    add(
        "uuid_displace",
        "Displace audio",
        "<uuid> [start|stop] <path> [<limit>] [mux]",
        "mod_commands",
        partial(uuid_displace, calls),
    )
    add(
        "uuid_phone_event",
        "Send an event to the phone",
        "<uuid>",
        "mod_commands",
        partial(uuid_phone_event, calls),
    )
    add(
        "hupall",
        "hupall",
        "<cause> [<var> <value>] [<var2> <value2>]",
        "mod_commands",
        partial(hupall, calls),
    )
    core.show_providers.update(
        {
            "channels": partial(_channels_table, calls),
            "calls": partial(_calls_table, calls),
            "detailed_calls": partial(_detailed_calls_table, calls),
            "bridged_calls": partial(_bridged_calls_table, calls),
            "detailed_bridged_calls": partial(_detailed_calls_table, calls),
        }
    )
    core.show_counters.update(
        {"channels": partial(_channels_count, calls), "calls": partial(_calls_count, calls)}
    )
