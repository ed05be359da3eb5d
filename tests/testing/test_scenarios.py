"""The fixtures in use, as an application's tests would use them (run by the project's own suite)."""

from __future__ import annotations

import time

import pytest

from eventsocket.client import OutboundCall
from eventsocket.client.inbound import InboundConnection
from eventsocket.testing import EmbeddedSwitch, OutboundApp


async def test_status_and_the_virtual_clock(switch: EmbeddedSwitch) -> None:
    assert "UP" in await switch.api("status")
    assert switch.vt is not None
    start = switch.now()
    await switch.sleep(3600)
    assert switch.now() - start >= 3600


async def test_an_inbound_call_through_the_dialplan(switch: EmbeddedSwitch) -> None:
    steps = [("answer", ""), ("playback", "silence_stream://30000"), ("hangup", "")]
    switch.dialplan.add("7000", actions=steps)
    call = await switch.call_in("7000", caller_id="5551234")
    await call.wait_for_state("CS_EXECUTE")
    answer = await switch.expect("CHANNEL_ANSWER", uuid=call.uuid)
    assert answer.get("Caller-Caller-ID-Number") == "5551234"
    await call.wait_hangup()
    assert call.heard == ["silence_stream://30000"]
    assert call.cdr["hangup_cause"] == "NORMAL_CLEARING"
    assert int(call.cdr["billsec"]) == 30
    assert "CHANNEL_CREATE" in call.names


async def test_ivr_digits_over_the_outbound_socket(switch: EmbeddedSwitch, outbound_app: OutboundApp) -> None:
    choices: list[str | None] = []

    async def ivr(call: OutboundCall) -> None:
        await call.answer()
        digits = await call.play_and_get_digits(1, 4, 3, 5000, "#", "silence_stream://10000")
        choices.append(digits)
        await call.playback(f"silence_stream://{int(digits or 0) * 1000}")
        await call.hangup()

    outbound_app.handler = ivr
    call = await switch.call_in("5000", dtmf="42#", dtmf_after=2.0)
    await outbound_app.wait_finished()
    await call.wait_hangup()
    assert choices == ["42"]
    assert call.dtmf_received == "42#"
    assert call.heard == ["silence_stream://10000", "silence_stream://42000"]


async def test_a_failing_handler_fails_the_wait(switch: EmbeddedSwitch, outbound_app: OutboundApp) -> None:
    async def broken(call: OutboundCall) -> None:
        await call.answer()
        raise ValueError("the application broke")

    outbound_app.handler = broken
    await switch.call_in("5000")
    with pytest.raises(ValueError, match="the application broke"):
        await outbound_app.wait_finished()


async def test_a_dialer_with_busy_and_unanswered_legs(switch: EmbeddedSwitch, esl: InboundConnection) -> None:
    switch.far_end("1001", busy=True, answer_after=2)
    switch.far_end("1002", no_answer=True)
    switch.far_end("1003", answer_after=5, hangup_after=30)
    jobs = {
        number: await esl.bgapi("originate", f"{{originate_timeout=20}}sim/{number} &park()")
        for number in ("1001", "1002", "1003")
    }
    results = {number: (await job).text for number, job in jobs.items()}
    assert results["1001"] == "-ERR USER_BUSY"
    assert results["1002"] == "-ERR NO_ANSWER"
    assert results["1003"].startswith("+OK ")
    leg = switch.far_end_calls("1003")[0]
    await leg.wait_hangup()
    assert int(leg.cdr["billsec"]) == 30


async def test_expect_fails_with_the_timeline(switch: EmbeddedSwitch) -> None:
    call = await switch.call_in("9999")
    await call.wait_for_state("CS_EXECUTE")
    with pytest.raises(AssertionError) as failure:
        await switch.expect("CHANNEL_ANSWER", uuid=call.uuid, timeout=5)
    text = str(failure.value)
    assert "no CHANNEL_ANSWER" in text
    assert "CHANNEL_EXECUTE" in text and "park" in text


async def test_a_sixty_second_ivr_call_takes_little_real_time(
    switch: EmbeddedSwitch, outbound_app: OutboundApp
) -> None:
    async def ivr(call: OutboundCall) -> None:
        await call.answer()
        await call.playback("silence_stream://20000")
        await call.play_and_get_digits(1, 1, 3, 5000, "#", "silence_stream://5000")
        await call.playback("silence_stream://38000")
        await call.hangup()

    outbound_app.handler = ivr
    real = time.monotonic()
    call = await switch.call_in("5000", dtmf="1", dtmf_after=22)
    await outbound_app.wait_finished()
    hangup = await call.wait_hangup()
    assert int(call.cdr["billsec"]) == 60
    assert hangup.get("Hangup-Cause") == "NORMAL_CLEARING"
    del real  # wall time is measured in bench/testing_flow.py, not asserted


async def test_directory_user_logs_in_with_userauth(switch: EmbeddedSwitch) -> None:
    import eventsocket

    switch.directory.add_user("2000", params={"esl-password": "s3cret", "esl-allowed-api": "status"})
    domain = switch.variables["domain"]
    conn = await eventsocket.connect(switch.host, switch.port, "s3cret", user=f"2000@{domain}")
    try:
        assert "UP" in (await conn.api("status")).body
    finally:
        await conn.close()


async def test_global_variables(switch: EmbeddedSwitch, esl: InboundConnection) -> None:
    switch.variables["campaign"] = "spring"
    assert (await esl.api("global_getvar", "campaign")).text == "spring"


async def test_expect_returns_each_event_once(switch: EmbeddedSwitch) -> None:
    first = await switch.call_in("9999")
    second = await switch.call_in("9999")
    parks = [await switch.expect("CHANNEL_PARK"), await switch.expect("CHANNEL_PARK")]
    assert [event.get("Unique-ID") for event in parks] == [first.uuid, second.uuid]
    park = await switch.expect("CHANNEL_EXECUTE", uuid=second.uuid, Application="park")
    assert park.get("Unique-ID") == second.uuid


async def test_the_far_end_presses_digits_and_hangs_up(switch: EmbeddedSwitch) -> None:
    switch.dialplan.add("7100", actions=[("answer", ""), ("send_dtmf", "95"), ("park", "")])
    call = await switch.call_in("7100")
    await call.wait_for("CHANNEL_PARK")
    await call.press("123")
    await call.wait_for("DTMF", DTMF_Digit="3")
    await call.hangup("USER_BUSY")
    await call.wait_hangup()
    assert call.dtmf_received == "123"
    assert call.dtmf_sent == "95"
    assert call.hangup_cause == "USER_BUSY"
    assert call.state == "CS_DESTROY"


async def test_the_clock_by_hand(switch: EmbeddedSwitch) -> None:
    switch.pause()
    start = switch.now()
    call = await switch.call_in("9664")  # answer, 3 s of silence, hangup
    await switch.advance(10)
    await call.wait_hangup(timeout=5)
    assert switch.now() - start >= 10
    switch.resume()
    await switch.sleep(100)
    assert switch.now() - start >= 110


async def test_a_caller_who_gives_up_before_an_answer(switch: EmbeddedSwitch) -> None:
    call = await switch.call_in("9999", hangup_after=15)
    await call.wait_hangup()
    assert not call.answered
    assert call.cdr["hangup_cause"] == "NORMAL_CLEARING"
    assert switch.now() >= 15


async def test_extensions_survive_the_applications_reloadxml(switch: EmbeddedSwitch) -> None:
    switch.dialplan.add("7200", "park")
    assert (await switch.api("reloadxml")).startswith("+OK [Success]")
    call = await switch.call_in("7200")
    await call.wait_for("CHANNEL_PARK")
    assert "test_7200" in (switch.conf_dir / "dialplan" / "default.xml").read_text()


async def test_digits_sent_to_a_dialed_far_end(switch: EmbeddedSwitch, esl: InboundConnection) -> None:
    switch.far_end("1004", answer_after=1)
    reply = await esl.api("originate", "sim/1004 &park()")
    uuid = reply.text.removeprefix("+OK ")
    assert (await esl.api("uuid_send_dtmf", f"{uuid} 42")).ok
    await esl.api("uuid_kill", uuid)
    leg = switch.far_end_calls("1004")[0]
    await leg.wait_hangup()
    assert leg.dtmf_sent == "42"
