from __future__ import annotations

import pytest

from spiders.sources import Source, SourcesError, parse_sources

GOOD = """\
sources:
  - name: pandaily
    feeds: [https://example.org/feed/]
    sitemaps: [https://example.org/sitemap_index.xml]
    start_urls: []
    allow: ["/2021/"]
    schedule: "0 * * * *"
"""


def test_parses_the_documented_example() -> None:
    (src,) = parse_sources(GOOD).sources
    assert src.name == "pandaily"
    assert src.feeds == ("https://example.org/feed/",)
    assert src.schedule == "0 * * * *"
    assert src.url_allowed("https://example.org/2021/03/x")
    assert not src.url_allowed("https://example.org/tag/x")


# (yaml, expected fragment of the message: file:line and what is wrong)
BAD = [
    ("sources: [", "s.yaml:1: not valid YAML"),
    ("foo: 1\n", "expected a mapping with a 'sources:' list"),
    ("sources: []\n", "'sources' must be a non-empty list"),
    ("sources:\n  - name: Bad Name\n    feeds: [http://x]\n", "s.yaml:2: source 'Bad Name': 'name' must be"),
    ("sources:\n  - name: a\n    feeds: [ftp://x/]\n", "s.yaml:3: source 'a': feeds[0]: not an http(s) URL"),
    ("sources:\n  - name: a\n    feeds: [http://x]\n    fedes: []\n", "s.yaml:4: source 'a': fedes: unknown key"),
    ("sources:\n  - name: a\n    feeds: [http://x]\n  - name: a\n    feeds: [http://y]\n",
     "s.yaml:4: source 'a': duplicate name (first defined on line 2)"),
    ("sources:\n  - name: a\n    feeds: [http://x]\n    schedule: '99 * * * *'\n",
     "s.yaml:4: source 'a': schedule: not a valid cron expression"),
    ("sources:\n  - name: a\n    feeds: [http://x]\n    allow: ['(']\n", "s.yaml:4: source 'a': allow[0]: invalid regex"),
    ("sources:\n  - name: a\n", "s.yaml:2: source 'a': needs at least one of feeds, sitemaps, start_urls, urls"),
    ("sources:\n  - name: a\n    feeds: [http://x]\n    max_pages: -3\n", "max_pages: expected a non-negative integer"),
    ("sources:\n  - just-a-string\n", "sources[0]: expected a mapping"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_errors_say_where_and_what(text: str, message: str) -> None:
    with pytest.raises(SourcesError) as err:
        parse_sources(text, "s.yaml")
    assert message in str(err.value)


def test_select_unknown_source_names_what_exists() -> None:
    sources = parse_sources(GOOD, "s.yaml")
    with pytest.raises(SourcesError, match=r"no source named 'nope'.*have: pandaily"):
        sources.select(["nope"])


def test_source_politeness_options_reach_its_crawler_only() -> None:
    from scrapy.crawler import Crawler

    from spiders.run import build_settings, source_settings
    from spiders.source_spider import SourceSpider

    slow = Source(name="slow", urls=("https://example.org/a",), download_delay=2.5, concurrency=1)
    plain = Source(name="plain", urls=("https://example.org/b",))
    assert source_settings(slow) == {"DOWNLOAD_DELAY": 2.5, "CONCURRENT_REQUESTS_PER_DOMAIN": 1}
    assert source_settings(plain) == {}
    settings = build_settings("/tmp/unused-store", "r", {"CONCURRENT_REQUESTS_PER_DOMAIN": 8})
    crawler = Crawler(SourceSpider, settings)
    for key, value in source_settings(slow).items():
        crawler.settings.set(key, value, priority="spider")
    assert crawler.settings.getfloat("DOWNLOAD_DELAY") == 2.5
    assert crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN") == 8  # the operator's --set wins
    assert Crawler(SourceSpider, settings).settings.getfloat("DOWNLOAD_DELAY") == 0.0
