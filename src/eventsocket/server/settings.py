"""The event socket server's settings: ``event_socket.conf`` read as mod_event_socket reads it.

FreeSWITCH's ``config()`` in mod_event_socket.c walks ``<settings><param name= value=/>`` once,
in order, so a later param overrides an earlier one, and fills in defaults for what is left
empty afterwards. :meth:`EventSocketSettings.from_conf` follows it param for param (names, case
rules, ``atoi``, ``switch_true``, the 100-ACL cap, ``nat-map`` forced off), so a FreeSWITCH
``event_socket.conf.xml`` means the same thing here.

The settings FreeSWITCH does not have (queue sizes, timeouts, backlog) keep their defaults
unless the same ``<settings>`` block names them (``event-queue-size``...): FreeSWITCH ignores
unknown params, so such a file still works in FreeSWITCH.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from eventsocket.protocol.compat import atoi, switch_true
from eventsocket.switch.config import ConfDir

__all__ = [
    "DEFAULT_INBOUND_ACL",
    "DEFAULT_LISTEN_IP",
    "DEFAULT_LISTEN_PORT",
    "DEFAULT_PASSWORD",
    "MAX_ACL",
    "EventSocketSettings",
]

log = logging.getLogger("eventsocket.settings")

DEFAULT_LISTEN_IP = "127.0.0.1"
DEFAULT_LISTEN_PORT = 8021
DEFAULT_PASSWORD = "ClueCon"
#: What an empty ``apply_inbound_acl`` means when a client connects.
DEFAULT_INBOUND_ACL = "loopback.auto"
#: mod_event_socket keeps at most this many ``apply-inbound-acl`` values (``MAX_ACL``).
MAX_ACL = 100


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise ValueError("must be a positive number of seconds")
    return value


def _positive_int(text: str) -> int:
    value = int(text.strip())
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _switch_true(text: str) -> bool:
    return switch_true(text)


# The project's own params, read from the same <settings> block: name -> (field, parser).
_EXTRA_PARAMS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "heartbeat-interval": ("heartbeat_interval", _positive_float),
    "event-queue-size": ("event_queue_size", _positive_int),
    "log-queue-size": ("log_queue_size", _positive_int),
    "lost-events-limit": ("lost_events_limit", _positive_int),
    "write-stall-timeout": ("write_stall_timeout", _positive_float),
    "reply-event-hold": ("reply_event_hold", _positive_float),
    "first-packet-timeout": ("first_packet_timeout", _positive_float),
    "backlog": ("backlog", _positive_int),
    "outbound-connect-timeout": ("outbound_connect_timeout", _positive_float),
    "retry-on-bind-error": ("retry_on_bind_error", _switch_true),
    "max-connections": ("max_connections", _positive_int),
    "preauth-max-packet": ("preauth_max_packet", _positive_int),
}


@dataclass
class EventSocketSettings:
    """Everything the listener needs to know, with FreeSWITCH's defaults.

    FreeSWITCH's own settings:

    * ``listen_ip`` / ``listen_port``: where to listen; IPv6 addresses are fine.
    * ``password``: what ``auth`` must give.
    * ``apply_inbound_acl``: ACL names or CIDRs that must *all* admit a client; empty means
      ``loopback.auto`` (see :meth:`inbound_acls`), so an unconfigured server is local-only.
    * ``stop_on_bind_error``: give up when the address is taken instead of retrying forever.
    * ``nat_map``: accepted but always off, because FreeSWITCH's ``config()`` forces it off.
    * ``debug``: above 0, connections opening and closing are logged.

    The project's own:

    * ``heartbeat_interval``: seconds between HEARTBEAT events.
    * ``event_queue_size`` / ``log_queue_size``: per-connection queue bounds.
    * ``lost_events_limit``: events (or log lines) a connection may lose before it is closed.
    * ``write_stall_timeout``: seconds a write may make no progress before the connection is
      closed, so one stuck reader cannot hold memory forever.
    * ``first_packet_timeout``: seconds a new client has to send its first command; until it has
      authenticated, also the longest any packet may take to arrive in full.
    * ``backlog``: the ``listen()`` backlog (FreeSWITCH uses 5, too small for a burst of clients).
    * ``retry_on_bind_error``: when the address is taken, retry every 100 ms as FreeSWITCH does
      (unless ``stop-on-bind-error`` is set); off by default, so ``eventsocket serve`` on a port
      in use says so and exits.
    * ``max_connections``: inbound connections open at once; one more is told so and closed.
    * ``preauth_max_packet``: the largest packet (header block and body) a client may send before
      it has authenticated; a bigger one closes the connection, so strangers cannot park
      16 MiB bodies in memory.
    * ``outbound_connect_timeout``: seconds the ``socket`` application waits for a host to accept
      before it tries the next one (FreeSWITCH blocks for the system's TCP timeout).
    * ``reply_event_hold``: seconds queued events wait after a reply, so that a command sent
      straight after a reply is answered first, as with FreeSWITCH's polling connection loop.
    """

    listen_ip: str = DEFAULT_LISTEN_IP
    listen_port: int = DEFAULT_LISTEN_PORT
    password: str = DEFAULT_PASSWORD
    apply_inbound_acl: list[str] = field(default_factory=list)
    stop_on_bind_error: bool = False
    nat_map: bool = False
    debug: int = 0
    heartbeat_interval: float = 20.0
    event_queue_size: int = 100_000
    log_queue_size: int = 100_000
    lost_events_limit: int = 500
    write_stall_timeout: float = 60.0
    first_packet_timeout: float = 25.0
    backlog: int = 1024
    reply_event_hold: float = 0.005
    outbound_connect_timeout: float = 5.0
    retry_on_bind_error: bool = False
    max_connections: int = 2048
    preauth_max_packet: int = 64 * 1024

    def __post_init__(self) -> None:
        # mod_event_socket's config() ends with "if (prefs.nat_map) prefs.nat_map = 0;".
        self.nat_map = False

    @classmethod
    def from_conf(cls, conf: ConfDir) -> EventSocketSettings:
        """Read ``<configuration name="event_socket.conf"><settings>`` as mod_event_socket does.

        * ``listen-ip``, ``listen-port``, ``password``, ``nat-map``, ``debug``: names compared
          case-sensitively; the last occurrence wins.
        * ``apply-inbound-acl`` (any case): repeatable; empty values ignored; at most
          :data:`MAX_ACL` kept.
        * ``stop-on-bind-error`` (any case): ``switch_true``.
        * ``listen-port`` and ``debug`` go through C's ``atoi``; a port of 0 (also what garbage
          reads as) or outside 1-65535 becomes 8021.
        * An empty ``listen-ip`` or ``password`` falls back to the default, as does a missing
          ``event_socket.conf`` altogether.
        """
        settings = cls()
        cfg = conf.configuration("event_socket.conf")
        if cfg is None:
            log.warning("no event_socket.conf in the configuration; using the defaults")
            return settings
        x_settings = cfg.find("settings")
        if x_settings is None:
            return settings
        listen_ip = ""
        password = ""
        port = 0
        acls: list[str] = []
        for param in x_settings.findall("param"):
            name = param.get("name", "")
            value = param.get("value", "")
            if name == "listen-ip":
                listen_ip = value
            elif name == "debug":
                settings.debug = atoi(value)
            elif name == "nat-map":
                pass  # read, then forced off by FreeSWITCH itself
            elif name == "listen-port":
                port = atoi(value)
                if not 0 <= port <= 65535:
                    log.warning(
                        "event_socket.conf: listen-port %r is not a port; using %d",
                        value,
                        DEFAULT_LISTEN_PORT,
                    )
                    port = 0
            elif name == "password":
                password = value
            elif name.lower() == "apply-inbound-acl":
                if not value:
                    continue
                if len(acls) < MAX_ACL:
                    acls.append(value)
                else:
                    log.error("event_socket.conf: max acl records of %d reached", MAX_ACL)
            elif name.lower() == "stop-on-bind-error":
                settings.stop_on_bind_error = switch_true(value)
            elif name in _EXTRA_PARAMS:
                attr, parse = _EXTRA_PARAMS[name]
                try:
                    setattr(settings, attr, parse(value))
                except ValueError as exc:
                    log.warning("event_socket.conf: ignoring %s=%r (%s)", name, value, exc)
        settings.listen_ip = listen_ip or DEFAULT_LISTEN_IP
        settings.password = password or DEFAULT_PASSWORD
        settings.listen_port = port or DEFAULT_LISTEN_PORT
        settings.apply_inbound_acl = acls
        return settings

    def with_overrides(
        self,
        *,
        listen_ip: str | None = None,
        listen_port: int | None = None,
        password: str | None = None,
    ) -> EventSocketSettings:
        """A copy with the given values replacing the file's: command-line flags win.

        ``None`` keeps the current value. ``listen_port=0`` is allowed here (the OS picks a free
        port, handy in tests); anything outside 0-65535, an empty address or an empty password
        raises ValueError, since a flag the user typed should not be silently ignored.
        """
        changes: dict[str, Any] = {"apply_inbound_acl": list(self.apply_inbound_acl)}
        if listen_ip is not None:
            if not listen_ip.strip():
                raise ValueError("listen address must not be empty")
            changes["listen_ip"] = listen_ip.strip()
        if listen_port is not None:
            if not 0 <= listen_port <= 65535:
                raise ValueError(f"listen port {listen_port} is out of range 0-65535")
            changes["listen_port"] = listen_port
        if password is not None:
            if not password:
                raise ValueError("password must not be empty")
            changes["password"] = password
        return replace(self, **changes)

    def inbound_acls(self) -> list[str]:
        """The ACLs a client must pass: the configured ones, or ``["loopback.auto"]``."""
        return list(self.apply_inbound_acl) or [DEFAULT_INBOUND_ACL]

    def is_loopback_only(self) -> bool:
        """Whether the server listens on a loopback address only (127.x, ``::1``, ``localhost``).

        A wildcard (``::``, ``0.0.0.0``), a LAN address or a host name other than ``localhost``
        is not; the caller uses this to warn about the default password reachable from the
        network.
        """
        host = self.listen_ip.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if host.lower() in ("localhost", "localhost."):
            return True
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return address.ipv4_mapped.is_loopback
        return address.is_loopback

    def uses_default_password(self) -> bool:
        """Whether ``password`` is FreeSWITCH's well-known default."""
        return self.password == DEFAULT_PASSWORD
