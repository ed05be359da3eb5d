"""The shared event traces, recorded from a real FreeSWITCH, compared with ``eventsocket serve``.

Each scenario's every channel must fire FreeSWITCH's events in FreeSWITCH's order, in the
same states, with at least the header names FreeSWITCH sent (``../shared/conformance/
esltrace.py``). The server is started as a user would start it, through the console script.
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
RUNNER = SHARED / "conformance" / "esltrace.py"
TRACES = SHARED / "conformance" / "traces"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(not RUNNER.exists(), reason="../shared/conformance is not beside the project")
def test_recorded_event_traces() -> None:
    port = free_port()
    serve = shutil.which("eventsocket") or f"{sys.executable} -m eventsocket.cli.main"
    command = [
        sys.executable, str(RUNNER), "compare", str(TRACES / "scenarios"),
        "--traces", str(TRACES / "recorded"),
        "--spawn", f"{serve} serve --listen-ip 127.0.0.1 --listen-port {port}",
        "--port", str(port),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    lines = result.stdout.strip().splitlines()
    match = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1] if lines else "")
    assert match, result.stdout + result.stderr
    passed, failed = int(match.group(1)), int(match.group(2))
    assert failed == 0 and result.returncode == 0, result.stdout
    assert passed > 0
