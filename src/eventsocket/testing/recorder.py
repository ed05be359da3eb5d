"""Every event of the switch under test, kept in order, and the waits tests make on them.

The base of both switches a test can get (the embedded one and a real FreeSWITCH
reached over the event socket): whatever delivers the events calls :meth:`Recorder.record`,
and :meth:`Recorder.expect` and the :class:`~eventsocket.testing.calls.Call` waits read
the list. A wait that runs out raises ``AssertionError`` with the timeline of the call
(or of every call) instead of a bare timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from eventsocket.testing.calls import Call, match
from eventsocket.testing.timeline import EventLike, event_time, format_timeline

__all__ = ["Recorder"]


class Recorder:
    """The events of one switch, in the order they fired, with waits on them."""

    def __init__(self) -> None:
        self.events: list[EventLike] = []
        self._by_uuid: dict[str, list[EventLike]] = {}
        self._calls: dict[str, Call] = {}
        self._consumed: set[int] = set()
        self._changed: asyncio.Event | None = None
        self.origin: float | None = None

    def record(self, event: EventLike) -> None:
        if self.origin is None:
            self.origin = event_time(event)
        self.events.append(event)
        uuid = event.get("Unique-ID")
        if uuid:
            self._by_uuid.setdefault(uuid, []).append(event)
            if uuid not in self._calls:
                self._calls[uuid] = Call(self, uuid)
        if self._changed is not None:
            self._changed.set()

    def events_of(self, uuid: str) -> list[EventLike]:
        return self._by_uuid.get(uuid, [])

    # -- calls -----------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every channel seen so far, in order of appearance."""
        return list(self._calls.values())

    def call(self, uuid: str) -> Call:
        """The :class:`Call` for ``uuid`` (seen or not yet)."""
        found = self._calls.get(uuid)
        if found is None:
            found = self._calls[uuid] = Call(self, uuid)
        return found

    def timeline(self) -> str:
        """Every call's events as one timeline (legs lettered in order of appearance)."""
        return format_timeline(
            [event for event in self.events if event.get("Unique-ID")], start=self.origin, title="timeline:"
        )

    # -- waiting ----------------------------------------------------------------------------

    async def first(
        self,
        predicate: Callable[[EventLike], bool],
        timeout: float,
        *,
        what: str,
        uuid: str | None = None,
        consume: bool = False,
    ) -> EventLike:
        """The first recorded event satisfying ``predicate``, waiting up to ``timeout`` seconds for it.

        With ``consume``, an event returned once is not returned again, so two waits for
        the same name see two different events.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = 0
        if self._changed is None:
            self._changed = asyncio.Event()
        while True:
            events = self.events
            while index < len(events):
                event = events[index]
                if (not consume or id(event) not in self._consumed) and predicate(event):
                    if consume:
                        self._consumed.add(id(event))
                    return event
                index += 1
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._changed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                pass
        where = self.call(uuid).timeline() if uuid else self.timeline()
        raise AssertionError(f"no {what} within {timeout:g} s\n{where}")

    async def expect(self, name: str, *, uuid: str | None = None, timeout: float = 60.0,
                     **headers: str) -> EventLike:
        """The next event ``name`` (for ``uuid``, with ``headers``) not returned by an earlier expect.

        Events that fired before the call count: ``expect`` never misses an event because
        it was asked for too late. Header names may use underscores for dashes.
        """
        detail = f" for {uuid}" if uuid else ""
        if headers:
            detail += " with " + ", ".join(f"{k}={v}" for k, v in headers.items())
        return await self.first(
            lambda event: match(event, name, uuid, headers), timeout, what=f"{name}{detail}", uuid=uuid,
            consume=True,
        )

    # -- by backend -----------------------------------------------------------------------------

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def backend_press(self, uuid: str, digits: str, interval: float) -> None:
        raise NotImplementedError

    async def backend_hangup(self, uuid: str, cause: str) -> None:
        raise NotImplementedError
