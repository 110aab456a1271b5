"""Per-source fetch state for incremental crawling: what was fetched, with which validators.

A plain value (JSON in, JSON out); the crawl loads it from the store at start and saves it at the
end (pipelines/fetch_state.py). Concurrent runs of one source are safe for the documents (those are
write-once); for this state the last writer wins, which at worst costs a few extra fetches.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import datetime
from typing import Any

STATE_VERSION = 1


# One entry per URL the source ever fetched, all in memory during a crawl: slots, not a per-entry
# ``__dict__`` (80 bytes an entry instead of about 300), and the values that repeat across URLs (the
# fetch second, the discovery date, a server-wide Last-Modified) are interned, so stored once.
@dataclass(slots=True)
class UrlState:
    fetched_at: str = ""  # ISO 8601 UTC of the last fetch (200 or 304)
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None  # hash of the last body received
    lastmod: str | None = None  # the discovery date (sitemap lastmod / feed date) at the last fetch
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k in _FIELDS if (v := getattr(self, k)) not in (None, "")}


_FIELDS = tuple(f.name for f in dataclass_fields(UrlState))
_SHARED = frozenset({"fetched_at", "last_modified", "lastmod"})


def _shared(key: str, value: Any) -> Any:
    return sys.intern(value) if key in _SHARED and isinstance(value, str) else value


@dataclass
class FetchState:
    source: str
    urls: dict[str, UrlState] = field(default_factory=dict)  # canonical URL -> state
    # Set when a server proved its validators wrong (changed content behind an unchanged ETag or
    # Last-Modified): from then on this source gets unconditional requests and content hashes decide.
    distrust_validators: bool = False
    validator_failures: int = 0

    def get(self, url: str) -> UrlState | None:
        return self.urls.get(url)

    def update(self, url: str, **fields: Any) -> UrlState:
        entry = self.urls.get(url)
        if entry is None:
            entry = self.urls[url] = UrlState()
        for key, value in fields.items():
            if value is not None:
                setattr(entry, key, _shared(key, value))
        return entry

    def fetched_within(self, url: str, now: datetime, seconds: float) -> bool:
        entry = self.urls.get(url)
        if entry is None or not entry.fetched_at:
            return False
        try:
            then = datetime.fromisoformat(entry.fetched_at.replace("Z", "+00:00"))
        except ValueError:
            return False
        return (now - then).total_seconds() < seconds

    def to_bytes(self) -> bytes:
        """Gzip'd JSON, ``{"version", "source", "distrust_validators", "validator_failures", "urls": {url:
        state}}`` with the URLs sorted. Encoded and compressed URL by URL: the whole state as one dict of
        dicts and one JSON string would be a transient several times the state's own size, at the end
        of the crawl, when its memory peaks."""
        head = json.dumps(
            {
                "version": STATE_VERSION,
                "source": self.source,
                "distrust_validators": self.distrust_validators,
                "validator_failures": self.validator_failures,
            },
            separators=(",", ":"),
        )
        out = io.BytesIO()
        with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
            gz.write(f'{head[:-1]},"urls":{{'.encode())
            for n, url in enumerate(sorted(self.urls)):
                entry = json.dumps(self.urls[url].to_dict(), separators=(",", ":"))
                gz.write(f"{',' if n else ''}{json.dumps(url)}:{entry}".encode())
            gz.write(b"}}")
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> FetchState:
        payload = json.loads(gzip.decompress(data))
        if payload.get("version") != STATE_VERSION:
            return cls(source)  # an unknown layout: start afresh (costs one full fetch, loses nothing)
        raw: dict[str, dict[str, Any]] = payload.pop("urls")
        urls = {}
        while raw:  # popped as converted: the parsed JSON and the states are not both held whole
            u, s = raw.popitem()
            urls[u] = UrlState(**{k: _shared(k, v) for k, v in s.items() if k in _FIELDS})
        return cls(
            source, urls, bool(payload.get("distrust_validators")), int(payload.get("validator_failures", 0))
        )
