"""``resume <name> [<sequence>]``: the gateway's one extension command, durable subscriptions.

On an inbound connection that controls no call, FreeSWITCH knows no ``resume`` (it
answers ``-ERR command not found``), so the word is free there; in outbound mode and
after ``myevents <uuid>``, ``resume`` keeps its FreeSWITCH meaning and this entry does
not apply. Sent before ``event``, it makes the connection's consumer the durable one
called ``<name>``: events continue after the last one the subscription acknowledged or,
given ``<sequence>`` (a ``Gateway-Stream-Sequence`` the client received), right after
that one.

Replies: ``+OK resuming <name>``; ``-ERR command not found`` for a bare ``resume`` (as
FreeSWITCH answers it there); ``-ERR invalid durable name`` (letters, digits, ``-``
and ``_``, at most 200); ``-ERR invalid sequence``; ``-ERR already listening`` when the
connection's events have started (a durable name must come first).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from eventsocket.gateway.feed import durable_name_ok
from eventsocket.protocol.message import Request

if TYPE_CHECKING:
    from eventsocket.gateway.backend import GatewayBackend, GatewayFeed
    from eventsocket.server.state import ListenerState

__all__ = ["resume_handler"]


def resume_handler(backend: GatewayBackend) -> Callable[[ListenerState, Request], Awaitable[None] | None]:
    """The command table entry's handler, bound to the gateway's backend."""

    def handle(state: ListenerState, request: Request) -> Awaitable[None] | None:
        words = [w for w in request.line.split(" ") if w]
        if words[0].lower() != "resume" or len(words) == 1:
            # "resumefoo", or a bare "resume": not this extension; FreeSWITCH's own answer
            state.reply("-ERR command not found")
            return None
        if len(words) < 2 or len(words) > 3 or not durable_name_ok(words[1]):
            state.reply("-ERR invalid durable name")
            return None
        after: int | None = None
        if len(words) == 3:
            if not words[2].isdigit():
                state.reply("-ERR invalid sequence")
                return None
            after = int(words[2])
        state.listen_to_events()
        feed = backend.feed_for(state.on_event)
        if feed is None or feed.listening or feed.feed.durable is not None:
            state.reply("-ERR already listening")
            return None
        return _resume(state, feed, words[1], after)

    return handle


async def _resume(state: ListenerState, feed: GatewayFeed, name: str, after: int | None) -> None:
    feed.use_durable(name)
    try:
        await feed.resume(after)
    except Exception as exc:
        feed.feed.durable = None
        state.reply(f"-ERR resume failed: {exc}")
        return
    state.reply(f"+OK resuming {name}")
