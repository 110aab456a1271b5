"""Discovered URLs reach Scrapy lazily: real crawls (``python -m spiders.run``) of a loopback site whose
sitemaps list far more articles than the crawl may hold as requests at once.

The site logs every request it receives (path and Referer); ``tests.spiders.scheduler_probe`` records the
most requests Scrapy's scheduler held at once. An eager spider (every article request yielded by the
sitemap callback) would have the scheduler hold all of them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from flows.runs import run_crawl_process
from tests.servers import LoopbackSite

PAGES = 600  # articles the big sitemap lists
CHILDREN = 3  # child sitemaps of the index, 40 articles each
# The scheduler may hold a few requests (seeds, the one start() made while the downloader was full, a
# redirect or retry); an eager spider would have it hold PAGES.
SCHEDULER_BOUND = 8


def _article_path(n: int) -> str:
    return f"/news/{n:05d}/"


def _urlset(base: str, paths: list[str]) -> bytes:
    entries = "".join(
        f"<url><loc>{base}{p}</loc><lastmod>2024-05-{1 + i % 28:02d}T06:00:00+00:00</lastmod></url>\n"
        for i, p in enumerate(paths)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{entries}</urlset>\n'
    ).encode()


class Site(LoopbackSite):
    """``/sitemap.xml`` lists PAGES articles; ``/index.xml`` is an index of CHILDREN child sitemaps (the last
    one listing the index again); ``/empty.xml`` lists nothing. Articles are small HTML pages."""

    def child_paths(self, child: int) -> list[str]:
        return [f"/child/{child}/{n:03d}/" for n in range(40)]

    def respond(self, path: str) -> tuple[bytes | None, str]:
        if path == "/robots.txt":
            return b"User-agent: *\nDisallow: /private/\n", "text/plain"
        if path == "/sitemap.xml":
            return _urlset(self.base, [_article_path(n) for n in range(PAGES)]), "application/xml"
        if path == "/empty.xml":
            return _urlset(self.base, []), "application/xml"
        if path == "/index.xml":
            children = [f"{self.base}/child-{c}.xml" for c in range(CHILDREN)] + [f"{self.base}/index.xml"]
            entries = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in children)
            xml = (
                f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'
            )
            return xml.encode(), "application/xml"
        if path.startswith("/child-") and path.endswith(".xml"):
            return _urlset(
                self.base, self.child_paths(int(path[len("/child-") : -len(".xml")]))
            ), "application/xml"
        if path.startswith(("/news/", "/child/")):
            text = f"<html><head><title>{path}</title></head><body><p>Story at {path}.</p></body></html>"
            return text.encode(), "text/html; charset=utf-8"
        return None, ""

    def article_requests(self) -> Counter[str]:
        return Counter(p for p in self.paths_requested() if p.startswith(("/news/", "/child/")))


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site() as s:
        yield s


def _crawl(site: Site, tmp: Path, source: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """One crawl of ``source`` in its own process; its report entry, the probe's record and the requests
    the site received during it."""
    sources = tmp / "sources.yaml"
    sources.write_text(json.dumps({"sources": [{"name": "lazy", **source}]}))  # JSON is YAML
    probe = tmp / "probe.json"
    received_before = len(site.requests)
    settings = {
        "AUTOTHROTTLE_ENABLED": False,
        "DOWNLOAD_DELAY": 0,
        "CLOSESPIDER_TIMEOUT": 120,  # a crawl that never ends fails the test instead of hanging it
        "EXTENSIONS": {
            "pipelines.fetch_state.FetchStateExtension": 500,
            "tests.spiders.scheduler_probe.SchedulerProbe": 600,
        },
        "CLEANWIRE_TEST_PROBE_OUT": str(probe),
    }
    report = run_crawl_process(str(sources), str(tmp / "store"), "lazy-1", settings=settings, **kwargs)
    with site._lock:
        received = site.requests[received_before:]
    return {"report": report["sources"]["lazy"], "probe": json.loads(probe.read_text()), "received": received}


def _article_counts(received: list[tuple[str, str | None]]) -> Counter[str]:
    return Counter(p for p, _ in received if p.startswith(("/news/", "/child/")))


@pytest.fixture(scope="module")
def big(site: Site, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sitemap = f"{site.base}/sitemap.xml"
    return {**_crawl(site, tmp_path_factory.mktemp("big"), {"sitemaps": [sitemap]}), "sitemap": sitemap}


def test_a_big_sitemap_is_fetched_whole_with_few_requests_scheduled(big: dict[str, Any]) -> None:
    report, probe = big["report"], big["probe"]
    assert report["finish_reason"] == "finished" and probe["reason"] == "finished"
    assert report["errors"] == 0
    assert report["counts"]["discovered"] == PAGES
    assert report["counts"]["fetched"] == PAGES
    assert probe["max_scheduled"] <= SCHEDULER_BOUND
    # Every listed article requested exactly once, with the sitemap as its Referer (as Scrapy's
    # RefererMiddleware gives a request yielded from the sitemap's callback).
    assert _article_counts(big["received"]) == Counter({_article_path(n): 1 for n in range(PAGES)})
    assert {r for p, r in big["received"] if p.startswith("/news/")} == {big["sitemap"]}


def test_max_pages_is_honoured(site: Site, tmp_path: Path) -> None:
    crawl = _crawl(site, tmp_path, {"sitemaps": [f"{site.base}/sitemap.xml"]}, max_pages=50)
    counts = crawl["report"]["counts"]
    assert crawl["report"]["finish_reason"] == "finished"
    assert counts["discovered"] == counts["fetched"] == 50
    assert counts["filtered/max_pages"] == PAGES - 50
    assert sum(_article_counts(crawl["received"]).values()) == 50
    assert crawl["probe"]["max_scheduled"] <= SCHEDULER_BOUND


def test_a_crawl_whose_every_url_is_filtered_finishes(site: Site, tmp_path: Path) -> None:
    source = {"sitemaps": [f"{site.base}/sitemap.xml", f"{site.base}/empty.xml"]}
    crawl = _crawl(site, tmp_path, source, since=date(2030, 1, 1))
    counts = crawl["report"]["counts"]
    assert crawl["report"]["finish_reason"] == "finished"
    assert counts["filtered/outside_window"] == PAGES
    assert counts["sitemaps"] == 2
    assert "fetched" not in counts and "discovered" not in counts
    assert not _article_counts(crawl["received"])


def test_a_crawl_of_an_empty_sitemap_finishes(site: Site, tmp_path: Path) -> None:
    crawl = _crawl(site, tmp_path, {"sitemaps": [f"{site.base}/empty.xml"]})
    assert crawl["report"]["finish_reason"] == "finished"
    assert crawl["report"]["counts"] == {"sitemaps": 1}


def test_a_sitemap_index_and_a_url_list_are_fed_lazily_too(site: Site, tmp_path: Path) -> None:
    urls = [f"{site.base}{_article_path(n)}" for n in range(200)]
    (tmp_path / "index").mkdir()
    (tmp_path / "list").mkdir()
    index = _crawl(site, tmp_path / "index", {"sitemaps": [f"{site.base}/index.xml"]})
    listed = _crawl(site, tmp_path / "list", {"urls": urls + urls[:10]})  # ten listed twice
    counts = index["report"]["counts"]
    assert index["report"]["finish_reason"] == "finished"
    assert counts["sitemaps"] == 1 + CHILDREN
    assert counts["duplicate_urls"] == 1  # the index listing itself
    expected = Counter({p: 1 for c in range(CHILDREN) for p in site.child_paths(c)})
    assert _article_counts(index["received"]) == expected
    # Each child's articles carry the child as Referer; the children carry the index.
    for path, referer in index["received"]:
        if path.startswith("/child/"):
            assert referer == f"{site.base}/child-{path.split('/')[2]}.xml"
        elif path.startswith("/child-"):
            assert referer == f"{site.base}/index.xml"
    assert index["probe"]["max_scheduled"] <= SCHEDULER_BOUND
    assert listed["report"]["finish_reason"] == "finished"
    assert listed["report"]["counts"]["discovered"] == 200
    assert listed["report"]["counts"]["duplicate_urls"] == 10
    assert _article_counts(listed["received"]) == Counter({_article_path(n): 1 for n in range(200)})
    assert listed["probe"]["max_scheduled"] <= SCHEDULER_BOUND
