"""The client's view of an event: dict-like, decoded only as far as it is read.

Why lazy: a typical channel event is about 5 KB of ``Name: url-encoded value`` lines
(150 headers or more), and most applications read three or four of them. Decoding
every value up front, as other Python ESL clients do, costs far more than reading the
socket. A plain event here keeps its payload as bytes and does the minimum at arrival
(find the end of the header block and the ``Event-Name`` line). The first header read
decodes the header block to text (one C-level call); each lookup is then a substring
search for ``\\nName: ``, and a value is percent-decoded only when it is read, then
cached. Iterating the event (``items()``, ``dict(event)``) indexes it fully, once.

Lookups are case-insensitive and return the first header of that name, as
FreeSWITCH's own lookups do; duplicates stay available through :meth:`Event.get_all`
and :meth:`Event.all_items`.

JSON events are decoded with orjson on first access (its values are not URL-encoded),
XML events with the protocol layer's parser. Both then share the same interface.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal, TypeVar, overload
from urllib.parse import unquote

import orjson

from eventsocket.protocol.events import parse_xml

__all__ = ["Event", "EventFormat"]

EventFormat = Literal["plain", "json", "xml"]

_MISSING = object()
_T = TypeVar("_T")


def _decode(value: str) -> str:
    if "%" not in value:
        return value
    return unquote(value, errors="surrogateescape")


def _array(value: str) -> list[str]:
    return value[7:].split("|:") if value.startswith("ARRAY::") else [value]


class Event(Mapping[str, str]):
    """One event received from the server.

    * ``event["Unique-ID"]``, ``event.get("variable_foo")``, ``"Foo" in event``: the first
      header of that name (any case), URL-decoded;
    * ``event.name`` (``Event-Name``), ``event.subclass``, ``event.uuid`` (``Unique-ID``),
      ``event.body`` (text, or ``None``);
    * ``event.raw(name)``: the value as it came on the wire (still URL-encoded for plain);
    * ``event.get_array(name)``: an ``ARRAY::a|:b`` header as a list;
    * ``dict(event)``, ``event.items()``: every header once (first occurrence);
      ``event.all_items()``: every header line, duplicates included.
    """

    __slots__ = ("_body", "_cache", "_encoded", "_head", "_head_end", "_index", "_lower", "_name",
                 "_pairs", "_payload", "format")

    def __init__(self) -> None:
        # Use the from_* constructors; this one makes an empty event.
        self.format: EventFormat = "plain"
        self._payload = b""
        self._head_end = 0
        self._head: str | None = "\n"
        self._lower: str | None = None
        self._pairs: list[tuple[str, str]] | None = []
        self._index: dict[str, str] | None = None
        self._cache: dict[str, str | None] | None = None
        self._body: str | object | None = None
        self._name: str | None = None
        self._encoded = True

    # -- construction ----------------------------------------------------------------------

    @classmethod
    def from_plain(cls, payload: bytes) -> Event:
        """A ``text/event-plain`` payload; nothing is decoded yet."""
        self = cls.__new__(cls)
        self.format = "plain"
        self._payload = payload
        end = payload.find(b"\n\n")
        self._head_end = end if end >= 0 else len(payload)
        self._head = None
        self._lower = None
        self._pairs = None
        self._index = None
        self._cache = None
        self._body = _MISSING
        self._name = None
        self._encoded = True
        return self

    @classmethod
    def from_json(cls, payload: bytes) -> Event:
        """A ``text/event-json`` payload, decoded on first access."""
        self = cls.from_plain(b"")
        self.format = "json"
        self._payload = payload
        self._encoded = False
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
        self = cls.from_plain(b"")
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

    def _load_head(self) -> str:
        """Decode the plain header block (without the serializer's own Content-Length)."""
        payload = self._payload
        end = self._head_end
        if len(payload) > end + 2:  # there is a body: the last header line is its Content-Length
            last = payload.rfind(b"\n", 0, end) + 1
            if payload.startswith(b"Content-Length:", last):
                end = last - 1
        head = "\n" + payload[: end + 1].decode("utf-8", "surrogateescape")
        if not head.endswith("\n"):
            head += "\n"
        self._head = head
        return head

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
        head = self._head or self._load_head()
        pairs = []
        for line in head[1:-1].split("\n"):
            key, colon, value = line.partition(": ")
            if not colon:
                key, colon, value = line.partition(":")
                if not colon:
                    continue
            pairs.append((key, value))
        self._pairs = pairs
        return pairs

    def _raw(self, name: str) -> str | None:
        """The first raw value of ``name`` (any case), or None."""
        if self._pairs is not None or self.format != "plain":
            index = self._index
            if index is None:
                index = {}
                for key, value in self._all_pairs():
                    index.setdefault(key.lower(), value)
                self._index = index
            return index.get(name.lower())
        head = self._head or self._load_head()
        key = "\n" + name + ": "
        i = head.find(key)
        if i < 0:
            lower = self._lower
            if lower is None:
                lower = self._lower = head.lower()
                if len(lower) != len(head):  # non-ASCII names change length when lowered
                    self._all_pairs()
                    return self._raw(name)
            i = lower.find(key.lower())
            if i < 0:
                return None
        i += len(key)
        return head[i : head.find("\n", i)]

    # -- the public interface --------------------------------------------------------------

    @overload
    def get(self, name: str, /) -> str | None: ...
    @overload
    def get(self, name: str, default: str, /) -> str: ...
    @overload
    def get(self, name: str, default: _T, /) -> str | _T: ...

    def get(self, name: str, default: object = None, /) -> object:
        """The first header called ``name`` (any case), URL-decoded; ``default`` when absent."""
        cache = self._cache
        if cache is None:
            cache = self._cache = {}
        else:
            hit = cache.get(name, _MISSING)
            if hit is not _MISSING:
                return default if hit is None else hit
        value = self._raw(name)
        if value is not None and self._encoded:
            value = _decode(value)
        cache[name] = value
        return default if value is None else value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._raw(name) is not None

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for key, _ in self._all_pairs():
            low = key.lower()
            if low not in seen:
                seen.add(low)
                yield key

    def __len__(self) -> int:
        return len({key.lower() for key, _ in self._all_pairs()})

    def raw(self, name: str) -> str | None:
        """The value exactly as received (URL-encoded in plain events)."""
        return self._raw(name)

    def get_all(self, name: str) -> list[str]:
        """Every value of a repeated header, in order, decoded."""
        low = name.lower()
        return [_decode(v) if self._encoded else v for k, v in self._all_pairs() if k.lower() == low]

    def get_array(self, name: str) -> list[str] | None:
        """An array header (``ARRAY::a|:b``) as a list; a plain value as a one-item list."""
        value = self.get(name)
        return None if value is None else _array(value)

    def all_items(self) -> list[tuple[str, str]]:
        """Every header line as (name, decoded value), duplicates included, in wire order."""
        if not self._encoded:
            return list(self._all_pairs())
        return [(k, _decode(v)) for k, v in self._all_pairs()]

    @property
    def name(self) -> str:
        """``Event-Name`` (found without decoding the rest of the event)."""
        name = self._name
        if name is not None:
            return name
        if self.format == "plain" and self._pairs is None:
            payload = self._payload
            if payload.startswith(b"Event-Name: "):
                i = 12
            else:
                i = payload.find(b"\nEvent-Name: ", 0, self._head_end)
                i = i + 13 if i >= 0 else -1
            if i >= 0:
                j = payload.find(b"\n", i)
                name = _decode(payload[i:j].decode("utf-8", "surrogateescape"))
        if name is None:
            name = self.get("Event-Name") or ""
        self._name = name
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
                start = self._head_end + 2
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
