"""One switch node behind the gateway: its event socket connection, events out, commands in.

Each node is reached with the project's own client (``eventsocket.client``), subscribed
to ``event plain ALL``: every event it fires is handed to the :class:`Publisher` with
its subject (``esl.<node>.<name>[.<subclass>]``) and its de-duplication id (Core-UUID +
Event-Sequence). The payload is the node's own plain serialization, so a gateway client
sees the node's headers (FreeSWITCH-Hostname, Core-UUID, ...) as the node wrote them.

The connection is kept up by a loop of this module (not the client's own reconnect),
because every new connection is a moment to reconcile: the calls the bucket still
gives to this node but the node no longer has (it restarted, or they ended while the
gateway was away) are forgotten. A node that stays unreachable for longer than
``forget_after`` seconds loses its calls in the bucket the same way: they are gone.

API commands go to the node as ``bgapi`` with a Job-UUID of the gateway's own
(``gateway-api-...``), so that a long command (``originate``) never holds the one
connection other commands share; those jobs' BACKGROUND_JOB events are the gateway's
business and are not published.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid as uuidlib
from dataclasses import dataclass

import orjson

from eventsocket.client import InboundConnection
from eventsocket.client import connect as esl_connect
from eventsocket.client.errors import AuthenticationError, ESLError, RudeRejectionError
from eventsocket.client.events import Event as ClientEvent
from eventsocket.gateway.publisher import Outgoing, Publisher
from eventsocket.gateway.store import CallOwner, CallRegistry
from eventsocket.gateway.subjects import check_node_name, event_subject, message_id

__all__ = ["INTERNAL_JOB_PREFIX", "NodeAddress", "NodeUnavailable", "UpstreamNode"]

log = logging.getLogger("eventsocket.gateway.upstream")

INTERNAL_JOB_PREFIX = "gateway-api-"


class NodeUnavailable(ConnectionError):
    """The node is not connected (down, or reconnecting)."""


@dataclass(frozen=True, slots=True)
class NodeAddress:
    """``NAME=HOST:PORT:PASSWORD`` as given to ``--upstream``."""

    name: str
    host: str
    port: int
    password: str

    @staticmethod
    def parse(text: str) -> NodeAddress:
        name, eq, rest = text.partition("=")
        if not eq:
            raise ValueError(f"upstream {text!r}: expected NAME=HOST:PORT:PASSWORD")
        if rest.startswith("["):  # [v6 address]:port:password
            host, _, rest = rest[1:].partition("]")
            rest = rest.removeprefix(":")
        else:
            host, _, rest = rest.partition(":")
        port_text, _, password = rest.partition(":")
        try:
            port = int(port_text)
        except ValueError:
            raise ValueError(f"upstream {text!r}: bad port {port_text!r}") from None
        if not host or not 0 < port < 65536:
            raise ValueError(f"upstream {text!r}: expected NAME=HOST:PORT:PASSWORD")
        return NodeAddress(check_node_name(name), host, port, password or "ClueCon")


class UpstreamNode:
    """The gateway's connection to one node."""

    def __init__(
        self,
        address: NodeAddress,
        publisher: Publisher,
        registry: CallRegistry | None,
        *,
        forget_after: float = 30.0,
        api_timeout: float = 60.0,
        retry_delay: float = 0.2,
        max_retry_delay: float = 5.0,
    ) -> None:
        self.address = address
        self.name = address.name
        self.publisher = publisher
        self.registry = registry
        self.forget_after = forget_after
        self.api_timeout = api_timeout
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self.conn: InboundConnection | None = None
        self.core_uuid = ""
        self.connections = 0
        self.events = 0
        self.down_since: float | None = time.monotonic()
        self._up = asyncio.Event()
        self._jobs: dict[str, asyncio.Future[str]] = {}
        self._task: asyncio.Task[None] | None = None
        self._forget_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<UpstreamNode {self.name} {self.address.host}:{self.address.port} up={self.up}>"

    @property
    def up(self) -> bool:
        conn = self.conn
        return conn is not None and conn.connected

    async def wait_up(self, timeout: float | None = None) -> bool:
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        for task in (self._task, self._forget_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._forget_task = None
        conn, self.conn = self.conn, None
        if conn is not None:
            await conn.close()
        self._fail_jobs(NodeUnavailable(f"node {self.name} stopped"))

    async def _run(self) -> None:
        delay = self.retry_delay
        while True:
            try:
                conn = await esl_connect(
                    self.address.host,
                    self.address.port,
                    self.address.password,
                    connect_timeout=5.0,
                    timeout=self.api_timeout,
                    queue_size=1,  # events are taken by the handler below, not queued
                )
            except (AuthenticationError, RudeRejectionError) as exc:
                log.error("node %s refuses the gateway: %s", self.name, exc)
                delay = self.max_retry_delay
                await asyncio.sleep(delay)
                continue
            except (ESLError, OSError) as exc:
                log.debug("node %s unreachable: %s", self.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry_delay)
                continue
            delay = self.retry_delay
            conn.on("*", self._on_event)
            try:
                await conn.subscribe("ALL", format="plain")
                core = await conn.api("global_getvar", "core_uuid")
                self.core_uuid = core.text.strip()
            except (ESLError, OSError) as exc:
                log.warning("node %s: setting up the connection failed: %s", self.name, exc)
                await conn.close()
                continue
            self.conn = conn
            self.connections += 1
            self.down_since = None
            if self._forget_task is not None:
                self._forget_task.cancel()
                self._forget_task = None
            self._up.set()
            log.info("node %s connected (%s:%s, core %s)", self.name, self.address.host,
                     self.address.port, self.core_uuid)
            reconcile = asyncio.ensure_future(self._reconcile())
            await conn.wait_closed()
            reconcile.cancel()
            self._up.clear()
            self.conn = None
            self.down_since = time.monotonic()
            log.warning("node %s disconnected", self.name)
            self._fail_jobs(NodeUnavailable(f"node {self.name} disconnected"))
            self._forget_task = asyncio.ensure_future(self._forget_later())

    async def _forget_later(self) -> None:
        """After the reconnect window, the node's calls are gone."""
        await asyncio.sleep(self.forget_after)
        if self.registry is not None and not self.up:
            gone = await self.registry.forget_node(self.name)
            log.warning("node %s away for %ss: %d calls marked gone", self.name, self.forget_after, gone)

    async def _reconcile(self) -> None:
        """Forget the calls the bucket gives to this node that the node does not have."""
        if self.registry is None:
            return
        try:
            live = await self.live_calls()
            gone = await self.registry.forget_node(self.name, keep=live)
            if gone:
                log.info("node %s: %d calls it no longer has were forgotten", self.name, gone)
        except Exception as exc:
            log.warning("node %s: reconciling calls failed: %s", self.name, exc)

    async def live_calls(self) -> set[str]:
        """The uuids of the node's channels (``show channels as json``)."""
        text = await self.api("show", "channels as json")
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            return set()
        rows = data.get("rows") if isinstance(data, dict) else None
        return {str(row.get("uuid")) for row in rows or [] if isinstance(row, dict) and row.get("uuid")}

    # -- events ------------------------------------------------------------------------------

    def _on_event(self, event: ClientEvent) -> None:
        name = event.name
        if name == "BACKGROUND_JOB":
            job_uuid = event.get("Job-UUID") or ""
            if job_uuid.startswith(INTERNAL_JOB_PREFIX):
                future = self._jobs.pop(job_uuid, None)
                if future is not None and not future.done():
                    future.set_result(event.body or "")
                return
        core = event.get("Core-UUID") or self.core_uuid
        sequence = event.get("Event-Sequence")
        if sequence is None:  # no sequence, no de-duplication: an id of its own
            sequence = "x" + uuidlib.uuid4().hex
        item = Outgoing(event_subject(self.name, name, event.subclass), message_id(core, sequence),
                        event.payload)
        if name == "CHANNEL_CREATE":
            item.created = uuid = event.get("Unique-ID")
            item.owner = CallOwner(self.name, core)
            if uuid and self.registry is not None:
                # known to this gateway at once: a client told of the call by an api reply
                # (originate) may address it before the event has gone through the stream
                self.registry.mirror[uuid] = self.name
        elif name == "CHANNEL_DESTROY":
            item.destroyed = event.get("Unique-ID")
        self.events += 1
        self.publisher.put(item)

    # -- commands ----------------------------------------------------------------------------

    def _connection(self) -> InboundConnection:
        conn = self.conn
        if conn is None or not conn.connected:
            raise NodeUnavailable(f"node {self.name} is not connected")
        return conn

    async def api(self, command: str, args: str = "") -> str:
        """Run an API command on the node (as a background job there) and return its output."""
        conn = self._connection()
        job_uuid = INTERNAL_JOB_PREFIX + str(uuidlib.uuid4())
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._jobs[job_uuid] = future
        line = f"bgapi {command} {args}" if args else f"bgapi {command}"
        try:
            reply = await conn.send(line, [("Job-UUID", job_uuid)])
            if not reply.text.startswith("+OK"):
                self._jobs.pop(job_uuid, None)
                return reply.text + "\n"
            return await asyncio.wait_for(future, self.api_timeout)
        finally:
            self._jobs.pop(job_uuid, None)

    async def sendmsg(self, uuid: str, headers: list[tuple[str, str]], body: str | None) -> str:
        """``sendmsg <uuid>`` on the node; the node's reply text."""
        conn = self._connection()
        line = f"sendmsg {uuid}"
        reply = await conn.send(line, headers, body)
        return reply.text

    async def command(self, line: str, headers: list[tuple[str, str]] | None = None,
                      body: str | None = None) -> str:
        """Any command; the reply text (``sendevent``)."""
        reply = await self._connection().send(line, headers, body)
        return reply.text

    def _fail_jobs(self, error: Exception) -> None:
        jobs, self._jobs = self._jobs, {}
        for future in jobs.values():
            if not future.done():
                future.set_exception(error)
