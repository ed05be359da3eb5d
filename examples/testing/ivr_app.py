#!/usr/bin/env python3
"""An IVR written with eventsocket's own client, in outbound mode (tested in test_ivr_app.py).

A caller reaches the dialplan's ``socket`` application; the IVR answers and plays a menu:

- ``1``: hear the opening hours, then goodbye;
- ``2``: be connected to an agent (``sim/agent`` here; ``sofia/...`` in production);
- anything else, or nothing: the menu again, three times, then goodbye.

The application only speaks the event socket, so it runs unchanged against FreeSWITCH:

    python examples/testing/ivr_app.py --port 8084     # with a dialplan sending calls here
"""

from __future__ import annotations

import argparse
import asyncio

import eventsocket
from eventsocket.client import OutboundCall

MENU = "ivr/menu.wav"
HOURS = "ivr/opening_hours.wav"
GOODBYE = "ivr/goodbye.wav"
AGENT = "sim/agent"


async def ivr(call: OutboundCall) -> None:
    """Handle one call."""
    await call.answer()
    await call.set("ivr_entered", "true")
    for _ in range(3):
        if call.hungup:  # the caller left: nothing more to do
            return
        choice = await call.play_and_get_digits(1, 1, 1, 5000, "#", MENU, variable="ivr_choice")
        if choice == "1":
            await call.playback(HOURS)
            break
        if choice == "2":
            await call.set("hangup_after_bridge", "true")
            await call.bridge(AGENT)
            return
    await call.playback(GOODBYE)
    await call.hangup()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8084)
    args = parser.parse_args()
    async with eventsocket.OutboundServer(ivr, args.host, args.port) as server:
        print(f"listening on {server.host}:{server.port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
