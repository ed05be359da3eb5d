"""The outbound application server: the test plays the switch, then the real switch calls it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scripted import Peer, dial

from esl_harness import Harness
from eventsocket.client import CommandError, DisconnectedError, Event, OutboundCall, OutboundServer
from eventsocket.protocol.events import Event as WireEvent
from eventsocket.protocol.framing import disconnect_frame, linger_frame

UUID = "0d8f3c9e-6a1b-4c55-9d2e-7f00c0ffee01"


def channel_data(mode: str = "async", control: str = "full") -> bytes:
    """The ``connect`` reply as PROTOCOL.md §5.3 describes it: a flat plain CHANNEL_DATA event."""
    headers = [
        ("Event-Name", "CHANNEL_DATA"), ("Core-UUID", "core-1"), ("Event-Calling-Function", "parse_command"),
        ("Channel-Direction", "inbound"), ("Channel-Caller-ID-Name", "John Doe"),
        ("Channel-Caller-ID-Number", "1000"), ("Channel-State", "CS_EXECUTE"),
        ("Channel-Name", "sofia/internal/1000@example.com"), ("Unique-ID", UUID),
        ("Caller-Caller-ID-Name", "John Doe"), ("Caller-Caller-ID-Number", "1000"),
        ("Caller-Destination-Number", "5000"), ("variable_sip_user_agent", "Phone/1.0 (x; y)"),
        ("Content-Type", "command/reply"), ("Reply-Text", "+OK\n"), ("Socket-Mode", mode),
        ("Control", control),
    ]
    payload = WireEvent("CHANNEL_DATA", headers).serialize("plain")
    assert b"Reply-Text: %2BOK%0A\n" in payload and payload.endswith(b"\n\n")
    return payload


def channel_event(peer: Peer, name: str, *extra: tuple[str, str]) -> None:
    peer.event(name, [("Unique-ID", UUID), ("Channel-Name", "sofia/internal/1000@example.com"), *extra])


class Switch:
    """Plays FreeSWITCH's side of one outbound socket, in async or static (sync) mode."""

    def __init__(self, peer: Peer, mode: str) -> None:
        self.peer = peer
        self.mode = mode
        self.executed: list[tuple[str, str]] = []
        self.variables: dict[str, str] = {}

    async def handshake(self) -> None:
        peer = self.peer
        assert (await peer.expect("connect")).line == "connect"
        peer.send(channel_data(self.mode))
        assert (await peer.expect("myevents")).line == "myevents"
        peer.reply("+OK Events Enabled")
        assert (await peer.expect("linger")).line == "linger"
        peer.reply("+OK will linger")

    async def serve(self) -> None:
        """Answer commands until the application says exit."""
        peer = self.peer
        while True:
            request = await peer.recv(5)
            if request.line == "exit":
                peer.reply("+OK bye")
                peer.send(disconnect_frame(session_uuid=UUID))
                peer.close()
                return
            if request.line.startswith("getvar "):
                value = self.variables.get(request.line[7:])
                peer.reply(value if value else "-ERR command not found")
                continue
            assert request.line == "sendmsg", request.line
            command = request.get("call-command")
            if command == "hangup":
                assert request.get("hangup-cause") == "NORMAL_CLEARING"
                peer.reply("+OK")
                channel_event(peer, "CHANNEL_HANGUP", ("Hangup-Cause", "NORMAL_CLEARING"))
                channel_event(peer, "CHANNEL_HANGUP_COMPLETE")
                peer.send(linger_frame(UUID, "sofia/internal/1000@example.com", -1))
                continue
            assert command == "execute"
            app = request.get("execute-app-name") or ""
            arg = request.get("execute-app-arg") or ""
            app_uuid = request.get("Event-UUID") or ""
            assert app_uuid, "execute must carry an Event-UUID"
            self.executed.append((app, arg))
            extra: list[tuple[str, str]] = []
            response = "_none_"
            if app == "set":
                name, _, value = arg.partition("=")
                self.variables[name] = value
            if app == "play_and_get_digits":
                var = arg.split()[7]
                self.variables[var] = "4711"
                extra.append((f"variable_{var}", "4711"))
            if app == "playback":
                response = "FILE PLAYED"
            if self.mode == "async":
                peer.reply("+OK")  # async: acknowledged at once, completion comes later
            channel_event(peer, "CHANNEL_EXECUTE", ("Application", app), ("Application-UUID", app_uuid))
            await asyncio.sleep(0.02)  # the application runs
            if self.mode == "static":
                peer.reply("+OK")  # static: the reply waits until the application is done
            channel_event(peer, "CHANNEL_EXECUTE_COMPLETE", ("Application", app), ("Application-Data", arg),
                          ("Application-Response", response), ("Application-UUID", app_uuid), *extra)


@pytest.mark.parametrize("mode", ["async", "static"])
async def test_handler_controls_a_call_from_answer_to_hangup(mode: str) -> None:
    seen: dict[str, Any] = {}
    finished = asyncio.Event()

    async def handler(call: OutboundCall) -> None:
        try:
            seen["repr"] = repr(call)
            seen["uuid"], seen["mode"], seen["control"] = call.uuid, call.mode, call.control
            seen["caller"] = call.data["Caller-Caller-ID-Name"]
            seen["agent"] = call.data["variable_sip_user_agent"]
            seen["reply"] = call.data["Reply-Text"]
            seen["answer"] = (await call.answer())["Application"]
            await call.set("language", "en fr")
            seen["language"] = await call.getvar("language")
            seen["unset"] = await call.getvar("nothing")
            seen["playback"] = (await call.playback("ivr/welcome.wav"))["Application-Response"]
            seen["digits"] = await call.play_and_get_digits(1, 4, 3, 5000, "#", "ivr/enter.wav")
            seen["bridge"] = (await call.bridge("user/1001"))["Application"]
            await call.hangup()
            seen["hangup"] = await call.wait_hangup(2)
            seen["hungup"] = call.hungup
            seen["events"] = [e.name async for e in _drain(call)]
        finally:
            finished.set()

    async with OutboundServer(handler, port=0) as server:
        assert server.port != 8084 and server.host == "127.0.0.1"
        switch = Switch(await dial(server.port), mode)
        await switch.handshake()
        await asyncio.wait_for(switch.serve(), 10)
        await asyncio.wait_for(finished.wait(), 5)
        assert server.calls_handled == 1
    assert seen["uuid"] == UUID and seen["mode"] == mode and seen["control"] == "full"
    assert seen["caller"] == "John Doe" and seen["agent"] == "Phone/1.0 (x; y)" and seen["reply"] == "+OK\n"
    assert seen["answer"] == "answer"
    assert seen["language"] == "en fr" and seen["unset"] is None
    assert seen["playback"] == "FILE PLAYED"
    assert seen["digits"] == "4711"
    assert seen["bridge"] == "bridge"
    assert isinstance(seen["hangup"], Event) and seen["hangup"]["Hangup-Cause"] == "NORMAL_CLEARING"
    assert seen["hungup"]
    assert "CHANNEL_EXECUTE" in seen["events"] and "CHANNEL_HANGUP_COMPLETE" in seen["events"]
    assert switch.executed == [
        ("answer", ""), ("set", "language=en fr"), ("playback", "ivr/welcome.wav"),
        ("play_and_get_digits", "1 4 3 5000 # ivr/enter.wav silence_stream://250 pagd_digits \\d+"),
        ("bridge", "user/1001"),
    ]


async def _drain(call: OutboundCall) -> Any:
    queue = call.events()
    while len(queue):
        yield queue.get_nowait()


async def test_hangup_by_the_caller_ends_pending_requests() -> None:
    outcome: dict[str, BaseException] = {}

    async def handler(call: OutboundCall) -> None:
        try:
            await call.playback("long.wav")
        except DisconnectedError as exc:
            outcome["error"] = exc
            raise

    async with OutboundServer(handler, port=0, linger=False) as server:
        peer = await dial(server.port)
        await peer.expect("connect")
        peer.send(channel_data("async"))
        await peer.expect("myevents")
        peer.reply("+OK Events Enabled")
        await peer.expect("sendmsg")
        peer.reply("+OK")
        channel_event(peer, "CHANNEL_HANGUP")
        peer.send(disconnect_frame(session_uuid=UUID))
        peer.close()
        for _ in range(100):
            if "error" in outcome:
                break
            await asyncio.sleep(0.02)
    assert isinstance(outcome["error"], DisconnectedError)
    assert "Disconnected, goodbye" in str(outcome["error"])


async def test_refused_connect_and_handler_errors_do_not_stop_the_server() -> None:
    calls: list[str] = []

    async def handler(call: OutboundCall) -> None:
        calls.append(call.uuid)
        raise RuntimeError("application bug")

    async with OutboundServer(handler, port=0, myevents=False, linger=False) as server:
        peer = await dial(server.port)
        await peer.expect("connect")
        peer.reply("-ERR no session")  # not a CHANNEL_DATA dump
        assert await peer.closed()
        peer = await dial(server.port)
        await peer.expect("connect")
        peer.send(channel_data("static", "single-channel"))
        assert (await peer.expect("exit")).line == "exit"  # the handler failed: the socket is given back
        peer.reply("+OK bye")
        peer.close()
        await asyncio.sleep(0.05)
    assert calls == [UUID]


async def test_execute_turns_myevents_on_when_it_was_off() -> None:
    results: list[Event] = []

    async def handler(call: OutboundCall) -> None:
        results.append(await call.execute("answer"))

    async with OutboundServer(handler, port=0, myevents=False, linger=False) as server:
        peer = await dial(server.port)
        await peer.expect("connect")
        peer.send(channel_data("async", "single-channel"))
        assert (await peer.expect("myevents")).line == "myevents"
        peer.reply("+OK Events Enabled")
        request = await peer.expect("sendmsg")
        peer.reply("+OK")
        channel_event(peer, "CHANNEL_EXECUTE_COMPLETE", ("Application", "answer"),
                      ("Application-UUID", request.get("Event-UUID") or ""))
        await peer.expect("exit")
        peer.reply("+OK bye")
        peer.close()
    assert [e["Application"] for e in results] == ["answer"]


# -- against the project's switch -------------------------------------------------------------------


async def test_outbound_server_with_the_real_switch(harness: Harness) -> None:
    done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

    async def handler(call: OutboundCall) -> None:
        info: dict[str, Any] = {"uuid": call.uuid, "number": call.data.get("Caller-Caller-ID-Number")}
        info["answer"] = (await call.answer())["Application-Response"]
        await call.set("client_var", "a value")
        info["var"] = await call.getvar("client_var")
        info["playback"] = (await call.playback("silence_stream://100"))["Application-Response"]
        api = await call.api("echo", "full control")  # Control: full allows api on the call's socket
        info["api"] = api.body
        await call.hangup()
        info["hangup"] = await call.wait_hangup(5)
        done.set_result(info)

    async with OutboundServer(handler, port=0) as server, await _connect(harness) as conn:
        result = await conn.api("originate", f"null/1000 '&socket(127.0.0.1:{server.port} async full)'")
        if not result.ok:
            pytest.skip(f"the server cannot originate calls yet: {result.text}")
        info = await asyncio.wait_for(done, 10)
    assert info["uuid"] == result.text.split()[1]
    assert info["var"] == "a value"
    assert info["playback"] == "FILE PLAYED"
    assert info["api"] == "full control"
    assert info["hangup"] is not None


async def _connect(harness: Harness) -> Any:
    from eventsocket.client import connect

    return await connect("127.0.0.1", harness.port, "ClueCon")


async def test_outbound_call_errors_are_clear() -> None:
    errors: list[BaseException] = []

    async def handler(call: OutboundCall) -> None:
        try:
            await call.linger()
        except CommandError as exc:
            errors.append(exc)

    async with OutboundServer(handler, port=0, myevents=False, linger=False) as server:
        peer = await dial(server.port)
        await peer.expect("connect")
        peer.send(channel_data("static", "single-channel"))
        await peer.expect("linger")
        peer.reply("-ERR command not found")  # single-channel control refuses linger
        await peer.expect("exit")
        peer.close()
    assert len(errors) == 1 and "command not found" in str(errors[0])


async def test_requests_after_the_caller_hung_up_fail_while_lingering(harness: Harness) -> None:
    # linger is on (the default): the socket stays open after the hangup, but the channel runs
    # no more applications, so an execute must fail at once instead of waiting forever
    done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
    answered = asyncio.Event()

    async def handler(call: OutboundCall) -> None:
        info: dict[str, Any] = {}
        try:
            await call.answer()
            answered.set()
            await call.wait_hangup(10)
            info["hungup"] = call.hungup
            try:
                await asyncio.wait_for(call.answer(), 5)
            except DisconnectedError as exc:
                info["error"] = exc
            except TimeoutError:
                info["error"] = "still waiting after 5 s"
            info["var"] = await call.getvar("lingering_var")  # the socket itself still answers
        finally:
            if not done.done():
                done.set_result(info)

    async with OutboundServer(handler, port=0) as server, await _connect(harness) as conn:
        target = f"'&socket(127.0.0.1:{server.port} async full)'"
        result = await conn.api("originate", f"{{lingering_var=still here}}null/1000 {target}")
        assert result.ok, result.text
        await asyncio.wait_for(answered.wait(), 10)
        await conn.api("uuid_kill", result.text.split()[1])
        info = await asyncio.wait_for(done, 20)
    assert info["hungup"] is True
    assert isinstance(info["error"], DisconnectedError), info["error"]
    assert "hung up" in str(info["error"])
    assert info["var"] == "still here"


async def test_hangup_while_lingering_completes_the_interrupted_app_and_fails_queued_ones() -> None:
    outcome: dict[str, Any] = {}

    async def handler(call: OutboundCall) -> None:
        playing = asyncio.ensure_future(call.playback("long.wav"))
        queued = asyncio.ensure_future(call.playback("next.wav"))
        outcome["playing"] = (await playing)["Application-Response"]
        try:
            await queued
        except DisconnectedError as exc:
            outcome["queued"] = exc
        try:
            await call.answer()
        except DisconnectedError as exc:
            outcome["after"] = exc

    async with OutboundServer(handler, port=0) as server:
        peer = await dial(server.port)
        await Switch(peer, "async").handshake()
        first = await peer.expect("sendmsg")
        peer.reply("+OK")
        second = await peer.expect("sendmsg")
        peer.reply("+OK")
        channel_event(peer, "CHANNEL_HANGUP", ("Hangup-Cause", "NORMAL_CLEARING"))
        # the hangup interrupts the running playback, which completes; the queued one never runs
        channel_event(peer, "CHANNEL_EXECUTE_COMPLETE", ("Application", "playback"),
                      ("Application-Response", "FILE NOT PLAYED"),
                      ("Application-UUID", first.get("Event-UUID") or ""))
        channel_event(peer, "CHANNEL_HANGUP_COMPLETE")
        peer.send(linger_frame(UUID, "sofia/internal/1000@example.com", -1))
        assert (await peer.expect("exit")).line == "exit"  # nothing else was sent
        assert second.get("execute-app-arg") == "next.wav"
        peer.reply("+OK bye")
        peer.close()
    assert outcome["playing"] == "FILE NOT PLAYED"
    assert isinstance(outcome["queued"], DisconnectedError)
    assert isinstance(outcome["after"], DisconnectedError)
