"""The ``outbound_app`` fixture's object: an outbound-mode application server routed from the dialplan.

It binds :class:`~eventsocket.client.outbound.OutboundServer` to a free port and adds a
dialplan extension (``5000`` unless told otherwise) that hands calls to it with
``socket 127.0.0.1:<port> async full``. The test sets the handler, places a call, and
waits for the handler to finish: :meth:`OutboundApp.wait_finished` re-raises what the
handler raised, so a broken application fails the test with its own traceback.
"""

from __future__ import annotations

import asyncio

from eventsocket.client.outbound import CallHandler, OutboundCall, OutboundServer

__all__ = ["OutboundApp"]


class OutboundApp:
    """An outbound-mode server for one test, with a record of every handled call."""

    def __init__(
        self,
        switch: object,
        handler: CallHandler | None = None,
        *,
        number: str = "5000",
        context: str = "default",
        socket_args: str = "async full",
    ) -> None:
        self.switch = switch
        self.handler = handler
        self.number = number
        self.context = context
        self.socket_args = socket_args
        self.finished: list[tuple[OutboundCall, BaseException | None]] = []
        self._changed = asyncio.Event()
        self.server = OutboundServer(self._dispatch, "127.0.0.1", 0, on_finished=self._on_finished)

    def __repr__(self) -> str:
        return f"<OutboundApp {self.address} -> {self.number}>"

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        await self.server.start()
        add = getattr(getattr(self.switch, "dialplan", None), "add", None)
        if add is not None:
            add(self.number, "socket", f"{self.address} {self.socket_args}".strip(), context=self.context)

    async def stop(self) -> None:
        await self.server.close()

    async def _dispatch(self, call: OutboundCall) -> None:
        if self.handler is None:
            raise RuntimeError("outbound_app.handler is not set: assign the application's handler first")
        await self.handler(call)

    def _on_finished(self, call: OutboundCall, error: BaseException | None) -> None:
        self.finished.append((call, error))
        self._changed.set()

    async def wait_finished(self, count: int = 1, *, timeout: float = 600.0) -> OutboundCall:
        """Wait until ``count`` calls' handlers have ended; the last one's call.

        Re-raises the exception of the first handler that failed.
        """
        async with asyncio.timeout(timeout):
            while len(self.finished) < count:
                self._changed.clear()
                await self._changed.wait()
        for _call, error in self.finished:
            if error is not None:
                raise error
        return self.finished[count - 1][0]
