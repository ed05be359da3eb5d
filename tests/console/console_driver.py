"""Drives ``eventsocket console`` in-process: prompt_toolkit's pipe input for the keys,
a dummy output for the prompt, and a transcript of everything the console prints."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from prompt_toolkit.input import PipeInput, create_pipe_input
from prompt_toolkit.output import DummyOutput

from eventsocket.cli.console.app import Console
from eventsocket.cli.console.options import Settings, resolve
from eventsocket.cli.main import build_parser
from eventsocket.client import ReconnectPolicy

FAST = ReconnectPolicy(initial_delay=0.02, max_delay=0.1, factor=2.0, jitter=0.0)
WAIT = 10.0  # seconds a condition may take on a loaded machine before the test fails


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for(home: Path, *flags: str) -> Settings:
    """Flags parsed by the real command line, profiles looked up under ``home``."""
    return resolve(build_parser().parse_args(["console", *flags]), home=home)


class Driver:
    def __init__(self, settings: Settings, pipe: PipeInput, *, stdin: io.StringIO | None = None) -> None:
        self.pipe = pipe
        self.out: list[str] = []
        self.stderr = io.StringIO()
        self.console = Console(settings, input=pipe, output=DummyOutput(), transcript=self.out.append,
                               stderr=self.stderr, stdin=stdin, policy=FAST, retry_delay=0.01)
        self.task: asyncio.Task[int] = asyncio.ensure_future(self.console.run())

    @property
    def text(self) -> str:
        return "".join(self.out)

    def send(self, keys: str) -> None:
        self.pipe.send_text(keys)

    async def until(self, predicate: Callable[[], object], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while not predicate():
            if self.task.done():
                raise AssertionError(f"console ended (rc={self.task.result()}) before {what}:\n{self.text}"
                                     f"\nstderr: {self.stderr.getvalue()}")
            if loop.time() > deadline:
                raise AssertionError(f"no {what} in:\n{self.text}\nstderr: {self.stderr.getvalue()}")
            await asyncio.sleep(0.01)

    async def wait_for(self, needle: str, start: int = 0) -> int:
        """Wait until ``needle`` is printed (after offset ``start``); returns where it ends."""
        await self.until(lambda: needle in self.text[start:], repr(needle))
        return self.text.index(needle, start) + len(needle)

    async def ready(self) -> int:
        """Wait for the first prompt to be read."""
        end = await self.wait_for("Type /help <enter> to see a list of commands")
        await self.until(lambda: self.console.session is not None and self.console.session.app.is_running,
                         "a running prompt")
        return end

    async def finish(self) -> int:
        if not self.task.done():
            self.send("/exit\r")
        return await asyncio.wait_for(self.task, WAIT)


@asynccontextmanager
async def fake_switch(answers: Mapping[str, str | None], delays: dict[str, float] | None = None,
                      ) -> AsyncIterator[tuple[int, list[str]]]:
    """A stand-in server speaking FreeSWITCH's texts: it accepts any password and answers
    ``api <command>`` from ``answers`` (None: never answers; missing: FreeSWITCH's "Command
    not found"), one request after the other as FreeSWITCH does, a command of ``delays``
    that many seconds late. Yields its port and the lines it received."""
    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Content-Type: auth/request\n\n")
        while True:
            try:
                line = (await reader.readuntil(b"\n\n")).decode().split("\n", 1)[0]
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            seen.append(line)
            if line.startswith("api "):
                command = line[4:]
                body = answers.get(command, f"-ERR {command.split(' ')[0]} Command not found!\n")
                if body is not None:
                    await asyncio.sleep((delays or {}).get(command, 0.0))
                    data = body.encode()
                    writer.write(b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data)
                    seen.append(f"answered {line}")
            else:
                writer.write(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], seen


@contextmanager
def pipe_input() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe:
        yield pipe
