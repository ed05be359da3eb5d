"""Events and their three wire formats: ``text/event-plain``, ``-json`` and ``-xml``.

An :class:`Event` is an ordered list of headers (duplicates allowed, lookups
case-insensitive, first match wins) plus an optional body, as in FreeSWITCH's
``switch_event_t``. Serializing is the hot path of event fan-out, so every
serialization is cached on the event: one event delivered to a thousand listeners is
encoded at most once per format (:meth:`Event.frame`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

import orjson

from eventsocket.protocol.urlcode import url_decode, url_encode

EventFormat = Literal["plain", "json", "xml"]
HeaderValue = str | list[str]

CONTENT_TYPES: dict[str, bytes] = {
    "plain": b"text/event-plain",
    "json": b"text/event-json",
    "xml": b"text/event-xml",
}


class Event:
    """A FreeSWITCH event: ordered headers, an optional body, cached serializations."""

    __slots__ = ("_frames", "body", "headers", "name", "subclass")

    def __init__(
        self,
        name: str = "CUSTOM",
        headers: Iterable[tuple[str, HeaderValue]] | None = None,
        body: str | None = None,
        subclass: str | None = None,
    ) -> None:
        self.name = name
        self.subclass = subclass
        self.headers: list[tuple[str, HeaderValue]] = list(headers) if headers else []
        self.body = body
        self._frames: dict[str, bytes] | None = None

    # -- headers ---------------------------------------------------------------------------

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first header called ``name`` (any case); arrays come back as FreeSWITCH prints them."""
        lname = name.lower()
        for key, value in self.headers:
            if key == name or key.lower() == lname:
                return value if isinstance(value, str) else "ARRAY::" + "|:".join(value)
        return default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def add(self, name: str, value: HeaderValue | None) -> None:
        """Append a header. As in FreeSWITCH an empty value adds nothing and deletes ``name``."""
        self._frames = None
        if value is None or value == "":
            self.delete(name)
            return
        if isinstance(value, str) and value.startswith("ARRAY::"):
            value = value[7:].split("|:")
        self.headers.append((name, value))

    def set(self, name: str, value: HeaderValue | None) -> None:
        """Replace every ``name`` header with one (at the end), or delete it when empty."""
        self.delete(name)
        self.add(name, value)

    def delete(self, name: str, value: str | None = None) -> None:
        """Remove every header called ``name`` (any case), or only those equal to ``value``."""
        lname = name.lower()
        self._frames = None
        self.headers = [
            (k, v) for k, v in self.headers if not (k.lower() == lname and (value is None or v == value))
        ]

    def items(self) -> Iterator[tuple[str, str]]:
        """Every header as (name, value), arrays in FreeSWITCH's printed form."""
        for key, value in self.headers:
            yield key, value if isinstance(value, str) else "ARRAY::" + "|:".join(value)

    def copy(self) -> Event:
        return Event(self.name, list(self.headers), self.body, self.subclass)

    def invalidate(self) -> None:
        """Forget cached serializations after the headers or body were changed in place."""
        self._frames = None

    def __repr__(self) -> str:
        sub = f" {self.subclass}" if self.subclass else ""
        return f"<Event {self.name}{sub} {len(self.headers)} headers>"

    # -- serialization ---------------------------------------------------------------------

    def _ordered(self) -> list[tuple[str, HeaderValue]]:
        """Headers in delivery order: a listener's copy puts ``Event-Subclass`` first."""
        if not self.subclass:
            return self.headers
        rest = [(k, v) for k, v in self.headers if k != "Event-Subclass"]
        return [("Event-Subclass", self.subclass), *rest]

    def serialize(self, fmt: EventFormat = "plain") -> bytes:
        """The event payload (without the envelope) in ``fmt``."""
        if fmt == "plain":
            return to_plain(self._ordered(), self.body)
        if fmt == "json":
            return to_json(self._ordered(), self.body)
        return to_xml(self._ordered(), self.body)

    def frame(self, fmt: EventFormat = "plain") -> bytes:
        """The whole wire message (envelope and payload), built once per format and shared."""
        frames = self._frames
        if frames is None:
            frames = self._frames = {}
        cached = frames.get(fmt)
        if cached is None:
            payload = self.serialize(fmt)
            cached = b"".join(
                (
                    b"Content-Length: ",
                    str(len(payload)).encode(),
                    b"\nContent-Type: ",
                    CONTENT_TYPES[fmt],
                    b"\n\n",
                    payload,
                )
            )
            frames[fmt] = cached
        return cached


def _array_text(value: list[str]) -> str:
    return "ARRAY::" + "|:".join(value)


def to_plain(headers: Iterable[tuple[str, HeaderValue]], body: str | None) -> bytes:
    """``switch_event_serialize``: ``Name: url-encoded value`` lines, then the body."""
    enc = url_encode
    text = "".join([
        f"{key}: {(enc(value) if value.__class__ is str else enc(_array_text(value))) or '_undef_'}\n"  # type: ignore[arg-type]
        for key, value in headers
    ])
    if body:
        raw = body.encode("utf-8", "surrogateescape")
        return (text + f"Content-Length: {len(raw)}\n\n").encode("utf-8", "surrogateescape") + raw
    return (text + "\n").encode("utf-8", "surrogateescape")


def _json_str(text: str) -> bytes:
    try:
        return orjson.dumps(text)
    except TypeError:  # lone surrogates from undecodable bytes
        return orjson.dumps(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def to_json(headers: Iterable[tuple[str, HeaderValue]], body: str | None) -> bytes:
    """cJSON's unformatted object: members in header order, duplicate names kept."""
    members: list[bytes] = []
    append = members.append
    for key, value in headers:
        if isinstance(value, str):
            append(_json_str(key) + b":" + _json_str(value))
        else:
            append(_json_str(key) + b":[" + b",".join(_json_str(v) for v in value) + b"]")
    if body:
        size = len(body.encode("utf-8", "surrogateescape"))
        append(b'"Content-Length":"' + str(size).encode() + b'"')
        append(b'"_body":' + _json_str(body))
    return b"{" + b",".join(members) + b"}"


def xml_escape_body(text: str) -> str:
    """FreeSWITCH's XML text escaping (``switch_xml_ampencode``), ``<!`` quirk included."""
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "<" and text.startswith("<!", i):
            out.append(text[i:])
            break
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "\r":
            out.append("&#xD;")
        elif ord(ch) > 0x7F:
            out.append(f"&#x{ord(ch):X};")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def to_xml(headers: Iterable[tuple[str, HeaderValue]], body: str | None) -> bytes:
    """``switch_event_xmlize`` printed by ``switch_xml_toxml``: two-space indent, url-encoded text."""
    lines = ["<event>\n  <headers>\n"]
    append = lines.append
    for key, value in headers:
        for item in [value] if isinstance(value, str) else value:
            append(f"    <{key}>{url_encode(item)}</{key}>\n")
    append("  </headers>\n")
    if body:
        size = len(body.encode("utf-8", "surrogateescape"))
        append(f"  <Content-Length>{size}</Content-Length>\n  <body>{xml_escape_body(body)}</body>\n")
    append("</event>\n")
    return "".join(lines).encode("utf-8", "surrogateescape")


# -- parsing (clients, tests) -----------------------------------------------------------------


class EventParseError(ValueError):
    """An event payload that does not parse in the format its envelope names."""


def parse_plain(payload: bytes) -> Event:
    """Parse a ``text/event-plain`` payload, URL-decoding every value."""
    text = payload.decode("utf-8", "surrogateescape")
    head, _sep, rest = text.partition("\n\n")
    event = Event()
    for line in head.split("\n"):
        key, colon, value = line.partition(": ")
        if not colon:
            key, colon, value = line.partition(":")
            if not colon:
                continue
        event.headers.append((key, url_decode(value)))
    if rest and event.headers and event.headers[-1][0] == "Content-Length":
        # the serializer's own Content-Length is always the last line before the body
        event.headers.pop()
        event.body = rest
    _fill_identity(event)
    return event


def parse_json(payload: bytes) -> Event:
    """Parse a ``text/event-json`` payload (duplicate keys collapse to the last one)."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise EventParseError(str(exc)) from exc
    if not isinstance(data, dict):
        raise EventParseError("event JSON is not an object")
    event = Event()
    for key, value in data.items():
        if key == "_body":
            event.body = str(value)
        elif key == "Content-Length" and "_body" in data:
            continue
        elif isinstance(value, list):
            event.headers.append((key, [str(v) for v in value]))
        else:
            event.headers.append((key, str(value)))
    _fill_identity(event)
    return event


def parse_xml(payload: bytes) -> Event:
    """Parse a ``text/event-xml`` payload."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(payload)
    except ET.ParseError as exc:
        raise EventParseError(str(exc)) from exc
    event = Event()
    headers = root.find("headers")
    seen: dict[str, int] = {}
    for child in headers if headers is not None else []:
        value = url_decode(child.text or "")
        if child.tag in seen:  # repeated elements are an array header
            idx = seen[child.tag]
            old = event.headers[idx][1]
            event.headers[idx] = (child.tag, [*old, value] if isinstance(old, list) else [old, value])
        else:
            seen[child.tag] = len(event.headers)
            event.headers.append((child.tag, value))
    body = root.find("body")
    if body is not None:
        event.body = body.text or ""
    _fill_identity(event)
    return event


def parse_event(content_type: str, payload: bytes) -> Event:
    """Parse an event payload by its envelope's ``Content-Type``."""
    if content_type == "text/event-plain":
        return parse_plain(payload)
    if content_type == "text/event-json":
        return parse_json(payload)
    if content_type == "text/event-xml":
        return parse_xml(payload)
    raise EventParseError(f"not an event content type: {content_type!r}")


def _fill_identity(event: Event) -> None:
    event.name = event.get("Event-Name") or "CUSTOM"
    event.subclass = event.get("Event-Subclass")
