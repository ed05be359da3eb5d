"""Calls per second through the event socket: originate to null with &park, then uuid_kill.

One connection drives the calls (``api originate null/<n> &park`` then
``api uuid_kill <uuid>``), ``--concurrency`` connections do so in parallel, and one
more connection subscribes to every channel event (``event plain CHANNEL_CREATE ...
CHANNEL_DESTROY``) and counts them, so the figure includes event fan-out. A call
counts as done when its CHANNEL_DESTROY reached the subscriber.

    python bench/calls.py [--calls 2000] [--concurrency 4] [--quick]
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

from eventsocket.protocol.framing import FrameParser
from eventsocket.protocol.message import Frame

CHANNEL_EVENTS = (
    "CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP "
    "CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_PARK CHANNEL_UNPARK "
    "CHANNEL_ORIGINATE CHANNEL_OUTGOING CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA "
    "CHANNEL_BRIDGE CHANNEL_UNBRIDGE"
)


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="a few calls, to check the benchmark runs")
    args = parser.parse_args()
    calls = 40 if args.quick else args.calls
    concurrency = max(1, min(args.concurrency, calls))
    calls -= calls % concurrency
    port = free_port()
    serve = (os.environ.get("BENCH_SERVE") or shutil.which("eventsocket")
             or f"{sys.executable} -m eventsocket.cli.main")
    server = subprocess.Popen(
        f"{serve} serve --listen-ip 127.0.0.1 --listen-port {port} --heartbeat 0 --log-level warning",
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
    finally:
        os.killpg(server.pid, 15)
        server.wait(10)
    print(f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"calls: {destroyed}/{calls} completed (originate null + park + uuid_kill), "
          f"{concurrency} driving connections, 1 subscriber to all channel events")
    print(f"calls per second: {destroyed / elapsed:,.0f} ({seen:,} channel events delivered, "
          f"{seen / elapsed:,.0f} events/s to the subscriber)")
    return 0 if destroyed == calls else 1


if __name__ == "__main__":
    sys.exit(main())
