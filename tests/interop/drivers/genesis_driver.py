"""genesis (asyncio) against eventsocket serve: ``Inbound`` steps, or its ``Outbound`` server taking one call.

    python genesis_driver.py inbound --host H --port P --password PW
    python genesis_driver.py outbound --listen-port N   (then send a call to 127.0.0.1:N)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from _common import TIMEOUT, UTF8, check, fail, new_uuid, ok, originate_park, parse_args, step

CHANNEL_EVENTS = "CHANNEL_ANSWER CHANNEL_PARK CHANNEL_HANGUP BACKGROUND_JOB"


def one(value: Any) -> str:
    """genesis turns a repeated header into a list; every header used here occurs once."""
    return value[0] if isinstance(value, list) else (value or "")


class Recorder:
    """An async handler that keeps every event and wakes waiters."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.changed = asyncio.Condition()

    async def handle(self, event: Any) -> None:
        """The handler (genesis awaits coroutine functions; other callables go to a thread)."""
        async with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    async def wait(self, name: str, key: str, value: str, timeout: float = TIMEOUT) -> Any:
        def find() -> Any:
            for event in self.events:
                if one(event.get("Event-Name")) == name and one(event.get(key)) == value:
                    return event
            return None

        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(find), timeout)
            return find()

    def of(self, key: str, value: str) -> list[Any]:
        return [e for e in self.events if one(e.get(key)) == value]


async def wait_until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def inbound(args: argparse.Namespace) -> None:
    from genesis import Inbound
    from genesis.exceptions import AuthenticationError

    with step("wrong-password"):
        try:
            async with Inbound(args.host, args.port, args.password + "-wrong"):
                pass
        except AuthenticationError as exc:
            ok("wrong-password", f"{type(exc).__name__}: {exc}")
        else:
            fail("wrong-password", "authenticated with a wrong password")

    with step("connect"):
        client = Inbound(args.host, args.port, args.password)
        await asyncio.wait_for(client.start(), TIMEOUT)
        ok("connect", f"{args.host}:{args.port}")

    record = Recorder()
    for name in CHANNEL_EVENTS.split():
        client.on(name, record.handle)

    async def api(command: str) -> str:
        reply = await asyncio.wait_for(client.send(f"api {command}"), TIMEOUT)
        return str(reply.body or "")

    async def command(line: str) -> str:
        reply = await asyncio.wait_for(client.send(line), TIMEOUT)
        return one(reply.get("Reply-Text"))

    with step("api"):
        status = await api("status")
        check("api", status.startswith("UP "), repr(status[:80]))
        echo = await api(f"echo genesis {UTF8}")
        check("api", echo == f"genesis {UTF8}", repr(echo))
        ok("api", status.splitlines()[0])

    with step("bgapi"):
        reply = await command(f"event plain {CHANNEL_EVENTS}")
        check("bgapi", reply == "+OK event listener enabled plain", reply)
        marker = f"bg-{new_uuid()}"
        reply_event = await asyncio.wait_for(client.send(f"bgapi echo {marker}"), TIMEOUT)
        job = one(reply_event.get("Job-UUID"))
        replied = one(reply_event.get("Reply-Text"))
        check("bgapi", job and replied == f"+OK Job-UUID: {job}", dict(reply_event))
        done = await record.wait("BACKGROUND_JOB", "Job-UUID", job)
        check("bgapi", done.body == marker, repr(done.body))
        ok("bgapi", f"{job} {done.body}")

    with step("events"):
        call = new_uuid()
        result = await api(f"originate {originate_park(call)}")
        check("events", result.strip() == f"+OK {call}", repr(result))
        answer = await record.wait("CHANNEL_ANSWER", "Unique-ID", call)
        park = await record.wait("CHANNEL_PARK", "Unique-ID", call)
        ok("events", f"{one(answer['Event-Name'])} {one(park['Event-Name'])} {call}")

    with step("filter"):
        shown, hidden = new_uuid(), new_uuid()
        reply = await command(f"filter Unique-ID {shown}")
        check("filter", reply == f"+OK filter added. [Unique-ID]=[{shown}]", reply)
        for uid in (hidden, shown):
            result = await api(f"originate {originate_park(uid)}")
            check("filter", result.strip() == f"+OK {uid}", repr(result))
        await record.wait("CHANNEL_PARK", "Unique-ID", shown)
        for uid in (hidden, shown):
            check("filter", (await api(f"uuid_kill {uid}")).startswith("+OK"), "uuid_kill")
        await record.wait("CHANNEL_HANGUP", "Unique-ID", shown)  # after the hidden call's hangup, in order
        leaked = record.of("Unique-ID", hidden)
        check("filter", not leaked, f"filtered-out events arrived: {[e.get('Event-Name') for e in leaked]}")
        reply = await command(f"filter delete Unique-ID {shown}")
        check("filter", reply.startswith("+OK filter deleted."), reply)
        ok("filter", f"passed={len(record.of('Unique-ID', shown))} leaked=0")

    with step("execute"):  # genesis's Channel: uuid_exists + uuid_dump, then sendmsg <uuid> (blocking)
        channel = await asyncio.wait_for(client.get_channel(call), TIMEOUT)
        check("execute", channel.uuid == call, channel.uuid)
        done = await channel.playback("silence_stream://100", block=True, timeout=TIMEOUT)
        check("execute", one(done.get("Unique-ID")) == call, one(done.get("Unique-ID")))
        ok("execute", f"{one(done.get('Application'))} {one(done.get('Application-Response'))} "
                      f"(state {channel.state.name})")

    with step("kill"):
        result = await api(f"uuid_kill {call}")
        check("kill", result.startswith("+OK"), repr(result))
        hangup = await record.wait("CHANNEL_HANGUP", "Unique-ID", call)
        ok("kill", f"{call} {one(hangup.get('Hangup-Cause'))}")

    with step("channel"):  # Channel.create: "events plain ALL", create_uuid, filter, originate ... &park()
        from genesis import Channel
        from genesis.types import ChannelState

        channel = await asyncio.wait_for(Channel.create(client, "null/1000"), TIMEOUT)
        await asyncio.wait_for(wait_until(lambda: channel.state == ChannelState.EXECUTE), TIMEOUT)
        done = await channel.playback("silence_stream://100", block=True, timeout=TIMEOUT)
        check("channel", one(done.get("Application-Response")) == "FILE PLAYED", dict(done))
        reply = await channel.hangup("NORMAL_CLEARING")  # api uuid_kill <uuid> NORMAL_CLEARING
        check("channel", str(reply.body or "").startswith("+OK"), repr(reply.body))
        await asyncio.wait_for(wait_until(lambda: channel.state == ChannelState.DESTROY), TIMEOUT)
        ok("channel", f"{channel.uuid} EXECUTE playback DESTROY")

    with step("disconnect"):
        await asyncio.wait_for(client.stop(), TIMEOUT)
        ok("disconnect")


async def outbound(args: argparse.Namespace) -> None:
    from genesis import Outbound, Session

    finished: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def handler(session: Session) -> None:
        # Outbound has sent: connect, "filter Unique-ID <uuid>", "event plain all", linger
        try:
            with step("connect"):
                ctx = session.context
                check("connect", ctx.get("Socket-Mode") == args.socket_mode, ctx.get("Socket-Mode"))
                caller, name = ctx.get("Caller-Caller-ID-Number"), ctx.get("Channel-Name")
                ok("connect", f"{session.uuid} from {caller} {name}")
            with step("answer"):
                done = await session.sendmsg("execute", "answer", block=True, timeout=TIMEOUT)
                ok("answer", one(done["Event-Name"]))
            with step("playback"):
                done = await session.sendmsg("execute", "playback", "silence_stream://200", block=True,
                                             timeout=TIMEOUT)
                ok("playback", one(done.get("Application-Response")))
            with step("hangup"):
                hung = asyncio.Event()

                async def on_hangup(event: Any) -> None:
                    hung.set()

                session.on("CHANNEL_HANGUP", on_hangup)
                reply = await session.sendmsg("hangup", "hangup", "NORMAL_CLEARING")  # call-command: hangup
                check("hangup", one(reply.get("Reply-Text")).startswith("+OK"), dict(reply))
                await asyncio.wait_for(hung.wait(), TIMEOUT)
                ok("hangup", "NORMAL_CLEARING")
            finished.set_result(None)
        except BaseException as exc:  # SystemExit from a failed step included
            finished.set_result(exc)

    server = Outbound(handler, host="127.0.0.1", port=args.listen_port)
    with step("listen"):
        await server.start(block=False)
        ok("listen", args.listen_port)
    outcome = await asyncio.wait_for(finished, 30)
    await server.stop()
    if outcome is not None:
        raise outcome
    ok("done")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    logging.getLogger("genesis").setLevel(logging.WARNING)
    if args.mode == "inbound":
        asyncio.run(inbound(args))
    else:
        with step("outbound"):
            asyncio.run(outbound(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
