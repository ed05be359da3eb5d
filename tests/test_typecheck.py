"""The project type-checks: ``python3 tools/typecheck.py`` (mypy --strict over src, tests, bench,
examples and tools) reports no error.

In the suite so that CI enforces what the README promises; mypy's cache makes a rerun quick
(a cold run is some seconds of CPU).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "typecheck.py"


def test_mypy_strict_is_clean_over_the_package_and_its_tests() -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]')")
    if not SCRIPT.exists():
        pytest.skip(f"{SCRIPT} is absent: not run from a checkout of the project")
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("Success: no issues found") == run.stdout.count("$ mypy") >= 2, run.stdout
