"""NATS subjects of the event stream, message ids, and consumer subject filters.

Every event of node ``n`` is stored under ``esl.<n>.<Event-Name>`` or, when it has a
subclass, ``esl.<n>.<Event-Name>.<subclass>``. A subclass may hold characters NATS
gives a meaning to (``.``, ``*``, ``>``, spaces), so it is percent-encoded into a single
token; node names are restricted to characters that need no encoding.

A listener's event set (``event``/``nixevent``) becomes the subject filters of its
JetStream consumer, so NATS, not the gateway, drops the types nobody asked for.
Header filters and the ``myevents`` lock stay with the listener (FreeSWITCH's own
rules, applied by the server layer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "MAX_FILTER_SUBJECTS",
    "ROOT",
    "InvalidNodeName",
    "check_node_name",
    "event_subject",
    "filter_subjects",
    "message_id",
    "node_of_subject",
    "subject_token",
]

ROOT = "esl"
#: Beyond this many subjects a consumer filters on ``esl.<node>.>`` instead (the listener
#: still selects exactly): ``event ALL`` followed by ``nixevent X`` names ~100 types.
MAX_FILTER_SUBJECTS = 32

_NODE = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-:")


class InvalidNodeName(ValueError):
    """A node name that cannot be one NATS subject token."""


def check_node_name(name: str) -> str:
    """Node names are letters, digits, ``_`` and ``-`` (one subject token, no escaping)."""
    if not _NODE.match(name):
        raise InvalidNodeName(f"invalid node name {name!r}: use letters, digits, '_' and '-'")
    return name


def subject_token(text: str) -> str:
    """``text`` as one subject token: every byte outside ``[A-Za-z0-9_:-]`` as ``%XX``."""
    if text and all(ch in _SAFE for ch in text):
        return text
    out = []
    for byte in text.encode("utf-8", "surrogateescape"):
        ch = chr(byte)
        out.append(ch if ch in _SAFE else f"%{byte:02X}")
    return "".join(out) or "%00"


def event_subject(node: str, name: str, subclass: str | None = None) -> str:
    """``esl.<node>.<Event-Name>[.<subclass>]``."""
    subject = f"{ROOT}.{node}.{subject_token(name)}"
    if subclass:
        subject += "." + subject_token(subclass)
    return subject


def node_of_subject(subject: str) -> str:
    """The node token of an event subject."""
    parts = subject.split(".", 2)
    return parts[1] if len(parts) > 2 and parts[0] == ROOT else ""


def message_id(core_uuid: str, sequence: str) -> str:
    """JetStream's de-duplication id: the same event published twice (a reconnect, a second
    gateway publishing the same node) carries the same id and is stored once."""
    return f"{core_uuid}:{sequence}"


def filter_subjects(
    types: Iterable[str], subclasses: Iterable[str], node: str | None = None
) -> list[str]:
    """The subject filters that carry at least every event a listener with this event set accepts.

    ``node`` narrows to one node (``myevents <uuid>`` follows a call of a known node).
    An empty list means no event at all.
    """
    where = node or "*"
    names = set(types)
    if not names:
        return []
    if "ALL" in names:
        return [f"{ROOT}.{where}.>"]
    subjects: list[str] = []
    for name in sorted(names):
        token = subject_token(name)
        if name == "CUSTOM":
            subjects.append(f"{ROOT}.{where}.CUSTOM")
            subjects.extend(f"{ROOT}.{where}.CUSTOM.{subject_token(sub)}" for sub in sorted(set(subclasses)))
        else:
            # events other than CUSTOM rarely carry a subclass, but when they do FreeSWITCH
            # selects them by type alone
            subjects.append(f"{ROOT}.{where}.{token}")
            subjects.append(f"{ROOT}.{where}.{token}.>")
    if len(subjects) > MAX_FILTER_SUBJECTS:
        return [f"{ROOT}.{where}.>"]
    return subjects
