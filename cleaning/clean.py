"""Cleaning of one raw page: bytes in, a CleanDocument or a Rejected (with its reason) out.

check response → decode → parse → page metadata → extract (trafilatura + structural check) → repair
→ strip noise lines → strip page echoes (headline, own URL) → normalise → quality gates → metadata
(declarations, then bylines/datelines cut from the text, then URL and language guess) → content hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from functools import cached_property

from cleaning.config import CLEANING_VERSION, DEFAULT_CONFIG, CleaningConfig
from cleaning.decode import DecodeError, decode_html
from cleaning.extract import (
    DEFAULT_EXTRACTION_SETTINGS,
    ExtractionError,
    ExtractionSettings,
    extract_article,
    parse_html,
)
from cleaning.gates import DEFAULT_GATE_SETTINGS, GateSettings, check_body, check_text
from cleaning.language import DEFAULT_LANGUAGE_SETTINGS, LanguageSettings
from cleaning.metadata import read_page_metadata, resolve_metadata
from cleaning.noise import default_rules, strip_noise_lines, strip_page_echoes
from cleaning.normalize import content_sha256, normalize_text
from cleaning.records import (
    CleanDocument,
    CleanResult,
    Provenanced,
    RawPage,
    Rejected,
    RejectReason,
    Removal,
    Repair,
)
from cleaning.repair import repair_text_explained

logger = logging.getLogger(__name__)

_HTML_TYPES = ("text/html", "application/xhtml+xml", "application/xml", "text/xml", "text/plain")
_BINARY_MAGIC = (
    b"%PDF",
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"RIFF",
    b"\x00\x00\x01\x00",
)


@dataclass(frozen=True)
class CleanSettings:
    """Settings of the stages owned by this package's modules (CleaningConfig holds the shared ones)."""

    extraction: ExtractionSettings = DEFAULT_EXTRACTION_SETTINGS
    gates: GateSettings = DEFAULT_GATE_SETTINGS
    language: LanguageSettings = DEFAULT_LANGUAGE_SETTINGS

    @cached_property
    def settings_hash(self) -> str:
        """Short stable hash of these settings and the noise rules' version, stamped on every output."""
        payload = json.dumps(
            {"settings": asdict(self), "noise_rules": default_rules().version}, sort_keys=True
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:16]


DEFAULT_CLEAN_SETTINGS = CleanSettings()


def _lineage(raw: RawPage, config: CleaningConfig, settings: CleanSettings) -> dict[str, object]:
    return {
        "raw_object": raw.raw_object,
        "raw_offset": raw.raw_offset,
        "cleaning_version": CLEANING_VERSION,
        "config_hash": config.config_hash,
        "settings_hash": settings.settings_hash,
        "noise_rules_version": default_rules().version,
    }


def _reject(
    raw: RawPage, reason: RejectReason, detail: str, config: CleaningConfig, settings: CleanSettings
) -> Rejected:
    return Rejected(raw.url, raw.source, reason, detail, raw.fetched_at, _lineage(raw, config, settings))


def check_response(raw: RawPage, config: CleaningConfig) -> tuple[RejectReason, str] | None:
    """Gates that need only the response: status, content type, size, binary or non-HTML bytes."""
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
    if not raw.body or raw.body.isspace():  # not ``body.strip()``, which copies the body
        return RejectReason.EMPTY_EXTRACTION, "empty body"
    return check_body(raw.body)


def clean_page(
    raw: RawPage, config: CleaningConfig = DEFAULT_CONFIG, *, settings: CleanSettings = DEFAULT_CLEAN_SETTINGS
) -> CleanResult:
    """Clean one fetched page. Never raises for bad input: every failure is a Rejected with a reason."""
    try:
        return _clean(raw, config, settings)
    except Exception as exc:  # a bug or a pathological page must not stop a partition; the reject says what
        logger.warning("cleaning raised on %s: %r", raw.url, exc)
        return _reject(raw, RejectReason.EXTRACTION_ERROR, f"{type(exc).__name__}: {exc}", config, settings)


def _clean(raw: RawPage, config: CleaningConfig, settings: CleanSettings) -> CleanResult:
    problem = check_response(raw, config)
    if problem is not None:
        return _reject(raw, *problem, config, settings)
    try:
        decoded = decode_html(raw.body, raw.content_type)
    except DecodeError as exc:
        reason = RejectReason.NOT_HTML if exc.reason == "binary" else RejectReason.DECODE_FAILED
        return _reject(raw, reason, str(exc), config, settings)
    url = raw.final_url or raw.url
    try:
        tree = parse_html(decoded.text)
    except ExtractionError as exc:
        return _reject(raw, RejectReason.PARSE_FAILED, str(exc), config, settings)
    page = read_page_metadata(tree, url)
    extraction = extract_article(tree, url, config, settings.extraction)
    if not extraction.text.strip():
        return _reject(raw, RejectReason.EMPTY_EXTRACTION, "no main text found", config, settings)

    text = extraction.text
    title = str(page.fields["title"].value) if "title" in page.fields else None
    repairs: list[Repair] = []
    if config.repair:
        fixed = repair_text_explained(text)
        text, repairs = fixed.text, list(fixed.repairs)
        if title:
            fixed_title = repair_text_explained(title)
            title = fixed_title.text
            repairs.extend(fixed_title.repairs)
    removals: list[Removal] = list(extraction.removals)
    if config.strip_noise:
        text, noise = strip_noise_lines(text)
        removals.extend(noise)
    # After the noise rules: the headline often sits below crumbs and ad labels.
    canonical = page.fields.get("canonical_url")
    text, echoes = strip_page_echoes(
        text,
        [*page.title_candidates, *([title] if title else [])],
        urls=[raw.url, url, str(canonical.value) if canonical else ""],
    )
    removals.extend(echoes)
    text = normalize_text(text)
    title = normalize_text(title) if title else None

    if not text:
        return _reject(
            raw, RejectReason.EMPTY_EXTRACTION, "nothing left after noise removal", config, settings
        )
    verdict = check_text(
        text,
        url=url,
        title=title,
        min_chars=config.min_text_chars,
        page_type=page.page_type,
        accessible_for_free=page.accessible_for_free,
        link_list_chars=sum(len(r.text) for r in extraction.removals if r.rule == "link-list"),
        teaser_links=extraction.teaser_links,
        settings=settings.gates,
    )
    if verdict is not None:
        return _reject(raw, *verdict, config, settings)

    metadata, authors = resolve_metadata(
        page, url=url, text=text, removals=removals, language_settings=settings.language
    )
    if title and "title" in metadata:
        metadata["title"] = Provenanced(title, metadata["title"].source)  # the repaired, normalised form
    lineage = _lineage(raw, config, settings)
    lineage["decoding"] = {"encoding": decoded.encoding, "decided_by": decoded.decided_by}
    lineage["extraction"] = {"passes": list(extraction.passes)}
    language = metadata.get("language")
    published = metadata.get("published")
    return CleanDocument(
        id=content_sha256(text),
        url=raw.url,
        canonical_url=str(canonical.value) if canonical else None,
        source=raw.source,
        title=title,
        text=text,
        fetched_at=raw.fetched_at,
        language=str(language.value) if language else None,
        authors=authors,
        published=str(published.value) if published else None,
        metadata=metadata,
        lineage=lineage,
        repairs=repairs,
        removals=removals,
    )
