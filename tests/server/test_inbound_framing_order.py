"""Every complete packet read before a framing error runs, in order, before the close (issue 11, item 5).

FreeSWITCH reads packet by packet, so a slow command ahead of a bad ``Content-Length``
is carried out and answered before the connection goes; it must not be dropped because
the bad packet arrived in the same read.
"""

from __future__ import annotations

from inbound_wire import GOODBYE, api_response, logged_in

from esl_harness import Harness


async def test_a_slow_command_before_a_bad_content_length_is_answered(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.send("api msleep 200\n\napi echo after\n\napi echo bad\nContent-Length: 99999999999\n\n")
    assert (await wire.frame()).raw == api_response("+OK")
    assert (await wire.frame()).raw == api_response("after")
    assert await wire.rest() == GOODBYE


async def test_a_bad_packet_alone_still_closes_at_once(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.send("api echo bad\nContent-Length: -1\n\n")
    assert await wire.rest() == GOODBYE
