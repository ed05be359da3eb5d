"""What the interop tests share: the real ``eventsocket serve``, a monitor connection, driver runs.

Nothing here imports a third-party ESL client: each client runs in its own subprocess (a
driver under ``drivers/``), so a missing client never breaks collection, and the clients
see exactly what a user of the console script gets.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

HERE = Path(__file__).resolve().parent
DRIVERS = HERE / "drivers"
NODE_DIR = HERE / "node"
ESL_VENV = HERE / ".venv-esl"

PASSWORD = "ClueCon"

INBOUND_STEPS = ("wrong-password", "connect", "api", "bgapi", "events", "filter", "execute", "kill",
                 "disconnect")
OUTBOUND_STEPS = ("listen", "connect", "answer", "playback", "hangup", "done")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def console_script() -> list[str]:
    """The installed ``eventsocket`` console script (the one beside this interpreter first)."""
    beside = Path(sys.executable).parent / "eventsocket"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("eventsocket")
    if found:
        return [found]
    raise RuntimeError("the eventsocket console script is not installed (pip install -e '.[test]')")


class ServerProcess:
    """``eventsocket serve`` on a free loopback port, as a user starts it."""

    def __init__(self, log_path: Path, password: str = PASSWORD, conf_dir: Path | None = None,
                 dialplan_socket_port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.password = password
        self.log_path = log_path
        self.dialplan_socket_port = dialplan_socket_port  # where extension 5000's socket app connects
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        argv = [*console_script(), "serve", "--listen-ip", self.host, "--listen-port", str(self.port),
                "--password", password, "--heartbeat", "0", "--log-level", "info"]
        if conf_dir is not None:
            argv += ["--conf-dir", str(conf_dir)]
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        try:
            wait_for_port(self.port, 20.0, self.proc)
        except Exception:
            self.stop()
            raise

    @property
    def args(self) -> list[str]:
        """Command-line arguments every driver takes."""
        return ["--host", self.host, "--port", str(self.port), "--password", self.password]

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def problems(self) -> list[str]:
        """Tracebacks and errors the server logged."""
        return [line for line in self.log().splitlines() if "Traceback" in line or " ERROR " in line
                or " CRITICAL " in line]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


# --- monitor: an independent raw ESL connection the tests use to drive calls and watch events ---

Event = dict[str, str]


class Monitor:
    """A minimal blocking ESL client written against PROTOCOL.md, independent of src/."""

    def __init__(self, host: str, port: int, password: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=5)
        self.sock.settimeout(None)
        self._file = self.sock.makefile("rb")
        self._replies: queue.Queue[tuple[Event, str]] = queue.Queue()
        self._cond = threading.Condition()
        self.events: list[Event] = []
        self._thread = threading.Thread(target=self._reader, name="monitor", daemon=True)
        self._thread.start()
        greeting, _ = self._replies.get(timeout=5)
        assert greeting.get("Content-Type") == "auth/request", greeting
        reply = self.command(f"auth {password}")
        assert reply.get("Reply-Text") == "+OK accepted", reply

    def _read_frame(self) -> tuple[Event, str] | None:
        headers: Event = {}
        while True:
            line = self._file.readline()
            if not line:
                return None
            text = line.decode("utf-8", "replace").rstrip("\n")
            if text == "":
                if headers:
                    break
                continue
            name, _, value = text.partition(": ")
            headers[name] = value
        body = b""
        length = int(headers.get("Content-Length", "0") or 0)
        if length:
            body = self._file.read(length)
        return headers, body.decode("utf-8", "replace")

    @staticmethod
    def parse_plain(text: str) -> Event:
        head, _, rest = text.partition("\n\n")
        event: Event = {}
        for line in head.split("\n"):
            name, _, value = line.partition(": ")
            if name:
                event[name] = unquote(value)
        if "Content-Length" in event:
            event["_body"] = rest[: int(event["Content-Length"])]
        return event

    def _reader(self) -> None:
        while True:
            try:
                frame = self._read_frame()
            except (OSError, ValueError):
                frame = None
            if frame is None:
                with self._cond:
                    self._cond.notify_all()
                return
            headers, body = frame
            ctype = headers.get("Content-Type", "")
            if ctype == "text/event-plain":
                with self._cond:
                    self.events.append(self.parse_plain(body))
                    self._cond.notify_all()
            elif ctype in ("auth/request", "command/reply", "api/response"):
                self._replies.put((headers, body))

    def command(self, line: str, timeout: float = 10.0) -> Event:
        self.sock.sendall(f"{line}\n\n".encode())
        headers, _ = self._replies.get(timeout=timeout)
        return headers

    def api(self, line: str, timeout: float = 10.0) -> str:
        self.sock.sendall(f"api {line}\n\n".encode())
        _, body = self._replies.get(timeout=timeout)
        return body

    def subscribe(self, names: str = "CHANNEL_CREATE CHANNEL_ANSWER CHANNEL_PARK CHANNEL_EXECUTE "
                  "CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY "
                  "BACKGROUND_JOB") -> None:
        reply = self.command(f"event plain {names}")
        assert reply.get("Reply-Text", "").startswith("+OK"), reply

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 10.0) -> Event:
        deadline = time.monotonic() + timeout
        with self._cond:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("monitor: no matching event; saw "
                                       + ", ".join(e.get("Event-Name", "?") for e in self.events))
                self._cond.wait(left)

    def channel_events(self, unique_id: str) -> list[Event]:
        with self._cond:
            return [e for e in self.events if e.get("Unique-ID") == unique_id]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"exit\n\n")
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)


# --- drivers ---


@dataclass
class DriverRun:
    argv: Sequence[str]
    returncode: int | None
    output: str
    stderr: str
    server_log: str = ""
    steps: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for line in self.output.splitlines():
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[0] == "STEP":
                self.steps[parts[1]] = (parts[2], parts[3] if len(parts) > 3 else "")

    def report(self) -> str:
        return (f"driver {' '.join(map(str, self.argv))} exited {self.returncode}\n"
                f"--- stdout\n{self.output}--- stderr\n{self.stderr[-6000:]}"
                f"--- server log (tail)\n{self.server_log[-4000:]}")

    def detail(self, name: str) -> str:
        assert name in self.steps, f"step {name!r} not reached\n{self.report()}"
        return self.steps[name][1]

    def expect(self, *names: str) -> None:
        """Every named step printed ``ok`` (in the order given) and the driver exited 0."""
        for name in names:
            status, detail = self.steps.get(name, ("missing", ""))
            assert status == "ok", f"step {name!r}: {status} {detail}\n{self.report()}"
        order = [n for n in self.steps if n in names]
        assert order == list(names), f"steps out of order: {order}\n{self.report()}"
        assert self.returncode == 0, f"driver failed\n{self.report()}"


def driver_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONPATH", None)
    env.update(extra or {})
    return env


def run_driver(argv: Sequence[str | Path], timeout: float, server: ServerProcess | None = None) -> DriverRun:
    args = list(map(str, argv))
    try:
        proc = subprocess.run(args, capture_output=True, timeout=timeout, env=driver_env(),
                              stdin=subprocess.DEVNULL)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out, rc = exc.stdout or b"", None
        err = (exc.stderr or b"") + f"\n[timed out after {timeout} s]".encode()
    return DriverRun(args, rc, out.decode(errors="replace"), err.decode(errors="replace"),
                     server.log() if server else "")


class OutboundDriver:
    """A driver running its client's outbound server; the test sends one call to it."""

    def __init__(self, argv: Sequence[str | Path], server: ServerProcess) -> None:
        self.argv = list(map(str, argv))
        self.server = server
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, env=driver_env())
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._out: list[str] = []
        self._err: list[bytes] = []
        threading.Thread(target=self._pump_out, daemon=True).start()
        threading.Thread(target=self._pump_err, daemon=True).start()

    def _pump_out(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            self._out.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            self._err.append(raw)

    def wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None or line.startswith("STEP listen "):
                break
        if not line or not line.startswith("STEP listen ok"):
            run = self.finish(1.0)
            raise AssertionError(f"outbound server did not start listening\n{run.report()}")

    def finish(self, timeout: float) -> DriverRun:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            self._err.append(f"\n[killed after {timeout} s]".encode())
        time.sleep(0.05)
        return DriverRun(self.argv, self.proc.returncode, "".join(self._out), b"".join(self._err).decode(
            errors="replace"), self.server.log())


def of_channel(name: str, call: str) -> Callable[[Event], bool]:
    return lambda e: e.get("Event-Name") == name and e.get("Unique-ID") == call


def outbound_call(server: ServerProcess, monitor: Monitor, driver: Sequence[str], async_mode: bool = True,
                  via_dialplan: bool = False, timeout: float = 40.0) -> tuple[DriverRun, str]:
    """Start the client's outbound server, send it one call, and check the switch side.

    ``driver`` is the driver's command line up to its mode; the harness adds ``outbound``, a free
    ``--listen-port`` and the ``--socket-mode`` the connect reply must announce. The call is
    ``null/2000`` with ``&socket(127.0.0.1:<port> async full)`` (``full`` only, when not
    ``async_mode``); the client answers, plays a short silence and hangs up. Returns the driver
    run and the call's uuid.

    ``via_dialplan``: the call is ``null/2000 5000 XML default`` instead, and the XML dialplan's
    extension 5000 (``socket <ip>:<port> async full``) hands it over (the server must have been
    started with such a conf_dir, see the ``dialplan_server`` fixture).
    """
    if via_dialplan:
        assert server.dialplan_socket_port is not None and async_mode
        listen_port = server.dialplan_socket_port
    else:
        listen_port = free_port()
    argv = [*driver, "outbound", "--listen-port", str(listen_port),
            "--socket-mode", "async" if async_mode else "static"]
    flags = "async full" if async_mode else "full"
    process = OutboundDriver(argv, server)
    try:
        process.wait_listening(30.0)
        call = str(uuid.uuid4())
        monitor.subscribe()
        route = "5000 XML default" if via_dialplan else f"'&socket(127.0.0.1:{listen_port} {flags})'"
        reply = monitor.command(f"bgapi originate {{origination_uuid={call}}}null/2000 {route}")
        assert reply.get("Reply-Text", "").startswith("+OK Job-UUID"), reply
        run = process.finish(timeout)
    finally:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(5)
    run.expect(*OUTBOUND_STEPS)
    assert call in run.detail("connect"), run.report()
    assert run.detail("answer") == "CHANNEL_EXECUTE_COMPLETE", run.report()
    assert run.detail("playback") == "FILE PLAYED", run.report()

    # the switch side: the client's commands ran on the call, and it was hung up normally
    def completed(app: str) -> Callable[[Event], bool]:
        return lambda e: (e.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" and e.get("Unique-ID") == call
                          and e.get("Application") == app)
    try:
        if async_mode:  # the socket application parks the channel once "connect" arrives (async only)
            monitor.wait_for(of_channel("CHANNEL_PARK", call), 5)
        monitor.wait_for(completed("answer"), 5)
        playback = monitor.wait_for(completed("playback"), 5)
        hangup = monitor.wait_for(of_channel("CHANNEL_HANGUP", call), 5)
        monitor.wait_for(of_channel("CHANNEL_HANGUP_COMPLETE", call), 5)
    except TimeoutError as exc:
        names = [f"{e.get('Event-Name')}:{e.get('Application', '')}" for e in monitor.channel_events(call)]
        raise AssertionError(f"{exc}\nevents of {call}: {names}\n{run.report()}") from None
    assert playback.get("Application-Response") == "FILE PLAYED", playback
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING", hangup
    return run, call


def check_inbound(run: DriverRun) -> None:
    """The assertions every client's inbound run shares."""
    run.expect(*INBOUND_STEPS)
    assert run.detail("api").startswith("UP "), run.report()
    job, _, result = run.detail("bgapi").partition(" ")
    assert job and result, run.report()
    assert run.detail("events").split()[:2] == ["CHANNEL_ANSWER", "CHANNEL_PARK"], run.report()
    assert "leaked=0" in run.detail("filter"), run.report()
    assert run.detail("execute").startswith("playback FILE PLAYED"), run.report()
    assert run.detail("kill").split()[-1] == "NORMAL_CLEARING", run.report()
