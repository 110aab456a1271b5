"""Worker processes for cleaning: one pool per process, pages cleaned with a per-page time limit.

A page that exceeds the limit has its worker killed and replaced (pebble), so one pathological
page cannot stall a partition; a worker that dies (segfault, OOM kill) is a reject, not a crash.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout

from pebble import ProcessExpired, ProcessPool

from cleaning.clean import clean_page
from cleaning.config import DEFAULT_CONFIG, CleaningConfig
from cleaning.records import CleanResult, RawPage, Rejected, RejectReason

_lock = threading.Lock()
_pools: dict[int, ProcessPool] = {}


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)))


def get_pool(workers: int) -> ProcessPool:
    """The shared pool with ``workers`` processes (forkserver: safe beside Prefect's threads)."""
    with _lock:
        pool = _pools.get(workers)
        if pool is None or not pool.active:
            pool = ProcessPool(max_workers=workers, context=multiprocessing.get_context("forkserver"))
            _pools[workers] = pool
        return pool


@atexit.register
def shutdown_pools() -> None:
    with _lock:
        for pool in _pools.values():
            pool.stop()
            pool.join(timeout=5)
        _pools.clear()


def _clean_in_worker(page: RawPage, config: CleaningConfig) -> CleanResult:
    try:
        return clean_page(page, config)
    except Exception as exc:  # a bug on one page becomes that page's reject (with the error), never a crash
        return Rejected(page.url, page.source, RejectReason.EXTRACTION_ERROR, f"{type(exc).__name__}: {exc}"[:500],
                        page.fetched_at, {"raw_object": page.raw_object, "raw_offset": page.raw_offset})


def clean_pages(
    pages: Iterable[RawPage],
    workers: int,
    timeout: float = 60.0,
    config: CleaningConfig = DEFAULT_CONFIG,
) -> Iterator[tuple[RawPage, CleanResult]]:
    """Clean pages in worker processes, yielding (page, result) in input order.

    At most ``4 × workers`` pages are in flight, so memory does not grow with the input.
    """
    pool = get_pool(workers)
    window: list[tuple[RawPage, object]] = []
    limit = 4 * workers
    for page in pages:
        window.append((page, pool.schedule(_clean_in_worker, args=(page, config), timeout=timeout)))
        if len(window) >= limit:
            yield _collect(*window.pop(0), timeout)
    while window:
        yield _collect(*window.pop(0), timeout)


def _collect(page: RawPage, future: object, timeout: float) -> tuple[RawPage, CleanResult]:
    lineage = {"raw_object": page.raw_object, "raw_offset": page.raw_offset}
    try:
        return page, future.result()  # type: ignore[attr-defined]
    except FutureTimeout:
        reason, detail = RejectReason.EXTRACTION_TIMEOUT, f"cleaning took longer than {timeout:g}s"
    except ProcessExpired as exc:
        reason, detail = RejectReason.EXTRACTION_ERROR, f"worker process died (exit code {exc.exitcode})"
    except Exception as exc:  # a bug on one page becomes that page's reject (with the error), never a crash
        reason, detail = RejectReason.EXTRACTION_ERROR, f"{type(exc).__name__}: {exc}"[:500]
    return page, Rejected(page.url, page.source, reason, detail, page.fetched_at, lineage)
