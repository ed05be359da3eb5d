"""Properties of the listener core, without sockets: any split of the input gives the same
output, and no input makes it raise or write something that is not a frame."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st
from test_listener_core import ListSink

from eventsocket.protocol.framing import FrameParser
from eventsocket.server.listener_core import ListenerCore
from eventsocket.server.settings import EventSocketSettings
from eventsocket.switch.builder import build_switch

SESSION = (
    b"auth ClueCon\n\napi echo one\n\nevent json CUSTOM a::b\n\nfilter Unique-ID x\n\n"
    b"api echo two\nContent-Length: 3\n\nabcbgapi status\nJob-UUID: j\n\nlog 6\n\nnolog\n\n"
    b"noevents\n\nsendmsg nosuch\ncall-command: hangup\n\nexit\n\napi echo never\n\n"
)
SWITCH = build_switch(heartbeat_interval=0)


def run(chunks: list[bytes]) -> tuple[bytes, list[object]]:
    core = ListenerCore(SWITCH, EventSocketSettings(), ListSink())
    out: list[bytes] = []
    actions: list[object] = []
    for chunk in chunks:
        core.receive_data(chunk)
        while core.pending_requests:
            assert core.handle_next() is None
        out.append(core.take_output())
        actions.extend(type(a).__name__ for a in core.take_actions())
    return b"".join(out), actions


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in pairwise(bounds)]


WHOLE = run([SESSION])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_any_split_of_the_input_gives_the_same_output(cuts: list[int]) -> None:
    out, actions = run(split(SESSION, cuts))
    expected_out, expected_actions = WHOLE
    # job uuids and event uuids are random: compare frame by frame, without the varying values
    def shape(data: bytes) -> list[tuple[str, str]]:
        return [(f.content_type, f.reply_text.split(" ")[0]) for f in FrameParser().feed(data)]

    assert shape(out) == shape(expected_out)
    assert actions == expected_actions == ["BackgroundJob", "FlushLogs", "FlushEvents", "Close"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.booleans())
def test_any_bytes_give_frames_and_never_an_exception(data: bytes, authed: bool) -> None:
    core = ListenerCore(SWITCH, EventSocketSettings(), ListSink())
    if authed:
        core.receive_data(b"auth ClueCon\n\n")
        core.handle_next()
    core.receive_data(data)
    while core.pending_requests:
        pending = core.handle_next()
        if pending is not None:  # a command that waits (msleep...): not run here
            close = getattr(pending, "close", None)
            if close is not None:
                close()
    FrameParser().feed(core.take_output())  # raises on anything that is not a frame
    core.framing_error_due()
