"""Events: header operations and the plain/json/xml formats (PROTOCOL.md §4.1–4.5)."""

from __future__ import annotations

import orjson
import pytest

from eventsocket.protocol.events import (
    Event,
    EventParseError,
    parse_event,
    parse_json,
    parse_plain,
    parse_xml,
    to_json,
    to_plain,
    to_xml,
    xml_escape_body,
)
from eventsocket.protocol.framing import FrameParser

# -- header operations ---------------------------------------------------------------------------


def test_add_appends_in_order() -> None:
    event = Event("CUSTOM")
    event.add("A", "1")
    event.add("B", "2")
    event.add("a", "3")
    assert event.headers == [("A", "1"), ("B", "2"), ("a", "3")]


def test_add_empty_value_deletes() -> None:
    event = Event("CUSTOM", [("Foo", "1"), ("Bar", "x"), ("FOO", "2")])
    event.add("foo", "")
    assert event.headers == [("Bar", "x")]
    event.add("Bar", None)
    assert event.headers == []
    event.add("Missing", "")
    assert event.headers == []


def test_add_array() -> None:
    event = Event()
    event.add("Arr", "ARRAY::one|:two|:three")
    assert event.headers == [("Arr", ["one", "two", "three"])]
    assert event.get("arr") == "ARRAY::one|:two|:three"
    event.add("Single", "ARRAY::only")
    assert event.headers[-1] == ("Single", ["only"])
    event.add("List", ["x", "y"])
    assert event.headers[-1] == ("List", ["x", "y"])
    event.add("NotArray", "array::a|:b")
    assert event.headers[-1:] == [("NotArray", "array::a|:b")]  # a slice: mypy narrowed [-1] above


def test_get_case_insensitive_first_match() -> None:
    event = Event("CUSTOM", [("Foo", "1"), ("foo", "2"), ("FOO", "3")])
    assert event.get("Foo") == "1"
    assert event.get("fOO") == "1"
    assert event.get("Bar") is None
    assert event.get("Bar", "dflt") == "dflt"
    assert event["FOO"] == "1"
    assert "foo" in event
    assert "bar" not in event
    assert 3 not in event
    with pytest.raises(KeyError):
        event["bar"]


def test_set_replaces_every_header_at_the_end() -> None:
    event = Event("CUSTOM", [("A", "1"), ("B", "2"), ("a", "3")])
    event.set("A", "9")
    assert event.headers == [("B", "2"), ("A", "9")]
    event.set("B", "")
    assert event.headers == [("A", "9")]
    event.set("C", "ARRAY::p|:q")
    assert event.headers == [("A", "9"), ("C", ["p", "q"])]


def test_delete() -> None:
    event = Event("CUSTOM", [("A", "1"), ("a", "2"), ("B", "1"), ("A", "1")])
    event.delete("A", "1")
    assert event.headers == [("a", "2"), ("B", "1")]
    event.delete("A", "3")
    assert event.headers == [("a", "2"), ("B", "1")]
    event.delete("A")
    assert event.headers == [("B", "1")]
    event.delete("nothing")
    assert event.headers == [("B", "1")]


def test_delete_keeps_the_header_list_of_whoever_holds_it() -> None:
    event = Event("CUSTOM", [("A", "1"), ("B", "2")])
    append = event.headers.append  # a builder adding headers as it goes
    event.delete("A")
    append(("C", "3"))
    event.set("B", "4")  # set is delete, then add
    append(("D", "5"))
    assert event.headers == [("C", "3"), ("B", "4"), ("D", "5")]


def test_items_prints_arrays() -> None:
    event = Event("CUSTOM", [("A", "1"), ("Arr", ["x", "y"])])
    assert list(event.items()) == [("A", "1"), ("Arr", "ARRAY::x|:y")]


def test_copy_is_independent() -> None:
    event = Event("CUSTOM", [("A", "1")], "body", "my::sub")
    clone = event.copy()
    clone.add("B", "2")
    assert event.headers == [("A", "1")]
    assert (clone.name, clone.subclass, clone.body) == ("CUSTOM", "my::sub", "body")
    assert clone.headers == [("A", "1"), ("B", "2")]


def test_repr() -> None:
    assert repr(Event("CUSTOM", [("A", "1")], subclass="s::t")) == "<Event CUSTOM s::t 1 headers>"
    assert repr(Event("HEARTBEAT")) == "<Event HEARTBEAT 0 headers>"


# -- text/event-plain (§4.2) --------------------------------------------------------------------


def test_plain_exact() -> None:
    event = Event(
        "HEARTBEAT",
        [
            ("Event-Name", "HEARTBEAT"),
            ("Event-Date-Local", "2026-11-28 17:02:05"),
            ("Event-Date-GMT", "Sat, 28 Nov 2026 17:02:05 GMT"),
            ("FreeSWITCH-IPv6", "fd00::2"),
            ("Nom", "café"),
        ],
    )
    assert event.serialize("plain") == (
        b"Event-Name: HEARTBEAT\n"
        b"Event-Date-Local: 2026-11-28%2017%3A02%3A05\n"
        b"Event-Date-GMT: Sat,%2028%20Nov%202026%2017%3A02%3A05%20GMT\n"
        b"FreeSWITCH-IPv6: fd00%3A%3A2\n"
        b"Nom: caf%C3%A9\n"
        b"\n"
    )
    assert event.serialize() == event.serialize("plain")


def test_plain_subclass_first() -> None:
    event = Event(
        "CUSTOM",
        [("Event-Name", "CUSTOM"), ("Core-UUID", "abc"), ("Event-Subclass", "my::sub"), ("X", "1")],
        subclass="my::sub",
    )
    assert event.serialize("plain") == (
        b"Event-Subclass: my%3A%3Asub\nEvent-Name: CUSTOM\nCore-UUID: abc\nX: 1\n\n"
    )


def test_plain_subclass_without_header() -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM")], subclass="a::b")
    assert event.serialize("plain") == b"Event-Subclass: a%3A%3Ab\nEvent-Name: CUSTOM\n\n"


def test_plain_body() -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM")], body="a b%\né\n")
    assert event.serialize("plain") == (b"Event-Name: CUSTOM\nContent-Length: 8\n\n" + "a b%\né\n".encode())


def test_plain_empty_body_is_no_body() -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM")], body="")
    assert event.serialize("plain") == b"Event-Name: CUSTOM\n\n"


def test_plain_array() -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM")])
    event.add("Arr", "ARRAY::one|:two")
    assert event.serialize("plain") == b"Event-Name: CUSTOM\nArr: ARRAY%3A%3Aone%7C%3Atwo\n\n"


def test_plain_duplicates_and_undef() -> None:
    event = Event("CUSTOM", [("A", "1"), ("A", "2"), ("Empty", "")])
    assert event.serialize("plain") == b"A: 1\nA: 2\nEmpty: _undef_\n\n"


def test_to_plain_function() -> None:
    assert to_plain([("A", "x y"), ("B", ["1", "2"])], "zz") == (
        b"A: x%20y\nB: ARRAY%3A%3A1%7C%3A2\nContent-Length: 2\n\nzz"
    )
    assert to_plain([], None) == b"\n"


# -- text/event-json (§4.3) ---------------------------------------------------------------------


def test_json_exact() -> None:
    event = Event(
        "CUSTOM", [("Event-Name", "CUSTOM"), ("Date", "2026-11-28 17:02:05"), ("Arr", ["one", "two"])]
    )
    assert event.serialize("json") == (
        b'{"Event-Name":"CUSTOM","Date":"2026-11-28 17:02:05","Arr":["one","two"]}'
    )


def test_json_subclass_first_and_body() -> None:
    event = Event(
        "CUSTOM",
        [("Event-Name", "CUSTOM"), ("Event-Subclass", "my::sub")],
        body="héllo\n",
        subclass="my::sub",
    )
    assert event.serialize("json") == (
        '{"Event-Subclass":"my::sub","Event-Name":"CUSTOM","Content-Length":"7","_body":"héllo\\n"}'.encode()
    )


def test_json_duplicate_keys_kept_no_trailing_newline() -> None:
    payload = Event("CUSTOM", [("A", "1"), ("A", "2"), ("a", "3")]).serialize("json")
    assert payload == b'{"A":"1","A":"2","a":"3"}'
    assert not payload.endswith(b"\n")


def test_json_escaping() -> None:
    payload = Event("CUSTOM", [("V", '\x01\x1f"\\/\n\r\t\b\x0cé€\x7f')]).serialize("json")
    assert payload == '{"V":"\\u0001\\u001f\\"\\\\/\\n\\r\\t\\b\\f\u00e9\u20ac\x7f"}'.encode()
    assert to_json([("V", "a/b")], None) == b'{"V":"a/b"}'
    assert b"\\u00" + b"1F" not in payload


def test_json_no_body_member_without_body() -> None:
    assert Event("CUSTOM", [("A", "1")], body="").serialize("json") == b'{"A":"1"}'
    assert to_json([], None) == b"{}"


def test_json_lone_surrogate_replaced() -> None:
    payload = to_json([("A", "x\udcffy")], None)
    assert payload == '{"A":"x\ufffdy"}'.encode()


# -- text/event-xml (§4.4) ----------------------------------------------------------------------


def test_xml_protocol_example() -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM"), ("Arr", ["one", "two"])], body="bo<dy>&\nl")
    assert event.serialize("xml") == (
        b"<event>\n"
        b"  <headers>\n"
        b"    <Event-Name>CUSTOM</Event-Name>\n"
        b"    <Arr>one</Arr>\n"
        b"    <Arr>two</Arr>\n"
        b"  </headers>\n"
        b"  <Content-Length>9</Content-Length>\n"
        b"  <body>bo&lt;dy&gt;&amp;\n"
        b"l</body>\n"
        b"</event>\n"
    )


def test_xml_values_url_encoded_subclass_first_no_body() -> None:
    event = Event(
        "CUSTOM",
        [("Event-Name", "CUSTOM"), ("Date", "2026-11-28 17:02:05"), ("Event-Subclass", "my::sub")],
        subclass="my::sub",
    )
    assert event.serialize("xml") == (
        b"<event>\n"
        b"  <headers>\n"
        b"    <Event-Subclass>my%3A%3Asub</Event-Subclass>\n"
        b"    <Event-Name>CUSTOM</Event-Name>\n"
        b"    <Date>2026-11-28%2017%3A02%3A05</Date>\n"
        b"  </headers>\n"
        b"</event>\n"
    )


def test_xml_empty() -> None:
    assert to_xml([], None) == b"<event>\n  <headers>\n  </headers>\n</event>\n"
    assert to_xml([], "") == b"<event>\n  <headers>\n  </headers>\n</event>\n"


def test_xml_body_content_length_is_bytes() -> None:
    payload = to_xml([], "é")
    assert payload == b"<event>\n  <headers>\n  </headers>\n  <Content-Length>2</Content-Length>\n" + (
        b"  <body>&#xE9;</body>\n</event>\n"
    )


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a&b", "a&amp;b"),
        ("<x>", "&lt;x&gt;"),
        ("a\rb", "a&#xD;b"),
        ("\r\n", "&#xD;\n"),
        ("é", "&#xE9;"),
        ("€", "&#x20AC;"),
        ("😀", "&#x1F600;"),
        ("\"'\t\n", "\"'\t\n"),
        ("x<!y&<z>", "x<!y&<z>"),
        ("a&b<!--c&d-->", "a&amp;b<!--c&d-->"),
        ("<", "&lt;"),
        ("<!", "<!"),
        ("a<b<!c", "a&lt;b<!c"),
        ("", ""),
    ],
)
def test_xml_escape_body(text: str, escaped: str) -> None:
    assert xml_escape_body(text) == escaped


# -- envelope and cache (§4.1) ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["plain", "json", "xml"])
def test_frame_envelope(fmt: str) -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM"), ("A", "é")], body="hi")
    payload = event.serialize(fmt)  # type: ignore[arg-type]
    frame = event.frame(fmt)  # type: ignore[arg-type]
    assert frame == (f"Content-Length: {len(payload)}\nContent-Type: text/event-{fmt}\n\n".encode() + payload)


def test_frame_plain_exact() -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM")])
    assert event.frame() == b"Content-Length: 20\nContent-Type: text/event-plain\n\nEvent-Name: CUSTOM\n\n"


def test_frame_cached_and_invalidated() -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM")])
    first = event.frame("plain")
    assert event.frame("plain") is first
    json_first = event.frame("json")
    assert event.frame("json") is json_first
    assert json_first != first

    event.add("A", "1")
    second = event.frame("plain")
    assert second is not first
    assert second == b"Content-Length: 25\nContent-Type: text/event-plain\n\nEvent-Name: CUSTOM\nA: 1\n\n"
    assert (
        event.frame("json")
        == b'Content-Length: 31\nContent-Type: text/event-json\n\n{"Event-Name":"CUSTOM","A":"1"}'
    )

    event.set("A", "2")
    third = event.frame("plain")
    assert third.endswith(b"A: 2\n\n")

    event.delete("A")
    assert event.frame("plain") == first

    before = event.frame("plain")
    event.body = "xyz"
    assert event.frame("plain") is before  # changed in place: stale until invalidate()
    event.invalidate()
    assert event.frame("plain").endswith(b"Content-Length: 3\n\nxyz")


def test_frame_parses_with_frame_parser() -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM"), ("A", "x y")], body="b\n\nc")
    data = event.frame("plain") + event.frame("json") + event.frame("xml")
    frames = FrameParser().feed(data)
    assert [f.headers[0][0] for f in frames] == ["Content-Length"] * 3
    assert [f.content_type for f in frames] == ["text/event-plain", "text/event-json", "text/event-xml"]
    for frame in frames:
        parsed = parse_event(frame.content_type, frame.body)
        assert parsed.headers == [("Event-Name", "CUSTOM"), ("A", "x y")]
        assert parsed.body == "b\n\nc"


# -- parsing ------------------------------------------------------------------------------------


def test_parse_plain() -> None:
    payload = (
        b"Event-Subclass: my%3A%3Asub\nEvent-Name: CUSTOM\nDate: 2026-11-28%2017%3A02%3A05\n"
        b"Nom: caf%C3%A9\nArr: ARRAY%3A%3Aone%7C%3Atwo\nContent-Length: 5\n\nhe\n\nl"
    )
    event = parse_plain(payload)
    assert event.headers == [
        ("Event-Subclass", "my::sub"),
        ("Event-Name", "CUSTOM"),
        ("Date", "2026-11-28 17:02:05"),
        ("Nom", "café"),
        ("Arr", "ARRAY::one|:two"),
    ]
    assert event.body == "he\n\nl"
    assert event.name == "CUSTOM"
    assert event.subclass == "my::sub"


def test_parse_plain_no_body() -> None:
    event = parse_plain(b"Event-Name: HEARTBEAT\nContent-Length: 5\n\n")
    assert event.headers == [("Event-Name", "HEARTBEAT"), ("Content-Length", "5")]
    assert event.body is None
    assert event.name == "HEARTBEAT"
    assert event.subclass is None


def test_parse_plain_keeps_forwarded_content_length() -> None:
    # a sendevent with a body carries its own Content-Length header as well (§9)
    event = Event("CUSTOM", [("Event-Name", "CUSTOM"), ("Content-Length", "3")], body="abc")
    assert event.serialize("plain") == b"Event-Name: CUSTOM\nContent-Length: 3\nContent-Length: 3\n\nabc"
    parsed = parse_plain(event.serialize("plain"))
    assert parsed.headers == [("Event-Name", "CUSTOM"), ("Content-Length", "3")]
    assert parsed.body == "abc"


def test_parse_json() -> None:
    event = parse_json(
        b'{"Event-Subclass":"a::b","Event-Name":"CUSTOM","Arr":["x","y"],"N":5,'
        b'"Content-Length":"2","_body":"hi"}'
    )
    assert event.headers == [
        ("Event-Subclass", "a::b"),
        ("Event-Name", "CUSTOM"),
        ("Arr", ["x", "y"]),
        ("N", "5"),
    ]
    assert event.body == "hi"
    assert (event.name, event.subclass) == ("CUSTOM", "a::b")


def test_parse_json_content_length_without_body_is_a_header() -> None:
    event = parse_json(b'{"Event-Name":"X","Content-Length":"3"}')
    assert event.headers == [("Event-Name", "X"), ("Content-Length", "3")]
    assert event.body is None


def test_parse_json_duplicate_keys_collapse() -> None:
    event = parse_json(b'{"A":"1","A":"2"}')
    assert event.headers == [("A", "2")]
    assert event.name == "CUSTOM"


@pytest.mark.parametrize("payload", [b"{", b"[1,2]", b'"x"', b""])
def test_parse_json_errors(payload: bytes) -> None:
    with pytest.raises(EventParseError):
        parse_json(payload)


def test_parse_xml() -> None:
    payload = (
        b"<event>\n  <headers>\n    <Event-Name>CUSTOM</Event-Name>\n    <Arr>one</Arr>\n"
        b"    <D>a%20b</D>\n    <Arr>two</Arr>\n    <Arr>three</Arr>\n    <E></E>\n  </headers>\n"
        b"  <Content-Length>12</Content-Length>\n  <body>&lt;&#xD;&#xE9;\"'&amp;</body>\n</event>\n"
    )
    event = parse_xml(payload)
    assert event.headers == [
        ("Event-Name", "CUSTOM"),
        ("Arr", ["one", "two", "three"]),
        ("D", "a b"),
        ("E", ""),
    ]
    assert event.body == "<\ré\"'&"
    assert event.name == "CUSTOM"


def test_parse_xml_error() -> None:
    with pytest.raises(EventParseError):
        parse_xml(b"<event><headers>")
    # the <! quirk makes some bodies unparseable as XML, as in FreeSWITCH
    with pytest.raises(EventParseError):
        parse_xml(Event("CUSTOM", [("A", "1")], body="a<!b").serialize("xml"))


def test_parse_event_dispatch() -> None:
    event = Event("CUSTOM", [("Event-Name", "CUSTOM"), ("A", "1")])
    for fmt in ("plain", "json", "xml"):
        parsed = parse_event(f"text/event-{fmt}", event.serialize(fmt))
        assert parsed.headers == [("Event-Name", "CUSTOM"), ("A", "1")]
        assert parsed.body is None
    with pytest.raises(EventParseError, match="not an event content type"):
        parse_event("api/response", b"")


def test_round_trip_all_formats() -> None:
    headers = [
        ("Event-Subclass", "my::sub"),
        ("Event-Name", "CUSTOM"),
        ("Unicode", "é € 😀"),
        ("Punct", "a&b<c>d\"e'f;g=h?i@j[k]l^m`n{o|p}q~r"),
        ("Ctl", "t\tn\nr\r"),
    ]
    event = Event("CUSTOM", headers, body="line1\nline2 é\n", subclass="my::sub")
    for fmt in ("plain", "json", "xml"):
        parsed = parse_event(f"text/event-{fmt}", event.serialize(fmt))
        assert parsed.headers == headers, fmt
        assert parsed.body == "line1\nline2 é\n", fmt
        assert (parsed.name, parsed.subclass) == ("CUSTOM", "my::sub"), fmt
        assert parsed.serialize(fmt) == event.serialize(fmt), fmt


def test_json_payload_is_valid_json() -> None:
    event = Event("CUSTOM", [("A", "1"), ("B", ["x", "y"])], body="z")
    assert orjson.loads(event.serialize("json")) == {
        "A": "1",
        "B": ["x", "y"],
        "Content-Length": "1",
        "_body": "z",
    }
