"""Event filters: ``filter``/``filter delete`` and the matching rules of PROTOCOL.md §3.6 and §4.6."""

from __future__ import annotations

from inbound_wire import Harness, Wire, logged_in, reply


async def listener(harness: Harness, *filters: str) -> Wire:
    """A client subscribed to CUSTOM with ``filters`` added (each ``Header value``)."""
    wire = await logged_in(harness)
    assert (await wire.cmd("event plain CUSTOM")).raw == reply("+OK event listener enabled plain")
    for spec in filters:
        header, _, value = spec.partition(" ")
        assert (await wire.cmd(f"filter {spec}")).raw == reply(f"+OK filter added. [{header}]=[{value}]")
    return wire


async def delivered(wire: Wire, *events: dict[str, str]) -> list[str]:
    """Fire one CUSTOM event per dict (its ``Marker`` names it); the markers this listener received."""
    for headers in events:
        lines = "".join(f"{name}: {value}\n" for name, value in headers.items())
        msg = await wire.ask(f"sendevent CUSTOM\n{lines}")
        assert msg.reply_text.startswith("+OK "), msg.raw
    return [m.event()["Marker"] or "" for m in await wire.sync()]


def ev(marker: str, **headers: str) -> dict[str, str]:
    return {"Marker": marker, **{name.replace("_", "-"): value for name, value in headers.items()}}


async def test_no_filter_delivers_everything(harness: Harness) -> None:
    wire = await listener(harness)
    assert await delivered(wire, ev("a", X_Name="alice"), ev("b")) == ["a", "b"]


async def test_positive_filter(harness: Harness) -> None:
    wire = await listener(harness, "X-Name alice")
    got = await delivered(
        wire,
        ev("1", X_Name="alice"),
        ev("2", X_Name="bob"),
        ev("3", X_Name="ALICE"),
        ev("4"),
        ev("5", X_Name="alice2"),
    )
    assert got == ["1", "3"]  # case-insensitive, whole value; a missing header never matches


async def test_filter_header_name_is_case_insensitive(harness: Harness) -> None:
    wire = await listener(harness, "x-name alice")
    assert await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="bob")) == ["1"]


async def test_filter_on_standard_header(harness: Harness) -> None:
    wire = await logged_in(harness)
    assert (await wire.cmd("event plain ALL")).raw == reply("+OK event listener enabled plain")
    await wire.cmd("filter Event-Name API")
    await wire.ask("api echo x")
    await wire.ask("sendevent CUSTOM")
    await wire.ask("bgapi echo y")
    got = await wire.sync()
    assert [m.event().name for m in got] == ["API", "API"]


async def test_negative_filter_with_a_positive_one(harness: Harness) -> None:
    wire = await listener(harness, "Event-Name CUSTOM", "X-Name -bob")
    got = await delivered(
        wire, ev("1", X_Name="alice"), ev("2", X_Name="bob"), ev("3"), ev("4", X_Name="BOB")
    )
    assert got == ["1", "3"]


async def test_only_negative_filters_deliver_nothing(harness: Harness) -> None:
    wire = await listener(harness, "X-Name -bob")
    got = await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="bob"), ev("3"))
    assert got == []
    # with the filter gone, the same events pass
    assert (await wire.cmd("filter delete X-Name -bob")).raw == reply("+OK filter deleted. [X-Name][-bob]")
    assert await delivered(wire, ev("4", X_Name="alice")) == ["4"]


async def test_negative_match_rejects_even_after_a_positive_match(harness: Harness) -> None:
    wire = await listener(harness, "X-Name alice", "X-Team -red")
    got = await delivered(wire, ev("1", X_Name="alice", X_Team="red"), ev("2", X_Name="alice", X_Team="blue"))
    assert got == ["2"]


async def test_plus_sign_and_spaces_are_consumed(harness: Harness) -> None:
    wire = await listener(harness, "X-Name +alice", "X-Other  -+carol")
    got = await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="+alice"), ev("3", X_Other="carol"))
    # "+alice" is positive alice; " -+carol" ends with "+", so it is positive too
    assert got == ["1", "3"]


async def test_regex_filters(harness: Harness) -> None:
    wire = await listener(harness, "X-Name /^al/")
    got = await delivered(
        wire,
        ev("1", X_Name="alice"),
        ev("2", X_Name="albert"),
        ev("3", X_Name="Alice"),
        ev("4", X_Name="sal"),
    )
    assert got == ["1", "2"]  # case-sensitive, searched unanchored unless anchored


async def test_regex_unanchored_search(harness: Harness) -> None:
    wire = await listener(harness, "X-Name /li/")
    assert await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="bob")) == ["1"]


async def test_regex_caseless_flag(harness: Harness) -> None:
    wire = await listener(harness, "X-Name /^AL/i")
    got = await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="ALBERT"), ev("3", X_Name="bob"))
    assert got == ["1", "2"]


async def test_regex_without_closing_slash_never_matches(harness: Harness) -> None:
    wire = await listener(harness, "X-Name /alice")
    got = await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="/alice"))
    assert got == []


async def test_negative_regex_is_a_literal_comparison(harness: Harness) -> None:
    wire = await listener(harness, "Event-Name CUSTOM", "X-Name -/^bo/")
    got = await delivered(wire, ev("1", X_Name="bob"), ev("2", X_Name="/^BO/"), ev("3", X_Name="alice"))
    assert got == ["1", "3"]


async def test_filter_on_a_missing_header_is_ignored(harness: Harness) -> None:
    wire = await listener(harness, "X-Other foo", "X-Name alice")
    got = await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="bob"), ev("3", X_Other="foo"))
    assert got == ["1", "3"]


async def test_same_header_filters_are_ored(harness: Harness) -> None:
    wire = await listener(harness, "X-Name alice", "X-Name bob")
    got = await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="bob"), ev("3", X_Name="carol"))
    assert got == ["1", "2"]


async def test_add_keyword(harness: Harness) -> None:
    wire = await listener(harness)
    assert (await wire.cmd("filter add X-Name alice")).raw == reply("+OK filter added. [X-Name]=[alice]")
    assert (await wire.cmd("filter add X-Name")).raw == reply("+OK filter added. [X-Name]=[(null)]")
    assert await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="(null)")) == ["1"]


async def test_value_keeps_its_spaces(harness: Harness) -> None:
    wire = await listener(harness)
    assert (await wire.cmd("filter  X-Name  John Doe")).raw == reply("+OK filter added. [X-Name]=[ John Doe]")
    # the leading space is consumed when matching, so " John Doe" matches "John Doe"
    got = await delivered(
        wire, ev("1", X_Name="John Doe"), ev("2", X_Name="John"), ev("3", X_Name="john doe")
    )
    assert got == ["1", "3"]
    # but deleting compares the stored value exactly
    assert (await wire.cmd("filter delete X-Name John Doe")).raw == reply(
        "+OK filter deleted. [X-Name][John Doe]"
    )
    assert await delivered(wire, ev("4", X_Name="John"), ev("5", X_Name="John Doe")) == ["5"]
    assert (await wire.cmd("filter delete X-Name  John Doe")).raw == reply(
        "+OK filter deleted. [X-Name][ John Doe]"
    )
    assert await delivered(wire, ev("6", X_Name="John")) == ["6"]


async def test_delete_by_value_is_case_sensitive(harness: Harness) -> None:
    wire = await listener(harness, "X-Name alice", "X-Name bob")
    assert (await wire.cmd("filter delete X-Name Alice")).raw == reply("+OK filter deleted. [X-Name][Alice]")
    assert await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="carol")) == ["1"]
    assert (await wire.cmd("filter delete X-Name alice")).raw == reply("+OK filter deleted. [X-Name][alice]")
    assert await delivered(wire, ev("3", X_Name="alice"), ev("4", X_Name="bob")) == ["4"]


async def test_delete_by_name_removes_every_filter_of_that_name(harness: Harness) -> None:
    wire = await listener(harness, "X-Name alice", "X-Name bob", "X-Team red")
    assert (await wire.cmd("filter delete x-name")).raw == reply("+OK filter deleted. [x-name][]")
    got = await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Team="red"), ev("3", X_Name="zed"))
    assert got == ["2"]


async def test_delete_all(harness: Harness) -> None:
    wire = await listener(harness, "X-Name alice", "X-Team -red")
    assert (await wire.cmd("filter delete all")).raw == reply("+OK filter deleted. [all][]")
    got = await delivered(wire, ev("1", X_Name="bob"), ev("2", X_Team="red"), ev("3"))
    assert got == ["1", "2", "3"]


async def test_delete_all_with_extra_words(harness: Harness) -> None:
    wire = await listener(harness, "X-Name alice")
    assert (await wire.cmd("filter delete all x")).raw == reply("+OK filter deleted. [all][]")
    assert await delivered(wire, ev("1", X_Name="bob")) == ["1"]


async def test_delete_missing_filter_still_ok(harness: Harness) -> None:
    wire = await listener(harness, "X-Name alice")
    assert (await wire.cmd("filter delete X-Nope zzz")).raw == reply("+OK filter deleted. [X-Nope][zzz]")
    assert await delivered(wire, ev("1", X_Name="alice"), ev("2", X_Name="bob")) == ["1"]


async def test_trailing_space_deletes_filters_of_that_name(harness: Harness) -> None:
    wire = await listener(harness, "X-Name alice", "X-Name bob")
    assert (await wire.cmd("filter X-Name ")).raw == reply("+OK filter added. [X-Name]=[]")
    assert await delivered(wire, ev("1", X_Name="carol"), ev("2")) == ["1", "2"]


async def test_filters_do_not_affect_command_replies(harness: Harness) -> None:
    wire = await listener(harness, "X-Name nobody")
    assert (await wire.cmd("api echo still answered")).body == b"still answered"
    assert (await wire.cmd("filter bad")).raw == reply("-ERR invalid syntax")
