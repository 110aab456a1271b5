"""The downstream API: iterate, fetch and trace clean documents in any store (a directory or s3:// URL).

    from pipelines.readers import iter_documents, get, aliases
    for doc in iter_documents("s3://news/cleanwire", since="2026-11-01", source="example-news"):
        ...

Dates (``since``/``until``, both inclusive) are on the fetch date: the ``date=`` partition of the Parquet
view, which is the UTC day of ``fetched_at`` of the raw object the document was cleaned from. A document
seen again on a later day (an alias) can appear in that day's partition too; it is yielded once.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds

from pipelines import layout
from pipelines.parquet import as_date, read_parquet_dataset
from pipelines.store import KeyNotFound, ObjectStore, open_store

logger = logging.getLogger(__name__)

FETCH_BATCH = 64  # documents fetched concurrently when ids come from the Parquet view
FETCH_THREADS = 8  # an S3 GET is latency-bound; 8 in flight hides most of it, local reads do not mind
_DOC_ID = re.compile(r"^[0-9a-f]{64}$")
_DOCS_PREFIX = f"{layout.CLEAN_PREFIX}/docs/"
_PARQUET_PREFIX = f"{layout.CLEAN_PREFIX}/parquet/"

StoreLike = ObjectStore | str | os.PathLike[str]


def as_store(store: StoreLike) -> ObjectStore:
    return open_store(store) if isinstance(store, str | os.PathLike) else store


def _check_id(doc_id: str) -> str:
    if not _DOC_ID.match(doc_id):
        raise ValueError(f"not a document id (64 lower-case hex digits): {doc_id!r}")
    return doc_id


def get(store: StoreLike, doc_id: str) -> dict[str, Any]:
    """The document with this id; ``KeyNotFound`` if the store has none."""
    st = as_store(store)
    try:
        data = st.get(layout.doc_key(_check_id(doc_id)))
    except KeyNotFound:
        raise KeyNotFound(f"no document {doc_id} in {st.url}") from None
    doc: dict[str, Any] = json.loads(data)
    return doc


def aliases(store: StoreLike, doc_id: str) -> list[dict[str, Any]]:
    """Other URLs/sources this content was seen at after it was first stored (in key order)."""
    st = as_store(store)
    prefix = layout.alias_key(_check_id(doc_id), "").rsplit("/", 1)[0] + "/"
    return [json.loads(st.get(key)) for key in st.list(prefix)]


def has_parquet_view(store: ObjectStore) -> bool:
    return next(iter(store.list(_PARQUET_PREFIX)), None) is not None


def _ids_from_parquet(
    store: ObjectStore, since: date | None, until: date | None, source: str | None
) -> Iterator[str]:
    table = read_parquet_dataset(store, since, until, columns=["id", "source", "date"])
    if source is not None:
        table = table.filter(ds.field("source") == source)
    # Deterministic order: by day, then id.
    table = table.take(pc.sort_indices(table, sort_keys=[("date", "ascending"), ("id", "ascending")]))
    seen: set[str] = set()
    for doc_id in table.column("id").to_pylist():
        if doc_id not in seen:
            seen.add(doc_id)
            yield doc_id


def _fetch(store: ObjectStore, ids: Iterable[str]) -> Iterator[dict[str, Any]]:
    batch: list[str] = []
    with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
        for doc_id in ids:
            batch.append(doc_id)
            if len(batch) == FETCH_BATCH:
                yield from pool.map(lambda i: get(store, i), batch)
                batch = []
        yield from pool.map(lambda i: get(store, i), batch)


def _docs_by_listing(
    store: ObjectStore, since: date | None, until: date | None, source: str | None
) -> Iterator[dict[str, Any]]:
    # Without the Parquet view every document is read to learn its date and source: O(all documents).
    keys = (k for k in store.list(_DOCS_PREFIX) if k.endswith(".json"))
    ids = (k.rsplit("/", 1)[1][: -len(".json")] for k in keys)
    for doc in _fetch(store, ids):
        day = date.fromisoformat(doc["fetched_at"][:10])
        if (since and day < since) or (until and day > until):
            continue
        if source is not None and doc["source"] != source:
            continue
        yield doc


def iter_documents(
    store: StoreLike,
    *,
    since: str | date | None = None,
    until: str | date | None = None,
    source: str | None = None,
    use_parquet: bool | None = None,
) -> Iterator[dict[str, Any]]:
    """Clean documents whose fetch date is within ``[since, until]`` (inclusive, either open), optionally
    of one source, each once.

    With the Parquet view present (or ``use_parquet=True``) ids come from its date partitions (only the
    days in range are read) in (date, id) order; otherwise every document is listed and read, in id
    order. Documents are always read from their JSON objects, the source of truth.
    """
    st = as_store(store)
    lo, hi = as_date(since, "since"), as_date(until, "until")
    if use_parquet is None:
        use_parquet = has_parquet_view(st)
    if use_parquet:
        yield from _fetch(st, _ids_from_parquet(st, lo, hi, source))
    else:
        yield from _docs_by_listing(st, lo, hi, source)
