"""The console's connection to the server: connecting, retrying (``-r``), noticing that it
went away and reconnecting with back-off (``-R``), and one-line reasons for failures.

The console reconnects by itself rather than through the client's own ``reconnect``
option so that it knows, at each moment, whether it is connected, how many attempts it
made and why the last one failed: that is what its status line shows.
"""

from __future__ import annotations

import asyncio
import enum
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass

from eventsocket.client import (
    AuthenticationError,
    ConnectionLostError,
    DisconnectedError,
    InboundConnection,
    ReconnectPolicy,
    RequestTimeoutError,
    RudeRejectionError,
    connect,
)

__all__ = ["ConnectFailure", "Link", "LinkState", "Target", "describe_failure"]


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    password: str
    user: str | None = None
    connect_timeout: float | None = 10.0

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class ConnectFailure(Exception):
    """Connecting failed; ``str()`` is one line for the user. ``final`` failures (a refused
    password, an ACL rejection) do not heal by retrying."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


def describe_failure(exc: BaseException, target: Target) -> ConnectFailure:
    """Turn a client exception into one clear line."""
    where = target.address
    if isinstance(exc, RudeRejectionError):
        return ConnectFailure(f"{where} refused this address (ACL): {exc.message.strip() or 'Access Denied'}",
                              final=True)
    if isinstance(exc, AuthenticationError):
        who = f"user {target.user}" if target.user else "the password"
        detail = str(exc).removeprefix("authentication failed: ")
        return ConnectFailure(f"{where} refused {who}: {detail}", final=True)
    if isinstance(exc, RequestTimeoutError):
        return ConnectFailure(f"{where} did not answer within {target.connect_timeout:g}s")
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    if isinstance(cause, socket.gaierror):
        return ConnectFailure(f"cannot resolve host {target.host!r}")
    if isinstance(cause, ConnectionRefusedError):
        return ConnectFailure(f"connection refused by {where}")
    if isinstance(cause, OSError) and cause.strerror:
        return ConnectFailure(f"cannot connect to {where}: {cause.strerror}")
    if isinstance(exc, DisconnectedError):
        return ConnectFailure(f"{where} closed the connection: {exc.message.strip()}")
    return ConnectFailure(f"cannot connect to {where}: {exc}")


class LinkState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"


class Link:
    """Holds the current :class:`InboundConnection` and its state for the status line."""

    def __init__(self, target: Target, *, policy: ReconnectPolicy | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self.target = target
        self.policy = policy or ReconnectPolicy(initial_delay=0.5, max_delay=10.0, factor=2.0, jitter=0.1)
        self.conn: InboundConnection | None = None
        self.state = LinkState.CONNECTING
        self.attempt = 0
        self.last_error = ""
        self._on_change = on_change

    def _set(self, state: LinkState) -> None:
        self.state = state
        if self._on_change is not None:
            self._on_change()

    async def open(self) -> InboundConnection:
        """One attempt; raises :class:`ConnectFailure`."""
        t = self.target
        try:
            conn = await connect(t.host, t.port, t.password, user=t.user or None, timeout=None,
                                 connect_timeout=t.connect_timeout)
        except (ConnectionLostError, AuthenticationError, RequestTimeoutError, OSError) as exc:
            failure = describe_failure(exc, t)
            self.last_error = str(failure)
            raise failure from None
        self.conn = conn
        self.attempt = 0
        self.last_error = ""
        self._set(LinkState.CONNECTED)
        return conn

    async def open_retrying(self, attempts: int, delay: float,
                            notice: Callable[[str], None]) -> InboundConnection:
        """fs_cli's start-up loop: ``attempts`` tries, ``delay`` seconds apart, a notice
        ("Error Connecting [...]", "Retrying") for each failure."""
        for attempt in range(1, attempts + 1):
            self.attempt = attempt
            try:
                return await self.open()
            except ConnectFailure as failure:
                notice(f"Error Connecting [{failure}]")
                if failure.final or attempt == attempts:
                    raise
                await asyncio.sleep(delay)
                notice("Retrying")
        raise AssertionError("unreachable")

    async def lost(self) -> str:
        """Wait until the current connection ends; returns why, in one line."""
        conn = self.conn
        assert conn is not None
        await conn.wait_closed()
        self.conn = None
        error = conn.close_error
        if isinstance(error, DisconnectedError):
            reason = error.message.strip() or "Disconnected."
        elif error is not None:
            reason = str(error)
        else:
            reason = "connection closed"
        self.last_error = reason
        self._set(LinkState.DISCONNECTED)
        return reason

    async def reconnect(self, notice: Callable[[str], None]) -> InboundConnection:
        """Reconnect with exponential back-off until it works; raises :class:`ConnectFailure`
        when the server refuses us (password, ACL) or ``max_attempts`` runs out."""
        policy = self.policy
        delay = policy.initial_delay
        self.attempt = 0
        while True:
            self.attempt += 1
            self._set(LinkState.RECONNECTING)
            try:
                return await self.open()
            except ConnectFailure as failure:
                if failure.final or (policy.max_attempts is not None and self.attempt >= policy.max_attempts):
                    self._set(LinkState.DISCONNECTED)
                    raise
                if self.attempt == 1:
                    notice(f"Reconnecting to {self.target.address}: {failure}")
                self._set(LinkState.RECONNECTING)
            await asyncio.sleep(max(0.0, delay * (1.0 + random.uniform(-policy.jitter, policy.jitter))))
            delay = min(delay * policy.factor, policy.max_delay)

    async def close(self, timeout: float = 2.0) -> None:
        """Say ``exit`` and close, waiting at most ``timeout`` for the server (0: at once)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            await conn.close(timeout)

    def status(self) -> str:
        """The status line's text."""
        where = self.target.address
        if self.state is LinkState.CONNECTED:
            return f"connected to {where}"
        if self.state is LinkState.RECONNECTING:
            tail = f": {self.last_error}" if self.last_error else ""
            return f"reconnecting to {where} (attempt {self.attempt}){tail}"
        if self.state is LinkState.DISCONNECTED:
            return f"disconnected from {where}: {self.last_error}"
        return f"connecting to {where}"
