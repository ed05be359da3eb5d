"""ACLs applied by the running server: IPv4, IPv6, IPv4-mapped peers, several lists (§2.1, §6)."""

from __future__ import annotations

import socket

import pytest
from inbound_wire import GOODBYE, GREETING, RUDE_REJECTION, Harness, Wire, reply, running, wait_for

from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.builder import build_switch
from eventsocket.switch.log import LogLine


def _can_bind(host: str, v6only: bool | None = None) -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            if v6only is not None:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
            sock.bind((host, 0))
    except OSError:
        return False
    return True


needs_ipv6_loopback = pytest.mark.skipif(not _can_bind("::1"), reason="no IPv6 loopback on this machine")
needs_dual_stack = pytest.mark.skipif(not _can_bind("::", v6only=False), reason="no dual-stack IPv6 socket")


def settings(listen_ip: str = "127.0.0.1", acls: list[str] | None = None) -> EventSocketSettings:
    return EventSocketSettings(listen_ip=listen_ip, listen_port=0, apply_inbound_acl=list(acls or []))


async def assert_allowed(harness: Harness, host: str = "127.0.0.1") -> Wire:
    wire = await Wire.open(harness, host)
    assert await wire.reader.readexactly(len(GREETING)) == GREETING
    assert (await wire.cmd("auth ClueCon")).raw == reply("+OK accepted")
    return wire


async def assert_denied(harness: Harness, host: str = "127.0.0.1") -> None:
    wire = await Wire.open(harness, host)
    assert await wire.rest() == RUDE_REJECTION + GOODBYE


def peers(harness: Harness) -> list[str]:
    return [conn.peer[0] for conn in harness.server.connections]


async def test_default_acl_allows_ipv4_loopback(harness: Harness) -> None:
    assert harness.server.settings.apply_inbound_acl == []
    await assert_allowed(harness)


async def test_rfc1918_denies_loopback_with_the_rude_rejection() -> None:
    core = build_switch(heartbeat_interval=0)
    lines: list[LogLine] = []
    core.add_log_listener(lines.append)
    async with running(settings(acls=["rfc1918.auto"]), core) as harness:
        await assert_denied(harness)
        assert any(line.message == 'IP 127.0.0.1 Rejected by acl "rfc1918.auto"\n' for line in lines)
        # the server goes on accepting (and refusing) connections
        await assert_denied(harness)
        await wait_for(lambda: not harness.server.connections)


@pytest.mark.parametrize(
    ("acls", "allowed"),
    [
        (["loopback.auto"], True),
        (["127.0.0.0/8"], True),
        (["127.0.0.1/32"], True),
        (["10.0.0.0/8,127.0.0.1/32"], True),
        (["10.0.0.0/8"], False),
        (["any_v4.auto"], True),
        (["any_v6.auto"], False),
        (["no-such-list"], False),
        (["loopback.auto", "127.0.0.0/8"], True),
        (["loopback.auto", "rfc1918.auto"], False),
        (["rfc1918.auto", "loopback.auto"], False),
        (["loopback.auto", "any_v4.auto", "127.0.0.1/32"], True),
        (["loopback.auto", "any_v4.auto", "any_v6.auto"], False),
    ],
)
async def test_several_acls_must_all_allow(acls: list[str], allowed: bool) -> None:
    async with running(settings(acls=acls)) as harness:
        if allowed:
            await assert_allowed(harness)
        else:
            await assert_denied(harness)


@needs_ipv6_loopback
@pytest.mark.parametrize(
    ("acls", "allowed"),
    [
        ([], True),
        (["loopback.auto"], True),
        (["::1/128"], True),
        (["any_v6.auto"], True),
        (["any_v4.auto"], False),
        (["127.0.0.0/8"], False),  # IPv4 nodes are not checked against IPv6 clients
        (["rfc1918.auto"], False),
    ],
)
async def test_ipv6_loopback(acls: list[str], allowed: bool) -> None:
    async with running(settings("::1", acls)) as harness:
        if allowed:
            await assert_allowed(harness, "::1")
            assert peers(harness) == ["::1"]
        else:
            await assert_denied(harness, "::1")


@needs_dual_stack
@pytest.mark.parametrize(
    ("acls", "allowed"),
    [
        ([], True),
        (["loopback.auto"], True),
        (["127.0.0.0/8"], True),
        (["any_v4.auto"], True),
        (["any_v6.auto"], False),
        (["::ffff:0:0/96"], False),  # matched as IPv4, so an IPv6 CIDR does not apply
        (["loopback.auto", "any_v6.auto"], False),
    ],
)
async def test_dual_stack_ipv4_client_is_matched_as_ipv4(acls: list[str], allowed: bool) -> None:
    async with running(settings("::", acls)) as harness:
        if allowed:
            await assert_allowed(harness, "127.0.0.1")
            assert peers(harness) == ["::ffff:127.0.0.1"]
        else:
            await assert_denied(harness, "127.0.0.1")


@needs_dual_stack
async def test_dual_stack_listener_serves_ipv6_too() -> None:
    if not _can_bind("::1"):
        pytest.skip("no IPv6 loopback on this machine")
    async with running(settings("::")) as harness:
        await assert_allowed(harness, "::1")
        await assert_allowed(harness, "127.0.0.1")
        assert sorted(peers(harness)) == ["::1", "::ffff:127.0.0.1"]
