"""Main-text and metadata extraction with trafilatura, configured for news."""

from __future__ import annotations

from dataclasses import dataclass, field

import trafilatura
from lxml import html as lxml_html
from trafilatura.utils import load_html

from cleaning.config import CleaningConfig


class ExtractionError(ValueError):
    """The HTML could not be parsed."""


@dataclass(frozen=True, slots=True)
class Extraction:
    text: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    sitename: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    page_type: str | None = None
    extras: dict[str, str] = field(default_factory=dict)


def parse_html(html: str) -> lxml_html.HtmlElement:
    try:
        tree = load_html(html)
    except (ValueError, TypeError) as exc:  # lxml raises these for empty or unparsable documents
        raise ExtractionError(f"unparsable HTML: {exc}") from exc
    if tree is None:
        raise ExtractionError("unparsable HTML")
    return tree


def extract_article(html: str, url: str | None, config: CleaningConfig) -> Extraction:
    """Extract the main text and metadata of one page (comments off, trafilatura's dedup off)."""
    tree = parse_html(html)
    doc = trafilatura.bare_extraction(
        tree,
        url=url,
        include_comments=False,
        deduplicate=False,  # its dedup is a process-global cache: output would depend on history
        favor_precision=config.favor_precision,
        favor_recall=config.favor_recall,
        include_tables=config.include_tables,
        with_metadata=True,
    )
    if doc is None or not getattr(doc, "text", None):
        return Extraction(text="")
    return Extraction(
        text=doc.text or "",
        title=doc.title,
        author=doc.author,
        date=doc.date,
        sitename=doc.sitename,
        language=doc.language,
        canonical_url=doc.url,
        page_type=doc.pagetype,
    )
