"""The pytest plugin (entry point ``pytest11``): every test gets a running switch.

Fixtures:

- ``switch``: the embedded switch with its event socket on a free port of 127.0.0.1,
  on virtual time, with its own conf_dir (a copy under ``tmp_path``); see
  :class:`~eventsocket.testing.switch.EmbeddedSwitch`. With
  ``--eventsocket-target=host:port:password`` it is a real FreeSWITCH instead
  (:class:`~eventsocket.testing.remote.RemoteSwitch`).
- ``esl``: an :class:`~eventsocket.client.inbound.InboundConnection` to it, authenticated.
- ``outbound_app``: an outbound-mode application server on a free port, routed from
  extension 5000 (:class:`~eventsocket.testing.outbound.OutboundApp`).

Tests are ``async def``. With pytest-asyncio installed, the fixtures run on its loop
(``asyncio_mode = auto``, or ``@pytest.mark.asyncio``, or neither: tests that use these
fixtures run on the fixtures' loop anyway); without it, the plugin runs them itself.

``@pytest.mark.eventsocket(virtual_time=False, conf_dir="conf", heartbeat=20,
window=0.1, port=0, subprocess=False)`` sets up the switch of one test (or module, with
``pytestmark``); ``--eventsocket-port``, ``--eventsocket-real-time`` and
``--eventsocket-subprocess`` do it for the whole run (``subprocess``: ``eventsocket serve``
in a child process, :class:`~eventsocket.testing.served.ServedSwitch`). When a
test fails, its report gets a section with the timeline of every call (one line per
event) and the switch's error log lines.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

try:
    import pytest_asyncio
except ImportError:  # the plugin then runs async tests itself
    pytest_asyncio = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from eventsocket.client.inbound import InboundConnection
    from eventsocket.testing.outbound import OutboundApp
    from eventsocket.testing.recorder import Recorder

# The rest of eventsocket is imported when a test asks for a fixture, not when pytest
# starts: every pytest run in an environment with eventsocket installed loads this module.

SWITCH_KEY = pytest.StashKey["Recorder"]()
LOOP_KEY = pytest.StashKey[asyncio.AbstractEventLoop]()
MARKER_KEYS = {"virtual_time", "conf_dir", "heartbeat", "window", "port", "subprocess"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("eventsocket", "eventsocket: a switch for every test")
    group.addoption(
        "--eventsocket-port",
        type=int,
        default=None,
        metavar="PORT",
        help="the event socket port of the embedded switch (default: a free one)",
    )
    group.addoption(
        "--eventsocket-target",
        default=None,
        metavar="HOST:PORT:PASSWORD",
        help="run the tests against this event socket server (a real FreeSWITCH) instead of the "
        "embedded switch; helpers that need the embedded switch skip their test",
    )
    group.addoption(
        "--eventsocket-subprocess",
        action="store_true",
        default=False,
        help="run the switch as `eventsocket serve` in a child process instead of in the test's loop",
    )
    group.addoption(
        "--eventsocket-real-time",
        action="store_true",
        default=False,
        help="run the embedded switch on real time (default: virtual time)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "eventsocket(virtual_time=True, conf_dir=None, heartbeat=20.0, window=0.1, port=0, "
        "subprocess=False): "
        "how the eventsocket `switch` fixture runs for this test",
    )


# -- building the switch ---------------------------------------------------------------------------


def switch_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The settings of this test's switch: command-line options, then markers (closest wins)."""
    config = request.config
    options: dict[str, Any] = {
        "virtual_time": not config.getoption("eventsocket_real_time"),
        "conf_dir": None,
        "heartbeat": 20.0,
        "window": 0.1,  # eventsocket.switch.virtualtime.DEFAULT_WINDOW
        "port": config.getoption("eventsocket_port") or 0,
        "subprocess": config.getoption("eventsocket_subprocess"),
    }
    for marker in reversed(list(request.node.iter_markers("eventsocket"))):
        if marker.args:
            raise pytest.UsageError("@pytest.mark.eventsocket takes keyword arguments only")
        unknown = set(marker.kwargs) - MARKER_KEYS
        if unknown:
            raise pytest.UsageError(
                f"@pytest.mark.eventsocket: unknown {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(MARKER_KEYS))}"
            )
        options.update(marker.kwargs)
    return options


def make_switch(request: pytest.FixtureRequest, tmp_path: Path) -> Recorder:
    from eventsocket.testing.remote import RemoteSwitch, parse_target
    from eventsocket.testing.served import ServedSwitch
    from eventsocket.testing.switch import EmbeddedSwitch, prepare_conf_dir

    target = request.config.getoption("eventsocket_target")
    if target:
        host, port, password = parse_target(target)
        return RemoteSwitch(host, port, password)
    options = switch_options(request)
    source = options["conf_dir"]
    if source is not None:
        source = Path(source)
        if not source.is_absolute():
            source = request.path.parent / source
    conf = prepare_conf_dir(tmp_path / "eventsocket_conf", source)
    kind = ServedSwitch if options["subprocess"] else EmbeddedSwitch
    return kind(
        conf,
        virtual_time=bool(options["virtual_time"]),
        port=int(options["port"]),
        heartbeat=float(options["heartbeat"]),
        window=float(options["window"]),
    )


async def _start(switch: Recorder) -> None:
    try:
        await switch.start()
    except TypeError as exc:
        raise pytest.UsageError(
            f"{exc}; run with @pytest.mark.eventsocket(virtual_time=False) or --eventsocket-real-time"
        ) from exc


async def _connect(switch: Recorder) -> InboundConnection:
    from eventsocket.client.inbound import connect

    return await connect(switch.host, switch.port, switch.password)  # type: ignore[attr-defined]


# -- fixtures ----------------------------------------------------------------------------------------
#
# Each public fixture picks its flavour when it runs: with pytest-asyncio active, async
# fixtures on pytest-asyncio's loop (so the application's own async fixtures share the
# switch's loop); without it, fixtures that drive a loop of the plugin's own.


def _asyncio_active(config: pytest.Config) -> bool:
    return pytest_asyncio is not None and config.pluginmanager.hasplugin("asyncio")


@pytest.fixture
def switch(request: pytest.FixtureRequest) -> Recorder:
    """The switch under test, started (see the module docstring)."""
    flavour = "async" if _asyncio_active(request.config) else "sync"
    made: Recorder = request.getfixturevalue(f"_eventsocket_{flavour}_switch")
    return made


@pytest.fixture
def esl(request: pytest.FixtureRequest) -> InboundConnection:
    """An authenticated event socket connection to ``switch``."""
    flavour = "async" if _asyncio_active(request.config) else "sync"
    conn: InboundConnection = request.getfixturevalue(f"_eventsocket_{flavour}_esl")
    return conn


@pytest.fixture
def outbound_app(request: pytest.FixtureRequest) -> OutboundApp:
    """An outbound-mode application server, routed from extension 5000 of ``switch``."""
    flavour = "async" if _asyncio_active(request.config) else "sync"
    app: OutboundApp = request.getfixturevalue(f"_eventsocket_{flavour}_outbound_app")
    return app


if pytest_asyncio is not None:

    @pytest_asyncio.fixture
    async def _eventsocket_async_switch(
        request: pytest.FixtureRequest, tmp_path: Path
    ) -> AsyncIterator[Recorder]:
        made = make_switch(request, tmp_path)
        await _start(made)
        request.node.stash[SWITCH_KEY] = made
        request.node.stash[LOOP_KEY] = asyncio.get_running_loop()
        yield made
        await made.stop()

    @pytest_asyncio.fixture
    async def _eventsocket_async_esl(switch: Recorder) -> AsyncIterator[InboundConnection]:
        conn = await _connect(switch)
        yield conn
        await conn.close()

    @pytest_asyncio.fixture
    async def _eventsocket_async_outbound_app(switch: Recorder) -> AsyncIterator[OutboundApp]:
        app = await _new_app(switch)
        yield app
        await app.stop()


@pytest.fixture
def eventsocket_loop(request: pytest.FixtureRequest) -> Iterator[asyncio.AbstractEventLoop]:
    """The loop of a test that uses the switch when pytest-asyncio is not active."""
    loop = asyncio.SelectorEventLoop()
    asyncio.set_event_loop(loop)
    request.node.stash[LOOP_KEY] = loop
    yield loop
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


@pytest.fixture
def _eventsocket_sync_switch(
    request: pytest.FixtureRequest, tmp_path: Path, eventsocket_loop: asyncio.AbstractEventLoop
) -> Iterator[Recorder]:
    made = make_switch(request, tmp_path)
    eventsocket_loop.run_until_complete(_start(made))
    request.node.stash[SWITCH_KEY] = made
    yield made
    eventsocket_loop.run_until_complete(made.stop())


@pytest.fixture
def _eventsocket_sync_esl(
    switch: Recorder, eventsocket_loop: asyncio.AbstractEventLoop
) -> Iterator[InboundConnection]:
    conn = eventsocket_loop.run_until_complete(_connect(switch))
    yield conn
    eventsocket_loop.run_until_complete(conn.close())


@pytest.fixture
def _eventsocket_sync_outbound_app(
    switch: Recorder, eventsocket_loop: asyncio.AbstractEventLoop
) -> Iterator[OutboundApp]:
    app = eventsocket_loop.run_until_complete(_new_app(switch))
    yield app
    eventsocket_loop.run_until_complete(app.stop())


async def _new_app(switch: Recorder) -> OutboundApp:
    from eventsocket.testing.outbound import OutboundApp

    app = OutboundApp(switch)
    await app.start()
    return app


# -- running async tests that pytest-asyncio does not -------------------------------------------------


def _handled_by_pytest_asyncio(item: pytest.Function) -> bool:
    if pytest_asyncio is None:
        return False
    is_async_test = getattr(pytest_asyncio, "is_async_test", None)
    if is_async_test is not None:
        return bool(is_async_test(item))
    return item.get_closest_marker("asyncio") is not None


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test on its switch's loop when no other plugin runs it."""
    loop = pyfuncitem.stash.get(LOOP_KEY, None)
    if loop is None or _handled_by_pytest_asyncio(pyfuncitem):
        return None
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        # the switch runs on the loop, which does not run during a plain function: a client
        # would wait for it forever
        pytest.fail(
            f"{pyfuncitem.name} uses the eventsocket switch, so it must be `async def` "
            "(run blocking clients in a thread from it)",
            pytrace=False,
        )
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    loop.run_until_complete(pyfuncitem.obj(**kwargs))
    return True


# -- reports ---------------------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and call.when in ("call", "teardown"):
        made = item.stash.get(SWITCH_KEY, None)
        if made is not None:
            report.sections.append(("eventsocket timeline", made.timeline()))
            logs = getattr(made, "logs", None)
            if logs:
                errors = [line.text.rstrip("\n") for line in logs if line.level <= 3]
                if errors:
                    report.sections.append(("eventsocket errors", "\n".join(errors)))
    return report
