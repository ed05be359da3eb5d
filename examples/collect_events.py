#!/usr/bin/env python3
"""Collect events into a file, one JSON object per line, with the blocking client.

    python examples/collect_events.py events.jsonl [--events CHANNEL_CREATE CHANNEL_HANGUP ...]
                                      [--count N] [--seconds S] [--port 8021]

Each line holds the event's headers (decoded, in order) and its body::

    {"Event-Name": "CHANNEL_CREATE", "Unique-ID": "...", ..., "_body": null}

It stops after ``--count`` events, after ``--seconds`` without a new event, or on Ctrl-C,
and prints how many events it wrote (and how many the bounded queue had to drop, if the
disk could not keep up).
"""

from __future__ import annotations

import argparse
import json
import sys

from eventsocket import sync


def collect(path: str, names: list[str], count: int | None, seconds: float, host: str, port: int,
            password: str) -> int:
    written = 0
    with sync.connect(host, port, password) as conn, open(path, "w", encoding="utf-8") as out:
        conn.subscribe(*names)
        print(f"subscribed to {' '.join(names)}; writing to {path}", flush=True)
        try:
            for event in conn.events(timeout=seconds):
                record: dict[str, str | None] = dict(event.to_dict())
                record["_body"] = event.body
                out.write(json.dumps(record) + "\n")
                out.flush()
                written += 1
                if count is not None and written >= count:
                    break
        except KeyboardInterrupt:
            pass
        dropped = conn.connection.events().dropped
    print(f"wrote {written} events" + (f" ({dropped} dropped)" if dropped else ""), flush=True)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", help="the file to write (JSON lines)")
    parser.add_argument("--events", nargs="+", default=["ALL"], help="event names (default: ALL)")
    parser.add_argument("--count", type=int, default=None, help="stop after this many events")
    parser.add_argument("--seconds", type=float, default=10.0, help="stop after this long without events")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--password", default="ClueCon")
    args = parser.parse_args(argv)
    collect(args.path, args.events, args.count, args.seconds, args.host, args.port, args.password)
    return 0


if __name__ == "__main__":
    sys.exit(main())
