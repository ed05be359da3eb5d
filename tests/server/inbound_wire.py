"""Byte-exact helpers for the inbound server tests: a raw connection that reads whole frames.

``RawClient`` (tests/esl_harness.py) parses frames and trims header values, which is what most
tests want; the inbound tests also compare the exact bytes the server writes, so they read
frames as raw bytes here and parse them only for convenience. The outbound tests read the
application's end of a connection the same way (``Frames``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from calls_harness import STANDARD_HEADERS as STANDARD_HEADERS
from esl_harness import Harness as Harness
from esl_harness import start_harness, stop_harness
from eventsocket.protocol.events import Event, parse_event
from eventsocket.protocol.framing import FrameParser
from eventsocket.protocol.message import Frame
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.builder import Switch

GREETING = b"Content-Type: auth/request\n\n"
GOODBYE_TEXT = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
GOODBYE = b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n" + GOODBYE_TEXT
SHUTDOWN = b"Content-Type: text/disconnect-notice\nContent-Length: 31\n\nThe system is being shut down.\n"
LOST_EVENTS = (
    b"Content-Type: text/disconnect-notice\nContent-Length: 39\n\nkilled listener because of lost events\n"
)
RUDE_REJECTION = b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"


def reply(text: str, *extra: tuple[str, str]) -> bytes:
    """The exact ``command/reply`` frame for ``text``."""
    lines = [f"Content-Type: command/reply\nReply-Text: {text}\n"]
    lines += [f"{name}: {value}\n" for name, value in extra]
    return ("".join(lines) + "\n").encode()


def api_response(body: bytes | str) -> bytes:
    """The exact ``api/response`` frame carrying ``body``."""
    data = body.encode() if isinstance(body, str) else body
    return b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(data), data)


@dataclass
class Msg:
    """One frame as the server wrote it, and parsed."""

    raw: bytes
    frame: Frame

    @property
    def content_type(self) -> str:
        return self.frame.content_type

    @property
    def reply_text(self) -> str:
        return self.frame.reply_text

    @property
    def body(self) -> bytes:
        return self.frame.body

    @property
    def is_event(self) -> bool:
        return self.content_type.startswith("text/event-")

    def event(self) -> Event:
        assert self.is_event, self.raw[:200]
        return parse_event(self.content_type, self.body)

    @property
    def event_name(self) -> str | None:
        return self.event().get("Event-Name") if self.is_event else None


class Frames:
    """Our end of a connection the switch writes on, read exactly one whole frame at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.backlog: list[Msg] = []  # events and log lines read past while waiting for a reply

    async def frame(self, timeout: float = 5.0) -> Msg:
        """Read the next frame exactly: its header block, then ``Content-Length`` body bytes."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\n\n"), timeout)
        length = 0
        for line in head.split(b"\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value.strip())
                break
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        raw = head + body
        frames = FrameParser().feed(raw)
        assert len(frames) == 1, raw[:300]
        return Msg(raw, frames[0])

    async def answer(self, timeout: float = 5.0) -> Msg:
        """The next reply frame (command/reply or api/response); events and logs go to ``backlog``."""
        while True:
            msg = await self.frame(timeout)
            if msg.content_type in ("command/reply", "api/response"):
                return msg
            self.backlog.append(msg)


class Wire(Frames):
    """A raw connection to the server that reads exactly one frame at a time."""

    @classmethod
    async def open(
        cls, harness: Harness, host: str = "127.0.0.1", *, rcvbuf: int | None = None, family: int = 0
    ) -> Wire:
        """Connect to ``harness`` (closed by ``stop_harness``); ``rcvbuf`` shrinks SO_RCVBUF first."""
        if rcvbuf is None:
            reader, writer = await asyncio.open_connection(host, harness.port, family=family, limit=1 << 22)
        else:
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, harness.port))
            # a small stream buffer too, or asyncio itself would read megabytes ahead for us
            reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 15)
        wire = cls(reader, writer)
        harness.clients.append(wire)
        return wire

    @property
    def local_port(self) -> int:
        return int(self.writer.get_extra_info("sockname")[1])

    async def send(self, data: bytes | str) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)
        await self.writer.drain()
        self.quickack()

    def quickack(self) -> None:
        """Acknowledge the server's next segment at once (Linux), so its Nagle hold ends at once.

        Only the tests' speed depends on this: a reply and the event after it are two small
        writes, and without TCP_NODELAY on the server side the second waits for the client's
        (delayed) ACK.
        """
        sock = self.writer.get_extra_info("socket")
        quickack = getattr(socket, "TCP_QUICKACK", None)
        if sock is not None and quickack is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)

    async def cmd(self, text: str, timeout: float = 5.0) -> Msg:
        """Send ``text`` as one packet (LF line ends, blank line added) and read one frame."""
        await self.send(text + "\n\n")
        return await self.frame(timeout)

    async def ask(self, text: str, timeout: float = 5.0) -> Msg:
        """Send ``text``; return its reply, keeping events and log lines read on the way in ``backlog``."""
        await self.send(text + "\n\n")
        return await self.answer(timeout)

    async def sync(self) -> list[Msg]:
        """The backlog plus every frame written before the reply to a no-op command (then cleared)."""
        await self.send("sync-marker\n\n")
        while True:
            msg = await self.frame()
            if msg.raw == b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n":
                got, self.backlog = self.backlog, []
                return got
            self.backlog.append(msg)

    async def until(self, content_type: str, timeout: float = 5.0) -> tuple[Msg, list[Msg]]:
        """Read frames until one of ``content_type``: (that frame, the frames before it)."""
        before: list[Msg] = []
        while True:
            msg = await self.frame(timeout)
            if msg.content_type == content_type:
                return msg, before
            before.append(msg)

    async def rest(self, timeout: float = 5.0) -> bytes:
        """Everything the server still sends, up to its close (fails if it does not close)."""
        chunks: list[bytes] = []
        while True:
            chunk = await asyncio.wait_for(self.reader.read(1 << 20), timeout)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)

    async def login(self, password: str = "ClueCon") -> None:
        assert await asyncio.wait_for(self.reader.readexactly(len(GREETING)), 5.0) == GREETING
        msg = await self.cmd(f"auth {password}")
        assert msg.raw == reply("+OK accepted")

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


async def logged_in(harness: Harness, password: str = "ClueCon") -> Wire:
    wire = await Wire.open(harness)
    await wire.login(password)
    return wire


@contextlib.asynccontextmanager
async def running(
    settings: EventSocketSettings | None = None, core: Switch | None = None
) -> AsyncIterator[Harness]:
    """A harness with custom settings or core, stopped afterwards."""
    harness = await start_harness(settings, core)
    try:
        yield harness
    finally:
        await stop_harness(harness)


def plain_lines(msg: Msg) -> list[str]:
    """The header lines of a ``text/event-plain`` payload (still URL-encoded)."""
    head = msg.body.split(b"\n\n", 1)[0].decode()
    return head.split("\n")


def header_names(event: Event) -> list[str]:
    return [name for name, _ in event.headers]


async def wait_for(predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Poll ``predicate()`` until true (the server does its work on the same loop)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.005)
