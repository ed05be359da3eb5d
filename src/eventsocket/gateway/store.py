"""The gateway's JetStream objects: the event stream and the call-ownership bucket.

* Stream ``ESL`` holds every node's events under ``esl.>`` (see :mod:`.subjects`). Its
  de-duplication window makes a second publication of the same event (a node
  reconnect that replays nothing, but a second gateway publishing the same node does)
  a no-op, so every gateway instance can publish every node. It is bounded by age
  and size (old events are discarded first): durable subscribers can be away for at
  most ``max_age``.
* Bucket ``esl_calls`` maps a call's uuid to the node that owns it, written from
  CHANNEL_CREATE/CHANNEL_DESTROY, so that any gateway routes ``uuid_*``, ``sendmsg`` and
  ``myevents`` for any call to the right node.

Every gateway instance calls :func:`ensure_store` at start; creating what exists is a no-op.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import BadRequestError, KeyNotFoundError, NoKeysError, NotFoundError
from nats.js.kv import KeyValue

from eventsocket.gateway.subjects import ROOT

__all__ = ["CALLS_BUCKET", "STREAM", "CallOwner", "CallRegistry", "StoreSettings", "ensure_store"]

STREAM = "ESL"
CALLS_BUCKET = "esl_calls"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Bounds of the event stream (JetStream discards the oldest events past them)."""

    max_age: float = 24 * 3600.0  # seconds a durable subscriber may be away
    max_bytes: int = 1 << 30
    duplicate_window: float = 120.0  # seconds within which a re-published event is recognised
    replicas: int = 1  # 3 on a three-server NATS cluster


async def ensure_store(js: JetStreamContext, settings: StoreSettings | None = None) -> KeyValue:
    """Create (or update to these bounds) the stream and the calls bucket; returns the bucket."""
    settings = settings or StoreSettings()
    config = StreamConfig(
        name=STREAM,
        subjects=[f"{ROOT}.>"],
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=settings.max_age,
        max_bytes=settings.max_bytes,
        duplicate_window=settings.duplicate_window,
        num_replicas=settings.replicas,
    )
    try:
        await js.add_stream(config)
    except BadRequestError:
        await js.update_stream(config)
    try:
        return await js.key_value(CALLS_BUCKET)
    except (NotFoundError, BadRequestError):
        pass
    with contextlib.suppress(BadRequestError):  # another gateway created it meanwhile
        return await js.create_key_value(
            KeyValueConfig(bucket=CALLS_BUCKET, history=1, storage=StorageType.FILE,
                           replicas=settings.replicas)
        )
    return await js.key_value(CALLS_BUCKET)


@dataclass(frozen=True, slots=True)
class CallOwner:
    """Where a call lives: the node's name and the Core-UUID of the switch run that made it."""

    node: str
    core_uuid: str

    def encode(self) -> bytes:
        return json.dumps({"node": self.node, "core": self.core_uuid}).encode()

    @staticmethod
    def decode(data: bytes) -> CallOwner | None:
        try:
            value = json.loads(data)
            return CallOwner(str(value["node"]), str(value.get("core", "")))
        except (ValueError, KeyError, TypeError):
            return None


def _key(uuid: str) -> str | None:
    """Call uuids are used as keys as they are; anything a key cannot hold is not a call uuid."""
    if not uuid or len(uuid) > 256:
        return None
    if any(not (ch.isalnum() or ch in "-_=") for ch in uuid):
        return None
    return uuid


class CallRegistry:
    """uuid -> node, in the JetStream key-value bucket (shared by every gateway)."""

    def __init__(self, kv: KeyValue, mirror: dict[str, str] | None = None) -> None:
        self.kv = kv
        # a gateway's local copy (uuid -> node), updated at once by its own writes
        self.mirror: dict[str, str] = mirror if mirror is not None else {}

    async def owner(self, uuid: str) -> CallOwner | None:
        key = _key(uuid)
        if key is None:
            return None
        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        return CallOwner.decode(entry.value or b"")

    async def created(self, uuid: str, owner: CallOwner) -> None:
        key = _key(uuid)
        if key is not None:
            self.mirror[key] = owner.node
            await self.kv.put(key, owner.encode())

    async def destroyed(self, uuid: str) -> None:
        key = _key(uuid)
        if key is not None:
            self.mirror.pop(key, None)
            with contextlib.suppress(KeyNotFoundError):
                await self.kv.delete(key)

    async def calls_of(self, node: str) -> dict[str, CallOwner]:
        """Every call the bucket gives to ``node`` (a full scan: used when reconciling a node)."""
        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return {}
        found: dict[str, CallOwner] = {}
        for key in keys:
            try:
                entry = await self.kv.get(key)
            except KeyNotFoundError:
                continue
            owner = CallOwner.decode(entry.value or b"")
            if owner is not None and owner.node == node:
                found[key] = owner
        return found

    async def forget_node(self, node: str, keep: set[str] | None = None) -> int:
        """Delete the calls of ``node`` except those in ``keep`` (the node's live calls); how many."""
        gone = 0
        for uuid in await self.calls_of(node):
            if keep is None or uuid not in keep:
                await self.destroyed(uuid)
                gone += 1
        return gone
