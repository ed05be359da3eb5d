"""The global variables FreeSWITCH predefines before reading its configuration.

``hostname``, ``local_ip_v4``, ``local_mask_v4``, ``base_dir`` and the rest, found the way
``switch_core_init()`` finds them, so that ``$${local_ip_v4}`` in a user's vars.xml means
what it means to FreeSWITCH.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import struct
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from eventsocket.switch.preprocessor import GlobalVars

# Where ``switch_find_local_ip()`` "connects" a UDP socket to learn the outgoing interface. No
# packet is sent; any routable address works, these are the ones FreeSWITCH uses.
_PROBE_V4 = ("82.45.148.209", 80)
_PROBE_V6 = ("2001:503:ba3e::2:30", 80)



def _local_ip(family: socket.AddressFamily) -> str | None:
    """The address of the interface that routes to the outside, as ``switch_find_local_ip()``.

    A UDP ``connect()`` only consults the routing table; nothing is sent. None when there is no
    route, and the caller falls back to loopback as FreeSWITCH does.
    """
    target = _PROBE_V4 if family == socket.AF_INET else _PROBE_V6
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect(target)
            address = sock.getsockname()[0]
    except OSError:
        return None
    return str(address).split("%")[0]


def _netmask_v4(ip: str) -> str:
    """The netmask of the interface holding ``ip`` (Linux ioctls), else a safe guess.

    The standard library has no ``getifaddrs``; on other systems, or when the lookup fails, a
    loopback address gets 255.0.0.0 and anything else 255.255.255.255, so that ``localnet.auto``
    never grows beyond what is known to be local.
    """
    fallback = "255.0.0.0" if ip.startswith("127.") else "255.255.255.255"
    if not sys.platform.startswith("linux"):
        return fallback
    try:
        import fcntl

        packed = socket.inet_aton(ip)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for _, name in socket.if_nameindex():
                request = struct.pack("256s", name.encode()[:15])
                with contextlib.suppress(OSError):
                    address = fcntl.ioctl(sock.fileno(), 0x8915, request)  # SIOCGIFADDR
                    if address[20:24] != packed:
                        continue
                    mask = fcntl.ioctl(sock.fileno(), 0x891B, request)  # SIOCGIFNETMASK
                    return socket.inet_ntoa(mask[20:24])
    except (OSError, ImportError, ValueError):
        pass
    return fallback


def _serial(conf_dir: Path, ip: str, hostname: str) -> str:
    """``switch_serial``: ``freeswitch.serial`` in conf_dir if present, else 12 hex digits.

    FreeSWITCH writes 8 hex digits of the IPv4 address plus 4 random ones to that file on first
    start. Writing into a user's conf_dir is not ours to do, so the 4 digits are derived from the
    host instead: the value stays stable from one load to the next.
    """
    path = conf_dir / "freeswitch.serial"
    with contextlib.suppress(OSError):
        stored = path.read_bytes()[:12].split(b"\0")[0].decode("ascii", "replace")
        if stored:
            return stored
    try:
        head = socket.inet_aton(ip).hex()
    except OSError:
        head = "00000000"
    tail = hashlib.sha256(f"{hostname}:{conf_dir}".encode()).hexdigest()[:4]
    return head + tail


def predefined_vars(conf_dir: Path, initial: Mapping[str, str]) -> GlobalVars:
    """The globals FreeSWITCH defines at start, in its order, then ``initial`` over them.

    The directories follow FreeSWITCH's default layout under a prefix; the prefix is taken to be
    the parent of conf_dir, which is right for a source install (``<prefix>/conf``) and harmless
    otherwise. Probes (local addresses) are skipped for names ``initial`` already provides.
    """
    given = {name.lower(): value for name, value in initial.items()}
    hostname = given["hostname"] if "hostname" in given else socket.gethostname()
    ip4 = given["local_ip_v4"] if "local_ip_v4" in given else _local_ip(socket.AF_INET) or "127.0.0.1"
    mask = given["local_mask_v4"] if "local_mask_v4" in given else _netmask_v4(ip4)
    ip6 = given["local_ip_v6"] if "local_ip_v6" in given else _local_ip(socket.AF_INET6) or "::1"
    serial = given["switch_serial"] if "switch_serial" in given else _serial(conf_dir, ip4, hostname)
    base = conf_dir.parent
    sounds = str(base / "sounds")
    variables = GlobalVars()
    for name, value in (
        ("hostname", hostname),
        ("local_ip_v4", ip4),
        ("local_mask_v4", mask),
        ("local_ip_v6", ip6),
        ("switch_serial", serial),
        ("base_dir", str(base)),
        ("recordings_dir", str(base / "recordings")),
        ("sound_prefix", sounds),
        ("sounds_dir", sounds),
        ("conf_dir", str(conf_dir)),
        ("log_dir", str(base / "log")),
        ("run_dir", str(base / "run")),
        ("db_dir", str(base / "db")),
        ("mod_dir", str(base / "mod")),
        ("htdocs_dir", str(base / "htdocs")),
        ("script_dir", str(base / "scripts")),
        ("temp_dir", tempfile.gettempdir()),
        ("grammar_dir", str(base / "grammar")),
        ("certs_dir", str(base / "certs")),
        ("storage_dir", str(base / "storage")),
        ("cache_dir", str(base / "cache")),
    ):
        variables.set(name, value)
    # Given values replace the computed ones in place (new names are appended): they are starting
    # values, not FreeSWITCH ``set`` commands, so a ``${`` in them is kept as it is.
    for name, value in initial.items():
        variables.set(name, value, keep_position=True)
    return variables
