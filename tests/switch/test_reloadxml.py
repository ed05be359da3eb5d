"""``reloadxml``: the configuration is read again (dialplan, directory, vars), as ``switch_xml_reload``."""

from __future__ import annotations

import asyncio
from pathlib import Path

from eventsocket.protocol.events import Event
from eventsocket.switch.builder import Switch, build_switch
from eventsocket.switch.config import ConfDir

VARS = {"hostname": "testhost", "local_ip_v4": "10.1.2.3", "local_ip_v6": "fd00::3"}


def conf_text(greeting: str, extension: str, user: str) -> str:
    return f"""<?xml version="1.0"?>
<document type="freeswitch/xml">
  <X-PRE-PROCESS cmd="set" data="greeting={greeting}"/>
  <section name="dialplan">
    <context name="reload">
      <extension name="only">
        <condition field="destination_number" expression="^{extension}$">
          <action application="set" data="routed_by={extension}"/>
          <action application="park" data=""/>
        </condition>
      </extension>
    </context>
  </section>
  <section name="directory">
    <domain name="example.com">
      <users>
        <user id="{user}"><params><param name="password" value="secret"/></params></user>
      </users>
    </domain>
  </section>
</document>
"""


async def api(switch: Switch, command: str, args: str = "") -> str | None:
    return await switch.execute_api(command, args)


async def routed_variable(switch: Switch, exten: str) -> str | None:
    """Originate a leg into context ``reload`` at ``exten``; what the dialplan set, once it ran."""
    reply = await api(switch, "originate", f"null/1 {exten} XML reload")
    assert reply is not None and reply.startswith("+OK "), reply
    uuid = reply[4:].strip()
    value = None
    for _ in range(500):  # routing runs on the leg's own task; let it
        await asyncio.sleep(0)
        if switch.calls.get(uuid) is None:
            break
        value = await api(switch, "uuid_getvar", f"{uuid} routed_by")
        if value not in (None, "_undef_"):
            break
    if switch.calls.get(uuid) is not None:
        await api(switch, "uuid_kill", uuid)
    return None if value == "_undef_" else value


async def test_reloadxml_reads_dialplan_directory_and_vars_again(tmp_path: Path) -> None:
    root_file = tmp_path / "freeswitch.xml"
    root_file.write_text(conf_text("hello", "1000", "alice"))
    switch = build_switch(ConfDir.load(tmp_path, initial_vars=VARS), heartbeat_interval=0)
    reloads: list[Event] = []
    switch.bus.subscribe(lambda event: reloads.append(event) if event.name == "RELOADXML" else None)
    try:
        assert await api(switch, "global_getvar", "greeting") == "hello"
        assert switch.find_user("alice", "example.com") is not None
        assert await routed_variable(switch, "1000") == "1000"

        root_file.write_text(conf_text("goodbye", "2000", "bob"))
        assert await api(switch, "reloadxml") == "+OK [Success]\n"

        assert await api(switch, "global_getvar", "greeting") == "goodbye"
        assert switch.find_user("alice", "example.com") is None
        assert switch.find_user("bob", "example.com") == {"password": "secret"}
        assert await routed_variable(switch, "2000") == "2000"
        assert await routed_variable(switch, "1000") is None  # no such extension any more
        assert len(reloads) == 1
        assert reloads[0].get("Event-Calling-File") == "switch_xml.c"
    finally:
        await switch.stop()


async def test_a_broken_configuration_is_reported_and_the_running_one_stays(tmp_path: Path) -> None:
    root_file = tmp_path / "freeswitch.xml"
    root_file.write_text(conf_text("hello", "1000", "alice"))
    switch = build_switch(ConfDir.load(tmp_path, initial_vars=VARS), heartbeat_interval=0)
    reloads: list[Event] = []
    switch.bus.subscribe(lambda event: reloads.append(event) if event.name == "RELOADXML" else None)
    try:
        root_file.write_text(conf_text("goodbye", "2000", "bob").replace("</section>", "", 1))
        reply = await api(switch, "reloadxml")
        assert reply is not None and reply.startswith("+OK [") and reply.endswith("]\n")
        assert reply != "+OK [Success]\n" and "freeswitch.xml" in reply
        assert await api(switch, "global_getvar", "greeting") == "hello"
        assert switch.find_user("alice", "example.com") is not None
        assert reloads == []
    finally:
        await switch.stop()


async def test_runtime_globals_not_in_the_configuration_survive_a_reload(tmp_path: Path) -> None:
    (tmp_path / "freeswitch.xml").write_text(conf_text("hello", "1000", "alice"))
    switch = build_switch(ConfDir.load(tmp_path, initial_vars=VARS), heartbeat_interval=0)
    try:
        core_uuid = await api(switch, "global_getvar", "core_uuid")
        assert await api(switch, "global_setvar", "mine=kept") == "+OK"
        assert await api(switch, "global_setvar", "greeting=changed") == "+OK"
        assert await api(switch, "reloadxml") == "+OK [Success]\n"
        assert await api(switch, "global_getvar", "mine") == "kept"
        assert await api(switch, "global_getvar", "greeting") == "hello"  # vars.xml sets it again
        assert await api(switch, "global_getvar", "core_uuid") == core_uuid
    finally:
        await switch.stop()
