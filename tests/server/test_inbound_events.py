"""Event subscriptions, formats, sendevent and delivery order (PROTOCOL.md §3.3, §3.7-3.9, §4)."""

from __future__ import annotations

import itertools
import json
import re
import uuid

import pytest
from inbound_wire import (
    STANDARD_HEADERS,
    Harness,
    Msg,
    Wire,
    api_response,
    header_names,
    logged_in,
    plain_lines,
    reply,
    running,
)

from eventsocket.protocol.events import Event
from eventsocket.switch.builder import build_switch

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


async def subscribed(harness: Harness, line: str, fmt: str = "plain") -> Wire:
    wire = await logged_in(harness)
    assert (await wire.cmd(line)).raw == reply(f"+OK event listener enabled {fmt}")
    return wire


async def sendevent(wire: Wire, line: str, *headers: str, body: str | None = None) -> str:
    """Send ``sendevent``; return the Event-UUID from its reply."""
    lines = [line, *headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body.encode())}")
    await wire.send("\n".join(lines) + "\n\n" + (body or ""))
    msg = await wire.answer()
    assert msg.content_type == "command/reply"
    text = msg.reply_text
    assert text.startswith("+OK "), text
    return text[4:]


async def sync(wire: Wire) -> list[Msg]:
    """Every event the server wrote (or that was read past) before the reply to a no-op command."""
    return await wire.sync()


def names_of(msgs: list[Msg]) -> list[str]:
    return [m.event().name for m in msgs]


# -- formats ---------------------------------------------------------------------------------------


async def test_plain_event_after_api(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain ALL")
    assert (await wire.cmd("api echo x")).raw == api_response("x")
    msg = await wire.frame()
    length = len(msg.body)
    assert msg.raw.startswith(f"Content-Length: {length}\nContent-Type: text/event-plain\n\n".encode())
    lines = plain_lines(msg)
    assert lines[0] == "Event-Name: API"
    assert [line.split(": ", 1)[0] for line in lines] == [
        *(h for h in STANDARD_HEADERS if any(line.startswith(h + ": ") for line in lines)),
        "API-Command",
        "API-Command-Argument",
    ]
    assert "API-Command: echo" in lines
    assert "API-Command-Argument: x" in lines
    assert msg.body.endswith(b"API-Command-Argument: x\n\n")
    event = msg.event()
    assert event["Event-Calling-File"] == "switch_loadable_module.c"
    assert event["Event-Calling-Function"] == "switch_api_execute"
    assert event["Core-UUID"] == harness.core.identity.core_uuid
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d%20\d\d%3A\d\d%3A\d\d",
        lines[header_names(event).index("Event-Date-Local")].split(": ", 1)[1],
    )


async def test_api_event_has_no_argument_header_without_arguments(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain API")
    assert (await wire.cmd("api version short")).content_type == "api/response"
    event = (await wire.frame()).event()
    assert event["API-Command-Argument"] == "short"
    await wire.cmd("api hostname")
    event = (await wire.frame()).event()
    assert event["API-Command"] == "hostname"
    assert "API-Command-Argument" not in event


async def test_json_format(harness: Harness) -> None:
    wire = await subscribed(harness, "event json API", "json")
    await wire.cmd('api echo quote" back\\slash /')
    msg = await wire.frame()
    assert msg.raw.startswith(f"Content-Length: {len(msg.body)}\nContent-Type: text/event-json\n\n".encode())
    assert b"\n" not in msg.body and not msg.body.endswith(b"\n")
    assert msg.body.startswith(b'{"Event-Name":"API","Core-UUID":"')  # unformatted: no spaces
    data = json.loads(msg.body)
    assert next(iter(data)) == "Event-Name"
    assert data["Event-Name"] == "API"
    assert data["API-Command-Argument"] == 'quote" back\\slash /'
    assert b'"quote\\" back\\\\slash /"' in msg.body


async def test_xml_format(harness: Harness) -> None:
    wire = await subscribed(harness, "event xml API", "xml")
    await wire.cmd("api echo a b")
    msg = await wire.frame()
    assert msg.raw.startswith(f"Content-Length: {len(msg.body)}\nContent-Type: text/event-xml\n\n".encode())
    text = msg.body.decode()
    assert text.startswith("<event>\n  <headers>\n    <Event-Name>API</Event-Name>\n")
    assert "    <API-Command-Argument>a%20b</API-Command-Argument>\n" in text
    assert text.endswith("  </headers>\n</event>\n")
    assert msg.event()["API-Command-Argument"] == "a b"


async def test_xml_format_with_a_body(harness: Harness) -> None:
    wire = await subscribed(harness, "event xml CUSTOM", "xml")
    await sendevent(wire, "sendevent CUSTOM", "X: y", body="bo<dy>&\nl")
    text = (await wire.frame()).body.decode()
    assert text.endswith(
        "  </headers>\n  <Content-Length>9</Content-Length>\n  <body>bo&lt;dy&gt;&amp;\nl</body>\n</event>\n"
    )


async def test_format_changes_and_only_the_first_token_sets_it(harness: Harness) -> None:
    wire = await subscribed(harness, "event json API", "json")
    assert (await wire.cmd("event xml API")).raw == reply("+OK event listener enabled xml")
    await wire.cmd("api echo x")
    assert (await wire.frame()).content_type == "text/event-xml"
    # only the first token picks the format
    assert (await wire.cmd("event  plain API")).raw == reply("+OK event listener enabled xml")
    assert (await wire.cmd("event API plain")).raw == reply("+OK event listener enabled xml")


async def test_eventplain_without_space_is_event(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("eventjson API")).raw == reply("+OK event listener enabled plain")
    assert (await wire.cmd("events json API")).raw == reply("+OK event listener enabled json")


# -- what a subscription selects ------------------------------------------------------------------


async def test_custom_subclasses(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain CUSTOM my::sub")
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: other::sub", "Marker: 1")
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: my::sub", "Marker: 2")
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: MY::SUB", "Marker: 3")  # exact match only
    await sendevent(wire, "sendevent CUSTOM", "Marker: 4")  # no subclass: the type is enough
    await wire.ask("api echo not-subscribed")
    got = await sync(wire)
    assert [m.event()["Marker"] for m in got] == ["2", "4"]
    first = got[0]
    assert plain_lines(first)[0] == "Event-Subclass: my%3A%3Asub"
    assert got[0].event().subclass == "my::sub"


async def test_switch_event_prefix_form(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain SWITCH_EVENT_CUSTOM my::sub SWITCH_EVENT_API")
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: my::sub")
    await wire.ask("api echo x")
    got = await sync(wire)
    # SWITCH_EVENT_API came after CUSTOM, so it is a subclass name, not the API type
    assert names_of(got) == ["CUSTOM"]
    wire2 = await subscribed(harness, "event plain SWITCH_EVENT_API xxxxxxxxxxxxHEARTBEAT")
    await wire2.ask("api echo x")
    assert names_of(await sync(wire2)) == ["API"]


async def test_every_token_after_custom_is_a_subclass(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain CUSTOM API")
    await wire.ask("api echo x")
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: API")
    got = await sync(wire)
    assert [(m.event().name, m.event().subclass) for m in got] == [("CUSTOM", "API")]


async def test_events_plain_prefix_and_unknown_names_ignored(harness: Harness) -> None:
    wire = await subscribed(harness, "events plain NOSUCH API ALSO_NOT_A_NAME")
    await wire.ask("api echo x")
    assert names_of(await sync(wire)) == ["API"]


async def test_subscriptions_accumulate(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain API")
    assert (await wire.ask("event plain BACKGROUND_JOB")).raw == reply("+OK event listener enabled plain")
    await wire.ask("bgapi echo j\nJob-UUID: acc")
    await sendevent(wire, "sendevent CUSTOM")
    got = await sync(wire)
    assert sorted(names_of(got)) == ["API", "BACKGROUND_JOB"]


async def test_all_receives_everything(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain all")  # lowercase, as some clients send it
    await sendevent(wire, "sendevent HEARTBEAT")
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: any::thing")
    await wire.ask("api echo x")
    assert names_of(await sync(wire)) == ["HEARTBEAT", "CUSTOM", "API"]


async def test_nixevent_one_type_after_all(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain ALL")
    assert (await wire.ask("nixevent API")).raw == reply("+OK events nixed")
    await wire.ask("api echo x")
    await wire.ask("bgapi echo y\nJob-UUID: nix")  # fires API (nixed) and BACKGROUND_JOB
    await sendevent(wire, "sendevent CUSTOM", "Marker: plain-custom")
    # ALL became every single type: a subclass nobody named is no longer let through
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: not::named", "Marker: subclassed")
    got = await sync(wire)
    assert names_of(got) == ["BACKGROUND_JOB", "CUSTOM"]
    assert got[1].event()["Marker"] == "plain-custom"


async def test_nixevent_all_and_custom_subclasses(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain API CUSTOM a::b c::d")
    assert (await wire.ask("nixevent CUSTOM a::b")).raw == reply("+OK events nixed")
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: a::b")
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: c::d")
    await wire.ask("api echo x")
    got = await sync(wire)
    assert [(m.event().name, m.event().subclass) for m in got] == [("CUSTOM", "c::d"), ("API", None)]
    assert (await wire.ask("nixevent ALL")).raw == reply("+OK events nixed")
    await wire.ask("api echo x")
    await sendevent(wire, "sendevent CUSTOM", "Event-Subclass: c::d")
    assert await sync(wire) == []


async def test_nixevent_turns_delivery_on(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.ask("nixevent API")).raw == reply("+OK events nixed")
    assert (await wire.ask("noevents")).raw == reply("+OK no longer listening for events")


async def test_noevents_stops_delivery_but_keeps_filters(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain ALL")
    await wire.ask("filter Marker keep")
    assert (await wire.ask("noevents")).raw == reply("+OK no longer listening for events")
    await sendevent(wire, "sendevent CUSTOM", "Marker: keep")
    assert await sync(wire) == []
    assert (await wire.ask("event plain CUSTOM")).raw == reply("+OK event listener enabled plain")
    await sendevent(wire, "sendevent CUSTOM", "Marker: drop")
    await sendevent(wire, "sendevent CUSTOM", "Marker: keep")
    assert [m.event()["Marker"] for m in await sync(wire)] == ["keep"]


async def test_events_arrive_after_the_reply_that_caused_them(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain API CUSTOM")
    for i in range(20):
        assert (await wire.cmd(f"api echo {i}")).raw == api_response(str(i))
        assert (await wire.frame()).event()["API-Command-Argument"] == str(i)
        event_uuid = await sendevent(wire, "sendevent CUSTOM", f"N: {i}")
        assert (await wire.frame()).event()["Event-UUID"] == event_uuid


async def test_event_sequence_strictly_increases_per_listener(harness: Harness) -> None:
    listener = await subscribed(harness, "event plain ALL")
    sender = await logged_in(harness)
    await sender.send(
        "".join(f"api echo {i}\n\nsendevent CUSTOM\nN: {i}\n\nbgapi echo {i}\n\n" for i in range(60))
    )
    for _ in range(180):
        await sender.frame()
    await sender.cmd("api msleep 1")
    events: list[Event] = []
    while len(events) < 60 * 4 + 1:  # API, CUSTOM, API (the job's) and BACKGROUND_JOB per round, then msleep
        events.append((await listener.frame()).event())
    sequences = [int(e["Event-Sequence"]) for e in events]
    assert all(a < b for a, b in itertools.pairwise(sequences))
    assert sum(1 for e in events if e.name == "BACKGROUND_JOB") == 60


async def test_heartbeat_events() -> None:
    core = build_switch(heartbeat_interval=0.05)
    async with running(core=core) as harness:
        wire = await subscribed(harness, "event plain HEARTBEAT")
        event = (await wire.frame()).event()
    assert event.name == "HEARTBEAT"
    names = header_names(event)
    assert names[names.index("Event-Sequence") + 1 :] == [
        "Event-Info", "Up-Time", "FreeSWITCH-Version", "Uptime-msec", "Session-Count", "Max-Sessions",
        "Session-Per-Sec", "Session-Per-Sec-Last", "Session-Per-Sec-Max", "Session-Per-Sec-FiveMin",
        "Session-Since-Startup", "Session-Peak-Max", "Session-Peak-FiveMin", "Idle-CPU",
    ]  # fmt: skip
    assert event["Event-Info"] == "System Ready"
    assert re.fullmatch(
        r"0 years, 0 days, 0 hours, 0 minutes, \d+ seconds?, \d+ milliseconds?, \d+ microseconds?",
        event["Up-Time"],
    )
    assert event["FreeSWITCH-Version"] == "1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit"
    assert re.fullmatch(r"\d+\.\d{6}", event["Idle-CPU"])


# -- sendevent --------------------------------------------------------------------------------------


async def test_sendevent_headers_in_order(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain ALL")
    event_uuid = await sendevent(
        wire,
        "sendevent CUSTOM",
        "Event-Subclass: my::sub",
        "Foo: bar",
        "Foo: baz",
        "Space-Value: a b",
        "Empty:",
    )
    assert UUID_RE.match(event_uuid)
    msg = await wire.frame()
    lines = plain_lines(msg)
    names = [line.split(": ", 1)[0] for line in lines]
    assert lines[:6] == [
        "Event-Subclass: my%3A%3Asub",
        "Command: sendevent%20CUSTOM",
        "Foo: bar",
        "Foo: baz",
        "Space-Value: a%20b",
        f"Event-UUID: {event_uuid}",
    ]
    assert names[6:] == [h for h in STANDARD_HEADERS if h in names]
    assert names[6] == "Event-Name" and names[-1] == "Event-Sequence"
    assert "Empty" not in names
    event = msg.event()
    assert event["Event-Name"] == "CUSTOM"
    assert event["Event-Calling-File"] == "mod_event_socket.c"
    assert event["Event-Calling-Function"] == "parse_command"
    assert event.body is None


async def test_sendevent_with_body_keeps_the_clients_content_length(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain ALL")
    event_uuid = await sendevent(wire, "sendevent NOTIFY", "X: 1", body="hello\nworld")
    msg = await wire.frame()
    lines = plain_lines(msg)
    assert lines[:4] == [
        "Command: sendevent%20NOTIFY",
        "X: 1",
        "Content-Length: 11",
        f"Event-UUID: {event_uuid}",
    ]
    assert lines[4] == "Event-Name: NOTIFY"
    # the standard headers, then the serializer's own Content-Length, the blank line and the body
    assert lines[-2].startswith("Event-Sequence: ")
    assert lines[-1] == "Content-Length: 11"
    assert msg.body.endswith(b"\nContent-Length: 11\n\nhello\nworld")
    assert msg.body.count(b"Content-Length: 11\n") == 2


@pytest.mark.parametrize(
    ("line", "name", "command"),
    [
        ("sendevent HEARTBEAT", "HEARTBEAT", "sendevent%20HEARTBEAT"),
        ("sendevent heartbeat", "HEARTBEAT", "sendevent%20heartbeat"),
        ("sendevent SWITCH_EVENT_HEARTBEAT", "HEARTBEAT", "sendevent%20SWITCH_EVENT_HEARTBEAT"),
        ("sendevent HEARTBEAT ", "CUSTOM", "sendevent%20HEARTBEAT%20"),
        ("sendevent NO_SUCH_EVENT", "CUSTOM", "sendevent%20NO_SUCH_EVENT"),
        ("sendevent", "CUSTOM", "sendevent"),
        ("sendevent  \tBACKGROUND_JOB", "BACKGROUND_JOB", "sendevent%20%20%09BACKGROUND_JOB"),
    ],
)
async def test_sendevent_name(harness: Harness, line: str, name: str, command: str) -> None:
    wire = await subscribed(harness, "event plain ALL")
    event_uuid = await sendevent(wire, line, "Marker: m")
    msg = await wire.frame()
    event = msg.event()
    assert event.name == name
    assert event["Event-UUID"] == event_uuid
    assert plain_lines(msg)[0] == f"Command: {command}"
    assert event.subclass is None


async def test_sendevent_client_event_name_appears_twice(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain ALL")
    await sendevent(wire, "sendevent CUSTOM", "Event-Name: Fake", "Core-UUID: not-mine")
    lines = plain_lines(await wire.frame())
    assert [line for line in lines if line.startswith("Event-Name:")] == [
        "Event-Name: Fake",
        "Event-Name: CUSTOM",
    ]
    core_lines = [line for line in lines if line.startswith("Core-UUID:")]
    assert core_lines == ["Core-UUID: not-mine", f"Core-UUID: {harness.core.identity.core_uuid}"]


async def test_sendevent_reaches_other_listeners(harness: Harness) -> None:
    listeners = [await subscribed(harness, "event plain CUSTOM") for _ in range(3)]
    sender = await logged_in(harness)
    event_uuid = await sendevent(sender, "sendevent CUSTOM", "From: sender")
    for listener in listeners:
        event = (await listener.frame()).event()
        assert event["Event-UUID"] == event_uuid
        assert event["From"] == "sender"
    # the sender itself did not subscribe
    assert await sync(sender) == []


async def test_sendevent_unknown_uuid_header_is_fired_normally(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain CUSTOM")
    other = str(uuid.uuid4())
    await sendevent(wire, "sendevent CUSTOM", f"Unique-ID: {other}")
    event = (await wire.frame()).event()
    assert event["Unique-ID"] == other
    assert event["Event-Name"] == "CUSTOM"


# -- serialize once ---------------------------------------------------------------------------------


async def test_one_event_is_serialized_once_per_format(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str | None, str]] = []
    original = Event.serialize

    def counting(self: Event, fmt: str = "plain") -> bytes:
        calls.append((self.get("Marker"), fmt))
        return original(self, fmt)  # type: ignore[arg-type]

    plain = [await subscribed(harness, "event plain CUSTOM") for _ in range(16)]
    monkeypatch.setattr(Event, "serialize", counting)
    sender = await logged_in(harness)
    await sendevent(sender, "sendevent CUSTOM", "Marker: once")
    frames = [await listener.frame() for listener in plain]
    assert len({m.raw for m in frames}) == 1
    assert calls.count(("once", "plain")) == 1

    mixed = [await subscribed(harness, f"event {fmt} CUSTOM", fmt) for fmt in ["json", "xml"] * 8]
    await sendevent(sender, "sendevent CUSTOM", "Marker: twice")
    for listener in plain:
        assert (await listener.frame()).event()["Marker"] == "twice"
    for listener in mixed:
        assert (await listener.frame()).event()["Marker"] == "twice"
    assert sorted(fmt for marker, fmt in calls if marker == "twice") == ["json", "plain", "xml"]


# -- value encodings on the wire -------------------------------------------------------------------


async def test_plain_url_encoding_arrays_and_duplicates(harness: Harness) -> None:
    wire = await subscribed(harness, "event plain CUSTOM")
    await sendevent(
        wire, "sendevent CUSTOM", "Arr: ARRAY::one|:two", "Enc: 100%25 %zz %2b", "U: é", "D: 1", "D: 2"
    )
    lines = plain_lines(await wire.frame())
    assert lines[1:6] == [
        "Arr: ARRAY%3A%3Aone%7C%3Atwo",
        "Enc: 100%25%20%25zz%20%252b",
        "U: %C3%A9",
        "D: 1",
        "D: 2",
    ]


async def test_json_arrays_duplicates_and_escapes(harness: Harness) -> None:
    wire = await subscribed(harness, "event json CUSTOM", "json")
    await sendevent(wire, "sendevent CUSTOM", "Arr: ARRAY::one|:two", "U: é\tz", "D: 1", "D: 2")
    body = (await wire.frame()).body
    assert body.startswith(
        '{"Command":"sendevent CUSTOM","Arr":["one","two"],"U":"é\\tz","D":"1","D":"2",'.encode()
    )


async def test_xml_arrays_and_body_escapes(harness: Harness) -> None:
    wire = await subscribed(harness, "event xml CUSTOM", "xml")
    await wire.send('sendevent CUSTOM\nArr: ARRAY::one|:two\nContent-Length: 9\n\na\r<b>é"\n'.encode())
    assert (await wire.answer()).reply_text.startswith("+OK ")
    text = (await wire.frame()).body.decode()
    assert text.startswith(
        "<event>\n  <headers>\n    <Command>sendevent%20CUSTOM</Command>\n"
        "    <Arr>one</Arr>\n    <Arr>two</Arr>\n    <Content-Length>9</Content-Length>\n"
    )
    assert text.endswith(
        '  <Content-Length>9</Content-Length>\n  <body>a&#xD;&lt;b&gt;&#xE9;"\n</body>\n</event>\n'
    )
