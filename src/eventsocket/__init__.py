"""eventsocket: FreeSWITCH's event socket in Python (server, switch core, clients, console)."""

__version__ = "0.1.0"

from eventsocket import sync
from eventsocket.client import OutboundServer, connect

__all__ = ["OutboundServer", "__version__", "connect", "sync"]
