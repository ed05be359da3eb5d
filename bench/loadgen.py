"""A lean load generator: plain sockets, the project's sans-I/O ``FrameParser``, no ESL client library.

Blocking sockets where one connection does one thing at a time (api round trips,
the idle-event subscriber), one ``selectors`` loop where many sockets are driven
together (parallel api, fan-out), asyncio only for opening a thousand connections.
Every request is a pre-built byte string; replies are parsed by ``FrameParser`` and
checked, so a wrong or missing answer is counted, never silently timed.
"""

from __future__ import annotations

import asyncio
import random
import selectors
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from eventsocket.protocol import Frame, FrameParser

API_ECHO = b"api echo x\n\n"


class BenchError(RuntimeError):
    """The server answered wrongly or not at all."""


class Conn:
    """One blocking, authenticated connection."""

    def __init__(self, host: str, port: int, password: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.parser = FrameParser()
        self.frames: list[Frame] = []
        first = self.recv()
        if first.content_type != "auth/request":
            raise BenchError(f"expected auth/request, got {first.headers}")
        reply = self.command(f"auth {password}")
        if not reply.reply_text.startswith("+OK"):
            raise BenchError(f"auth failed: {reply.reply_text}")

    def recv(self) -> Frame:
        while not self.frames:
            data = self.sock.recv(262144)
            if not data:
                raise BenchError("connection closed by the server")
            self.frames.extend(self.parser.feed(data))
        return self.frames.pop(0)

    def command(self, line: str, headers: str = "") -> Frame:
        self.sock.sendall(f"{line}\n{headers}\n".encode())
        return self.recv()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# -- 1. api round trips ------------------------------------------------------------------------------


def api_sequential(conn: Conn, count: int) -> float:
    """``count`` sequential ``api echo x`` round trips; returns the seconds they took."""
    sock = conn.sock
    send = sock.send
    recv = sock.recv
    feed = conn.parser.feed
    bad = 0
    start = time.perf_counter()
    for _ in range(count):
        send(API_ECHO)
        data = recv(65536)
        frames = feed(data)
        while not frames:
            if not data:
                raise BenchError("connection closed by the server")
            data = recv(65536)
            frames = feed(data)
        if frames[0].body != b"x" or len(frames) != 1:
            bad += 1
    elapsed = time.perf_counter() - start
    if bad:
        raise BenchError(f"{bad} of {count} api replies were wrong")
    return elapsed


def api_parallel(conns: list[Conn], per_conn: int) -> float:
    """Each connection does ``per_conn`` sequential round trips, all connections at once."""
    sel = selectors.DefaultSelector()
    left: dict[socket.socket, int] = {}
    parsers: dict[socket.socket, FrameParser] = {}
    for conn in conns:
        conn.sock.setblocking(False)
        sel.register(conn.sock, selectors.EVENT_READ)
        left[conn.sock] = per_conn
        parsers[conn.sock] = conn.parser
    bad = 0
    active = len(conns)
    start = time.perf_counter()
    for sock in left:
        sock.send(API_ECHO)
    while active:
        ready = sel.select(10.0)
        if not ready:
            raise BenchError("api replies stopped coming")
        for key, _ in ready:
            sock = cast(socket.socket, key.fileobj)  # only sockets are registered
            data = sock.recv(65536)
            if not data:
                raise BenchError("connection closed by the server")
            for frame in parsers[sock].feed(data):
                if frame.body != b"x":
                    bad += 1
                left[sock] -= 1
                if left[sock]:
                    sock.send(API_ECHO)
                else:
                    active -= 1
    elapsed = time.perf_counter() - start
    sel.close()
    for conn in conns:
        conn.sock.setblocking(True)
    if bad:
        raise BenchError(f"{bad} api replies were wrong")
    return elapsed


# -- 2. bgapi ---------------------------------------------------------------------------------------


@dataclass
class BgapiResult:
    jobs: int
    elapsed: float
    matched: int
    replies: int
    wrong: list[str] = field(default_factory=list)


def _header(payload: bytes, name: bytes) -> bytes | None:
    """A header's raw value in a plain event payload (the names used here never need decoding)."""
    at = payload.find(b"\n" + name + b": ")
    if at < 0:
        if not payload.startswith(name + b": "):
            return None
        at = -1
    start = at + len(name) + 3
    end = payload.find(b"\n", start)
    return payload[start:end]


def bgapi_pipelined(conn: Conn, jobs: int, window: int, stall: float = 10.0) -> BgapiResult:
    """``bgapi echo <i>`` with our own Job-UUIDs, ``window`` jobs in flight, results matched by UUID."""
    reply = conn.command("event plain BACKGROUND_JOB")
    if not reply.reply_text.startswith("+OK"):
        raise BenchError(f"event plain BACKGROUND_JOB: {reply.reply_text}")
    prefix = str(uuid.uuid4())[:24]  # 8-4-4-4- ; the last group is the job number
    expected = {f"{prefix}{i:012x}".encode(): str(i).encode() for i in range(jobs)}
    requests = [b"bgapi echo %d\nJob-UUID: %s\n\n" % (i, f"{prefix}{i:012x}".encode()) for i in range(jobs)]
    sock = conn.sock
    feed = conn.parser.feed
    sent = done = replies = matched = 0
    wrong: list[str] = []
    seen: set[bytes] = set()
    start = time.perf_counter()
    sock.settimeout(stall)
    while done < jobs or replies < jobs:
        room = min(window - (sent - done), jobs - sent)
        if room > 0:
            sock.sendall(b"".join(requests[sent:sent + room]))
            sent += room
        try:
            data = sock.recv(262144)
        except TimeoutError:
            break
        if not data:
            raise BenchError("connection closed by the server")
        for frame in feed(data):
            ctype = frame.content_type
            if ctype == "command/reply":
                replies += 1
                if not frame.reply_text.startswith("+OK Job-UUID: "):
                    wrong.append(frame.reply_text)
            elif ctype == "text/event-plain":
                payload = frame.body
                job = _header(payload, b"Job-UUID")
                body = payload.partition(b"\n\n")[2]
                want = expected.get(job or b"")
                if want is None or job is None or job in seen:
                    wrong.append(f"unexpected job {job!r}")
                    continue
                seen.add(job)
                done += 1
                if body == want:
                    matched += 1
                else:
                    wrong.append(f"job {job!r}: {body[:40]!r} != {want!r}")
    elapsed = time.perf_counter() - start
    sock.settimeout(None)
    return BgapiResult(jobs, elapsed, matched, replies, wrong)


# -- 3. idle event delay ------------------------------------------------------------------------------


def event_delay(host: str, port: int, password: str, count: int, gap: tuple[float, float],
                subclass: str = "bench::lat", seed: int = 1) -> tuple[list[float], int]:
    """Delays (ms) from ``sendevent`` to an idle subscriber's ``recv``; returns (delays, lost)."""
    sub = Conn(host, port, password)
    sender = Conn(host, port, password)
    reply = sub.command(f"event plain CUSTOM {subclass}")
    if not reply.reply_text.startswith("+OK"):
        raise BenchError(f"subscribe: {reply.reply_text}")
    delays: list[float] = []
    got = threading.Event()
    stop = threading.Event()
    errors: list[BaseException] = []

    def subscriber() -> None:
        sock = sub.sock
        sock.settimeout(0.5)
        feed = sub.parser.feed
        clock = time.perf_counter_ns
        try:
            while not stop.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                now = clock()  # stamped before any parsing
                if not data:
                    return
                for frame in feed(data):
                    sent = _header(frame.body, b"Bench-Sent-Ns")
                    if sent is not None:
                        delays.append((now - int(sent)) / 1e6)
                        got.set()
        except BaseException as exc:  # surfaced to the caller
            errors.append(exc)
            got.set()

    thread = threading.Thread(target=subscriber, name="bench-subscriber", daemon=True)
    thread.start()
    rng = random.Random(seed)
    lost = 0
    clock = time.perf_counter_ns
    try:
        for i in range(count):
            time.sleep(rng.uniform(*gap))
            got.clear()
            sender.sock.sendall(b"sendevent CUSTOM\nEvent-Subclass: %s\nBench-Seq: %d\nBench-Sent-Ns: %d\n\n"
                                % (subclass.encode(), i, clock()))
            if not sender.recv().reply_text.startswith("+OK"):
                raise BenchError("sendevent was refused")
            if not got.wait(2.0):
                lost += 1
            if errors:
                raise errors[0]
    finally:
        stop.set()
        thread.join(2.0)
        sub.close()
        sender.close()
    return delays, lost


# -- 4. fan-out ------------------------------------------------------------------------------------


@dataclass
class FanoutResult:
    events: int
    subscribers: int
    elapsed: float
    sender_elapsed: float
    received: list[int]
    last_seq: list[int]
    out_of_order: int


def fanout(host: str, port: int, password: str, subscribers: int, events: int, window: int,
           subclass: str = "bench::fan", stall: float = 10.0) -> FanoutResult:
    """One sender fires ``events`` CUSTOM events (``window`` replies outstanding) at ``subscribers``."""
    subs = [Conn(host, port, password) for _ in range(subscribers)]
    for conn in subs:
        reply = conn.command(f"event plain CUSTOM {subclass}")
        if not reply.reply_text.startswith("+OK"):
            raise BenchError(f"subscribe: {reply.reply_text}")
    sender = Conn(host, port, password)
    requests = [b"sendevent CUSTOM\nEvent-Subclass: %s\nBench-Seq: %d\n\n" % (subclass.encode(), i)
                for i in range(events)]
    sel = selectors.DefaultSelector()
    index: dict[socket.socket, int] = {}
    for n, conn in enumerate(subs):
        conn.sock.setblocking(False)
        sel.register(conn.sock, selectors.EVENT_READ)
        index[conn.sock] = n
    sender.sock.setblocking(False)
    sel.register(sender.sock, selectors.EVENT_READ)
    parsers = [c.parser for c in subs]
    received = [0] * subscribers
    last_seq = [-1] * subscribers
    out_of_order = 0
    sent = acked = 0
    sender_done_at = 0.0
    complete = 0
    start = time.perf_counter()
    last_progress = start
    while complete < subscribers:
        room = min(window - (sent - acked), events - sent)
        if room > 0:
            chunk = b"".join(requests[sent:sent + room])
            try:
                written = sender.sock.send(chunk)
            except BlockingIOError:
                written = 0
            # whole requests only; a partial write is finished right here
            if written and written < len(chunk):
                sender.sock.setblocking(True)
                sender.sock.sendall(chunk[written:])
                sender.sock.setblocking(False)
                written = len(chunk)
            if written:
                sent += room
        ready = sel.select(1.0)
        now = time.perf_counter()
        if ready:
            last_progress = now
        elif now - last_progress > stall:
            break
        for key, _ in ready:
            sock = cast(socket.socket, key.fileobj)  # only sockets are registered
            try:
                data = sock.recv(262144)
            except BlockingIOError:
                continue
            if not data:
                raise BenchError("connection closed by the server")
            if sock is sender.sock:
                for frame in sender.parser.feed(data):
                    acked += 1
                    if not frame.reply_text.startswith("+OK"):
                        raise BenchError(f"sendevent: {frame.reply_text}")
                if acked == events:
                    sender_done_at = time.perf_counter()
                continue
            n = index[sock]
            frames = parsers[n].feed(data)
            expect = last_seq[n] + 1
            for frame in frames:
                seq_raw = _header(frame.body, b"Bench-Seq")
                seq = int(seq_raw) if seq_raw is not None else -1
                if seq != expect:
                    out_of_order += 1
                expect = seq + 1
            if frames:
                received[n] += len(frames)
                last_seq[n] = expect - 1
                if received[n] >= events and last_seq[n] == events - 1:
                    complete += 1
    elapsed = time.perf_counter() - start
    sel.close()
    for conn in [*subs, sender]:
        conn.close()
    return FanoutResult(events, subscribers, elapsed, (sender_done_at or time.perf_counter()) - start,
                        received, last_seq, out_of_order)


# -- 5. many connections ------------------------------------------------------------------------------


@dataclass
class ManyResult:
    wanted: int
    authenticated: int
    api_ok: int
    connect_seconds: float
    api_seconds: float
    errors: dict[str, int]


Opened = tuple[asyncio.StreamReader, asyncio.StreamWriter, FrameParser, list[Frame]]


async def _read_frame(reader: asyncio.StreamReader, parser: FrameParser, pending: list[Frame]) -> Frame:
    while not pending:
        data = await reader.read(65536)
        if not data:
            raise BenchError("closed by the server")
        pending.extend(parser.feed(data))
    return pending.pop(0)


async def _many(host: str, port: int, password: str, count: int, timeout: float) -> ManyResult:
    """Open ``count`` connections at once; each gets ``timeout`` seconds to be authenticated."""
    errors: dict[str, int] = {}

    def fail(exc: BaseException) -> None:
        key = type(exc).__name__ + (f": {exc}" if isinstance(exc, BenchError) else "")
        errors[key] = errors.get(key, 0) + 1

    async def open_one() -> Opened | None:
        try:
            return await asyncio.wait_for(_open(), timeout)
        except Exception as exc:
            fail(exc)
            return None

    async def _open() -> Opened:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            parser, pending = FrameParser(), list[Frame]()
            first = await _read_frame(reader, parser, pending)
            if first.content_type != "auth/request":
                raise BenchError("no auth/request")
            writer.write(f"auth {password}\n\n".encode())
            reply = await _read_frame(reader, parser, pending)
            if not reply.reply_text.startswith("+OK"):
                raise BenchError("auth refused")
            return reader, writer, parser, pending
        except BaseException:
            writer.close()
            raise

    async def api_one(i: int, conn: Opened) -> bool:
        reader, writer, parser, pending = conn
        try:
            writer.write(b"api echo c%d\n\n" % i)
            frame = await asyncio.wait_for(_read_frame(reader, parser, pending), timeout)
            if frame.body != b"c%d" % i:
                raise BenchError("wrong api reply")
            return True
        except Exception as exc:
            fail(exc)
            return False

    start = time.perf_counter()
    opened = await asyncio.gather(*(open_one() for _ in range(count)))
    connect_seconds = time.perf_counter() - start
    live = [c for c in opened if c is not None]
    start = time.perf_counter()
    results = await asyncio.gather(*(api_one(i, c) for i, c in enumerate(live)))
    api_seconds = time.perf_counter() - start
    for _, writer, _, _ in live:  # every one was open at the same time until here
        writer.close()
    await asyncio.gather(*(w.wait_closed() for _, w, _, _ in live), return_exceptions=True)
    return ManyResult(count, len(live), sum(results), connect_seconds, api_seconds, errors)


def many_connections(host: str, port: int, password: str, count: int, timeout: float = 20.0) -> ManyResult:
    return asyncio.run(_many(host, port, password, count, timeout))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
