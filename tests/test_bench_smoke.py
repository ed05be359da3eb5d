"""The benchmark runner works: ``python bench/run.py --quick`` prints every figure and exits 0.

Only that it runs; never how fast anything is.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FIGURE_LINES = (
    "machine: ",
    "server: ",
    "api round trips/s, 1 connection: ",
    "api round trips/s, 4 connections: ",
    "api harness floor, 1 connection: ",
    "idle event delay harness floor: ",
    "bgapi jobs/s, 1 connection: ",
    "idle event delay: ",
    "fan-out, 16 subscribers: ",
    "concurrent connections: ",
    "apirt api round trips/s",
    "calls/s: ",
    "concurrent calls: ",
    "server stopped with SIGTERM: exit status 0",
)


def test_bench_quick_prints_every_figure() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    lines = proc.stdout.splitlines()
    for start in FIGURE_LINES:
        assert any(line.startswith(start) for line in lines), f"no line starting {start!r}:\n{output}"
    assert not any(": FAILED: " in line for line in lines), output
