"""ConfDir: FreeSWITCH's preprocessor, the packaged default conf, and directory lookups."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from eventsocket.protocol.compat import atoi as c_atoi
from eventsocket.protocol.compat import switch_true
from eventsocket.switch.config import DEFAULT_CONF_DIR, ConfDir, ConfigError, DirectoryUser

# Fixed starting globals, so that no test depends on the machine's addresses.
VARS = {"hostname": "testhost", "local_ip_v4": "10.1.2.3", "local_ip_v6": "fd00::3"}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def root(body: str) -> str:
    return f'<?xml version="1.0"?>\n<document type="freeswitch/xml">\n{body}\n</document>\n'


def settings_of(conf: ConfDir, name: str = "event_socket.conf") -> dict[str, str]:
    cfg = conf.configuration(name)
    assert cfg is not None
    return {p.get("name", ""): p.get("value", "") for p in cfg.iter("param")}


# -- preprocessing -----------------------------------------------------------------------------


def test_set_and_substitution(tmp_path: Path) -> None:
    write(
        tmp_path / "freeswitch.xml",
        root(
            '  <X-PRE-PROCESS cmd="set" data="greeting = hello"/>\n'
            '  <X-PRE-PROCESS cmd="set" data="both=$${greeting}-$${hostname}"/>\n'
            '  <section name="configuration">\n'
            '    <configuration name="x.conf"><settings>\n'
            '      <param name="a" value="$${both}"/>\n'
            '      <param name="b" value="[$${no_such_var}]"/>\n'
            "    </settings></configuration>\n"
            "  </section>"
        ),
    )
    conf = ConfDir.load(tmp_path, initial_vars=VARS)
    assert conf.global_vars["greeting"] == "hello"  # blanks around "=" trimmed, as set does
    assert conf.global_vars["both"] == "hello-testhost"
    assert settings_of(conf, "x") == {"a": "hello-testhost", "b": "[]"}  # unknown expands to ""


def test_set_disables_channel_variables(tmp_path: Path) -> None:
    # switch_core_set_variable() turns "${" into "%{" in every global it stores.
    write(tmp_path / "freeswitch.xml", root('<X-PRE-PROCESS cmd="set" data="x=a${b}c"/>'))
    assert ConfDir.load(tmp_path, initial_vars=VARS).global_vars["x"] == "a%{b}c"


def test_global_names_are_case_insensitive_and_reset_moves_last(tmp_path: Path) -> None:
    write(
        tmp_path / "freeswitch.xml",
        root(
            '<X-PRE-PROCESS cmd="set" data="First=1"/>\n'
            '<X-PRE-PROCESS cmd="set" data="second=2"/>\n'
            '<X-PRE-PROCESS cmd="set" data="FIRST=3"/>\n'
            '<section name="configuration"><configuration name="x.conf">'
            '<param name="p" value="$${first}"/></configuration></section>'
        ),
    )
    conf = ConfDir.load(tmp_path, initial_vars=VARS)
    names = list(conf.global_vars)
    assert names[-2:] == ["second", "FIRST"]
    assert "First" not in conf.global_vars
    assert conf.get_var("first") == "3"
    assert settings_of(conf, "x") == {"p": "3"}


def test_include_glob_is_sorted_and_relative_to_including_file(tmp_path: Path) -> None:
    write(
        tmp_path / "freeswitch.xml",
        root(
            '  <section name="configuration">\n'
            '    <X-PRE-PROCESS cmd="include" data="autoload_configs/*.xml"/>\n'
            "  </section>"
        ),
    )
    write(tmp_path / "autoload_configs/b.conf.xml", '<configuration name="b.conf"/>\n')
    write(
        tmp_path / "autoload_configs/a.conf.xml",
        '<configuration name="a.conf">\n  <X-PRE-PROCESS cmd="include" data="nested/*.xml"/>\n'
        "</configuration>\n",
    )
    # "nested/" resolves against autoload_configs/, the including file's directory.
    write(
        tmp_path / "autoload_configs/nested/inner.xml", '<include>\n  <settings name="inner"/>\n</include>\n'
    )
    write(tmp_path / "autoload_configs/notes.txt", "not xml")
    conf = ConfDir.load(tmp_path, initial_vars=VARS)
    section = conf.sections("configuration")[0]
    assert [c.get("name") for c in section.findall("configuration")] == ["a.conf", "b.conf"]
    a = conf.configuration("a")
    assert a is not None
    inner = a.find("settings")
    assert inner is not None and inner.get("name") == "inner"
    assert tmp_path / "autoload_configs/nested/inner.xml" in conf.files


def test_set_in_included_file_is_seen_by_later_lines(tmp_path: Path) -> None:
    write(
        tmp_path / "freeswitch.xml",
        root(
            '<X-PRE-PROCESS cmd="include" data="vars.xml"/>\n'
            '<section name="directory"><domain name="$${domain}"/></section>'
        ),
    )
    write(
        tmp_path / "vars.xml",
        '<include>\n  <X-PRE-PROCESS cmd="set" data="domain=$${local_ip_v4}"/>\n</include>\n',
    )
    conf = ConfDir.load(tmp_path, initial_vars=VARS)
    assert [d.get("name") for d in conf.domains()] == ["10.1.2.3"]


def test_missing_include_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(
        tmp_path / "freeswitch.xml",
        root(
            '<X-PRE-PROCESS cmd="include" data="nope.xml"/>\n'
            '<X-PRE-PROCESS cmd="include" data="none/*.xml"/>\n'
            '<section name="configuration"/>'
        ),
    )
    with caplog.at_level(logging.WARNING, logger="eventsocket.config"):
        conf = ConfDir.load(tmp_path, initial_vars=VARS)
    assert conf.root.tag == "document"
    assert len(conf.sections("configuration")) == 1
    assert "nope.xml" in caplog.text


def test_include_loop_is_an_error(tmp_path: Path) -> None:
    write(tmp_path / "freeswitch.xml", root('<X-PRE-PROCESS cmd="include" data="loop.xml"/>'))
    write(tmp_path / "loop.xml", '<X-PRE-PROCESS cmd="include" data="loop.xml"/>\n')
    with pytest.raises(ConfigError, match=r"loop\.xml"):
        ConfDir.load(tmp_path, initial_vars=VARS)


def test_directive_lines_and_comments_like_freeswitch(tmp_path: Path) -> None:
    write(
        tmp_path / "freeswitch.xml",
        root(
            # Processed even inside comments: they cannot be commented out.
            '<!--<X-PRE-PROCESS cmd="set" data="a=1"/>-->\n'
            '<!-- <X-PRE-PROCESS cmd="set" data="b=2"/> -->\n'
            # A line that only mentions the name (no "<" before it) is dropped whole.
            '<section name="gone">the X-PRE-PROCESS tag</section>\n'
            # Case-insensitive tag and command.
            '<x-pre-process CMD="SET" DATA="c=3"/>\n'
            # The old comment form, one line and several lines.
            '<!--#set "d=4"-->\n'
            "<!--#comment\n"
            '  <X-NO-PRE-PROCESS cmd="set" data="e=5"/>\n'
            "-->\n"
            '<section name="configuration"/>'
        ),
    )
    conf = ConfDir.load(tmp_path, initial_vars=VARS)
    assert conf.get_var("a") == "1"
    assert conf.get_var("b") == "2"
    assert conf.sections("gone") == []
    assert conf.get_var("c") == "3"
    assert conf.get_var("d") == "4"
    assert conf.get_var("e") is None


def test_env_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ES_TEST_SECRET", "s3cret")
    monkeypatch.delenv("ES_TEST_UNSET", raising=False)
    write(
        tmp_path / "freeswitch.xml",
        root(
            '<X-PRE-PROCESS cmd="env-set" data="secret=$ES_TEST_SECRET"/>\n'
            '<X-PRE-PROCESS cmd="env-set" data="unset=$ES_TEST_UNSET"/>\n'
            '<X-PRE-PROCESS cmd="env-set" data="literal=ES_TEST_SECRET"/>'
        ),
    )
    conf = ConfDir.load(tmp_path, initial_vars=VARS)
    assert conf.get_var("secret") == "s3cret"
    assert conf.get_var("unset") is None
    assert conf.get_var("literal") is None


def test_exec_set_only_when_allowed(tmp_path: Path) -> None:
    write(tmp_path / "freeswitch.xml", root('<X-PRE-PROCESS cmd="exec-set" data="out=echo  computed "/>'))
    assert ConfDir.load(tmp_path, initial_vars=VARS).get_var("out") is None
    allowed = ConfDir.load(tmp_path, initial_vars=VARS, allow_exec=True)
    assert allowed.get_var("out") == "computed"


def test_predefined_globals_and_initial_vars(tmp_path: Path) -> None:
    write(tmp_path / "conf/freeswitch.xml", root(""))
    conf = ConfDir.load(tmp_path / "conf", initial_vars={**VARS, "core_uuid": "abc", "extra": "x"})
    g = conf.global_vars
    assert list(g)[:4] == ["hostname", "local_ip_v4", "local_mask_v4", "local_ip_v6"]
    assert g["hostname"] == "testhost"
    assert g["local_ip_v4"] == "10.1.2.3"
    assert g["local_ip_v6"] == "fd00::3"
    assert g["conf_dir"] == str((tmp_path / "conf").resolve())
    assert g["base_dir"] == str(tmp_path.resolve())
    assert g["sounds_dir"] == str(tmp_path.resolve() / "sounds")
    assert g["switch_serial"].startswith("0a010203") and len(g["switch_serial"]) == 12
    for name in ("log_dir", "recordings_dir", "run_dir", "db_dir", "temp_dir", "certs_dir", "storage_dir"):
        assert g[name]
    assert g["core_uuid"] == "abc"
    assert g["extra"] == "x"
    assert "core_uuid" not in ConfDir.load(tmp_path / "conf", initial_vars=VARS).global_vars


def test_unterminated_variable_is_copied(tmp_path: Path) -> None:
    conf = ConfDir.from_text(
        root(
            '<section name="configuration"><configuration name="x.conf"><param name="p" value="$${oops"/>'
            "</configuration></section>"
        ),
        base_dir=tmp_path,
        initial_vars=VARS,
    )
    assert settings_of(conf, "x") == {"p": "$${oops"}


def test_lenient_like_freeswitch_parser(tmp_path: Path) -> None:
    conf = ConfDir.from_text(
        root(
            '<section name="dialplan"><context name="default">'
            '<extension name="x"><condition field="destination_number" expression="^(<\\d+)$">'
            '<action application="set" data="url=http://h/?a=1&b=2 &amp; &#65;"/>'
            "</condition></extension></context></section>"
        ),
        base_dir=tmp_path,
        initial_vars=VARS,
    )
    context = conf.dialplan_context("default")
    assert context is not None
    action = context.find("extension/condition/action")
    condition = context.find("extension/condition")
    assert action is not None and condition is not None
    assert action.get("data") == "url=http://h/?a=1&b=2 & A"
    assert condition.get("expression") == "^(<\\d+)$"


# -- fallback without freeswitch.xml -------------------------------------------------------------


def test_conf_dir_without_root_file(tmp_path: Path) -> None:
    write(
        tmp_path / "vars.xml", '<include>\n<X-PRE-PROCESS cmd="set" data="domain=example.com"/>\n</include>\n'
    )
    write(
        tmp_path / "autoload_configs/event_socket.conf.xml",
        '<configuration name="event_socket.conf"><settings>'
        '<param name="password" value="pw"/></settings></configuration>\n',
    )
    write(tmp_path / "dialplan/default.xml", '<include>\n<context name="default"/>\n</include>\n')
    write(
        tmp_path / "directory/default.xml",
        '<include>\n<domain name="$${domain}"><users><user id="u"/></users></domain>\n</include>\n',
    )
    conf = ConfDir.load(tmp_path, initial_vars=VARS)
    assert settings_of(conf) == {"password": "pw"}
    assert conf.dialplan_context("DEFAULT") is not None
    assert conf.find_user("u", "example.com") is not None


def test_bare_conf_file_in_dir_or_as_path(tmp_path: Path) -> None:
    path = write(
        tmp_path / "event_socket.conf.xml",
        '<configuration name="event_socket.conf"><settings>'
        '<param name="listen-port" value="9000"/></settings></configuration>\n',
    )
    assert settings_of(ConfDir.load(tmp_path, initial_vars=VARS)) == {"listen-port": "9000"}
    assert settings_of(ConfDir.load(path, initial_vars=VARS)) == {"listen-port": "9000"}


# -- errors --------------------------------------------------------------------------------------


def test_missing_conf_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no-such-dir"):
        ConfDir.load(tmp_path / "no-such-dir")


def test_malformed_included_file_names_that_file(tmp_path: Path) -> None:
    write(
        tmp_path / "freeswitch.xml",
        root(
            '<section name="configuration">\n'
            '<X-PRE-PROCESS cmd="include" data="autoload_configs/*.xml"/>\n'
            "</section>\n"
            '<section name="dialplan"/>'
        ),
    )
    write(tmp_path / "autoload_configs/good.conf.xml", '<configuration name="good.conf"/>\n')
    write(
        tmp_path / "autoload_configs/bad.conf.xml",
        '<configuration name="bad.conf">\n  <settings>\n</configuration>\n',
    )
    with pytest.raises(ConfigError, match=r"bad\.conf\.xml") as info:
        ConfDir.load(tmp_path, initial_vars=VARS)
    assert "good.conf.xml" not in str(info.value)
    assert not isinstance(info.value.__cause__, Exception)


def test_malformed_root_file(tmp_path: Path) -> None:
    write(tmp_path / "freeswitch.xml", '<document>\n<section name="x">\n</document>\n')
    with pytest.raises(ConfigError, match=r"freeswitch\.xml"):
        ConfDir.load(tmp_path, initial_vars=VARS)


def test_unclosed_tag_blames_the_file_that_left_it_open(tmp_path: Path) -> None:
    write(
        tmp_path / "freeswitch.xml",
        root('<section name="directory">\n<X-PRE-PROCESS cmd="include" data="directory/*.xml"/>\n</section>'),
    )
    write(tmp_path / "directory/a.xml", '<include>\n<domain name="a">\n<users>\n</domain>\n</include>\n')
    write(tmp_path / "directory/b.xml", '<include>\n<domain name="b"/>\n</include>\n')
    with pytest.raises(ConfigError, match=r"a\.xml"):
        ConfDir.load(tmp_path, initial_vars=VARS)


# -- the packaged default conf -------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_conf() -> ConfDir:
    return ConfDir.load(initial_vars=VARS)


def test_default_conf_loads(default_conf: ConfDir) -> None:
    assert default_conf.path == DEFAULT_CONF_DIR
    assert default_conf.root.tag == "document"
    g = default_conf.global_vars
    assert g["domain"] == "10.1.2.3"
    assert g["domain_name"] == "10.1.2.3"
    assert g["default_password"] == "1234"
    assert g["hold_music"] == "local_stream://moh"
    assert {p.name for p in default_conf.files} >= {
        "freeswitch.xml",
        "vars.xml",
        "event_socket.conf.xml",
        "acl.conf.xml",
        "default.xml",
    }


def test_default_event_socket_conf(default_conf: ConfDir) -> None:
    assert default_conf.configuration("event_socket") is default_conf.configuration("EVENT_SOCKET.conf")
    assert settings_of(default_conf) == {
        "nat-map": "false",
        "listen-ip": "127.0.0.1",
        "listen-port": "8021",
        "password": "ClueCon",
    }


def test_default_acl_conf(default_conf: ConfDir) -> None:
    acl = default_conf.configuration("acl.conf")
    assert acl is not None
    lists = {x.get("name"): x for x in acl.iterfind("network-lists/list")}
    assert set(lists) == {"lan", "domains"}
    domain_node = lists["domains"].find("node")
    assert domain_node is not None and domain_node.get("domain") == "10.1.2.3"


def test_default_dialplan(default_conf: ConfDir) -> None:
    assert [c.get("name") for c in default_conf.dialplan_contexts()] == ["default", "public"]
    default = default_conf.dialplan_context("default")
    assert default is not None
    found = {
        cond.get("expression"): [(a.get("application"), a.get("data")) for a in cond.findall("action")]
        for cond in default.iterfind("extension/condition")
    }
    assert found["^9999$"] == [("park", None)]
    assert found["^9196$"] == [("answer", None), ("echo", None)]
    assert found["^9664$"] == [("answer", None), ("playback", "silence_stream://3000"), ("hangup", None)]
    assert found["^5000$"] == [("socket", "127.0.0.1:8084 async full")]
    public = default_conf.dialplan_context("public")
    assert public is not None
    action = public.find("extension/condition/action")
    assert action is not None and action.get("application") == "transfer"
    assert (action.get("data") or "").endswith("XML default")
    assert default_conf.dialplan_context("nope") is None


def test_default_directory(default_conf: ConfDir) -> None:
    user = default_conf.find_user("1000", "10.1.2.3")
    assert user is not None
    assert user.params["password"] == "1234"
    assert user.variables["user_context"] == "default"  # from the group
    assert user.variables["record_stereo"] == "true"  # from the domain
    assert default_conf.find_user("1001", "10.1.2.3") is not None
    esl = default_conf.find_user("esl", "10.1.2.3")
    assert esl is not None and esl.params["esl-password"] == "ClueCon"
    limited = default_conf.find_user("limited", "10.1.2.3")
    assert limited is not None
    assert limited.params["esl-password"] == "secret"
    assert limited.params["esl-allowed-events"] == "CHANNEL_CREATE CHANNEL_ANSWER CUSTOM my::sub"
    assert limited.params["esl-allowed-api"] == "echo,status,bgapi"
    assert limited.params["esl-allowed-log"] == "false"


# -- directory lookups ---------------------------------------------------------------------------

DIRECTORY = """
<section name="directory">
  <domain name="Example.COM">
    <params>
      <param name="shared" value="domain"/>
      <param name="Dial-String" value="d"/>
      <param name="esl-password" value="from-domain"/>
    </params>
    <variables><variable name="v" value="domain"/></variables>
    <groups>
      <group name="sales">
        <params><param name="shared" value="group"/><param name="group-only" value="g"/></params>
        <variables><variable name="v" value="group"/></variables>
        <users>
          <user id="2000" type="pointer"/>
          <user id="1000" number-alias="555" cidr="192.0.2.10/32">
            <params>
              <param name="ESL-Password" value="pw"/>
              <param name="SHARED" value="user"/>
              <param value="nameless"/>
            </params>
          </user>
        </users>
      </group>
      <group name="other">
        <users>
          <user id="2000">
            <params><param name="cidr" value="198.51.100.0/24"/></params>
          </user>
        </users>
      </group>
    </groups>
    <users>
      <user id="solo" cidr="203.0.113.5/32"><params><param name="x" value="1"/></params></user>
    </users>
  </domain>
  <domain name="$${domain}">
    <user id="direct"/>
  </domain>
</section>
"""


@pytest.fixture
def directory(tmp_path: Path) -> ConfDir:
    return ConfDir.from_text(
        root('<X-PRE-PROCESS cmd="set" data="domain=vars.example"/>' + DIRECTORY),
        base_dir=tmp_path,
        initial_vars=VARS,
    )


def test_merge_domain_group_user(directory: ConfDir) -> None:
    user = directory.find_user("1000", "example.com")
    assert isinstance(user, DirectoryUser)
    assert user.id == "1000"
    assert user.domain == "Example.COM"
    assert user.group == "sales"
    assert user.params == {
        "shared": "user",
        "dial-string": "d",
        "esl-password": "pw",
        "group-only": "g",
    }
    assert user.param("Esl-Password") == "pw"
    assert user.variables == {"v": "group"}
    assert user.variable("V") == "group"


def test_lookup_rules(directory: ConfDir) -> None:
    assert directory.find_user("555", "example.com") is not None  # number-alias
    alias = directory.find_user("555", "example.com")
    assert alias is not None and alias.id == "1000"
    pointer = directory.find_user("2000", "EXAMPLE.com")  # the pointer in "sales" is skipped
    assert pointer is not None and pointer.group == "other"
    solo = directory.find_user("SOLO", "example.com")  # domain-level <users>
    assert solo is not None and solo.group is None and solo.params["x"] == "1"
    assert solo.params["shared"] == "domain"
    direct = directory.find_user("direct", "vars.example")  # domain named by a global
    assert direct is not None


def test_unknown_user_or_domain(directory: ConfDir) -> None:
    assert directory.find_user("9999", "example.com") is None
    assert directory.find_user("1000", "other.com") is None
    assert directory.find_user("", "example.com") is None
    assert directory.find_user("1000", "") is None


def test_domain_cidrs(directory: ConfDir) -> None:
    assert directory.domain_cidrs("example.com") == ["203.0.113.5/32", "192.0.2.10/32", "198.51.100.0/24"]
    assert directory.domain_cidrs("nowhere") == []


def test_find_domain_expands_unprocessed_names() -> None:
    doc = ET.fromstring(
        '<document><section name="directory"><domain name="$${d}"><user id="u"/></domain>'
        "</section></document>"
    )
    conf = ConfDir(doc, {"d": "built.example"})
    assert conf.find_user("u", "built.example") is not None


# -- helpers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8021", 8021), ("  42abc", 42), ("-7", -7), ("+3", 3), ("abc", 0), ("", 0), ("1.9", 1)],
)
def test_c_atoi(text: str, expected: int) -> None:
    assert c_atoi(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("ON", True),
        ("true", True),
        ("t", True),
        ("Enabled", True),
        ("active", True),
        ("allow", True),
        ("1", True),
        ("-2", True),
        ("1.5", True),
        ("0", False),
        ("0.9", False),
        ("", False),
        ("no", False),
        ("false", False),
        ("deny", False),
        ("2x", False),
        (None, False),
    ],
)
def test_switch_true(text: str | None, expected: bool) -> None:
    assert switch_true(text) is expected
