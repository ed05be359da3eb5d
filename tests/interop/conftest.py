"""Fixtures of the interop suite: the served switch, a monitor, and the clients' installs.

- ``esl_server``: ``eventsocket serve`` started through its console script on a free port; the
  test fails if the server logged an error or a traceback.
- ``dialplan_server``: the same on a copy of the built-in conf_dir whose extension 5000 sends
  calls to a free port (``socket 127.0.0.1:<port> async full``).
- ``monitor``: a raw ESL connection to it (drives calls, records events).
- ``node_modules``: ``npm ci`` in ``node/`` when ``node_modules`` is missing or older than the lock.
- ``esl_python``: a cached venv (``.venv-esl``) with python-ESL 1.4.18 (libesl) built with SWIG 3.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from interop_harness import ESL_VENV, NODE_DIR, Monitor, ServerProcess, free_port

PYTHON_ESL = "python-ESL==1.4.18"


def _serve(server: ServerProcess) -> Iterator[ServerProcess]:
    try:
        yield server
        problems = server.problems()
        assert not problems, "the server logged errors:\n" + "\n".join(problems) + "\n" + server.log()[-4000:]
    finally:
        server.stop()


@pytest.fixture
def esl_server(tmp_path: Path) -> Iterator[ServerProcess]:
    yield from _serve(ServerProcess(tmp_path / "eventsocket.log"))


@pytest.fixture
def dialplan_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """The server on a copy of the built-in conf_dir whose extension 5000 sockets to a free port."""
    import eventsocket

    conf = tmp_path / "conf"
    shutil.copytree(Path(eventsocket.__file__).parent / "default_conf", conf)
    dialplan = conf / "dialplan" / "default.xml"
    port = free_port()
    text, default = dialplan.read_text(), 'data="127.0.0.1:8084 async full"'
    assert default in text, "the built-in dialplan no longer sends extension 5000 to a socket"
    dialplan.write_text(text.replace(default, f'data="127.0.0.1:{port} async full"'))
    yield from _serve(ServerProcess(tmp_path / "eventsocket.log", conf_dir=conf, dialplan_socket_port=port))


@pytest.fixture
def monitor(request: pytest.FixtureRequest) -> Iterator[Monitor]:
    """A monitor on whichever server the test uses (``esl_server`` or ``dialplan_server``)."""
    name = "dialplan_server" if "dialplan_server" in request.fixturenames else "esl_server"
    server: ServerProcess = request.getfixturevalue(name)
    mon = Monitor(server.host, server.port, server.password)
    try:
        yield mon
    finally:
        mon.close()


def _run(argv: list[str], what: str, timeout: float, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> float:
    """Run an install step; fail the test (with its output) if it fails. Returns the seconds it took."""
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        pytest.fail(f"{what} failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout[-4000:]}\n"
                    f"{proc.stderr[-4000:]}", pytrace=False)
    return time.monotonic() - started


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The Node clients (modesl, esl-lite) installed from the committed lock file."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed: the Node.js clients (modesl, esl-lite) cannot run")
    modules = NODE_DIR / "node_modules"
    lock = NODE_DIR / "package-lock.json"
    stamp = modules / ".package-lock.json"  # written by npm at the end of every install
    fresh = stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime
    if not fresh:
        took = _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], "npm ci", 300, cwd=NODE_DIR)
        sys.stderr.write(f"\n[interop] npm ci: {took:.1f} s\n")
    return modules


def _esl_works(python: Path) -> bool:
    if not python.exists():
        return False
    return subprocess.run([str(python), "-c", "import ESL"], capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="session")
def esl_python() -> Path:
    """A Python with the official libesl binding, built once into ``.venv-esl`` and reused.

    python-ESL 1.4.18 does not build with SWIG 4; SWIG 3 from PyPI builds it when the venv's
    ``bin`` (where the ``swig`` wrapper lives) comes first on PATH and build isolation is off.
    """
    python = ESL_VENV / "bin" / "python"
    if _esl_works(python):
        return python
    started = time.monotonic()
    # built in place (a venv is not relocatable); a half-built one fails the check above and is redone
    shutil.rmtree(ESL_VENV, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(ESL_VENV)], "venv", 120)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    _run([*pip, "swig<4", "setuptools", "wheel"], "pip install swig<4", 300)
    env = dict(os.environ, PATH=f"{ESL_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("PYTHONPATH", None)
    _run([*pip, "--no-build-isolation", PYTHON_ESL], f"pip install {PYTHON_ESL}", 600, env=env)
    if not _esl_works(python):
        pytest.fail("python-ESL installed but `import ESL` fails", pytrace=False)
    sys.stderr.write(f"\n[interop] python-ESL venv: {time.monotonic() - started:.1f} s\n")
    return python
