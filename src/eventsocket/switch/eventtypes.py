"""FreeSWITCH's event type names, for the switch's modules.

The table and the name lookup live with the event-list grammar in
:mod:`eventsocket.protocol.eventlist`, which both ends of the socket use; this module
keeps the switch's imports short.
"""

from __future__ import annotations

from eventsocket.protocol.eventlist import ALL, CUSTOM, EVENT_NAMES, EVENT_NUMBERS, lookup_event_name

__all__ = ["ALL", "CUSTOM", "EVENT_NAMES", "EVENT_NUMBERS", "lookup_event_name"]
