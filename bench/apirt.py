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

import hashlib
import os
import shutil
import subprocess
import tempfile
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
class Rates:
    """Round trips per second in total, by number of connections."""

    by_connections: dict[int, float]


def measure(binary: Path, port: int, seconds: float, password: str = "ClueCon") -> Rates:
    """Run apirt for each connection count against ``port``; each run lasts ``seconds``."""
    rates: dict[int, float] = {}
    for count in CONNECTION_COUNTS:
        result = subprocess.run([str(binary), str(port), f"{seconds:g}", str(count), password],
                                capture_output=True, text=True, timeout=seconds * 4 + 30)
        if result.returncode != 0:
            raise RuntimeError(f"apirt {count} connections failed: {result.stderr.strip()[:300]}")
        rates[count] = float(result.stdout.strip().splitlines()[-1])
    return Rates(rates)


def report(server: Rates, floor: Rates, loop: str) -> list[str]:
    """One line per connection count: the server, the floor, their ratio and the target if any."""
    lines = []
    for count in CONNECTION_COUNTS:
        ours, best = server.by_connections[count], floor.by_connections[count]
        share = ours / best if best else 0.0
        target = FLOOR_SHARE_TARGETS.get(count)
        verdict = (f"target >= {target:.2f} of the floor: {'met' if share >= target else 'NOT met'}"
                   if target is not None else "no target")
        lines.append(
            f"apirt api round trips/s, {count} connection{'s' if count > 1 else ''}: {ours:,.0f}/s, "
            f"do-nothing {loop} responder {best:,.0f}/s, {share:.2f} of the floor ({verdict})"
        )
    return lines
