"""Call-control API commands (mod_commands): originate, uuid_*, hupall, show channels/calls, status.

Every test runs a fresh switch core on a virtual-time loop, so rings, timeouts and
playbacks take simulated seconds only. Replies are compared byte for byte with
PROTOCOL.md §8 (and FreeSWITCH's mod_commands where §8 is silent).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid as uuidlib
import wave
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from calls_harness import Calls, virtual, wav_seconds, write_wav

ORIGINATE_USAGE = (
    "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] "
    "[<cid_num>] [<timeout_sec>]\n"
)
CHANNEL_COLUMNS = (
    "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,"
    "application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,"
    "write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,"
    "callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,"
    "initial_ip_addr,initial_dest,initial_dialplan,initial_context"
)


# -- originate --------------------------------------------------------------------------------------


@virtual
async def test_originate_null_park(calls: Calls) -> None:
    uuid = await calls.originate("null/1000 &park")
    park = await calls.fired(uuid, "CHANNEL_PARK")
    session = calls.session(uuid)
    assert session.channel.name == "null/1000"
    assert session.channel.answered
    assert park["Channel-Name"] == "null/1000"
    assert park["Answer-State"] == "answered"
    assert park["Call-Direction"] == "outbound"
    assert await calls.api("uuid_exists", uuid) == "true"
    assert calls.of(uuid, "CHANNEL_EXECUTE")[0]["Application"] == "park"


@pytest.mark.parametrize("args", ["", "null/1000", "null/1 &park XML default a b 30 extra"])
@virtual
async def test_originate_usage(calls: Calls, args: str) -> None:
    assert await calls.api("originate", args) == ORIGINATE_USAGE
    assert calls.core.calls.sessions == {}


@virtual
async def test_originate_seven_arguments_with_undef(calls: Calls) -> None:
    uuid = await calls.originate("null/1000 9999 undef undef Alice 5551234 undef")
    park = await calls.fired(uuid, "CHANNEL_PARK")
    assert park["Caller-Destination-Number"] == "9999"
    assert park["Caller-Dialplan"] == "XML"
    assert park["Caller-Context"] == "default"
    # the cid arguments are the originating party; once answered the leg presents them as its callee
    create = calls.of(uuid, "CHANNEL_CREATE")[0]
    assert create["Caller-Caller-ID-Name"] == "Alice"
    assert create["Caller-Caller-ID-Number"] == "5551234"
    assert park["Caller-Callee-ID-Name"] == "Alice"
    assert park["Caller-Callee-ID-Number"] == "5551234"


@virtual
async def test_originate_exten_dialplan_context(calls: Calls) -> None:
    uuid = await calls.originate("null/1000 9664 XML default")
    await calls.gone(uuid)
    apps = [e["Application"] for e in calls.of(uuid, "CHANNEL_EXECUTE")]
    assert apps == ["answer", "playback", "hangup"]
    assert calls.of(uuid, "CHANNEL_EXECUTE")[1]["Application-Data"] == "silence_stream://3000"
    assert calls.of(uuid, "CHANNEL_HANGUP")[0]["Hangup-Cause"] == "NORMAL_CLEARING"


@virtual
async def test_originate_unknown_extension_is_no_route(calls: Calls) -> None:
    uuid = await calls.originate("null/1000 424242 XML default")
    hangup = await calls.fired(uuid, "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "NO_ROUTE_DESTINATION"


@virtual
async def test_originate_curly_variables_apply_to_every_leg(calls: Calls) -> None:
    uuid = await calls.originate("{foo=bar,quoted='a,b',escaped=c\\,d}null/1000 &park")
    park = await calls.fired(uuid, "CHANNEL_PARK")
    assert park["variable_foo"] == "bar"
    assert park["variable_quoted"] == "a,b"
    assert park["variable_escaped"] == "c,d"
    assert await calls.api("uuid_getvar", f"{uuid} foo") == "bar"


@virtual
async def test_originate_square_variables_are_per_leg(calls: Calls) -> None:
    uuid = await calls.originate("{shared=all}[own=mine]null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    assert await calls.api("uuid_getvar", f"{uuid} own") == "mine"
    assert await calls.api("uuid_getvar", f"{uuid} shared") == "all"


@virtual
async def test_originate_origination_uuid(calls: Calls) -> None:
    wanted = str(uuidlib.uuid4())
    assert await calls.api("originate", f"{{origination_uuid={wanted}}}null/1000 &park") == f"+OK {wanted}\n"
    park = await calls.fired(wanted, "CHANNEL_PARK")
    assert park["Unique-ID"] == wanted
    assert await calls.api("uuid_exists", wanted) == "true"


@virtual
async def test_originate_origination_caller_id(calls: Calls) -> None:
    uuid = await calls.originate(
        "{origination_caller_id_name='Jane Doe',origination_caller_id_number=5550100}null/1000 &park"
    )
    await calls.fired(uuid, "CHANNEL_PARK")
    create = calls.of(uuid, "CHANNEL_CREATE")[0]
    assert create["Caller-Caller-ID-Name"] == "Jane Doe"
    assert create["Caller-Caller-ID-Number"] == "5550100"
    assert create["Caller-Callee-ID-Name"] == "Outbound Call"
    assert create["Caller-Callee-ID-Number"] == "1000"
    assert await calls.api("uuid_getvar", f"{uuid} origination_caller_id_name") == "Jane Doe"


@virtual
async def test_originate_app_with_quoted_spaces(calls: Calls) -> None:
    uuid = await calls.originate("null/1000 '&log(INFO hello quoted world)'")
    await calls.gone(uuid)
    execute = calls.of(uuid, "CHANNEL_EXECUTE")[0]
    assert execute["Application"] == "log"
    assert execute["Application-Data"] == "INFO hello quoted world"
    assert [
        (line.level, line.message)
        for line in calls.logs
        if line.user_data == uuid and "quoted" in line.message
    ] == [(6, "hello quoted world\n")]
    # the one-application extension ran out: the call ends normally
    assert calls.of(uuid, "CHANNEL_HANGUP")[0]["Hangup-Cause"] == "NORMAL_CLEARING"


@virtual
async def test_originate_app_with_argument(calls: Calls) -> None:
    started = calls.now()
    uuid = await calls.originate("null/1000 &playback(silence_stream://1500)")
    stop = await calls.fired(uuid, "PLAYBACK_STOP")
    assert stop["Playback-File-Path"] == "silence_stream://1500"
    await calls.gone(uuid)
    assert 1.5 <= calls.now() - started < 2.5


@pytest.mark.parametrize("url", ["error/USER_BUSY", "sim/busy", "error/17"])
@virtual
async def test_originate_user_busy(calls: Calls, url: str) -> None:
    assert await calls.api("originate", f"{url} &park") == "-ERR USER_BUSY\n"
    await calls.settle(1)
    assert calls.core.calls.sessions == {}


@virtual
async def test_originate_unknown_endpoint(calls: Calls) -> None:
    assert await calls.api("originate", "bogus/1000 &park") == "-ERR CHAN_NOT_IMPLEMENTED\n"
    assert not [e for e in calls.events if e.name == "CHANNEL_CREATE"]


@virtual
async def test_originate_no_answer_after_timeout_argument(calls: Calls) -> None:
    started = calls.now()
    assert await calls.api("originate", "sim/noanswer &park undef undef undef undef 5") == "-ERR NO_ANSWER\n"
    elapsed = calls.now() - started
    assert 5 <= elapsed < 6
    create = next(e for e in calls.events if e.name == "CHANNEL_CREATE")
    uuid = create["Unique-ID"]
    await calls.gone(uuid)
    assert calls.of(uuid, "CHANNEL_HANGUP")[0]["Hangup-Cause"] == "NO_ANSWER"
    assert calls.of(uuid, "CHANNEL_PROGRESS")  # it rang


@virtual
async def test_originate_no_answer_after_originate_timeout_variable(calls: Calls) -> None:
    started = calls.now()
    assert await calls.api("originate", "{originate_timeout=3}sim/noanswer &park") == "-ERR NO_ANSWER\n"
    assert 3 <= calls.now() - started < 4


@virtual
async def test_originate_bad_application_still_ok_then_hangs_up(calls: Calls) -> None:
    uuid = await calls.originate("null/1000 &no_such_app(x)")
    hangup = await calls.fired(uuid, "CHANNEL_HANGUP")
    assert hangup["Hangup-Cause"] == "DESTINATION_OUT_OF_ORDER"
    assert any("Invalid Application no_such_app" in line.message for line in calls.logs)
    await calls.gone(uuid)


# -- uuid_kill ------------------------------------------------------------------------------------


@virtual
async def test_uuid_kill(calls: Calls) -> None:
    assert await calls.api("uuid_kill", "") == "-USAGE: <uuid> [cause]\n"
    assert await calls.api("uuid_kill", str(uuidlib.uuid4())) == "-ERR No such channel!\n"
    uuid = await calls.originate("null/1000 &park")
    assert await calls.api("uuid_kill", uuid) == "+OK\n"
    assert (await calls.fired(uuid, "CHANNEL_HANGUP"))["Hangup-Cause"] == "NORMAL_CLEARING"
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    assert complete["variable_hangup_cause"] == "NORMAL_CLEARING"
    assert complete["variable_hangup_cause_q850"] == "16"
    await calls.gone(uuid)
    assert await calls.api("uuid_exists", uuid) == "false"
    assert await calls.api("uuid_kill", uuid) == "-ERR No such channel!\n"


@pytest.mark.parametrize(
    ("cause", "name", "q850"),
    [
        ("USER_BUSY", "USER_BUSY", "17"),
        ("call_rejected", "CALL_REJECTED", "21"),
        ("17", "USER_BUSY", "17"),
    ],
)
@virtual
async def test_uuid_kill_with_cause(calls: Calls, cause: str, name: str, q850: str) -> None:
    uuid = await calls.originate("null/1000 &park")
    assert await calls.api("uuid_kill", f"{uuid} {cause}") == "+OK\n"
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    assert complete["Hangup-Cause"] == name
    assert complete["variable_hangup_cause_q850"] == q850


# -- uuid_answer / uuid_park / uuid_break / uuid_broadcast --------------------------------------------


@virtual
async def test_uuid_answer(calls: Calls) -> None:
    assert await calls.api("uuid_answer", "") == "-ERROR\n"
    assert await calls.api("uuid_answer", str(uuidlib.uuid4())) == "-ERROR\n"
    # an outbound leg is answered by its far end only: uuid_answer succeeds and does nothing
    out = await calls.originate("{sim_early_media_ms=0,sim_answer=false}sim/2000 &park")
    await calls.fired(out, "CHANNEL_PARK")
    assert await calls.api("uuid_answer", out) == "+OK\n"
    assert not calls.session(out).channel.answered
    assert not calls.of(out, "CHANNEL_ANSWER")
    # an inbound leg (loopback's b-leg) with early media is answered
    a = await calls.originate("loopback/m:~:pre_answer~park/default/inline &park")
    uuid = calls.var(a, "other_loopback_leg_uuid")
    assert uuid is not None
    await calls.fired(uuid, "CHANNEL_PARK")
    assert not calls.session(uuid).channel.answered
    assert await calls.api("uuid_answer", uuid) == "+OK\n"
    answer = await calls.fired(uuid, "CHANNEL_ANSWER")
    assert answer["Answer-State"] == "answered"
    # CHANNEL_ANSWER comes before the call state moves on (switch_channel_perform_mark_answered)
    assert answer["Channel-Call-State"] == "EARLY"
    assert calls.session(uuid).channel.call_state == "ACTIVE"
    assert calls.of(uuid, "CHANNEL_CALLSTATE")[-1]["Channel-Call-State"] == "ACTIVE"
    assert await calls.api("uuid_answer", uuid) == "+OK\n"  # already answered is fine
    assert len(calls.of(uuid, "CHANNEL_ANSWER")) == 1
    await calls.fired(a, "CHANNEL_ANSWER")  # the loopback pair's a-leg follows


@virtual
async def test_uuid_park(calls: Calls) -> None:
    assert await calls.api("uuid_park", str(uuidlib.uuid4())) == "-ERR No such channel!\n"
    uuid = await calls.originate("null/1000 9196")  # answer, echo
    await calls.until(lambda: any(e["Application"] == "echo" for e in calls.of(uuid, "CHANNEL_EXECUTE")))
    assert not calls.of(uuid, "CHANNEL_PARK")
    assert await calls.api("uuid_park", uuid) == "+OK\n"
    await calls.fired(uuid, "CHANNEL_PARK")
    echo_done = [e for e in calls.of(uuid, "CHANNEL_EXECUTE_COMPLETE") if e["Application"] == "echo"]
    assert len(echo_done) == 1
    assert calls.session(uuid).channel.running_state.name == "CS_PARK"
    states = [e["Channel-State"] for e in calls.of(uuid, "CHANNEL_STATE")]
    assert states[-1] == "CS_PARK"


@virtual
async def test_uuid_break_stops_playback(calls: Calls) -> None:
    assert await calls.api("uuid_break", "") == "-USAGE: <uuid> [all]\n"
    assert await calls.api("uuid_break", str(uuidlib.uuid4())) == "-ERR No such channel!\n"
    uuid = await calls.originate("null/1000 &playback(silence_stream://60000)")
    await calls.fired(uuid, "PLAYBACK_START")
    started = calls.now()
    await asyncio.sleep(2)
    assert await calls.api("uuid_break", uuid) == "+OK\n"
    stop = await calls.fired(uuid, "PLAYBACK_STOP")
    assert stop["Playback-Status"] == "break"
    assert calls.now() - started < 3
    done = await calls.fired(uuid, "CHANNEL_EXECUTE_COMPLETE")
    assert done["Application-Response"] == "FILE PLAYED"
    assert done["variable_playback_seconds"] == "2"


@virtual
async def test_uuid_broadcast(calls: Calls) -> None:
    assert await calls.api("uuid_broadcast", "x") == "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
    assert (
        await calls.api("uuid_broadcast", f"{uuidlib.uuid4()} silence_stream://10") == "-ERR invalid uuid\n"
    )
    uuid = await calls.originate("null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    assert await calls.api("uuid_broadcast", f"{uuid} silence_stream://2000") == "+OK Message sent\n"
    await calls.fired(uuid, "PLAYBACK_STOP")
    execute = [e for e in calls.of(uuid, "CHANNEL_EXECUTE") if e["Application"] == "playback"]
    assert execute[0]["Application-Data"] == "silence_stream://2000"
    assert await calls.api("uuid_broadcast", f"{uuid} set::broadcast_var=yes") == "+OK Message sent\n"
    await calls.until(lambda: calls.session(uuid).get_variable("broadcast_var") == "yes")
    assert [e["Application"] for e in calls.of(uuid, "CHANNEL_EXECUTE")] == ["park", "playback", "set"]
    assert not calls.of(uuid, "CHANNEL_HANGUP")  # still parked afterwards


@virtual
async def test_uuid_broadcast_plays_the_whole_file_to_a_parked_channel(calls: Calls) -> None:
    uuid = await calls.originate("null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    started = calls.now()
    assert await calls.api("uuid_broadcast", f"{uuid} silence_stream://2000") == "+OK Message sent\n"
    stop = await calls.fired(uuid, "PLAYBACK_STOP")
    assert stop["Playback-Status"] == "done"
    assert 2 <= calls.now() - started < 3


# -- uuid_getvar / uuid_setvar / uuid_setvar_multi ----------------------------------------------------


@virtual
async def test_uuid_getvar(calls: Calls) -> None:
    assert await calls.api("uuid_getvar", "only-one") == "-USAGE: <uuid> <var>\n"
    assert await calls.api("uuid_getvar", f"{uuidlib.uuid4()} x") == "-ERR No such channel!\n"
    uuid = await calls.originate("null/1000 &park")
    assert await calls.api("uuid_getvar", f"{uuid} never_set") == "_undef_"
    assert await calls.api("uuid_getvar", f"{uuid} channel_name") == "null/1000"
    assert await calls.api("uuid_getvar", f"{uuid} uuid") == uuid


@virtual
async def test_uuid_setvar_and_unset(calls: Calls) -> None:
    assert await calls.api("uuid_setvar", "only-one") == "-USAGE: <uuid> <var> [value]\n"
    assert await calls.api("uuid_setvar", f"{uuidlib.uuid4()} a b") == "-ERR No such channel!\n"
    uuid = await calls.originate("null/1000 &park")
    assert await calls.api("uuid_setvar", f"{uuid} greeting hello world") == "+OK\n"
    assert await calls.api("uuid_getvar", f"{uuid} greeting") == "hello world"
    assert await calls.api("uuid_setvar", f"{uuid} greeting") == "+OK\n"
    assert await calls.api("uuid_getvar", f"{uuid} greeting") == "_undef_"
    assert "greeting" not in calls.session(uuid).channel.variables


@virtual
async def test_uuid_setvar_multi(calls: Calls) -> None:
    assert await calls.api("uuid_setvar_multi", f"{uuidlib.uuid4()} a=1") == "-ERR No such channel!\n"
    uuid = await calls.originate("null/1000 &park")
    assert await calls.api("uuid_setvar_multi", uuid) == "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"
    assert await calls.api("uuid_setvar_multi", f"{uuid} a=1;b=two words;c=x=y") == "+OK\n"
    assert await calls.api("uuid_getvar", f"{uuid} a") == "1"
    assert await calls.api("uuid_getvar", f"{uuid} b") == "two words"
    assert await calls.api("uuid_getvar", f"{uuid} c") == "x=y"
    assert await calls.api("uuid_setvar_multi", f"{uuid} a=;b=3") == "+OK\n"
    assert await calls.api("uuid_getvar", f"{uuid} a") == "_undef_"
    assert await calls.api("uuid_getvar", f"{uuid} b") == "3"


# -- uuid_dump --------------------------------------------------------------------------------------


@virtual
async def test_uuid_dump_usage_and_errors(calls: Calls) -> None:
    assert await calls.api("uuid_dump", "") == "-USAGE: <uuid> [format]\n"
    assert await calls.api("uuid_dump", str(uuidlib.uuid4())) == "-ERR No such channel!\n"


@virtual
async def test_uuid_dump_txt_is_url_encoded_plain(calls: Calls) -> None:
    uuid = await calls.originate("{dump_var='a b:c'}null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    for args in (uuid, f"{uuid} txt"):
        text = await calls.api("uuid_dump", args)
        assert text is not None
        assert text.startswith("Event-Name: CHANNEL_DATA\n")
        assert text.endswith("\n\n")
        lines = text[:-2].split("\n")
        assert f"Unique-ID: {uuid}" in lines
        assert "variable_dump_var: a%20b%3Ac" in lines
        assert "Channel-Name: null/1000" in lines
        assert "Event-Calling-Function: uuid_dump_function" in lines


@virtual
async def test_uuid_dump_plain_brackets_unencoded_values(calls: Calls) -> None:
    uuid = await calls.originate("{dump_var='a b:c'}null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    text = await calls.api("uuid_dump", f"{uuid} plain")
    assert text is not None
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "Event-Name: [CHANNEL_DATA]"
    assert f"Unique-ID: [{uuid}]" in lines
    assert "variable_dump_var: [a b:c]" in lines
    assert all(re.fullmatch(r"[^:]+: \[.*\]", line) for line in lines)


@virtual
async def test_uuid_dump_plain_ends_with_blank_line(calls: Calls) -> None:
    uuid = await calls.originate("null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    text = await calls.api("uuid_dump", f"{uuid} plain")
    assert text is not None and text.endswith("]\n\n")


@virtual
async def test_uuid_dump_json(calls: Calls) -> None:
    uuid = await calls.originate("{dump_var='a b:c'}null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    text = await calls.api("uuid_dump", f"{uuid} json")
    assert text is not None and text.startswith("{") and not text.endswith("\n")
    data = json.loads(text)
    assert data["Event-Name"] == "CHANNEL_DATA"
    assert data["Unique-ID"] == uuid
    assert data["variable_dump_var"] == "a b:c"
    assert data["Answer-State"] == "answered"


@virtual
async def test_uuid_dump_xml(calls: Calls) -> None:
    uuid = await calls.originate("{dump_var='a b:c'}null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    text = await calls.api("uuid_dump", f"{uuid} xml")
    assert text is not None and text.startswith("<event>\n  <headers>\n")
    root = ET.fromstring(text)
    headers = root.find("headers")
    assert headers is not None
    assert headers.findtext("Event-Name") == "CHANNEL_DATA"
    assert headers.findtext("Unique-ID") == uuid
    assert headers.findtext("variable_dump_var") == "a%20b%3Ac"  # values are URL-encoded in XML


# -- uuid_exists / uuid_send_dtmf / uuid_hold ---------------------------------------------------------


@virtual
async def test_uuid_exists(calls: Calls) -> None:
    assert await calls.api("uuid_exists", "") == "false"
    assert await calls.api("uuid_exists", str(uuidlib.uuid4())) == "false"
    uuid = await calls.originate("null/1000 &park")
    assert await calls.api("uuid_exists", uuid) == "true"


@virtual
async def test_uuid_send_dtmf_goes_to_the_far_end(calls: Calls) -> None:
    assert await calls.api("uuid_send_dtmf", "only-one") == "-USAGE: <uuid> <dtmf_data>\n"
    uuid = await calls.originate("null/1000 &park")
    reply = await calls.api("uuid_send_dtmf", f"{uuid} 12#")
    assert reply == f"+OK {uuid} sent DTMF 12#.\n"
    # a null channel's far end keeps the digits; the channel itself receives nothing
    assert calls.var(uuid, "null_channel_dtmf_queued") == "12#"
    assert calls.var(uuid, "last_dtmf_duration") == "1500"
    assert not calls.of(uuid, "DTMF")


@virtual
async def test_uuid_recv_dtmf_fires_dtmf_events(calls: Calls) -> None:
    assert await calls.api("uuid_recv_dtmf", "only-one") == "-USAGE: <uuid> <dtmf_data>\n"
    assert await calls.api("uuid_recv_dtmf", f"{uuidlib.uuid4()} 1") == "-ERR Cannot locate session!\n"
    uuid = await calls.originate("null/1000 &park")
    assert await calls.api("uuid_recv_dtmf", f"{uuid} xyz") == "-USAGE: <uuid> <dtmf_data>\n"
    assert await calls.api("uuid_recv_dtmf", f"{uuid} 12#@400") == f"+OK {uuid} received DTMF 12#@400.\n"
    await calls.until(lambda: len(calls.of(uuid, "DTMF")) == 3)
    digits = calls.of(uuid, "DTMF")
    assert [e["DTMF-Digit"] for e in digits] == ["1", "2", "#"]
    assert [e["DTMF-Duration"] for e in digits] == ["3200"] * 3
    assert all(e["DTMF-Source"] == "APP" for e in digits)
    assert not any(k.startswith("variable_") for e in digits for k, _ in e.items())
    # the DTMF headers follow the channel data
    names = [k for k, _ in digits[0].items()]
    assert names.index("DTMF-Digit") > names.index("Unique-ID")


@virtual
async def test_uuid_send_dtmf_replies_as_mod_commands(calls: Calls) -> None:
    assert await calls.api("uuid_send_dtmf", f"{uuidlib.uuid4()} 1") == "-ERR Cannot locate session!\n"
    uuid = await calls.originate("null/1000 &park")
    assert await calls.api("uuid_send_dtmf", f"{uuid} 12") == f"+OK {uuid} sent DTMF 12.\n"


@virtual
async def test_uuid_hold_on_a_null_channel(calls: Calls) -> None:
    """switch_ivr_hold: CHANNEL_HOLD; a null channel's call state does not change, so it is never
    HELD and ``off`` fails; an unknown uuid succeeds (FreeSWITCH does nothing and says so)."""
    assert await calls.api("uuid_hold", "") == "-USAGE: [off|toggle] <uuid> [<display>]\n"
    assert await calls.api("uuid_hold", str(uuidlib.uuid4())) == "+OK Success\n"
    assert await calls.api("uuid_hold", f"off {uuidlib.uuid4()}") == "+OK Success\n"
    uuid = await calls.originate("null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    assert await calls.api("uuid_hold", uuid) == "+OK Success\n"
    hold = await calls.fired(uuid, "CHANNEL_HOLD")
    assert hold["Channel-Call-State"] == "ACTIVE"
    assert await calls.api("uuid_hold", f"off {uuid}") == "-ERR Operation failed\n"
    assert await calls.api("uuid_hold", f"toggle {uuid}") == "+OK Success\n"
    assert len(calls.of(uuid, "CHANNEL_HOLD")) == 2
    assert not calls.of(uuid, "CHANNEL_UNHOLD")


@virtual
async def test_uuid_hold_unhold_toggle_on_a_phone(calls: Calls) -> None:
    """A phone (``sim``) accepts the hold: HELD, then UNHELD, and ACTIVE at the next state."""
    uuid = await calls.originate("sim/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    assert await calls.api("uuid_hold", uuid) == "+OK Success\n"
    hold = await calls.fired(uuid, "CHANNEL_HOLD")
    assert hold["Channel-Call-State"] == "HELD"
    callstate = calls.of(uuid, "CHANNEL_CALLSTATE")[-1]
    assert callstate["Channel-Call-State"] == "HELD"
    assert callstate["Original-Channel-Call-State"] == "ACTIVE"
    assert callstate["Channel-Call-State-Number"] == "5"
    assert await calls.api("uuid_hold", uuid) == "-ERR Operation failed\n"  # already held
    await asyncio.sleep(10)
    assert await calls.api("uuid_hold", f"off {uuid}") == "+OK Success\n"
    unhold = await calls.fired(uuid, "CHANNEL_UNHOLD")
    assert unhold["Channel-Call-State"] == "UNHELD"
    assert 10_000_000 <= int(unhold["Caller-Channel-Hold-Accum"]) < 11_000_000
    assert await calls.api("uuid_hold", f"toggle {uuid}") == "+OK Success\n"
    assert calls.session(uuid).channel.call_state == "HELD"
    assert await calls.api("uuid_hold", f"toggle {uuid}") == "+OK Success\n"
    assert calls.session(uuid).channel.call_state == "UNHELD"
    assert len(calls.of(uuid, "CHANNEL_HOLD")) == 2
    assert len(calls.of(uuid, "CHANNEL_UNHOLD")) == 2
    # the next state handler makes an unheld call ACTIVE again
    await calls.api("uuid_transfer", f"{uuid} 9999 XML default")
    await calls.fired(uuid, "CHANNEL_PARK", count=2)
    assert calls.session(uuid).channel.call_state == "ACTIVE"


# -- uuid_record / uuid_displace ----------------------------------------------------------------------


@virtual
async def test_uuid_record_start_stop_writes_wav(calls: Calls, tmp_path: Path) -> None:
    usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    assert await calls.api("uuid_record", "x start") == usage
    target = tmp_path / "call.wav"
    assert (
        await calls.api("uuid_record", f"{uuidlib.uuid4()} start {target}") == "-ERR Cannot locate session!\n"
    )
    uuid = await calls.originate("null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    assert await calls.api("uuid_record", f"{uuid} stop {target}") == "-ERR Cannot stop record session!\n"
    assert await calls.api("uuid_record", f"{uuid} start {target}") == "+OK Success\n"
    start = await calls.fired(uuid, "RECORD_START")
    assert start["Record-File-Path"] == str(target)
    await asyncio.sleep(7.5)
    assert await calls.api("uuid_record", f"{uuid} stop {target}") == "+OK Success\n"
    stop = await calls.fired(uuid, "RECORD_STOP")
    assert stop["Record-File-Path"] == str(target)
    assert wav_seconds(target) == pytest.approx(7.5, abs=0.05)
    with wave.open(str(target), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)
        assert set(w.readframes(w.getnframes())) == {0}  # silence
    assert await calls.api("uuid_getvar", f"{uuid} record_seconds") == "7"
    assert await calls.api("uuid_record", f"{uuid} bogus {target}") == usage


@virtual
async def test_uuid_record_limit_and_hangup(calls: Calls, tmp_path: Path) -> None:
    uuid = await calls.originate("null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    limited = tmp_path / "limited.wav"
    assert await calls.api("uuid_record", f"{uuid} start {limited} 3") == "+OK Success\n"
    await calls.fired(uuid, "RECORD_STOP")
    assert wav_seconds(limited) == pytest.approx(3.0, abs=0.05)
    cut = tmp_path / "cut.wav"
    assert await calls.api("uuid_record", f"{uuid} start {cut}") == "+OK Success\n"
    await asyncio.sleep(4)
    assert await calls.api("uuid_kill", uuid) == "+OK\n"
    await calls.fired(uuid, "RECORD_STOP", 2)
    assert wav_seconds(cut) == pytest.approx(4.0, abs=0.05)


@virtual
async def test_uuid_displace(calls: Calls, tmp_path: Path) -> None:
    usage = "-USAGE: <uuid> [start|stop] <path> [<limit>] [mux]\n"
    prompt = write_wav(tmp_path / "prompt.wav", 1.0)
    assert await calls.api("uuid_displace", "x start") == usage
    assert (
        await calls.api("uuid_displace", f"{uuidlib.uuid4()} start {prompt}")
        == "-ERR Cannot locate session!\n"
    )
    uuid = await calls.originate("null/1000 &park")
    assert await calls.api("uuid_displace", f"{uuid} start {prompt} 0 mux") == "+OK Success\n"
    assert await calls.api("uuid_displace", f"{uuid} stop {prompt}") == "+OK Success\n"


@virtual
async def test_uuid_displace_unknown_action_is_usage(calls: Calls, tmp_path: Path) -> None:
    uuid = await calls.originate("null/1000 &park")
    reply = await calls.api("uuid_displace", f"{uuid} bogus {tmp_path / 'x.wav'}")
    assert reply == "-USAGE: <uuid> [start|stop] <path> [<limit>] [mux]\n"


# -- uuid_transfer / uuid_bridge --------------------------------------------------------------------


@virtual
async def test_uuid_transfer(calls: Calls) -> None:
    usage = "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    assert await calls.api("uuid_transfer", "") == usage
    assert await calls.api("uuid_transfer", "only-one") == usage
    assert await calls.api("uuid_transfer", f"{uuidlib.uuid4()} 9999") == "-ERR No such channel!\n"
    uuid = await calls.originate("null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    assert await calls.api("uuid_transfer", f"{uuid} 9664 XML default") == "+OK\n"
    await calls.gone(uuid)
    apps = [e["Application"] for e in calls.of(uuid, "CHANNEL_EXECUTE")]
    assert apps == ["park", "answer", "playback", "hangup"]
    last = calls.of(uuid, "CHANNEL_EXECUTE")[-1]
    assert last["Caller-Destination-Number"] == "9664"
    assert re.fullmatch(r"\d+:[0-9a-f-]{36}:bl_xfer:9664/default/XML", last["variable_transfer_source"])
    assert last["Caller-Transfer-Source"] == last["variable_transfer_source"]
    assert last["variable_transfer_history"] == last["variable_transfer_source"]


@virtual
async def test_uuid_transfer_bleg_and_both(calls: Calls) -> None:
    a = await calls.originate("null/1000 &bridge(null/2000)")
    bridge = await calls.fired(a, "CHANNEL_BRIDGE")
    b = bridge["Bridge-B-Unique-ID"]
    assert await calls.api("uuid_transfer", f"{a} -bleg 9999") == "+OK\n"
    await calls.fired(b, "CHANNEL_PARK")
    await calls.fired(a, "CHANNEL_UNBRIDGE")
    # the a-leg's bridge ended; nothing else to do, it hangs up
    await calls.fired(a, "CHANNEL_HANGUP")
    assert not calls.of(b, "CHANNEL_HANGUP")

    c = await calls.originate("null/3000 &bridge(null/4000)")
    d = (await calls.fired(c, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    assert await calls.api("uuid_transfer", f"{c} -both 9999 XML default") == "+OK\n"
    await calls.fired(c, "CHANNEL_PARK")
    await calls.fired(d, "CHANNEL_PARK")
    assert not calls.of(c, "CHANNEL_HANGUP") and not calls.of(d, "CHANNEL_HANGUP")


@virtual
async def test_uuid_transfer_bleg_without_bridge_transfers_the_channel(calls: Calls) -> None:
    uuid = await calls.originate("null/1000 &park")
    await calls.fired(uuid, "CHANNEL_PARK")
    assert await calls.api("uuid_transfer", f"{uuid} -bleg 9664") == "+OK\n"
    await calls.gone(uuid)
    assert [e["Application"] for e in calls.of(uuid, "CHANNEL_EXECUTE")][-1] == "hangup"


@virtual
async def test_uuid_bridge(calls: Calls) -> None:
    assert await calls.api("uuid_bridge", "") == "-USAGE: <uuid> <other_uuid>\n"
    a = await calls.originate("null/1000 &park")
    b = await calls.originate("null/2000 &park")
    assert await calls.api("uuid_bridge", a) == "-USAGE: <uuid> <other_uuid>\n"
    assert await calls.api("uuid_bridge", f"{a} {uuidlib.uuid4()}") == "-ERR Invalid uuid\n"
    assert await calls.api("uuid_bridge", f"{uuidlib.uuid4()} {b}") == "-ERR Invalid uuid\n"
    await calls.fired(b, "CHANNEL_PARK")
    assert await calls.api("uuid_bridge", f"{a} {b}") == f"+OK {b}\n"
    bridge = await calls.fired(a, "CHANNEL_BRIDGE")
    assert bridge["Bridge-A-Unique-ID"] == a
    assert bridge["Bridge-B-Unique-ID"] == b
    assert bridge["Other-Leg-Unique-ID"] == b
    assert await calls.api("uuid_getvar", f"{a} bridge_uuid") == b
    assert await calls.api("uuid_getvar", f"{b} bridge_uuid") == a
    await calls.fired(a, "CHANNEL_UNPARK")  # both legs are taken out of park
    await calls.fired(b, "CHANNEL_UNPARK")
    assert await calls.api("uuid_kill", a) == "+OK\n"
    unbridge = await calls.fired(a, "CHANNEL_UNBRIDGE")
    assert unbridge["Bridge-B-Unique-ID"] == b
    # without park_after_bridge the survivor hangs up too
    await calls.gone(a)
    await calls.gone(b)


@virtual
async def test_uuid_bridge_other_leg_hangs_up(calls: Calls) -> None:
    a = await calls.originate("null/1000 &park")
    b = await calls.originate("null/2000 &park")
    assert await calls.api("uuid_bridge", f"{a} {b}") == f"+OK {b}\n"
    await calls.fired(a, "CHANNEL_BRIDGE")
    assert await calls.api("uuid_kill", b) == "+OK\n"
    await calls.gone(b)
    await calls.fired(a, "CHANNEL_UNBRIDGE", timeout=30)
    await calls.fired(a, "CHANNEL_HANGUP", timeout=30)


@virtual
async def test_uuid_bridge_park_after_bridge(calls: Calls) -> None:
    a = await calls.originate("{park_after_bridge=true}null/1000 &park")
    b = await calls.originate("null/2000 &park")
    assert await calls.api("uuid_bridge", f"{a} {b}") == f"+OK {b}\n"
    await calls.fired(a, "CHANNEL_BRIDGE")
    assert await calls.api("uuid_kill", b) == "+OK\n"
    await calls.gone(b)
    await calls.fired(a, "CHANNEL_PARK", 2, timeout=30)
    assert not calls.of(a, "CHANNEL_HANGUP")


# -- hupall -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        ("", "MANAGER_REQUEST"),
        ("NONE", "MANAGER_REQUEST"),
        ("0", "MANAGER_REQUEST"),
        ("USER_BUSY", "USER_BUSY"),
        ("call_rejected", "CALL_REJECTED"),
        ("NOT_A_CAUSE", "NORMAL_CLEARING"),
    ],
)
@virtual
async def test_hupall_every_channel(calls: Calls, args: str, cause: str) -> None:
    uuids = [await calls.originate(f"null/{n} &park") for n in (1, 2, 3)]
    assert await calls.api("hupall", args) == f"+OK hangup all channels with cause {cause}\n"
    for uuid in uuids:
        assert (await calls.fired(uuid, "CHANNEL_HANGUP"))["Hangup-Cause"] == cause
        await calls.gone(uuid)


@virtual
async def test_hupall_matching_variables(calls: Calls) -> None:
    one = await calls.originate("{team=red,desk=1}null/1 &park")
    two = await calls.originate("{team=red,desk=2}null/2 &park")
    three = await calls.originate("{team=blue}null/3 &park")
    reply = await calls.api("hupall", "USER_BUSY team red desk 2")
    assert reply == "+OK hangup all channels matching [team]=[red]... with cause: USER_BUSY\n"
    assert (await calls.fired(two, "CHANNEL_HANGUP"))["Hangup-Cause"] == "USER_BUSY"
    await calls.settle(1)
    assert not calls.of(one, "CHANNEL_HANGUP") and not calls.of(three, "CHANNEL_HANGUP")
    reply = await calls.api("hupall", "NORMAL_CLEARING team red")
    assert reply == "+OK hangup all channels matching [team]=[red] with cause: NORMAL_CLEARING\n"
    await calls.fired(one, "CHANNEL_HANGUP")
    await calls.settle(1)
    assert not calls.of(three, "CHANNEL_HANGUP")
    assert await calls.api("hupall", "NORMAL_CLEARING team green") == (
        "+OK hangup all channels matching [team]=[green] with cause: NORMAL_CLEARING\n"
    )
    await calls.settle(1)
    assert not calls.of(three, "CHANNEL_HANGUP")


# -- show channels / calls / detailed_calls, status -------------------------------------------------------


@virtual
async def test_show_channels_empty_forms(calls: Calls) -> None:
    assert await calls.api("show", "channels") == "\n0 total.\n"
    assert await calls.api("show", "channels count") == "\n0 total.\n"
    assert await calls.api("show", "channels as json") == '{"row_count": 0}\n'
    assert await calls.api("show", "channels as xml") == '<result row_count="0"/>\n'
    assert await calls.api("show", "calls") == "\n0 total.\n"
    assert await calls.api("show", "calls count") == "\n0 total.\n"
    assert await calls.api("show", "calls as json") == '{"row_count": 0}\n'
    assert await calls.api("show", "detailed_calls") == "\n0 total.\n"
    assert await calls.api("show", "channels as bogus") == "-ERR Cannot find format bogus\n"


@virtual
async def test_show_channels_rows(calls: Calls) -> None:
    a = await calls.originate("null/1000 &park")
    b = await calls.originate("{presence_id=bob@example.com}null/2000 &park")
    await calls.fired(b, "CHANNEL_PARK")
    text = await calls.api("show", "channels")
    assert text is not None
    lines = text.split("\n")
    assert lines[0] == CHANNEL_COLUMNS
    assert text.endswith("\n\n2 total.\n")
    rows = [line.split(",") for line in lines[1:3]]
    assert [r[0] for r in rows] == [a, b]
    columns = CHANNEL_COLUMNS.split(",")
    row = dict(zip(columns, rows[1], strict=True))
    assert row["direction"] == "outbound"
    assert row["name"] == "null/2000"
    assert row["state"] == "CS_EXECUTE"
    assert row["application"] == "park"
    assert row["callstate"] == "ACTIVE"
    assert row["presence_id"] == "bob@example.com"
    assert row["read_codec"] == "L16" and row["read_rate"] == "8000"
    assert await calls.api("show", "channels count") == "\n2 total.\n"
    piped = await calls.api("show", "channels as delim |")
    assert piped is not None and piped.split("\n")[0] == CHANNEL_COLUMNS.replace(",", "|")
    assert piped.endswith("\n\n2 total.\n")


@virtual
async def test_show_channels_as_json_and_xml(calls: Calls) -> None:
    a = await calls.originate("null/1000 &park")
    await calls.fired(a, "CHANNEL_PARK")
    text = await calls.api("show", "channels as json")
    assert text is not None and not text.endswith("\n")
    data = json.loads(text)
    assert data["row_count"] == 1
    assert list(data["rows"][0]) == CHANNEL_COLUMNS.split(",")
    assert data["rows"][0]["uuid"] == a
    assert all(isinstance(v, str) for v in data["rows"][0].values())
    xml_text = await calls.api("show", "channels as xml")
    assert xml_text is not None
    root = ET.fromstring(xml_text)
    assert root.tag == "result" and root.get("row_count") == "1"
    row = root.find("row")
    assert row is not None and row.get("row_id") == "1"
    assert [child.tag for child in row] == CHANNEL_COLUMNS.split(",")
    assert row.findtext("uuid") == a


@pytest.mark.parametrize("spec", ["csv", "delim"])
@virtual
async def test_show_channels_as_csv_or_bare_delim(calls: Calls, spec: str) -> None:
    await calls.originate("null/1000 &park")
    text = await calls.api("show", f"channels as {spec}")
    assert text is not None and text.split("\n")[0] == CHANNEL_COLUMNS


@virtual
async def test_show_calls_and_detailed_calls(calls: Calls) -> None:
    a = await calls.originate("null/1000 &bridge(null/2000)")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    lone = await calls.originate("null/3000 &park")
    await calls.fired(lone, "CHANNEL_PARK")
    text = await calls.api("show", "calls")
    assert text is not None
    lines = text.split("\n")
    header = lines[0].split(",")
    assert header[:2] == ["uuid", "direction"] and header[-1] == "call_created_epoch"
    assert "b_uuid" in header
    assert text.endswith("\n\n2 total.\n")
    rows = {r[0]: dict(zip(header, r, strict=True)) for r in (line.split(",") for line in lines[1:3])}
    assert rows[a]["b_uuid"] == b
    assert rows[lone]["b_uuid"] == ""
    assert await calls.api("show", "calls count") == "\n2 total.\n"
    data = json.loads(await calls.api("show", "calls as json") or "")
    assert data["row_count"] == 2
    detailed = await calls.api("show", "detailed_calls")
    assert detailed is not None
    dheader = detailed.split("\n")[0].split(",")
    assert dheader[: len(CHANNEL_COLUMNS.split(","))] == CHANNEL_COLUMNS.split(",")
    assert dheader[len(CHANNEL_COLUMNS.split(","))] == "b_uuid"
    assert detailed.endswith("\n\n2 total.\n")
    drows = [line.split(",") for line in detailed.split("\n")[1:3]]
    by_uuid = {r[0]: dict(zip(dheader, r, strict=True)) for r in drows}
    assert by_uuid[a]["b_uuid"] == b
    assert by_uuid[a]["b_name"] == "null/2000"
    ddata = json.loads(await calls.api("show", "detailed_calls as json") or "")
    assert ddata["row_count"] == 2


@virtual
async def test_status_counts_sessions(calls: Calls) -> None:
    def lines(text: str | None) -> list[str]:
        assert text is not None
        return text.split("\n")

    first = lines(await calls.api("status"))
    assert first[2:4] == ["0 session(s) since startup", "0 session(s) - peak 0, last 5min 0 "]
    a = await calls.originate("null/1000 &park")
    b = await calls.originate("null/2000 &park")
    now = lines(await calls.api("status"))
    assert now[0].startswith("UP 0 years, 0 days, 0 hours, ")
    assert now[1].endswith(" is ready")
    assert now[2:4] == ["2 session(s) since startup", "2 session(s) - peak 2, last 5min 2 "]
    assert now[5] == "1000 session(s) max"
    assert now[7] == "Current Stack Size/Max 240K/8192K"
    await calls.api("uuid_kill", a)
    await calls.gone(a)
    after = lines(await calls.api("status"))
    assert after[2:4] == ["2 session(s) since startup", "1 session(s) - peak 2, last 5min 2 "]
    await calls.api("uuid_kill", b)
    await calls.gone(b)
    assert lines(await calls.api("status"))[3] == "0 session(s) - peak 2, last 5min 2 "
