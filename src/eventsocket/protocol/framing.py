"""Sans-I/O framing: bytes in, messages out; messages in, bytes out.

:class:`RequestParser` reads what clients send the way FreeSWITCH's
``read_packet`` does (PROTOCOL.md §1): leading CR/LF skipped, a packet ends at two
LFs with only CRs between them, a 10 MiB header cap, ``Content-Length`` bodies in
0..16 MiB, bodies cut at the first NUL. One fix from §9: each header line ends at its
own terminator, so mixed LF/CRLF packets parse as the client meant.

:class:`FrameParser` reads what servers send (used by the clients and the tests).

The ``*_frame`` functions build every message the server sends, byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Generic, TypeVar

from eventsocket.protocol.compat import atoi as atoi  # re-exported for existing importers
from eventsocket.protocol.message import Frame, LogLine, Request

MAX_HEADER_BLOCK = 10 * 1024 * 1024
MAX_CONTENT_LENGTH = 16 * 1024 * 1024

_END_MARKER = re.compile(rb"\n\r*\n")
# The envelope of every event a server sends: parsed with one match instead of line by line.
_EVENT_ENVELOPE = re.compile(
    rb"Content-Length: ([0-9]{1,9})\nContent-Type: (text/event-(?:plain|json|xml))\n\n"
)
_EVENT_TYPES = {b"text/event-" + f: "text/event-" + f.decode() for f in (b"plain", b"json", b"xml")}
_FRAME_END = re.compile(rb"\n\r?\n")


_Out = TypeVar("_Out")


class ProtocolError(Exception):
    """The peer broke the framing rules; the connection cannot go on."""


class ContentLengthError(ProtocolError):
    """A ``Content-Length`` outside 0..16 MiB (FreeSWITCH closes the connection)."""

    def __init__(self, value: str) -> None:
        super().__init__(f"Rejecting Content-Length '{value}' (out of range)")
        self.value = value


def parse_header_block(block: str) -> tuple[str, list[tuple[str, str]], int]:
    """Split a client header block into (command line, headers, content length).

    Header names are not trimmed, leading spaces of values are skipped, an empty
    value deletes the header, duplicates are kept in order.
    """
    lines = block.split("\n")
    command = lines[0].rstrip("\r")
    headers: list[tuple[str, str]] = []
    length = 0
    for line in lines[1:]:
        line = line.rstrip("\r")
        name, colon, value = line.partition(":")
        if not colon:
            continue
        value = value.lstrip(" ")
        if name.lower() == "content-length":
            length = atoi(value)
            if length < 0 or length > MAX_CONTENT_LENGTH:
                raise ContentLengthError(value)
        if value == "":
            lname = name.lower()
            headers = [(k, v) for k, v in headers if k.lower() != lname]
            continue
        headers.append((name, value))
    return command, headers, length


class _Parser(Generic[_Out]):
    """What both parsers share: ``feed`` returns what the bytes complete, and a framing error
    found after complete packets in the same chunk is kept in ``failed`` so those packets are
    handled first (the next ``feed`` raises it)."""

    __slots__ = ("failed",)
    failed: ProtocolError | None

    def feed(self, data: bytes) -> list[_Out]:
        """The packets ``data`` completes. A framing error raises :class:`ProtocolError`, after
        the packets before it were returned (see ``failed``)."""
        if self.failed is not None:
            raise self.failed
        out: list[_Out] = []
        try:
            self._feed(data, out)
        except ProtocolError as exc:
            self.failed = exc
            if not out:
                raise
        return out

    def _feed(self, data: bytes, out: list[_Out]) -> None:
        raise NotImplementedError


class RequestParser(_Parser[Request]):
    """Incremental parser for the client-to-server direction.

    ``feed()`` takes any chunk of bytes and returns the complete requests it finished.
    After a :class:`ProtocolError` the parser is spent: the connection must close.
    """

    __slots__ = ("_buf", "_pending", "_scanned")

    def __init__(self) -> None:
        # a framing error found after complete requests in the same chunk: those are
        # returned first, and the error is kept here (and raised by the next feed)
        self.failed: ProtocolError | None = None
        self._buf = bytearray()
        # a parsed header block still waiting for its body: (line, headers, raw, length)
        self._pending: tuple[str, list[tuple[str, str]], str, int] | None = None
        # where the search for the end of the header block resumes, so slow input stays linear
        self._scanned = 0

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete request."""
        return len(self._buf)

    @property
    def idle(self) -> bool:
        """True when no partial packet is waiting (FreeSWITCH writes events only then)."""
        return self._pending is None and not self._buf

    @property
    def partial_size(self) -> int:
        """How big the packet being received will be, as far as known so far: its header block
        and announced body once the header block is complete, else the bytes buffered."""
        pending = self._pending
        if pending is None:
            return len(self._buf)
        return len(pending[2]) + pending[3]

    def lone_line(self, data: bytes) -> str | None:
        """The command line, when ``data`` is exactly one whole packet of one line and no
        headers (``api echo x\n\n``) and nothing is buffered: the usual packet, which
        needs no buffering. Else None (``feed`` it). The parser's state is unchanged."""
        if data[-2:] != b"\n\n" or self._buf or self._pending is not None or len(data) > MAX_HEADER_BLOCK:
            return None
        # (the checks on the text are the cheaper ones; CR and LF decode to themselves)
        line = data[:-2].decode("utf-8", "surrogateescape")
        if not line or "\n" in line or "\r" in line:
            return None
        return line

    def _feed(self, data: bytes, out: list[Request]) -> None:
        line = self.lone_line(data)
        if line is not None:
            out.append(Request(line, [], None, line + "\n\n"))
            return
        buf = self._buf
        buf += data
        while True:
            if self._pending is not None:
                line, headers, raw, length = self._pending
                if len(buf) < length:
                    break
                body_bytes = bytes(buf[:length])
                del buf[:length]
                self._pending = None
                nul = body_bytes.find(b"\0")
                if nul >= 0:
                    body_bytes = body_bytes[:nul]
                body = body_bytes.decode("utf-8", "surrogateescape")
                out.append(Request(line, headers, body, raw))
                continue
            # leading blank lines between packets are thrown away
            skip = 0
            while skip < len(buf) and buf[skip] in (0x0A, 0x0D):
                skip += 1
            if skip:
                del buf[:skip]
            if not buf:
                break
            match = _END_MARKER.search(buf, self._scanned)
            if match is None:
                if len(buf) < MAX_HEADER_BLOCK:
                    lf = buf.rfind(b"\n", self._scanned)
                    self._scanned = lf if lf >= 0 else len(buf)
                    break
                end = MAX_HEADER_BLOCK  # FreeSWITCH parses what it has after 10 MiB
            else:
                end = match.end()
                if end > MAX_HEADER_BLOCK:
                    end = MAX_HEADER_BLOCK
            raw = bytes(buf[:end]).decode("utf-8", "surrogateescape")
            del buf[:end]
            self._scanned = 0
            line, headers, length = parse_header_block(raw)
            if length > 0:
                self._pending = (line, headers, raw, length)
                continue
            out.append(Request(line, headers, None, raw))


class FrameParser(_Parser[Frame]):
    """Incremental parser for the server-to-client direction (clients and tests).

    Frames end their header block with a blank line; ``Content-Length`` gives the
    body. Limits keep a hostile server from growing the client's memory without bound.
    """

    __slots__ = ("_buf", "_pending", "_scanned", "max_body", "max_header")

    def __init__(self, max_header: int = MAX_HEADER_BLOCK, max_body: int = 256 * 1024 * 1024) -> None:
        # a framing error found after complete frames in the same chunk: those are returned
        # first, and the error is kept here (and raised by the next feed); a reader checks it
        # after handling the frames, since no next feed may come
        self.failed: ProtocolError | None = None
        self._buf = bytearray()
        self._pending: tuple[list[tuple[str, str]], int] | None = None
        self._scanned = 0
        self.max_header = max_header
        self.max_body = max_body

    def _feed(self, data: bytes, out: list[Frame]) -> None:
        buf = self._buf
        buf += data
        while True:
            if self._pending is not None:
                headers, length = self._pending
                if len(buf) < length:
                    break
                body = bytes(buf[:length])
                del buf[:length]
                self._pending = None
                out.append(Frame(headers, body))
                continue
            skip = 0
            while skip < len(buf) and buf[skip] in (0x0A, 0x0D):
                skip += 1
            if skip:
                del buf[:skip]
            if not buf:
                break
            envelope = _EVENT_ENVELOPE.match(buf)
            if envelope is not None:  # the headers the general path below would give
                digits, ctype = envelope.groups()
                length = int(digits)
                if length > self.max_body:
                    raise ProtocolError(f"bad Content-Length {digits.decode()!r}")
                del buf[: envelope.end()]
                self._scanned = 0
                envelope_headers = [("Content-Length", digits.decode()),
                                    ("Content-Type", _EVENT_TYPES[ctype])]
                if length > 0:
                    self._pending = (envelope_headers, length)
                else:
                    out.append(Frame(envelope_headers, b""))
                continue
            match = _FRAME_END.search(buf, self._scanned)
            if match is None:
                if len(buf) > self.max_header:
                    raise ProtocolError("header block too large")
                lf = buf.rfind(b"\n", self._scanned)
                self._scanned = lf if lf >= 0 else len(buf)
                break
            end, sep = match.start(), match.end() - match.start()
            self._scanned = 0
            if end > self.max_header:
                raise ProtocolError("header block too large")
            head = bytes(buf[:end]).decode("utf-8", "surrogateescape")
            del buf[: end + sep]
            frame_headers: list[tuple[str, str]] = []
            length = 0
            for line in head.split("\n"):
                line = line.rstrip("\r")
                name, colon, value = line.partition(":")
                if not colon:
                    continue
                value = value.strip()
                frame_headers.append((name, value))
                if name.lower() == "content-length":
                    length = atoi(value)
                    if length < 0 or length > self.max_body:
                        raise ProtocolError(f"bad Content-Length {value!r}")
            if length > 0:
                self._pending = (frame_headers, length)
                continue
            out.append(Frame(frame_headers, b""))


# -- what the server sends -------------------------------------------------------------------

GOODBYE = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
SHUTDOWN = "The system is being shut down.\n"
LOST_EVENTS = "killed listener because of lost events\n"
LOST_LOGS = "killed listener because of lost log lines\n"

AUTH_REQUEST = b"Content-Type: auth/request\n\n"
RUDE_REJECTION = b"Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"
REPLY_TEXT_LIMIT = 511


def _enc(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def command_reply_frame(text: str, extra: Iterable[tuple[str, str]] = ()) -> bytes:
    """``command/reply`` with Reply-Text cut to 511 bytes, as FreeSWITCH's reply buffer does."""
    raw = _enc(text)
    if len(raw) > REPLY_TEXT_LIMIT:
        raw = raw[:REPLY_TEXT_LIMIT]
    parts = [b"Content-Type: command/reply\nReply-Text: ", raw, b"\n"]
    for name, value in extra:
        parts.append(_enc(f"{name}: {value}\n"))
    parts.append(b"\n")
    return b"".join(parts)


def api_response_frame(body: str | bytes) -> bytes:
    data = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body
    return b"Content-Type: api/response\nContent-Length: %d\n\n%s" % (len(data), data)


def disconnect_frame(message: str = GOODBYE, session_uuid: str | None = None) -> bytes:
    """The ``text/disconnect-notice`` that ends a connection (session form when controlling a call)."""
    body = _enc(message or "Disconnected.\n")
    if session_uuid:
        head = (
            f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {session_uuid}\n"
            f"Content-Disposition: disconnect\nContent-Length: {len(body)}\n\n"
        )
    else:
        head = f"Content-Type: text/disconnect-notice\nContent-Length: {len(body)}\n\n"
    return _enc(head) + body


def linger_frame(session_uuid: str, channel_name: str, linger_time: int) -> bytes:
    """The notice an outbound (or myevents) socket gets when its channel hangs up while lingering."""
    return _enc(
        f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {session_uuid}\n"
        f"Content-Disposition: linger\nChannel-Name: {channel_name}\nLinger-Time: {linger_time}\n"
        "Content-Length: 0\n\n"
    )


def log_frame(
    text: str, level: int, channel: int, file: str, func: str, line: int, user_data: str = ""
) -> bytes:
    """A ``log/data`` message (see :class:`~eventsocket.protocol.message.LogLine`)."""
    return LogLine(text, level, channel, file, func, line, user_data).frame()
