"""Scheduled (incremental) runs and backfills against the sample site, through real Prefect flows,
a real Scrapy process per crawl and a local store. Requests are counted in the site's own log."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from flows.backfill import backfill_flow
from flows.runs import run_crawl_process, run_flow
from flows.sample_site import load_expected, load_manifest
from pipelines import layout
from pipelines.fetch_state import load_fetch_state
from pipelines.store import LocalStore

pytestmark = pytest.mark.e2e

DISCOVERY = re.compile(r"(robots\.txt|feed|rss|atom|sitemap)", re.IGNORECASE)


def is_discovery(path: str) -> bool:
    return bool(DISCOVERY.search(path.split("?")[0]))


def article_requests(site: Any, since: int) -> list[tuple[str, str, int]]:
    return [r for r in site.requests[since:] if not is_discovery(r[1])]


def docs(store: Path) -> dict[str, dict[str, Any]]:
    out = {}
    for p in (store / "clean/v1/docs").glob("*/*.json"):
        d = json.loads(p.read_text())
        out[d["id"]] = d
    return out


def objects(store: Path, prefix: str = "") -> set[str]:
    return {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()} if store.exists() else set()


def utc_day(value: str | None) -> date | None:
    return datetime.fromisoformat(value).astimezone(UTC).date() if value else None


def test_date_range_backfill_fetches_exactly_the_window(prefect_in_process: str, sample_site: Any,
                                                       sample_sources: Path, tmp_path: Path) -> None:
    day = date(2021, 3, 18)
    start = len(sample_site.requests)
    report = backfill_flow(store=str(tmp_path / "store"), sources_file=str(sample_sources), since=day, until=day)
    fetched = {path.split("?")[0] for _, path, _ in article_requests(sample_site, start)}
    pages = load_manifest()["pages"]
    dated = {p: {utc_day(e.get("lastmod")), utc_day(e.get("published_at"))} for p, e in pages.items()}
    may = {p for p, days in dated.items() if day in days}
    must = {p for p, days in dated.items() if days == {day}}
    redirect_targets = {p for p in fetched if p not in pages}
    assert must <= fetched, f"window pages not fetched: {sorted(must - fetched)}"
    assert fetched - redirect_targets <= may, f"pages outside the window fetched: {sorted(fetched - may)}"
    assert report["totals"]["documents_stored"] >= 1
    for doc in docs(tmp_path / "store").values():
        path = doc["url"].removeprefix(sample_site.base_url)
        assert day in dated.get(path, {day}), f"document outside the window: {path}"


def test_unchanged_rerun_is_cheap_and_changed_page_is_refetched(prefect_in_process: str, sample_site: Any,
                                                              sample_sources: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    start = len(sample_site.requests)
    first = run_flow(sources_file=str(sample_sources), store=str(store))
    first_articles = len(article_requests(sample_site, start))
    assert first["totals"]["documents_stored"] > 10
    clean_before = objects(store, "clean/")

    start = len(sample_site.requests)
    second = run_flow(sources_file=str(sample_sources), store=str(store))
    second_articles = article_requests(sample_site, start)
    assert len(second_articles) <= 0.1 * first_articles, second_articles
    assert second["totals"]["documents_stored"] == 0
    assert {k for k in objects(store) if k.startswith("clean/")} == {k for k in clean_before if k.startswith("clean/")}
    statuses = [s for _, p, s in sample_site.requests[start:] if is_discovery(p) and "robots" not in p]
    # Feeds and sitemaps are asked conditionally; a few (the validator audit, 5 %) are fetched in full.
    assert statuses and statuses.count(304) >= 0.5 * len(statuses), statuses

    # An article changes and the site's sitemap says so: it is fetched again, a new version is stored.
    page = "/technode/2021/03/18/skyloft-drone-delivery-series-b/"
    html = urllib.request.urlopen(sample_site.url(page)).read().decode()
    changed = html.replace("Skyloft did not disclose its valuation.",
                           "Skyloft said the round valued it at about $400 million, confirmed the round closed on Friday.")
    assert changed != html
    sitemap = urllib.request.urlopen(sample_site.url("/technode/post-sitemap.xml")).read().decode()
    bumped = re.sub(r"(skyloft-drone-delivery-series-b/</loc>\s*<lastmod>)[^<]+", r"\g<1>2021-03-21T09:00:00+08:00",
                    sitemap)
    assert bumped != sitemap
    sample_site.set_override(page, body=changed)
    sample_site.set_override("/technode/post-sitemap.xml", body=bumped)
    try:
        start = len(sample_site.requests)
        third = run_flow(sources_file=str(sample_sources), store=str(store))
        refetched = [p for _, p, s in article_requests(sample_site, start) if s == 200]
        assert page in refetched
        assert third["totals"]["documents_stored"] == 1
        new = [d for d in docs(store).values() if "confirmed the round closed" in d["text"]]
        assert len(new) == 1 and new[0]["url"] == sample_site.url(page)
    finally:
        sample_site.clear_override()


def test_validators_that_lie_are_stopped_being_trusted(sample_site: Any, sample_sources: Path, tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    run_crawl_process(str(sample_sources), store, "c1", ["pandaily"])
    state = load_fetch_state(LocalStore(store), "pandaily")
    page = "/pandaily/robotaxi-startup-autorun-expands-test-fleet-to-guangzhou-suburbs/"
    key = next(u for u in state.urls if u.endswith(page.rstrip("/")) or u.endswith(page))
    old_etag = state.urls[key].etag
    assert old_etag and not state.distrust_validators
    html = urllib.request.urlopen(sample_site.url(page)).read().decode()
    sample_site.set_override(page, body=html.replace("</article>", "<p>Corrected figure.</p></article>", 1),
                             headers={"ETag": old_etag})
    try:
        # Every candidate audited (fetched without validators): the lie is seen.
        report = run_crawl_process(str(sample_sources), store, "c2", ["pandaily"],
                                   settings={"CLEANWIRE_AUDIT_SHARE": 1.0, "CLEANWIRE_REVISIT_AFTER": 0})
        assert report["sources"]["pandaily"]["counts"].get("validators_wrong", 0) >= 1
        assert load_fetch_state(LocalStore(store), "pandaily").distrust_validators
        start = len(sample_site.request_log)
        run_crawl_process(str(sample_sources), store, "c3", ["pandaily"], settings={"CLEANWIRE_REVISIT_AFTER": 0})
        sent = [r for r in sample_site.request_log[start:] if not is_discovery(r["path"])]
        assert sent and not any("If-None-Match" in r["headers"] or "if-none-match" in r["headers"] for r in sent)
    finally:
        sample_site.clear_override()


def _warc_of(site: Any, paths: list[str], target: Path) -> None:
    """A WARC written by another tool: plain warcio, our headers absent, one response per page."""
    with open(target, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for path in paths:
            with urllib.request.urlopen(site.url(path)) as resp:
                body = resp.read()
                headers = [(k, v) for k, v in resp.headers.items()]
                http = StatusAndHeaders(f"{resp.status} OK", headers, protocol="HTTP/1.1")
                record = writer.create_warc_record(resp.url, "response", payload=io.BytesIO(body), http_headers=http,
                                                   warc_headers_dict={"WARC-Date": "2021-03-19T12:00:00Z"})
                writer.write_record(record)


def test_warc_from_another_tool_cleans_like_a_live_crawl(prefect_in_process: str, sample_site: Any,
                                                       sample_sources: Path, tmp_path: Path) -> None:
    expected = load_expected()
    paths = sorted(p for p, e in expected.items() if e["kind"] == "article" and e["source"] in ("shine", "pandaily"))
    warc = tmp_path / "other-tool.warc.gz"
    _warc_of(sample_site, paths, warc)
    live = tmp_path / "live"
    run_flow(sources_file=str(sample_sources), store=str(live), sources=["shine", "pandaily"])
    imported = tmp_path / "imported"
    report = backfill_flow(store=str(imported), warc=[str(warc)], sources=["shine"])
    assert report["mode"] == "warc"
    live_ids = {d["id"] for d in docs(live).values() if d["url"].removeprefix(sample_site.base_url) in paths}
    imported_ids = set(docs(imported))
    assert len(live_ids) == len(paths)
    assert imported_ids == live_ids
    # Importing the same file again writes nothing new.
    before = objects(imported)
    again = backfill_flow(store=str(imported), warc=[str(warc)], sources=["shine"])
    assert again["totals"]["documents_stored"] == 0
    assert {k for k in objects(imported) if not k.startswith("manifests/")} == {
        k for k in before if not k.startswith("manifests/")}


def test_replay_of_unchanged_raw_zone_writes_nothing(prefect_in_process: str, sample_sources: Path,
                                                    tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_flow(sources_file=str(sample_sources), store=str(store), sources=["republicworld"])
    before = {k: (store / k).read_bytes() for k in objects(store) if not k.startswith("manifests/runs/")}
    report = backfill_flow(store=str(store), replay_raw=True)
    assert report["changed"] == 0 and report["unchanged"] >= 1
    after = {k: (store / k).read_bytes() for k in objects(store) if not k.startswith("manifests/runs/")}
    assert after == before


def test_replay_rejects_retries_dead_letters(prefect_in_process: str, sample_site: Any, sample_sources: Path,
                                            tmp_path: Path) -> None:
    store = tmp_path / "store"
    page = "/shine/news/metro/2103162207/"
    sample_site.set_override(page, status=503)
    try:
        first = run_flow(sources_file=str(sample_sources), store=str(store), sources=["shine"])
    finally:
        sample_site.clear_override()
    assert first["totals"]["rejected"].get("http_status", 0) + first["totals"]["rejected"].get("crawl:fetch_failed", 0) >= 1
    assert not any(d["url"].endswith(page) for d in docs(store).values())
    report = backfill_flow(store=str(store), sources_file=str(sample_sources), replay_rejects=True)
    assert report["mode"] == "replay-rejects"
    assert any(d["url"].endswith(page) for d in docs(store).values())
    assert layout.rejects_key("shine", "x", "y").startswith("rejects/source=shine/")
