"""The call layer of the switch core: sessions, endpoints, applications, originate, routing, bridging.

``CallManager`` owns every live session and is what the API commands, the
dialplan applications and the socket layer (``sendmsg``, ``myevents``, outbound
``socket``) talk to.
"""

from __future__ import annotations

import asyncio
import logging
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from eventsocket.protocol.compat import atoi, switch_true
from eventsocket.protocol.events import Event
from eventsocket.protocol.message import Request
from eventsocket.switch.channel import CS, CallerProfile, Channel, Codec
from eventsocket.switch.dialstring import Leg, parse_dial_string
from eventsocket.switch.session import Application, Session, SessionEndpoint

if TYPE_CHECKING:
    from eventsocket.switch.core import SwitchCore

log = logging.getLogger("eventsocket.calls")

ORIGINATE_VARIABLES_SKIPPED = frozenset({"origination_uuid"})
# switch_ivr_originate's DIALSTATUS for a failed originate; any other cause is its own name
_DIALSTATUS = {
    "ORIGINATOR_CANCEL": "CANCEL",
    "USER_BUSY": "BUSY",
    "NO_ANSWER": "NOANSWER",
    "DESTINATION_OUT_OF_ORDER": "INVALIDARGS",
    "INVALID_PROFILE": "INVALIDARGS",
    "CALL_REJECTED": "DONTCALL",
}


class OriginateFailure(Exception):
    """An outbound leg could not be created or did not connect; ``cause`` is the hangup cause."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@dataclass(slots=True)
class Redirect:
    """What a leg like ``user/1000`` stands for: the legs of the user's dial-string, and what to
    do to the one that answers (give it the user's variables)."""

    legs: list[tuple[Leg, dict[str, str]]]
    on_answer: Callable[[Session], None]


class Endpoint(SessionEndpoint, Protocol):
    """An endpoint module as the call layer uses it (``eventsocket.switch.endpoints`` has them).

    Endpoints create sessions through the call layer, so they sit above it and are
    registered into it (:meth:`CallManager.add_endpoint`) rather than imported by it.
    """

    name: str
    module: str
    codec: Codec

    def create(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Session:
        """A new outbound leg (not started) towards ``leg``; raises :class:`OriginateFailure`."""
        ...

    def redirect(
        self, manager: CallManager, leg: Leg, variables: dict[str, str], caller: Session | None
    ) -> Redirect | None:
        """The legs to dial in place of ``leg``, or None; raises :class:`OriginateFailure`."""
        ...


class CallManager:
    """Every live session, and the operations that create, route and connect them."""

    def __init__(self, core: SwitchCore) -> None:
        self.core = core
        self.sessions: dict[str, Session] = {}
        self.applications: dict[str, Application] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self._session_id = 0

    # -- registry -------------------------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint) -> None:
        self.endpoints[endpoint.name] = endpoint
        self.core.add_interface("endpoint", endpoint.name, endpoint.module)

    def add_application(
        self,
        name: str,
        function: Application,
        description: str = "",
        syntax: str = "",
        module: str = "mod_dptools",
    ) -> None:
        self.applications[name.lower()] = function
        self.core.add_interface("application", name, module, description, syntax)

    def get(self, uuid: str) -> Session | None:
        return self.sessions.get(uuid)

    def forget(self, session: Session) -> None:
        if self.sessions.pop(session.uuid, None) is not None:
            self.core.stats.session_destroyed()

    # -- creating channels ----------------------------------------------------------------------

    def _new_session(
        self, endpoint: Endpoint, name: str, direction: str, profile: CallerProfile, uuid: str | None = None
    ) -> Session:
        """``switch_core_session_request`` and the endpoint's codec setup (two CODEC events).

        The codecs are set before the endpoint gives the channel its caller profile, so
        the CODEC events carry no caller data, as on FreeSWITCH.
        """
        uuid = uuid or str(uuidlib.uuid4())
        if uuid in self.sessions:
            raise OriginateFailure("DESTINATION_OUT_OF_ORDER")
        now = int(self.core.clock.time() * 1_000_000)
        profile.uuid = uuid
        profile.chan_name = name
        profile.direction = profile.logical_direction = direction
        profile.profile_created = profile.created = now
        channel = Channel(uuid, name, direction, profile)
        channel.profile_set = False
        session = Session(self, channel, endpoint)
        self._session_id += 1
        set_var = channel.set_variable
        set_var("direction", direction)
        set_var("is_outbound", "true" if direction == "outbound" else None)
        set_var("uuid", uuid)
        set_var("call_uuid", uuid)
        set_var("session_id", str(self._session_id))
        codec = endpoint.codec
        channel.codec = codec
        set_var("read_codec", codec.name)
        set_var("read_rate", str(codec.rate))
        session.fire(
            "CODEC",
            calling_file="switch_core_codec.c",
            calling_function="switch_core_session_set_read_codec",
            calling_line=189,
        )
        channel.write_codec = codec
        session.fire(
            "CODEC",
            calling_file="switch_core_codec.c",
            calling_function="switch_core_session_set_write_codec",
            calling_line=471,
        )
        set_var("write_codec", codec.name)
        set_var("write_rate", str(codec.rate))
        set_var("channel_name", name)
        channel.profile_set = True
        self.sessions[uuid] = session
        self.core.stats.session_created(self.core.clock.monotonic())
        return session

    def new_outbound(
        self,
        endpoint: Endpoint,
        name: str,
        destination: str,
        variables: dict[str, str],
        caller: Session | None,
    ) -> Session:
        """An outbound leg towards ``destination`` (not started)."""
        if caller is not None:
            profile = caller.channel.profile.copy()
        else:
            # switch_caller_profile_new: the original caller id is the one the leg starts with
            cid_name = variables.get("origination_caller_id_name", "")
            cid_number = variables.get("origination_caller_id_number", "0000000000")
            profile = CallerProfile(
                caller_id_name=cid_name,
                caller_id_number=cid_number,
                orig_caller_id_name=cid_name,
                orig_caller_id_number=cid_number,
                ani="0000000000",
                context="default",
            )
        # switch_ivr_originate: every new leg is an "Outbound Call" to its destination
        profile.callee_id_name = "Outbound Call"
        profile.callee_id_number = _sanitize_number(destination)
        profile.caller_id_name = variables.get("origination_caller_id_name", profile.caller_id_name)
        profile.caller_id_number = variables.get("origination_caller_id_number", profile.caller_id_number)
        if "origination_callee_id_name" in variables:
            profile.callee_id_name = variables["origination_callee_id_name"]
        if "origination_callee_id_number" in variables:
            profile.callee_id_number = variables["origination_callee_id_number"]
        if caller is not None:
            # switch_core_session_outgoing_channel: the caller's effective caller id and ANI
            for attr, variable in (
                ("ani", "effective_ani"),
                ("aniii", "effective_aniii"),
                ("caller_id_name", "effective_caller_id_name"),
                ("caller_id_number", "effective_caller_id_number"),
            ):
                value = caller.channel.variables.get(variable)
                if value:
                    setattr(profile, attr, value)
        profile.destination_number = destination
        profile.source = endpoint.module  # the endpoint module names itself (null: mod_loopback)
        profile.dialplan = ""
        session = self._new_session(endpoint, name, "outbound", profile, variables.get("origination_uuid"))
        session.set_variable("originate_early_media", "false")
        session.set_variable("originate_endpoint", endpoint.name)
        for key, value in variables.items():
            if key not in ORIGINATE_VARIABLES_SKIPPED:
                session.set_variable(key, value)
        if caller is not None:
            self._tie_originator(caller, session)
        return session

    def _tie_originator(self, caller: Session, session: Session) -> None:
        """``switch_core_session_outgoing_channel`` with a caller: the variables and profiles that
        tie a new leg to the channel that originates it."""
        codec = caller.channel.codec
        forwards = caller.get_variable("max_forwards")
        session.set_variable("max_forwards", str(atoi(forwards) - 1 if forwards else 70))
        if codec is not None:
            session.set_variable("originator_codec", f"{codec.name}@{codec.rate}h@20i")
        session.set_variable("originator", caller.uuid)
        session.set_variable("signal_bond", caller.uuid)
        caller.set_variable("originate_signal_bond", session.uuid)
        session.channel.originator = caller.channel
        caller.channel.originatee = session.channel
        session.channel.other_profile = caller.channel.profile.copy()
        session.channel.other_type = "originator"

    def new_inbound(self, endpoint: Endpoint, name: str, profile: CallerProfile) -> Session:
        """An inbound leg that will run the dialplan (loopback's ``-b`` leg)."""
        return self._new_session(endpoint, name, "inbound", profile)

    # -- originate ------------------------------------------------------------------------------

    async def originate(
        self,
        dial_string: str,
        *,
        caller: Session | None = None,
        timeout: float = 60.0,
        extra_variables: dict[str, str] | None = None,
        return_on_early_media: bool | None = None,
    ) -> Session:
        """Ring the legs of a dial string; return the leg that answered (or has early media).

        Legs of one ``,`` group ring together and the losers hang up with LOSE_RACE;
        ``|`` groups are tried in turn; every failure leaves the last cause. While a
        caller originates (CF_ORIGINATOR) an answered caller is in the RING_WAIT call state.
        """
        parsed = parse_dial_string(dial_string)
        variables = dict(extra_variables or {})
        variables.update(parsed.variables)
        if "originate_timeout" in variables:
            timeout = _seconds(variables["originate_timeout"], timeout)
        cause = "DESTINATION_OUT_OF_ORDER" if not parsed.groups else "NORMAL_CLEARING"
        originating = caller is not None and caller.channel.answered and caller.ready
        if caller is not None and originating:
            caller.set_call_state("RING_WAIT")
        try:
            for group in parsed.groups:
                try:
                    winner = await self._ring_group(group, variables, caller, timeout, return_on_early_media)
                except OriginateFailure as failure:
                    cause = failure.cause
                    if caller is not None and not caller.ready:
                        break
                else:
                    if caller is not None:
                        caller.set_variable("originate_disposition", "call accepted")
                        # as switch_ivr_originate writes it (EARLY for an answered leg)
                        caller.set_variable("DIALSTATUS", "EARLY" if winner.channel.answered else "ANSWER")
                    return winner
            if caller is not None:
                caller.set_variable("originate_disposition", cause)
                caller.set_variable("DIALSTATUS", _DIALSTATUS.get(cause, cause))
            raise OriginateFailure(cause)
        finally:
            if caller is not None and originating and caller.ready:
                caller.set_call_state("ACTIVE")

    async def _ring_group(
        self,
        group: list[Leg],
        variables: dict[str, str],
        caller: Session | None,
        timeout: float,
        early_ok: bool | None,
    ) -> Session:
        legs: list[Session] = []
        leg_deadlines: dict[str, float] = {}
        answer_hooks: dict[str, Callable[[Session], None]] = {}
        clock = self.core.clock
        failure = "NORMAL_CLEARING"
        planned: list[tuple[Leg, dict[str, str], Callable[[Session], None] | None]] = []
        for leg in group:
            leg_vars = dict(variables)
            leg_vars.update(leg.variables)
            endpoint = self.endpoints.get(leg.endpoint)
            try:
                redirect = endpoint.redirect(self, leg, leg_vars, caller) if endpoint is not None else None
            except OriginateFailure as exc:
                failure = exc.cause
                continue
            if redirect is None:
                planned.append((leg, leg_vars, None))
            else:
                planned.extend((sub, sub_vars, redirect.on_answer) for sub, sub_vars in redirect.legs)
        for leg, leg_vars, on_answer in planned:
            endpoint = self.endpoints.get(leg.endpoint)
            if endpoint is None:
                failure = "CHAN_NOT_IMPLEMENTED"
                continue
            try:
                session = endpoint.create(self, leg, leg_vars, caller)
            except OriginateFailure as exc:
                failure = exc.cause
                continue
            if on_answer is not None:
                answer_hooks[session.uuid] = on_answer
            legs.append(session)
            session.fire(
                "CHANNEL_OUTGOING",
                calling_file="switch_core_session.c",
                calling_function="switch_core_session_outgoing_channel",
                calling_line=768,
            )
            leg_timeout = atoi(session.get_variable("leg_timeout") or "0")
            if leg_timeout > 0:
                leg_deadlines[session.uuid] = clock.monotonic() + leg_timeout
            if caller is not None:
                session.set_variable("originating_leg_uuid", caller.uuid)
                legs_var = caller.get_variable("originated_legs")
                entry = (
                    f"{session.uuid};{session.get_variable('callee_id_name') or ''};"
                    f"{session.get_variable('callee_id_number') or ''}"
                )
                caller.set_variable(
                    "originated_legs", _push_array(legs_var, entry)
                )
            session.start()
        if not legs:
            raise OriginateFailure(failure)
        deadline = clock.monotonic() + timeout
        winner: Session | None = None
        while True:
            alive = [s for s in legs if s.ready]
            now = clock.monotonic()
            for session in alive:
                limit = leg_deadlines.get(session.uuid)
                if limit is not None and now >= limit and not session.channel.answered:
                    session.hangup("ALLOTTED_TIMEOUT")  # leg_timeout: this leg alone gives up
            alive = [s for s in alive if s.ready]
            for session in alive:
                ignore_early = switch_true(session.get_variable("ignore_early_media"))
                early = session.channel.early_media and not ignore_early
                if early_ok is False:
                    early = False
                if session.channel.answered or early:
                    winner = session
                    break
            if winner is not None or not alive:
                break
            if caller is not None and not caller.ready:
                break
            remaining = deadline - now
            if remaining <= 0:
                break
            pending = [leg_deadlines[s.uuid] - now for s in alive if s.uuid in leg_deadlines]
            wait_for = min([remaining, *[max(0.0, p) for p in pending]])
            for session in alive:  # already seen above: wait for the next change, not this one
                session.media_event.clear()
            waiters = [asyncio.ensure_future(s.media_event.wait()) for s in alive]
            waiters += [asyncio.ensure_future(s.hungup.wait()) for s in alive]
            if caller is not None:
                waiters.append(asyncio.ensure_future(caller.hungup.wait()))
            try:
                await asyncio.wait(waiters, timeout=wait_for, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
        if caller is not None:
            for session in legs:
                causes = caller.get_variable("originate_causes")
                leg_cause = session.channel.hangup_cause or "NONE"
                caller.set_variable("originate_causes", _push_array(causes, f"{session.uuid};{leg_cause}"))
        if winner is None:
            cause = "NO_ANSWER"
            dead = [s for s in legs if not s.ready]
            if caller is not None and not caller.ready:
                cause = "ORIGINATOR_CANCEL"
            elif dead and len(dead) == len(legs):
                cause = dead[-1].channel.hangup_cause or "NORMAL_CLEARING"
            for session in legs:
                if session.ready:
                    session.hangup(cause)
            raise OriginateFailure(cause)
        for session in legs:
            if session is not winner and session.ready:
                session.hangup("LOSE_RACE")
        hook = answer_hooks.get(winner.uuid)
        if hook is not None:
            hook(winner)
        if caller is not None:
            # switch_channel_pass_callee_id: the caller learns whom it reached
            peer_profile, caller_profile = winner.channel.profile, caller.channel.profile
            if peer_profile.callee_id_name:
                caller_profile.callee_id_name = peer_profile.callee_id_name
            if peer_profile.callee_id_number:
                caller_profile.callee_id_number = peer_profile.callee_id_number
            caller.channel.other_profile = winner.channel.profile.copy()
            caller.channel.other_type = "originatee"
            caller.set_variable("signal_bond", winner.uuid)
            caller.set_variable("originate_signal_bond", None)
        return winner

    # -- routing --------------------------------------------------------------------------------

    async def route(self, session: Session) -> None:
        """``switch_core_standard_on_routing``: a queued extension, else the profile's dialplan.

        An outbound leg without a dialplan (one an originate is ringing) waits in
        CS_CONSUME_MEDIA, or is hung up if it was already answered.
        """
        channel = session.channel
        if session.extension:
            session.set_caller_extension(session.extension)
            session.set_state(CS.CS_EXECUTE)
            return
        profile = channel.profile
        if not profile.dialplan and channel.direction == "outbound":
            if channel.answered:
                session.hangup("NO_ROUTE_DESTINATION")
            else:
                session.set_state(CS.CS_CONSUME_MEDIA)
            return
        dialplan = profile.dialplan or "XML"
        actions = self.hunt(session, dialplan, profile.context or "default", profile.destination_number)
        if channel.state != CS.CS_ROUTING:
            return  # an inline application of the dialplan moved the channel
        if actions is None:
            session.hangup("NO_ROUTE_DESTINATION")
            return
        session.set_caller_extension(actions)
        session.set_state(CS.CS_EXECUTE)

    def hunt(
        self, session: Session, dialplan: str, context: str, destination: str
    ) -> list[tuple[str, str]] | None:
        """Find the applications for ``destination``; None when no route."""
        from eventsocket.switch import dialplan as dialplans

        if dialplan.lower() == "inline":
            actions = dialplans.parse_inline_dialplan(destination)
            return [(a.application, a.data) for a in actions] or None
        conf = self.core.conf
        if conf is None:
            return None
        engine = dialplans.XmlDialplan(conf.dialplan_context)
        fields = session.channel.profile.fields()
        fields["chan_name"] = session.channel.name

        def expand(text: str, captures: object = None) -> str:
            return session.expand(text)

        def run_inline(app: str, data: str) -> None:
            if app.lower() in ("set", "export"):
                name, _, value = data.partition("=")
                session.set_variable(name.strip(), session.expand(value))

        found = engine.hunt(context, fields, session.channel.variables, expand, run_inline)
        if not found:
            return None
        return [(a.application, a.data) for a in found if not a.inline]

    def transfer(self, session: Session, destination: str, dialplan: str = "XML", context: str = "") -> None:
        """``switch_ivr_session_transfer``: a new caller profile for ``destination``, back to CS_ROUTING."""
        channel = session.channel
        forward_name = "max_session_transfers"
        forwards = session.get_variable(forward_name)
        if not forwards:
            forward_name = "max_forwards"
            forwards = session.get_variable(forward_name)
        remaining = atoi(forwards) - 1 if forwards else 70
        if remaining <= 0:
            session.hangup("EXCHANGE_ROUTING_ERROR")
            return
        session.set_variable(forward_name, str(remaining))
        profile = channel.profile
        use_dialplan = dialplan or session.get_variable("force_transfer_dialplan") or ""
        use_context = context or session.get_variable("force_transfer_context") or ""
        if not use_dialplan:
            use_dialplan = profile.dialplan if profile.dialplan.lower() != "inline" else ""
        use_dialplan = use_dialplan or "XML"
        use_context = use_context or profile.context or "default"
        destination = destination or "service"
        now = self.core.clock.time()
        new_profile = profile.copy()
        new_profile.dialplan = use_dialplan
        new_profile.context = use_context
        new_profile.rdnis = profile.destination_number
        new_profile.destination_number = destination
        # switch_channel_set_caller_profile: a fresh time table keeping created/answered/progress/hangup
        new_profile.profile_created = int(now * 1_000_000)
        new_profile.transferred = new_profile.bridged = new_profile.resurrected = 0
        new_profile.last_hold = new_profile.hold_accum = 0
        new_profile.profile_index = str(atoi(profile.profile_index or "1") + 1)
        profile.transferred = new_profile.profile_created
        session.set_variable("signal_bond", None)
        session.extension = []
        session.app_index = 0
        session.parked = False
        if session.partner is not None:
            self.unbridge(session)
        channel.profile = new_profile
        session.set_state(CS.CS_ROUTING)
        source = f"{int(now)}:{uuidlib.uuid4()}:bl_xfer:{destination}/{use_context}/{use_dialplan}"
        new_profile.transfer_source = source
        history = session.get_variable("transfer_history")
        session.set_variable("transfer_history", _push_array(history, source))
        session.set_variable("transfer_source", source)

    def transfer_to_extension(self, session: Session, apps: list[tuple[str, str]]) -> None:
        """``switch_channel_transfer_to_extension``: a queued extension, run through CS_ROUTING."""
        session.extension = list(apps)
        session.app_index = 0
        session.parked = False
        session.set_state(CS.CS_ROUTING)

    # -- bridging -------------------------------------------------------------------------------

    def link(self, a: Session, b: Session) -> None:
        """``switch_ivr_multi_threaded_bridge`` joining two legs: CHANNEL_BRIDGE on the a-leg.

        Legs that an originate did not tie together get each other's profile now, as
        ``uuid_bridge`` does.
        """
        now = int(self.core.clock.time() * 1_000_000)
        a.partner, b.partner = b, a
        a.bridge_originator = True
        b.bridge_originator = False
        if b.channel.originator is not a.channel or a.channel.other_profile is None:
            a.channel.other_profile = b.channel.profile.copy()
            b.channel.other_profile = a.channel.profile.copy()
        a.channel.other_type, b.channel.other_type = "originatee", "originator"
        _send_display(a, b)
        _send_display(b, a)
        a.channel.profile.bridged = b.channel.profile.bridged = now
        b.set_variable("call_uuid", a.uuid)
        a.fire(
            "CHANNEL_BRIDGE",
            before=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)],
            calling_file="switch_ivr_bridge.c",
            calling_function="switch_ivr_multi_threaded_bridge",
            calling_line=1689,
        )
        a.set_variable("bridge_to", b.uuid)
        b.set_variable("bridge_to", a.uuid)
        a.set_variable("last_bridge_to", b.uuid)
        b.set_variable("last_bridge_to", a.uuid)
        a.set_variable("bridge_channel", b.channel.name)
        a.set_variable("bridge_uuid", b.uuid)
        a.set_variable("signal_bond", b.uuid)
        b.set_variable("bridge_channel", a.channel.name)
        b.set_variable("bridge_uuid", a.uuid)
        b.set_variable("signal_bond", a.uuid)

    def unbridge(self, session: Session) -> None:
        partner = session.partner
        if partner is None:
            return
        a, b = (session, partner) if session.bridge_originator else (partner, session)
        a.partner = b.partner = None
        for leg, other in ((a, b), (b, a)):
            cause = other.channel.hangup_cause
            if cause is not None:
                leg.set_variable("bridge_hangup_cause", cause)
        b.set_variable("call_uuid", b.uuid)
        a.fire(
            "CHANNEL_UNBRIDGE",
            before=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)],
            calling_file="switch_ivr_bridge.c",
            calling_function="switch_ivr_multi_threaded_bridge",
            calling_line=1879,
        )
        a.bridge_originator = False
        a.signal()
        b.signal()

    async def bridge(self, a: Session, b: Session) -> str:
        """Hold ``a`` in a bridge with ``b`` until one side ends it; returns why it ended."""
        if not a.channel.answered and b.channel.answered:
            a.answer_call()
        self.link(a, b)
        if b.channel.state in (CS.CS_CONSUME_MEDIA, CS.CS_ROUTING, CS.CS_INIT, CS.CS_PARK, CS.CS_EXECUTE):
            b.parked = False
            b.set_state(CS.CS_EXCHANGE_MEDIA)
        reason = await a.wait(None, until=lambda: a.partner is not b or not b.ready)
        if a.partner is b:
            self.unbridge(a)
        if not b.ready:
            a.set_variable("last_bridge_hangup_cause", b.channel.hangup_cause)
        elif not a.ready and b.ready and b.channel.originator is a.channel:
            b.hangup(a.channel.hangup_cause or "NORMAL_CLEARING")
        elif b.ready and b.channel.state == CS.CS_EXCHANGE_MEDIA:
            b.hangup("NORMAL_CLEARING")
        return reason

    def uuid_bridge(self, a: Session, b: Session) -> None:
        """``uuid_bridge``: take two live legs out of what they were doing and bridge them."""
        for leg in (a, b):
            if leg.partner is not None:
                self.unbridge(leg)
            leg.extension = []
            leg.app_index = 0
            leg.parked = False
            leg.set_state(CS.CS_EXCHANGE_MEDIA)
        self.core.spawn(self._hold_bridge(a, b), name=f"uuid_bridge-{a.uuid}")

    async def _hold_bridge(self, a: Session, b: Session) -> None:
        if not a.channel.answered:
            a.answer()
        if not b.channel.answered:
            b.answer()
        self.link(a, b)
        await a.wait(
            None, messages=False, stop_on_state=False, until=lambda: a.partner is not b or not b.ready
        )
        if a.partner is b:
            self.unbridge(a)
        # whoever is left follows FreeSWITCH's default: park_after_bridge, else hang up
        for leg, other in ((a, b), (b, a)):
            if leg.ready and leg.channel.state == CS.CS_EXCHANGE_MEDIA:
                if switch_true(leg.get_variable("park_after_bridge")):
                    leg.set_state(CS.CS_PARK)
                else:
                    leg.hangup(other.channel.hangup_cause or "NORMAL_CLEARING")

    # -- helpers for the socket layer -----------------------------------------------------------

    def queue_message(self, uuid: str, request: Request) -> bool:
        session = self.sessions.get(uuid)
        if session is None:
            return False
        session.queue_message(request)
        return True

    def deliver_event(self, uuid: str, event: Event) -> bool:
        """A ``sendevent`` naming a live channel's Unique-ID is handed to that channel."""
        session = self.sessions.get(uuid)
        if session is None:
            return False
        session.private_events.append(event)
        session.signal()
        return True


def _send_display(session: Session, peer: Session) -> None:
    """``send_display``: what ``peer`` is told it is connected to (``last_sent_callee_id_*``)."""
    own, other = session.channel.profile, peer.channel.profile
    if session.bridge_originator:
        name = other.caller_id_name or own.caller_id_name
        number = other.caller_id_number or own.caller_id_number or "UNKNOWN"
    else:
        name = own.callee_id_name
        number = own.callee_id_number or own.destination_number
    name = name or number
    peer.set_variable("last_sent_callee_id_name", name.rsplit("/", 1)[-1])
    peer.set_variable("last_sent_callee_id_number", number.rsplit("/", 1)[-1])


def _sanitize_number(number: str) -> str:
    """``switch_sanitize_number``: the part of a dial target after any ``@``, ``/`` and ``:``."""
    if not any(c in number for c in "/:@"):
        return number
    number = number.split("@", 1)[0]
    for mark in "/:":
        number = number.rsplit(mark, 1)[-1]
    return number


def _push_array(current: str | None, value: str) -> str:
    """Append to a multi-valued variable (``ARRAY::a|:b``), as ``SWITCH_STACK_PUSH`` does."""
    if not current:
        return value
    items = current[7:].split("|:") if current.startswith("ARRAY::") else [current]
    return "ARRAY::" + "|:".join([*items, value])


def _seconds(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default
