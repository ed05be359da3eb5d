"""A failed outbound connect, of any kind, ends the channel under both event loops (issue 11, item 2).

uvloop builds the protocol object before the connection exists; a session held from
there was never released when the connect failed, so the channel stayed in CS_REPORTING
forever. Each case here places a call on ``socket`` towards a target that fails in one
way and checks the channel is destroyed, with the hangup cause the dialplan gives it.
``uuid_kill`` and ``hupall`` end a channel in any state, even one a socket still holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvloop

from esl_harness import Harness, start_harness, stop_harness
from eventsocket.protocol.events import Event
from eventsocket.server.settings import EventSocketSettings

LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


def run_on(loop_name: str, main: Callable[[], Awaitable[None]]) -> None:
    with asyncio.Runner(loop_factory=LOOPS[loop_name]) as runner:
        runner.run(asyncio.wait_for(main(), 30))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def target(behaviour: str) -> AsyncIterator[tuple[str, int]]:
    """A host:port that fails the way ``behaviour`` says once the switch connects."""
    if behaviour == "refused":
        yield "127.0.0.1", closed_port()
        return
    if behaviour == "dns":
        yield "no-such-host.invalid", 8084
        return
    if behaviour == "timeout":
        # a listener whose accept queue is full: further SYNs are not answered
        with socket.socket() as full:
            full.bind(("127.0.0.1", 0))
            full.listen(0)
            fillers = []
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                with contextlib.suppress(BlockingIOError, OSError):
                    filler.connect(full.getsockname())
                fillers.append(filler)
            try:
                yield "127.0.0.1", int(full.getsockname()[1])
            finally:
                for filler in fillers:
                    filler.close()
        return

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if behaviour == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if behaviour == "garbage":
            writer.write(b"\x00\xff garbage without an end")
        elif behaviour == "bad-length":
            writer.write(b"connect\nContent-Length: -3\n\n")
        await reader.read()  # silence (or after the garbage) until the switch closes
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    try:
        yield "127.0.0.1", int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def placed(harness: Harness, host: str, port: int) -> tuple[str, list[Event]]:
    events: list[Event] = []
    harness.core.bus.subscribe(events.append)
    out = await harness.core.execute_api("originate", f"null/1000 '&socket({host}:{port} async full)'")
    assert out is not None and out.startswith("+OK "), out
    return out[4:].strip(), events


async def destroyed(harness: Harness, uuid: str, events: list[Event]) -> list[str]:
    """The channel's event names once it is gone (CHANNEL_DESTROY fired, no longer listed)."""

    def names() -> list[str]:
        return [e.name for e in events if e.get("Unique-ID") == uuid]

    while harness.core.calls.get(uuid) is not None or "CHANNEL_DESTROY" not in names():
        await asyncio.sleep(0.02)
    return names()


SETTINGS = EventSocketSettings(
    listen_ip="127.0.0.1", listen_port=0, first_packet_timeout=0.3, outbound_connect_timeout=0.3
)


FAILURES = ["refused", "dns", "timeout", "reset", "silence", "garbage", "bad-length"]


@pytest.mark.parametrize("loop", list(LOOPS))
@pytest.mark.parametrize("behaviour", FAILURES)
def test_a_failed_outbound_connect_ends_the_channel(loop: str, behaviour: str) -> None:
    async def main() -> None:
        harness = await start_harness(SETTINGS)
        try:
            async with target(behaviour) as (host, port):
                uuid, events = await placed(harness, host, port)
                names = await destroyed(harness, uuid, events)
            assert "CHANNEL_HANGUP_COMPLETE" in names, names
            hangup = next(e for e in events if e.name == "CHANNEL_HANGUP" and e.get("Unique-ID") == uuid)
            assert hangup["Hangup-Cause"] == "NORMAL_CLEARING"  # the dialplan ran out, as in FreeSWITCH
            assert not harness.server.connections
            status = await harness.core.execute_api("show", "channels count")
            assert status is not None and status.strip().startswith("0 total"), status
        finally:
            await stop_harness(harness)

    run_on(loop, main)


@pytest.mark.parametrize("loop", list(LOOPS))
@pytest.mark.parametrize("command", ["uuid_kill", "hupall"])
def test_kill_ends_a_channel_a_lingering_socket_holds(loop: str, command: str) -> None:
    async def main() -> None:
        harness = await start_harness(SETTINGS)
        try:
            events: list[Event] = []
            harness.core.bus.subscribe(events.append)
            out = await harness.core.execute_api("originate", "null/1000 &park")
            assert out is not None and out.startswith("+OK ")
            uuid = out[4:].strip()
            holder = await harness.client()
            assert (await holder.command(f"myevents {uuid}")).reply_text == "+OK Events Enabled"
            assert (await holder.command("linger")).reply_text == "+OK will linger"
            await harness.core.execute_api("uuid_kill", uuid)
            await holder.recv_until(lambda f: f.get("Content-Disposition") == "linger")
            assert harness.core.calls.get(uuid) is not None  # held by the lingering socket
            args = uuid if command == "uuid_kill" else ""
            assert (await harness.core.execute_api(command, args) or "").startswith("+OK")
            assert "CHANNEL_DESTROY" in await destroyed(harness, uuid, events)
        finally:
            await stop_harness(harness)

    run_on(loop, main)
