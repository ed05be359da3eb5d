"""Calls through the event socket: calls per second, and many calls held at once.

Calls per second: one connection drives the calls (``api originate null/<n> &park`` then
``api uuid_kill <uuid>``), ``--concurrency`` connections do so in parallel, and one
more connection subscribes to every channel event (``event plain CHANNEL_CREATE ...
CHANNEL_DESTROY``, CODEC and CALL_UPDATE included) and counts them, so the figure includes
event fan-out. A call counts as done when its CHANNEL_DESTROY reached the subscriber.

Concurrent calls: ``--hold`` parked calls are originated and kept; then ``api show channels
count`` is timed while they exist, and the server's resident memory per call is reported.

    python bench/calls.py [--calls 2000] [--concurrency 4] [--hold 10000] [--quick]

``bench/run.py`` runs both as its ``calls`` and ``held`` figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from eventsocket.protocol.framing import FrameParser
from eventsocket.protocol.message import Frame

CHANNEL_EVENTS = (
    "CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP "
    "CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_PARK CHANNEL_UNPARK "
    "CHANNEL_ORIGINATE CHANNEL_OUTGOING CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA "
    "CHANNEL_BRIDGE CHANNEL_UNBRIDGE CODEC CALL_UPDATE CHANNEL_HOLD CHANNEL_UNHOLD"
)
CALLS_TARGET = 1_000
SHOW_COUNT_TARGET_MS = 50.0


class Wire:
    """A lean asyncio ESL connection using the project's sans-I/O frame parser."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = FrameParser()
        self.frames: list[Frame] = []

    @classmethod
    async def open(cls, port: int) -> Wire:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        wire = cls(reader, writer)
        await wire.recv()
        await wire.ask("auth ClueCon")
        return wire

    async def recv(self) -> Frame:
        while not self.frames:
            chunk = await self.reader.read(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.frames.extend(self.parser.feed(chunk))
        return self.frames.pop(0)

    async def ask(self, line: str) -> Frame:
        self.writer.write(line.encode() + b"\n\n")
        while True:
            frame = await self.recv()
            if frame.content_type in ("command/reply", "api/response"):
                return frame


async def drive(port: int, calls: int, first: int) -> None:
    wire = await Wire.open(port)
    for n in range(calls):
        reply = await wire.ask(f"api originate null/{first + n} &park")
        text = reply.text
        if not text.startswith("+OK "):
            raise RuntimeError(f"originate failed: {text!r}")
        kill = await wire.ask(f"api uuid_kill {text[4:].strip()}")
        if kill.text != "+OK\n":
            raise RuntimeError(f"uuid_kill failed: {kill.text!r}")
    wire.writer.close()


async def measure(port: int, calls: int, concurrency: int) -> tuple[float, int, int]:
    watcher = await Wire.open(port)
    await watcher.ask(f"event plain {CHANNEL_EVENTS}")
    destroyed = 0
    seen = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal destroyed, seen
        while destroyed < calls:
            frame = await watcher.recv()
            if frame.content_type != "text/event-plain":
                continue
            seen += 1
            if frame.body.startswith(b"Event-Name: CHANNEL_DESTROY\n"):
                destroyed += 1
        done.set()

    watch_task = asyncio.create_task(watch())
    per = calls // concurrency
    started = time.perf_counter()
    await asyncio.gather(*(drive(port, per, 1000 + i * per) for i in range(concurrency)))
    await asyncio.wait_for(done.wait(), 120)
    elapsed = time.perf_counter() - started
    watch_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watch_task
    return elapsed, destroyed, seen


@dataclass(frozen=True)
class Held:
    """What holding many parked calls cost: how many, how long ``show channels count`` took, memory."""

    wanted: int
    reported: int
    originate_seconds: float
    count_ms: list[float]
    rss_before: int
    rss_after: int


async def _originate_parked(port: int, calls: int, first: int) -> None:
    wire = await Wire.open(port)
    for n in range(calls):
        reply = await wire.ask(f"api originate null/{first + n} &park")
        if not reply.text.startswith("+OK "):
            raise RuntimeError(f"originate failed: {reply.text!r}")
    wire.writer.close()


async def hold(port: int, pid: int | None, calls: int, concurrency: int = 4, samples: int = 20) -> Held:
    """Originate ``calls`` parked calls, time ``show channels count`` while they exist, hang them up."""
    rss_before = rss_bytes(pid) if pid else 0
    per = max(1, calls // concurrency)
    started = time.perf_counter()
    await asyncio.gather(*(_originate_parked(port, per, 500_000 + i * per) for i in range(concurrency)))
    originate_seconds = time.perf_counter() - started
    rss_after = rss_bytes(pid) if pid else 0
    wire = await Wire.open(port)
    timings: list[float] = []
    reported = -1
    for _ in range(samples):
        began = time.perf_counter()
        reply = await wire.ask("api show channels count")
        timings.append((time.perf_counter() - began) * 1000)
        text = reply.text.strip()
        reported = int(text.split()[0]) if text.split() and text.split()[0].isdigit() else -1
    await wire.ask("api hupall")
    while True:  # wait until the switch has let every call go
        reply = await wire.ask("api show channels count")
        if reply.text.strip().startswith("0 "):
            break
        await asyncio.sleep(0.05)
    wire.writer.close()
    return Held(per * concurrency, reported, originate_seconds, timings, rss_before, rss_after)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process from /proc (0 where /proc is missing)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def calls_line(calls: int, destroyed: int, seen: int, elapsed: float, concurrency: int) -> str:
    rate = destroyed / elapsed
    complete = destroyed == calls
    return (f"calls/s: {rate:,.0f} ({destroyed:,}/{calls:,} calls completed: originate null + park + "
            f"uuid_kill on {concurrency} driving connections; 1 subscriber to every channel event received "
            f"{seen:,} events, {seen / max(destroyed, 1):.1f} per call, {seen / elapsed:,.0f} events/s; "
            f"target >= {CALLS_TARGET:,}/s: {'met' if rate >= CALLS_TARGET and complete else 'NOT met'})")


def held_line(held: Held) -> str:
    ordered = sorted(held.count_ms)
    p50 = ordered[len(ordered) // 2]
    worst = ordered[-1]
    per_call = (held.rss_after - held.rss_before) / max(held.wanted, 1)
    memory = (f"server RSS {held.rss_before / 2**20:,.0f} -> {held.rss_after / 2**20:,.0f} MiB, "
              f"{per_call / 1024:,.1f} KiB per call" if held.rss_after else "server RSS n/a")
    ok = held.reported == held.wanted and worst < SHOW_COUNT_TARGET_MS
    return (f"concurrent calls: {held.wanted:,} parked calls held "
            f"(originated in {held.originate_seconds:.1f} s, "
            f"`show channels count` reports {held.reported:,}); `show channels count` p50 {p50:.1f} ms, "
            f"max {worst:.1f} ms over {len(ordered)} asks, target < {SHOW_COUNT_TARGET_MS:.0f} ms: "
            f"{'met' if ok else 'NOT met'}; {memory}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--hold", type=int, default=10_000, help="parked calls held at once (0: skip)")
    parser.add_argument("--quick", action="store_true", help="a few calls, to check the benchmark runs")
    args = parser.parse_args()
    calls = 40 if args.quick else args.calls
    held_calls = 40 if args.quick else args.hold
    concurrency = max(1, min(args.concurrency, calls))
    calls -= calls % concurrency
    port = free_port()
    serve = (os.environ.get("BENCH_SERVE") or shutil.which("eventsocket")
             or f"{sys.executable} -m eventsocket.cli.main")
    server = subprocess.Popen(
        f"exec {serve} serve --listen-ip 127.0.0.1 --listen-port {port} --heartbeat 0 --log-level warning",
        shell=True, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        elapsed, destroyed, seen = asyncio.run(measure(port, calls, concurrency))
        held = asyncio.run(hold(port, server.pid, held_calls)) if held_calls else None
    finally:
        os.killpg(server.pid, 15)
        server.wait(10)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(calls_line(calls, destroyed, seen, elapsed, concurrency))
    if held is not None:
        print(held_line(held))
    return 0 if destroyed == calls and (held is None or held.reported == held.wanted) else 1


if __name__ == "__main__":
    sys.exit(main())
