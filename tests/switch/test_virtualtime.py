"""The virtual-time event loop: timers jump ahead when idle, sockets keep working.

Each test builds its own loop (``run_virtual`` or ``asyncio.Runner``) instead of using
pytest-asyncio's, since the loop class is what is under test. The real-time bounds are
loose on purpose: they check that time jumped, not how fast the machine is.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from eventsocket.switch.clock import Clock
from eventsocket.switch.virtualtime import (
    DEFAULT_GRACE,
    VirtualClock,
    VirtualTimeLoop,
    VirtualTimePolicy,
    new_virtual_loop,
    run_virtual,
    virtual_loop_factory,
)

REAL_BOUND = 5.0  # seconds of real time a test may take; the virtual spans are far longer


def test_long_sleep_completes_at_once() -> None:
    async def main() -> tuple[float, float]:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        start = loop.time()
        await asyncio.sleep(3600)
        return start, loop.time()

    real = time.perf_counter()
    start, end = run_virtual(main())
    assert time.perf_counter() - real < REAL_BOUND
    assert 3600 <= end - start < 3600 + REAL_BOUND


def test_sleep_beyond_the_maximum_select_timeout() -> None:
    # asyncio caps one select() at a day; a week is several jumps
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.sleep(7 * 86400)
        return loop.time() - start

    real = time.perf_counter()
    assert 7 * 86400 <= run_virtual(main()) < 7 * 86400 + REAL_BOUND
    assert time.perf_counter() - real < REAL_BOUND


def test_sleepers_wake_in_order() -> None:
    async def main() -> list[int]:
        woke: list[int] = []

        async def sleeper(n: int) -> None:
            await asyncio.sleep(n * 10)
            woke.append(n)

        await asyncio.gather(*(sleeper(n) for n in (5, 1, 4, 2, 3, 7, 6)))
        return woke

    assert run_virtual(main()) == [1, 2, 3, 4, 5, 6, 7]


def test_call_later_and_call_at_in_order() -> None:
    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        fired: list[tuple[str, float]] = []
        done = loop.create_future()

        def record(name: str) -> None:
            fired.append((name, loop.time() - start))
            if len(fired) == 4:
                done.set_result(None)

        loop.call_later(30, record, "c")
        loop.call_at(start + 10, record, "a")
        loop.call_later(20, record, "b")
        handle = loop.call_later(25, record, "cancelled")
        loop.call_later(40, record, "d")
        handle.cancel()
        await done
        return fired

    fired = run_virtual(main())
    assert [name for name, _ in fired] == ["a", "b", "c", "d"]
    for (_, at), expected in zip(fired, (10, 20, 30, 40), strict=True):
        assert expected <= at < expected + 1


def test_wait_for_times_out_in_virtual_time() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), timeout=30)
        return loop.time() - start

    real = time.perf_counter()
    assert 30 <= run_virtual(main()) < 30 + REAL_BOUND
    assert time.perf_counter() - real < REAL_BOUND


def test_wait_for_result_before_its_timeout() -> None:
    async def main() -> str:
        async def answer() -> str:
            await asyncio.sleep(59)
            return "answered"

        return await asyncio.wait_for(answer(), timeout=60)

    assert run_virtual(main()) == "answered"


def test_asyncio_timeout_context() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(90):
                await asyncio.sleep(3600)
        return loop.time() - start

    assert 90 <= run_virtual(main()) < 90 + REAL_BOUND


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
    finally:
        writer.close()


def test_tcp_echo_while_a_long_sleep_runs() -> None:
    async def main() -> tuple[list[bytes], float, bool]:
        loop = asyncio.get_running_loop()
        server = await asyncio.start_server(_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        start = loop.time()
        sleeper = asyncio.ensure_future(asyncio.sleep(3600))
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        replies = []
        for i in range(50):
            line = f"message {i} {'x' * i}\n".encode()
            writer.write(line)
            await writer.drain()
            replies.append(await reader.readline())
        writer.close()
        await writer.wait_closed()
        await sleeper
        elapsed = loop.time() - start
        server.close()
        await server.wait_closed()
        return replies, elapsed, sleeper.done()

    real = time.perf_counter()
    replies, elapsed, slept = run_virtual(main())
    assert replies == [f"message {i} {'x' * i}\n".encode() for i in range(50)]
    assert slept
    assert elapsed >= 3600
    assert time.perf_counter() - real < REAL_BOUND


def test_tcp_exchange_with_timed_steps() -> None:
    # a server that waits 30 virtual seconds before each reply, as a slow far end would
    finished: list[asyncio.Event] = []

    async def slow_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            await asyncio.sleep(30)
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        finished[0].set()

    async def main() -> tuple[list[bytes], float]:
        finished.append(asyncio.Event())
        loop = asyncio.get_running_loop()
        server = await asyncio.start_server(slow_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = loop.time()
        replies = []
        for word in (b"one\n", b"two\n", b"three\n"):
            writer.write(word)
            replies.append(await asyncio.wait_for(reader.readline(), timeout=31))
        elapsed = loop.time() - start
        writer.close()
        await writer.wait_closed()
        await finished[0].wait()
        server.close()
        await server.wait_closed()
        return replies, elapsed

    real = time.perf_counter()
    replies, elapsed = run_virtual(main())
    assert replies == [b"ONE\n", b"TWO\n", b"THREE\n"]
    assert 90 <= elapsed < 90 + REAL_BOUND
    assert time.perf_counter() - real < REAL_BOUND


def test_blocking_client_in_another_thread() -> None:
    # with no timers pending the loop blocks on I/O as usual, so a client outside the
    # loop (here a thread with a blocking socket) is served normally
    async def main() -> bytes:
        finished = asyncio.Event()

        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await _echo(reader, writer)
            await writer.wait_closed()
            finished.set()

        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        received: list[bytes] = []

        def client() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=REAL_BOUND) as sock:
                sock.sendall(b"ping\n")
                received.append(sock.recv(100))

        thread = threading.Thread(target=client)
        thread.start()
        await finished.wait()  # nothing scheduled: the loop waits on the sockets
        thread.join()
        server.close()
        await server.wait_closed()
        return received[0]

    assert run_virtual(main()) == b"ping\n"


def test_executor_work_holds_time_back() -> None:
    # the executor's result comes back through the loop: time must not jump meanwhile,
    # or this wait_for would time out before the thread finished
    async def main() -> str:
        loop = asyncio.get_running_loop()

        def slow() -> str:
            time.sleep(0.05)
            return "done"

        result = await asyncio.wait_for(loop.run_in_executor(None, slow), timeout=1)
        assert await asyncio.wait_for(asyncio.to_thread(slow), timeout=1) == "done"
        return result

    assert run_virtual(main()) == "done"


def test_jumps_resume_after_executor_work() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, time.sleep, 0.01)
        start = loop.time()
        await asyncio.sleep(600)
        return loop.time() - start

    real = time.perf_counter()
    assert run_virtual(main()) >= 600
    assert time.perf_counter() - real < REAL_BOUND


def test_virtual_clock_follows_the_loop() -> None:
    async def main() -> tuple[float, float, float, float]:
        loop = asyncio.get_running_loop()
        clock = VirtualClock()
        assert clock.loop is loop
        wall0, mono0 = clock.time(), clock.monotonic()
        assert mono0 == pytest.approx(loop.time(), abs=0.01)
        await clock.sleep(10)
        await asyncio.sleep(50)
        return wall0, clock.time(), mono0, clock.monotonic()

    before = time.time()
    wall0, wall1, mono0, mono1 = run_virtual(main())
    assert before - 1 <= wall0 <= time.time() + 1  # starts at the real wall clock
    assert 60 <= wall1 - wall0 < 60 + REAL_BOUND
    assert 60 <= mono1 - mono0 < 60 + REAL_BOUND
    assert (wall1 - wall0) == pytest.approx(mono1 - mono0, abs=1e-3)


def test_virtual_clock_call_later_and_fixed_epoch() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        clock = VirtualClock(loop, epoch=1_700_000_000.0)
        assert clock.epoch == 1_700_000_000.0
        fired: asyncio.Future[float] = loop.create_future()
        clock.call_later(120, lambda: fired.set_result(clock.time()))
        return await fired

    assert 1_700_000_120.0 <= run_virtual(main()) < 1_700_000_120.0 + REAL_BOUND


def test_virtual_clock_made_before_the_loop_binds_on_first_use() -> None:
    clock = VirtualClock(epoch=1000.0)
    assert isinstance(clock, Clock)
    assert clock.loop is None
    assert clock.time() == 1000.0  # no loop yet: time stands still

    async def main() -> float:
        assert clock.time() == pytest.approx(1000.0, abs=0.01)
        await asyncio.sleep(300)
        return clock.time()

    assert 1300.0 <= run_virtual(main()) < 1300.0 + REAL_BOUND


def test_runner_with_loop_factory_and_grace() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        assert loop.grace == 0.0
        start = loop.time()
        await asyncio.sleep(1000)
        return loop.time() - start

    with asyncio.Runner(loop_factory=virtual_loop_factory(grace=0.0)) as runner:
        assert runner.run(main()) >= 1000


def test_policy_creates_virtual_loops() -> None:
    policy = VirtualTimePolicy(grace=0.001)
    loop = policy.new_event_loop()
    try:
        assert isinstance(loop, VirtualTimeLoop)
        assert loop.grace == 0.001
        start = loop.time()
        loop.run_until_complete(asyncio.sleep(42))
        assert loop.time() - start >= 42
    finally:
        loop.close()


def test_new_virtual_loop_and_manual_advance() -> None:
    loop = new_virtual_loop()
    try:
        assert loop.grace == DEFAULT_GRACE
        assert loop.offset == 0.0
        before = loop.time()
        loop.advance(100)
        loop.advance(-5)  # never backwards
        assert loop.offset == 100
        assert loop.time() - before >= 100

        async def main() -> float:
            start = loop.time()
            await asyncio.sleep(5)
            return loop.time() - start

        assert loop.run_until_complete(main()) >= 5
        assert loop.offset >= 105 - 0.1  # real time spent polling counts as time too
    finally:
        loop.close()


def test_negative_grace_is_rejected() -> None:
    with pytest.raises(ValueError):
        VirtualTimeLoop(grace=-1)


def test_a_long_simulated_call_timeline() -> None:
    # the shape of a switch-core call: ring, answer, play, hang up, all on timers. Real
    # time the loop spends working passes too, so the 20 ms ticks drift by a little.
    async def main() -> list[tuple[str, float]]:
        clock = VirtualClock()
        t0 = clock.monotonic()
        log: list[tuple[str, float]] = []

        async def leg(name: str, ring: float, talk: float) -> None:
            await clock.sleep(ring)
            log.append((f"{name} answer", clock.monotonic() - t0))
            for _ in range(int(talk / 0.02)):  # 20 ms media ticks
                await clock.sleep(0.02)
            log.append((f"{name} hangup", clock.monotonic() - t0))

        await asyncio.gather(leg("a", 5, 25), leg("b", 12, 60))
        return log

    real = time.perf_counter()
    log = run_virtual(main(), grace=0.0)
    assert time.perf_counter() - real < REAL_BOUND
    assert [name for name, _ in log] == ["a answer", "b answer", "a hangup", "b hangup"]
    for (_, at), expected in zip(log, (5, 12, 30, 72), strict=True):
        assert expected <= at < expected + REAL_BOUND
