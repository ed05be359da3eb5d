"""What a ``userauth`` user may do: the ``esl-allowed-*`` directory params (PROTOCOL.md §2.3)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eventsocket.protocol.compat import switch_true
from eventsocket.protocol.eventlist import ALL, EVENT_NAMES, parse_event_list, split_allowed_list

# Commands whose argument is itself a command line, so the next word is checked too.
SNEAKY_COMMANDS = frozenset({"bgapi", "sched_api", "eval", "expand", "xml_wrap"})


@dataclass(slots=True)
class Permissions:
    """Restrictions of one authenticated user; ``None`` sets mean "not restricted"."""

    events: set[str] | None = None
    subclasses: set[str] = field(default_factory=set)
    api: set[str] | None = None
    log: bool = True

    @classmethod
    def from_params(cls, params: dict[str, str]) -> Permissions:
        perms = cls()
        allowed_events = params.get("esl-allowed-events")
        if allowed_events:
            perms.events = set()
            for key in parse_event_list(split_allowed_list(allowed_events)):
                if key.subclass is not None:
                    perms.subclasses.add(key.subclass)
                elif key.name == ALL:
                    perms.events.update(EVENT_NAMES)
                else:
                    perms.events.add(key.name)
        allowed_api = params.get("esl-allowed-api")
        if allowed_api:
            perms.api = set(split_allowed_list(allowed_api))
        if "esl-allowed-log" in params:
            perms.log = switch_true(params["esl-allowed-log"])
        return perms

    def event_allowed(self, name: str) -> bool:
        return self.events is None or name in self.events

    def subclass_allowed(self, subclass: str) -> bool:
        return self.events is None or ALL in self.events or subclass in self.subclasses

    def api_allowed(self, line: str) -> bool:
        """Check the first word, and the next one after each sneaky command (no loops: words run out)."""
        if self.api is None:
            return True
        rest = line
        while True:
            word, _, rest = rest.partition(" ")
            if word not in self.api:
                return False
            if word not in SNEAKY_COMMANDS:
                return True
            if not rest:
                return True
