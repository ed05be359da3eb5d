"""The client's events: the protocol layer's one :class:`~eventsocket.protocol.events.Event`.

Received events are decoded only as far as they are read (see
:mod:`eventsocket.protocol.events`); the server builds and serializes the same class, so
what a client reads is what the server wrote.
"""

from __future__ import annotations

from eventsocket.protocol.events import Event, EventFormat
from eventsocket.protocol.urlcode import url_decode as percent_decode

__all__ = ["Event", "EventFormat", "percent_decode"]
