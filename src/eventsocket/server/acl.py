"""FreeSWITCH network lists (``acl.conf``) and the ACL check the event socket runs on accept.

FreeSWITCH keeps every network list in one case-insensitive table that is rebuilt at startup: a set
of built-in ``*.auto`` lists followed by the ``<network-lists>`` of ``acl.conf``. A listener's
``apply-inbound-acl`` values are looked up in that table, and a value that is not a list name but
contains ``/`` is read as one or more CIDRs. Clients connected to a dual-stack ``::`` socket show up
as ``::ffff:a.b.c.d`` and are checked as IPv4, so the same lists work whatever ``listen-ip`` is.

This module reproduces those rules with the standard library only, so that the server module can
ask a single question on accept: :meth:`AclRegistry.first_rejecting`.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

from eventsocket.protocol.compat import switch_true

__all__ = [
    "AclList",
    "AclNode",
    "AclRegistry",
    "IPAddress",
    "IPNetwork",
    "guess_local_interface",
    "parse_client_ip",
    "parse_network",
]

logger = logging.getLogger("eventsocket.acl")

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The list FreeSWITCH applies when ``apply-inbound-acl`` is never set: only local clients get in.
DEFAULT_INBOUND_ACL = "loopback.auto"

#: Where the guessed LAN points when nothing better is known. Matches what FreeSWITCH ends up with on a
#: host without a route: loopback only, so ``localnet.auto`` never opens the server to strangers.
FALLBACK_INTERFACE = ipaddress.IPv4Interface("127.0.0.1/8")

# A public address the kernel must pick a source for; connecting a UDP socket sends no packet.
_PROBE_ADDRESS = ("8.8.8.8", 53)
_PROC_ROUTE = "/proc/net/route"
_DEFAULT_GUESSED_PREFIX = 24



@dataclass(frozen=True, slots=True)
class AclNode:
    """One ``allow``/``deny`` entry of a list.

    ``token`` records where the node came from (the directory domain for ``domain=`` nodes, which
    FreeSWITCH also tags) so that debugging can tell a config line from a directory entry.
    """

    network: IPNetwork
    allow: bool
    token: str | None = None

    @property
    def prefixlen(self) -> int:
        """The prefix length, which decides precedence between overlapping nodes."""
        return self.network.prefixlen


def parse_network(cidr: str) -> IPNetwork:
    """Parse one ``address/bits`` entry; host bits may be set, as FreeSWITCH masks them anyway.

    A value without ``/`` is rejected: ``switch_parse_cidr`` refuses it too, and accepting a bare
    address would silently turn a typo into a /32 or /128 rule.

    Raises:
        ValueError: the value is not a valid CIDR.
    """
    text = cidr.strip()
    if "/" not in text:
        raise ValueError(f"not a CIDR (no '/'): {cidr!r}")
    address, _, bits = text.partition("/")
    if not bits.strip().isdigit():
        raise ValueError(f"bad prefix length in {cidr!r}")
    try:
        return ipaddress.ip_network(f"{address.strip()}/{int(bits)}", strict=False)
    except ValueError as exc:
        raise ValueError(f"bad CIDR {cidr!r}: {exc}") from None


def parse_client_ip(ip: str) -> IPAddress | None:
    """Turn a peer address string into the address the ACL is checked against, or None if unusable.

    IPv4-mapped IPv6 addresses become IPv4, because a dual-stack listener reports IPv4 clients
    that way and FreeSWITCH strips the ``::ffff:`` prefix before checking. An IPv6 zone
    (``fe80::1%eth0``) and URI brackets are dropped: they say which link the packet came from, not
    who sent it, and ``ipaddress`` would otherwise keep the zone and compare unequal.
    """
    text = ip.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class AclList:
    """A named network list: a default verdict plus ordered allow/deny nodes.

    The verdict for an address is that of the matching node with the longest prefix; among nodes of
    the same length the one added last wins, which lets a later line in ``acl.conf`` refine an
    earlier one. Nodes only ever match addresses of their own family, so an IPv6 ``::/0`` rule in a
    list never affects IPv4 clients and vice versa. With no matching node the list default applies.
    """

    __slots__ = ("_nodes", "default_allow", "name")

    def __init__(self, name: str, default_allow: bool, nodes: Iterable[AclNode] = ()) -> None:
        self.name = name
        self.default_allow = default_allow
        self._nodes: list[AclNode] = list(nodes)

    def __repr__(self) -> str:
        default = "allow" if self.default_allow else "deny"
        return f"AclList({self.name!r}, default={default}, nodes={len(self._nodes)})"

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[AclNode]:
        return iter(self._nodes)

    @property
    def nodes(self) -> tuple[AclNode, ...]:
        """The nodes in the order they were added (the order that breaks ties)."""
        return tuple(self._nodes)

    def add(self, cidr: str, allow: bool, token: str | None = None) -> None:
        """Add one node per CIDR in ``cidr`` (comma-separated values are accepted, as in FreeSWITCH).

        The call is all-or-nothing so that a caller who gets an exception knows the list is
        unchanged; configuration loading splits the value itself to keep the good entries.

        Raises:
            ValueError: one of the entries is not a valid CIDR.
        """
        networks = [parse_network(part) for part in cidr.split(",") if part.strip()]
        if not networks:
            raise ValueError(f"no CIDR in {cidr!r}")
        self._nodes.extend(AclNode(network, allow, token) for network in networks)

    def add_network(self, network: IPNetwork, allow: bool, token: str | None = None) -> None:
        """Add an already parsed network, for callers that computed it (e.g. the guessed LAN)."""
        self._nodes.append(AclNode(network, allow, token))

    def add_host_mask(self, host: str, mask: str, allow: bool) -> None:
        """Add a ``host=`` + ``mask=`` node, the pre-CIDR way of writing an IPv4 network.

        ``mask`` is normally dotted (``255.255.255.0``); a plain prefix length is accepted as well.
        Non-contiguous masks are refused because no prefix length describes them.

        Raises:
            ValueError: host or mask is not a valid IPv4 network description.
        """
        try:
            network = ipaddress.IPv4Network(f"{host.strip()}/{mask.strip()}", strict=False)
        except ValueError as exc:
            raise ValueError(f"bad host/mask {host!r}/{mask!r}: {exc}") from None
        self._nodes.append(AclNode(network, allow))

    def match(self, ip: IPAddress) -> AclNode | None:
        """The node that decides for ``ip``, or None when the list default applies.

        Exposed separately from :meth:`allows` so that logs can say which rule let a client in.
        """
        best: AclNode | None = None
        for node in self._nodes:
            if node.network.version != ip.version or ip not in node.network:
                continue
            # ">=" so that a later node of equal length overrides, and so that /0 nodes can match.
            if best is None or node.prefixlen >= best.prefixlen:
                best = node
        return best

    def allows(self, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        """Whether the list lets ``ip`` in (longest prefix wins, else the list default).

        An IPv4-mapped IPv6 address is checked as the IPv4 address it carries, since that is how a
        dual-stack socket reports IPv4 peers.
        """
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        node = self.match(ip)
        return self.default_allow if node is None else node.allow


def _route_prefix(ip: ipaddress.IPv4Address) -> int | None:
    """Prefix length of the directly connected route that holds ``ip``, read from ``/proc/net/route``.

    FreeSWITCH asks the interface for its netmask; the kernel's on-link route for that interface
    carries the same mask and can be read without ioctl or third-party packages. Returns None where
    the file does not exist (non-Linux) or no on-link route covers the address.
    """
    try:
        with open(_PROC_ROUTE, encoding="ascii") as routes:
            lines = routes.read().splitlines()[1:]
    except OSError:
        return None
    best: int | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        try:
            # The kernel prints each __be32 as a host-order integer; htonl restores the address value.
            destination = ipaddress.IPv4Address(socket.htonl(int(fields[1], 16)))
            gateway = int(fields[2], 16)
            mask = ipaddress.IPv4Address(socket.htonl(int(fields[7], 16)))
            network = ipaddress.IPv4Network(f"{destination}/{mask}")
        except ValueError:
            continue
        if gateway != 0 or network.prefixlen == 0 or ip not in network:
            continue
        if best is None or network.prefixlen > best:
            best = network.prefixlen
    return best


def guess_local_interface() -> ipaddress.IPv4Interface:
    """Guess this host's LAN address and netmask, as ``switch_find_local_ip`` does.

    The primary address is the source the kernel picks for a UDP socket "connected" to a public
    address; no packet leaves the host. The mask comes from the matching on-link route, defaulting
    to /24. Without a usable route the guess is ``127.0.0.1/8`` so that ``localnet.auto`` stays
    closed to the outside rather than failing the server start.
    """
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(_PROBE_ADDRESS)
            source = probe.getsockname()[0]
        address = ipaddress.IPv4Address(source)
    except (OSError, ValueError):
        return FALLBACK_INTERFACE
    if address.is_unspecified:
        return FALLBACK_INTERFACE
    if address.is_loopback:
        return ipaddress.IPv4Interface(f"{address}/8")
    prefix = _route_prefix(address)
    return ipaddress.IPv4Interface(f"{address}/{_DEFAULT_GUESSED_PREFIX if prefix is None else prefix}")


_RFC1918 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
_RFC6598 = "100.64.0.0/10"
_LINK_LOCAL_V6 = "fe80::/10"
_WAN_DENIED_V4 = ("0.0.0.0/8", *_RFC1918, "169.254.0.0/16", _RFC6598)


def _builtin_lists(lan: ipaddress.IPv4Interface) -> list[AclList]:
    """The ``*.auto`` lists FreeSWITCH creates before reading ``acl.conf`` (PROTOCOL.md §6.2)."""

    def make(name: str, default_allow: bool, allow: bool, cidrs: Iterable[str]) -> AclList:
        acl = AclList(name, default_allow)
        for cidr in cidrs:
            acl.add(cidr, allow)
        return acl

    rfc6598 = make("rfc6598.auto", False, True, [_RFC6598])
    rfc1918 = make("rfc1918.auto", False, True, [*_RFC1918, _LINK_LOCAL_V6])
    wan = make("wan.auto", True, False, [*_WAN_DENIED_V4, _LINK_LOCAL_V6])
    wan_v4 = make("wan_v4.auto", True, False, [*_WAN_DENIED_V4, _LINK_LOCAL_V6, "::/0"])
    wan_v6 = make("wan_v6.auto", True, False, ["0.0.0.0/0", _LINK_LOCAL_V6])
    any_v4 = make("any_v4.auto", True, False, ["::/0"])
    any_v6 = make("any_v6.auto", True, False, ["0.0.0.0/0"])

    nat = AclList("nat.auto", False)
    nat.add_network(lan.network, False)
    for cidr in (*_RFC1918, _RFC6598):
        nat.add(cidr, True)

    loopback = make("loopback.auto", False, True, ["127.0.0.0/8", "::1/128"])

    localnet = AclList("localnet.auto", False)
    localnet.add_network(lan.network, True)

    return [rfc6598, rfc1918, wan, wan_v4, wan_v6, any_v4, any_v6, nat, loopback, localnet]


class AclRegistry:
    """All network lists known to the server, looked up by case-insensitive name.

    It starts with the built-in ``*.auto`` lists; :meth:`from_xml` adds those of ``acl.conf``, which
    replace a built-in of the same name just as they do in FreeSWITCH's single list table.
    """

    __slots__ = ("_lists", "local_interface")

    def __init__(self, local_interface: ipaddress.IPv4Interface | None = None) -> None:
        """Create a registry holding the built-in lists.

        Args:
            local_interface: the LAN used by ``localnet.auto`` and ``nat.auto``; guessed from the
                host when None. Passing it makes those lists predictable (tests, containers).
        """
        self.local_interface = guess_local_interface() if local_interface is None else local_interface
        self._lists: dict[str, AclList] = {}
        for acl in _builtin_lists(self.local_interface):
            self.add_list(acl)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._lists

    def __len__(self) -> int:
        return len(self._lists)

    def names(self) -> list[str]:
        """Names of the known lists, as they were spelled when added."""
        return [acl.name for acl in self._lists.values()]

    def get(self, name: str) -> AclList | None:
        """The list called ``name`` (any case), or None."""
        return self._lists.get(name.lower())

    def add_list(self, acl: AclList) -> None:
        """Register ``acl``, replacing any list with the same name regardless of case."""
        self._lists[acl.name.lower()] = acl

    @classmethod
    def from_xml(
        cls,
        network_lists: ET.Element | None,
        domain_cidrs: Callable[[str], list[str]] | None = None,
        *,
        local_interface: ipaddress.IPv4Interface | None = None,
    ) -> AclRegistry:
        """Build the registry from ``acl.conf``'s ``<network-lists>`` element (None: built-ins only).

        Each ``<list name= default=>`` becomes an :class:`AclList` (``default`` missing means allow).
        Its ``<node type=>`` children (``type`` missing means the list default) are, in FreeSWITCH's
        order of precedence: ``domain=`` (every CIDR ``domain_cidrs(domain)`` returns, i.e. the
        ``cidr`` attributes of that directory domain's users), ``cidr=`` (comma-separated allowed),
        or ``host=`` + ``mask=``. ``port``/``ports`` attributes are ignored.

        Configuration mistakes never raise: a bad entry is logged on ``eventsocket.acl`` and
        skipped, so one typo cannot keep the whole server from starting. The ``<configuration>``
        root of ``acl.conf`` is accepted as well and searched for ``<network-lists>``.
        """
        registry = cls(local_interface)
        if network_lists is None:
            return registry
        if network_lists.tag != "network-lists":
            found = network_lists.find("network-lists")
            if found is None:
                return registry
            network_lists = found
        for x_list in network_lists.findall("list"):
            name = (x_list.get("name") or "").strip()
            if not name:
                logger.warning("acl.conf: <list> without a name skipped")
                continue
            default_attr = x_list.get("default")
            default_allow = True if default_attr is None else switch_true(default_attr)
            acl = AclList(name, default_allow)
            for x_node in x_list.findall("node"):
                _load_node(acl, x_node, domain_cidrs)
            registry.add_list(acl)
        return registry

    def allows(self, acl: str, ip: str) -> bool:
        """Whether the ACL value ``acl`` lets the peer address ``ip`` in.

        ``acl`` is a list name first; otherwise, if it contains ``/``, it is one CIDR or a
        comma-separated list of CIDRs and the address is allowed when any of them contains it.
        Anything else is an unknown list and denies everyone, so a misspelt name fails closed. An
        address that cannot be parsed is denied for the same reason.
        """
        address = parse_client_ip(ip)
        if address is None:
            return False
        named = self.get(acl.strip())
        if named is not None:
            return named.allows(address)
        if "/" not in acl:
            return False
        for part in acl.split(","):
            if not part.strip():
                continue
            try:
                network = parse_network(part)
            except ValueError:
                logger.warning("ACL %r: ignoring malformed CIDR %r", acl, part)
                continue
            if network.version == address.version and address in network:
                return True
        return False

    def first_rejecting(self, acls: list[str], ip: str) -> str | None:
        """The first ACL of ``acls`` that refuses ``ip``, or None when all of them allow it.

        Every configured ``apply-inbound-acl`` must allow the client. An empty ``acls`` means
        ``["loopback.auto"]``, FreeSWITCH's default, so an unconfigured server only admits local
        clients. The returned name is what goes into ``Rejected by acl "<name>"``.
        """
        for acl in acls or [DEFAULT_INBOUND_ACL]:
            if not self.allows(acl, ip):
                return acl
        return None


def _add_cidrs(acl: AclList, value: str, allow: bool, token: str | None = None) -> None:
    """Add each comma-separated CIDR of ``value`` separately, skipping (and logging) the bad ones."""
    for part in value.split(","):
        if not part.strip():
            continue
        try:
            acl.add(part, allow, token)
        except ValueError as exc:
            logger.warning("acl.conf list %r: skipping node: %s", acl.name, exc)


def _load_node(acl: AclList, x_node: ET.Element, domain_cidrs: Callable[[str], list[str]] | None) -> None:
    """Add the node(s) one ``<node>`` element describes to ``acl``; never raises."""
    type_attr = x_node.get("type")
    allow = acl.default_allow if type_attr is None else switch_true(type_attr)
    domain = x_node.get("domain")
    cidr = x_node.get("cidr")
    host = x_node.get("host")
    mask = x_node.get("mask")
    if domain is not None:
        if domain_cidrs is None:
            logger.warning("acl.conf list %r: no directory to resolve domain %r", acl.name, domain)
            return
        try:
            cidrs = list(domain_cidrs(domain))
        except Exception:
            logger.warning("acl.conf list %r: cannot locate domain %r", acl.name, domain, exc_info=True)
            return
        for value in cidrs:
            _add_cidrs(acl, value, allow, domain)
    elif cidr is not None:
        _add_cidrs(acl, cidr, allow)
    elif host is not None and mask is not None:
        try:
            acl.add_host_mask(host, mask, allow)
        except ValueError as exc:
            logger.warning("acl.conf list %r: skipping node: %s", acl.name, exc)
    else:
        logger.warning("acl.conf list %r: node without cidr, host+mask or domain skipped", acl.name)
