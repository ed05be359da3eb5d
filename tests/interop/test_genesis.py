"""genesis (PyPI, asyncio) drives eventsocket serve: ``Inbound`` and its ``Outbound`` server."""

from __future__ import annotations

import sys

import pytest
from interop_harness import DRIVERS, Monitor, ServerProcess, check_inbound, outbound_call, run_driver

DRIVER = [sys.executable, str(DRIVERS / "genesis_driver.py")]


def test_inbound(esl_server: ServerProcess) -> None:
    run = run_driver([*DRIVER, "inbound", *esl_server.args], 60, esl_server)
    check_inbound(run)
    assert run.detail("wrong-password") == "AuthenticationError: Invalid password", run.report()
    assert run.detail("execute").endswith("(state EXECUTE)"), run.report()  # from genesis's uuid_dump parse
    assert run.detail("channel").endswith("EXECUTE playback DESTROY"), run.report()


@pytest.mark.parametrize("async_mode", [True, False], ids=["async", "sync"])
def test_outbound(esl_server: ServerProcess, monitor: Monitor, async_mode: bool) -> None:
    outbound_call(esl_server, monitor, DRIVER, async_mode)
