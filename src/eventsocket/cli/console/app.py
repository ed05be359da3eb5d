"""The console itself: connect, then run ``-x`` commands, a batch of lines from standard
input (``-b``), or the interactive prompt with logs and events printed above it.

Exit statuses are fs_cli's: 0 when done (also after a ``-x`` command that reported an
error, and when the server went away without ``-R``), 255 when the connection cannot be
made (fs_cli's ``return -1``), 254 when a ``-x`` command timed out (``-t``), 1 for a bad
flag value or an interrupt with ``-i``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TextIO, TypeVar

from prompt_toolkit import PromptSession
from prompt_toolkit.application import Application, run_in_terminal
from prompt_toolkit.application.current import create_app_session
from prompt_toolkit.formatted_text import ANSI, StyleAndTextTuples
from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.output import Output

from eventsocket import __version__
from eventsocket.cli.console.commands import Dispatcher, Outcome, api_output, set_debug_level
from eventsocket.cli.console.completion import ConsoleCompleter
from eventsocket.cli.console.history import ConsoleHistory
from eventsocket.cli.console.link import ConnectFailure, Link, LinkState, Target
from eventsocket.cli.console.options import Settings
from eventsocket.cli.console.profiles import DEFAULT_COLOR
from eventsocket.cli.console.render import (
    color_off,
    format_event,
    format_event_summary,
    format_log_line,
    log_line_visible,
    prompt_text,
)
from eventsocket.client import (
    ConnectionLostError,
    ESLError,
    InboundConnection,
    ReconnectPolicy,
    RequestTimeoutError,
)

__all__ = ["EXIT_CONNECT_FAILED", "EXIT_TIMEOUT", "Console", "Screen", "run"]

_T = TypeVar("_T")

log = logging.getLogger("eventsocket.console")

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_CONNECT_FAILED = 255
EXIT_TIMEOUT = 254
START_RETRIES = 120  # fs_cli's -r: 120 more attempts, a second apart


_LOGGERS = ("eventsocket.console", "eventsocket.client")


class _LogHandler(logging.Handler):
    """The console's own messages (what fs_cli's esl_log prints with ``-d``), as
    ``[LEVEL] text``: above the prompt while one is shown, on stderr otherwise."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self.console = console
        self.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record) + "\n"
        except Exception:  # a bad log call must not take the console down
            self.handleError(record)
            return
        app = self.console._app()
        if app is not None and app.is_running:
            self.console.screen.write(text)
        else:
            self.console._error(text.rstrip("\n"))


class _Ended(Exception):
    """Raised out of the prompt when the console must stop (the server went away)."""


class Screen:
    """Prints above the prompt while one is shown (prompt_toolkit erases it, prints, and
    draws it again), straight to the terminal otherwise. Lines that arrive while a
    previous batch is being printed are printed together: a burst of log lines costs
    one redraw, not one per line. Readers of logs and events call :meth:`drain`, so that
    a flood waits here (and the client's bounded queues decide what to drop) instead of
    piling up unprinted text."""

    HIGH_WATER = 200  # pieces of text waiting to be printed

    def __init__(self, sink: Callable[[str], None], *, color: bool,
                 app: Callable[[], Application[str] | None] = lambda: None) -> None:
        self._sink = sink
        self.color = color
        self._app = app
        self._pending: list[str] = []
        self._scheduled = False
        self._flushing: Awaitable[None] | None = None

    def write(self, text: str) -> None:
        if not text:
            return
        self._pending.append(text if self.color else color_off(text))
        if self._scheduled:
            return
        app = self._app()
        if app is not None and app.is_running:
            self._scheduled = True
            self._flushing = run_in_terminal(self._flush)
        else:
            self._flush()

    async def drain(self) -> None:
        """Wait for the printing under way when too much text is waiting."""
        flushing = self._flushing
        if flushing is not None and len(self._pending) >= self.HIGH_WATER:
            await flushing

    def _flush(self) -> None:
        self._scheduled = False
        text, self._pending = "".join(self._pending), []
        if text:
            self._sink(text)


class Console:
    """One console session. ``input``/``output`` are prompt_toolkit's (tests pass a pipe
    input and a dummy output); ``transcript`` receives everything the console prints
    (default: the terminal); ``stdin``/``stderr`` serve batch mode and error lines."""

    def __init__(self, settings: Settings, *, input: Input | None = None, output: Output | None = None,
                 transcript: Callable[[str], None] | None = None, stdin: TextIO | None = None,
                 stderr: TextIO | None = None, policy: ReconnectPolicy | None = None,
                 retry_delay: float = 1.0) -> None:
        self.settings = settings
        profile = settings.profile
        self.target = Target(profile.host, profile.port, profile.password, profile.user or None,
                             settings.connect_timeout)
        self.link = Link(self.target, policy=policy, on_change=self._invalidate)
        self._input = input
        self._output = output
        self._transcript = transcript
        self._stdin = stdin
        self._stderr = stderr or sys.stderr
        self.retry_delay = retry_delay
        self.session: PromptSession[str] | None = None
        self.screen = Screen(self._default_sink, color=settings.color and not profile.batch_mode,
                             app=self._app)
        self.dispatcher = Dispatcher(lambda: self.link.conn, self.screen.write, timeout=settings.timeout,
                                     output_color=profile.output_text_color, on_job=self._spawn)
        self.dispatcher.uuid_filter = settings.uuid_filter
        self.dispatcher.summary = settings.summary
        self.dispatcher.debug = settings.debug
        self.completer = ConsoleCompleter(lambda: self.link.conn)
        self.prompt = f"freeswitch@{profile.name}> "
        self.exit_code: int | None = None
        self._ended = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pumps: list[asyncio.Task[None]] = []
        self.sigint_handler: Callable[[], None] | None = None
        self._fnkey_states = [False] * 12  # which toggle keys ran their first command last

    def arm_sigint(self) -> None:
        """(Re)install the Control-C handler used while a command runs: the prompt installs
        its own for the time it is shown and removes every handler when it returns."""
        if self.sigint_handler is None:
            return
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self.sigint_handler)

    # -- plumbing ---------------------------------------------------------------------------

    def _default_sink(self, text: str) -> None:
        if self._transcript is None and self.session is not None:
            out = self.session.app.output
            out.write_raw(text)
            out.flush()
        else:
            self._print(text)

    def _print(self, text: str) -> None:
        if self._transcript is not None:
            self._transcript(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    def _app(self) -> Application[str] | None:
        return self.session.app if self.session is not None else None

    def _invalidate(self) -> None:
        app = self._app()
        if app is not None and app.is_running:
            app.invalidate()

    def _error(self, text: str) -> None:
        self._stderr.write(text + "\n")
        self._stderr.flush()

    def _spawn(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _stop(self, code: int) -> None:
        """End the console from a background task (the server went away)."""
        if self.exit_code is None:
            self.exit_code = code
        self._ended.set()
        app = self._app()
        if app is not None and app.is_running and not app.is_done:
            app.exit(exception=_Ended())

    # -- running ------------------------------------------------------------------------------

    async def run(self) -> int:
        """Connect and run; returns the exit status."""
        # every task the console starts shares this app session, so that printing from
        # them finds the running prompt and prints above it
        handler = _LogHandler(self)
        saved = []
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            saved.append((logger, logger.propagate))
            logger.addHandler(handler)
            logger.propagate = False
        try:
            with create_app_session(input=self._input, output=self._output):
                return await self._run()
        finally:
            for logger, propagate in saved:
                logger.removeHandler(handler)
                logger.propagate = propagate

    async def _run(self) -> int:
        settings = self.settings
        set_debug_level(settings.debug)
        for warning in settings.warnings:
            self._error(warning)
        attempts = 1 + (START_RETRIES if settings.retry else 0)
        try:
            await self.link.open_retrying(attempts, self.retry_delay, self._error)
        except ConnectFailure:
            return EXIT_CONNECT_FAILED
        try:
            if settings.execute:
                return await self._execute(settings.execute)
            await self._start()
            if settings.profile.batch_mode:
                code = await self._batch()
            else:
                code = await self._interactive()
            return self.exit_code if self.exit_code is not None else code
        finally:
            self._ended.set()
            for task in [*self._pumps, *self._tasks]:
                task.cancel()
            await self.link.close()

    async def _execute(self, commands: list[str]) -> int:
        """``-x``: each command's output on standard output, fs_cli's exit statuses."""
        out = self._print
        for command in commands:
            conn = self.link.conn
            assert conn is not None
            try:
                out(await api_output(conn, command, self.settings.timeout))
            except RequestTimeoutError:
                out("Request timed out.\n")
                await self.link.close(timeout=0)  # the server is stuck: no goodbye (fs_cli neither)
                return EXIT_TIMEOUT
            except ConnectionLostError as exc:
                self._error(f"Error: {exc}")
                return EXIT_CONNECT_FAILED
        return EXIT_OK

    async def _start(self) -> None:
        """What fs_cli does once connected: learn the switch's names for the prompt, ask for
        logs, print the banner; then read logs and events, and watch the connection."""
        conn = self.link.conn
        assert conn is not None
        profile = self.settings.profile
        switchname = await self._api_text(conn, "switchname") or profile.name
        hostname = await self._api_text(conn, "hostname") or profile.name
        self.prompt = prompt_text(profile, switchname, hostname)
        await self.completer.refresh()
        self._start_pumps(conn)
        reply = ""
        if not profile.quiet:
            reply = await self.dispatcher.state_command(conn, "log " + (profile.loglevel or "debug"))
        self.dispatcher.output(
            f"eventsocket console {__version__}: freeswitch@{switchname} at {self.target.address}\n"
            "Type /help <enter> to see a list of commands\n\n")
        if reply:
            self.dispatcher.output(reply + "\n")
        self._spawn(self._watch())

    @staticmethod
    async def _api_text(conn: InboundConnection, command: str) -> str:
        try:
            response = await conn.api(command, timeout=10.0)
        except ESLError:
            return ""
        return response.text if response.ok else ""

    def _start_pumps(self, conn: InboundConnection) -> None:
        for task in self._pumps:
            task.cancel()
        self._pumps = [asyncio.ensure_future(self._pump_logs(conn)),
                       asyncio.ensure_future(self._pump_events(conn))]

    async def _pump_logs(self, conn: InboundConnection) -> None:
        profile = self.settings.profile
        d = self.dispatcher
        with contextlib.suppress(ESLError):
            async for line in conn.logs():
                if log_line_visible(line, d.uuid_filter, d.log_filter):
                    self.screen.write(format_log_line(line, color=True, log_uuid=profile.log_uuid,
                                                      uuid_length=profile.log_uuid_length))
                    await self.screen.drain()

    async def _pump_events(self, conn: InboundConnection) -> None:
        d = self.dispatcher
        with contextlib.suppress(ESLError):
            async for event in conn.events():
                d.output(format_event_summary(event) if d.summary else format_event(event))
                await self.screen.drain()

    async def _watch(self) -> None:
        """The server went away: say so; with ``-R`` reconnect, restore the log level,
        subscriptions and filters, and carry on; without it, stop as fs_cli does."""
        while not self._ended.is_set():
            reason = await self.link.lost()
            if self._ended.is_set():
                return
            self.screen.write(f"Disconnected: {reason}\n")
            if not self.settings.reconnect:
                self._stop(EXIT_OK)
                return
            try:
                conn = await self.link.reconnect(lambda text: self.screen.write(text + "\n"))
            except ConnectFailure as failure:
                self.screen.write(f"Error Connecting [{failure}]\n")
                self._stop(EXIT_CONNECT_FAILED)
                return
            self._start_pumps(conn)
            for failed in await self.dispatcher.restore(conn):
                self.screen.write(f"could not restore {failed}\n")
            await self.completer.refresh()
            self.screen.write(f"Reconnected to {self.target.address}.\n")
            self._invalidate()

    # -- batch mode -----------------------------------------------------------------------------

    async def _batch(self) -> int:
        """``-b``: lines from standard input, no line editing, no colour; ends at end of input."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        stdin = self._stdin or sys.stdin

        def reader() -> None:  # a daemon thread: a blocked read must not keep the process alive
            for line in iter(stdin.readline, ""):
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=reader, name="console-stdin", daemon=True).start()
        while True:
            self.screen.write(self.prompt)
            line = await self._next(lines.get())
            if line is None:
                return EXIT_OK
            outcome = await self._next(self.dispatcher.run(line))
            if outcome is None or outcome is Outcome.EXIT:
                return EXIT_OK
            if outcome is Outcome.LOST and not self.settings.reconnect:
                return EXIT_OK

    async def _next(self, work: Awaitable[_T]) -> _T | None:
        """``work``'s result, or None when the console was stopped meanwhile."""
        task = asyncio.ensure_future(work)
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({task, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if task.done():
            return task.result()
        task.cancel()
        return None

    # -- interactive ------------------------------------------------------------------------------

    def _history(self) -> History:
        path = self.settings.history_file
        if path is None:
            return InMemoryHistory()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(exist_ok=True)
        except OSError as exc:
            self._error(f"history file {path}: {exc.strerror}; history is not saved")
            return InMemoryHistory()
        return ConsoleHistory(path)

    def _toolbar(self) -> StyleAndTextTuples:
        link = self.link
        d = self.dispatcher
        parts = [link.status()]
        if link.state is LinkState.CONNECTED:
            parts.append(f"log {d.log_level or 'off'}")
            if d.uuid_filter:
                parts.append(f"uuid {d.uuid_filter}")
            if d.log_filter:
                parts.append(f"logfilter {d.log_filter!r}")
            return [("", " " + " | ".join(parts) + " ")]
        return [("bg:ansired fg:ansiwhite", " " + " | ".join(parts) + " ")]

    def _key_bindings(self) -> KeyBindings:
        kb = KeyBindings()
        keys = (Keys.F1, Keys.F2, Keys.F3, Keys.F4, Keys.F5, Keys.F6, Keys.F7, Keys.F8, Keys.F9, Keys.F10,
                Keys.F11, Keys.F12)
        for number, key in enumerate(keys, start=1):
            kb.add(key)(self._fnkey_handler(number))

        @kb.add(Keys.BracketedPaste)
        def _paste(event: KeyPressEvent) -> None:
            """A pasted block of lines runs line by line, as soon as it is pasted with its
            last newline; without one, the last line waits for Enter."""
            data = event.data.replace("\r\n", "\n").replace("\r", "\n")
            buffer = event.current_buffer
            if data.endswith("\n"):
                buffer.insert_text(data[:-1])
                buffer.validate_and_handle()
            else:
                buffer.insert_text(data)

        return kb

    def _fnkey_handler(self, number: int) -> Callable[[KeyPressEvent], None]:
        def handler(event: KeyPressEvent) -> None:
            self.fnkey(number)

        return handler

    def fnkey(self, number: int) -> None:
        """fs_cli's ``console_fnkey_pressed``: a toggle key alternates its two commands."""
        profile = self.settings.profile
        index = number - 1
        toggle = profile.fnkeys_toggle[index]
        states = self._fnkey_states
        if toggle and states[index]:
            states[index] = False
            command = toggle
        elif profile.fnkeys[index]:
            states[index] = True
            command = profile.fnkeys[index] or ""
        else:
            self.screen.write(f"\nFUNCTION KEY F{number} IS NOT BOUND, please edit your config.\n")
            return
        self.screen.write(self.prompt + command + "\n")
        self._spawn(self._run_key(command))

    async def _run_key(self, command: str) -> None:
        outcome = await self.dispatcher.run(command)
        if outcome is Outcome.EXIT or (outcome is Outcome.LOST and not self.settings.reconnect):
            self._stop(EXIT_OK)

    async def _interactive(self) -> int:
        profile = self.settings.profile
        self.session = PromptSession(
            history=self._history(),
            completer=self.completer,
            complete_while_typing=False,
            key_bindings=self._key_bindings(),
            bottom_toolbar=self._toolbar,
            input=self._input,
            output=self._output,
        )
        try:
            while not self._ended.is_set():
                try:
                    text = await self.session.prompt_async(self._prompt_message)
                except KeyboardInterrupt:
                    if self.settings.interrupt:
                        self.screen.write("Interrupted.\n")
                        return EXIT_USAGE
                    self.screen.write("Type control-D or /exit or /quit or /bye to exit.\n\n")
                    continue
                except EOFError:
                    self.screen.write("/exit\n\n")
                    return EXIT_OK
                except _Ended:
                    break
                finally:
                    self.arm_sigint()
                for line in text.split("\n"):
                    outcome = await self._next(self.dispatcher.run(line))
                    if outcome is None or outcome is Outcome.EXIT:
                        return EXIT_OK
                    if outcome is Outcome.LOST and not self.settings.reconnect:
                        return EXIT_OK
        finally:
            if profile.input_text_color != DEFAULT_COLOR and self.settings.color:
                self.screen.write(DEFAULT_COLOR)
        return EXIT_OK

    def _prompt_message(self) -> ANSI:
        profile = self.settings.profile
        if not self.settings.color:
            return ANSI(self.prompt)
        return ANSI(profile.prompt_color + self.prompt + profile.input_text_color)


def run(settings: Settings) -> int:
    """The ``eventsocket console`` entry point: run the console on a fresh event loop.

    Control-C while a command runs (the terminal is not in the prompt's raw mode then)
    reminds how to leave, as fs_cli does; with ``-i`` it ends the console.
    """

    async def main() -> int:
        console = Console(settings)
        loop = asyncio.get_running_loop()

        def on_sigint() -> None:
            if settings.interrupt or console.link.conn is None:
                console.screen.write("Interrupted.\n")
                console._stop(EXIT_USAGE)
                for task in asyncio.all_tasks(loop):
                    if task is main_task:
                        task.cancel()
            else:
                console.screen.write("Type control-D or /exit or /quit or /bye to exit.\n\n")

        main_task = asyncio.current_task()
        console.sigint_handler = on_sigint
        console.arm_sigint()
        try:
            return await console.run()
        except asyncio.CancelledError:
            return console.exit_code if console.exit_code is not None else EXIT_USAGE

    if not settings.execute and not settings.profile.batch_mode and not sys.stdin.isatty():
        settings.profile.batch_mode = True
    return asyncio.run(main())
