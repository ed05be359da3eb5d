"""The embedded switch is a :class:`SwitchBackend` (mypy checks the assignments), and the
call handle it gives out holds, follows and lets go of a call as a controlling socket needs."""

from __future__ import annotations

from calls_harness import Calls, virtual
from eventsocket.protocol.events import Event
from eventsocket.protocol.message import Request
from eventsocket.server.backend import ControlledCall, SwitchBackend
from eventsocket.server.subscriptions import Subscriptions
from eventsocket.switch.builder import build_switch


def test_switch_core_is_a_backend() -> None:
    backend: SwitchBackend = build_switch()
    seen: list[Event] = []
    feed = backend.open_event_feed(seen.append)
    backend.fire_new_event(lambda: Event("CUSTOM", backend.standard_headers("CUSTOM", "f.c", "fn", 1)))
    assert [e.name for e in seen] == ["CUSTOM"] and seen[0]["Event-Calling-File"] == "f.c"
    assert feed.update(Subscriptions()) is None
    feed.close()
    feed.close()
    backend.fire_event(Event("CUSTOM"))
    assert len(seen) == 1
    assert backend.control_call("no-such-uuid") is None
    assert backend.queue_message("no-such-uuid", Request("sendmsg")) is False
    assert backend.call_api("echo", "hi") == "hi"


@virtual
async def test_a_controlled_call_is_held_until_released(calls: Calls) -> None:
    backend: SwitchBackend = calls.core
    uuid = await calls.parked("null/1000 &park")
    call: ControlledCall | None = backend.control_call(uuid)
    assert call is not None and call.ready and call.uuid == uuid and call.channel_name == "null/1000"
    ended: list[str] = []
    call.attach(lambda: ended.append(uuid))
    call.set_variable("x", "1")
    assert call.get_variable("x") == "1"
    data = dict(call.channel_data())
    assert data["Channel-Channel-Name"] == "null/1000" and data["variable_x"] == "1"
    diverted: list[Event] = []
    call.divert_events(diverted.append)
    assert backend.deliver_session_event(uuid, Event("CUSTOM", [("Unique-ID", uuid)]))
    await calls.until(lambda: diverted)
    call.divert_events(None)
    await calls.api("uuid_kill", uuid)
    await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    await calls.until(lambda: ended)
    await calls.settle(1.0)
    assert not calls.of(uuid, "CHANNEL_DESTROY")  # held by the controller
    call.release()
    call.release()  # idempotent
    await calls.gone(uuid)
    assert ended == [uuid]
