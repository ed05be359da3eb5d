"""Backpressure on replies (issue 11, item 1), under asyncio and uvloop.

A client that pipelines requests and never reads the replies must not make the server
queue replies without bound: the connection stops reading while its unsent bytes pass a
bound, and resumes when the client drains. Other clients are served meanwhile, and the
flooder gets every reply, in order, once it reads.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvloop

from esl_harness import Harness, start_harness, stop_harness
from eventsocket.protocol.framing import FrameParser
from eventsocket.server.connection import TURN_BYTES, WRITE_HIGH_WATER

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
REQUESTS = 4000  # ~12 MB of `show api` replies
#: what one connection may hold for a client that does not read: the write buffer's high-water
#: mark, one turn of replies and the largest single reply, with room to spare
BOUND = WRITE_HIGH_WATER + TURN_BYTES + 1024 * 1024


def run_on(loop_name: str, main: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as runner:
        runner.run(asyncio.wait_for(main(), 60))


def held_by(conn: Any) -> int:
    """Bytes the server holds for one connection: unsent output and unparsed input."""
    transport = conn.transport
    buffered = transport.get_write_buffer_size() if transport is not None else 0
    return int(buffered + conn.core.outbox_size + conn.core.parser.buffered)


async def flooder(harness: Harness) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, Any]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    sock.connect(("127.0.0.1", harness.port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    await reader.readuntil(b"\n\n")
    writer.write(b"auth ClueCon\n\n")
    assert b"+OK accepted" in await reader.readuntil(b"\n\n")
    port = sock.getsockname()[1]
    conn = next(c for c in harness.server.connections if c.peer[1] == port)
    return reader, writer, conn


@pytest.mark.parametrize("loop", list(LOOPS))
def test_a_client_that_does_not_read_is_held_to_a_bound(loop: str) -> None:
    async def main() -> None:
        harness = await start_harness()
        try:
            reader, writer, conn = await flooder(harness)
            packet = b"api show api\n\n"

            async def send_all() -> None:
                for start in range(0, REQUESTS, 500):
                    writer.write(packet * min(500, REQUESTS - start))
                    await writer.drain()

            sending = asyncio.ensure_future(send_all())
            most = 0
            while not conn._reading_paused and most <= BOUND and not sending.done():
                most = max(most, held_by(conn))
                await asyncio.sleep(0.005)
            for _ in range(40):  # the server stays within the bound while the client does not read
                most = max(most, held_by(conn))
                await asyncio.sleep(0.005)
            assert most <= BOUND, f"{most} bytes held for a client that does not read"
            assert conn._reading_paused
            # another client is served meanwhile
            other = await harness.client()
            status = await other.command("api status")
            assert status.content_type == "api/response" and b"UP " in status.body
            # the flooder reads at last: every reply, in order
            parser = FrameParser()
            got = 0
            while got < REQUESTS:
                chunk = await reader.read(1 << 20)
                assert chunk, "closed early"
                for frame in parser.feed(chunk):
                    assert frame.content_type == "api/response" and frame.body.startswith(b"name,")
                    got += 1
            await sending
            writer.close()
        finally:
            await stop_harness(harness)

    run_on(loop, main)
