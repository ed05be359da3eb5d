"""A channel's data: states, caller profile, variables, and the headers it adds to events.

This module is pure data and formatting; what a channel *does* over time lives in
``session.py``. The header names and their order are ``switch_channel_event_set_data``
(PROTOCOL.md §7.2), because clients and the conformance cases read them by name and
some tools by position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from enum import IntEnum
from operator import attrgetter

from eventsocket.protocol.events import Event, HeaderValue


class CS(IntEnum):
    """Channel states (``switch_channel_state_t``)."""

    CS_NEW = 0
    CS_INIT = 1
    CS_ROUTING = 2
    CS_SOFT_EXECUTE = 3
    CS_EXECUTE = 4
    CS_EXCHANGE_MEDIA = 5
    CS_PARK = 6
    CS_CONSUME_MEDIA = 7
    CS_HIBERNATE = 8
    CS_RESET = 9
    CS_HANGUP = 10
    CS_REPORTING = 11
    CS_DESTROY = 12
    CS_NONE = 13


CALL_STATES: tuple[str, ...] = (
    "DOWN",
    "DIALING",
    "RINGING",
    "EARLY",
    "ACTIVE",
    "HELD",
    "RING_WAIT",
    "HANGUP",
    "UNHELD",
)

# Event types that carry every channel variable (``variable_*``) in their channel data.
VARIABLE_EVENTS = frozenset(
    {
        "CHANNEL_CREATE",
        "CHANNEL_ORIGINATE",
        "CHANNEL_UUID",
        "CHANNEL_ANSWER",
        "CHANNEL_PARK",
        "CHANNEL_UNPARK",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "REQUEST_PARAMS",
        "CHANNEL_DATA",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_DESTROY",
        "SESSION_HEARTBEAT",
        "API",
        "RECORD_START",
        "RECORD_STOP",
        "PLAYBACK_START",
        "PLAYBACK_STOP",
        "CALL_UPDATE",
        "MEDIA_BUG_START",
        "MEDIA_BUG_STOP",
        "CHANNEL_HOLD",
        "CHANNEL_UNHOLD",
        "TEXT",
        "CUSTOM",
    }
)

_PROFILE_TEXT = (
    ("username", "Username"),
    ("dialplan", "Dialplan"),
    ("caller_id_name", "Caller-ID-Name"),
    ("caller_id_number", "Caller-ID-Number"),
    ("orig_caller_id_name", "Orig-Caller-ID-Name"),
    ("orig_caller_id_number", "Orig-Caller-ID-Number"),
    ("callee_id_name", "Callee-ID-Name"),
    ("callee_id_number", "Callee-ID-Number"),
    ("network_addr", "Network-Addr"),
    ("ani", "ANI"),
    ("aniii", "ANI-II"),
    ("destination_number", "Destination-Number"),
    ("uuid", "Unique-ID"),
    ("source", "Source"),
    ("transfer_source", "Transfer-Source"),
    ("context", "Context"),
    ("rdnis", "RDNIS"),
    ("chan_name", "Channel-Name"),
    ("profile_index", "Profile-Index"),
)
_PROFILE_TIMES = (
    ("profile_created", "Profile-Created-Time"),
    ("created", "Channel-Created-Time"),
    ("answered", "Channel-Answered-Time"),
    ("progress", "Channel-Progress-Time"),
    ("progress_media", "Channel-Progress-Media-Time"),
    ("hungup", "Channel-Hangup-Time"),
    ("transferred", "Channel-Transfer-Time"),
    ("resurrected", "Channel-Resurrect-Time"),
    ("bridged", "Channel-Bridged-Time"),
    ("last_hold", "Channel-Last-Hold"),
    ("hold_accum", "Channel-Hold-Accum"),
)


_TEXT_FIELDS = frozenset(
    {
        "dialplan",
        "username",
        "caller_id_name",
        "caller_id_number",
        "orig_caller_id_name",
        "orig_caller_id_number",
        "callee_id_name",
        "callee_id_number",
        "ani",
        "aniii",
        "network_addr",
        "rdnis",
        "destination_number",
        "uuid",
        "source",
        "transfer_source",
        "context",
        "chan_name",
        "profile_index",
    }
)
_TIME_FIELDS = {
    "profile_created_time": "profile_created",
    "created_time": "created",
    "answered_time": "answered",
    "progress_time": "progress",
    "progress_media_time": "progress_media",
    "hungup_time": "hungup",
    "transferred_time": "transferred",
}
_NUMPLAN_FIELDS = frozenset(
    {
        "caller_ton",
        "caller_numplan",
        "destination_number_ton",
        "destination_number_numplan",
        "ani_ton",
        "ani_numplan",
        "rdnis_ton",
        "rdnis_numplan",
    }
)


@dataclass(slots=True)
class CallerProfile:
    """``switch_caller_profile_t``: who called whom, where the call is routed, and when things happened."""

    direction: str = "outbound"
    logical_direction: str = "outbound"
    username: str = ""
    dialplan: str = ""
    caller_id_name: str = ""
    caller_id_number: str = ""
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    callee_id_name: str = ""
    callee_id_number: str = ""
    network_addr: str = ""
    ani: str = ""
    aniii: str = ""
    destination_number: str = ""
    uuid: str = ""
    source: str = ""
    transfer_source: str = ""
    context: str = ""
    rdnis: str = ""
    chan_name: str = ""
    profile_index: str = "1"
    # times in microseconds since the epoch (0 = not yet)
    profile_created: int = 0
    created: int = 0
    answered: int = 0
    progress: int = 0
    progress_media: int = 0
    hungup: int = 0
    transferred: int = 0
    resurrected: int = 0
    bridged: int = 0
    last_hold: int = 0
    hold_accum: int = 0

    def headers(self, prefix: str) -> Iterator[tuple[str, str]]:
        """``switch_caller_profile_event_set_data`` under ``prefix``.

        Every event of a call carries its profiles, which change a few times per call: the
        lines are built once per distinct profile content (the snapshot of every field they
        read is the cache key, so any change to a field is seen) and shared.
        """
        key = (prefix, _PROFILE_SNAPSHOT(self))
        cached = _PROFILE_HEADERS.get(key)
        if cached is None:
            if len(_PROFILE_HEADERS) >= _PROFILE_HEADERS_LIMIT:
                _PROFILE_HEADERS.clear()
            cached = _PROFILE_HEADERS[key] = self._build_headers(prefix)
        return iter(cached)

    def _build_headers(self, prefix: str) -> tuple[tuple[str, str], ...]:
        out = [
            (f"{prefix}-Direction", self.direction),
            (f"{prefix}-Logical-Direction", self.logical_direction),
        ]
        for attr, name in _PROFILE_TEXT:
            value = getattr(self, attr)
            if attr.startswith("orig_caller_id_"):
                # only beside a current caller id (switch_caller_profile_event_set_data)
                if value and getattr(self, attr[len("orig_") :]):
                    out.append((f"{prefix}-{name}", value))
            elif value:
                out.append((f"{prefix}-{name}", value))
        for attr, name in _PROFILE_TIMES:
            out.append((f"{prefix}-{name}", str(getattr(self, attr))))
        out.append((f"{prefix}-Screen-Bit", "true"))
        out.append((f"{prefix}-Privacy-Hide-Name", "false"))
        out.append((f"{prefix}-Privacy-Hide-Number", "false"))
        return tuple(out)

    def field(self, name: str) -> str | None:
        """``switch_caller_get_field_by_name``: a profile field by its variable name (any case)."""
        key = name.lower()
        if key in _TEXT_FIELDS:
            value = getattr(self, key)
            return value if value else None
        if key in _TIME_FIELDS:
            return str(getattr(self, _TIME_FIELDS[key]))
        if key == "screen_bit":
            return "true"
        if key in ("privacy_hide_name", "privacy_hide_number"):
            return "false"
        if key in _NUMPLAN_FIELDS:
            return "0"
        return None

    def fields(self) -> dict[str, str]:
        """The text fields by name, for dialplan conditions."""
        return {
            f.name: str(getattr(self, f.name)) for f in fields(self) if isinstance(getattr(self, f.name), str)
        }

    def copy(self) -> CallerProfile:
        return CallerProfile(**{f.name: getattr(self, f.name) for f in fields(self)})


# every field CallerProfile.headers reads, as one tuple (built in C)
_PROFILE_SNAPSHOT = attrgetter(
    "direction", "logical_direction", *(a for a, _ in _PROFILE_TEXT), *(a for a, _ in _PROFILE_TIMES)
)
_PROFILE_HEADERS: dict[tuple[str, tuple[object, ...]], tuple[tuple[str, str], ...]] = {}
_PROFILE_HEADERS_LIMIT = 4096
class _VariableHeaders(dict[str, str]):
    """``variable_<name>`` header names, built once per variable name (bounded like the profiles)."""

    def __missing__(self, name: str) -> str:
        if len(self) >= _PROFILE_HEADERS_LIMIT:
            self.clear()
        header = self[name] = f"variable_{name}"
        return header


_VARIABLE_HEADERS = _VariableHeaders()


@dataclass(slots=True)
class Codec:
    name: str = "L16"
    rate: int = 8000
    bit_rate: int = 128000

    def headers(self, prefix: str) -> tuple[tuple[str, str], ...]:
        """``<prefix>-Name``, ``-Rate``, ``-Bit-Rate`` (built once per codec and prefix)."""
        key = (prefix, self.name, self.rate, self.bit_rate)
        cached = _CODEC_HEADERS.get(key)
        if cached is None:
            if len(_CODEC_HEADERS) >= _PROFILE_HEADERS_LIMIT:
                _CODEC_HEADERS.clear()
            cached = _CODEC_HEADERS[key] = (
                (f"{prefix}-Name", self.name),
                (f"{prefix}-Rate", str(self.rate)),
                (f"{prefix}-Bit-Rate", str(self.bit_rate)),
            )
        return cached


_CODEC_HEADERS: dict[tuple[str, str, int, int], tuple[tuple[str, str], ...]] = {}
_STATE_NUMBERS = {state: str(int(state)) for state in CS}


class Channel:
    """The state of one call leg."""

    def __init__(self, uuid: str, name: str, direction: str, profile: CallerProfile) -> None:
        self.uuid = uuid
        self.name = name
        self.direction = direction
        self.profile = profile
        self.state = CS.CS_NEW
        self.running_state = CS.CS_NONE  # no state handler has run yet
        self.call_state = "DOWN"
        self.answered = False
        self.early_media = False
        self.ringing = False
        self.hangup_cause: str | None = None
        self.hit_dialplan = direction == "inbound"  # or CF_DIALPLAN: an extension was set once
        self.variables: dict[str, str] = {}
        self.codec: Codec | None = None  # the read codec
        self.write_codec: Codec | None = None
        self.profile_set = True  # False while an endpoint is still building the channel
        # the other leg's caller profile, copied when the legs were tied (originate, bridge)
        self.other_profile: CallerProfile | None = None
        self.other_type = ""  # "originator" or "originatee": the role of the *other* leg
        self.originator: Channel | None = None
        self.originatee: Channel | None = None

    # -- variables (setting moves a variable to the end, as FreeSWITCH's event-backed store does) --

    def set_variable(self, name: str, value: str | None) -> None:
        self.variables.pop(name, None)
        if value is not None and value != "":
            self.variables[name] = value

    def get_variable(self, name: str) -> str | None:
        """A channel variable or, failing that, a caller-profile field (``switch_channel_get_variable``).

        ``destination_number``, ``caller_id_number``, ``context``... read the caller profile;
        an ``aleg_``/``bleg_`` prefix reads the originator's/originatee's profile.
        """
        value = self.variables.get(name)
        if value is not None:
            return value
        profile: CallerProfile | None = self.profile
        field_name = name
        if name.startswith("aleg_"):
            profile = self.other_profile if self.other_type == "originator" else None
            field_name = name[5:]
        elif name.startswith("bleg_"):
            profile = self.other_profile if self.other_type == "originatee" else None
            field_name = name[5:]
        if profile is None:
            return None
        return profile.field(field_name)

    # -- presentation -------------------------------------------------------------------------

    @property
    def answer_state(self) -> str:
        if self.hangup_cause is not None and self.state >= CS.CS_HANGUP:
            return "hangup"
        if self.answered:
            return "answered"
        if self.early_media:
            return "early"
        return "ringing"

    @property
    def is_up(self) -> bool:
        """True until hangup (``switch_channel_up``)."""
        return self.hangup_cause is None

    def basic_headers(self) -> list[tuple[str, HeaderValue]]:
        variables = self.variables
        headers: list[tuple[str, HeaderValue]] = [
            ("Channel-State", self.running_state.name),
            ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", _STATE_NUMBERS[self.state]),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true" if self.hit_dialplan else "false"),
        ]
        append = headers.append
        presence_id = variables.get("presence_id")
        if presence_id:
            append(("Channel-Presence-ID", presence_id))
        presence_data = variables.get("presence_data")
        if presence_data:
            append(("Channel-Presence-Data", presence_data))
        append(("Channel-Call-UUID", variables.get("call_uuid") or self.uuid))
        append(("Answer-State", self.answer_state))
        if self.hangup_cause is not None:
            append(("Hangup-Cause", self.hangup_cause))
        codec = self.codec
        if codec is not None:
            headers += codec.headers("Channel-Read-Codec")
        codec = self.write_codec
        if codec is not None:
            headers += codec.headers("Channel-Write-Codec")
        return headers

    def data_headers(
        self, event_name: str, *, with_variables: bool | None = None
    ) -> list[tuple[str, HeaderValue]]:
        """``switch_channel_event_set_data``: basic headers, caller profile, other leg, variables."""
        headers = self.basic_headers()
        if self.profile_set:
            headers.extend(self.profile.headers("Caller"))
            other = self.other_profile
            if other is not None and self.other_type:
                headers.append(("Other-Type", self.other_type))
                headers.extend(other.headers("Other-Leg"))
        if with_variables is None:
            with_variables = event_name in VARIABLE_EVENTS or self.variables.get("verbose_events") == "true"
        if with_variables:
            variables = self.variables
            names = map(_VARIABLE_HEADERS.__getitem__, variables)
            headers.extend(zip(names, variables.values(), strict=True))
        return headers

    def add_data(self, event: Event, *, with_variables: bool | None = None) -> Event:
        """Append the channel data to ``event`` (the hot path of every channel event)."""
        data = self.data_headers(event.name, with_variables=with_variables)
        values = [value for _, value in data]
        try:
            # the usual case, checked in C: no empty value and no ARRAY:: value
            plain = all(values) and "\0ARRAY::" not in "\0" + "\0".join(values)  # type: ignore[arg-type]
        except TypeError:  # a value is already an array
            plain = False
        if plain:
            event.headers.extend(data)
            event.invalidate()
            return event
        append = event.headers.append
        for key, value in data:
            if not value:
                event.delete(key)  # an empty value removes, as for any event header
                append = event.headers.append  # delete() replaced the list
            elif isinstance(value, str) and value.startswith("ARRAY::"):
                append((key, value[7:].split("|:")))
            else:
                append((key, value))
        event.invalidate()
        return event
