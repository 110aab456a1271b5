"""Parsing of discovery documents: RSS/Atom feeds and sitemaps (indexes, urlsets, news sitemaps, gzip).

Plain functions over bytes, so they are tested without Scrapy. XML is parsed without entity
resolution, network access or huge-tree mode (defused against XML bombs); gzip is decompressed
with a size cap (defused against gzip bombs).
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import feedparser
from lxml import etree

from cleaning.records import RejectReason


class DiscoveryError(ValueError):
    """A feed or sitemap is not what it claims to be (or is too big, or malicious); ``reason`` is the
    reject reason recorded for the document."""

    def __init__(self, message: str, reason: RejectReason = RejectReason.PARSE_FAILED):
        super().__init__(message)
        self.reason = reason


# An entity declaration anywhere in the document (comments may push it past any prefix we could check):
# feeds and sitemaps have no use for entities, and refusing them outright defuses entity-expansion
# bombs and external entities whatever the parser would have done.
_ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Entry:
    url: str
    date: datetime | None = None  # lastmod / news publication date / feed item date (UTC)
    title: str | None = None
    kind: str = "page"  # "page" or "sitemap" (a child of a sitemap index)


def gunzip_capped(data: bytes, max_size: int) -> bytes:
    """Decompress gzip data, refusing output larger than ``max_size`` (gzip bombs)."""
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = io.BytesIO()
    chunk_in = io.BytesIO(data)
    while block := chunk_in.read(64 * 1024):
        out.write(decomp.decompress(block, max_size + 1 - out.tell()))
        if out.tell() > max_size:
            raise DiscoveryError(f"gzip data decompresses to more than {max_size} bytes", RejectReason.TOO_LARGE)
        while decomp.unconsumed_tail:
            out.write(decomp.decompress(decomp.unconsumed_tail, max_size + 1 - out.tell()))
            if out.tell() > max_size:
                raise DiscoveryError(f"gzip data decompresses to more than {max_size} bytes", RejectReason.TOO_LARGE)
    return out.getvalue()


def maybe_gunzip(body: bytes, max_size: int) -> bytes:
    if body[:2] == b"\x1f\x8b":
        try:
            return gunzip_capped(body, max_size)
        except (OSError, EOFError, zlib.error) as exc:
            raise DiscoveryError(f"corrupt gzip data: {exc}") from None
    return body


def parse_date(value: str | None) -> datetime | None:
    """W3C datetime / RFC 822 / ISO 8601 → aware UTC datetime; None when absent or unparsable."""
    if not value:
        return None
    value = value.strip()
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = feedparser._parse_date(value)  # handles RFC 822 and the many feed date dialects
        if not parsed:
            return None
        dt = datetime(parsed[0], parsed[1], parsed[2], parsed[3], parsed[4], parsed[5], tzinfo=UTC)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


_PARSER_KW = {
    "resolve_entities": False,
    "no_network": True,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
    "recover": False,
}


class _RootTag:
    """lxml parser target that builds nothing and keeps the root element's tag: checking a document this
    way costs no tree (an lxml tree takes about six times the XML's size)."""

    def __init__(self) -> None:
        self.tag: str | None = None

    def start(self, tag: str, attrib: object) -> None:
        if self.tag is None:
            self.tag = tag

    def close(self) -> str | None:
        return self.tag


@dataclass(frozen=True, slots=True)
class Sitemap:
    """A sitemap checked whole (well-formed XML, a ``urlset`` or ``sitemapindex`` root) whose entries are
    parsed only as they are iterated, streaming: a sitemap is held as its XML, gzip'd (a tenth of its
    size; about 10 bytes an URL), never as a tree or a list of entries, while a crawl works through it.
    ``entries()`` can be iterated again (each iteration parses anew)."""

    kind: str  # "urlset" or "sitemapindex"
    packed: bytes  # the XML, gzip'd (level 1: packing 10 MB takes about 30 ms)

    def entries(self) -> Iterator[Entry]:
        """Entries in document order: children of the root named ``url`` (urlset) or ``sitemap`` (index)."""
        child_tag, entry_kind = ("url", "page") if self.kind == "urlset" else ("sitemap", "sitemap")
        names: dict[object, str] = {}  # tag -> local name: a sitemap has a handful of distinct tags
        dates: dict[str, datetime | None] = {}  # a sitemap repeats a few dates thousands of times
        root = None
        depth = 0
        try:
            xml = gzip.GzipFile(fileobj=io.BytesIO(self.packed), mode="rb")
            for event, el in etree.iterparse(xml, events=("start", "end"), **_PARSER_KW):
                if event == "start":
                    if root is None:
                        root = el
                    depth += 1
                    continue
                depth -= 1
                if depth != 1:
                    continue
                # ``el``, a complete child of the root: read it, then drop it and its earlier siblings
                # (lxml's iterparse otherwise builds the whole tree).
                if (names.get(el.tag) or names.setdefault(el.tag, _local(el.tag))) == child_tag:
                    loc = lastmod = pubdate = title = None
                    for sub in el.iter():
                        name = names.get(sub.tag) or names.setdefault(sub.tag, _local(sub.tag))
                        if name == "loc":
                            if loc is None:
                                loc = (sub.text or "").strip()
                        elif name == "lastmod":
                            lastmod = (sub.text or "").strip()
                        elif name == "publication_date":
                            pubdate = (sub.text or "").strip()
                        elif name == "title":
                            title = (sub.text or "").strip()
                    if loc:
                        when = _cached_date(dates, pubdate) or _cached_date(dates, lastmod)
                        yield Entry(loc, when, title, entry_kind)
                el.clear()
                assert root is not None
                while el.getprevious() is not None:
                    del root[0]
        except etree.XMLSyntaxError as exc:  # not expected: read_sitemap parsed the same bytes the same way
            raise DiscoveryError(f"not a sitemap (XML error: {exc})") from None


def _cached_date(cache: dict[str, datetime | None], value: str | None) -> datetime | None:
    if not value:
        return None
    if value not in cache:
        cache[value] = parse_date(value)
    return cache[value]


def read_sitemap(body: bytes, max_size: int = 50 * 1024 * 1024) -> Sitemap:
    """A sitemap index or urlset, gzip or plain, checked whole before any of its entries is used: a
    document that is not a well-formed sitemap raises DiscoveryError here, so it yields no entry at all."""
    data = maybe_gunzip(body, max_size)
    if _ENTITY_DECLARATION.search(data):
        raise DiscoveryError("sitemap declares XML entities (refused: entity expansion attack)")
    try:
        tag = etree.fromstring(data, etree.XMLParser(target=_RootTag(), **_PARSER_KW))
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"not a sitemap (XML error: {exc})") from None
    kind = _local(tag)
    if kind not in ("urlset", "sitemapindex"):
        raise DiscoveryError(f"not a sitemap (root element <{kind}>)")
    return Sitemap(kind, gzip.compress(data, compresslevel=1, mtime=0))


def parse_sitemap(body: bytes, max_size: int = 50 * 1024 * 1024) -> Iterator[Entry]:
    """Entries of a sitemap index (kind="sitemap") or urlset (kind="page"), gzip or plain; raises
    DiscoveryError (when called, not when iterated) for what is not a sitemap."""
    return read_sitemap(body, max_size).entries()


def parse_feed(body: bytes, max_size: int = 20 * 1024 * 1024) -> list[Entry]:
    """Items of an RSS 0.9x/1.0/2.0 or Atom feed, with their dates."""
    data = maybe_gunzip(body, max_size)
    if _ENTITY_DECLARATION.search(data):
        raise DiscoveryError("feed declares XML entities (refused: entity expansion attack)")
    parsed = feedparser.parse(data)
    if not parsed.get("version"):
        problem = parsed.get("bozo_exception")
        raise DiscoveryError(f"not an RSS/Atom feed{f' ({problem})' if problem else ''}")
    out = []
    for item in parsed.entries:
        link = item.get("link")
        if not link:
            continue
        struct = item.get("published_parsed") or item.get("updated_parsed")
        date = datetime(struct[0], struct[1], struct[2], struct[3], struct[4], struct[5], tzinfo=UTC) if struct else None
        out.append(Entry(link, date, item.get("title")))
    return out
