"""Clean zone: turn one raw WARC object into stored documents, aliases, rejects and a Parquet file.

The unit of work is one raw object. Every key written is derived from the raw object or the
content hash, so a re-run after a crash rewrites nothing that was finished and duplicates nothing;
a completion marker written last makes a finished object a no-op for later runs.
"""

from __future__ import annotations

import io
import json
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cleaning.config import CLEANING_VERSION
from cleaning.records import CleanDocument, CleanResult, RawPage, Rejected
from pipelines import layout
from pipelines.raw_zone import iter_raw_pages
from pipelines.store import KeyNotFound, ObjectStore

logger = logging.getLogger(__name__)

WRITE_THREADS = 8  # concurrent document writes per raw object

Cleaner = Callable[[Iterable[RawPage]], Iterator[tuple[RawPage, CleanResult]]]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


@dataclass
class PartitionResult:
    raw_key: str
    source: str
    date: str
    pages: int = 0
    stored: int = 0  # documents written by this partition
    duplicates: int = 0  # content already stored (exact duplicate): recorded as an alias
    unchanged: int = 0  # replay: already stored from this very raw record, output unchanged
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: bool = False  # already cleaned (completion marker present)
    seconds_clean: float = 0.0
    seconds_store: float = 0.0
    new_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "raw_key": self.raw_key,
            "source": self.source,
            "date": self.date,
            "pages": self.pages,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "unchanged": self.unchanged,
            "rejected": dict(sorted(self.rejected.items())),
            "skipped": self.skipped,
            "seconds_clean": round(self.seconds_clean, 3),
            "seconds_store": round(self.seconds_store, 3),
        }


def put_if_changed(store: ObjectStore, key: str, data: bytes, content_type: str) -> bool:
    """Replace a derived object only when its bytes differ (re-runs then write nothing)."""
    try:
        if store.get(key) == data:
            return False
    except KeyNotFound:
        pass
    store.put(key, data, content_type)
    return True


def parquet_key(raw: layout.RawKey) -> str:
    """The Parquet file of one raw object."""
    return layout.parquet_key(raw.source, raw.date, raw.stem)


def parquet_ids(store: ObjectStore, raw: layout.RawKey) -> set[str]:
    """Ids in a raw object's Parquet file: the documents of its last finished clean (a file is written
    whole, after its documents)."""
    import pyarrow.parquet as pq

    try:
        data = store.get(parquet_key(raw))
    except KeyNotFound:
        return set()
    return set(pq.read_table(io.BytesIO(data), columns=["id"]).column("id").to_pylist())


def pending_raw_keys(
    store: ObjectStore,
    sources: list[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    include_cleaned: bool = False,
) -> list[str]:
    """Raw objects not yet cleaned (or all, with include_cleaned), filtered by source and fetch day."""
    done = (
        set()
        if include_cleaned
        else {
            k.removeprefix("state/cleaned/").removesuffix(".json") for k in store.list("state/cleaned/raw/")
        }
    )
    out = []
    prefixes = [f"raw/source={s}/" for s in sources] if sources else ["raw/"]
    for prefix in prefixes:
        for key in store.list(prefix):
            raw = layout.parse_raw_key(key)
            if raw is None or key in done:
                continue
            if (since and raw.date < since) or (until and raw.date > until):
                continue
            out.append(key)
    return out


class CleanZoneWriter:
    """Write-once documents and alias records for one store."""

    def __init__(self, store: ObjectStore):
        self.store = store

    def store_document(self, doc: CleanDocument) -> str:
        """Write the document if its content is new; otherwise record the URL as an alias of the
        existing document (write-once too). Returns "written", "alias", or "resumed" when the
        document was already written from this same raw record (an interrupted or replayed run)."""
        key = layout.doc_key(doc.id)
        if self.store.put_if_absent(key, dumps(doc.to_dict()), "application/json"):
            return "written"
        try:
            existing = json.loads(self.store.get(key))
        except (KeyNotFound, ValueError):
            existing = {}
        same_url = existing.get("url") == doc.url
        same_raw = existing.get("lineage", {}).get("raw_object") == doc.lineage.get("raw_object")
        if same_url and same_raw:
            return "resumed"
        if same_url:
            return "alias"  # the same URL fetched again with the same content: nothing new to record
        alias = {
            "schema_version": doc.to_dict()["schema_version"],
            "id": doc.id,
            "url": doc.url,
            "canonical_url": doc.canonical_url,
            "source": doc.source,
            "fetched_at": doc.fetched_at,
            "title": doc.title,
            "raw_object": doc.lineage.get("raw_object"),
            "raw_offset": doc.lineage.get("raw_offset"),
        }
        self.store.put_if_absent(layout.alias_key(doc.id, doc.url), dumps(alias), "application/json")
        return "alias"


def clean_raw_object(
    store: ObjectStore,
    raw_key: str,
    cleaner: Cleaner,
    *,
    replay: bool = False,
    postprocess: Callable[[str, list[CleanDocument]], list[CleanResult]] | None = None,
) -> PartitionResult:
    """Clean one raw WARC object into the clean zone. ``postprocess(source, docs)`` may transform
    the partition's documents (learned boilerplate, near-duplicate marking) before they are stored."""
    raw = layout.parse_raw_key(raw_key)
    if raw is None:
        raise ValueError(f"not a raw zone key: {raw_key!r}")
    result = PartitionResult(raw_key, raw.source, raw.date)
    marker = layout.cleaned_marker_key(raw_key)
    if not replay and store.exists(marker):
        result.skipped = True
        return result

    started = time.perf_counter()
    docs: list[CleanDocument] = []
    rejects: list[Rejected] = []
    with tempfile.TemporaryDirectory(prefix="cleanwire-clean-") as tmp:
        local = Path(tmp) / "raw.warc.gz"
        store.download_file(raw_key, local)
        with open(local, "rb") as fh:
            for _page, outcome in cleaner(iter_raw_pages(fh, raw_key, raw.source)):
                result.pages += 1
                (docs if isinstance(outcome, CleanDocument) else rejects).append(outcome)  # type: ignore[arg-type]
    if postprocess is not None and docs:
        post = postprocess(raw.source, docs)
        docs = [d for d in post if isinstance(d, CleanDocument)]
        rejects.extend(r for r in post if isinstance(r, Rejected))
    result.seconds_clean = time.perf_counter() - started

    started = time.perf_counter()
    writer = CleanZoneWriter(store)
    new_docs: list[dict[str, Any]] = []
    seen_in_partition: set[str] = set()
    unique: list[CleanDocument] = []
    repeats: list[CleanDocument] = []  # same content twice in this raw object: aliases of the first
    for doc in docs:
        (repeats if doc.id in seen_in_partition else unique).append(doc)
        seen_in_partition.add(doc.id)
    # Documents are independent objects: write them concurrently (object stores are latency-bound).
    with ThreadPoolExecutor(max_workers=WRITE_THREADS, thread_name_prefix="clean-zone-write") as pool:
        statuses = list(pool.map(writer.store_document, unique))
    for doc in repeats:
        writer.store_document(doc)
        result.duplicates += 1
    finished: set[str] | None = None  # ids in the raw object's Parquet file, read when first needed
    for doc, status in zip(unique, statuses, strict=True):
        if status == "alias":
            result.duplicates += 1
            continue
        if status == "resumed" and replay:
            # Stored from this raw object before: unchanged if its last finished clean has it; if not,
            # an earlier replay wrote it and died before the Parquet file, which this replay must write.
            finished = parquet_ids(store, raw) if finished is None else finished
            status = "unchanged" if doc.id in finished else "resumed"
        if status == "unchanged":
            result.unchanged += 1
        else:
            result.stored += 1
            result.new_ids.append(doc.id)
        new_docs.append(doc.to_dict())
    for rej in rejects:
        result.rejected[rej.reason.value] += 1
    if replay and result.stored == 0:
        # Re-cleaning gave the documents already stored: nothing to write (not even the marker).
        result.seconds_store = time.perf_counter() - started
        return result
    if rejects:
        data = b"".join(dumps(r.to_dict()) + b"\n" for r in rejects)
        put_if_changed(
            store, layout.rejects_key(raw.source, raw.date, raw.stem), data, "application/x-ndjson"
        )
    if new_docs:
        from pipelines.parquet import documents_to_parquet_bytes

        store.put(parquet_key(raw), documents_to_parquet_bytes(new_docs), "application/vnd.apache.parquet")
    store.put(
        marker,
        dumps({**result.to_dict(), "cleaning_version": CLEANING_VERSION, "finished_at": time.time()}),
        "application/json",
    )
    result.seconds_store = time.perf_counter() - started
    return result
