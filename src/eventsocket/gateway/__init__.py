"""``eventsocket gateway``: one event socket front for many switch nodes, on NATS JetStream.

Modules by job: :mod:`.upstream` (the connection to each node), :mod:`.publisher` (node
events into the stream, de-duplicated), :mod:`.store` (the stream and the call-owner
bucket), :mod:`.subjects` (subject names and consumer filters), :mod:`.feed` (one
listener's consumer), :mod:`.routing` (where a command goes, merged answers),
:mod:`.natsproc` (a local nats-server for tests and trials). See ``docs/gateway.md``.
"""
