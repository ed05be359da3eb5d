"""XmlDialplan: mod_dialplan_xml's hunting, and the inline dialplan parser."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone

import pytest

from eventsocket.switch.dialplan import DialplanAction, RunInline, XmlDialplan, parse_inline_dialplan
from eventsocket.switch.expand import expand as expand_vars

GLOBALS = {"domain": "example.org"}


def expand(text: str, variables: Mapping[str, str]) -> str:
    return expand_vars(text, variables.get, GLOBALS.get)


def dialplan(xml: str, now: Callable[[], datetime] | None = None) -> XmlDialplan:
    root = ET.fromstring(f"<dialplan>{xml}</dialplan>")

    def contexts(name: str) -> ET.Element | None:
        for context in root.findall("context"):
            if (context.get("name") or "").lower() == name.lower():
                return context
        return None

    return XmlDialplan(contexts, now=now)


def hunt(
    xml: str,
    destination: str = "1000",
    variables: dict[str, str] | None = None,
    context: str = "default",
    run_inline: RunInline | None = None,
    **fields: str,
) -> list[DialplanAction] | None:
    profile = {"destination_number": destination, "caller_id_number": "1001", "context": context, **fields}
    return dialplan(xml).hunt(
        context,
        profile,
        variables if variables is not None else {},
        expand,
        run_inline,
    )


def apps(actions: list[DialplanAction] | None) -> list[tuple[str, str]]:
    assert actions is not None
    return [(a.application, a.data) for a in actions]


def ctx(body: str, name: str = "default") -> str:
    return f'<context name="{name}">{body}</context>'


# -- contexts ----------------------------------------------------------------------------------


def test_unknown_context_is_none() -> None:
    assert hunt(ctx("<extension/>", "public"), context="nowhere") is None


def test_missing_context_falls_back_to_global() -> None:
    xml = ctx('<extension><condition><action application="park"/></condition></extension>', "global")
    assert apps(hunt(xml, context="nowhere")) == [("park", "")]


def test_context_name_is_case_insensitive() -> None:
    xml = ctx('<extension><condition><action application="park"/></condition></extension>', "Default")
    assert apps(hunt(xml, context="default")) == [("park", "")]


def test_nothing_matched_is_empty_list() -> None:
    xml = ctx(
        '<extension name="a"><condition field="destination_number" expression="^2000$">'
        '<action application="answer"/></condition></extension>'
    )
    assert hunt(xml, "1000") == []


# -- field conditions and captures -------------------------------------------------------------


def test_destination_captures_are_substituted_into_action_data() -> None:
    variables: dict[str, str] = {}
    xml = ctx(
        '<extension name="local"><condition field="destination_number" expression="^(10)(\\d\\d)$">'
        '<action application="set" data="called=$1-${2}-$0-$9"/>'
        '<action application="bridge" data="user/$1$2@${domain}"/>'
        "</condition></extension>"
    )
    actions = hunt(xml, "1042", variables)
    # $N is substituted at hunt time; ${var} is left for the application to expand when it runs.
    assert apps(actions) == [("set", "called=10-42-1042-"), ("bridge", "user/1042@${domain}")]
    assert variables["DP_MATCH"] == "ARRAY::1042|:10|:42"


def test_no_substitution_without_parentheses_in_expression() -> None:
    xml = ctx(
        '<extension><condition field="destination_number" expression="^1000$">'
        '<action application="log" data="cost $1"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("log", "cost $1")]


def test_action_data_from_element_text() -> None:
    xml = ctx(
        '<extension><condition field="destination_number"><expression><![CDATA[^(\\d+)$]]></expression>'
        '<action application="log"><![CDATA[INFO got $1, <ok>]]></action></condition></extension>'
    )
    assert apps(hunt(xml, "77")) == [("log", "INFO got 77, <ok>")]


def test_field_names_are_profile_fields_in_any_case() -> None:
    xml = ctx(
        '<extension><condition field="Caller_ID_Number" expression="^1001$">'
        '<action application="answer"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("answer", "")]


def test_unknown_field_reads_empty_not_a_channel_variable() -> None:
    xml = ctx(
        '<extension><condition field="my_var" expression="^$">'
        '<action application="empty"/><anti-action application="set"/></condition></extension>'
    )
    assert apps(hunt(xml, variables={"my_var": "x"})) == [("empty", "")]


def test_variable_field_condition() -> None:
    xml = ctx(
        '<extension><condition field="${sip_user}@${domain}" expression="^(\\w+)@example\\.org$">'
        '<action application="log" data="user $1"/></condition></extension>'
    )
    assert apps(hunt(xml, variables={"sip_user": "alice"})) == [("log", "user alice")]
    assert hunt(xml, variables={}) == []


def test_expression_is_expanded() -> None:
    xml = ctx(
        '<extension><condition field="destination_number" expression="^${prefix}(\\d+)$">'
        '<action application="log" data="$1"/></condition></extension>'
    )
    assert apps(hunt(xml, "9123", {"prefix": "9"})) == [("log", "123")]


def test_condition_without_field_always_passes() -> None:
    xml = ctx(
        '<extension><condition expression="^never$"><action application="a"/></condition>'
        '<condition><action application="b"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("a", ""), ("b", "")]


def test_regex_flags_and_asterisk_patterns() -> None:
    xml = ctx(
        '<extension continue="true"><condition field="caller_id_name" expression="/^bob$/i">'
        '<action application="caseless"/></condition></extension>'
        '<extension><condition field="destination_number" expression="_1NXX">'
        '<action application="pattern"/></condition></extension>'
    )
    assert apps(hunt(xml, "1234", caller_id_name="BOB")) == [("caseless", ""), ("pattern", "")]
    assert apps(hunt(xml, "1134", caller_id_name="bobby")) == []


def test_named_groups_use_pcre_syntax() -> None:
    xml = ctx(
        '<extension><condition field="destination_number" expression="^(?&lt;ext&gt;\\d+)\\z">'
        '<action application="log" data="$1"/></condition></extension>'
    )
    assert apps(hunt(xml, "55")) == [("log", "55")]


def test_invalid_regex_never_matches() -> None:
    xml = ctx(
        '<extension><condition field="destination_number" expression="^(1000$">'
        '<action application="a"/><anti-action application="bad"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("bad", "")]


# -- anti-actions, extensions, continue --------------------------------------------------------


def test_anti_actions_run_on_failed_condition_and_stop_the_hunt() -> None:
    xml = ctx(
        '<extension name="one"><condition field="destination_number" expression="^2000$">'
        '<action application="bridge" data="user/2000"/>'
        '<anti-action application="log" data="not 2000 ($1)"/>'
        '<anti-action application="hangup" data="CALL_REJECTED"/></condition></extension>'
        '<extension name="two"><condition><action application="never"/></condition></extension>'
    )
    # Anti-actions get no $N substitution, and make the extension count as matched.
    assert apps(hunt(xml)) == [("log", "not 2000 ($1)"), ("hangup", "CALL_REJECTED")]


def test_continue_accumulates_actions_across_extensions() -> None:
    xml = ctx(
        '<extension name="vars" continue="true"><condition>'
        '<action application="set" data="a=1"/></condition></extension>'
        '<extension name="miss"><condition field="destination_number" expression="^9$">'
        '<action application="never"/></condition></extension>'
        '<extension name="hit" continue="true"><condition field="destination_number" expression="^1000$">'
        '<action application="answer"/></condition></extension>'
        '<extension name="last"><condition><action application="park"/></condition></extension>'
        '<extension name="after"><condition><action application="unreached"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("set", "a=1"), ("answer", ""), ("park", "")]


def test_matched_extension_without_continue_stops_hunting() -> None:
    xml = ctx(
        '<extension name="a"><condition><action application="first"/></condition></extension>'
        '<extension name="b"><condition><action application="second"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("first", "")]


def test_actions_of_passed_conditions_stay_when_a_later_one_fails() -> None:
    xml = ctx(
        '<extension name="a"><condition><action application="kept"/></condition>'
        '<condition field="destination_number" expression="^9$"><action application="no"/></condition>'
        "</extension>"
        '<extension name="b"><condition><action application="next"/></condition></extension>'
    )
    # The failed condition makes extension "a" not match, so hunting goes on, but "kept" stays.
    assert apps(hunt(xml)) == [("kept", ""), ("next", "")]


def test_loop_attribute_repeats_an_action() -> None:
    xml = ctx(
        '<extension><condition><action application="beep" loop="3"/>'
        '<action application="never" loop="0"/><action application="end"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("beep", ""), ("beep", ""), ("beep", ""), ("end", "")]


def test_auto_hunt_starts_at_the_extension_named_after_the_destination() -> None:
    xml = ctx(
        '<extension name="first"><condition><action application="first"/></condition></extension>'
        '<extension name="1000"><condition><action application="named"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("first", "")]
    assert apps(hunt(xml, variables={"auto_hunt": "true"})) == [("named", "")]


# -- break -------------------------------------------------------------------------------------

BREAK_EXTEN = (
    '<extension name="b"><condition field="destination_number" expression="{first}" break="{mode}">'
    '<action application="first-true"/><anti-action application="first-false"/></condition>'
    '<condition><action application="second"/></condition></extension>'
    '<extension name="fallback"><condition><action application="fallback"/></condition></extension>'
)


@pytest.mark.parametrize(
    ("mode", "first", "expected"),
    [
        # on-false (the default): a false condition stops the extension.
        ("on-false", "^1000$", ["first-true", "second"]),
        ("on-false", "^9$", ["first-false"]),
        ("bogus", "^9$", ["first-false"]),
        # on-true: a true condition stops it, a false one goes on to the next condition.
        ("on-true", "^1000$", ["first-true"]),
        ("on-true", "^9$", ["first-false", "second"]),
        # always: stop after this condition either way; never: go on either way.
        ("always", "^1000$", ["first-true"]),
        ("always", "^9$", ["first-false"]),
        ("never", "^1000$", ["first-true", "second"]),
        ("never", "^9$", ["first-false", "second"]),
    ],
)
def test_break_modes(mode: str, first: str, expected: list[str]) -> None:
    xml = ctx(BREAK_EXTEN.replace("{mode}", mode).replace("{first}", first))
    assert [app for app, _ in apps(hunt(xml))] == expected


def test_break_never_false_last_condition_lets_hunting_continue() -> None:
    xml = ctx(
        '<extension name="a"><condition><action application="one"/></condition>'
        '<condition field="destination_number" expression="^9$" break="never">'
        '<action application="no"/></condition></extension>'
        '<extension name="b"><condition><action application="two"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("one", ""), ("two", "")]


# -- regex="all|any|xor" -----------------------------------------------------------------------

REGEX_EXTEN = (
    '<extension><condition regex="{rule}">'
    '<regex field="caller_id_number" expression="^(10)(\\d\\d)$"/>'
    '<regex field="destination_number" expression="^(\\d)000$"/>'
    '<action application="hit" data="$1-$2"/><anti-action application="miss"/>'
    "</condition></extension>"
    '<extension><condition><action application="fallback"/></condition></extension>'
)


@pytest.mark.parametrize(
    ("rule", "caller", "destination", "expected"),
    [
        # all: stops at the first failure; the last capturing regex tested gives $N.
        ("all", "1001", "1000", [("hit", "1-")]),
        ("all", "1001", "1234", [("miss", "")]),
        # any: stops at the first pass, which gives $N...
        ("any", "1001", "1234", [("hit", "10-01")]),
        # ...unless a capturing regex failed before it: that one gives $N (nothing) and its match
        # count (0) decides, so the extension does not count as matched and hunting goes on.
        ("any", "2001", "5000", [("hit", "-"), ("fallback", "")]),
        ("any", "2001", "1234", [("miss", "")]),
        # xor: exactly one must pass; every regex is tested, the last capturing one gives $N.
        ("xor", "1001", "1234", [("hit", "-"), ("fallback", "")]),
        ("xor", "2001", "1000", [("hit", "1-")]),
        ("xor", "1001", "1000", [("miss", "")]),
        ("xor", "2001", "1234", [("miss", "")]),
    ],
)
def test_regex_rules(rule: str, caller: str, destination: str, expected: list[tuple[str, str]]) -> None:
    xml = ctx(REGEX_EXTEN.replace("{rule}", rule))
    assert apps(hunt(xml, destination, caller_id_number=caller)) == expected


def test_regex_all_sets_dp_regex_match_variables() -> None:
    variables = {"DP_REGEX_MATCH_9": "stale"}
    hunt(ctx(REGEX_EXTEN.replace("{rule}", "all")), "1000", variables, caller_id_number="1001")
    assert variables["DP_REGEX_MATCH_1"] == "ARRAY::1001|:10|:01"
    assert variables["DP_REGEX_MATCH_2"] == "ARRAY::1000|:1"
    assert "DP_REGEX_MATCH_9" not in variables
    assert variables["DP_MATCH"] == "ARRAY::1000|:1"


def test_regex_children_without_field_pass() -> None:
    xml = ctx(
        '<extension><condition regex="all"><regex expression="x"/>'
        '<regex field="destination_number" expression="^1000$"/>'
        '<action application="ok"/></condition></extension>'
    )
    assert apps(hunt(xml)) == [("ok", "")]


# -- inline actions ----------------------------------------------------------------------------

INLINE_XML = ctx(
    '<extension name="prep" continue="true"><condition>'
    '<action application="set" data="route=$${domain}-${caller_id_number}" inline="true"/>'
    '<action application="export" data="exported=yes" inline="true"/>'
    '<action application="set" data="later=${route}"/></condition></extension>'
    '<extension name="route"><condition field="${route}" expression="^example\\.org-(\\d+)$">'
    '<action application="bridge" data="user/$1"/></condition></extension>'
)


def test_inline_set_is_seen_by_later_conditions_without_run_inline() -> None:
    variables = {"caller_id_number": "1001"}
    actions = hunt(INLINE_XML, variables=variables)
    assert actions == [
        DialplanAction("set", "route=$${domain}-${caller_id_number}", inline=True),
        DialplanAction("export", "exported=yes", inline=True),
        DialplanAction("set", "later=${route}"),
        DialplanAction("bridge", "user/1001"),
    ]
    assert variables["route"] == "example.org-1001"
    assert variables["exported"] == "yes"
    assert "later" not in variables  # not inline: runs after hunting


def test_inline_actions_go_through_run_inline_at_once() -> None:
    variables = {"caller_id_number": "1001"}
    calls: list[tuple[str, str, str | None]] = []

    def run_inline(app: str, data: str) -> None:
        calls.append((app, data, variables.get("route")))
        if app == "set":  # a real executor sets the variable on the channel
            name, _, value = expand(data, variables).partition("=")
            variables[name] = value.upper()

    actions = hunt(INLINE_XML, variables=variables, run_inline=run_inline)
    assert calls == [
        ("set", "route=$${domain}-${caller_id_number}", None),
        ("export", "exported=yes", "EXAMPLE.ORG-1001"),
    ]
    # run_inline's own result stands; export, which it did not apply, was applied by hunting.
    assert variables["route"] == "EXAMPLE.ORG-1001"
    assert variables["exported"] == "yes"
    assert apps(actions)[-1] == ("set", "later=${route}")  # the route regex is case-sensitive


def test_inline_unset_and_nolocal_export() -> None:
    variables = {"gone": "1"}
    xml = ctx(
        '<extension><condition><action application="unset" data="gone" inline="true"/>'
        '<action application="export" data="nolocal:remote=1" inline="true"/>'
        '<action application="set" data="empty=" inline="true"/></condition></extension>'
    )
    hunt(xml, variables=variables)
    assert variables == {}


def test_inline_anti_action() -> None:
    variables: dict[str, str] = {}
    xml = ctx(
        '<extension continue="true"><condition field="destination_number" expression="^9$">'
        '<anti-action application="set" data="not_nine=true" inline="true"/></condition></extension>'
        '<extension><condition field="${not_nine}" expression="^true$">'
        '<action application="answer"/></condition></extension>'
    )
    assert apps(hunt(xml, variables=variables)) == [("set", "not_nine=true"), ("answer", "")]


# -- nested conditions -------------------------------------------------------------------------


def test_nested_conditions() -> None:
    xml = ctx(
        '<extension name="n"><condition field="destination_number" expression="^(1\\d+)$">'
        '<action application="outer" data="$1"/>'
        '<condition field="caller_id_number" expression="^1001$"><action application="inner"/></condition>'
        "</condition></extension>"
        '<extension name="fallback"><condition><action application="fallback"/></condition></extension>'
    )
    assert apps(hunt(xml, "1000")) == [("outer", "1000"), ("inner", "")]
    # A failing nested condition makes the extension not match: hunting goes on.
    assert apps(hunt(xml, "1000", caller_id_number="2002")) == [("outer", "1000"), ("fallback", "")]


def test_require_nested_false() -> None:
    xml = ctx(
        '<extension name="n"><condition require-nested="false">'
        '<condition field="caller_id_number" expression="^9$"><action application="inner"/></condition>'
        "</condition></extension>"
        '<extension name="fallback"><condition><action application="fallback"/></condition></extension>'
    )
    assert apps(hunt(xml)) == []


# -- date and time conditions ------------------------------------------------------------------

# Wednesday 2024-05-15 14:30:20, in UTC+2.
NOW = datetime(2024, 5, 15, 14, 30, 20, tzinfo=timezone(timedelta(hours=2)))


def timed(attrs: str, variables: dict[str, str] | None = None) -> list[tuple[str, str]]:
    xml = ctx(
        f'<extension><condition {attrs}><action application="in"/>'
        '<anti-action application="out"/></condition></extension>'
    )
    actions = dialplan(xml, now=lambda: NOW).hunt("default", {}, variables or {}, expand)
    return apps(actions)


@pytest.mark.parametrize(
    ("attrs", "inside"),
    [
        ('wday="4"', True),
        ('wday="wed"', True),
        ('wday="mon-fri"', True),
        ('wday="sat,sun"', False),
        ('hour="9-17"', True),
        ('hour="18-8"', False),
        ('hour="8,14"', True),
        ('mon="5" mday="15" year="2024"', True),
        ('mday="1-14"', False),
        ('minute-of-day="871"', True),
        ('time-of-day="14:00-14:30"', False),
        ('time-of-day="08:00-12:00,14:00:00-14:30:20"', True),
        ('time-of-day="22:00-06:00"', False),
        ('yday="136" week="20" mweek="3"', True),
        ('date-time="2024-05-15 14:00:00~2024-05-15 15:00:00"', True),
        ('date-time="2024-05-15 15:00:00~2024-05-16 00:00:00"', False),
        ('tz-offset="2"', True),
        ('tz-offset="-5"', False),
    ],
)
def test_time_conditions(attrs: str, inside: bool) -> None:
    assert timed(attrs) == [("in" if inside else "out", "")]


def test_time_conditions_follow_tod_tz_offset() -> None:
    assert timed('hour="12"', {"tod_tz_offset": "0"}) == [("in", "")]
    assert timed('hour="8"', {"timezone": "America/New_York"}) == [("in", "")]


def test_time_match_and_failed_field_still_select_the_actions() -> None:
    # FreeSWITCH does not AND a passing time test with a failing field test: the actions are
    # taken, but the extension does not count as matched, so hunting continues.
    xml = ctx(
        '<extension><condition field="destination_number" expression="^9$" hour="14">'
        '<action application="in"/><anti-action application="out"/></condition></extension>'
        '<extension><condition><action application="next"/></condition></extension>'
    )
    actions = dialplan(xml, now=lambda: NOW).hunt("default", {"destination_number": "1"}, {}, expand)
    assert apps(actions) == [("in", ""), ("next", "")]


# -- the inline dialplan -----------------------------------------------------------------------


def test_parse_inline_dialplan() -> None:
    assert parse_inline_dialplan("answer,playback:/tmp/x.wav,set:a=b:c") == [
        DialplanAction("answer", ""),
        DialplanAction("playback", "/tmp/x.wav"),
        DialplanAction("set", "a=b:c"),
    ]


def test_parse_inline_dialplan_custom_delimiter_quotes_and_escapes() -> None:
    assert parse_inline_dialplan("m:^:set:list=a,b^bridge:{x=1,y=2}user/1000") == [
        DialplanAction("set", "list=a,b"),
        DialplanAction("bridge", "{x=1,y=2}user/1000"),
    ]
    assert parse_inline_dialplan("log:'INFO a, b' , set:x=1\\,2") == [
        DialplanAction("log", "INFO a, b"),
        DialplanAction("set", "x=1,2"),
    ]
    assert parse_inline_dialplan("") == []
