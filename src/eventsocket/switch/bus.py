"""The event bus: creates events with FreeSWITCH's standard headers and fans them out.

Delivery is synchronous and in firing order: ``fire`` hands the event to every
listener before it returns, and an event fired from inside a listener is queued
behind the current one, so every listener sees events in ``Event-Sequence`` order
(PROTOCOL.md §9 asks for that; FreeSWITCH does not promise it). Listeners must be
cheap: they filter and enqueue, they never do I/O.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable

from eventsocket.protocol.events import Event, HeaderValue
from eventsocket.switch.clock import Clock
from eventsocket.switch.identity import SwitchIdentity

log = logging.getLogger("eventsocket.bus")

Listener = Callable[[Event], None]
#: Whether a listener may accept events of a name (see :meth:`EventBus.set_interest`).
Interest = Callable[[str], bool]

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class EventBus:
    """Creates events and delivers them to listeners."""

    def __init__(self, identity: SwitchIdentity, clock: Clock) -> None:
        self.identity = identity
        self.clock = clock
        self._sequence = 0
        self._listeners: list[Listener] = []
        self._interest: dict[Listener, Interest] = {}  # listeners that take only some names
        self._pending: deque[Event] = deque()
        self._firing = False
        self._date_second = -1
        self._date_local = ""
        self._date_gmt = ""
        self.fired = 0

    # -- listeners ---------------------------------------------------------------------------

    def subscribe(self, listener: Listener, wants: Interest | None = None) -> None:
        """Deliver every event to ``listener``; ``wants`` (see :meth:`set_interest`) may narrow it."""
        if listener not in self._listeners:
            self._listeners.append(listener)
        self.set_interest(listener, wants)

    def set_interest(self, listener: Listener, wants: Interest | None) -> None:
        """Which event names ``listener`` may accept: ``wants(name)`` true, or every name when None.

        Events made with :meth:`fire_new` are not built at all when no listener wants
        their name (an API event for every ``api`` command costs more than the command).
        ``wants`` is asked at every such event, so it may follow a selection that changes.
        Events are still delivered to every listener; each makes its own final choice.
        """
        if listener not in self._listeners:
            return
        if wants is None:
            self._interest.pop(listener, None)
        else:
            self._interest[listener] = wants

    def unsubscribe(self, listener: Listener) -> None:
        try:
            self._listeners.remove(listener)
        except ValueError:
            pass
        self._interest.pop(listener, None)

    @property
    def listener_count(self) -> int:
        return len(self._listeners)

    def wanted(self, name: str) -> bool:
        """Whether any listener may accept an event named ``name``."""
        listeners = self._listeners
        if not listeners:
            return False
        interest = self._interest
        if len(interest) < len(listeners):  # somebody takes every event
            return True
        for wants in interest.values():  # noqa: SIM110 (a loop: no generator made per event)
            if wants(name):
                return True
        return False

    def fire_new(self, build: Callable[[], Event], name: str | None = None) -> None:
        """Build an event with ``build`` and fire it, unless nobody listens (to ``name``, if given).

        Channel events carry a hundred headers or more; when nobody would receive the
        event it is not built at all, but its sequence number is still taken, so the
        numbering is the same whether or not anyone listens.
        """
        if not self.skipped(name):
            self.fire(build())

    def skipped(self, name: str | None) -> bool:
        """True when nobody would receive an event named ``name`` (None: of any name): its
        sequence number is taken and it need not be built (:meth:`fire_new` without the
        closure, for hot paths)."""
        wanted = self.wanted(name) if name is not None else bool(self._listeners)
        if wanted:
            return False
        self._sequence += 1
        return True

    # -- creating ----------------------------------------------------------------------------

    def _dates(self, now: float) -> tuple[str, str]:
        second = int(now)
        if second != self._date_second:
            local = time.localtime(second)
            gmt = time.gmtime(second)
            self._date_local = time.strftime("%Y-%m-%d %H:%M:%S", local)
            self._date_gmt = (
                f"{_DAYS[gmt.tm_wday]}, {gmt.tm_mday:02d} {_MONTHS[gmt.tm_mon - 1]} {gmt.tm_year} "
                f"{gmt.tm_hour:02d}:{gmt.tm_min:02d}:{gmt.tm_sec:02d} GMT"
            )
            self._date_second = second
        return self._date_local, self._date_gmt

    def standard_headers(
        self, name: str, calling_file: str, calling_function: str, calling_line: int
    ) -> list[tuple[str, HeaderValue]]:
        """Event-Name .. Event-Sequence, in FreeSWITCH's order; takes the next sequence number."""
        ident = self.identity
        now = self.clock.time()
        local, gmt = self._dates(now)
        self._sequence += 1
        headers: list[tuple[str, HeaderValue]] = [
            ("Event-Name", name),
            ("Core-UUID", ident.core_uuid),
            ("FreeSWITCH-Hostname", ident.hostname),
            ("FreeSWITCH-Switchname", ident.switchname),
            ("FreeSWITCH-IPv4", ident.ipv4),
        ]
        if ident.ipv6:
            headers.append(("FreeSWITCH-IPv6", ident.ipv6))
        headers += [
            ("Event-Date-Local", local),
            ("Event-Date-GMT", gmt),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))),
            ("Event-Calling-File", calling_file),
            ("Event-Calling-Function", calling_function),
            ("Event-Calling-Line-Number", str(calling_line)),
            ("Event-Sequence", str(self._sequence)),
        ]
        return headers

    def create(
        self,
        name: str,
        *,
        subclass: str | None = None,
        calling_file: str = "switch_event.c",
        calling_function: str = "switch_event_fire_detailed",
        calling_line: int = 0,
        headers: Iterable[tuple[str, HeaderValue]] = (),
        body: str | None = None,
    ) -> Event:
        """A new event: the standard headers, then ``headers``, then the body."""
        event = Event(
            name, self.standard_headers(name, calling_file, calling_function, calling_line), body, subclass
        )
        if subclass:
            event.headers.append(("Event-Subclass", subclass))
        for key, value in headers:
            event.add(key, value)
        return event

    # -- delivering --------------------------------------------------------------------------

    def fire(self, event: Event) -> None:
        """Deliver ``event`` to every listener, in firing order even when fired re-entrantly."""
        self._pending.append(event)
        if self._firing:
            return
        self._firing = True
        try:
            pending = self._pending
            while pending:
                current = pending.popleft()
                self.fired += 1
                for listener in tuple(self._listeners):
                    try:
                        listener(current)
                    except Exception:  # one broken listener must not starve the others
                        log.exception("event listener failed on %s", current.name)
        finally:
            self._firing = False
