"""``bridge``: ring a dial string for this call and connect the leg that answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventsocket.protocol.compat import switch_true
from eventsocket.switch.calls import OriginateFailure
from eventsocket.switch.causes import cause_number

if TYPE_CHECKING:
    from eventsocket.switch.calls import CallManager
    from eventsocket.switch.session import Session

# causes after which the dialplan goes on even without continue_on_fail (FreeSWITCH's defaults)
_QUIET_FAIL = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ORIGINATOR_CANCEL"})


def _listed(cause: str, names: str) -> bool:
    """Whether ``cause`` is in a comma-separated list of cause names or numbers (any case)."""
    number = str(cause_number(cause))
    return any(item.strip().upper() in (cause, number) for item in names.split(","))


def handle_cause(session: Session, cause: str) -> None:
    """``switch_channel_handle_cause``: after a failed bridge, go on with the dialplan or hang up.

    ``failure_causes`` lists the causes that are failures (any other goes on);
    ``continue_on_fail`` is ``true``, ``false`` or a list of causes that go on. With
    neither, NO_ANSWER, NO_USER_RESPONSE and ORIGINATOR_CANCEL go on and others hang up.
    """
    if not session.ready or cause == "ATTENDED_TRANSFER":
        if session.ready:
            session.hangup(cause)
        return
    continue_on_fail = session.get_variable("continue_on_fail")
    failure_causes = session.get_variable("failure_causes")
    if continue_on_fail is not None or failure_causes is not None:
        if failure_causes is not None and not _listed(cause, failure_causes):
            return
        goes_on = continue_on_fail is not None and (
            switch_true(continue_on_fail) or _listed(cause, continue_on_fail)
        )
        if goes_on:
            return
    elif cause in _QUIET_FAIL:
        return
    session.hangup(cause)


def _exported(session: Session) -> dict[str, str]:
    """Variables an a-leg hands to its new legs: ``export_vars`` (and ``nolocal:`` values)."""
    out: dict[str, str] = {}
    for name in (session.get_variable("export_vars") or "").split(","):
        name = name.strip()
        if not name:
            continue
        value = session.get_variable(name) or session.get_variable(f"__export_{name}")
        if value is not None:
            out[name] = value
    return out


async def bridge(session: Session, data: str) -> None:
    manager = session.manager
    if not data.strip():
        return
    timeout = float(session.get_variable("call_timeout") or session.get_variable("originate_timeout") or 60)
    try:
        peer = await manager.originate(
            data.strip(), caller=session, timeout=timeout, extra_variables=_exported(session)
        )
    except OriginateFailure as failure:
        cause = failure.cause
        session.set_variable("originate_failed_cause", cause)
        session.set_variable("current_application_response", None)
        handle_cause(session, cause)
        return
    if not peer.channel.answered:
        # early media bridges too; wait for the real answer while connected
        session.pre_answer()
        await session.wait(None, until=lambda: peer.channel.answered or not peer.ready)
        if not peer.ready:
            session.set_variable("bridge_hangup_cause", peer.channel.hangup_cause)
            return
    await manager.bridge(session, peer)
    if session.ready and switch_true(session.get_variable("hangup_after_bridge")):
        session.hangup(peer.channel.hangup_cause or "NORMAL_CLEARING")


def register(manager: CallManager) -> None:
    manager.add_application("bridge", bridge, "Bridge Audio", "<channel_url>")
