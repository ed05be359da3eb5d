"""greenswitch (gevent) against eventsocket serve: inbound steps, or its OutboundESLServer taking one call.

    python greenswitch_driver.py inbound --host H --port P --password PW
    python greenswitch_driver.py outbound --listen-port N   (then send a call to 127.0.0.1:N)

Client quirks worked around here (greenswitch's, not the server's):
- ``ESLEvent.parse_data`` folds the body of a plain event into the last header before the
  blank line (``Content-Length``), so a BACKGROUND_JOB result is read from there.
- After a failed ``auth``, ``stop()`` sends ``exit`` unless the goodbye notice was already
  handled; the server has closed by then, and greenswitch never fails a command whose reply
  cannot come (its receive greenlet just ends at EOF), so ``stop()`` would hang. The driver
  waits for the goodbye notice (which clears ``connected``) before calling ``stop()``.
  greenswitch also reads no body for ``text/disconnect-notice`` and parses the goodbye text
  as header lines; harmless, the socket is closing.
"""

from __future__ import annotations

import argparse
import sys

import gevent
import gevent.event
import greenswitch
from _common import TIMEOUT, UTF8, check, fail, new_uuid, ok, originate_park, parse_args, step

CHANNEL_EVENTS = "CHANNEL_ANSWER CHANNEL_PARK CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP BACKGROUND_JOB"


class Recorder:
    """Keeps every event the handlers get and wakes whoever waits for one."""

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []
        self.changed = gevent.event.Event()

    def __call__(self, event: greenswitch.esl.ESLEvent) -> None:
        self.events.append(event.headers)
        self.changed.set()

    def wait(self, name: str, key: str, value: str, timeout: float = TIMEOUT) -> dict[str, str]:
        deadline = gevent.get_hub().loop.now() + timeout
        while True:
            for headers in self.events:
                if headers.get("Event-Name") == name and headers.get(key) == value:
                    return headers
            left = deadline - gevent.get_hub().loop.now()
            if left <= 0:
                raise TimeoutError(f"no {name} with {key}={value}")
            self.changed.clear()
            self.changed.wait(left)

    def of(self, key: str, value: str) -> list[dict[str, str]]:
        return [h for h in self.events if h.get(key) == value]


def api(fs: greenswitch.InboundESL, command: str) -> str:
    return str(fs.send(f"api {command}").data)


def inbound(args: argparse.Namespace) -> None:
    with step("wrong-password"):
        bad = greenswitch.InboundESL(host=args.host, port=args.port, password=args.password + "-wrong")
        try:
            bad.connect()
        except ValueError as exc:  # greenswitch: ValueError('Invalid password.') on -ERR invalid
            reason = str(exc)
        else:
            fail("wrong-password", "authenticated with a wrong password")
        with gevent.Timeout(TIMEOUT, TimeoutError("no goodbye notice after -ERR invalid")):
            while bad.connected:
                gevent.sleep(0.01)
        gevent.with_timeout(TIMEOUT, bad.stop)
        ok("wrong-password", f"{reason} (then disconnected)")

    with step("connect"):
        fs = greenswitch.InboundESL(host=args.host, port=args.port, password=args.password)
        fs.connect()
        ok("connect", f"{args.host}:{args.port}")

    record = Recorder()
    for name in CHANNEL_EVENTS.split():
        fs.register_handle(name, record)

    with step("api"):
        status = api(fs, "status")
        check("api", status.startswith("UP "), repr(status[:80]))
        echo = api(fs, f"echo greenswitch {UTF8}")
        check("api", echo == f"greenswitch {UTF8}", repr(echo))
        ok("api", status.splitlines()[0])

    with step("bgapi"):
        reply = fs.send(f"event plain {CHANNEL_EVENTS}")
        check("bgapi", reply.data == "+OK event listener enabled plain", reply.data)
        marker = f"bg-{new_uuid()}"
        reply = fs.send(f"bgapi echo {marker}")
        job = reply.headers.get("Job-UUID", "")
        check("bgapi", job and reply.data == f"+OK Job-UUID: {job}", reply.headers)
        done = record.wait("BACKGROUND_JOB", "Job-UUID", job)
        folded = done.get("Content-Length", "")  # body folded into the last header (see above)
        check("bgapi", folded.endswith(marker), done)
        ok("bgapi", f"{job} {marker}")

    with step("events"):
        call = new_uuid()
        result = api(fs, f"originate {originate_park(call)}")
        check("events", result.strip() == f"+OK {call}", repr(result))
        answer = record.wait("CHANNEL_ANSWER", "Unique-ID", call)
        park = record.wait("CHANNEL_PARK", "Unique-ID", call)
        ok("events", f"{answer['Event-Name']} {park['Event-Name']} {call}")

    with step("filter"):
        shown, hidden = new_uuid(), new_uuid()
        reply = fs.send(f"filter Unique-ID {shown}")
        check("filter", reply.data == f"+OK filter added. [Unique-ID]=[{shown}]", reply.data)
        for uid in (hidden, shown):
            result = api(fs, f"originate {originate_park(uid)}")
            check("filter", result.strip() == f"+OK {uid}", repr(result))
        record.wait("CHANNEL_PARK", "Unique-ID", shown)
        for uid in (hidden, shown):
            check("filter", api(fs, f"uuid_kill {uid}").startswith("+OK"), "uuid_kill")
        record.wait("CHANNEL_HANGUP", "Unique-ID", shown)  # after the hidden call's hangup, in order
        leaked = record.of("Unique-ID", hidden)
        check("filter", not leaked, f"filtered-out events arrived: {[h.get('Event-Name') for h in leaked]}")
        reply = fs.send(f"filter delete Unique-ID {shown}")
        check("filter", reply.data.startswith("+OK filter deleted."), reply.data)
        ok("filter", f"passed={len(record.of('Unique-ID', shown))} leaked=0")

    with step("execute"):  # greenswitch's inbound side has no helper: sendmsg <uuid> through send()
        app = new_uuid()
        reply = fs.send(f"sendmsg {call}\ncall-command: execute\nexecute-app-name: playback\n"
                        f"execute-app-arg: silence_stream://100\nEvent-UUID: {app}")
        check("execute", reply.data == "+OK", reply.data)
        done = record.wait("CHANNEL_EXECUTE_COMPLETE", "Application-UUID", app)
        check("execute", done.get("Unique-ID") == call, done.get("Unique-ID"))
        ok("execute", f"{done.get('Application')} {done.get('Application-Response')}")

    with step("kill"):
        result = api(fs, f"uuid_kill {call}")
        check("kill", result.startswith("+OK"), repr(result))
        hangup = record.wait("CHANNEL_HANGUP", "Unique-ID", call)
        ok("kill", f"{call} {hangup.get('Hangup-Cause')}")

    with step("disconnect"):
        gevent.with_timeout(TIMEOUT, fs.stop)
        ok("disconnect")


def outbound(args: argparse.Namespace) -> None:
    finished = gevent.event.AsyncResult()

    class Application:
        def __init__(self, session: greenswitch.esl.OutboundSession) -> None:
            self.session = session

        def run(self) -> None:
            try:
                self.handle()
                finished.set(None)
            except SystemExit as exc:
                finished.set(exc)
            except BaseException as exc:
                finished.set_exception(exc)

        def handle(self) -> None:
            s = self.session  # the server has sent "connect"; session_data is the channel data
            with step("connect"):
                s.myevents()
                s.linger()
                mode = s.session_data.get("Socket-Mode")
                check("connect", mode == args.socket_mode, mode)
                ok("connect", f"{s.uuid} from {s.caller_id_number} {s.session_data.get('Channel-Name')}")
            with step("answer"):
                done = s.call_command("answer", block=True, response_timeout=TIMEOUT)
                ok("answer", done.headers["Event-Name"])
            with step("playback"):
                done = s.call_command("playback", "silence_stream://200", block=True,
                                      response_timeout=TIMEOUT)
                ok("playback", done.headers.get("Application-Response"))
            with step("hangup"):
                hung = gevent.event.Event()
                s.register_handle("CHANNEL_HANGUP", lambda event: hung.set())
                s.hangup()
                check("hangup", hung.wait(TIMEOUT), "no CHANNEL_HANGUP")
                with gevent.Timeout(TIMEOUT, TimeoutError("no linger notice after the hangup")):
                    # set by the text/disconnect-notice with Content-Disposition: linger
                    while not s._lingering:
                        gevent.sleep(0.01)
                ok("hangup", "NORMAL_CLEARING (lingering)")

    server = greenswitch.OutboundESLServer(bind_address="127.0.0.1", bind_port=args.listen_port,
                                           application=Application, max_connections=5)
    listener = gevent.spawn(server.listen)
    with step("listen"):
        with gevent.Timeout(TIMEOUT):
            while not server._running:  # listen() binds, then sets _running
                gevent.sleep(0.01)
        ok("listen", server.bound_port)
    outcome = finished.get(timeout=30)
    if isinstance(outcome, SystemExit):
        raise outcome
    server.stop()
    listener.join(TIMEOUT)
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
