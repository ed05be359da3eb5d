"""``eventsocket console`` flags (fs_cli's, same letters and meanings) and the settings
they resolve to once merged with a profile."""

from __future__ import annotations

import argparse
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from eventsocket.cli.console.profiles import (
    LOG_UUID_SHORT_LENGTH,
    Profile,
    choose,
    default_paths,
    esl_true,
    load_profiles,
)
from eventsocket.protocol.framing import atoi

__all__ = ["OptionsError", "Settings", "add_arguments", "resolve"]


class OptionsError(ValueError):
    """A flag with an invalid value (fs_cli prints the message and its usage, exit 1)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """fs_cli's options (``fs_cli -h``), plus ``--config`` and ``--summary``."""
    add = parser.add_argument
    add("profile", nargs="?", help="a profile of console.toml or ~/.fs_cli_conf")
    add("-H", "--host", help="host to connect")
    add("-P", "--port", help="port to connect (1 - 65535)")
    add("-u", "--user", help="user@domain (userauth instead of auth)")
    add("-p", "--password", help="password")
    add("-i", "--interrupt", action="store_true", help="allow Control-C to interrupt")
    add("-x", "--execute", action="append", metavar="COMMAND", default=[],
        help="run an API command and exit (repeatable: run in order)")
    add("-l", "--loglevel", help="log level")
    add("-U", "--log-uuid", action="store_true", help="include the call's uuid in log output")
    add("-S", "--log-uuid-short", action="store_true", help="include a shortened uuid in log output")
    add("-q", "--quiet", action="store_true", help="disable logging")
    add("-Q", "--no-history-file", action="store_true", help="do not read or write the history file")
    add("-r", "--retry", action="store_true", help="retry the connection on failure")
    add("-R", "--reconnect", action="store_true", help="reconnect if disconnected")
    add("-d", "--debug", metavar="LEVEL", help="debug level of the console itself (0 - 7)")
    add("-b", "--batchmode", action="store_true", help="batch mode (lines from standard input, no editing)")
    add("-t", "--timeout", metavar="MS", help="timeout for API commands (in milliseconds)")
    add("-T", "--connect-timeout", metavar="MS", help="timeout for the socket connection (in milliseconds)")
    add("-n", "--no-color", action="store_true", help="disable colour")
    add("-s", "--set-log-uuid", metavar="UUID", help="show only the log lines of this call")
    add("--summary", action="store_true", help="print one line per event instead of the whole event")
    add("--config", metavar="PATH", type=Path,
        help="profiles file (default: ~/.config/eventsocket/console.toml, then ~/.fs_cli_conf)")


@dataclass(slots=True)
class Settings:
    """Everything the console needs to run, after flags override the profile."""

    profile: Profile
    execute: list[str] = field(default_factory=list)
    interrupt: bool = False
    retry: bool = False
    reconnect: bool = False
    color: bool = True
    debug: int = 0
    uuid_filter: str | None = None
    summary: bool = False
    history_file: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def timeout(self) -> float | None:
        """API command timeout in seconds; None waits as long as the command runs (fs_cli's default)."""
        return self.profile.timeout_ms / 1000 if self.profile.timeout_ms > 0 else None

    @property
    def connect_timeout(self) -> float | None:
        ms = self.profile.connect_timeout_ms
        return ms / 1000 if ms > 0 else 10.0


def _history_path(profile: Profile, home: Path) -> Path:
    """Our own history file (prompt_toolkit's format differs from libedit's, so fs_cli's
    ``~/.fs_cli_history`` is left alone)."""
    if profile.history_file:
        return Path(os.path.expanduser(profile.history_file))
    state_home = Path(os.environ.get("XDG_STATE_HOME") or home / ".local" / "state")
    return state_home / "eventsocket" / "console_history"


def resolve(args: argparse.Namespace, home: Path | None = None) -> Settings:
    """Merge flags over the chosen profile as fs_cli does; raises :class:`OptionsError`."""
    home = home or Path.home()
    port: int | None = None
    if args.port is not None:
        port = atoi(args.port)
        if not 0 < port < 65536:
            raise OptionsError("ERROR: Port must be in range 1 - 65535")
    debug: int | None = None
    if args.debug is not None:
        debug = atoi(args.debug)
        if not 0 <= debug <= 7:
            raise OptionsError("ERROR: Debug level should be 0 - 7.")
    toml_path: Path | None
    toml_path, fs_cli_paths = default_paths(home)
    if args.config is not None:
        if args.config.suffix == ".toml":
            toml_path, fs_cli_paths = args.config, []
        else:
            toml_path, fs_cli_paths = None, [args.config]
    profiles = load_profiles(toml_path, fs_cli_paths)
    warnings: list[str] = []
    if args.profile and args.profile not in {p.name for p in profiles}:
        warnings.append(f"no profile named {args.profile!r}; using the default one")
    profile = choose(profiles, args.profile, socket.gethostname())
    if args.host:
        profile.host = args.host
    if port is not None:
        profile.port = port
    if args.user:
        profile.user = args.user
    if args.password is not None:
        profile.password = args.password
    if args.batchmode:
        profile.batch_mode = True
    if args.loglevel:
        profile.loglevel = args.loglevel
        profile.quiet = False
    if args.quiet:
        profile.quiet = True
    if args.log_uuid:
        profile.log_uuid = True
    if args.log_uuid_short:
        profile.log_uuid = True
        profile.log_uuid_length = LOG_UUID_SHORT_LENGTH
    if args.timeout is not None:
        profile.timeout_ms = atoi(args.timeout)
    if args.connect_timeout is not None:
        profile.connect_timeout_ms = atoi(args.connect_timeout)
    color = not args.no_color
    if os.environ.get("FS_CLI_COLOR") is not None:
        color = color and esl_true(os.environ["FS_CLI_COLOR"])
    history = None
    if profile.use_history_file and not args.no_history_file:
        history = _history_path(profile, home)
    return Settings(
        profile=profile,
        execute=list(args.execute),
        interrupt=args.interrupt,
        retry=args.retry,
        reconnect=args.reconnect,
        color=color,
        debug=debug if debug is not None else profile.debug,
        uuid_filter=args.set_log_uuid or None,
        summary=args.summary,
        history_file=history,
        warnings=warnings,
    )
