"""Framing abuse, pipelining, line endings, the first-packet timeout and shutdown (§1, §2.4)."""

from __future__ import annotations

import asyncio
import random

import pytest
from inbound_wire import (
    GOODBYE,
    GREETING,
    SHUTDOWN,
    Harness,
    Wire,
    api_response,
    logged_in,
    plain_lines,
    reply,
    running,
    wait_for,
)

from eventsocket.protocol.framing import FrameParser
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.log import LogLine

# -- Content-Length ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "16777217", "-100", "99999999999"])
@pytest.mark.parametrize("authenticated", [True, False])
async def test_out_of_range_content_length_closes(harness: Harness, value: str, authenticated: bool) -> None:
    lines: list[LogLine] = []
    harness.core.add_log_listener(lines.append)
    wire = await Wire.open(harness)
    if authenticated:
        await wire.login()
    else:
        await wire.reader.readexactly(len(GREETING))
    await wire.send(f"api echo x\nContent-Length: {value}\n\napi echo never\n\n")
    assert await wire.rest() == GOODBYE
    assert f"Rejecting Content-Length '{value}' (out of range)\n" in [line.message for line in lines]
    # the server is unharmed
    other = await logged_in(harness)
    assert (await other.cmd("api echo fine")).raw == api_response("fine")


async def test_largest_content_length_is_accepted(harness: Harness) -> None:
    wire = await logged_in(harness)
    body = b"z" * 16777216
    await wire.send(b"api echo big\nContent-Length: 16777216\n\n" + body + b"api echo next\n\n")
    assert (await wire.frame(timeout=30)).raw == api_response("big")
    assert (await wire.frame()).raw == api_response("next")


async def test_large_body_is_delivered_whole(harness: Harness) -> None:
    listener = await logged_in(harness)
    assert (await listener.cmd("event plain CUSTOM")).raw == reply("+OK event listener enabled plain")
    sender = await logged_in(harness)
    body = "".join(chr(ord("a") + i % 26) for i in range(1 << 20))
    await sender.send(f"sendevent CUSTOM\nContent-Length: {len(body)}\n\n{body}")
    assert (await sender.frame()).reply_text.startswith("+OK ")
    event = (await listener.frame()).event()
    assert event.body == body


@pytest.mark.parametrize("value", ["abc", "", "  ", "x12"])
async def test_non_numeric_content_length_means_no_body(harness: Harness, value: str) -> None:
    wire = await logged_in(harness)
    await wire.send(f"api echo x\nContent-Length: {value}\n\napi echo y\n\n")
    assert (await wire.frame()).raw == api_response("x")
    assert (await wire.frame()).raw == api_response("y")


async def test_body_is_cut_at_the_first_nul(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.cmd("event plain CUSTOM")
    await wire.send(b"sendevent CUSTOM\nContent-Length: 5\n\nab\0cd")
    assert (await wire.frame()).reply_text.startswith("+OK ")
    msg = await wire.frame()
    assert msg.body.endswith(b"\nContent-Length: 2\n\nab")
    assert "Content-Length: 5" in plain_lines(msg)  # the client's own header is forwarded
    # the bytes after the NUL were part of the body, not a new command
    assert (await wire.cmd("api echo after")).raw == api_response("after")


# -- header parsing ---------------------------------------------------------------------------------


async def test_header_line_rules(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.cmd("event plain CUSTOM")
    await wire.send(
        "sendevent CUSTOM\nno colon here\nSp : x\nLead:    spaces\nTrail: t  \nTab:\tv\n"
        "Gone: 1\nGone:\nDup: 1\nDup: 2\nEmpty:\n\n"
    )
    assert (await wire.frame()).reply_text.startswith("+OK ")
    lines = plain_lines(await wire.frame())
    assert lines[1:7] == ["Sp : x", "Lead: spaces", "Trail: t%20%20", "Tab: %09v", "Dup: 1", "Dup: 2"]
    assert not any(line.startswith(("Gone", "Empty", "no colon")) for line in lines)


# -- clients that go away or talk nonsense -------------------------------------------------------------


@pytest.mark.parametrize(
    "partial",
    [
        b"api echo hal",
        b"api echo half\nFoo: ba",
        b"api echo half\n",
        b"sendevent CUSTOM\nContent-Length: 100\n\nonly part of the body",
        b"sendevent CUSTOM\nContent-Length: 100\n\n",
    ],
)
@pytest.mark.parametrize("authenticated", [True, False])
async def test_client_disconnecting_mid_frame(harness: Harness, partial: bytes, authenticated: bool) -> None:
    watcher = await logged_in(harness)
    await watcher.cmd("event plain ALL")
    wire = await Wire.open(harness)
    if authenticated:
        await wire.login()
    else:
        await wire.reader.readexactly(len(GREETING))
    await wire.send(partial)
    await wire.close()
    await wait_for(lambda: len(harness.server.connections) == 1)
    # nothing of the unfinished packet was run, and everyone else is served
    other = await logged_in(harness)
    assert (await other.cmd("api echo alive")).raw == api_response("alive")
    assert (await watcher.frame()).event()["API-Command-Argument"] == "alive"
    assert (await watcher.ask("api echo still")).raw == api_response("still")
    event = (await watcher.frame()).event()
    assert watcher.backlog == []
    assert event["API-Command-Argument"] == "still"


async def test_half_closed_client_still_gets_its_replies(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.send("api echo one\n\napi echo two\n\n")
    wire.writer.write_eof()
    assert (await wire.frame()).raw == api_response("one")
    assert (await wire.frame()).raw == api_response("two")


async def test_client_half_close_gets_the_goodbye_notice(harness: Harness) -> None:
    wire = await logged_in(harness)
    wire.writer.write_eof()
    assert await wire.rest() == GOODBYE


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("authenticated", [True, False])
async def test_random_garbage(harness: Harness, seed: int, authenticated: bool) -> None:
    rng = random.Random(seed)
    wire = await Wire.open(harness)
    if authenticated:
        await wire.login()
    else:
        await wire.reader.readexactly(len(GREETING))
    garbage = bytes(rng.randrange(256) for _ in range(64 * 1024))
    garbage += b"".join(
        rng.choice([b"\n", b"\r\n", b"\n\n", b": ", b"api ", b"event ", b"\0"]) for _ in range(3000)
    )
    try:
        await wire.send(garbage)
        wire.writer.write_eof()
        data = await wire.rest()
    except ConnectionResetError:
        data = b""
    frames = FrameParser().feed(data)  # whatever came back is well framed
    # ("event api" can come out of the garbage, so API events may follow)
    kinds = {f.content_type for f in frames}
    assert kinds <= {
        "command/reply",
        "api/response",
        "text/disconnect-notice",
        "text/event-plain",
        "log/data",
    }
    assert frames and frames[0].content_type in ("command/reply", "api/response")
    await wait_for(lambda: not harness.server.connections)
    other = await logged_in(harness)
    assert (await other.cmd("api echo survived")).raw == api_response("survived")


async def test_many_clients_at_once(harness: Harness) -> None:
    async def session(i: int) -> list[bytes]:
        wire = await logged_in(harness)
        await wire.send("".join(f"api echo {i}-{n}\n\n" for n in range(20)))
        return [(await wire.frame()).body for _ in range(20)]

    results = await asyncio.gather(*(session(i) for i in range(40)))
    for i, bodies in enumerate(results):
        assert bodies == [f"{i}-{n}".encode() for n in range(20)]


# -- pipelining and line endings ------------------------------------------------------------------------


async def test_many_pipelined_commands_answered_in_order(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.send("".join(f"api echo {i}\n\n" for i in range(1000)))
    for i in range(1000):
        assert (await wire.frame()).raw == api_response(str(i))


async def test_pipelined_mixed_commands(harness: Harness) -> None:
    wire = await Wire.open(harness)
    await wire.send(
        "auth ClueCon\n\nfilter A b\n\napi echo x\n\nnope\n\nlog err\n\nbgapi echo y\nJob-UUID: p\n\n"
        "api msleep 5\n\nnolog\n\nexit\n\napi echo too-late\n\n"
    )
    assert await wire.rest() == GREETING + b"".join(
        [
            reply("+OK accepted"),
            reply("+OK filter added. [A]=[b]"),
            api_response("x"),
            reply("-ERR command not found"),
            reply("+OK log level err [3]"),
            reply("+OK Job-UUID: p", ("Job-UUID", "p")),
            api_response("+OK"),
            reply("+OK no longer logging"),
            reply("+OK bye"),
            GOODBYE,
        ]
    )


async def test_pipelined_across_tiny_writes(harness: Harness) -> None:
    wire = await logged_in(harness)
    data = b"api echo a\n\napi echo b\r\n\r\nsendevent CUSTOM\nContent-Length: 3\n\nxyzapi echo c\n\n"
    for i in range(len(data)):
        await wire.send(data[i : i + 1])
    assert (await wire.frame()).raw == api_response("a")
    assert (await wire.frame()).raw == api_response("b")
    assert (await wire.frame()).reply_text.startswith("+OK ")
    assert (await wire.frame()).raw == api_response("c")


async def test_crlf(harness: Harness) -> None:
    wire = await Wire.open(harness)
    await wire.reader.readexactly(len(GREETING))
    await wire.send("auth ClueCon\r\n\r\n")
    assert (await wire.frame()).raw == reply("+OK accepted")
    await wire.send("api echo hi\r\n\r\n")
    assert (await wire.frame()).raw == api_response("hi")
    await wire.send("bgapi echo x\r\nJob-UUID: crlf\r\n\r\n")
    assert (await wire.frame()).raw == reply("+OK Job-UUID: crlf", ("Job-UUID", "crlf"))
    await wire.send("filter X-Name  a b\r\n\r\n")
    assert (await wire.frame()).raw == reply("+OK filter added. [X-Name]=[ a b]")


@pytest.mark.parametrize("ending", ["\n\r\n", "\n\r\r\n", "\r\n\n"])
async def test_other_packet_ends(harness: Harness, ending: str) -> None:
    wire = await logged_in(harness)
    await wire.send(f"api echo end{ending}api echo next\n\n")
    assert (await wire.frame()).raw == api_response("end")
    assert (await wire.frame()).raw == api_response("next")


async def test_mixed_line_endings_are_fixed(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.send("api echo hi\nFoo: bar\r\n\r\n")
    assert (await wire.frame()).raw == api_response("hi")
    await wire.cmd("event plain BACKGROUND_JOB")
    await wire.send("bgapi echo mixed\nJob-UUID: mixed-id\r\n\r\n")
    assert (await wire.frame()).raw == reply("+OK Job-UUID: mixed-id", ("Job-UUID", "mixed-id"))
    assert (await wire.frame()).event()["Job-UUID"] == "mixed-id"


async def test_leading_blank_lines_are_skipped(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.send("\r\n\n\r\n\napi echo x\n\n\n\n\r\napi echo y\n\n")
    assert (await wire.frame()).raw == api_response("x")
    assert (await wire.frame()).raw == api_response("y")
    assert (await wire.cmd("api echo z")).raw == api_response("z")


# -- first-packet timeout ---------------------------------------------------------------------------------


def quick_timeout() -> EventSocketSettings:
    return EventSocketSettings(listen_ip="127.0.0.1", listen_port=0, first_packet_timeout=0.2)


async def test_first_packet_timeout_sends_goodbye_and_closes() -> None:
    async with running(quick_timeout()) as harness:
        wire = await Wire.open(harness)
        assert await wire.rest() == GREETING + GOODBYE


async def test_partial_first_packet_does_not_stop_the_timeout() -> None:
    async with running(quick_timeout()) as harness:
        wire = await Wire.open(harness)
        await wire.reader.readexactly(len(GREETING))
        await wire.send("auth Clue")
        assert await wire.rest() == GOODBYE


async def test_no_timeout_after_the_first_packet_even_unauthenticated() -> None:
    async with running(quick_timeout()) as harness:
        wire = await Wire.open(harness)
        await wire.reader.readexactly(len(GREETING))
        assert (await wire.cmd("hello")).raw == reply("-ERR command not found")
        await asyncio.sleep(0.5)  # more than twice the first-packet limit
        assert (await wire.cmd("auth ClueCon")).raw == reply("+OK accepted")
        authed = await logged_in(harness)
        await asyncio.sleep(0.5)
        assert (await authed.cmd("api echo awake")).raw == api_response("awake")
        assert (await wire.cmd("api echo awake")).raw == api_response("awake")


# -- shutdown --------------------------------------------------------------------------------


async def test_shutdown_notifies_every_connection(harness: Harness) -> None:
    authed = await logged_in(harness)
    listening = await logged_in(harness)
    await listening.cmd("event plain ALL")
    await listening.cmd("log 7")
    fresh = await Wire.open(harness)
    await fresh.reader.readexactly(len(GREETING))
    await harness.server.stop()
    assert await authed.rest() == SHUTDOWN
    assert await fresh.rest() == SHUTDOWN
    assert (await listening.rest()).endswith(SHUTDOWN)
    assert (
        SHUTDOWN
        == b"Content-Type: text/disconnect-notice\nContent-Length: 31\n\nThe system is being shut down.\n"
    )
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", harness.port)
