"""FreeSWITCH's configuration directory: preprocessing, global variables and lookups.

The server and the switch core read the same files FreeSWITCH reads, so that users can point
eventsocket at the conf_dir they already have. FreeSWITCH does not hand its files to an XML
parser directly: a line-based preprocessor (``preprocess()`` in ``switch_xml.c``) first expands
``$${name}`` global variables, runs ``<X-PRE-PROCESS cmd=... data=.../>`` directives (``include``,
``set``, ``env-set``, ``exec-set``, ``exec``, ``stun-set``) and the older ``<!--#cmd arg-->`` form,
and drops lines holding ``<include>``, ``</include>`` or ``<?``. Only the result is parsed.
:class:`ConfDir` reproduces that pipeline line for line, because its quirks are part of what a
working FreeSWITCH configuration relies on (a directive is processed even inside an XML comment,
which is why FreeSWITCH's vars.xml warns that such lines cannot be commented out; anything else
on a directive's line is discarded; an unknown ``$${name}`` expands to nothing).

Where FreeSWITCH's behaviour only does harm, this module differs, and says so where it does:
an include loop is an error instead of 100 nested copies, ``exec``/``exec-set`` run only when
asked for (loading a configuration should not run shell commands by surprise), and the XML
parser accepts the sloppiness FreeSWITCH's own parser accepts (a bare ``&``, ``<`` inside an
attribute value) instead of refusing a file that works in FreeSWITCH.

Everything here is standard library only and does no I/O after :meth:`ConfDir.load` returns.

This module assembles the pipeline and answers lookups; each stage has its own module:
:mod:`~eventsocket.switch.predefined` (the globals FreeSWITCH predefines),
:mod:`~eventsocket.switch.preprocessor` (``preprocess()``), :mod:`~eventsocket.switch.lenientxml`
(parsing as ezxml accepts it, errors naming the file) and :mod:`~eventsocket.switch.directory`
(users and domains).
"""

from __future__ import annotations

import glob
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from pathlib import Path

from eventsocket.switch.directory import DirectoryUser, locate_user, user_cidrs
from eventsocket.switch.lenientxml import blame, parse
from eventsocket.switch.predefined import predefined_vars
from eventsocket.switch.preprocessor import (
    MAX_INCLUDE_DEPTH,
    ConfigError,
    GlobalVars,
    Preprocessor,
    expand_globals,
)

__all__ = [
    "DEFAULT_CONF_DIR",
    "MAX_INCLUDE_DEPTH",
    "ConfDir",
    "ConfigError",
    "DirectoryUser",
]

log = logging.getLogger("eventsocket.config")

#: The configuration shipped with the package; ``eventsocket serve`` uses it when given no conf_dir.
DEFAULT_CONF_DIR: Path = Path(__file__).resolve().parent.parent / "default_conf"


class ConfDir:
    """A loaded FreeSWITCH configuration: the preprocessed ``<document>`` and its globals.

    Build one with :meth:`load` (a conf_dir, or the packaged default) or :meth:`from_text`. The
    lookups answer the questions the server and the switch core ask (which ``<configuration>``
    is ``event_socket.conf``, which dialplan context is ``default``, who is ``1000@domain``),
    with FreeSWITCH's matching rules: names compared without regard to case.
    """

    def __init__(
        self,
        root: ET.Element,
        global_vars: Mapping[str, str] | None = None,
        *,
        path: Path | None = None,
        files: list[Path] | None = None,
    ) -> None:
        self.root = root
        self.global_vars: dict[str, str] = dict(global_vars or {})
        self.path = path
        self.files: list[Path] = list(files or [])
        # how to read this configuration again (``reloadxml``); None for one built by hand
        self._reader: Callable[[], ConfDir] | None = None

    def __repr__(self) -> str:
        return f"ConfDir(path={str(self.path)!r}, files={len(self.files)})"

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        initial_vars: Mapping[str, str] | None = None,
        allow_exec: bool = False,
    ) -> ConfDir:
        """Load the conf_dir at ``path`` (None: :data:`DEFAULT_CONF_DIR`).

        With a ``freeswitch.xml`` in it, that file is the root, preprocessed like FreeSWITCH's.
        Without one, an equivalent root is assembled from whatever of ``vars.xml``,
        ``autoload_configs/*.xml`` (and top-level ``*.conf.xml``), ``dialplan/*.xml`` and
        ``directory/*.xml`` exists, so a directory holding just an ``event_socket.conf.xml``
        works. ``path`` may also name a root file directly.

        ``initial_vars`` override the predefined globals (``hostname``, ``local_ip_v4``...);
        ``core_uuid`` exists only when given here. ``exec`` and ``exec-set`` directives run shell
        commands only with ``allow_exec=True``; otherwise they are skipped with a warning.

        Raises :class:`ConfigError` naming the file for a missing path, malformed XML or an
        include loop.
        """
        target = Path(path) if path is not None else DEFAULT_CONF_DIR
        target = target.expanduser()
        if not target.exists():
            raise ConfigError(f"{target}: no such configuration directory or file")
        target = target.resolve()
        root_file: Path | None
        if target.is_file():
            conf_dir, root_file = target.parent, target
        else:
            conf_dir = target
            candidate = conf_dir / "freeswitch.xml"
            root_file = candidate if candidate.is_file() else None
        variables = predefined_vars(conf_dir, initial_vars or {})
        pre = Preprocessor(variables, allow_exec=allow_exec)
        if root_file is not None:
            pre.run_file(root_file, conf_dir, 0)
            if not pre.files:
                raise ConfigError(f"{root_file}: cannot be read")
        else:
            pre.run_text(_assembled_root(conf_dir), f"{conf_dir}{os.sep}<assembled root>", conf_dir, 0)
        conf = cls._finish(pre, variables, conf_dir)
        conf._reader = lambda: cls.load(path, initial_vars=initial_vars, allow_exec=allow_exec)
        return conf

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        base_dir: str | os.PathLike[str] | None = None,
        initial_vars: Mapping[str, str] | None = None,
        allow_exec: bool = False,
    ) -> ConfDir:
        """Preprocess and parse ``text`` as if it were a ``freeswitch.xml`` in ``base_dir``.

        Meant for tests and embedders that keep their configuration in code: includes resolve
        against ``base_dir`` (default: the current directory).
        """
        conf_dir = Path(base_dir).resolve() if base_dir is not None else Path.cwd()
        variables = predefined_vars(conf_dir, initial_vars or {})
        pre = Preprocessor(variables, allow_exec=allow_exec)
        pre.run_text(text, "<text>", conf_dir, 0)
        conf = cls._finish(pre, variables, conf_dir)
        conf._reader = lambda: cls.from_text(
            text, base_dir=conf_dir, initial_vars=initial_vars, allow_exec=allow_exec
        )
        return conf

    def reload(self) -> ConfDir:
        """This configuration read again from where it came from (its files, or its text).

        A new object: the caller swaps it in, so a failed reload leaves the running one in place
        as FreeSWITCH's ``reloadxml`` does. Raises :class:`ConfigError` when it cannot be read
        (and for a configuration built directly from an element, which has no source).
        """
        if self._reader is None:
            raise ConfigError("this configuration was not loaded from files or text")
        return self._reader()

    @classmethod
    def _finish(cls, pre: Preprocessor, variables: GlobalVars, conf_dir: Path) -> ConfDir:
        out = pre.out
        text = "\n".join(out.lines)
        if not text.strip():
            raise ConfigError(f"{conf_dir}: the configuration is empty")
        try:
            root = parse(text)
        except ET.ParseError as exc:
            order = list(dict.fromkeys(src for src, _ in out.origins))
            raise blame(out, order, exc) from None
        if root.tag == "configuration":
            # A bare ``<configuration>`` file given as the root: file it where it belongs.
            document = ET.Element("document", {"type": "freeswitch/xml"})
            section = ET.SubElement(document, "section", {"name": "configuration"})
            section.append(root)
            root = document
        return cls(root, variables.as_dict(), path=conf_dir, files=pre.files)

    # -- globals -------------------------------------------------------------------------------

    def get_var(self, name: str) -> str | None:
        """The global variable ``name`` (any case, as FreeSWITCH looks them up), or None."""
        if name in self.global_vars:
            return self.global_vars[name]
        wanted = name.lower()
        for key, value in self.global_vars.items():
            if key.lower() == wanted:
                return value
        return None

    def expand_globals(self, text: str) -> str:
        """Replace ``$${name}`` in ``text`` with the globals, unknown names with nothing."""
        variables = GlobalVars()
        for name, value in self.global_vars.items():
            variables.set(name, value)
        return expand_globals(text, variables)[0]

    # -- sections ------------------------------------------------------------------------------

    def sections(self, name: str) -> list[ET.Element]:
        """Every ``<section name=...>`` of the document called ``name`` (any case), in order."""
        wanted = name.lower()
        return [s for s in self.root.findall("section") if (s.get("name") or "").lower() == wanted]

    def configuration(self, name: str) -> ET.Element | None:
        """The ``<configuration name=...>`` element of section ``configuration``, or None.

        ``name`` may be given with or without its ``.conf`` suffix (``"event_socket"`` or
        ``"event_socket.conf"``); the exact spelling is preferred when both exist. Names compare
        without regard to case, as ``switch_xml_find_child()`` compares them.
        """
        lowered = name.lower()
        candidates = [lowered]
        if lowered.endswith(".conf"):
            candidates.append(lowered[: -len(".conf")])
        else:
            candidates.append(lowered + ".conf")
        sections = self.sections("configuration")
        for candidate in candidates:
            for section in sections:
                for element in section.findall("configuration"):
                    if (element.get("name") or "").lower() == candidate:
                        return element
        return None

    def dialplan_contexts(self) -> list[ET.Element]:
        """All ``<context>`` elements of section ``dialplan``, in document order."""
        return [c for s in self.sections("dialplan") for c in s.findall("context")]

    def dialplan_context(self, name: str) -> ET.Element | None:
        """The dialplan ``<context name=...>`` called ``name`` (any case), or None.

        There is no fallback here; mod_dialplan_xml's retry with context ``global`` belongs to the
        dialplan engine.
        """
        wanted = name.lower()
        for context in self.dialplan_contexts():
            if (context.get("name") or "").lower() == wanted:
                return context
        return None

    # -- directory -----------------------------------------------------------------------------

    def domains(self) -> list[ET.Element]:
        """All ``<domain>`` elements of section ``directory``, in document order."""
        return [d for s in self.sections("directory") for d in s.findall("domain")]

    def find_domain(self, domain: str) -> ET.Element | None:
        """The directory ``<domain>`` whose ``name`` is ``domain`` (any case), or None.

        A name still holding ``$${var}`` (an element built by hand rather than preprocessed) is
        compared after expansion, so ``$${domain}`` matches the value of the ``domain`` global.
        """
        if not domain:
            return None
        wanted = domain.lower()
        for element in self.domains():
            name = element.get("name") or ""
            if name.lower() == wanted:
                return element
            if "$${" in name and self.expand_globals(name).lower() == wanted:
                return element
        return None

    def find_user(self, user: str, domain: str) -> DirectoryUser | None:
        """The user ``user@domain`` with merged params and variables, or None when unknown.

        Searched as ``switch_xml_locate_user("id", ...)`` searches: each group's
        ``<groups><group><users><user>`` first, then the domain's ``<users><user>`` (or, when the
        domain has no ``<users>``, its direct ``<user>`` children). A user matches on ``id`` or
        ``number-alias``, without regard to case.
        """
        if not user or not domain:
            return None
        x_domain = self.find_domain(domain)
        return locate_user(x_domain, user, domain) if x_domain is not None else None

    def domain_cidrs(self, domain: str) -> list[str]:
        """The ``cidr`` of every user of ``domain`` that has one, for ACL ``domain=`` nodes.

        As ``switch_load_network_lists()`` walks them: the domain's own users, then every group's
        users; a user's ``cidr`` attribute, or failing that its ``cidr`` param. Unknown domain:
        an empty list.
        """
        x_domain = self.find_domain(domain)
        return user_cidrs(x_domain) if x_domain is not None else []

def _assembled_root(conf_dir: Path) -> str:
    """The ``freeswitch.xml`` equivalent for a conf_dir that has none.

    Each include only appears when its files exist, so a sparse directory yields a sparse but
    valid document; the sections are those of FreeSWITCH's vanilla root file.
    """

    def present(pattern: str) -> bool:
        return any(Path(p).is_file() for p in glob.glob(str(conf_dir / pattern)))

    lines = ['<document type="freeswitch/xml">']
    found = False
    if present("vars.xml"):
        found = True
        lines.append('  <X-PRE-PROCESS cmd="include" data="vars.xml"/>')
    lines.append('  <section name="configuration" description="Various Configuration">')
    for pattern in ("autoload_configs/*.xml", "*.conf.xml"):
        if present(pattern):
            found = True
            lines.append(f'    <X-PRE-PROCESS cmd="include" data="{pattern}"/>')
    lines.append("  </section>")
    for section, pattern in (("dialplan", "dialplan/*.xml"), ("directory", "directory/*.xml")):
        lines.append(f'  <section name="{section}">')
        if present(pattern):
            found = True
            lines.append(f'    <X-PRE-PROCESS cmd="include" data="{pattern}"/>')
        lines.append("  </section>")
    lines.append("</document>")
    if not found:
        log.warning("%s holds neither freeswitch.xml nor any known configuration file", conf_dir)
    return "\n".join(lines) + "\n"
