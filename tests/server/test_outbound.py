"""Outbound mode (PROTOCOL.md §5): the ``socket`` application connects out to an application.

Each test plays the application itself: it listens on 127.0.0.1 (port 0), has the switch
place a call that runs ``socket`` towards it, accepts the connection and speaks the
protocol, comparing what the switch writes byte for byte. A second, inbound connection
(the "observer") places the calls and watches what the channel does once the socket
application has returned.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from collections.abc import AsyncIterator, Callable

import pytest
from inbound_wire import GOODBYE_TEXT, STANDARD_HEADERS, Frames, Msg, reply

from esl_harness import Harness, RawClient, start_harness, stop_harness
from eventsocket.protocol.events import Event, parse_event
from eventsocket.protocol.message import Frame
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.apps.socket import parse_hosts


def goodbye(uuid: str) -> bytes:
    """The session form of the goodbye disconnect notice (§0)."""
    return (
        f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
        f"Content-Disposition: disconnect\nContent-Length: {len(GOODBYE_TEXT)}\n\n"
    ).encode() + GOODBYE_TEXT


def linger_notice(uuid: str, channel_name: str, seconds: int) -> bytes:
    return (
        f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
        f"Content-Disposition: linger\nChannel-Name: {channel_name}\nLinger-Time: {seconds}\n"
        "Content-Length: 0\n\n"
    ).encode()


def execute(app: str, arg: str = "", *extra: str) -> str:
    """A ``sendmsg`` (no uuid) running ``app``."""
    lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}"]
    if arg:
        lines.append(f"execute-app-arg: {arg}")
    return "\n".join([*lines, *extra])


# -- the application side ----------------------------------------------------------------------


class Socket(Frames):
    """The application's end of one outbound connection."""

    async def send(self, *packets: str) -> None:
        """Write the packets in one TCP write (LF line ends, a blank line after each)."""
        self.writer.write(b"".join(p.encode() + b"\n\n" for p in packets))
        await self.writer.drain()

    async def cmd(self, packet: str, timeout: float = 5.0) -> Msg:
        """Send ``packet`` and return its reply; events read on the way go to ``backlog``."""
        await self.send(packet)
        return await self.answer(timeout)

    async def connect(self) -> Event:
        msg = await self.cmd("connect")
        assert msg.reply_text == "%2BOK%0A", msg.raw[-200:]
        return parse_event("text/event-plain", msg.raw)

    async def until(self, predicate: Callable[[Msg], bool], timeout: float = 5.0) -> tuple[Msg, list[Msg]]:
        """Read (backlog first) until a frame satisfies ``predicate``: (that frame, the ones before)."""
        before: list[Msg] = []
        while True:
            msg = self.backlog.pop(0) if self.backlog else await self.frame(timeout)
            if predicate(msg):
                return msg, before
            before.append(msg)

    async def until_closed(self, timeout: float = 5.0) -> list[Msg]:
        """Every frame up to the switch closing the connection (fails if it does not)."""
        out, self.backlog = self.backlog, []
        while True:
            try:
                out.append(await self.frame(timeout))
            except asyncio.IncompleteReadError as exc:
                assert exc.partial == b"", exc.partial
                return out

    async def silent(self, seconds: float) -> bool:
        """True when the switch writes nothing for ``seconds`` (a frame that does come is kept)."""
        try:
            msg = await self.frame(seconds)
        except TimeoutError:
            return True
        self.backlog.append(msg)
        return False

    def close(self) -> None:
        self.writer.close()


class Application:
    """A program listening for the switch's outbound connections."""

    def __init__(self) -> None:
        self._accepted: asyncio.Queue[Socket] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self.sockets: list[Socket] = []
        self.port = 0

    async def start(self, host: str = "127.0.0.1") -> Application:
        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._accepted.put(Socket(reader, writer))

        self._server = await asyncio.start_server(on_connection, host, 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def accept(self, timeout: float = 5.0) -> Socket:
        sock = await asyncio.wait_for(self._accepted.get(), timeout)
        self.sockets.append(sock)
        return sock

    def pending(self) -> int:
        return self._accepted.qsize()

    async def close(self) -> None:
        while not self._accepted.empty():
            self.sockets.append(self._accepted.get_nowait())
        for sock in self.sockets:
            sock.close()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)


@pytest.fixture
async def app() -> AsyncIterator[Application]:
    application = await Application().start()
    yield application
    await application.close()


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the switch side: placing calls and watching them -------------------------------------------


class Observer:
    """An inbound connection that places calls and watches channel events."""

    EVENTS = "CHANNEL_EXECUTE CHANNEL_PARK CHANNEL_HANGUP CHANNEL_DESTROY"

    def __init__(self, client: RawClient) -> None:
        self.client = client
        self.seen: list[Event] = []  # events read past while waiting for something else

    @classmethod
    async def open(cls, harness: Harness) -> Observer:
        observer = cls(await harness.client())
        assert (await observer.command(f"event plain {cls.EVENTS}")).reply_text == (
            "+OK event listener enabled plain"
        )
        return observer

    async def _next(self, timeout: float) -> Frame:
        frame = await self.client.recv(timeout)
        if frame.content_type == "text/event-plain":
            self.seen.append(parse_event(frame.content_type, frame.body))
        return frame

    async def command(self, packet: str, timeout: float = 10.0) -> Frame:
        """Send ``packet``; its reply (command/reply or api/response), keeping events in ``seen``."""
        await self.client.send(packet)
        while True:
            frame = await self._next(timeout)
            if frame.content_type in ("command/reply", "api/response"):
                return frame

    async def api(self, command: str) -> str:
        return (await self.command(f"api {command}")).text

    async def originate(self, target: str, dial: str = "null/1000") -> str:
        """``api originate <dial> <target>``; the new channel's uuid."""
        out = await self.api(f"originate {dial} {target}")
        assert out.startswith("+OK "), out
        return out[4:].strip()

    async def socket_call(self, port: int, options: str = "async full", host: str = "127.0.0.1") -> str:
        return await self.originate(f"'&socket({host}:{port} {options})'")

    async def dialplan_call(self, apps: str) -> str:
        """A call running the inline dialplan ``apps`` (``app:arg,app:arg``)."""
        return await self.originate(f"'{apps}' inline")

    async def next_event(self, uuid: str, name: str, timeout: float = 5.0) -> Event:
        """The first (not yet taken) event ``name`` of channel ``uuid``."""
        while True:
            for event in self.seen:
                if event.get("Unique-ID") == uuid and event.get("Event-Name") == name:
                    self.seen.remove(event)
                    return event
            await self._next(timeout)

    async def trail(self, uuid: str, timeout: float = 5.0) -> list[Event]:
        """This channel's events (of ``EVENTS``) up to and including its CHANNEL_DESTROY."""
        await self.next_event(uuid, "CHANNEL_DESTROY", timeout)
        # CHANNEL_DESTROY is the channel's last event: everything before it has been read
        mine = [e for e in self.seen if e.get("Unique-ID") == uuid]
        self.seen = [e for e in self.seen if e.get("Unique-ID") != uuid]
        return mine


def executed(events: list[Event]) -> list[str]:
    """``app data`` of every CHANNEL_EXECUTE in ``events``."""
    return [
        f"{e.get('Application')} {e.get('Application-Data') or ''}".strip()
        for e in events
        if e.get("Event-Name") == "CHANNEL_EXECUTE"
    ]


@pytest.fixture
async def observer(harness: Harness) -> Observer:
    return await Observer.open(harness)


async def placed(observer: Observer, app: Application, options: str = "async full") -> tuple[str, Socket]:
    uuid = await observer.socket_call(app.port, options)
    return uuid, await app.accept()


# -- connect ----------------------------------------------------------------------------------------


async def test_connect_reply_is_a_flat_channel_data_event_in_freeswitch_order(
    observer: Observer, app: Application
) -> None:
    uuid, sock = await placed(observer, app)
    await sock.send("connect")
    msg = await sock.frame()
    raw = msg.raw
    assert b"\r" not in raw
    assert raw.endswith(b"\n\n") and not raw.endswith(b"\n\n\n")
    assert b"Content-Length" not in raw  # no envelope, no body
    lines = raw[:-2].decode().split("\n")
    pairs = [line.split(": ", 1) for line in lines]
    names = [name for name, _ in pairs]
    values = dict((name, value) for name, value in pairs)
    assert len(names) == len(set(names)), "CHANNEL_DATA keeps one header per name"

    # 1. standard headers (FreeSWITCH-IPv6 only when known)
    standard = [n for n in STANDARD_HEADERS if n in names]
    assert names[: len(standard)] == standard
    assert set(STANDARD_HEADERS) - set(standard) <= {"FreeSWITCH-IPv6"}
    assert values["Event-Name"] == "CHANNEL_DATA"
    assert values["Event-Calling-File"] == "mod_event_socket.c"
    assert values["Event-Calling-Function"] == "parse_command"
    rest = names[len(standard) :]

    # 2. the caller profile under the "Channel" prefix, the same fields as Caller-* later
    profile_end = rest.index("Channel-State")
    channel_profile = rest[:profile_end]
    caller_profile = [n for n in rest if n.startswith("Caller-")]
    assert channel_profile[:2] == ["Channel-Direction", "Channel-Logical-Direction"]
    assert channel_profile[-3:] == [
        "Channel-Screen-Bit",
        "Channel-Privacy-Hide-Name",
        "Channel-Privacy-Hide-Number",
    ]
    assert channel_profile == ["Channel-" + n[len("Caller-") :] for n in caller_profile]
    for name in caller_profile:
        assert values["Channel-" + name[len("Caller-") :]] == values[name]

    # 3. the channel data: basic headers, Caller-*, then every variable_*
    data = rest[profile_end:-4]
    basic = data[: data.index(caller_profile[0])]
    order = [
        "Channel-State",
        "Channel-Call-State",
        "Channel-State-Number",
        "Channel-Name",
        "Unique-ID",
        "Call-Direction",
        "Presence-Call-Direction",
        "Channel-HIT-Dialplan",
        "Channel-Call-UUID",
        "Answer-State",
    ]
    assert [n for n in basic if n in order] == order
    after_basic = data[len(basic) :]
    assert after_basic[: len(caller_profile)] == caller_profile
    variables = after_basic[len(caller_profile) :]
    assert variables and all(n.startswith("variable_") for n in variables)

    # 4-7. the command/reply inside, last
    assert lines[-4:] == [
        "Content-Type: command/reply",
        "Reply-Text: %2BOK%0A",
        "Socket-Mode: async",
        "Control: full",
    ]
    assert values["Unique-ID"] == uuid
    assert values["Channel-Name"] == "null/1000"
    assert values["Answer-State"] == "answered"
    assert values["variable_current_application"] == "socket"
    assert values["variable_socket_host"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("options", "mode", "control"),
    [
        ("async full", "async", "full"),
        ("async", "async", "single-channel"),
        ("full", "static", "full"),
        ("", "static", "single-channel"),
        ("FULL other Async", "async", "full"),
    ],
)
async def test_connect_reports_socket_mode_and_control(
    observer: Observer, app: Application, options: str, mode: str, control: str
) -> None:
    _, sock = await placed(observer, app, options)
    msg = await sock.cmd("connect")
    assert msg.raw.endswith(
        f"Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: {mode}\n"
        f"Control: {control}\n\n".encode()
    )


async def test_connect_can_be_sent_again(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app)
    first = await sock.connect()
    again = await sock.connect()
    assert first.get("Unique-ID") == again.get("Unique-ID") == uuid
    assert again.get("Event-Name") == "CHANNEL_DATA"


async def test_async_connect_parks_the_channel(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    park = await observer.next_event(uuid, "CHANNEL_PARK", timeout=1.0)
    assert park.get("Unique-ID") == uuid


# -- the first packet ----------------------------------------------------------------------------


async def test_switch_says_nothing_until_the_application_speaks(observer: Observer, app: Application) -> None:
    _, sock = await placed(observer, app)
    assert await sock.silent(0.2)


async def test_first_packet_that_is_not_connect_gets_no_reply_but_takes_effect(
    observer: Observer, app: Application
) -> None:
    uuid, sock = await placed(observer, app)
    await sock.send("myevents")
    assert await sock.silent(0.2)
    await sock.send("connect")
    # the first frame is the reply to connect: myevents was answered with nothing
    msg = await sock.frame()
    assert msg.raw.endswith(b"Socket-Mode: async\nControl: full\n\n")
    assert parse_event("text/event-plain", msg.raw).get("Unique-ID") == uuid
    assert (await sock.cmd("myevents")).raw == reply("-ERR aready enabled.")


async def test_first_packet_linger_is_silent_but_lingers(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app)
    await sock.send("linger")
    assert (await sock.cmd("getvar channel_name")).raw == reply("null/1000")
    await observer.api(f"uuid_kill {uuid}")
    notice, _ = await sock.until(lambda m: m.content_type == "text/disconnect-notice")
    assert notice.raw == linger_notice(uuid, "null/1000", -1)


async def test_first_packet_timeout_closes_with_the_session_goodbye() -> None:
    settings = EventSocketSettings(listen_ip="127.0.0.1", listen_port=0, first_packet_timeout=0.3)
    harness = await start_harness(settings)
    application = await Application().start()
    try:
        observer = await Observer.open(harness)
        uuid, sock = await placed(observer, application)
        frames = await sock.until_closed(timeout=3.0)
        assert [m.raw for m in frames] == [goodbye(uuid)]
        # without resume, the channel hangs up once its socket is gone
        assert "CHANNEL_HANGUP" in [e.get("Event-Name") for e in await observer.trail(uuid)]
    finally:
        await application.close()
        await stop_harness(harness)


async def test_exit_as_first_packet_gets_only_the_goodbye(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app)
    await sock.send("exit")
    assert [m.raw for m in await sock.until_closed()] == [goodbye(uuid)]  # no "+OK bye"
    assert executed(await observer.trail(uuid)) == [f"socket 127.0.0.1:{app.port} async full"]


async def test_outbound_connections_skip_the_inbound_acl() -> None:
    settings = EventSocketSettings(listen_ip="127.0.0.1", listen_port=0, apply_inbound_acl=["10.0.0.0/8"])
    harness = await start_harness(settings)
    application = await Application().start()
    try:
        inbound = await harness.connect()
        assert (await inbound.recv()).content_type == "text/rude-rejection"  # the ACL denies loopback
        target = f"'&socket(127.0.0.1:{application.port})'"
        out = await harness.core.execute_api("originate", f"null/1000 {target}")
        assert out is not None and out.startswith("+OK ")
        sock = await application.accept()
        assert (await sock.connect()).get("Unique-ID") == out[4:].strip()
    finally:
        await application.close()
        await stop_harness(harness)


def test_first_packet_timeout_defaults_to_25_seconds() -> None:
    assert EventSocketSettings().first_packet_timeout == 25.0


# -- static and async modes --------------------------------------------------------------------------


async def test_static_sendmsg_replies_when_the_application_has_finished(
    harness: Harness, observer: Observer, app: Application
) -> None:
    fired: list[Event] = []
    harness.core.bus.subscribe(fired.append)
    uuid, sock = await placed(observer, app, "full")
    await sock.connect()
    await sock.cmd("myevents")
    await sock.send(execute("sleep", "200"))
    msg = await sock.frame()
    # the reply is written only after sleep ran to its end ...
    assert msg.raw == reply("+OK")
    done = [(e.get("Event-Name"), e.get("Application")) for e in fired if e.get("Unique-ID") == uuid]
    assert ("CHANNEL_EXECUTE_COMPLETE", "sleep") in done
    # ... and the events it fired meanwhile follow the reply
    start, before = await sock.until(lambda m: m.event_name == "CHANNEL_EXECUTE")
    assert before == [] and start.event().get("Application") == "sleep"
    complete, _ = await sock.until(lambda m: m.event_name == "CHANNEL_EXECUTE_COMPLETE")
    assert complete.event().get("Application") == "sleep"


async def test_async_sendmsg_replies_at_once(harness: Harness, observer: Observer, app: Application) -> None:
    fired: list[Event] = []
    harness.core.bus.subscribe(fired.append)
    uuid, sock = await placed(observer, app, "async full")
    await sock.connect()
    await sock.cmd("myevents")
    assert (await sock.cmd(execute("sleep", "5000"))).raw == reply("+OK")
    # queued: the reply came long before the application could finish ...
    assert ("CHANNEL_EXECUTE_COMPLETE", "sleep") not in [
        (e.get("Event-Name"), e.get("Application")) for e in fired if e.get("Unique-ID") == uuid
    ]
    # ... and the application starts after it
    start, _ = await sock.until(lambda m: m.event_name == "CHANNEL_EXECUTE")
    assert start.event().get("Application") == "sleep"
    await observer.api(f"uuid_kill {uuid}")
    complete, _ = await sock.until(lambda m: m.event_name == "CHANNEL_EXECUTE_COMPLETE")
    assert complete.event().get("Application") == "sleep"


@pytest.mark.parametrize("options", ["full", "async full"])
async def test_reply_order_around_a_blocking_application(
    observer: Observer, app: Application, options: str
) -> None:
    """``read`` waits for a digit: a static sendmsg answers only once the digit came."""
    uuid, sock = await placed(observer, app, options)
    await sock.connect()
    await sock.cmd("myevents")
    await sock.send(execute("read", "1 1 silence got_digit 5000 #"))
    if options == "full":
        assert await sock.silent(0.3)  # no reply and no CHANNEL_EXECUTE while read waits
    else:
        assert (await sock.frame()).raw == reply("+OK")
        start, _ = await sock.until(lambda m: m.event_name == "CHANNEL_EXECUTE")
        assert start.event().get("Application") == "read"
    assert await observer.api(f"uuid_recv_dtmf {uuid} 7") == f"+OK {uuid} received DTMF 7.\n"
    if options == "full":
        assert (await sock.frame()).raw == reply("+OK")
        held = [await sock.frame() for _ in range(3)]
        assert [m.event_name for m in held] == ["CHANNEL_EXECUTE", "DTMF", "CHANNEL_EXECUTE_COMPLETE"]
        complete = held[-1]
    else:
        complete, _ = await sock.until(lambda m: m.event_name == "CHANNEL_EXECUTE_COMPLETE")
    assert complete.event().get("Application") == "read"
    assert complete.event().get("variable_got_digit") == "7"
    assert (await sock.cmd("getvar got_digit")).raw == reply("7")


async def test_static_mode_async_header_queues_without_running(observer: Observer, app: Application) -> None:
    """In static mode nothing runs the queue while the socket application holds the call (§3.10)."""
    _, sock = await placed(observer, app, "full")
    await sock.connect()
    assert (await sock.cmd(execute("set", "queued=1", "async: true"))).raw == reply("+OK")
    assert (await sock.cmd(execute("set", "direct=1"))).raw == reply("+OK")
    assert (await sock.cmd("getvar direct")).raw == reply("1")
    assert (await sock.cmd("getvar queued")).raw == reply("-ERR command not found")


# -- what each mode may run (§3.17) -----------------------------------------------------------------

REFUSED_WITHOUT_FULL = [
    "api echo hi",
    "api",
    "bgapi echo hi",
    "event plain ALL",
    "events plain ALL",
    "nixevent ALL",
    "noevents",
    "log",
    "log 7",
    "nolog",
    "linger",
    "linger 5",
    "nolinger",
    "sendevent CUSTOM",
    "auth ClueCon",
    "userauth 1000@default:1234",
    "hello",
]


@pytest.mark.parametrize("line", REFUSED_WITHOUT_FULL)
async def test_single_channel_refuses_the_full_commands(
    observer: Observer, app: Application, line: str
) -> None:
    _, sock = await placed(observer, app, "async")
    await sock.connect()
    assert (await sock.cmd(line)).raw == reply("-ERR command not found")
    assert (await sock.cmd("getvar channel_name")).raw == reply("null/1000")


async def test_single_channel_allows_the_session_commands(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app, "async")
    await sock.connect()
    assert (await sock.cmd("getvar channel_name")).raw == reply("null/1000")
    added = reply(f"+OK filter added. [Unique-ID]=[{uuid}]")
    assert (await sock.cmd(f"filter Unique-ID {uuid}")).raw == added
    assert (await sock.cmd("myevents")).raw == reply("+OK Events Enabled")
    assert (await sock.cmd("divert_events off")).raw == reply("+OK events not diverted")
    assert (await sock.cmd(execute("set", "single=1"))).raw == reply("+OK")
    assert (await sock.cmd("resume")).raw == reply("+OK")
    assert (await sock.cmd("sendmsg bogus")).raw == reply("-ERR invalid session id [bogus]")
    assert (await sock.cmd("exit")).raw == reply("+OK bye")


async def test_full_allows_every_command(observer: Observer, app: Application) -> None:
    _, sock = await placed(observer, app, "async full")
    await sock.connect()
    assert (await sock.cmd("api echo hi")).raw == b"Content-Type: api/response\nContent-Length: 2\n\nhi"
    assert (await sock.cmd("event plain HEARTBEAT")).raw == reply("+OK event listener enabled plain")
    assert (await sock.cmd("nixevent HEARTBEAT")).raw == reply("+OK events nixed")
    assert (await sock.cmd("noevents")).raw == reply("+OK no longer listening for events")
    assert (await sock.cmd("log")).raw == reply("+OK log level  [7]")
    assert (await sock.cmd("nolog")).raw == reply("+OK no longer logging")
    assert (await sock.cmd("linger")).raw == reply("+OK will linger")
    assert (await sock.cmd("nolinger")).raw == reply("+OK will not linger")
    assert (await sock.cmd("sendevent CUSTOM")).reply_text.startswith("+OK ")
    assert (await sock.cmd("auth ClueCon")).raw == reply("-ERR command not found")


# -- linger ------------------------------------------------------------------------------------------


async def test_linger_without_seconds_holds_the_socket_until_exit(
    observer: Observer, app: Application
) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    await sock.cmd("myevents")
    assert (await sock.cmd("linger")).raw == reply("+OK will linger")
    await observer.api(f"uuid_kill {uuid}")
    notice, before = await sock.until(lambda m: m.content_type == "text/disconnect-notice")
    assert notice.raw == linger_notice(uuid, "null/1000", -1)
    names = [m.event_name for m in before]
    assert "CHANNEL_HANGUP" in names
    assert names[-1] == "CHANNEL_HANGUP_COMPLETE"
    # still usable after the hangup
    assert (await sock.cmd("getvar channel_name")).raw == reply("null/1000")
    assert (await sock.cmd("api echo still")).raw == b"Content-Type: api/response\nContent-Length: 5\n\nstill"
    assert (await sock.cmd(execute("set", "late=1"))).raw == reply("+OK")
    assert await sock.silent(0.3)  # lingering forever: no goodbye on its own
    assert (await sock.cmd("exit")).raw == reply("+OK bye")
    assert [m.raw for m in await sock.until_closed()] == [goodbye(uuid)]


async def test_linger_with_seconds_says_goodbye_after_them(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    await sock.cmd("myevents")
    assert (await sock.cmd("linger 1")).raw == reply("+OK will linger 1 seconds")
    await observer.api(f"uuid_kill {uuid}")
    frames = await sock.until_closed()
    assert [m.raw for m in frames[-2:]] == [linger_notice(uuid, "null/1000", 1), goodbye(uuid)]
    assert frames[-3].event_name == "CHANNEL_HANGUP_COMPLETE"


async def test_nolinger_says_goodbye_at_once(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    await sock.cmd("myevents")
    assert (await sock.cmd("linger")).raw == reply("+OK will linger")
    assert (await sock.cmd("nolinger")).raw == reply("+OK will not linger")
    await observer.api(f"uuid_kill {uuid}")
    frames = await sock.until_closed()
    assert frames[-1].raw == goodbye(uuid)
    names = [m.event_name for m in frames[:-1]]
    assert "CHANNEL_HANGUP" in names and names[-1] == "CHANNEL_HANGUP_COMPLETE"
    assert all(m.is_event for m in frames[:-1])  # no linger notice


async def test_static_socket_lingers_too(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app, "full")
    await sock.connect()
    await sock.cmd("myevents")
    await sock.cmd("linger")
    await observer.api(f"uuid_kill {uuid} USER_BUSY")
    notice, before = await sock.until(lambda m: m.content_type == "text/disconnect-notice")
    assert notice.raw == linger_notice(uuid, "null/1000", -1)
    assert before[-1].event_name == "CHANNEL_HANGUP_COMPLETE"
    assert (await sock.cmd("getvar hangup_cause")).raw == reply("USER_BUSY")
    assert (await sock.cmd("exit")).raw == reply("+OK bye")
    assert [m.raw for m in await sock.until_closed()] == [goodbye(uuid)]


async def test_end_of_call_events_of_a_parked_channel(observer: Observer, app: Application) -> None:
    """§5.5: what reaches the socket between the hangup and the goodbye, without linger."""
    uuid, sock = await placed(observer, app)
    await sock.connect()
    await sock.cmd("myevents")
    await sock.cmd(execute("set", "parked=1"))
    await sock.until(lambda m: m.event_name == "CHANNEL_EXECUTE_COMPLETE")
    await observer.api(f"uuid_kill {uuid}")
    frames = await sock.until_closed()
    assert frames[-1].raw == goodbye(uuid)
    names = [m.event_name for m in frames[:-1]]
    names = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
    assert names == [
        "CHANNEL_HANGUP",
        "CHANNEL_UNPARK",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_STATE",
        "CHANNEL_HANGUP_COMPLETE",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("linger 3x", "+OK will linger 3 seconds"),
        ("linger abc", "+OK will linger 0 seconds"),
        ("linger  7", "+OK will linger 7 seconds"),
        ("LINGER 2", "+OK will linger 2 seconds"),
        ("linger ", "+OK will linger"),
    ],
)
async def test_linger_reply_texts(observer: Observer, app: Application, line: str, expected: str) -> None:
    _, sock = await placed(observer, app)
    await sock.connect()
    assert (await sock.cmd(line)).raw == reply(expected)


async def test_lingerfoo_lingers_forever(observer: Observer, app: Application) -> None:
    _, sock = await placed(observer, app)
    await sock.connect()
    assert (await sock.cmd("lingerfoo")).raw == reply("+OK will linger")


# -- myevents, getvar, divert_events, sendmsg, bgapi --------------------------------------------------


async def test_myevents_replies_and_json_format(observer: Observer, app: Application) -> None:
    _, sock = await placed(observer, app)
    await sock.connect()
    assert (await sock.cmd("myevents json")).raw == reply("+OK Events Enabled")
    assert (await sock.cmd("myevents")).raw == reply("-ERR aready enabled.")
    assert (await sock.cmd("myevents xml")).raw == reply("-ERR aready enabled.")
    await sock.cmd(execute("set", "fmt=json"))
    msg, _ = await sock.until(lambda m: m.is_event and m.event().get("Application-Data") == "fmt=json")
    assert msg.content_type == "text/event-json"
    assert msg.frame.body.startswith(b'{"Event-Name":"CHANNEL_EXECUTE"')


async def test_myevents_follows_only_its_own_channel(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    await sock.cmd("myevents")
    other = await observer.originate("&park()")
    await observer.api(f"uuid_kill {other}")
    await observer.trail(other)
    await sock.cmd(execute("set", "mine=1"))
    _, before = await sock.until(lambda m: m.event_name == "CHANNEL_EXECUTE_COMPLETE")
    assert {m.event().get("Unique-ID") for m in before if m.is_event} <= {uuid}


async def test_getvar(observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    assert (await sock.cmd("getvar channel_name")).raw == reply("null/1000")
    assert (await sock.cmd("getvar uuid")).raw == reply(uuid)
    assert (await sock.cmd("getvar no_such_variable")).raw == reply("-ERR command not found")
    assert (await sock.cmd("getvar")).raw == reply("-ERR command not found")
    assert await observer.api(f"uuid_setvar {uuid} long {'v' * 700}") == "+OK\n"
    assert (await sock.cmd("getvar long")).raw == reply("v" * 511)
    assert await observer.api(f"uuid_setvar {uuid} spaced a b  c") == "+OK\n"
    assert (await sock.cmd("getvar spaced")).raw == reply("a b  c")  # raw, not URL-encoded


async def test_divert_events(harness: Harness, observer: Observer, app: Application) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    assert (await sock.cmd("divert_events")).raw == reply("-ERR missing value.")
    assert (await sock.cmd("divert_events maybe")).raw == reply("+OK events not diverted")
    assert (await sock.cmd("divert_events ON")).raw == reply("+OK events diverted")
    await sock.cmd("myevents")  # diverted events are written only with delivery switched on
    sent = await observer.command(f"sendevent CUSTOM\nUnique-ID: {uuid}\nFoo: bar")
    assert sent.reply_text.startswith("+OK ")
    event_uuid = sent.reply_text[4:]
    msg, _ = await sock.until(lambda m: m.is_event and m.event().get("Foo") == "bar")
    body = msg.frame.body.decode()
    # raw: the client's headers and Event-UUID, no standard headers
    assert body == (f"Command: sendevent%20CUSTOM\nUnique-ID: {uuid}\nFoo: bar\nEvent-UUID: {event_uuid}\n\n")


async def test_sendmsg_without_a_uuid_targets_the_controlled_channel(
    observer: Observer, app: Application
) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    await sock.cmd("myevents")
    other = await observer.originate("&park()")
    assert (await sock.cmd(execute("set", "a=1"))).raw == reply("+OK")
    assert (await sock.cmd(execute("set", "b=2").replace("sendmsg", f"sendmsg {uuid}"))).raw == reply("+OK")
    assert (await sock.cmd(execute("set", "c=3", f"Session-ID: {uuid}"))).raw == reply("+OK")
    assert (await sock.cmd(execute("set", "d=4").replace("sendmsg", f"sendmsg {other}"))).raw == reply("+OK")
    await sock.until(
        lambda m: m.event_name == "CHANNEL_EXECUTE_COMPLETE" and m.event().get("Application-Data") == "c=3"
    )
    values = [(await sock.cmd(f"getvar {v}")).reply_text for v in "abcd"]
    assert values == ["1", "2", "3", "-ERR command not found"]
    assert await observer.api(f"uuid_getvar {other} d") == "4"
    await observer.api(f"uuid_kill {other}")


async def test_bgapi_from_an_outbound_socket_carries_job_owner_uuid(
    observer: Observer, app: Application
) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    await sock.cmd("myevents")
    assert (await sock.cmd("event plain BACKGROUND_JOB API")).raw == reply("+OK event listener enabled plain")
    await sock.cmd("api echo first")  # its API event has no Unique-ID: myevents drops it
    msg = await sock.cmd("bgapi echo hello")
    job = msg.reply_text.removeprefix("+OK Job-UUID: ")
    assert msg.raw == reply(f"+OK Job-UUID: {job}")[:-1] + f"Job-UUID: {job}\n\n".encode()
    event_msg = await sock.frame()
    event = event_msg.event()
    assert event.get("Event-Name") == "BACKGROUND_JOB"
    assert event.get("Job-UUID") == job
    assert event.get("Job-Owner-UUID") == uuid
    assert event.get("Job-Command") == "echo"
    assert event.body == "hello"


# -- after the socket closes ---------------------------------------------------------------------------


@pytest.mark.parametrize("options", ["async full", "full"])
async def test_resume_continues_the_dialplan(observer: Observer, app: Application, options: str) -> None:
    uuid = await observer.dialplan_call(f"socket:127.0.0.1:{app.port} {options},set:after=1")
    sock = await app.accept()
    await sock.connect()
    assert (await sock.cmd("resume")).raw == reply("+OK")
    assert (await sock.cmd("getvar socket_resume")).raw == reply("true")
    assert (await sock.cmd("exit")).raw == reply("+OK bye")
    trail = await observer.trail(uuid)
    assert executed(trail) == [f"socket 127.0.0.1:{app.port} {options}", "set after=1"]


async def test_socket_resume_variable_continues_the_dialplan(observer: Observer, app: Application) -> None:
    uuid = await observer.dialplan_call(
        f"set:socket_resume=true,socket:127.0.0.1:{app.port} async,set:after=1"
    )
    sock = await app.accept()
    await sock.connect()
    sock.close()
    assert executed(await observer.trail(uuid))[-1] == "set after=1"


async def test_queued_commands_run_before_the_dialplan_goes_on(observer: Observer, app: Application) -> None:
    uuid = await observer.dialplan_call(f"socket:127.0.0.1:{app.port} async full,set:after=1")
    sock = await app.accept()
    await sock.send("connect", execute("set", "queued=1"), "resume", "exit")
    assert executed(await observer.trail(uuid)) == [
        f"socket 127.0.0.1:{app.port} async full",
        "set queued=1",
        "set after=1",
    ]


@pytest.mark.parametrize("options", ["async full", "full"])
@pytest.mark.parametrize("ending", ["close", "exit", "connect+exit", "nothing"])
async def test_without_resume_the_channel_hangs_up(
    observer: Observer, app: Application, options: str, ending: str
) -> None:
    """§9: the channel is never left parked; without resume it hangs up (FreeSWITCH documents this)."""
    uuid = await observer.dialplan_call(f"socket:127.0.0.1:{app.port} {options},set:after=1")
    sock = await app.accept()
    if ending == "connect+exit":
        await sock.send("connect", "exit")  # one write: exit arrives right behind connect
    elif ending != "nothing":
        await sock.connect()
        if ending == "exit":
            assert (await sock.cmd("exit")).raw == reply("+OK bye")
    if ending in ("close", "nothing"):
        sock.close()
    trail = await observer.trail(uuid)
    assert executed(trail) == [f"socket 127.0.0.1:{app.port} {options}"]
    assert "CHANNEL_HANGUP" in [e.get("Event-Name") for e in trail]


@pytest.mark.parametrize("options", ["async full", "full"])
async def test_a_transfer_then_close_continues_in_the_new_extension(
    observer: Observer, app: Application, options: str
) -> None:
    """As FreeSWITCH: the application transfers the call and goes away; the call goes on."""
    uuid = await observer.dialplan_call(f"socket:127.0.0.1:{app.port} {options},set:after=1")
    sock = await app.accept()
    await sock.connect()
    await sock.send(execute("transfer", "'set:moved=1,park' inline"))
    if options == "async full":
        # the new extension runs while the socket is still up
        await observer.next_event(uuid, "CHANNEL_PARK")
    sock.close()
    if options == "full":
        await observer.next_event(uuid, "CHANNEL_PARK")
    await observer.api(f"uuid_kill {uuid}")
    trail = await observer.trail(uuid, timeout=10.0)
    assert executed(trail)[-3:] == ["transfer 'set:moved=1,park' inline", "set moved=1", "park"]
    assert "set after=1" not in executed(trail)


async def test_channel_destroy_never_reaches_the_controlling_socket(
    harness: Harness, observer: Observer, app: Application
) -> None:
    uuid, sock = await placed(observer, app)
    await sock.connect()
    await sock.cmd("myevents")
    await sock.cmd("linger")
    await observer.api(f"uuid_kill {uuid}")
    _, before = await sock.until(lambda m: m.content_type == "text/disconnect-notice")
    assert "CHANNEL_DESTROY" not in [m.event_name for m in before]
    # the socket still holds the session: it is not destroyed yet
    assert harness.core.calls.get(uuid) is not None
    await sock.send("exit")
    frames = await sock.until_closed()
    assert "CHANNEL_DESTROY" not in [m.event_name for m in frames]
    destroy = await observer.next_event(uuid, "CHANNEL_DESTROY")
    assert destroy.get("Unique-ID") == uuid


# -- the socket application's host list (§5.1) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("127.0.0.1", [("127.0.0.1", 8084, "")]),
        ("127.0.0.1:9000", [("127.0.0.1", 9000, "")]),
        ("::1:8085", [("::1", 8085, "")]),
        ("[::1]:8085", [("[::1]", 8085, "")]),
        ("h:1/x/y", [("h", 1, "/x/y")]),
        ("h/p", [("h", 8084, "/p")]),
        ("a:7000|b|c:7001", [("a", 7000, ""), ("b", 7000, ""), ("c", 7001, "")]),
    ],
)
def test_parse_hosts(spec: str, expected: list[tuple[str, int, str]]) -> None:
    assert parse_hosts(spec) == expected


async def test_refused_connection_continues_the_dialplan(observer: Observer) -> None:
    port = closed_port()
    uuid = await observer.dialplan_call(f"socket:127.0.0.1:{port} async full,set:after=1")
    assert executed(await observer.trail(uuid)) == [f"socket 127.0.0.1:{port} async full", "set after=1"]


async def test_socket_without_arguments_continues_the_dialplan(observer: Observer) -> None:
    uuid = await observer.dialplan_call("socket,set:after=1")
    assert executed(await observer.trail(uuid)) == ["socket", "set after=1"]


async def test_failover_list_uses_the_first_host_that_answers(observer: Observer, app: Application) -> None:
    uuid = await observer.dialplan_call(f"socket:127.0.0.1:{closed_port()}|localhost:{app.port} async full")
    sock = await app.accept()
    data = await sock.connect()
    assert data.get("Unique-ID") == uuid
    assert (await sock.cmd("getvar socket_host")).raw == reply("localhost")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs all of 127/8 on loopback")
async def test_failover_entry_without_port_reuses_the_previous_port(
    observer: Observer, app: Application
) -> None:
    # 127.0.0.2:<port> refuses (the application listens on 127.0.0.1 only); "127.0.0.1" has no port
    await observer.dialplan_call(f"socket:127.0.0.2:{app.port}|127.0.0.1 async full")
    sock = await app.accept()
    await sock.connect()
    assert (await sock.cmd("getvar socket_host")).raw == reply("127.0.0.1")


async def test_path_goes_into_socket_path(observer: Observer, app: Application) -> None:
    await observer.dialplan_call(f"socket:127.0.0.1:{app.port}/ivr/main async full")
    sock = await app.accept()
    await sock.connect()
    assert (await sock.cmd("getvar socket_path")).raw == reply("/ivr/main")
    assert (await sock.cmd("getvar socket_host")).raw == reply("127.0.0.1")


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
async def test_ipv6_loopback(observer: Observer) -> None:
    application = await Application().start("::1")
    try:
        uuid = await observer.dialplan_call(f"socket:::1:{application.port} async full")
        sock = await application.accept()
        assert (await sock.connect()).get("Unique-ID") == uuid
        assert (await sock.cmd("getvar socket_host")).raw == reply("::1")
    finally:
        await application.close()


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
async def test_bracketed_ipv6_does_not_connect(observer: Observer) -> None:
    application = await Application().start("::1")
    try:
        spec = f"[::1]:{application.port} async full"
        uuid = await observer.dialplan_call(f"socket:{spec},set:after=1")
        assert executed(await observer.trail(uuid)) == [f"socket {spec}", "set after=1"]
        assert application.pending() == 0
    finally:
        await application.close()
