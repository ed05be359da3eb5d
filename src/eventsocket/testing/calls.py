"""What a test holds for one channel: its events so far, waits that read like the call, its CDR.

A :class:`Call` is a view on the switch's recorded events for one ``Unique-ID``; it never
copies them, so ``call.events`` is always current. Waiting goes through the switch's
recorder and its clock: on virtual time a 30-second wait costs nothing, and when a wait
fails the error carries the call's timeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from eventsocket.testing.timeline import EventLike, format_timeline

__all__ = ["Call", "CallSource", "match"]


class CallSource(Protocol):
    """Where a :class:`Call` reads its events and sends its far-end actions (the recorder)."""

    @property
    def origin(self) -> float | None: ...

    def events_of(self, uuid: str) -> list[EventLike]: ...

    async def first(
        self,
        predicate: Callable[[EventLike], bool],
        timeout: float,
        *,
        what: str,
        uuid: str | None = None,
        consume: bool = False,
    ) -> EventLike: ...

    async def backend_press(self, uuid: str, digits: str, interval: float) -> None: ...

    async def backend_hangup(self, uuid: str, cause: str) -> None: ...

#: Applications whose argument is a file (or stream) the far end hears.
_PLAYING = {
    "playback": 0,
    "play_and_get_digits": 5,
    "read": 4,
    "speak": -1,
    "gentones": -1,
    "endless_playback": 0,
    "broadcast": 0,
}


def match(event: EventLike, name: str, uuid: str | None, headers: dict[str, str]) -> bool:
    """True when ``event`` is called ``name`` (``*`` for any), is for ``uuid`` (if given) and has ``headers``.

    Header names may be written with underscores (``Channel_State="CS_EXECUTE"``, as
    keyword arguments must be) and match case-insensitively.
    """
    if name != "*" and event.name != name and event.get("Event-Subclass") != name:
        return False
    if uuid is not None and event.get("Unique-ID") != uuid:
        return False
    for key, value in headers.items():
        found = event.get(key)
        if found is None:
            found = event.get(key.replace("_", "-"))
        if found != value:
            return False
    return True


def _played(app: str, data: str) -> str | None:
    index = _PLAYING.get(app.lower())
    if index is None:
        return None
    if index < 0:
        return data
    words = data.split()
    return words[index] if len(words) > index else None


class Call:
    """One channel of the switch under test, seen through its events.

    ``events`` is every event of the channel so far; ``state``, ``answered`` and
    ``hungup`` read them; :meth:`wait_for`, :meth:`wait_for_state` and
    :meth:`wait_hangup` wait (on the switch's clock) for what has not happened yet and
    return at once for what already has. After hangup, :attr:`cdr` holds the channel's
    variables as CHANNEL_HANGUP_COMPLETE reported them (``billsec``, ``hangup_cause``...).

    The far-end actions :meth:`press` and :meth:`hangup` act as the other party would:
    digits arrive on the channel as if pressed on a phone (RTP DTMF), a hangup as if
    the phone was put down.
    """

    def __init__(self, recorder: CallSource, uuid: str) -> None:
        self._recorder = recorder
        self.uuid = uuid

    def __repr__(self) -> str:
        return f"<Call {self.uuid} {self.state or 'not seen yet'}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Call) and other.uuid == self.uuid

    def __hash__(self) -> int:
        return hash(self.uuid)

    # -- what happened -----------------------------------------------------------------------

    @property
    def events(self) -> list[EventLike]:
        """Every event of this channel so far, in order."""
        return self._recorder.events_of(self.uuid)

    @property
    def names(self) -> list[str]:
        """The names of :attr:`events`, for assertions on the sequence."""
        return [event.name for event in self.events]

    def _last(self, header: str) -> str | None:
        for event in reversed(self.events):
            value = event.get(header)
            if value is not None:
                return value
        return None

    @property
    def state(self) -> str | None:
        """The channel state of the latest event (``CS_EXECUTE``...), None before any."""
        return self._last("Channel-State")

    @property
    def answered(self) -> bool:
        return "CHANNEL_ANSWER" in self.names

    @property
    def hungup(self) -> bool:
        return "CHANNEL_HANGUP" in self.names or "CHANNEL_HANGUP_COMPLETE" in self.names

    @property
    def hangup_cause(self) -> str | None:
        for event in self.events:
            if event.name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
                return event.get("Hangup-Cause")
        return None

    def variable(self, name: str) -> str | None:
        """The channel variable ``name`` as the latest event that carried it reported it."""
        return self._last(f"variable_{name}")

    @property
    def caller_id(self) -> str | None:
        return self._last("Caller-Caller-ID-Number")

    @property
    def applications(self) -> list[str]:
        """The applications run on the channel, ``name(data)``, in order."""
        out = []
        for event in self.events:
            if event.name == "CHANNEL_EXECUTE":
                app, data = event.get("Application") or "", event.get("Application-Data") or ""
                out.append(f"{app}({data})" if data else app)
        return out

    @property
    def heard(self) -> list[str]:
        """What the far end heard: the files and streams played to this channel, in order."""
        out = []
        for event in self.events:
            if event.name == "CHANNEL_EXECUTE":
                played = _played(event.get("Application") or "", event.get("Application-Data") or "")
                if played:
                    out.append(played)
        return out

    @property
    def dtmf_sent(self) -> str:
        """Digits the switch sent towards the far end, concatenated.

        A ``sim`` leg's far end records every digit it hears (``sim_dtmf_received``, from
        ``send_dtmf`` or ``uuid_send_dtmf``); elsewhere the ``send_dtmf`` applications say it.
        """
        heard = self.variable("sim_dtmf_received")
        if heard is not None:
            return heard
        digits = []
        for event in self.events:
            if event.name == "CHANNEL_EXECUTE" and (event.get("Application") or "").lower() == "send_dtmf":
                digits.append((event.get("Application-Data") or "").split("@")[0])
        return "".join(digits)

    @property
    def dtmf_received(self) -> str:
        """Digits the channel received (its DTMF events), concatenated."""
        return "".join(event.get("DTMF-Digit") or "" for event in self.events if event.name == "DTMF")

    @property
    def cdr(self) -> dict[str, str]:
        """The channel's variables from CHANNEL_HANGUP_COMPLETE, without the ``variable_`` prefix.

        Raises ``AssertionError`` (with the timeline) before the channel has hung up.
        """
        for event in self.events:
            if event.name == "CHANNEL_HANGUP_COMPLETE":
                cdr = {}
                for key, value in _headers(event):
                    if key.startswith("variable_"):
                        cdr[key[len("variable_"):]] = value
                cdr.setdefault("hangup_cause", event.get("Hangup-Cause") or "")
                return cdr
        raise AssertionError(f"no CDR yet: call {self.uuid} has not hung up\n{self.timeline()}")

    def timeline(self) -> str:
        return format_timeline(self.events, start=self._recorder.origin, title=f"call {self.uuid}:")

    # -- waiting -------------------------------------------------------------------------------

    async def wait_for(self, name: str, *, timeout: float = 60.0, **headers: str) -> EventLike:
        """The first event ``name`` of this call (with these headers), waiting for it if need be."""
        return await self._recorder.first(
            lambda event: match(event, name, self.uuid, headers), timeout, what=f"{name} on {self.uuid}",
            uuid=self.uuid,
        )

    async def wait_for_state(self, state: str, *, timeout: float = 60.0) -> EventLike:
        """Wait until the channel has reached ``state`` (``CS_EXECUTE``, ``CS_HANGUP``...)."""
        return await self._recorder.first(
            lambda event: event.get("Unique-ID") == self.uuid and event.get("Channel-State") == state,
            timeout,
            what=f"state {state} on {self.uuid}",
            uuid=self.uuid,
        )

    async def wait_answer(self, *, timeout: float = 60.0) -> EventLike:
        return await self.wait_for("CHANNEL_ANSWER", timeout=timeout)

    async def wait_hangup(self, *, timeout: float = 600.0) -> EventLike:
        """Wait for CHANNEL_HANGUP_COMPLETE (after which :attr:`cdr` is available)."""
        return await self.wait_for("CHANNEL_HANGUP_COMPLETE", timeout=timeout)

    # -- the far end ---------------------------------------------------------------------------

    async def press(self, digits: str, *, interval: float = 0.1) -> None:
        """The far end presses ``digits``, one every ``interval`` seconds (on the switch's clock)."""
        await self._recorder.backend_press(self.uuid, digits, interval)

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The far end hangs up."""
        await self._recorder.backend_hangup(self.uuid, cause)


def _headers(event: EventLike) -> list[tuple[str, str]]:
    items: Callable[[], Any] | None = getattr(event, "items", None)
    if items is None:
        return []
    return [(str(k), str(v)) for k, v in items()]
