"""Worker processes for cleaning: one pool per process, pages cleaned with a per-page time limit.

Pages go to the workers in batches (see ``BATCH_PAGES``): one task per page cost 0.85 ms of CPU per
page in pebble's threads, locks and acknowledgements, a sixth of the cleaning time of a 9 kB page. The
per-page time limit holds inside a batch:

- a worker arms a timer (SIGALRM) for each page; a page that overruns it is interrupted, and
  rejected with ``extraction_timeout`` if it had the whole limit to itself (the first page of its
  batch), otherwise it and the rest of the batch go back to be cleaned in a batch of their own;
- a page stuck where the timer cannot interrupt it (inside a C call) or a worker that dies (segfault,
  OOM kill) makes pebble kill or lose the whole batch: its pages are then cleaned again one per task,
  so that only the page that hangs or kills its worker is rejected (pebble kills and replaces the
  worker of a single page that overruns the limit, as it always did). Such a page costs two limits
  (its batch's, then its own) instead of one: the price of not paying pebble's overhead per page.
"""

from __future__ import annotations

import atexit
import gc
import math
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from types import FrameType

from pebble import ProcessExpired, ProcessPool

from cleaning.clean import clean_page
from cleaning.config import DEFAULT_CONFIG, CleaningConfig
from cleaning.records import CleanResult, RawPage, Rejected, RejectReason

Cleaner = Callable[[RawPage, CleaningConfig], CleanResult]

# A batch closes at this many pages or once its bodies reach this many bytes. pebble costs about 0.7 ms
# of CPU per task (threads, locks and acknowledgements in both processes) besides 0.1–0.2 ms per page:
# per page in all, 0.85 ms one page per task, 0.3 ms in batches of 8 small pages (9 kB), 0.5 ms in
# batches of 3 benchmark pages (170 kB). The byte limit keeps a batch to about 75 ms of cleaning.
BATCH_PAGES = 8
BATCH_BYTES = 512 * 1024
# Batches in flight per worker: one running, one queued behind it so that no worker waits for the next.
BATCHES_PER_WORKER = 2

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


# --- in the worker ------------------------------------------------------------------------------------


class _PageTimeout(BaseException):
    """Raised in a worker by its page timer. A BaseException: the cleaning code's ``except Exception``
    handlers must not turn it into an ``extraction_error`` reject."""


_armed = False  # whether the page timer may interrupt: never outside the cleaning of a page


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    global _armed
    if _armed:
        _armed = False
        raise _PageTimeout


def _arm(seconds: float) -> None:
    global _armed
    if math.isfinite(seconds):
        _armed = True
        signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-6))


def _disarm() -> None:
    global _armed
    _armed = False
    signal.setitimer(signal.ITIMER_REAL, 0)


def _lineage(page: RawPage) -> dict[str, object]:
    return {"raw_object": page.raw_object, "raw_offset": page.raw_offset}


def _timeout_reject(page: RawPage, timeout: float) -> Rejected:
    return Rejected(page.url, page.source, RejectReason.EXTRACTION_TIMEOUT,
                    f"cleaning took longer than {timeout:g}s", page.fetched_at, _lineage(page))  # fmt: skip


def _clean_in_worker(page: RawPage, config: CleaningConfig, cleaner: Cleaner = clean_page) -> CleanResult:
    try:
        return cleaner(page, config)
    except Exception as exc:  # a bug on one page becomes that page's reject (with the error), never a crash
        return Rejected(page.url, page.source, RejectReason.EXTRACTION_ERROR, f"{type(exc).__name__}: {exc}"[:500],
                        page.fetched_at, _lineage(page))  # fmt: skip


def _clean_batch(
    pages: list[RawPage], config: CleaningConfig, timeout: float, cleaner: Cleaner
) -> list[CleanResult]:
    """Results for the first pages of ``pages``, in order; fewer than the pages when the batch ran out
    of time: the rest are for the caller to send again."""
    signal.signal(signal.SIGALRM, _on_alarm)
    deadline = time.monotonic() + timeout
    results: list[CleanResult] = []
    for i, page in enumerate(pages):
        # The timer stops the batch at ``timeout`` after it started: the first page gets the whole limit,
        # a later page what its batch has left (it gets the whole limit when sent again).
        remaining = deadline - time.monotonic()
        if i and remaining <= 0:
            break
        result: CleanResult | None = None
        try:
            _arm(remaining)
            result = _clean_in_worker(page, config, cleaner)
            _disarm()
        except _PageTimeout:
            if result is None and i:
                break
            if result is None:
                result = _timeout_reject(page, timeout)
        finally:
            _disarm()
        results.append(result)
    _freeze_once()
    return results


_frozen = False


def _freeze_once() -> None:
    """After a worker's first batch, move what it has loaded (modules, the language and mojibake models,
    noise rules, trafilatura's caches) out of the garbage collector's reach: a full collection would
    otherwise walk all of it again and again, about 2% of the cleaning time on small pages."""
    global _frozen
    if not _frozen:
        gc.freeze()
        _frozen = True


# --- in the calling process ---------------------------------------------------------------------------


@dataclass
class _Batch:
    pages: list[RawPage]
    future: Future[list[CleanResult]] | None  # None: it could not be scheduled (``error`` says why)
    error: BaseException | None = None


def clean_pages(
    pages: Iterable[RawPage],
    workers: int,
    timeout: float = 60.0,
    config: CleaningConfig = DEFAULT_CONFIG,
    *,
    cleaner: Cleaner = clean_page,
) -> Iterator[tuple[RawPage, CleanResult]]:
    """Clean pages in worker processes, yielding (page, result) in input order.

    At most ``BATCHES_PER_WORKER × workers`` batches (of at most ``BATCH_PAGES`` pages) are in flight,
    and as many read ahead, so memory does not grow with the input. ``cleaner`` (a module-level function: workers receive it by
    name) is for tests.
    """
    if not timeout:  # as pebble reads a zero limit: none
        timeout = math.inf
    pool = get_pool(workers)
    window: deque[_Batch] = deque()
    limit = BATCHES_PER_WORKER * workers
    for batch in _batches(pages, limit):
        window.append(_submit(pool, batch, config, timeout, cleaner))
        if len(window) >= limit:
            yield from _collect(pool, window.popleft(), config, timeout, cleaner)
    while window:
        yield from _collect(pool, window.popleft(), config, timeout, cleaner)


def _batches(pages: Iterable[RawPage], in_flight: int) -> Iterator[list[RawPage]]:
    """Batches of the pages, in order. The input is read ``in_flight`` batches ahead: once it ends,
    batches shrink with what is left (a share of it per batch in flight, down to single pages), so
    that the workers finish together instead of one cleaning a last full batch alone."""
    source = iter(pages)
    ahead: deque[RawPage] = deque()
    ahead_bytes = 0
    ended = False
    while True:
        while not ended and len(ahead) < in_flight * BATCH_PAGES and ahead_bytes < in_flight * BATCH_BYTES:
            page = next(source, None)
            if page is None:
                ended = True
            else:
                ahead.append(page)
                ahead_bytes += len(page.body)
        if not ahead:
            return
        size = BATCH_PAGES if not ended else max(1, math.ceil(len(ahead) / in_flight))
        batch: list[RawPage] = []
        batch_bytes = 0
        while ahead and len(batch) < size and batch_bytes < BATCH_BYTES:
            page = ahead.popleft()
            batch.append(page)
            batch_bytes += len(page.body)
        ahead_bytes -= batch_bytes
        yield batch


def _hard_limit(timeout: float) -> float | None:
    """pebble's limit for a task: the page timer's, and time for the worker to report it."""
    return timeout + max(1.0, 0.05 * timeout) if math.isfinite(timeout) else None


def _submit(
    pool: ProcessPool, pages: list[RawPage], config: CleaningConfig, timeout: float, cleaner: Cleaner
) -> _Batch:
    try:
        future = pool.schedule(
            _clean_batch, args=(pages, config, timeout, cleaner), timeout=_hard_limit(timeout)
        )
    except Exception as exc:  # the pool is broken or closed: the pages are rejected with the reason
        return _Batch(pages, None, exc)
    return _Batch(pages, future)


def _collect(
    pool: ProcessPool, batch: _Batch, config: CleaningConfig, timeout: float, cleaner: Cleaner
) -> Iterator[tuple[RawPage, CleanResult]]:
    try:
        if batch.future is None:
            raise batch.error or RuntimeError("not scheduled")
        results = batch.future.result()
    except Exception as exc:
        if len(batch.pages) > 1:
            # One page hung or killed its worker, or the pool failed: each page again in its own task,
            # so that only the culprit is rejected.
            singles = [_submit(pool, [page], config, timeout, cleaner) for page in batch.pages]
            for single in singles:
                yield from _collect(pool, single, config, timeout, cleaner)
            return
        yield batch.pages[0], _failure(batch.pages[0], exc, timeout)
        return
    yield from zip(batch.pages, results, strict=False)  # fewer results: see below
    rest = batch.pages[len(results) :]
    if rest:  # the batch ran out of time: what it did not reach goes again, in a batch of its own
        yield from _collect(pool, _submit(pool, rest, config, timeout, cleaner), config, timeout, cleaner)


def _failure(page: RawPage, exc: BaseException, timeout: float) -> Rejected:
    if isinstance(exc, FutureTimeout):
        return _timeout_reject(page, timeout)
    if isinstance(exc, ProcessExpired):
        reason, detail = RejectReason.EXTRACTION_ERROR, f"worker process died (exit code {exc.exitcode})"
    else:  # a bug on one page becomes that page's reject (with the error), never a crash
        reason, detail = RejectReason.EXTRACTION_ERROR, f"{type(exc).__name__}: {exc}"[:500]
    return Rejected(page.url, page.source, reason, detail, page.fetched_at, _lineage(page))
