"""Typed results of requests: command replies, API responses, log lines (the protocol
layer's :class:`~eventsocket.protocol.message.LogLine`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from eventsocket.client.errors import CommandError
from eventsocket.client.events import Event
from eventsocket.protocol.message import Frame, LogLine

__all__ = ["ApiResponse", "CommandReply", "LogLine"]


def _lookup(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    low = name.lower()
    for key, value in headers:
        if key.lower() == low:
            return value
    return None


@dataclass(frozen=True, slots=True)
class CommandReply:
    """A ``command/reply``: ``text`` is its ``Reply-Text`` (``+OK ...`` or ``-ERR ...``)."""

    text: str
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_frame(cls, frame: Frame) -> CommandReply:
        return cls(frame.reply_text, tuple(frame.headers))

    @property
    def ok(self) -> bool:
        """True when the reply starts with ``+OK``."""
        return self.text.startswith("+OK")

    def get(self, name: str) -> str | None:
        """A header of the reply (any case), e.g. ``Job-UUID`` of a bgapi reply."""
        return _lookup(self.headers, name)

    @property
    def job_uuid(self) -> str | None:
        return self.get("Job-UUID")

    def raise_for_error(self) -> CommandReply:
        """Raise :class:`CommandError` unless the reply is ``+OK``; return self otherwise."""
        if not self.ok:
            raise CommandError(self.text or "empty reply", self)
        return self

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """The output of an API command: ``api`` (an ``api/response`` body) or ``bgapi`` (the
    body of its BACKGROUND_JOB event, then ``event`` and ``job_uuid`` are set)."""

    body: str
    job_uuid: str | None = None
    event: Event | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        """False when the output is an error (``-ERR ...``, ``-USAGE: ...``, ``-ERROR``)."""
        return not (self.body.startswith("-ERR") or self.body.startswith("-USAGE"))

    @property
    def text(self) -> str:
        """The body without its trailing newline."""
        return self.body.rstrip("\n")

    def raise_for_error(self) -> ApiResponse:
        """Raise :class:`CommandError` when the output is an error; return self otherwise."""
        if not self.ok:
            raise CommandError(self.text or "empty response", self)
        return self

    def __str__(self) -> str:
        return self.body
