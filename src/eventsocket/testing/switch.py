"""The switch a test gets: the embedded switch core and its event socket, on the test's loop.

:class:`EmbeddedSwitch` runs in the test's own event loop, so an asyncio application
under test and the switch share one virtual clock: the clock jumps only when both are
idle, and peers outside the loop (a blocking client in a thread, another process) get
the quiet window of :mod:`eventsocket.switch.virtualtime`. It records every event the
switch fires (see :class:`~eventsocket.testing.recorder.Recorder`), and offers helpers
that change its configuration while it runs (``dialplan``, ``directory``, ``variables``)
and drive the parties of a call (``call_in``, ``far_end``).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
from collections.abc import Callable, Iterable
from pathlib import Path

from eventsocket.server.acl import AclRegistry
from eventsocket.server.listener import EventSocketServer
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.builder import Switch, build_switch
from eventsocket.switch.channel import CallerProfile
from eventsocket.switch.config import DEFAULT_CONF_DIR, ConfDir
from eventsocket.switch.log import LogLine
from eventsocket.switch.session import Session
from eventsocket.switch.virtualtime import DEFAULT_WINDOW, VirtualClock, VirtualTime, install
from eventsocket.testing.calls import Call
from eventsocket.testing.confedit import add_extension, add_user, extension_xml, user_element
from eventsocket.testing.farend import CallerEndpoint, FarEnd, ScriptedSimEndpoint
from eventsocket.testing.recorder import Recorder

__all__ = ["Dialplan", "Directory", "EmbeddedSwitch", "free_port", "prepare_conf_dir"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (for an application's own server)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def prepare_conf_dir(target: Path, source: Path | str | None = None) -> Path:
    """Copy ``source`` (default: the built-in conf_dir) to ``target`` and return it."""
    origin = Path(source) if source is not None else DEFAULT_CONF_DIR
    if not origin.is_dir():
        raise FileNotFoundError(f"conf_dir {origin} does not exist")
    shutil.copytree(origin, target, dirs_exist_ok=True)
    return target


_GLOBAL = re.compile(r"\$\$\{([^}]*)\}")


class Dialplan:
    """Extensions added from a test, ahead of the conf_dir's own (so they win), at once.

    Written into the conf_dir's files, then the switch reads them again (``reloadxml``);
    see :mod:`eventsocket.testing.confedit`.
    """

    def __init__(self, conf_dir: Path, reload: Callable[[], None]) -> None:
        self._conf_dir = conf_dir
        self._reload = reload

    def add(
        self,
        number: str,
        application: str | None = None,
        data: str = "",
        *,
        actions: Iterable[tuple[str, str]] = (),
        context: str = "default",
        name: str | None = None,
    ) -> None:
        """Route destination ``number`` (a plain number or a ``^regex$``) to applications.

        ``switch.dialplan.add("5000", "socket", "127.0.0.1:8084 async full")`` or, for
        several steps, ``actions=[("answer", ""), ("playback", "ivr/welcome.wav")]``.
        """
        steps = list(actions)
        if application is not None:
            steps.insert(0, (application, data))
        if not steps:
            raise ValueError("an extension needs at least one application")
        add_extension(self._conf_dir, context, extension_xml(number, steps, name))
        self._reload()


class Directory:
    """Directory users added from a test (for ``userauth`` and the user's variables)."""

    def __init__(
        self, conf_dir: Path, reload: Callable[[], None], globals_: Callable[[], dict[str, str]]
    ) -> None:
        self._conf_dir = conf_dir
        self._reload = reload
        self._globals = globals_

    def add_user(
        self,
        user: str,
        *,
        domain: str | None = None,
        params: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
        password: str | None = None,
    ) -> None:
        """Add ``user`` to ``domain`` (default: the ``domain`` global); ``password`` sets ``password``."""
        known = self._globals()
        domain = domain or known.get("domain") or "127.0.0.1"
        all_params = dict(params or {})
        if password is not None:
            all_params.setdefault("password", password)

        def expand(text: str) -> str:
            return _GLOBAL.sub(lambda m: known.get(m.group(1), ""), text)

        add_user(self._conf_dir, domain, user_element(user, all_params, variables or {}), expand)
        self._reload()


class EmbeddedSwitch(Recorder):
    """The embedded switch with its event socket on ``127.0.0.1:<port>``, for one test.

    Construct, then ``await start()`` inside the loop the test runs on (the fixtures do
    both). ``conf_dir`` is used as it is (the fixture copies one under ``tmp_path``).
    """

    kind = "embedded"

    def __init__(
        self,
        conf_dir: Path,
        *,
        virtual_time: bool = True,
        port: int = 0,
        password: str = "ClueCon",
        heartbeat: float = 20.0,
        window: float = DEFAULT_WINDOW,
    ) -> None:
        super().__init__()
        self.conf_dir = conf_dir
        self.virtual_time = virtual_time
        self.host = "127.0.0.1"
        self._port = port
        self.password = password
        self.heartbeat = heartbeat
        self.window = window
        self._conf = ConfDir.load(conf_dir)
        self.logs: list[LogLine] = []
        self.far_ends: dict[str, FarEnd] = {}
        self.dialplan = Dialplan(conf_dir, self.reload_xml)
        self.directory = Directory(conf_dir, self.reload_xml, lambda: self.core.global_vars)
        self.vt: VirtualTime | None = None
        self._core: Switch | None = None
        self._server: EventSocketServer | None = None
        self._drivers: set[asyncio.Task[None]] = set()
        self._caller = CallerEndpoint()

    def __repr__(self) -> str:
        return f"<EmbeddedSwitch {self.host}:{self.port} calls={len(self.calls)}>"

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._core is not None:
            return
        if self.virtual_time:
            self.vt = install(asyncio.get_running_loop(), window=self.window)
            self.vt.resume()
        core = build_switch(self._conf, clock=VirtualClock(), heartbeat_interval=self.heartbeat)
        core.calls.add_endpoint(ScriptedSimEndpoint(self.far_ends))
        core.bus.subscribe(self.record)
        core.add_log_listener(self.logs.append)
        settings = EventSocketSettings.from_conf(self._conf).with_overrides(
            listen_ip=self.host, listen_port=self._port, password=self.password
        )
        settings.stop_on_bind_error = True
        settings.heartbeat_interval = self.heartbeat
        acl_conf = self._conf.configuration("acl.conf")
        acl = AclRegistry.from_xml(
            acl_conf.find("network-lists") if acl_conf is not None else None, self._conf.domain_cidrs
        )
        server = EventSocketServer(core, settings, acl)
        await server.start()
        await core.start()
        self._core, self._server = core, server

    async def stop(self) -> None:
        core, server = self._core, self._server
        if core is None or server is None:
            return
        for task in list(self._drivers):
            task.cancel()
        await server.stop()
        await core.stop()
        if self.vt is not None:
            # a loop that outlives the test (a module-scoped one) runs on real time again
            self.vt.pause()

    @property
    def conf(self) -> ConfDir:
        """The configuration the switch runs on now (a new object after each ``reloadxml``)."""
        if self._core is not None and self._core.conf is not None:
            return self._core.conf
        return self._conf

    def reload_xml(self) -> None:
        """Read the conf_dir again (``reloadxml``); raises when it cannot be read."""
        outcome = self.core.reload_xml()
        if outcome != "Success":
            raise RuntimeError(f"reloadxml: {outcome}")

    @property
    def core(self) -> Switch:
        """The switch core itself (sessions, bus, API registry), for what no helper covers."""
        if self._core is None:
            raise RuntimeError("the switch has not been started")
        return self._core

    @property
    def port(self) -> int:
        return self._server.port if self._server is not None else self._port

    @property
    def address(self) -> str:
        """``host:port`` of the event socket."""
        return f"{self.host}:{self.port}"

    # -- commands, variables -------------------------------------------------------------------

    async def api(self, command: str, args: str = "") -> str:
        """Run an API command as ``api`` does; the output (``-ERR ...`` when it failed)."""
        if not args and " " in command.strip():
            command, _, args = command.strip().partition(" ")
        output = await self.core.execute_api(command, args)
        return f"-ERR {command} Command not found!\n" if output is None else output

    @property
    def variables(self) -> dict[str, str]:
        """The switch's global variables (``global_getvar``); assign to set one."""
        return self.core.global_vars

    def set_variable(self, name: str, value: str) -> None:
        self.core.global_vars[name] = value

    # -- the clock -----------------------------------------------------------------------------

    def now(self) -> float:
        """Seconds on the switch's clock since it started."""
        return self.core.uptime()

    async def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` and let what became due run."""
        if self.vt is None:
            await asyncio.sleep(seconds)
            return
        self.vt.advance(seconds)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    def pause(self) -> None:
        """Stop the clock from jumping (it then runs at real speed) until :meth:`resume`."""
        if self.vt is not None:
            self.vt.pause()

    def resume(self) -> None:
        if self.vt is not None:
            self.vt.resume()

    async def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on the switch's clock (instantly on virtual time when idle)."""
        await asyncio.sleep(seconds)

    # -- parties -------------------------------------------------------------------------------

    def far_end(self, destination: str, **behaviour: object) -> FarEnd:
        """Script the party at ``sim/<destination>``: see :class:`FarEnd` for the keywords.

        ``switch.far_end("1001", busy=True)``; ``switch.far_end("1002", answer_after=3,
        dtmf="1", hangup_after=20)``. Returns the script; its ``calls`` are the legs dialed.
        """
        script = FarEnd(destination, **behaviour)  # type: ignore[arg-type]
        self.far_ends[destination] = script
        return script

    def far_end_calls(self, destination: str) -> list[Call]:
        """The legs the switch has dialed to ``sim/<destination>`` (scripted ones), in order."""
        script = self.far_ends.get(destination)
        return [self.call(uuid) for uuid in script.uuids] if script else []

    async def call_in(
        self,
        number: str,
        *,
        caller_id: str = "1000",
        caller_name: str | None = None,
        context: str = "default",
        dtmf: str | None = None,
        dtmf_after: float = 1.0,
        dtmf_interval: float = 0.2,
        hangup_after: float | None = None,
        variables: dict[str, str] | None = None,
    ) -> Call:
        """A call from a phone (``caller_id``) to ``number``, run through the dialplan.

        The caller presses ``dtmf`` (one digit every ``dtmf_interval`` seconds) starting
        ``dtmf_after`` seconds after the call is answered, and hangs up ``hangup_after``
        seconds after answer (or, unanswered, after the call came in). Returns the
        :class:`Call` of the inbound channel; ``call.press`` and ``call.hangup`` act as
        the caller at any time.
        """
        core = self.core
        profile = CallerProfile(
            caller_id_name=caller_name if caller_name is not None else caller_id,
            caller_id_number=caller_id,
            orig_caller_id_name=caller_name if caller_name is not None else caller_id,
            orig_caller_id_number=caller_id,
            ani=caller_id,
            destination_number=number,
            context=context,
            dialplan="XML",
            network_addr="127.0.0.1",
            source="mod_sim",
        )
        session = core.calls.new_inbound(self._caller, f"sim/{caller_id}", profile)
        for name, value in (variables or {}).items():
            session.set_variable(name, value)
        call = self.call(session.uuid)
        session.start()
        if dtmf or hangup_after is not None:
            task = asyncio.ensure_future(self._caller_script(session, dtmf, dtmf_after, dtmf_interval,
                                                             hangup_after))
            self._drivers.add(task)
            task.add_done_callback(self._drivers.discard)
        await asyncio.sleep(0)
        return call

    async def _caller_script(
        self,
        session: Session,
        dtmf: str | None,
        dtmf_after: float,
        interval: float,
        hangup_after: float | None,
    ) -> None:
        call = self.call(session.uuid)
        clock = self.core.clock
        try:
            async with asyncio.timeout(hangup_after):
                answered = await self._answered_or_gone(call)
        except TimeoutError:
            await self.backend_hangup(session.uuid, "NORMAL_CLEARING")  # gave up before an answer
            return
        if not answered:
            return
        answered_at = clock.monotonic()
        if dtmf:
            await asyncio.sleep(dtmf_after)
            await self.backend_press(session.uuid, dtmf, interval)
        if hangup_after is not None:
            await asyncio.sleep(max(0.0, answered_at + hangup_after - clock.monotonic()))
            await self.backend_hangup(session.uuid, "NORMAL_CLEARING")

    async def _answered_or_gone(self, call: Call) -> bool:
        event = await self.first(
            lambda e: e.get("Unique-ID") == call.uuid and e.name in ("CHANNEL_ANSWER", "CHANNEL_HANGUP"),
            1e9,
            what="answer",
            uuid=call.uuid,
        )
        return event.name == "CHANNEL_ANSWER"

    async def backend_press(self, uuid: str, digits: str, interval: float) -> None:
        for index, digit in enumerate(digits):
            session = self.core.calls.get(uuid)
            if session is None or not session.ready:
                return
            if index:
                await asyncio.sleep(interval)
            session.queue_dtmf(digit, source="RTP")

    async def backend_hangup(self, uuid: str, cause: str) -> None:
        session = self.core.calls.get(uuid)
        if session is not None:
            session.hangup(cause)
            await asyncio.sleep(0)

