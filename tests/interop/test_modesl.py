"""modesl (npm, Node.js) drives eventsocket serve: ``Connection`` inbound and its ``Server`` (outbound)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from interop_harness import DRIVERS, Monitor, ServerProcess, check_inbound, outbound_call, run_driver

DRIVER = str(DRIVERS / "modesl_driver.js")


def node() -> str:
    return shutil.which("node") or "node"


def test_inbound(node_modules: Path, esl_server: ServerProcess) -> None:
    run = run_driver([node(), DRIVER, "inbound", *esl_server.args], 60, esl_server)
    check_inbound(run)
    assert run.detail("wrong-password") == "-ERR invalid (then disconnected)", run.report()
    assert run.detail("api-event") == "echo api-event", run.report()
    assert "(xml)" in run.detail("kill"), run.report()


@pytest.mark.parametrize("async_mode", [True, False], ids=["async", "sync"])
def test_outbound(node_modules: Path, esl_server: ServerProcess, monitor: Monitor, async_mode: bool) -> None:
    outbound_call(esl_server, monitor, [node(), DRIVER], async_mode)
