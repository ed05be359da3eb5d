"""One gateway instance: NATS, the stream and bucket, the nodes, and the event socket server.

Composition only: :class:`Gateway` connects to NATS (reconnecting forever), makes sure
the stream and the call bucket exist, starts the publisher and one
:class:`~.upstream.UpstreamNode` per node, keeps a local mirror of the call bucket (a
key-value watcher, restarted after a NATS reconnect), and serves the event socket
through the project's own server layer over :class:`~.backend.GatewayBackend`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import nats
from nats.aio.client import Client as NATS
from nats.js.kv import KeyValue

from eventsocket.gateway.backend import GatewayBackend
from eventsocket.gateway.durable import resume_handler
from eventsocket.gateway.publisher import Publisher
from eventsocket.gateway.routing import Placement
from eventsocket.gateway.store import CallOwner, CallRegistry, StoreSettings, ensure_store
from eventsocket.gateway.subjects import check_node_name
from eventsocket.gateway.upstream import NodeAddress, UpstreamNode
from eventsocket.server.acl import AclRegistry
from eventsocket.server.commands import Command, When
from eventsocket.server.listener import EventSocketServer
from eventsocket.server.settings import EventSocketSettings

__all__ = ["Gateway", "GatewayConfig"]

log = logging.getLogger("eventsocket.gateway")


@dataclass(slots=True)
class GatewayConfig:
    """What ``eventsocket gateway`` is given on its command line."""

    name: str
    nats_urls: list[str]
    upstreams: list[NodeAddress]
    store: StoreSettings = field(default_factory=StoreSettings)
    forget_after: float = 30.0  # seconds a node may be away before its calls are gone
    prefer: Sequence[str] = ()  # originate placement: these nodes first, when up

    def __post_init__(self) -> None:
        check_node_name(self.name)
        names = [u.name for u in self.upstreams]
        if len(set(names)) != len(names):
            raise ValueError("two upstream nodes have the same name")
        if self.name in names:
            raise ValueError(f"the gateway's name {self.name!r} is also a node's name")


class Gateway:
    """A running gateway instance."""

    def __init__(
        self,
        config: GatewayConfig,
        settings: EventSocketSettings,
        acl: AclRegistry | None = None,
        find_user: Callable[[str, str], dict[str, str] | None] | None = None,
    ) -> None:
        self.config = config
        self.settings = settings
        self.acl = acl
        self.find_user = find_user
        self.nc: NATS | None = None
        self.backend: GatewayBackend | None = None
        self.server: EventSocketServer | None = None
        self.publisher: Publisher | None = None
        self.registry: CallRegistry | None = None
        self.nodes: dict[str, UpstreamNode] = {}
        self._watcher: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return self.server.port if self.server is not None else self.settings.listen_port

    async def start(self) -> None:
        config = self.config
        delay = 0.5
        while True:  # NATS may come up after the gateway (a supervisor starts both)
            try:
                self.nc = nc = await nats.connect(
                    servers=config.nats_urls,
                    name=f"eventsocket-gateway-{config.name}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.25,
                    allow_reconnect=True,
                    connect_timeout=5,
                    reconnected_cb=self._nats_reconnected,
                    disconnected_cb=self._nats_disconnected,
                    error_cb=self._nats_error,
                )
                js = nc.jetstream()
                kv = await ensure_store(js, config.store)
                break
            except Exception as exc:
                log.warning("NATS %s: %s; retrying in %.1fs", ", ".join(config.nats_urls), exc or
                            type(exc).__name__, delay)
                if self.nc is not None:
                    with contextlib.suppress(Exception):
                        await self.nc.close()
                    self.nc = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        self.registry = registry = CallRegistry(kv)
        self.publisher = publisher = Publisher(js, registry, connected=lambda: nc.is_connected)
        publisher.start()
        self.nodes = {
            address.name: UpstreamNode(address, publisher, registry, forget_after=config.forget_after)
            for address in config.upstreams
        }
        self.backend = backend = GatewayBackend(
            config.name, nc, js, self.nodes, publisher,
            placement=Placement(config.prefer), find_user=self.find_user,
        )
        registry.mirror = backend.owners
        self._start_watcher(kv)
        for node in self.nodes.values():
            node.start()
        resume = Command("resume", "resume", resume_handler(backend), When.WITHOUT_CALL)
        self.server = EventSocketServer(backend, self.settings, self.acl, extra_commands=[resume])
        await self.server.start()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self._watcher is not None:
            self._watcher.cancel()
        for node in self.nodes.values():
            await node.stop()
        if self.publisher is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.publisher.drained(), 2.0)
            await self.publisher.stop()
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()

    # -- the call bucket's mirror ------------------------------------------------------------

    def _start_watcher(self, kv: KeyValue) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        self._watcher = asyncio.ensure_future(self._watch(kv))

    async def _watch(self, kv: KeyValue) -> None:
        assert self.backend is not None
        owners = self.backend.owners
        while True:
            try:
                watcher = await kv.watchall()
                async for entry in watcher:
                    if entry is None:
                        continue
                    if entry.operation in ("DEL", "PURGE"):
                        owners.pop(entry.key, None)
                        continue
                    owner = CallOwner.decode(entry.value or b"")
                    if owner is not None:
                        owners[entry.key] = owner.node
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("call bucket watcher: %s; restarting", exc)
            await asyncio.sleep(0.5)

    # -- NATS connection events --------------------------------------------------------------

    async def _nats_reconnected(self) -> None:
        log.warning("NATS reconnected")
        if self.registry is not None:
            self._start_watcher(self.registry.kv)
        if self.backend is not None:
            self.backend.nats_reconnected()

    async def _nats_disconnected(self) -> None:
        log.warning("NATS disconnected")

    async def _nats_error(self, exc: Exception) -> None:
        log.debug("NATS: %s", exc)
