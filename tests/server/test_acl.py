"""ACL semantics of FreeSWITCH's network lists (PROTOCOL.md §2.1, §6.2, §6.3)."""

from __future__ import annotations

import ipaddress
import logging
import socket
import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from eventsocket.server import acl as acl_module
from eventsocket.server.acl import (
    AclList,
    AclRegistry,
    guess_local_interface,
    parse_client_ip,
    parse_network,
)

LAN = ipaddress.IPv4Interface("192.168.50.10/24")


def registry(xml: str | None = None, domain_cidrs: Callable[[str], list[str]] | None = None) -> AclRegistry:
    element = None if xml is None else ET.fromstring(xml)
    return AclRegistry.from_xml(element, domain_cidrs, local_interface=LAN)


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


# --- built-in lists ---------------------------------------------------------------------------


def test_builtin_names_present_case_insensitively() -> None:
    reg = AclRegistry(LAN)
    for name in (
        "rfc6598.auto",
        "rfc1918.auto",
        "wan.auto",
        "wan_v4.auto",
        "wan_v6.auto",
        "any_v4.auto",
        "any_v6.auto",
        "nat.auto",
        "loopback.auto",
        "localnet.auto",
    ):
        assert name in reg
        assert name.upper() in reg
    assert reg.allows("LOOPBACK.AUTO", "127.0.0.1") is True


def test_loopback_auto() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("loopback.auto", "127.0.0.1") is True
    assert reg.allows("loopback.auto", "127.200.1.1") is True
    assert reg.allows("loopback.auto", "::1") is True
    assert reg.allows("loopback.auto", "10.1.2.3") is False
    assert reg.allows("loopback.auto", "::2") is False
    assert reg.allows("loopback.auto", "8.8.8.8") is False


def test_rfc1918_auto() -> None:
    reg = AclRegistry(LAN)
    for allowed in ("10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "fe80::1"):
        assert reg.allows("rfc1918.auto", allowed) is True, allowed
    for denied in ("172.32.0.1", "8.8.8.8", "127.0.0.1", "100.64.0.1", "2001:db8::1"):
        assert reg.allows("rfc1918.auto", denied) is False, denied


def test_rfc6598_auto() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("rfc6598.auto", "100.64.0.1") is True
    assert reg.allows("rfc6598.auto", "100.127.255.254") is True
    assert reg.allows("rfc6598.auto", "100.128.0.1") is False
    assert reg.allows("rfc6598.auto", "10.0.0.1") is False


def test_wan_auto() -> None:
    reg = AclRegistry(LAN)
    for allowed in ("8.8.8.8", "1.1.1.1", "2001:db8::1", "127.0.0.1"):
        assert reg.allows("wan.auto", allowed) is True, allowed
    for denied in (
        "10.0.0.1",
        "172.20.1.1",
        "192.168.0.1",
        "169.254.1.1",
        "100.64.1.1",
        "0.1.2.3",
        "fe80::1",
    ):
        assert reg.allows("wan.auto", denied) is False, denied


def test_wan_v4_and_v6_auto() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("wan_v4.auto", "8.8.8.8") is True
    assert reg.allows("wan_v4.auto", "10.0.0.1") is False
    assert reg.allows("wan_v4.auto", "2001:db8::1") is False
    assert reg.allows("wan_v6.auto", "2001:db8::1") is True
    assert reg.allows("wan_v6.auto", "fe80::1") is False
    assert reg.allows("wan_v6.auto", "8.8.8.8") is False


def test_any_v4_denies_v6_and_any_v6_denies_v4() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("any_v4.auto", "8.8.8.8") is True
    assert reg.allows("any_v4.auto", "10.0.0.1") is True
    assert reg.allows("any_v4.auto", "2001:db8::1") is False
    assert reg.allows("any_v4.auto", "::1") is False
    assert reg.allows("any_v6.auto", "2001:db8::1") is True
    assert reg.allows("any_v6.auto", "::1") is True
    assert reg.allows("any_v6.auto", "8.8.8.8") is False
    assert reg.allows("any_v6.auto", "127.0.0.1") is False


def test_localnet_and_nat_auto_use_the_local_interface() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("localnet.auto", "192.168.50.77") is True
    assert reg.allows("localnet.auto", "192.168.51.1") is False
    assert reg.allows("localnet.auto", "8.8.8.8") is False
    # nat.auto: private addresses outside our own LAN are "behind NAT"; our LAN is not.
    assert reg.allows("nat.auto", "192.168.50.77") is False
    assert reg.allows("nat.auto", "192.168.51.1") is True
    assert reg.allows("nat.auto", "10.9.9.9") is True
    assert reg.allows("nat.auto", "100.64.0.9") is True
    assert reg.allows("nat.auto", "8.8.8.8") is False


def test_guessed_interface_is_used_when_none_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        acl_module, "guess_local_interface", lambda: ipaddress.IPv4Interface("10.20.30.40/16")
    )
    reg = AclRegistry()
    assert reg.local_interface == ipaddress.IPv4Interface("10.20.30.40/16")
    assert reg.allows("localnet.auto", "10.20.99.1") is True
    assert reg.allows("localnet.auto", "10.21.0.1") is False


def test_guess_local_interface_returns_an_ipv4_interface() -> None:
    guessed = guess_local_interface()
    assert isinstance(guessed, ipaddress.IPv4Interface)
    assert guessed.ip in guessed.network
    assert not guessed.ip.is_unspecified


def test_guess_local_interface_falls_back_to_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoRoute(socket.socket):
        def connect(self, address: object) -> None:
            raise OSError("Network is unreachable")

    monkeypatch.setattr(socket, "socket", NoRoute)
    assert guess_local_interface() == ipaddress.IPv4Interface("127.0.0.1/8")


# --- list evaluation --------------------------------------------------------------------------


def test_longest_prefix_wins_regardless_of_order() -> None:
    acl = AclList("t", default_allow=False)
    acl.add("10.1.2.0/24", allow=False)
    acl.add("10.0.0.0/8", allow=True)
    assert acl.allows(ip("10.1.2.3")) is False
    assert acl.allows(ip("10.1.3.3")) is True

    reverse = AclList("r", default_allow=False)
    reverse.add("10.0.0.0/8", allow=True)
    reverse.add("10.1.2.0/24", allow=False)
    assert reverse.allows(ip("10.1.2.3")) is False
    assert reverse.allows(ip("10.1.3.3")) is True


def test_equal_length_later_node_overrides() -> None:
    acl = AclList("t", default_allow=False)
    acl.add("10.0.0.0/8", allow=True)
    acl.add("10.0.0.0/8", allow=False)
    assert acl.allows(ip("10.5.5.5")) is False

    other = AclList("u", default_allow=False)
    other.add("10.0.0.0/8", allow=False)
    other.add("10.0.0.0/8", allow=True)
    assert other.allows(ip("10.5.5.5")) is True


def test_list_default_applies_without_match() -> None:
    deny = AclList("d", default_allow=False)
    deny.add("10.0.0.0/8", allow=True)
    assert deny.allows(ip("11.0.0.1")) is False
    allow = AclList("a", default_allow=True)
    allow.add("10.0.0.0/8", allow=False)
    assert allow.allows(ip("11.0.0.1")) is True
    assert AclList("empty", default_allow=True).allows(ip("1.2.3.4")) is True
    assert AclList("empty", default_allow=False).allows(ip("1.2.3.4")) is False


def test_host_bits_in_cidr_are_masked() -> None:
    acl = AclList("t", default_allow=False)
    acl.add("192.168.1.77/24", allow=True)
    assert acl.allows(ip("192.168.1.1")) is True
    assert acl.nodes[0].network == ipaddress.ip_network("192.168.1.0/24")


def test_ipv6_nodes_not_applied_to_ipv4_and_vice_versa() -> None:
    acl = AclList("t", default_allow=True)
    acl.add("::/0", allow=False)
    assert acl.allows(ip("1.2.3.4")) is True
    assert acl.allows(ip("2001:db8::1")) is False

    v4 = AclList("v4", default_allow=False)
    v4.add("0.0.0.0/0", allow=True)
    assert v4.allows(ip("1.2.3.4")) is True
    assert v4.allows(ip("2001:db8::1")) is False


def test_acl_list_checks_ipv4_mapped_as_ipv4() -> None:
    acl = AclList("t", default_allow=False)
    acl.add("10.0.0.0/8", allow=True)
    assert acl.allows(ip("::ffff:10.1.1.1")) is True
    assert acl.allows(ip("::ffff:11.1.1.1")) is False


def test_acl_list_add_is_atomic_and_raises_on_bad_cidr() -> None:
    acl = AclList("t", default_allow=False)
    with pytest.raises(ValueError):
        acl.add("10.0.0.0/8,not-an-ip/8", allow=True)
    assert len(acl) == 0
    acl.add("10.0.0.0/8, 192.168.0.0/16", allow=True)
    assert len(acl) == 2
    assert acl.allows(ip("192.168.3.3")) is True


def test_host_mask_nodes() -> None:
    acl = AclList("t", default_allow=False)
    acl.add_host_mask("192.168.7.9", "255.255.255.0", allow=True)
    assert acl.nodes[0].network == ipaddress.ip_network("192.168.7.0/24")
    assert acl.allows(ip("192.168.7.200")) is True
    assert acl.allows(ip("192.168.8.1")) is False
    with pytest.raises(ValueError):
        acl.add_host_mask("192.168.7.9", "255.0.255.0", allow=True)


def test_parse_helpers() -> None:
    assert parse_network(" 10.0.0.0/8 ") == ipaddress.ip_network("10.0.0.0/8")
    assert parse_network("2001:db8::/32") == ipaddress.ip_network("2001:db8::/32")
    for bad in ("10.0.0.1", "10.0.0.0/33", "10.0.0.0/x", "nope/8", "::/129"):
        with pytest.raises(ValueError):
            parse_network(bad)
    assert parse_client_ip("::ffff:1.2.3.4") == ipaddress.IPv4Address("1.2.3.4")
    assert parse_client_ip("fe80::1%eth0") == ipaddress.IPv6Address("fe80::1")
    assert parse_client_ip("[::1]") == ipaddress.IPv6Address("::1")
    assert parse_client_ip("garbage") is None


# --- registry: ACL values ---------------------------------------------------------------------


def test_cidr_value() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("10.0.0.0/8", "10.2.3.4") is True
    assert reg.allows("10.0.0.0/8", "11.2.3.4") is False
    assert reg.allows("2001:db8::/32", "2001:db8::5") is True
    assert reg.allows("2001:db8::/32", "10.2.3.4") is False


def test_comma_separated_cidr_value() -> None:
    reg = AclRegistry(LAN)
    value = "10.0.0.0/8,127.0.0.1/32"
    assert reg.allows(value, "10.2.3.4") is True
    assert reg.allows(value, "127.0.0.1") is True
    assert reg.allows(value, "127.0.0.2") is False
    assert reg.allows(value, "::ffff:127.0.0.1") is True


def test_unknown_list_name_denies_everyone() -> None:
    reg = AclRegistry(LAN)
    for addr in ("127.0.0.1", "::1", "10.0.0.1", "8.8.8.8"):
        assert reg.allows("no-such-list", addr) is False
    assert reg.first_rejecting(["no-such-list"], "127.0.0.1") == "no-such-list"


def test_unparsable_client_ip_is_denied() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("wan.auto", "not-an-ip") is False


def test_ipv4_mapped_ipv6_tested_as_ipv4() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("loopback.auto", "::ffff:127.0.0.1") is True
    assert reg.allows("rfc1918.auto", "::ffff:192.168.1.5") is True
    assert reg.allows("any_v4.auto", "::ffff:8.8.8.8") is True
    assert reg.allows("any_v6.auto", "::ffff:8.8.8.8") is False


def test_ipv6_zone_is_stripped() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("rfc1918.auto", "fe80::1%eth0") is True
    assert reg.allows("wan.auto", "fe80::1%eth0") is False


def test_several_acls_all_must_allow() -> None:
    reg = registry(
        """<network-lists>
             <list name="lan" default="deny"><node type="allow" cidr="192.168.0.0/16"/></list>
             <list name="no-printers" default="allow"><node type="deny" cidr="192.168.9.0/24"/></list>
           </network-lists>"""
    )
    acls = ["lan", "no-printers"]
    assert reg.first_rejecting(acls, "192.168.1.1") is None
    assert reg.first_rejecting(acls, "192.168.9.5") == "no-printers"
    assert reg.first_rejecting(acls, "10.0.0.1") == "lan"
    assert reg.first_rejecting(["no-printers", "lan"], "10.0.0.1") == "lan"
    assert reg.first_rejecting(["loopback.auto", "lan"], "127.0.0.1") == "lan"


def test_empty_acl_list_means_loopback_only() -> None:
    reg = AclRegistry(LAN)
    assert reg.first_rejecting([], "127.0.0.1") is None
    assert reg.first_rejecting([], "::1") is None
    assert reg.first_rejecting([], "::ffff:127.0.0.1") is None
    assert reg.first_rejecting([], "192.168.50.10") == "loopback.auto"
    assert reg.first_rejecting([], "10.1.2.3") == "loopback.auto"


# --- registry: acl.conf -----------------------------------------------------------------------


def test_from_xml_none_has_only_builtins() -> None:
    reg = registry(None)
    assert len(reg) == 10
    assert reg.allows("loopback.auto", "127.0.0.1") is True


def test_from_xml_lists_defaults_and_types() -> None:
    reg = registry(
        """<network-lists>
             <list name="Office" default="deny">
               <node type="allow" cidr="10.0.0.0/8"/>
               <node type="deny" cidr="10.66.0.0/16"/>
               <node type="allow" cidr="10.66.6.6/32"/>
             </list>
             <list name="open">
               <node type="deny" cidr="203.0.113.0/24"/>
             </list>
             <list name="typeless" default="deny">
               <node cidr="198.51.100.0/24"/>
             </list>
           </network-lists>"""
    )
    assert reg.allows("office", "10.1.1.1") is True
    assert reg.allows("OFFICE", "10.66.1.1") is False
    assert reg.allows("Office", "10.66.6.6") is True
    assert reg.allows("Office", "8.8.8.8") is False
    # default missing means allow
    assert reg.allows("open", "8.8.8.8") is True
    assert reg.allows("open", "203.0.113.9") is False
    # type missing means the list default
    assert reg.allows("typeless", "198.51.100.1") is False
    typeless = reg.get("typeless")
    assert typeless is not None
    assert typeless.nodes[0].allow is False


def test_from_xml_accepts_configuration_root_and_ignores_ports() -> None:
    reg = registry(
        """<configuration name="acl.conf">
             <network-lists>
               <list name="sip" default="deny">
                 <node type="allow" cidr="192.0.2.0/24" port="5060"/>
                 <node type="allow" cidr="198.51.100.0/24" ports="5060,5080"/>
               </list>
             </network-lists>
           </configuration>"""
    )
    assert reg.allows("sip", "192.0.2.1") is True
    assert reg.allows("sip", "198.51.100.1") is True
    assert reg.allows("sip", "203.0.113.1") is False


def test_from_xml_comma_separated_cidr_attribute() -> None:
    reg = registry(
        """<network-lists>
             <list name="multi" default="deny">
               <node type="allow" cidr="10.0.0.0/8,172.16.0.0/12, 2001:db8::/32"/>
             </list>
           </network-lists>"""
    )
    assert reg.allows("multi", "10.1.1.1") is True
    assert reg.allows("multi", "172.17.0.1") is True
    assert reg.allows("multi", "2001:db8::1") is True
    assert reg.allows("multi", "192.168.0.1") is False


def test_from_xml_host_mask_nodes() -> None:
    reg = registry(
        """<network-lists>
             <list name="hm" default="deny">
               <node type="allow" host="192.168.42.0" mask="255.255.255.0"/>
               <node type="deny" host="192.168.42.128" mask="255.255.255.128"/>
             </list>
           </network-lists>"""
    )
    assert reg.allows("hm", "192.168.42.5") is True
    assert reg.allows("hm", "192.168.42.200") is False
    assert reg.allows("hm", "192.168.43.5") is False


def test_from_xml_domain_nodes_use_callback() -> None:
    asked: list[str] = []

    def domain_cidrs(domain: str) -> list[str]:
        asked.append(domain)
        return {"example.com": ["203.0.113.5/32", "198.51.100.0/24,192.0.2.0/28"]}.get(domain, [])

    reg = registry(
        """<network-lists>
             <list name="domains" default="deny">
               <node type="allow" domain="example.com"/>
               <node type="allow" domain="unknown.example"/>
             </list>
           </network-lists>""",
        domain_cidrs=domain_cidrs,
    )
    assert asked == ["example.com", "unknown.example"]
    assert reg.allows("domains", "203.0.113.5") is True
    assert reg.allows("domains", "203.0.113.6") is False
    assert reg.allows("domains", "198.51.100.77") is True
    assert reg.allows("domains", "192.0.2.15") is True
    assert reg.allows("domains", "192.0.2.16") is False
    domains = reg.get("domains")
    assert domains is not None
    assert {node.token for node in domains} == {"example.com"}


def test_from_xml_domain_node_without_callback_or_failing_callback_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = """<network-lists>
               <list name="domains" default="deny">
                 <node type="allow" domain="example.com"/>
                 <node type="allow" cidr="10.0.0.0/8"/>
               </list>
             </network-lists>"""
    with caplog.at_level(logging.WARNING, logger="eventsocket.acl"):
        reg = registry(xml)
    assert reg.allows("domains", "10.1.1.1") is True
    assert len(reg.get("domains") or []) == 1
    assert any("example.com" in record.getMessage() for record in caplog.records)

    def broken(domain: str) -> list[str]:
        raise LookupError(domain)

    reg = registry(xml, domain_cidrs=broken)
    assert reg.allows("domains", "10.1.1.1") is True
    assert len(reg.get("domains") or []) == 1


def test_from_xml_malformed_nodes_are_skipped_with_warning(caplog: pytest.LogCaptureFixture) -> None:
    xml = """<network-lists>
               <list name="messy" default="deny">
                 <node type="allow" cidr="10.0.0.0/33"/>
                 <node type="allow" cidr="not-an-ip/8"/>
                 <node type="allow" cidr="192.168.1.1"/>
                 <node type="allow" cidr="172.16.0.0/12,bogus/4,192.0.2.0/24"/>
                 <node type="allow" host="192.168.9.0" mask="255.0.255.0"/>
                 <node type="allow" host="nope" mask="255.255.255.0"/>
                 <node type="allow"/>
                 <node type="allow" cidr="127.0.0.0/8"/>
               </list>
               <list default="allow"><node type="deny" cidr="0.0.0.0/0"/></list>
               <list name="after" default="deny"><node type="allow" cidr="8.8.8.0/24"/></list>
             </network-lists>"""
    with caplog.at_level(logging.WARNING, logger="eventsocket.acl"):
        reg = registry(xml)
    messy = reg.get("messy")
    assert messy is not None
    assert [str(node.network) for node in messy] == ["172.16.0.0/12", "192.0.2.0/24", "127.0.0.0/8"]
    assert reg.allows("messy", "127.0.0.1") is True
    assert reg.allows("messy", "172.16.1.1") is True
    assert reg.allows("messy", "192.0.2.1") is True
    assert reg.allows("messy", "10.0.0.1") is False
    assert reg.allows("messy", "192.168.1.1") is False
    assert reg.allows("messy", "192.168.9.1") is False
    assert reg.allows("after", "8.8.8.8") is True
    assert len(reg) == 12
    warnings = [r for r in caplog.records if r.name == "eventsocket.acl" and r.levelno == logging.WARNING]
    assert len(warnings) >= 7


def test_malformed_entry_in_cidr_value_is_ignored() -> None:
    reg = AclRegistry(LAN)
    assert reg.allows("bogus/8,10.0.0.0/8", "10.0.0.1") is True
    assert reg.allows("bogus/8,10.0.0.0/8", "11.0.0.1") is False


def test_config_list_overrides_builtin_of_same_name() -> None:
    reg = registry(
        """<network-lists>
             <list name="Loopback.Auto" default="allow"/>
           </network-lists>"""
    )
    assert reg.allows("loopback.auto", "8.8.8.8") is True
    assert len(reg) == 10


def test_switch_true_values_for_default_and_type() -> None:
    reg = registry(
        """<network-lists>
             <list name="yes" default="yes"><node type="0" cidr="10.0.0.0/8"/></list>
             <list name="no" default="false"><node type="true" cidr="10.0.0.0/8"/></list>
           </network-lists>"""
    )
    assert reg.allows("yes", "8.8.8.8") is True
    assert reg.allows("yes", "10.0.0.1") is False
    assert reg.allows("no", "8.8.8.8") is False
    assert reg.allows("no", "10.0.0.1") is True
