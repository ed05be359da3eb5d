"""Changes a test makes to its switch's conf_dir: dialplan extensions and directory users.

They are written into the conf_dir's files, then the switch reads its configuration
again (``reloadxml``), as one would change FreeSWITCH's: the same edit works for the
embedded switch and for ``eventsocket serve`` in another process, and survives a
``reloadxml`` that the application under test sends itself.

- An extension goes at the top of the context it belongs to (in the file that opens that
  ``<context>``), so it wins over the conf_dir's own catch-all extensions; a context no
  file has gets a file of its own under ``dialplan/``.
- A user goes where ``switch_xml_locate_user`` looks first in its domain (the first
  group, else the domain's ``<users>``); a domain no file has gets a file under
  ``directory/``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from pathlib import Path
from xml.sax.saxutils import quoteattr

__all__ = ["add_extension", "add_user", "extension_xml", "user_element"]


def _escape_number(number: str) -> str:
    return "".join("\\" + ch if ch in ".+*?()[]{}|\\^$" else ch for ch in number)


def extension_xml(number: str, steps: Iterable[tuple[str, str]], name: str | None = None) -> str:
    """An ``<extension>`` for destination ``number`` (plain, or a ``^regex$``) running ``steps``."""
    expression = number if number.startswith("^") else f"^{_escape_number(number)}$"
    actions = []
    for app, data in steps:
        attrs = f"application={quoteattr(app)}" + (f" data={quoteattr(data)}" if data else "")
        actions.append(f"      <action {attrs}/>")
    return (
        f"  <extension name={quoteattr(name or 'test_' + number)}>\n"
        f"    <condition field=\"destination_number\" expression={quoteattr(expression)}>\n"
        + "\n".join(actions)
        + "\n    </condition>\n  </extension>\n"
    )


def add_extension(conf_dir: Path, context: str, extension: str) -> Path:
    """Put ``extension`` (XML text) first in ``context``; returns the file written."""
    opening = re.compile(r"<context\s+name\s*=\s*([\"'])" + re.escape(context) + r"\1[^>]*>", re.IGNORECASE)
    dialplan = conf_dir / "dialplan"
    for path in sorted(dialplan.rglob("*.xml")):
        text = path.read_text()
        found = opening.search(text)
        if found is not None:
            path.write_text(text[: found.end()] + "\n" + extension + text[found.end() :])
            return path
    dialplan.mkdir(parents=True, exist_ok=True)
    path = dialplan / f"zz_eventsocket_{re.sub(r'[^A-Za-z0-9_-]', '_', context)}.xml"
    path.write_text(f"<include>\n<context name={quoteattr(context)}>\n{extension}</context>\n</include>\n")
    return path


def user_element(
    user: str, params: dict[str, str], variables: dict[str, str]
) -> ET.Element:
    x_user = ET.Element("user", id=user)
    if params:
        x_params = ET.SubElement(x_user, "params")
        for key, value in params.items():
            ET.SubElement(x_params, "param", name=key, value=value)
    if variables:
        x_vars = ET.SubElement(x_user, "variables")
        for key, value in variables.items():
            ET.SubElement(x_vars, "variable", name=key, value=value)
    x_user.tail = "\n"
    return x_user


def _place_user(x_domain: ET.Element, x_user: ET.Element) -> None:
    groups = x_domain.find("groups")
    group = groups.find("group") if groups is not None else None
    if group is not None:
        users = group.find("users")
        if users is None:
            users = ET.SubElement(group, "users")
        users.insert(0, x_user)
        return
    users = x_domain.find("users")
    if users is not None:
        users.insert(0, x_user)
    elif x_domain.find("user") is not None:
        x_domain.insert(0, x_user)
    else:
        ET.SubElement(x_domain, "users").append(x_user)


def add_user(conf_dir: Path, domain: str, x_user: ET.Element, expand: Callable[[str], str]) -> Path:
    """Add ``x_user`` to ``domain`` (names compared after ``expand`` of ``$${...}``); the file written."""
    directory = conf_dir / "directory"
    for path in sorted(directory.rglob("*.xml")):
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        try:
            tree = ET.parse(path, parser)
        except ET.ParseError:
            continue
        root = tree.getroot()
        candidates = [root] if root.tag == "domain" else list(root.iter("domain"))
        for x_domain in candidates:
            if expand(x_domain.get("name") or "").lower() == domain.lower():
                _place_user(x_domain, x_user)
                tree.write(path, encoding="unicode")
                return path
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"zz_eventsocket_{re.sub(r'[^A-Za-z0-9_.-]', '_', domain)}.xml"
    include = ET.Element("include")
    x_domain = ET.SubElement(include, "domain", name=domain)
    ET.SubElement(x_domain, "users").append(x_user)
    ET.ElementTree(include).write(path, encoding="unicode")
    return path
