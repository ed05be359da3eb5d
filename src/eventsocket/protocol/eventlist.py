"""The event-list grammar both ends use: event names, ``CUSTOM`` with subclasses, ``ALL``.

``event``, ``nixevent``, ``myevents``, a ``userauth`` user's ``esl-allowed-events`` and a
client's own subscription bookkeeping all read the same grammar, FreeSWITCH's loop in
mod_event_socket.c (``parse_command`` for ``event``/``nixevent``, ``switch_name_event``
for each word):

* words are event names, matched case-insensitively; a word longer than 13 characters
  also matches by its tail, which is how ``SWITCH_EVENT_DTMF`` comes to mean ``DTMF``;
* a word that names no event is skipped (FreeSWITCH does not complain about it);
* every word after ``CUSTOM`` is a subclass, whatever it looks like (``CUSTOM ALL``
  subscribes to the subclass ``ALL``);
* ``ALL`` stands for every type.

:func:`parse_event_list` turns words into ordered :class:`EventKey` items, so callers
that stop at the first forbidden word (``event`` with permissions) keep FreeSWITCH's
order; :func:`split_event_words` and :func:`split_allowed_list` are the two ways a list
is cut into words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

__all__ = [
    "ALL",
    "CUSTOM",
    "EVENT_FORMATS",
    "EVENT_NAMES",
    "EVENT_NUMBERS",
    "EventKey",
    "event_format",
    "lookup_event_name",
    "parse_event_list",
    "split_allowed_list",
    "split_event_words",
]

#: FreeSWITCH's event type names (``EVENT_NAMES`` in switch_event.c), in type-number order.
EVENT_NAMES: tuple[str, ...] = (
    "CUSTOM",
    "CLONE",
    "CHANNEL_CREATE",
    "CHANNEL_DESTROY",
    "CHANNEL_STATE",
    "CHANNEL_CALLSTATE",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE",
    "CHANNEL_EXECUTE",
    "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HOLD",
    "CHANNEL_UNHOLD",
    "CHANNEL_BRIDGE",
    "CHANNEL_UNBRIDGE",
    "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA",
    "CHANNEL_OUTGOING",
    "CHANNEL_PARK",
    "CHANNEL_UNPARK",
    "CHANNEL_APPLICATION",
    "CHANNEL_ORIGINATE",
    "CHANNEL_UUID",
    "API",
    "LOG",
    "INBOUND_CHAN",
    "OUTBOUND_CHAN",
    "STARTUP",
    "SHUTDOWN",
    "PUBLISH",
    "UNPUBLISH",
    "TALK",
    "NOTALK",
    "SESSION_CRASH",
    "MODULE_LOAD",
    "MODULE_UNLOAD",
    "DTMF",
    "MESSAGE",
    "PRESENCE_IN",
    "NOTIFY_IN",
    "PRESENCE_OUT",
    "PRESENCE_PROBE",
    "MESSAGE_WAITING",
    "MESSAGE_QUERY",
    "ROSTER",
    "CODEC",
    "BACKGROUND_JOB",
    "DETECTED_SPEECH",
    "DETECTED_TONE",
    "PRIVATE_COMMAND",
    "HEARTBEAT",
    "TRAP",
    "ADD_SCHEDULE",
    "DEL_SCHEDULE",
    "EXE_SCHEDULE",
    "RE_SCHEDULE",
    "RELOADXML",
    "NOTIFY",
    "PHONE_FEATURE",
    "PHONE_FEATURE_SUBSCRIBE",
    "SEND_MESSAGE",
    "RECV_MESSAGE",
    "REQUEST_PARAMS",
    "CHANNEL_DATA",
    "GENERAL",
    "COMMAND",
    "SESSION_HEARTBEAT",
    "CLIENT_DISCONNECTED",
    "SERVER_DISCONNECTED",
    "SEND_INFO",
    "RECV_INFO",
    "RECV_RTCP_MESSAGE",
    "SEND_RTCP_MESSAGE",
    "CALL_SECURE",
    "NAT",
    "RECORD_START",
    "RECORD_STOP",
    "PLAYBACK_START",
    "PLAYBACK_STOP",
    "CALL_UPDATE",
    "FAILURE",
    "SOCKET_DATA",
    "MEDIA_BUG_START",
    "MEDIA_BUG_STOP",
    "CONFERENCE_DATA_QUERY",
    "CONFERENCE_DATA",
    "CALL_SETUP_REQ",
    "CALL_SETUP_RESULT",
    "CALL_DETAIL",
    "DEVICE_STATE",
    "TEXT",
    "SHUTDOWN_REQUESTED",
    "CERT_RELOAD",
    "ALL",
)

EVENT_NUMBERS: dict[str, int] = {name: number for number, name in enumerate(EVENT_NAMES)}
_BY_LOWER: dict[str, str] = {name.lower(): name for name in EVENT_NAMES}

ALL = "ALL"
CUSTOM = "CUSTOM"

#: The wire formats an ``event``/``myevents`` command may name.
EVENT_FORMATS: tuple[str, ...] = ("plain", "json", "xml")


def lookup_event_name(token: str) -> str | None:
    """The canonical event name for ``token`` (``switch_name_event``), or None when unknown."""
    lower = token.lower()
    name = _BY_LOWER.get(lower)
    if name is not None:
        return name
    if len(lower) > 13:
        return _BY_LOWER.get(lower[13:])
    return None


def event_format(word: str) -> Literal["plain", "json", "xml"] | None:
    """``plain``/``json``/``xml`` in any case -> the format; anything else -> None."""
    low = word.lower()
    if low == "plain":
        return "plain"
    if low == "json":
        return "json"
    if low == "xml":
        return "xml"
    return None


class EventKey(NamedTuple):
    """One item of an event list: an event name, or (``subclass`` set) a CUSTOM subclass."""

    name: str
    subclass: str | None = None

    @property
    def is_subclass(self) -> bool:
        return self.subclass is not None


def parse_event_list(words: Iterable[str]) -> list[EventKey]:
    """The items of an event list, in order: known names, then after ``CUSTOM`` its subclasses.

    Empty words and unknown names are skipped; every word after ``CUSTOM`` is a subclass.
    """
    keys: list[EventKey] = []
    custom = False
    for word in words:
        if not word:
            continue
        if custom:
            keys.append(EventKey(CUSTOM, word))
            continue
        name = lookup_event_name(word)
        if name is None:
            continue
        keys.append(EventKey(name))
        if name == CUSTOM:
            custom = True
    return keys


def split_event_words(text: str) -> list[str]:
    """The words of an ``event``/``nixevent`` argument: split on single spaces, empty ones dropped."""
    return [word for word in text.split(" ") if word]


def split_allowed_list(value: str) -> list[str]:
    """A directory list (``esl-allowed-events``, ``esl-allowed-api``): on spaces when there is
    any space, else on commas."""
    parts = value.split(" ") if " " in value else value.split(",")
    return [part for part in parts if part]
