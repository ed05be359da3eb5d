"""The pytest plugin seen from a user's test suite (pytester): fixtures, markers, options, reports.

Each test writes a small test file into a fresh directory and runs pytest on it in this
process, with the plugin loaded as the entry point loads it. Those inner runs use no
configuration of the project, so they see what a new user sees: pytest-asyncio in strict
mode, or (``-p no:asyncio``) no pytest-asyncio at all.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eventsocket.switch.config import DEFAULT_CONF_DIR
from eventsocket.testing import free_port

PLUGIN = (
    "-p", "eventsocket.testing.plugin", "-p", "no:cacheprovider",
    "-o", "asyncio_default_fixture_loop_scope=function",
)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*PLUGIN, *args)


def test_three_lines_in_strict_mode(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        async def test_status(switch):
            assert "UP" in await switch.api("status")
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_a_plain_function_test_is_told_to_be_async(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_blocking(switch):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_blocking uses the eventsocket switch, so it must be `async def`*"])


def test_without_pytest_asyncio_the_plugin_runs_async_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from eventsocket.client import OutboundCall

        async def test_status(switch, esl):
            assert "UP" in (await esl.api("status")).body

        async def test_outbound(switch, outbound_app):
            async def app(call: OutboundCall) -> None:
                await call.answer()
                await call.playback("silence_stream://60000")
                await call.hangup()

            outbound_app.handler = app
            call = await switch.call_in("5000")
            await outbound_app.wait_finished()
            await call.wait_hangup()
            assert int(call.cdr["billsec"]) == 60
        """
    )
    run(pytester, "-p", "no:asyncio").assert_outcomes(passed=2)


def test_auto_mode_and_an_application_fixture_on_the_same_loop(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        """
        import asyncio
        import pytest
        import eventsocket

        @pytest.fixture
        async def app_connection(switch):
            conn = await eventsocket.connect(switch.host, switch.port, switch.password)
            yield conn
            await conn.close()

        async def test_same_loop(switch, app_connection):
            assert switch.core.clock.loop is asyncio.get_running_loop()
            reply = await app_connection.api("originate", "{sim_ring_ms=5000}sim/1000 &park()")
            assert reply.text.startswith("+OK")
            assert switch.now() >= 5
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_marker_turns_virtual_time_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import asyncio, time
        import pytest

        @pytest.mark.eventsocket(virtual_time=False)
        async def test_real(switch):
            assert switch.vt is None
            start = time.monotonic()
            await asyncio.sleep(0.05)
            assert time.monotonic() - start >= 0.05

        async def test_virtual(switch):
            assert switch.vt is not None
            start = time.monotonic()
            await asyncio.sleep(3600)
            assert time.monotonic() - start < 60
        """
    )
    run(pytester).assert_outcomes(passed=2)


def test_real_time_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        async def test_real(switch):
            assert switch.vt is None
        """
    )
    run(pytester, "--eventsocket-real-time").assert_outcomes(passed=1)


def test_marker_names_a_conf_dir(pytester: pytest.Pytester) -> None:
    conf = pytester.path / "myconf"
    shutil.copytree(DEFAULT_CONF_DIR, conf)
    dialplan = conf / "dialplan" / "default.xml"
    dialplan.write_text(
        dialplan.read_text().replace(
            '<context name="default">',
            '<context name="default"><extension name="mine"><condition field="destination_number" '
            'expression="^4242$"><action application="answer"/><action application="hangup"/>'
            "</condition></extension>",
            1,
        )
    )
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.eventsocket(conf_dir="myconf")

        async def test_mine(switch):
            call = await switch.call_in("4242")
            await call.wait_hangup()
            assert call.applications == ["answer", "hangup"]
            assert switch.conf_dir.name == "eventsocket_conf"  # a copy: the original is not touched
        """
    )
    run(pytester).assert_outcomes(passed=1)


def test_marker_heartbeat_and_unknown_keys(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.eventsocket(heartbeat=10)
        async def test_beats(switch):
            await switch.call_in("9999")
            await switch.sleep(35)
            assert len([e for e in switch.events if e.name == "HEARTBEAT"]) == 3

        @pytest.mark.eventsocket(virtual_tme=False)
        async def test_typo(switch):
            pass
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*unknown virtual_tme*"])


def test_port_option(pytester: pytest.Pytester) -> None:
    port = free_port()
    pytester.makepyfile(
        f"""
        async def test_port(switch, esl):
            assert switch.port == {port}
            assert (await esl.api("status")).ok
        """
    )
    run(pytester, f"--eventsocket-port={port}").assert_outcomes(passed=1)


def test_failure_prints_the_timeline(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        async def test_fails(switch):
            switch.dialplan.add("7000", actions=[("answer", ""), ("playback", "silence_stream://4000")])
            call = await switch.call_in("7000", caller_id="5551234")
            await call.wait_hangup()
            assert call.cdr["billsec"] == "99"

        async def test_sim_typo(switch, esl):
            reply = await esl.api("originate", "{sim_ring_ms=abc}sim/1000 &park()")
            assert reply.ok
        """
    )
    result = run(pytester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*eventsocket timeline*",
            "*A  7000 *CHANNEL_EXECUTE*playback(silence_stream://4000)*",
            "*4.0*A  7000 *PLAYBACK_STOP*",
            "*CHANNEL_HANGUP_COMPLETE*NORMAL_CLEARING*",
            "*eventsocket errors*",
            "*sim_ring_ms='abc' is not a number of milliseconds*",
        ]
    )


@pytest.fixture
def served() -> object:
    """``eventsocket serve`` in another process, standing in for a real FreeSWITCH."""
    port = free_port()
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "eventsocket.cli.main", "serve", "--listen-port", str(port), "--log-level",
         "warning"],
        env=env,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(10)


def test_target_option_runs_the_same_tests_against_another_server(
    pytester: pytest.Pytester, served: int
) -> None:
    pytester.makepyfile(
        """
        async def test_over_the_socket(switch, esl):
            assert switch.kind == "remote"
            assert "UP" in await switch.api("status")
            call = await switch.call_in("9196", caller_id="2001")
            await call.wait_for("CHANNEL_ANSWER")
            await call.press("12")
            await call.wait_for("DTMF", DTMF_Digit="2")
            await call.hangup()
            await call.wait_hangup()
            assert call.cdr["hangup_cause"] == "NORMAL_CLEARING"

        async def test_needs_the_embedded_switch(switch):
            switch.dialplan.add("7000", "park")

        async def test_fails_with_the_timeline(switch):
            call = await switch.call_in("9999", caller_id="2002")
            await call.wait_for("CHANNEL_PARK")
            assert call.answered
        """
    )
    result = run(pytester, f"--eventsocket-target=127.0.0.1:{served}:ClueCon")
    result.assert_outcomes(passed=1, skipped=1, failed=1)
    result.stdout.fnmatch_lines(["*eventsocket timeline*", "*B  9999 *CHANNEL_PARK*", "legs: A=*, B=*"])


def test_subprocess_option_serves_from_another_process(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import os
        import pytest
        import eventsocket

        async def test_served(switch):
            assert switch.kind == "subprocess"
            assert switch.process.pid != os.getpid()
            switch.dialplan.add("7000", actions=[("answer", ""), ("playback", "silence_stream://30000"),
                                                 ("hangup", "")])
            switch.directory.add_user("2000", params={"esl-password": "pw"})
            call = await switch.call_in("7000", caller_id="5551234")
            await call.wait_hangup(timeout=30)
            assert call.cdr["billsec"] == "30"          # 30 s of virtual time in the other process
            assert call.caller_id == "5551234"
            domain = (await switch.api("global_getvar", "domain")).strip()
            conn = await eventsocket.connect(switch.host, switch.port, "pw", user=f"2000@{domain}")
            await conn.close()

        @pytest.mark.eventsocket(subprocess=False)
        async def test_the_marker_wins(switch):
            assert switch.kind == "embedded"
        """
    )
    run(pytester, "--eventsocket-subprocess").assert_outcomes(passed=2)
