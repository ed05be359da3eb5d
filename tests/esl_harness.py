"""The in-process test harness: a switch core with an event socket server, and a raw client.

A module of its own (not conftest) so tests in any directory can import it by name,
whatever other ``conftest`` modules the run has collected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from eventsocket.protocol.framing import FrameParser
from eventsocket.protocol.message import Frame
from eventsocket.server.listener import EventSocketServer
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.builder import Switch, build_switch

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


class RawClient:
    """A minimal ESL client speaking raw frames, so tests see exactly what the server sends."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = FrameParser()
        self.frames: list[Frame] = []

    @classmethod
    async def open(cls, host: str, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send(self, line: str, *headers: str, body: str | None = None) -> None:
        lines = [line, *headers]
        if body is not None:
            lines.append(f"Content-Length: {len(body.encode())}")
        data = ("\n".join(lines) + "\n\n").encode() + (body.encode() if body is not None else b"")
        await self.send_raw(data)

    async def recv(self, timeout: float = 3.0) -> Frame:
        while not self.frames:
            chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not chunk:
                raise ConnectionError("closed by server")
            self.frames.extend(self.parser.feed(chunk))
        return self.frames.pop(0)

    async def recv_until(self, predicate: Callable[[Frame], object], timeout: float = 3.0) -> Frame:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv(max(0.01, deadline - loop.time()))
            if predicate(frame):
                return frame

    async def command(self, line: str, *headers: str, body: str | None = None) -> Frame:
        await self.send(line, *headers, body=body)
        return await self.recv()

    async def closed(self, timeout: float = 3.0) -> bool:
        """Read until EOF, returning True when the server closed the connection."""
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
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


class Closable(Protocol):
    """A test's connection to the server, closed by ``stop_harness``."""

    async def close(self) -> None: ...


class Harness:
    def __init__(self, core: Switch, server: EventSocketServer) -> None:
        self.core = core
        self.server = server
        self.clients: list[Closable] = []

    @property
    def port(self) -> int:
        return self.server.port

    async def connect(self, host: str = "127.0.0.1") -> RawClient:
        client = await RawClient.open(host, self.port)
        self.clients.append(client)
        return client

    async def client(self, password: str = "ClueCon") -> RawClient:
        """A connected, authenticated client."""
        client = await self.connect()
        greeting = await client.recv()
        assert greeting.content_type == "auth/request"
        reply = await client.command(f"auth {password}")
        assert reply.reply_text == "+OK accepted"
        return client


async def start_harness(
    settings: EventSocketSettings | None = None, core: Switch | None = None
) -> Harness:
    settings = settings or EventSocketSettings(listen_ip="127.0.0.1", listen_port=0)
    core = core or build_switch(heartbeat_interval=0)
    server = EventSocketServer(core, settings)
    await server.start()
    await core.start()
    return Harness(core, server)


async def stop_harness(harness: Harness) -> None:
    for client in harness.clients:
        await client.close()
    await harness.server.stop()
    await harness.core.stop()
