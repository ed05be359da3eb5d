"""Reliability figures: a client that never reads, and new clients under call load (issue 11).

``python bench/reliability.py`` starts ``eventsocket serve`` (bench/serverproc.py) and prints:

1. **flood**: one client pipelines 100,000 ``api show api`` (about 300 MB of replies) and
   never reads. Meanwhile the server's RSS is sampled every 20 ms and a second client sends
   ``api status`` every 10 ms. Printed: the RSS before and at most during the flood, and the
   second client's round-trip p50/p99/max. Targets: RSS stays under a stated bound (the
   server holds about a write buffer and one turn of replies for the flooder), status p99
   under 50 ms.
2. **greeting**: 200 connections run ``originate null/1000 &park`` / ``uuid_kill`` cycles
   (a load generator in its own process) while a new client connects every 50 ms and waits
   for ``auth/request``. Printed: greeting latency p50/p99/max and the cycles per second.
   Target: p99 under 100 ms.

The exit status is 0 when every check passed (status answered right every time, every new
client greeted, the load ran); it does not depend on the figures. ``--quick`` uses small
counts; ``--loop asyncio`` hides uvloop from the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serverproc import ServerProcess, machine_line

from eventsocket.protocol import Frame, FrameParser

GREETING = b"Content-Type: auth/request\n\n"
#: the flood figure's stated RSS bound over the server's RSS before the flood
RSS_BOUND_MB = 64


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def login(port: int, password: str = "ClueCon", rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.connect(("127.0.0.1", port))
    read_frames(sock, FrameParser(), 1)
    sock.sendall(f"auth {password}\n\n".encode())
    (reply,) = read_frames(sock, FrameParser(), 1)
    if reply.reply_text != "+OK accepted":
        raise RuntimeError(f"auth failed: {reply.reply_text}")
    return sock


def read_frames(sock: socket.socket, parser: FrameParser, count: int) -> list[Frame]:
    frames: list[Frame] = []
    while len(frames) < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        frames.extend(parser.feed(chunk))
    return frames


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


# -- 1. a client that never reads ----------------------------------------------------------------


def flood_figure(server: ServerProcess, requests: int, seconds: float) -> tuple[str, bool]:
    base = rss_mb(server.pid)
    flood = login(server.port, rcvbuf=8192)
    packet = b"api show api\n\n"
    sent = [0]

    def pipeline() -> None:
        try:
            for start in range(0, requests, 1000):
                n = min(1000, requests - start)
                flood.sendall(packet * n)
                sent[0] += n
        except OSError:
            pass

    sender = threading.Thread(target=pipeline, daemon=True)
    sender.start()
    most = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            most[0] = max(most[0], rss_mb(server.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    probe = login(server.port)
    parser = FrameParser()
    latencies: list[float] = []
    ok = True
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        probe.sendall(b"api status\n\n")
        (frame,) = read_frames(probe, parser, 1)
        latencies.append((time.perf_counter() - start) * 1000)
        ok = ok and frame.content_type == "api/response" and frame.body.startswith(b"UP ")
        time.sleep(0.01)
    stop.set()
    sampler.join()
    growth = most[0] - base
    flood.close()
    probe.close()
    p99 = percentile(latencies, 0.99)
    line = (
        f"flood: one client pipelining {requests:,} `api show api` without reading ({sent[0]:,} "
        f"written into the socket): server RSS {base:.0f} MB before, at most {most[0]:.0f} MB "
        f"during (+{growth:.0f} MB; bound +{RSS_BOUND_MB} MB: "
        f"{'met' if growth <= RSS_BOUND_MB else 'NOT met'}); "
        f"another client's `api status` over {seconds:.0f} s: p50 {statistics.median(latencies):.2f} ms, "
        f"p99 {p99:.2f} ms, max {max(latencies):.2f} ms ({len(latencies)} round trips, all answered right: "
        f"{'yes' if ok else 'NO'}; target p99 < 50 ms: {'met' if p99 < 50 else 'NOT met'})"
    )
    return line, ok


# -- 2. new clients while 200 connections originate and kill --------------------------------------


async def _cycles(port: int, connections: int, seconds: float) -> int:
    """The load: each connection runs originate/kill cycles until the time is up; returns cycles done."""
    done = 0
    stop_at = time.perf_counter() + seconds

    async def one() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        parser = FrameParser()

        async def frame() -> object:
            while True:
                frames = parser.feed(b"")
                if frames:
                    return frames[0]
                chunk = await reader.read(65536)
                if not chunk:
                    raise ConnectionError("closed")
                got = parser.feed(chunk)
                if got:
                    pending.extend(got[1:])
                    return got[0]

        pending: list[object] = []

        async def next_frame() -> object:
            if pending:
                return pending.pop(0)
            return await frame()

        await next_frame()
        writer.write(b"auth ClueCon\n\n")
        await next_frame()
        while time.perf_counter() < stop_at:
            writer.write(b"api originate null/1000 &park\n\n")
            reply = await next_frame()
            body = getattr(reply, "body", b"")
            if not body.startswith(b"+OK "):
                raise RuntimeError(f"originate: {body[:100]!r}")
            writer.write(b"api uuid_kill " + body[4:].strip() + b"\n\n")
            await next_frame()
            done += 1
        writer.close()

    await asyncio.gather(*(one() for _ in range(connections)))
    return done


def load_main(port: int, connections: int, seconds: float) -> None:
    cycles = asyncio.run(_cycles(port, connections, seconds))
    print(cycles, flush=True)


def greeting_figure(server: ServerProcess, connections: int, seconds: float) -> tuple[str, bool]:
    load = subprocess.Popen(
        [sys.executable, __file__, "--load", str(server.port), str(connections), str(seconds)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(min(2.0, seconds / 4))  # let the load build up
    latencies: list[float] = []
    ok = True
    deadline = time.perf_counter() + seconds - min(2.0, seconds / 4) - 0.5
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        sock = socket.create_connection(("127.0.0.1", server.port))
        data = b""
        while len(data) < len(GREETING):
            chunk = sock.recv(256)
            if not chunk:
                break
            data += chunk
        latencies.append((time.perf_counter() - start) * 1000)
        ok = ok and data == GREETING
        sock.close()
        time.sleep(0.05)
    out, _ = load.communicate(timeout=seconds + 60)
    cycles = int(out.strip() or 0)
    ok = ok and load.returncode == 0 and cycles > 0
    p99 = percentile(latencies, 0.99)
    line = (
        f"greeting under load: {connections} connections running originate/kill cycles "
        f"({cycles / seconds:,.0f} cycles/s); a new client every 50 ms waited for its greeting "
        f"p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, max {max(latencies):.2f} ms "
        f"({len(latencies)} clients, all greeted: {'yes' if ok else 'NO'}; target p99 < 100 ms: "
        f"{'met' if p99 < 100 else 'NOT met'})"
    )
    return line, ok


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--load":
        load_main(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        return 0
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small counts: checks the bench works")
    parser.add_argument("--loop", choices=("default", "asyncio"), default="default")
    parser.add_argument("--only", default="flood,greeting")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(machine_line())
    server = ServerProcess(loop=args.loop)
    server.start()
    print(f"server: `eventsocket serve` (pid {server.pid}), event loop: {server.loop_name}")
    ok = True
    try:
        if "flood" in only:
            line, good = flood_figure(server, 2_000 if args.quick else 100_000, 1.0 if args.quick else 5.0)
            print(line, flush=True)
            ok = ok and good
        if "greeting" in only:
            line, good = greeting_figure(server, 20 if args.quick else 200, 3.0 if args.quick else 12.0)
            print(line, flush=True)
            ok = ok and good
    finally:
        status = server.stop()
        problems = server.log_problems()
        print(f"server stopped with SIGTERM: exit status {status}; "
              f"{len(problems)} warning/error lines in its log")
        server.cleanup()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
