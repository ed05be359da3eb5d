"""Tests of dialer_genesis.py (a genesis application) through the eventsocket pytest plugin.

The far ends are scripted with ``switch.far_end``: one answers, one is busy, one never
answers. The dialer runs on the test's loop, so the switch's virtual clock waits for it:
30 seconds of ringing cost no real time, and the dialer still reacts to CHANNEL_ANSWER
before the far end's next step.
"""

from __future__ import annotations

from dialer_genesis import MESSAGE, Dialer

from eventsocket.testing import EmbeddedSwitch


async def test_a_campaign_with_answered_busy_and_unanswered_numbers(switch: EmbeddedSwitch) -> None:
    switch.far_end("5551001", answer_after=4)
    switch.far_end("5551002", busy=True, answer_after=2)
    switch.far_end("5551003", no_answer=True)
    dialer = Dialer(switch.host, switch.port, switch.password, ring_timeout=30)
    results = await dialer.run(["sim/5551001", "sim/5551002", "sim/5551003"])
    assert results == {"sim/5551001": "answered", "sim/5551002": "busy", "sim/5551003": "no answer"}
    answered = switch.far_end_calls("5551001")[0]
    await answered.wait_hangup()
    assert answered.heard == [MESSAGE]
    assert dialer.talk_time["sim/5551001"] == int(answered.cdr["billsec"])
    unanswered = switch.far_end_calls("5551003")[0]
    assert unanswered.hangup_cause == "NO_ANSWER"
    assert switch.now() >= 30  # the unanswered number rang for the whole ring timeout


async def test_the_person_who_answers_hangs_up_first(switch: EmbeddedSwitch) -> None:
    switch.far_end("5552001", answer_after=1, hangup_after=0.5)
    dialer = Dialer(switch.host, switch.port, switch.password)
    assert await dialer.run(["sim/5552001"]) == {"sim/5552001": "answered"}
    leg = switch.far_end_calls("5552001")[0]
    await leg.wait_hangup()
    assert leg.hangup_cause == "NORMAL_CLEARING"
