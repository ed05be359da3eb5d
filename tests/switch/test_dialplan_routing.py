"""Calls routed by the XML dialplan to an outbound socket application (issue 4).

The dialplans live in a conf_dir (the packaged default one, or a copy of it with extra
extensions), are loaded with ``ConfDir.load`` and run by a real switch core behind the
event socket server. The test plays the outbound application: it listens, accepts the
switch's connection, and reads what the dialplan did from the channel's variables and
from the events an inbound observer receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from esl_harness import Harness, RawClient, start_harness, stop_harness
from eventsocket.protocol.events import Event, parse_event
from eventsocket.switch.builder import build_switch
from eventsocket.switch.config import DEFAULT_CONF_DIR, ConfDir

ROUTING_XML = """<include>
  <context name="routing">
    <!-- captures: 55 + the rest; continue="true" lets hunting go on -->
    <extension name="split" continue="true">
      <condition field="destination_number" expression="^(\\d{2})(\\d+)$">
        <action application="set" data="prefix=$1"/>
        <action application="set" data="rest=$2"/>
      </condition>
    </extension>
    <!-- anti-action: a failed condition runs its anti-actions instead -->
    <extension name="vip" continue="true">
      <condition field="caller_id_number" expression="^1001$">
        <action application="set" data="vip=yes"/>
        <anti-action application="set" data="vip=no"/>
      </condition>
    </extension>
    <!-- a channel variable as the field -->
    <extension name="lane" continue="true">
      <condition field="${lane}" expression="^fast$">
        <action application="set" data="queue=priority"/>
        <anti-action application="set" data="queue=normal"/>
      </condition>
    </extension>
    <!-- regex="any": one of the regexes is enough -->
    <extension name="any" continue="true">
      <condition regex="any">
        <regex field="caller_id_number" expression="^1001$"/>
        <regex field="destination_number" expression="^5534$"/>
        <action application="set" data="any=matched"/>
        <anti-action application="set" data="any=none"/>
      </condition>
    </extension>
    <!-- the socket application; its target comes from a variable set just before -->
    <extension name="to-app">
      <condition field="destination_number" expression="^55(\\d+)$">
        <action application="set" data="target=127.0.0.1:APP_PORT"/>
        <action application="socket" data="${target} async full"/>
        <action application="set" data="after=$1"/>
      </condition>
    </extension>
    <!-- never reached for 55...: the extension above matched without continue -->
    <extension name="catch-all">
      <condition field="destination_number" expression="^.*$">
        <action application="set" data="never=1"/>
        <action application="hangup"/>
      </condition>
    </extension>
  </context>
</include>
"""


# -- the application side (a compact copy of the helpers in tests/server/test_outbound.py) ------------


class Socket:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def frame(self, timeout: float = 5.0) -> tuple[bytes, dict[str, str], bytes]:
        """(the raw header block, its headers, the body)."""
        head = await asyncio.wait_for(self.reader.readuntil(b"\n\n"), timeout)
        headers = dict(line.split(": ", 1) for line in head.decode().split("\n") if ": " in line)
        length = int(headers.get("Content-Length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), timeout) if length else b""
        return head, headers, body

    async def cmd(self, packet: str) -> dict[str, str]:
        """Send ``packet``; the headers of its reply (events on the way are skipped)."""
        self.writer.write(packet.encode() + b"\n\n")
        await self.writer.drain()
        while True:
            _, headers, _ = await self.frame()
            if headers.get("Content-Type") in ("command/reply", "api/response"):
                return headers

    async def connect(self) -> Event:
        self.writer.write(b"connect\n\n")
        await self.writer.drain()
        head, headers, _ = await self.frame()
        assert headers["Reply-Text"] == "%2BOK%0A"
        return parse_event("text/event-plain", head)

    async def getvar(self, name: str) -> str:
        return (await self.cmd(f"getvar {name}"))["Reply-Text"]

    def close(self) -> None:
        self.writer.close()


class Application:
    def __init__(self, server: asyncio.Server, accepted: asyncio.Queue[Socket]) -> None:
        self.server = server
        self.accepted = accepted
        self.port = int(server.sockets[0].getsockname()[1])
        self.sockets: list[Socket] = []

    @classmethod
    async def listen(cls, port: int = 0) -> Application:
        accepted: asyncio.Queue[Socket] = asyncio.Queue()

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await accepted.put(Socket(reader, writer))

        return cls(await asyncio.start_server(on_connection, "127.0.0.1", port), accepted)

    async def accept(self) -> Socket:
        sock = await asyncio.wait_for(self.accepted.get(), 5.0)
        self.sockets.append(sock)
        return sock

    async def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.server.wait_closed(), 2.0)


class Observer:
    """An inbound connection: places calls, collects CHANNEL_EXECUTE / CHANNEL_HANGUP / CHANNEL_DESTROY."""

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.events: list[Event] = []

    @classmethod
    async def open(cls, harness: Harness) -> Observer:
        observer = cls(await harness.client())
        reply = await observer.command("event plain CHANNEL_EXECUTE CHANNEL_HANGUP CHANNEL_DESTROY")
        assert reply == "+OK event listener enabled plain"
        return observer

    async def command(self, packet: str, timeout: float = 10.0) -> str:
        await self.client.send(packet)
        while True:
            frame = await self.client.recv(timeout)
            if frame.content_type == "text/event-plain":
                self.events.append(parse_event(frame.content_type, frame.body))
            elif frame.content_type == "api/response":
                return frame.text
            elif frame.content_type == "command/reply":
                return frame.reply_text

    async def originate(self, args: str) -> str:
        out = await self.command(f"api originate {args}")
        assert out.startswith("+OK "), out
        return out[4:].strip()

    async def trail(self, uuid: str, timeout: float = 5.0) -> list[Event]:
        """The channel's collected events, once its CHANNEL_DESTROY has come."""

        def mine() -> list[Event]:
            return [e for e in self.events if e.get("Unique-ID") == uuid]

        while "CHANNEL_DESTROY" not in [e.get("Event-Name") for e in mine()]:
            frame = await self.client.recv(timeout)
            if frame.content_type == "text/event-plain":
                self.events.append(parse_event(frame.content_type, frame.body))
        return mine()


def executed(events: list[Event]) -> list[str]:
    return [
        f"{e.get('Application')} {e.get('Application-Data') or ''}".strip()
        for e in events
        if e.get("Event-Name") == "CHANNEL_EXECUTE"
    ]


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture
async def app() -> AsyncIterator[Application]:
    application = await Application.listen()
    yield application
    await application.close()


@pytest.fixture
async def routed(tmp_path: Path, app: Application) -> AsyncIterator[Harness]:
    """A switch whose conf_dir is the default one plus dialplan/routing.xml."""
    conf_dir = tmp_path / "conf"
    shutil.copytree(DEFAULT_CONF_DIR, conf_dir)
    (conf_dir / "dialplan" / "routing.xml").write_text(ROUTING_XML.replace("APP_PORT", str(app.port)))
    harness = await start_harness(core=build_switch(ConfDir.load(conf_dir), heartbeat_interval=0))
    yield harness
    await stop_harness(harness)


# -- a dialplan with captures, anti-actions and continue --------------------------------------------------


@pytest.mark.parametrize(
    ("dial", "destination", "expected"),
    [
        ("{origination_caller_id_number=1001}null/1001", "5512",
         {"prefix": "55", "rest": "12", "vip": "yes", "queue": "normal", "any": "matched"}),
        ("{lane=fast}null/2000", "5534",
         {"prefix": "55", "rest": "34", "vip": "no", "queue": "priority", "any": "matched"}),
        ("null/2000", "5578",
         {"prefix": "55", "rest": "78", "vip": "no", "queue": "normal", "any": "none"}),
    ],
)
async def test_dialplan_hands_the_call_to_the_application(
    routed: Harness, app: Application, dial: str, destination: str, expected: dict[str, str]
) -> None:
    observer = await Observer.open(routed)
    uuid = await observer.originate(f"{dial} {destination} XML routing")
    sock = await app.accept()
    data = await sock.connect()
    assert data.get("Unique-ID") == uuid
    assert data.get("Caller-Destination-Number") == destination
    assert data.get("Caller-Context") == "routing"
    assert data.get("Channel-HIT-Dialplan") == "true"
    assert data.get("Socket-Mode") == "async" and data.get("Control") == "full"
    # the variables the actions before `socket` set, as the connect reply and getvar show them
    for name, value in expected.items():
        assert data.get(f"variable_{name}") == value, name
        assert await sock.getvar(name) == value
    assert data.get("variable_current_application_data") == f"127.0.0.1:{app.port} async full"
    assert await sock.getvar("never") == "-ERR command not found"
    assert (await sock.cmd("resume"))["Reply-Text"] == "+OK"
    assert (await sock.cmd("exit"))["Reply-Text"] == "+OK bye"
    # after the socket, the dialplan goes on with the capture substituted into the last action
    apps = executed(await observer.trail(uuid))
    assert apps == [
        f"set prefix={expected['prefix']}",
        f"set rest={expected['rest']}",
        f"set vip={expected['vip']}",
        f"set queue={expected['queue']}",
        f"set any={expected['any']}",
        f"set target=127.0.0.1:{app.port}",
        f"socket 127.0.0.1:{app.port} async full",
        f"set after={destination[2:]}",
    ]


async def test_loopback_leg_runs_the_context_and_the_application_answers_it(
    routed: Harness, app: Application
) -> None:
    observer = await Observer.open(routed)
    # originate waits for the answer, which the application gives
    originate = asyncio.ensure_future(observer.originate("loopback/5590/routing &park()"))
    sock = await app.accept()
    data = await sock.connect()
    assert data.get("Channel-Name") == "loopback/5590-b"
    assert data.get("variable_rest") == "90"
    assert data.get("Answer-State") != "answered"
    assert (await sock.cmd("sendmsg\ncall-command: execute\nexecute-app-name: answer"))["Reply-Text"] == "+OK"
    a_leg = await asyncio.wait_for(originate, 5.0)
    assert a_leg != data.get("Unique-ID")
    assert await observer.command(f"api uuid_kill {a_leg}") == "+OK\n"


async def test_an_unrouted_number_is_hung_up(routed: Harness) -> None:
    observer = await Observer.open(routed)
    uuid = await observer.originate("null/1000 4242 XML default")
    hangup = [e for e in await observer.trail(uuid) if e.get("Event-Name") == "CHANNEL_HANGUP"]
    assert [e.get("Hangup-Cause") for e in hangup] == ["NO_ROUTE_DESTINATION"]


# -- the default conf_dir: extension 5000 goes to 127.0.0.1:8084 ---------------------------------------


@pytest.fixture(params=["shipped", "copy"])
async def default_plan(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Harness, Application]]:
    """The default dialplan as shipped (application on 8084) or copied with another port."""
    if request.param == "shipped":
        try:
            application = await Application.listen(8084)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            pytest.skip("port 8084 is in use")
        conf = ConfDir.load()
    else:
        application = await Application.listen()
        conf_dir = tmp_path / "conf"
        shutil.copytree(DEFAULT_CONF_DIR, conf_dir)
        plan = conf_dir / "dialplan" / "default.xml"
        text = plan.read_text()
        assert "127.0.0.1:8084 async full" in text
        plan.write_text(text.replace("127.0.0.1:8084", f"127.0.0.1:{application.port}"))
        conf = ConfDir.load(conf_dir)
    harness = await start_harness(core=build_switch(conf, heartbeat_interval=0))
    yield harness, application
    await application.close()
    await stop_harness(harness)


@pytest.mark.parametrize("route", ["5000 XML default", "5000 XML public"])
async def test_default_dialplan_sends_5000_to_the_outbound_application(
    default_plan: tuple[Harness, Application], route: str
) -> None:
    harness, application = default_plan
    observer = await Observer.open(harness)
    uuid = await observer.originate(f"null/1000 {route}")
    sock = await application.accept()
    data = await sock.connect()
    assert data.get("Unique-ID") == uuid
    assert data.get("Caller-Destination-Number") == "5000"
    assert data.get("Caller-Context") == "default"  # public transfers to default
    assert data.get("variable_current_application") == "socket"
    assert data.get("variable_current_application_data") == f"127.0.0.1:{application.port} async full"
    assert data.get("Socket-Mode") == "async" and data.get("Control") == "full"
    sock.close()
    # the socket is the extension's last application: without resume the call hangs up
    apps = executed(await observer.trail(uuid))
    assert apps[-1] == f"socket 127.0.0.1:{application.port} async full"


async def test_default_dialplan_loopback_5000(default_plan: tuple[Harness, Application]) -> None:
    harness, application = default_plan
    observer = await Observer.open(harness)
    originate = asyncio.ensure_future(observer.originate("loopback/5000 &park()"))
    sock = await application.accept()
    data = await sock.connect()
    assert data.get("Channel-Name") == "loopback/5000-b"
    await sock.cmd("sendmsg\ncall-command: execute\nexecute-app-name: answer")
    a_leg = await asyncio.wait_for(originate, 5.0)
    assert await observer.command(f"api uuid_kill {a_leg}") == "+OK\n"
    assert "CHANNEL_HANGUP" in [e.get("Event-Name") for e in await observer.trail(data["Unique-ID"])]

