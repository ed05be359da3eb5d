"""The embedded switch core (no sockets): event bus, API commands, calls, dialplan, clock."""
