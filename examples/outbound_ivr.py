#!/usr/bin/env python3
"""An IVR in outbound mode with ``eventsocket.OutboundServer``.

The switch runs the dialplan application ``socket 127.0.0.1:8084 async full`` and
connects here; the handler answers, asks for digits, reads them back and hangs up.

    python examples/outbound_ivr.py [--port 8084] [--calls N]
    eventsocket serve        # its default dialplan sends extension 5000 to 127.0.0.1:8084

then, from an inbound connection (or ``eventsocket console``)::

    api originate null/1000 '&socket(127.0.0.1:8084 async full)'
    api uuid_recv_dtmf <uuid> 1234#

``--port 0`` picks a free port; the first line printed is ``listening on HOST:PORT``.
``--calls N`` exits after N calls (the default is to serve forever).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import eventsocket
from eventsocket.client import OutboundCall

PROMPT = "silence_stream://500"


async def ivr(call: OutboundCall) -> None:
    caller = call.data.get("Caller-Caller-ID-Number", "unknown")
    print(f"call {call.uuid} from {caller} ({call.mode} mode)", flush=True)
    await call.answer()
    digits = await call.play_and_get_digits(1, 8, 3, 5000, "#", PROMPT, variable="ivr_digits")
    print(f"collected digits: {digits}", flush=True)
    if digits:
        await call.set("ivr_result", f"got {digits}")
        await call.playback("silence_stream://200")
    await call.hangup()
    await call.wait_hangup(timeout=5)
    print(f"call {call.uuid} done", flush=True)


async def serve(host: str, port: int, calls: int | None) -> None:
    finished: asyncio.Queue[str] = asyncio.Queue()

    async def handler(call: OutboundCall) -> None:
        try:
            await ivr(call)
        finally:
            finished.put_nowait(call.uuid)

    async with eventsocket.OutboundServer(handler, host, port) as server:
        print(f"listening on {server.host}:{server.port}", flush=True)
        if calls is None:
            await asyncio.Event().wait()  # serve until interrupted
        for _ in range(calls or 0):
            await finished.get()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8084)
    parser.add_argument("--calls", type=int, default=None, help="exit after this many calls")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, args.calls))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
