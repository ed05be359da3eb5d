"""Routing, placement, merged answers and subject filters: pure logic, no NATS."""

from __future__ import annotations

import pytest

from eventsocket.gateway.routing import Placement, merge_show, merge_status, originate_node, route_api
from eventsocket.gateway.subjects import (
    MAX_FILTER_SUBJECTS,
    InvalidNodeName,
    check_node_name,
    event_subject,
    filter_subjects,
    message_id,
    subject_token,
)
from eventsocket.gateway.upstream import NodeAddress

HEADER = "uuid,direction,created,name"


def test_routes() -> None:
    assert route_api("uuid_kill", "abc NORMAL_CLEARING").uuid == "abc"
    assert route_api("UUID_GETVAR", " abc x").kind == "call"
    assert route_api("uuid_kill", "").uuid is None
    assert route_api("originate", "null/1 &park").kind == "originate"
    assert route_api("show", "channels").kind == "merge_show"
    assert route_api("status", "").kind == "merge_status"
    assert route_api("hupall", "").kind == "every"
    assert route_api("version", "").kind == "any"


def test_originate_placement() -> None:
    assert originate_node("{gateway_node=n2,foo=bar}null/1 &park") == "n2"
    assert originate_node("{foo=bar}[gateway_node=n3]null/1 &park") == "n3"
    assert originate_node("null/1 &park") is None
    placement = Placement()
    assert [placement.choose("null/1 &park", ["a", "b", "c"]) for _ in range(4)] == ["a", "b", "c", "a"]
    assert placement.choose("{gateway_node=zz}null/1 &park", ["a"]) == "zz"
    assert placement.choose("null/1", []) is None
    assert Placement(["b"]).choose("null/1", ["a", "b"]) == "b"
    assert Placement(["x"]).choose("null/1", ["a", "b"]) == "a"


def test_merge_show_csv_json_count_and_errors() -> None:
    one = f"{HEADER}\nu1,inbound,t,n1\n\n1 total.\n"
    two = f"{HEADER}\nu2,outbound,t,n2\nu3,outbound,t,n3\n\n2 total.\n"
    empty = "\n0 total.\n"
    rows = "u1,inbound,t,n1\nu2,outbound,t,n2\nu3,outbound,t,n3\n"
    assert merge_show([one, empty, two]) == f"{HEADER}\n{rows}\n3 total.\n"
    assert merge_show([empty, empty]) == "\n0 total.\n"
    assert merge_show(["\n1 total.\n", "\n4 total.\n"]) == "\n5 total.\n"
    assert merge_show(['{"row_count":1,"rows":[{"uuid":"a"}]}', '{"row_count":0}']) == (
        '{"row_count":1,"rows":[{"uuid":"a"}]}'
    )
    assert merge_show(['{"row_count":0}', '{"row_count":0}']) == '{"row_count":0}'
    assert merge_show(["-USAGE: show ...\n", one]) == "-USAGE: show ...\n"
    assert merge_show([]).startswith("-ERR")


def test_merge_status_sums_sessions() -> None:
    def status(since: int, now: int, peak: int) -> str:
        return (
            "UP 0 years, 0 days, 0 hours, 0 minutes, 1 second, 2 milliseconds, 3 microseconds\n"
            "FreeSWITCH (Version 1.11.3-dev git cc93a68 2026-08-21 14:10:14Z 64bit) is ready\n"
            f"{since} session(s) since startup\n"
            f"{now} session(s) - peak {peak}, last 5min {peak} \n"
            "0 session(s) per Sec out of max 30, peak 1, last 5min 1 \n"
            "1000 session(s) max\n"
            "min idle cpu 0.00/95.59\n"
        )

    merged = merge_status([status(3, 1, 2), status(4, 2, 3)]).split("\n")
    assert merged[2] == "7 session(s) since startup"
    assert merged[3] == "3 session(s) - peak 5, last 5min 5 "
    assert merged[4] == "0 session(s) per Sec out of max 60, peak 2, last 5min 2 "
    assert merged[5] == "2000 session(s) max"
    assert merged[6] == "min idle cpu 0.00/95.59"


def test_subjects_and_ids() -> None:
    assert event_subject("n1", "CHANNEL_CREATE") == "esl.n1.CHANNEL_CREATE"
    assert event_subject("n1", "CUSTOM", "sofia::register") == "esl.n1.CUSTOM.sofia::register"
    assert event_subject("n1", "CUSTOM", "a.b *>") == "esl.n1.CUSTOM.a%2Eb%20%2A%3E"
    assert subject_token("") == "%00"
    assert message_id("core", "42") == "core:42"
    with pytest.raises(InvalidNodeName):
        check_node_name("a.b")
    assert check_node_name("node-1_a") == "node-1_a"


def test_filter_subjects_follow_the_event_set() -> None:
    assert filter_subjects(set(), set()) == []
    assert filter_subjects({"ALL"}, set()) == ["esl.*.>"]
    assert filter_subjects({"ALL"}, set(), node="n2") == ["esl.n2.>"]
    assert filter_subjects({"CHANNEL_CREATE"}, set()) == ["esl.*.CHANNEL_CREATE", "esl.*.CHANNEL_CREATE.>"]
    custom = filter_subjects({"CUSTOM"}, {"sofia::register"})
    assert custom == ["esl.*.CUSTOM", "esl.*.CUSTOM.sofia::register"]
    many = {f"T{i}" for i in range(MAX_FILTER_SUBJECTS)}
    assert filter_subjects(many, set()) == ["esl.*.>"]


def test_upstream_address() -> None:
    assert NodeAddress.parse("n1=10.0.0.1:8021:secret") == NodeAddress("n1", "10.0.0.1", 8021, "secret")
    v6 = NodeAddress.parse("n1=[::1]:8021:pw:with:colons")
    assert v6 == NodeAddress("n1", "::1", 8021, "pw:with:colons")
    assert NodeAddress.parse("n1=host:8021").password == "ClueCon"
    for bad in ("n1", "n1=host", "n1=host:x:pw", "a.b=host:1:pw", "n1=:8021:pw"):
        with pytest.raises(ValueError):
            NodeAddress.parse(bad)


def test_ack_position_from_reply_subjects() -> None:
    from eventsocket.gateway.feed import ack_position

    assert ack_position("$JS.ACK.ESL.c1.1.42.7.1796397649285430721.3") == (42, 7, 3)
    assert ack_position("$JS.ACK.dom.acchash.ESL.c1.1.42.7.1796397649285430721.3.tok") == (42, 7, 3)
    assert ack_position("") is None
    assert ack_position("_INBOX.abc") is None
    assert ack_position("$JS.ACK.ESL.c1.1.x.7.1.3") is None


def test_events_are_parsed_once_per_sequence() -> None:
    from eventsocket.gateway.feed import EventCache

    cache = EventCache(size=2)
    payload = b"Event-Name: CUSTOM\nEvent-Subclass: a%3A%3Ab\nTick: 1\n\n"
    first = cache(1, payload)
    assert first is not None and first.name == "CUSTOM" and first.subclass == "a::b"
    assert cache(1, payload) is first
    cache(2, payload)
    cache(3, payload)
    assert cache(1, payload) is not first  # past the bound it is parsed again
    assert cache.parsed == 4
    assert first.frame("plain").endswith(payload)  # the node's bytes, as they came
