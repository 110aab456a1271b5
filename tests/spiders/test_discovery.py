from __future__ import annotations

import gzip
from datetime import UTC, datetime

import pytest

from cleaning.records import RejectReason
from spiders.discovery import DiscoveryError, parse_feed, parse_sitemap

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://example.org/a</loc>
    <news:news><news:publication><news:name>Ex</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2021-03-18T10:00:00+08:00</news:publication_date><news:title>A</news:title></news:news>
  </url>
  <url><loc>https://example.org/b</loc><lastmod>2021-03-17</lastmod></url>
  <url><loc>https://example.org/c</loc></url>
</urlset>"""

INDEX = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://example.org/s1.xml.gz</loc><lastmod>2021-03-18</lastmod></sitemap></sitemapindex>"""

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
<item><title>One</title><link>https://example.org/1</link><pubDate>Thu, 18 Mar 2021 10:00:00 +0800</pubDate></item>
<item><title>No date</title><link>https://example.org/2</link></item>
<item><title>No link</title></item></channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>E</title><link href="https://example.org/e"/><updated>2021-03-19T08:00:00Z</updated><id>e</id></entry></feed>"""


def test_news_sitemap_dates_prefer_publication_date() -> None:
    entries = list(parse_sitemap(NEWS_SITEMAP))
    assert [e.url for e in entries] == ["https://example.org/a", "https://example.org/b", "https://example.org/c"]
    assert entries[0].date == datetime(2021, 3, 18, 2, 0, tzinfo=UTC)
    assert entries[0].title == "A"
    assert entries[1].date == datetime(2021, 3, 17, tzinfo=UTC)
    assert entries[2].date is None


def test_gzip_sitemap_index() -> None:
    (entry,) = parse_sitemap(gzip.compress(INDEX))
    assert entry.kind == "sitemap" and entry.url.endswith("s1.xml.gz")


def test_feeds_rss_and_atom() -> None:
    rss = parse_feed(RSS)
    assert [e.url for e in rss] == ["https://example.org/1", "https://example.org/2"]
    assert rss[0].date == datetime(2021, 3, 18, 2, 0, tzinfo=UTC) and rss[1].date is None
    (atom,) = parse_feed(ATOM)
    assert atom.url == "https://example.org/e" and atom.date == datetime(2021, 3, 19, 8, tzinfo=UTC)


BOMB = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&lol2;</loc></url></urlset>"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>not a sitemap</body></html>", "not a sitemap"),
        (b"\x1f\x8b\x08garbage", "corrupt gzip"),
        (gzip.compress(b"<" * (3 * 1024 * 1024)), "decompresses to more than"),
        (BOMB, "entities"),
        (b"", "not a sitemap"),
    ],
)
def test_sitemaps_that_are_not_what_they_claim(body: bytes, message: str) -> None:
    with pytest.raises(DiscoveryError, match=message):
        list(parse_sitemap(body, max_size=2 * 1024 * 1024))


@pytest.mark.parametrize("body", [b"<html><body>hello</body></html>", b"\x00\x01binary", BOMB.replace(b"urlset", b"rss")])
def test_feeds_that_are_not_feeds(body: bytes) -> None:
    with pytest.raises(DiscoveryError):
        parse_feed(body)


PADDED_BOMB = (b'<?xml version="1.0"?><!-- ' + b"padding " * 1024 + b"-->\n"
               b'<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><rss version="2.0"><channel>'
               b"<title>&xxe;</title></channel></rss>")


def test_entity_declarations_are_refused_wherever_they_are() -> None:
    with pytest.raises(DiscoveryError, match="entities") as feed:
        parse_feed(PADDED_BOMB)
    with pytest.raises(DiscoveryError, match="entities"):
        list(parse_sitemap(PADDED_BOMB.replace(b"rss", b"urlset")))
    assert feed.value.reason is RejectReason.PARSE_FAILED


def test_reasons_of_refused_discovery_documents() -> None:
    with pytest.raises(DiscoveryError) as bomb:
        list(parse_sitemap(gzip.compress(b" " * (3 * 1024 * 1024)), max_size=2 * 1024 * 1024))
    assert bomb.value.reason is RejectReason.TOO_LARGE
    with pytest.raises(DiscoveryError) as html:
        list(parse_sitemap(b"<html><body>not a sitemap</body></html>"))
    assert html.value.reason is RejectReason.PARSE_FAILED
