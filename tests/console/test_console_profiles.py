"""Profiles (console.toml and fs_cli's ~/.fs_cli_conf), flags over profiles, rendering."""

from __future__ import annotations

from pathlib import Path

import pytest
from console_driver import settings_for

from eventsocket.cli.console.profiles import DEFAULT_FNKEYS, ProfileError, parse_fs_cli_conf, parse_toml
from eventsocket.cli.console.render import expand_prompt, format_log_line, log_line_visible, prompt_text
from eventsocket.client import LogLine

FS_CLI_CONF = """\
# fs_cli's own sample
[default]
host => 10.0.0.5
port => 8022
password => secret ;; a comment
debug => 7
loglevel => info
key_F7 => /log console
key_toggle_F7 => /nolog
log-uuid-short => true
prompt-string => %s@%o:%P

[lab]
host = 192.0.2.9
quiet = yes
no-history-file => true
prompt-color => bold-green
__END__
[ignored]
host => 1.2.3.4
"""


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)


def test_fs_cli_conf_is_read_as_fs_cli_reads_it() -> None:
    default, lab = parse_fs_cli_conf(FS_CLI_CONF)
    d = default
    assert (d.name, d.host, d.port, d.password) == ("default", "10.0.0.5", 8022, "secret")
    assert (d.debug, d.loglevel, d.log_uuid, d.log_uuid_length) == (7, "info", True, 8)
    assert default.fnkeys[6] == "/log console" and default.fnkeys_toggle[6] == "/nolog"
    assert default.fnkeys[0] == DEFAULT_FNKEYS[0] == "help"
    assert (lab.host, lab.port, lab.password, lab.quiet, lab.use_history_file) == (
        "192.0.2.9", 8021, "ClueCon", True, False)
    assert lab.prompt_color == "\033[1;32m"


def test_toml_profiles() -> None:
    (p,) = parse_toml('[office]\nhost = "192.0.2.1"\nport = 8023\nquiet = true\nkey_F1 = "show calls"\n')
    assert (p.name, p.host, p.port, p.quiet, p.fnkeys[0]) == ("office", "192.0.2.1", 8023, True, "show calls")
    with pytest.raises(ProfileError):
        parse_toml("host = 'x'\n")
    with pytest.raises(ProfileError):
        parse_toml("[a\n")


def test_profile_choice_and_flags(tmp_path: Path) -> None:
    (tmp_path / ".fs_cli_conf").write_text(FS_CLI_CONF)
    assert settings_for(tmp_path).profile.name == "default"
    lab = settings_for(tmp_path, "lab").profile
    assert lab.host == "192.0.2.9"
    s = settings_for(tmp_path, "lab", "-H", "127.0.0.2", "-P", "9000", "-p", "pw", "-l", "err", "-t", "1500")
    assert (s.profile.host, s.profile.port, s.profile.password) == ("127.0.0.2", 9000, "pw")
    assert (s.profile.loglevel, s.profile.quiet, s.timeout) == ("err", False, 1.5)  # -l undoes quiet
    assert s.history_file is None  # the lab profile has no-history-file
    missing = settings_for(tmp_path, "nosuch")
    assert missing.profile.name == "default" and missing.warnings


def test_toml_comes_first_and_wins(tmp_path: Path) -> None:
    (tmp_path / ".fs_cli_conf").write_text(FS_CLI_CONF)
    toml = tmp_path / ".config" / "eventsocket" / "console.toml"
    toml.parent.mkdir(parents=True)
    toml.write_text('[lab]\nhost = "198.51.100.7"\n')
    assert settings_for(tmp_path, "lab").profile.host == "198.51.100.7"
    assert settings_for(tmp_path).profile.name == "default"  # "default" still preferred over the first
    assert settings_for(tmp_path, "--config", str(toml)).profile.name == "lab"


def test_builtin_profile(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    assert (s.profile.host, s.profile.port, s.profile.password) == ("127.0.0.1", 8021, "ClueCon")
    assert s.history_file == tmp_path / ".local" / "state" / "eventsocket" / "console_history"
    assert s.timeout is None and s.color


def test_prompt_expansion() -> None:
    (p,) = parse_fs_cli_conf(FS_CLI_CONF)[:1]
    assert prompt_text(p, "sw1", "host1") == "sw1@10.0.0.5:8022> "
    assert expand_prompt("%p %H 100%%", p, "sw1", "host1") == "default host1 100%"
    p.prompt_string = ""
    assert prompt_text(p, "sw1", "host1") == "freeswitch@sw1> "


def line(text: str, level: int, uuid: str = "") -> LogLine:
    return LogLine(text, level, 0, "f.c", "fn", 1, uuid)


def test_log_line_colours_and_filters() -> None:
    assert format_log_line(line("x\n", 3), color=True) == "\033[31mx\n\033[m"
    assert format_log_line(line("x", 7), color=True) == "\033[33mx\n\033[m"
    assert format_log_line(line("x\n", 6), color=False) == "x\n"
    assert format_log_line(line("\n", 6), color=False) == ""
    uuid = "0123456789abcdef"
    assert format_log_line(line("x\n", 6, uuid), color=False, log_uuid=True, uuid_length=8) == "01234567 x\n"
    assert log_line_visible(line("a", 6, uuid), uuid.upper(), None)
    assert not log_line_visible(line("a", 6, "other"), uuid, None)
    assert log_line_visible(line("a", 6), uuid, None)  # lines of no call stay
    assert not log_line_visible(line("abc", 6), None, "zzz")


def test_console_complete_output_is_parsed() -> None:
    from eventsocket.cli.console.completion import parse_console_complete

    # switch_console.c's comp_callback: "[%20s]\t" per match, a newline after every fourth,
    # then "\n\n" and "write=<len>:<partial>"
    names = ["internal", "external", "internal-ipv6", "external-ipv6", "lab"]
    body = ""
    for i, name in enumerate(names, start=1):
        body += f"[{name:>20}]\t" + ("\n" if i % 4 == 0 else "")
    body += "\n\nwrite=0:"
    assert parse_console_complete(body) == names
    assert parse_console_complete(f"[{'status':>20}]\t\n\nwrite=3:status ") == ["status"]
    assert parse_console_complete("\n\n") == []


def test_history_keeps_fs_cli_size_and_skips_repeats(tmp_path: Path) -> None:
    from eventsocket.cli.console.history import ConsoleHistory

    path = tmp_path / "history"
    writer = ConsoleHistory(path, size=3)
    for text in ["a", "b", "b", "c", "multi\nline", "d", "e", "f", "g"]:
        writer.append_string(text)
    stored = [line for line in path.read_text().splitlines() if line.startswith("+")]
    assert stored == ["+a", "+b", "+c", "+multi", "+line", "+d", "+e", "+f", "+g"]  # "b" once
    reader = ConsoleHistory(path, size=3)
    assert list(reader.load_history_strings()) == ["g", "f", "e"]  # newest first, at most 3
    # 8 entries > 2 x 3: the file was rewritten with the newest 3, in prompt_toolkit's format
    assert [line for line in path.read_text().splitlines() if line.startswith("+")] == ["+e", "+f", "+g"]
    assert list(ConsoleHistory(path, size=3).load_history_strings()) == ["g", "f", "e"]
