"""Quality gates: is this cleaned text an article worth keeping? Each failure names a ``RejectReason``.

Gates run after noise removal, on the final text, with the page's own metadata and URL as evidence:

- ``NOT_HTML``: the body is not an HTML document although the response says so (JSON, a feed, XML);
- ``SOFT_404``: an error page served with status 200 ("page not found" title or short text);
- ``PAYWALL_STUB``: only the teaser of a paywalled article (short text with a subscribe/log-in wall, or
  JSON-LD ``isAccessibleForFree: false`` and short text);
- ``NOT_ARTICLE``: index, tag, category, author, search or pagination pages: a listing URL with short text,
  or an extraction that was mostly link lists (removed by the structural check) or teaser cards (one
  line beside a headline link to another page, repeated), or an ``og:type`` of
  ``website`` with text made mostly of headline-like short lines (an article type with such text is a
  list-heavy article: results tables, deals, recipes);
- ``TOO_SHORT``: less text than ``CleaningConfig.min_text_chars``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from cleaning.records import RejectReason

Verdict = tuple[RejectReason, str] | None


@dataclass(frozen=True, slots=True)
class GateSettings:
    # Soft 404 / paywall phrases only count on texts shorter than this (a long article may quote them).
    short_text_chars: int = 1500
    # A listing page: at least this many lines, and this share of them headline-like (short, no stop).
    listing_min_lines: int = 8
    listing_headline_share: float = 0.7
    # An extraction whose characters were at least this share link lists is a listing.
    listing_link_share: float = 0.5
    # Text whose lines are at least this share teasers of other pages (a card per line) is a listing.
    listing_teaser_share: float = 0.6
    headline_max_chars: int = 120
    # A listing URL (/tag/…, /category/…, /page/2) is rejected when its text is shorter than this.
    listing_url_max_chars: int = 3000


DEFAULT_GATE_SETTINGS = GateSettings()

# Error-page wording: in the title (anchored forms), or anywhere in a very short text.
_NOT_FOUND_TITLE = re.compile(
    r"^\W*(404|error 404|404 error|error|oops)\b|\b(page not found|404 not found|not found \(404\)|"
    r"seite nicht gefunden|página no encontrada|página não encontrada|page introuvable|pagina non trovata|"
    r"страница не найдена|找不到页面|页面不存在|ページが見つかりません)\b",
    re.IGNORECASE,
)
_NOT_FOUND_TEXT = re.compile(
    r"\b(page|article|content|file|story)( you (are|were) looking for)? (was |is |could |can ?no?t? ?)?(not|no longer) "
    r"(be )?(found|available|exists?)\b|\bpage not found\b|\berror 404\b|\b404 not found\b|"
    r"\b(this|the) page (doesn'?t|does not|no longer) exists?\b|\bsorry,? (we|but) (couldn'?t|can'?t|could not|cannot) find\b|"
    r"seite nicht gefunden|página no encontrada|página não encontrada|page introuvable|pagina non trovata",
    re.IGNORECASE,
)
_PAYWALL = re.compile(
    r"\b(subscribe|subscription|subscribers?) (now |today )?(to (continue|read|keep reading|unlock|access)|only|exclusive)\b|"
    r"\b(to (continue|keep) reading|to read (the full|this|the rest of this) (article|story))\b|"
    r"\balready (a subscriber|have an account|registered)\b|\b(sign|log) in to (continue|read)\b|"
    r"\byou ('?ve|have) (reached|used) (your|all your) (free|monthly) (article|story)? ?(limit|articles|stories)\b|"
    r"\b(this (article|story|content) is (for|available to|reserved for) (subscribers|members|premium))\b|"
    r"\b(premium|exclusive) (content|article) for (subscribers|members)\b|\bunlock (this|the full) (article|story)\b",
    re.IGNORECASE,
)
# The listing segment, then at most the listing's own name and a page number: /tag/politics/page/2/.
_LISTING_PATH = re.compile(
    r"/(tags?|category|categories|topics?|sections?|authors?|archives?|search)(/[^/]+)?/?(page/\d+/?)?$|"
    r"/page/\d+/?$|[?&](s|q|query|search)=",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?…\"”’)。！？]$")


def check_body(body: bytes) -> Verdict:
    """Wrong content type: bytes that are JSON, a feed or XML although the response says HTML.

    >>> check_body(b'{"status": "ok"}')[0].value, check_body(b'<?xml version="1.0"?><rss></rss>')[0].value
    ('not_html', 'not_html')
    >>> check_body(b"<!doctype html><html><body>x</body></html>") is None
    True
    """
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head[:1] in (b"{", b"["):
        return RejectReason.NOT_HTML, "body is JSON"
    xml = head.startswith((b"<?xml", b"<rss", b"<feed", b"<urlset", b"<sitemapindex"))
    if xml and b"<html" not in body[:4096].lower():
        return RejectReason.NOT_HTML, "body is XML (feed or sitemap)"
    return None


def _headline_like(line: str, settings: GateSettings) -> bool:
    return len(line) <= settings.headline_max_chars and not _SENTENCE_END.search(line)


def check_text(
    text: str,
    *,
    url: str,
    title: str | None,
    min_chars: int,
    page_type: str | None = None,
    accessible_for_free: bool | None = None,
    link_list_chars: int = 0,
    teaser_links: int = 0,
    settings: GateSettings = DEFAULT_GATE_SETTINGS,
) -> Verdict:
    """Gates on the cleaned text; None when the page passes.

    >>> check_text("Page not found. Sorry, we couldn't find that page.", url="https://x.org/a", title="404", min_chars=250)[0].value
    'soft_404'
    >>> check_text("A" * 300, url="https://x.org/tag/politics/", title="Politics", min_chars=250)[0].value
    'not_article'
    >>> check_text("A" * 300, url="https://x.org/", title="X", min_chars=250, link_list_chars=900)[0].value
    'not_article'
    >>> long = "The minister said on Monday that the talks would resume next week in Geneva. " * 5
    >>> check_text(long, url="https://x.org/2021/03/talks", title="Talks", min_chars=250) is None
    True
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    short = len(text) < settings.short_text_chars
    if (title and _NOT_FOUND_TITLE.search(title) and short) or (
        len(text) < 600 and _NOT_FOUND_TEXT.search(text)
    ):
        return RejectReason.SOFT_404, f"error page with status 200 (title {title!r})"
    if short and (accessible_for_free is False or _PAYWALL.search(text)):
        why = "isAccessibleForFree: false" if accessible_for_free is False else "subscription wall text"
        return RejectReason.PAYWALL_STUB, f"{len(text)} chars and {why}"
    path = urlsplit(url).path + ("?" + urlsplit(url).query if urlsplit(url).query else "")
    if _LISTING_PATH.search(path) and len(text) < settings.listing_url_max_chars:
        return RejectReason.NOT_ARTICLE, f"listing URL {path!r}"
    if link_list_chars >= settings.listing_link_share * (link_list_chars + len(text)):
        return RejectReason.NOT_ARTICLE, f"{link_list_chars} chars of link lists, {len(text)} chars of text"
    if teaser_links >= 2 and teaser_links >= settings.listing_teaser_share * len(lines):
        return RejectReason.NOT_ARTICLE, f"{teaser_links} of {len(lines)} lines are teasers of other pages"
    if page_type == "website" and len(lines) >= settings.listing_min_lines:
        headlines = sum(1 for line in lines if _headline_like(line, settings))
        if headlines >= settings.listing_headline_share * len(lines):
            return (
                RejectReason.NOT_ARTICLE,
                f"og:type website, {headlines}/{len(lines)} lines are headline-like",
            )
    if len(text) < min_chars:
        return RejectReason.TOO_SHORT, f"{len(text)} chars < {min_chars}"
    return None
