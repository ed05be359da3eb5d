"""The other parties of a call under test: callers that dial in, and far ends the switch dials.

- :class:`CallerEndpoint` makes the inbound channel of :meth:`EmbeddedSwitch.call_in`:
  an inbound call that runs the dialplan as a call from a phone does (CS_NEW, CS_INIT,
  CS_ROUTING, CS_EXECUTE, not answered until the dialplan or the application answers).
- :class:`ScriptedSimEndpoint` is the ``sim`` endpoint with a script per destination
  (:class:`FarEnd`): a dialer's ``originate sim/1001`` rings, answers, goes busy or
  presses digits as the test said, through the sim endpoint's own ``sim_*`` variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eventsocket.switch.calls import CallManager
from eventsocket.switch.dialstring import Leg
from eventsocket.switch.endpoints import Endpoint, SimEndpoint
from eventsocket.switch.session import Session

__all__ = ["CallerEndpoint", "FarEnd", "ScriptedSimEndpoint"]


def _ms(seconds: float) -> str:
    return str(max(0, round(seconds * 1000)))


@dataclass
class FarEnd:
    """What the party at ``sim/<destination>`` does when the switch dials it.

    Times are seconds on the switch's clock. ``busy``/``reject``/``no_answer`` end the
    attempt as a phone would (USER_BUSY after ``answer_after`` of ringing, CALL_REJECTED,
    ringing until the caller gives up); otherwise it answers after ``answer_after``,
    presses ``dtmf`` starting ``dtmf_after`` seconds after answering, and hangs up
    ``hangup_after`` seconds after answering (never, when None).
    """

    destination: str
    answer_after: float = 0.0
    early_media_after: float | None = None
    busy: bool = False
    reject: bool = False
    no_answer: bool = False
    fail_cause: str | None = None
    dtmf: str | None = None
    dtmf_after: float = 0.5
    dtmf_interval: float = 0.2
    hangup_after: float | None = None
    hangup_cause: str | None = None
    uuids: list[str] = field(default_factory=list)

    def variables(self) -> dict[str, str]:
        """The ``sim_*`` channel variables that make the sim endpoint behave so."""
        out = {"sim_ring_ms": _ms(self.answer_after)}
        if self.early_media_after is not None:
            out["sim_early_media_ms"] = _ms(self.early_media_after)
        cause = self.fail_cause
        if self.busy:
            cause = cause or "USER_BUSY"
        elif self.reject:
            cause = cause or "CALL_REJECTED"
        if cause:
            out["sim_fail_cause"] = cause
        if self.no_answer:
            out["sim_answer"] = "false"
        if self.dtmf:
            out["sim_dtmf"] = self.dtmf
            out["sim_dtmf_delay_ms"] = _ms(self.dtmf_after)
            out["sim_dtmf_interval_ms"] = _ms(self.dtmf_interval)
        if self.hangup_after is not None:
            out["sim_hangup_ms"] = _ms(self.hangup_after)
        if self.hangup_cause:
            out["sim_hangup_cause"] = self.hangup_cause
        return out


class ScriptedSimEndpoint(SimEndpoint):
    """``sim/<destination>`` following the test's :class:`FarEnd` for that destination.

    Variables on the dial string still win, so one leg can differ from the script.
    """

    def __init__(self, scripts: dict[str, FarEnd]) -> None:
        self.scripts = scripts

    def create(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Session:
        script = self.scripts.get(leg.destination)
        if script is not None:
            variables = {**script.variables(), **variables}
        session = super().create(manager, leg, variables, caller)
        if script is not None:
            script.uuids.append(session.uuid)
        return session


class CallerEndpoint(Endpoint):
    """The channel of a phone calling in: nothing happens on its own, the test drives it."""

    name = "sim"
    module = "mod_loopback"
