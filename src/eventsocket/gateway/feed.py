"""One listener's events out of the stream: a JetStream consumer with subject filters.

A listener (a gateway client connection) gets its own push consumer whose
``filter_subjects`` come from its event set (:func:`.subjects.filter_subjects`), so NATS
sends only the types it asked for. The feed remembers the stream sequence of the last
event it handed over (``last_seq``); whenever the consumer has to be made again (the
selection changed, NATS restarted, a gap was seen, a durable subscription resumed on
another gateway) the new one starts right after it, and anything at or before it is
skipped. That is what makes delivery ordered, without loss and without duplicates
across every one of those events.

Plain listeners get an ephemeral consumer (delivery starts with the events stored
after it was made, as a FreeSWITCH listener starts with the events fired after its
``event`` command; NATS removes it when its gateway is gone). A durable listener
(``resume <name>``) gets a durable consumer of that name: it survives the client and
the gateway; its acknowledgement floor is where the next connection with that name
resumes, on any gateway; each event it delivers carries ``Gateway-Stream-Sequence``,
which a client may give back (``resume <name> <seq>``) to resume exactly after the last
event it really received.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from eventsocket.gateway.store import STREAM
from eventsocket.protocol.events import Event, parse_plain

__all__ = ["SEQUENCE_HEADER", "EventCache", "Feed", "ack_position", "durable_name_ok"]

log = logging.getLogger("eventsocket.gateway.feed")

SEQUENCE_HEADER = "Gateway-Stream-Sequence"
# a durable listener's events are acknowledged this long after they were handed to its
# connection, by then written to the client's socket (acknowledging at once could
# acknowledge an event still queued in a gateway that dies the next moment)
ACK_DELAY = 0.2
# bounds of what NATS pushes ahead of a durable listener's acknowledgements
_DURABLE_MAX_PENDING = 20_000


def ack_position(reply: str) -> tuple[int, int, int] | None:
    """(stream sequence, consumer sequence, pending) from a JetStream message's reply subject.

    ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``, or the newer form
    with a domain and an account hash after ``$JS.ACK``. Read here rather than through the
    client's ``Msg.metadata``, which also converts the timestamp: this runs for every event
    and every listener.
    """
    if not reply or not reply.startswith("$JS.ACK."):
        return None
    tokens = reply.split(".")
    try:
        if len(tokens) == 9:
            return int(tokens[5]), int(tokens[6]), int(tokens[8])
        if len(tokens) >= 11:
            return int(tokens[7]), int(tokens[8]), int(tokens[10])
    except ValueError:
        return None
    return None


class EventCache:
    """Events parsed once per gateway: every listener's consumer receives the same stored
    message, and they share one :class:`Event` (so its serializations are shared too)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._events: OrderedDict[int, Event | None] = OrderedDict()
        self.parsed = 0

    def __call__(self, seq: int, data: bytes) -> Event | None:
        events = self._events
        if seq in events:
            return events[seq]
        try:
            event: Event | None = parse_plain(data)
        except Exception:
            event = None
        self.parsed += 1
        events[seq] = event
        if len(events) > self.size:
            events.popitem(last=False)
        return event


def durable_name_ok(name: str) -> bool:
    """Consumer names: letters, digits, ``-`` and ``_`` (NATS forbids ``.``, ``*``, ``>``, spaces)."""
    return 0 < len(name) <= 200 and all(ch.isalnum() or ch in "-_" for ch in name)


class Feed:
    """The JetStream consumer behind one listener."""

    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        deliver: Callable[[Event], None],
        *,
        durable: str | None = None,
        durable_inactive: float = 24 * 3600.0,
        parse: Callable[[int, bytes], Event | None] | None = None,
    ) -> None:
        self.nc = nc
        self.js = js
        self.deliver = deliver
        # shared by the feeds of one gateway; events handed to ``deliver`` are read-only
        self.parse = parse or EventCache(64)
        self.durable = durable
        self.durable_inactive = durable_inactive
        self.subjects: list[str] = []
        self.last_seq = 0  # stream sequence of the last event handed over (0: none yet)
        self.started = False
        self.delivered = 0
        self.skipped = 0
        self.recreated = 0
        self._sub: Subscription | None = None
        self._generation = 0  # which subscription is the current one (older ones may still deliver)
        self._consumer: str | None = None
        self._cseq = 0  # consumer sequence of the last message, to notice gaps
        self._unacked: deque[tuple[float, str]] = deque()  # (handed over at, reply subject)
        self._ack_timer: asyncio.TimerHandle | None = None
        self._acking: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self._closed = False
        self._repair: asyncio.Task[None] | None = None

    @property
    def active(self) -> bool:
        """A consumer is delivering (or would, as soon as there are events)."""
        return self._sub is not None

    # -- consumer lifecycle ------------------------------------------------------------------

    async def resume(self, after: int | None = None) -> None:
        """Before the first ``update``: start where the durable consumer stands (its ack
        floor) or, with ``after``, right after that stream sequence."""
        if self.durable is None:
            return
        if after is not None:
            self.last_seq = after
            self.started = True
            return
        try:
            info = await self.js.consumer_info(STREAM, self.durable)
        except NotFoundError:
            return
        floor = info.ack_floor.stream_seq if info.ack_floor is not None else 0
        if not floor and info.config.opt_start_seq:
            floor = info.config.opt_start_seq - 1
        self.last_seq = floor
        self.started = True
        if not self.subjects and info.config.filter_subjects:
            self.subjects = list(info.config.filter_subjects)

    async def update(self, subjects: list[str]) -> None:
        """Make the consumer carry exactly ``subjects`` (none: no consumer at all)."""
        async with self._lock:
            if self._closed:
                return
            if subjects == self.subjects and self._sub is not None:
                return
            self.subjects = subjects
            await self._recreate()

    async def _recreate(self) -> None:
        await self._drop_subscription()
        if not self.subjects:
            return
        inbox = self.nc.new_inbox()
        self._generation += 1
        self._sub = await self.nc.subscribe(
            inbox,
            cb=functools.partial(self._on_msg, self._generation),
            pending_msgs_limit=65536,
            pending_bytes_limit=256 * 1024 * 1024,
        )
        self._cseq = 0
        config = ConsumerConfig(
            deliver_subject=inbox,
            filter_subjects=self.subjects if len(self.subjects) > 1 else None,
            filter_subject=self.subjects[0] if len(self.subjects) == 1 else None,
            ack_policy=AckPolicy.ALL if self.durable else AckPolicy.NONE,
        )
        if self.started:
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = self.last_seq + 1
        else:
            config.deliver_policy = DeliverPolicy.NEW
        if self.durable:
            config.durable_name = self.durable
            config.ack_wait = 3600.0  # never redelivered behind our back: gaps are repaired here
            config.max_ack_pending = _DURABLE_MAX_PENDING
            config.inactive_threshold = self.durable_inactive
            with contextlib.suppress(NotFoundError):
                await self.js.delete_consumer(STREAM, self.durable)
        else:
            config.inactive_threshold = 30.0
            config.mem_storage = True
        info = await self.js.add_consumer(STREAM, config)
        self._consumer = info.name
        if not self.started:
            # from now on the position is ours: the next consumer starts after what we delivered
            self.last_seq = info.delivered.stream_seq if info.delivered is not None else 0
            self.started = True
        self.recreated += 1

    async def _drop_subscription(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        await self._flush_ack()
        # what is not due yet belongs to this consumer: an acknowledgement must never reach
        # the next one of the same (durable) name, whose sequences start afresh
        self._unacked.clear()
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        consumer, self._consumer = self._consumer, None
        if consumer is not None and self.durable is None:
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(STREAM, consumer)

    async def close(self, delete_durable: bool = False) -> None:
        """Stop; a durable consumer stays (its name resumes later) unless ``delete_durable``."""
        async with self._lock:
            self._closed = True
            await self._drop_subscription()
            if delete_durable and self.durable:
                with contextlib.suppress(Exception):
                    await self.js.delete_consumer(STREAM, self.durable)
        if self._repair is not None:
            self._repair.cancel()

    def restart(self) -> None:
        """NATS came back: make the consumer again from our own position."""
        if self._closed or not self.subjects:
            return
        self._schedule_repair()

    def _schedule_repair(self) -> None:
        if self._repair is None or self._repair.done():
            self._repair = asyncio.ensure_future(self._do_repair())

    async def _do_repair(self) -> None:
        delay = 0.1
        while not self._closed:
            try:
                async with self._lock:
                    if self._closed:
                        return
                    await self._recreate()
                return
            except Exception as exc:
                log.debug("recreating consumer failed: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- delivery ----------------------------------------------------------------------------

    async def _on_msg(self, generation: int, msg: Msg) -> None:
        if self._closed or generation != self._generation:
            return
        position = ack_position(msg.reply)
        if position is None:  # a status message (idle heartbeat, flow control): nothing to deliver
            return
        seq, cseq, _pending = position
        if self._cseq and cseq != self._cseq + 1:
            # the client library dropped messages (slow consumer): start again after the last one
            log.warning("consumer gap (%d after %d): repairing", cseq, self._cseq)
            self._schedule_repair()
            return
        self._cseq = cseq
        if seq <= self.last_seq:
            self.skipped += 1
            return
        event = self.parse(seq, msg.data)
        self.last_seq = seq
        if event is None:
            log.warning("dropping an event that does not parse (stream sequence %d)", seq)
            return
        if self.durable:
            event = event.copy()
            event.headers.append((SEQUENCE_HEADER, str(seq)))
        self.delivered += 1
        self.deliver(event)
        if self.durable and msg.reply:
            self._unacked.append((time.monotonic(), msg.reply))
            if self._ack_timer is None:
                self._ack_timer = asyncio.get_running_loop().call_later(ACK_DELAY, self._ack_due)

    def _ack_due(self) -> None:
        self._ack_timer = None
        if self._closed:
            return
        task = asyncio.ensure_future(self._flush_ack())
        self._acking.add(task)
        task.add_done_callback(self._acking.discard)
        if self._unacked:
            self._ack_timer = asyncio.get_running_loop().call_later(ACK_DELAY / 2, self._ack_due)

    async def _flush_ack(self) -> None:
        """Acknowledge (AckPolicy.ALL: up to it) the newest event handed over ACK_DELAY ago."""
        unacked = self._unacked
        due = time.monotonic() - ACK_DELAY
        reply: str | None = None
        while unacked and unacked[0][0] <= due:
            reply = unacked.popleft()[1]
        if reply is not None:
            with contextlib.suppress(Exception):
                await self.nc.publish(reply, b"+ACK")
