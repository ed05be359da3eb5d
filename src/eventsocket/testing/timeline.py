"""A call's timeline: one line per event, what a failing test prints instead of raw dumps.

Each line says when (seconds since the switch started, on its clock, so virtual time
reads as the call lived it), which leg (``A``, ``B``... in order of appearance), the
event, the channel state, and the application or other detail that says why::

      0.000  A 5000        CHANNEL_CREATE           CS_INIT
      0.001  A 5000        CHANNEL_EXECUTE          CS_EXECUTE   answer
      2.513  A 5000        DTMF                     CS_EXECUTE   digit 1
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence
from typing import Protocol


class EventLike(Protocol):
    """What a timeline reads from an event: the switch's and the client's events both fit."""

    @property
    def name(self) -> str: ...

    def get(self, name: str, /) -> str | None: ...


def event_time(event: EventLike) -> float:
    """The event's ``Event-Date-Timestamp`` in seconds (0 when absent)."""
    stamp = event.get("Event-Date-Timestamp") or "0"
    try:
        return int(stamp) / 1_000_000
    except ValueError:
        return 0.0


def _detail(event: EventLike) -> str:
    name = event.name
    get = event.get
    if name in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"):
        app = get("Application") or ""
        data = get("Application-Data") or ""
        text = f"{app}({data})" if data else app
        response = get("Application-Response")
        if name == "CHANNEL_EXECUTE_COMPLETE" and response:
            text += f" -> {response}"
        return text
    if name == "DTMF":
        return f"digit {get('DTMF-Digit') or '?'}"
    if name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
        return get("Hangup-Cause") or ""
    if name == "CHANNEL_BRIDGE" or name == "CHANNEL_UNBRIDGE":
        return f"with {get('Other-Leg-Unique-ID') or '?'}"
    if name == "PLAYBACK_START" or name == "PLAYBACK_STOP":
        return get("Playback-File-Path") or ""
    if name == "CUSTOM":
        return get("Event-Subclass") or ""
    if name == "BACKGROUND_JOB":
        return (get("Job-Command") or "") + " " + (get("Job-Command-Arg") or "")
    if name == "API":
        return f"{get('API-Command') or ''} {get('API-Command-Argument') or ''}".strip()
    return ""


def leg_labels(events: Iterable[EventLike]) -> dict[str, str]:
    """``A``, ``B``, ... for each channel, in the order the channels first appear."""
    labels: dict[str, str] = {}
    letters = string.ascii_uppercase
    for event in events:
        uuid = event.get("Unique-ID")
        if uuid and uuid not in labels:
            n = len(labels)
            labels[uuid] = letters[n % 26] + (str(n // 26) if n >= 26 else "")
    return labels


def format_timeline(events: Sequence[EventLike], *, start: float | None = None, title: str = "") -> str:
    """The lines of a timeline for ``events`` (all legs mixed, in the order they fired)."""
    if not events:
        return f"{title}(no events)\n" if title else "(no events)\n"
    origin = start if start is not None else event_time(events[0])
    labels = leg_labels(events)
    lines = [title] if title else []
    for event in events:
        uuid = event.get("Unique-ID") or ""
        leg = labels.get(uuid, "-")
        number = event.get("Caller-Destination-Number") or ""
        state = event.get("Channel-State") or ""
        lines.append(
            f"{event_time(event) - origin:9.3f}  {leg:2} {number[:11]:11} {event.name:24} "
            f"{state:14} {_detail(event)}".rstrip()
        )
    legend = ", ".join(f"{label}={uuid}" for uuid, label in labels.items())
    if legend:
        lines.append(f"legs: {legend}")
    return "\n".join(lines) + "\n"
