"""Upstream nodes -> JetStream stream -> a listener's consumer, without the client-facing server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gateway_harness import Process

import eventsocket
from eventsocket.gateway.feed import Feed
from eventsocket.gateway.publisher import Publisher
from eventsocket.gateway.store import STREAM, CallRegistry, ensure_store
from eventsocket.gateway.subjects import filter_subjects
from eventsocket.gateway.upstream import NodeAddress, UpstreamNode
from eventsocket.protocol.events import Event


async def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_events_of_two_nodes_reach_a_consumer_once_with_call_owners(
    js_client: tuple[Any, Any], nodes: Callable[[str], Process]
) -> None:
    nc, js = js_client
    kv = await ensure_store(js)
    registry = CallRegistry(kv)
    n1, n2 = nodes("n1"), nodes("n2")
    # two publishers for the same nodes: what a second gateway does; nothing may be stored twice
    publishers = [Publisher(js, registry), Publisher(js, registry)]
    upstreams = []
    for publisher in publishers:
        publisher.start()
        for name, node in (("n1", n1), ("n2", n2)):
            up = UpstreamNode(NodeAddress(name, "127.0.0.1", node.port, "ClueCon"), publisher, registry)
            up.start()
            upstreams.append(up)
    for up in upstreams:
        assert await up.wait_up(15)

    got: list[Event] = []
    feed = Feed(nc, js, got.append)
    await feed.update(filter_subjects({"CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE"}, set()))

    uuids = {}
    for name, node in (("n1", n1), ("n2", n2)):
        async with await eventsocket.connect("127.0.0.1", node.port, "ClueCon") as conn:
            job = await conn.bgapi("originate", "null/1000 &park")
            uuids[name] = (await job.result(10)).text.split()[1]
    await wait_until(lambda: len(got) >= 2)
    owners = {name: await registry.owner(uuid) for name, uuid in uuids.items()}
    assert {name: o.node if o else None for name, o in owners.items()} == {"n1": "n1", "n2": "n2"}

    for name, node in (("n1", n1), ("n2", n2)):
        async with await eventsocket.connect("127.0.0.1", node.port, "ClueCon") as conn:
            await conn.api("uuid_kill", uuids[name])
    await wait_until(lambda: len(got) >= 4)
    for publisher in publishers:
        await asyncio.wait_for(publisher.drained(), 10)
    await asyncio.sleep(0.3)
    names = sorted((e.name, e.get("Unique-ID")) for e in got)
    assert names == sorted([("CHANNEL_CREATE", u) for u in uuids.values()]
                           + [("CHANNEL_HANGUP_COMPLETE", u) for u in uuids.values()])
    # each node's own headers came through
    assert len({e.get("Core-UUID") for e in got}) == 2
    # every event was stored once although published twice
    info = await js.stream_info(STREAM)
    assert sum(p.published for p in publishers) == info.state.messages
    assert sum(p.duplicates for p in publishers) > 0
    await wait_until(lambda: True)
    assert await registry.owner(uuids["n1"]) is None  # CHANNEL_DESTROY forgot it
    await feed.close()
    for up in upstreams:
        await up.stop()
    for publisher in publishers:
        await publisher.stop()
