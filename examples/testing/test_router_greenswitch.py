"""Tests of router_greenswitch.py (a greenswitch application) through the eventsocket pytest plugin.

greenswitch blocks (gevent), so the router runs in a thread, reaching the switch over TCP
as it would reach FreeSWITCH. The switch's virtual clock gives such a client a quiet window
after every event it sends it: the router's ``uuid_transfer`` arrives before the parked
call's next timer, and the calls' minutes still pass in no time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest_asyncio
from router_greenswitch import Router

from eventsocket.testing import EmbeddedSwitch


@pytest_asyncio.fixture  # async, so that its teardown runs while the switch serves
async def router(switch: EmbeddedSwitch) -> AsyncIterator[Router]:
    switch.dialplan.add("8000", "park")
    switch.dialplan.add("7001", actions=[("answer", ""), ("playback", "silence_stream://120000")])
    switch.dialplan.add("7002", actions=[("answer", ""), ("playback", "silence_stream://300000")])
    app = Router(switch.host, switch.port, switch.password, vips={"5551234"})
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    assert await asyncio.to_thread(app.ready.wait, 10)
    yield app
    app.stop()
    await asyncio.to_thread(thread.join, 10)


async def test_vips_reach_the_front_desk_and_others_the_queue(switch: EmbeddedSwitch, router: Router) -> None:
    vip = await switch.call_in("8000", caller_id="5551234", hangup_after=60)
    other = await switch.call_in("8000", caller_id="5559999", hangup_after=200)
    await vip.wait_hangup()
    await other.wait_hangup()
    assert "playback(silence_stream://120000)" in vip.applications
    assert "playback(silence_stream://300000)" in other.applications
    cdrs = await asyncio.to_thread(router.wait_cdrs, 2)
    by_caller = {cdr["caller"]: cdr for cdr in cdrs}
    assert by_caller["5551234"]["extension"] == "7001"
    assert by_caller["5559999"]["extension"] == "7002"
    assert by_caller["5551234"]["billsec"] == "60"
    assert by_caller["5559999"]["billsec"] == "200"
