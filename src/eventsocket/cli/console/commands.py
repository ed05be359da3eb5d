"""What a typed line does: an API command, or one of fs_cli's slash commands.

One :class:`Dispatcher` per console. It sends through whatever connection the
:class:`~eventsocket.cli.console.link.Link` holds at the moment, prints through a
``write`` function, and remembers the commands that change what the server sends (log
level, subscriptions, filters) so that they can be sent again after a reconnection.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable

from eventsocket.cli.console.profiles import DEFAULT_COLOR
from eventsocket.cli.console.render import CLI_USAGE
from eventsocket.client import (
    ApiResponse,
    BackgroundJob,
    CommandError,
    CommandReply,
    ConnectionLostError,
    ESLError,
    InboundConnection,
    InvalidArgumentError,
    RequestTimeoutError,
)

__all__ = ["STATE_COMMANDS", "Dispatcher", "Outcome", "set_debug_level"]

log = logging.getLogger("eventsocket.console")

STATE_COMMANDS = ("event", "noevents", "nixevent", "log", "nolog", "filter")
EXIT_WORDS = ("exit", "quit", "...", "bye")
MAX_REPLAY = 500
FORMATS = ("plain", "json", "xml")


class Outcome(enum.Enum):
    CONTINUE = "continue"
    EXIT = "exit"
    LOST = "lost"


def set_debug_level(level: int) -> None:
    """``-d`` / ``/debug``: how much the console says about itself on stderr (the
    esl logger's levels: 7 debug, 6 info, 5 notice, 4 warning, 3 error and below)."""
    if level >= 7:
        py = logging.DEBUG
    elif level >= 5:
        py = logging.INFO
    elif level == 4:
        py = logging.WARNING
    elif level == 3:
        py = logging.ERROR
    else:
        py = logging.CRITICAL + 1
    for name in ("eventsocket.console", "eventsocket.client"):
        logging.getLogger(name).setLevel(py)


async def api_output(conn: InboundConnection, command: str, timeout: float | None) -> str:
    """Run one API command as fs_cli does (``api <command>`` with ``console_execute: true``)
    and return what fs_cli prints for it: the output and a newline, or ``Error: ...!`` when
    the server refused the command itself. Raises ``RequestTimeoutError`` and
    ``ConnectionLostError``; a command that cannot be sent (CR or LF in it) is an ``-ERR``."""
    try:
        reply = await conn.send("api " + command, {"console_execute": "true"}, timeout=timeout)
    except InvalidArgumentError as exc:
        return f"-ERR {exc}\n"
    if isinstance(reply, ApiResponse):
        return reply.body + "\n" if reply.body else ""
    if reply.text.lower().startswith("-err"):
        return f"Error: {reply.text[4:]}!\n"
    return ""


class Dispatcher:
    """Runs lines one at a time (fs_cli holds a mutex for the same reason: replies must not
    interleave on the screen)."""

    def __init__(self, connection: Callable[[], InboundConnection | None], write: Callable[[str], None], *,
                 timeout: float | None = None, output_color: str = DEFAULT_COLOR,
                 on_job: Callable[[Awaitable[None]], None] | None = None) -> None:
        self._connection = connection
        self._write = write
        self.timeout = timeout
        self.output_color = output_color if output_color != DEFAULT_COLOR else ""
        self.uuid_filter: str | None = None
        self.log_filter: str | None = None
        self.summary = False
        self.debug = 0
        self.replay: list[str] = []
        self._lock = asyncio.Lock()
        self._on_job = on_job
        self.log_level: str | None = None

    def output(self, text: str) -> None:
        """fs_cli's ``output_printf``: in the profile's output colour."""
        if text:
            self._write(self.output_color + text if self.output_color else text)

    async def run(self, line: str) -> Outcome:
        async with self._lock:
            return await self._run(line)

    async def _run(self, line: str) -> Outcome:
        cmd = line.lstrip(" ").rstrip("\r\n")
        if not cmd:
            return Outcome.CONTINUE
        if cmd.startswith("/") or cmd[:3].lower() == "...":
            return await self._slash(cmd[1:] if cmd.startswith("/") else cmd)
        conn = self._connected()
        if conn is None:
            return Outcome.CONTINUE
        if cmd.lower().startswith("console loglevel "):
            self._write(await self.state_command(conn, "log " + cmd[17:].strip()) + "\n")
        try:
            self.output(await api_output(conn, cmd, self.timeout))
        except RequestTimeoutError:
            self._write("Request timed out.\n")
        except ConnectionLostError:
            self.output("Socket interrupted, bye!\n")
            return Outcome.LOST
        return Outcome.CONTINUE

    def _connected(self) -> InboundConnection | None:
        """The current connection, or None after saying that there is none (reconnecting)."""
        conn = self._connection()
        if conn is None:
            self._write("-ERR not connected\n")
        return conn

    async def _slash(self, cmd: str) -> Outcome:
        word, _, rest = cmd.partition(" ")
        low = word.lower()
        rest = rest.strip(" ")
        if cmd.lower() == "help":
            self.output(CLI_USAGE)
        elif cmd.lower() in EXIT_WORDS:
            log.info("Goodbye!\nSee you at ClueCon http://www.cluecon.com/")
            return Outcome.EXIT
        elif low == "logfilter":
            self.log_filter = rest or None
            self.output(f"Logfilter {'enabled' if self.log_filter else 'disabled'}\n")
        elif low == "uuid":
            self.uuid_filter = rest or None
            self.output(f"UUID filtering {'enabled' if self.uuid_filter else 'disabled'}\n")
        elif low in STATE_COMMANDS:
            conn = self._connected()
            if conn is not None:
                self._write(await self.state_command(conn, f"{low} {rest}".strip()) + "\n")
        elif low == "debug":
            text = rest or "0"
            level = int(text) if text.lstrip("-").isdigit() else 0
            if 0 <= level < 8:
                self.debug = level
                set_debug_level(level)
                self.output(f"fs_cli debug level set to {level}\n")
            else:
                self.output("fs_cli debug level must be 0 - 7\n")
        elif low == "bgapi":
            return await self._bgapi(rest)
        elif low == "summary":
            if rest.lower() in ("", "on", "off"):
                self.summary = rest.lower() != "off"
                self.output(f"Event summary {'enabled' if self.summary else 'disabled'}\n")
            else:
                self.output("usage: /summary [on|off]\n")
        else:
            self.output(f"Unknown command [{cmd}]\n")
        return Outcome.CONTINUE

    async def _bgapi(self, command: str) -> Outcome:
        if not command:
            self.output("usage: /bgapi <command> [<args>]\n")
            return Outcome.CONTINUE
        conn = self._connected()
        if conn is None:
            return Outcome.CONTINUE
        try:
            job = await conn.bgapi(command, timeout=self.timeout)
        except RequestTimeoutError:
            self._write("Request timed out.\n")
            return Outcome.CONTINUE
        except ConnectionLostError:
            self.output("Socket interrupted, bye!\n")
            return Outcome.LOST
        except (CommandError, InvalidArgumentError) as exc:
            self._write(f"{exc}\n")
            return Outcome.CONTINUE
        self._write(f"+OK Job-UUID: {job.job_uuid}\n")
        if self._on_job is not None:
            self._on_job(self._job_result(job))
        return Outcome.CONTINUE

    async def _job_result(self, job: BackgroundJob) -> None:
        """Print a background job's output when its BACKGROUND_JOB event arrives."""
        try:
            result = await job
        except ESLError as exc:
            self._write(f"Job {job.job_uuid}: {exc}\n")
            return
        self.output(f"Job {job.job_uuid} ({job.command}):\n{result.body}\n")

    async def state_command(self, conn: InboundConnection, line: str, *, remember: bool = True) -> str:
        """``event``/``nixevent``/``noevents``/``log``/``nolog``/``filter``: sent through the
        client's own methods (which keep the subscriptions that ``/bgapi`` relies on
        consistent), remembered for replay; returns the server's reply text."""
        word, _, rest = line.partition(" ")
        args = rest.split()
        try:
            reply = await self._send_state(conn, word, args)
        except CommandError as exc:
            reply_text = exc.reply.text if isinstance(exc.reply, CommandReply) else str(exc)
            return reply_text
        except InvalidArgumentError as exc:
            return f"-ERR {exc}"
        except RequestTimeoutError:
            return "Request timed out."
        except ESLError as exc:  # the connection went away: the watcher reports and reconnects
            return f"-ERR {exc}"
        if remember and reply.ok:
            self._remember(word, args)
        return reply.text

    async def _send_state(self, conn: InboundConnection, word: str, args: list[str]) -> CommandReply:
        t = self.timeout
        if word in ("event", "nixevent") and not [a for a in args if a.lower() not in FORMATS]:
            # no event names: the server's own answer to the line as typed
            sent = await conn.send(" ".join([word, *args]), timeout=t)
            assert isinstance(sent, CommandReply)
            return sent
        if word == "event":
            fmt = args[0].lower() if args and args[0].lower() in FORMATS else None
            names = args[1:] if fmt else args
            return await conn.subscribe(*names, format=fmt, timeout=t)  # type: ignore[arg-type]
        if word == "nixevent":
            return await conn.nixevent(*args, timeout=t)
        if word == "noevents":
            return await conn.noevents(timeout=t)
        if word == "log":
            # sent as typed: the server's own reply (``+OK log level debug [7]``) is shown
            sent = await conn.send(" ".join(["log", *args]), timeout=t)
            assert isinstance(sent, CommandReply)
            if sent.ok:
                self.log_level = args[0] if args else "debug"
            return sent
        if word == "nolog":
            self.log_level = None
            return await conn.nolog(timeout=t)
        # filter
        if args and args[0].lower() == "delete":
            header = args[1] if len(args) > 1 else "all"
            value = " ".join(args[2:]) or None
            return await conn.filter_delete(header, value, timeout=t)
        if len(args) < 2:
            sent = await conn.send("filter " + " ".join(args), timeout=t)
            assert isinstance(sent, CommandReply)
            return sent
        return await conn.filter(args[0], " ".join(args[1:]), timeout=t)

    def _remember(self, word: str, args: list[str]) -> None:
        """Keep the shortest list of commands that rebuilds the server-side state."""
        keep = self.replay
        if word in ("log", "nolog"):
            keep[:] = [c for c in keep if c.split(" ", 1)[0] not in ("log", "nolog")]
            if word == "nolog":
                return
        elif word == "noevents":
            keep[:] = [c for c in keep if c.split(" ", 1)[0] not in ("event", "nixevent")]
            return
        elif word == "filter" and args and args[0].lower() == "delete" and args[1:2] in ([], ["all"]):
            keep[:] = [c for c in keep if c.split(" ", 1)[0] != "filter"]
            return
        keep.append(" ".join([word, *args]))
        del keep[:-MAX_REPLAY]

    async def restore(self, conn: InboundConnection) -> list[str]:
        """Send the remembered commands on a new connection; returns the failures."""
        failed: list[str] = []
        async with self._lock:
            for line in list(self.replay):
                text = await self.state_command(conn, line, remember=False)
                if not text.startswith("+OK"):
                    failed.append(f"{line}: {text}")
        return failed
