"""ESL clients: asyncio and blocking inbound clients, and an outbound-mode application server.

* :func:`connect` -> :class:`InboundConnection` (asyncio);
* :mod:`eventsocket.client.sync` -> the blocking client (``sync.connect``);
* :class:`OutboundServer` hands each call to ``async def handler(call: OutboundCall)``.

See ``docs/client.md``.
"""

from eventsocket.client import sync
from eventsocket.client.connection import BackgroundJob, BaseConnection
from eventsocket.client.errors import (
    AuthenticationError,
    CommandError,
    ConnectionLostError,
    DisconnectedError,
    ESLError,
    InvalidArgumentError,
    QueueOverflowError,
    RequestTimeoutError,
    RudeRejectionError,
)
from eventsocket.client.events import Event, EventFormat
from eventsocket.client.inbound import InboundConnection, ReconnectPolicy, connect
from eventsocket.client.outbound import OutboundCall, OutboundServer
from eventsocket.client.queues import BoundedQueue, OverflowPolicy
from eventsocket.client.results import ApiResponse, CommandReply, LogLine

__all__ = [
    "ApiResponse",
    "AuthenticationError",
    "BackgroundJob",
    "BaseConnection",
    "BoundedQueue",
    "CommandError",
    "CommandReply",
    "ConnectionLostError",
    "DisconnectedError",
    "ESLError",
    "Event",
    "EventFormat",
    "InboundConnection",
    "InvalidArgumentError",
    "LogLine",
    "OutboundCall",
    "OutboundServer",
    "OverflowPolicy",
    "QueueOverflowError",
    "ReconnectPolicy",
    "RequestTimeoutError",
    "RudeRejectionError",
    "connect",
    "sync",
]
