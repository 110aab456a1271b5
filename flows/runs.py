"""Prefect flows: ``crawl`` (Scrapy in its own OS process), ``clean`` (raw zone → clean zone in
worker processes) and ``run`` (both). Tasks are thin shells over plain functions in spiders/,
pipelines/ and cleaning/; they pass keys and small reports, never page bodies."""

from __future__ import annotations

import json
import logging
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from cleaning.config import DEFAULT_CONFIG
from flows.pool import clean_pages, default_workers
from flows.postprocess import Postprocess, forget_indexes
from flows.report import merge_clean_results, summarize, to_markdown
from pipelines import layout
from pipelines.clean_zone import clean_raw_object, dumps, pending_raw_keys
from pipelines.contract import publish_schema
from pipelines.store import open_store

logger = logging.getLogger(__name__)


class CrawlFailed(RuntimeError):
    """The crawl process could not start or could not read its sources."""


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def describe_run() -> str:
    """Flow-run name that says what ran: flow, sources file, sources, window, page cap."""
    from prefect.runtime import flow_run

    p = flow_run.parameters
    parts = [flow_run.flow_name or "run"]
    if p.get("sources_file"):
        parts.append(Path(p["sources_file"]).stem)
    parts.append("[" + (",".join(p.get("sources") or []) or "all") + "]")
    if p.get("since") or p.get("until"):
        parts.append(f"{p.get('since') or '…'}..{p.get('until') or '…'}")
    if p.get("max_pages"):
        parts.append(f"max {p['max_pages']}")
    if p.get("store"):
        parts.append(f"→ {p['store']}")
    return " ".join(str(x) for x in parts)


def dask_task_runner(address: str | None = None, local_workers: int | None = None) -> Any:
    """A Prefect Dask task runner for cleaning on a cluster (``address``) or a local process cluster.
    Needs the optional dependency ``prefect-dask`` (``pip install cleanwire[dask]``)."""
    try:
        import dask
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:  # the extra is optional; say how to get it
        raise RuntimeError("Dask support needs the 'dask' extra: pip install 'cleanwire[dask]'") from exc
    # Cleaning starts its own worker processes (per-page time limits): Dask workers must not be daemonic.
    dask.config.set({"distributed.worker.daemon": False})
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": local_workers or default_workers(), "processes": True,
                                         "threads_per_worker": 1, "dashboard_address": None})


# -- crawl ---------------------------------------------------------------------------------------


def run_crawl_process(
    sources_file: str | None,
    store: str,
    run_id: str,
    sources: list[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    max_pages: int | None = None,
    settings: dict[str, Any] | None = None,
    urls_file: str | None = None,
) -> dict[str, Any]:
    """One crawl in one OS process (Twisted's reactor cannot restart in-process)."""
    with tempfile.TemporaryDirectory(prefix="cleanwire-crawl-") as tmp:
        report_path = Path(tmp) / "report.json"
        log_path = Path(tmp) / "scrapy.log"
        cmd = [sys.executable, "-m", "spiders.run", "--store", store, "--run-id", run_id, "--report", str(report_path)]
        if sources_file:
            cmd += ["--sources", str(sources_file)]
        if urls_file:
            cmd += ["--urls", str(urls_file)]
        for name in sources or []:
            cmd += ["--source", name]
        if since:
            cmd += ["--since", since.isoformat()]
        if until:
            cmd += ["--until", until.isoformat()]
        if max_pages is not None:
            cmd += ["--max-pages", str(max_pages)]
        for key, value in (settings or {}).items():
            cmd += ["--set", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
        with open(log_path, "wb") as log:
            proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, check=False)
        log_tail = log_path.read_text("utf-8", "replace")[-4000:]
        if proc.returncode == 2 or not report_path.exists():
            raise CrawlFailed(f"crawl process failed (exit {proc.returncode}):\n{log_tail}")
        report = json.loads(report_path.read_text())
        report["exit_code"] = proc.returncode
        if proc.returncode != 0:
            report["log_tail"] = log_tail
        return report


@task(name="crawl-sources", cache_policy=NO_CACHE)
def crawl_task(sources_file: str | None, store: str, run_id: str, sources: list[str] | None, since: date | None,
               until: date | None, max_pages: int | None, settings: dict[str, Any] | None = None,
               urls_file: str | None = None) -> dict[str, Any]:
    report = run_crawl_process(sources_file, store, run_id, sources, since, until, max_pages, settings, urls_file)
    if report["exit_code"]:
        get_run_logger().warning("crawl finished with problems: %s", report.get("log_tail", "")[-1500:])
    return report


@flow(name="crawl", flow_run_name=describe_run, log_prints=True)
def crawl_flow(sources_file: str, store: str, sources: list[str] | None = None, since: date | None = None,
               until: date | None = None, max_pages: int | None = None, run_id: str | None = None) -> dict[str, Any]:
    run_id = run_id or new_run_id()
    started = time.perf_counter()
    crawl = crawl_task(sources_file, store, run_id, sources, since, until, max_pages)
    report = _finish_report(run_id, store, crawl=crawl, timings={"crawl": time.perf_counter() - started})
    return report


# -- clean ---------------------------------------------------------------------------------------


@task(name="list-pending-raw", retries=3, retry_delay_seconds=[1, 5, 15], cache_policy=NO_CACHE)
def list_pending_task(store: str, sources: list[str] | None, since: str | None, until: str | None,
                      replay: bool) -> list[str]:
    target = open_store(store)
    publish_schema(target)  # write-once: the contract sits beside the data before any document
    return pending_raw_keys(target, sources, since, until, include_cleaned=replay)


@task(name="clean-raw-object", task_run_name="clean {raw_key}", retries=2, retry_delay_seconds=[5, 30],
      cache_policy=NO_CACHE)
def clean_partition_task(store: str, raw_key: str, workers: int, page_timeout: float, replay: bool,
                         run_id: str = "") -> dict[str, Any]:
    target = open_store(store)
    post = Postprocess(target, replay=replay)
    result = clean_raw_object(
        target,
        raw_key,
        lambda pages: clean_pages(pages, workers, page_timeout, DEFAULT_CONFIG),
        replay=replay,
        postprocess=post,
    )
    out = result.to_dict()
    if not result.skipped:
        out.update(post.finish(run_id or new_run_id(), stored=True))
    return out


@flow(name="clean", flow_run_name=describe_run, log_prints=True)
def clean_flow(store: str, sources: list[str] | None = None, since: str | None = None, until: str | None = None,
               workers: int | None = None, page_timeout: float = 60.0, replay: bool = False,
               run_id: str | None = None, distributed: bool = False) -> dict[str, Any]:
    """Clean raw objects not yet cleaned. With ``distributed`` (a Dask task runner set through
    ``with_options``), raw objects are cleaned in parallel on the cluster's workers."""
    run_id = run_id or new_run_id()
    started = time.perf_counter()
    clean = _clean(store, sources, since, until, workers, page_timeout, replay, distributed=distributed,
                   run_id=run_id)
    return _finish_report(run_id, store, clean=clean, timings={"clean": time.perf_counter() - started})


def _clean(store: str, sources: list[str] | None, since: str | None, until: str | None, workers: int | None,
           page_timeout: float, replay: bool, keys: list[str] | None = None,
           distributed: bool = False, run_id: str = "") -> dict[str, Any]:
    if keys is None:
        keys = list_pending_task(store, sources, since, until, replay)
    forget_indexes()  # a long-lived process (cleanwire serve) must see what other runs added since
    if distributed:
        # One raw object per Dask task, each cleaned by one worker process of its own.
        futures = clean_partition_task.map(store, keys, workers or 1, page_timeout, replay, run_id)
        partitions = [f.result() for f in futures]
    else:
        # Locally, raw objects go one after another, each spread over all worker processes: the
        # order is deterministic (dedup assigns clusters in it) and memory stays one partition deep.
        workers = workers or default_workers()
        partitions = []
        with CleanProgress(len(keys)) as progress:
            for key in keys:
                partitions.append(clean_partition_task(store, key, workers, page_timeout, replay, run_id))
                progress.advance(partitions[-1])
    return {"partitions": partitions, "sources": merge_clean_results(partitions)}


class CleanProgress:
    """Progress of the clean stage: a bar on an interactive terminal and a Prefect progress artifact."""

    def __init__(self, total: int):
        self.total = total
        self.done = 0
        self.pages = 0
        self.bar: Any = None
        self.artifact: Any = None

    def __enter__(self) -> CleanProgress:
        if self.total == 0:
            return self
        if sys.stderr.isatty():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("cleaning raw objects"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("{task.fields[pages]} pages"), TimeRemainingColumn(), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("clean", total=self.total, pages=0)
        try:
            from prefect.artifacts import create_progress_artifact

            self.artifact = create_progress_artifact(0.0, key="cleanwire-clean-progress",
                                                     description="raw objects cleaned (%)")
        except Exception as exc:  # a missing artifact is cosmetic; the run goes on
            logger.debug("no progress artifact: %s", exc)
        return self

    def advance(self, partition: dict[str, Any]) -> None:
        self.done += 1
        self.pages += partition.get("pages", 0)
        if self.bar is not None:
            self.bar.update(self.task, advance=1, pages=self.pages)
        if self.artifact is not None:
            from prefect.artifacts import update_progress_artifact

            try:
                update_progress_artifact(self.artifact, 100.0 * self.done / self.total)
            except Exception as exc:  # cosmetic, as above
                logger.debug("progress artifact not updated: %s", exc)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


# -- run -----------------------------------------------------------------------------------------


@flow(name="run", flow_run_name=describe_run, log_prints=True)
def run_flow(sources_file: str, store: str, sources: list[str] | None = None, since: date | None = None,
             until: date | None = None, max_pages: int | None = None, workers: int | None = None,
             page_timeout: float = 60.0, run_id: str | None = None, distributed: bool = False) -> dict[str, Any]:
    """Crawl the sources, then clean every raw object of theirs not yet cleaned."""
    run_id = run_id or new_run_id()
    t0 = time.perf_counter()
    crawl = crawl_task(sources_file, store, run_id, sources, since, until, max_pages)
    t1 = time.perf_counter()
    crawled = sorted(crawl.get("sources", {}))
    clean = _clean(store, crawled or sources, None, None, workers, page_timeout, False, distributed=distributed,
                   run_id=run_id)
    t2 = time.perf_counter()
    return _finish_report(run_id, store, crawl=crawl, clean=clean, timings={"crawl": t1 - t0, "clean": t2 - t1})


@task(name="write-run-report", retries=3, retry_delay_seconds=[5, 15, 30], cache_policy=NO_CACHE)
def write_report_task(store: str, key: str, report: dict[str, Any]) -> None:
    """The report is the last write of a run: retried on its own so a store hiccup at the very end
    does not fail a run whose work is done."""
    open_store(store).put(key, dumps(report), "application/json")


def _finish_report(run_id: str, store: str, *, crawl: dict[str, Any] | None = None,
                   clean: dict[str, Any] | None = None, timings: dict[str, float],
                   extra: dict[str, Any] | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {
        **(extra or {}),
        "run_id": run_id,
        "store": store,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cleaning_config": DEFAULT_CONFIG.config_hash,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    if crawl is not None:
        report["crawl"] = crawl
    if clean is not None:
        report["clean"] = clean
    report["totals"] = summarize(report)
    crawl_ok = crawl is None or crawl.get("exit_code", 0) == 0
    report["status"] = "ok" if crawl_ok else "crawl-problems"
    key = layout.run_manifest_key(run_id)
    write_report_task(store, key, report)
    report["report_key"] = key
    try:
        create_markdown_artifact(key="cleanwire-run-report", markdown=to_markdown(report),
                                 description=f"cleanwire run {run_id}")
    except Exception as exc:  # the report is already stored; the artifact is a convenience
        logger.warning("could not create the Prefect artifact: %s", exc)
    return report
