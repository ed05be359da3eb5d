#!/usr/bin/env python3
"""A call router written with greenswitch (gevent; tested in test_router_greenswitch.py).

Inbound calls wait in ``park``; the router, connected as an inbound event socket client,
sees each CHANNEL_PARK and sends the call on by its caller: VIP callers to the front desk
(``vip_extension``), everybody else to the queue (``queue_extension``). It counts the calls
it routed and keeps the CDR fields of every call it routed from CHANNEL_HANGUP_COMPLETE.

greenswitch is blocking (gevent), so the router runs in its own thread or process:

    python examples/testing/router_greenswitch.py --port 8021 --vip 5551234
"""

from __future__ import annotations

import argparse
import threading

import gevent
import greenswitch


class Router:
    def __init__(self, host: str, port: int, password: str, vips: set[str],
                 vip_extension: str = "7001", queue_extension: str = "7002") -> None:
        self.host, self.port, self.password = host, port, password
        self.vips = vips
        self.vip_extension = vip_extension
        self.queue_extension = queue_extension
        self.routed: dict[str, str] = {}  # uuid -> extension
        self.cdrs: list[dict[str, str]] = []
        self.ready = threading.Event()
        self.changed = threading.Condition()
        self._stop = threading.Event()

    def on_park(self, event: greenswitch.esl.ESLEvent) -> None:
        headers = event.headers
        uuid = headers.get("Unique-ID", "")
        if not uuid or uuid in self.routed:
            return
        caller = headers.get("Caller-Caller-ID-Number", "")
        extension = self.vip_extension if caller in self.vips else self.queue_extension
        self.routed[uuid] = extension
        self.fs.send(f"api uuid_transfer {uuid} {extension} XML default")

    def on_hangup(self, event: greenswitch.esl.ESLEvent) -> None:
        headers = event.headers
        if headers.get("Unique-ID") in self.routed:
            with self.changed:
                self.cdrs.append({
                    "caller": headers.get("Caller-Caller-ID-Number", ""),
                    "extension": self.routed[headers["Unique-ID"]],
                    "billsec": headers.get("variable_billsec", ""),
                    "cause": headers.get("Hangup-Cause", ""),
                })
                self.changed.notify_all()

    def wait_cdrs(self, count: int, timeout: float = 10.0) -> list[dict[str, str]]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.cdrs) >= count, timeout):
                raise TimeoutError(f"{len(self.cdrs)} of {count} CDRs")
            return list(self.cdrs)

    def run(self) -> None:
        """Connect, subscribe and route until :meth:`stop` (blocking; gevent inside)."""
        self.fs = greenswitch.InboundESL(host=self.host, port=self.port, password=self.password)
        self.fs.connect()
        self.fs.register_handle("CHANNEL_PARK", self.on_park)
        self.fs.register_handle("CHANNEL_HANGUP_COMPLETE", self.on_hangup)
        self.fs.send("events plain CHANNEL_PARK CHANNEL_HANGUP_COMPLETE")
        self.ready.set()
        while not self._stop.is_set():
            gevent.sleep(0.02)
        self.fs.stop()

    def stop(self) -> None:
        self._stop.set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--password", default="ClueCon")
    parser.add_argument("--vip", action="append", default=[])
    args = parser.parse_args()
    Router(args.host, args.port, args.password, set(args.vip)).run()


if __name__ == "__main__":
    main()
