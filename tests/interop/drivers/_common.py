"""What the Python drivers share (standard library only: it also runs in the python-ESL venv).

A driver prints one line per step, ``STEP <name> ok <detail>``, and on the first failure
``STEP <name> FAIL <detail>`` and exits 1, so a failing test shows which step broke.
"""

from __future__ import annotations

import argparse
import sys
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

TIMEOUT = 5.0  # seconds any one wait may take
UTF8 = "h\u00e9llo \u2713"  # non-ASCII text: Content-Length counts bytes, not characters


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("mode", choices=["inbound", "outbound"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8021)
    parser.add_argument("--password", default="ClueCon")
    parser.add_argument("--listen-port", type=int, default=8084, help="outbound: where the client listens")
    parser.add_argument("--socket-mode", default="async", choices=["async", "static"],
                        help="outbound: the Socket-Mode the connect reply must announce")
    return parser.parse_args()


def ok(name: str, detail: object = "") -> None:
    print(f"STEP {name} ok {detail}".rstrip(), flush=True)


def fail(name: str, detail: object) -> NoReturn:
    print(f"STEP {name} FAIL {detail}".replace("\n", " | "), flush=True)
    sys.stdout.flush()
    sys.exit(1)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Run a step; any exception fails it (with the traceback on stderr)."""
    try:
        yield
    except SystemExit:
        raise
    except BaseException as exc:
        traceback.print_exc()
        fail(name, f"{type(exc).__name__}: {exc}")


def check(name: str, condition: object, detail: object) -> None:
    if not condition:
        fail(name, detail)


def new_uuid() -> str:
    return str(uuid.uuid4())


def originate_park(call: str) -> str:
    """The originate arguments of a parked null call with a known uuid."""
    return f"{{origination_uuid={call}}}null/1000 &park"
