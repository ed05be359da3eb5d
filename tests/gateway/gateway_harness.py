"""Processes for the gateway tests: a JetStream nats-server and ``eventsocket serve`` nodes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from eventsocket.gateway.natsproc import free_port

SRC = str(Path(__file__).resolve().parents[2] / "src")


def env() -> dict[str, str]:
    """The subprocess environment: this checkout's sources first."""
    environ = dict(os.environ)
    path = environ.get("PYTHONPATH", "")
    environ["PYTHONPATH"] = SRC + (os.pathsep + path if path else "")
    return environ


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


class Process:
    """One ``python -m eventsocket.cli.main ...`` subprocess listening on ``port``."""

    def __init__(self, args: list[str], port: int, log_path: Path) -> None:
        self.args = args
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open by the child
        self.proc = subprocess.Popen([sys.executable, "-m", "eventsocket.cli.main", *self.args],
                                     stdout=log, stderr=subprocess.STDOUT, env=env())
        log.close()
        wait_for_port(self.port, timeout, self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


def serve_node(tmp: Path, name: str, port: int | None = None) -> Process:
    port = port or free_port()
    node = Process(["serve", "--listen-ip", "127.0.0.1", "--listen-port", str(port)], port,
                   tmp / f"{name}.log")
    node.start()
    return node


def gateway_process(tmp: Path, name: str, nats_url: str, nodes: dict[str, int], port: int | None = None,
                    extra: list[str] | None = None) -> Process:
    port = port or free_port()
    args = ["gateway", "--nats", nats_url, "--listen-ip", "127.0.0.1", "--listen-port", str(port),
            "--name", name]
    for node, node_port in nodes.items():
        args += ["--upstream", f"{node}=127.0.0.1:{node_port}:ClueCon"]
    gw = Process([*args, *(extra or [])], port, tmp / f"gateway-{name}.log")
    gw.start()
    return gw
