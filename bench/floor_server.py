"""A do-nothing responder: the harness's ceiling on this machine.

It speaks just enough of the protocol for figures 1 and 3, without a switch core:

* ``auth ...`` -> ``+OK accepted``; ``api ...`` -> the ``api/response`` the real server
  gives for ``api echo x`` (whatever the command was);
* ``event ...`` -> ``+OK``, and the connection becomes a subscriber;
* ``sendevent ...`` -> ``+OK``, then the request's own header lines, sent on at once as a
  ``text/event-plain`` frame to every subscriber (so ``Bench-Sent-Ns`` arrives unchanged).

Measured with the same client, it shows how many api round trips per second and how
small an event delay this machine, this Python and this client allow at all; the real
server's figures can only be worse.

Usage: ``python bench/floor_server.py PORT [asyncio|uvloop]``; prints ``ready`` when listening.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

AUTH_REQUEST = b"Content-Type: auth/request\n\n"
ACCEPTED = b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
API_X = b"Content-Type: api/response\nContent-Length: 1\n\nx"

subscribers: set[Responder] = set()


class Responder(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a TCP server's: an asyncio.Transport in effect (uvloop's do not subclass it)
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(AUTH_REQUEST)

    def connection_lost(self, exc: Exception | None) -> None:
        subscribers.discard(self)

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        if transport is None:
            return
        if data == b"api echo x\n\n" and not self.buf:  # the hot path of figure 1
            transport.write(API_X)
            return
        *requests, self.buf = (self.buf + data).split(b"\n\n")
        out = []
        for request in requests:
            request = request.lstrip(b"\r\n")
            if request.startswith(b"api "):
                out.append(API_X)
            elif request.startswith(b"auth "):
                out.append(ACCEPTED)
            elif request.startswith(b"event "):
                subscribers.add(self)
                out.append(OK)
            elif request.startswith(b"sendevent"):
                transport.write(b"".join(out) + OK)
                out.clear()
                payload = request + b"\n\n"
                frame = b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(payload), payload)
                for sub in subscribers:
                    if sub.transport is not None:
                        sub.transport.write(frame)
            elif request:
                out.append(OK)
        if out:
            transport.write(b"".join(out))


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Responder, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    port = int(sys.argv[1])
    loop = sys.argv[2] if len(sys.argv) > 2 else "uvloop"
    if loop == "uvloop":
        try:
            import uvloop

            uvloop.install()
        except ImportError:
            pass
    try:
        asyncio.run(serve(port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
