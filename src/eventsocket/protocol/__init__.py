"""Sans-I/O event socket protocol: framing, messages and the three event formats."""

from eventsocket.protocol.events import Event, EventFormat, EventParseError, parse_event
from eventsocket.protocol.framing import (
    ContentLengthError,
    FrameParser,
    ProtocolError,
    RequestParser,
)
from eventsocket.protocol.message import Frame, Request
from eventsocket.protocol.urlcode import url_decode, url_encode

__all__ = [
    "ContentLengthError",
    "Event",
    "EventFormat",
    "EventParseError",
    "Frame",
    "FrameParser",
    "ProtocolError",
    "Request",
    "RequestParser",
    "parse_event",
    "url_decode",
    "url_encode",
]
