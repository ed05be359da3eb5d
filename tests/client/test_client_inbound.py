"""The asyncio inbound client against the project's own server (and a scripted one where needed)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from scripted import Peer, ScriptedServer

import eventsocket
from esl_harness import Harness, start_harness, stop_harness
from eventsocket.client import (
    ApiResponse,
    AuthenticationError,
    CommandError,
    CommandReply,
    ConnectionLostError,
    DisconnectedError,
    Event,
    InboundConnection,
    InvalidArgumentError,
    QueueOverflowError,
    RequestTimeoutError,
    RudeRejectionError,
    connect,
)
from eventsocket.server.settings import EventSocketSettings


async def _client(harness: Harness, **kwargs: Any) -> InboundConnection:
    return await connect("127.0.0.1", harness.port, "ClueCon", **kwargs)


def _server_conn(harness: Harness) -> Any:
    """The server's side of the (single) client connection."""
    conns = list(harness.server.connections)
    assert len(conns) == 1, conns
    return conns[0]



async def _fire(conn: InboundConnection, n: int, subclass: str = "test::ev", **headers: str) -> None:
    for i in range(n):
        await conn.sendevent("CUSTOM", {"Seq": str(i), **headers}, subclass=subclass)


# -- connecting ------------------------------------------------------------------------------------


async def test_connect_and_typed_api(harness: Harness) -> None:
    async with await eventsocket.connect("127.0.0.1", harness.port, "ClueCon") as conn:
        assert conn.connected
        status = await conn.api("status")
        assert isinstance(status, ApiResponse) and status.ok
        assert status.body.startswith("UP ")
        echo = await conn.api("echo", "hello world")
        assert echo.body == "hello world" and echo.text == "hello world"
        missing = await conn.api("nosuchcommand")
        assert not missing.ok and missing.body == "-ERR nosuchcommand Command not found!\n"
        with pytest.raises(CommandError):
            missing.raise_for_error()
        raw = await conn.send("api echo raw")
        assert isinstance(raw, ApiResponse) and raw.body == "raw"
        reply = await conn.send("event plain HEARTBEAT")
        assert isinstance(reply, CommandReply) and reply.ok
    assert conn.closed and conn.close_error is None


async def test_wrong_password() -> None:
    h = await start_harness()
    try:
        with pytest.raises(AuthenticationError, match="-ERR invalid"):
            await connect("127.0.0.1", h.port, "wrong")
    finally:
        await stop_harness(h)


async def test_rude_rejection_is_a_clear_error() -> None:
    settings = EventSocketSettings(listen_ip="127.0.0.1", listen_port=0, apply_inbound_acl=["10.0.0.0/8"])
    h = await start_harness(settings)
    try:
        with pytest.raises(RudeRejectionError, match="Access Denied"):
            await connect("127.0.0.1", h.port, "ClueCon", connect_timeout=3)
    finally:
        await stop_harness(h)


async def test_unreachable_server() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ConnectionLostError, match="cannot connect"):
        await connect("127.0.0.1", port, "ClueCon", connect_timeout=2)


async def test_connect_timeout_when_no_greeting() -> None:
    async def silent(peer: Peer) -> None:
        await asyncio.sleep(5)

    server = ScriptedServer(silent)
    port = await server.start()
    try:
        with pytest.raises(RequestTimeoutError):
            await connect("127.0.0.1", port, "ClueCon", connect_timeout=0.3)
    finally:
        await server.stop()


# -- bgapi -----------------------------------------------------------------------------------------


async def test_bgapi_resolves_from_its_background_job(harness: Harness) -> None:
    async with await _client(harness) as conn:
        job = await conn.bgapi("echo", "in the background")
        assert job.reply.ok and job.reply.job_uuid == job.job_uuid  # our Job-UUID was used
        result = await job.result(timeout=3)
        assert result.body == "in the background" and result.job_uuid == job.job_uuid
        assert result.event is not None and result.event.name == "BACKGROUND_JOB"
        assert await job == result
        # the client subscribed for itself: the application did not ask for BACKGROUND_JOB
        server_side = _server_conn(harness)
        assert "BACKGROUND_JOB" in server_side.subs.types
        assert len(conn.events()) == 0
        assert conn.subscriptions["names"] == []
        empty = await (await conn.bgapi("echo"))
        assert empty.body == ""  # empty output: an empty body, as FreeSWITCH sends it


async def test_bgapi_1000_jobs_in_flight(harness: Harness) -> None:
    async with await _client(harness) as conn:
        jobs = await asyncio.gather(*(conn.bgapi(f"echo {n}") for n in range(1000)))
        assert len({job.job_uuid for job in jobs}) == 1000
        results = await asyncio.wait_for(asyncio.gather(*jobs), 20)
        for n, (job, result) in enumerate(zip(jobs, results, strict=True)):
            assert result.body == str(n), (n, result.body)
            assert result.job_uuid == job.job_uuid
        assert len(conn.events()) == 0


async def test_bgapi_events_reach_the_application_only_if_it_subscribed(harness: Harness) -> None:
    async with await _client(harness) as conn:
        await conn.subscribe("BACKGROUND_JOB")
        result = await (await conn.bgapi("echo x"))
        event = await conn.events().get(2)
        assert event.name == "BACKGROUND_JOB" and event["Job-UUID"] == result.job_uuid
        await conn.nixevent("BACKGROUND_JOB")
        # the client still needs it: it was not removed on the server, only hidden
        assert "BACKGROUND_JOB" in _server_conn(harness).subs.types
        assert (await (await conn.bgapi("echo y"))).body == "y"
        await asyncio.sleep(0.05)
        assert len(conn.events()) == 0


async def test_bgapi_is_not_starved_by_the_applications_filters(harness: Harness) -> None:
    async with await _client(harness) as conn:
        await conn.subscribe("CUSTOM", "test::ev")
        await conn.filter("Seq", "1")
        assert (await (await conn.bgapi("echo through"))).body == "through"
        server_filters = _server_conn(harness).subs.filters
        assert ("Event-Name", "BACKGROUND_JOB") in server_filters and ("Seq", "1") in server_filters
        await _fire(conn, 3)
        event = await conn.events().get(2)
        assert event["Seq"] == "1"
        await asyncio.sleep(0.05)
        assert len(conn.events()) == 0  # neither Seq 0/2 nor the BACKGROUND_JOB
        # the application's last filter goes: so does the client's, or it would filter everything
        await conn.filter_delete("Seq", "1")
        assert _server_conn(harness).subs.filters == []
        await _fire(conn, 2)
        assert [(await conn.events().get(2))["Seq"] for _ in range(2)] == ["0", "1"]


async def test_bgapi_refused_raises(harness: Harness) -> None:
    async def refuse(peer: Peer) -> None:
        await peer.greet_and_auth()
        await peer.expect("event BACKGROUND_JOB")
        peer.reply("+OK event listener enabled plain")
        request = await peer.expect("bgapi status")
        assert request.get("Job-UUID")
        peer.reply("-ERR permission denied")
        await peer.closed()

    server = ScriptedServer(refuse)
    port = await server.start()
    try:
        async with await connect("127.0.0.1", port, "ClueCon") as conn:
            with pytest.raises(CommandError, match="permission denied"):
                await conn.bgapi("status")
            assert conn._jobs == {}
    finally:
        await server.stop()
    assert not server.errors


# -- subscriptions, filters, handlers ---------------------------------------------------------------


async def test_subscribe_formats_and_events(harness: Harness) -> None:
    async with await _client(harness) as conn:
        for fmt in ("json", "xml", "plain"):
            await conn.subscribe("CUSTOM", "test::ev", format=fmt)
            await conn.sendevent("CUSTOM", {"Who": "a b&c", "Unique-ID": "u-1"}, body="line1\nline2",
                                 subclass="test::ev")
            event = await conn.events().get(2)
            assert event.format == fmt
            assert event.name == "CUSTOM" and event.subclass == "test::ev"
            assert event["Who"] == "a b&c" and event.uuid == "u-1"
            assert event.body == "line1\nline2"
        assert _server_conn(harness).subs.format == "plain"


async def test_subscribe_nixevent_noevents_state(harness: Harness) -> None:
    async with await _client(harness) as conn:
        await conn.subscribe("ALL")
        await conn.nixevent("HEARTBEAT")
        subs = _server_conn(harness).subs
        assert "HEARTBEAT" not in subs.types and "CHANNEL_CREATE" in subs.types
        assert conn.subscriptions["all"] and conn.subscriptions["nixed"] == ["HEARTBEAT"]
        await conn.noevents()
        assert not subs.types
        # the client resubscribed what bgapi needs only when it needed it
        assert (await (await conn.bgapi("echo still"))).body == "still"
        assert subs.types == {"BACKGROUND_JOB"}
        await conn.nixevent("ALL")
        assert subs.types == {"BACKGROUND_JOB"}  # put back after "nixevent ALL"
        assert (await (await conn.bgapi("echo again"))).body == "again"
        with pytest.raises(CommandError, match="no keywords"):
            await conn.subscribe("NOT_AN_EVENT")


async def test_handlers_by_name_subclass_and_wildcard(harness: Harness) -> None:
    async with await _client(harness) as conn:
        seen: dict[str, list[str]] = {"sub": [], "other": [], "all": [], "async": []}
        done = asyncio.Event()

        @conn.on("CUSTOM", subclass="test::ev")
        def on_sub(event: Event) -> None:
            seen["sub"].append(event["Seq"])

        conn.on("CUSTOM", lambda e: seen["other"].append(e.subclass or ""), subclass="other::ev")
        conn.on("*", lambda e: seen["all"].append(e.name))

        async def slow(event: Event) -> None:
            await asyncio.sleep(0.01)
            seen["async"].append(event["Seq"])
            if len(seen["async"]) == 3:
                done.set()

        conn.on("custom", slow)
        await conn.subscribe("CUSTOM", "test::ev", "other::ev")
        await _fire(conn, 2)
        await _fire(conn, 1, subclass="other::ev")
        await asyncio.wait_for(done.wait(), 2)
        await asyncio.sleep(0.05)
        assert seen["sub"] == ["0", "1"]
        assert seen["other"] == ["other::ev"]
        assert seen["all"] == ["CUSTOM"] * 3
        assert sorted(seen["async"]) == ["0", "0", "1"]  # every CUSTOM event, each in its own task
        conn.off("CUSTOM", on_sub, subclass="test::ev")
        await _fire(conn, 1)
        await asyncio.sleep(0.05)
        assert seen["sub"] == ["0", "1"]


async def test_events_async_iterator(harness: Harness) -> None:
    conn = await _client(harness)
    await conn.subscribe("CUSTOM", "test::ev")
    await _fire(conn, 3)
    got = []
    async for event in conn:
        got.append(event["Seq"])
        if len(got) == 3:
            break
    assert got == ["0", "1", "2"]
    await _fire(conn, 1)
    await asyncio.sleep(0.05)
    await conn.close()
    # queued events can still be read, then the iteration ends cleanly
    assert [e["Seq"] async for e in conn.events()] == ["0"]


async def test_log_stream(harness: Harness) -> None:
    async with await _client(harness) as conn:
        logs = await conn.log("info")
        await conn.api("log", "notice hello from the test")
        await conn.api("log", "debug not wanted")
        line = await logs.get(2)
        assert line.text.rstrip("\n").endswith("hello from the test") and line.level == 5
        assert line.file == "mod_commands.c"
        assert conn.subscriptions["log_level"] == "info"
        await asyncio.sleep(0.05)
        assert len(logs) == 0
        assert (await conn.nolog()).ok
        with pytest.raises(CommandError):
            await conn.log("loud")


async def test_sendevent_returns_the_event_uuid(harness: Harness) -> None:
    async with await _client(harness) as conn:
        await conn.subscribe("CUSTOM", "test::ev")
        reply = await conn.sendevent("CUSTOM", [("A", "1"), ("A", "2")], subclass="test::ev")
        event_uuid = reply.text.split()[1]
        event = await conn.events().get(2)
        assert event["Event-UUID"] == event_uuid
        assert event.get_all("A") == ["1", "2"]


# -- robustness ------------------------------------------------------------------------------------


async def test_request_timeout_keeps_replies_aligned(harness: Harness) -> None:
    async with await _client(harness) as conn:
        with pytest.raises(RequestTimeoutError, match="msleep"):
            await conn.api("msleep", "300", timeout=0.05)
        # the late reply to msleep is consumed by the timed-out request, not by this one
        assert (await conn.api("echo", "next", timeout=3)).body == "next"
        with pytest.raises(RequestTimeoutError):
            await (await conn.bgapi("msleep 300")).result(timeout=0.05)


async def test_server_shutdown_fails_pending_requests_with_the_notice(harness: Harness) -> None:
    conn = await _client(harness)
    await conn.subscribe("CUSTOM", "test::ev")
    job = await conn.bgapi("msleep 5000")
    pending = asyncio.ensure_future(conn.api("msleep", "5000"))
    await asyncio.sleep(0.05)
    await harness.server.stop()
    with pytest.raises(DisconnectedError, match="shut down"):
        await asyncio.wait_for(pending, 3)
    with pytest.raises(DisconnectedError):
        await job.result(3)
    with pytest.raises(DisconnectedError):
        await conn.events().get(3)
    await conn.wait_closed()
    assert isinstance(conn.close_error, DisconnectedError)
    with pytest.raises(DisconnectedError):
        await conn.api("status")


async def test_dropped_connection_fails_pending_requests(harness: Harness) -> None:
    conn = await _client(harness)
    pending = asyncio.ensure_future(conn.api("msleep", "5000"))
    await asyncio.sleep(0.05)
    _server_conn(harness).transport.abort()
    with pytest.raises(ConnectionLostError, match="lost"):
        await asyncio.wait_for(pending, 3)
    assert not isinstance(conn.close_error, DisconnectedError)
    with pytest.raises(ConnectionLostError):
        await conn.api("status")


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "\n", "x\r\n\r\nexit"])
async def test_newlines_can_never_inject_a_command(harness: Harness, bad: str) -> None:
    async with await _client(harness) as conn:
        attempts = [
            conn.api(bad), conn.api("echo", bad), conn.bgapi(bad), conn.bgapi("echo", bad),
            conn.subscribe(bad), conn.subscribe("CUSTOM", bad), conn.nixevent(bad),
            conn.filter("Unique-ID", bad), conn.filter(bad, "x"), conn.filter_delete(bad),
            conn.sendevent("CUSTOM", {"Foo": bad}), conn.sendevent("CUSTOM", {bad: "x"}),
            conn.sendevent(bad), conn.sendevent("CUSTOM", subclass=bad),
            conn.sendmsg(bad, {"call-command": "hangup"}), conn.sendmsg(None, {"call-command": bad}),
            conn.execute("uuid", "playback", bad), conn.execute(bad, "answer"), conn.execute("u", bad),
            conn.myevents(bad), conn.log(bad), conn.send(bad), conn.send("api echo", {"X": bad}),
        ]
        for attempt in attempts:
            with pytest.raises(InvalidArgumentError):
                await attempt
        with pytest.raises(InvalidArgumentError):
            await connect("127.0.0.1", harness.port, bad)
        # nothing was sent: the next reply is this request's own
        assert (await conn.api("echo", "clean")).body == "clean"
        # nor can a Content-Length header make the server swallow the next command as a body
        await conn.sendevent("CUSTOM", {"Content-Length": "40", "X": "1"})
        assert (await conn.api("echo", "still clean")).body == "still clean"
        # a body may hold newlines: it is framed by Content-Length, not by lines
        await conn.subscribe("CUSTOM", "test::ev")
        await conn.sendevent("CUSTOM", {"Ok": "1"}, body=f"body {bad}\n\nexit\n\n", subclass="test::ev")
        assert (await conn.events().get(2)).body == f"body {bad}\n\nexit\n\n"


@pytest.mark.parametrize("policy", ["drop_oldest", "drop_newest", "disconnect"])
async def test_bounded_event_queue_policies(harness: Harness, policy: str) -> None:
    conn = await _client(harness, queue_size=5, overflow=policy)
    await conn.subscribe("CUSTOM", "test::ev")
    async with await _client(harness) as sender:
        await _fire(sender, 20)
    await asyncio.sleep(0.1)
    queue = conn.events()
    assert len(queue) == 5
    seqs = [queue.get_nowait()["Seq"] for _ in range(5)]
    if policy == "drop_oldest":
        assert seqs == ["15", "16", "17", "18", "19"] and queue.dropped == 15
        await conn.close()
    elif policy == "drop_newest":
        assert seqs == ["0", "1", "2", "3", "4"] and queue.dropped == 15
        await conn.close()
    else:
        assert seqs == ["0", "1", "2", "3", "4"]
        with pytest.raises(QueueOverflowError):
            await queue.get(1)
        assert conn.closed and isinstance(conn.close_error, QueueOverflowError)


# -- channels: execute, sendmsg, myevents ------------------------------------------------------------


async def _originate(conn: InboundConnection) -> str:
    result = await conn.api("originate", "null/1000 &park")
    if not result.ok:
        pytest.skip(f"the server cannot originate calls yet: {result.text}")
    return result.text.split()[1]


async def test_execute_waits_for_its_own_execute_complete(harness: Harness) -> None:
    async with await _client(harness) as conn:
        uuid = await _originate(conn)
        done = await conn.execute(uuid, "set", "client_test=yes", timeout=5)
        assert done.name == "CHANNEL_EXECUTE_COMPLETE" and done.uuid == uuid
        assert done["Application"] == "set" and done["Application-Data"] == "client_test=yes"
        assert (await conn.api("uuid_getvar", f"{uuid} client_test")).body == "yes"
        first, second = await asyncio.gather(
            conn.execute(uuid, "playback", "silence_stream://200", timeout=5),
            conn.execute(uuid, "set", "second=1", timeout=5),
        )
        assert first["Application"] == "playback" and second["Application"] == "set"
        assert first["Application-UUID"] != second["Application-UUID"]
        ack = await conn.execute(uuid, "set", "x=1", wait=False)
        assert ack.ok
        await asyncio.sleep(0.1)
        assert len(conn.events()) == 0  # the client's own CHANNEL_EXECUTE_COMPLETEs stay hidden
        with pytest.raises(CommandError, match="invalid session id"):
            await conn.execute("not-a-channel", "answer")
        reply = await conn.sendmsg(uuid, {"call-command": "hangup", "hangup-cause": "USER_BUSY"})
        assert reply.ok


async def test_myevents_follows_one_channel(harness: Harness) -> None:
    async with await _client(harness) as conn:
        uuid = await _originate(conn)
        other = await _originate(conn)
        await conn.myevents(uuid)
        await conn.api("uuid_kill", other)
        await conn.api("uuid_kill", uuid)
        event = await conn.events().get(3)
        assert event.uuid == uuid
        assert conn.subscriptions["myevents"]


async def test_execute_matches_application_uuid_against_a_scripted_server() -> None:
    """Completions arrive in the reverse order; each execute gets its own (no calls needed)."""

    async def script(peer: Peer) -> None:
        await peer.greet_and_auth()
        sub = await peer.expect("event CHANNEL_EXECUTE_COMPLETE")
        assert sub.line == "event CHANNEL_EXECUTE_COMPLETE"
        peer.reply("+OK event listener enabled plain")
        requests = {}
        for _ in range(2):  # the two executes run concurrently: either may come first
            request = await peer.expect("sendmsg chan-1")
            assert request.get("call-command") == "execute"
            requests[request.get("execute-app-name")] = request
            peer.reply("+OK")
        assert requests["playback"].get("execute-app-arg") == "a.wav"
        for request in (requests["answer"], requests["playback"]):
            peer.event("CHANNEL_EXECUTE_COMPLETE", [
                ("Unique-ID", "chan-1"), ("Application", request.get("execute-app-name") or ""),
                ("Application-UUID", request.get("Event-UUID") or ""),
                ("Application-Response", "FILE PLAYED"),
            ])
        peer.event("CHANNEL_EXECUTE_COMPLETE",
                   [("Unique-ID", "chan-1"), ("Application-UUID", "someone-else")])
        await peer.closed()

    server = ScriptedServer(script)
    port = await server.start()
    try:
        async with await connect("127.0.0.1", port, "ClueCon") as conn:
            a, b = await asyncio.gather(conn.execute("chan-1", "playback", "a.wav", timeout=3),
                                        conn.execute("chan-1", "answer", timeout=3))
            assert a["Application"] == "playback" and b["Application"] == "answer"
            assert a["Application-Response"] == "FILE PLAYED"
            await asyncio.sleep(0.05)
            assert len(conn.events()) == 0
    finally:
        await server.stop()
    assert not server.errors


async def test_format_as_first_name_and_state_snapshot(harness: Harness) -> None:
    async with await _client(harness) as conn:
        await conn.subscribe("json", "CUSTOM", "test::ev")  # as on the wire: "event json CUSTOM test::ev"
        assert _server_conn(harness).subs.format == "json"
        assert conn.subscriptions["format"] == "json"
        assert conn.subscriptions["names"] == ["CUSTOM"] and conn.subscriptions["subclasses"] == ["test::ev"]
        with pytest.raises(InvalidArgumentError):
            await conn.subscribe("xml")
        with pytest.raises(InvalidArgumentError):
            await conn.subscribe("CUSTOM", format="yaml")  # type: ignore[arg-type]


async def test_userauth_and_permission_errors() -> None:
    from eventsocket.switch.builder import build_switch
    from eventsocket.switch.config import ConfDir

    h = await start_harness(core=build_switch(ConfDir.load(), heartbeat_interval=0))
    try:
        assert h.core.conf is not None
        domain = h.core.conf.global_vars["domain"]
        async with await connect("127.0.0.1", h.port, "secret", user=f"limited@{domain}") as conn:
            assert conn.auth_reply is not None and conn.auth_reply.get("Allowed-API") == "echo,status,bgapi"
            assert (await conn.api("echo", "allowed")).body == "allowed"
            with pytest.raises(CommandError, match="permission denied") as refused:
                await conn.api("version")
            assert isinstance(refused.value.reply, CommandReply)
            with pytest.raises(CommandError, match="permission denied"):
                await conn.bgapi("version")
            with pytest.raises(CommandError, match="permission denied"):
                await conn.log("debug")
            # BACKGROUND_JOB is not among this user's allowed events: no result could ever come
            with pytest.raises(CommandError, match="cannot receive BACKGROUND_JOB"):
                await conn.bgapi("echo", "job")
            assert conn._jobs == {}
        with pytest.raises(AuthenticationError):
            await connect("127.0.0.1", h.port, "wrong", user=f"limited@{domain}")
    finally:
        await stop_harness(h)


async def test_a_reply_before_garbage_in_the_same_read_is_delivered() -> None:
    # the server's reply and a frame the client cannot parse arrive together: the reply still
    # reaches its request, then the connection closes with a protocol error
    async def script(peer: Peer) -> None:
        await peer.greet_and_auth()
        await peer.expect("api status")
        peer.send(b"Content-Type: api/response\nContent-Length: 3\n\nUP\nContent-Length: -5\n\n")
        await peer.closed()

    server = ScriptedServer(script)
    port = await server.start()
    try:
        conn = await connect("127.0.0.1", port, "ClueCon", reconnect=False)
        assert (await conn.api("status")).body == "UP\n"
        await asyncio.wait_for(conn.wait_closed(), 5)
        assert conn.closed
        with pytest.raises(ConnectionLostError, match="protocol error"):
            await conn.api("status")
    finally:
        await server.stop()
    assert not server.errors
