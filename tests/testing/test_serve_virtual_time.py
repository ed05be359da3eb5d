"""``eventsocket serve --virtual-time`` as a new user runs it: the clock waits for clients in other processes.

The clients here are blocking sockets in this process, the server another process; each
client reacts 10 ms (real) after the event it waits for, as an application would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventsocket.testing import free_port

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def served() -> Iterator[int]:
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "eventsocket.cli.main", "serve", "--virtual-time", "--listen-port", str(port),
         "--heartbeat", "1", "--log-level", "warning"],
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


class Client:
    """A blocking ESL client that reads frames into a buffer."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = bytearray()
        self.until(b"\n\n")
        self.sock.sendall(b"auth ClueCon\n\n")
        self.until(b"Reply-Text: +OK accepted\n\n")

    def until(self, marker: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf.extend(chunk)
        end = self.buf.index(marker) + len(marker)
        out = bytes(self.buf[:end])
        del self.buf[:end]
        return out

    def api(self, command: str) -> str:
        self.sock.sendall(f"api {command}\n\n".encode())
        head = self.until(b"Content-Type: api/response\n")
        del head
        header = self.until(b"\n\n")
        length = int(header.split(b"Content-Length: ")[1].split(b"\n")[0])
        while len(self.buf) < length:
            self.buf.extend(self.sock.recv(65536))
        body = bytes(self.buf[:length]).decode()
        del self.buf[:length]
        return body

    def close(self) -> None:
        self.sock.close()


def test_an_idle_server_ages_in_real_time(served: int) -> None:
    client = Client(served)
    try:
        client.sock.sendall(b"event plain HEARTBEAT\n\n")
        client.until(b"\n\n")
        time.sleep(1.5)
        client.sock.settimeout(0.2)
        try:
            while chunk := client.sock.recv(65536):
                client.buf.extend(chunk)
        except TimeoutError:
            pass
        heartbeats = bytes(client.buf).count(b"Event-Name: HEARTBEAT")
        client.buf.clear()
        assert heartbeats <= 3  # one a second of real time, not hundreds
        client.sock.sendall(b"noevents\n\n")
        client.until(b"\n\n")
        status = client.api("status")
        assert "0 days, 0 hours, 0 minutes" in status, status
    finally:
        client.close()


def test_a_client_reacting_after_answer_finds_the_call(served: int) -> None:
    client = Client(served)
    try:
        client.sock.sendall(b"event plain CHANNEL_ANSWER\n\n")
        client.until(b"\n\n")
        uuid = "1c0ffee0-0000-4000-8000-00000000a001"
        client.sock.sendall(
            f"bgapi originate {{origination_uuid={uuid},sim_ring_ms=2000,sim_hangup_ms=3000}}sim/1000 "
            f"&park()\n\n".encode()
        )
        client.until(b"CHANNEL_ANSWER")
        time.sleep(0.01)
        assert client.api(f"uuid_exists {uuid}") == "true"
    finally:
        client.close()


def test_digits_sent_while_the_prompt_plays_arrive_in_time(served: int) -> None:
    client = Client(served)
    try:
        client.sock.sendall(b"event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE\n\n")
        client.until(b"\n\n")
        uuid = "1c0ffee0-0000-4000-8000-00000000a002"
        client.sock.sendall(
            f"bgapi originate {{origination_uuid={uuid}}}sim/1000 '&play_and_get_digits(1 1 1 17000 # "
            f"silence_stream://17000 silence_stream://250 choice \\d)'\n\n".encode()
        )
        client.until(b"Application: play_and_get_digits")
        time.sleep(0.01)
        assert client.api(f"uuid_recv_dtmf {uuid} 5").startswith("+OK")
        client.until(b"Event-Name: CHANNEL_EXECUTE_COMPLETE")
        event = client.until(b"\n\n")
        assert b"variable_choice: 5" in event, event.decode()
    finally:
        client.close()
