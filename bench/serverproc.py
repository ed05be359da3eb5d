"""Starting and stopping the server under test, and measuring what it costs.

The server is a real ``eventsocket serve`` subprocess. Which event loop it runs is
whatever its own log line says (``... listening on 127.0.0.1 port N (uvloop)``);
``loop="asyncio"`` hides uvloop from it so the two loops can be compared on one machine.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

LISTENING = re.compile(r"listening on (\S+) port (\d+) \((\w+)\)")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# ``eventsocket serve`` with uvloop hidden: the CLI falls back to the standard loop.
_NO_UVLOOP = (
    "import sys; sys.modules['uvloop'] = None; "
    "from eventsocket.cli.main import main; sys.exit(main(sys.argv[1:]))"
)
_ENTRY = "import sys; from eventsocket.cli.main import main; sys.exit(main(sys.argv[1:]))"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def raise_nofile(wanted: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to ``wanted`` (capped by the hard limit); children inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def uvloop_version() -> str | None:
    try:
        import uvloop
    except ImportError:
        return None
    return str(getattr(uvloop, "__version__", "?"))


def machine_line() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or cpu
    try:
        load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    except OSError:
        load = "load average n/a"
    return (f"machine: {platform.platform()} | CPU: {cpu} | cores: {os.cpu_count()} | "
            f"Python {platform.python_version()} ({platform.python_implementation()}) | {load}")


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc (0.0 where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@dataclass
class CpuWindow:
    """Wall time and CPU of the server and of this process over one measurement."""

    server_pid: int
    wall0: float = field(default_factory=time.perf_counter)
    server0: float = 0.0
    client0: float = field(default_factory=time.process_time)

    def __post_init__(self) -> None:
        self.server0 = process_cpu_seconds(self.server_pid)

    def summary(self, ops: int = 0, unit: str = "op") -> str:
        """CPU use as a share of one core over the window; with ``ops``, the server's CPU time per op."""
        wall = max(time.perf_counter() - self.wall0, 1e-9)
        server_s = process_cpu_seconds(self.server_pid) - self.server0
        client = (time.process_time() - self.client0) / wall * 100
        text = f"server CPU {server_s / wall * 100:.0f}%, bench client CPU {client:.0f}%"
        if ops:
            text += f", server CPU time {server_s / ops * 1e6:.0f} us per {unit}"
        return text


class ServerProcess:
    """``eventsocket serve`` on a free loopback port, stopped with SIGTERM."""

    def __init__(self, loop: str = "default", host: str = "127.0.0.1", password: str = "ClueCon") -> None:
        self.loop_request = loop
        self.host = host
        self.password = password
        self.port = free_port(host)
        self.loop_name = "unknown"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (open for the server's whole life)
            prefix="eventsocket-bench-", suffix=".log", delete=False)
        self.log_path = Path(self._log.name)

    def command(self) -> list[str]:
        args = ["serve", "--listen-ip", self.host, "--listen-port", str(self.port), "--heartbeat", "0",
                "--password", self.password]
        if self.loop_request == "asyncio":
            return [sys.executable, "-c", _NO_UVLOOP, *args]
        script = Path(sys.executable).with_name("eventsocket")
        if script.exists():
            return [str(script), *args]
        found = shutil.which("eventsocket")
        if found:
            return [found, *args]
        return [sys.executable, "-c", _ENTRY, *args]

    def start(self, timeout: float = 20.0) -> None:
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_text()[-2000:]}")
            match = LISTENING.search(self.log_text())
            if match:
                self.loop_name = match.group(3)
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"server did not log that it listens within {timeout}s: {self.log_text()[-2000:]}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_problems(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if " WARNING " in line or " ERROR " in line]

    def listen_backlog(self) -> str:
        """The listening socket's backlog as the kernel reports it (``ss`` Send-Q), if ``ss`` exists."""
        ss = shutil.which("ss")
        if ss is None:
            return "n/a (no ss)"
        try:
            out = subprocess.run([ss, "-ltnH", f"sport = :{self.port}"], capture_output=True, text=True,
                                 timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return "n/a"
        for line in out.splitlines():
            cols = line.split()
            if len(cols) >= 3 and cols[0] == "LISTEN":
                return cols[2]
        return "n/a"

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait; SIGKILL if it does not go. Returns the exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._log.close()
        return proc.returncode

    def cleanup(self) -> None:
        try:
            self.log_path.unlink()
        except OSError:
            pass


def listen_overflows() -> int | None:
    """The kernel's TcpExt ListenOverflows counter (connections dropped on a full accept queue)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            value = table.get("ListenOverflows")
            return int(value) if value is not None else None
    return None


def somaxconn() -> str:
    try:
        return Path("/proc/sys/net/core/somaxconn").read_text().strip()
    except OSError:
        return "n/a"
