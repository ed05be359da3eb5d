"""The bus builds an event only when some listener may accept its name.

A socket's selection tells the bus which names it may accept; an ``api`` on a switch
whose only listener wants CHANNEL_CREATE builds no API event, yet the numbering is the
same as if it had been built.
"""

from __future__ import annotations

from test_listener_core import feed, make_core

from eventsocket.protocol.events import Event
from eventsocket.switch.builder import build_switch
from eventsocket.switch.bus import EventBus


def make_bus() -> EventBus:
    switch = build_switch(heartbeat_interval=0)
    return EventBus(switch.identity, switch.clock)


def test_an_event_nobody_wants_is_not_built_but_takes_its_number() -> None:
    bus = make_bus()
    seen: list[Event] = []
    bus.subscribe(seen.append, lambda name: name == "CHANNEL_CREATE")
    built: list[str] = []

    def build(name: str) -> Event:
        built.append(name)
        return bus.create(name)

    bus.fire_new(lambda: build("API"), "API")
    bus.fire_new(lambda: build("CHANNEL_CREATE"), "CHANNEL_CREATE")
    assert built == ["CHANNEL_CREATE"]
    assert [(e.name, e.get("Event-Sequence")) for e in seen] == [("CHANNEL_CREATE", "2")]
    assert bus.skipped("API") and not bus.skipped("CHANNEL_CREATE")
    bus.fire_new(lambda: build("CHANNEL_CREATE"), "CHANNEL_CREATE")
    assert seen[-1].get("Event-Sequence") == "4"  # the skipped API took 3


def test_a_listener_without_interest_takes_everything() -> None:
    bus = make_bus()
    picky: list[Event] = []
    everything: list[Event] = []
    bus.subscribe(picky.append, lambda name: False)
    assert not bus.wanted("API")
    bus.subscribe(everything.append)
    assert bus.wanted("API")
    bus.fire_new(lambda: bus.create("API"), "API")
    # delivery is still to every listener: each one makes its own final choice
    assert [e.name for e in everything] == [e.name for e in picky] == ["API"]
    bus.unsubscribe(everything.append)
    assert not bus.wanted("API")
    bus.set_interest(picky.append, None)
    assert bus.wanted("API")


def test_an_unnamed_fire_new_builds_whenever_anyone_listens() -> None:
    bus = make_bus()
    seen: list[Event] = []
    bus.subscribe(seen.append, lambda name: False)
    bus.fire_new(lambda: bus.create("CUSTOM"))
    assert [e.name for e in seen] == ["CUSTOM"]
    bus.unsubscribe(seen.append)
    bus.fire_new(lambda: bus.create("CUSTOM"))
    assert len(seen) == 1


def test_a_sockets_selection_is_its_interest_as_it_changes() -> None:
    switch = build_switch(heartbeat_interval=0)
    core, sink = make_core(switch)
    feed(core, "auth ClueCon\n\n")
    fired = switch.bus.fired
    feed(core, "event plain CHANNEL_CREATE\n\n")
    feed(core, "api echo a\n\n")
    assert switch.bus.fired == fired  # no API event was built
    feed(core, "event plain API\n\n")
    feed(core, "api echo b\n\n")
    assert [e.get("API-Command-Argument") for e in sink.events] == ["b"]
    feed(core, "nixevent API\n\n")
    feed(core, "api echo c\n\n")
    feed(core, "event plain ALL\n\n")
    feed(core, "api echo d\n\n")
    feed(core, "noevents\n\n")
    before = switch.bus.fired
    feed(core, "api echo e\n\n")
    assert switch.bus.fired == before
    sequences = [int(e.get("Event-Sequence") or 0) for e in sink.events]
    assert [e.get("API-Command-Argument") for e in sink.events] == ["b", "d"]
    assert sequences == sorted(sequences)
