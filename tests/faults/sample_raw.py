"""Raw pages, raw objects and an in-process cleaner for clean-zone tests: fast, deterministic, and
independent of the real cleaning's rules."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable, Iterator

from cleaning.records import CleanDocument, CleanResult, RawPage, Rejected, RejectReason
from pipelines.raw_zone import RawWarcWriter
from pipelines.store import ObjectStore

DAY = "2026-11-20"


def toy_clean(page: RawPage) -> CleanResult:
    """A stand-in for cleaning.clean.clean_page: the text of the <p> elements; non-200 and short pages
    are rejects."""
    lineage = {"raw_object": page.raw_object, "raw_offset": page.raw_offset}
    if page.status != 200:
        return Rejected(
            page.url, page.source, RejectReason.HTTP_STATUS, f"HTTP {page.status}", page.fetched_at, lineage
        )
    text = "\n".join(re.findall(r"<p>(.*?)</p>", page.body.decode()))
    if len(text) < 20:
        return Rejected(
            page.url, page.source, RejectReason.TOO_SHORT, f"{len(text)} characters", page.fetched_at, lineage
        )
    return CleanDocument(
        id=hashlib.sha256(text.encode()).hexdigest(),
        url=page.url,
        canonical_url=None,
        source=page.source,
        title=None,
        text=text,
        fetched_at=page.fetched_at,
        lineage=lineage,
    )


def in_process(pages: Iterable[RawPage]) -> Iterator[tuple[RawPage, CleanResult]]:
    for page in pages:
        yield page, toy_clean(page)


def revised_clean(pages: Iterable[RawPage]) -> Iterator[tuple[RawPage, CleanResult]]:
    """``in_process`` after a change of the cleaning that alters every document's text."""
    for page, outcome in in_process(pages):
        if isinstance(outcome, CleanDocument):
            text = outcome.text + "\nRevised."
            outcome = dataclasses.replace(outcome, text=text, id=hashlib.sha256(text.encode()).hexdigest())
        yield page, outcome


def raw_page(url: str, body: str, *, status: int = 200, source: str = "example", second: int = 0) -> RawPage:
    return RawPage(
        url,
        url,
        status,
        {"content-type": "text/html"},
        f"<html><body>{body}</body></html>".encode(),
        f"{DAY}T08:00:{second:02d}Z",
        source,
    )


def article(n: int) -> str:
    return f"<p>Article {n} says something worth keeping.</p><p>Second paragraph of {n}.</p>"


def put_raw(store: ObjectStore, run: str, pages: list[RawPage]) -> str:
    """One raw object holding ``pages`` (one source, one day); returns its key."""
    writer = RawWarcWriter(store, run, max_records=len(pages))
    for page in pages:
        writer.write(page)
    (entry,) = writer.finish_all()
    return str(entry["key"])
