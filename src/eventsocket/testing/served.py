"""The switch as a subprocess (``@pytest.mark.eventsocket(subprocess=True)``): ``eventsocket serve``.

For applications that must not share the test's process or loop (a blocking client, a
program run as a command), or to test against exactly what users run. The test speaks to
it over the event socket, as :class:`~eventsocket.testing.remote.RemoteSwitch` does, and
changes its conf_dir as it would change FreeSWITCH's: ``dialplan.add`` and
``directory.add_user`` write the files and send ``reloadxml``. On virtual time the server
waits its quiet window after each exchange with a client (``window``), since every client
is in another process.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time
from pathlib import Path

from eventsocket.protocol.framing import FrameParser
from eventsocket.protocol.message import Frame
from eventsocket.testing.remote import RemoteSwitch
from eventsocket.testing.switch import Dialplan, Directory, free_port

__all__ = ["ServedSwitch"]


class ServedSwitch(RemoteSwitch):
    """``eventsocket serve`` on ``conf_dir`` in a child process, recorded over its event socket."""

    kind = "subprocess"

    def __init__(
        self,
        conf_dir: Path,
        *,
        virtual_time: bool = True,
        port: int = 0,
        password: str = "ClueCon",
        heartbeat: float = 20.0,
        window: float = 0.1,
    ) -> None:
        super().__init__("127.0.0.1", port or free_port(), password)
        self.conf_dir = conf_dir
        self.virtual_time = virtual_time
        self.heartbeat = heartbeat
        self.window = window
        self.log_path = conf_dir.parent / "eventsocket_serve.log"
        self.dialplan = Dialplan(conf_dir, self.reload_xml)  # type: ignore[assignment]
        self.directory = Directory(conf_dir, self.reload_xml, self._domain)  # type: ignore[assignment]
        self.process: asyncio.subprocess.Process | None = None

    def __repr__(self) -> str:
        return f"<ServedSwitch {self.host}:{self.port} conf_dir={self.conf_dir}>"

    async def start(self) -> None:
        if self.process is not None:
            return
        command = [
            sys.executable, "-m", "eventsocket.cli.main", "serve",
            "--conf-dir", str(self.conf_dir), "--listen-ip", self.host, "--listen-port", str(self.port),
            "--password", self.password, "--heartbeat", str(self.heartbeat), "--log-level", "warning",
        ]
        if self.virtual_time:
            command += ["--virtual-time", "--quiet-window", str(self.window)]
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(*command, stdout=log, stderr=log)
        deadline = time.monotonic() + 30.0
        while True:
            try:
                _reader, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if self.process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"eventsocket serve did not start: {self.log_path.read_text()[-2000:]}"
                    ) from None
                await asyncio.sleep(0.05)
                continue
            writer.close()
            break
        await super().start()

    async def stop(self) -> None:
        try:
            await super().stop()
        finally:
            process, self.process = self.process, None
            if process is not None and process.returncode is None:
                process.terminate()
                try:
                    await asyncio.wait_for(process.wait(), 10.0)
                except TimeoutError:
                    process.kill()
                    await process.wait()

    # -- configuration, over a short blocking connection ------------------------------------------

    def _api(self, command: str) -> str:
        """One ``api`` command on a connection of its own (the server is another process)."""
        with socket.create_connection((self.host, self.port), timeout=10.0) as sock:
            parser = FrameParser()
            frames: list[Frame] = []

            def next_frame() -> Frame:
                while not frames:
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise ConnectionError("closed by the server")
                    frames.extend(parser.feed(chunk))
                return frames.pop(0)

            next_frame()  # auth/request
            sock.sendall(f"auth {self.password}\n\n".encode())
            next_frame()
            sock.sendall(f"api {command}\n\n".encode())
            frame = next_frame()
            return frame.text

    def reload_xml(self) -> None:
        outcome = self._api("reloadxml")
        if not outcome.startswith("+OK [Success]"):
            raise RuntimeError(f"reloadxml: {outcome.strip()}")

    def _domain(self) -> dict[str, str]:
        return {"domain": self._api("global_getvar domain").strip()}
