"""The two kinds of message on an event socket, as plain data.

* :class:`Request`: what a client sends (a command line, headers, an optional body).
* :class:`Frame`: what the server sends (headers, an optional body): command replies,
  API responses, events, log lines and disconnect notices.
* :class:`LogLine`: one ``log/data`` message, built by the server and read by clients.

Both keep headers as an ordered list of pairs with case-insensitive lookup, because
FreeSWITCH keeps duplicates and order and clients depend on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eventsocket.protocol.compat import atoi


def _lookup(headers: list[tuple[str, str]], name: str) -> str | None:
    lname = name.lower()
    for key, value in headers:
        if key.lower() == lname:
            return value
    return None


@dataclass(slots=True)
class Request:
    """One client packet.

    ``raw`` is the whole header block exactly as received (FreeSWITCH forwards it in the
    ``Command`` header of some events); ``line`` is the first line without its terminator.
    """

    line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    raw: str = ""

    def get(self, name: str) -> str | None:
        """The first header called ``name``, any case."""
        return _lookup(self.headers, name)

    def to_bytes(self) -> bytes:
        """The packet as a client puts it on the wire."""
        lines = [self.line, *(f"{k}: {v}" for k, v in self.headers)]
        body = (self.body or "").encode("utf-8", "surrogateescape")
        if body and _lookup(self.headers, "Content-Length") is None:
            lines.append(f"Content-Length: {len(body)}")
        return ("\n".join(lines) + "\n\n").encode("utf-8", "surrogateescape") + body


@dataclass(slots=True)
class Frame:
    """One server message: its header block and its body (raw bytes)."""

    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def get(self, name: str) -> str | None:
        """The first header called ``name``, any case."""
        return _lookup(self.headers, name)

    @property
    def content_type(self) -> str:
        return _lookup(self.headers, "Content-Type") or ""

    @property
    def reply_text(self) -> str:
        return _lookup(self.headers, "Reply-Text") or ""

    @property
    def text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One ``log/data`` message: the line as text and where it came from.

    The server sends it with :meth:`frame`; clients read it with :meth:`from_frame` (numbers
    read with ``atoi``, as libesl does). ``channel`` is the text channel
    (``switch_text_channel_t``), ``user_data`` usually the call's UUID.
    """

    text: str
    level: int
    channel: int
    file: str
    function: str
    line: int
    user_data: str = ""

    @classmethod
    def from_frame(cls, frame: Frame) -> LogLine:
        def num(name: str) -> int:
            return atoi(frame.get(name) or "")

        return cls(frame.body.decode("utf-8", "replace"), num("Log-Level"), num("Text-Channel"),
                   frame.get("Log-File") or "", frame.get("Log-Func") or "", num("Log-Line"),
                   frame.get("User-Data") or "")

    def frame(self) -> bytes:
        """The ``log/data`` message, header order as mod_event_socket writes it."""
        body = self.text.encode("utf-8", "surrogateescape")
        head = (
            f"Content-Type: log/data\nContent-Length: {len(body)}\nLog-Level: {self.level}\n"
            f"Text-Channel: {self.channel}\nLog-File: {self.file}\nLog-Func: {self.function}\n"
            f"Log-Line: {self.line}\nUser-Data: {self.user_data}\n\n"
        )
        return head.encode("utf-8", "surrogateescape") + body

    def __str__(self) -> str:
        return self.text
