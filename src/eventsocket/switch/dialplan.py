"""The XML dialplan: which applications a call runs, as mod_dialplan_xml decides it.

FreeSWITCH routes a call by *hunting* its context: extensions are tried in document order, each
condition of an extension is tested against the caller profile (or against channel variables,
or against the clock), and the ``<action>`` / ``<anti-action>`` elements of the conditions that
decide are collected into the call's extension. This module reproduces that hunt, quirks
included, because dialplans written for FreeSWITCH must route the same here:

* the actions of a condition are collected as soon as it is decided, so an extension whose
  later condition fails keeps the actions its earlier conditions gave, and hunting goes on;
* a failed condition that has anti-actions makes its extension "match" (hunting stops unless
  the extension says ``continue="true"``);
* ``$1``..``$N`` are substituted into the data of the actions of the condition that matched;
  ``${var}`` in action data is left for the application to expand when it runs, except for
  ``inline="true"`` actions, which run at once during hunting.

It is sans-I/O and channel-agnostic: the caller hands in the caller-profile fields, the channel
variables, an expander and a way to run inline applications, and gets a list of actions back.
PCRE matching and ``$N`` substitution are :mod:`eventsocket.switch.regex`'s, date and time
conditions :mod:`eventsocket.switch.timeconditions`'.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import datetime

from eventsocket.protocol.compat import atoi, switch_true
from eventsocket.switch.regex import NO_MATCH, Capture, perform, push_captures, substitute
from eventsocket.switch.timeconditions import datetime_check, local_now

__all__ = ["DialplanAction", "Expand", "RunInline", "XmlDialplan", "parse_inline_dialplan"]

log = logging.getLogger("eventsocket.dialplan")

Expand = Callable[[str, Mapping[str, str]], str]
"""``expand(text, variables)``: ``${...}`` expansion as the channel does it. Hunting passes the
``variables`` mapping it was given (which already holds what inline actions and regex captures
set), so an expander may read it or the live channel: both agree."""

RunInline = Callable[[str, str], None]
"""``run_inline(application, data)``: execute an application at once, during hunting."""

# parse_exten's recursion guard for nested conditions (MAX_RECUR in mod_dialplan_xml.c).
_MAX_RECUR = 100

# A condition's ``break`` attribute. An unknown value leaves the default, on-false.
_ON_TRUE, _ON_FALSE, _ALWAYS, _NEVER = "on-true", "on-false", "always", "never"
_BREAKS = frozenset({_ON_TRUE, _ON_FALSE, _ALWAYS, _NEVER})

# The switch_channel_del_variable_prefix() that a regex="..." condition starts with.
_REGEX_MATCH_PREFIX = "DP_REGEX_MATCH"


@dataclass
class DialplanAction:
    """One application of the extension a hunt built, in the order it must run.

    ``inline`` marks an action the dialplan flagged ``inline="true"``: it was executed *during*
    hunting (through ``run_inline``) and is listed only so that the list mirrors what hunting did;
    whoever executes the list must skip it. A list that holds nothing but inline actions still
    means an extension was found, as in FreeSWITCH, where such a call is hung up with
    NORMAL_CLEARING rather than NO_ROUTE_DESTINATION.
    """

    application: str
    data: str
    inline: bool = False


# -- the hunt --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Hunt:
    """The state of one hunt: what the caller handed in and the actions collected so far."""

    fields: dict[str, str]
    variables: MutableMapping[str, str]
    expand: Expand
    run_inline: RunInline | None
    actions: list[DialplanAction] = field(default_factory=list)


def _text(element: ET.Element) -> str:
    return element.text or ""


def _expression_of(element: ET.Element) -> str:
    """A condition's or regex's expression: an ``<expression>`` child (handy for CDATA) wins."""
    child = element.find("expression")
    if child is not None:
        return _text(child)
    return element.get("expression", "")


def _action_data(element: ET.Element) -> str:
    """An action's data: its text when it has any (CDATA), else its ``data`` attribute."""
    return element.text or element.get("data") or ""


class XmlDialplan:
    """mod_dialplan_xml: hunts a context of the XML dialplan for a call.

    ``contexts(name)`` returns the ``<context name=...>`` element (ConfDir.dialplan_context does),
    so the dialplan always reads the configuration as currently loaded, and ``reloadxml`` needs no
    notice here. ``now`` gives the time that date/time conditions test, as an aware datetime in
    the switch's local zone; it is injectable so tests and virtual-time runs are deterministic.
    """

    def __init__(
        self,
        contexts: Callable[[str], ET.Element | None],
        *,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._contexts = contexts
        self._now = now or local_now

    def hunt(
        self,
        context: str,
        fields: Mapping[str, str],
        variables: MutableMapping[str, str],
        expand: Expand,
        run_inline: RunInline | None = None,
    ) -> list[DialplanAction] | None:
        """Hunt ``context`` for the call described by ``fields`` and ``variables``.

        ``fields`` are the caller-profile fields a condition may name (``destination_number``,
        ``caller_id_number``, ``context``, ...), looked up in any case; a field that is not there
        reads as empty, as in FreeSWITCH, which does not fall back to channel variables (a
        condition names a variable with ``field="${name}"``). ``variables`` are the channel's:
        hunting reads them and writes into them what FreeSWITCH sets during hunting
        (``DP_MATCH``, ``DP_REGEX_MATCH_N`` and the effects of inline actions), so later
        conditions see them. ``run_inline(app, data)`` executes ``inline="true"`` actions at
        once; without it (or when it leaves the variable alone) the variable effects of inline
        ``set``, ``unset`` and ``export`` are applied here, so routing does not depend on it.

        Returns None when neither the context nor the ``global`` context FreeSWITCH falls back to
        exists, [] when nothing matched (the call has no route), else the actions to run.
        """
        xcontext = self._contexts(context)
        if xcontext is None:
            xcontext = self._contexts("global")
        if xcontext is None:
            log.warning("Context %s not found", context)
            return None
        hunt = _Hunt({k.lower(): v for k, v in fields.items()}, variables, expand, run_inline)
        extensions = xcontext.findall("extension")
        start = 0
        if switch_true(variables.get("auto_hunt")):
            # auto_hunt starts at the extension named after the destination, if there is one.
            wanted = hunt.fields.get("destination_number", "").lower()
            for i, xexten in enumerate(extensions):
                if (xexten.get("name") or "").lower() == wanted:
                    start = i
                    break
        for xexten in extensions[start:]:
            log.debug(
                "Dialplan: parsing [%s->%s] continue=%s",
                context,
                xexten.get("name", "UNKNOWN"),
                xexten.get("continue", "false"),
            )
            if self._parse_exten(xexten, hunt, 0) and not switch_true(xexten.get("continue")):
                break
        return hunt.actions

    # -- parse_exten ---------------------------------------------------------------------------

    def _parse_exten(self, xexten: ET.Element, hunt: _Hunt, recur: int) -> int:
        """parse_exten(): test the conditions of an extension (or of a condition, when nested).

        Returns FreeSWITCH's ``proceed``: nonzero when the extension counts as matched. It is
        the PCRE match count of the last regex tested (0 when it failed), 1 for conditions that
        pass without a regex, and 1 after anti-actions.
        """
        proceed = 0
        require_nested = True
        if recur:
            if recur > _MAX_RECUR:
                log.error("Recursion LIMIT!")
                return 0
            attr = xexten.get("require-nested")
            if attr is not None:
                require_nested = switch_true(attr)

        for xcond in xexten.findall("condition"):
            time_match = self._datetime_check(xcond, hunt.variables)
            do_break = (xcond.get("break") or _ON_FALSE).lower()
            if do_break not in _BREAKS:
                do_break = _ON_FALSE
            anti_action = True
            capture: Capture | None = None

            # A date/time test and a field test on one condition are not ANDed in FreeSWITCH:
            # a passing time test already selects the actions, whatever the regex says.
            if time_match == 1:
                anti_action = False
                proceed = 1
            elif time_match == 0:
                proceed = 0

            if xcond.get("regex") is not None:
                proceed, passed, capture = self._regex_children(xcond, hunt, proceed)
                if passed:
                    anti_action = False
            else:
                expression = hunt.expand(_expression_of(xcond), hunt.variables)
                field_name = xcond.get("field")
                if field_name is not None:
                    field_data = self._field_data(field_name, hunt)
                    match = perform(field_data, expression)
                    proceed = match.count
                    log.debug(
                        "Dialplan: Regex (%s) [%s] %s(%s) =~ /%s/ break=%s",
                        "PASS" if match.count else "FAIL",
                        xexten.get("name", "_anon_"),
                        field_name,
                        field_data,
                        expression,
                        do_break,
                    )
                    if match.count:
                        anti_action = False
                    if "(" in expression:
                        capture = Capture(field_data, match)
                elif time_match == -1:
                    anti_action = False
                    proceed = 1

            if anti_action:
                for xaction in xcond.findall("anti-action"):
                    self._add(xaction, _action_data(xaction), hunt)
                    proceed = 1
            else:
                if capture is not None:
                    push_captures(hunt.variables, "DP_MATCH", capture.match)
                for xaction in xcond.findall("action"):
                    data = _action_data(xaction)
                    if capture is not None:
                        data = substitute(data, capture)
                    self._add(xaction, data, hunt)

            if (
                (not anti_action and do_break == _ON_TRUE)
                or (anti_action and do_break == _ON_FALSE)
                or do_break == _ALWAYS
            ):
                break

            if proceed and xcond.find("condition") is not None:
                proceed = self._parse_exten(xcond, hunt, recur + 1)
                if not proceed:
                    if do_break == _NEVER:
                        continue
                    break

        return 1 if not require_nested else proceed

    def _regex_children(
        self, xcond: ET.Element, hunt: _Hunt, proceed: int
    ) -> tuple[int, bool, Capture | None]:
        """A ``regex="all|any|xor"`` condition: test its ``<regex>`` children.

        Returns the new ``proceed``, whether the condition passed, and the regex whose captures
        the actions get. As in FreeSWITCH: ``any`` stops at the first pass and ``all`` at the
        first failure (``xor`` tests every child and passes when exactly one did); each child with
        a field and a ``(`` in its expression that is tested to the end sets
        ``DP_REGEX_MATCH_<n>`` and becomes the one ``$N`` refers to, the last such winning; when
        none did, the child the loop stopped on is used (so under ``any`` the passing one).
        """
        rule = (xcond.get("regex") or "").lower()
        match_all = rule == "all"
        xor = rule == "xor"
        passed = failed = 0
        for name in [name for name in hunt.variables if name.startswith(_REGEX_MATCH_PREFIX)]:
            del hunt.variables[name]

        saved: tuple[Capture, int] | None = None
        live: Capture | None = None
        for total, xregex in enumerate(xcond.findall("regex"), start=1):
            live = None
            regex_time_match = self._datetime_check(xregex, hunt.variables)
            raw_expression = _expression_of(xregex)
            expression = hunt.expand(raw_expression, hunt.variables)
            field_name = xregex.get("field")
            match = NO_MATCH
            field_data = ""
            if field_name is not None:
                field_data = self._field_data(field_name, hunt)
                match = perform(field_data, expression)
                proceed = match.count
                # FreeSWITCH still holds this regex if the loop stops here, but only reads it
                # back when its expression needed no expansion.
                if expression == raw_expression and "(" in expression:
                    live = Capture(field_data, match)
                if match.count:
                    passed += 1
                    if not match_all and not xor:
                        break
                else:
                    failed += 1
                    if match_all and not xor:
                        break
            elif regex_time_match in (-1, 1):
                passed += 1
                proceed = 1
                if not match_all and not xor:
                    break
            else:
                failed += 1
                if match_all:
                    break
            if field_name is not None and "(" in expression:
                push_captures(hunt.variables, f"{_REGEX_MATCH_PREFIX}_{total}", match)
                saved = (Capture(field_data, match), proceed)
            live = None

        ok = passed == 1 if xor else bool((match_all and not failed) or (not match_all and passed))
        if saved is not None:
            return saved[1], ok, saved[0]
        return proceed, ok, live

    def _field_data(self, name: str, hunt: _Hunt) -> str:
        """What a ``field`` names: a ``${...}`` expression, else a caller-profile field."""
        if "$" in name:
            return hunt.expand(name, hunt.variables)
        return hunt.fields.get(name.lower(), "")

    # -- actions -------------------------------------------------------------------------------

    def _add(self, xaction: ET.Element, data: str, hunt: _Hunt) -> None:
        """Add an action (``loop`` times, default once) to the extension, or run it if inline."""
        application = xaction.get("application", "")
        inline = switch_true(xaction.get("inline"))
        loop = xaction.get("loop")
        for _ in range(atoi(loop) if loop is not None else 1):
            log.debug("Dialplan: Action %s(%s) %s", application, data, "INLINE" if inline else "")
            if inline:
                self._run_inline(application, data, hunt)
            hunt.actions.append(DialplanAction(application, data, inline))

    def _run_inline(self, application: str, data: str, hunt: _Hunt) -> None:
        """Execute an inline action now, so the conditions after it see what it did."""
        variables = hunt.variables
        effect = self._variable_effect(application, data, hunt)
        before = variables.get(effect[0]) if effect else None
        if hunt.run_inline is not None:
            hunt.run_inline(application, data)
        if effect is None or variables.get(effect[0]) != before:
            return  # not a variable application, or run_inline already did it on the channel
        name, value = effect
        if value is None:
            variables.pop(name, None)
        else:
            variables[name] = value

    @staticmethod
    def _variable_effect(application: str, data: str, hunt: _Hunt) -> tuple[str, str | None] | None:
        """The variable ``set``/``unset``/``export`` would write, and its value (None unsets).

        Application data is expanded when the application runs, and ``set`` expands its value
        once more, as mod_dptools does. ``export nolocal:name=...`` touches no local variable.
        """
        app = application.lower()
        if app not in ("set", "unset", "export"):
            return None
        text = hunt.expand(data, hunt.variables)
        if not text:
            return None
        if app == "unset":
            return text, None
        sep = text.find("=")
        if sep < 0 and app == "set":
            sep = text.find(",")
        name, value = (text, None) if sep < 0 else (text[:sep], text[sep + 1 :] or None)
        if app == "export":
            if name.lower().startswith("nolocal:"):
                return None
            return name, value
        return name, hunt.expand(value, hunt.variables) if value is not None else None

    # -- date and time -------------------------------------------------------------------------

    def _datetime_check(self, element: ET.Element, variables: Mapping[str, str]) -> int:
        """switch_xml_std_datetime_check(): -1 without time attributes, else 1 (pass) or 0."""
        return datetime_check(element, variables, self._now())


# -- the inline dialplan ---------------------------------------------------------------------

_UNESCAPES = {"n": "\n", "r": "\r", "t": "\t", "s": " "}
_MAX_INLINE_APPS = 128  # argv[128] in inline_dialplan_hunt()


def _cleanup_separated(token: str, delim: str) -> str:
    """cleanup_separated_string(): drop leading/trailing blanks and single quotes, unescape.

    ``\\'``, ``\\"``, ``\\\\`` and an escaped delimiter give the character itself, ``\\n``
    ``\\r`` ``\\t`` ``\\s`` give newline, return, tab and space; other backslashes stay. A single
    quote is a quote only when another one follows, and spaces inside quotes are kept.
    """
    i = 0
    while i < len(token) and token[i] == " ":
        i += 1
    out: list[str] = []
    end: int | None = None
    inside = False
    while i < len(token):
        ch = token[i]
        escaped = False
        if ch == "\\" and i + 1 < len(token):
            nxt = token[i + 1]
            if nxt in "'\"\\" or (delim and nxt == delim):
                value: str | None = nxt
            else:
                value = _UNESCAPES.get(nxt)
            if value is not None:
                i += 1
                out.append(value)
                end = len(out)
                escaped = True
        if not escaped:
            if ch == "'" and (inside or "'" in token[i + 1 :]):
                inside = not inside
                if inside:
                    end = len(out)
            else:
                out.append(ch)
                if ch != " " or inside:
                    end = len(out)
        i += 1
    if end is not None:
        del out[end:]
    return "".join(out)


def _separate_string(buf: str, delim: str, limit: int) -> list[str]:
    """switch_separate_string(): split on ``delim`` outside single quotes, then clean each piece.

    ``^^X`` in front changes the delimiter to ``X``. A backslash protects the next character
    from splitting. With a space delimiter, runs of spaces separate; otherwise empty pieces
    count. At ``limit`` pieces the last one keeps the rest of the string.
    """
    if buf.startswith("^^") and len(buf) >= 4:
        delim = buf[2]
        buf = buf[3:]
    spans: list[tuple[int, int]] = []
    i, n = 0, len(buf)
    inside = False
    blank = delim == " "
    while i < n and len(spans) < limit:
        start = i
        if blank:
            while i < n and buf[i] == " ":
                i += 1
        end = n
        while i < n:
            ch = buf[i]
            if ch == "\\":
                i += 2
                continue
            if ch == "'" and (blank or inside or "'" in buf[i + 1 :]):
                inside = not inside
            elif ch == delim and not inside:
                end = i
                i += 1
                break
            i += 1
        spans.append((start, min(end, n)))
        if blank:
            while i < n and buf[i] == " ":
                i += 1
    if len(spans) == limit:
        spans[-1] = (spans[-1][0], n)  # the last piece is never cut off
    return [_cleanup_separated(buf[s:e], "" if blank else delim) for s, e in spans]


def parse_inline_dialplan(text: str) -> list[DialplanAction]:
    """Parse FreeSWITCH's ``inline`` dialplan: ``app:arg,app2:arg2`` (mod_dptools).

    It is what ``originate <url> app:arg,app2 inline`` and ``transfer 'app:arg' inline`` run.
    ``m:X:`` in front makes ``X`` the separator (``m:^:set:a=1^playback:b.wav``), so arguments
    can hold commas; single quotes and backslashes protect separators too. Each piece splits at
    its first ``:`` into application and data (no ``:``, no data). FreeSWITCH also moves the
    caller profile's rdnis into destination_number after this dialplan; that is the caller's job.
    """
    if not text:
        return []
    delim = ","
    if len(text) >= 4 and text[0] == "m" and text[1] == ":" and text[3] == ":":
        delim = text[2]
        text = text[4:]
    actions: list[DialplanAction] = []
    for piece in _separate_string(text, delim, _MAX_INLINE_APPS):
        application, _, data = piece.partition(":")
        actions.append(DialplanAction(application.lstrip(" "), data))
    return actions
