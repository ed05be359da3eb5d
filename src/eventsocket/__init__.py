"""eventsocket: FreeSWITCH's event socket in Python (server, switch core, clients, console)."""

__version__ = "0.1.0"
