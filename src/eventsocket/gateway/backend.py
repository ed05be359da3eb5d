"""The gateway as the event socket server's switch: ``SwitchBackend`` over NATS and the nodes.

The server layer (``eventsocket.server``) talks to a switch through the narrow
``SwitchBackend`` protocol. Here that switch is many nodes:

* API commands are routed (:mod:`.routing`): a call's command to the node that owns the
  call, ``originate`` to the node the placement picks, ``show``/``status`` to every
  node with the answers merged;
* each connection's events come from its own JetStream consumer (:class:`GatewayFeed`),
  narrowed to the types it selected (and to the call's node after ``myevents <uuid>``);
* events the server itself fires (``sendevent``, the BACKGROUND_JOB of a ``bgapi``) are
  published to the stream under the gateway's own name, so they reach a client on any
  gateway instance, durable ones included;
* call ownership is read from a local mirror of the key-value bucket (the protocol's call
  methods answer at once), refreshed by a watcher and by this gateway's own writes.

What a remote call cannot offer is said where it happens (see ``GatewayCall``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from eventsocket.gateway.feed import EventCache, Feed
from eventsocket.gateway.publisher import Outgoing, Publisher
from eventsocket.gateway.routing import Placement, merge_show, merge_status, route_api
from eventsocket.gateway.subjects import event_subject, filter_subjects, message_id
from eventsocket.gateway.upstream import NodeUnavailable, UpstreamNode
from eventsocket.protocol.events import Event, HeaderValue
from eventsocket.protocol.message import Request
from eventsocket.server.backend import (
    ApiOutcome,
    ControlledCall,
    EventListener,
    EventSelection,
    LogListener,
    LogRecord,
    OutboundConnector,
    SwitchBackend,
)
from eventsocket.switch.bus import EventBus
from eventsocket.switch.clock import Clock
from eventsocket.switch.identity import SwitchIdentity
from eventsocket.switch.log import LogLine

__all__ = ["GatewayBackend", "GatewayCall", "GatewayFeed", "SharedFeed"]

log = logging.getLogger("eventsocket.gateway")

UserLookup = Callable[[str, str], "dict[str, str] | None"]


class SharedFeed:
    """One consumer for every plain (not durable) listener of a gateway with the same filters.

    Listeners that select the same event types (the common case: ``event plain ALL``,
    or the same list) share one JetStream consumer, so NATS sends each event once per
    gateway, not once per connection; the events are still selected by type in NATS.
    """

    def __init__(self, backend: GatewayBackend, subjects: tuple[str, ...]) -> None:
        self.backend = backend
        self.subjects = subjects
        self.members: list[GatewayFeed] = []
        self.feed = Feed(backend.nc, backend.js, self._deliver, parse=backend.events)
        self.ready: asyncio.Future[None] = asyncio.ensure_future(self.feed.update(list(subjects)))
        self.ready.add_done_callback(self._created)

    def _created(self, future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("consumer for %s not created: %s", self.subjects, future.exception())
            self.feed.restart()  # retried until NATS takes it

    def _deliver(self, event: Event) -> None:
        for member in list(self.members):
            member.deliver(event)

    async def wait_ready(self) -> None:
        """Until the consumer exists (a failure is repaired by the feed itself, not reported)."""
        with contextlib.suppress(Exception):
            await asyncio.shield(self.ready)

    def close(self) -> None:
        self.backend.background(asyncio.ensure_future(self.feed.close()))


class GatewayFeed:
    """One connection's events: a shared consumer for its filters, or its own durable one."""

    def __init__(self, backend: GatewayBackend, listener: EventListener) -> None:
        self.backend = backend
        self.listener = listener
        self.selection: EventSelection | None = None
        self.shared: SharedFeed | None = None
        # the connection's own consumer, used once ``resume <name>`` made it durable
        self.feed = Feed(backend.nc, backend.js, self.deliver, durable=None, parse=backend.events)
        backend.feeds.add(self)

    @property
    def listening(self) -> bool:
        return self.shared is not None or self.feed.started

    def use_durable(self, name: str) -> None:
        """``resume <name>``: this connection's consumer is the durable one of that name."""
        self.feed.durable = name

    async def resume(self, after: int | None) -> None:
        await self.feed.resume(after)

    def update(self, selection: EventSelection) -> Awaitable[None] | None:
        self.selection = selection
        subjects: list[str] = []
        if selection.enabled:
            node: str | None = None
            if selection.myevents and selection.session_uuid:
                node = self.backend.owner_of(selection.session_uuid)
            subjects = filter_subjects(selection.types, selection.subclasses, node)
        if self.feed.durable is not None:
            if subjects == self.feed.subjects and (self.feed.active or not subjects):
                return None
            return self.feed.update(subjects)
        key = tuple(subjects)
        if self.shared is not None and self.shared.subjects == key:
            return None
        self.backend.leave(self)
        if not key:
            return None
        self.shared = self.backend.join(self, key)
        return self.shared.wait_ready()

    def close(self) -> None:
        self.backend.feeds.discard(self)
        self.backend.leave(self)
        if self.feed.started or self.feed.durable is not None:
            self.backend.background(asyncio.ensure_future(self.feed.close()))

    def deliver(self, event: Event) -> None:
        self.listener(event)
        if event.name == "CHANNEL_HANGUP_COMPLETE":
            selection = self.selection
            uuid = event.get("Unique-ID")
            if uuid and selection is not None and selection.session_uuid == uuid:
                self.backend.call_ended(uuid)


class GatewayCall:
    """A call on some node, held by one gateway connection (``myevents <uuid>``).

    ``attach`` follows the call: ``on_hangup_complete`` runs when the connection's feed
    delivers the call's CHANNEL_HANGUP_COMPLETE. A remote call cannot be locked (the
    node does not know the gateway's client), its variables are not readable at once
    (``getvar`` answers that there is none) and events cannot be diverted to it.
    Messages (``sendmsg``) go to the owning node.
    """

    def __init__(self, backend: GatewayBackend, uuid: str, node: str) -> None:
        self.backend = backend
        self._uuid = uuid
        self.node = node
        self._on_hangup: Callable[[], None] | None = None
        self._ready = True

    @property
    def uuid(self) -> str:
        return self._uuid

    @property
    def channel_name(self) -> str:
        return ""

    @property
    def ready(self) -> bool:
        return self._ready and self.backend.owner_of(self._uuid) is not None

    def attach(self, on_hangup_complete: Callable[[], None]) -> None:
        self._on_hangup = on_hangup_complete
        self.backend.controls.setdefault(self._uuid, []).append(self)

    def release(self) -> None:
        held = self.backend.controls.get(self._uuid)
        if held is not None and self in held:
            held.remove(self)
            if not held:
                del self.backend.controls[self._uuid]
        self._on_hangup = None

    def hangup_complete(self) -> None:
        self._ready = False
        callback = self._on_hangup
        if callback is not None:
            callback()

    def wake(self) -> None:
        """Nothing waits on this side."""

    def get_variable(self, name: str) -> str | None:
        return None

    def set_variable(self, name: str, value: str | None) -> None:
        if name == "socket_resume":
            return  # meaningful to a local socket application only
        self.backend.send_to_node(self.node, f"api uuid_setvar {self._uuid} {name} {value or ''}".rstrip())

    def queue_message(self, request: Request) -> None:
        self.backend.queue_message(self._uuid, request)

    def run_message(self, request: Request) -> Awaitable[None]:
        return self.backend.forward_sendmsg(self.node, self._uuid, request)

    def divert_events(self, listener: EventListener | None) -> None:
        """Not available through a gateway (the node's session queue is not reachable)."""

    def channel_data(self) -> Sequence[tuple[str, HeaderValue]]:
        return ()


class GatewayBackend:
    """``SwitchBackend`` for the server layer, over NATS JetStream and the upstream nodes."""

    def __init__(
        self,
        name: str,
        nc: NATS,
        js: JetStreamContext,
        nodes: dict[str, UpstreamNode],
        publisher: Publisher,
        *,
        placement: Placement | None = None,
        find_user: UserLookup | None = None,
        identity: SwitchIdentity | None = None,
    ) -> None:
        self.name = name
        self.nc = nc
        self.js = js
        self.nodes = nodes
        self.publisher = publisher
        self.placement = placement or Placement()
        self._find_user = find_user
        self.identity = identity or SwitchIdentity()
        self.bus = EventBus(self.identity, Clock())
        self.owners: dict[str, str] = {}  # mirror of the calls bucket: uuid -> node
        self.feeds: set[GatewayFeed] = set()
        self.shared: dict[tuple[str, ...], SharedFeed] = {}
        self.events = EventCache()
        self.controls: dict[str, list[GatewayCall]] = {}
        self._log_listeners: list[LogListener] = []
        self._tasks: set[asyncio.Task[object]] = set()

    # -- bookkeeping -------------------------------------------------------------------------

    def background(self, task: asyncio.Future[object] | asyncio.Task[object]) -> None:
        if isinstance(task, asyncio.Task):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def owner_of(self, uuid: str) -> str | None:
        return self.owners.get(uuid)

    def call_ended(self, uuid: str) -> None:
        for call in list(self.controls.get(uuid, ())):
            call.hangup_complete()

    def up_nodes(self) -> list[str]:
        return [name for name, node in self.nodes.items() if node.up]

    def nats_reconnected(self) -> None:
        for shared in list(self.shared.values()):
            shared.feed.restart()
        for feed in list(self.feeds):
            if feed.feed.durable is not None:
                feed.feed.restart()

    # -- API ---------------------------------------------------------------------------------

    def call_api(self, command: str, args: str = "", session_uuid: str | None = None) -> ApiOutcome:
        return self._api(command.strip(), args.strip())

    async def _api(self, command: str, args: str) -> str | None:
        route = route_api(command, args)
        try:
            if route.kind == "call":
                node = self.owner_of(route.uuid or "") or await self._find_owner(route.uuid)
                return await self._on(node, command, args)
            if route.kind == "originate":
                chosen = self.placement.choose(args, self.up_nodes())
                return await self._on(chosen, command, args)
            if route.kind in ("merge_show", "merge_status", "every"):
                outputs = await self._everywhere(command, args)
                if route.kind == "merge_show":
                    return merge_show(outputs)
                if route.kind == "merge_status":
                    return merge_status(outputs)
                return outputs[0] if outputs else "-ERR no node available\n"
            return await self._on(None, command, args)
        except NodeUnavailable as exc:
            return f"-ERR {exc}\n"

    async def _on(self, node: str | None, command: str, args: str) -> str:
        """Run on ``node`` (None: the first node that is up)."""
        if node is None:
            up = self.up_nodes()
            if not up:
                raise NodeUnavailable("no node available")
            node = up[0]
        upstream = self.nodes.get(node)
        if upstream is None:
            raise NodeUnavailable(f"no such node {node}")
        return await upstream.api(command, args)

    async def _everywhere(self, command: str, args: str) -> list[str]:
        up = [self.nodes[name] for name in self.up_nodes()]
        results = await asyncio.gather(*(node.api(command, args) for node in up), return_exceptions=True)
        return [r for r in results if isinstance(r, str)]

    async def _find_owner(self, uuid: str | None) -> str | None:
        """A call the mirror does not know (yet): the bucket, else the node that says it has it."""
        if not uuid:
            return None
        up = self.up_nodes()
        answers = await asyncio.gather(*(self.nodes[n].api("uuid_exists", uuid) for n in up),
                                       return_exceptions=True)
        for name, answer in zip(up, answers, strict=True):
            if isinstance(answer, str) and answer.strip() == "true":
                self.owners[uuid] = name
                return name
        return None

    # -- events ------------------------------------------------------------------------------

    def open_event_feed(self, listener: EventListener) -> GatewayFeed:
        return GatewayFeed(self, listener)

    def join(self, feed: GatewayFeed, subjects: tuple[str, ...]) -> SharedFeed:
        shared = self.shared.get(subjects)
        if shared is None:
            shared = self.shared[subjects] = SharedFeed(self, subjects)
        shared.members.append(feed)
        return shared

    def leave(self, feed: GatewayFeed) -> None:
        shared, feed.shared = feed.shared, None
        if shared is None:
            return
        if feed in shared.members:
            shared.members.remove(feed)
        if not shared.members and self.shared.get(shared.subjects) is shared:
            del self.shared[shared.subjects]
            shared.close()

    def feed_for(self, listener: EventListener) -> GatewayFeed | None:
        """The feed opened for ``listener`` (a connection's bound ``on_event``)."""
        for feed in self.feeds:
            if feed.listener == listener:
                return feed
        return None

    def fire_event(self, event: Event) -> None:
        """Events of the gateway itself go through the stream too, under the gateway's name."""
        sequence = event.get("Event-Sequence") or str(time.monotonic_ns())
        core = event.get("Core-UUID") or self.identity.core_uuid
        self.publisher.put(
            Outgoing(event_subject(self.name, event.name, event.subclass), message_id(core, sequence),
                     event.serialize("plain"))
        )

    def fire_new_event(self, build: Callable[[], Event], name: str | None = None) -> None:
        self.fire_event(build())

    def standard_headers(
        self, name: str, calling_file: str, calling_function: str, calling_line: int
    ) -> list[tuple[str, HeaderValue]]:
        return self.bus.standard_headers(name, calling_file, calling_function, calling_line)

    # -- log ---------------------------------------------------------------------------------

    def add_log_listener(self, listener: LogListener) -> None:
        if listener not in self._log_listeners:
            self._log_listeners.append(listener)

    def remove_log_listener(self, listener: LogListener) -> None:
        if listener in self._log_listeners:
            self._log_listeners.remove(listener)

    def log(self, level: int, message: str, *, file: str = "mod_event_socket.c",
            function: str = "", line: int = 0) -> None:
        py_level = logging.ERROR if level <= 3 else logging.WARNING if level == 4 else logging.INFO
        log.log(py_level, "%s", message)
        if not self._log_listeners:
            return
        record: LogRecord = LogLine(level, message, file, function, line, 0, "", time.time(), 0.0)
        for listener in list(self._log_listeners):
            listener(record)

    # -- directory ---------------------------------------------------------------------------

    def find_user(self, user: str, domain: str) -> dict[str, str] | None:
        return self._find_user(user, domain) if self._find_user is not None else None

    # -- calls -------------------------------------------------------------------------------

    def queue_message(self, uuid: str, request: Request) -> bool:
        node = self.owner_of(uuid)
        if node is None:
            return False
        self.background(asyncio.ensure_future(self.forward_sendmsg(node, uuid, request)))
        return True

    async def forward_sendmsg(self, node: str, uuid: str, request: Request) -> None:
        upstream = self.nodes.get(node)
        if upstream is None:
            return
        headers = [(k, v) for k, v in request.headers if k.lower() != "content-length"]
        try:
            reply = await upstream.sendmsg(uuid, headers, request.body or None)
        except Exception as exc:
            log.warning("sendmsg %s on node %s failed: %s", uuid, node, exc)
            return
        if not reply.startswith("+OK"):
            log.info("sendmsg %s on node %s: %s", uuid, node, reply)

    def send_to_node(self, node: str, line: str) -> None:
        upstream = self.nodes.get(node)
        if upstream is not None and line.startswith("api "):
            command, _, args = line[4:].partition(" ")
            self.background(asyncio.ensure_future(upstream.api(command, args)))

    def deliver_session_event(self, uuid: str, event: Event) -> bool:
        node = self.owner_of(uuid)
        upstream = self.nodes.get(node) if node else None
        if upstream is None:
            return False
        headers = [(k, v) for k, v in event.items() if k not in ("Command", "Event-UUID")]
        line = f"sendevent {event.name}"
        self.background(asyncio.ensure_future(upstream.command(line, headers, event.body)))
        return True

    def control_call(self, uuid: str) -> ControlledCall | None:
        node = self.owner_of(uuid)
        if node is None:
            return None
        return GatewayCall(self, uuid, node)

    def set_outbound_connector(self, connector: OutboundConnector | None) -> None:
        """Outbound sockets go from the nodes to the application directly, not through here."""


if TYPE_CHECKING:

    def _is_a_switch_backend(backend: GatewayBackend) -> SwitchBackend:
        return backend  # mypy checks that the gateway implements the whole protocol
