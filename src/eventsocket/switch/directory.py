"""Directory lookups: a user of a domain with merged params and variables, a domain's CIDRs.

With FreeSWITCH's matching rules (``switch_xml_locate_user``): groups first, then the
domain's users; ``id`` or ``number-alias``, without regard to case; domain, group and user
params merged in that order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


@dataclass(slots=True)
class DirectoryUser:
    """A directory user with the params and variables of its domain and group merged in.

    ``params`` and ``variables`` are read from the domain, then the group, then the user, a later
    one overriding an earlier one (``switch_xml_merge_user()``). Keys are lower-cased because
    FreeSWITCH compares these names without regard to case (``esl-password`` and
    ``ESL-Password`` are the same param).
    """

    id: str
    domain: str
    params: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    group: str | None = None

    def param(self, name: str) -> str | None:
        """The merged param ``name`` (any case), or None."""
        return self.params.get(name.lower())

    def variable(self, name: str) -> str | None:
        """The merged variable ``name`` (any case), or None."""
        return self.variables.get(name.lower())


def _collect(element: ET.Element | None, container: str, tag: str, into: dict[str, str]) -> None:
    """Add the ``<container><tag name= value=/>`` pairs of ``element`` to ``into``.

    Only the first ``<container>`` counts, as ``switch_xml_child()`` returns the first one; a
    missing ``value`` reads as empty (``switch_xml_attr_soft``), a missing ``name`` is skipped.
    """
    if element is None:
        return
    box = element.find(container)
    if box is None:
        return
    for item in box.findall(tag):
        name = item.get("name")
        if name:
            into[name.lower()] = item.get("value", "")


def _match_user(users: ET.Element, user: str) -> ET.Element | None:
    """The first ``<user>`` child whose ``id`` or ``number-alias`` is ``user`` (any case).

    ``type="pointer"`` entries only say "this user is also in this group" and are skipped, as
    FreeSWITCH's own documentation describes them.
    """
    wanted = user.lower()
    for candidate in users.findall("user"):
        if (candidate.get("type") or "").lower() == "pointer":
            continue
        if (candidate.get("id") or "").lower() == wanted:
            return candidate
        if (candidate.get("number-alias") or "").lower() == wanted:
            return candidate
    return None


def locate_user(x_domain: ET.Element, user: str, domain: str) -> DirectoryUser | None:
    """The user ``user`` of the directory domain ``x_domain``, params and variables merged, or None.

    Searched as ``switch_xml_locate_user("id", ...)`` searches: each group's
    ``<groups><group><users><user>`` first, then the domain's ``<users><user>`` (or, when the
    domain has no ``<users>``, its direct ``<user>`` children). ``domain`` names the domain
    when the element has no ``name``.
    """
    x_user: ET.Element | None = None
    x_group: ET.Element | None = None
    groups = x_domain.find("groups")
    if groups is not None:
        for group in groups.findall("group"):
            users = group.find("users")
            if users is None:
                continue
            x_user = _match_user(users, user)
            if x_user is not None:
                x_group = group
                break
    if x_user is None:
        users = x_domain.find("users")
        x_user = _match_user(users if users is not None else x_domain, user)
    if x_user is None:
        return None
    params: dict[str, str] = {}
    variables: dict[str, str] = {}
    for element in (x_domain, x_group, x_user):
        _collect(element, "params", "param", params)
        _collect(element, "variables", "variable", variables)
    return DirectoryUser(
        id=x_user.get("id") or user,
        domain=x_domain.get("name") or domain,
        params=params,
        variables=variables,
        group=x_group.get("name") if x_group is not None else None,
    )


def user_cidrs(x_domain: ET.Element) -> list[str]:
    """The ``cidr`` of every user of the directory domain ``x_domain`` that has one.

    As ``switch_load_network_lists()`` walks them: the domain's own users, then every group's
    users; a user's ``cidr`` attribute, or failing that its ``cidr`` param.
    """
    found: list[str] = []
    holders: list[ET.Element] = [x_domain]
    holders.extend(x_domain.findall("users"))
    for groups in x_domain.findall("groups"):
        for group in groups.findall("group"):
            holders.extend(group.findall("users"))
    for holder in holders:
        for x_user in holder.findall("user"):
            if not x_user.get("id"):
                continue
            cidr = x_user.get("cidr")
            if cidr is None:
                own: dict[str, str] = {}
                _collect(x_user, "params", "param", own)
                cidr = own.get("cidr")
            if cidr:
                found.append(cidr)
    return found
