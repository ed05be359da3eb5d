"""The programs in examples/ work against the server.

``outbound_ivr_stdlib.py`` runs as a separate process (as a user would run it) and the
switch, in this process, calls it: the test places a call whose ``socket`` application
connects to the example, presses digits once the example collects them, and checks what
the example printed and that it exited cleanly.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from esl_harness import Harness
from eventsocket.protocol.events import parse_event

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


async def run_example(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLES / "outbound_ivr_stdlib.py"), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


async def listening_port(proc: asyncio.subprocess.Process) -> int:
    assert proc.stdout is not None
    line = (await asyncio.wait_for(proc.stdout.readline(), 10.0)).decode()
    assert line.startswith("listening on 127.0.0.1:"), line
    return int(line.rsplit(":", 1)[1])


@pytest.mark.parametrize("prompt", ["silence_stream://500", "tone_stream://%(300,0,440)"])
async def test_outbound_ivr_stdlib_collects_digits(harness: Harness, prompt: str) -> None:
    proc = await run_example("--port", "0", "--calls", "1", "--prompt", prompt)
    try:
        port = await listening_port(proc)
        client = await harness.client()
        await client.send("event plain CHANNEL_EXECUTE CHANNEL_HANGUP_COMPLETE")
        await client.send(f"api originate null/1000 '&socket(127.0.0.1:{port} async full)'")
        uuid = ""
        applications: list[str] = []
        while "play_and_get_digits" not in applications:
            frame = await client.recv(10.0)
            if frame.content_type == "api/response":
                assert frame.text.startswith("+OK "), frame.text
                uuid = frame.text[4:].strip()
            elif frame.content_type == "text/event-plain":
                event = parse_event(frame.content_type, frame.body)
                applications.append(event.get("Application") or "")
                if event.get("Application") == "play_and_get_digits":
                    assert prompt in (event.get("Application-Data") or "")
        assert applications[:2] == ["socket", "answer"]
        await client.send(f"api uuid_recv_dtmf {uuid} 4711#")
        hangup = await client.recv_until(
            lambda f: f.content_type == "text/event-plain" and b"CHANNEL_HANGUP_COMPLETE" in f.body, 10.0)
        event = parse_event(hangup.content_type, hangup.body)
        assert event.get("variable_ivr_digits") == "4711"
        assert event.get("Hangup-Cause") == "NORMAL_CLEARING"
        out, err = await asyncio.wait_for(proc.communicate(), 15.0)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert f"call {uuid} from" in text
    assert "collected digits: 4711" in text
