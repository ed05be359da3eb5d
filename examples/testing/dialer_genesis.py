#!/usr/bin/env python3
"""A campaign dialer written with genesis (tested in test_dialer_genesis.py).

It dials each number of a list with ``bgapi originate``, at most ``concurrency`` at a
time. When a number answers, the dialer reacts to CHANNEL_ANSWER at once: it plays the
campaign message to the person who answered and hangs up after it. It reports, per
number, ``answered``, ``busy``, ``no answer`` or the failure cause, and each answered
call's talk time (``billsec`` of its CDR).

    python examples/testing/dialer_genesis.py --port 8021 sofia/gateway/gw/5551001 ...
"""

from __future__ import annotations

import argparse
import asyncio
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any

from genesis import Inbound

MESSAGE = "campaign/message.wav"
OUTCOMES = {"USER_BUSY": "busy", "NO_ANSWER": "no answer", "NO_USER_RESPONSE": "no answer"}


def _one(value: Any) -> str:
    """genesis turns a repeated header into a list; the ones read here occur once."""
    return str(value[0] if isinstance(value, list) else (value or ""))


@dataclass
class Dialer:
    host: str
    port: int
    password: str
    concurrency: int = 2
    ring_timeout: int = 30
    message: str = MESSAGE
    results: dict[str, str] = field(default_factory=dict)
    talk_time: dict[str, int] = field(default_factory=dict)
    _numbers: dict[str, str] = field(default_factory=dict)  # call uuid -> number
    _done: dict[str, asyncio.Event] = field(default_factory=dict)

    async def run(self, destinations: list[str]) -> dict[str, str]:
        """Dial every destination; returns ``{destination: outcome}``."""
        async with Inbound(self.host, self.port, self.password) as client:
            self._client = client
            client.on("CHANNEL_ANSWER", self._on_answer)
            client.on("CHANNEL_HANGUP_COMPLETE", self._on_hangup)
            await client.send("event plain CHANNEL_ANSWER CHANNEL_HANGUP_COMPLETE")
            slots = asyncio.Semaphore(self.concurrency)
            await asyncio.gather(*(self._dial(client, slots, dest) for dest in destinations))
        return self.results

    async def _dial(self, client: Inbound, slots: asyncio.Semaphore, destination: str) -> None:
        async with slots:
            call_uuid = str(uuidlib.uuid4())
            self._numbers[call_uuid] = destination
            self._done[call_uuid] = asyncio.Event()
            reply = await client.send(
                f"api originate {{origination_uuid={call_uuid},originate_timeout={self.ring_timeout},"
                f"ignore_early_media=true}}{destination} &park()"
            )
            body = str(reply.body or "").strip()
            if not body.startswith("+OK"):
                cause = body.removeprefix("-ERR ").strip()
                self.results[destination] = OUTCOMES.get(cause, cause.lower())
                return
            self.results[destination] = "answered"
            await self._done[call_uuid].wait()

    async def _on_answer(self, event: Any) -> None:
        call_uuid = _one(event.get("Unique-ID"))
        if call_uuid in self._numbers:
            # the far end picked up: play the message, then hang up
            await self._client.send(f"api uuid_broadcast {call_uuid} playback::{self.message} aleg")
            await self._client.send(f"api uuid_broadcast {call_uuid} hangup::NORMAL_CLEARING aleg")

    async def _on_hangup(self, event: Any) -> None:
        call_uuid = _one(event.get("Unique-ID"))
        destination = self._numbers.get(call_uuid)
        if destination is None:
            return
        billsec = _one(event.get("variable_billsec"))
        if billsec.isdigit():
            self.talk_time[destination] = int(billsec)
        done = self._done.get(call_uuid)
        if done is not None:
            done.set()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--password", default="ClueCon")
    parser.add_argument("destinations", nargs="+")
    args = parser.parse_args()
    dialer = Dialer(args.host, args.port, args.password)
    for destination, outcome in (await dialer.run(args.destinations)).items():
        print(destination, outcome, dialer.talk_time.get(destination, ""))


if __name__ == "__main__":
    asyncio.run(main())
