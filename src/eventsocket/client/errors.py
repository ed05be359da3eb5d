"""Exceptions raised by the ESL clients.

Every exception derives from :class:`ESLError`. The ones about the connection also
derive from the matching built-in (``ConnectionError``, ``TimeoutError``,
``ValueError``), so code that already catches those keeps working.
"""

from __future__ import annotations

from typing import Protocol

__all__ = [
    "AuthenticationError",
    "CommandError",
    "ConnectionLostError",
    "DisconnectedError",
    "ESLError",
    "InvalidArgumentError",
    "QueueOverflowError",
    "Reply",
    "RequestTimeoutError",
    "RudeRejectionError",
]


class Reply(Protocol):
    """What a :class:`CommandError` carries: a ``CommandReply`` or an ``ApiResponse``.

    Spelled as a protocol so that the errors do not import the results that raise them
    (``client.results`` imports this module).
    """

    @property
    def ok(self) -> bool: ...

    @property
    def text(self) -> str: ...

    @property
    def job_uuid(self) -> str | None: ...


class ESLError(Exception):
    """Base class of every client error."""


class ConnectionLostError(ESLError, ConnectionError):
    """The connection dropped (or could not be made); pending requests fail with this."""


class DisconnectedError(ConnectionLostError):
    """The server sent ``text/disconnect-notice``: it is closing the connection.

    ``message`` is the notice's body, e.g. ``The system is being shut down.``; ``headers``
    are the notice's headers (``Controlled-Session-UUID``, ``Content-Disposition``...).
    """

    def __init__(self, message: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        text = message.strip() or "Disconnected."
        super().__init__(f"server disconnected: {text}")
        self.message = message
        self.headers = headers


class RudeRejectionError(ConnectionLostError):
    """The server's ACL refused this client's address (``text/rude-rejection``)."""

    def __init__(self, message: str) -> None:
        text = message.strip() or "Access Denied, go away."
        super().__init__(f"rejected by the server's ACL: {text}")
        self.message = message


class AuthenticationError(ESLError):
    """``auth``/``userauth`` was refused (the server closes the connection after it)."""


class RequestTimeoutError(ESLError, TimeoutError):
    """No reply (or no completion event) within the request's timeout.

    A late reply is still read and thrown away, so later requests stay matched to their
    own replies.
    """


class CommandError(ESLError):
    """The server answered a command with an error (``-ERR ...``).

    ``reply`` is the ``CommandReply`` or ``ApiResponse`` that carried it (see :class:`Reply`).
    """

    def __init__(self, message: str, reply: Reply | None = None) -> None:
        super().__init__(message)
        self.reply = reply


class InvalidArgumentError(ESLError, ValueError):
    """An argument cannot be sent safely, e.g. it contains CR or LF (which would start a new
    header or a new command on the wire). Nothing was sent."""


class QueueOverflowError(ESLError):
    """The event or log queue overflowed under the ``"disconnect"`` overflow policy."""
