"""What "nothing lost, nothing duplicated, nothing partial" means for a store, checked object by object.

``store_problems`` reads a store through the public interfaces only (``ObjectStore.list/get``, the
Parquet view through ``pipelines.parquet.read_parquet_dataset``) and returns readable problem lines,
so a failing fault test says what went wrong.
"""

from __future__ import annotations

import gzip
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

import pyarrow.parquet as pq
from warcio.archiveiterator import ArchiveIterator

from pipelines import layout
from pipelines.parquet import read_parquet_dataset
from pipelines.raw_zone import iter_raw_pages
from pipelines.store import ObjectStore

DOCS = f"{layout.CLEAN_PREFIX}/docs/"
ALIASES = f"{layout.CLEAN_PREFIX}/aliases/"
PARQUET = f"{layout.CLEAN_PREFIX}/parquet/"
MARKERS = "state/cleaned/"


def _parses(key: str, data: bytes) -> str | None:
    """None if the object is complete and readable as what its name says, else the problem."""
    try:
        if key.endswith(".warc.gz"):
            # The gzip stream must be complete (a truncated member fails here) and every record readable.
            gzip.decompress(data)
            for record in ArchiveIterator(io.BytesIO(data)):
                record.content_stream().read()
        elif key.endswith(".json.gz"):
            json.loads(gzip.decompress(data))
        elif key.endswith(".jsonl"):
            for line in data.decode("utf-8").splitlines():
                json.loads(line)
        elif key.endswith(".json"):
            json.loads(data)
        elif key.endswith(".parquet"):
            pq.read_table(io.BytesIO(data))
    except Exception as exc:  # any failure to read is the finding, whatever its type
        return f"{key}: unreadable ({type(exc).__name__}: {exc})"[:300]
    return None


def store_snapshot(store: ObjectStore) -> dict[str, bytes]:
    return {key: store.get(key) for key in store.list()}


def store_problems(
    store: ObjectStore,
    articles: Iterable[str] = (),
    *,
    not_articles: Iterable[str] = (),
    finished: bool = True,
) -> list[str]:
    """Problems with the store's state.

    At any moment (even right after a kill): nothing partial is visible, no URL has two documents, the
    Parquet view has no id twice and none without its document. After a run that ``finished``, also:
    ``articles`` (URLs) have exactly one document each and ``not_articles`` none, every raw object
    carries its completion marker, every page is accounted for, and the Parquet view holds every document.
    """
    problems: list[str] = []
    objects = store_snapshot(store)

    # Nothing partial: nothing a writer left half-done is visible, and every object reads completely.
    problems += [
        f"{k}: a temp file is visible" for k in objects if any(p.startswith(".tmp") for p in k.split("/"))
    ]
    problems += [p for k, v in objects.items() if (p := _parses(k, v)) is not None]
    if problems:
        return problems

    docs = {k: json.loads(v) for k, v in objects.items() if k.startswith(DOCS)}
    by_url: dict[str, list[str]] = defaultdict(list)
    for key, doc in docs.items():
        if layout.doc_key(doc["id"]) != key:
            problems.append(f"{key}: holds document {doc['id']}")
        by_url[doc["url"]].append(doc["id"])

    # Never two documents for one URL; after a finished run one per article and none for other pages.
    problems += [f"{url}: {len(ids)} documents {sorted(ids)}" for url, ids in by_url.items() if len(ids) > 1]
    for url in articles if finished else ():
        if len(by_url.get(url, [])) != 1:
            problems.append(f"{url}: {len(by_url.get(url, []))} documents, expected 1")
    for url in not_articles:
        if url in by_url:
            problems.append(f"{url}: has a document but is not an article")

    # The Parquet view: each stored document exactly once, nothing else.
    table = read_parquet_dataset(store, columns=["id"])
    counts = Counter(table.column("id").to_pylist())
    problems += [f"parquet view: document {i} appears {n} times" for i, n in counts.items() if n > 1]
    ids = {d["id"] for d in docs.values()}
    problems += [f"parquet view: {i} is not a stored document" for i in sorted(set(counts) - ids)]
    if not finished:
        return problems
    problems += [f"parquet view: document {i} missing" for i in sorted(ids - set(counts))]

    # Every raw object cleaned once, every page accounted for.
    raw_keys = [k for k in objects if layout.parse_raw_key(k) is not None]
    markers = {k: json.loads(objects[k]) for k in objects if k.startswith(MARKERS)}
    stored = 0
    for key in raw_keys:
        marker = markers.get(layout.cleaned_marker_key(key))
        if marker is None:
            problems.append(f"{key}: never cleaned (no completion marker)")
            continue
        records = sum(1 for _ in iter_raw_pages(io.BytesIO(objects[key]), key))
        accounted = (
            marker["stored"] + marker["duplicates"] + marker["unchanged"] + sum(marker["rejected"].values())
        )
        if not records == marker["pages"] == accounted:
            problems.append(
                f"{key}: {records} records, marker says {marker['pages']} pages, {accounted} accounted"
            )
        raw = layout.parse_raw_key(key)
        assert raw is not None
        rejects_key = layout.rejects_key(raw.source, raw.date, raw.stem)
        rejects = objects.get(rejects_key, b"").decode().splitlines()
        if len(rejects) != sum(marker["rejected"].values()):
            problems.append(
                f"{key}: {len(rejects)} rejects stored, marker counts {sum(marker['rejected'].values())}"
            )
        stored += marker["stored"]
    # Each document was stored by exactly one raw object (a re-run counts what it resumed, once).
    if stored != len(docs):
        problems.append(f"markers count {stored} documents stored, the store has {len(docs)}")
    for key, value in objects.items():
        if key.startswith(ALIASES):
            alias = json.loads(value)
            if alias["id"] not in ids:
                problems.append(f"{key}: alias of a missing document")
    return problems


def sample_site_urls(site: Any) -> tuple[list[str], list[str]]:
    """The sample site's article URLs, and those of its pages that are not articles (index, tag, soft 404)."""
    from flows.sample_site import load_expected

    expected = load_expected()
    articles = [site.url(p) for p, e in expected.items() if e["kind"] == "article"]
    others = [site.url(p) for p, e in expected.items() if e["kind"] in ("index", "tag", "soft404")]
    return articles, others


def summary(store: ObjectStore) -> dict[str, Any]:
    keys = list(store.list())
    return {
        "raw_objects": sum(1 for k in keys if layout.parse_raw_key(k) is not None),
        "documents": sum(1 for k in keys if k.startswith(DOCS)),
        "aliases": sum(1 for k in keys if k.startswith(ALIASES)),
        "parquet_files": sum(1 for k in keys if k.startswith(PARQUET)),
    }
