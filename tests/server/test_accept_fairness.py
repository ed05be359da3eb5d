"""New clients are accepted and greeted promptly however busy the loop is (issue 11, item 8).

libuv (under uvloop) accepts one connection per loop iteration, so when the loop is busy
new clients wait in the backlog, overflow it and then wait for TCP's SYN retries: seconds.
The listener accepts every waiting client at once and greets it there. Measured in loop
iterations, not in time: clients that connected while the loop was busy are all greeted
within a few iterations.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable

import pytest
import uvloop

from esl_harness import start_harness, stop_harness

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
CLIENTS = 60
GREETING = b"Content-Type: auth/request\n\n"


def run_on(loop_name: str, main: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as runner:
        runner.run(asyncio.wait_for(main(), 60))


def greeted(sock: socket.socket) -> bool:
    try:
        return sock.recv(len(GREETING), socket.MSG_PEEK | socket.MSG_DONTWAIT) == GREETING
    except BlockingIOError:
        return False


@pytest.mark.parametrize("loop", list(LOOPS))
def test_clients_that_connect_while_the_loop_is_busy_are_greeted_within_a_few_iterations(loop: str) -> None:
    async def main() -> None:
        harness = await start_harness()
        clients: list[socket.socket] = []
        try:
            # the loop is busy (this coroutine does not yield) while all of them connect;
            # the kernel completes their handshakes into the backlog
            for _ in range(CLIENTS):
                sock = socket.create_connection(("127.0.0.1", harness.port))
                clients.append(sock)
            iterations = 0
            while not all(greeted(sock) for sock in clients):
                iterations += 1
                assert iterations <= 200, "clients were never greeted"
                await asyncio.sleep(0)  # one loop iteration
            assert iterations <= 10, f"{iterations} loop iterations to greet {CLIENTS} waiting clients"
        finally:
            for sock in clients:
                sock.close()
            await stop_harness(harness)

    run_on(loop, main)
