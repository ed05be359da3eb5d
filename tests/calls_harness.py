"""Simulated calls for the tests: a switch core on virtual time (``Calls``, ``@virtual``) and the
event socket served from one (``Switch``, ``Esl``, ``@over_socket``).

A module of its own (like ``esl_harness``, whose server harness and raw client it reuses) so
tests in any directory can import it by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import re
import socket
import uuid as uuidlib
import wave
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from esl_harness import Harness, RawClient, start_harness, stop_harness
from eventsocket.protocol.events import Event, parse_event
from eventsocket.protocol.message import Frame, Request
from eventsocket.switch import builder
from eventsocket.switch.config import ConfDir
from eventsocket.switch.log import LogLine
from eventsocket.switch.session import Session
from eventsocket.switch.virtualtime import VirtualClock, run_virtual

CONF = ConfDir.load()
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
# the headers every event starts with, in this order
STANDARD_HEADERS = [
    "Event-Name",
    "Core-UUID",
    "FreeSWITCH-Hostname",
    "FreeSWITCH-Switchname",
    "FreeSWITCH-IPv4",
    "FreeSWITCH-IPv6",
    "Event-Date-Local",
    "Event-Date-GMT",
    "Event-Date-Timestamp",
    "Event-Calling-File",
    "Event-Calling-Function",
    "Event-Calling-Line-Number",
    "Event-Sequence",
]


def on_virtual_loop(
    test: Callable[..., Coroutine[Any, Any, None]],
    first: Callable[[], AbstractAsyncContextManager[Any]],
) -> Callable[..., None]:
    """``test`` as a plain function run on a virtual-time loop, its first argument what ``first`` yields.

    The first parameter is dropped from the signature pytest sees, so the others stay fixtures
    and parameters.
    """

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            async with first() as value:
                await test(value, *args, **kwargs)

        run_virtual(main())

    signature = inspect.signature(test)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=list(signature.parameters.values())[1:]
    )
    return run


def virtual_core(heartbeat_interval: float = 0, conf: ConfDir | None = None) -> builder.Switch:
    """A switch core on a virtual clock, with the default configuration unless ``conf`` is given."""
    return builder.build_switch(
        conf if conf is not None else CONF, clock=VirtualClock(), heartbeat_interval=heartbeat_interval
    )


# -- a switch core on virtual time ------------------------------------------------------------------


class Calls:
    """A switch core on a virtual clock, with every event it fires and every log line."""

    def __init__(self, heartbeat_interval: float = 0, conf: ConfDir | None = None) -> None:
        self.core = virtual_core(heartbeat_interval, conf)
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

    def names(self, uuid: str, prefix: str = "CHANNEL_") -> list[str]:
        return [e.name for e in self.of(uuid) if e.name.startswith(prefix)]

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

    async def settle(self, seconds: float = 0.05) -> None:
        await asyncio.sleep(seconds)

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


@contextlib.asynccontextmanager
async def running_calls() -> AsyncIterator[Calls]:
    calls = Calls()
    await calls.core.start()
    try:
        yield calls
    finally:
        await calls.core.stop()


def virtual(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run ``async def test(calls, ...)`` on a virtual-time loop with a fresh core."""
    return on_virtual_loop(test, running_calls)


def write_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * round(seconds * rate))
    return path


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


# -- the event socket on the same virtual clock ----------------------------------------------------


class Esl:
    """An authenticated raw connection: replies in order, events kept as they arrive."""

    def __init__(self, raw: RawClient) -> None:
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
    """An event socket server on a virtual-time switch core (``harness``), and its clients."""

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
        raw = await self.harness.connect()
        await server_side_nodelay(self.harness, raw)
        greeting = await raw.recv(60)
        assert greeting.content_type == "auth/request"
        esl = Esl(raw)
        assert await esl.cmd("auth ClueCon") == "+OK accepted"
        return esl

    def now(self) -> float:
        return self.core.clock.monotonic()


async def server_connection(harness: Harness, raw: RawClient) -> Any:
    port = raw.writer.get_extra_info("sockname")[1]
    for _ in range(1000):
        for conn in harness.server.connections:
            if conn.peer[1] == port:
                return conn
        await asyncio.sleep(0)
    raise AssertionError("the server did not accept the connection")


async def server_side_nodelay(harness: Harness, raw: RawClient) -> None:
    conn = await server_connection(harness, raw)
    conn.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


@contextlib.asynccontextmanager
async def running_switch() -> AsyncIterator[Switch]:
    harness = await start_harness(core=virtual_core())
    try:
        yield Switch(harness)
    finally:
        await stop_harness(harness)


def over_socket(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run ``async def test(switch, ...)`` with a server on a virtual-time core."""
    return on_virtual_loop(test, running_switch)
