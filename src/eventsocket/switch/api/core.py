"""API commands that need no calls: echo, status, version, uptime, globals, eval, log, show..."""

from __future__ import annotations

import hashlib
import uuid as uuidlib
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from eventsocket.switch.api import ApiCall
from eventsocket.switch.api.show import show
from eventsocket.switch.log import CHANNEL_SESSION, DEBUG, level_from_text

if TYPE_CHECKING:
    from eventsocket.switch.core import SwitchCore

UPTIME_USAGE = "-USAGE: [us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]\n"
UPTIME_UNITS: dict[str, int] = {
    "us": 1,
    "microseconds": 1,
    "ms": 1000,
    "milliseconds": 1000,
    "s": 1_000_000,
    "seconds": 1_000_000,
    "m": 60_000_000,
    "minutes": 60_000_000,
    "h": 3_600_000_000,
    "hours": 3_600_000_000,
    "d": 86_400_000_000,
    "days": 86_400_000_000,
}


def echo(call: ApiCall) -> str:
    return call.args


def status(call: ApiCall) -> str:
    core = call.core
    stats = core.stats
    now = core.clock.time()
    idle = core.cpu.sample()
    state = "ready" if core.ready else "not ready"
    return (
        f"UP {core.uptime_text()}\n"
        f"FreeSWITCH (Version {core.version} {core.version_revision.strip('()')}) is {state}\n"
        f"{stats.since_startup} session(s) since startup\n"
        f"{stats.count} session(s) - peak {stats.peak}, last 5min {stats.peak_five_min} \n"
        f"{stats.sps(now)} session(s) per Sec out of max {stats.sps_max}, peak {stats.sps_peak}, "
        f"last 5min {stats.sps_peak_five_min} \n"
        f"{stats.max_sessions} session(s) max\n"
        f"min idle cpu 0.00/{idle:.2f}\n"
        "Current Stack Size/Max 240K/8192K\n"
    )


def version(call: ApiCall) -> str:
    core = call.core
    words = call.args.split()
    if words and "short" in words[0].lower():
        return f"{core.version}\n"
    return f"FreeSWITCH Version {core.version_full} {core.version_revision}\n"


def uptime(call: ApiCall) -> str:
    unit = call.args.split()[0].lower() if call.args.split() else "s"
    scale = UPTIME_UNITS.get(unit)
    if scale is None:
        return UPTIME_USAGE
    return f"{int(call.core.uptime() * 1_000_000) // scale}\n"


def hostname(call: ApiCall) -> str:
    return call.core.identity.hostname


def switchname(call: ApiCall) -> str:
    return call.core.identity.switchname


def global_getvar(call: ApiCall) -> str:
    core = call.core
    if not call.args:
        return "".join(f"{name}={value}\n" for name, value in core.global_vars.items())
    return core.global_vars.get(call.args, "")


def global_setvar(call: ApiCall) -> str:
    name, eq, value = call.args.partition("=")
    name = name.strip()
    if not eq or not name:
        return "-USAGE: <var>=<value> [=<value2>]\n"
    value = value.strip()
    current, eq2, replacement = value.partition("=")
    core = call.core
    if eq2:  # var=expected=new: only set when the current value matches
        if core.global_vars.get(name, "") == current.strip():
            core.global_vars[name] = replacement.strip()
    elif value:
        core.global_vars[name] = value
    else:
        core.global_vars.pop(name, None)
    return "+OK"


def eval_(call: ApiCall) -> str:
    core = call.core
    text = call.args
    channel_vars: dict[str, str] | None = None
    if text[:5].lower() == "uuid:":
        uuid, space, text = text[5:].partition(" ")
        if not space:
            return ""
        channel_vars = core.channel_variables(uuid)
    return core.expand(text, channel_vars)


def expand_(call: ApiCall) -> str | Awaitable[str]:
    """``expand [uuid:<uuid> ]<command> <args>``: expand the arguments, then run the command."""
    core = call.core
    text = call.args
    channel_vars: dict[str, str] | None = None
    if text[:5].lower() == "uuid:":
        uuid, _, text = text[5:].partition(" ")
        channel_vars = core.channel_variables(uuid)
    command, _, args = text.strip().partition(" ")
    if not command:
        return "-ERR No input\n"
    outcome = core.call_api(command, core.expand(args, channel_vars), call.session_uuid)
    if outcome is None or isinstance(outcome, str):
        return _expanded_output(outcome)
    return _await_expanded(outcome)


def _expanded_output(output: str | None) -> str:
    if output is None:
        return "INVALID COMMAND!\n-ERR Cannot execute command\n"
    return output


async def _await_expanded(pending: Awaitable[str | None]) -> str:
    return _expanded_output(await pending)


async def msleep(call: ApiCall) -> str:
    from eventsocket.protocol.compat import atoi

    await call.core.clock.sleep(max(0, atoi(call.args)) / 1000.0)
    return "+OK"


def module_exists(call: ApiCall) -> str:
    if not call.args:
        return ""
    return "true" if call.args in call.core.modules else "false"


def log_(call: ApiCall) -> str:
    if not call.args:
        return "-ERR\n"
    level_text, space, message = call.args.partition(" ")
    level = DEBUG
    if space:
        parsed = level_from_text(level_text)
        level = parsed if parsed is not None and parsed >= 0 else DEBUG
    else:
        message = level_text
    call.core.log(
        level, message, file="mod_commands.c", function="log_function", line=7247, channel=CHANNEL_SESSION
    )
    return "+OK\n"


def bgapi(call: ApiCall) -> str:
    """mod_commands' ``bgapi``: run a command apart and fire BACKGROUND_JOB with its output."""
    text = call.args
    if not text:
        return "-ERR Invalid syntax\n"
    job_uuid = str(uuidlib.uuid4())
    if text.startswith("uuid:"):
        given, _, text = text[5:].partition(" ")
        job_uuid = given or job_uuid
    command, _, args = text.partition(" ")
    core = call.core

    async def job() -> None:
        outcome = core.call_api(command, args, call.session_uuid)
        output = outcome if outcome is None or isinstance(outcome, str) else await outcome
        body = f"{command}: Command not found!\n" if output is None else output
        headers = [("Job-UUID", job_uuid), ("Job-Command", command)]
        if args.strip():
            headers.append(("Job-Command-Arg", args.strip()))
        core.bus.fire(core.bus.create("BACKGROUND_JOB", calling_file="mod_commands.c",
                                      calling_function="bgapi_exec", calling_line=5412,
                                      headers=headers, body=body or None))

    core.spawn(job(), name=f"bgapi-{job_uuid}")
    return f"+OK Job-UUID: {job_uuid}\n"


def create_uuid(call: ApiCall) -> str:
    return str(uuidlib.uuid4())


def md5(call: ApiCall) -> str:
    if not call.args:
        return "!err!"
    return hashlib.md5(call.data, usedforsecurity=False).hexdigest()


def reloadxml(call: ApiCall) -> str:
    return f"+OK [{call.core.reload_xml()}]\n"


def register(core: SwitchCore) -> None:
    add = core.register_api
    add("echo", "Echo", "<data>", "mod_commands", echo)
    add("status", "Show current status", "", "mod_commands", status)
    add("version", "Version", "[short]", "mod_commands", version)
    add("uptime", "Show uptime", UPTIME_USAGE[8:-1], "mod_commands", uptime)
    add("hostname", "Return the system hostname", "", "mod_commands", hostname)
    add("switchname", "Return the switch name", "", "mod_commands", switchname)
    add("global_getvar", "Get global var", "<var>", "mod_commands", global_getvar)
    add("global_setvar", "Set global var", "<var>=<value> [=<value2>]", "mod_commands", global_setvar)
    add("eval", "eval (noop)", "[uuid:<uuid> ]<expression>", "mod_commands", eval_)
    add(
        "expand",
        "Execute an api with variable expansion",
        "[uuid:<uuid> ]<cmd> <args>",
        "mod_commands",
        expand_,
    )
    add("msleep", "Sleep N milliseconds", "<milliseconds>", "mod_commands", msleep)
    add("module_exists", "Check if module exists", "<module>", "mod_commands", module_exists)
    add(
        "show",
        "Show various reports",
        "codec|endpoint|application|api|dialplan|file|timer|calls [count]|"
        "channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|"
        "aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status",
        "mod_commands",
        show,
    )
    add("log", "Log", "<level> <message>", "mod_commands", log_)
    add("bgapi", "Execute an api command in a thread", "<command>[ <arg>]", "mod_commands", bgapi)
    add("create_uuid", "Create a uuid", "<uuid> <other_uuid>", "mod_commands", create_uuid)
    add("md5", "Return md5 hash", "<data>", "mod_commands", md5)
    add("reloadxml", "Reload XML", "", "mod_commands", reloadxml)
