"""The embedded switch core: identity, globals, event bus, log, the API registry, statistics.

It knows nothing about sockets, calls or the modules loaded into it: like FreeSWITCH's
core, it offers registries (API commands, interfaces, ``show`` tables) that modules
fill when they load. ``eventsocket.switch.builder`` is where the modules are loaded;
the call layer sits above this module and is given the core, never the reverse.

The API registry lives here rather than in ``switch.api`` because every command
receives an :class:`ApiCall` carrying the core: the command modules depend on the
core, and the core depends on none of them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventsocket.protocol.events import Event, HeaderValue
from eventsocket.switch.bus import EventBus
from eventsocket.switch.clock import Clock
from eventsocket.switch.expand import expand
from eventsocket.switch.identity import (
    FREESWITCH_VERSION,
    FREESWITCH_VERSION_FULL,
    FREESWITCH_VERSION_REVISION,
    SwitchIdentity,
)
from eventsocket.switch.log import LogLine, LogListener
from eventsocket.switch.stats import CpuMeter, SessionStats

if TYPE_CHECKING:
    from eventsocket.switch.config import ConfDir
    from eventsocket.switch.control import BusFeed

log = logging.getLogger("eventsocket.core")


# -- the API registry ---------------------------------------------------------------------


class ApiError(Exception):
    """The command failed in a way FreeSWITCH reports as "Command not found"."""


@dataclass(slots=True)
class ApiCall:
    """One execution of an API command.

    ``args`` is text as the whole project carries it: bytes that are not UTF-8 arrive as lone
    surrogates (``surrogateescape``), so no byte a client sent is lost or altered. A command
    that needs the argument's bytes (a hash, a length on the wire) takes :attr:`data`, never
    ``args.encode()``, which fails on those surrogates.
    """

    core: SwitchCore
    command: str
    args: str
    session_uuid: str | None = None

    @property
    def data(self) -> bytes:
        """The argument's bytes exactly as the client sent them (FreeSWITCH's ``char *cmd``)."""
        return self.args.encode("utf-8", "surrogateescape")


ApiResult = str | Awaitable[str]
ApiFunction = Callable[[ApiCall], ApiResult]


@dataclass(slots=True, frozen=True)
class ApiCommand:
    name: str
    description: str
    syntax: str
    module: str
    function: ApiFunction


class ApiRegistry:
    """Name -> command, case-insensitive, in registration order."""

    def __init__(self) -> None:
        self._commands: dict[str, ApiCommand] = {}

    def add(self, name: str, description: str, syntax: str, module: str, function: ApiFunction) -> None:
        self._commands[name.lower()] = ApiCommand(name, description, syntax, module, function)

    def command(
        self, name: str, description: str = "", syntax: str = "", module: str = "mod_commands"
    ) -> Callable[[ApiFunction], ApiFunction]:
        """Decorator form of :meth:`add`."""

        def decorate(function: ApiFunction) -> ApiFunction:
            self.add(name, description, syntax, module, function)
            return function

        return decorate

    def get(self, name: str) -> ApiCommand | None:
        # names are nearly always sent in lower case already: fold only when that misses
        commands = self._commands
        return commands.get(name) or commands.get(name.lower())

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._commands

    def __iter__(self) -> Iterator[ApiCommand]:
        return iter(self._commands.values())

    def __len__(self) -> int:
        return len(self._commands)


#: A ``show <what>`` table: column names and rows.
Table = tuple[Sequence[str], list[list[str]]]
#: What a module contributes to ``show`` (the call layer adds ``channels``, ``calls``...).
ShowProvider = Callable[["SwitchCore", list[str]], Table]
#: ``show <what> count`` without building the rows: the number of rows the provider of the
#: same name would return for these arguments (10,000 parked calls are counted in microseconds).
ShowCounter = Callable[["SwitchCore", list[str]], int]


@dataclass(slots=True)
class Interface:
    """A loaded interface (api, application, endpoint, dialplan...), as ``show modules`` lists."""

    type: str
    name: str
    module: str
    description: str = ""
    syntax: str = ""

    @property
    def filename(self) -> str:
        return f"/usr/lib/freeswitch/mod/{self.module}.so"


class SwitchCore:
    """One switch instance."""

    def __init__(
        self,
        conf: ConfDir | None = None,
        *,
        identity: SwitchIdentity | None = None,
        clock: Clock | None = None,
        heartbeat_interval: float = 20.0,
    ) -> None:
        self.conf = conf
        self.clock = clock or Clock()
        if identity is None:
            hostname = conf.global_vars.get("hostname") if conf else None
            identity = SwitchIdentity(hostname=hostname) if hostname else SwitchIdentity()
        self.identity = identity
        self.global_vars: dict[str, str] = dict(conf.global_vars) if conf else {}
        self.global_vars.setdefault("hostname", identity.hostname)
        self.global_vars.setdefault("switchname", identity.switchname)
        self.global_vars.setdefault("local_ip_v4", identity.ipv4)
        self.global_vars.setdefault("local_ip_v6", identity.ipv6)
        self.global_vars["core_uuid"] = identity.core_uuid
        self.bus = EventBus(identity, self.clock)
        self.api = ApiRegistry()
        self.interfaces: list[Interface] = []
        # ``show <what>`` tables contributed by other layers (the call layer adds channels, calls)
        self.show_providers: dict[str, ShowProvider] = {}
        # their row counts, for ``show <what> count``; a provider without one has its rows counted
        self.show_counters: dict[str, ShowCounter] = {}
        self.stats = SessionStats()
        self.cpu = CpuMeter()
        self.heartbeat_interval = heartbeat_interval
        self.started = self.clock.monotonic()
        self.ready = True
        self._log_listeners: list[LogListener] = []
        self._tasks: set[asyncio.Task[object]] = set()
        self._heartbeat: asyncio.Task[None] | None = None
        self.version = FREESWITCH_VERSION
        self.version_full = FREESWITCH_VERSION_FULL
        self.version_revision = FREESWITCH_VERSION_REVISION

    def add_interface(
        self, type_: str, name: str, module: str, description: str = "", syntax: str = ""
    ) -> None:
        self.interfaces.append(Interface(type_, name, module, description, syntax))

    def register_api(self, name: str, description: str, syntax: str, module: str, function: object) -> None:
        """Register an API command and list it as an interface of ``module``."""
        self.api.add(name, description, syntax, module, function)  # type: ignore[arg-type]
        self.add_interface("api", name, module, description, syntax)

    @property
    def modules(self) -> list[str]:
        seen: dict[str, None] = {}
        for iface in self.interfaces:
            seen.setdefault(iface.module, None)
        return list(seen)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the core's own timers (the HEARTBEAT)."""
        if self.heartbeat_interval > 0 and self._heartbeat is None:
            self._heartbeat = asyncio.create_task(self._heartbeat_loop(), name="heartbeat")

    async def stop(self) -> None:
        self.ready = False
        tasks = [t for t in (self._heartbeat, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._heartbeat = None

    def spawn(self, coro: Coroutine[Any, Any, object], name: str | None = None) -> asyncio.Task[object]:
        """Run a background coroutine owned by the core (cancelled on stop, errors logged)."""
        task: asyncio.Task[object] = asyncio.ensure_future(coro)
        if name:
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[object]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def _heartbeat_loop(self) -> None:
        while True:
            await self.clock.sleep_periodic(self.heartbeat_interval)
            self.bus.fire(self.heartbeat_event())
            self.bus.fire(
                self.bus.create(
                    "RE_SCHEDULE",
                    calling_file="switch_scheduler.c",
                    calling_function="switch_scheduler_execute",
                    calling_line=90,
                    headers=[
                        ("Task-ID", "1"),
                        ("Task-Desc", "heartbeat"),
                        ("Task-Group", "core"),
                        ("Task-Runtime", str(int(self.clock.time() + self.heartbeat_interval))),
                    ],
                )
            )

    # -- time and statistics -----------------------------------------------------------------

    def uptime(self) -> float:
        """Seconds since the core started."""
        return self.clock.monotonic() - self.started

    def uptime_text(self) -> str:
        """``0 years, 0 days, 0 hours, 3 minutes, ...`` with FreeSWITCH's singulars."""
        micros = int(self.uptime() * 1_000_000)
        mms = micros % 1000
        ms = micros // 1000 % 1000
        sec = micros // 1_000_000 % 60
        minutes = micros // 60_000_000 % 60
        hours = micros // 3_600_000_000 % 24
        days = micros // 86_400_000_000 % 365
        years = micros // (86_400_000_000 * 365)

        def unit(value: int, name: str) -> str:
            return f"{value} {name}{'' if value == 1 else 's'}"

        return ", ".join(
            [
                unit(years, "year"),
                unit(days, "day"),
                unit(hours, "hour"),
                unit(minutes, "minute"),
                unit(sec, "second"),
                unit(ms, "millisecond"),
                unit(mms, "microsecond"),
            ]
        )

    def heartbeat_event(self) -> Event:
        stats = self.stats
        now = self.clock.time()
        idle = self.cpu.sample()
        return self.bus.create(
            "HEARTBEAT",
            calling_file="switch_core.c",
            calling_function="send_heartbeat",
            calling_line=80,
            headers=[
                ("Event-Info", "System Ready"),
                ("Up-Time", self.uptime_text()),
                ("FreeSWITCH-Version", self.version_full),
                ("Uptime-msec", str(int(self.uptime() * 1000))),
                ("Session-Count", str(stats.count)),
                ("Max-Sessions", str(stats.max_sessions)),
                ("Session-Per-Sec", str(stats.sps_max)),
                ("Session-Per-Sec-Last", str(stats.sps(now))),
                ("Session-Per-Sec-Max", str(stats.sps_peak)),
                ("Session-Per-Sec-FiveMin", str(stats.sps_peak_five_min)),
                ("Session-Since-Startup", str(stats.since_startup)),
                ("Session-Peak-Max", str(stats.peak)),
                ("Session-Peak-FiveMin", str(stats.peak_five_min)),
                ("Idle-CPU", f"{idle:f}"),
            ],
        )

    # -- variables ---------------------------------------------------------------------------

    def get_global(self, name: str) -> str | None:
        return self.global_vars.get(name)

    def channel_variables(self, uuid: str) -> dict[str, str] | None:
        """A live channel's variables (``eval uuid:<uuid> ...``); None when there is no such channel.

        The core alone has no channels; the switch the builder assembles answers from its calls.
        """
        return None

    def expand(self, text: str, channel_vars: dict[str, str] | None = None) -> str:
        """Expand ``${...}`` with a channel's variables (if any), then the globals."""
        lookup = channel_vars.get if channel_vars is not None else (lambda _name: None)
        return expand(text, lookup, self.global_vars.get, self.run_api_sync)

    # -- API ---------------------------------------------------------------------------------

    def run_api_sync(self, command: str, args: str) -> str:
        """Run an API command that does not wait (for ``${cmd args}`` expansion)."""
        entry = self.api.get(command.strip())
        if entry is None:
            return ""
        try:
            result = entry.function(ApiCall(self, command.strip(), args.strip()))
        except ApiError:
            return ""
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()
            return ""
        return result

    def call_api(
        self, command: str, args: str = "", session_uuid: str | None = None
    ) -> str | Awaitable[str | None] | None:
        """Run an API command: its output, None when unknown or failed, or an awaitable of those.

        Commands that answer at once return plain values so the socket layer can
        reply without scheduling anything. The API event fires when the command
        ends, as in ``switch_api_execute``; it is created then too (FreeSWITCH creates
        it first), so that every listener sees Event-Sequence ascending (§9).
        """
        command = command.strip()
        args = args.strip()
        entry = self.api.get(command)
        if entry is None:
            self._fire_api_event(command, args)
            return None
        try:
            result = entry.function(ApiCall(self, command, args, session_uuid))
        except ApiError:
            self._fire_api_event(command, args)
            return None
        if result.__class__ is not str and inspect.isawaitable(result):
            return self._finish_api(command, args, result)
        self._fire_api_event(command, args)
        return result

    async def _finish_api(self, command: str, args: str, pending: Awaitable[str]) -> str | None:
        try:
            output: str | None = await pending
        except ApiError:
            output = None
        finally:
            self._fire_api_event(command, args)
        return output

    async def execute_api(self, command: str, args: str = "", session_uuid: str | None = None) -> str | None:
        """Run an API command and wait for it; None when it is unknown or failed."""
        outcome = self.call_api(command, args, session_uuid)
        if outcome is None or isinstance(outcome, str):
            return outcome
        return await outcome

    def _fire_api_event(self, command: str, args: str) -> None:
        if not self.bus.skipped("API"):
            self.bus.fire(self.api_event(command, args))

    def api_event(self, command: str, args: str) -> Event:
        return self.bus.create(
            "API",
            calling_file="switch_loadable_module.c",
            calling_function="switch_api_execute",
            calling_line=2949,
            headers=[("API-Command", command), ("API-Command-Argument", args)],
        )

    # -- log ---------------------------------------------------------------------------------

    def add_log_listener(self, listener: LogListener) -> None:
        if listener not in self._log_listeners:
            self._log_listeners.append(listener)

    def remove_log_listener(self, listener: LogListener) -> None:
        try:
            self._log_listeners.remove(listener)
        except ValueError:
            pass

    def log(
        self,
        level: int,
        message: str,
        *,
        file: str = "switch_core.c",
        function: str = "",
        line: int = 0,
        session_uuid: str = "",
        channel: int | None = None,
    ) -> None:
        """Write a log line to every ``log`` subscriber (and Python logging at debug)."""
        if not message.endswith("\n"):
            message += "\n"
        entry = LogLine(
            level,
            message,
            file,
            function,
            line,
            channel if channel is not None else (3 if session_uuid else 0),
            session_uuid,
            self.clock.time(),
            self.cpu.idle,
        )
        log.debug("%s", message.rstrip("\n"))
        for listener in tuple(self._log_listeners):
            try:
                listener(entry)
            except Exception:
                log.exception("log listener failed")

    # -- configuration -----------------------------------------------------------------------

    def reload_xml(self) -> str:
        """``reloadxml``: read the configuration again; "Success", or why it was not (kept as it was).

        As ``switch_xml_reload()``: the dialplan and the directory are looked up in the
        configuration at each use, so they change at once; the ``set`` directives of vars.xml
        set their globals again (globals set since, and not by vars.xml, stay); RELOADXML fires
        only when the new configuration was loaded.
        """
        if self.conf is None:
            return "Cannot Open log directory or XML Root!"
        from eventsocket.switch.config import ConfigError

        try:
            fresh = self.conf.reload()
        except ConfigError as exc:
            log.error("reloadxml: %s; the running configuration stays", exc)
            return str(exc)
        self.conf = fresh
        self.global_vars.update(fresh.global_vars)
        self.global_vars["core_uuid"] = self.identity.core_uuid
        self.bus.fire_new(
            lambda: self.bus.create(
                "RELOADXML",
                calling_file="switch_xml.c",
                calling_function="switch_xml_open_root",
                calling_line=2423,
            ),
            "RELOADXML",
        )
        return "Success"

    # -- directory ---------------------------------------------------------------------------

    def find_user(self, user: str, domain: str) -> dict[str, str] | None:
        """The merged ``<param>`` values (lower-cased names) of a directory user, or None."""
        if self.conf is None:
            return None
        found = self.conf.find_user(user, domain)
        return dict(found.params) if found is not None else None

    def interfaces_of(self, type_: str) -> Iterable[Interface]:
        return (i for i in self.interfaces if i.type == type_)

    # -- events, for the event socket server (eventsocket.server.backend.SwitchBackend) ------------

    def open_event_feed(self, listener: Callable[[Event], None]) -> BusFeed:
        """Events to ``listener``; the feed tells the bus which names the socket's selection may
        accept, so the others are not built (the socket still checks every event it gets)."""
        from eventsocket.switch.control import BusFeed

        return BusFeed(self.bus, listener)

    def fire_event(self, event: Event) -> None:
        self.bus.fire(event)

    def fire_new_event(self, build: Callable[[], Event], name: str | None = None) -> None:
        self.bus.fire_new(build, name)

    def standard_headers(
        self, name: str, calling_file: str, calling_function: str, calling_line: int
    ) -> list[tuple[str, HeaderValue]]:
        return self.bus.standard_headers(name, calling_file, calling_function, calling_line)
