"""python-ESL (FreeSWITCH's own libesl, SWIG binding) against eventsocket serve.

    <esl venv>/bin/python esl_driver.py inbound --host H --port P --password PW
    <esl venv>/bin/python esl_driver.py outbound --listen-port N   (then send a call to 127.0.0.1:N)

libesl is the reference parser: inbound covers ``api``, ``bgapi`` with a client-chosen and a
server-chosen job uuid, plain and json events, ``filter``, ``sendRecv`` and ``recvEventTimed``;
outbound hands an accepted socket to ``ESLconnection(fd)``.

Client quirks worked around here (libesl's, not the server's):
- ``ESLconnection::sendEvent`` (esl_oop.cpp) returns a copy of ``handle.last_ievent`` or
  ``handle.last_event``, not the reply that ``esl_sendevent``'s ``esl_send_recv`` stored in
  ``last_sr_event``: on a fresh connection that is the ``+OK accepted`` auth reply. The driver
  ignores the return value and checks that the event comes back instead.
- ``ESLconnection::events`` returns an int status (0 when the reply was ``+OK``), not the reply.
"""

from __future__ import annotations

import argparse
import socketserver
import sys
import time

import ESL
from _common import TIMEOUT, UTF8, check, fail, new_uuid, ok, originate_park, parse_args, step

CHANNEL_EVENTS = "CHANNEL_ANSWER CHANNEL_PARK CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP BACKGROUND_JOB"
KEYS = ("Event-Name", "Unique-ID", "Job-UUID", "Hangup-Cause", "Application", "Application-Response",
        "Content-Type")


def snapshot(event: ESL.ESLevent) -> dict[str, str]:
    data = {key: event.getHeader(key) for key in KEYS}
    data = {key: value for key, value in data.items() if value is not None}
    data["_body"] = event.getBody() or ""
    return data


class Events:
    """Everything recvEventTimed returned, and a wait for one event."""

    def __init__(self, con: ESL.ESLconnection) -> None:
        self.con = con
        self.seen: list[dict[str, str]] = []

    def wait(self, name: str, key: str, value: str, timeout: float = TIMEOUT) -> dict[str, str]:
        for data in self.seen:
            if data.get("Event-Name") == name and data.get(key) == value:
                return data
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = self.con.recvEventTimed(100)
            if event is None:
                check("wait", self.con.connected(), f"connection closed while waiting for {name}")
                continue
            data = snapshot(event)
            self.seen.append(data)
            if data.get("Event-Name") == name and data.get(key) == value:
                return data
        raise TimeoutError(f"no {name} with {key}={value}; saw {[d.get('Event-Name') for d in self.seen]}")

    def of(self, key: str, value: str) -> list[dict[str, str]]:
        return [d for d in self.seen if d.get(key) == value]


def reply_text(event: ESL.ESLevent | None) -> str:
    return (event.getHeader("Reply-Text") or "") if event is not None else "<no reply>"


def inbound(args: argparse.Namespace) -> None:
    port = str(args.port)
    with step("wrong-password"):
        bad = ESL.ESLconnection(args.host, port, args.password + "-wrong")
        check("wrong-password", not bad.connected(), "authenticated with a wrong password")
        bad.disconnect()
        ok("wrong-password", "connected() == 0")

    with step("connect"):
        con = ESL.ESLconnection(args.host, port, args.password)
        check("connect", con.connected(), "not connected")
        ok("connect", f"{args.host}:{port}")
    events = Events(con)

    with step("api"):
        status = con.api("status").getBody()  # libesl sends "api status " (trailing space)
        check("api", status.startswith("UP "), repr(status[:80]))
        echo = con.api("echo", f"libesl {UTF8}").getBody()
        check("api", echo == f"libesl {UTF8}", repr(echo))
        ok("api", status.splitlines()[0])

    with step("bgapi"):
        status = con.events("plain", CHANNEL_EVENTS)
        check("bgapi", status == 0, f"events() returned {status}")  # ESL_SUCCESS: the reply was +OK
        job, marker = new_uuid(), f"bg-{new_uuid()} {UTF8}"
        reply = con.bgapi("echo", marker, job)  # client-chosen Job-UUID
        check("bgapi", reply_text(reply) == f"+OK Job-UUID: {job}", reply_text(reply))
        check("bgapi", reply.getHeader("Job-UUID") == job, reply.getHeader("Job-UUID"))
        done = events.wait("BACKGROUND_JOB", "Job-UUID", job)
        check("bgapi", done["_body"] == marker, repr(done["_body"]))
        reply = con.bgapi("status")  # server-chosen Job-UUID
        chosen = reply.getHeader("Job-UUID") or ""
        check("bgapi", chosen and reply_text(reply) == f"+OK Job-UUID: {chosen}", reply_text(reply))
        check("bgapi", events.wait("BACKGROUND_JOB", "Job-UUID", chosen)["_body"].startswith("UP "), chosen)
        ok("bgapi", f"{job} {marker.split()[0]}")

    with step("events"):
        call = new_uuid()
        result = con.api("originate", originate_park(call)).getBody()
        check("events", result.strip() == f"+OK {call}", repr(result))
        answer = events.wait("CHANNEL_ANSWER", "Unique-ID", call)
        park = events.wait("CHANNEL_PARK", "Unique-ID", call)
        ok("events", f"{answer['Event-Name']} {park['Event-Name']} {call} (plain)")

    with step("filter"):
        shown, hidden = new_uuid(), new_uuid()
        reply = con.filter("Unique-ID", shown)
        check("filter", reply_text(reply) == f"+OK filter added. [Unique-ID]=[{shown}]", reply_text(reply))
        for uid in (hidden, shown):
            result = con.api("originate", originate_park(uid)).getBody()
            check("filter", result.strip() == f"+OK {uid}", repr(result))
        events.wait("CHANNEL_PARK", "Unique-ID", shown)
        for uid in (hidden, shown):
            check("filter", con.api("uuid_kill", uid).getBody().startswith("+OK"), "uuid_kill")
        events.wait("CHANNEL_HANGUP", "Unique-ID", shown)  # after the hidden call's hangup, in order
        leaked = events.of("Unique-ID", hidden)
        check("filter", not leaked, f"filtered-out events arrived: {[d.get('Event-Name') for d in leaked]}")
        reply = con.sendRecv(f"filter delete Unique-ID {shown}")
        check("filter", reply_text(reply).startswith("+OK filter deleted."), reply_text(reply))
        ok("filter", f"passed={len(events.of('Unique-ID', shown))} leaked=0")

    with step("execute"):  # inbound execute: sendmsg <uuid>
        reply = con.execute("playback", "silence_stream://100", call)
        check("execute", reply_text(reply) == "+OK", reply_text(reply))
        done = events.wait("CHANNEL_EXECUTE_COMPLETE", "Unique-ID", call)
        ok("execute", f"{done.get('Application')} {done.get('Application-Response')}")

    with step("sendevent"):  # libesl serializes the event; a CUSTOM subclass comes back to its subscriber
        subclass, marker = "interop::libesl", f"custom-{new_uuid()}"
        status = con.events("plain", f"CUSTOM {subclass}")
        check("sendevent", status == 0, f"events() returned {status}")
        event = ESL.ESLevent("CUSTOM", subclass)
        event.addHeader("Interop-Marker", marker)
        event.addBody("body text")
        con.sendEvent(event)  # its return value is stale in libesl 1.4.18 (see the module docstring)
        deadline = time.monotonic() + TIMEOUT
        got = None
        while got is None and time.monotonic() < deadline:
            received = con.recvEventTimed(100)
            if received is not None and received.getHeader("Interop-Marker") == marker:
                got = received
        if got is None:
            fail("sendevent", "the CUSTOM event did not come back")
        check("sendevent", got.getHeader("Event-Subclass") == subclass, got.getHeader("Event-Subclass"))
        check("sendevent", got.getBody() == "body text", repr(got.getBody()))
        ok("sendevent", f"CUSTOM {subclass}")

    with step("kill"):
        reply = con.sendRecv("event json CHANNEL_HANGUP")  # the rest of the connection gets json events
        check("kill", reply_text(reply) == "+OK event listener enabled json", reply_text(reply))
        result = con.api("uuid_kill", call).getBody()
        check("kill", result.startswith("+OK"), repr(result))
        hangup = events.wait("CHANNEL_HANGUP", "Unique-ID", call)
        ok("kill", f"{call} (json) {hangup.get('Hangup-Cause')}")

    with step("disconnect"):
        con.disconnect()
        check("disconnect", not con.connected(), "still connected")
        ok("disconnect")


class CallServer(socketserver.TCPServer):
    """The listener for one outbound call; ``socket_mode`` is the Socket-Mode the call must announce."""

    allow_reuse_address = True
    socket_mode = "async"


class CallHandler(socketserver.BaseRequestHandler):
    """One outbound call: libesl takes the accepted socket's fd and sends ``connect``."""

    server: CallServer
    outcome: BaseException | None = None
    handled = False

    def handle(self) -> None:
        CallHandler.handled = True
        try:
            self.run()
        except BaseException as exc:  # SystemExit from a failed step included
            CallHandler.outcome = exc

    def run(self) -> None:
        con = ESL.ESLconnection(self.request.detach())
        events = Events(con)
        with step("connect"):
            check("connect", con.connected(), "not connected")
            info = con.getInfo()
            check("connect", info is not None, "no channel data")
            mode = info.getHeader("Socket-Mode")
            check("connect", mode == self.server.socket_mode, mode)
            uid = info.getHeader("Unique-ID")
            for command in ("myevents", "linger"):
                reply = con.sendRecv(command)
                check("connect", reply_text(reply).startswith("+OK"), f"{command}: {reply_text(reply)}")
            caller, name = info.getHeader("Caller-Caller-ID-Number"), info.getHeader("Channel-Name")
            ok("connect", f"{uid} from {caller} {name}")
        with step("answer"):
            reply = con.execute("answer")
            check("answer", reply_text(reply) == "+OK", reply_text(reply))
            done = events.wait("CHANNEL_EXECUTE_COMPLETE", "Application", "answer")
            ok("answer", done["Event-Name"])
        with step("playback"):
            reply = con.execute("playback", "silence_stream://200")
            check("playback", reply_text(reply) == "+OK", reply_text(reply))
            done = events.wait("CHANNEL_EXECUTE_COMPLETE", "Application", "playback")
            ok("playback", done.get("Application-Response"))
        with step("hangup"):
            reply = con.execute("hangup", "NORMAL_CLEARING")
            check("hangup", reply_text(reply) == "+OK", reply_text(reply))
            hangup = events.wait("CHANNEL_HANGUP", "Unique-ID", uid)
            ok("hangup", hangup.get("Hangup-Cause"))
        con.disconnect()


def outbound(args: argparse.Namespace) -> None:
    with step("listen"):
        server = CallServer(("127.0.0.1", args.listen_port), CallHandler)
        server.timeout = 30
        server.socket_mode = args.socket_mode
        ok("listen", args.listen_port)
    with server:
        server.handle_request()  # one call
    if CallHandler.outcome is not None:
        raise CallHandler.outcome
    check("done", CallHandler.handled, f"no call arrived within {server.timeout} s")
    ok("done")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    if args.mode == "inbound":
        inbound(args)
    else:
        with step("outbound"):
            outbound(args)
    sys.exit(0)


if __name__ == "__main__":
    main()
