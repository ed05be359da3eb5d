"""``OutboundServer(on_finished=...)``: told when each handler ends, and how."""

from __future__ import annotations

import asyncio

from eventsocket.client import OutboundCall, OutboundServer
from eventsocket.testing import EmbeddedSwitch


async def test_the_hook_hears_of_returns_hangups_and_failures(switch: EmbeddedSwitch) -> None:
    outcomes: list[tuple[str, str | None]] = []
    done = asyncio.Event()

    async def hook(call: OutboundCall, error: BaseException | None) -> None:  # a coroutine function
        caller = call.data.get("Caller-Caller-ID-Number") or ""
        outcomes.append((caller, type(error).__name__ if error else None))
        if len(outcomes) == 3:
            done.set()

    async def handler(call: OutboundCall) -> None:
        caller = call.data.get("Caller-Caller-ID-Number")
        await call.answer()
        if caller == "1":
            await call.hangup()
        elif caller == "2":
            await call.playback("silence_stream://60000")  # the caller hangs up during it
        else:
            raise LookupError("no such menu")

    async with OutboundServer(handler, "127.0.0.1", 0, on_finished=hook) as server:
        switch.dialplan.add("6000", "socket", f"127.0.0.1:{server.port} async full")
        await switch.call_in("6000", caller_id="1")
        await switch.call_in("6000", caller_id="2", hangup_after=5)
        await switch.call_in("6000", caller_id="3")
        await done.wait()
    assert sorted(outcomes) == [("1", None), ("2", None), ("3", "LookupError")]


async def test_a_plain_function_hook(switch: EmbeddedSwitch) -> None:
    seen: list[BaseException | None] = []
    finished = asyncio.Event()

    def hook(call: OutboundCall, error: BaseException | None) -> None:
        seen.append(error)
        finished.set()

    async def handler(call: OutboundCall) -> None:
        await call.answer()

    async with OutboundServer(handler, "127.0.0.1", 0, on_finished=hook) as server:
        switch.dialplan.add("6001", "socket", f"127.0.0.1:{server.port} async full")
        call = await switch.call_in("6001")
        await finished.wait()
        await call.wait_hangup()
    assert seen == [None]
