"""The project's type check: ``mypy --strict`` over the package, the tests, the benchmarks and the examples.

``mypy`` alone (configured in pyproject.toml) checks all of them but the nested ``conftest.py``
files: the tests are rootdir-style, without ``__init__.py``, so every conftest is the module
``conftest`` and mypy refuses two sources of one module name in a run. This runs ``mypy``,
then one more run per nested conftest (quick: the cache holds everything they import).

Usage, from anywhere: ``python3 tools/typecheck.py`` (extra arguments go to every mypy run).
Exits non-zero when any run reports an error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def nested_conftests() -> list[str]:
    """The conftest.py files pyproject's ``exclude`` keeps out of the main run."""
    found = (p.relative_to(ROOT) for p in (ROOT / "tests").rglob("conftest.py"))
    # not tests/conftest.py (the main run has it), nor copies inside node_modules or a venv
    nested = [p for p in found if len(p.parts) > 2 and not any(
        d == "node_modules" or d.startswith(".") for d in p.parts)]
    return [str(p) for p in sorted(nested)]


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    # the worktree's own sources, not an installed copy (mypy_path lists src too; this is for plugins)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    mypy = [sys.executable, "-m", "mypy", *argv]
    runs = [mypy] + [[*mypy, conftest] for conftest in nested_conftests()]
    failed = 0
    for run in runs:
        print("$", " ".join(["mypy", *run[3:]]), flush=True)
        failed |= subprocess.run(run, cwd=ROOT, env=env).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
