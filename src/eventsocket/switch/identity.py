"""Who this switch is: the values every event's standard headers carry."""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass, field

FREESWITCH_VERSION = "1.11.3-dev"
FREESWITCH_VERSION_FULL = "1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit"
FREESWITCH_VERSION_REVISION = "(git cc93a68 2026-08-21 14:10:14Z 64bit)"


def guess_local_ip(family: socket.AddressFamily) -> str:
    """The address the kernel would use to reach the outside (no packet is sent).

    FreeSWITCH does the same in ``switch_find_local_ip`` and falls back to the
    loopback address of the family when there is no route.
    """
    target = ("8.8.8.8", 53) if family == socket.AF_INET else ("2001:4860:4860::8888", 53)
    fallback = "127.0.0.1" if family == socket.AF_INET else "::1"
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(target)
            address = probe.getsockname()[0]
    except OSError:
        return fallback
    return str(address).split("%", 1)[0] or fallback


@dataclass(slots=True)
class SwitchIdentity:
    """Core-UUID, host names and addresses, fixed for the life of the switch."""

    core_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    hostname: str = field(default_factory=socket.gethostname)
    switchname: str = ""
    ipv4: str = field(default_factory=lambda: guess_local_ip(socket.AF_INET))
    ipv6: str = field(default_factory=lambda: guess_local_ip(socket.AF_INET6))

    def __post_init__(self) -> None:
        if not self.switchname:
            self.switchname = self.hostname
