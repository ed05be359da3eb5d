"""Connection profiles: ``~/.config/eventsocket/console.toml`` and fs_cli's ``~/.fs_cli_conf``.

fs_cli users already keep their switches in ``~/.fs_cli_conf`` (an INI-like file of
``[name]`` sections with ``key => value`` lines); it is read as it is, with fs_cli's own
key names, so nobody has to write the same thing twice. ``console.toml`` uses the same
key names, one table per profile::

    [default]
    host = "10.0.0.5"
    password = "secret"
    loglevel = "info"
    key_F7 = "/log console"

A profile is chosen as fs_cli chooses: the name given on the command line, else the one
named ``default``, else the first one found, else the built-in one (127.0.0.1:8021,
ClueCon). Profiles of ``console.toml`` come before those of ``~/.fs_cli_conf`` (and win
on a name both define).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from eventsocket.protocol.framing import atoi

__all__ = [
    "DEFAULT_FNKEYS",
    "Profile",
    "ProfileError",
    "choose",
    "default_paths",
    "load_profiles",
    "parse_fs_cli_conf",
    "parse_toml",
]

LOG_UUID_SHORT_LENGTH = 8

# fs_cli's set_fn_keys(): what F1..F12 run unless a profile binds them otherwise
DEFAULT_FNKEYS: tuple[str, ...] = (
    "help",
    "status",
    "show channels",
    "show calls",
    "sofia status",
    "reloadxml",
    "/log console",
    "/log debug",
    "sofia status profile internal",
    "fsctl pause",
    "fsctl resume",
    "version",
)

# fs_cli's color_map: the names a profile may use for prompt/input/output colours
COLOR_NAMES: dict[str, str] = {
    "black": "\033[30m", "bold-black": "\033[1;30m",
    "red": "\033[31m", "bold-red": "\033[1;31m",
    "green": "\033[32m", "bold-green": "\033[1;32m",
    "yellow": "\033[33m", "bold-yellow": "\033[1;33m",
    "blue": "\033[34m", "bold-blue": "\033[1;34m",
    "magenta": "\033[35m", "bold-magenta": "\033[1;35m",
    "cyan": "\033[36m", "bold-cyan": "\033[1;36m",
    "white": "\033[37m", "bold-white": "\033[1;37m",
}
DEFAULT_COLOR = "\033[m"


class ProfileError(ValueError):
    """A profile file that cannot be read (bad TOML, wrong value types)."""


def esl_true(value: object) -> bool:
    """``esl_true``: yes, on, true, t, enabled, active, allow, or a non-zero number."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = str(value).strip().lower()
    if text in {"yes", "on", "true", "t", "enabled", "active", "allow"}:
        return True
    return bool(text) and text.lstrip("-").isdigit() and int(text) != 0


def match_color(name: str) -> str:
    """fs_cli's ``match_color``: an unknown name means the terminal's default colour."""
    return COLOR_NAMES.get(name.strip().lower(), DEFAULT_COLOR)


@dataclass(slots=True)
class Profile:
    """Where to connect and how the console behaves; the fields of fs_cli's ``cli_profile_t``."""

    name: str
    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"
    user: str = ""
    debug: int = 0
    loglevel: str = ""
    log_uuid: bool = False
    log_uuid_length: int = 0
    quiet: bool = False
    use_history_file: bool = True
    history_file: str = ""
    batch_mode: bool = False
    prompt_color: str = DEFAULT_COLOR
    input_text_color: str = DEFAULT_COLOR
    output_text_color: str = DEFAULT_COLOR
    prompt_string: str = ""
    timeout_ms: int = 0
    connect_timeout_ms: int = 0
    fnkeys: list[str | None] = field(default_factory=lambda: list(DEFAULT_FNKEYS))
    fnkeys_toggle: list[str | None] = field(default_factory=lambda: [None] * 12)

    def set(self, key: str, value: object) -> None:
        """Apply one ``key => value`` line the way fs_cli's ``read_config`` does."""
        var = key.strip().lower()
        text = str(value).strip() if not isinstance(value, bool) else ("true" if value else "false")
        if var == "host":
            self.host = text
        elif var == "user":
            self.user = text
        elif var == "password":
            self.password = text
        elif var == "port":
            port = atoi(text)
            if 0 < port < 65536:
                self.port = port
        elif var == "batchmode":
            self.batch_mode = esl_true(value)
        elif var == "debug":
            level = atoi(text)
            if 0 <= level < 8:
                self.debug = level
        elif var == "loglevel":
            self.loglevel = text
        elif var == "log-uuid":
            self.log_uuid = esl_true(value)
        elif var == "log-uuid-short":
            self.log_uuid = esl_true(value)
            self.log_uuid_length = LOG_UUID_SHORT_LENGTH if self.log_uuid else 0
        elif var == "log-uuid-length":
            if atoi(text) > -1:
                self.log_uuid_length = atoi(text)
        elif var == "quiet":
            self.quiet = esl_true(value)
        elif var == "no-history-file":
            self.use_history_file = not esl_true(value)
        elif var == "history-file":
            self.history_file = text
        elif var == "prompt-color":
            self.prompt_color = match_color(text)
        elif var == "prompt-string":
            self.prompt_string = text
        elif var == "input-text-color":
            self.input_text_color = match_color(text)
        elif var == "output-text-color":
            self.output_text_color = match_color(text)
        elif var.startswith("key_toggle_f"):
            number = atoi(var[12:])
            if 0 < number < 13:
                self.fnkeys_toggle[number - 1] = text
        elif var.startswith("key_f"):
            number = atoi(var[5:])
            if 0 < number < 13:
                self.fnkeys[number - 1] = text
        elif var == "timeout":
            self.timeout_ms = atoi(text)
        elif var == "connect-timeout":
            self.connect_timeout_ms = atoi(text)


def parse_fs_cli_conf(text: str) -> list[Profile]:
    """Profiles of an fs_cli configuration file, parsed as ``esl_config_next_pair`` does.

    ``[name]`` starts a profile; ``key => value`` or ``key = value`` lines set its
    fields; lines starting with ``#`` or ``;`` are comments, ``;;`` ends a line early,
    ``__END__`` ends the file, and lines without ``=`` are skipped.
    """
    profiles: list[Profile] = []
    category = ""
    current: Profile | None = None
    for raw in text.splitlines():
        line = raw
        if line.startswith("[") and "]" in line:
            name = line[1 : line.index("]")]
            if not name.startswith("+"):
                category = name
            continue
        if not line or line[0] in "#;\r":
            continue
        if line.startswith("__END__"):
            break
        cut = line.find(";;")
        if cut >= 0:
            line = line[:cut]
        line = line.lstrip(" \t")
        if "=" not in line:
            continue
        var, _, val = line.partition("=")
        if val.startswith(">"):
            val = val[1:]
        var, val = var.rstrip(" \t"), val.strip(" \t\r")
        if current is None or current.name != category:
            current = Profile(name=category)
            profiles.append(current)
        current.set(var, val)
    return profiles


def parse_toml(text: str) -> list[Profile]:
    """Profiles of ``console.toml``: each top-level table is one profile."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"console.toml: {exc}") from None
    profiles: list[Profile] = []
    for name, table in data.items():
        if not isinstance(table, Mapping):
            raise ProfileError(f"console.toml: [{name}] must be a table of settings")
        profile = Profile(name=name)
        for key, value in table.items():
            if isinstance(value, Mapping | list):
                raise ProfileError(f"console.toml: [{name}] {key} must be a string, number or boolean")
            profile.set(key, value)
        profiles.append(profile)
    return profiles


def default_paths(home: Path | None = None) -> tuple[Path, list[Path]]:
    """``console.toml`` (under ``$XDG_CONFIG_HOME``) and fs_cli's files, in fs_cli's order:
    ``~/.fs_cli_conf``, else ``/etc/fs_cli.conf``."""
    home = home or Path.home()
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    return config_home / "eventsocket" / "console.toml", [home / ".fs_cli_conf", Path("/etc/fs_cli.conf")]


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def load_profiles(toml_path: Path | None, fs_cli_paths: Iterable[Path]) -> list[Profile]:
    """Every profile found; the first readable fs_cli file is used, as fs_cli does."""
    profiles: list[Profile] = []
    if toml_path is not None:
        text = _read(toml_path)
        if text is not None:
            profiles.extend(parse_toml(text))
    for path in fs_cli_paths:
        text = _read(path)
        if text is not None:
            known = {p.name for p in profiles}
            profiles.extend(p for p in parse_fs_cli_conf(text) if p.name not in known)
            break
    return profiles


def choose(profiles: list[Profile], name: str | None, fallback_name: str) -> Profile:
    """The profile named ``name``, else ``default``, else the first, else a built-in one
    (a copy, so the caller may change it)."""
    by_name = {p.name: p for p in profiles}
    found = (by_name.get(name) if name else None) or by_name.get("default")
    if found is None and profiles:
        found = profiles[0]
    if found is None:
        return Profile(name=fallback_name)
    return replace(found, fnkeys=list(found.fnkeys), fnkeys_toggle=list(found.fnkeys_toggle))
