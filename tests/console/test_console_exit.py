"""``-x`` and its exit statuses, and the one-line reasons a connection fails."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from console_driver import fake_switch, free_port, pipe_input, settings_for

from esl_harness import Harness, start_harness, stop_harness
from eventsocket.cli.console.app import Console
from eventsocket.server.settings import EventSocketSettings

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)


async def run_console(tmp_path: Path, *flags: str) -> tuple[int, str, str]:
    out: list[str] = []
    err = io.StringIO()
    with pipe_input() as pipe:
        console = Console(settings_for(tmp_path, *flags), input=pipe, transcript=out.append, stderr=err,
                          retry_delay=0.01)
        code = await asyncio.wait_for(console.run(), 20)
    return code, "".join(out), err.getvalue()


async def test_execute_prints_each_output_and_exits_0(harness: Harness, tmp_path: Path) -> None:
    code, out, err = await run_console(tmp_path, "-P", str(harness.port), "-x", "echo one", "-x", "echo two",
                                       "-x", "no_such_api")
    assert (code, err) == (0, "")
    assert out == "one\ntwo\n-ERR no_such_api Command not found!\n\n"  # an API error still exits 0


async def test_refused_connection_is_one_line_and_255(tmp_path: Path) -> None:
    port = free_port()
    code, out, err = await run_console(tmp_path, "-P", str(port), "-x", "status")
    assert (code, out) == (255, "")
    assert err == f"Error Connecting [connection refused by 127.0.0.1:{port}]\n"


async def test_retry_tries_again_then_gives_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import eventsocket.cli.console.app as app

    monkeypatch.setattr(app, "START_RETRIES", 2)
    port = free_port()
    code, _, err = await run_console(tmp_path, "-P", str(port), "-r", "-x", "status")
    assert code == 255
    assert err.count("Error Connecting [connection refused") == 3 and err.count("Retrying\n") == 2


async def test_wrong_password_is_one_line(harness: Harness, tmp_path: Path) -> None:
    code, out, err = await run_console(tmp_path, "-P", str(harness.port), "-p", "nope")
    assert (code, out) == (255, "")
    assert err == f"Error Connecting [127.0.0.1:{harness.port} refused the password: -ERR invalid]\n"


async def test_wrong_password_is_not_retried(harness: Harness, tmp_path: Path) -> None:
    code, _, err = await run_console(tmp_path, "-P", str(harness.port), "-p", "nope", "-r")
    assert code == 255 and err.count("Error Connecting") == 1 and "Retrying" not in err


@pytest.fixture
async def acl_harness() -> AsyncIterator[Harness]:
    h = await start_harness(EventSocketSettings(listen_ip="127.0.0.1", listen_port=0,
                                                apply_inbound_acl=["rfc1918.auto"]))
    yield h
    await stop_harness(h)


async def test_acl_rejection_is_one_line(acl_harness: Harness, tmp_path: Path) -> None:
    code, _, err = await run_console(tmp_path, "-P", str(acl_harness.port), "-x", "status")
    assert code == 255
    assert err == (f"Error Connecting [127.0.0.1:{acl_harness.port} refused this address (ACL): "
                   "Access Denied, go away.]\n")


async def test_timeout_exits_254(tmp_path: Path) -> None:
    async with fake_switch({"status": None}) as (port, _):  # a command that never answers
        code, out, _ = await run_console(tmp_path, "-P", str(port), "-t", "50", "-x", "status")
    assert (code, out) == (254, "Request timed out.\n")


def test_bad_flag_values_exit_1(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOME": str(tmp_path)}
    for flags, message in ((["-P", "70000"], "ERROR: Port must be in range 1 - 65535"),
                           (["-d", "9"], "ERROR: Debug level should be 0 - 7.")):
        command = [sys.executable, "-m", "eventsocket.cli.main", "console", *flags, "-x", "status"]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 1 and message in proc.stderr


def test_real_processes_serve_and_console(tmp_path: Path) -> None:
    """``eventsocket serve`` and ``eventsocket console -x`` as separate processes."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOME": str(tmp_path)}
    port = free_port()
    serve = [sys.executable, "-m", "eventsocket.cli.main", "serve", "--listen-port", str(port)]
    server = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        for line in server.stderr:  # wait for "listening on"
            if "listening on" in line:
                break
        command = [sys.executable, "-m", "eventsocket.cli.main", "console", "-P", str(port), "-x", "echo hi",
                   "-x", "switchname"]
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
        assert (proc.returncode, proc.stderr) == (0, "")
        assert proc.stdout.startswith("hi\n") and len(proc.stdout.splitlines()) == 2
        proc = subprocess.run([*command[:-4], "-b"], input="echo piped\n", capture_output=True, text=True,
                              env=env, timeout=60)
        assert proc.returncode == 0 and "> piped\n" in proc.stdout
    finally:
        server.terminate()
        server.wait(30)


def test_real_process_against_a_refused_port(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "HOME": str(tmp_path)}
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "eventsocket.cli.main", "console", "-P", str(port), "-x",
                           "status"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 255
    assert proc.stderr == f"Error Connecting [connection refused by 127.0.0.1:{port}]\n"
