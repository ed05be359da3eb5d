"""Each client example runs, as a user would run it, against an in-process server."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from esl_harness import Harness
from eventsocket.client import connect

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


async def start(script: str, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / script), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def finish(proc: asyncio.subprocess.Process, timeout: float = 20.0) -> tuple[int, str, str]:
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, out.decode(), err.decode()


async def test_originate_and_watch(harness: Harness) -> None:
    proc = await start("originate_and_watch.py", "--port", str(harness.port),
                       "--app", "&playback(silence_stream://200)", "--timeout", "15")
    code, out, err = await finish(proc)
    assert code == 0, err + out
    lines = out.splitlines()
    assert lines[0].startswith("originating null/1000")
    names = [line.split()[0] for line in lines[1:]]
    for expected in ("CHANNEL_CREATE", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE",
                     "CHANNEL_HANGUP_COMPLETE"):
        assert expected in names, out
    assert "hangup cause: NORMAL_CLEARING" in out
    assert lines[-1].startswith("originate result: +OK ")


async def test_outbound_ivr(harness: Harness) -> None:
    proc = await start("outbound_ivr.py", "--port", "0", "--calls", "1")
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert first.startswith("listening on 127.0.0.1:"), first
        port = int(first.rsplit(":", 1)[1])
        async with await connect("127.0.0.1", harness.port, "ClueCon") as conn:
            await conn.subscribe("CHANNEL_EXECUTE", "CHANNEL_HANGUP_COMPLETE")
            result = await conn.api("originate", f"null/1000 '&socket(127.0.0.1:{port} async full)'")
            assert result.ok, result.text
            uuid = result.text.split()[1]
            async with asyncio.timeout(10):
                async for event in conn.events():
                    if event.get("Application") == "play_and_get_digits":
                        break
            await conn.api("uuid_recv_dtmf", f"{uuid} 4711#")
            async with asyncio.timeout(10):
                async for event in conn.events():
                    if event.name == "CHANNEL_HANGUP_COMPLETE" and event.uuid == uuid:
                        break
            assert event["variable_ivr_digits"] == "4711"
            assert event["variable_ivr_result"] == "got 4711"
    finally:
        code, out, err = await finish(proc)
    assert code == 0, err
    assert f"call {uuid} from " in out
    assert "collected digits: 4711" in out
    assert f"call {uuid} done" in out


async def test_collect_events(harness: Harness, tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    proc = await start("collect_events.py", str(target), "--events", "CUSTOM", "example::tick",
                       "--count", "3", "--seconds", "10", "--port", str(harness.port))
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert first.startswith("subscribed to CUSTOM example::tick"), first
        async with await connect("127.0.0.1", harness.port, "ClueCon") as conn:
            for n in range(3):
                await conn.sendevent("CUSTOM", {"Tick": str(n), "Text": "a b: c"}, body=f"tick {n}",
                                     subclass="example::tick")
    finally:
        code, out, err = await finish(proc)
    assert code == 0, err
    assert "wrote 3 events" in out
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["Tick"] for r in records] == ["0", "1", "2"]
    assert records[0]["Text"] == "a b: c" and records[0]["_body"] == "tick 0"
    assert records[0]["Event-Subclass"] == "example::tick"
