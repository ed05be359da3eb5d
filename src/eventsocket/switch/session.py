"""A session: one channel's life, run as an asyncio task through FreeSWITCH's state machine.

CS_NEW -> CS_INIT -> CS_ROUTING -> CS_EXECUTE (applications) ... -> CS_HANGUP ->
CS_REPORTING -> CS_DESTROY, with CS_PARK, CS_CONSUME_MEDIA, CS_EXCHANGE_MEDIA,
CS_SOFT_EXECUTE and CS_RESET as waiting states. Each transition fires the events
FreeSWITCH fires, in its order, with its headers (PROTOCOL.md §7).

Everything that waits (park, sleep, playback, bridge, ringing) goes through
:meth:`Session.wait`, which wakes on hangup, ``uuid_break``, state changes, DTMF and
queued ``sendmsg`` commands, and processes those commands as FreeSWITCH's media
loops do. Time comes from the core's clock, so calls run on virtual time in tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid as uuidlib
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from eventsocket.protocol.compat import atoi, switch_true
from eventsocket.protocol.events import Event, HeaderValue
from eventsocket.protocol.message import Request
from eventsocket.switch.causes import cause_from_text, cause_number
from eventsocket.switch.channel import CALL_STATES, CS, Channel
from eventsocket.switch.expand import expand as expand_text
from eventsocket.switch.flag import Flag

if TYPE_CHECKING:
    from eventsocket.switch.core import SwitchCore

log = logging.getLogger("eventsocket.session")

Application = Callable[["Session", str], Awaitable[None]]

# DTMF lengths in samples at 8 kHz (switch_core_default/min/max_dtmf_duration)
DTMF_DEFAULT_SAMPLES = 2000
DTMF_MIN_SAMPLES = 400
DTMF_MAX_SAMPLES = 192000


def is_dtmf(char: str) -> bool:
    """FreeSWITCH's ``is_dtmf``: 0-9, A-D, a-d, #, *, w/W (pauses) and f/F."""
    return char in "0123456789ABCDabcd#*wWfF"


class CallLayer(Protocol):
    """What a session, and the applications and API commands acting on it, ask of the call layer.

    The call layer (``eventsocket.switch.calls.CallManager``) creates sessions and so
    sits above this module; a session reaches back to it only through this interface,
    as FreeSWITCH's session code calls into ``switch_ivr`` and the module registry.
    """

    core: SwitchCore
    applications: dict[str, Application]

    def forget(self, session: Session) -> None: ...
    async def route(self, session: Session) -> None: ...
    def transfer(
        self, session: Session, destination: str, dialplan: str = ..., context: str = ...
    ) -> None: ...
    def transfer_to_extension(self, session: Session, apps: list[tuple[str, str]]) -> None: ...
    async def originate(
        self,
        dial_string: str,
        *,
        caller: Session | None = ...,
        timeout: float = ...,
        extra_variables: dict[str, str] | None = ...,
        return_on_early_media: bool | None = ...,
    ) -> Session: ...
    async def bridge(self, a: Session, b: Session) -> str: ...
    def unbridge(self, session: Session) -> None: ...


_STAMPS: dict[int, str] = {}


def _local_stamp(us: int) -> str:
    """``%Y-%m-%d %H:%M:%S`` local time of a microsecond timestamp; the stamps of a call's CDR
    variables fall in a few seconds, so each second's text is made once (bounded)."""
    second = int(us / 1_000_000)
    text = _STAMPS.get(second)
    if text is None:
        if len(_STAMPS) >= 4096:
            _STAMPS.clear()
        text = _STAMPS[second] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
    return text


class SessionEndpoint(Protocol):
    """What a session asks of the endpoint module that created it (its far end)."""

    async def on_init(self, session: Session) -> None:
        """CS_INIT, before CHANNEL_CREATE: what the endpoint does first."""

    async def on_consume_media(self, session: Session) -> None:
        """CS_CONSUME_MEDIA: an outbound leg waiting while an originate rings it."""

    async def on_hangup(self, session: Session) -> None:
        """When the channel enters CS_HANGUP."""

    def send_dtmf(self, session: Session, digit: str, duration: int) -> None:
        """A digit sent to this channel's far end."""

    def indicate_hold(self, session: Session, on: bool) -> None:
        """SWITCH_MESSAGE_INDICATE_HOLD / UNHOLD to the endpoint."""


class Hangup(Exception):
    """Raised inside an application when its channel has hung up."""


def _usec(now: float) -> int:
    return int(now * 1_000_000)


class Session:
    """The runtime of one channel."""

    def __init__(self, manager: CallLayer, channel: Channel, endpoint: SessionEndpoint) -> None:
        self.manager = manager
        self.core = manager.core
        self.channel = channel
        self.endpoint = endpoint
        self.uuid = channel.uuid
        self.extension: list[tuple[str, str]] = []
        self.app_index = 0
        self.messages: deque[Request] = deque()
        self.private_events: deque[Event] = deque()
        self.dtmf: deque[str] = deque()
        self._signal = Flag()
        self._state_changed = Flag()
        self.task: asyncio.Task[None] | None = None
        self.locks = 0
        self._unlocked = Flag()
        self._unlocked.set()
        self.break_requested = False
        self.event_lock = False
        self.parked = False
        self.controllers: list[Callable[[Session], None]] = []
        self.partner: Session | None = None  # the leg bridged to this one
        self.loopback_peer: Session | None = None
        self.destroyed = Flag()
        self.hungup = Flag()
        self.media_event = Flag()
        self.recordings: dict[str, float] = {}
        self.last_app: str | None = None
        self.hangup_hooks: list[Callable[[Session], None]] = []
        self.divert: Callable[[Event], None] | None = None  # a socket's divert_events on
        self.last_arg: str | None = None
        self.bridge_originator = False  # CF_BRIDGE_ORIGINATOR: this leg's bridge application runs
        self.far_end_started = False  # the endpoint's simulated far end is running

    # -- events ---------------------------------------------------------------------------------

    def event(
        self,
        name: str,
        *,
        before: Iterable[tuple[str, HeaderValue]] = (),
        after: Iterable[tuple[str, HeaderValue]] = (),
        calling_file: str = "switch_channel.c",
        calling_function: str = "",
        calling_line: int = 0,
        with_variables: bool | None = None,
        subclass: str | None = None,
    ) -> Event:
        """A channel event: standard headers, ``before``, the channel data, ``after``."""
        bus = self.core.bus
        event = Event(
            name, bus.standard_headers(name, calling_file, calling_function, calling_line), subclass=subclass
        )
        if subclass:
            event.headers.append(("Event-Subclass", subclass))
        for key, value in before:
            event.add(key, value)
        self.channel.add_data(event, with_variables=with_variables)
        for key, value in after:
            event.add(key, value)
        return event

    def fire(self, name: str, **kwargs: object) -> None:
        self.core.bus.fire_new(lambda: self.event(name, **kwargs), name)  # type: ignore[arg-type]

    def now_us(self) -> int:
        return _usec(self.core.clock.time())

    # -- variables ------------------------------------------------------------------------------

    def set_variable(self, name: str, value: str | None) -> None:
        self.channel.set_variable(name, value)

    def get_variable(self, name: str) -> str | None:
        """A channel variable, a caller-profile field, or a global variable, as FreeSWITCH looks."""
        value = self.channel.get_variable(name)
        return value if value is not None else self.core.global_vars.get(name)

    def expand(self, text: str) -> str:
        """``switch_channel_expand_variables``: ``${name}`` reads what :meth:`get_variable` reads."""
        if "$" not in text:
            return text
        return expand_text(text, self.channel.get_variable, self.core.global_vars.get, self.core.run_api_sync)

    # -- states ---------------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Up and not being torn down (``switch_channel_ready``)."""
        return self.channel.hangup_cause is None

    def set_state(self, state: CS) -> None:
        """Request a state; the state machine enters it when the current handler yields."""
        channel = self.channel
        if channel.state >= CS.CS_HANGUP and state < CS.CS_HANGUP:
            return
        channel.state = state
        self._state_changed.set()
        self.signal()

    def signal(self) -> None:
        """Wake whatever this session is waiting on."""
        self._signal.set()

    def set_call_state(self, state: str) -> None:
        """``switch_channel_set_callstate``: CHANNEL_CALLSTATE; nothing changes once it is HANGUP."""
        channel = self.channel
        if channel.call_state == state or channel.call_state == "HANGUP":
            return
        original = channel.call_state
        channel.call_state = state
        self.fire(
            "CHANNEL_CALLSTATE",
            before=[
                ("Original-Channel-Call-State", original),
                ("Channel-Call-State-Number", str(CALL_STATES.index(state))),
            ],
            calling_function="switch_channel_perform_set_callstate",
            calling_line=261,
        )

    def set_running_state(self, state: CS) -> None:
        """``switch_channel_perform_set_running_state``: the state handler about to run, CHANNEL_STATE.

        An inbound channel's call state follows: RINGING while routing, then ACTIVE or
        EARLY as its answer state says.
        """
        channel = self.channel
        channel.running_state = state
        if channel.direction == "inbound" and state < CS.CS_HANGUP:
            if state == CS.CS_ROUTING:
                self.set_call_state("RINGING")
            elif channel.answered:
                self.set_call_state("ACTIVE")
            elif channel.early_media:
                self.set_call_state("EARLY")
        self.fire(
            "CHANNEL_STATE",
            calling_file="switch_channel.c",
            calling_function="switch_channel_perform_set_running_state",
            calling_line=2427,
        )
        if state < CS.CS_HANGUP and channel.call_state == "UNHELD":
            self.set_call_state("ACTIVE")  # STATE_MACRO: off hold is active again

    def set_caller_extension(self, apps: list[tuple[str, str]]) -> None:
        """``switch_channel_set_caller_extension``: the applications to run, after ``sort_cid``.

        The first extension an outbound leg gets marks it as having hit the dialplan and
        flips its caller id (CALL_UPDATE), as ``switch_channel_sort_cid`` does.
        """
        channel = self.channel
        if channel.direction == "outbound" and not channel.hit_dialplan:
            channel.hit_dialplan = True
            self.flip_cid()
        self.extension = list(apps)
        self.app_index = 0

    def flip_cid(self) -> None:
        """``switch_channel_flip_cid``: present the callee as the caller, then CALL_UPDATE."""
        profile = self.channel.profile
        bridged = self.partner is not None
        old_name, old_number = profile.caller_id_name, profile.caller_id_number
        if profile.callee_id_name:
            self.set_variable("pre_transfer_caller_id_name", old_name)
            profile.caller_id_name = profile.callee_id_name
        profile.callee_id_name = "" if bridged else old_name
        if profile.callee_id_number:
            self.set_variable("pre_transfer_caller_id_number", old_number)
            profile.caller_id_number = profile.callee_id_number
        profile.callee_id_number = "" if bridged else old_number
        self.set_variable("channel_cid_flipped", "yes")
        before: list[tuple[str, HeaderValue]] = [("Direction", "RECV")]
        if self.partner is not None:
            before.append(("Bridged-To", self.partner.uuid))
        self.fire(
            "CALL_UPDATE", before=before, calling_function="switch_channel_flip_cid", calling_line=3279
        )

    # -- call control ---------------------------------------------------------------------------

    def ring_ready(self) -> None:
        channel = self.channel
        if channel.ringing or channel.answered or not self.ready:
            return
        channel.ringing = True
        if not channel.profile.progress:
            channel.profile.progress = self.now_us()
        self.fire(
            "CHANNEL_PROGRESS", calling_function="switch_channel_perform_mark_ring_ready", calling_line=3627
        )
        self.set_call_state("RINGING")
        if self.loopback_peer is not None:
            self.loopback_peer.ring_ready()

    def pre_answer(self) -> None:
        channel = self.channel
        if channel.early_media or channel.answered or not self.ready:
            return
        channel.early_media = True
        self.set_variable("endpoint_disposition", "EARLY MEDIA")
        channel.profile.progress_media = self.now_us()
        self.set_variable("progress_media_time", str(channel.profile.progress_media))
        self.fire(
            "CHANNEL_PROGRESS_MEDIA",
            calling_function="switch_channel_perform_mark_pre_answered",
            calling_line=3730,
        )
        self.set_call_state("EARLY")
        self.media_event.set()
        if self.loopback_peer is not None:
            self.loopback_peer.pre_answer()

    def answer(self) -> None:
        """``switch_channel_perform_mark_answered``: CHANNEL_ANSWER, then the ACTIVE call state."""
        channel = self.channel
        if channel.answered or not self.ready:
            return
        channel.answered = True
        channel.profile.answered = self.now_us()
        self.fire(
            "CHANNEL_ANSWER", calling_function="switch_channel_perform_mark_answered", calling_line=3905
        )
        self.set_variable("endpoint_disposition", "ANSWER")
        self.set_call_state("ACTIVE")
        self.media_event.set()
        self.signal()
        if self.loopback_peer is not None:
            self.loopback_peer.answer()

    def hold(self) -> bool:
        """``switch_ivr_hold``: tell the endpoint (a phone then marks the leg held: HELD), then
        CHANNEL_HOLD. A channel already HELD is refused."""
        if self.channel.call_state == "HELD":
            return False
        self.endpoint.indicate_hold(self, True)
        self.fire(
            "CHANNEL_HOLD", calling_file="switch_ivr.c", calling_function="switch_ivr_hold", calling_line=1500
        )
        return True

    def unhold(self) -> bool:
        """``switch_ivr_unhold``: only a HELD channel; the endpoint takes it off hold (UNHELD), then
        CHANNEL_UNHOLD. The call state becomes ACTIVE when the next state handler runs."""
        if self.channel.call_state != "HELD":
            return False
        self.endpoint.indicate_hold(self, False)
        self.fire(
            "CHANNEL_UNHOLD",
            calling_file="switch_ivr.c",
            calling_function="switch_ivr_unhold",
            calling_line=1580,
        )
        return True

    def mark_hold(self, on: bool) -> None:
        """``switch_channel_mark_hold`` (CF_LEG_HOLDING): the far end is held, HELD / UNHELD."""
        channel = self.channel
        if not channel.answered:
            return
        profile = channel.profile
        if on and channel.call_state != "HELD":
            self.set_call_state("HELD")
            profile.last_hold = self.now_us()
        elif not on and channel.call_state == "HELD":
            self.set_call_state("UNHELD")
            if profile.last_hold:
                profile.hold_accum += max(0, self.now_us() - profile.last_hold)

    def answer_call(self) -> None:
        """``switch_channel_answer``: answer an inbound leg; an outbound leg is answered by its far
        end only, so this does nothing there (and succeeds), as on FreeSWITCH."""
        if self.channel.direction == "outbound":
            return
        self.answer()

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """``switch_channel_hangup``: CHANNEL_HANGUP now; the state machine tears down (CS_HANGUP)."""
        channel = self.channel
        if channel.hangup_cause is not None:
            return
        channel.hangup_cause = cause_from_text(cause)
        channel.state = CS.CS_HANGUP  # requested; the state machine enters it when the app returns
        partner = self.partner
        if partner is not None:
            partner.set_variable("last_bridge_hangup_cause", channel.hangup_cause)
            self.set_variable("last_bridge_role", "originator" if self.bridge_originator else "originatee")
        self.fire("CHANNEL_HANGUP", calling_function="switch_channel_perform_hangup", calling_line=3522)
        self._state_changed.set()
        self.hungup.set()
        self.signal()
        if partner is not None:
            partner.signal()  # a leg bridged to this one is waiting on it
        for peer in (self.loopback_peer, partner):
            if peer is not None and peer.ready and self.propagates_hangup_to(peer):
                peer.hangup(channel.hangup_cause)

    def propagates_hangup_to(self, peer: Session) -> bool:
        if peer is self.loopback_peer:
            return True
        # a bridged b-leg always follows its a-leg; the a-leg goes on with its dialplan
        return peer.channel.direction == "outbound" and peer.channel.originator is self.channel

    def request_break(self) -> None:
        """``uuid_break``: stop the application that is playing or waiting."""
        self.break_requested = True
        self.signal()

    # -- waiting --------------------------------------------------------------------------------

    async def wait(
        self,
        seconds: float | None = None,
        *,
        messages: bool = True,
        until: Callable[[], bool] | None = None,
        breakable: bool = True,
        stop_on_state: bool = True,
    ) -> str:
        """Wait while the channel is up; returns why it stopped.

        "hangup", "break", "done" (``until`` became true), "state" (the state machine
        was asked to move on), or "timeout". Queued ``sendmsg`` commands run meanwhile
        unless an ``event-lock`` command is running.
        """
        clock = self.core.clock
        deadline = None if seconds is None else clock.monotonic() + max(0.0, seconds)
        state_at_start = self.channel.state
        while True:
            if not self.ready:
                return "hangup"
            if messages and self.messages and not self.event_lock:
                await self.process_messages()
                continue
            if messages and self.private_events:
                self.deliver_private_events()
                continue
            if breakable and self.break_requested:
                self.break_requested = False
                return "break"
            if until is not None and until():
                return "done"
            if stop_on_state and self.channel.state != state_at_start:
                return "state"
            self._signal.clear()
            if deadline is None:
                await self._signal.wait()
                continue
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                return "timeout"
            try:
                await asyncio.wait_for(self._signal.wait(), remaining)
            except TimeoutError:
                if clock.monotonic() >= deadline - 1e-9:
                    return "timeout"

    async def sleep(self, seconds: float) -> str:
        return await self.wait(seconds, breakable=False)

    def queue_dtmf(self, digits: str, source: str = "APP") -> bool:
        """``switch_channel_queue_dtmf_string``: this channel *receives* digits (``<digits>[@<ms>]``,
        ``+``-separated groups): a DTMF event each; applications (read, playback terminators...)
        consume them, and a bridge passes them on to the other leg's far end.

        Returns False when nothing in ``digits`` is a DTMF digit.
        """
        sent = False
        for group in digits.lstrip("~").split("+"):
            text, _, ms_text = group.partition("@")
            duration = DTMF_DEFAULT_SAMPLES
            if ms_text and atoi(ms_text) * 8 > DTMF_MIN_SAMPLES:
                duration = min(atoi(ms_text) * 8, DTMF_MAX_SAMPLES)
            for digit in text:
                if not is_dtmf(digit):
                    continue
                sent = True
                if digit in "wWfF":
                    continue
                self._receive_digit(digit.upper(), duration, source)
        self.signal()
        return sent

    def _receive_digit(self, digit: str, duration: int, source: str) -> None:
        self.fire(
            "DTMF",
            after=[("DTMF-Digit", digit), ("DTMF-Duration", str(duration)), ("DTMF-Source", source)],
            calling_function="switch_channel_dequeue_dtmf",
            calling_line=678,
        )
        partner = self.partner
        if partner is not None and partner.ready:
            partner.endpoint.send_dtmf(partner, digit, duration)
        else:
            self.dtmf.append(digit)

    def send_dtmf(self, digits: str) -> bool:
        """``switch_core_session_send_dtmf_string``: send digits to this channel's far end.

        What the far end does with them is the endpoint's business: a loopback leg's
        other half receives them, the ``sim`` far end records them, a null channel keeps
        them in ``null_channel_dtmf_queued``. No DTMF event fires on this channel.
        """
        digits = digits.lstrip("~")
        if not digits or not self.ready or len(digits) > 99:
            return False
        self.pre_answer()
        total = 0
        for group in digits.split("+"):
            text, _, ms_text = group.partition("@")
            duration = DTMF_DEFAULT_SAMPLES
            if ms_text and atoi(ms_text) > DTMF_MIN_SAMPLES // 8:
                duration = atoi(ms_text) * 8
            duration = max(DTMF_MIN_SAMPLES, min(duration, DTMF_MAX_SAMPLES))
            for digit in text:
                if not is_dtmf(digit):
                    continue
                if digit not in "wW":
                    self.endpoint.send_dtmf(self, digit.upper(), duration)
                total += duration + 250 * 8
        if total:
            self.set_variable("last_dtmf_duration", str(total // 8))
        return total > 0

    # -- applications ---------------------------------------------------------------------------

    async def execute(self, app: str, data: str = "", app_uuid: str | None = None) -> bool:
        """Run one dialplan application with CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE around it."""
        function = self.manager.applications.get(app.lower())
        if function is None:
            self.core.log(
                3,
                f"Invalid Application {app}",
                file="switch_core_session.c",
                function="switch_core_session_execute_application_get_flags",
                line=2829,
                session_uuid=self.uuid,
            )
            self.hangup("DESTINATION_OUT_OF_ORDER")
            return False
        data = self.expand(data) if data and "$" in data else data
        app_uuid = app_uuid or self.get_variable("app_uuid") or str(uuidlib.uuid4())
        self.set_variable("app_uuid", None)
        app_uuid_name = self.get_variable("app_uuid_name")
        self.set_variable("app_uuid_name", None)
        self.set_variable("current_application", app)
        self.set_variable("current_application_data", data)
        self.set_variable("current_application_response", None)
        app_headers: list[tuple[str, HeaderValue]] = [
            ("Application", app),
            ("Application-Data", data),
            ("Application-UUID", app_uuid),
        ]
        if app_uuid_name:
            app_headers.append(("Application-UUID-Name", app_uuid_name))
        self.fire(
            "CHANNEL_EXECUTE",
            after=app_headers,
            calling_file="switch_core_session.c",
            calling_function="switch_core_session_exec",
            calling_line=2970,
        )
        self.set_variable("current_application", app)  # set again after the event, as FreeSWITCH does
        self.last_app, self.last_arg = app, data
        try:
            await function(self, data)
        except Hangup:
            pass
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("application %s failed", app)
        response = self.get_variable("current_application_response") or "_none_"
        done_headers: list[tuple[str, HeaderValue]] = [
            ("Application", app),
            ("Application-Data", data),
            ("Application-Response", response),
            ("Application-UUID", app_uuid),
        ]
        if app_uuid_name:
            done_headers.append(("Application-UUID-Name", app_uuid_name))
        self.fire(
            "CHANNEL_EXECUTE_COMPLETE",
            after=done_headers,
            calling_file="switch_core_session.c",
            calling_function="switch_core_session_exec",
            calling_line=3018,
        )
        return True

    # -- sendmsg --------------------------------------------------------------------------------

    def queue_message(self, request: Request) -> None:
        self.messages.append(request)
        self.signal()

    async def process_messages(self) -> None:
        while self.messages and not self.event_lock:
            request = self.messages.popleft()
            await self.run_message(request)
            self.fire_private_command(request)

    def deliver_private_events(self) -> None:
        """Events sent to this channel with ``sendevent`` (``Unique-ID``), handled by its input loop.

        Diverted to the controlling socket with ``divert_events on``; otherwise fired
        without standard headers, with the channel data appended, as FreeSWITCH does.
        """
        while self.private_events:
            event = self.private_events.popleft()
            if self.divert is not None:
                self.divert(event)
                continue
            self.channel.add_data(event, with_variables=False)
            self.core.bus.fire(event)

    def fire_private_command(self, request: Request) -> None:
        bus = self.core.bus
        event = Event("PRIVATE_COMMAND")
        event.headers.append(("Command", request.line if request.line.strip() != "sendmsg" else request.raw))
        for key, value in request.headers:
            event.add(key, value)
        event.headers.extend(
            bus.standard_headers("PRIVATE_COMMAND", "switch_ivr.c", "switch_ivr_parse_next_event", 799)
        )
        self.channel.add_data(event, with_variables=False)
        bus.fire(event)

    async def run_message(self, request: Request) -> None:
        """Carry out one ``sendmsg`` (PROTOCOL.md §3.10)."""
        command = request.get("call-command") or ""
        if command == "execute":
            await self._message_execute(request)
        elif command == "hangup":
            self.hangup(cause_from_text(request.get("hangup-cause")))
        elif command == "unicast":
            self.set_variable(
                "unicast_remote",
                f"{request.get('remote-ip') or '127.0.0.1'}:{request.get('remote-port') or '8026'}",
            )
        elif command == "nomedia":
            self.set_variable("bypass_media", "true")
        elif command == "xferext":
            apps: list[tuple[str, str]] = []
            for key, value in request.headers:
                if key.lower() == "application":
                    name, _, arg = value.partition(" ")
                    apps.append((name, arg))
            self.manager.transfer_to_extension(self, apps)
        elif not command:
            self.core.log(
                3,
                "Invalid Command!",
                file="switch_ivr.c",
                function="switch_ivr_parse_event",
                line=711,
                session_uuid=self.uuid,
            )

    async def _message_execute(self, request: Request) -> None:
        app = request.get("execute-app-name") or ""
        arg = request.get("execute-app-arg")
        if arg is None and (request.get("content-type") or "").lower() == "text/plain":
            arg = request.body or ""
        loops = atoi(request.get("loops") or "1") or 1
        app_uuid = request.get("event-uuid")
        if request.get("event-uuid-name"):
            self.set_variable("app_uuid_name", request.get("event-uuid-name"))
        lock = switch_true(request.get("event-lock"))
        previous_lock = self.event_lock
        if lock:
            self.event_lock = True
        try:
            count = 0
            while loops < 0 or count < loops:
                if not self.ready:
                    break
                count += 1
                if loops != 1:
                    self.set_variable("current_loop", str(count))
                    self.set_variable("total_loops", str(loops))
                else:
                    self.set_variable("current_loop", "1")
                    self.set_variable("total_loops", "1")
                started = self.core.clock.monotonic()
                await self.execute(app, arg or "", app_uuid)
                if loops != 1 and self.core.clock.monotonic() - started < 0.5:
                    break
        finally:
            self.event_lock = previous_lock

    # -- locks held by controlling sockets --------------------------------------------------------

    def lock(self) -> None:
        self.locks += 1
        self._unlocked.clear()

    def unlock(self) -> None:
        self.locks = max(0, self.locks - 1)
        if not self.locks:
            self._unlocked.set()

    def kill(self, cause: str) -> None:
        """``uuid_kill``/``hupall``: end the channel whatever state it is in.

        A channel that is up hangs up. One that has already hung up but is held (a
        controlling socket lingers, or never let go) is released, so it is destroyed
        now instead of whenever, if ever, the socket goes (better than FreeSWITCH, which
        waits for the socket).
        """
        if self.ready:
            self.hangup(cause)
            return
        if self.locks:
            self.locks = 0
            self._unlocked.set()
        self.signal()

    # -- the state machine ----------------------------------------------------------------------

    def start(self) -> None:
        if self.task is None:
            self.task = self.core.spawn(self.run(), name=f"session-{self.uuid}")  # type: ignore[assignment]

    async def run(self) -> None:
        """``switch_core_session_run``: run each state's handler once, sleep until the state changes.

        CHANNEL_STATE is fired as a handler starts (the running state); CS_HANGUP and
        CS_REPORTING always run; after CS_REPORTING the session is destroyed:
        CHANNEL_DESTROY, then CHANNEL_STATE CS_DESTROY.
        """
        channel = self.channel
        if channel.state == CS.CS_NEW:
            channel.state = CS.CS_INIT
        try:
            while True:
                state = channel.state
                if state == CS.CS_DESTROY:
                    break
                if state != channel.running_state or state >= CS.CS_HANGUP:
                    self._state_changed.clear()
                    self.set_running_state(state)
                    await self._run_state(state)
                    if state == CS.CS_REPORTING:
                        break
                if channel.state == channel.running_state and channel.state < CS.CS_HANGUP:
                    await self._wait_state()
            await self._on_destroy()
        except asyncio.CancelledError:
            self.manager.forget(self)
            raise

    def _advance(self, expected: CS, state: CS) -> None:
        """Move on to ``state`` unless something else already moved the channel (a hangup, a transfer)."""
        if self.channel.state == expected:
            self.set_state(state)

    async def _run_state(self, state: CS) -> None:
        channel = self.channel
        if state == CS.CS_INIT:
            await self.endpoint.on_init(self)
            self._advance(CS.CS_INIT, CS.CS_ROUTING)
            self.fire(
                "CHANNEL_CREATE",
                calling_file="switch_core_state_machine.c",
                calling_function="switch_core_session_run",
                calling_line=606,
            )
            if channel.direction == "outbound":
                self.fire(
                    "CHANNEL_ORIGINATE",
                    calling_file="switch_core_state_machine.c",
                    calling_function="switch_core_session_run",
                    calling_line=632,
                )
        elif state == CS.CS_ROUTING:
            await self.manager.route(self)
        elif state == CS.CS_EXECUTE:
            self.set_variable("call_uuid", self.uuid)
            await self._on_execute()
        elif state == CS.CS_PARK:
            await self.park()
        elif state == CS.CS_CONSUME_MEDIA:
            await self.endpoint.on_consume_media(self)
        elif state == CS.CS_RESET:
            self.set_variable("call_uuid", self.uuid)
            self._advance(CS.CS_RESET, CS.CS_EXECUTE if self.extension else CS.CS_PARK)
        elif state == CS.CS_HANGUP:
            await self._on_hangup()
        elif state == CS.CS_REPORTING:
            await self._on_reporting()
        # EXCHANGE_MEDIA, SOFT_EXECUTE, HIBERNATE: nothing to do but wait to be moved on

    async def _wait_state(self) -> None:
        """Sleep until the state changes, running queued commands meanwhile
        (``switch_ivr_parse_all_events``)."""
        channel = self.channel
        state = channel.state
        while channel.state == state:
            if self.messages and not self.event_lock and self.ready:
                await self.process_messages()
                continue
            if self.private_events:
                self.deliver_private_events()
                continue
            self._signal.clear()
            if channel.state != state:
                break
            await self._signal.wait()

    async def _on_execute(self) -> None:
        channel = self.channel
        while channel.state == CS.CS_EXECUTE and self.ready:
            if self.app_index >= len(self.extension):
                break
            app, data = self.extension[self.app_index]
            self.app_index += 1
            await self.execute(app, data)
            # commands queued meanwhile run between applications
            if self.messages and not self.event_lock and channel.state == CS.CS_EXECUTE:
                await self.process_messages()
        if channel.state == CS.CS_EXECUTE and self.ready:
            self.hangup("NORMAL_CLEARING")  # no more applications

    async def park(self) -> None:
        """``switch_ivr_park``: CHANNEL_PARK, wait (running queued commands), CHANNEL_UNPARK."""
        self.parked = True
        self.fire(
            "CHANNEL_PARK", calling_file="switch_ivr.c", calling_function="switch_ivr_park", calling_line=1005
        )
        try:
            while self.ready and self.parked:
                reason = await self.wait(None, until=lambda: not self.parked)
                if reason in ("hangup", "done", "state"):
                    break
        finally:
            self.parked = False
            self.fire(
                "CHANNEL_UNPARK",
                calling_file="switch_ivr.c",
                calling_function="switch_ivr_park",
                calling_line=1245,
            )

    def unpark(self) -> None:
        self.parked = False
        self.signal()

    async def _on_hangup(self) -> None:
        """``switch_core_session_hangup_state``: hangup time, media stopped, CDR variables,
        the HANGUP call state."""
        channel = self.channel
        cause = channel.hangup_cause or "NORMAL_CLEARING"
        if not channel.profile.hungup:
            channel.profile.hungup = self.now_us()
        for hook in list(self.hangup_hooks):
            hook(self)
        self.set_variable("hangup_cause", cause)
        self.set_variable("hangup_cause_q850", str(cause_number(cause)))
        self._set_timestamps()
        self.set_call_state("HANGUP")
        await self.endpoint.on_hangup(self)
        self._advance(CS.CS_HANGUP, CS.CS_REPORTING)

    async def _on_reporting(self) -> None:
        channel = self.channel
        self.fire(
            "CHANNEL_HANGUP_COMPLETE",
            before=[("Hangup-Cause", channel.hangup_cause or "")],
            calling_file="switch_core_state_machine.c",
            calling_function="switch_core_session_reporting_state",
            calling_line=818,
        )
        for controller in list(self.controllers):
            controller(self)
        channel.state = CS.CS_DESTROY

    async def _on_destroy(self) -> None:
        """``switch_core_session_perform_destroy``: once every holder let go, CHANNEL_DESTROY, then
        ``switch_core_session_destroy_state`` (CHANNEL_STATE CS_DESTROY)."""
        await self._unlocked.wait()
        self.fire(
            "CHANNEL_DESTROY",
            calling_file="switch_core_session.c",
            calling_function="switch_core_session_perform_destroy",
            calling_line=1750,
        )
        self.set_running_state(CS.CS_DESTROY)
        self.manager.forget(self)
        self.destroyed.set()

    def _set_timestamps(self) -> None:
        """``switch_channel_set_timestamps``: the CDR variables of a finished call."""
        channel = self.channel
        profile = channel.profile
        end = profile.hungup or self.now_us()
        set_var = self.set_variable
        if not channel.variables.get("digits_dialed"):
            set_var("digits_dialed", "none")

        stamp = _local_stamp
        start = profile.created
        if start:
            set_var("start_stamp", stamp(start))
        if profile.profile_created:
            set_var("profile_start_stamp", stamp(profile.profile_created))
        if profile.answered:
            set_var("answer_stamp", stamp(profile.answered))
        if profile.bridged:
            set_var("bridge_stamp", stamp(profile.bridged))
        if profile.progress:
            set_var("progress_stamp", stamp(profile.progress))
        if profile.progress_media:
            set_var("progress_media_stamp", stamp(profile.progress_media))
        set_var("end_stamp", stamp(end))
        for name, value in (
            ("start", start),
            ("profile_start", profile.profile_created),
            ("answer", profile.answered),
            ("bridge", profile.bridged),
            ("last_hold", profile.last_hold),
        ):
            set_var(f"{name}_epoch", str(value // 1_000_000))
            set_var(f"{name}_uepoch", str(value))
        set_var("hold_accum_seconds", str(profile.hold_accum // 1_000_000))
        set_var("hold_accum_usec", str(profile.hold_accum))
        set_var("hold_accum_ms", str(profile.hold_accum // 1000))
        for name, value in (
            ("resurrect", profile.resurrected),
            ("progress", profile.progress),
            ("progress_media", profile.progress_media),
            ("end", end),
        ):
            set_var(f"{name}_epoch", str(value // 1_000_000))
            set_var(f"{name}_uepoch", str(value))
        set_var("last_app", self.last_app)
        set_var("last_arg", self.last_arg)
        set_var("caller_id", f'"{profile.caller_id_name}" <{profile.caller_id_number}>')

        def span(a: int, b: int) -> int:
            return max(0, b - a) if a and b else 0

        durations = {
            "duration": span(start, end),
            "billsec": span(profile.answered, end),
            "progresssec": span(start, profile.progress),
            "answersec": span(start, profile.answered),
            "waitsec": span(start, profile.answered),
            "progress_mediasec": span(start, profile.progress_media),
            "flow_billsec": span(start, end),
        }
        for unit, scale in (("sec", 1_000_000), ("msec", 1000), ("usec", 1)):
            for name, value in durations.items():
                if unit == "sec":
                    key = name
                elif name == "duration":
                    key = "mduration" if unit == "msec" else "uduration"
                else:
                    key = name[: -len("sec")] + unit
                set_var(key, str(value // scale))
