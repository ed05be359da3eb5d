"""The one event-list grammar (names, CUSTOM with subclasses, ALL) that both ends use."""

from __future__ import annotations

from eventsocket.protocol.eventlist import (
    ALL,
    CUSTOM,
    EVENT_NAMES,
    EventKey,
    event_format,
    lookup_event_name,
    parse_event_list,
    split_allowed_list,
    split_event_words,
)


def test_names_any_case_and_by_tail() -> None:
    assert lookup_event_name("channel_create") == "CHANNEL_CREATE"
    assert lookup_event_name("SWITCH_EVENT_DTMF") == "DTMF"
    assert lookup_event_name("xxxxxxxxxxxxxheartbeat") == "HEARTBEAT"  # any 13 characters
    assert lookup_event_name("DTMF_") is None
    assert lookup_event_name("") is None
    assert EVENT_NAMES[0] == CUSTOM and EVENT_NAMES[-1] == ALL


def test_unknown_and_empty_words_are_skipped_in_order() -> None:
    keys = parse_event_list(["", "nonsense", "heartbeat", "", "Channel_Answer"])
    assert keys == [EventKey("HEARTBEAT"), EventKey("CHANNEL_ANSWER")]


def test_every_word_after_custom_is_a_subclass() -> None:
    keys = parse_event_list(["DTMF", "CUSTOM", "a::b", "ALL", "", "HEARTBEAT"])
    assert keys == [
        EventKey("DTMF"),
        EventKey(CUSTOM),
        EventKey(CUSTOM, "a::b"),
        EventKey(CUSTOM, "ALL"),
        EventKey(CUSTOM, "HEARTBEAT"),
    ]
    assert [k.is_subclass for k in keys] == [False, False, True, True, True]


def test_all_is_a_name() -> None:
    assert parse_event_list(["all"]) == [EventKey(ALL)]


def test_splitting() -> None:
    assert split_event_words("  CUSTOM  a::b ") == ["CUSTOM", "a::b"]
    assert split_allowed_list("CHANNEL_CREATE,HEARTBEAT") == ["CHANNEL_CREATE", "HEARTBEAT"]
    # any space means the list is space separated, commas then stay inside words
    assert split_allowed_list("api,x  status") == ["api,x", "status"]


def test_formats() -> None:
    assert [event_format(w) for w in ("PLAIN", "Json", "xml", "yaml", "")] == [
        "plain", "json", "xml", None, None,
    ]  # fmt: skip
