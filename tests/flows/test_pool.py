"""flows.pool: pages cleaned in batches in worker processes, with the per-page time limit and crash
isolation of one task per page: only the page that hangs, raises or kills its worker is rejected."""

from __future__ import annotations

import os
import signal
import time

import pytest

from cleaning.clean import clean_page
from cleaning.config import DEFAULT_CONFIG, CleaningConfig
from cleaning.records import CleanDocument, CleanResult, RawPage, Rejected, RejectReason
from flows import pool
from flows.pool import clean_pages

TIMEOUT = 1.0
ARTICLE = "".join(
    f"<p>Paragraph {n}: the regulators met eleven technology companies on Thursday to discuss the rules "
    f"for synthetic media, and said that further talks would follow next month in the capital.</p>"
    for n in range(6)
)


def _page(n: int, behaviour: str = "clean") -> RawPage:
    body = f"<html lang='en'><head><title>Story {n}</title></head><body><article><h1>Story {n}</h1>"
    body += ARTICLE.replace("Paragraph", f"Story {n}, paragraph") + "</article></body></html>"
    url = f"https://news.example/{behaviour}/story-{n}"
    return RawPage(url, url, 200, {"content-type": "text/html; charset=utf-8"}, body.encode(),
                   "2024-05-06T07:08:09Z", "test", raw_object=f"raw/{n}.warc.gz", raw_offset=n)  # fmt: skip


def misbehaving_cleaner(page: RawPage, config: CleaningConfig) -> CleanResult:
    """Runs in the workers (by name): the URL's first path segment says what the page does."""
    behaviour = page.url.split("/")[3]
    if behaviour == "hang":  # in Python code: the page timer interrupts it
        while True:
            time.sleep(0.05)
    if behaviour == "hang-uninterruptible":  # as if stuck in a C call: the timer cannot interrupt it
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)
    if behaviour == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    if behaviour == "raise":
        raise ValueError("broken page")
    if behaviour == "slow":  # each page well within the limit, a batch of them not
        time.sleep(0.4 * TIMEOUT)
    return clean_page(page, config)


def _run(pages: list[RawPage], workers: int = 2) -> list[tuple[RawPage, CleanResult]]:
    return list(clean_pages(pages, workers, TIMEOUT, DEFAULT_CONFIG, cleaner=misbehaving_cleaner))


def _batch_of(pages: list[RawPage], index: int, workers: int = 2) -> list[RawPage]:
    """The batch the pool sends ``pages[index]`` in (the tests need company for the culprit)."""
    batches = list(pool._batches(pages, pool.BATCHES_PER_WORKER * workers))
    return next(b for b in batches if pages[index] in b)


def _assert_cleaned(page: RawPage, result: CleanResult) -> None:
    assert isinstance(result, CleanDocument), result
    assert result.to_dict() == clean_page(page).to_dict()


def test_batches_shrink_at_the_end_of_the_input() -> None:
    pages = [_page(n) for n in range(10 * pool.BATCH_PAGES)]
    sizes = [len(b) for b in pool._batches(pages, 4)]
    assert sum(sizes) == len(pages) and sizes[0] == pool.BATCH_PAGES and sizes[-1] == 1
    assert sizes == sorted(sizes, reverse=True)
    big = [RawPage(p.url, p.url, 200, p.headers, p.body * 400, p.fetched_at, p.source) for p in pages[:8]]
    assert all(len(b) < pool.BATCH_PAGES for b in pool._batches(big, 4))  # the byte limit


def test_batched_results_are_in_input_order_and_the_same_as_in_process() -> None:
    pages = [_page(n) for n in range(3 * pool.BATCH_PAGES + 1)]
    pages.insert(5, RawPage("https://news.example/x.pdf", "https://news.example/x.pdf", 200,
                            {"content-type": "application/pdf"}, b"%PDF-1.7", "2024-05-06T07:08:09Z", "test"))  # fmt: skip
    out = list(clean_pages(pages, 2, TIMEOUT, DEFAULT_CONFIG))
    assert [p for p, _ in out] == pages
    for page, result in out:
        assert result.to_dict() == clean_page(page).to_dict()


@pytest.mark.parametrize("behaviour", ["hang", "hang-uninterruptible"])
def test_a_page_that_hangs_is_rejected_and_its_batch_mates_are_cleaned(behaviour: str) -> None:
    pages = [_page(n, behaviour if n == 2 else "clean") for n in range(12)]
    assert len(_batch_of(pages, 2)) >= 3
    started = time.monotonic()
    out = _run(pages)
    assert [p for p, _ in out] == pages
    page, result = out[2]
    assert isinstance(result, Rejected) and result.reason == RejectReason.EXTRACTION_TIMEOUT
    assert result.detail == "cleaning took longer than 1s"
    assert result.lineage == {"raw_object": "raw/2.warc.gz", "raw_offset": 2}
    for page, result in out[:2] + out[3:]:
        _assert_cleaned(page, result)
    assert time.monotonic() - started < 20


def test_a_worker_that_dies_rejects_only_its_page() -> None:
    pages = [_page(n, "die" if n == 1 else "clean") for n in range(12)]
    assert len(_batch_of(pages, 1)) >= 3
    out = _run(pages)
    assert [p for p, _ in out] == pages
    _, result = out[1]
    assert isinstance(result, Rejected) and result.reason == RejectReason.EXTRACTION_ERROR
    assert result.detail.startswith("worker process died")
    for page, result in out[:1] + out[2:]:
        _assert_cleaned(page, result)
    # the pool replaced the worker and goes on
    _assert_cleaned(*_run([_page(9)])[0])


def test_a_page_that_raises_is_rejected_with_the_error() -> None:
    pages = [_page(n, "raise" if n == 1 else "clean") for n in range(8)]
    assert len(_batch_of(pages, 1)) > 1
    out = _run(pages)
    _, result = out[1]
    assert isinstance(result, Rejected) and result.reason == RejectReason.EXTRACTION_ERROR
    assert result.detail == "ValueError: broken page"
    for page, result in out[:1] + out[2:]:
        _assert_cleaned(page, result)


def test_pages_a_batch_has_no_time_left_for_are_cleaned_not_rejected() -> None:
    pages = [_page(n, "slow") for n in range(6)]
    assert len(_batch_of(pages, 0, workers=1)) >= 3  # more than the limit allows one batch
    out = _run(pages, workers=1)
    assert [p for p, _ in out] == pages
    for page, result in out:
        _assert_cleaned(page, result)
