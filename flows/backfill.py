"""Backfills, all through one flow: by date range, by URL list, from WARC files, by replaying the
raw zone through the current cleaning, and by retrying the dead letters (retryable rejects)."""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from cleaning.records import RejectReason
from flows.runs import _clean, _finish_report, crawl_task, new_run_id
from pipelines.store import open_store
from pipelines.warc_import import import_warc

# Rejects worth another try: the page may be fine next time.
RETRYABLE = {
    RejectReason.FETCH_FAILED.value,
    RejectReason.TRUNCATED.value,
    RejectReason.EXTRACTION_TIMEOUT.value,
    RejectReason.EXTRACTION_ERROR.value,
}
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504, 522, 524}

BACKFILL_SETTINGS = {"CLEANWIRE_SKIP_UNCHANGED": False}  # a backfill wants the window, not only what changed


def backfill_name() -> str:
    from prefect.runtime import flow_run

    p = flow_run.parameters
    if p.get("warc"):
        what = f"warc×{len(p['warc'])}"
    elif p.get("replay_raw"):
        what = "replay-raw"
    elif p.get("replay_rejects"):
        what = "replay-rejects"
    elif p.get("urls_file"):
        what = f"urls {Path(p['urls_file']).name}"
    else:
        what = f"{p.get('since') or '…'}..{p.get('until') or '…'}"
    names = ",".join(p.get("sources") or []) or "all"
    return f"backfill {what} [{names}]"


@task(name="import-warc", retries=2, retry_delay_seconds=[5, 30], cache_policy=NO_CACHE)
def import_warc_task(store: str, location: str, source: str) -> list[str]:
    return import_warc(open_store(store), location, source)


@task(name="collect-dead-letters", retries=2, retry_delay_seconds=[2, 10], cache_policy=NO_CACHE)
def collect_retryable(store: str, sources: list[str] | None) -> dict[str, list[str]]:
    """URLs of retryable rejects, per source (latest outcome per URL wins)."""
    target = open_store(store)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    prefixes = [f"rejects/source={s}/" for s in sources] if sources else ["rejects/"]
    for prefix in prefixes:
        for key in target.list(prefix):
            for line in target.get(key).decode("utf-8").splitlines():
                if line.strip():
                    rec = json.loads(line)
                    if rec.get("url"):
                        latest[(rec["source"], rec["url"])] = rec
    out: dict[str, list[str]] = defaultdict(list)
    for (source, url), rec in sorted(latest.items()):
        status = rec.get("detail", "")
        retry = rec["reason"] in RETRYABLE or (
            rec["reason"] == RejectReason.HTTP_STATUS.value and any(f"HTTP {s}" == status for s in RETRYABLE_STATUS)
        )
        if retry and not rec.get("detail", "").startswith("discovery:"):
            out[source].append(url)
    return dict(out)


@flow(name="backfill", flow_run_name=backfill_name, log_prints=True)
def backfill_flow(
    store: str,
    sources_file: str | None = None,
    sources: list[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    urls_file: str | None = None,
    warc: list[str] | None = None,
    replay_raw: bool = False,
    replay_rejects: bool = False,
    workers: int | None = None,
    page_timeout: float = 60.0,
    max_pages: int | None = None,
    distributed: bool = False,
) -> dict[str, Any]:
    run_id = new_run_id()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    crawl: dict[str, Any] | None = None
    keys: list[str] | None = None
    replay = False
    window = (since.isoformat() if since else None, until.isoformat() if until else None)
    mode: str
    if warc:
        mode = "warc"
        source = (sources or ["warc"])[0]
        keys = []
        for location in warc:
            keys += import_warc_task(store, location, source)
        timings["import"] = time.perf_counter() - t0
    elif replay_raw:
        mode = "replay-raw"
        replay = True
    elif replay_rejects:
        mode = "replay-rejects"
        crawl = {"run_id": run_id, "sources": {}, "exit_code": 0}
        with tempfile.TemporaryDirectory(prefix="cleanwire-dead-letters-") as tmp:
            for source, urls in collect_retryable(store, sources).items():
                listing = Path(tmp) / f"{source}.txt"
                listing.write_text("\n".join(urls) + "\n")
                part = crawl_task(sources_file, store, run_id, [source], None, None, None, BACKFILL_SETTINGS,
                                  str(listing))
                crawl["sources"].update(part.get("sources", {}))
                crawl["exit_code"] = max(crawl["exit_code"], part.get("exit_code", 0))
        timings["crawl"] = time.perf_counter() - t0
    else:
        mode = "urls" if urls_file else "date-range"
        crawl = crawl_task(sources_file, store, run_id, sources, since, until, max_pages, BACKFILL_SETTINGS, urls_file)
        timings["crawl"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    clean_sources = sorted(crawl["sources"]) if crawl and crawl.get("sources") else sources
    if crawl is not None and not crawl.get("sources"):
        clean: dict[str, Any] = {"partitions": [], "sources": {}}
    else:
        clean = _clean(store, clean_sources, *(window if replay else (None, None)), workers, page_timeout, replay, keys,
                       distributed=distributed, run_id=run_id)
    timings["clean"] = time.perf_counter() - t1
    extra: dict[str, Any] = {"mode": mode}
    if replay:
        extra["changed"] = sum(p["stored"] for p in clean["partitions"])
        extra["unchanged"] = sum(p["unchanged"] for p in clean["partitions"])
    return _finish_report(run_id, store, crawl=crawl, clean=clean, timings=timings, extra=extra)
