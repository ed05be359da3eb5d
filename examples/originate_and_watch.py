#!/usr/bin/env python3
"""Originate a call and watch its events go by, with the asyncio client.

    python examples/originate_and_watch.py [--port 8021] [--dial "null/1000"] [--app "&playback(...)"]

It connects, subscribes to the channel events, starts the call with ``bgapi originate``
(so the connection stays free while the call is set up), and prints every event of that
call until CHANNEL_HANGUP_COMPLETE, then the hangup cause. Against ``eventsocket serve``
the default call plays one second of silence on the ``null`` endpoint and hangs up.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import eventsocket

CHANNEL_EVENTS = (
    "CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE",
    "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "PLAYBACK_START", "PLAYBACK_STOP",
)


async def watch(host: str, port: int, password: str, dial: str, app: str, timeout: float) -> int:
    async with await eventsocket.connect(host, port, password) as conn:
        await conn.subscribe(*CHANNEL_EVENTS)
        # Our own uuid for the call, so that we can pick its events from the very first one.
        call_uuid = (await conn.api("create_uuid")).text
        job = await conn.bgapi("originate", f"{{origination_uuid={call_uuid}}}{dial} {app}")
        print(f"originating {dial} {app} as {call_uuid} (job {job.job_uuid})", flush=True)
        async with asyncio.timeout(timeout):
            async for event in conn.events():
                if event.uuid != call_uuid:
                    continue
                detail = event.get("Application") or event.get("Answer-State") or ""
                print(f"{event.name:<26} {detail}", flush=True)
                if event.name == "CHANNEL_HANGUP_COMPLETE":
                    print(f"hangup cause: {event['Hangup-Cause']}", flush=True)
                    break
        result = await job.result(timeout=5)
        print(f"originate result: {result.text}")
        return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--password", default="ClueCon")
    parser.add_argument("--dial", default="null/1000", help="dial string")
    parser.add_argument("--app", default="&playback(silence_stream://1000)",
                        help="an extension number or &application(args)")
    parser.add_argument("--timeout", type=float, default=30.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(watch(args.host, args.port, args.password, args.dial, args.app, args.timeout))
    except TimeoutError:
        print("timed out", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
