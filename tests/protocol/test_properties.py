"""Property tests of the sans-I/O protocol layer."""

from __future__ import annotations

import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventsocket.protocol.events import Event, parse_event
from eventsocket.protocol.framing import FrameParser, ProtocolError, RequestParser
from eventsocket.protocol.message import Request
from eventsocket.protocol.urlcode import url_decode, url_encode

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# %XX with uppercase hex is copied through by url_encode, so text holding one does not round-trip
_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def _no_escape(text: str) -> bool:
    return _ESCAPE.search(text) is None


def chunked(data: bytes, points: list[int]) -> list[bytes]:
    cuts = sorted(p % (len(data) + 1) for p in points)
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


split_points = st.lists(st.integers(min_value=0, max_value=100_000), max_size=10)

# -- (1) requests round-trip through to_bytes() and RequestParser -------------------------------

printable = st.characters(exclude_categories=("Cc", "Cs"))
header_names = st.text(printable, min_size=1, max_size=12).filter(
    lambda n: ":" not in n and n.lower() != "content-length"
)
header_values = st.text(st.one_of(printable, st.just("\t")), min_size=1, max_size=20).filter(
    lambda v: not v.startswith(" ")
)
bodies = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), min_size=1, max_size=40),
)
requests = st.builds(
    Request,
    line=st.text(printable, min_size=1, max_size=20),
    headers=st.lists(st.tuples(header_names, header_values), max_size=6),
    body=bodies,
)


def expected(req: Request) -> tuple[str, list[tuple[str, str]], str | None, str]:
    data = req.to_bytes()
    headers = list(req.headers)
    if req.body:
        body_len = len(req.body.encode())
        headers.append(("Content-Length", str(body_len)))
        head = data[:-body_len]
    else:
        head = data
    return req.line, headers, req.body or None, head.decode()


@SETTINGS
@given(
    st.lists(requests, min_size=1, max_size=3), st.lists(st.sampled_from(["", "\n", "\r\n"])), split_points
)
def test_requests_round_trip_any_split(reqs: list[Request], gaps: list[str], points: list[int]) -> None:
    data = b""
    for i, req in enumerate(reqs):
        data += (gaps[i] if i < len(gaps) else "").encode() + req.to_bytes()
    parser = RequestParser()
    got = []
    for chunk in chunked(data, points):
        got.extend(parser.feed(chunk))
    assert [(r.line, r.headers, r.body, r.raw) for r in got] == [expected(r) for r in reqs]
    assert parser.idle
    assert parser.buffered == 0


# -- (2) arbitrary bytes only ever raise ProtocolError ------------------------------------------

tokens = st.sampled_from(
    [
        b"\n",
        b"\r",
        b"\r\n",
        b"\n\n",
        b":",
        b" ",
        b"\0",
        b"api x",
        b"Content-Length: ",
        b"content-length:",
        b"Content-Length: 3\n\n",
        b"Content-Length: -1\n\n",
        b"Content-Length: 16777217\n",
        b"0",
        b"5",
        b"-",
        b"+",
        b"\xff",
        b"\xc3",
        "é５".encode(),
    ]
)
noise = st.lists(st.one_of(tokens, st.binary(max_size=8)), max_size=40).map(b"".join)


def _requests(data: bytes, points: list[int]) -> tuple[list[tuple[object, ...]], str | None]:
    """What a RequestParser makes of ``data`` fed in chunks: the requests, and the error that
    ended the stream (None when it did not). Checks the parser's bookkeeping on the way."""
    parser = RequestParser()
    got: list[tuple[object, ...]] = []
    fed = 0
    try:
        for chunk in chunked(data, points):
            fed += len(chunk)
            for req in parser.feed(chunk):
                assert isinstance(req, Request)
                got.append((req.line, tuple(req.headers), req.body, req.raw))
            # never more held back than was fed; idle means nothing is held back
            assert 0 <= parser.buffered <= fed
            assert not parser.idle or parser.buffered == 0
    except ProtocolError as exc:
        assert parser.failed is None or parser.failed is exc
        return got, type(exc).__name__
    return got, None if parser.failed is None else type(parser.failed).__name__


@SETTINGS
@given(noise, split_points)
def test_request_parser_only_raises_protocol_error(data: bytes, points: list[int]) -> None:
    # any bytes in any split: requests or a ProtocolError, and the same outcome as one read
    assert _requests(data, points) == _requests(data, [])


ParsedFrames = list[tuple[tuple[tuple[str, str], ...], bytes]]  # (headers, body) per frame


def _frames(data: bytes, points: list[int]) -> tuple[ParsedFrames, str | None]:
    parser = FrameParser(max_header=64, max_body=32)
    got: ParsedFrames = []
    try:
        for chunk in chunked(data, points):
            got.extend((tuple(f.headers), f.body) for f in parser.feed(chunk))
    except ProtocolError as exc:
        assert parser.failed is None or parser.failed is exc
        return got, type(exc).__name__
    return got, None if parser.failed is None else type(parser.failed).__name__


@SETTINGS
@given(noise, split_points)
def test_frame_parser_only_raises_protocol_error(data: bytes, points: list[int]) -> None:
    # any bytes in any split: frames within the limits or a ProtocolError, as in one read
    frames, error = _frames(data, points)
    assert (frames, error) == _frames(data, [])
    for _headers, body in frames:
        assert len(body) <= 32


@SETTINGS
@given(st.binary(max_size=200), split_points)
def test_frame_parser_only_raises_protocol_error_default_limits(data: bytes, points: list[int]) -> None:
    parser = FrameParser()
    try:
        for chunk in chunked(data, points):
            parser.feed(chunk)
    except ProtocolError:
        pass


# -- (3) events round-trip through plain, json and xml ------------------------------------------

any_text = st.characters(exclude_categories=["Cs"])
event_values = st.text(any_text, min_size=1, max_size=20).filter(_no_escape)
array_values = st.lists(event_values, min_size=2, max_size=4)
wide_names = st.text(printable, min_size=1, max_size=12).filter(
    lambda n: ":" not in n and n.lower() not in ("content-length", "_body")
)
_XML_START = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_éЖ名"
xml_names = st.builds(
    str.__add__,
    st.sampled_from(_XML_START),
    st.text(st.sampled_from(_XML_START + "0123456789.-ß"), max_size=11),
).filter(lambda n: n.lower() not in ("content-length", "_body"))


def event_headers(names: st.SearchStrategy[str]) -> st.SearchStrategy[list[tuple[str, str | list[str]]]]:
    return st.lists(
        st.tuples(names, st.one_of(event_values, event_values, array_values)),
        max_size=8,
        unique_by=lambda h: h[0],
    )


plain_bodies = st.one_of(
    st.none(),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\0"), min_size=1, max_size=40),
)
xml_body_chars = st.one_of(
    st.characters(exclude_categories=("Cc", "Cs", "Cn")),
    st.sampled_from(["\t", "\n", "\r"]),
)
xml_bodies = st.one_of(
    st.none(), st.text(xml_body_chars, min_size=1, max_size=40).filter(lambda b: "<!" not in b)
)


def printed(headers: list[tuple[str, str | list[str]]]) -> list[tuple[str, str]]:
    return [(k, v if isinstance(v, str) else "ARRAY::" + "|:".join(v)) for k, v in headers]


@SETTINGS
@given(event_headers(wide_names), plain_bodies)
def test_event_plain_round_trip(headers: list[tuple[str, str | list[str]]], body: str | None) -> None:
    event = Event("CUSTOM", headers, body)
    parsed = parse_event("text/event-plain", event.serialize("plain"))
    assert parsed.headers == printed(headers)
    assert parsed.body == body
    assert parsed.serialize("plain") == event.serialize("plain")


@SETTINGS
@given(event_headers(wide_names), plain_bodies)
def test_event_json_round_trip(headers: list[tuple[str, str | list[str]]], body: str | None) -> None:
    event = Event("CUSTOM", headers, body)
    parsed = parse_event("text/event-json", event.serialize("json"))
    assert parsed.headers == headers
    assert parsed.body == body
    assert parsed.serialize("json") == event.serialize("json")


@SETTINGS
@given(event_headers(xml_names), xml_bodies)
def test_event_xml_round_trip(headers: list[tuple[str, str | list[str]]], body: str | None) -> None:
    event = Event("CUSTOM", headers, body)
    parsed = parse_event("text/event-xml", event.serialize("xml"))
    assert parsed.headers == headers
    assert parsed.body == body
    assert parsed.serialize("xml") == event.serialize("xml")


@SETTINGS
@given(event_headers(xml_names), xml_bodies)
def test_event_frame_round_trip_all_formats(
    headers: list[tuple[str, str | list[str]]], body: str | None
) -> None:
    event = Event("CUSTOM", headers, body)
    data = event.frame("plain") + event.frame("json") + event.frame("xml")
    frames = FrameParser().feed(data)
    assert [f.content_type for f in frames] == ["text/event-plain", "text/event-json", "text/event-xml"]
    plain, json, xml = (parse_event(f.content_type, f.body) for f in frames)
    assert plain.headers == printed(headers)
    assert json.headers == headers
    assert xml.headers == headers
    assert plain.body == json.body == xml.body == body


# -- (4) url encoding ---------------------------------------------------------------------------

url_text = st.text(st.characters(exclude_categories=["Cs"]))
_ENCODED_FORM = re.compile(r"(?:[A-Za-z0-9!$'()*,\-./_~]|%[0-9A-F]{2})*")


@SETTINGS
@given(url_text.filter(_no_escape))
def test_url_decode_inverts_encode(text: str) -> None:
    assert url_decode(url_encode(text)) == text


@SETTINGS
@given(url_text)
def test_url_encode_output_alphabet(text: str) -> None:
    encoded = url_encode(text)
    assert _ENCODED_FORM.fullmatch(encoded)
    # encoding is idempotent: an encoded value is copied through as it is
    assert url_encode(encoded) == encoded
