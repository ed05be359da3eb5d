"""The composition root of the embedded switch: build a core and load its modules into it.

FreeSWITCH starts its core, then loads modules (mod_commands, mod_dptools,
mod_loopback, mod_event_socket...) that register API commands, applications and
endpoints into it; the core never includes them. The same here: ``SwitchCore``
(core.py) knows none of the modules, the call layer (calls.py) is given the core,
and every API, application and endpoint module registers itself through the
``register`` function it exports. This module is the only one that imports them
all, so every other switch module depends only on modules below it.

Callers (the CLI, tests, benchmarks) build a ready switch with one call::

    switch = build_switch(ConfDir.load(), heartbeat_interval=20.0)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from eventsocket.protocol.events import Event
from eventsocket.protocol.message import Request
from eventsocket.switch.api import channels as channel_api
from eventsocket.switch.api import core as core_api
from eventsocket.switch.apps import bridge as bridge_apps
from eventsocket.switch.apps import core as core_apps
from eventsocket.switch.apps import media as media_apps
from eventsocket.switch.apps import socket as socket_apps
from eventsocket.switch.apps.socket import OutboundConnector
from eventsocket.switch.calls import CallManager
from eventsocket.switch.clock import Clock
from eventsocket.switch.config import ConfDir
from eventsocket.switch.control import SessionControl
from eventsocket.switch.core import SwitchCore
from eventsocket.switch.endpoints import ENDPOINTS
from eventsocket.switch.identity import SwitchIdentity
from eventsocket.switch.session import Session

__all__ = ["Switch", "build_switch", "load_modules"]


class Switch(SwitchCore):
    """A switch core with its call layer: what :func:`build_switch` returns and the server drives.

    It adds to the core what needs both the core and the calls: handing a message or
    an event to a live channel (``sendmsg <uuid>``, ``sendevent``), a channel's variables
    (``eval uuid:<uuid> ...``), and the event socket server's outbound connector used by
    the ``socket`` application.
    """

    def __init__(
        self,
        conf: ConfDir | None = None,
        *,
        identity: SwitchIdentity | None = None,
        clock: Clock | None = None,
        heartbeat_interval: float = 20.0,
    ) -> None:
        super().__init__(conf, identity=identity, clock=clock, heartbeat_interval=heartbeat_interval)
        self.calls = CallManager(self)
        # the event socket server plugs in here; without one, ``socket`` fails and the dialplan goes on
        self.outbound_connector: OutboundConnector | None = None

    def queue_message(self, uuid: str, request: Request) -> bool:
        """``sendmsg <uuid>``: queue the command on that channel; False when there is no such channel."""
        return self.calls.queue_message(uuid, request)

    def deliver_session_event(self, uuid: str, event: Event) -> bool:
        """``sendevent`` with a live channel's Unique-ID: hand the event to that channel."""
        return self.calls.deliver_event(uuid, event)

    def channel_variables(self, uuid: str) -> dict[str, str] | None:
        """A live channel's variables (for ``eval``/``expand`` with ``uuid:``); None when there is none."""
        session = self.calls.get(uuid)
        return session.channel.variables if session is not None else None

    def control_call(self, uuid: str) -> SessionControl | None:
        """A controlling socket's handle on a live call (``myevents <uuid>``); None when none is up."""
        session = self.calls.get(uuid)
        if session is None or not session.ready:
            return None
        return SessionControl(session)

    def set_outbound_connector(
        self, connector: Callable[[SessionControl, str, int, bool, bool], Awaitable[Any]] | None
    ) -> None:
        """Plug in the event socket server's connector; the ``socket`` application hands it a handle."""
        if connector is None:
            self.outbound_connector = None
            return

        def connect(session: Session, host: str, port: int, async_mode: bool, full: bool) -> Any:
            return connector(SessionControl(session), host, port, async_mode, full)

        self.outbound_connector = connect


def load_modules(switch: Switch) -> None:
    """Register every module into ``switch``, in the order ``show modules`` and ``show api`` list them."""
    core_api.register(switch)
    for endpoint_type in ENDPOINTS:
        switch.calls.add_endpoint(endpoint_type())
    channel_api.register(switch, switch.calls)
    for family in (core_apps, bridge_apps, media_apps, socket_apps):
        family.register(switch.calls)
    switch.add_interface("management", "event_socket", "mod_event_socket")
    switch.add_interface("api", "event_sink", "mod_event_socket", "event_sink", "<web data>")


def build_switch(
    conf: ConfDir | None = None,
    *,
    identity: SwitchIdentity | None = None,
    clock: Clock | None = None,
    heartbeat_interval: float = 20.0,
) -> Switch:
    """A ready switch: the core, its call layer, endpoints, API commands and applications."""
    switch = Switch(conf, identity=identity, clock=clock, heartbeat_interval=heartbeat_interval)
    load_modules(switch)
    return switch
