"""A client that stops reading loses its own events, never anyone else's time (§4.7, §9)."""

from __future__ import annotations

import asyncio

from inbound_wire import LOST_EVENTS, Harness, Wire, api_response, logged_in, reply, running, wait_for

from eventsocket.protocol.framing import FrameParser
from eventsocket.server.connection import WRITE_HIGH_WATER, Connection
from eventsocket.server.settings import EventSocketSettings

BIG = "x" * 4096
LOST_LOGS = (
    b"Content-Type: text/disconnect-notice\nContent-Length: 42\n\nkilled listener because of lost log lines\n"
)


async def slow_listener(harness: Harness, subscribe: str) -> tuple[Wire, Connection]:
    """A client with a tiny receive buffer that subscribes, then never reads again."""
    wire = await Wire.open(harness, rcvbuf=4096)
    await wire.login()
    assert (await wire.cmd(subscribe)).reply_text.startswith("+OK")
    conn = next(c for c in harness.server.connections if c.peer[1] == wire.local_port)
    return wire, conn


async def round_trips(fast: Wire, start: int, count: int) -> None:
    """``count`` pipelined ``api echo`` (plus a 4 KB ``sendevent`` each); check every answer, in order.

    ``fast`` is subscribed to API only, so its own API events must all arrive too, each after
    the reply of the command that caused it.
    """
    lines = []
    for i in range(start, start + count):
        lines.append(f"api echo {i}\n\n")
        lines.append(f"sendevent CUSTOM\nSeq: {i}\nContent-Length: {len(BIG)}\n\n{BIG}")
    await fast.send("".join(lines))
    replies: list[int] = []
    events: list[int] = []
    position: dict[tuple[str, int], int] = {}
    for n in range(count * 3):  # a reply and an event per echo, a reply per sendevent
        msg = await fast.frame()
        if msg.content_type == "api/response":
            replies.append(int(msg.body))
            position["reply", int(msg.body)] = n
        elif msg.content_type == "text/event-plain":
            event = msg.event()
            assert event.name == "API"
            events.append(int(event["API-Command-Argument"] or -1))
            position["event", events[-1]] = n
        else:
            assert msg.content_type == "command/reply" and msg.reply_text.startswith("+OK "), msg.raw
    wanted = list(range(start, start + count))
    assert replies == wanted
    assert events == wanted
    assert all(position["reply", i] < position["event", i] for i in wanted)


async def test_slow_reader_does_not_slow_a_fast_client(harness: Harness) -> None:
    slow, slow_conn = await slow_listener(harness, "event plain ALL")
    fast = await logged_in(harness)
    assert (await fast.cmd("event plain API")).raw == reply("+OK event listener enabled plain")
    for batch in range(20):
        await round_trips(fast, batch * 100, 100)
    # the slow reader fell behind (its events wait in its own queue), lost nothing, and is still there
    assert slow_conn.queued_events > 0
    assert slow_conn.total_lost_events == 0
    assert not slow_conn.closing
    assert slow_conn in harness.server.connections
    assert (await fast.cmd("api echo done")).raw == api_response("done")
    assert slow.local_port == slow_conn.peer[1]


async def test_slow_reader_is_killed_for_lost_events() -> None:
    settings = EventSocketSettings(
        listen_ip="127.0.0.1", listen_port=0, event_queue_size=50, lost_events_limit=5
    )
    async with running(settings) as harness:
        slow, slow_conn = await slow_listener(harness, "event plain ALL")
        fast = await logged_in(harness)
        assert (await fast.cmd("event plain API")).raw == reply("+OK event listener enabled plain")
        batches = 0
        while not slow_conn.closing:
            assert batches < 200, "the slow reader was never killed"
            await round_trips(fast, batches * 20, 20)
            batches += 1
        assert slow_conn.total_lost_events > 5
        # the slow client finally reads: its backlog, then FreeSWITCH's notice, then the close
        data = await slow.rest()
        assert data.endswith(LOST_EVENTS)
        frames = FrameParser().feed(data)
        assert frames[-1].body == b"killed listener because of lost events\n"
        assert all(f.content_type == "text/event-plain" for f in frames[:-1])
        await wait_for(lambda: slow_conn not in harness.server.connections)
        # everyone else goes on
        await round_trips(fast, 100_000, 50)
        other = await logged_in(harness)
        assert (await other.cmd("api echo still serving")).raw == api_response("still serving")


async def test_slow_reader_is_killed_for_lost_log_lines() -> None:
    settings = EventSocketSettings(
        listen_ip="127.0.0.1", listen_port=0, log_queue_size=50, lost_events_limit=5
    )
    async with running(settings) as harness:
        slow, slow_conn = await slow_listener(harness, "log 7")
        fast = await logged_in(harness)
        rounds = 0
        while not slow_conn.closing:
            assert rounds < 200, "the slow reader was never killed"
            await fast.send("".join(f"api log info {BIG}\n\n" for _ in range(20)))
            for _ in range(20):
                assert (await fast.frame()).raw == api_response("+OK\n")
            rounds += 1
        assert slow_conn.total_lost_logs > 5
        data = await slow.rest()
        assert data.endswith(LOST_LOGS)
        assert all(f.content_type == "log/data" for f in FrameParser().feed(data)[:-1])
        assert (await fast.cmd("api echo fine")).raw == api_response("fine")


async def test_write_that_makes_no_progress_closes_the_connection() -> None:
    settings = EventSocketSettings(listen_ip="127.0.0.1", listen_port=0, write_stall_timeout=0.3)
    async with running(settings) as harness:
        slow, slow_conn = await slow_listener(harness, "event plain ALL")
        fast = await logged_in(harness)
        assert (await fast.cmd("event plain API")).raw == reply("+OK event listener enabled plain")
        batches = 0
        transport = slow_conn.transport
        assert transport is not None
        while not slow_conn.closing and transport.get_write_buffer_size() < WRITE_HIGH_WATER:
            assert batches < 200, "the slow reader's writes never backed up"
            await round_trips(fast, batches * 20, 20)
            batches += 1
        # nothing more is sent to it; its write cannot progress, so the server lets it go
        await wait_for(lambda: slow_conn not in harness.server.connections)
        assert slow_conn.total_lost_events == 0
        await round_trips(fast, 100_000, 20)
        assert slow.local_port == slow_conn.peer[1]


async def test_killed_reader_that_reads_late_still_gets_the_notice() -> None:
    settings = EventSocketSettings(
        listen_ip="127.0.0.1", listen_port=0, event_queue_size=50, lost_events_limit=5
    )
    async with running(settings) as harness:
        slow, slow_conn = await slow_listener(harness, "event plain ALL")
        fast = await logged_in(harness)
        await fast.cmd("event plain API")
        batches = 0
        while not slow_conn.closing:
            assert batches < 200, "the slow reader was never killed"
            await round_trips(fast, batches * 20, 20)
            batches += 1
        await asyncio.sleep(1.2)  # well inside write_stall_timeout (60 s)
        data = await slow.rest()
        assert data.endswith(LOST_EVENTS)
