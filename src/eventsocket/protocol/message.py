"""The two kinds of message on an event socket, as plain data.

* :class:`Request`: what a client sends (a command line, headers, an optional body).
* :class:`Frame`: what the server sends (headers, an optional body): command replies,
  API responses, events, log lines and disconnect notices.

Both keep headers as an ordered list of pairs with case-insensitive lookup, because
FreeSWITCH keeps duplicates and order and clients depend on both.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
