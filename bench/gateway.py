"""Events through ``eventsocket gateway`` against the same clients connected straight to the nodes.

    python bench/gateway.py [--clients 32] [--rate 100] [--seconds 10] [--burst 2000] [--quick]

Starts a JetStream nats-server, three ``eventsocket serve`` nodes and two gateways (all
subprocesses on free loopback ports), then measures, for the same ``--clients``
subscribers of ``event plain CUSTOM bench::gw``:

* **direct**: every client opens one connection to each of the three nodes (what a
  client that wants every node's events does without a gateway);
* **gateway**: every client opens one connection, half of them to each gateway.

Two figures each: at a steady ``--rate`` events/s per node for ``--seconds``, the delay
from the ``sendevent`` on the node to the client's receipt (p50, p99, max; the sender and
the receivers are in this process, on ``time.perf_counter_ns``), and a burst of
``--burst`` events per node fired as fast as the nodes take them: deliveries/s until
every client has every event. Every event is checked to arrive once per client.

The bench process (all clients) shares the machine's cores with everything it
measures: its CPU use is printed, and so is the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from eventsocket.client import Event, InboundConnection
from eventsocket.client import connect as esl_connect
from eventsocket.gateway.natsproc import NatsServer, free_port

SUBCLASS = "bench::gw"
SRC = str(Path(__file__).resolve().parents[1] / "src")


def spawn(args: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    out = open(log, "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen([sys.executable, "-m", "eventsocket.cli.main", *args], stdout=out,
                            stderr=subprocess.STDOUT, env=env)
    out.close()
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{args[0]} exited; see {log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{args[0]} did not listen on {port}")


class Subscriber:
    """One client: its connections (one per source), the delays it saw, the events it counted."""

    def __init__(self) -> None:
        self.conns: list[InboundConnection] = []
        self.delays: list[int] = []
        self.seen: dict[tuple[str, str], int] = {}
        self.received = 0
        self.recording = False

    def on_event(self, event: Event) -> None:
        now = time.perf_counter_ns()
        get = event.get
        self.received += 1
        key = (get("Core-UUID") or "", get("Bench-Seq") or "")
        self.seen[key] = self.seen.get(key, 0) + 1
        if self.recording:
            self.delays.append(now - int(get("Bench-Sent-Ns") or "0"))

    async def open(self, ports: Sequence[int]) -> None:
        for port in ports:
            conn = await esl_connect("127.0.0.1", port, "ClueCon", queue_size=1, timeout=30)
            conn.on("CUSTOM", self.on_event, subclass=SUBCLASS)
            await conn.subscribe("CUSTOM", SUBCLASS)
            self.conns.append(conn)

    async def close(self) -> None:
        for conn in self.conns:
            await conn.close()


async def fire(node_ports: Sequence[int], per_node: int, rate: float | None, start: int) -> None:
    """``per_node`` events from each node; at ``rate`` per second each, or as fast as they are taken."""

    async def one(port: int) -> None:
        async with await esl_connect("127.0.0.1", port, "ClueCon", timeout=60) as conn:
            t0 = time.perf_counter()
            pending: list[asyncio.Future[object]] = []
            for i in range(start, start + per_node):
                if rate:
                    due = t0 + (i - start) / rate
                    delay = due - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                headers = {"Bench-Seq": str(i), "Bench-Sent-Ns": str(time.perf_counter_ns())}
                request = conn.sendevent("CUSTOM", headers, subclass=SUBCLASS)
                if rate:
                    await request
                else:
                    pending.append(asyncio.ensure_future(request))
                    if len(pending) >= 256:
                        await asyncio.gather(*pending)
                        pending.clear()
            await asyncio.gather(*pending)

    await asyncio.gather(*(one(port) for port in node_ports))


def percentile(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1e6


async def measure(label: str, subs: list[Subscriber], node_ports: Sequence[int], args: argparse.Namespace,
                  seq: int) -> int:
    nodes = len(node_ports)
    # steady rate: delays
    for sub in subs:
        sub.recording = True
    per_node = int(args.rate * args.seconds)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await fire(node_ports, per_node, args.rate, seq)
    want = per_node * nodes
    await wait_all(subs, seq, want)
    elapsed = time.perf_counter() - t0
    delays = [d for sub in subs for d in sub.delays]
    cpu = (time.process_time() - cpu0) / elapsed
    print(f"{label}: steady {args.rate:g} events/s per node x {nodes} nodes, {len(subs)} clients: "
          f"delay p50 {percentile(delays, 0.5):.2f} ms, p99 {percentile(delays, 0.99):.2f} ms, "
          f"max {percentile(delays, 1.0):.2f} ms over {len(delays)} deliveries "
          f"(bench CPU {cpu:.0%} of a core)", flush=True)
    for sub in subs:
        sub.recording = False
        sub.delays.clear()
    seq += per_node
    # burst: throughput
    counted = sum(sub.received for sub in subs)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    await fire(node_ports, args.burst, None, seq)
    await wait_all(subs, seq, args.burst * nodes)
    elapsed = time.perf_counter() - t0
    delivered = sum(sub.received for sub in subs) - counted
    cpu = (time.process_time() - cpu0) / elapsed
    print(f"{label}: burst of {args.burst} events per node: {delivered / elapsed:,.0f} deliveries/s "
          f"({args.burst * nodes / elapsed:,.0f} events/s fired and delivered to every client; "
          f"{delivered} deliveries in {elapsed:.2f} s; bench CPU {cpu:.0%} of a core)", flush=True)
    burst: int = args.burst
    return seq + burst


async def wait_all(subs: list[Subscriber], start: int, count: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        short = [s for s in subs if sum(1 for (_, q), _n in s.seen.items() if q and int(q) >= start) < count]
        if not short:
            break
        if time.monotonic() > deadline:
            raise SystemExit(f"FAIL: {len(short)} clients are missing events after {timeout}s")
        await asyncio.sleep(0.05)
    dups = sum(n - 1 for s in subs for n in s.seen.values() if n > 1)
    if dups:
        raise SystemExit(f"FAIL: {dups} events delivered twice")


async def main_async(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="eventsocket-bench-gw-"))
    procs: list[subprocess.Popen[bytes]] = []
    nats = NatsServer(store_dir=str(tmp / "nats"))
    nats.start()
    try:
        node_ports = [free_port() for _ in range(3)]
        for i, port in enumerate(node_ports):
            procs.append(spawn(["serve", "--listen-ip", "127.0.0.1", "--listen-port", str(port),
                                "--heartbeat", "0"], port, tmp / f"node{i}.log"))
        gw_ports = [free_port() for _ in range(2)]
        upstreams = [a for i, p in enumerate(node_ports)
                     for a in ("--upstream", f"n{i}=127.0.0.1:{p}:ClueCon")]
        for i, port in enumerate(gw_ports):
            procs.append(spawn(["gateway", "--nats", nats.url, "--name", f"g{i}", "--listen-ip", "127.0.0.1",
                                "--listen-port", str(port), *upstreams], port, tmp / f"gw{i}.log"))
        await asyncio.sleep(2.0)  # the gateways connect to the nodes
        uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        print(f"{os.cpu_count()} cores; `uptime` before: {uptime}", flush=True)
        seq = 0
        direct = [Subscriber() for _ in range(args.clients)]
        for sub in direct:
            await sub.open(node_ports)
        label = f"direct ({args.clients} clients x 3 node connections)"
        seq = await measure(label, direct, node_ports, args, seq)
        for sub in direct:
            await sub.close()
        through = [Subscriber() for _ in range(args.clients)]
        for i, sub in enumerate(through):
            await sub.open([gw_ports[i % 2]])
        await asyncio.sleep(0.5)
        label = f"gateway ({args.clients} clients, half on each of 2 gateways)"
        seq = await measure(label, through, node_ports, args, seq)
        for sub in through:
            await sub.close()
        uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        print(f"`uptime` after: {uptime}", flush=True)
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        nats.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--rate", type=float, default=100.0, help="events/s per node in the steady phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=2000, help="events per node in the burst phase")
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks that the bench works")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.rate, args.seconds, args.burst = 4, 50.0, 1.0, 100
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
