"""greenswitch (PyPI, gevent) drives eventsocket serve: inbound, and its OutboundESLServer."""

from __future__ import annotations

import sys

import pytest
from interop_harness import DRIVERS, Monitor, ServerProcess, check_inbound, outbound_call, run_driver

DRIVER = [sys.executable, str(DRIVERS / "greenswitch_driver.py")]


def test_inbound(esl_server: ServerProcess) -> None:
    run = run_driver([*DRIVER, "inbound", *esl_server.args], 60, esl_server)
    check_inbound(run)
    assert run.detail("wrong-password") == "Invalid password. (then disconnected)", run.report()


@pytest.mark.parametrize("async_mode", [True, False], ids=["async", "sync"])
def test_outbound(esl_server: ServerProcess, monitor: Monitor, async_mode: bool) -> None:
    run, _ = outbound_call(esl_server, monitor, DRIVER, async_mode)
    assert run.detail("hangup") == "NORMAL_CLEARING (lingering)", run.report()


def test_outbound_from_dialplan(dialplan_server: ServerProcess, monitor: Monitor) -> None:
    """The XML dialplan's ``socket`` application (extension 5000) hands the call to greenswitch."""
    outbound_call(dialplan_server, monitor, DRIVER, via_dialplan=True)
