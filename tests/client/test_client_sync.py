"""The blocking client. The server runs on the test's event loop, so the blocking code runs in a
thread (as a script would run in its own process)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from esl_harness import Harness
from eventsocket import sync
from eventsocket.client import (
    ApiResponse,
    CommandError,
    ConnectionLostError,
    Event,
    InvalidArgumentError,
    RequestTimeoutError,
)


async def test_blocking_client_operations(harness: Harness) -> None:
    def script() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with sync.connect("127.0.0.1", harness.port, "ClueCon") as conn:
            out["status"] = conn.api("status")
            out["echo"] = conn.api("echo", "hi").body
            conn.subscribe("CUSTOM", "sync::ev")
            conn.filter("Seq", "/^[01]$/")
            jobs = [conn.bgapi(f"echo {n}") for n in range(50)]
            out["jobs"] = [job.result(timeout=5).body for job in jobs]
            for n in range(3):
                conn.sendevent("CUSTOM", {"Seq": str(n)}, body=f"body {n}", subclass="sync::ev")
            out["events"] = [(e["Seq"], e.body) for e in conn.events(timeout=0.5)]
            out["no_event"] = conn.recv_event(timeout=0.05)
            conn.filter_delete()
            conn.nixevent("CUSTOM")
            conn.log("notice")
            conn.api("log", "notice from the blocking client")
            line = conn.recv_log(timeout=2)
            out["log"] = line.text if line else None
            out["nolog"] = conn.nolog().ok
            with pytest.raises(RequestTimeoutError):
                conn.api("msleep", "300", timeout=0.05)
            out["aligned"] = conn.api("echo", "aligned").body
            with pytest.raises(InvalidArgumentError):
                conn.api("echo", "two\nlines")
            with pytest.raises(CommandError):
                conn.execute("no-such-channel", "answer")
            out["subs"] = conn.subscriptions
        out["closed"] = conn.closed
        with pytest.raises(ConnectionLostError):
            conn.api("status")
        return out

    out = await asyncio.wait_for(asyncio.to_thread(script), 30)
    assert isinstance(out["status"], ApiResponse) and out["status"].ok
    assert out["echo"] == "hi"
    assert out["jobs"] == [str(n) for n in range(50)]
    assert out["events"] == [("0", "body 0"), ("1", "body 1")]
    assert out["no_event"] is None
    assert out["log"] is not None and "[NOTICE]" in out["log"] and "from the blocking client" in out["log"]
    assert out["nolog"] is True
    assert out["aligned"] == "aligned"
    assert out["subs"]["filters"] == [] and out["closed"]


async def test_blocking_handlers_run_on_their_own_thread(harness: Harness) -> None:
    def script() -> tuple[list[str], set[str], str]:
        got: list[str] = []
        threads: set[str] = set()
        done = threading.Event()
        with sync.connect("127.0.0.1", harness.port, "ClueCon") as conn:
            def handler(event: Event) -> None:
                threads.add(threading.current_thread().name)
                got.append(event["Seq"])
                # a handler may call back into the connection
                got.append(conn.api("echo", f"from handler {event['Seq']}").body)
                if len(got) == 4:
                    done.set()

            conn.on("CUSTOM", handler, subclass="sync::ev")
            conn.subscribe("CUSTOM", "sync::ev")
            for n in range(2):
                conn.sendevent("CUSTOM", {"Seq": str(n)}, subclass="sync::ev")
            done.wait(5)
        return got, threads, threading.current_thread().name

    got, threads, caller = await asyncio.wait_for(asyncio.to_thread(script), 30)
    assert got == ["0", "from handler 0", "1", "from handler 1"]
    assert threads == {"eventsocket-sync-handlers"} and caller not in threads


async def test_blocking_connect_errors(harness: Harness) -> None:
    def script() -> None:
        from eventsocket.client import AuthenticationError

        with pytest.raises(AuthenticationError):
            sync.connect("127.0.0.1", harness.port, "nope")

    await asyncio.wait_for(asyncio.to_thread(script), 10)
    # no loop thread left behind by the failed attempt
    assert not [t for t in threading.enumerate() if t.name == "eventsocket-sync-loop"]
