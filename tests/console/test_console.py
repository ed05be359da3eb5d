"""``eventsocket console`` against a running eventsocket, through prompt_toolkit's pipe input."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest
from console_driver import Driver, fake_switch, free_port, pipe_input, settings_for

from esl_harness import Harness, start_harness, stop_harness
from eventsocket.client import connect
from eventsocket.server.settings import EventSocketSettings

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.delenv("FS_CLI_COLOR", raising=False)


async def originate(harness: Harness) -> str:
    async with await connect("127.0.0.1", harness.port) as conn:
        reply = await conn.api("originate", "null/1000 &park")
    assert reply.text.startswith("+OK "), reply.text
    return reply.text[4:]


async def test_api_output_banner_and_prompt(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port)), pipe)
        await d.ready()
        start = await d.wait_for("+OK log level debug [7]\n")
        assert d.console.prompt == f"freeswitch@{harness.core.global_vars['switchname']}> "
        d.send("status\r")
        end = await d.wait_for("is ready\n", start)
        assert d.text[start:end].lstrip().startswith("UP 0 years")
        d.send("no_such_command\r")
        await d.wait_for("-ERR no_such_command Command not found!\n\n")
        d.send("/nosuch\r")
        await d.wait_for("Unknown command [nosuch]\n")
        d.send("/help\r")
        await d.wait_for("/exit, /quit, /bye, ...    \tExit the program.\n")
        assert await d.finish() == 0


async def test_log_lines_print_above_the_prompt_in_fs_cli_colours(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port)), pipe)
        await d.ready()
        d.send("stat")  # half a command typed while a log line arrives
        async with await connect("127.0.0.1", harness.port) as other:
            await other.api("log", "err the disk is on fire")
            await other.api("log", "warning only smoke")
        await d.wait_for("only smoke")
        assert "\x1b[31m" in d.text and "[ERR]" in d.text and "the disk is on fire\n\x1b[m" in d.text
        assert "\x1b[35m" in d.text  # warning: magenta, as fs_cli
        assert d.console.session is not None and d.console.session.app.is_running
        d.send("us\r")  # the line typed before the log line is intact
        await d.wait_for("is ready\n")
        d.send("/logfilter fire\r")
        await d.wait_for("Logfilter enabled\n")
        d.send("log err smoke again\r")
        d.send("log err fire again\r")
        mark = await d.wait_for("fire again\n")
        assert "smoke again" not in d.text
        d.send("/nolog\r")
        await d.wait_for("+OK no longer logging", mark)
        assert await d.finish() == 0


async def test_a_burst_of_log_lines_prints_in_order(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-n"), pipe)
        await d.ready()
        async with await connect("127.0.0.1", harness.port) as other:
            await asyncio.gather(*(other.api("log", f"err burst {i:04d}") for i in range(600)))
        await d.wait_for("burst 0599\n")
        numbers = [int(part[:4]) for part in d.text.split("burst ")[1:]]
        assert numbers == list(range(600))
        assert await d.finish() == 0


async def test_uuid_filter_and_log_uuid(harness: Harness, tmp_path: Path) -> None:
    mine, other = "aaaaaaaa-1111-4111-8111-111111111111", "bbbbbbbb-2222-4222-8222-222222222222"
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-n", "-S", "-l", "debug"), pipe)
        await d.ready()
        d.send(f"/uuid {mine}\r")
        await d.wait_for("UUID filtering enabled\n")
        async with await connect("127.0.0.1", harness.port) as observer:
            logs = await observer.log("debug")
            for uuid, text in ((other, "from-the-other-call"), (mine, "from-my-call")):
                await observer.api("originate", f"{{origination_uuid={uuid}}}null/1000 &log({text})")
                while text not in (await logs.get(timeout=10)).text:
                    pass
        # both lines were sent before this one: once it is printed, they were handled
        d.send("log err about no call\r")
        await d.wait_for("about no call\n")
        # -S: the line starts with the first 8 characters of its call's uuid
        assert re.search(r"\naaaaaaaa 20\d\d-[^\n]* \[DEBUG\] mod_dptools.c:1763 from-my-call\n", d.text)
        assert "from-the-other-call" not in d.text
        assert "\x1b[" not in d.text  # -n
        assert await d.finish() == 0


async def test_events_plain_json_and_summary(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q"), pipe)
        await d.ready()
        assert "log level" not in d.text  # -q
        d.send("/event plain CHANNEL_CREATE\r")
        await d.wait_for("+OK event listener enabled plain\n")
        uuid = await originate(harness)
        mark = await d.wait_for("RECV EVENT\n")
        end = await d.wait_for(f"{uuid}\n", mark)
        width = len("Caller-Channel-Progress-Media-Time: ")  # values aligned after the longest name
        assert f"\nUnique-ID:{' ' * (width - len('Unique-ID:'))}{uuid}\n" in d.text[mark - 1 : end]
        assert "Event-Name:" in d.text[mark:]
        d.send("/noevents\r")
        await d.wait_for("+OK no longer listening for events\n")
        d.send("/event json CHANNEL_HANGUP\r")
        mark = await d.wait_for("+OK event listener enabled json\n")
        d.send(f"uuid_kill {uuid}\r")
        await d.wait_for('  "Event-Name": "CHANNEL_HANGUP",\n', mark)
        d.send("/summary\r")
        await d.wait_for("Event summary enabled\n")
        uuid = await originate(harness)
        d.send(f"uuid_kill {uuid}\r")
        await d.wait_for(f" CHANNEL_HANGUP {uuid} null/1000 CS_")
        d.send("/summary off\r")
        await d.wait_for("Event summary disabled\n")
        d.send("/event xml CUSTOM console::xml\r")
        mark = await d.wait_for("+OK event listener enabled xml\n")
        async with await connect("127.0.0.1", harness.port) as other:
            await other.sendevent("CUSTOM", {"Event-Subclass": "console::xml", "X-Note": "a<b"})
        await d.wait_for("  <X-Note>a%3Cb</X-Note>\n", mark)  # XML as the server sent it
        assert await d.finish() == 0


async def test_bgapi_prints_the_result_when_it_arrives(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q"), pipe)
        await d.ready()
        d.send("/bgapi echo hello from the background\r")
        await d.wait_for("+OK Job-UUID: ")
        await d.wait_for("(echo hello from the background):\nhello from the background\n")
        assert await d.finish() == 0


async def test_completion_of_api_names_and_channel_uuids(harness: Harness, tmp_path: Path) -> None:
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q"), pipe)
        await d.ready()
        completer = d.console.completer
        assert "uuid_kill" in completer.api and "show" in completer.api  # from the server's show api

        async def candidates(text: str) -> list[str]:
            return [c.text async for c in completer.get_completions_async(Document(text), CompleteEvent())]

        assert await candidates("uuid_ki") == ["uuid_kill"]
        assert "channels" in await candidates("show ch")
        assert await candidates("/lo") == ["/log", "/logfilter"]
        assert "CHANNEL_ANSWER" in await candidates("/event plain CHANNEL_AN")
        uuid = await originate(harness)
        assert await candidates(f"uuid_kill {uuid[:6]}") == [uuid]
        assert await candidates(f"/uuid {uuid[:6]}") == [uuid]
        # and through the keyboard: Tab completes the command, then the uuid
        session = d.console.session
        assert session is not None
        d.send("uuid_dum\t")
        await d.until(lambda: session.default_buffer.text == "uuid_dump", "uuid_dump completed")
        d.send(" " + uuid[:8] + "\t")
        await d.until(lambda: session.default_buffer.text == f"uuid_dump {uuid}", "the uuid completed")
        d.send("\r")
        await d.wait_for(f"Unique-ID: {uuid}\n")
        assert await d.finish() == 0


async def test_history_is_written_and_searchable(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q"), pipe)
        await d.ready()
        d.send("echo first\r")
        await d.wait_for("first\n")
        d.send("version\r")
        mark = await d.wait_for("FreeSWITCH Version")
        d.send("\x12echo f")  # Ctrl-R: reverse search for the echo command
        d.send("\r")
        d.send("\r")
        await d.wait_for("first\n", mark)
        assert await d.finish() == 0
    history = tmp_path / ".local" / "state" / "eventsocket" / "console_history"
    lines = [line for line in history.read_text().splitlines() if line.startswith("+")]
    assert lines == ["+echo first", "+version", "+echo first", "+/exit"]
    with pipe_input() as pipe:  # the next session starts with that history: Up, Up, Enter
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q"), pipe)
        await d.ready()
        d.send("\x1b[A\x1b[A\r")
        await d.wait_for("first\n")
        assert await d.finish() == 0


async def test_no_history_file_flag(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q", "-Q"), pipe)
        await d.ready()
        assert await d.finish() == 0
    assert not (tmp_path / ".local").exists()


async def test_function_keys_and_paste(harness: Harness, tmp_path: Path) -> None:
    conf = "[default]\nkey_F3 => echo from F3\nkey_toggle_F3 => echo toggled\n"
    (tmp_path / ".fs_cli_conf").write_text(conf)
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q"), pipe)
        await d.ready()
        d.send("\x1bOQ")  # F2: status (fs_cli's default binding)
        await d.wait_for("is ready\n")
        d.send("\x1bOR")  # F3 from the profile, then its toggle
        await d.wait_for("echo from F3\nfrom F3\n")
        d.send("\x1bOR")
        await d.wait_for("echo toggled\ntoggled\n")
        d.send("\x1b[200~echo one\necho two\n\x1b[201~")  # a pasted block runs line by line
        await d.wait_for("one\ntwo\n")
        assert await d.finish() == 0


async def test_ctrl_d_exits_and_ctrl_c_warns(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q"), pipe)
        await d.ready()
        d.send("\x03")
        await d.wait_for("Type control-D or /exit or /quit or /bye to exit.\n")
        d.send("\x04")
        assert await asyncio.wait_for(d.task, 10) == 0
        assert d.text.endswith("/exit\n\n")


async def test_ctrl_c_with_interrupt_flag_ends_with_1(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q", "-i"), pipe)
        await d.ready()
        d.send("\x03")
        assert await asyncio.wait_for(d.task, 10) == 1
        assert d.text.endswith("Interrupted.\n")


async def test_batch_mode_reads_standard_input(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        stdin = io.StringIO("echo batch one\n\necho batch two\n")
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q", "-b"), pipe, stdin=stdin)
        assert await asyncio.wait_for(d.task, 10) == 0
    assert "freeswitch@" in d.text and "batch one\nfreeswitch@vm> freeswitch@vm> batch two\n" in d.text
    assert "\x1b[" not in d.text  # no colour in batch mode


async def test_reconnect_after_the_server_restarts(tmp_path: Path) -> None:
    port = free_port()
    settings = EventSocketSettings(listen_ip="127.0.0.1", listen_port=port)
    h = await start_harness(settings)
    try:
        with pipe_input() as pipe:
            d = Driver(settings_for(tmp_path, "-P", str(port), "-R", "-l", "err"), pipe)
            await d.ready()
            d.send("/event plain CUSTOM console::test\r")
            await d.wait_for("+OK event listener enabled plain\n")
            await stop_harness(h)
            mark = await d.wait_for("Disconnected: The system is being shut down.\n")
            await d.wait_for("Reconnecting to 127.0.0.1", mark)
            await d.until(lambda: d.console.link.status().startswith("reconnecting to 127.0.0.1:"),
                          "reconnecting status")
            assert "connection refused" in d.console.link.status()
            d.send("status\r")
            await d.wait_for("-ERR not connected\n", mark)
            h = await start_harness(settings)
            mark = await d.wait_for(f"Reconnected to 127.0.0.1:{port}.\n", mark)
            assert d.console.link.status() == f"connected to 127.0.0.1:{port}"
            d.send("log err after the restart\r")  # the log level came back
            await d.wait_for("after the restart\n", mark)
            async with await connect("127.0.0.1", port) as other:  # so did the subscription
                await other.sendevent("CUSTOM", {"Event-Subclass": "console::test", "X-Mark": "again"})
            await d.wait_for("X-Mark:", mark)
            assert await d.finish() == 0
    finally:
        await stop_harness(h)


async def test_a_command_that_times_out_leaves_the_console_usable(tmp_path: Path) -> None:
    # FreeSWITCH answers a connection's commands in order: a late reply comes before the next one
    answers = {"switchname": "fs1", "hostname": "fs1.example", "status": "UP at last\n",
               "echo still here": "still here"}
    async with fake_switch(answers, {"status": 0.5}) as (port, seen):
        with pipe_input() as pipe:
            d = Driver(settings_for(tmp_path, "-P", str(port), "-q", "-t", "100"), pipe)
            await d.ready()
            assert d.console.prompt == "freeswitch@fs1> "
            d.send("status\r")
            await d.wait_for("Request timed out.\n")
            await d.until(lambda: "answered api status" in seen, "the late reply")
            d.send("echo still here\r")
            await d.wait_for("still here\n")
            assert await d.finish() == 0
    assert [line for line in seen if not line.startswith("answered")][:3] == [
        "auth ClueCon", "api switchname", "api hostname"]  # as fs_cli starts


async def test_debug_messages_print_above_the_prompt(harness: Harness, tmp_path: Path) -> None:
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(harness.port), "-q", "-d", "7"), pipe)
        await d.ready()
        d.send("/exit\r")
        assert await asyncio.wait_for(d.task, 10) == 0
    assert "[INFO] Goodbye!\nSee you at ClueCon http://www.cluecon.com/\n" in d.text + d.stderr.getvalue()


async def test_disconnect_without_reconnect_ends_the_console(tmp_path: Path) -> None:
    h = await start_harness()
    with pipe_input() as pipe:
        d = Driver(settings_for(tmp_path, "-P", str(h.port), "-q"), pipe)
        await d.ready()
        await stop_harness(h)
        assert await asyncio.wait_for(d.task, 10) == 0
    assert "Disconnected: The system is being shut down.\n" in d.text


async def test_arguments_complete_from_console_complete_when_the_server_has_it(tmp_path: Path) -> None:
    """A FreeSWITCH answers ``console_complete`` (its own completion tables); the console asks it
    for arguments. A stand-in server speaks FreeSWITCH's texts for the commands used."""
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from eventsocket.cli.console.completion import ConsoleCompleter

    show_api = ('{"row_count":2,"rows":[{"name":"sofia","description":"Sofia Controls","syntax":"status",'
                '"ikey":"mod_sofia"},{"name":"console_complete","description":"","syntax":"<line>",'
                '"ikey":"mod_commands"}]}')
    answers = {
        "show api as json": show_api,
        "console_complete sofia status profile ": f"[{'internal':>20}]\t[{'external':>20}]\t\n\nwrite=0:",
    }
    async with fake_switch(answers) as (port, seen), await connect("127.0.0.1", port) as conn:
        completer = ConsoleCompleter(lambda: conn)
        await completer.refresh()
        document = Document("sofia status profile ")
        found = [c.text async for c in completer.get_completions_async(document, CompleteEvent())]
        assert found == ["internal", "external"]
        assert "api console_complete sofia status profile " in seen
