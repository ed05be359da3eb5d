"""The client's lazy Event view: it must read exactly what the protocol layer wrote."""

from __future__ import annotations

import string
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from eventsocket.client import Event
from eventsocket.client.connection import filters_accept
from eventsocket.protocol.events import Event as WireEvent


class _Reference:
    """A straightforward decoder of a plain payload, independent of the lazy one: line by
    line up to the blank line, a name and a value split at the first ": " (else the first
    ":"; lines with neither are skipped), every value unquoted, the serializer's
    Content-Length (the last line when a body follows) dropped."""

    def __init__(self, payload: bytes) -> None:
        text = payload.decode("utf-8", "surrogateescape")
        head, _sep, rest = text.partition("\n\n")
        pairs = [line.partition(": " if ": " in line else ":") for line in head.split("\n") if ":" in line]
        self.pairs = [(k, unquote(v, errors="surrogateescape")) for k, _c, v in pairs]
        self.body: str | None = None
        if rest and self.pairs and self.pairs[-1][0] == "Content-Length":
            self.pairs.pop()
            self.body = rest

    def items(self) -> list[tuple[str, str]]:
        return self.pairs

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.pairs if k.lower() == name.lower()), None)


def parse_plain(payload: bytes) -> _Reference:
    return _Reference(payload)


def _wire(headers: list[tuple[str, str]], body: str | None = None, subclass: str | None = None,
          name: str = "CUSTOM") -> WireEvent:
    ev = WireEvent(name, [("Event-Name", name), *headers], body, subclass)
    return ev


def test_plain_lookup_decodes_lazily_and_caches() -> None:
    wire = _wire([("Unique-ID", "abc"), ("Caller-Caller-ID-Name", "John Doe & Co: 100%"),
                  ("variable_x", "a=b;c")])
    ev = Event.from_plain(wire.serialize("plain"))
    assert ev._lower is None  # nothing indexed before the first read
    assert ev.name == "CUSTOM"
    assert ev._lower is None and ev._hdr_end < 0  # the name is found without indexing
    assert ev["Caller-Caller-ID-Name"] == "John Doe & Co: 100%"
    assert ev.raw("Caller-Caller-ID-Name") == "John%20Doe%20%26%20Co%3A%20100%25"
    assert ev.get("caller-caller-id-name") == "John Doe & Co: 100%"  # any case
    assert ev.uuid == "abc"
    assert ev.get("Missing") is None
    assert ev.get("Missing", "dflt") == "dflt"
    assert "variable_x" in ev and "VARIABLE_X" in ev and "nope" not in ev
    assert ev.body is None


def test_plain_body_and_inner_content_length() -> None:
    wire = _wire([("Foo", "1")], body="line one\nline two: x\n\nend")
    ev = Event.from_plain(wire.serialize("plain"))
    assert ev.body == "line one\nline two: x\n\nend"
    assert "Content-Length" not in ev  # the serializer's own length is not a header
    assert ev["Foo"] == "1"
    assert dict(ev) == {"Event-Name": "CUSTOM", "Foo": "1"}


def test_subclass_first_and_duplicates() -> None:
    wire = _wire([("Dup", "one"), ("dup", "two"), ("Arr", "ARRAY::a|:b c")], subclass="my::sub")
    payload = wire.serialize("plain")
    assert payload.startswith(b"Event-Subclass: my%3A%3Asub\n")
    ev = Event.from_plain(payload)
    assert ev.name == "CUSTOM"
    assert ev.subclass == "my::sub"
    assert ev["DUP"] == "one"
    assert ev.get_array("Arr") == ["a", "b c"]
    assert [k for k, _ in ev.all_items()].count("Dup") + [k for k, _ in ev.all_items()].count("dup") == 2
    assert ev["dup"] == "two"  # an exact name wins over an earlier one in another case
    assert ev.get_all("DUP") == ["one", "two"]
    assert len(ev) == len(list(ev)) == len(dict(ev))


def test_json_and_xml_formats() -> None:
    wire = _wire([("Unique-ID", "u1"), ("Text", "a b%zz")], body="hello")
    for fmt in ("json", "xml"):
        ev = Event.from_payload(f"text/event-{fmt}", wire.serialize(fmt))
        assert ev.format == fmt
        assert ev.name == "CUSTOM"
        assert ev["Text"] == "a b%zz"
        assert ev.uuid == "u1"
        assert ev.body == "hello"
        assert "Content-Length" not in ev


def test_from_pairs_like_the_connect_reply() -> None:
    ev = Event.from_pairs([("Event-Name", "CHANNEL_DATA"), ("Reply-Text", "%2BOK%0A"),
                           ("Caller-Caller-ID-Name", "Outbound%20Call")])
    assert ev.name == "CHANNEL_DATA"
    assert ev["Reply-Text"] == "+OK\n"
    assert ev["caller-caller-id-name"] == "Outbound Call"


def test_non_ascii_header_names_fall_back_to_full_index() -> None:
    payload = "Event-Name: CUSTOM\nİx: 1\nFoo: %C3%A9\n\n".encode()
    ev = Event.from_plain(payload)
    assert ev.get("FOO") == "é"
    assert ev.get("İx") == "1"


_names = st.text(alphabet=string.ascii_letters + "-_", min_size=1, max_size=12)
_values = st.text(min_size=1, max_size=30).filter(lambda v: v.strip() != "" and "\x00" not in v)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_names, _values), max_size=12), st.one_of(st.none(), st.text(max_size=40)))
def test_matches_the_protocol_parser(headers: list[tuple[str, str]], body: str | None) -> None:
    body = body if body and "\x00" not in body else None
    wire = _wire(headers, body)
    payload = wire.serialize("plain")
    reference = parse_plain(payload)
    ev = Event.from_plain(payload)
    items = list(reference.items())
    for key, _ in headers:
        exact = [v for k, v in items if k == key]
        assert ev.get(key) == (exact[0] if exact else reference.get(key))
        assert ev.get(key.upper()) == next((v for k, v in items if k == key.upper()), reference.get(key))
    assert ev.all_items() == list(reference.items())
    assert ev.body == reference.body


def test_client_side_filters_follow_the_server_rules() -> None:
    ev = Event.from_pairs([("Event-Name", "BACKGROUND_JOB"), ("Job-Command", "echo")], encoded=False)
    assert filters_accept([], ev)
    assert filters_accept([("Event-Name", "background_job")], ev)
    assert not filters_accept([("Unique-ID", "x")], ev)  # header absent: never matches
    assert not filters_accept([("Event-Name", "-BACKGROUND_JOB")], ev)  # only negative: nothing
    assert filters_accept([("Job-Command", "/^ec/")], ev)
    assert not filters_accept([("Job-Command", "/^EC/")], ev)
    assert filters_accept([("Job-Command", "/^EC/i")], ev)
    assert not filters_accept([("Event-Name", "BACKGROUND_JOB"), ("Job-Command", "-echo")], ev)


def test_header_like_lines_in_the_body_are_not_headers() -> None:
    body = "Job-UUID: fake\nUnique-ID: from-body\nContent-Length: 3\n\nxyz"
    wire = _wire([("Job-UUID", "real"), ("Reply", "ok")], body=body)
    ev = Event.from_plain(wire.serialize("plain"))
    assert ev.get("Unique-ID") is None and ev.get("unique-id") is None
    assert ev["Job-UUID"] == "real"
    assert ev.body == body
    assert "Content-Length" not in ev
    assert ev.to_dict() == {"Event-Name": "CUSTOM", "Job-UUID": "real", "Reply": "ok"}
    # a sendevent that carried a body: the client's own Content-Length stays a header
    wire = _wire([("Content-Length", "5"), ("X", "1")], body="hello")
    ev = Event.from_plain(wire.serialize("plain"))
    assert ev["Content-Length"] == "5" and ev.body == "hello" and ev["X"] == "1"


_lines = st.lists(st.tuples(_names, _values), max_size=4).map(
    lambda pairs: "".join(f"\n{k}: {v}" for k, v in pairs))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_names, _values), max_size=8), _lines, st.sampled_from(["", "tail", "\n\n"]))
def test_bodies_never_leak_into_headers(headers: list[tuple[str, str]], fake: str, tail: str) -> None:
    body = (fake + tail) if (fake + tail).strip() else None
    if body is not None and "\x00" in body:
        return
    wire = _wire(headers, body)
    payload = wire.serialize("plain")
    reference = parse_plain(payload)
    ev = Event.from_plain(payload)
    names = {k for k, _ in headers} | {line.split(": ", 1)[0] for line in fake.split("\n") if ": " in line}
    items = list(reference.items())
    for key in names:
        exact = [v for k, v in items if k == key]
        assert ev.get(key) == (exact[0] if exact else reference.get(key)), key
    assert ev.body == reference.body
    assert ev.all_items() == items


def test_percent_decode_edge_cases() -> None:
    from urllib.parse import unquote

    from eventsocket.client.events import percent_decode

    for raw in ["plain", "a%20b", "%C3%A9t%C3%A9", "%c3%a9", "100%", "%zz%20", "a=b%3Dc", "x%", "%0A%0d",
                "=41%41", "%%41", "%\n%41", "50%\n%0A", "%\r%41\n", "a%", "%\r\n%0a"]:
        assert percent_decode(raw) == unquote(raw, errors="surrogateescape"), raw
    assert percent_decode("%FF%FE") == unquote("%FF%FE", errors="surrogateescape")


def _first(pairs: list[tuple[str, str]]) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in pairs:
        result.setdefault(key, value)
    return result


_any_values = st.text(max_size=30).filter(lambda v: "\x00" not in v)
_odd_lines = st.lists(st.sampled_from(["a:b c", "a:  b", "x", ": v", "n: ", "k:v", "q: %zz", "r: 50%",
                                        "s: a=b", "t: %0A", 'u: "q"', "w: a\\b", "é: %C3%A9", "dup: 1",
                                        "dup: 2"]),
                      max_size=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_names, _any_values), max_size=12), st.one_of(st.none(), st.text(max_size=20)),
       _odd_lines)
def test_to_dict_matches_a_line_by_line_decoding(headers: list[tuple[str, str]], body: str | None,
                                                 odd: list[str]) -> None:
    # every header at once takes a fast path; it must give what decoding line by line gives,
    # for FreeSWITCH's serialization and for header blocks it would never write
    body = body if body and "\x00" not in body else None
    payload = _wire(headers, body).serialize("plain")
    if odd:
        payload = "\n".join(odd).encode() + b"\n" + payload
    reference = _Reference(payload)
    ev = Event.from_plain(payload)
    assert ev.to_dict() == _first(reference.items())
    assert list(ev.to_dict()) == list(_first(reference.items()))
    assert ev.to_dict() == dict(Event.from_plain(payload))
    assert ev.body == reference.body


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(_names, _any_values), max_size=12), st.one_of(st.none(), st.text(max_size=20)))
def test_json_to_dict_matches_the_plain_one(headers: list[tuple[str, str]], body: str | None) -> None:
    body = body if body and "\x00" not in body else None
    wire = _wire(headers, body)
    json_event = Event.from_json(wire.serialize("json"))
    plain_event = Event.from_plain(wire.serialize("plain"))
    expected = _first(plain_event.all_items())
    # JSON collapses a repeated name to its last value (FreeSWITCH's JSON holds one member per name)
    assert json_event.to_dict().keys() == expected.keys()
    assert all(json_event[k] == v for k, v in json_event.to_dict().items())
    assert json_event.body == plain_event.body == body


def test_json_to_dict_prints_arrays() -> None:
    ev = Event.from_json(b'{"Event-Name":"X","Arr":["a","b"],"N":5,"Content-Length":"2","_body":"hi"}')
    assert ev.to_dict() == {"Event-Name": "X", "Arr": "ARRAY::a|:b", "N": "5"}
    assert ev.body == "hi"
