"""``userauth`` against the directory of the default conf_dir, and the restrictions it sets (§2.3)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from inbound_wire import GOODBYE, GREETING, Harness, Wire, api_response, reply, running

from eventsocket.switch.builder import build_switch
from eventsocket.switch.config import ConfDir

LIMITED_EVENTS = "CHANNEL_CREATE CHANNEL_ANSWER CUSTOM my::sub"
LIMITED_API = "echo,status,bgapi"


@pytest.fixture
async def dir_harness() -> AsyncIterator[Harness]:
    core = build_switch(ConfDir.load(), heartbeat_interval=0)
    async with running(core=core) as harness:
        yield harness


def domain_of(harness: Harness) -> str:
    assert harness.core.conf is not None
    return harness.core.conf.global_vars["domain"]


async def greeted(harness: Harness) -> Wire:
    wire = await Wire.open(harness)
    assert await wire.reader.readexactly(len(GREETING)) == GREETING
    return wire


async def limited(harness: Harness) -> Wire:
    wire = await greeted(harness)
    msg = await wire.cmd(f"userauth limited@{domain_of(harness)}:secret")
    assert msg.raw == reply(
        "+OK accepted",
        ("Allowed-Events", LIMITED_EVENTS),
        ("Allowed-API", LIMITED_API),
        ("Allowed-LOG", "false"),
    )
    return wire


@pytest.mark.parametrize("form", ["{user}@{domain}:{password}", "{user}:{password}@{domain}"])
async def test_userauth_full_access_user(dir_harness: Harness, form: str) -> None:
    wire = await greeted(dir_harness)
    line = "userauth " + form.format(user="esl", domain=domain_of(dir_harness), password="ClueCon")
    msg = await wire.cmd(line)
    assert msg.raw == reply(
        "+OK accepted", ("Allowed-Events", "all"), ("Allowed-API", "all"), ("Allowed-LOG", "true")
    )
    assert (await wire.cmd("event plain ALL")).raw == reply("+OK event listener enabled plain")
    assert (await wire.cmd("log")).raw == reply("+OK log level  [7]")
    assert (await wire.ask("api version short")).raw == api_response("1.11.3-dev\n")


@pytest.mark.parametrize("form", ["{user}@{domain}:{password}", "{user}:{password}@{domain}"])
async def test_userauth_restricted_user_headers(dir_harness: Harness, form: str) -> None:
    wire = await greeted(dir_harness)
    line = "userauth " + form.format(user="limited", domain=domain_of(dir_harness), password="secret")
    assert (await wire.cmd(line)).raw == reply(
        "+OK accepted",
        ("Allowed-Events", LIMITED_EVENTS),
        ("Allowed-API", LIMITED_API),
        ("Allowed-LOG", "false"),
    )


async def test_password_after_a_colon_in_the_user_part_wins(dir_harness: Harness) -> None:
    wire = await greeted(dir_harness)
    msg = await wire.cmd(f"userauth esl:ClueCon@{domain_of(dir_harness)}:wrong")
    assert msg.reply_text == "+OK accepted"


@pytest.mark.parametrize(
    "credentials",
    [
        "esl@{domain}:wrong",
        "esl@{domain}:clueCon",
        "esl@{domain}:",
        "limited@{domain}:ClueCon",
        "nobody@{domain}:ClueCon",
        "1000@{domain}:1234",  # a directory user without esl-password
        "esl@no.such.domain:ClueCon",
        "@{domain}:ClueCon",
        "esl@:ClueCon",
        "esl:ClueCon",
        "",
    ],
)
async def test_userauth_failure_closes(dir_harness: Harness, credentials: str) -> None:
    wire = await greeted(dir_harness)
    await wire.send(f"userauth {credentials.format(domain=domain_of(dir_harness))}\n\n")
    assert await wire.rest() == reply("-ERR invalid") + GOODBYE


async def test_userauth_without_a_directory_fails(harness: Harness) -> None:
    wire = await greeted(harness)
    await wire.send("userauth esl@localhost:ClueCon\n\n")
    assert await wire.rest() == reply("-ERR invalid") + GOODBYE


async def test_plain_auth_still_works_with_a_directory(dir_harness: Harness) -> None:
    wire = await greeted(dir_harness)
    assert (await wire.cmd("auth ClueCon")).raw == reply("+OK accepted")
    assert (await wire.cmd("log")).raw == reply("+OK log level  [7]")


RESTRICTED_REPLIES = [
    ("event plain CHANNEL_CREATE", "+OK event listener enabled plain"),
    ("event plain CHANNEL_CREATE CHANNEL_ANSWER", "+OK event listener enabled plain"),
    ("event plain HEARTBEAT", "-ERR permission denied"),
    ("event plain ALL", "-ERR permission denied"),
    ("event plain CHANNEL_CREATE HEARTBEAT", "-ERR permission denied"),
    ("event plain CUSTOM my::sub", "+OK event listener enabled plain"),
    ("event plain CUSTOM other::sub", "-ERR permission denied"),
    ("event plain CUSTOM my::sub other::sub", "-ERR permission denied"),
    ("event plain NOSUCHNAME", "-ERR no keywords supplied"),
    ("log", "-ERR permission denied"),
    ("log 7", "-ERR permission denied"),
    ("api version", "-ERR permission denied"),
    ("api  echo x", "-ERR permission denied"),
    ("api Echo x", "-ERR permission denied"),
    ("api bgapi version", "-ERR permission denied"),
    ("api bgapi bgapi version", "-ERR permission denied"),
    ("api eval x", "-ERR permission denied"),
    ("bgapi version", "-ERR permission denied"),
    ("bgapi  echo", "-ERR permission denied"),
    ("filter X-Name alice", "+OK filter added. [X-Name]=[alice]"),
    ("nolog", "-ERR not loging"),
]


async def test_restricted_user_commands(dir_harness: Harness) -> None:
    wire = await limited(dir_harness)
    got = [(line, (await wire.cmd(line)).raw) for line, _ in RESTRICTED_REPLIES]
    assert got == [(line, reply(expected)) for line, expected in RESTRICTED_REPLIES]


async def test_restricted_user_allowed_api(dir_harness: Harness) -> None:
    wire = await limited(dir_harness)
    assert (await wire.cmd("api echo x")).raw == api_response("x")
    assert (await wire.cmd("api status")).body.startswith(b"UP ")
    # a sneaky command that is allowed, followed by an allowed command: not denied
    msg = await wire.cmd("api bgapi echo x")
    assert msg.content_type == "api/response"
    msg = await wire.cmd("bgapi echo y\nJob-UUID: lim")
    assert msg.raw == reply("+OK Job-UUID: lim", ("Job-UUID", "lim"))


async def test_restricted_user_may_still_sendevent(dir_harness: Harness) -> None:
    wire = await limited(dir_harness)
    assert (await wire.cmd("event plain CUSTOM my::sub")).raw == reply("+OK event listener enabled plain")
    msg = await wire.cmd("sendevent CUSTOM\nEvent-Subclass: my::sub\nMarker: mine")
    assert msg.reply_text.startswith("+OK ")
    event = (await wire.frame()).event()
    assert event.subclass == "my::sub"
    assert event["Marker"] == "mine"


async def test_restricted_user_receives_only_subscribed_events(dir_harness: Harness) -> None:
    wire = await limited(dir_harness)
    assert (await wire.cmd("event plain CUSTOM my::sub")).raw == reply("+OK event listener enabled plain")
    await wire.ask("sendevent CUSTOM\nEvent-Subclass: other::sub")
    await wire.ask("api echo x")
    await wire.ask("sendevent CUSTOM\nEvent-Subclass: my::sub")
    got = await wire.sync()
    assert [(m.event().name, m.event().subclass) for m in got] == [("CUSTOM", "my::sub")]


async def test_userauth_after_auth_is_not_found(dir_harness: Harness) -> None:
    wire = await limited(dir_harness)
    assert (await wire.cmd(f"userauth esl@{domain_of(dir_harness)}:ClueCon")).raw == reply(
        "-ERR command not found"
    )
    assert (await wire.cmd("auth ClueCon")).raw == reply("-ERR command not found")
    assert (await wire.cmd("log")).raw == reply("-ERR permission denied")
