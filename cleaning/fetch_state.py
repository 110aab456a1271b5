"""Per-source fetch state for incremental crawling: what was fetched, with which validators.

A plain value (JSON in, JSON out); the crawl loads it from the store at start and saves it at the
end (pipelines/fetch_state.py). Concurrent runs of one source are safe for the documents (those are
write-once); for this state the last writer wins, which at worst costs a few extra fetches.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATE_VERSION = 1


@dataclass
class UrlState:
    fetched_at: str = ""  # ISO 8601 UTC of the last fetch (200 or 304)
    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None  # hash of the last body received
    lastmod: str | None = None  # the discovery date (sitemap lastmod / feed date) at the last fetch
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


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
        entry = self.urls.setdefault(url, UrlState())
        for key, value in fields.items():
            if value is not None:
                setattr(entry, key, value)
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
        payload = {
            "version": STATE_VERSION,
            "source": self.source,
            "distrust_validators": self.distrust_validators,
            "validator_failures": self.validator_failures,
            "urls": {u: s.to_dict() for u, s in sorted(self.urls.items())},
        }
        return gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), mtime=0)

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> FetchState:
        payload = json.loads(gzip.decompress(data))
        if payload.get("version") != STATE_VERSION:
            return cls(source)  # an unknown layout: start afresh (costs one full fetch, loses nothing)
        known = UrlState.__dataclass_fields__
        urls = {u: UrlState(**{k: v for k, v in s.items() if k in known}) for u, s in payload["urls"].items()}
        return cls(source, urls, bool(payload.get("distrust_validators")), int(payload.get("validator_failures", 0)))
