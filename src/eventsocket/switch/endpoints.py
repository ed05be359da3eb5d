"""Endpoints: where outbound legs go.

- ``null/<dest>``: answers at once (mod_loopback's null channel).
- ``loopback/<exten>[/<context>[/<dialplan>]]``: two legs; the ``-b`` leg is inbound and
  runs the dialplan, and its answer, early media and hangup reach the ``-a`` leg.
- ``error/<CAUSE>``: fails with that cause, no channel is created.
- ``sim/<dest>``: a scriptable far end for tests, driven by channel variables:
  ``sim_ring_ms`` (ring before answering), ``sim_early_media_ms`` (early media after),
  ``sim_answer`` (``false``: never answers), ``sim_fail_cause`` (fail with this cause after
  the ring time), ``sim_hangup_ms`` (far end hangs up that long after answer),
  ``sim_hangup_cause``, ``sim_dtmf`` (digits the far end presses after answer, one every
  ``sim_dtmf_interval_ms``, starting ``sim_dtmf_delay_ms`` after answer). The
  destinations ``busy``, ``noanswer``, ``reject`` and ``fail`` are shorthands. A misspelled
  ``sim_*`` name or value fails the leg (INVALID_GATEWAY) with an error log line saying
  what is wrong, rather than being ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eventsocket.protocol.compat import atoi, switch_true
from eventsocket.switch.calls import OriginateFailure, Redirect
from eventsocket.switch.causes import cause_from_text, cause_lookup
from eventsocket.switch.channel import Codec
from eventsocket.switch.dialstring import Leg, parse_dial_string

if TYPE_CHECKING:
    from eventsocket.switch.calls import CallManager
    from eventsocket.switch.session import Session


class Endpoint:
    """An endpoint module: creates outbound legs and drives their far end."""

    name = ""
    module = "mod_loopback"
    codec = Codec("L16", 8000, 128000)

    def create(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Session:
        return manager.new_outbound(
            self, f"{self.name}/{leg.destination}", leg.destination, variables, caller
        )

    def redirect(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Redirect | None:
        """The legs dialed in place of ``leg`` (``user/``), or None to :meth:`create` it."""
        return None

    async def on_init(self, session: Session) -> None:
        """CS_INIT, before CHANNEL_CREATE: what the endpoint does first."""

    async def on_consume_media(self, session: Session) -> None:
        """CS_CONSUME_MEDIA: an outbound leg waiting while an originate rings it."""

    async def on_hangup(self, session: Session) -> None:
        """When the channel enters CS_HANGUP."""

    def send_dtmf(self, session: Session, digit: str, duration: int) -> None:
        """A digit sent to this channel's far end (``uuid_send_dtmf``, ``send_dtmf``, a bridge)."""

    def indicate_hold(self, session: Session, on: bool) -> None:
        """The switch puts this leg on hold or takes it off; null and loopback legs do not change."""


class NullEndpoint(Endpoint):
    """mod_loopback's null channel: answers when it reaches CS_CONSUME_MEDIA.

    ``null_enable_auto_answer=false`` keeps it ringing, ``null_auto_answer_delay`` (ms)
    delays the answer, ``null_pre_answer=true`` gives early media first; a destination
    ``cause-<CAUSE>`` or ``null_hangup_cause`` fails the originate with that cause.
    """

    name = "null"

    def create(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Session:
        cause = variables.get("null_hangup_cause")
        if cause is None and leg.destination.startswith("cause-"):
            cause = leg.destination[6:]
        if cause is not None:
            raise OriginateFailure(cause_lookup(cause) or "NORMAL_CLEARING")
        if caller is not None and not switch_true(caller.get_variable("null_no_pre_answer")):
            caller.pre_answer()
        return super().create(manager, leg, variables, caller)

    async def on_consume_media(self, session: Session) -> None:
        get = session.get_variable
        if switch_true(get("null_pre_answer")):
            session.pre_answer()
        auto = get("null_enable_auto_answer")
        if auto is not None and not switch_true(auto):
            return
        delay = min(max(atoi(get("null_auto_answer_delay") or "0"), 0), 60000)
        if delay and await session.wait(delay / 1000.0, messages=False, stop_on_state=False) == "hangup":
            return
        session.answer()

    def send_dtmf(self, session: Session, digit: str, duration: int) -> None:
        queued = session.get_variable("null_channel_dtmf_queued") or ""
        session.set_variable("null_channel_dtmf_queued", queued + digit)


class ErrorEndpoint(Endpoint):
    name = "error"
    module = "mod_dptools"

    def create(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Session:
        # mod_dptools' error endpoint: an unknown cause is DESTINATION_OUT_OF_ORDER
        raise OriginateFailure(cause_lookup(leg.destination) or "DESTINATION_OUT_OF_ORDER")


class LoopbackEndpoint(Endpoint):
    name = "loopback"

    def create(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Session:
        parts = leg.destination.split("/")
        exten = parts[0]
        context = parts[1] if len(parts) > 1 and parts[1] else "default"
        dialplan = parts[2] if len(parts) > 2 and parts[2] else "XML"
        if not exten:
            raise OriginateFailure("INVALID_NUMBER_FORMAT")
        a_leg = manager.new_outbound(self, f"loopback/{exten}-a", exten, variables, caller)
        a_leg.set_variable("loopback_leg", "A")
        profile = a_leg.channel.profile.copy()
        profile.destination_number = exten
        profile.context = context
        profile.dialplan = dialplan
        profile.source = "mod_loopback"
        b_leg = manager.new_inbound(self, f"loopback/{exten}-b", profile)
        b_leg.set_variable("loopback_leg", "B")
        b_leg.set_variable("other_loopback_leg_uuid", a_leg.uuid)
        a_leg.set_variable("other_loopback_leg_uuid", b_leg.uuid)
        for name, value in variables.items():
            if name.startswith("loopback_export") or name in ("sip_h_X",):
                continue
            if not name.startswith(("origination_", "originate_", "sim_")):
                b_leg.set_variable(name, value)
        a_leg.loopback_peer = b_leg
        b_leg.loopback_peer = a_leg
        return a_leg

    async def on_init(self, session: Session) -> None:
        peer = session.loopback_peer
        if peer is not None and session.get_variable("loopback_leg") == "A":
            peer.start()

    def send_dtmf(self, session: Session, digit: str, duration: int) -> None:
        # mod_loopback's channel_send_dtmf: the other half of the pair receives the digit
        peer = session.loopback_peer
        if peer is not None and peer.ready:
            peer.queue_dtmf(f"{digit}@{duration // 8}", source="APP")


SIM_MS_VARIABLES = ("sim_ring_ms", "sim_early_media_ms", "sim_hangup_ms", "sim_dtmf_delay_ms",
                    "sim_dtmf_interval_ms")
SIM_VARIABLES = (*SIM_MS_VARIABLES, "sim_answer", "sim_fail_cause", "sim_hangup_cause", "sim_dtmf",
                 "sim_dtmf_received")


def sim_variables_error(variables: dict[str, str]) -> str | None:
    """What is wrong with the ``sim_*`` variables of a leg, or None.

    The sim endpoint exists for tests; a value it would silently read as 0 or a name it
    would never read makes a test pass for the wrong reason, so both are errors.
    """
    for name, value in variables.items():
        if not name.startswith("sim_"):
            continue
        text = value.strip()
        if name in SIM_MS_VARIABLES:
            if not text.isdigit():
                return f"{name}={value!r} is not a number of milliseconds"
        elif name == "sim_answer":
            if text.lower() not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                return f"{name}={value!r} is not true or false"
        elif name in ("sim_fail_cause", "sim_hangup_cause"):
            if cause_lookup(text) is None:
                return f"{name}={value!r} is not a hangup cause (such as USER_BUSY)"
        elif name == "sim_dtmf_received":
            continue  # written by the endpoint: the digits the simulated phone heard
        elif name == "sim_dtmf":
            bad = [ch for ch in text if ch not in "0123456789*#ABCDabcdwW"]
            if bad:
                return f"{name}={value!r} has characters that are not DTMF digits: {''.join(bad)!r}"
        else:
            return f"unknown sim variable {name}; the sim endpoint reads {', '.join(SIM_VARIABLES)}"
    return None


class SimEndpoint(Endpoint):
    name = "sim"

    def create(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Session:
        error = sim_variables_error(variables)
        if error is not None:
            manager.core.log(3, f"sim/{leg.destination}: {error}", file="endpoints.py", function="sim_create")
            raise OriginateFailure("INVALID_GATEWAY")
        return super().create(manager, leg, variables, caller)

    async def on_consume_media(self, session: Session) -> None:
        if not session.far_end_started:
            session.far_end_started = True
            session.core.spawn(self._far_end(session), name=f"sim-{session.uuid}")

    def indicate_hold(self, session: Session, on: bool) -> None:
        """The simulated phone accepts the hold, as a SIP phone does: the leg is HELD / UNHELD."""
        session.mark_hold(on)

    def send_dtmf(self, session: Session, digit: str, duration: int) -> None:
        """The simulated phone hears the digit: kept in ``sim_dtmf_received`` for tests to check."""
        received = session.get_variable("sim_dtmf_received") or ""
        session.set_variable("sim_dtmf_received", received + digit)

    async def _far_end(self, session: Session) -> None:
        get = session.get_variable
        dest = session.channel.profile.destination_number.lower()
        ring = atoi(get("sim_ring_ms") or "0") / 1000.0
        early = get("sim_early_media_ms")
        answer = (get("sim_answer") or "true").lower() not in ("false", "no", "off", "0")
        fail = get("sim_fail_cause")
        if dest == "busy":
            fail = fail or "USER_BUSY"
        elif dest == "reject":
            fail = fail or "CALL_REJECTED"
        elif dest == "fail":
            fail = fail or "NORMAL_TEMPORARY_FAILURE"
        elif dest == "noanswer":
            answer = False
        if ring > 0 or not answer:
            session.ring_ready()
        if early is not None:
            early_s = atoi(early) / 1000.0
            if await session.wait(early_s, messages=False, breakable=False, stop_on_state=False) == "hangup":
                return
            session.pre_answer()
            ring = max(0.0, ring - early_s)
        if fail:
            if await session.wait(ring, messages=False, breakable=False, stop_on_state=False) != "hangup":
                session.hangup(cause_from_text(fail))
            return
        if not answer:
            return
        if (
            ring
            and await session.wait(ring, messages=False, breakable=False, stop_on_state=False) == "hangup"
        ):
            return
        session.answer()
        digits = get("sim_dtmf")
        if digits:
            delay = atoi(get("sim_dtmf_delay_ms") or "500") / 1000.0
            interval = atoi(get("sim_dtmf_interval_ms") or "200") / 1000.0
            if await session.wait(delay, messages=False, breakable=False, stop_on_state=False) == "hangup":
                return
            for digit in digits:
                session.queue_dtmf(digit, source="RTP")
                if (
                    await session.wait(interval, messages=False, breakable=False, stop_on_state=False)
                    == "hangup"
                ):
                    return
        hangup_after = get("sim_hangup_ms")
        if hangup_after is not None and (
            await session.wait(
                atoi(hangup_after) / 1000.0, messages=False, breakable=False, stop_on_state=False
            )
            != "hangup"
        ):
            session.hangup(cause_from_text(get("sim_hangup_cause") or "NORMAL_CLEARING"))


class UserEndpoint(Endpoint):
    """mod_dptools' ``user/<id>[@<domain>]``: the directory user's dial-string, dialed in its place.

    The domain defaults to the ``domain`` global. An unknown user fails with
    SUBSCRIBER_ABSENT, a user without a dial-string with MANDATORY_IE_MISSING, a dial-string
    that dials the user again with INVALID_IE_CONTENTS. ``dial-var-*`` params become
    variables of the new leg, as do ``dialed_user``, ``dialed_domain`` and ``presence_id``;
    once the leg answers it gets the user's variables (domain, group and user merged) and,
    if it then has ``user_context``, that context.
    """

    name = "user"
    module = "mod_dptools"

    def create(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Session:
        raise OriginateFailure("CHAN_NOT_IMPLEMENTED")  # always redirected, never a channel

    def redirect(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Redirect:
        core = manager.core
        user, _, domain = leg.destination.partition("@")
        domain = domain or core.global_vars.get("domain", "")
        if not user or not domain:
            raise OriginateFailure("DESTINATION_OUT_OF_ORDER")
        found = core.conf.find_user(user, domain) if core.conf is not None else None
        if found is None:
            core.log(
                4,
                f"Can't find user [{user}@{domain}]",
                file="mod_dptools.c",
                function="user_outgoing_channel",
                line=4380,
                session_uuid=caller.uuid if caller is not None else "",
            )
            raise OriginateFailure("SUBSCRIBER_ABSENT")
        dest = found.param("dial-string")
        dialed_user = found.id
        leg_vars = dict(variables)
        for name, value in found.params.items():
            if name.startswith("dial-var-"):
                leg_vars[name[9:]] = value
        leg_vars["dialed_user"] = dialed_user
        leg_vars["dialed_domain"] = domain
        if dest and "presence_id=" not in dest:
            leg_vars["presence_id"] = f"{dialed_user}@{domain}"
        if not dest:
            core.log(
                3,
                "No dial-string available, please check your user directory.",
                file="mod_dptools.c",
                function="user_outgoing_channel",
                line=4415,
                session_uuid=caller.uuid if caller is not None else "",
            )
            raise OriginateFailure("MANDATORY_IE_MISSING")
        if caller is not None:
            caller.set_variable("dialed_user", dialed_user)
            caller.set_variable("dialed_domain", domain)
            target = caller.expand(dest)
        else:
            target = core.expand(dest, {**variables, "dialed_user": dialed_user, "dialed_domain": domain})
        if f"user/{dialed_user}".lower() in target.lower():
            raise OriginateFailure("INVALID_IE_CONTENTS")  # it would dial itself forever
        parsed = parse_dial_string(target)
        if not parsed.groups:
            raise OriginateFailure("DESTINATION_OUT_OF_ORDER")
        legs: list[tuple[Leg, dict[str, str]]] = []
        for sub in parsed.groups[0]:
            sub_vars = dict(leg_vars)
            sub_vars.update(parsed.variables)
            sub_vars.update(sub.variables)
            legs.append((sub, sub_vars))

        def on_answer(session: Session) -> None:
            context = session.get_variable("user_context")
            if context:
                session.channel.profile.context = context
            for name, value in found.variables.items():
                session.set_variable(name, value)

        return Redirect(legs, on_answer)


ENDPOINTS: tuple[type[Endpoint], ...] = (
    NullEndpoint,
    ErrorEndpoint,
    LoopbackEndpoint,
    SimEndpoint,
    UserEndpoint,
)
