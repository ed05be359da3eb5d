"""Benchmarks of the event socket server: ``python bench/run.py [--quick] [--loop ...] [--only ...]``.

Starts ``eventsocket serve`` as a subprocess on a free loopback port (heartbeat off),
drives it with the lean load generator in ``loadgen.py`` and prints one line per
figure, after a line describing the machine. See ``bench/README.md``.

Adding a figure: append ``(key, function)`` to :data:`FIGURES`; the function takes the
:class:`Context` and returns the lines to print. A ``bench/client_parse.py`` next to
this file is picked up on its own: every function in its ``FIGURES`` list is run after
the built-in figures, with the same :class:`Context` (see :func:`optional_figures`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import apirt  # noqa: E402
import calls  # noqa: E402
import loadgen  # noqa: E402
import serverproc  # noqa: E402

# FreeSWITCH on the same 2-core machine, same harness (issue 2, item 9)
FS_API_PER_S = 11_800
API_TARGET = FS_API_PER_S * 1.5
FS_BGAPI_PER_S = 900
BGAPI_TARGET = 10_000
FS_EVENT_DELAY_MEDIAN_MS = 10.0
EVENT_DELAY_P99_TARGET_MS = 1.0
FS_BACKLOG = 5
BACKLOG_TARGET = 128


@dataclass(frozen=True)
class Counts:
    api: int = 20_000
    api_warmup: int = 500
    api_parallel_conns: int = 4
    api_parallel_each: int = 10_000
    floor: int = 20_000
    bgapi: int = 20_000
    bgapi_window: int = 256
    delay: int = 2_000
    delay_gap_ms: tuple[float, float] = (0.2, 2.0)
    fanout_subscribers: int = 16
    fanout_events: int = 20_000
    fanout_window: int = 256
    connections: int = 1_000
    apirt_seconds: float = 0.4
    apirt_rounds: int = 8
    calls: int = 4_000
    calls_concurrency: int = 4
    held_calls: int = 10_000


QUICK = Counts(api=300, api_warmup=20, api_parallel_each=100, floor=300, bgapi=300, delay=40,
               delay_gap_ms=(0.1, 0.5), fanout_events=300, connections=50, apirt_seconds=0.1, apirt_rounds=1,
               calls=40, held_calls=40)


@dataclass
class Context:
    """What a figure gets: where the server is, how much to do, how to print."""

    server: serverproc.ServerProcess
    counts: Counts
    quick: bool

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def password(self) -> str:
        return self.server.password

    def cpu(self) -> serverproc.CpuWindow:
        return serverproc.CpuWindow(self.server.pid)

    def connect(self) -> loadgen.Conn:
        return loadgen.Conn(self.host, self.port, self.password)


Figure = Callable[[Context], list[str]]


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _k(value: float) -> str:
    return f"{value:,.0f}"


# -- the figures ------------------------------------------------------------------------------------


def fig_api(ctx: Context) -> list[str]:
    """1. Sequential ``api echo x`` on one connection, then on several at once."""
    c = ctx.counts
    conn = ctx.connect()
    loadgen.api_sequential(conn, c.api_warmup)
    cpu = ctx.cpu()
    elapsed = loadgen.api_sequential(conn, c.api)
    rate = c.api / elapsed
    lines = [
        f"api round trips/s, 1 connection: {_k(rate)}/s ({_k(c.api)} sequential `api echo x`, "
        f"{elapsed:.2f} s, {elapsed / c.api * 1e6:.0f} us each; {rate / FS_API_PER_S:.2f}x FreeSWITCH's "
        f"{FS_API_PER_S / 1000:.1f}k/s, target >= {API_TARGET / 1000:.1f}k/s: {_met(rate >= API_TARGET)}; "
        f"{cpu.summary(c.api, 'round trip')})"
    ]
    conn.close()
    conns = [ctx.connect() for _ in range(c.api_parallel_conns)]
    cpu = ctx.cpu()
    elapsed = loadgen.api_parallel(conns, c.api_parallel_each)
    total = c.api_parallel_conns * c.api_parallel_each
    lines.append(
        f"api round trips/s, {c.api_parallel_conns} connections: {_k(total / elapsed)}/s in total "
        f"({_k(c.api_parallel_each)} sequential round trips on each, {elapsed:.2f} s; "
        f"{cpu.summary(total, 'round trip')})"
    )
    for conn in conns:
        conn.close()
    return lines


@contextlib.contextmanager
def floor_responder(loop: str) -> Iterator[tuple[int, int]]:
    """``floor_server.py`` on a free port: yields (port, pid)."""
    port = serverproc.free_port()
    proc = subprocess.Popen([sys.executable, str(HERE / "floor_server.py"), str(port), loop],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise loadgen.BenchError("the floor responder did not start")
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(5)


def fig_floor(ctx: Context) -> list[str]:
    """1b/3b. The same client against a do-nothing responder: the best figures 1 and 3 can show here."""
    c = ctx.counts
    loop = "uvloop" if ctx.server.loop_name == "uvloop" else "asyncio"
    with floor_responder(loop) as (port, pid):
        conn = loadgen.Conn("127.0.0.1", port, "x")
        loadgen.api_sequential(conn, c.api_warmup)
        window = serverproc.CpuWindow(pid)
        elapsed = loadgen.api_sequential(conn, c.floor)
        usage = window.summary(c.floor, "round trip").replace("server", "responder")
        conn.close()
        gap = (c.delay_gap_ms[0] / 1000, c.delay_gap_ms[1] / 1000)
        delays, lost = loadgen.event_delay("127.0.0.1", port, "x", c.delay, gap)
    return [
        f"api harness floor, 1 connection: {_k(c.floor / elapsed)}/s against a do-nothing {loop} responder "
        f"({_k(c.floor)} round trips, {elapsed / c.floor * 1e6:.0f} us each; the ceiling for figure 1 with "
        f"this client on this machine; {usage})",
        f"idle event delay harness floor: p50 {statistics.median(delays):.3f} ms, "
        f"p99 {_percentile(delays, 0.99):.3f} ms, max {max(delays):.3f} ms through a do-nothing {loop} relay "
        f"({len(delays):,}/{c.delay:,} events, {lost} lost; same client and gaps as figure 3)",
    ]


def fig_bgapi(ctx: Context) -> list[str]:
    """2. Pipelined ``bgapi echo N`` with our own Job-UUIDs, results matched from BACKGROUND_JOB."""
    c = ctx.counts
    conn = ctx.connect()
    cpu = ctx.cpu()
    result = loadgen.bgapi_pipelined(conn, c.bgapi, c.bgapi_window)
    conn.close()
    rate = result.matched / result.elapsed
    complete = result.matched == result.jobs and result.replies == result.jobs and not result.wrong
    check = (f"all {_k(result.jobs)} results arrived and matched their Job-UUIDs" if complete else
             f"INCOMPLETE: {_k(result.matched)}/{_k(result.jobs)} results matched, "
             f"{_k(result.replies)} replies, {len(result.wrong)} wrong (first: {result.wrong[:2]})")
    if not complete:
        raise loadgen.BenchError(check)
    return [
        f"bgapi jobs/s, 1 connection: {_k(rate)} jobs/s ({_k(result.jobs)} `bgapi echo N`, "
        f"{c.bgapi_window} in flight, {result.elapsed:.2f} s; {check}; FreeSWITCH ~{FS_BGAPI_PER_S}/s, "
        f"target >= {_k(BGAPI_TARGET)}/s: {_met(rate >= BGAPI_TARGET)}; {cpu.summary(result.jobs, 'job')})"
    ]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def fig_event_delay(ctx: Context) -> list[str]:
    """3. One event at a time to an idle subscriber; delay from send to the subscriber's recv."""
    c = ctx.counts
    gap = (c.delay_gap_ms[0] / 1000, c.delay_gap_ms[1] / 1000)
    cpu = ctx.cpu()
    delays, lost = loadgen.event_delay(ctx.host, ctx.port, ctx.password, c.delay, gap)
    if not delays:
        raise loadgen.BenchError("the subscriber received no events")
    p50, p99 = statistics.median(delays), _percentile(delays, 0.99)
    return [
        f"idle event delay: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {max(delays):.3f} ms "
        f"({len(delays):,}/{c.delay:,} events received, {lost} lost, one at a time with "
        f"{c.delay_gap_ms[0]}-{c.delay_gap_ms[1]} ms random gaps; FreeSWITCH median "
        f"~{FS_EVENT_DELAY_MEDIAN_MS:.0f} ms; target p99 < {EVENT_DELAY_P99_TARGET_MS:.0f} ms: "
        f"{_met(p99 < EVENT_DELAY_P99_TARGET_MS and lost == 0)}; {cpu.summary()})"
    ]


def fig_fanout(ctx: Context) -> list[str]:
    """4. One sender, N subscribers to the same CUSTOM subclass; every event to every subscriber."""
    c = ctx.counts
    cpu = ctx.cpu()
    r = loadgen.fanout(ctx.host, ctx.port, ctx.password, c.fanout_subscribers, c.fanout_events,
                       c.fanout_window)
    summary = cpu.summary(r.events, "event")
    per_sub = r.events / r.elapsed
    complete = all(n == r.events for n in r.received) and all(s == r.events - 1 for s in r.last_seq)
    if complete and not r.out_of_order:
        check = (f"every subscriber received {_k(r.events)}/{_k(r.events)} in order, "
                 f"last Bench-Seq {r.events - 1}")
    else:
        check = (f"INCOMPLETE: received min {min(r.received):,} max {max(r.received):,} of {r.events:,}, "
                 f"last Bench-Seq min {min(r.last_seq)}, {r.out_of_order} out of order")
    line = (
        f"fan-out, {r.subscribers} subscribers: {_k(per_sub)} events/s per subscriber, "
        f"{_k(per_sub * r.subscribers)} deliveries/s in total ({_k(r.events)} events, {r.elapsed:.2f} s "
        f"until the last subscriber had the last one, sender's sendevents done in {r.sender_elapsed:.2f} s; "
        f"{check}; {summary})"
    )
    if not complete or r.out_of_order:
        raise loadgen.BenchError(line)
    return [line]


def fig_connections(ctx: Context) -> list[str]:
    """5. Many connections at once: connect + authenticate each, then one ``api echo`` on each."""
    from eventsocket.server.settings import EventSocketSettings

    c = ctx.counts
    overflows = serverproc.listen_overflows()
    cpu = ctx.cpu()
    r = loadgen.many_connections(ctx.host, ctx.port, ctx.password, c.connections)
    usage = cpu.summary()
    after = serverproc.listen_overflows()
    dropped = "n/a" if overflows is None or after is None else f"{after - overflows:,}"
    ok = r.authenticated == r.wanted and r.api_ok == r.wanted
    errors = "" if not r.errors else f"; errors: {r.errors}"
    backlog = EventSocketSettings().backlog
    kernel = ctx.server.listen_backlog()
    line = (
        f"concurrent connections: {r.authenticated:,}/{r.wanted:,} connected and authenticated in "
        f"{r.connect_seconds:.2f} s, `api echo` answered on {r.api_ok:,}/{r.wanted:,} in "
        f"{r.api_seconds:.2f} s, "
        f"all open at once ({'all worked' if ok else 'FAILURES'}{errors}); listen backlog: setting `backlog` "
        f"{backlog} (default), listening socket reports {kernel}, net.core.somaxconn "
        f"{serverproc.somaxconn()}, kernel ListenOverflows during the figure {dropped} (machine-wide); "
        f"FreeSWITCH 5, target >= {BACKLOG_TARGET}; {usage}"
    )
    if not ok:
        raise loadgen.BenchError(line)
    return [line]


def fig_apirt(ctx: Context) -> list[str]:
    """1c. Sequential ``api echo x`` from the C client, the server alternating with a do-nothing responder."""
    try:
        binary = apirt.build()
    except apirt.ApirtUnavailable as exc:
        return [f"apirt api round trips/s: skipped ({exc})"]
    loop = "uvloop" if ctx.server.loop_name == "uvloop" else "asyncio"
    c = ctx.counts
    lines = []
    with floor_responder(loop) as (floor_port, floor_pid):
        for placement in apirt.placements():
            server = (ctx.port, ctx.server.pid, ctx.password)
            pairs = apirt.alternate(binary, server, (floor_port, floor_pid, "x"), placement, c.apirt_rounds,
                                    c.apirt_seconds)
            lines += apirt.report(pairs, loop, placement)
    return lines


def fig_calls(ctx: Context) -> list[str]:
    """6. Calls per second (originate null + park + uuid_kill) with a subscriber to every channel event."""
    import asyncio

    c = ctx.counts
    total = c.calls - c.calls % c.calls_concurrency
    cpu = ctx.cpu()
    elapsed, destroyed, seen = asyncio.run(calls.measure(ctx.port, total, c.calls_concurrency))
    line = calls.calls_line(total, destroyed, seen, elapsed, c.calls_concurrency)
    if destroyed != total:
        raise loadgen.BenchError(line)
    return [f"{line[:-1]}; {cpu.summary(destroyed, 'call')})"]


def fig_held(ctx: Context) -> list[str]:
    """7. Many parked calls at once: ``show channels count`` while they exist, memory per call."""
    import asyncio

    held = asyncio.run(calls.hold(ctx.port, ctx.server.pid, ctx.counts.held_calls))
    line = calls.held_line(held)
    if held.reported != held.wanted:
        raise loadgen.BenchError(line)
    return [line]


# The figure list. Add a figure by appending (key, function); ``--only`` selects by key.
FIGURES: list[tuple[str, Figure]] = [
    ("api", fig_api),
    ("floor", fig_floor),
    ("apirt", fig_apirt),
    ("bgapi", fig_bgapi),
    ("delay", fig_event_delay),
    ("fanout", fig_fanout),
    ("connections", fig_connections),
    ("calls", fig_calls),
    ("held", fig_held),
]


def optional_figures() -> list[tuple[str, Figure]]:
    """Figures from ``bench/client_parse.py`` if it exists: its ``FIGURES`` list of ``fn(ctx) -> lines``.

    Each is keyed by its function name (for ``--only``). A missing file adds nothing; a
    file that fails to import is an error, not silently skipped.
    """
    if not (HERE / "client_parse.py").exists():
        return []
    module = importlib.import_module("client_parse")
    return [(fn.__name__, fn) for fn in getattr(module, "FIGURES", [])]


# -- running --------------------------------------------------------------------------------------


def run_against(loop: str, figures: list[tuple[str, Figure]], counts: Counts, quick: bool) -> bool:
    server = serverproc.ServerProcess(loop=loop)
    ok = True
    server.start()
    try:
        uv = serverproc.uvloop_version()
        print(f"server: `eventsocket serve --listen-ip {server.host} --listen-port {server.port} "
              f"--heartbeat 0` (pid {server.pid}); event loop per the server log: {server.loop_name}"
              f"{' (uvloop ' + uv + ' installed)' if uv else ' (uvloop not installed)'}", flush=True)
        ctx = Context(server, counts, quick)
        took: list[str] = []
        for key, figure in figures:
            began = time.perf_counter()
            try:
                for line in figure(ctx):
                    print(line, flush=True)
            except Exception as exc:
                ok = False
                print(f"{key}: FAILED: {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc(file=sys.stderr)
            took.append(f"{key} {time.perf_counter() - began:.1f} s")
        print(f"time per figure: {', '.join(took)}", flush=True)
    finally:
        problems = server.log_problems()
        status = server.stop()
        print(f"server stopped with SIGTERM: exit status {status}; {len(problems)} warning/error lines "
              "in its log" + (f" (first: {problems[0]})" if problems else ""), flush=True)
        if status != 0:
            ok = False
            print(server.log_text()[-3000:], file=sys.stderr)
        server.cleanup()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmarks of the eventsocket server.")
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the bench works, not speed")
    parser.add_argument("--loop", choices=["default", "asyncio", "both"], default="default",
                        help="default: whatever `eventsocket serve` picks (uvloop when installed); "
                             "asyncio: hide uvloop from the server; both: default, then asyncio")
    parser.add_argument("--only", help="comma-separated figure keys: "
                                       + ",".join(k for k, _ in FIGURES) + " (and client_parse's)")
    parser.add_argument("--connections", type=int, help="connections for figure 5 (default 1000)")
    args = parser.parse_args(argv)

    counts = QUICK if args.quick else Counts()
    if args.connections:
        counts = dataclasses.replace(counts, connections=args.connections)
    figures = FIGURES + optional_figures()
    if args.only:
        wanted = {k.strip() for k in args.only.split(",") if k.strip()}
        unknown = wanted - {k for k, _ in figures}
        if unknown:
            parser.error(f"unknown figure(s): {', '.join(sorted(unknown))}")
        figures = [(k, f) for k, f in figures if k in wanted]

    soft, _ = serverproc.raise_nofile(counts.connections * 2 + 256)  # the server inherits it
    started = time.perf_counter()
    print(serverproc.machine_line(), flush=True)
    print(f"client: one Python process, blocking/selectors sockets + eventsocket.protocol.FrameParser"
          f"{' (--quick: tiny counts, figures meaningless)' if args.quick else ''}; RLIMIT_NOFILE {soft}",
          flush=True)
    loops = ["default", "asyncio"] if args.loop == "both" else [args.loop]
    ok = True
    for loop in loops:
        ok = run_against(loop, figures, counts, args.quick) and ok
    print(f"total bench time: {time.perf_counter() - started:.1f} s", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
