"""A 60-second IVR call, tested as the pytest plugin tests it: how much real time it takes.

The flow: a phone calls extension 5000; an outbound-mode IVR (eventsocket's client) answers,
plays a 20-second welcome, collects one digit with play_and_get_digits (the caller presses
it 22 seconds in), plays a 38-second message and hangs up: 60 seconds of call, checked
through its CDR (billsec 60). It runs on the plugin's objects (EmbeddedSwitch, OutboundApp)
on virtual time, as a test does, ``--runs`` times; each run starts its own switch and loop.

    python bench/testing_flow.py [--runs 20]

Prints the wall time of each run's call (from call_in to the CDR, switch start-up not
included) as median and maximum, with the machine's load average. Nothing is asserted on
speed; the exit status is 0 when every call had billsec 60 and the digit arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from eventsocket.client import OutboundCall
from eventsocket.testing import EmbeddedSwitch, OutboundApp, prepare_conf_dir


async def ivr(call: OutboundCall) -> None:
    await call.answer()
    await call.playback("silence_stream://20000")
    digit = await call.play_and_get_digits(1, 1, 3, 5000, "#", "silence_stream://5000")
    await call.set("ivr_choice", digit or "none")
    await call.playback("silence_stream://38000")
    await call.hangup()


async def one_run(conf: Path) -> tuple[float, int, str]:
    switch = EmbeddedSwitch(conf)
    await switch.start()
    app = OutboundApp(switch, ivr)
    await app.start()
    try:
        start = time.perf_counter()
        call = await switch.call_in("5000", dtmf="7", dtmf_after=22)
        await app.wait_finished()
        await call.wait_hangup()
        wall = time.perf_counter() - start
        return wall, int(call.cdr["billsec"]), call.cdr.get("ivr_choice", "")
    finally:
        await app.stop()
        await switch.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print(f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    walls: list[float] = []
    good = True
    with tempfile.TemporaryDirectory() as tmp:
        conf = prepare_conf_dir(Path(tmp) / "conf")
        for _ in range(args.runs):
            with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
                wall, billsec, choice = runner.run(one_run(conf))
            walls.append(wall)
            good = good and billsec == 60 and choice == "7"
    print(f"60-second IVR call on virtual time: median {statistics.median(walls) * 1000:.1f} ms, "
          f"max {max(walls) * 1000:.1f} ms of wall time over {len(walls)} runs "
          f"({'billsec 60 and digit 7 every time' if good else 'WRONG RESULT'})")
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
