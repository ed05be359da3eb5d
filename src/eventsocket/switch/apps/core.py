"""Dialplan applications that control the call itself (mod_dptools' names and arguments)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventsocket.protocol.compat import atoi
from eventsocket.switch.causes import cause_from_text
from eventsocket.switch.dialstring import separate_args
from eventsocket.switch.log import INFO, level_from_text

if TYPE_CHECKING:
    from eventsocket.switch.calls import CallManager
    from eventsocket.switch.session import Session


async def answer(session: Session, data: str) -> None:
    session.answer_call()


async def pre_answer(session: Session, data: str) -> None:
    session.pre_answer()


async def ring_ready(session: Session, data: str) -> None:
    session.ring_ready()


async def hangup(session: Session, data: str) -> None:
    session.hangup(cause_from_text(data.strip() or None))


async def park(session: Session, data: str) -> None:
    await session.park()


def _split_assignment(data: str) -> tuple[str, str | None]:
    name, eq, value = data.partition("=")
    return name.strip(), (value if eq else None)


async def set_(session: Session, data: str) -> None:
    name, value = _split_assignment(data)
    if name:
        session.set_variable(name, value)


async def unset(session: Session, data: str) -> None:
    if data.strip():
        session.set_variable(data.strip(), None)


async def export(session: Session, data: str) -> None:
    """Set a variable here and list it in ``export_vars`` so new legs of this call inherit it."""
    name, value = _split_assignment(data)
    local = True
    if name.startswith("nolocal:"):
        name, local = name[8:], False
    if not name:
        return
    if local:
        session.set_variable(name, value)
    exports = [v for v in (session.get_variable("export_vars") or "").split(",") if v]
    if name not in exports:
        exports.append(name)
    session.set_variable("export_vars", ",".join(exports))
    session.set_variable(f"__export_{name}", value)  # the value for new legs when nolocal


async def multiset(session: Session, data: str) -> None:
    text = data.strip()
    separator = " "
    if text.startswith("^^") and len(text) > 2:
        separator, text = text[2], text[3:]
    for item in text.split(separator):
        name, value = _split_assignment(item)
        if name:
            session.set_variable(name, value)


async def sleep(session: Session, data: str) -> None:
    await session.wait(max(0, atoi(data)) / 1000.0)


async def transfer(session: Session, data: str) -> None:
    args = separate_args(data)
    if not args:
        return
    destination = args[0]
    dialplan = args[1] if len(args) > 1 else "XML"
    context = args[2] if len(args) > 2 else session.channel.profile.context
    if destination in ("-bleg", "-both") and session.partner is not None and len(args) > 1:
        targets = [session.partner] if destination == "-bleg" else [session.partner, session]
        for target in targets:
            target.manager.transfer(
                target,
                args[1],
                args[2] if len(args) > 2 else "XML",
                args[3] if len(args) > 3 else target.channel.profile.context,
            )
        return
    session.manager.transfer(session, destination, dialplan, context)


async def echo(session: Session, data: str) -> None:
    """Echo the caller's audio back: for a simulated call, hold the line until hangup or break."""
    await session.wait(None)


async def log_(session: Session, data: str) -> None:
    level_text, space, message = data.partition(" ")
    level = level_from_text(level_text) if space else None
    if level is None:
        level, message = 7, data
    session.core.log(
        level,
        message,
        file="mod_dptools.c",
        function="log_function",
        line=1763,
        session_uuid=session.uuid,
        channel=3,
    )


async def info(session: Session, data: str) -> None:
    event = session.event("CHANNEL_DATA")
    lines = "\n".join(f"{k}: [{v}]" for k, v in event.all_items())
    session.core.log(
        INFO,
        f"CHANNEL_DATA:\n{lines}",
        file="mod_dptools.c",
        function="info_function",
        line=2086,
        session_uuid=session.uuid,
        channel=3,
    )


async def event(session: Session, data: str) -> None:
    """``event Event-Name=X,Event-Subclass=y,header=value``: fire an event with the channel's data."""
    name = "CHANNEL_APPLICATION"
    subclass: str | None = None
    headers: list[tuple[str, str]] = []
    for item in data.split(","):
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            continue
        if key.lower() == "event-name":
            from eventsocket.switch.eventtypes import lookup_event_name

            name = lookup_event_name(value.strip()) or name
        elif key.lower() == "event-subclass":
            subclass = value.strip()
            name = "CUSTOM"
        else:
            headers.append((key, value))
    fired = session.event(
        name,
        subclass=subclass,
        calling_file="mod_dptools.c",
        calling_function="event_function",
        calling_line=1296,
    )
    for key, value in headers:
        fired.add(key, value)
    session.core.bus.fire(fired)


async def sched_hangup(session: Session, data: str) -> None:
    args = data.split()
    if not args:
        return
    when = args[0]
    seconds = atoi(when[1:]) if when.startswith("+") else atoi(when) - int(session.core.clock.time())
    cause = cause_from_text(args[1] if len(args) > 1 else "ALLOTTED_TIMEOUT")

    async def later() -> None:
        await session.core.clock.sleep(max(0, seconds))
        if session.ready:
            session.hangup(cause)

    session.core.spawn(later(), name=f"sched_hangup-{session.uuid}")


async def queue_dtmf(session: Session, data: str) -> None:
    """This channel receives the digits as if they had been pressed (``<digits>[@<tone_duration>]``)."""
    session.queue_dtmf(data.strip(), source="APP")


async def send_dtmf(session: Session, data: str) -> None:
    """Send digits to the far end: a loopback pair's other leg receives them, ``sim`` records them."""
    session.send_dtmf(data.strip())


async def respond(session: Session, data: str) -> None:
    code = atoi(data)
    if code == 180:
        session.ring_ready()
    elif code == 183:
        session.pre_answer()
    elif code == 200:
        session.answer_call()
    elif code >= 400:
        session.hangup("CALL_REJECTED")


async def wait_for_answer(session: Session, data: str) -> None:
    await session.wait(None, until=lambda: session.channel.answered)


async def set_global(session: Session, data: str) -> None:
    name, value = _split_assignment(data)
    if name:
        if value:
            session.core.global_vars[name] = value
        else:
            session.core.global_vars.pop(name, None)


async def bridge_export(session: Session, data: str) -> None:
    await export(session, data)


async def deflect(session: Session, data: str) -> None:
    session.hangup("NORMAL_CLEARING")


async def break_(session: Session, data: str) -> None:
    if session.partner is not None:
        session.partner.request_break()


async def redirect(session: Session, data: str) -> None:
    await deflect(session, data)


def register(manager: CallManager) -> None:
    add = manager.add_application
    add("answer", answer, "Answer the call", "")
    add("pre_answer", pre_answer, "Pre-Answer the call", "")
    add("ring_ready", ring_ready, "Indicate Ring_Ready", "")
    add("hangup", hangup, "Hangup the call", "[<cause>]")
    add("park", park, "Park", "")
    add("set", set_, "Set a channel variable", "<varname>=<value>")
    add("unset", unset, "Unset a channel variable", "<varname>")
    add("export", export, "Export a channel variable across a bridge", "<varname>=<value>")
    add("bridge_export", bridge_export, "Export a channel variable across a bridge", "<varname>=<value>")
    add("multiset", multiset, "Set many channel variables", "[^^<delim>]<varname>=<value> <var2>=<val2>")
    add("set_global", set_global, "Set a global variable", "<varname>=<value>")
    add("sleep", sleep, "Pause a channel", "<pausemilliseconds>")
    add("transfer", transfer, "Transfer a channel", "<exten> [<dialplan> <context>]")
    add("echo", echo, "Echo", "")
    add("log", log_, "Logs to the logger", "<log_level> <log_string>")
    add("info", info, "Display Call Info", "")
    add("event", event, "Fire an event", "")
    add("sched_hangup", sched_hangup, "Schedule a hangup in the future", "[+]<time> [<cause>]")
    add("queue_dtmf", queue_dtmf, "Queue dtmf to be sent", "<dtmf_data>")
    add("send_dtmf", send_dtmf, "Send dtmf to be sent", "<dtmf_data>")
    add("respond", respond, "Send session respond", "<respond_data>")
    add("wait_for_answer", wait_for_answer, "Wait for call to be answered", "")
    add("deflect", deflect, "Send call deflect", "<deflect_data>")
    add("redirect", redirect, "Send session redirect", "<redirect_data>")
    add("break", break_, "Break", "")
