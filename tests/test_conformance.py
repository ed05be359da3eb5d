"""The shared conformance cases, recorded from a real FreeSWITCH, run against ``eventsocket serve``.

The runner and the cases live beside the project in ``../shared/conformance``; the
server is started exactly as a user would start it, through the console script.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
RUNNER = SHARED / "conformance" / "esltest.py"
CASES = SHARED / "conformance" / "cases"
# Capabilities the server does not offer yet; the cases that need them are skipped by the runner.
NOT_YET: list[str] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(not RUNNER.exists(), reason="../shared/conformance is not beside the project")
def test_conformance_cases() -> None:
    port = free_port()
    serve = shutil.which("eventsocket") or f"{sys.executable} -m eventsocket.cli.main"
    command = [
        sys.executable, str(RUNNER), str(CASES),
        "--spawn", f"{serve} serve --listen-ip 127.0.0.1 --listen-port {port}",
        "--port", str(port),
    ]
    for capability in NOT_YET:
        command += ["--skip-requires", capability]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    lines = result.stdout.strip().splitlines()
    match = re.fullmatch(r"(\d+) passed, (\d+) failed(?:, \d+ skipped)?", lines[-1] if lines else "")
    assert match, result.stdout + result.stderr
    passed, failed = int(match.group(1)), int(match.group(2))
    assert failed == 0 and result.returncode == 0, result.stdout
    assert passed > 0
