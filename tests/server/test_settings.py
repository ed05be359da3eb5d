"""EventSocketSettings: event_socket.conf read with mod_event_socket's rules, CLI overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventsocket.server.settings import MAX_ACL, EventSocketSettings
from eventsocket.switch.config import ConfDir

VARS = {"hostname": "testhost", "local_ip_v4": "10.1.2.3", "local_ip_v6": "fd00::3"}


def conf_with(tmp_path: Path, params: str) -> ConfDir:
    """A user conf_dir holding only autoload_configs/event_socket.conf.xml with ``params``."""
    path = tmp_path / "autoload_configs" / "event_socket.conf.xml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<configuration name="event_socket.conf" description="Socket Client">\n'
        f"  <settings>\n{params}\n  </settings>\n</configuration>\n"
    )
    return ConfDir.load(tmp_path, initial_vars=VARS)


def param(name: str, value: str) -> str:
    return f'    <param name="{name}" value="{value}"/>'


def test_defaults() -> None:
    s = EventSocketSettings()
    assert (s.listen_ip, s.listen_port, s.password) == ("127.0.0.1", 8021, "ClueCon")
    assert s.apply_inbound_acl == []
    assert s.inbound_acls() == ["loopback.auto"]
    assert s.stop_on_bind_error is False and s.nat_map is False and s.debug == 0
    assert s.heartbeat_interval == 20.0
    assert s.event_queue_size == 100_000 and s.log_queue_size == 100_000
    assert s.lost_events_limit == 500
    assert s.write_stall_timeout == 60.0 and s.first_packet_timeout == 25.0
    assert s.backlog == 1024


def test_packaged_default_conf() -> None:
    s = EventSocketSettings.from_conf(ConfDir.load(initial_vars=VARS))
    assert s == EventSocketSettings()
    assert s.listen_ip == "127.0.0.1"  # loopback, not FreeSWITCH's "::"
    assert s.is_loopback_only()


def test_user_conf_dir(tmp_path: Path) -> None:
    conf = conf_with(
        tmp_path,
        "\n".join(
            [
                param("nat-map", "true"),
                param("listen-ip", "::"),
                param("listen-port", "18021"),
                param("password", "s3cret pass"),
                param("apply-inbound-acl", "lan"),
                param("Apply-Inbound-ACL", "10.0.0.0/8,127.0.0.1/32"),
                param("STOP-ON-BIND-ERROR", "yes"),
                param("debug", "2"),
            ]
        ),
    )
    s = EventSocketSettings.from_conf(conf)
    assert s.listen_ip == "::"
    assert s.listen_port == 18021
    assert s.password == "s3cret pass"
    assert s.apply_inbound_acl == ["lan", "10.0.0.0/8,127.0.0.1/32"]
    assert s.inbound_acls() == ["lan", "10.0.0.0/8,127.0.0.1/32"]
    assert s.stop_on_bind_error is True
    assert s.nat_map is False  # forced off, as FreeSWITCH's config() does
    assert s.debug == 2
    assert not s.is_loopback_only()


def test_case_sensitive_names_are_ignored_in_other_cases(tmp_path: Path) -> None:
    conf = conf_with(
        tmp_path,
        "\n".join(
            [
                param("Listen-IP", "0.0.0.0"),
                param("LISTEN-PORT", "9999"),
                param("Password", "x"),
                param("DEBUG", "3"),
            ]
        ),
    )
    assert EventSocketSettings.from_conf(conf) == EventSocketSettings()


@pytest.mark.parametrize(
    ("value", "port"),
    [
        ("9000", 9000),
        ("9000abc", 9000),
        (" 9001", 9001),
        ("abc", 8021),
        ("0", 8021),
        ("", 8021),
        ("70000", 8021),
        ("-1", 8021),
    ],
)
def test_listen_port_through_atoi(tmp_path: Path, value: str, port: int) -> None:
    conf = conf_with(tmp_path, param("listen-port", value))
    assert EventSocketSettings.from_conf(conf).listen_port == port


def test_empty_values_and_last_one_wins(tmp_path: Path) -> None:
    conf = conf_with(
        tmp_path,
        "\n".join(
            [
                param("listen-ip", "::1"),
                param("listen-ip", ""),  # a later empty value resets to the default
                param("password", "first"),
                param("password", "second"),
                param("apply-inbound-acl", ""),  # ignored
                param("stop-on-bind-error", "true"),
                param("stop-on-bind-error", "0"),
            ]
        ),
    )
    s = EventSocketSettings.from_conf(conf)
    assert s.listen_ip == "127.0.0.1"
    assert s.password == "second"
    assert s.apply_inbound_acl == []
    assert s.stop_on_bind_error is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("on", True),
        ("Enabled", True),
        ("allow", True),
        ("1", True),
        ("2.5", True),
        ("false", False),
        ("no", False),
        ("0", False),
        ("", False),
        ("deny", False),
    ],
)
def test_stop_on_bind_error_switch_true(tmp_path: Path, value: str, expected: bool) -> None:
    conf = conf_with(tmp_path, param("stop-on-bind-error", value))
    assert EventSocketSettings.from_conf(conf).stop_on_bind_error is expected


def test_acl_cap(tmp_path: Path) -> None:
    conf = conf_with(tmp_path, "\n".join(param("apply-inbound-acl", f"list{i}") for i in range(MAX_ACL + 5)))
    acls = EventSocketSettings.from_conf(conf).apply_inbound_acl
    assert len(acls) == MAX_ACL
    assert acls[0] == "list0" and acls[-1] == f"list{MAX_ACL - 1}"


def test_project_params(tmp_path: Path) -> None:
    conf = conf_with(
        tmp_path,
        "\n".join(
            [
                param("heartbeat-interval", "5"),
                param("event-queue-size", "10"),
                param("log-queue-size", "20"),
                param("lost-events-limit", "3"),
                param("write-stall-timeout", "1.5"),
                param("first-packet-timeout", "2"),
                param("backlog", "64"),
                param("event-queue-size", "bogus"),  # ignored, the good value stays
            ]
        ),
    )
    s = EventSocketSettings.from_conf(conf)
    assert s.heartbeat_interval == 5.0
    assert s.event_queue_size == 10
    assert s.log_queue_size == 20
    assert s.lost_events_limit == 3
    assert s.write_stall_timeout == 1.5
    assert s.first_packet_timeout == 2.0
    assert s.backlog == 64


def test_missing_event_socket_conf(tmp_path: Path) -> None:
    (tmp_path / "vars.xml").write_text('<include>\n<X-PRE-PROCESS cmd="set" data="a=b"/>\n</include>\n')
    assert EventSocketSettings.from_conf(ConfDir.load(tmp_path, initial_vars=VARS)) == EventSocketSettings()


def test_nat_map_always_off() -> None:
    assert EventSocketSettings(nat_map=True).nat_map is False


def test_cli_overrides_win(tmp_path: Path) -> None:
    conf = conf_with(
        tmp_path,
        "\n".join(
            [
                param("listen-ip", "::"),
                param("listen-port", "9000"),
                param("password", "file"),
                param("apply-inbound-acl", "lan"),
            ]
        ),
    )
    from_file = EventSocketSettings.from_conf(conf)
    s = from_file.with_overrides(listen_ip="127.0.0.2", listen_port=9100, password="cli")
    assert (s.listen_ip, s.listen_port, s.password) == ("127.0.0.2", 9100, "cli")
    assert s.apply_inbound_acl == ["lan"]
    assert s.apply_inbound_acl is not from_file.apply_inbound_acl
    assert (from_file.listen_ip, from_file.listen_port, from_file.password) == ("::", 9000, "file")
    kept = from_file.with_overrides(listen_port=0)
    assert (kept.listen_ip, kept.listen_port, kept.password) == ("::", 0, "file")
    assert from_file.with_overrides() == from_file


@pytest.mark.parametrize(
    "kwargs",
    [{"listen_port": 65536}, {"listen_port": -1}, {"password": ""}, {"listen_ip": " "}],
)
def test_bad_overrides(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EventSocketSettings().with_overrides(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ip", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("::ffff:127.0.0.1", True),
        ("::", False),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("example.com", False),
        ("fe80::1%eth0", False),
    ],
)
def test_is_loopback_only(ip: str, loopback: bool) -> None:
    assert EventSocketSettings(listen_ip=ip).is_loopback_only() is loopback


def test_uses_default_password() -> None:
    assert EventSocketSettings().uses_default_password()
    assert not EventSocketSettings(password="other").uses_default_password()
