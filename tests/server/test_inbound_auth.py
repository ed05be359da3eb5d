"""Greeting, ``auth``, the unauthenticated phase and ending a connection (PROTOCOL.md §2, §3.13)."""

from __future__ import annotations

import pytest
from inbound_wire import GOODBYE, GREETING, Harness, Wire, api_response, logged_in, reply


async def test_greeting_is_auth_request(harness: Harness) -> None:
    wire = await Wire.open(harness)
    assert await wire.reader.readexactly(len(GREETING)) == b"Content-Type: auth/request\n\n"
    # nothing else precedes the reply to the first command
    msg = await wire.cmd("auth ClueCon")
    assert msg.raw == b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"


async def test_auth_success_then_commands_work(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("api echo hello")).raw == api_response("hello")


async def test_auth_keyword_is_case_insensitive(harness: Harness) -> None:
    wire = await Wire.open(harness)
    await wire.reader.readexactly(len(GREETING))
    assert (await wire.cmd("AUTH ClueCon")).raw == reply("+OK accepted")


@pytest.mark.parametrize(
    "line",
    [
        "auth wrong",
        "auth clueCon",  # case-sensitive
        "auth  ClueCon",  # the space is part of the password
        "auth ClueCon ",  # so is a trailing one
        "auth ",
    ],
)
async def test_wrong_password_gets_invalid_then_goodbye_then_close(harness: Harness, line: str) -> None:
    wire = await Wire.open(harness)
    await wire.reader.readexactly(len(GREETING))
    await wire.send(line + "\n\n")
    assert await wire.rest() == reply("-ERR invalid") + GOODBYE
    assert len(GOODBYE) - GOODBYE.index(b"\n\n") - 2 == 67


async def test_commands_before_auth_are_not_found_and_the_connection_stays_open(harness: Harness) -> None:
    wire = await Wire.open(harness)
    await wire.reader.readexactly(len(GREETING))
    for line in [
        "api echo x",
        "bgapi echo x",
        "event plain ALL",
        "filter Foo bar",
        "log",
        "nolog",
        "sendevent CUSTOM",
        "noevents",
        "nixevent ALL",
        "linger",
        "myevents abc",
        "authx ClueCon",
        "auth",
        "userauth",
        "hello",
    ]:
        assert (await wire.cmd(line)).raw == reply("-ERR command not found"), line
    # no timeout applies after the first packet, and auth still works
    assert (await wire.cmd("auth ClueCon")).raw == reply("+OK accepted")
    assert (await wire.cmd("api echo still")).raw == api_response("still")


async def test_auth_and_userauth_after_auth_are_not_found(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("auth ClueCon")).raw == reply("-ERR command not found")
    assert (await wire.cmd("auth wrong")).raw == reply("-ERR command not found")
    assert (await wire.cmd("userauth esl@localhost:ClueCon")).raw == reply("-ERR command not found")
    assert (await wire.cmd("api echo open")).raw == api_response("open")


async def test_exit_says_bye_then_goodbye_then_closes(harness: Harness) -> None:
    for line in ["exit", "...", "exitnow", "EXIT", "Exit please"]:
        for authenticated in (False, True):
            wire = await Wire.open(harness)
            if authenticated:
                await wire.login()
            else:
                await wire.reader.readexactly(len(GREETING))
            await wire.send(line + "\n\n")
            assert await wire.rest() == reply("+OK bye") + GOODBYE, (line, authenticated)


async def test_commands_after_exit_in_the_same_write_are_ignored(harness: Harness) -> None:
    wire = await logged_in(harness)
    await wire.send("exit\n\napi echo late\n\n")
    assert await wire.rest() == reply("+OK bye") + GOODBYE


async def test_closed_connection_leaves_the_server(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert len(harness.server.connections) == 1
    await wire.send("exit\n\n")
    await wire.rest()
    await wire.close()
    other = await logged_in(harness)
    assert (await other.cmd("api echo next")).raw == api_response("next")
    assert len(harness.server.connections) == 1
