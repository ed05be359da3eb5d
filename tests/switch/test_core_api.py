"""The core API commands through ``SwitchCore.execute_api`` (PROTOCOL.md §3.1, §8)."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET

import orjson
import pytest

from eventsocket.protocol.events import Event
from eventsocket.switch.builder import build_switch
from eventsocket.switch.clock import Clock
from eventsocket.switch.core import SwitchCore
from eventsocket.switch.identity import SwitchIdentity
from eventsocket.switch.log import LogLine

VERSION_FULL = (
    "FreeSWITCH Version 1.11.3-dev+git~20260821T141014Z~cc93a683ca~64bit "
    "(git cc93a68 2026-08-21 14:10:14Z 64bit)\n"
)
UPTIME_USAGE = "-USAGE: [us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]\n"


class FakeClock(Clock):
    """A clock the test moves by hand; sleeps are recorded and can be held at a gate."""

    def __init__(self) -> None:
        self.mono = 0.0
        self.wall = 1_795_000_000.0
        self.slept: list[float] = []
        self.gate: asyncio.Event | None = None

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def set_uptime_us(self, micros: int) -> None:
        # half a microsecond more, so float rounding never takes one off
        self.mono = (micros + 0.5) / 1_000_000

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.gate is not None:
            await self.gate.wait()
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def core(clock: FakeClock) -> SwitchCore:
    identity = SwitchIdentity(hostname="vm", ipv4="192.0.2.7", ipv6="")
    return build_switch(identity=identity, clock=clock, heartbeat_interval=0)


def api_events(core: SwitchCore) -> list[Event]:
    events: list[Event] = []
    core.bus.subscribe(lambda event: events.append(event) if event.name == "API" else None)
    return events


# -- echo, version, hostname ---------------------------------------------------------------------


async def test_echo(core: SwitchCore) -> None:
    assert await core.execute_api("echo", "hello  world") == "hello  world"
    assert await core.execute_api("echo", "  trimmed  ") == "trimmed"
    assert await core.execute_api("echo", "") == ""
    assert await core.execute_api("ECHO", "case") == "case"
    assert await core.execute_api("  echo ", "x") == "x"


async def test_unknown_command_is_none(core: SwitchCore) -> None:
    assert await core.execute_api("no_such_command", "x") is None
    assert await core.execute_api("", "") is None


async def test_version(core: SwitchCore) -> None:
    assert await core.execute_api("version") == VERSION_FULL
    assert await core.execute_api("version", "short") == "1.11.3-dev\n"


async def test_hostname(core: SwitchCore) -> None:
    assert await core.execute_api("hostname") == "vm"


# -- status and uptime ------------------------------------------------------------------------------


STATUS_TAIL = re.compile(
    r"FreeSWITCH \(Version 1\.11\.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit\) "
    r"is (?P<state>ready|not ready)\n"
    r"0 session\(s\) since startup\n"
    r"0 session\(s\) - peak 0, last 5min 0 \n"
    r"0 session\(s\) per Sec out of max 30, peak 0, last 5min 0 \n"
    r"1000 session\(s\) max\n"
    r"min idle cpu 0\.00/\d{1,3}\.\d\d\n"
    r"Current Stack Size/Max 240K/8192K\n\Z"
)


async def test_status_layout(core: SwitchCore, clock: FakeClock) -> None:
    clock.set_uptime_us(185_625_236)  # 3 min 5.625236 s
    out = await core.execute_api("status")
    assert out is not None
    first, rest = out.split("\n", 1)
    assert first == "UP 0 years, 0 days, 0 hours, 3 minutes, 5 seconds, 625 milliseconds, 236 microseconds"
    match = STATUS_TAIL.match(rest)
    assert match is not None, rest
    assert match["state"] == "ready"
    # lines 4 and 5 end in a space
    lines = out.split("\n")
    assert lines[3].endswith(" ") and lines[4].endswith(" ")
    assert len(lines) == 9 and lines[-1] == ""


async def test_status_arguments_ignored_and_not_ready(core: SwitchCore) -> None:
    core.ready = False
    out = await core.execute_api("status", "whatever args")
    assert out is not None
    match = STATUS_TAIL.match(out.split("\n", 1)[1])
    assert match is not None and match["state"] == "not ready"


async def test_uptime_units_are_singular_at_one(core: SwitchCore, clock: FakeClock) -> None:
    one_each = ((((365 + 1) * 24 + 1) * 60 + 1) * 60 + 1) * 1_000_000 + 1000 + 1
    clock.set_uptime_us(one_each)
    out = await core.execute_api("status")
    assert out is not None
    assert out.startswith("UP 1 year, 1 day, 1 hour, 1 minute, 1 second, 1 millisecond, 1 microsecond\n")
    clock.set_uptime_us(2 * one_each)
    out = await core.execute_api("status")
    assert out is not None
    assert out.startswith(
        "UP 2 years, 2 days, 2 hours, 2 minutes, 2 seconds, 2 milliseconds, 2 microseconds\n"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("", "93784\n"),
        ("s", "93784\n"),
        ("seconds", "93784\n"),
        ("us", "93784005006\n"),
        ("microseconds", "93784005006\n"),
        ("ms", "93784005\n"),
        ("milliseconds", "93784005\n"),
        ("m", "1563\n"),
        ("minutes", "1563\n"),
        ("h", "26\n"),
        ("hours", "26\n"),
        ("d", "1\n"),
        ("days", "1\n"),
        ("MS", "93784005\n"),
        ("weeks", UPTIME_USAGE),
        ("x", UPTIME_USAGE),
    ],
)
async def test_uptime(core: SwitchCore, clock: FakeClock, args: str, expected: str) -> None:
    clock.set_uptime_us(93_784_005_006)  # 1 day 2 h 3 min 4 s 5 ms 6 us
    assert await core.execute_api("uptime", args) == expected


# -- globals, eval, expand ------------------------------------------------------------------------------


async def test_global_getvar(core: SwitchCore) -> None:
    assert await core.execute_api("global_getvar", "hostname") == "vm"
    assert await core.execute_api("global_getvar", "no_such_var") == ""
    everything = await core.execute_api("global_getvar")
    assert everything is not None and everything.endswith("\n")
    lines = everything[:-1].split("\n")
    assert "hostname=vm" in lines
    assert f"core_uuid={core.identity.core_uuid}" in lines
    assert all("=" in line for line in lines)


async def test_global_setvar(core: SwitchCore) -> None:
    assert await core.execute_api("global_setvar", "foo=bar") == "+OK"
    assert await core.execute_api("global_getvar", "foo") == "bar"
    assert await core.execute_api("global_setvar", "foo=baz") == "+OK"
    assert await core.execute_api("global_getvar", "foo") == "baz"
    assert await core.execute_api("global_setvar", "spaced = a b ") == "+OK"
    assert await core.execute_api("global_getvar", "spaced") == "a b"


async def test_global_setvar_conditional(core: SwitchCore) -> None:
    await core.execute_api("global_setvar", "mode=day")
    # var=expected=new: only when the current value is the expected one
    assert await core.execute_api("global_setvar", "mode=night=late") == "+OK"
    assert await core.execute_api("global_getvar", "mode") == "day"
    assert await core.execute_api("global_setvar", "mode=day=night") == "+OK"
    assert await core.execute_api("global_getvar", "mode") == "night"


@pytest.mark.parametrize("args", ["", "novalue", "=x"])
async def test_global_setvar_usage(core: SwitchCore, args: str) -> None:
    assert await core.execute_api("global_setvar", args) == "-USAGE: <var>=<value> [=<value2>]\n"


async def test_eval(core: SwitchCore) -> None:
    await core.execute_api("global_setvar", "foo=bar")
    assert await core.execute_api("eval", "$${hostname} ${foo}") == "vm bar"
    assert await core.execute_api("eval", "[${no_such_variable}]") == "[]"
    assert await core.execute_api("eval", "plain text") == "plain text"
    assert await core.execute_api("eval", "${foo:1}") == "ar"
    assert await core.execute_api("eval", "") == ""


async def test_eval_runs_api_in_expansion(core: SwitchCore) -> None:
    assert await core.execute_api("eval", "v=${version short}") == "v=1.11.3-dev\n"
    assert await core.execute_api("eval", "${echo(hi)}") == "hi"


async def test_expand(core: SwitchCore) -> None:
    await core.execute_api("global_setvar", "who=world")
    assert await core.execute_api("expand", "echo hello ${who} on $${hostname}") == "hello world on vm"
    assert await core.execute_api("expand", "version short") == "1.11.3-dev\n"


# -- msleep, module_exists ------------------------------------------------------------------------------


async def test_msleep(core: SwitchCore, clock: FakeClock) -> None:
    assert await core.execute_api("msleep", "10") == "+OK"
    assert await core.execute_api("msleep", "abc") == "+OK"
    assert await core.execute_api("msleep", "-5") == "+OK"
    assert clock.slept == [0.01, 0.0, 0.0]


async def test_module_exists(core: SwitchCore) -> None:
    assert await core.execute_api("module_exists", "mod_commands") == "true"
    assert await core.execute_api("module_exists", "mod_event_socket") == "true"
    assert await core.execute_api("module_exists", "mod_no_such_thing") == "false"
    assert await core.execute_api("module_exists", "") == ""


# -- show ------------------------------------------------------------------------------------------------


def csv_table(out: str) -> tuple[list[str], list[str], int]:
    """(header columns, row lines, N) of a ``show`` CSV answer, checking its footer."""
    body, sep, footer = out.rpartition("\n\n")
    assert sep and re.fullmatch(r"\d+ total\.\n", footer), out[-60:]
    lines = body.split("\n")
    count = int(footer.split()[0])
    assert len(lines) == count + 1
    return lines[0].split(","), lines[1:], count


async def test_show_api(core: SwitchCore) -> None:
    out = await core.execute_api("show", "api")
    assert out is not None
    header, rows, count = csv_table(out)
    assert header == ["name", "description", "syntax", "ikey"]
    assert "echo,Echo,<data>,mod_commands" in rows
    assert "version,Version,[short],mod_commands" in rows
    names = [row.split(",", 1)[0] for row in rows]
    assert names == sorted(names)
    assert count >= 15


async def test_show_api_one_name(core: SwitchCore) -> None:
    out = await core.execute_api("show", "api echo")
    assert out == "name,description,syntax,ikey\necho,Echo,<data>,mod_commands\n\n1 total.\n"


async def test_show_modules(core: SwitchCore) -> None:
    out = await core.execute_api("show", "modules")
    assert out is not None
    header, rows, _count = csv_table(out)
    assert header == ["type", "name", "ikey", "filename"]
    assert "api,echo,mod_commands,/usr/lib/freeswitch/mod/mod_commands.so" in rows
    assert "management,event_socket,mod_event_socket,/usr/lib/freeswitch/mod/mod_event_socket.so" in rows


async def test_show_count(core: SwitchCore) -> None:
    full = await core.execute_api("show", "api")
    assert full is not None
    _header, _rows, count = csv_table(full)
    assert await core.execute_api("show", "api count") == f"\n{count} total.\n"


async def test_show_as_json(core: SwitchCore) -> None:
    out = await core.execute_api("show", "api as json")
    assert out is not None
    assert not out.endswith("\n") and ": " not in out.split('"rows"')[0]
    data = orjson.loads(out)
    assert list(data) == ["row_count", "rows"]
    assert data["row_count"] == len(data["rows"])
    assert {"name": "echo", "description": "Echo", "syntax": "<data>", "ikey": "mod_commands"} in data["rows"]
    assert all(list(row) == ["name", "description", "syntax", "ikey"] for row in data["rows"])
    assert all(isinstance(v, str) for row in data["rows"] for v in row.values())


async def test_show_as_xml(core: SwitchCore) -> None:
    out = await core.execute_api("show", "api as xml")
    assert out is not None
    root = ET.fromstring(out)
    assert root.tag == "result"
    rows = root.findall("row")
    assert root.get("row_count") == str(len(rows))
    assert [row.get("row_id") for row in rows] == [str(i) for i in range(1, len(rows) + 1)]
    echo = next(row for row in rows if row.findtext("name") == "echo")
    assert [child.tag for child in echo] == ["name", "description", "syntax", "ikey"]
    assert echo.findtext("syntax") == "<data>"
    assert "&lt;data&gt;" in out


@pytest.mark.parametrize("args", ["", "nonsense", "   "])
async def test_show_usage(core: SwitchCore, args: str) -> None:
    out = await core.execute_api("show", args)
    assert out is not None
    assert out.startswith("-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|")
    assert out.endswith("|nat_map|say|interfaces|interface_types|tasks|limits|status\n")


async def test_show_unknown_format(core: SwitchCore) -> None:
    assert await core.execute_api("show", "api as yaml") == "-ERR Cannot find format yaml\n"


# -- log -----------------------------------------------------------------------------------------------------


async def test_log_command(core: SwitchCore) -> None:
    lines: list[LogLine] = []
    core.add_log_listener(lines.append)
    assert await core.execute_api("log", "info hello world") == "+OK\n"
    assert await core.execute_api("log", "err 3 words here") == "+OK\n"
    assert await core.execute_api("log", "lonely") == "+OK\n"
    assert [(line.level, line.message) for line in lines] == [
        (6, "hello world\n"),
        (3, "3 words here\n"),
        (7, "lonely\n"),
    ]
    first = lines[0]
    assert (first.file, first.function, first.line, first.channel, first.user_data) == (
        "mod_commands.c",
        "log_function",
        7247,
        3,
        "",
    )
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} \d+\.\d\d% \[INFO\] mod_commands\.c:7247 hello world\n",
        first.text,
    )


# -- the API event --------------------------------------------------------------------------------


async def test_every_execution_fires_an_api_event(core: SwitchCore) -> None:
    events = api_events(core)
    await core.execute_api("echo", "hi there")
    await core.execute_api("status")
    await core.execute_api("no_such_command", "arg")
    assert [(e["API-Command"], e.get("API-Command-Argument")) for e in events] == [
        ("echo", "hi there"),
        ("status", None),
        ("no_such_command", "arg"),
    ]
    event = events[0]
    assert event["Event-Calling-File"] == "switch_loadable_module.c"
    assert event["Event-Calling-Function"] == "switch_api_execute"
    assert [name for name, _ in event.headers][:5] == [
        "Event-Name",
        "Core-UUID",
        "FreeSWITCH-Hostname",
        "FreeSWITCH-Switchname",
        "FreeSWITCH-IPv4",
    ]


async def test_nested_api_calls_fire_their_own_events(core: SwitchCore) -> None:
    events = api_events(core)
    await core.execute_api("expand", "echo x")
    assert [e["API-Command"] for e in events] == ["echo", "expand"]
    # each event is fired, and numbered, when its command ends: sequence follows firing order (§9)
    assert int(events[0]["Event-Sequence"]) < int(events[1]["Event-Sequence"])


async def test_api_event_fired_after_a_waiting_command(core: SwitchCore, clock: FakeClock) -> None:
    events: list[Event] = []
    core.bus.subscribe(events.append)
    clock.gate = asyncio.Event()
    task = asyncio.ensure_future(core.execute_api("msleep", "1000"))
    while not clock.slept:
        await asyncio.sleep(0)
    core.bus.fire(core.bus.create("CUSTOM", subclass="test::during"))
    assert [e.name for e in events] == ["CUSTOM"]
    clock.gate.set()
    assert await task == "+OK"
    assert [e.name for e in events] == ["CUSTOM", "API"]
    assert events[1]["API-Command-Argument"] == "1000"
    # numbered when fired, so a listener sees Event-Sequence ascending (§9)
    assert int(events[0]["Event-Sequence"]) < int(events[1]["Event-Sequence"])
