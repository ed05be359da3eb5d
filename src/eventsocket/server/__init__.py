"""mod_event_socket over asyncio: listener, connections, commands, subscriptions, ACL, settings."""
