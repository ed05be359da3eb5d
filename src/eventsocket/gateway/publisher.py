"""Publishing node events to the JetStream stream: in order, acknowledged, de-duplicated.

Events wait in one bounded queue and are published in batches with ``publish_async``
(one round trip per batch, not per event); a batch whose acknowledgements do not all
come back (NATS restarting, a timeout) is published again from its first
unacknowledged event. Every message carries ``Nats-Msg-Id`` = Core-UUID:Event-Sequence,
so the events that had been stored before the failure are recognised as duplicates and
not stored twice.

The call-ownership bucket is written around the events that change it: a
CHANNEL_CREATE's owner is recorded *before* the event is published (a client that sees
the event can route a command to the call at once), a CHANNEL_DESTROY's entry is
removed after it.

Order: a batch is pipelined, so if one of its events is not stored (a JetStream error
while the connection stays up) but a later one is, the retry stores the first after the
second; publishing stops as soon as the connection is seen down, which keeps the order
across the usual failure, a NATS restart.

While NATS is unreachable the queue absorbs up to ``max_queued`` events; beyond that new
events are dropped and counted (``dropped``), never unbounded memory. (The newest, not the
oldest: the oldest may be in a batch on its way, and the stream keeps its order.)
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import PubAck

from eventsocket.gateway.store import CallOwner, CallRegistry

__all__ = ["Outgoing", "Publisher"]

log = logging.getLogger("eventsocket.gateway.publisher")


@dataclass(slots=True)
class Outgoing:
    """One event on its way to the stream."""

    subject: str
    msg_id: str
    payload: bytes
    created: str | None = None  # CHANNEL_CREATE: the call uuid whose owner to record first
    destroyed: str | None = None  # CHANNEL_DESTROY: the call uuid to forget afterwards
    owner: CallOwner | None = None


class Publisher:
    """The one task that moves queued events into JetStream."""

    def __init__(
        self,
        js: JetStreamContext,
        registry: CallRegistry | None,
        *,
        max_queued: int = 100_000,
        batch: int = 256,
        ack_timeout: float = 5.0,
        connected: Callable[[], bool] | None = None,
    ) -> None:
        self.js = js
        self.registry = registry
        self.max_queued = max_queued
        self.batch = batch
        self.ack_timeout = ack_timeout
        self.connected = connected  # whether the NATS connection is up (None: assume it is)
        self._queue: deque[Outgoing] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        self.duplicates = 0
        self.dropped = 0
        self.retries = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def put(self, item: Outgoing) -> None:
        """Queue an event (never blocks; past the bound the event is dropped and counted)."""
        queue = self._queue
        if len(queue) >= self.max_queued:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.warning("NATS is not keeping up: %d events dropped", self.dropped)
            return
        queue.append(item)
        self._idle.clear()
        self._wakeup.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def drained(self) -> None:
        """Wait until every queued event is stored (tests, shutdown)."""
        await self._idle.wait()

    async def _run(self) -> None:
        queue = self._queue
        while True:
            if not queue:
                self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = [queue[i] for i in range(min(self.batch, len(queue)))]
            done, failed = await self._publish_batch(batch)
            for _ in range(done):
                queue.popleft()
            if failed:
                self.retries += 1
                await asyncio.sleep(0.25)  # NATS is away: wait a little, then the rest again

    async def _publish_batch(self, batch: list[Outgoing]) -> tuple[int, bool]:
        """Publish ``batch`` (or its start) in order: how many from its start are stored (or
        were already), and whether something failed (else the rest simply waits its turn)."""
        registry = self.registry
        futures: list[asyncio.Future[PubAck]] = []
        failed = False
        sent: list[Outgoing] = []
        try:
            for item in batch:
                if self.connected is not None and not self.connected():
                    # what is written while NATS is away would be sent after the reconnect,
                    # behind the events lost in flight: stop, and send them again in order
                    failed = True
                    break
                if item.created is not None and registry is not None and item.owner is not None:
                    if futures:  # the events before it first, then the owner, then it
                        break
                    await asyncio.wait_for(registry.created(item.created, item.owner), self.ack_timeout)
                future = await self.js.publish_async(
                    item.subject,
                    item.payload,
                    headers={"Nats-Msg-Id": item.msg_id},  # every delivery carries it: one header only
                )
                futures.append(future)
                sent.append(item)
                if item.created is not None:
                    break  # the next events wait for this one's owner record
        except Exception as exc:  # NATS down: what was sent is checked below
            log.debug("publish interrupted: %s", exc)
            failed = True
        stored = 0
        if futures:
            results = await asyncio.gather(
                *(asyncio.wait_for(f, self.ack_timeout) for f in futures), return_exceptions=True
            )
            for item, result in zip(sent, results, strict=True):
                if isinstance(result, BaseException):
                    log.debug("publish of %s not acknowledged: %r", item.msg_id, result)
                    failed = True
                    break
                stored += 1
                if result.duplicate:
                    self.duplicates += 1
                else:
                    self.published += 1
                if item.destroyed is not None and registry is not None:
                    try:
                        await asyncio.wait_for(registry.destroyed(item.destroyed), self.ack_timeout)
                    except Exception as exc:
                        log.debug("forgetting call %s failed: %s", item.destroyed, exc)
        return stored, failed
