"""api round trips measured with the C client ``apirt`` (``../shared/tools/apirt.c``).

A Python benchmark client tops out near the server's own speed, so the figure that counts
for the server is taken with a client written in C, next to a do-nothing uvloop
responder measured in the same run on the same machine: the ratio of the two is what a
Python server can still gain (issue targets: 1 connection >= 0.85 of the floor, 32
connections >= 0.8).

The C source is not part of the project; it is looked for beside the project
(``../shared/tools/apirt.c``) or at ``$APIRT_SOURCE`` and compiled once into a cache
directory when a C compiler is present. Without either, the figure says why it is
skipped instead of failing the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_CANDIDATES = (HERE.parent.parent / "shared" / "tools" / "apirt.c",)
CONNECTION_COUNTS = (1, 4, 32)
# the targets of the speed work, as shares of the do-nothing responder's figure
FLOOR_SHARE_TARGETS = {1: 0.85, 32: 0.8}


class ApirtUnavailable(Exception):
    """No C compiler or no apirt.c here: the figure is skipped, with this as the reason."""


def source_path() -> Path:
    """Where apirt.c is: ``$APIRT_SOURCE`` first, then ``../shared/tools/apirt.c``."""
    env = os.environ.get("APIRT_SOURCE")
    for candidate in ([Path(env)] if env else []) + list(SOURCE_CANDIDATES):
        if candidate.is_file():
            return candidate
    raise ApirtUnavailable("apirt.c not found (set APIRT_SOURCE or put ../shared beside the project)")


def build() -> Path:
    """Compile apirt once per source text into a cache directory; return the binary's path."""
    source = source_path()
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        raise ApirtUnavailable("no C compiler (cc, gcc or clang) on PATH")
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "eventsocket-bench"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        cache = Path(tempfile.gettempdir())
    binary = cache / f"apirt-{digest}"
    if not binary.exists():
        result = subprocess.run([compiler, "-O2", "-pthread", "-o", str(binary), str(source)],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ApirtUnavailable(f"compiling apirt failed: {result.stderr.strip()[:300]}")
    return binary


@dataclass(frozen=True)
class Placement:
    """Where the processes run: ``None`` lets the scheduler choose (as when the issue's figures
    were taken), else the server (or responder) on one core and the client on another."""

    name: str
    server_cpu: int | None = None
    client_cpu: int | None = None

    @property
    def pinned(self) -> bool:
        return self.server_cpu is not None


SHARED = Placement("cores shared")
PINNED = Placement("pinned: server on cpu 1, client on cpu 0", server_cpu=1, client_cpu=0)


def placements() -> list[Placement]:
    """Shared cores always; pinned too where there are two cores or more to pin to."""
    try:
        cpus = os.sched_getaffinity(0)
    except (AttributeError, OSError):
        return [SHARED]
    return [SHARED, PINNED] if {0, 1} <= cpus else [SHARED]


@dataclass(frozen=True)
class Pairs:
    """Round trips per second of the server and of the floor, measured alternately."""

    connections: int
    ours: list[float]
    floor: list[float]

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.ours, self.floor, strict=True) if b]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 0.0


def run_once(binary: Path, port: int, seconds: float, count: int, password: str, cpu: int | None) -> float:
    """One apirt run: round trips per second in total over ``count`` connections."""

    def pin() -> None:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    result = subprocess.run([str(binary), str(port), f"{seconds:g}", str(count), password],
                            capture_output=True, text=True, timeout=seconds * 4 + 30, preexec_fn=pin)
    if result.returncode != 0:
        raise RuntimeError(f"apirt {count} connections failed: {result.stderr.strip()[:300]}")
    return float(result.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def placed(pids: tuple[int, ...], placement: Placement) -> Iterator[None]:
    """Pin ``pids`` to the placement's server core for the block; give them every core back after."""
    if placement.server_cpu is None:
        yield
        return
    before = {pid: os.sched_getaffinity(pid) for pid in pids}
    try:
        for pid in pids:
            os.sched_setaffinity(pid, {placement.server_cpu})
        yield
    finally:
        for pid, cpus in before.items():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, cpus)


def alternate(binary: Path, server: tuple[int, int, str], floor: tuple[int, int, str], placement: Placement,
              rounds: int, seconds: float) -> list[Pairs]:
    """For each connection count: ``rounds`` short runs against the server, each followed by one
    against the floor. The machine's speed drifts by more than the difference measured (a
    neighbour on the host, the scheduler's choice of cores), so the two are measured
    close together many times and the median of the ratios is taken."""
    (port, pid, password), (floor_port, floor_pid, floor_password) = server, floor
    out = []
    with placed((pid, floor_pid), placement):
        for count in CONNECTION_COUNTS:
            run_once(binary, port, min(seconds, 0.3), count, password, placement.client_cpu)  # warm-up
            run_once(binary, floor_port, min(seconds, 0.3), count, floor_password, placement.client_cpu)
            ours, best = [], []
            cpu = placement.client_cpu
            for _ in range(rounds):
                ours.append(run_once(binary, port, seconds, count, password, cpu))
                best.append(run_once(binary, floor_port, seconds, count, floor_password, cpu))
            out.append(Pairs(count, ours, best))
    return out


def report(pairs: list[Pairs], loop: str, placement: Placement) -> list[str]:
    """One line per connection count: medians of both rates and of their ratio, the spread, the target."""
    lines = []
    for p in pairs:
        share = p.ratio
        target = FLOOR_SHARE_TARGETS.get(p.connections)
        verdict = (f"target >= {target:.2f} of the floor: {'met' if share >= target else 'NOT met'}"
                   if target is not None else "no target")
        ratios = p.ratios
        lines.append(
            f"apirt api round trips/s, {p.connections} connection{'s' if p.connections > 1 else ''} "
            f"({placement.name}): {statistics.median(p.ours):,.0f}/s, do-nothing {loop} responder "
            f"{statistics.median(p.floor):,.0f}/s, {share:.2f} of the floor (median of {len(ratios)} "
            f"alternate runs, {min(ratios):.2f}-{max(ratios):.2f}; {verdict})"
        )
    return lines
