"""The call layer of the switch core: sessions, endpoints, applications, originate, routing, bridging.

``CallManager`` owns every live session and is what the API commands, the
dialplan applications and the socket layer (``sendmsg``, ``myevents``, outbound
``socket``) talk to.
"""

from __future__ import annotations

import asyncio
import logging
import uuid as uuidlib
from typing import TYPE_CHECKING, Protocol

from eventsocket.protocol.compat import switch_true
from eventsocket.protocol.events import Event
from eventsocket.protocol.message import Request
from eventsocket.switch.channel import CS, CallerProfile, Channel, Codec
from eventsocket.switch.dialstring import Leg, parse_dial_string
from eventsocket.switch.session import Application, Session, SessionEndpoint

if TYPE_CHECKING:
    from eventsocket.switch.core import SwitchCore

log = logging.getLogger("eventsocket.calls")

ORIGINATE_VARIABLES_SKIPPED = frozenset({"origination_uuid"})


class OriginateFailure(Exception):
    """An outbound leg could not be created or did not connect; ``cause`` is the hangup cause."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


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
        uuid = uuid or str(uuidlib.uuid4())
        if uuid in self.sessions:
            raise OriginateFailure("DESTINATION_OUT_OF_ORDER")
        now = int(self.core.clock.time() * 1_000_000)
        profile.uuid = uuid
        profile.chan_name = name
        profile.direction = profile.logical_direction = direction
        profile.profile_created = profile.created = now
        channel = Channel(uuid, name, direction, profile)
        channel.codec = endpoint.codec
        session = Session(self, channel, endpoint)
        self._session_id += 1
        set_var = channel.set_variable
        set_var("direction", direction)
        set_var("is_outbound", "true" if direction == "outbound" else None)
        set_var("uuid", uuid)
        set_var("call_uuid", uuid)
        set_var("session_id", str(self._session_id))
        codec = endpoint.codec
        set_var("read_codec", codec.name)
        set_var("read_rate", str(codec.rate))
        set_var("write_codec", codec.name)
        set_var("write_rate", str(codec.rate))
        set_var("channel_name", name)
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
            profile.callee_id_name = ""
            profile.callee_id_number = ""
        else:
            profile = CallerProfile(
                caller_id_number="0000000000",
                orig_caller_id_number="0000000000",
                ani="0000000000",
                context="default",
            )
            profile.callee_id_name = "Outbound Call"
            profile.callee_id_number = destination
        profile.caller_id_name = variables.get("origination_caller_id_name", profile.caller_id_name)
        profile.caller_id_number = variables.get("origination_caller_id_number", profile.caller_id_number)
        if "origination_callee_id_name" in variables:
            profile.callee_id_name = variables["origination_callee_id_name"]
        if "origination_callee_id_number" in variables:
            profile.callee_id_number = variables["origination_callee_id_number"]
        profile.destination_number = destination
        profile.source = "src/switch_ivr_originate.c" if caller is not None else endpoint.module
        profile.dialplan = ""
        session = self._new_session(endpoint, name, "outbound", profile, variables.get("origination_uuid"))
        session.set_variable("originate_early_media", "false")
        session.set_variable("originate_endpoint", endpoint.name)
        for key, value in variables.items():
            if key not in ORIGINATE_VARIABLES_SKIPPED:
                session.set_variable(key, value)
        if caller is not None:
            session.channel.originator = caller.channel
            caller.channel.originatee = session.channel
        return session

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
        ``|`` groups are tried in turn; every failure leaves the last cause.
        """
        parsed = parse_dial_string(dial_string)
        variables = dict(extra_variables or {})
        variables.update(parsed.variables)
        if "originate_timeout" in variables:
            timeout = _seconds(variables["originate_timeout"], timeout)
        cause = "DESTINATION_OUT_OF_ORDER" if not parsed.groups else "NORMAL_CLEARING"
        for group in parsed.groups:
            try:
                return await self._ring_group(group, variables, caller, timeout, return_on_early_media)
            except OriginateFailure as failure:
                cause = failure.cause
                if caller is not None and not caller.ready:
                    break
        raise OriginateFailure(cause)

    async def _ring_group(
        self,
        group: list[Leg],
        variables: dict[str, str],
        caller: Session | None,
        timeout: float,
        early_ok: bool | None,
    ) -> Session:
        legs: list[Session] = []
        failure = "NORMAL_CLEARING"
        for leg in group:
            endpoint = self.endpoints.get(leg.endpoint)
            if endpoint is None:
                failure = "CHAN_NOT_IMPLEMENTED"
                continue
            leg_vars = dict(variables)
            leg_vars.update(leg.variables)
            try:
                session = endpoint.create(self, leg, leg_vars, caller)
            except OriginateFailure as exc:
                failure = exc.cause
                continue
            session.awaiting_originate = True
            legs.append(session)
            if caller is not None:
                session.fire(
                    "CHANNEL_OUTGOING",
                    calling_file="switch_core_session.c",
                    calling_function="switch_core_session_outgoing_channel",
                    calling_line=752,
                )
            session.start()
        if not legs:
            raise OriginateFailure(failure)
        clock = self.core.clock
        deadline = clock.monotonic() + timeout
        winner: Session | None = None
        while True:
            alive = [s for s in legs if s.ready]
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
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                break
            waiters = [asyncio.ensure_future(s.media_event.wait()) for s in alive]
            waiters += [asyncio.ensure_future(s.hungup.wait()) for s in alive]
            if caller is not None:
                waiters.append(asyncio.ensure_future(caller.hungup.wait()))
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
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
        winner.awaiting_originate = False
        winner.set_variable("endpoint_disposition", "ANSWER" if winner.channel.answered else "EARLY MEDIA")
        if caller is None:
            self._flip_caller_id(winner)
        winner.set_variable("call_uuid", winner.uuid)
        winner.fire(
            "CHANNEL_ORIGINATE",
            calling_file="switch_ivr_originate.c",
            calling_function="switch_ivr_originate",
            calling_line=4178,
        )
        return winner

    def _flip_caller_id(self, session: Session) -> None:
        """An originated leg presents the callee as its caller, as ``switch_channel_flip_cid`` does."""
        profile = session.channel.profile
        session.set_variable("pre_transfer_caller_id_number", profile.caller_id_number)
        profile.caller_id_name, profile.callee_id_name = profile.callee_id_name, profile.caller_id_name
        profile.caller_id_number, profile.callee_id_number = (
            profile.callee_id_number,
            profile.caller_id_number,
        )
        session.set_variable("channel_cid_flipped", "true")

    # -- routing --------------------------------------------------------------------------------

    async def route(self, session: Session) -> None:
        """CS_ROUTING: an extension set by originate, or the dialplan's."""
        channel = session.channel
        if session.extension:
            channel.state = CS.CS_EXECUTE
            return
        if session.awaiting_originate:
            channel.state = CS.CS_CONSUME_MEDIA
            return
        profile = channel.profile
        dialplan = profile.dialplan or "XML"
        actions = self.hunt(session, dialplan, profile.context or "default", profile.destination_number)
        if actions is None:
            session.hangup("NO_ROUTE_DESTINATION")
            return
        channel.hit_dialplan = True
        session.extension = actions
        session.app_index = 0
        channel.state = CS.CS_EXECUTE

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
        """``switch_ivr_session_transfer``: new destination, back to CS_ROUTING."""
        profile = session.channel.profile
        session.set_variable(
            "transfer_source",
            f"{int(self.core.clock.time())}:{session.uuid}:bl_xfer:"
            f"{destination}/{context or profile.context}/{dialplan}",
        )
        profile.destination_number = destination
        profile.dialplan = dialplan or "XML"
        if context:
            profile.context = context
        profile.transferred = int(self.core.clock.time() * 1_000_000)
        session.extension = []
        session.app_index = 0
        session.parked = False
        session.awaiting_originate = False
        if session.partner is not None:
            self.unbridge(session)
        session.set_state(CS.CS_ROUTING)

    def transfer_to_extension(self, session: Session, apps: list[tuple[str, str]]) -> None:
        session.extension = list(apps)
        session.app_index = 0
        session.parked = False
        session.set_state(CS.CS_EXECUTE)

    # -- bridging -------------------------------------------------------------------------------

    def link(self, a: Session, b: Session) -> None:
        """Mark two answered legs as bridged and fire CHANNEL_BRIDGE on the a-leg."""
        now = int(self.core.clock.time() * 1_000_000)
        a.partner, b.partner = b, a
        a.channel.other_leg, b.channel.other_leg = b.channel, a.channel
        a.channel.other_type, b.channel.other_type = "originatee", "originator"
        a.channel.profile.bridged = b.channel.profile.bridged = now
        a.set_variable("bridge_channel", b.channel.name)
        a.set_variable("bridge_uuid", b.uuid)
        a.set_variable("signal_bond", b.uuid)
        b.set_variable("bridge_channel", a.channel.name)
        b.set_variable("bridge_uuid", a.uuid)
        b.set_variable("signal_bond", a.uuid)
        a.set_variable("last_bridge_to", b.uuid)
        b.set_variable("last_bridge_to", a.uuid)
        a.fire(
            "CHANNEL_BRIDGE",
            before=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)],
            calling_file="switch_ivr_bridge.c",
            calling_function="switch_ivr_multi_threaded_bridge",
            calling_line=1709,
        )

    def unbridge(self, session: Session) -> None:
        partner = session.partner
        if partner is None:
            return
        a, b = (session, partner) if session.channel.other_type == "originatee" else (partner, session)
        a.partner = b.partner = None
        a.fire(
            "CHANNEL_UNBRIDGE",
            before=[("Bridge-A-Unique-ID", a.uuid), ("Bridge-B-Unique-ID", b.uuid)],
            calling_file="switch_ivr_bridge.c",
            calling_function="switch_ivr_multi_threaded_bridge",
            calling_line=1842,
        )
        a.signal()
        b.signal()

    async def bridge(self, a: Session, b: Session) -> str:
        """Hold ``a`` in a bridge with ``b`` until one side ends it; returns why it ended."""
        if not a.channel.answered and b.channel.answered:
            a.answer()
        self.link(a, b)
        if b.channel.state in (CS.CS_CONSUME_MEDIA, CS.CS_ROUTING, CS.CS_INIT, CS.CS_PARK, CS.CS_EXECUTE):
            b.parked = False
            b.set_state(CS.CS_EXCHANGE_MEDIA)
        reason = await a.wait(None, until=lambda: a.partner is not b or not b.ready)
        if a.partner is b:
            self.unbridge(a)
        if not b.ready:
            a.set_variable("bridge_hangup_cause", b.channel.hangup_cause)
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
            leg.awaiting_originate = False
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


def _seconds(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default
