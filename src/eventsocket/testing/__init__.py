"""Testing ESL applications against eventsocket: the pytest plugin and what its fixtures give.

``pip install eventsocket`` registers the plugin (:mod:`eventsocket.testing.plugin`), so
``async def test_x(switch): ...`` works with no other setup. The classes here are the
fixtures' objects, usable without pytest too: :class:`EmbeddedSwitch` (the switch and its
event socket on the caller's loop), :class:`Call` (one channel's events, waits and CDR),
:class:`FarEnd` (a scripted party behind ``sim/<destination>``), :class:`OutboundApp` (an
outbound-mode application server routed from the dialplan). docs/testing.md is the guide.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eventsocket.testing.calls import Call
    from eventsocket.testing.farend import FarEnd
    from eventsocket.testing.outbound import OutboundApp
    from eventsocket.testing.recorder import Recorder
    from eventsocket.testing.switch import EmbeddedSwitch, free_port, prepare_conf_dir
    from eventsocket.testing.timeline import format_timeline

__all__ = [
    "Call",
    "EmbeddedSwitch",
    "FarEnd",
    "OutboundApp",
    "Recorder",
    "format_timeline",
    "free_port",
    "prepare_conf_dir",
]

# Loaded on first use: pytest imports this package (for its plugin) in every run of an
# environment that has eventsocket installed, most of which never ask for a switch.
_WHERE = {
    "Call": "calls",
    "EmbeddedSwitch": "switch",
    "FarEnd": "farend",
    "OutboundApp": "outbound",
    "Recorder": "recorder",
    "format_timeline": "timeline",
    "free_port": "switch",
    "prepare_conf_dir": "switch",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"eventsocket.testing.{module}"), name)
