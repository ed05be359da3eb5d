"""Events and their three wire formats: ``text/event-plain``, ``-json`` and ``-xml``.

One :class:`Event` serves both ends of the socket.

*Built* events (the switch core, ``sendevent``, tests) are an ordered list of headers
(duplicates allowed) plus an optional body, as FreeSWITCH's ``switch_event_t``; lookups
follow ``switch_event_get_header``: the first header with the name in any case.
Serializing is the hot path of event fan-out, so every serialization is cached on the
event: one event delivered to a thousand listeners is encoded at most once per format
(:meth:`Event.frame`).

*Received* events (:meth:`Event.from_plain`, :func:`parse_event`: clients, tests) keep
their payload and are decoded only as far as they are read. A typical channel event is
about 5 KB of ``Name: url-encoded value`` lines (150 headers or more) and most
applications read three or four of them; decoding every value up front, as other Python
ESL clients do, costs far more than reading the socket. A plain event reads only its
``Event-Name`` line on arrival (for dispatch); a lookup is a substring search for
``\\nName: `` in the payload, and only the value asked for is percent-decoded, then
cached. Reading every header (``to_dict()``, ``items()``) decodes the whole block in a
few C-level passes. A lookup returns the first header with exactly that name, or, when
there is none, the first whose name matches in any case. Iteration yields each distinct
name once (first occurrence), so ``dict(event)`` agrees with lookups; repeated headers
stay available through :meth:`Event.get_all` and :meth:`Event.all_items`. JSON events are
decoded with orjson on first access (their values are not URL-encoded); XML events at once.

Changing a received event (``add``, ``set``, ``delete``, ``headers``) turns it into a
built one: its headers are decoded into the list, and from then on it behaves as one. An
unchanged received event serializes to its own payload in its own format, byte for byte.
"""

from __future__ import annotations

import binascii
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Literal, TypeVar, overload

import orjson

from eventsocket.protocol.urlcode import ENCODED, url_decode, url_decode_bytes, url_encode

__all__ = [
    "CONTENT_TYPES",
    "Event",
    "EventFormat",
    "EventParseError",
    "HeaderValue",
    "parse_event",
    "parse_json",
    "parse_plain",
    "parse_xml",
    "to_json",
    "to_plain",
    "to_xml",
    "xml_escape_body",
]

EventFormat = Literal["plain", "json", "xml"]
HeaderValue = str | list[str]

CONTENT_TYPES: dict[str, bytes] = {
    "plain": b"text/event-plain",
    "json": b"text/event-json",
    "xml": b"text/event-xml",
}

_MISSING: object = object()
_T = TypeVar("_T")



class EventParseError(ValueError):
    """An event payload that does not parse in the format its envelope names."""


_KEYS: dict[str, tuple[bytes, bytes]] = {}


def _keys(name: str) -> tuple[bytes, bytes]:
    """``(b"\\nName: ", b"Name: ")`` for a header name, memoized (applications ask for the
    same few names over and over)."""
    keys = _KEYS.get(name)
    if keys is None:
        key = name.encode("utf-8", "surrogateescape") + b": "
        keys = (b"\n" + key, key)
        if len(_KEYS) < 4096:
            _KEYS[name] = keys
    return keys


def _printed(value: HeaderValue) -> str:
    """A header value as FreeSWITCH prints it: arrays as ``ARRAY::a|:b``."""
    return value if isinstance(value, str) else "ARRAY::" + "|:".join(value)


def _array(value: str) -> list[str]:
    return value[7:].split("|:") if value.startswith("ARRAY::") else [value]


def _json_text(value: object) -> str:
    """A JSON member as a header value: arrays as FreeSWITCH prints them."""
    if isinstance(value, list):
        return "ARRAY::" + "|:".join(str(v) for v in value)
    return str(value)


class Event:
    """A FreeSWITCH event, built here or received.

    * ``event["Unique-ID"]``, ``event.get("variable_foo")``, ``"Foo" in event``: a header's
      value (decoded; arrays as FreeSWITCH prints them, ``ARRAY::a|:b``);
    * ``event.name`` (``Event-Name``), ``event.subclass``, ``event.uuid`` (``Unique-ID``),
      ``event.body`` (text, or ``None``), ``event.format`` (``plain``/``json``/``xml``: what
      it was received as; ``plain`` for a built event);
    * ``event.raw(name)``: the value as it came on the wire (still URL-encoded for plain);
    * ``event.get_array(name)``: an ``ARRAY::a|:b`` header as a list;
    * ``dict(event)``, ``event.items()``: every header name once (first occurrence);
      ``event.all_items()``: every header line, duplicates included, in order;
    * ``event.headers``: the header list itself, ``(name, str or list)``, to change in place;
      ``add``/``set``/``delete`` change it as FreeSWITCH's functions do;
    * ``event.serialize(fmt)``, ``event.frame(fmt)``: the wire forms.

    Events compare by identity: two events with the same headers are still two events.
    """

    __slots__ = ("_body", "_body_start", "_cache", "_decoded", "_encoded", "_frames", "_hdr_end", "_headers",
                 "_index", "_items", "_lower", "_name", "_pairs", "_payload", "_strings", "_subclass",
                 "format")

    format: EventFormat
    _headers: list[tuple[str, HeaderValue]] | None
    _name: str | None
    _subclass: object  # str | None, or _MISSING while not read from a received payload
    _body: object  # str | None, or _MISSING while not read from a received payload
    _frames: dict[str, bytes] | None
    # received events only (unset on built ones, which never read them):
    _payload: bytes
    _hdr_end: int
    _body_start: int
    _lower: bytes | None
    _pairs: list[tuple[str, str]] | None
    _items: list[tuple[str, str]] | None
    _decoded: dict[str, str] | None
    _index: dict[str, str] | None
    _cache: dict[str, str | None] | None
    _encoded: bool
    _strings: bool  # every value of _decoded is a str (False only while a JSON event's may not be)

    def __init__(
        self,
        name: str = "CUSTOM",
        headers: Iterable[tuple[str, HeaderValue]] | None = None,
        body: str | None = None,
        subclass: str | None = None,
    ) -> None:
        self._name = name
        self._subclass = subclass
        self._headers = list(headers) if headers else []
        self._body = body
        self._frames = None
        self.format = "plain"
        self._payload = b""

    # -- construction from the wire ----------------------------------------------------------

    def _received(self, payload: bytes, fmt: EventFormat) -> None:
        self.format = fmt
        self._payload = payload
        self._headers = None
        self._frames = None
        self._hdr_end = self._body_start = -1
        self._lower = self._pairs = self._items = self._decoded = self._index = self._cache = None
        self._body = self._subclass = _MISSING
        self._name = None
        self._encoded = fmt == "plain"
        self._strings = True

    @classmethod
    def from_plain(cls, payload: bytes) -> Event:
        """A ``text/event-plain`` payload; only its ``Event-Name`` is read, for dispatch.

        The hot path of the client: written out in full rather than through ``_received``.
        """
        self = cls.__new__(cls)
        self.format = "plain"
        self._payload = payload
        self._headers = self._frames = None
        self._hdr_end = self._body_start = -1
        self._lower = self._pairs = self._items = self._decoded = self._index = self._cache = None
        self._body = self._subclass = _MISSING
        self._encoded = True
        self._strings = True
        # Event-Name is the first line (the second after Event-Subclass).
        if payload.startswith(b"Event-Name: "):
            i = 12
        else:
            i = payload.find(b"\nEvent-Name: ")
            if i >= 0 and payload.find(b"\n\n", 0, i + 1) >= 0:
                i = -1  # that line is in the body
            i = i + 13 if i >= 0 else -1
        if i >= 0:
            raw = payload[i : payload.find(b"\n", i)]
            self._name = (url_decode_bytes(raw) if b"%" in raw else raw).decode("utf-8", "surrogateescape")
        else:
            self._name = None
        return self

    @classmethod
    def from_json(cls, payload: bytes) -> Event:
        """A ``text/event-json`` payload, decoded on first access."""
        self = cls.__new__(cls)
        self._received(payload, "json")
        return self

    @classmethod
    def from_xml(cls, payload: bytes) -> Event:
        """A ``text/event-xml`` payload (parsed at once: XML is the rare, slow format).

        Repeated elements are an array header; values are URL-decoded.
        """
        import xml.etree.ElementTree as ET

        try:
            root = ET.fromstring(payload)
        except ET.ParseError as exc:
            raise EventParseError(str(exc)) from exc
        headers: list[tuple[str, HeaderValue]] = []
        element = root.find("headers")
        seen: dict[str, int] = {}
        for child in element if element is not None else []:
            value = url_decode(child.text or "")
            if child.tag in seen:  # repeated elements are an array header
                idx = seen[child.tag]
                old = headers[idx][1]
                headers[idx] = (child.tag, [*old, value] if isinstance(old, list) else [old, value])
            else:
                seen[child.tag] = len(headers)
                headers.append((child.tag, value))
        body = root.find("body")
        self = cls("", headers, None if body is None else body.text or "")
        self._identity()
        self.format = "xml"
        self._payload = payload
        return self

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]], body: str | None = None, *,
                   encoded: bool = True) -> Event:
        """An event from header pairs, e.g. the channel data of an outbound ``connect`` reply.

        ``encoded`` says whether the values are still URL-encoded (decoded when read).
        """
        self = cls.__new__(cls)
        self._received(b"", "plain")
        self._pairs = pairs
        self._body = body
        self._encoded = encoded
        return self

    @classmethod
    def from_payload(cls, content_type: str, payload: bytes) -> Event:
        """An event from an envelope's ``Content-Type`` and its payload."""
        if content_type == "text/event-plain":
            return cls.from_plain(payload)
        if content_type == "text/event-json":
            return cls.from_json(payload)
        if content_type == "text/event-xml":
            return cls.from_xml(payload)
        raise EventParseError(f"not an event content type: {content_type!r}")

    # -- the lazy machinery of received events ------------------------------------------------

    def _bounds(self) -> None:
        """Where the header lines end (before the serializer's own Content-Length), and where
        the body starts.

        Searching for the blank line with ``find(b"\\n\\n")`` is slow in CPython (a two-byte
        needle skips at most three bytes at a time). Instead: a plain event without a body
        ends with its blank line, and one with a body has ``Content-Length: <n>`` as its last
        header line, right before the blank line, with ``n`` the size of what follows; both
        are found with long needles or none at all.
        """
        payload = self._payload
        size = len(payload)
        start = 0
        while True:
            k = payload.find(b"Content-Length: ", start)
            if k < 0:
                break
            eol = payload.find(b"\n", k)
            if eol < 0:
                break
            if (k == 0 or payload[k - 1] == 10) and payload[eol + 1 : eol + 2] == b"\n":
                digits = payload[k + 16 : eol]
                if digits.isdigit() and int(digits) == size - eol - 2 > 0:
                    self._hdr_end, self._body_start = k, eol + 2
                    return
            start = eol
        if payload.endswith(b"\n\n"):
            self._hdr_end, self._body_start = size - 1, size
            return
        if payload[:1] == b"\n":
            self._hdr_end, self._body_start = 0, 1
            return
        end = payload.find(b"\n\n")  # not FreeSWITCH's serializer: the general way
        if end < 0:
            self._hdr_end = self._body_start = size
        else:
            self._hdr_end, self._body_start = end + 1, end + 2

    def _json(self) -> dict[str, object]:
        try:
            data = orjson.loads(self._payload)
        except orjson.JSONDecodeError as exc:
            raise EventParseError(f"bad event JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise EventParseError("event JSON is not an object")
        return data

    def _load_json(self) -> None:
        """Decode a JSON event (on first access): orjson's object is the name -> value dict
        as it is; values that are not strings (arrays; numbers from peers that are not
        FreeSWITCH) are printed when read. Repeated names collapse to the last one (orjson);
        the serializer's ``Content-Length`` next to ``_body`` is not a header."""
        data = self._json()
        body = data.pop("_body", None)
        if body is not None:
            data.pop("Content-Length", None)
        if self._body is _MISSING:
            self._body = None if body is None else str(body)
        self._decoded = data  # type: ignore[assignment]  # made all strings by _json_strings
        self._strings = False

    def _json_strings(self) -> dict[str, str]:
        """The decoded dict of a JSON event with every value a string."""
        if self._decoded is None:
            self._load_json()
        decoded = self._decoded
        assert decoded is not None
        if not self._strings:
            try:
                "".join(decoded.values())  # a C-level check that every value is a str
            except TypeError:
                decoded = self._decoded = {key: _json_text(value) for key, value in decoded.items()}
            self._strings = True
        return decoded

    def _all_pairs(self) -> list[tuple[str, str]]:
        """Every header line of a received event as (name, raw value), in order."""
        pairs = self._pairs
        if pairs is not None:
            return pairs
        if self.format == "json":
            pairs = self._pairs = list(self._json_strings().items())
            return pairs
        if self._hdr_end < 0:
            self._bounds()
        head = self._payload[: self._hdr_end].decode("utf-8", "surrogateescape")
        # Encoded values hold no ": " and no line break, so every line is exactly name, value:
        # turning ": " into a line break splits the whole block in C.
        lines = head.count("\n")
        parts = head.replace(": ", "\n").split("\n")
        if len(parts) == 2 * lines + 1:
            pairs = list(zip(parts[0:-1:2], parts[1::2], strict=True))
        else:  # a line without ": " (not FreeSWITCH's serializer): line by line
            pairs = []
            for line in head.split("\n"):
                key, colon, value = line.partition(": ")
                if not colon:
                    key, colon, value = line.partition(":")
                    if not colon:
                        continue
                pairs.append((key, value))
        self._pairs = pairs
        return pairs

    def _decoded_items(self) -> list[tuple[str, str]]:
        """Every header of a received event as (name, decoded value). For a plain event all
        values are decoded in one C-level pass: the block is split into names and values, the
        values joined, percent-decoded at once and split again."""
        items = self._items
        if items is not None:
            return items
        if self._pairs is None and self.format == "plain":
            if self._hdr_end < 0:
                self._bounds()
            raw = self._payload[: self._hdr_end]
            lines = raw.count(b"\n")
            # In FreeSWITCH's serializer every line is "name: value" with the value encoded, so
            # when the block holds exactly one ":" and one " " per line, next to each other,
            # those are the separators: one-byte replaces and splits.
            if raw.count(b":") == lines and raw.count(b" ") == lines and raw.count(b": ") == lines:
                parts = raw.replace(b":", b"\n").split(b"\n")
                values = b"\n".join(parts[1::2]).replace(b" ", b"")
                if b"%0A" not in values and b"%0a" not in values:
                    texts = url_decode_bytes(values).decode("utf-8", "surrogateescape").split("\n")
                    names = b"\n".join(parts[0:-1:2]).decode("utf-8", "surrogateescape").split("\n")
                    if len(texts) == len(names) == lines:
                        items = self._items = list(zip(names, texts, strict=True))
                        return items
        if self._encoded:
            items = [(k, url_decode(v)) for k, v in self._all_pairs()]
        else:
            items = list(self._all_pairs())
        self._items = items
        return items

    def _plain_dict(self) -> dict[str, str] | None:
        """Every header of a plain payload in FreeSWITCH's serialized form, decoded, as a dict
        (first occurrence of each name); None when the block is not in that form (the general
        path then decodes it).

        Reading every header is what many applications do, so it is done in C: the header
        block becomes a JSON array of names and values with three one-byte replaces
        (``Name: value`` lines with encoded values hold no quote, no backslash, no second
        colon or space), orjson parses it (names exactly as sent, never percent-decoded), the
        values are joined and percent-decoded in one pass, and the dict is built from the
        names and the decoded values. Whatever does not fit (a line in another form, invalid
        UTF-8, a bad escape) makes the JSON invalid or a count differ, and returns None.
        """
        if self._hdr_end < 0:
            self._bounds()
        raw = self._payload[: self._hdr_end]
        if not raw.endswith(b"\n") or b'"' in raw or b"\\" in raw:
            return None
        named = raw.replace(b":", b'",').replace(b" ", b' "')
        joined = named.replace(b"\n", b'","')
        lines = (len(joined) - len(named)) // 2  # each line break grew by two bytes
        try:
            flat: list[str] = orjson.loads(b"".join((b'["', joined, b'"]')))
        except orjson.JSONDecodeError:
            return None
        if len(flat) != 2 * lines + 1:  # name, value per line, and "" after the last line break
            return None
        # Tabs cannot be in a JSON string: joined by tabs, the values can be split again, and
        # a "%" at a value's end does not make a quoted-printable soft line break.
        values = "\t".join(flat[1::2])
        if "%" not in values:
            texts = values.split("\t")
        elif "=" not in values and values[-1] != "%" and values.isascii():
            # %XX -> =XX for binascii's quoted-printable decoder; an escape it cannot decode
            # leaves its "=" behind
            out = binascii.a2b_qp(values.replace("%", "="))
            if b"=" in out:
                return None
            texts = out.decode("utf-8", "surrogateescape").split("\t")
        else:
            texts = url_decode(values).split("\t")
        if len(texts) != lines:  # a decoded value held a tab
            return None
        names = flat[0:-1:2]
        decoded = dict(zip(names, texts, strict=True))
        if len(decoded) != lines:  # repeated names: the first one wins, in its place
            decoded.update(zip(reversed(names), reversed(texts), strict=True))
        return decoded

    def _decoded_dict(self) -> dict[str, str]:
        """Name -> decoded value, first occurrence of each exact name."""
        decoded = self._decoded
        if decoded is None and self._pairs is None:
            if self.format == "plain":
                decoded = self._decoded = self._plain_dict()
            elif self.format == "json":
                return self._json_strings()
        if decoded is None:
            decoded = self._decoded = self._general_dict()
        elif not self._strings:
            return self._json_strings()
        return decoded

    def _general_dict(self) -> dict[str, str]:
        items = self._decoded_items()
        decoded = dict(items)
        if len(decoded) != len(items):  # repeated names: the first one wins (kept in place)
            decoded.update(zip(reversed([k for k, _ in items]), reversed([v for _, v in items]), strict=True))
        return decoded

    def _indexed(self, name: str) -> str | None:
        index = self._index
        if index is None:
            index = {}
            for key, value in self._all_pairs():
                index.setdefault(key, value)
            for key, value in self._all_pairs():
                index.setdefault("\0" + key.lower(), value)
            self._index = index
        found = index.get(name)
        return found if found is not None else index.get("\0" + name.lower())

    def _find(self, name: str) -> str | None:
        """The first value of ``name`` in a plain payload, decoded: exact name first, then any
        case."""
        payload = self._payload
        lf_key, key = _KEYS.get(name) or _keys(name)
        if payload.startswith(key):
            i = len(key)
        else:
            # Search the whole payload first: headers come before the body, so a match is a
            # header unless a body starts before it, which can only be if the serializer's
            # Content-Length line precedes (or is) the match. Most lookups (early headers,
            # events without a body) never need the header block's bounds.
            i = payload.find(lf_key)
            if i >= 0 and self._hdr_end < 0 and payload.rfind(b"Content-Length: ", 0, i + 17) >= 0:
                self._bounds()
            if i >= 0 and (self._hdr_end < 0 or i + 1 < self._hdr_end):
                i += len(lf_key)
            else:
                if self._hdr_end < 0:
                    self._bounds()
                end = self._hdr_end
                lower = self._lower
                if lower is None:
                    lower = self._lower = payload[:end].lower()
                key = key.lower()
                if lower.startswith(key):
                    i = len(key)
                else:
                    i = lower.find(b"\n" + key)
                    if i < 0:
                        return None
                    i += len(key) + 1
        j = payload.find(b"\n", i)
        raw = payload[i : j if j >= 0 else len(payload)]
        if b"%" in raw:
            raw = url_decode_bytes(raw)
        return raw.decode("utf-8", "surrogateescape")

    def _received_get(self, name: str) -> str | None:
        decoded = self._decoded
        if decoded is None and self.format == "json" and self._pairs is None:
            self._load_json()
            decoded = self._decoded
        if decoded is not None:
            found = decoded.get(name)
            if found is not None:
                return found if found.__class__ is str else _json_text(found)
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        else:
            hit = cache.get(name, _MISSING)
            if hit is not _MISSING:
                return hit  # type: ignore[return-value]
        if self._pairs is None and self.format == "plain":
            value: str | None = self._find(name)
        else:
            value = self._indexed(name)
            if value is not None and self._encoded:
                value = url_decode(value)
        cache[name] = value
        return value

    def _received_body(self) -> str | None:
        body = self._body
        if body is _MISSING:
            if self.format == "json":
                self._load_json()
                body = self._body
            else:
                if self._body_start < 0:
                    self._bounds()
                start = self._body_start
                payload = self._payload
                body = payload[start:].decode("utf-8", "surrogateescape") if len(payload) > start else None
                self._body = body
        return body  # type: ignore[return-value]

    def _materialize(self) -> list[tuple[str, HeaderValue]]:
        """Turn a received event into a built one: its decoded headers become the list."""
        name, subclass, body = self.name, self.subclass, self.body
        headers: list[tuple[str, HeaderValue]]
        if self.format == "json":
            headers = []
            data = self._json()
            for key, value in data.items():
                if key == "_body" or (key == "Content-Length" and "_body" in data):
                    continue
                headers.append((key, [str(v) for v in value] if isinstance(value, list) else str(value)))
        else:
            headers = list(self._decoded_items())
        self._headers = headers
        self._name, self._subclass, self._body = name, subclass, body
        return headers

    # -- headers ---------------------------------------------------------------------------

    @property
    def headers(self) -> list[tuple[str, HeaderValue]]:
        """The ordered header list ``(name, str or list)``, to read or change in place (call
        :meth:`invalidate` after changing it in place once the event was framed)."""
        headers = self._headers
        return headers if headers is not None else self._materialize()

    @headers.setter
    def headers(self, value: list[tuple[str, HeaderValue]]) -> None:
        if self._headers is None:
            self._materialize()
        self._headers = value

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, default: str, /) -> str: ...
    @overload
    def get(self, name: str, default: _T, /) -> str | _T: ...

    def get(self, name: str, default: object = None, /) -> object:
        """The header called ``name`` (see the class docstring for how names match); arrays
        come back as FreeSWITCH prints them; ``default`` when absent."""
        headers = self._headers
        if headers is not None:
            lname = name.lower()
            for key, value in headers:
                if key == name or key.lower() == lname:
                    return value if value.__class__ is str else _printed(value)
            return default
        found = self._received_get(name)
        return default if found is None else found

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
        """Remove every header called ``name`` (any case), or only those equal to ``value``.

        In place: whoever holds the header list (or its ``append``) keeps adding to this event.
        """
        lname = name.lower()
        self._frames = None
        headers = self.headers
        headers[:] = [
            (k, v) for k, v in headers if not (k.lower() == lname and (value is None or v == value))
        ]

    def all_items(self) -> list[tuple[str, str]]:
        """Every header line as (name, value), duplicates included, in order; arrays printed."""
        headers = self._headers
        if headers is not None:
            return [(key, _printed(value)) for key, value in headers]
        return list(self._decoded_items())

    def to_dict(self) -> dict[str, str]:
        """Every header once (first occurrence of each name), decoded: a fast ``dict(event)``.

        Each call returns a new dict, built in a few C-level passes for received events.
        """
        headers = self._headers
        if headers is None:
            untouched = self._decoded is None and self._pairs is None and self._items is None
            if untouched and self.format == "plain":
                fresh = self._plain_dict()
                if fresh is not None:
                    return fresh
                self._decoded = self._general_dict()  # not in the serializer's form
            return self._decoded_dict().copy()
        result: dict[str, str] = {}
        for key, value in headers:
            if key not in result:
                result[key] = _printed(value)
        return result

    def _first_values(self) -> dict[str, str]:
        return self._decoded_dict() if self._headers is None else self.to_dict()

    def keys(self) -> KeysView[str]:
        return self._first_values().keys()

    def values(self) -> ValuesView[str]:
        return self._first_values().values()

    def items(self) -> ItemsView[str, str]:
        """Every header name once (first occurrence) with its value; see :meth:`all_items`."""
        return self._first_values().items()

    def __iter__(self) -> Iterator[str]:
        return iter(self._first_values())

    def __len__(self) -> int:
        return len(self._first_values())

    def raw(self, name: str) -> str | None:
        """The value exactly as received (URL-encoded in plain events)."""
        if self._headers is not None:
            return self.get(name)
        if self._pairs is None and self.format == "plain":
            self._all_pairs()
        return self._indexed(name)

    def get_all(self, name: str) -> list[str]:
        """Every value of a repeated header (names compared in any case), in order, decoded."""
        low = name.lower()
        if self._headers is not None:
            return [_printed(v) for k, v in self._headers if k.lower() == low]
        return [url_decode(v) if self._encoded else v for k, v in self._all_pairs() if k.lower() == low]

    def get_array(self, name: str) -> list[str] | None:
        """An array header (``ARRAY::a|:b``) as a list; a plain value as a one-item list."""
        value = self.get(name)
        return None if value is None else _array(value)

    # -- identity ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """``Event-Name`` (for received plain events, read on arrival without indexing the rest)."""
        name = self._name
        if name is None:
            name = self._name = self.get("Event-Name") or ""
        return name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def subclass(self) -> str | None:
        """``Event-Subclass`` of a CUSTOM event."""
        subclass = self._subclass
        if subclass is _MISSING:
            subclass = self._subclass = self.get("Event-Subclass")
        return subclass  # type: ignore[return-value]

    @subclass.setter
    def subclass(self, value: str | None) -> None:
        self._subclass = value

    @property
    def uuid(self) -> str | None:
        """``Unique-ID``: the channel the event is about, if any."""
        return self.get("Unique-ID")

    @property
    def body(self) -> str | None:
        """The event's body as text, or None when it has none."""
        body = self._body
        if body is _MISSING:
            return self._received_body()
        return body  # type: ignore[return-value]

    @body.setter
    def body(self, value: str | None) -> None:
        self._body = value

    @property
    def payload(self) -> bytes:
        """The payload as received (empty for events built here or from pairs)."""
        return self._payload

    def _identity(self) -> None:
        """Name and subclass from the headers, as a parser of the switch's events has them."""
        self._name = self.get("Event-Name") or "CUSTOM"
        self._subclass = self.get("Event-Subclass")

    def copy(self) -> Event:
        """An independent built copy (headers, body, name, subclass)."""
        return Event(self.name, list(self.headers), self.body, self.subclass)

    def invalidate(self) -> None:
        """Forget cached serializations after the headers or body were changed in place."""
        self._frames = None

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return object.__hash__(self)

    def __repr__(self) -> str:
        if self._headers is not None:
            tail = f" {self.subclass}" if self.subclass else ""
            return f"<Event {self.name}{tail} {len(self._headers)} headers>"
        sub = self.subclass if self.name == "CUSTOM" else None
        label = f"{self.name} {sub}" if sub else self.name
        uuid = self.uuid
        return f"<Event {label}{' ' + uuid if uuid else ''}>"

    # -- serialization ---------------------------------------------------------------------

    def _ordered(self) -> list[tuple[str, HeaderValue]]:
        """Headers in delivery order: a listener's copy puts ``Event-Subclass`` first."""
        headers = self.headers
        subclass = self.subclass
        if not subclass:
            return headers
        rest = [(k, v) for k, v in headers if k != "Event-Subclass"]
        return [("Event-Subclass", subclass), *rest]

    def serialize(self, fmt: EventFormat = "plain") -> bytes:
        """The event payload (without the envelope) in ``fmt``. An unchanged received event
        gives back its own payload in its own format."""
        if self._headers is None and fmt == self.format and self._payload:
            return self._payload
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


Mapping.register(Event)


def _array_text(value: list[str]) -> str:
    return "ARRAY::" + "|:".join(value)


class _PlainLines(dict[tuple[str, str], str]):
    """``Name: encoded value\n`` by (name, value): a channel's header pairs repeat in every
    event of its call, so most lines are found here (in C, through ``map``). Bounded: cleared
    when full."""

    limit = 1 << 14

    def __missing__(self, header: tuple[str, str]) -> str:
        key, value = header
        # an empty value is written _undef_, as FreeSWITCH does
        text = f"{key}: {ENCODED.get(value) or url_encode(value) or '_undef_'}\n"
        if key in _ONCE_PER_EVENT:
            return text  # never seen again: kept out, so the lines that do repeat stay
        if len(self) >= self.limit:
            self.clear()
        self[header] = text
        return text


_PLAIN_LINES = _PlainLines()
_ONCE_PER_EVENT = frozenset({"Event-Sequence", "Event-Date-Timestamp"})


def to_plain(headers: Iterable[tuple[str, HeaderValue]], body: str | None) -> bytes:
    """``switch_event_serialize``: ``Name: url-encoded value`` lines, then the body."""
    enc = url_encode
    if headers.__class__ is not list:
        headers = list(headers)
    try:
        text = "".join(map(_PLAIN_LINES.__getitem__, headers))
    except TypeError:  # an array value (unhashable): printed as FreeSWITCH does
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


def parse_plain(payload: bytes) -> Event:
    """A ``text/event-plain`` payload as an :class:`Event` (values URL-decoded when read).

    Like every parser here, the name defaults to ``CUSTOM`` when there is no ``Event-Name``.
    """
    event = Event.from_plain(payload)
    event._identity()
    return event


def parse_json(payload: bytes) -> Event:
    """A ``text/event-json`` payload (duplicate keys collapse to the last one); checked now."""
    event = Event.from_json(payload)
    event._json_strings()
    event._identity()
    return event


def parse_xml(payload: bytes) -> Event:
    """A ``text/event-xml`` payload."""
    return Event.from_xml(payload)


def parse_event(content_type: str, payload: bytes) -> Event:
    """Parse an event payload by its envelope's ``Content-Type`` (what the clients do)."""
    if content_type == "text/event-plain":
        return parse_plain(payload)
    if content_type == "text/event-json":
        return parse_json(payload)
    if content_type == "text/event-xml":
        return parse_xml(payload)
    raise EventParseError(f"not an event content type: {content_type!r}")
