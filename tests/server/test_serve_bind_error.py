"""``eventsocket serve`` on a port already in use: one line naming the port and the flag, then exit 1
(issue 11, item 7). FreeSWITCH's endless retry stays available as ``retry-on-bind-error``."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

from eventsocket.server.listener import BindError, EventSocketServer
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.builder import build_switch

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_serve_on_a_busy_port_says_so_and_exits() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        env = dict(os.environ, PYTHONPATH=SRC)
        proc = subprocess.run(
            [sys.executable, "-m", "eventsocket.cli.main", "serve", "--listen-ip", "127.0.0.1",
             "--listen-port", str(port), "--heartbeat", "0"],
            capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1, proc.stderr
    assert f"port {port}" in errors[0] and "--listen-port" in errors[0] and "in use" in errors[0]


def test_retry_on_bind_error_waits_for_the_port() -> None:
    async def main() -> None:
        busy = socket.socket()
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        settings = EventSocketSettings(listen_ip="127.0.0.1", listen_port=port, retry_on_bind_error=True)
        server = EventSocketServer(build_switch(heartbeat_interval=0), settings)
        starting = asyncio.ensure_future(server.start())
        await asyncio.sleep(0.3)
        assert not starting.done()  # still retrying, as FreeSWITCH does
        busy.close()
        await asyncio.wait_for(starting, 10)
        assert server.port == port
        await server.stop()
        # and without the option, the same situation is an error at once
        plain = EventSocketServer(build_switch(heartbeat_interval=0), settings)
        plain.settings = EventSocketSettings(listen_ip="127.0.0.1", listen_port=port)
        blocker = EventSocketServer(build_switch(heartbeat_interval=0), plain.settings)
        await blocker.start()
        try:
            try:
                await plain.start()
            except BindError as exc:
                assert f"port {port}" in str(exc.strerror)
            else:
                raise AssertionError("bound a port in use")
        finally:
            await blocker.stop()

    asyncio.run(main())


def test_the_option_is_read_from_event_socket_conf(tmp_path: Path) -> None:
    from test_settings import conf_with, param

    assert EventSocketSettings.from_conf(conf_with(tmp_path, "")).retry_on_bind_error is False
    on = conf_with(tmp_path, param("retry-on-bind-error", "true"))
    assert EventSocketSettings.from_conf(on).retry_on_bind_error is True
