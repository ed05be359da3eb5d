"""python-ESL 1.4.18 (FreeSWITCH's libesl, the reference parser) drives eventsocket serve.

The binding is built once into a cached venv (the ``esl_python`` fixture); the driver runs there.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from interop_harness import DRIVERS, Monitor, ServerProcess, check_inbound, outbound_call, run_driver

DRIVER = str(DRIVERS / "esl_driver.py")


def test_inbound(esl_python: Path, esl_server: ServerProcess) -> None:
    run = run_driver([esl_python, DRIVER, "inbound", *esl_server.args], 60, esl_server)
    check_inbound(run)
    assert run.detail("events").endswith("(plain)") and "(json)" in run.detail("kill"), run.report()
    assert run.detail("sendevent") == "CUSTOM interop::libesl", run.report()


@pytest.mark.parametrize("async_mode", [True, False], ids=["async", "sync"])
def test_outbound_fd(esl_python: Path, esl_server: ServerProcess, monitor: Monitor, async_mode: bool) -> None:
    outbound_call(esl_server, monitor, [str(esl_python), DRIVER], async_mode)
