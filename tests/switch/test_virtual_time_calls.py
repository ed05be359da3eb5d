"""Virtual time: calls that last minutes or hours of simulated time finish at once, with CDR
variables, event timestamps, heartbeats and uptime that agree with the simulated clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import itertools
import re
import socket
import time
import uuid as uuidlib
from collections.abc import Callable, Coroutine
from typing import Any

from eventsocket.protocol.events import Event, parse_event
from eventsocket.protocol.framing import FrameParser
from eventsocket.protocol.message import Frame, Request
from eventsocket.server.listener import EventSocketServer
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.config import ConfDir
from eventsocket.switch.core import SwitchCore
from eventsocket.switch.log import LogLine
from eventsocket.switch.session import Session
from eventsocket.switch.virtualtime import VirtualClock, run_virtual

CONF = ConfDir.load()
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


# -- a switch core on virtual time ------------------------------------------------------------------


class Calls:
    """A switch core on a virtual clock, with every event it fires and every log line."""

    def __init__(self, heartbeat_interval: float = 0) -> None:
        self.core = SwitchCore(CONF, clock=VirtualClock(), heartbeat_interval=heartbeat_interval)
        self.events: list[Event] = []
        self.logs: list[LogLine] = []
        self._changed = asyncio.Event()
        self.core.bus.subscribe(self._on_event)
        self.core.add_log_listener(self.logs.append)

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    async def api(self, command: str, args: str = "") -> str | None:
        return await self.core.execute_api(command, args)

    async def originate(self, args: str) -> str:
        reply = await self.api("originate", args)
        assert reply is not None and re.fullmatch(rf"\+OK {UUID}\n", reply), reply
        return reply[4:-1]

    def session(self, uuid: str) -> Session:
        session = self.core.calls.get(uuid)
        assert session is not None, f"no session {uuid}"
        return session

    def var(self, uuid: str, name: str) -> str | None:
        return self.session(uuid).get_variable(name)

    def of(self, uuid: str, *names: str) -> list[Event]:
        return [e for e in self.events if e.get("Unique-ID") == uuid and (not names or e.name in names)]

    def now(self) -> float:
        return self.core.clock.monotonic()

    async def until(self, predicate: Callable[[], object], timeout: float = 600.0) -> None:
        """Wait (in virtual time) until ``predicate()`` holds; re-checked on every event."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError("condition not reached")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(60.0, remaining))
            except TimeoutError:
                pass

    async def fired(self, uuid: str, name: str, count: int = 1, timeout: float = 600.0) -> Event:
        await self.until(lambda: len(self.of(uuid, name)) >= count, timeout)
        return self.of(uuid, name)[count - 1]

    async def gone(self, uuid: str) -> Event:
        return await self.fired(uuid, "CHANNEL_DESTROY")

    def start(self, uuid: str, app: str, arg: str = "", *headers: tuple[str, str]) -> str:
        """``sendmsg <uuid>`` execute ``app arg``; returns its Application-UUID."""
        app_uuid = str(uuidlib.uuid4())
        request = Request(
            f"sendmsg {uuid}",
            [
                ("call-command", "execute"),
                ("execute-app-name", app),
                ("execute-app-arg", arg),
                ("Event-UUID", app_uuid),
                *headers,
            ],
        )
        assert self.core.queue_message(uuid, request)
        return app_uuid

    async def completed(self, uuid: str, app_uuid: str, timeout: float = 600.0) -> Event:
        def done() -> list[Event]:
            return [
                e for e in self.of(uuid, "CHANNEL_EXECUTE_COMPLETE") if e.get("Application-UUID") == app_uuid
            ]

        await self.until(done, timeout)
        return done()[0]

    async def execute(self, uuid: str, app: str, arg: str = "", *headers: tuple[str, str]) -> Event:
        """Run one application on a channel (as ``sendmsg`` does) and return its EXECUTE_COMPLETE."""
        return await self.completed(uuid, self.start(uuid, app, arg, *headers))

    async def parked(self, args: str) -> str:
        uuid = await self.originate(args)
        await self.fired(uuid, "CHANNEL_PARK")
        return uuid


def virtual(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run ``async def test(calls, ...)`` on a virtual-time loop with a fresh core."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            calls = Calls()
            await calls.core.start()
            try:
                await test(calls, *args, **kwargs)
            finally:
                await calls.core.stop()

        run_virtual(main())

    signature = inspect.signature(test)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return run


# -- the event socket on the same virtual clock ----------------------------------------------------


class Wire:
    """A raw client connection that parses the frames the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = FrameParser()
        self.frames: list[Frame] = []

    @classmethod
    async def open(cls, port: int) -> Wire:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, line: str, *headers: str, body: str | None = None) -> None:
        lines = [line, *headers]
        if body is not None:
            lines.append(f"Content-Length: {len(body.encode())}")
        self.writer.write(("\n".join(lines) + "\n\n").encode() + (body.encode() if body is not None else b""))
        await self.writer.drain()

    async def recv(self, timeout: float) -> Frame:
        while not self.frames:
            chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not chunk:
                raise ConnectionError("closed by server")
            self.frames.extend(self.parser.feed(chunk))
        return self.frames.pop(0)

    async def closed(self, timeout: float) -> bool:
        """Read until EOF: True when the server closed the connection."""
        try:
            while True:
                chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not chunk:
                    return True
                self.frames.extend(self.parser.feed(chunk))
        except (TimeoutError, ConnectionError):
            return False

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


class Harness:
    """An event socket server on a virtual-time switch core, and the clients connected to it."""

    def __init__(self, core: SwitchCore, server: EventSocketServer) -> None:
        self.core = core
        self.server = server
        self.clients: list[Wire] = []

    @property
    def port(self) -> int:
        return self.server.port

    @classmethod
    async def start(cls) -> Harness:
        core = SwitchCore(CONF, clock=VirtualClock(), heartbeat_interval=0)
        server = EventSocketServer(core, EventSocketSettings(listen_ip="127.0.0.1", listen_port=0))
        await server.start()
        await core.start()
        return cls(core, server)

    async def stop(self) -> None:
        for client in self.clients:
            await client.close()
        await self.server.stop()
        await self.core.stop()


class Esl:
    """An authenticated raw connection: replies in order, events kept as they arrive."""

    def __init__(self, raw: Wire) -> None:
        self.raw = raw
        self.events: list[Event] = []
        self.notices: list[Frame] = []

    def _keep(self, frame: Frame) -> None:
        if frame.content_type.startswith("text/event-"):
            self.events.append(parse_event(frame.content_type, frame.body))
        else:
            self.notices.append(frame)

    async def send(self, line: str, *headers: str, body: str | None = None) -> None:
        await self.raw.send(line, *headers, body=body)

    async def reply(self, timeout: float = 120.0) -> Frame:
        while True:
            frame = await self.raw.recv(timeout)
            if frame.content_type in ("command/reply", "api/response"):
                return frame
            self._keep(frame)

    async def cmd(self, line: str, *headers: str, body: str | None = None) -> str:
        """Send a command; return its Reply-Text (command/reply) or body (api/response)."""
        await self.send(line, *headers, body=body)
        frame = await self.reply()
        return frame.reply_text if frame.content_type == "command/reply" else frame.text

    async def originate(self, args: str) -> str:
        reply = await self.cmd(f"api originate {args}")
        assert re.fullmatch(rf"\+OK {UUID}\n", reply), reply
        return reply[4:-1]

    def of(self, uuid: str, *names: str) -> list[Event]:
        return [e for e in self.events if e.get("Unique-ID") == uuid and (not names or e.name in names)]

    async def wait(self, predicate: Callable[[Event], bool], timeout: float = 600.0) -> Event:
        """The first event (received or still to come) for which ``predicate`` holds."""
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            frame = await self.raw.recv(timeout)
            self._keep(frame)

    async def fired(self, uuid: str, name: str, timeout: float = 600.0) -> Event:
        return await self.wait(lambda e: e.name == name and e.get("Unique-ID") == uuid, timeout)

    async def notice(self, timeout: float = 600.0) -> Frame:
        """The next non-event frame (a disconnect or linger notice)."""
        while not self.notices:
            self._keep(await self.raw.recv(timeout))
        return self.notices.pop(0)

    async def closed(self) -> bool:
        return await self.raw.closed(timeout=600.0)


class Switch:
    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.core = harness.core

    async def client(self) -> Esl:
        """A connected, authenticated client.

        Nagle's algorithm is switched off on the server's side of the connection (as
        mod_event_socket does; tests/server/test_calls_over_socket.py checks it): otherwise a
        small write can sit in the kernel until the client's delayed ACK, longer than the
        virtual loop polls for I/O before it jumps ahead.
        """
        raw = await Wire.open(self.harness.port)
        self.harness.clients.append(raw)
        await server_side_nodelay(self.harness, raw)
        greeting = await raw.recv(60)
        assert greeting.content_type == "auth/request"
        esl = Esl(raw)
        assert await esl.cmd("auth ClueCon") == "+OK accepted"
        return esl

    def now(self) -> float:
        return self.core.clock.monotonic()


async def server_connection(harness: Harness, raw: Wire) -> Any:
    port = raw.writer.get_extra_info("sockname")[1]
    for _ in range(1000):
        for conn in harness.server.connections:
            if conn.peer[1] == port:
                return conn
        await asyncio.sleep(0)
    raise AssertionError("the server did not accept the connection")


async def server_side_nodelay(harness: Harness, raw: Wire) -> None:
    conn = await server_connection(harness, raw)
    conn.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def over_socket(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run ``async def test(switch, ...)`` with a server on a virtual-time core."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            harness = await Harness.start()
            try:
                await test(Switch(harness), *args, **kwargs)
            finally:
                await harness.stop()

        run_virtual(main())

    signature = inspect.signature(test)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return run


def local_stamp(us: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(us / 1_000_000))


@virtual
async def test_call_longer_than_a_minute(calls: Calls) -> None:
    wall_start = calls.core.clock.time()
    started = calls.now()
    uuid = await calls.originate("{sim_ring_ms=20000}sim/1000 &park")
    assert 20 <= calls.now() - started < 20.5
    playback = await calls.execute(uuid, "playback", "silence_stream://45000")
    assert playback["Application-Response"] == "FILE PLAYED"
    await calls.execute(uuid, "hangup", "NORMAL_CLEARING")
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    await calls.gone(uuid)
    assert 65 <= calls.now() - started < 66
    assert 65 <= calls.core.clock.time() - wall_start < 66

    cdr = {k[len("variable_") :]: v for k, v in complete.items() if k.startswith("variable_")}
    assert int(cdr["duration"]) >= 65 and int(cdr["billsec"]) >= 45
    assert (cdr["duration"], cdr["billsec"], cdr["answersec"], cdr["waitsec"]) == ("65", "45", "20", "20")
    assert 65_000 <= int(cdr["mduration"]) < 65_500
    assert 45_000 <= int(cdr["billmsec"]) < 45_500
    assert int(cdr["end_epoch"]) - int(cdr["start_epoch"]) in (65, 66)
    assert int(cdr["answer_epoch"]) - int(cdr["start_epoch"]) in (20, 21)
    assert cdr["start_stamp"] == local_stamp(int(cdr["start_uepoch"]))
    assert cdr["answer_stamp"] == local_stamp(int(cdr["answer_uepoch"]))
    assert cdr["end_stamp"] == local_stamp(int(cdr["end_uepoch"]))

    events = calls.of(uuid)
    first, last = int(events[0]["Event-Date-Timestamp"]), int(events[-1]["Event-Date-Timestamp"])
    assert 65_000_000 <= last - first < 65_500_000
    assert int(cdr["start_uepoch"]) - 1_000_000 < first <= int(cdr["start_uepoch"]) + 500_000
    answer = calls.of(uuid, "CHANNEL_ANSWER")[0]
    assert int(answer["Event-Date-Timestamp"]) - first >= 20_000_000
    start = calls.of(uuid, "PLAYBACK_START")[0]
    stop = calls.of(uuid, "PLAYBACK_STOP")[0]
    assert 45_000_000 <= int(stop["Event-Date-Timestamp"]) - int(start["Event-Date-Timestamp"]) < 45_500_000
    for event in events:
        stamp = int(event["Event-Date-Timestamp"])
        assert event["Event-Date-Local"] == local_stamp(stamp)
        gmt = time.strftime("%d %b %Y %H:%M:%S GMT", time.gmtime(stamp / 1_000_000))
        assert event["Event-Date-GMT"].endswith(gmt)
    stamps = [int(e["Event-Date-Timestamp"]) for e in events]
    assert stamps == sorted(stamps)


@virtual
async def test_hour_long_call_and_uptime(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    await calls.completed(
        uuid, calls.start(uuid, "sleep", str(2 * 3600 * 1000 + 5 * 60 * 1000)), timeout=9000
    )
    await calls.api("uuid_kill", uuid)
    complete = await calls.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    assert complete["variable_duration"] == str(2 * 3600 + 300)
    assert complete["variable_billsec"] == str(2 * 3600 + 300)
    status = await calls.api("status")
    assert status is not None and status.startswith("UP 0 years, 0 days, 2 hours, 5 minutes, ")
    assert await calls.api("uptime", "m") == "125\n"


@virtual
async def test_no_answer_after_the_default_sixty_seconds(calls: Calls) -> None:
    started = calls.now()
    assert await calls.api("originate", "sim/noanswer &park") == "-ERR NO_ANSWER\n"
    assert 60 <= calls.now() - started < 61


@virtual
async def test_concurrent_calls_answer_in_ring_time_order(calls: Calls) -> None:
    rings = [7, 3, 9, 1, 5, 8, 2, 6, 4, 10]
    replies = await asyncio.gather(
        *(calls.api("originate", f"{{sim_ring_ms={ring * 1000}}}sim/{ring} &park") for ring in rings)
    )
    uuids = [reply[4:-1] for reply in replies if reply]
    assert len(uuids) == len(rings)
    answers = [e for e in calls.events if e.name == "CHANNEL_ANSWER"]
    assert [int(e["Caller-Destination-Number"]) for e in answers] == sorted(rings)
    created = min(int(e["Caller-Channel-Created-Time"]) for e in answers)
    for event in answers:
        ring = int(event["Caller-Destination-Number"])
        offset = int(event["Caller-Channel-Answered-Time"]) - created
        assert ring * 1_000_000 <= offset < ring * 1_000_000 + 500_000
    assert await calls.api("show", "channels count") == "\n10 total.\n"
    assert await calls.api("hupall", "") == "+OK hangup all channels with cause MANAGER_REQUEST\n"
    for uuid in uuids:
        await calls.gone(uuid)


@virtual
async def test_sched_hangup_and_sleep_share_the_clock(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 &park")
    started = calls.now()  # +90 counts from when sched_hangup runs, just after this
    await calls.execute(uuid, "sched_hangup", "+90")
    done = await calls.execute(uuid, "sleep", "600000")  # cut short by the scheduled hangup
    assert 90 <= calls.now() - started < 91
    assert done["Hangup-Cause"] == "ALLOTTED_TIMEOUT"


def test_heartbeats_during_a_long_call() -> None:
    async def main() -> None:
        calls = Calls(heartbeat_interval=20)
        await calls.core.start()
        try:
            uuid = await calls.originate("{sim_ring_ms=5000,sim_hangup_ms=95000}sim/1000 &park")
            await calls.gone(uuid)
            beats = [e for e in calls.events if e.name == "HEARTBEAT"]
            assert len(beats) == 5  # 20, 40, 60, 80 and 100 seconds
            stamps = [int(e["Event-Date-Timestamp"]) for e in beats]
            assert all(20_000_000 <= b - a < 20_500_000 for a, b in itertools.pairwise(stamps))
            assert [int(e["Uptime-msec"]) // 20_000 for e in beats] == [1, 2, 3, 4, 5]
            assert beats[2]["Up-Time"].startswith("0 years, 0 days, 0 hours, 1 minute, 0 seconds")
            assert [e["Session-Count"] for e in beats] == ["1", "1", "1", "1", "1"]
        finally:
            await calls.core.stop()

    run_virtual(main())


@over_socket
async def test_long_call_over_the_socket(switch: Switch) -> None:
    esl = await switch.client()
    assert (
        await esl.cmd(
            "event plain CHANNEL_ANSWER PLAYBACK_START PLAYBACK_STOP CHANNEL_HANGUP_COMPLETE CHANNEL_DESTROY"
        )
        == "+OK event listener enabled plain"
    )
    uuid = await esl.originate("{sim_ring_ms=20000}sim/1000 &park")
    assert (
        await esl.cmd(
            f"sendmsg {uuid}",
            "call-command: execute",
            "execute-app-name: playback",
            "execute-app-arg: silence_stream://45000",
        )
        == "+OK"
    )
    await esl.fired(uuid, "PLAYBACK_STOP")
    assert await esl.cmd(f"sendmsg {uuid}", "call-command: hangup") == "+OK"
    complete = await esl.fired(uuid, "CHANNEL_HANGUP_COMPLETE")
    await esl.fired(uuid, "CHANNEL_DESTROY")
    assert (complete["variable_duration"], complete["variable_billsec"]) == ("65", "45")
    start, stop = esl.of(uuid, "PLAYBACK_START")[0], esl.of(uuid, "PLAYBACK_STOP")[0]
    assert 45_000_000 <= int(stop["Event-Date-Timestamp"]) - int(start["Event-Date-Timestamp"]) < 45_500_000
    answer = esl.of(uuid, "CHANNEL_ANSWER")[0]
    assert int(complete["Event-Date-Timestamp"]) - int(answer["Event-Date-Timestamp"]) >= 45_000_000
