"""Boolean channel variables read with ``switch_true``, as FreeSWITCH reads them.

``yes``, ``on``, ``t``, ``enabled``, ``1`` (any non-zero number) count, in any case; not only
the literal ``true``. Each variable here is one FreeSWITCH tests with ``switch_true``
(switch_channel.c, switch_ivr_bridge.c, switch_ivr_originate.c, mod_event_socket.c).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from calls_harness import Calls, virtual

TRUE_WORDS = ["yes", "ON", "t", "1", "2.5"]
NOT_TRUE = ["no", "0", "0.5", "nope"]


@pytest.mark.parametrize("value", TRUE_WORDS)
@virtual
async def test_continue_on_fail(calls: Calls, value: str) -> None:
    a = await calls.parked(f"{{continue_on_fail={value}}}null/1000 &park")
    await calls.execute(a, "bridge", "error/CALL_REJECTED")
    done = await calls.execute(a, "set", "after_bridge=1")
    assert done["variable_after_bridge"] == "1"
    assert not calls.of(a, "CHANNEL_HANGUP")


@pytest.mark.parametrize("value", NOT_TRUE)
@virtual
async def test_not_continue_on_fail(calls: Calls, value: str) -> None:
    a = await calls.parked(f"{{continue_on_fail={value}}}null/1000 &park")
    calls.start(a, "bridge", "error/CALL_REJECTED")
    hangup = await calls.fired(a, "CHANNEL_HANGUP", timeout=10)
    assert hangup["Hangup-Cause"] == "CALL_REJECTED"


@pytest.mark.parametrize("value", TRUE_WORDS)
@virtual
async def test_hangup_after_bridge(calls: Calls, value: str) -> None:
    a = await calls.parked(f"{{hangup_after_bridge={value}}}null/1000 &park")
    calls.start(a, "bridge", "null/2000")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    await calls.api("uuid_kill", f"{b} USER_BUSY")
    hangup = await calls.fired(a, "CHANNEL_HANGUP", timeout=10)
    assert hangup["Hangup-Cause"] == "USER_BUSY"


@pytest.mark.parametrize("value", TRUE_WORDS)
@virtual
async def test_park_after_bridge(calls: Calls, value: str) -> None:
    a = await calls.originate(f"{{park_after_bridge={value}}}null/1000 &park")
    b = await calls.originate("null/2000 &park")
    assert await calls.api("uuid_bridge", f"{a} {b}") == f"+OK {b}\n"
    await calls.fired(a, "CHANNEL_BRIDGE")
    await calls.api("uuid_kill", b)
    await calls.gone(b)
    await calls.fired(a, "CHANNEL_PARK", 2, timeout=30)
    assert not calls.of(a, "CHANNEL_HANGUP")


@virtual
async def test_ignore_early_media(calls: Calls) -> None:
    value = "yes"  # one word: each of these waits for the simulated far end in real time
    started = calls.now()
    uuid = await calls.originate(
        f"{{ignore_early_media={value},sim_early_media_ms=2000,sim_ring_ms=6000}}sim/555 &park"
    )
    assert calls.now() - started >= 6  # waited for the answer, not the early media
    assert calls.of(uuid, "CHANNEL_ANSWER")


@virtual
async def test_ignored_early_media_is_waited_out_not_polled(
    calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The originate waits for the next change of its legs; early media it ignores does not wake
    it again and again (which spun the loop, and so the CPU, until the answer)."""
    real_wait = asyncio.wait
    wakes = 0

    async def counting_wait(*args: Any, **kwargs: Any) -> Any:
        nonlocal wakes
        wakes += 1
        return await real_wait(*args, **kwargs)

    monkeypatch.setattr(asyncio, "wait", counting_wait)
    uuid = await calls.originate(
        "{ignore_early_media=true,sim_early_media_ms=2000,sim_ring_ms=6000}sim/555 &park"
    )
    monkeypatch.undo()
    assert calls.of(uuid, "CHANNEL_ANSWER")
    assert wakes < 20
