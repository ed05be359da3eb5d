"""The switch a test gets with ``--eventsocket-target=host:port:password``: a real FreeSWITCH.

The same test suite runs against the embedded switch and against FreeSWITCH (or any
event socket server). :class:`RemoteSwitch` offers what can be done over the event
socket alone: ``api``, the recorded events and ``expect``, ``call_in`` (a loopback call
whose ``-b`` leg runs the dialplan as an inbound call does), ``press`` and ``hangup``.
What needs the embedded switch (changing the dialplan, scripted far ends, the clock)
skips the test with a reason, so one suite can run against both.
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from typing import Any, NoReturn

import pytest

from eventsocket.client.inbound import InboundConnection, connect
from eventsocket.testing.calls import Call
from eventsocket.testing.recorder import Recorder

__all__ = ["RemoteSwitch", "parse_target"]


def parse_target(text: str) -> tuple[str, int, str]:
    """``host:port:password`` (password optional, ``ClueCon``; ``[v6]:port:password``)."""
    rest = text.strip()
    if rest.startswith("["):
        host, _, rest = rest[1:].partition("]")
        rest = rest.lstrip(":")
    else:
        host, _, rest = rest.partition(":")
    port_text, _, password = rest.partition(":")
    if not host or not port_text.isdigit():
        raise ValueError(f"--eventsocket-target wants host:port:password, not {text!r}")
    return host, int(port_text), password or "ClueCon"


def _needs_embedded(what: str) -> NoReturn:
    pytest.skip(f"{what} needs the embedded switch (not available with --eventsocket-target)")


class _Unsupported:
    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> Any:
        _needs_embedded(f"{self._what}.{name}")


class RemoteSwitch(Recorder):
    """A switch reached over the event socket, recording all of its events."""

    kind = "remote"
    virtual_time = False

    def __init__(self, host: str, port: int, password: str) -> None:
        super().__init__()
        self.host = host
        self.port = port
        self.password = password
        self.dialplan = _Unsupported("dialplan")
        self.directory = _Unsupported("directory")
        self._conn: InboundConnection | None = None
        self._pump: asyncio.Task[None] | None = None
        self._legs: dict[str, str] = {}
        self._drivers: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"<RemoteSwitch {self.host}:{self.port}>"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        if self._conn is not None:
            return
        conn = await connect(self.host, self.port, self.password)
        await conn.subscribe("all")
        self._conn = conn
        self._pump = asyncio.ensure_future(self._read_events(conn))

    async def _read_events(self, conn: InboundConnection) -> None:
        async for event in conn.events():
            self.record(event)

    async def stop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        for task in list(self._drivers):
            task.cancel()
        for leg in list(self._legs):
            await conn.api("uuid_kill", leg)
        if self._pump is not None:
            self._pump.cancel()
        await conn.close()

    @property
    def connection(self) -> InboundConnection:
        if self._conn is None:
            raise RuntimeError("the switch has not been started")
        return self._conn

    async def api(self, command: str, args: str = "") -> str:
        return (await self.connection.api(command, args or None)).body

    # -- what only the embedded switch has -----------------------------------------------------

    def far_end(self, destination: str, **behaviour: object) -> NoReturn:
        _needs_embedded("far_end")

    def far_end_calls(self, destination: str) -> NoReturn:
        _needs_embedded("far_end_calls")

    async def advance(self, seconds: float) -> NoReturn:
        _needs_embedded("advance")

    def pause(self) -> NoReturn:
        _needs_embedded("pause")

    def resume(self) -> NoReturn:
        _needs_embedded("resume")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    # -- parties -------------------------------------------------------------------------------

    async def call_in(
        self,
        number: str,
        *,
        caller_id: str = "1000",
        caller_name: str | None = None,
        context: str = "default",
        dtmf: str | None = None,
        dtmf_after: float = 1.0,
        dtmf_interval: float = 0.2,
        hangup_after: float | None = None,
        variables: dict[str, str] | None = None,
    ) -> Call:
        """A loopback call to ``number``; returns the ``-b`` leg, the one that runs the dialplan."""
        a_leg = str(uuidlib.uuid4())
        settings = {
            "origination_uuid": a_leg,
            "origination_caller_id_number": caller_id,
            "origination_caller_id_name": caller_name if caller_name is not None else caller_id,
            **(variables or {}),
        }
        dial = "{" + ",".join(f"{k}={v}" for k, v in settings.items()) + "}"
        await self.connection.bgapi("originate", f"{dial}loopback/{number}/{context} &park()")
        created = await self.first(
            lambda e: e.get("variable_other_loopback_leg_uuid") == a_leg and e.get("Unique-ID") != a_leg,
            30.0,
            what=f"the -b leg of a loopback call to {number}",
        )
        b_leg = created.get("Unique-ID") or ""
        self._legs[a_leg] = b_leg
        call = self.call(b_leg)
        if dtmf or hangup_after is not None:
            task = asyncio.ensure_future(
                self._caller_script(call, dtmf, dtmf_after, dtmf_interval, hangup_after)
            )
            self._drivers.add(task)
            task.add_done_callback(self._drivers.discard)
        return call

    async def _caller_script(
        self, call: Call, dtmf: str | None, dtmf_after: float, interval: float, hangup_after: float | None
    ) -> None:
        try:
            async with asyncio.timeout(hangup_after):
                await call.wait_for("CHANNEL_ANSWER", timeout=1e9)
        except TimeoutError:
            await self.backend_hangup(call.uuid, "NORMAL_CLEARING")
            return
        loop = asyncio.get_running_loop()
        answered_at = loop.time()
        if dtmf:
            await asyncio.sleep(dtmf_after)
            await self.backend_press(call.uuid, dtmf, interval)
        if hangup_after is not None:
            await asyncio.sleep(max(0.0, answered_at + hangup_after - loop.time()))
            await self.backend_hangup(call.uuid, "NORMAL_CLEARING")

    async def backend_press(self, uuid: str, digits: str, interval: float) -> None:
        # The -b leg of a call_in hears what its -a leg sends (uuid_send_dtmf sends to a
        # channel's far end); any other channel receives through uuid_recv_dtmf.
        a_leg = next((a for a, b in self._legs.items() if b == uuid), None)
        for index, digit in enumerate(digits):
            if index:
                await asyncio.sleep(interval)
            if a_leg is not None:
                await self.connection.api("uuid_send_dtmf", f"{a_leg} {digit}")
            else:
                await self.connection.api("uuid_recv_dtmf", f"{uuid} {digit}")

    async def backend_hangup(self, uuid: str, cause: str) -> None:
        await self.connection.api("uuid_kill", f"{uuid} {cause}")
