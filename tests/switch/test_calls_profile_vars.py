"""Variables as FreeSWITCH reads them: caller-profile fields stand in for missing channel
variables (``switch_channel_get_variable``), and per-leg originate variables such as
``leg_timeout`` take effect.
"""

from __future__ import annotations

from calls_harness import Calls, virtual


@virtual
async def test_caller_profile_fields_resolve_as_variables(calls: Calls) -> None:
    uuid = await calls.parked("{origination_caller_id_number=5551234}null/1000 9999 XML default")
    assert await calls.api("uuid_getvar", f"{uuid} destination_number") == "9999"
    # originate sends the leg to its extension by a transfer: the old destination is the RDNIS
    assert await calls.api("uuid_getvar", f"{uuid} rdnis") == "1000"
    await calls.api("uuid_transfer", f"{uuid} 9999 XML default")
    await calls.fired(uuid, "CHANNEL_PARK", count=2)
    await calls.execute(
        uuid,
        "set",
        "seen=${destination_number}|${caller_id_number}|${context}|${dialplan}|${ani}|${chan_name}",
    )
    destination, number, context, dialplan, ani, name = (calls.var(uuid, "seen") or "").split("|")
    assert (destination, context, dialplan, name) == ("9999", "default", "XML", "null/1000")
    assert ani == "0000000000"
    assert number == calls.session(uuid).channel.profile.caller_id_number
    assert await calls.api("uuid_getvar", f"{uuid} caller_id_name") == (
        calls.session(uuid).channel.profile.caller_id_name or "_undef_"
    )
    assert await calls.api("uuid_getvar", f"{uuid} rdnis") == "9999"
    assert await calls.api("uuid_getvar", f"{uuid} profile_index") == "3"
    assert await calls.api("uuid_getvar", f"{uuid} no_such_thing") == "_undef_"
    # a real channel variable wins over the profile field
    await calls.api("uuid_setvar", f"{uuid} destination_number override")
    assert await calls.api("uuid_getvar", f"{uuid} destination_number") == "override"


@virtual
async def test_aleg_and_bleg_prefixes_read_the_other_profile(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    calls.start(a, "bridge", "null/2000")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    assert await calls.api("uuid_getvar", f"{a} bleg_destination_number") == "2000"
    assert await calls.api("uuid_getvar", f"{b} aleg_uuid") == a


@virtual
async def test_global_variables_are_the_last_fallback(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    domain = calls.core.global_vars["domain"]
    assert await calls.api("uuid_getvar", f"{uuid} domain") == domain


@virtual
async def test_leg_timeout_ends_one_leg_only(calls: Calls) -> None:
    started = calls.now()
    reply = await calls.api(
        "originate", "{sim_ring_ms=8000}[leg_timeout=3]sim/slow,[sim_ring_ms=5000]sim/fast &park"
    )
    assert reply is not None and reply.startswith("+OK "), reply
    assert 5 <= calls.now() - started < 5.5
    slow = next(e for e in calls.events if e.name == "CHANNEL_HANGUP" and e["Channel-Name"] == "sim/slow")
    assert slow["Hangup-Cause"] == "ALLOTTED_TIMEOUT"


@virtual
async def test_leg_timeout_in_braces_applies_to_every_leg(calls: Calls) -> None:
    started = calls.now()
    reply = await calls.api("originate", "{leg_timeout=2,sim_answer=false}sim/1000 &park")
    assert reply == "-ERR ALLOTTED_TIMEOUT\n"
    assert 2 <= calls.now() - started < 2.5
