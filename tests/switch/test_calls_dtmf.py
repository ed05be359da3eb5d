"""DTMF both ways, as FreeSWITCH: a channel *receives* digits (``uuid_recv_dtmf``, ``queue_dtmf``,
its far end pressing them) and *sends* digits to its far end (``uuid_send_dtmf``, ``send_dtmf``).

Received digits fire DTMF events on the channel and feed ``read``/``play_and_get_digits``;
sent digits reach whatever is at the far end: a loopback pair's other leg receives them,
the ``sim`` phone records them, a null channel keeps them in ``null_channel_dtmf_queued``,
and the sending channel fires no DTMF event.
"""

from __future__ import annotations

from calls_harness import Calls, virtual

PAGD = "1 4 1 5000 # silence_stream://1000 silence_stream://250 pin \\d+"


def digits(calls: Calls, uuid: str) -> list[str]:
    return [e["DTMF-Digit"] for e in calls.of(uuid, "DTMF")]


@virtual
async def test_uuid_recv_dtmf_feeds_play_and_get_digits(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(uuid, "play_and_get_digits", PAGD)
    await calls.fired(uuid, "PLAYBACK_START")
    assert await calls.api("uuid_recv_dtmf", f"{uuid} 42#") == f"+OK {uuid} received DTMF 42#.\n"
    done = await calls.completed(uuid, app_uuid)
    assert done["variable_pin"] == "42"
    assert done["variable_read_result"] == "success"
    assert digits(calls, uuid) == ["4", "2", "#"]


@virtual
async def test_uuid_send_dtmf_reaches_the_loopback_peer(calls: Calls) -> None:
    a = await calls.originate("loopback/m:~:answer~park/default/inline &park")
    b = calls.var(a, "other_loopback_leg_uuid")
    assert b is not None
    await calls.fired(b, "CHANNEL_PARK")
    assert await calls.api("uuid_send_dtmf", f"{a} 19*") == f"+OK {a} sent DTMF 19*.\n"
    await calls.until(lambda: len(calls.of(b, "DTMF")) == 3)
    assert digits(calls, b) == ["1", "9", "*"]
    assert not calls.of(a, "DTMF")  # the sender hears nothing
    assert calls.var(a, "last_dtmf_duration") == "1500"


@virtual
async def test_send_dtmf_reaches_the_sim_far_end(calls: Calls) -> None:
    uuid = await calls.parked("sim/1000 &park")
    assert await calls.api("uuid_send_dtmf", f"{uuid} 12@400") == f"+OK {uuid} sent DTMF 12@400.\n"
    assert calls.var(uuid, "sim_dtmf_received") == "12"
    await calls.execute(uuid, "send_dtmf", "34")
    assert calls.var(uuid, "sim_dtmf_received") == "1234"
    assert calls.var(uuid, "last_dtmf_duration") == "1000"
    assert not calls.of(uuid, "DTMF")


@virtual
async def test_send_dtmf_on_a_null_channel_fires_no_event(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.execute(uuid, "send_dtmf", "5w6")  # w: a half-second pause, not a digit
    assert calls.var(uuid, "null_channel_dtmf_queued") == "56"
    assert not calls.of(uuid, "DTMF")


@virtual
async def test_queue_dtmf_makes_the_channel_receive(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.execute(uuid, "queue_dtmf", "7+8@100")
    await calls.until(lambda: len(calls.of(uuid, "DTMF")) == 2)
    assert digits(calls, uuid) == ["7", "8"]
    # 8 asked for 100 ms: 800 samples; 7 has the default 2000
    assert [e["DTMF-Duration"] for e in calls.of(uuid, "DTMF")] == ["2000", "800"]


@virtual
async def test_received_digits_cross_a_bridge_to_the_far_end(calls: Calls) -> None:
    """What a bridged leg's caller presses is sent on to the other leg's far end."""
    a = await calls.parked("null/1000 &park")
    calls.start(a, "bridge", "sim/2000")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    await calls.api("uuid_recv_dtmf", f"{a} 99")
    await calls.until(lambda: calls.var(b, "sim_dtmf_received") == "99")
    assert digits(calls, a) == ["9", "9"]
    assert not calls.of(b, "DTMF")


@virtual
async def test_dtmf_over_sendmsg(calls: Calls) -> None:
    """An application sends digits through ``sendmsg`` execute ``send_dtmf``; the peer reads them."""
    a = await calls.originate("'loopback/m:~:answer~read:1 3 silence got 5000 #~park/default/inline' &park")
    b = calls.var(a, "other_loopback_leg_uuid")
    assert b is not None
    await calls.fired(b, "CHANNEL_EXECUTE", count=2)  # answer, read
    await calls.execute(a, "send_dtmf", "321")
    await calls.fired(b, "CHANNEL_PARK")
    assert calls.var(b, "got") == "321"
    assert calls.var(b, "read_result") == "success"


@virtual
async def test_read_reports_the_terminator_pressed(calls: Calls) -> None:
    """``read_terminator_used`` is the key that ended the input, not the list of terminators."""
    uuid = await calls.parked("null/1000 &park")
    app_uuid = calls.start(uuid, "read", "1 4 silence code 5000 #*")
    await calls.fired(uuid, "CHANNEL_EXECUTE", count=2)
    await calls.api("uuid_recv_dtmf", f"{uuid} 12*")
    done = await calls.completed(uuid, app_uuid)
    assert done["variable_code"] == "12"
    assert done["variable_read_terminator_used"] == "*"
    assert done["variable_read_result"] == "success"
