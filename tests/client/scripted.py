"""A scripted peer for client tests: plays the server (inbound) or the switch (outbound).

The test writes what the other side says, byte for byte, with the protocol layer's own
frame builders, and reads what the client sent with its ``RequestParser``: so a test
shows exactly what goes over the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from eventsocket.protocol.events import Event as WireEvent
from eventsocket.protocol.framing import (
    AUTH_REQUEST,
    RequestParser,
    api_response_frame,
    command_reply_frame,
)
from eventsocket.protocol.message import Request


class Peer:
    """One TCP connection, seen from the scripted side."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = RequestParser()
        self.requests: list[Request] = []
        self.log: list[Request] = []

    async def recv(self, timeout: float = 3.0) -> Request:
        while not self.requests:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("the client closed the connection")
            self.requests.extend(self.parser.feed(data))
        request = self.requests.pop(0)
        self.log.append(request)
        return request

    async def expect(self, prefix: str, timeout: float = 3.0) -> Request:
        request = await self.recv(timeout)
        assert request.line.startswith(prefix), f"expected {prefix!r}, got {request.line!r}"
        return request

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    def reply(self, text: str, extra: list[tuple[str, str]] | None = None) -> None:
        self.send(command_reply_frame(text, extra or ()))

    def api(self, body: str) -> None:
        self.send(api_response_frame(body))

    def event(self, name: str, headers: list[tuple[str, str]], body: str | None = None) -> None:
        wire = WireEvent(name, [("Event-Name", name), *headers], body)
        self.send(wire.frame("plain"))

    async def greet_and_auth(self, password: str = "ClueCon") -> None:
        self.send(AUTH_REQUEST)
        request = await self.expect("auth ")
        assert request.line == f"auth {password}"
        self.reply("+OK accepted")

    async def closed(self, timeout: float = 3.0) -> bool:
        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    return True
                self.requests.extend(self.parser.feed(data))
        except (TimeoutError, ConnectionError):
            return False

    def close(self) -> None:
        self.writer.close()


class ScriptedServer:
    """Accepts connections and runs ``script(peer)`` for each (as a server would)."""

    def __init__(self, script: Callable[[Peer], Awaitable[None]]) -> None:
        self.script = script
        self.peers: list[Peer] = []
        self.errors: list[BaseException] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(reader, writer)
        self.peers.append(peer)
        try:
            await self.script(peer)
        except BaseException as exc:  # reported by the test through .errors
            self.errors.append(exc)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for peer in self.peers:
            peer.close()


async def dial(port: int) -> Peer:
    """Connect to a listening client (the switch side of outbound mode)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    return Peer(reader, writer)
