"""Before authentication memory and time are bounded (issue 11, item 3).

FreeSWITCH lets an unauthenticated client hold a 16 MiB partial body open for as long as it
likes once it has sent one junk packet, and takes any number of connections. Here: a packet
bigger than ``preauth-max-packet`` is refused and the connection closed, an incomplete
packet older than ``first-packet-timeout`` closes the connection, and ``max-connections``
refuses one connection too many with a notice and a log line.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from inbound_wire import GOODBYE, GREETING, Wire, api_response, logged_in, reply, running, wait_for

from esl_harness import Harness
from eventsocket.protocol.framing import FrameParser
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.log import LogLine


def settings(**changes: object) -> EventSocketSettings:
    base = EventSocketSettings(listen_ip="127.0.0.1", listen_port=0, first_packet_timeout=0.3)
    for name, value in changes.items():
        setattr(base, name, value)
    return base


async def greeted(harness: Harness) -> Wire:
    wire = await Wire.open(harness)
    assert await wire.reader.readexactly(len(GREETING)) == GREETING
    return wire


async def test_a_huge_announced_body_before_auth_is_refused_at_once() -> None:
    async with running(settings(first_packet_timeout=30.0)) as harness:
        wire = await greeted(harness)
        assert (await wire.cmd("junk")).raw == reply("-ERR command not found")
        await wire.send("auth x\nContent-Length: 16000000\n\n" + "y" * 1000)
        assert await wire.rest() == GOODBYE
        await wait_for(lambda: not harness.server.connections)


async def test_a_complete_packet_over_the_limit_is_refused_without_a_reply() -> None:
    async with running(settings(preauth_max_packet=1024)) as harness:
        wire = await greeted(harness)
        await wire.send("auth " + "x" * 2000 + "\n\n")
        assert await wire.rest() == GOODBYE


async def test_an_incomplete_packet_older_than_the_first_packet_timeout_closes() -> None:
    async with running(settings()) as harness:
        wire = await greeted(harness)
        assert (await wire.cmd("junk")).raw == reply("-ERR command not found")
        await wire.send("auth Clue")  # and nothing more
        assert await wire.rest() == GOODBYE


async def test_a_slow_but_progressing_client_is_not_cut_off() -> None:
    async with running(settings()) as harness:
        wire = await greeted(harness)
        for _ in range(4):  # each packet completes well within the timeout, the whole takes longer
            await wire.send("ju")
            await asyncio.sleep(0.1)
            assert (await wire.cmd("nk")).raw == reply("-ERR command not found")
        assert (await wire.cmd("auth ClueCon")).raw == reply("+OK accepted")


async def test_after_auth_big_packets_and_slow_packets_are_fine() -> None:
    async with running(settings(preauth_max_packet=1024)) as harness:
        wire = await greeted(harness)
        body = "z" * 200_000
        # auth and a big packet in one write: the big one is judged after the auth ran
        big_event = f"sendevent CUSTOM\nContent-Length: {len(body)}\n\n{body}"
        await wire.send(f"auth ClueCon\n\napi echo {'w' * 5000}\n\n{big_event}")
        assert (await wire.frame()).raw == reply("+OK accepted")
        assert (await wire.frame()).raw == api_response("w" * 5000)
        assert (await wire.frame()).reply_text.startswith("+OK ")
        await wire.send("api echo sl")
        await asyncio.sleep(0.5)
        assert (await wire.cmd("ow")).raw == api_response("slow")


async def test_max_connections_refuses_one_too_many_with_a_notice_and_a_log_line() -> None:
    async with running(settings(max_connections=3, first_packet_timeout=30.0)) as harness:
        logged: list[LogLine] = []
        harness.core.add_log_listener(logged.append)
        first = await logged_in(harness)
        others = [await greeted(harness) for _ in range(2)]
        refused = await Wire.open(harness)
        (frame,) = FrameParser().feed(await refused.rest())
        assert frame.content_type == "text/disconnect-notice"
        assert frame.body == b"Too many connections (max-connections 3); try again later.\n"
        assert any("max-connections 3" in line.message for line in logged)
        await first.close()
        await wait_for(lambda: len(harness.server.inbound) == 2)
        again = await logged_in(harness)  # room again
        assert (await again.cmd("api echo back")).raw == api_response("back")
        for wire in others:
            await wire.close()


def test_the_limits_are_read_from_event_socket_conf(tmp_path: Path) -> None:
    from test_settings import conf_with, param

    defaults = EventSocketSettings.from_conf(conf_with(tmp_path, ""))
    assert (defaults.max_connections, defaults.preauth_max_packet) == (2048, 65536)
    conf = conf_with(tmp_path, param("max-connections", "10") + "\n" + param("preauth-max-packet", "4096"))
    read = EventSocketSettings.from_conf(conf)
    assert (read.max_connections, read.preauth_max_packet) == (10, 4096)
