#!/usr/bin/env python3
"""A tiny IVR in outbound mode, using only the standard library.

The switch runs the dialplan application ``socket 127.0.0.1:8084 async full`` and
connects to this program, which then drives the call: it answers, plays a prompt,
collects digits with ``play_and_get_digits``, logs them and hangs up.

Run it against ``eventsocket serve`` (whose default dialplan sends extension 5000 here)::

    python examples/outbound_ivr_stdlib.py            # listens on 127.0.0.1:8084
    eventsocket serve                                 # in another terminal

then place a call from an inbound connection (``nc 127.0.0.1 8021``, a blank line
after each command)::

    auth ClueCon
    api originate loopback/5000 &park()
    api uuid_send_dtmf <uuid printed by originate> 1234#

``api originate null/1000 '&socket(127.0.0.1:8084 async full)'`` reaches it without
the dialplan. Options: ``--host``, ``--port`` (0 picks a free port), ``--prompt``
(``silence_stream://500`` by default, or e.g. ``tone_stream://%(500,0,440)``) and
``--calls N`` (exit after N calls); or the environment variables IVR_HOST, IVR_PORT,
IVR_PROMPT.
"""

import argparse
import asyncio
import logging
import os
import sys
import uuid
from urllib.parse import unquote

log = logging.getLogger("ivr")
Headers = dict[str, str]


class Call:
    """One outbound connection: replies and events come in on the same socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.replies: asyncio.Queue[Headers] = asyncio.Queue()
        self.events: asyncio.Queue[Headers] = asyncio.Queue()

    async def read_frames(self) -> None:
        """Sort the switch's frames into replies and events; a DISCONNECT event at the end."""
        try:
            while True:
                head = await self.reader.readuntil(b"\n\n")
                headers = parse_headers(head.decode())
                length = int(headers.get("Content-Length", 0))
                body = (await self.reader.readexactly(length)).decode() if length else ""
                kind = headers.get("Content-Type", "")
                if kind in ("command/reply", "api/response"):
                    await self.replies.put(headers)
                elif kind == "text/event-plain":
                    await self.events.put(parse_headers(body))
                elif kind == "text/disconnect-notice":
                    await self.events.put({"Event-Name": "DISCONNECT", **headers})
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.events.put({"Event-Name": "DISCONNECT", "Content-Disposition": "disconnect"})

    async def command(self, text: str) -> Headers:
        self.writer.write(text.encode() + b"\n\n")
        await self.writer.drain()
        return await self.replies.get()

    async def execute(self, app: str, arg: str = "") -> Headers:
        """Run a dialplan application on the call; wait for its CHANNEL_EXECUTE_COMPLETE."""
        app_uuid = str(uuid.uuid4())
        await self.command(f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n"
                           f"execute-app-arg: {arg}\nevent-lock: true\nevent-uuid: {app_uuid}")
        while True:
            event = await self.events.get()
            name = event.get("Event-Name")
            if name == "DISCONNECT":  # the caller hung up first
                self.events.put_nowait(event)
                return {}
            if name == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application-UUID") == app_uuid:
                return event


def parse_headers(text: str) -> Headers:
    """``Name: value`` lines up to the first blank line; values are URL-decoded."""
    headers: Headers = {}
    for line in text.split("\n\n", 1)[0].split("\n"):
        name, sep, value = line.partition(": ")
        if sep:
            headers[name] = unquote(value)
    return headers


async def handle_call(call: Call, prompt: str) -> None:
    pump = asyncio.create_task(call.read_frames())
    channel = await call.command("connect")  # the reply carries the whole channel data
    log.info("call %s from %s to %s", channel["Unique-ID"], channel.get("Caller-Caller-ID-Number"),
             channel.get("Caller-Destination-Number"))
    await call.command("myevents")  # this call's events
    await call.command("linger")    # keep the socket after hangup, until we say exit
    await call.execute("answer")
    # plays the prompt, then collects 1 to 8 digits ended by # into the variable ivr_digits
    done = await call.execute("play_and_get_digits",
                              f"1 8 1 5000 # {prompt} silence_stream://250 ivr_digits \\d+ 3000")
    digits = done.get("variable_ivr_digits", "")
    print(f"collected digits: {digits or '(none)'}", flush=True)
    await call.command("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
    while True:  # the events of the hangup, then the disconnect notices
        event = await call.events.get()
        if event.get("Event-Name") != "DISCONNECT":
            continue
        if event.get("Content-Disposition") == "linger":
            call.writer.write(b"exit\n\n")  # the switch answers +OK bye and says goodbye
            continue
        break
    call.writer.close()
    await pump


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("IVR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("IVR_PORT", "8084")))
    parser.add_argument("--prompt", default=os.environ.get("IVR_PROMPT", "silence_stream://500"))
    parser.add_argument("--calls", type=int, default=0, help="exit after this many calls (0: never)")
    args = parser.parse_args()
    finished = asyncio.Event()
    count = 0

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        try:
            await handle_call(Call(reader, writer), args.prompt)
        except Exception:
            log.exception("call failed")
        finally:
            writer.close()
        count += 1
        if args.calls and count >= args.calls:
            finished.set()

    server = await asyncio.start_server(on_connection, args.host, args.port)
    host, port = server.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    async with server:
        await finished.wait()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(message)s")
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(0)
