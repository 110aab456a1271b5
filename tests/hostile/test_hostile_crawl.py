"""A real crawl (``flows.runs.run_crawl_process``, one Scrapy process) of the hostile site, then the clean
stage on what it stored: every trap URL ends as a crawl reject with a specific reason or as a raw page
that cleaning turns into a document or a reject; nothing is lost, nothing crashes, memory stays bounded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cleaning.clean import clean_page
from cleaning.records import CleanDocument, CleanResult, RawPage
from cleaning.urls import canonicalize
from pipelines import layout
from pipelines.clean_zone import clean_raw_object
from pipelines.raw_zone import iter_raw_pages
from pipelines.store import LocalStore
from tests.hostile.server import (
    BROKEN_ROBOTS_HOST,
    FEED_LINKS,
    FEEDS,
    FETCH_ONCE_PATH,
    FETCH_ONCE_VARIANTS,
    LAN_FEED,
    LAN_LINKS,
    LOOPBACK_NAME,
    NO_ROBOTS_HOST,
    PINNED_HOSTS,
    PUBLIC_HOST,
    SITEMAP_CHILD_LINKS,
    SITEMAP_INDEX_CHILDREN,
    SITEMAP_LINKS,
    SITEMAPS,
    STALLED_ROBOTS_HOST,
    HostileSite,
)

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SSRF = "SSRF guard"
PEAK_RSS_LIMIT_MB = 300  # a Scrapy process idles at ~110 MB; a buffered 500 MB page would be far above
CRAWL_SETTINGS = {
    "CLEANWIRE_HOSTS_OVERRIDE": dict.fromkeys(PINNED_HOSTS, "127.0.0.1"),
    "DOWNLOAD_TIMEOUT": 3,
    # One host serves everything: no politeness delay, enough slots that stalls do not queue the rest.
    "AUTOTHROTTLE_ENABLED": False,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
}

# URL template → crawl outcome → what is expected of it:
#   a reject reason: a crawl reject with that reason whose detail contains the text;
#   "raw": a page in the raw zone, and the clean stage's outcome ("document" or reject reasons, "|"-separated);
#   "parsed": a discovery document that was fetched and parsed (it lists the URLs below it).
TRAPS: list[tuple[str, str, str]] = [
    # Pages.
    ("{public}/articles/good", "raw", "document"),
    ("{public}/articles/malformed", "raw", "document"),
    ("{public}/articles/deeply-nested", "raw", "empty_extraction|parse_failed"),
    ("{public}/articles/empty", "raw", "empty_extraction"),
    ("{public}/articles/zero-bytes", "raw", "empty_extraction"),
    ("{public}/articles/soft-404", "raw", "soft_404"),
    ("{public}/articles/pdf-as-html", "raw", "not_html"),
    ("{public}/articles/binary-as-html", "raw", "not_html|decode_failed"),
    ("{public}/articles/gone", "raw", "http_status"),
    ("{public}/articles/forbidden", "raw", "http_status"),
    ("{public}/articles/server-error", "raw", "http_status"),
    ("{public}/articles/big-5mb", "raw", "document"),
    ("{public}/articles/from-child-sitemap", "raw", "document"),
    ("{public}/articles/huge-500mb-streamed", "too_large", "DOWNLOAD_MAXSIZE (10485760 bytes)"),
    ("{public}/articles/huge-500mb-declared", "too_large", "524288000 bytes"),
    ("{public}/articles/gzip-bomb", "too_large", "during decompression"),
    ("{public}/articles/truncated", "truncated", "connection closed before"),
    ("{public}/articles/truncated-chunked", "truncated", "connection closed before"),
    ("{public}/articles/stall-before-headers", "fetch_failed", "timeout"),
    ("{public}/articles/stall-mid-body", "fetch_failed", "timeout"),
    # Redirects.
    ("{public}/articles/redirect-chain", "raw", "document"),
    ("{public}/articles/redirect-loop-a", "fetch_failed", "redirect loop"),
    ("{public}/articles/redirect-endless/0", "fetch_failed", "too many redirects"),
    ("{public}/articles/redirect-to-loopback", "blocked_by_policy", SSRF),
    ("{public}/articles/redirect-to-loopback-name", "blocked_by_policy", SSRF),
    ("{public}/articles/meta-refresh-to-loopback", "blocked_by_policy", SSRF),
    ("{public}/articles/redirect-to-file", "http_status", "redirect not followed to 'file:///etc/passwd'"),
    ("{public}/articles/redirect-without-location", "http_status", "without a Location"),
    # robots.txt, for URLs from the feed, the sitemap and the sitemap index alike.
    ("{public}/private/from-feed", "blocked_by_policy", "robots.txt"),
    ("{public}/private/secret-1", "blocked_by_policy", "robots.txt"),
    ("{public}/private/secret-2", "blocked_by_policy", "robots.txt"),
    ("{public}/private/sitemap.xml", "blocked_by_policy", "robots.txt"),
    ("http://" + STALLED_ROBOTS_HOST + ":{port}/articles/good", "blocked_by_policy", "robots.txt unreachable (timeout"),
    ("http://" + BROKEN_ROBOTS_HOST + ":{port}/articles/good", "blocked_by_policy", "robots.txt unreachable (HTTP 503)"),
    ("http://" + NO_ROBOTS_HOST + ":{port}/articles/no-robots", "raw", "document"),
    # A public source linking into private networks: by IP literal, local name, and names that resolve there.
    ("{loopback}/articles/good", "blocked_by_policy", SSRF),
    ("{closed}/articles/closed-port", "blocked_by_policy", SSRF),
    ("http://localhost/articles/good", "blocked_by_policy", SSRF),
    ("http://10.0.0.1/articles/internal", "blocked_by_policy", SSRF),
    ("http://169.254.169.254/latest/meta-data/", "blocked_by_policy", "link-local"),
    ("http://[::1]:{port}/articles/good", "blocked_by_policy", SSRF),
    ("http://0.0.0.0:{port}/articles/good", "blocked_by_policy", SSRF),
    ("http://" + LOOPBACK_NAME + ":{port}/articles/good", "blocked_by_policy", SSRF),
    ("http://2130706433:{port}/articles/good", "blocked_by_policy", "resolves to loopback"),
    ("http://127.1:{port}/articles/good", "blocked_by_policy", "resolves to loopback"),
    ("{loopback}/sitemap-private.xml", "blocked_by_policy", SSRF),
    # Not fetchable.
    ("file:///etc/passwd", "blocked_by_policy", "scheme 'file'"),
    ("ftp://" + PUBLIC_HOST + "/pub/file.txt", "blocked_by_policy", "scheme 'ftp'"),
    ("http://" + PUBLIC_HOST + ":{port}:99/articles/bad-port", "blocked_by_policy", "malformed URL"),
    ("http://[::1/articles/broken-ipv6", "blocked_by_policy", "malformed URL"),
    # Discovery documents.
    ("{public}/feed.xml", "parsed", ""),
    ("{public}/feed-entity-bomb.xml", "parse_failed", "entities"),
    ("{public}/feed-entity-bomb-padded.xml", "parse_failed", "entities"),
    ("{public}/feed-is-html.xml", "parse_failed", "not an RSS/Atom feed"),
    ("{public}/feed-gzip-bomb.xml", "too_large", "DOWNLOAD_MAXSIZE"),
    ("{public}/sitemap.xml", "parsed", ""),
    ("{public}/sitemap-gzip-bomb.xml.gz", "too_large", "decompresses to more than 10485760 bytes"),
    ("{public}/sitemap-is-html.xml", "parse_failed", "not a sitemap"),
    ("{public}/sitemap-missing.xml", "http_status", "HTTP 404"),
    ("{public}/sitemap-index.xml", "parsed", ""),
    ("{public}/sitemap-child.xml", "parsed", ""),
    ("{public}/sitemap-endless/1.xml", "parsed", ""),
    ("{public}/sitemap-endless/2.xml", "parsed", ""),
    ("{public}/sitemap-endless/3.xml", "parsed", ""),
    ("{public}/sitemap-endless/4.xml", "blocked_by_policy", "nested 4 levels"),
    # The source that allows its private network fetches the same kinds of links.
    ("{public}/feed-lan.xml", "parsed", ""),
    ("{loopback}/lan/one", "raw", "document"),
    ("http://" + LOOPBACK_NAME + ":{port}/lan/two", "raw", "document"),
    ("http://localhost:{port}/lan/three", "raw", "document"),
    ("{public}/lan/redirect-to-loopback", "raw", "document"),
]


def _canonical(url: str) -> str:
    try:
        return canonicalize(url)
    except ValueError:
        return url


def _sources_yaml(site: HostileSite) -> str:
    return json.dumps({"sources": [
        {"name": "hostile", "feeds": site.fill_all(FEEDS), "sitemaps": site.fill_all(SITEMAPS)},
        {"name": "hostile-lan", "feeds": [site.fill(LAN_FEED)], "allow_private_network": True},
    ]})  # JSON is YAML


def _crawl_in_own_process(args: dict[str, Any], tmp: Path) -> dict[str, Any]:
    out = tmp / "crawl-result.json"
    proc = subprocess.Popen([sys.executable, "-m", "tests.hostile.crawl_child", json.dumps(args), str(out)],
                            cwd=ROOT, start_new_session=True)
    try:
        proc.wait(timeout=180)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the crawl is in this session too
        proc.wait()
        raise AssertionError("the crawl did not finish in 180 s") from None
    assert proc.returncode == 0, f"crawl wrapper exited {proc.returncode}"
    result: dict[str, Any] = json.loads(out.read_text())
    return result


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("hostile")
    with HostileSite() as site:
        sources = tmp / "sources.yaml"
        sources.write_text(_sources_yaml(site))
        store_dir = tmp / "store"
        result = _crawl_in_own_process(
            {"sources_file": str(sources), "store": str(store_dir), "run_id": "hostile-1", "settings": CRAWL_SETTINGS},
            tmp,
        )
        requests = site.requests
    store = LocalStore(str(store_dir))
    rejects = [json.loads(line) for key in store.list("rejects/") for line in store.get(key).decode().splitlines()]
    raw_keys = list(store.list("raw/"))
    pages: list[RawPage] = []
    for key in raw_keys:
        with open(store_dir / key, "rb") as fh:
            pages += [p for p in iter_raw_pages(fh, key)]
    yield {"site": site, "store": store, "report": result["report"], "peak_rss_mb": result["peak_rss_kib"] / 1024,
           "requests": requests, "rejects": rejects, "raw_keys": raw_keys, "pages": pages}


@pytest.fixture(scope="module")
def cleaned(crawl: dict[str, Any]) -> dict[str, Any]:
    """The clean stage, without Prefect, on every raw object of the crawl."""
    outcomes: list[tuple[RawPage, CleanResult]] = []

    def in_process(pages: Iterable[RawPage]) -> Iterator[tuple[RawPage, CleanResult]]:
        for page in pages:
            outcome = clean_page(page)
            outcomes.append((page, outcome))
            yield page, outcome

    partitions = [clean_raw_object(crawl["store"], key, in_process) for key in crawl["raw_keys"]]
    return {"outcomes": outcomes, "partitions": partitions}


def _reject_for(crawl: dict[str, Any], url: str) -> list[dict[str, Any]]:
    return [r for r in crawl["rejects"] if r["url"] == url or _canonical(r["url"]) == _canonical(url)]


def _pages_for(pages: Iterable[RawPage], url: str) -> list[RawPage]:
    wanted = _canonical(url)
    return [p for p in pages if wanted in {_canonical(p.url), _canonical(p.hints.get("requested_url", p.url))}]


def _requested(crawl: dict[str, Any], url: str) -> bool:
    return any(_canonical(f"http://{r['host']}{r['path']}") == _canonical(url) for r in crawl["requests"])


@pytest.mark.parametrize(("template", "outcome", "expected"), TRAPS, ids=[t[0] for t in TRAPS])
def test_every_trap_has_one_recorded_outcome(crawl: dict[str, Any], template: str, outcome: str,
                                             expected: str) -> None:
    url = crawl["site"].fill(template)
    rejects = _reject_for(crawl, url)
    pages = _pages_for(crawl["pages"], url)
    if outcome == "raw":
        assert len(pages) == 1 and not rejects, (pages, rejects)
    elif outcome == "parsed":
        assert _requested(crawl, url) and not rejects and not pages, rejects
    else:
        assert len(rejects) == 1 and not pages, (rejects, [p.url for p in pages])
        assert rejects[0]["reason"] == outcome, rejects[0]
        assert expected in rejects[0]["detail"], rejects[0]


def test_table_covers_every_link_the_site_publishes() -> None:
    published = {*FEED_LINKS, *SITEMAP_LINKS, *FEEDS, *SITEMAPS, *SITEMAP_INDEX_CHILDREN, *SITEMAP_CHILD_LINKS,
                 LAN_FEED, *LAN_LINKS}
    assert published <= {t[0] for t in TRAPS}, sorted(published - {t[0] for t in TRAPS})


def test_no_reject_is_unexpected_or_repeated(crawl: dict[str, Any]) -> None:
    expected = {_canonical(crawl["site"].fill(t)) for t, outcome, _ in TRAPS if outcome not in ("raw", "parsed")}
    urls = Counter(r["url"] for r in crawl["rejects"])
    assert {_canonical(u) for u in urls} == expected
    assert max(urls.values()) == 1, urls.most_common(3)
    assert all(r["reason"] and r["detail"] and r["source"] in ("hostile", "hostile-lan") for r in crawl["rejects"])


def test_crawl_exits_cleanly_and_its_counts_add_up(crawl: dict[str, Any]) -> None:
    report = crawl["report"]
    assert report["exit_code"] == 0, report.get("log_tail")
    for name, source in report["sources"].items():
        assert source["finish_reason"] == "finished" and source["errors"] == 0, (name, source)
        counts = source["counts"]
        # Every article request ends in exactly one of these.
        ended = sum(counts.get(k, 0) for k in ("fetched", "fetch_errors", "not_modified", "unchanged_content"))
        assert counts.get("discovered", 0) == ended, counts
        # Every reject counted is a line in the rejects file, every page fetched a record in the raw zone.
        rejected = sum(v for k, v in counts.items() if k.startswith("rejected/"))
        assert rejected == sum(1 for r in crawl["rejects"] if r["source"] == name), counts
        assert counts.get("fetched", 0) == sum(1 for p in crawl["pages"] if p.source == name), counts
        # Stalls, bombs and 500 MB pages cost seconds, not the crawl (three 3 s tries per stall).
        assert source["elapsed_seconds"] < 45, (name, source["elapsed_seconds"])


def test_variants_of_one_article_are_fetched_once(crawl: dict[str, Any]) -> None:
    site: HostileSite = crawl["site"]
    target = _canonical(site.public + FETCH_ONCE_PATH)
    assert all(_canonical(v) == target for v in site.fill_all(FETCH_ONCE_VARIANTS))
    sent = [r for r in crawl["requests"] if _canonical(f"http://{r['host']}{r['path']}") == target]
    assert len(sent) == 1, sent
    assert len(_pages_for(crawl["pages"], target)) == 1


def test_robots_disallowed_urls_are_never_requested(crawl: dict[str, Any]) -> None:
    assert not [r for r in crawl["requests"] if r["path"].startswith("/private/")]


def test_only_the_source_that_allows_it_reaches_private_addresses(crawl: dict[str, Any]) -> None:
    site: HostileSite = crawl["site"]
    public = {f"{host}:{site.port}" for host in PINNED_HOSTS}
    elsewhere = [r for r in crawl["requests"] if r["host"].lower() not in public]
    assert elsewhere, "the LAN source's links were not fetched"
    assert all(r["path"].startswith("/lan/") or r["path"] == "/robots.txt" for r in elsewhere), elsewhere


def test_a_500_mb_page_does_not_blow_up_memory(crawl: dict[str, Any]) -> None:
    assert crawl["peak_rss_mb"] < PEAK_RSS_LIMIT_MB, f"crawl peak RSS {crawl['peak_rss_mb']:.0f} MB"


def test_clean_stage_accounts_for_every_raw_page(crawl: dict[str, Any], cleaned: dict[str, Any]) -> None:
    partitions = cleaned["partitions"]
    assert sum(p.pages for p in partitions) == len(crawl["pages"]) == len(cleaned["outcomes"])
    for p in partitions:
        assert p.pages == p.stored + p.duplicates + p.unchanged + sum(p.rejected.values()), p.to_dict()
        raw = layout.parse_raw_key(p.raw_key)
        assert raw is not None
        if p.rejected:
            stored = crawl["store"].get(layout.rejects_key(raw.source, raw.date, raw.stem))
            assert len(stored.decode().splitlines()) == sum(p.rejected.values())


@pytest.mark.parametrize(("template", "expected"), [(t, e) for t, o, e in TRAPS if o == "raw"],
                         ids=[t for t, o, _ in TRAPS if o == "raw"])
def test_clean_outcome_of_each_raw_page(crawl: dict[str, Any], cleaned: dict[str, Any], template: str,
                                        expected: str) -> None:
    url = crawl["site"].fill(template)
    (outcome,) = [o for page, o in cleaned["outcomes"] if page in _pages_for([page], url)]
    got = "document" if isinstance(outcome, CleanDocument) else outcome.reason.value
    assert got in expected.split("|"), (got, getattr(outcome, "detail", ""))
