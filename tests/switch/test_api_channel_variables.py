"""``eval`` and ``expand`` with ``uuid:<uuid>``: the channel's variables, then the globals."""

from __future__ import annotations

from calls_harness import Calls, virtual
from eventsocket.switch.core import SwitchCore


@virtual
async def test_eval_with_a_channel(calls: Calls) -> None:
    uuid = await calls.parked("{flavour=mint}null/1000 &park")
    assert await calls.api("eval", f"uuid:{uuid} ${{flavour}}/${{hostname}}") == (
        f"mint/{calls.core.global_vars['hostname']}"
    )
    assert await calls.api("eval", "uuid:no-such-channel ${flavour}") == ""


@virtual
async def test_expand_with_a_channel(calls: Calls) -> None:
    uuid = await calls.parked("{flavour=mint}null/1000 &park")
    assert await calls.api("expand", f"uuid:{uuid} echo ${{flavour}}") == "mint"


def test_a_core_alone_has_no_channels() -> None:
    assert SwitchCore(heartbeat_interval=0).channel_variables("anything") is None
