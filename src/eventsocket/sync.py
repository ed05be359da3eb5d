"""The blocking client as ``eventsocket.sync``: ``eventsocket.sync.connect(...)`` for scripts and the REPL.

The implementation lives in :mod:`eventsocket.client.sync`; this module gives it the
short name the documentation uses, for ``import eventsocket.sync`` as well as
``from eventsocket import sync``.
"""

from eventsocket.client.sync import SyncConnection, SyncJob, connect

__all__ = ["SyncConnection", "SyncJob", "connect"]
