"""RequestParser, FrameParser and the frame builders (PROTOCOL.md §0, §1, §2.4, §3.12)."""

from __future__ import annotations

import itertools
import re

import pytest

from eventsocket.protocol import framing
from eventsocket.protocol.framing import (
    AUTH_REQUEST,
    GOODBYE,
    LOST_EVENTS,
    LOST_LOGS,
    MAX_CONTENT_LENGTH,
    MAX_HEADER_BLOCK,
    RUDE_REJECTION,
    SHUTDOWN,
    ContentLengthError,
    FrameParser,
    ProtocolError,
    RequestParser,
    api_response_frame,
    atoi,
    command_reply_frame,
    disconnect_frame,
    linger_frame,
    log_frame,
)
from eventsocket.protocol.message import Frame, Request

# -- helpers --------------------------------------------------------------------------------------


def feed_all(data: bytes) -> list[Request]:
    return RequestParser().feed(data)


def feed_chunks(chunks: list[bytes]) -> list[Request]:
    parser = RequestParser()
    out: list[Request] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    return out


def splits(data: bytes, parts: int) -> list[list[bytes]]:
    """Every way of cutting ``data`` into ``parts`` chunks (empty chunks included)."""
    result = []
    for cuts in itertools.combinations_with_replacement(range(len(data) + 1), parts - 1):
        bounds = [0, *cuts, len(data)]
        result.append([data[a:b] for a, b in itertools.pairwise(bounds)])
    return result


def summary(requests: list[Request]) -> list[tuple[str, list[tuple[str, str]], str | None, str]]:
    return [(r.line, r.headers, r.body, r.raw) for r in requests]


# -- RequestParser: packets and end markers (§1.1) --------------------------------------------


def test_lf_packet() -> None:
    [req] = feed_all(b"api status\n\n")
    assert req.line == "api status"
    assert req.headers == []
    assert req.body is None
    assert req.raw == "api status\n\n"


def test_crlf_packet() -> None:
    [req] = feed_all(b"auth ClueCon\r\n\r\n")
    assert req.line == "auth ClueCon"
    assert req.headers == []
    assert req.body is None
    assert req.raw == "auth ClueCon\r\n\r\n"


def test_crlf_packet_with_headers() -> None:
    [req] = feed_all(b"sendmsg\r\ncall-command: execute\r\nexecute-app-name: answer\r\n\r\n")
    assert req.line == "sendmsg"
    assert req.headers == [("call-command", "execute"), ("execute-app-name", "answer")]


@pytest.mark.parametrize(
    "terminator", [b"\n\n", b"\r\n\r\n", b"\n\r\n", b"\n\r\r\n", b"\r\n\n", b"\n\r\r\r\n"]
)
def test_end_markers(terminator: bytes) -> None:
    data = b"api one\nA: b" + terminator
    parser = RequestParser()
    [req] = parser.feed(data)
    assert req.line == "api one"
    assert req.headers == [("A", "b")]
    assert req.raw == data.decode()
    assert parser.idle


def test_cr_between_lfs_only_does_not_reset() -> None:
    # any byte other than CR/LF resets the newline counter
    parser = RequestParser()
    assert parser.feed(b"api x\n \nA: b\n") == []
    assert not parser.idle
    [req] = parser.feed(b"\n")
    assert req.line == "api x"
    # " " is a line with no colon: ignored
    assert req.headers == [("A", "b")]


def test_leading_blank_lines_skipped() -> None:
    parser = RequestParser()
    assert parser.feed(b"\r\n\n\r\r\n") == []
    assert parser.idle
    assert parser.buffered == 0
    [req] = parser.feed(b"\r\napi x\n\n")
    assert req.line == "api x"
    assert req.raw == "api x\n\n"


def test_pipelined_packets_in_one_chunk() -> None:
    data = (
        b"auth ClueCon\n\n"
        b"\r\n"
        b"api status\r\n\r\n"
        b"event plain ALL\nX: 1\n\n"
        b"sendevent CUSTOM\nContent-Length: 3\n\nabc"
        b"exit\n\n"
    )
    reqs = feed_all(data)
    assert [r.line for r in reqs] == [
        "auth ClueCon",
        "api status",
        "event plain ALL",
        "sendevent CUSTOM",
        "exit",
    ]
    assert reqs[2].headers == [("X", "1")]
    assert reqs[3].body == "abc"
    assert reqs[3].headers == [("Content-Length", "3")]
    assert [r.body for r in reqs] == [None, None, None, "abc", None]


SPLIT_STREAM = (
    b"\r\n"
    b"auth pw\r\n\r\n"
    b"api echo hi\nFoo: bar\r\n\r\n"
    b"sendevent CUSTOM\nContent-Length: 5\nA:  b\n\nbo\ndy"
    b"\n"
    b"exit\n\r\r\n"
    b"x\nSp : v\n\n"
)

SPLIT_EXPECTED = [
    ("auth pw", [], None, "auth pw\r\n\r\n"),
    ("api echo hi", [("Foo", "bar")], None, "api echo hi\nFoo: bar\r\n\r\n"),
    (
        "sendevent CUSTOM",
        [("Content-Length", "5"), ("A", "b")],
        "bo\ndy",
        "sendevent CUSTOM\nContent-Length: 5\nA:  b\n\n",
    ),
    ("exit", [], None, "exit\n\r\r\n"),
    ("x", [("Sp ", "v")], None, "x\nSp : v\n\n"),
]


def test_split_stream_whole() -> None:
    assert summary(feed_all(SPLIT_STREAM)) == SPLIT_EXPECTED


def test_every_split_in_two_chunks() -> None:
    for chunks in splits(SPLIT_STREAM, 2):
        assert summary(feed_chunks(chunks)) == SPLIT_EXPECTED, chunks


def test_every_split_in_three_chunks() -> None:
    for chunks in splits(SPLIT_STREAM, 3):
        assert summary(feed_chunks(chunks)) == SPLIT_EXPECTED, chunks


def test_byte_by_byte() -> None:
    assert summary(feed_chunks([bytes([b]) for b in SPLIT_STREAM])) == SPLIT_EXPECTED


# -- RequestParser: header rules (§1.2) ---------------------------------------------------------


def one(data: bytes) -> Request:
    reqs = feed_all(data)
    assert len(reqs) == 1
    return reqs[0]


def test_line_without_colon_ignored() -> None:
    req = one(b"api x\nNoColonHere\nFoo: bar\n\n")
    assert req.headers == [("Foo", "bar")]


def test_name_not_trimmed() -> None:
    req = one(b"api x\nSp : x\n\n")
    assert req.headers == [("Sp ", "x")]
    assert req.get("Sp ") == "x"
    assert req.get("Sp") is None


def test_name_leading_space_kept() -> None:
    req = one(b"api x\n Lead: y\n\n")
    assert req.headers == [(" Lead", "y")]


def test_value_leading_spaces_skipped() -> None:
    assert one(b"api x\nFoo:    bar\n\n").headers == [("Foo", "bar")]
    assert one(b"api x\nFoo:bar\n\n").headers == [("Foo", "bar")]


def test_value_leading_tab_kept() -> None:
    assert one(b"api x\nFoo:\tbar\n\n").headers == [("Foo", "\tbar")]
    assert one(b"api x\nFoo: \t bar\n\n").headers == [("Foo", "\t bar")]


def test_value_trailing_whitespace_kept() -> None:
    assert one(b"api x\nFoo: bar \t \n\n").headers == [("Foo", "bar \t ")]
    assert one(b"api x\r\nFoo: bar  \r\n\r\n").headers == [("Foo", "bar  ")]


def test_value_split_at_first_colon_only() -> None:
    assert one(b"api x\nFoo: a: b:c\n\n").headers == [("Foo", "a: b:c")]


def test_value_not_url_decoded() -> None:
    assert one(b"api x\nFoo: a%20b+c\n\n").headers == [("Foo", "a%20b+c")]


def test_empty_value_removes_earlier_headers_any_case() -> None:
    req = one(b"api x\nFoo: 1\nBar: x\nfoo: 2\nFOO:\nFoo: 3\n\n")
    assert req.headers == [("Bar", "x"), ("Foo", "3")]


def test_spaces_only_value_removes() -> None:
    req = one(b"api x\nFoo: 1\nFoo:    \n\n")
    assert req.headers == []


def test_empty_value_without_earlier_header_adds_nothing() -> None:
    req = one(b"api x\nFoo:\nBar: 1\n\n")
    assert req.headers == [("Bar", "1")]


def test_tab_value_does_not_remove() -> None:
    req = one(b"api x\nFoo: 1\nFoo:\t\n\n")
    assert req.headers == [("Foo", "1"), ("Foo", "\t")]


def test_duplicates_kept_in_order() -> None:
    req = one(b"api x\nFoo: 1\nfoo: 2\nFOO: 3\n\n")
    assert req.headers == [("Foo", "1"), ("foo", "2"), ("FOO", "3")]
    assert req.get("foo") == "1"
    assert req.get("FOO") == "1"
    assert req.get("missing") is None


def test_mixed_endings_lf_then_crlf() -> None:
    # the documented fix of §9: each line ends at its own terminator
    data = b"api echo hi\nFoo: bar\r\n\r\n"
    req = one(data)
    assert req.line == "api echo hi"
    assert req.headers == [("Foo", "bar")]
    assert req.raw == data.decode()


def test_mixed_endings_crlf_then_lf() -> None:
    req = one(b"api echo hi\r\nFoo: bar\nBaz: q\r\n\n")
    assert req.line == "api echo hi"
    assert req.headers == [("Foo", "bar"), ("Baz", "q")]


def test_raw_keeps_whole_block() -> None:
    data = b"sendmsg\nFoo: 1\nno colon\nBar:\n\n"
    req = one(data)
    assert req.raw == "sendmsg\nFoo: 1\nno colon\nBar:\n\n"
    assert req.headers == [("Foo", "1")]


def test_non_utf8_bytes_survive() -> None:
    req = one(b"api \xff\nA: \xfe\n\n")
    assert req.line == "api \udcff"
    assert req.headers == [("A", "\udcfe")]
    assert req.line.encode("utf-8", "surrogateescape") == b"api \xff"


def test_utf8_line_and_values() -> None:
    req = one("api echo é\nNom: café\n\n".encode())
    assert req.line == "api echo é"
    assert req.headers == [("Nom", "café")]


# -- RequestParser: bodies (§1.3) ---------------------------------------------------------------


def test_body_read_exactly() -> None:
    reqs = feed_all(b"sendevent CUSTOM\nContent-Length: 5\n\nhelloapi next\n\n")
    assert [(r.line, r.body) for r in reqs] == [("sendevent CUSTOM", "hello"), ("api next", None)]
    assert reqs[0].headers == [("Content-Length", "5")]
    assert reqs[0].raw == "sendevent CUSTOM\nContent-Length: 5\n\n"


def test_body_may_contain_blank_lines() -> None:
    [req] = feed_all(b"sendmsg\nContent-Length: 6\n\n\n\n\r\n\n\n")
    assert req.body == "\n\n\r\n\n\n"


def test_body_lowercase_content_length() -> None:
    [req] = feed_all(b"sendmsg\ncontent-length: 2\n\nok")
    assert req.body == "ok"
    assert req.headers == [("content-length", "2")]


def test_body_cut_at_nul() -> None:
    reqs = feed_all(b"sendevent X\nContent-Length: 6\n\nab\0cd\0api y\n\n")
    assert [(r.line, r.body) for r in reqs] == [("sendevent X", "ab"), ("api y", None)]


def test_body_starting_with_nul_is_empty() -> None:
    [req] = feed_all(b"sendevent X\nContent-Length: 2\n\n\0z")
    assert req.body == ""


def test_body_non_utf8() -> None:
    [req] = feed_all(b"sendevent X\nContent-Length: 2\n\n\xc3\xff")
    assert req.body is not None
    assert req.body.encode("utf-8", "surrogateescape") == b"\xc3\xff"


@pytest.mark.parametrize("value", [b"abc", b"", b"   ", b"x5", b"0"])
def test_non_numeric_or_zero_content_length_no_body(value: bytes) -> None:
    reqs = feed_all(b"sendevent X\nContent-Length: " + value + b"\n\nhello\n\n")
    assert [(r.line, r.body) for r in reqs] == [("sendevent X", None), ("hello", None)]


@pytest.mark.parametrize(("value", "length"), [(b"5abc", 5), (b"+3", 3), (b"007", 7), (b"\t4", 4)])
def test_content_length_is_atoi(value: bytes, length: int) -> None:
    body = b"0123456789"[:length]
    reqs = feed_all(b"sendevent X\nContent-Length: " + value + b"\n\n" + body + b"next\n\n")
    assert [(r.line, r.body) for r in reqs] == [("sendevent X", body.decode()), ("next", None)]


def test_atoi() -> None:
    assert atoi("42") == 42
    assert atoi("  -7x") == -7
    assert atoi("+8") == 8
    assert atoi("abc") == 0
    assert atoi("") == 0
    assert atoi("- 1") == 0
    assert atoi("\t\n12") == 12


@pytest.mark.parametrize("value", ["-1", "16777217", "-99", "99999999999"])
def test_content_length_out_of_range(value: str) -> None:
    parser = RequestParser()
    with pytest.raises(ContentLengthError) as info:
        parser.feed(f"sendevent X\nContent-Length: {value}\n\n".encode())
    assert info.value.value == value
    assert str(info.value) == f"Rejecting Content-Length '{value}' (out of range)"
    assert isinstance(info.value, ProtocolError)


def test_content_length_16_mib_accepted() -> None:
    assert MAX_CONTENT_LENGTH == 16777216
    parser = RequestParser()
    assert parser.feed(b"sendevent X\nContent-Length: 16777216\n\n") == []
    assert not parser.idle
    assert parser.buffered == 0
    body = b"a" * MAX_CONTENT_LENGTH
    assert parser.feed(body[:-1]) == []
    assert parser.buffered == MAX_CONTENT_LENGTH - 1
    assert not parser.idle
    [req] = parser.feed(body[-1:] + b"exit\n")
    assert req.line == "sendevent X"
    assert req.body is not None
    assert len(req.body) == MAX_CONTENT_LENGTH
    assert parser.buffered == len(b"exit\n")


def test_waits_for_body() -> None:
    parser = RequestParser()
    assert parser.feed(b"sendmsg\nContent-Length: 10\n\n0123") == []
    assert not parser.idle
    assert parser.buffered == 4
    assert parser.feed(b"45678") == []
    assert parser.buffered == 9
    [req] = parser.feed(b"9")
    assert req.body == "0123456789"
    assert parser.idle
    assert parser.buffered == 0


# -- RequestParser: 10 MiB header cap (§1.1) ----------------------------------------------------


def test_header_cap_without_terminator() -> None:
    assert MAX_HEADER_BLOCK == 10485760
    extra = 100
    data = b"a" * (MAX_HEADER_BLOCK + extra)
    parser = RequestParser()
    reqs = parser.feed(data[: MAX_HEADER_BLOCK - 1])
    assert reqs == []
    assert parser.buffered == MAX_HEADER_BLOCK - 1
    [req] = parser.feed(data[MAX_HEADER_BLOCK - 1 :])
    assert len(req.raw) == MAX_HEADER_BLOCK
    assert req.line == "a" * MAX_HEADER_BLOCK
    assert req.headers == []
    assert req.body is None
    assert parser.buffered == extra
    # the rest of the stream is parsed as new packets
    [rest] = parser.feed(b"\n\n")
    assert rest.line == "a" * extra
    assert parser.idle


def test_header_cap_cuts_block_whose_end_is_past_the_cap() -> None:
    data = b"b" * (MAX_HEADER_BLOCK + 10) + b"\n\napi x\n\n"
    reqs = feed_all(data)
    assert [len(r.raw) for r in reqs] == [MAX_HEADER_BLOCK, 12, len("api x\n\n")]
    assert [r.line for r in reqs][1:] == ["b" * 10, "api x"]


def test_header_block_at_cap_ends_normally() -> None:
    block = b"c" * (MAX_HEADER_BLOCK - 2) + b"\n\n"
    reqs = feed_all(block + b"api y\n\n")
    assert [len(r.raw) for r in reqs] == [MAX_HEADER_BLOCK, len("api y\n\n")]
    assert reqs[0].line == "c" * (MAX_HEADER_BLOCK - 2)
    assert reqs[1].line == "api y"


# -- RequestParser: idle / buffered ------------------------------------------------------------


def test_idle_and_buffered() -> None:
    parser = RequestParser()
    assert parser.idle
    assert parser.buffered == 0
    assert parser.feed(b"api x") == []
    assert not parser.idle
    assert parser.buffered == 5
    assert parser.feed(b"\n") == []
    assert parser.buffered == 6
    [req] = parser.feed(b"\n")
    assert req.line == "api x"
    assert parser.idle
    assert parser.buffered == 0
    assert parser.feed(b"\r\n") == []
    assert parser.idle
    [_, _] = parser.feed(b"a\n\nb\n\nc")
    assert not parser.idle
    assert parser.buffered == 1


# -- RequestParser: atoi quirks and growth ------------------------------------------------------


def test_content_length_unicode_digits_are_not_numeric() -> None:
    # C's atoi only knows ASCII digits: FreeSWITCH sees no body here
    reqs = feed_all("sendevent X\nContent-Length: ５\n\n".encode() + b"api y\n\n")
    assert [(r.line, r.body) for r in reqs] == [("sendevent X", None), ("api y", None)]



def test_atoi_ascii_whitespace_only() -> None:
    assert atoi("\x1c5") == 0
    assert atoi("\u00a05") == 0



def test_content_length_huge_digit_string_is_protocol_error() -> None:
    with pytest.raises(ContentLengthError):
        RequestParser().feed(b"sendevent X\nContent-Length: " + b"9" * 5000 + b"\n\n")



def test_content_length_many_leading_zeros() -> None:
    reqs = feed_all(b"sendevent X\nContent-Length: " + b"0" * 5000 + b"3\n\nabc")
    assert [(r.line, r.body) for r in reqs] == [("sendevent X", "abc")]


class _CountingPattern:
    """Wraps a compiled pattern and counts the bytes its ``search`` is asked to scan."""

    def __init__(self, pattern: re.Pattern[bytes]) -> None:
        self.pattern = pattern
        self.scanned = 0

    def search(self, buf: bytes, pos: int = 0, endpos: int | None = None) -> re.Match[bytes] | None:
        end = len(buf) if endpos is None else min(endpos, len(buf))
        self.scanned += max(0, end - pos)
        if endpos is None:
            return self.pattern.search(buf, pos)
        return self.pattern.search(buf, pos, endpos)


def test_request_parser_scan_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = _CountingPattern(framing._END_MARKER)
    monkeypatch.setattr(framing, "_END_MARKER", counter)
    parser = RequestParser()
    chunk = b"x" * 1024
    for _ in range(512):
        assert parser.feed(chunk) == []
    fed = 512 * len(chunk)
    assert counter.scanned <= 4 * fed


def test_frame_parser_scan_is_linear(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = _CountingPattern(framing._FRAME_END)
    monkeypatch.setattr(framing, "_FRAME_END", counter)
    parser = FrameParser()
    chunk = b"x" * 1024
    for _ in range(512):
        assert parser.feed(chunk) == []
    fed = 512 * len(chunk)
    assert counter.scanned <= 4 * fed


# -- Request ------------------------------------------------------------------------------------


def test_request_to_bytes() -> None:
    req = Request("sendevent CUSTOM", [("A", "1"), ("B", "x y")], "héllo")
    assert req.to_bytes() == "sendevent CUSTOM\nA: 1\nB: x y\nContent-Length: 6\n\nhéllo".encode()
    assert Request("api x").to_bytes() == b"api x\n\n"
    keep = Request("sendmsg", [("content-length", "2")], "ok")
    assert keep.to_bytes() == b"sendmsg\ncontent-length: 2\n\nok"


# -- FrameParser --------------------------------------------------------------------------------


def frames_of(data: bytes, **kw: int) -> list[tuple[list[tuple[str, str]], bytes]]:
    return [(f.headers, f.body) for f in FrameParser(**kw).feed(data)]


def test_frame_without_body() -> None:
    [frame] = FrameParser().feed(b"Content-Type: auth/request\n\n")
    assert frame.headers == [("Content-Type", "auth/request")]
    assert frame.body == b""
    assert frame.content_type == "auth/request"
    assert frame.reply_text == ""
    assert frame.text == ""


def test_frame_with_body() -> None:
    [frame] = FrameParser().feed(b"Content-Type: api/response\nContent-Length: 7\n\n+OK\n\nx\n")
    assert frame.headers == [("Content-Type", "api/response"), ("Content-Length", "7")]
    assert frame.body == b"+OK\n\nx\n"
    assert frame.text == "+OK\n\nx\n"


def test_frame_accessors() -> None:
    [frame] = FrameParser().feed(command_reply_frame("+OK accepted", [("Job-UUID", "abc")]))
    assert frame.content_type == "command/reply"
    assert frame.reply_text == "+OK accepted"
    assert frame.get("job-uuid") == "abc"
    assert frame.get("nope") is None
    assert Frame([("A", "1")], b"\xff").text == "\ufffd"


def test_frame_values_stripped() -> None:
    [frame] = FrameParser().feed(b"Reply-Text:   +OK  \nUser-Data: \nNoColon\n\n")
    assert frame.headers == [("Reply-Text", "+OK"), ("User-Data", "")]


def test_frame_crlf() -> None:
    data = b"Content-Type: api/response\r\nContent-Length: 2\r\n\r\nok"
    assert frames_of(data) == [([("Content-Type", "api/response"), ("Content-Length", "2")], b"ok")]


def test_frame_pipelined() -> None:
    data = (
        AUTH_REQUEST
        + command_reply_frame("+OK accepted")
        + b"\n"
        + api_response_frame("hi\n")
        + disconnect_frame()
    )
    frames = FrameParser().feed(data)
    assert [f.content_type for f in frames] == [
        "auth/request",
        "command/reply",
        "api/response",
        "text/disconnect-notice",
    ]
    assert [f.body for f in frames] == [b"", b"", b"hi\n", GOODBYE.encode()]


FRAME_STREAM = (
    AUTH_REQUEST
    + command_reply_frame("+OK")
    + b"Content-Type: api/response\r\nContent-Length: 3\r\n\r\na\nb"
    + b"Content-Length: 5\nContent-Type: text/event-plain\n\nA: 1\n"
    + log_frame("x\n", 7, 0, "f.c", "fn", 1)
)


def test_frame_every_split() -> None:
    whole = frames_of(FRAME_STREAM)
    assert [h[0] for h, _ in whole] == [
        ("Content-Type", "auth/request"),
        ("Content-Type", "command/reply"),
        ("Content-Type", "api/response"),
        ("Content-Length", "5"),
        ("Content-Type", "log/data"),
    ]
    assert [b for _, b in whole] == [b"", b"", b"a\nb", b"A: 1\n", b"x\n"]
    for parts in (2, 3):
        for chunks in splits(FRAME_STREAM, parts):
            parser = FrameParser()
            got: list[tuple[list[tuple[str, str]], bytes]] = []
            for chunk in chunks:
                got.extend((f.headers, f.body) for f in parser.feed(chunk))
            assert got == whole, chunks


def test_frame_header_too_large() -> None:
    parser = FrameParser(max_header=64)
    assert parser.feed(b"A" * 64) == []
    with pytest.raises(ProtocolError, match="header block too large"):
        parser.feed(b"B")


def test_frame_body_too_large() -> None:
    with pytest.raises(ProtocolError):
        FrameParser(max_body=10).feed(b"Content-Length: 11\n\n")
    parser = FrameParser(max_body=10)
    assert parser.feed(b"Content-Length: 10\n\n") == []
    [frame] = parser.feed(b"0123456789")
    assert frame.body == b"0123456789"


def test_frame_negative_content_length() -> None:
    with pytest.raises(ProtocolError):
        FrameParser().feed(b"Content-Type: api/response\nContent-Length: -1\n\n")


def test_frame_non_numeric_content_length() -> None:
    assert frames_of(b"Content-Length: zz\n\nA: b\n\n") == [
        ([("Content-Length", "zz")], b""),
        ([("A", "b")], b""),
    ]


def test_frame_header_limit_independent_of_chunking() -> None:
    data = b"A: " + b"x" * 150 + b"\n\n"

    def outcome(chunks: list[bytes]) -> str:
        parser = FrameParser(max_header=100)
        try:
            for chunk in chunks:
                parser.feed(chunk)
        except ProtocolError:
            return "error"
        return "ok"

    assert outcome([data]) == outcome([data[i : i + 10] for i in range(0, len(data), 10)])


# -- frame builders (§0, §1.6, §2.4, §3.12) -----------------------------------------------------


def test_auth_request_and_rude_rejection() -> None:
    assert AUTH_REQUEST == b"Content-Type: auth/request\n\n"
    assert (
        RUDE_REJECTION
        == b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"
    )
    assert len(b"Access Denied, go away.\n") == 24


def test_command_reply_frame() -> None:
    assert command_reply_frame("+OK accepted") == b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
    assert command_reply_frame("-ERR command not found") == (
        b"Content-Type: command/reply\nReply-Text: -ERR command not found\n\n"
    )


def test_command_reply_frame_extra_headers() -> None:
    frame = command_reply_frame("+OK Job-UUID: 1234", [("Job-UUID", "1234"), ("X", "y z")])
    assert frame == b"Content-Type: command/reply\nReply-Text: +OK Job-UUID: 1234\nJob-UUID: 1234\nX: y z\n\n"


def test_command_reply_frame_511_cut() -> None:
    head = b"Content-Type: command/reply\nReply-Text: "
    assert command_reply_frame("a" * 511) == head + b"a" * 511 + b"\n\n"
    assert command_reply_frame("b" * 512) == head + b"b" * 511 + b"\n\n"
    assert command_reply_frame("c" * 700) == head + b"c" * 511 + b"\n\n"
    # the cut counts bytes, not characters
    assert command_reply_frame("é" * 300) == head + ("é" * 300).encode()[:511] + b"\n\n"


def test_api_response_frame() -> None:
    assert api_response_frame("+OK\n") == b"Content-Type: api/response\nContent-Length: 4\n\n+OK\n"
    assert api_response_frame("") == b"Content-Type: api/response\nContent-Length: 0\n\n"
    assert api_response_frame("é") == b"Content-Type: api/response\nContent-Length: 2\n\n\xc3\xa9"
    assert api_response_frame(b"\x00\xff") == b"Content-Type: api/response\nContent-Length: 2\n\n\x00\xff"


def test_disconnect_messages() -> None:
    assert GOODBYE == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    assert [len(m) for m in (GOODBYE, SHUTDOWN, LOST_EVENTS, LOST_LOGS)] == [67, 31, 39, 42]
    assert SHUTDOWN == "The system is being shut down.\n"
    assert LOST_EVENTS == "killed listener because of lost events\n"
    assert LOST_LOGS == "killed listener because of lost log lines\n"


def test_disconnect_frame_without_session() -> None:
    assert disconnect_frame() == (
        b"Content-Type: text/disconnect-notice\nContent-Length: 67\n\n"
        b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    )
    assert disconnect_frame(SHUTDOWN) == (
        b"Content-Type: text/disconnect-notice\nContent-Length: 31\n\nThe system is being shut down.\n"
    )
    assert (
        disconnect_frame("") == b"Content-Type: text/disconnect-notice\nContent-Length: 14\n\nDisconnected.\n"
    )


def test_disconnect_frame_with_session() -> None:
    uuid = "0b5c3a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
    assert disconnect_frame(GOODBYE, uuid) == (
        b"Content-Type: text/disconnect-notice\n"
        b"Controlled-Session-UUID: 0b5c3a3e-1c2d-4e5f-8a9b-0c1d2e3f4a5b\n"
        b"Content-Disposition: disconnect\n"
        b"Content-Length: 67\n\n"
        b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    )
    assert disconnect_frame(session_uuid=uuid) == disconnect_frame(GOODBYE, uuid)


def test_linger_frame() -> None:
    assert linger_frame("u-1", "sofia/internal/1000@x", 5) == (
        b"Content-Type: text/disconnect-notice\n"
        b"Controlled-Session-UUID: u-1\n"
        b"Content-Disposition: linger\n"
        b"Channel-Name: sofia/internal/1000@x\n"
        b"Linger-Time: 5\n"
        b"Content-Length: 0\n\n"
    )
    assert b"\nLinger-Time: -1\n" in linger_frame("u", "c", -1)


def test_log_frame_matches_protocol_example() -> None:
    text = "2026-11-28 17:05:44.129700 94.07% [INFO] mod_commands.c:7247 hello world\n"
    frame = log_frame(text, 6, 3, "mod_commands.c", "log_function", 7247)
    assert frame == (
        b"Content-Type: log/data\n"
        b"Content-Length: 73\n"
        b"Log-Level: 6\n"
        b"Text-Channel: 3\n"
        b"Log-File: mod_commands.c\n"
        b"Log-Func: log_function\n"
        b"Log-Line: 7247\n"
        b"User-Data: \n"
        b"\n" + text.encode()
    )


def test_log_frame_with_user_data() -> None:
    frame = log_frame("é\n", 3, 0, "f.c", "fn", 12, "uuid-1")
    assert frame == (
        b"Content-Type: log/data\nContent-Length: 3\nLog-Level: 3\nText-Channel: 0\nLog-File: f.c\n"
        b"Log-Func: fn\nLog-Line: 12\nUser-Data: uuid-1\n\n\xc3\xa9\n"
    )
    [parsed] = FrameParser().feed(frame)
    assert parsed.get("User-Data") == "uuid-1"
    assert parsed.body == "é\n".encode()


def test_frame_parser_returns_frames_before_a_framing_error() -> None:
    parser = FrameParser(max_body=10)
    data = b"Content-Type: command/reply\nReply-Text: +OK\n\nContent-Length: 99\n\n"
    frames = parser.feed(data)
    assert [f.reply_text for f in frames] == ["+OK"]
    assert isinstance(parser.failed, ProtocolError)
    with pytest.raises(ProtocolError):
        parser.feed(b"more")
    with pytest.raises(ProtocolError):  # nothing before the error: raised at once
        FrameParser(max_body=10).feed(b"Content-Length: 99\n\n")


def test_log_line_round_trip() -> None:
    from eventsocket.protocol.message import LogLine

    line = LogLine("2026-12-04 [INFO] café\n", 6, 3, "switch_core.c", "fn", 42, "uuid-1")
    data = line.frame()
    assert data == framing.log_frame(line.text, 6, 3, "switch_core.c", "fn", 42, "uuid-1")
    (frame,) = FrameParser().feed(data)
    assert frame.content_type == "log/data"
    assert LogLine.from_frame(frame) == line
    frame.headers = [(k, "7x" if k == "Log-Level" else v) for k, v in frame.headers]
    assert LogLine.from_frame(frame).level == 7  # read with atoi, as libesl does


def test_delete_filters() -> None:
    from eventsocket.protocol.selection import delete_filters

    filters = [("Unique-ID", "a"), ("unique-id", "b"), ("Event-Name", "X")]
    assert delete_filters(filters, "UNIQUE-ID") == [("Event-Name", "X")]
    assert delete_filters(filters, "Unique-ID", "b") == [("Unique-ID", "a"), ("Event-Name", "X")]
    assert delete_filters(filters, "All") == []
    assert delete_filters(filters, "Other") == filters
