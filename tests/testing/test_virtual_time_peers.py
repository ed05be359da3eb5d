"""Virtual time waits for the application: peers in other threads, periodic timers, the clock by hand.

The switch runs on a virtual-time loop; the clients here are blocking sockets in a thread,
as an application in another process would be, and react after real delays.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from eventsocket.server.listener import EventSocketServer
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.builder import Switch, build_switch
from eventsocket.switch.config import ConfDir
from eventsocket.switch.virtualtime import VirtualClock, install, run_virtual, virtual_time_of


def _read_until(sock: socket.socket, buf: bytearray, marker: bytes, timeout: float = 10.0) -> bytes:
    """Read until ``marker`` is in the buffer; returns everything up to and including it."""
    deadline = time.monotonic() + timeout
    while marker not in buf:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf.extend(chunk)
    end = buf.index(marker) + len(marker)
    out = bytes(buf[:end])
    del buf[:end]
    return out


async def _serve(heartbeat: float = 0) -> tuple[Switch, EventSocketServer]:
    core = build_switch(ConfDir.load(), clock=VirtualClock(), heartbeat_interval=heartbeat)
    settings = EventSocketSettings(listen_ip="127.0.0.1", listen_port=0)
    server = EventSocketServer(core, settings)
    await server.start()
    await core.start()
    return core, server


def test_a_client_in_another_thread_reacts_before_the_far_end_hangs_up() -> None:
    # The far end answers after 2 s and hangs up 3 s later. The client kills nothing: it
    # asks for the channel 10 ms (real) after CHANNEL_ANSWER, which must still exist.
    results: list[str] = []

    def client(port: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            buf = bytearray()
            _read_until(sock, buf, b"\n\n")
            sock.sendall(b"auth ClueCon\n\n")
            _read_until(sock, buf, b"Reply-Text: +OK accepted\n\n")
            sock.sendall(b"event plain CHANNEL_ANSWER\n\n")
            _read_until(sock, buf, b"\n\n")
            sock.sendall(
                b"bgapi originate {origination_uuid=1c0ffee0-0000-4000-8000-000000000001,"
                b"sim_ring_ms=2000,sim_hangup_ms=3000}sim/1000 &park\n\n"
            )
            _read_until(sock, buf, b"CHANNEL_ANSWER")
            time.sleep(0.01)
            sock.sendall(b"api uuid_exists 1c0ffee0-0000-4000-8000-000000000001\n\n")
            while True:
                frame = _read_until(sock, buf, b"\n\n")
                if b"api/response" in frame:
                    length = int(frame.split(b"Content-Length: ")[1].split(b"\n")[0])
                    while len(buf) < length:
                        buf.extend(sock.recv(65536))
                    results.append(bytes(buf[:length]).decode())
                    return

    async def main() -> None:
        core, server = await _serve()
        loop = asyncio.get_running_loop()
        done = asyncio.Event()

        def run() -> None:
            try:
                client(server.port)
            finally:
                loop.call_soon_threadsafe(done.set)

        threading.Thread(target=run).start()
        await done.wait()  # no timer of ours: only the far end's would make the clock jump
        await server.stop()
        await core.stop()

    run_virtual(main())
    assert results == ["true"]


def test_heartbeats_alone_never_make_the_clock_jump() -> None:
    async def main() -> tuple[float, int]:
        core, server = await _serve(heartbeat=20)
        events: list[str] = []
        core.bus.subscribe(lambda event: events.append(event.name))
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.to_thread(time.sleep, 0.3)  # idle, apart from the heartbeat timer
        jumped = loop.time() - start
        await server.stop()
        await core.stop()
        return jumped, events.count("HEARTBEAT")

    jumped, heartbeats = run_virtual(main())
    assert heartbeats == 0
    assert jumped < 20


def test_heartbeats_come_along_while_calls_need_time() -> None:
    async def main() -> int:
        core, server = await _serve(heartbeat=20)
        events: list[str] = []
        core.bus.subscribe(lambda event: events.append(event.name))
        await asyncio.sleep(65)  # a foreground wait: the heartbeats on the way fire
        await server.stop()
        await core.stop()
        return events.count("HEARTBEAT")

    assert run_virtual(main()) == 3


def test_pause_resume_and_advance_on_an_installed_loop() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        vt = install(loop, grace=0, window=0)
        assert virtual_time_of(loop) is vt
        assert install(loop) is vt
        start = loop.time()
        await asyncio.sleep(100)
        assert loop.time() - start >= 100
        vt.pause()
        sleeper = asyncio.ensure_future(asyncio.sleep(50))
        await asyncio.sleep(0)
        vt.advance(50)
        await sleeper  # due by hand, though paused
        vt.resume()
        await asyncio.sleep(1000)
        assert loop.time() - start >= 1150

    with asyncio.Runner() as runner:
        runner.run(main())
