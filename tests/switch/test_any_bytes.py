"""Every registered API command and dialplan application is safe on arbitrary bytes.

A client can send anything after ``api <command> `` or in ``execute-app-arg``: bytes that are
not UTF-8 (the server decodes them with ``surrogateescape``, so they reach the switch as
lone surrogates), huge numbers, megabytes of text. FreeSWITCH answers such input with a
reply; so must every command and application here, never with an exception (which the
server turns into a traceback in the log and ``-ERR command failed``).

The commands and applications are taken from the registries of a built switch, so one
added later is covered without touching this file. Everything runs on virtual time, so a
``msleep`` or ``sleep`` of a year costs nothing; whatever has not finished after a few
virtual minutes is hung up. Files written by ``record``/``uuid_record`` land in a temporary
directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eventsocket.protocol.events import Event
from eventsocket.protocol.message import Request
from eventsocket.switch import media
from eventsocket.switch.builder import Switch, build_switch
from eventsocket.switch.config import ConfDir
from eventsocket.switch.virtualtime import VirtualClock, run_virtual

CONF = ConfDir.load()
API_COMMANDS = sorted(command.name for command in build_switch(CONF, heartbeat_interval=0).api)
APPLICATIONS = sorted(build_switch(CONF, heartbeat_interval=0).calls.applications)
PATIENCE = 300.0  # virtual seconds a command or application may take before it is hung up

# Words the commands and applications understand, so that examples get past the first check.
WORDS = [
    "start", "stop", "all", "both", "aleg", "bleg", "-bleg", "-both", "off", "toggle", "mask",
    "json", "xml", "plain", "count", "like", "as", "channels", "calls", "api", "modules",
    "null/1", "loopback/1", "error/USER_BUSY", "sim/1", "&park", "&echo", "XML", "default",
    "uuid:", "1", "0", "-1", "99999999999999999999999", "1.5", "1e400", "nan", "=", "==", ";",
    ",", "|", "^^:", "^^", "{a=b}", "[a=b]", "<a=b>", "${", "}", "$${", "$1", "\\", "%", "%%",
    "::", "tone_stream://%(100,100,350)", "silence_stream://100", "playback::x", "/", "..",
    "*", "#", "w", "none", "true", "false", "\t", " ", "\x00", "\r",
]
ARG_BYTES = st.one_of(
    st.binary(max_size=48),
    st.lists(st.sampled_from(WORDS), max_size=8).map(lambda words: " ".join(words).encode()),
    st.lists(st.one_of(st.sampled_from(WORDS).map(str.encode), st.binary(max_size=6)), max_size=8).map(
        b" ".join
    ),
    st.builds(lambda unit, times: unit * times, st.binary(min_size=1, max_size=4), st.integers(1, 200_000)),
    st.integers(0, 10**40).map(lambda n: str(n).encode()),
)


def decoded(raw: bytes) -> str:
    """What the server hands the switch for these bytes (PROTOCOL.md: text is surrogate-escaped)."""
    return raw.decode("utf-8", "surrogateescape")


class Trouble(logging.Handler):
    """Every error logged while a command or application runs, with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def report(self) -> str:
        """The first error, shortened: a megabyte of argument repeated in a traceback helps nobody."""
        text = self.format(self.records[0])
        return text if len(text) < 4000 else text[:2000] + " [...] " + text[-2000:]


@pytest.fixture(autouse=True)
def contained_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Recordings go to ``tmp_path``: random absolute paths must not write over the machine."""
    inside = tmp_path.resolve()

    def confine(writer: Callable[..., None]) -> Callable[..., None]:
        def write(path: str | Path, *args: Any, **kwargs: Any) -> None:
            target = Path(path)
            if not str(target).startswith(f"{inside}{os.sep}") or ".." in target.parts:
                digest = hashlib.sha1(str(path).encode("utf-8", "surrogateescape")).hexdigest()
                target = inside / "outside" / digest
            writer(target, *args, **kwargs)

        return write

    monkeypatch.setattr(media, "write_wav", confine(media.write_wav))
    monkeypatch.setattr(media, "write_silence_wav", confine(media.write_silence_wav))
    yield


def new_switch(tmp_path: Path) -> Switch:
    switch = build_switch(CONF, clock=VirtualClock(), heartbeat_interval=0)
    switch.global_vars["recordings_dir"] = str(tmp_path)
    return switch


async def parked(switch: Switch, dial: str = "null/1") -> str:
    reply = await switch.execute_api("originate", f"{dial} &park")
    assert reply is not None and reply.startswith("+OK "), reply
    return reply[4:].strip()


async def wind_down(switch: Switch) -> None:
    """Hang up whatever is left and let every channel finish, then stop the core."""
    await switch.execute_api("hupall", "")
    for _ in range(10_000):
        if not switch.calls.sessions:
            break
        await asyncio.sleep(0.01)
    await switch.stop()


def run_isolated(test: Callable[[Trouble, list[BaseException]], Any]) -> None:
    """Run ``test`` on its own virtual-time loop, failing on any logged error or loop exception."""
    trouble = Trouble()
    logger = logging.getLogger("eventsocket")
    logger.addHandler(trouble)
    loop_errors: list[BaseException] = []

    async def main() -> None:
        def on_error(_loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
            loop_errors.append(context.get("exception") or RuntimeError(context.get("message", "")))

        asyncio.get_running_loop().set_exception_handler(on_error)
        await test(trouble, loop_errors)

    try:
        run_virtual(main(), grace=0)
    finally:
        logger.removeHandler(trouble)
    assert not trouble.records, trouble.report()
    assert not loop_errors, loop_errors


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(API_COMMANDS), raw=ARG_BYTES, channel=st.sampled_from(["none", "up", "named"]))
@example(command="md5", raw=b"\xff\xfe caf\xe9", channel="none")
@example(command="md5", raw=b"\x80" * 100_000, channel="none")
@example(command="show", raw=b"channels as json \xff", channel="up")
def test_every_api_command_replies_to_any_bytes(
    tmp_path: Path, command: str, raw: bytes, channel: str
) -> None:
    """``channel``: no channel; one up whose name and variables hold the same bytes; and that
    one named first in the arguments, so the commands acting on a channel get past "no such
    channel"."""

    async def scenario(trouble: Trouble, loop_errors: list[BaseException]) -> None:
        switch = new_switch(tmp_path)
        try:
            args = decoded(raw)
            if channel != "none":
                name = "".join(ch for ch in args[:200] if ch.isalnum() or "\udc80" <= ch <= "\udcff")
                uuid = await parked(switch, f"null/{name or 'x'}")
                session = switch.calls.get(uuid)
                assert session is not None
                session.set_variable("hostile", args)
                session.channel.profile.caller_id_name = args
                if channel == "named":
                    args = f"{uuid} {args}"
            outcome = switch.call_api(command, args)
            if outcome is not None and not isinstance(outcome, str):
                try:
                    outcome = await asyncio.wait_for(outcome, PATIENCE)
                except TimeoutError:
                    outcome = None  # still waiting (msleep of a year): not an error
            assert outcome is None or isinstance(outcome, str)
            if outcome is not None:
                outcome.encode("utf-8", "surrogateescape")  # what the server sends
        finally:
            await wind_down(switch)

    run_isolated(scenario)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(application=st.sampled_from(APPLICATIONS), raw=ARG_BYTES)
@example(application="set", raw=b"name=\xff\xfe")
@example(application="playback", raw=b"\xff" * 50_000)
def test_every_application_ends_cleanly_on_any_bytes(tmp_path: Path, application: str, raw: bytes) -> None:
    async def scenario(trouble: Trouble, loop_errors: list[BaseException]) -> None:
        switch = new_switch(tmp_path)
        done = asyncio.Event()
        completed: list[Event] = []

        def on_event(event: Event) -> None:
            if event.name == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application-UUID") == "under-test":
                completed.append(event)
                done.set()
            elif event.name == "CHANNEL_DESTROY":
                done.set()

        switch.bus.subscribe(on_event)
        try:
            uuid = await parked(switch)
            session = switch.calls.get(uuid)
            assert session is not None
            session.set_variable("hostile", decoded(raw))  # for the applications that read them all
            request = Request(
                f"sendmsg {uuid}",
                [
                    ("call-command", "execute"),
                    ("execute-app-name", application),
                    ("execute-app-arg", decoded(raw)),
                    ("Event-UUID", "under-test"),
                ],
            )
            assert switch.queue_message(uuid, request)
            try:
                await asyncio.wait_for(done.wait(), PATIENCE)
            except TimeoutError:
                pass  # still running (park, a long sleep): hung up below
        finally:
            await wind_down(switch)

    run_isolated(scenario)


def md5_over_the_socket(raw: bytes) -> bytes:
    """``api md5 <raw>`` through a real server: the reply's body (or the whole reply without one)."""
    from eventsocket.server.listener import EventSocketServer
    from eventsocket.server.settings import EventSocketSettings

    async def main() -> bytes:
        switch = build_switch(heartbeat_interval=0)
        server = EventSocketServer(switch, EventSocketSettings(listen_ip="127.0.0.1", listen_port=0))
        await server.start()
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            await reader.readuntil(b"\n\n")
            writer.write(b"auth ClueCon\n\n")
            await reader.readuntil(b"\n\n")
            writer.write(b"api md5 " + raw + b"\n\n")
            head = await reader.readuntil(b"\n\n")
            if b"Content-Length: " not in head:  # a command/reply (an error): what it says
                return head
            length = int(head.split(b"Content-Length: ")[1].split(b"\n")[0])
            body = await reader.readexactly(length)
            writer.close()
            return body
        finally:
            await server.stop()
            await switch.stop()

    return asyncio.run(main())


def test_md5_of_bytes_that_are_not_utf8_is_the_md5_of_those_bytes() -> None:
    """FreeSWITCH hashes the argument's bytes as they came; it has no notion of their encoding."""
    raw = b"\xff\xfe caf\xe9 \x80"
    assert md5_over_the_socket(raw) == hashlib.md5(raw).hexdigest().encode()
    assert md5_over_the_socket("café".encode()) == hashlib.md5("café".encode()).hexdigest().encode()
