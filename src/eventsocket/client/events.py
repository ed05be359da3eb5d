"""The client's view of an event: dict-like, decoded only as far as it is read.

Why lazy: a typical channel event is about 5 KB of ``Name: url-encoded value`` lines
(150 headers or more), and most applications read three or four of them. Decoding
every value up front, as other Python ESL clients do, costs far more than reading the
socket. A plain event here keeps its payload as bytes and, on arrival, reads only the
``Event-Name`` line (for dispatch). A lookup is a substring search for
``\\nName: `` in those bytes; only the value asked for is percent-decoded and turned
into text, then cached. Iterating the event (``items()``, ``dict(event)``) indexes it
fully, once.

Header names: a lookup returns the first header with exactly that name, or, when there
is none, the first whose name matches in any case (FreeSWITCH's names are
case-insensitive). Iteration yields each distinct name once (first occurrence), so
``dict(event)`` agrees with lookups; repeated headers stay available through
:meth:`Event.get_all` and :meth:`Event.all_items`.

JSON events are decoded with orjson on first access (their values are not URL-encoded),
XML events with the protocol layer's parser. Both then share the same interface.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator, Mapping
from typing import Literal, TypeVar, overload
from urllib.parse import unquote_to_bytes

import orjson

from eventsocket.protocol.events import parse_xml

__all__ = ["Event", "EventFormat", "percent_decode"]

EventFormat = Literal["plain", "json", "xml"]

_MISSING = object()
_T = TypeVar("_T")


def _unquote(data: bytes) -> bytes:
    """Percent-decoding in C: ``%XX`` becomes ``=XX`` for ``binascii.a2b_qp`` (existing ``=``
    escaped first). Every escape that decodes removes two bytes; any other outcome (a ``%``
    not followed by two hex digits) falls back to the standard library's decoder."""
    if b"%" not in data:
        return data
    escapes = data.count(b"%")
    quoted = data.replace(b"=", b"=3D") if b"=" in data else data
    out = binascii.a2b_qp(quoted.replace(b"%", b"="))
    if len(out) == len(data) - 2 * escapes and (b"\n" not in data or out.count(b"\n") == data.count(b"\n")):
        return out
    return unquote_to_bytes(data)


def percent_decode(value: str) -> str:
    """Percent-decode a plain-event value (UTF-8; undecodable bytes kept as surrogates)."""
    if "%" not in value:
        return value
    return _unquote(value.encode("utf-8", "surrogateescape")).decode("utf-8", "surrogateescape")


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


def _array(value: str) -> list[str]:
    return value[7:].split("|:") if value.startswith("ARRAY::") else [value]


class Event(Mapping[str, str]):
    """One event received from the server.

    * ``event["Unique-ID"]``, ``event.get("variable_foo")``, ``"Foo" in event``: a header's
      value, URL-decoded (see the module docstring for how names match);
    * ``event.name`` (``Event-Name``), ``event.subclass``, ``event.uuid`` (``Unique-ID``),
      ``event.body`` (text, or ``None``), ``event.format`` (``plain``/``json``/``xml``);
    * ``event.raw(name)``: the value as it came on the wire (still URL-encoded for plain);
    * ``event.get_array(name)``: an ``ARRAY::a|:b`` header as a list;
    * ``dict(event)``, ``event.items()``: every header name once (first occurrence);
      ``event.all_items()``: every header line, duplicates included, in order.
    """

    __slots__ = ("_body", "_body_start", "_cache", "_decoded", "_encoded", "_hdr_end", "_index", "_items",
                 "_lower", "_name", "_pairs", "_payload", "format")

    format: EventFormat
    _payload: bytes
    _hdr_end: int
    _body_start: int
    _lower: bytes | None
    _pairs: list[tuple[str, str]] | None
    _items: list[tuple[str, str]] | None
    _decoded: dict[str, str] | None
    _index: dict[str, str] | None
    _cache: dict[str, str | None] | None
    _body: object
    _name: str | None
    _encoded: bool

    def __init__(self) -> None:
        # Use the from_* constructors; this one makes an empty event.
        self._init(b"", "plain")
        self._pairs = []
        self._body = None

    def _init(self, payload: bytes, fmt: EventFormat) -> None:
        self.format = fmt
        self._payload = payload
        self._hdr_end = -1  # found on first use
        self._body_start = -1
        self._lower = None
        self._pairs = None
        self._items = None
        self._decoded = None
        self._index = None
        self._cache = None
        self._body = _MISSING
        self._name = None
        self._encoded = fmt == "plain"

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_plain(cls, payload: bytes) -> Event:
        """A ``text/event-plain`` payload; only its ``Event-Name`` is read, for dispatch.

        The hot path of the client: written out in full rather than through ``_init``.
        """
        self = cls.__new__(cls)
        self.format = "plain"
        self._payload = payload
        self._hdr_end = self._body_start = -1
        self._lower = self._pairs = self._items = self._decoded = self._index = self._cache = None
        self._body = _MISSING
        self._encoded = True
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
            self._name = (_unquote(raw) if b"%" in raw else raw).decode("utf-8", "surrogateescape")
        else:
            self._name = None
        return self

    @classmethod
    def from_json(cls, payload: bytes) -> Event:
        """A ``text/event-json`` payload, decoded on first access."""
        self = cls.__new__(cls)
        self._init(payload, "json")
        return self

    @classmethod
    def from_xml(cls, payload: bytes) -> Event:
        """A ``text/event-xml`` payload (parsed at once: XML is the rare, slow format)."""
        parsed = parse_xml(payload)
        self = cls.from_pairs(list(parsed.items()), parsed.body, encoded=False)
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
        self._init(b"", "plain")
        self._pairs = pairs
        self._body = body
        self._encoded = encoded
        return self

    @classmethod
    def from_payload(cls, content_type: str, payload: bytes) -> Event:
        """Build an event from an envelope's ``Content-Type`` and its payload."""
        if content_type == "text/event-plain":
            return cls.from_plain(payload)
        if content_type == "text/event-json":
            return cls.from_json(payload)
        if content_type == "text/event-xml":
            return cls.from_xml(payload)
        raise ValueError(f"not an event content type: {content_type!r}")

    # -- the lazy machinery ----------------------------------------------------------------

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

    def _load_json(self) -> None:
        try:
            data = orjson.loads(self._payload)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"bad event JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError("event JSON is not an object")
        pairs: list[tuple[str, str]] = []
        body = data.get("_body")
        for key, value in data.items():
            if key == "_body" or (key == "Content-Length" and body is not None):
                continue
            if isinstance(value, list):
                pairs.append((key, "ARRAY::" + "|:".join(str(v) for v in value)))
            else:
                pairs.append((key, str(value)))
        self._pairs = pairs
        self._body = None if body is None else str(body)

    def _all_pairs(self) -> list[tuple[str, str]]:
        """Every header line as (name, raw value), in order."""
        pairs = self._pairs
        if pairs is not None:
            return pairs
        if self.format == "json":
            self._load_json()
            assert self._pairs is not None
            return self._pairs
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
        """Every header as (name, decoded value). For a plain event all values are decoded in
        one C-level pass: the block is split into names and values, the values joined,
        percent-decoded at once and split again."""
        items = self._items
        if items is not None:
            return items
        if self._pairs is None and self.format == "plain":
            if self._hdr_end < 0:
                self._bounds()
            raw = self._payload[: self._hdr_end]
            lines = raw.count(b"\n")
            # In FreeSWITCH's serializer every line is "name: value" with the value encoded, so
            # when the block holds exactly one ":" and one " " per line, those are the
            # separators: one-byte replaces and splits (fast in C; two-byte needles are not).
            if raw.count(b":") == lines and raw.count(b" ") == lines:
                parts = raw.replace(b":", b"\n").split(b"\n")
                values = b"\n".join(parts[1::2]).replace(b" ", b"")
                if b"%0A" not in values and b"%0a" not in values:
                    texts = _unquote(values).decode("utf-8", "surrogateescape").split("\n")
                    names = b"\n".join(parts[0:-1:2]).decode("utf-8", "surrogateescape").split("\n")
                    if len(texts) == len(names) == lines:
                        items = self._items = list(zip(names, texts, strict=True))
                        return items
        if self._encoded:
            items = [(k, percent_decode(v)) for k, v in self._all_pairs()]
        else:
            items = list(self._all_pairs())
        self._items = items
        return items

    def _decoded_dict(self) -> dict[str, str]:
        """Name -> decoded value, first occurrence of each exact name."""
        decoded = self._decoded
        if decoded is None:
            items = self._decoded_items()
            decoded = dict(items)
            if len(decoded) != len(items):  # repeated names: the first one wins
                decoded = {}
                for key, value in items:
                    decoded.setdefault(key, value)
            self._decoded = decoded
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
            raw = _unquote(raw)
        return raw.decode("utf-8", "surrogateescape")

    # -- the public interface --------------------------------------------------------------

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, default: str, /) -> str: ...
    @overload
    def get(self, name: str, default: _T, /) -> str | _T: ...

    def get(self, name: str, default: object = None, /) -> object:
        """The header called ``name``, URL-decoded; ``default`` when absent."""
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        else:
            hit = cache.get(name, _MISSING)
            if hit is not _MISSING:
                return default if hit is None else hit
        decoded = self._decoded
        if decoded is not None and name in decoded:
            value: str | None = decoded[name]
        elif self._pairs is None and self.format == "plain":
            value = self._find(name)
        else:
            value = self._indexed(name)
            if value is not None and self._encoded:
                value = percent_decode(value)
        cache[name] = value
        return default if value is None else value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._decoded_dict())

    def __len__(self) -> int:
        return len(self._decoded_dict())

    def to_dict(self) -> dict[str, str]:
        """Every header once (first occurrence of each name), decoded: a fast ``dict(event)``."""
        return self._decoded_dict().copy()

    def raw(self, name: str) -> str | None:
        """The value exactly as received (URL-encoded in plain events)."""
        if self._pairs is None and self.format == "plain":
            self._all_pairs()
        return self._indexed(name)

    def get_all(self, name: str) -> list[str]:
        """Every value of a repeated header (names compared in any case), in order, decoded."""
        low = name.lower()
        return [percent_decode(v) if self._encoded else v for k, v in self._all_pairs() if k.lower() == low]

    def get_array(self, name: str) -> list[str] | None:
        """An array header (``ARRAY::a|:b``) as a list; a plain value as a one-item list."""
        value = self.get(name)
        return None if value is None else _array(value)

    def all_items(self) -> list[tuple[str, str]]:
        """Every header line as (name, decoded value), duplicates included, in wire order."""
        return list(self._decoded_items())

    @property
    def name(self) -> str:
        """``Event-Name`` (for plain events, read on arrival without indexing the rest)."""
        name = self._name
        if name is None:
            name = self._name = self.get("Event-Name") or ""
        return name

    @property
    def subclass(self) -> str | None:
        """``Event-Subclass`` of a CUSTOM event."""
        return self.get("Event-Subclass")

    @property
    def uuid(self) -> str | None:
        """``Unique-ID``: the channel the event is about, if any."""
        return self.get("Unique-ID")

    @property
    def body(self) -> str | None:
        """The event's body as text, or None when it has none."""
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

    @property
    def payload(self) -> bytes:
        """The payload as received (empty for events built from pairs)."""
        return self._payload

    def __repr__(self) -> str:
        sub = self.subclass if self.name == "CUSTOM" else None
        label = f"{self.name} {sub}" if sub else self.name
        uuid = self.uuid
        return f"<Event {label}{' ' + uuid if uuid else ''}>"
