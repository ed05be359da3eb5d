"""The ``user/`` endpoint (mod_dptools): ``user/<id>[@<domain>]`` dials the directory user's
dial-string, and the built-in directory's users are simulated phones that answer.

Also the built-in dialplan's vanilla include of ``dialplan/default/*.xml``.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

from calls_harness import Calls, on_virtual_loop, virtual
from eventsocket.switch.config import DEFAULT_CONF_DIR, ConfDir

UNREACHABLE_USER = """<include>
  <user id="2000">
    <params>
      <param name="dial-string"
             value="{presence_id=${dialed_user}@${dialed_domain}}${sofia_contact(*/${dialed_user})}"/>
    </params>
  </user>
  <user id="2002">
    <params><param name="dial-string" value="user/2002"/></params>
  </user>
  <user id="2003">
    <params>
      <param name="dial-string" value="[sim_ring_ms=2000]sim/${dialed_user}"/>
      <param name="dial-var-team" value="blue"/>
    </params>
    <variables>
      <variable name="user_context" value="team"/>
      <variable name="accountcode" value="2003"/>
    </variables>
  </user>
</include>
"""

NO_DIAL_STRING = """<include>
  <domain name="nodial.example">
    <users>
      <user id="2001"><params><param name="password" value="x"/></params></user>
    </users>
  </domain>
</include>
"""

NEW_EXTENSION = """<include>
  <extension name="added-by-a-file">
    <condition field="destination_number" expression="^7777$">
      <action application="set" data="from_new_file=yes"/>
      <action application="park"/>
    </condition>
  </extension>
</include>
"""


def custom_conf(tmp: Path) -> ConfDir:
    conf_dir = tmp / "conf"
    shutil.copytree(DEFAULT_CONF_DIR, conf_dir)
    domain = (conf_dir / "directory" / "default.xml").read_text()
    # the extra users join the built-in domain's users
    users = UNREACHABLE_USER.split("\n", 1)[1].rsplit("</include>", 1)[0]
    domain = domain.replace("    <groups>", f"    <users>\n{users}    </users>\n    <groups>", 1)
    (conf_dir / "directory" / "default.xml").write_text(domain)
    (conf_dir / "directory" / "nodial.xml").write_text(NO_DIAL_STRING)
    (conf_dir / "dialplan" / "default" / "10_new.xml").write_text(NEW_EXTENSION)
    return ConfDir.load(conf_dir)


@contextlib.asynccontextmanager
async def custom_calls() -> AsyncIterator[Calls]:
    """A core on virtual time whose conf_dir is the built-in one plus the users and file above."""
    with tempfile.TemporaryDirectory() as tmp:
        calls = Calls(conf=custom_conf(Path(tmp)))
        await calls.core.start()
        try:
            yield calls
        finally:
            await calls.core.stop()


def with_conf(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run ``async def test(calls)`` on virtual time with a core on the custom conf_dir."""
    return on_virtual_loop(test, custom_calls)


@virtual
async def test_originate_user_1000_rings_a_simulated_phone(calls: Calls) -> None:
    reply = await calls.api("originate", "user/1000 &park")
    assert reply is not None and reply.startswith("+OK "), reply
    uuid = reply[4:].strip()
    park = await calls.fired(uuid, "CHANNEL_PARK")
    domain = calls.core.global_vars["domain"]
    assert park["Channel-Name"] == f"sim/1000@{domain}"
    # the dial-string's and the user endpoint's variables, and the user's variables once answered
    assert park["variable_dialed_user"] == "1000"
    assert park["variable_dialed_domain"] == domain
    assert park["variable_presence_id"] == f"1000@{domain}"
    assert park["variable_sip_invite_domain"] == domain
    assert park["variable_accountcode"] == "1000"
    assert park["variable_effective_caller_id_name"] == "Extension 1000"
    assert park["variable_user_context"] == "default"
    # the same with the domain spelled out
    other = await calls.api("originate", f"user/1001@{domain} &park")
    assert other is not None and other.startswith("+OK ")


@virtual
async def test_unknown_user_fails_as_freeswitch(calls: Calls) -> None:
    assert await calls.api("originate", "user/4242 &park") == "-ERR SUBSCRIBER_ABSENT\n"
    assert await calls.api("originate", "user/1000@nowhere.example &park") == "-ERR SUBSCRIBER_ABSENT\n"
    assert any("Can't find user [4242@" in line.message for line in calls.logs)
    assert not calls.core.calls.sessions


@with_conf
async def test_unreachable_dial_string_fails_as_freeswitch(calls: Calls) -> None:
    # sofia_contact finds no registered phone: error/user_not_registered
    assert await calls.api("originate", "user/2000 &park") == "-ERR USER_NOT_REGISTERED\n"
    assert await calls.api("sofia_contact", "*/2000@example.com") == "error/user_not_registered"
    # no dial-string at all, and a dial-string that dials the user again
    assert await calls.api("originate", "user/2001@nodial.example &park") == "-ERR MANDATORY_IE_MISSING\n"
    assert await calls.api("originate", "user/2002 &park") == "-ERR INVALID_IE_CONTENTS\n"


@with_conf
async def test_user_variables_and_context_in_a_bridge(calls: Calls) -> None:
    a = await calls.parked("null/1000 &park")
    calls.start(a, "bridge", "user/2003")
    bridge = await calls.fired(a, "CHANNEL_BRIDGE", timeout=30)
    b = bridge["Bridge-B-Unique-ID"]
    assert calls.var(a, "dialed_user") == "2003"
    assert calls.var(b, "team") == "blue"  # a dial-var- param
    assert calls.var(b, "accountcode") == "2003"
    assert calls.session(b).channel.name == "sim/2003"


@with_conf
async def test_a_new_file_in_dialplan_default_is_read(calls: Calls) -> None:
    uuid = await calls.parked("null/1000 7777 XML default")
    assert calls.var(uuid, "from_new_file") == "yes"


@virtual
async def test_effective_caller_id_reaches_the_new_leg(calls: Calls) -> None:
    """A bridged leg presents the caller's effective_caller_id_* and effective_ani, as a user's
    directory variables set them for calls from that user."""
    a = await calls.parked(
        "{effective_caller_id_name=Extension 1000,effective_caller_id_number=1000,effective_ani=1000}"
        "null/1000 &park"
    )
    calls.start(a, "bridge", "user/1001")
    b = (await calls.fired(a, "CHANNEL_BRIDGE"))["Bridge-B-Unique-ID"]
    create = calls.of(b, "CHANNEL_CREATE")[0]
    assert create["Caller-Caller-ID-Name"] == "Extension 1000"
    assert create["Caller-Caller-ID-Number"] == "1000"
    assert create["Caller-ANI"] == "1000"
    assert calls.var(b, "accountcode") == "1001"  # the dialed user's own variables
