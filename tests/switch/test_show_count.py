"""``show channels count`` / ``show calls count`` come from counters that build no rows.

They must answer exactly what counting the built rows answers, in every output format,
with lone legs, bridged pairs and loopback pairs at once.
"""

from __future__ import annotations

import pytest

from calls_harness import Calls, virtual
from eventsocket.switch.api.show import format_table


async def _mixed_calls(calls: Calls) -> None:
    a = await calls.originate("null/1000 &bridge(null/2000)")
    await calls.fired(a, "CHANNEL_BRIDGE")
    lone = await calls.originate("null/3000 &park")
    await calls.fired(lone, "CHANNEL_PARK")
    loop = await calls.originate("loopback/9664/default/XML &park")
    await calls.fired(loop, "CHANNEL_PARK")
    await calls.settle()


@pytest.mark.parametrize("what", ["channels", "calls"])
@pytest.mark.parametrize("spec", ["", " as json", " as xml", " as delim |"])
@virtual
async def test_count_matches_counted_rows(calls: Calls, what: str, spec: str) -> None:
    await _mixed_calls(calls)
    core = calls.core
    assert what in core.show_counters
    columns, rows = core.show_providers[what](core, [])
    fmt = "json" if "json" in spec else "xml" if "xml" in spec else "csv"
    expected = format_table(columns, rows, fmt, count_only=True)
    assert await calls.api("show", f"{what} count{spec}") == expected
    assert core.show_counters[what](core, []) == len(rows)


@virtual
async def test_channels_count_like_still_filters(calls: Calls) -> None:
    await _mixed_calls(calls)
    assert await calls.api("show", "channels count like null/3000") == "\n1 total.\n"


# -- the channel data fast paths keep the general rules ----------------------------------------------


def test_channel_data_arrays_and_profile_changes() -> None:
    from eventsocket.protocol.events import Event
    from eventsocket.switch.channel import CallerProfile, Channel

    profile = CallerProfile(uuid="u1", caller_id_name="Alice", caller_id_number="1000")
    channel = Channel("u1", "null/1", "outbound", profile)
    channel.set_variable("list", "ARRAY::a|:b")
    event = channel.add_data(Event("CHANNEL_PARK"))
    assert event.headers[-1] == ("variable_list", ["a", "b"])
    assert event["Caller-Caller-ID-Name"] == "Alice"
    profile.caller_id_name = "Bob"  # a changed field is seen by the next event
    profile.answered = 123
    event = channel.add_data(Event("CHANNEL_ANSWER"))
    assert event["Caller-Caller-ID-Name"] == "Bob"
    assert event["Caller-Channel-Answered-Time"] == "123"
    channel.name = ""  # an empty value removes the header, and the data after it still follows
    event = Event("CHANNEL_PARK", [("Channel-Name", "old")])
    channel.add_data(event)
    assert "Channel-Name" not in event
    assert event["Unique-ID"] == "u1" and event.headers[-1] == ("variable_list", ["a", "b"])
