"""Tests of ivr_app.py through the eventsocket pytest plugin: no FreeSWITCH, no setup.

``outbound_app`` is an outbound-mode server routed from extension 5000; the test hands it
the IVR's handler, calls in as a phone would and presses digits. The prompts are files the
switch does not have: as on FreeSWITCH, playing one fails at once (FILE NOT FOUND), and
play_and_get_digits then waits its 5-second digit timeout, in virtual time, which costs
nothing.
"""

from __future__ import annotations

from ivr_app import AGENT, GOODBYE, HOURS, MENU, ivr

from eventsocket.testing import EmbeddedSwitch, OutboundApp


async def test_option_1_plays_the_opening_hours(switch: EmbeddedSwitch, outbound_app: OutboundApp) -> None:
    outbound_app.handler = ivr
    call = await switch.call_in("5000", caller_id="5551234", dtmf="1", dtmf_after=2)
    await outbound_app.wait_finished()
    await call.wait_hangup()
    assert call.heard == [MENU, HOURS, GOODBYE]
    assert call.cdr["ivr_entered"] == "true"
    assert call.cdr["hangup_cause"] == "NORMAL_CLEARING"


async def test_option_2_reaches_an_agent(switch: EmbeddedSwitch, outbound_app: OutboundApp) -> None:
    switch.far_end("agent", answer_after=8, hangup_after=120)
    outbound_app.handler = ivr
    call = await switch.call_in("5000", dtmf="2", dtmf_after=1)
    await outbound_app.wait_finished()
    await call.wait_hangup()
    agent = switch.far_end_calls("agent")[0]
    await agent.wait_hangup()
    assert f"bridge({AGENT})" in call.applications
    assert int(agent.cdr["billsec"]) == 120  # the agent talked for two minutes
    assert call.answered and agent.answered


async def test_silence_repeats_the_menu_three_times(
    switch: EmbeddedSwitch, outbound_app: OutboundApp
) -> None:
    outbound_app.handler = ivr
    call = await switch.call_in("5000")
    await outbound_app.wait_finished()
    await call.wait_hangup()
    assert call.heard == [MENU, MENU, MENU, GOODBYE]
    assert call.dtmf_received == ""


async def test_the_caller_hangs_up_during_the_menu(switch: EmbeddedSwitch, outbound_app: OutboundApp) -> None:
    outbound_app.handler = ivr
    call = await switch.call_in("5000", hangup_after=3)
    await outbound_app.wait_finished()  # the hangup ends the handler without an error
    hangup = await call.wait_hangup()
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
    assert call.heard == [MENU]
