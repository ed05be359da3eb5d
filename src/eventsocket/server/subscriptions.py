"""What one listener receives: event types, CUSTOM subclasses, filters, myevents.

The matching rules are FreeSWITCH's (PROTOCOL.md §4.6), checked in its order: type,
filters, then the myevents lock. This runs for every event and every listener, so
the common case (no filters, a type set) is two set lookups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eventsocket.protocol.eventlist import ALL, CUSTOM, EVENT_NAMES
from eventsocket.protocol.events import Event, EventFormat
from eventsocket.protocol.selection import delete_filters, filters_accept


@dataclass(slots=True)
class Subscriptions:
    """A listener's event selection."""

    enabled: bool = False
    format: EventFormat = "plain"
    types: set[str] = field(default_factory=set)
    subclasses: set[str] = field(default_factory=set)
    filters: list[tuple[str, str]] = field(default_factory=list)
    myevents: bool = False
    session_uuid: str | None = None

    # -- types -------------------------------------------------------------------------------

    def add_type(self, name: str) -> None:
        self.types.add(name)

    def remove_type(self, name: str) -> None:
        if name == ALL:
            self.types.clear()
            return
        if ALL in self.types:  # ALL becomes every individual type, then one is taken away
            self.types = {n for n in EVENT_NAMES if n != ALL}
        self.types.discard(name)

    def clear(self) -> None:
        self.types.clear()
        self.subclasses.clear()
        self.enabled = False

    # -- filters -----------------------------------------------------------------------------

    def add_filter(self, header: str, value: str) -> None:
        if value == "":  # an empty value deletes, as for any event header
            self.delete_filter(header)
            return
        self.filters.append((header, value))

    def delete_filter(self, header: str, value: str | None = None) -> None:
        self.filters = delete_filters(self.filters, header, value)

    def passes_filters(self, event: Event) -> bool:
        return filters_accept(self.filters, event.get)

    def wants(self, name: str) -> bool:
        """Whether an event named ``name`` may pass :meth:`accepts` (asked before it is built)."""
        return self.enabled and (name in self.types or ALL in self.types)

    # -- the whole check ---------------------------------------------------------------------

    def accepts(self, event: Event) -> bool:
        """FreeSWITCH's order: delivery on, type (and subclass), filters, myevents."""
        name = event.name
        if not self.wants(name):
            return False
        subclass = event.subclass
        if name == CUSTOM and subclass and subclass not in self.subclasses and ALL not in self.types:
            return False
        if self.filters and not self.passes_filters(event):
            return False
        if self.myevents:
            unique_id = event.get("Unique-ID")
            session = self.session_uuid
            if session is not None and event.get("Job-Owner-UUID") == session:
                return True
            if unique_id is None or (session is not None and unique_id != session):
                return False
        return True
