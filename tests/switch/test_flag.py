"""switch.flag.Flag behaves as asyncio.Event where sessions use it."""

from __future__ import annotations

import asyncio

from eventsocket.switch.flag import Flag


def test_flag_wakes_every_waiter_and_can_be_reused() -> None:
    async def main() -> None:
        flag = Flag()
        assert not flag.is_set()
        woken: list[int] = []

        async def waiter(n: int) -> None:
            assert await flag.wait() is True
            woken.append(n)

        tasks = [asyncio.ensure_future(waiter(n)) for n in range(3)]
        await asyncio.sleep(0)
        assert not woken
        flag.set()
        flag.clear()  # cleared before they run: they were woken all the same, as with asyncio.Event
        await asyncio.gather(*tasks)
        assert sorted(woken) == [0, 1, 2]
        assert not flag.is_set()
        flag.set()
        assert await flag.wait() is True  # set: returns at once
        assert "waiters" not in repr(flag)

    asyncio.run(main())


def test_flag_waiter_cancelled_or_timed_out_leaves_nothing_behind() -> None:
    async def main() -> None:
        flag = Flag()
        task = asyncio.ensure_future(flag.wait())
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        try:
            await asyncio.wait_for(flag.wait(), 0.01)
        except TimeoutError:
            pass
        assert flag._waiters is None
        flag.set()
        assert flag.is_set()

    asyncio.run(main())
