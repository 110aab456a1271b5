"""The values that flow through cleaning: raw pages in, clean documents or rejects out.

Plain frozen dataclasses with ``to_dict``/``from_dict`` so that every stage boundary (WARC record,
worker process, object store, Parquet row) carries the same fields.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = "1.0"


def _rebuild(record: Any) -> tuple[Any, ...]:
    """Pickle a record as its class and field values: rebuilt through ``__init__``, not the slots
    dataclass's ``__getstate__``/``__setstate__`` (results cross from the cleaning workers; this halves
    the cost of their pickling)."""
    cls = type(record)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    return cls, tuple(getattr(record, name) for name in names)


_FIELDS: dict[type, tuple[str, ...]] = {}


class RejectReason(enum.StrEnum):
    """Every drop has exactly one reason from this enum; it is counted and the reject is stored."""

    HTTP_STATUS = "http_status"  # non-2xx final response
    NOT_HTML = "not_html"  # content type or bytes are not an HTML document (PDF, image, binary)
    TOO_LARGE = "too_large"  # body over the size cap (truncated by the fetcher)
    TRUNCATED = "truncated"  # body shorter than the Content-Length the server announced
    DECODE_FAILED = "decode_failed"  # bytes could not be decoded as text in any plausible encoding
    PARSE_FAILED = "parse_failed"  # HTML could not be parsed into a tree
    EMPTY_EXTRACTION = "empty_extraction"  # the extractor found no main text
    TOO_SHORT = "too_short"  # main text below the minimum length
    NOT_ARTICLE = "not_article"  # index, tag, section, search or listing page
    SOFT_404 = "soft_404"  # an error page served with status 200
    PAYWALL_STUB = "paywall_stub"  # only the teaser of a paywalled article
    EXTRACTION_TIMEOUT = "extraction_timeout"  # cleaning exceeded the per-page time limit
    EXTRACTION_ERROR = "extraction_error"  # the cleaning code raised; detail carries the exception
    FETCH_FAILED = "fetch_failed"  # network error, timeout, DNS, refused (recorded by the crawler)
    BLOCKED_BY_POLICY = "blocked_by_policy"  # robots.txt, SSRF guard, allow-list


@dataclass(frozen=True, slots=True)
class RawPage:
    """One fetched HTTP response, as stored in the raw zone."""

    url: str  # the URL requested (after canonicalisation)
    final_url: str  # the URL of the response after redirects
    status: int
    headers: dict[str, str]  # response headers, lower-cased names
    body: bytes
    fetched_at: str  # ISO 8601 UTC
    source: str
    # Where the record lives in the raw zone; filled by readers of the raw zone.
    raw_object: str = ""
    raw_offset: int = -1
    # Discovery hints (feed/sitemap dates and titles), carried as metadata candidates.
    hints: dict[str, str] = field(default_factory=dict)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass(frozen=True, slots=True)
class Repair:
    """One text repair: a span of the input that was replaced."""

    start: int
    end: int
    original: str
    replacement: str
    kind: str  # e.g. "ftfy", "cjk-mojibake", "html-entity"
    codec: str = ""  # the wrong decoding that was undone, e.g. "utf-8 read as gbk"
    confidence: float = 1.0
    lost_bytes: int = 0  # bytes that were lost upstream and inferred (or marked U+FFFD)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Removal:
    """One line removed from the extracted text, and the rule that removed it."""

    text: str
    rule: str  # rule id, e.g. "ad-label", "learned-boilerplate"
    field: str = "text"  # "text" or "title"

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild(self)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Provenanced:
    """A metadata value and where it came from (json-ld, opengraph, meta, time-element, byline, url, feed)."""

    value: Any
    source: str

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild(self)

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source}


@dataclass(frozen=True, slots=True)
class CleanDocument:
    id: str  # SHA-256 hex of the normalised text
    url: str
    canonical_url: str | None
    source: str
    title: str | None
    text: str
    fetched_at: str
    language: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None  # ISO 8601, with timezone when known
    metadata: dict[str, Provenanced] = field(default_factory=dict)  # field -> value + source
    lineage: dict[str, Any] = field(default_factory=dict)
    repairs: list[Repair] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    # Set by the dedup stage when the document is stored (pipelines/dedup.py).
    near_duplicate_of: str | None = None  # id of the earliest document of its near-duplicate cluster
    similarity: float | None = None  # estimated Jaccard similarity to that document
    story_id: str | None = None  # same-story group (rewrites of one story share it)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "url": self.url,
            "canonical_url": self.canonical_url,
            "urls": sorted({u for u in (self.url, self.canonical_url) if u}),
            "source": self.source,
            "title": self.title,
            "authors": list(self.authors),
            "published": self.published,
            "language": self.language,
            "text": self.text,
            "fetched_at": self.fetched_at,
            "metadata": {k: v.to_dict() for k, v in sorted(self.metadata.items())},
            "lineage": dict(self.lineage),
            "repairs": [r.to_dict() for r in self.repairs],
            "removals": [r.to_dict() for r in self.removals],
            "near_duplicate_of": self.near_duplicate_of,
            "similarity": self.similarity,
            "story_id": self.story_id,
        }


@dataclass(frozen=True, slots=True)
class Rejected:
    url: str
    source: str
    reason: RejectReason
    detail: str = ""
    fetched_at: str = ""
    lineage: dict[str, Any] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuild(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "url": self.url,
            "source": self.source,
            "reason": self.reason.value,
            "detail": self.detail,
            "fetched_at": self.fetched_at,
            "lineage": dict(self.lineage),
        }


CleanResult = CleanDocument | Rejected
