"""Cleaning of one raw page: bytes in, a CleanDocument or a Rejected (with its reason) out.

decode → extract → repair → strip noise → normalise → quality gates → content hash.
"""

from __future__ import annotations

import logging

from cleaning.config import CLEANING_VERSION, DEFAULT_CONFIG, CleaningConfig
from cleaning.decode import DecodeError, decode_html
from cleaning.extract import ExtractionError, extract_article
from cleaning.noise import default_rules, strip_noise_lines
from cleaning.normalize import content_sha256, normalize_text
from cleaning.records import CleanDocument, CleanResult, Provenanced, RawPage, Rejected, RejectReason
from cleaning.repair import repair_text_explained

logger = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")
_BINARY_MAGIC = (b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b", b"RIFF", b"\x00\x00\x01\x00")


def _lineage(raw: RawPage, config: CleaningConfig) -> dict[str, object]:
    return {
        "raw_object": raw.raw_object,
        "raw_offset": raw.raw_offset,
        "cleaning_version": CLEANING_VERSION,
        "config_hash": config.config_hash,
        "noise_rules_version": default_rules().version,
    }


def _reject(raw: RawPage, reason: RejectReason, detail: str, config: CleaningConfig) -> Rejected:
    return Rejected(raw.url, raw.source, reason, detail, raw.fetched_at, _lineage(raw, config))


def check_response(raw: RawPage, config: CleaningConfig) -> tuple[RejectReason, str] | None:
    """Gates that need only the response: status, content type, size, binary bytes."""
    if not 200 <= raw.status < 300:
        return RejectReason.HTTP_STATUS, f"HTTP {raw.status}"
    ctype = (raw.content_type or "").split(";")[0].strip().lower()
    if ctype and not ctype.startswith(_HTML_TYPES):
        return RejectReason.NOT_HTML, f"content type {ctype}"
    if len(raw.body) > config.max_html_bytes:
        return RejectReason.TOO_LARGE, f"{len(raw.body)} bytes > {config.max_html_bytes}"
    head = raw.body[:8].lstrip()
    if any(head.startswith(m) for m in _BINARY_MAGIC):
        return RejectReason.NOT_HTML, f"binary content (starts with {head[:4]!r})"
    if not raw.body.strip():
        return RejectReason.EMPTY_EXTRACTION, "empty body"
    return None


def clean_page(raw: RawPage, config: CleaningConfig = DEFAULT_CONFIG) -> CleanResult:
    """Clean one fetched page. Never raises for bad input: every failure is a Rejected with a reason."""
    problem = check_response(raw, config)
    if problem is not None:
        return _reject(raw, *problem, config)
    try:
        decoded = decode_html(raw.body, raw.content_type)
    except DecodeError as exc:
        return _reject(raw, RejectReason.DECODE_FAILED, str(exc), config)
    try:
        extraction = extract_article(decoded.text, raw.final_url or raw.url, config)
    except ExtractionError as exc:
        return _reject(raw, RejectReason.PARSE_FAILED, str(exc), config)
    if not extraction.text.strip():
        return _reject(raw, RejectReason.EMPTY_EXTRACTION, "no main text found", config)

    text, title = extraction.text, extraction.title
    repairs = []
    if config.repair:
        fixed = repair_text_explained(text)
        text, repairs = fixed.text, list(fixed.repairs)
        if title:
            fixed_title = repair_text_explained(title)
            title = fixed_title.text
            repairs.extend(fixed_title.repairs)
    removals = []
    if config.strip_noise:
        text, removals = strip_noise_lines(text)
    text = normalize_text(text)
    title = normalize_text(title) if title else None
    # A title line repeated at the top of the body is the headline, not text.
    if title and text.startswith(title + "\n"):
        text = text[len(title) :].lstrip("\n")

    if not text:
        return _reject(raw, RejectReason.EMPTY_EXTRACTION, "nothing left after noise removal", config)
    if len(text) < config.min_text_chars:
        return _reject(raw, RejectReason.TOO_SHORT, f"{len(text)} chars < {config.min_text_chars}", config)

    metadata: dict[str, Provenanced] = {}
    for name, value in (
        ("title", title),
        ("author", extraction.author),
        ("published", extraction.date),
        ("site_name", extraction.sitename),
        ("canonical_url", extraction.canonical_url),
    ):
        if value:
            metadata[name] = Provenanced(value, "trafilatura")
    lineage = _lineage(raw, config)
    lineage["decoding"] = {"encoding": decoded.encoding, "decided_by": decoded.decided_by}
    return CleanDocument(
        id=content_sha256(text),
        url=raw.url,
        canonical_url=extraction.canonical_url,
        source=raw.source,
        title=title,
        text=text,
        fetched_at=raw.fetched_at,
        language=extraction.language,
        authors=[a.strip() for a in (extraction.author or "").split(";") if a.strip()],
        published=extraction.date,
        metadata=metadata,
        lineage=lineage,
        repairs=repairs,
        removals=removals,
    )
