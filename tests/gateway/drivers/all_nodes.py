"""A third-party client (greenswitch or genesis), unchanged, subscribed through the gateway.

    python all_nodes.py greenswitch|genesis HOST PORT PASSWORD NODES

Subscribes to CHANNEL_CREATE, prints ``READY``, then waits until it has seen
CHANNEL_CREATE events from NODES distinct Core-UUIDs and prints them as one JSON line:
``{"cores": [...], "uuids": [...]}``. Exits 1 on timeout.
"""

from __future__ import annotations

import json
import sys
import time

TIMEOUT = 30.0


def greenswitch_main(host: str, port: int, password: str, nodes: int) -> int:
    import gevent
    import greenswitch

    seen: dict[str, str] = {}

    def on_create(event: greenswitch.esl.ESLEvent) -> None:
        seen.setdefault(event.headers.get("Core-UUID", ""), event.headers.get("Unique-ID", ""))

    fs = greenswitch.InboundESL(host=host, port=port, password=password)
    fs.connect()
    fs.register_handle("CHANNEL_CREATE", on_create)
    reply = fs.send("event plain CHANNEL_CREATE")
    if not str(reply.headers.get("Reply-Text", "")).startswith("+OK"):
        print("subscription refused", reply.headers, flush=True)
        return 1
    print("READY", flush=True)
    deadline = time.monotonic() + TIMEOUT
    while len(seen) < nodes and time.monotonic() < deadline:
        gevent.sleep(0.05)
    print(json.dumps({"cores": sorted(seen), "uuids": sorted(seen.values())}), flush=True)
    fs.stop()
    return 0 if len(seen) >= nodes else 1


def genesis_main(host: str, port: int, password: str, nodes: int) -> int:
    import asyncio

    from genesis import ESLEvent, Inbound

    async def run() -> int:
        seen: dict[str, str] = {}
        async with Inbound(host, port, password) as client:

            async def on_create(event: ESLEvent) -> None:
                get = event.get
                seen.setdefault(get("Core-UUID", ""), get("Unique-ID", ""))

            client.on("CHANNEL_CREATE", on_create)
            await client.send("event plain CHANNEL_CREATE")
            print("READY", flush=True)
            deadline = time.monotonic() + TIMEOUT
            while len(seen) < nodes and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        print(json.dumps({"cores": sorted(seen), "uuids": sorted(seen.values())}), flush=True)
        return 0 if len(seen) >= nodes else 1

    return asyncio.run(run())


if __name__ == "__main__":
    which, host, port, password, count = sys.argv[1:6]
    main = greenswitch_main if which == "greenswitch" else genesis_main
    sys.exit(main(host, int(port), password, int(count)))
