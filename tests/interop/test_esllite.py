"""esl-lite (npm, Node.js) drives eventsocket serve: inbound only (esl-lite has no server mode).

esl-lite sends ``bgapi`` with a lowercase ``job-uuid`` header holding a ULID, and one
``event json NAME`` per handled event name.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from interop_harness import DRIVERS, ServerProcess, check_inbound, run_driver

DRIVER = DRIVERS / "esllite_driver.mjs"
ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


def test_inbound(node_modules: Path, esl_server: ServerProcess) -> None:
    run = run_driver([shutil.which("node") or "node", DRIVER, "inbound", *esl_server.args], 60, esl_server)
    check_inbound(run)
    assert run.detail("wrong-password") == "-ERR invalid", run.report()
    job = run.detail("bgapi").split()[0]
    assert ULID.fullmatch(job), f"the BACKGROUND_JOB did not carry the client's ULID: {job}\n{run.report()}"
    assert run.detail("execute").endswith("(hangup_uuid USER_BUSY)"), run.report()
