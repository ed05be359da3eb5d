"""Client-side event parsing: eventsocket's client against greenswitch and genesis, same bytes.

    python bench/client_parse.py [--events 30000] [--repeat 5] [--quick]

A stream is recorded from an event socket server (``event plain ALL`` while calls with
60 extra channel variables go through ``&playback``), so the events are real channel
events of a few KB each. The recorded bytes are then repeated to ``--events`` events and
handed, chunk by chunk as a socket would deliver them, to each client's own parsing
path, on one core, with no network in the way:

* eventsocket: the client's protocol object (``FrameParser`` + lazy ``Event`` + dispatch
  into the connection's event queue), the application reading ``Event-Name`` and
  ``Unique-ID`` of each event (the usual case), and, as further figures, every header
  (``event.to_dict()``), which is what the other clients always pay for, of the plain
  stream and of the same events as ``text/event-json`` (the server's JSON serializer applied
  to the recorded events: the bytes ``event json ALL`` would have carried);
* greenswitch: ``ESLProtocol.receive_events`` reading from a file object over the bytes
  (its ``readline``/``read`` loop, ``unquote`` and ``splitlines`` per event);
* genesis: ``Protocol.handler`` reading from an ``asyncio.StreamReader`` fed the bytes
  (its ``readline`` loop and ``ESLReaderFSM``);
* python-ESL (FreeSWITCH's libesl in C, through SWIG): it reads only from a socket, so a
  local server streams it the same bytes after ``auth`` and ``event plain ALL``; it runs in
  its own process (``recvEvent()`` and ``getHeader()`` of every header name), with the
  interpreter of ``tests/interop/.venv-esl`` (made by the interop tests) or ``--esl-python``.

greenswitch and genesis come from PyPI (``pip install greenswitch genesis``); when one
cannot be imported, its line says so instead of giving a number. Each figure is the best
of ``--repeat`` runs, in events per second of CPU time (``time.process_time``: on a busy
machine, wall-clock time would also count the time other processes held the core).
``bench/run.py`` also runs this (``FIGURES``), recording from the server it started.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from eventsocket.protocol.framing import FrameParser  # noqa: E402

TARGET = 60_000
# every header of a plain event, before this work: 11,136/s with sum(range(1000)) at 16.9 us
# (bench/results.md), 16,376/s at 10.8 us; the target is twice that, scaled by the calibration
FULL_PLAIN_BEFORE = (16_376, 10.8)
ESL_VENV_PYTHON = HERE.parent / "tests" / "interop" / ".venv-esl" / "bin" / "python"
CHUNK = 65536
EXTRA_VARS = 60


# -- recording -----------------------------------------------------------------------------------


async def _raw_session(host: str, port: int, password: str) -> tuple[asyncio.StreamWriter, Callable[[], Any]]:
    """An authenticated raw connection: (writer, ``await recv()`` for the next frame)."""
    reader, writer = await asyncio.open_connection(host, port)
    parser = FrameParser()
    frames: list[Any] = []

    async def recv() -> Any:
        while not frames:
            chunk = await asyncio.wait_for(reader.read(65536), 10)
            if not chunk:
                raise ConnectionError("server closed the connection")
            frames.extend(parser.feed(chunk))
        return frames.pop(0)

    greeting = await recv()
    assert greeting.content_type == "auth/request", greeting
    writer.write(f"auth {password}\n\n".encode())
    reply = await recv()
    assert reply.reply_text == "+OK accepted", reply.reply_text
    return writer, recv


async def record(host: str, port: int, password: str = "ClueCon", calls: int = 20) -> bytes:
    """Event frames, byte for byte as the server sent them, while ``calls`` calls go through."""
    writer, recv = await _raw_session(host, port, password)
    writer.write(b"event plain ALL\n\n")
    reply = await recv()
    assert reply.reply_text.startswith("+OK"), reply.reply_text
    dwriter, drecv = await _raw_session(host, port, password)
    padding = "x" * 40
    variables = ",".join(f"bench_var_{i}=value {i} {padding}" for i in range(EXTRA_VARS))
    for i in range(calls):
        dwriter.write(f"api originate {{{variables}}}null/{1000 + i} &playback(silence_stream://20)\n\n".encode())
        answer = await drecv()
        assert answer.text.startswith("+OK"), answer.text
    chunks: list[bytes] = []
    destroyed = 0
    deadline = time.monotonic() + 30
    while destroyed < calls and time.monotonic() < deadline:
        frame = await recv()
        if frame.content_type != "text/event-plain":
            continue
        body = frame.body
        chunks.append(b"Content-Length: %d\nContent-Type: text/event-plain\n\n%s" % (len(body), body))
        if body.startswith(b"Event-Name: CHANNEL_DESTROY\n"):
            destroyed += 1
    for w in (writer, dwriter):
        w.close()
    if not chunks:
        raise RuntimeError("no events were recorded")
    return b"".join(chunks)


async def record_in_process(calls: int = 20) -> bytes:
    """Record from an in-process server (when run on its own)."""
    from eventsocket.server.listener import EventSocketServer
    from eventsocket.server.settings import EventSocketSettings
    from eventsocket.switch.builder import build_switch

    core = build_switch(heartbeat_interval=0)
    server = EventSocketServer(core, EventSocketSettings(listen_ip="127.0.0.1", listen_port=0))
    await server.start()
    await core.start()
    try:
        return await record("127.0.0.1", server.port, "ClueCon", calls)
    finally:
        await server.stop()
        await core.stop()


def build_stream(recorded: bytes, events: int) -> tuple[bytes, int, int]:
    """``recorded`` repeated to about ``events`` events: (stream, event count, payload bytes)."""
    frames = FrameParser().feed(recorded)
    per = len(frames)
    reps = max(1, -(-events // per))
    payload = sum(len(f.body) for f in frames) * reps
    return recorded * reps, per * reps, payload


def json_stream(stream: bytes) -> bytes:
    """The same events as ``text/event-json`` frames, from the server's own serializer."""
    from eventsocket.protocol.events import parse_plain

    out = []
    for frame in FrameParser().feed(stream):
        out.append(parse_plain(frame.body).copy().frame("json"))
    return b"".join(out)


# -- the parsers ---------------------------------------------------------------------------------


def run_eventsocket(stream: bytes, count: int, read_all: bool) -> float:
    """Seconds for the client's protocol object to turn ``stream`` into events the app reads."""
    from eventsocket.client.connection import _Link
    from eventsocket.client.inbound import InboundConnection

    async def go() -> float:
        conn = InboundConnection("127.0.0.1", 0, "x", queue_size=count + 10)
        link = _Link(conn)
        queue = conn.events()
        chunks = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]
        seen = 0
        start = time.process_time()
        for chunk in chunks:
            link.data_received(chunk)
            while len(queue):
                event = queue.get_nowait()
                if read_all:
                    event.to_dict()
                else:
                    event.name  # noqa: B018
                    event.get("Unique-ID")
                seen += 1
        elapsed = time.process_time() - start
        if seen != count:
            raise RuntimeError(f"eventsocket parsed {seen} events, expected {count}")
        return elapsed

    return asyncio.run(go())


_ESL_CLIENT = r"""
import sys, time, ESL
con = ESL.ESLconnection(sys.argv[1], sys.argv[2], "ClueCon")
if not con.connected():
    raise SystemExit("python-ESL could not connect")
con.events("plain", "ALL")
count = headers = 0
start = time.process_time()
while True:
    event = con.recvEvent()
    if event is None or event.getType() == "server_disconnected" or not con.connected():
        break
    name = event.firstHeader()
    while name:
        event.getHeader(name)
        headers += 1
        name = event.nextHeader()
    count += 1
print(count, time.process_time() - start, headers)
"""


def run_python_esl(stream: bytes, count: int, python: str) -> float:
    """CPU seconds python-ESL's process spent receiving ``stream`` and reading every header."""
    import socket
    import subprocess
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            def until_blank() -> None:
                data = b""
                while not data.endswith(b"\n\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk

            conn.sendall(b"Content-Type: auth/request\n\n")
            until_blank()
            conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
            until_blank()
            conn.sendall(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
            conn.sendall(stream)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = subprocess.run([python, "-c", _ESL_CLIENT, "127.0.0.1", str(port)], capture_output=True,
                                text=True, timeout=600)
    finally:
        listener.close()
        thread.join(5)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed")
    got, seconds, _headers = result.stdout.split()
    # the stream ends with the server closing; libesl may report the last event or not
    if int(got) < count:
        raise RuntimeError(f"python-ESL parsed {got} events, expected {count}")
    return float(seconds)


def run_greenswitch(stream: bytes, count: int) -> float:
    from greenswitch import esl

    class _Sock:
        def close(self) -> None:
            pass

    proto = esl.ESLProtocol()
    proto.sock = _Sock()
    proto.sock_file = io.BufferedReader(io.BytesIO(stream), buffer_size=CHUNK)
    proto.connected = True
    start = time.process_time()
    proto.receive_events()  # returns at end of stream
    elapsed = time.process_time() - start
    got = proto._esl_event_queue.qsize()
    if got != count:
        raise RuntimeError(f"greenswitch parsed {got} events, expected {count}")
    return elapsed


def run_genesis(stream: bytes, count: int) -> float:
    import logging

    from genesis.protocol.base import Protocol

    logging.getLogger("genesis").setLevel(logging.WARNING)

    class _Bench(Protocol):  # type: ignore[misc]
        pass

    async def go() -> float:
        proto = _Bench()
        reader = asyncio.StreamReader(limit=2**24)
        reader.feed_data(stream)
        reader.feed_eof()
        proto.reader = reader
        proto.is_connected = True
        start = time.process_time()
        await proto.handler()
        elapsed = time.process_time() - start
        got = proto.events.qsize() - (1 if proto._reader_signaled else 0)
        if got != count:
            raise RuntimeError(f"genesis parsed {got} events, expected {count}")
        return elapsed

    return asyncio.run(go())


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "?"


def best_of(fn: Callable[[], float], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        best = min(best, fn())
    return best


def calibration() -> float:
    """Microseconds for a fixed pure-Python loop (``sum(range(1000))``), to compare machines
    and runs: a larger value means a slower or busier core, and every figure here is slower
    in about the same proportion."""
    import timeit

    timer = timeit.Timer("sum(range(1000))", timer=time.process_time)
    return min(timer.repeat(number=2000, repeat=5)) / 2000 * 1e6


def measure(stream: bytes, count: int, payload: int, repeat: int, esl_python: str | None = None) -> list[str]:
    avg = payload / count
    cal = calibration()
    lines = [f"client parse: {count:,} plain events, {avg / 1024:.1f} KB each on average "
             f"({payload / 1e6:.1f} MB, recorded from the server), {CHUNK // 1024} KiB reads, one core, "
             f"best of {repeat}; events per CPU second:"]
    lines.append(f"  (calibration: sum(range(1000)) takes {cal:.1f} us on this machine now; "
                 "the figures scale with it)")
    rows: list[tuple[str, str]] = []
    ours = count / best_of(lambda: run_eventsocket(stream, count, read_all=False), repeat)
    rows.append(("eventsocket plain (reads Event-Name + Unique-ID)",
                 f"{ours:>10,.0f}   target >= {TARGET:,}: {'met' if ours >= TARGET else 'NOT met'}"))
    full = count / best_of(lambda: run_eventsocket(stream, count, read_all=True), repeat)
    before, before_cal = FULL_PLAIN_BEFORE
    wanted = 2 * before * before_cal / cal
    rows.append(("eventsocket plain (reads every header)",
                 f"{full:>10,.0f}   target >= 2x before ({wanted:,.0f} at this calibration): "
                 f"{'met' if full >= wanted else 'NOT met'}"))
    jstream = json_stream(stream)
    jfull = count / best_of(lambda: run_eventsocket(jstream, count, read_all=True), repeat)
    rows.append(("eventsocket json (reads every header)",
                 f"{jfull:>10,.0f}   target >= {TARGET:,}: {'met' if jfull >= TARGET else 'NOT met'}"))
    jtwo = count / best_of(lambda: run_eventsocket(jstream, count, read_all=False), repeat)
    rows.append(("eventsocket json (reads Event-Name + Unique-ID)", f"{jtwo:>10,.0f}"))
    others: list[tuple[str, Callable[[bytes, int], float]]] = [
        ("greenswitch", run_greenswitch), ("genesis", run_genesis)]
    for dist, fn in others:
        label = dist
        try:
            rate = count / best_of(lambda fn=fn: fn(stream, count), repeat)  # type: ignore[misc]
            label = f"{dist} {_version(dist)} (every header)"
            rows.append((label, f"{rate:>10,.0f}   (eventsocket plain every header: {full / rate:.1f}x, "
                                f"json: {jfull / rate:.1f}x)"))
        except ImportError as exc:
            rows.append((label, f"not available: cannot import it ({exc}); `pip install {dist}`"))
        except Exception as exc:  # a library that breaks on the stream is reported, not fatal
            rows.append((label, f"failed: {type(exc).__name__}: {exc}"))
    python = esl_python or (str(ESL_VENV_PYTHON) if ESL_VENV_PYTHON.exists() else None)
    if python is None:
        rows.append(("python-ESL", "not available: no interpreter with `import ESL` (run the interop tests "
                                   "once to build tests/interop/.venv-esl, or pass --esl-python)"))
    else:
        try:
            rate = count / best_of(lambda: run_python_esl(stream, count, python), repeat)
            rows.append(("python-ESL 1.4.18 (libesl, C; every header)",
                         f"{rate:>10,.0f}   (eventsocket plain every header: {full / rate:.1f}x, "
                         f"json: {jfull / rate:.1f}x; includes its socket reads)"))
        except Exception as exc:
            rows.append(("python-ESL", f"failed: {type(exc).__name__}: {exc}"))
    width = max(len(r[0]) for r in rows)
    lines.extend(f"  {name:<{width}}  {value}" for name, value in rows)
    return lines


# -- entry points --------------------------------------------------------------------------------


def fig_client_parse(ctx: Any) -> list[str]:
    """For ``bench/run.py``: record from the server it started, then measure."""
    quick = bool(getattr(ctx, "quick", False))
    recorded = asyncio.run(record(ctx.host, ctx.port, ctx.password, calls=4 if quick else 20))
    stream, count, payload = build_stream(recorded, 500 if quick else 30_000)
    return measure(stream, count, payload, 1 if quick else 5)


FIGURES = [fig_client_parse]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20, help="calls to record")
    parser.add_argument("--quick", action="store_true", help="tiny counts, for a smoke test")
    parser.add_argument("--esl-python", help="a Python interpreter that can `import ESL` (python-ESL)")
    args = parser.parse_args()
    if args.quick:
        args.events, args.repeat, args.calls = 500, 1, 4
    try:
        import serverproc

        print(serverproc.machine_line())
    except ImportError:
        print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    recorded = asyncio.run(record_in_process(args.calls))
    stream, count, payload = build_stream(recorded, args.events)
    for line in measure(stream, count, payload, args.repeat, args.esl_python):
        print(line, flush=True)


if __name__ == "__main__":
    main()
