"""ESL clients: asyncio and blocking inbound clients, and an outbound-mode application server."""
