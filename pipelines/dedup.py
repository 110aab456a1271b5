"""Near-duplicate clusters and same-story groups, kept as an index in the object store and updated by
every run.

    index = DedupIndex.open(store)
    docs = index.assign(docs)      # sets near_duplicate_of, similarity, story_id (dataclasses.replace)
    index.commit(run_id)           # persists what assign added; call after the documents are stored

``assign`` computes ``cleaning.similarity.sketch`` of the texts itself unless given the sketches
(``assign(docs, sketches=...)``): a pure function, so worker processes can compute it ahead.

Exact duplicates need no index: documents are keyed by content hash, so a second copy is an alias record
of the first (``pipelines/clean_zone.py``); :func:`aliases` lists them.

Model
-----
Two graphs over documents, each edge a pure function of its two documents (``cleaning/similarity.py``):

* near-duplicate edge: the pair shares an LSH band key and its MinHash-estimated Jaccard similarity
  reaches ``near_threshold``;
* story edge: a near-duplicate edge, or publication times at most ``story_window_days`` apart and a
  story-feature score that passes the thresholds.

A cluster (a story) is a connected component; its head is its earliest member by (published, else
fetched; fetched; id). ``near_duplicate_of`` is the cluster head (None for the head itself and for a
document alone), ``similarity`` the estimated Jaccard similarity to it, ``story_id`` the id of the story
head (its own id when alone). Because edges depend only on the two documents, the components, and so
the heads, do not depend on the order in which documents arrive nor on how runs split them.

Persisted state (no pickle: Parquet and ``.npy`` read with ``allow_pickle=False``)
------------------------------------------------------------------------------------
Under ``state/dedup/v1-<config hash>/`` (a new similarity config starts a new index), append-only
segments, each written once with ``put_if_absent`` under ``<run id>-<uuid>``::

    near/month=YYYY-MM/<seg>.parquet   id, times, LSH band keys, head recorded at commit (+ its times)
    near/month=YYYY-MM/<seg>.sig.npy   uint32 MinHash signatures, same rows (written first)
    story/day=YYYY-MM-DD/<seg>.parquet id, times, story feature hashes, head recorded at commit
    unions/<seg>.parquet               (kind, old head, new head) when a persisted cluster's head changed

A reader merges every segment it sees: union-find over "entry ~ its recorded head" and the union
records. Heads only ever move earlier, and every change of a persisted cluster's head is recorded as a
union, so the earliest member of the merged class is the current head even when only part of a
cluster is loaded. Entries of one document met twice (concurrent runs) merge harmlessly.

Memory is bounded by the index, not the corpus: for near duplicates every document's band keys (21 ×
8 bytes in sorted numpy runs, with a 4-byte row each), its id and times are held (~380 bytes/document
measured on 100k documents, cluster links included); signatures stay in their segment files and are
read (whole segment, into an LRU cache of ``signature_cache_bytes``) only to verify a candidate pair
or to compute a similarity. Story features are loaded per day, only for the days within
``story_window_days`` of the documents being assigned, and days far behind the newest assigned day are
dropped once committed (~40 bytes/document over a 100-day corpus).

Concurrency: each run writes its own segments, so concurrent runs never overwrite each other. A run
that committed then lists the segments again and checks its new entries against every segment it had
not seen (written by a run that overlapped it) and records any link it finds as unions. Of two
overlapping runs, the one that lists second always sees the other's segments, so every pair is
checked by at least one of them (unless that run dies between its two steps; see ``commit``).
"""

from __future__ import annotations

import io
import json
import logging
import math
import re
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from cleaning.records import CleanDocument
from cleaning.similarity import (
    DEFAULT_SIMILARITY,
    SimilarityConfig,
    Sketches,
    band_keys,
    feature_kinds,
    parse_timestamp,
    same_story_many,
    sketch,
    story_weights,
)
from pipelines.store import ObjectStore

logger = logging.getLogger(__name__)

INDEX_ROOT = "state/dedup"
INDEX_FORMAT = "v1"
NEAR, STORY = 0, 1
# Sorts after every real time: an undated document is never the head of dated ones.
NO_TIME = np.iinfo(np.int64).max
DAY_US = 86_400_000_000
_EPOCH = date(1970, 1, 1)

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
Ids = npt.NDArray[np.uint8]  # (n, 32) raw SHA-256 digests

_HEX_ID = re.compile(r"^[0-9a-f]{64}$")
_SAFE_RUN = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, slots=True)
class DedupConfig:
    similarity: SimilarityConfig = DEFAULT_SIMILARITY
    # Signature arrays of segments kept in memory (LRU) to verify candidates, in bytes (512 bytes per
    # document): recent segments, where most originals of syndicated copies are, stay cached.
    signature_cache_bytes: int = 64 << 20
    # Committed story days this far behind the newest day assigned are dropped from memory (reloaded
    # on demand if an older document comes). Must exceed 2 × story_window_days to be useful.
    story_keep_days: int = 10
    # Documents sketched together: bounds the temporary arrays of one assign call.
    sketch_batch: int = 2048

    @property
    def prefix(self) -> str:
        return f"{INDEX_ROOT}/{INDEX_FORMAT}-{self.similarity.config_hash}"


DEFAULT_DEDUP = DedupConfig()


@dataclass(frozen=True, slots=True)
class Assignment:
    """Where a document stands in the index now."""

    near_duplicate_of: str | None
    similarity: float | None
    story_id: str


@dataclass(frozen=True, slots=True)
class CommitResult:
    near_entries: int = 0
    story_entries: int = 0
    unions: int = 0
    keys: tuple[str, ...] = ()  # objects written
    concurrent_segments: int = 0  # segments of overlapping runs checked after writing
    concurrent_links: int = 0  # links found against them

    def to_dict(self) -> dict[str, Any]:
        return {
            "near_entries": self.near_entries,
            "story_entries": self.story_entries,
            "unions": self.unions,
            "keys": list(self.keys),
            "concurrent_segments": self.concurrent_segments,
            "concurrent_links": self.concurrent_links,
        }


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    day: str | None  # publication (else fetch) day
    similarity: float | None  # estimated Jaccard similarity to the cluster head (near clusters only)


@dataclass(frozen=True, slots=True)
class Group:
    head: str
    head_day: str | None
    members: tuple[Member, ...]  # in order (earliest first), the head included when it is in range


@dataclass(frozen=True, slots=True)
class Groups:
    clusters: tuple[Group, ...]  # near-duplicate clusters with 2+ members
    stories: tuple[Group, ...]  # story groups with 2+ members


# ---------------------------------------------------------------------------------------------------
# Small array structures


class _SortedRuns:
    """A uint64 → int32 multimap as a few sorted runs merged like a binary counter (each new run merges
    with the runs not more than twice its size), so appending is amortised O(n log n) and a lookup is
    one binary search per run (O(log² n)), for whole arrays of keys at once."""

    def __init__(self) -> None:
        self._keys: list[U64] = []
        self._vals: list[I32] = []

    def __len__(self) -> int:
        return sum(len(k) for k in self._keys)

    @property
    def nbytes(self) -> int:
        return sum(k.nbytes + v.nbytes for k, v in zip(self._keys, self._vals, strict=True))

    def add(self, keys: U64, values: npt.NDArray[np.integer[Any]]) -> None:
        if not len(keys):
            return
        order = np.argsort(keys, kind="stable")
        k, v = keys[order], values[order].astype(np.int32)
        while self._keys and len(self._keys[-1]) <= 2 * len(k):
            k = np.concatenate((self._keys.pop(), k))
            v = np.concatenate((self._vals.pop(), v))
            order = np.argsort(k, kind="stable")  # two sorted runs: timsort merges them in linear time
            k, v = k[order], v[order]
        self._keys.append(k)
        self._vals.append(v)

    def lookup(self, queries: U64) -> tuple[npt.NDArray[np.intp], I32]:
        """Every (query index, value) with an equal key."""
        if not self._keys or not len(queries):
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.int32)
        order = np.argsort(queries, kind="stable")
        sorted_q = queries[order]  # sorted needles: each binary search starts where the last one ended
        qs: list[npt.NDArray[np.intp]] = []
        vs: list[I32] = []
        for keys, vals in zip(self._keys, self._vals, strict=True):
            lo = np.searchsorted(keys, sorted_q, side="left")
            found = np.flatnonzero(keys[np.minimum(lo, len(keys) - 1)] == sorted_q)
            if not len(found):
                continue  # most queries of a batch find nothing: one search each, not two
            lo = lo[found]
            counts = np.searchsorted(keys, sorted_q[found], side="right") - lo
            total = int(counts.sum())
            starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
            qs.append(order[np.repeat(found, counts)])
            vs.append(vals[starts + np.arange(total)])
        if not qs:
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.int32)
        return np.concatenate(qs), np.concatenate(vs)


class _Nodes:
    """Every document the index knows (loaded entries, heads they name, documents assigned in this
    session), as growable numpy columns; a document's node number never changes within a session."""

    def __init__(self) -> None:
        self.n = 0
        self._cap = 0
        self.ids = np.empty((0, 32), dtype=np.uint8)
        self.t_order = np.empty(0, dtype=np.int64)  # published, else fetched (µs UTC; NO_TIME)
        self.t_fetch = np.empty(0, dtype=np.int64)
        self.persisted = np.empty(0, dtype=np.bool_)  # its entry (or a reference to it) is in the store
        self.near_entry = np.empty(0, dtype=np.bool_)  # its near entry is loaded or pending
        self.story_entry = np.empty(0, dtype=np.bool_)
        self.sig_seg = np.empty(0, dtype=np.int32)  # segment holding its signature; -1: pending buffer
        self.sig_row = np.empty(0, dtype=np.int32)  # row there; -1: no signature
        self._index = _SortedRuns()  # first 8 bytes of the id → node
        self._grow(1024)

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, 2 * self._cap)

        def grown(a: npt.NDArray[Any], fill: Any) -> npt.NDArray[Any]:
            out = np.full((cap, *a.shape[1:]), fill, dtype=a.dtype)
            out[: self.n] = a[: self.n]
            return out

        self.ids = grown(self.ids, 0)
        self.t_order = grown(self.t_order, NO_TIME)
        self.t_fetch = grown(self.t_fetch, NO_TIME)
        self.persisted = grown(self.persisted, False)
        self.near_entry = grown(self.near_entry, False)
        self.story_entry = grown(self.story_entry, False)
        self.sig_seg = grown(self.sig_seg, -1)
        self.sig_row = grown(self.sig_row, -1)
        self._cap = cap

    @property
    def nbytes(self) -> int:
        columns = (self.ids, self.t_order, self.t_fetch, self.persisted, self.near_entry, self.story_entry,
                   self.sig_seg, self.sig_row)  # fmt: skip
        return sum(c[: self.n].nbytes for c in columns) + self._index.nbytes

    @staticmethod
    def _keys(ids: Ids) -> U64:
        return ids[:, :8].copy().view(">u8").ravel().astype(np.uint64)

    def lookup(self, ids: Ids) -> npt.NDArray[np.int64]:
        """Node of each id, -1 when unknown."""
        out = np.full(len(ids), -1, dtype=np.int64)
        if not len(ids):
            return out
        qidx, nodes = self._index.lookup(self._keys(ids))
        if len(qidx):
            same = (self.ids[nodes] == ids[qidx]).all(axis=1)
            out[qidx[same]] = nodes[same]
        return out

    def get_or_add(self, ids: Ids, t_order: I64, t_fetch: I64, persisted: bool) -> npt.NDArray[np.int64]:
        nodes = self.lookup(ids)
        missing = np.flatnonzero(nodes < 0)
        if len(missing):
            fresh: dict[bytes, int] = {}
            new_rows: list[int] = []
            for i in missing.tolist():
                key = ids[i].tobytes()
                node = fresh.get(key)
                if node is None:
                    node = fresh[key] = self.n + len(new_rows)
                    new_rows.append(i)
                nodes[i] = node
            rows = np.array(new_rows, dtype=np.intp)
            start, end = self.n, self.n + len(rows)
            self._grow(end)
            self.ids[start:end] = ids[rows]
            self.t_order[start:end] = t_order[rows]
            self.t_fetch[start:end] = t_fetch[rows]
            self.persisted[start:end] = persisted
            self.n = end
            self._index.add(self._keys(ids[rows]), np.arange(start, end))
        return nodes

    def hex(self, node: int) -> str:
        return self.ids[node].tobytes().hex()

    def sort_key(self, node: int) -> tuple[int, int, bytes]:
        return int(self.t_order[node]), int(self.t_fetch[node]), self.ids[node].tobytes()


class _StoryIndex:
    """Story entries of the loaded days: one row per document (node, day, features, total weight) and
    one anchor-feature → row posting index over all of them, so a batch is looked up at once and the
    time window applied to the hits. Dropping a day marks its rows dead; the structure is rebuilt
    without them once they are the majority, so memory follows the loaded days."""

    def __init__(self, is_anchor: npt.NDArray[np.bool_]) -> None:
        self._is_anchor = is_anchor
        self.node: list[int] = []
        self.day: list[int] = []
        self.features: list[U64] = []
        self.total: list[float] = []
        self.alive: list[bool] = []
        self.rows_of_day: dict[int, list[int]] = {}
        self.pending: dict[int, int] = {}  # day → rows not yet committed (such a day is never dropped)
        self.postings = _SortedRuns()
        self.node_array = np.empty(0, dtype=np.int64)
        self._day_array = np.empty(0, dtype=np.int64)
        self._alive_array = np.empty(0, dtype=np.bool_)
        self._dead = 0

    @property
    def nbytes(self) -> int:
        return sum(f.nbytes for f in self.features) + 40 * len(self.node) + self.postings.nbytes

    def add(
        self,
        nodes: Sequence[int],
        days: Sequence[int],
        features: Sequence[U64],
        anchors: Sequence[U64],
        totals: Sequence[float],
        *,
        pending: bool,
    ) -> None:
        first = len(self.node)
        for node, day in zip(nodes, days, strict=True):
            self.rows_of_day.setdefault(day, []).append(len(self.node))
            self.node.append(node)
            self.day.append(day)
            if pending:
                self.pending[day] = self.pending.get(day, 0) + 1
        self.features.extend(features)
        self.total.extend(totals)
        self.alive.extend([True] * len(nodes))
        rows = np.repeat(np.arange(first, len(self.node), dtype=np.int32), [len(x) for x in anchors])
        if len(rows):
            self.postings.add(np.concatenate(list(anchors)), rows)
        self.node_array = np.asarray(self.node, dtype=np.int64)
        self._day_array = np.asarray(self.day, dtype=np.int64)
        self._alive_array = np.asarray(self.alive, dtype=np.bool_)

    def candidates(
        self, anchors: U64, owner: npt.NDArray[np.intp], owner_day: I64, window: int, min_shared: int
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """(query document, row) pairs sharing at least ``min_shared`` anchors, rows alive and at most
        ``window`` days from the query document's day."""
        qidx, rows = self.postings.lookup(anchors)
        if not len(qidx):
            return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
        q = owner[qidx]
        ok = self._alive_array[rows] & (np.abs(self._day_array[rows] - owner_day[q]) <= window)
        code = q[ok].astype(np.int64) << 32 | rows[ok].astype(np.int64)
        uniq, counts = np.unique(code, return_counts=True)
        strong = uniq[counts >= min_shared]
        return (strong >> 32).astype(np.intp), (strong & 0xFFFFFFFF).astype(np.intp)

    def commit_day(self, day: int) -> None:
        self.pending.pop(day, None)

    def drop_day(self, day: int) -> list[int]:
        """Forget a committed day; returns its nodes."""
        rows = self.rows_of_day.pop(day, [])
        for r in rows:
            self.alive[r] = False
            self.features[r] = np.empty(0, dtype=np.uint64)
        self._dead += len(rows)
        nodes = [self.node[r] for r in rows]
        if self._dead * 2 > len(self.node):
            self._compact()
        else:
            self._alive_array = np.asarray(self.alive, dtype=np.bool_)
        return nodes

    def _compact(self) -> None:
        keep = [r for r, alive in enumerate(self.alive) if alive]
        nodes = [self.node[r] for r in keep]
        days = [self.day[r] for r in keep]
        feats = [self.features[r] for r in keep]
        totals = [self.total[r] for r in keep]
        pending = self.pending
        self.node, self.day, self.features, self.total, self.alive = [], [], [], [], []
        self.rows_of_day = {}
        self.postings = _SortedRuns()
        self._dead = 0
        anchors = [f[self._is_anchor[feature_kinds(f)]] for f in feats]
        self.add(nodes, days, feats, anchors, totals, pending=False)
        self.pending = pending


@dataclass
class _Pending:
    nodes: list[int] = field(default_factory=list)  # documents assigned in this session, not committed
    sigs: list[U32] = field(default_factory=list)  # their signatures (row = sig_row of the node)
    bands: dict[int, U64] = field(default_factory=dict)
    features: dict[int, U64] = field(default_factory=dict)
    unions: tuple[list[tuple[int, int]], list[tuple[int, int]]] = field(default_factory=lambda: ([], []))


# ---------------------------------------------------------------------------------------------------
# Segment encoding


def _ids_array(col: pa.ChunkedArray | pa.Array) -> Ids:
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    raw = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
    return raw[arr.offset * 32 : (arr.offset + len(arr)) * 32].reshape(-1, 32)


def _ids_column(ids: Ids) -> pa.Array:
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(32), len(ids), [None, pa.py_buffer(np.ascontiguousarray(ids).tobytes())]
    )


def _list_column(rows: Sequence[U64]) -> pa.Array:
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    values = np.concatenate(list(rows)) if rows else np.empty(0, dtype=np.uint64)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.uint64), type=pa.uint64()))


def _list_values(col: pa.ChunkedArray) -> list[U64]:
    arr = col.combine_chunks()
    offsets = arr.offsets.to_numpy()
    values = arr.values.to_numpy(zero_copy_only=False).astype(np.uint64)
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(arr))]


def _parquet_bytes(table: pa.Table, meta: dict[str, Any]) -> bytes:
    table = table.replace_schema_metadata({b"cleanwire.dedup": json.dumps(meta, sort_keys=True).encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    return buf.getvalue()


def _read_parquet(data: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(data))


def _npy_bytes(array: npt.NDArray[Any]) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _read_npy(data: bytes) -> npt.NDArray[Any]:
    return np.load(io.BytesIO(data), allow_pickle=False)  # never unpickle what is in a bucket


def _day(t: int) -> str | None:
    return None if t == NO_TIME else (_EPOCH + timedelta(days=t // DAY_US)).isoformat()


def _times(docs: Sequence[CleanDocument]) -> tuple[I64, I64]:
    """(published else fetched, fetched) of each document in µs UTC; NO_TIME when unknown."""
    t_order = np.full(len(docs), NO_TIME, dtype=np.int64)
    t_fetch = np.full(len(docs), NO_TIME, dtype=np.int64)
    for i, doc in enumerate(docs):
        fetched = parse_timestamp(doc.fetched_at)
        published = parse_timestamp(doc.published)
        if fetched is not None:
            t_fetch[i] = fetched
            t_order[i] = fetched
        if published is not None:
            t_order[i] = published
    return t_order, t_fetch


def _segment_name(run_id: str) -> str:
    run = _SAFE_RUN.sub("-", run_id).strip("-.") or "run"
    return f"{run[:80]}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------------------------------------------
# The index


class DedupIndex:
    """The persisted near-duplicate and story index of one store; see the module docstring."""

    def __init__(self, store: ObjectStore, config: DedupConfig = DEFAULT_DEDUP) -> None:
        self.store = store
        self.config = config
        self.sim = config.similarity
        self._nodes = _Nodes()
        self._bands = _SortedRuns()
        self._parent: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # Roots that are pending nodes but whose component holds persisted nodes (their heads moved).
        self._adopted: tuple[set[int], set[int]] = (set(), set())
        self._near_segments: list[str] = []  # index = sig_seg of a node
        self._near_seen: set[str] = set()
        self._near_loaded = False
        self._unions_seen: set[str] = set()
        self._sig_cache: OrderedDict[int, U32] = OrderedDict()
        self._sig_cache_bytes = 0
        self._is_anchor = self.sim.kind_weights() >= self.sim.anchor_weight  # by feature kind
        self._story = _StoryIndex(self._is_anchor)
        self._days_seen: dict[int, set[str]] = {}  # story segment keys loaded per day
        self._pending = _Pending()
        self._batch_sigs: dict[int, U32] = {}  # signatures of the batch being assigned, by node
        self._newest_day = -(1 << 62)  # of the documents assigned in this session (drives dropping old days)
        self._window_us = int(self.sim.story_window_days * DAY_US)
        self._window_days = math.ceil(self.sim.story_window_days)
        self.counters: dict[str, int] = {
            "assigned": 0, "already_indexed": 0, "near_links": 0, "story_links": 0, "near_checked": 0,
            "story_checked": 0, "segments_loaded": 0, "signature_segments_read": 0, "story_days_dropped": 0,
        }  # fmt: skip

    # ------------------------------------------------------------------------------ opening

    @classmethod
    def open(cls, store: ObjectStore, *, config: DedupConfig = DEFAULT_DEDUP) -> DedupIndex:
        """Open the index of ``store`` (nothing is read until it is needed)."""
        return cls(store, config)

    def _key(self, *parts: str) -> str:
        return "/".join((self.config.prefix, *parts))

    def _ensure_near(self) -> None:
        if self._near_loaded:
            return
        self._load_unions()
        for key in self._list_near():
            self._ingest_near(key, link=False)
        self._near_loaded = True

    def _list_near(self) -> list[str]:
        return [k for k in self.store.list(self._key("near") + "/") if k.endswith(".parquet")]

    def _load_unions(self) -> int:
        """Apply union records not seen yet; returns how many segments were new."""
        new = [
            k
            for k in self.store.list(self._key("unions") + "/")
            if k.endswith(".parquet") and k not in self._unions_seen
        ]
        for key in new:
            table = _read_parquet(self.store.get(key))
            self._unions_seen.add(key)
            self.counters["segments_loaded"] += 1
            kinds = table.column("kind").to_numpy()
            a = self._nodes.get_or_add(_ids_array(table.column("a")), table.column("a_t_order").to_numpy(),
                                       table.column("a_t_fetch").to_numpy(), persisted=True)  # fmt: skip
            b = self._nodes.get_or_add(_ids_array(table.column("b")), table.column("b_t_order").to_numpy(),
                                       table.column("b_t_fetch").to_numpy(), persisted=True)  # fmt: skip
            for kind, x, y in zip(kinds.tolist(), a.tolist(), b.tolist(), strict=True):
                self._union(kind, x, y, record=False)
        return len(new)

    def _ingest_near(self, key: str, *, link: bool) -> int:
        """Load one near segment. With ``link``, also check its entries against the index (a segment
        of an overlapping run) and record the links found. Returns the number of links found."""
        table = _read_parquet(self.store.get(key))
        self._near_seen.add(key)
        self.counters["segments_loaded"] += 1
        seg = len(self._near_segments)
        self._near_segments.append(key)
        ids = _ids_array(table.column("id"))
        t_order = table.column("t_order").to_numpy()
        nodes = self._nodes.get_or_add(ids, t_order, table.column("t_fetch").to_numpy(), persisted=True)
        heads = self._nodes.get_or_add(_ids_array(table.column("head")), table.column("head_t_order").to_numpy(),
                                       table.column("head_t_fetch").to_numpy(), persisted=True)  # fmt: skip
        bands = _list_values(table.column("bands"))
        fresh = np.flatnonzero(~self._nodes.near_entry[nodes])
        # A node listed twice in this very segment cannot happen (one entry per document per commit).
        self._nodes.near_entry[nodes[fresh]] = True
        self._nodes.sig_seg[nodes[fresh]] = seg
        has_sig = np.array([len(bands[i]) > 0 for i in fresh.tolist()], dtype=np.bool_)
        self._nodes.sig_row[nodes[fresh]] = np.where(has_sig, fresh, -1)
        for node, head in zip(nodes.tolist(), heads.tolist(), strict=True):
            if node != head:
                self._union(NEAR, node, head, record=False)
        with_bands = fresh[has_sig]
        if not link:
            if len(with_bands):
                flat = np.concatenate([bands[i] for i in with_bands.tolist()])
                self._bands.add(flat, np.repeat(nodes[with_bands], self.sim.bands))
            return 0
        if not len(with_bands):
            return 0
        sigs = self._segment_sigs(seg)[with_bands]
        return self._link_near(nodes[with_bands], sigs, record=True)

    def _segment_sigs(self, seg: int) -> U32:
        sigs = self._sig_cache.get(seg)
        if sigs is None:
            key = self._near_segments[seg].removesuffix(".parquet") + ".sig.npy"
            sigs = _read_npy(self.store.get(key)).astype(np.uint32, copy=False)
            self.counters["signature_segments_read"] += 1
            self._cache_sigs(seg, sigs)
        else:
            self._sig_cache.move_to_end(seg)
        return sigs

    def _cache_sigs(self, seg: int, sigs: U32) -> None:
        self._sig_cache[seg] = sigs
        self._sig_cache_bytes += sigs.nbytes
        while self._sig_cache_bytes > self.config.signature_cache_bytes and len(self._sig_cache) > 1:
            self._sig_cache_bytes -= self._sig_cache.popitem(last=False)[1].nbytes

    def _sig(self, node: int) -> U32 | None:
        batch = self._batch_sigs.get(node)
        if batch is not None:
            return batch
        row = int(self._nodes.sig_row[node])
        if row < 0:
            return None
        seg = int(self._nodes.sig_seg[node])
        if seg < 0:
            return self._pending.sigs[row]
        return self._segment_sigs(seg)[row]

    def _ensure_story_days(self, days: Iterable[int]) -> None:
        missing = sorted({d for d in days if d not in self._days_seen})
        for day in missing:
            self._days_seen[day] = set()
        for day, key in self._list_story(missing):
            self._ingest_story(key, day, link=False)

    def _list_story(self, days: Sequence[int]) -> list[tuple[int, str]]:
        """Story segment keys of these days: one listing per month (a listing costs a request, or a
        directory walk), filtered to the days asked for."""
        wanted = set(days)
        out: list[tuple[int, str]] = []
        for month in sorted({(_day(d * DAY_US) or "")[:7] for d in wanted}):
            prefix = self._key("story", f"day={month}-")
            for key in self.store.list(prefix):
                if not key.endswith(".parquet"):
                    continue
                day = (date.fromisoformat(key[len(prefix) - 8 : len(prefix) + 2]) - _EPOCH).days
                if day in wanted:
                    out.append((day, key))
        return out

    def _ensure_own_days(self, nodes: npt.NDArray[np.int64]) -> None:
        """Load the story day of each indexed document: its entry's recorded head, with the union
        records, gives its story head."""
        known = nodes[nodes >= 0]
        t = self._nodes.t_order[known]
        self._ensure_story_days((t[t != NO_TIME] // DAY_US).tolist())

    def _ingest_story(self, key: str, day: int, *, link: bool) -> int:
        table = _read_parquet(self.store.get(key))
        self._days_seen.setdefault(day, set()).add(key)
        self.counters["segments_loaded"] += 1
        nodes = self._nodes.get_or_add(_ids_array(table.column("id")), table.column("t_order").to_numpy(),
                                       table.column("t_fetch").to_numpy(), persisted=True)  # fmt: skip
        heads = self._nodes.get_or_add(_ids_array(table.column("head")), table.column("head_t_order").to_numpy(),
                                       table.column("head_t_fetch").to_numpy(), persisted=True)  # fmt: skip
        features = _list_values(table.column("features"))
        fresh = [i for i in range(len(nodes)) if not self._nodes.story_entry[nodes[i]]]
        for node, head in zip(nodes.tolist(), heads.tolist(), strict=True):
            if node != head:
                self._union(STORY, node, head, record=False)
        if not fresh:
            return 0
        fresh_nodes = nodes[fresh]
        feats = [features[i] for i in fresh]
        anchors = self._anchor_lists(feats)
        self._add_story_rows(fresh_nodes, feats, anchors, pending=False)
        if not link:
            return 0
        return self._link_story(fresh_nodes, feats, anchors, record=True)

    # ------------------------------------------------------------------------------ union-find

    def _find(self, kind: int, node: int) -> int:
        parent = self._parent[kind]
        root = node
        while root in parent:
            root = parent[root]
        while node != root:  # path compression
            nxt = parent[node]
            parent[node] = root
            node = nxt
        return root

    def _union(self, kind: int, a: int, b: int, *, record: bool) -> bool:
        ra, rb = self._find(kind, a), self._find(kind, b)
        if ra == rb:
            return False
        if self._nodes.sort_key(rb) < self._nodes.sort_key(ra):
            ra, rb = rb, ra  # ra: the earlier root, head of the merged component
        self._parent[kind][rb] = ra
        adopted = self._adopted[kind]
        if self._nodes.persisted[rb] or rb in adopted:
            # rb's component holds persisted entries whose recorded head is (or leads to) rb.
            if record:
                self._pending.unions[kind].append((rb, ra))
            if not self._nodes.persisted[ra]:
                adopted.add(ra)
        adopted.discard(rb)
        return True

    def refresh(self) -> int:
        """Read what other runs committed since this index last listed the store, and link it with what
        this index holds: for an index kept open from one run to the next. Returns the number of
        segments read (links found are recorded at the next ``commit``)."""
        if not self._near_loaded:
            return 0  # nothing loaded yet: the first assign reads everything
        concurrent, _links = self._check_concurrent()
        return concurrent

    # ------------------------------------------------------------------------------ assign

    def assign(
        self, docs: Sequence[CleanDocument], *, sketches: Sketches | None = None
    ) -> list[CleanDocument]:
        """Set ``near_duplicate_of``, ``similarity`` and ``story_id`` on each document (returned as new
        objects, same order) and add the new ones to the index; ``commit`` persists them. Documents
        already indexed (same id) get their current assignment and are not added again.

        ``sketches``: ``cleaning.similarity.sketch`` of the documents' texts, when computed elsewhere
        (in the cleaning workers, or a pool working ahead); computed here otherwise."""
        if not docs:
            return []
        if sketches is not None and (
            len(sketches) != len(docs)
            or len(sketches.features) != len(docs)
            or sketches.config_hash != self.sim.config_hash
        ):
            raise ValueError(
                "sketches do not match the documents (one per document, with story features) or the similarity config"
            )
        self._ensure_near()
        for doc in docs:
            if not _HEX_ID.match(doc.id):
                raise ValueError(f"not a document id (64 lower-case hex digits): {doc.id!r}")
        ids = np.frombuffer(b"".join(bytes.fromhex(d.id) for d in docs), dtype=np.uint8).reshape(-1, 32)
        t_order, t_fetch = _times(docs)
        existing = self._nodes.lookup(ids)
        new_rows: list[int] = []
        seen: set[str] = set()
        for i, doc in enumerate(docs):
            if doc.id in seen or (existing[i] >= 0 and self._nodes.near_entry[existing[i]]):
                continue
            seen.add(doc.id)
            new_rows.append(i)
        self.counters["already_indexed"] += len(docs) - len(new_rows)
        for start in range(0, len(new_rows), self.config.sketch_batch):
            rows = new_rows[start : start + self.config.sketch_batch]
            sk = (
                sketches.take(rows)
                if sketches is not None
                else sketch([docs[i].text for i in rows], self.sim)
            )
            self._insert(sk, ids[rows], t_order[rows], t_fetch[rows])
        nodes = self._nodes.lookup(ids)
        self._ensure_own_days(nodes)
        out = []
        for doc, node in zip(docs, nodes.tolist(), strict=True):
            a = self._assignment(node)
            out.append(
                replace(
                    doc, near_duplicate_of=a.near_duplicate_of, similarity=a.similarity, story_id=a.story_id
                )
            )
        self._batch_sigs.clear()
        self._drop_old_days()
        return out

    def _insert(self, sk: Sketches, ids: Ids, t_order: I64, t_fetch: I64) -> None:
        nodes = self._nodes.get_or_add(ids, t_order, t_fetch, persisted=False)
        self.counters["assigned"] += len(sk)
        pending = self._pending
        has_sig = sk.shingle_counts > 0
        self._nodes.near_entry[nodes] = True
        self._nodes.sig_seg[nodes] = -1
        for i, node in enumerate(nodes.tolist()):
            pending.nodes.append(node)
            if has_sig[i]:
                self._nodes.sig_row[node] = len(pending.sigs)
                pending.sigs.append(sk.signatures[i])
                self._batch_sigs[node] = sk.signatures[i]
            else:
                self._nodes.sig_row[node] = -1
        rows = np.flatnonzero(has_sig)
        if len(rows):
            keys = band_keys(sk.signatures[rows], self.sim.bands, self.sim.rows)
            for j, node in enumerate(nodes[rows].tolist()):
                pending.bands[node] = keys[j]
            self._link_near(nodes[rows], sk.signatures[rows], record=True, keys=keys)
        dated = [i for i in range(len(sk)) if t_order[i] != NO_TIME]
        for i in dated:
            pending.features[int(nodes[i])] = sk.features[i]
        if dated:
            story_nodes = nodes[dated]
            own = np.unique(t_order[dated] // DAY_US).tolist()
            self._ensure_story_days(
                d + k for d in own for k in range(-self._window_days, self._window_days + 1)
            )
            feats = [sk.features[i] for i in dated]
            anchors = self._anchor_lists(feats)
            self._add_story_rows(story_nodes, feats, anchors, pending=True)
            self._link_story(story_nodes, feats, anchors, record=True)
            self._newest_day = max(self._newest_day, int(t_order[dated].max()) // DAY_US)

    def _link_near(
        self, nodes: npt.NDArray[np.int64], sigs: U32, *, record: bool, keys: U64 | None = None
    ) -> int:
        """Find band collisions of these documents with the index and among themselves, verify them
        with the signatures, union the near duplicates; then add their band keys to the index."""
        if keys is None:
            keys = band_keys(sigs, self.sim.bands, self.sim.rows)
        for node, sig in zip(nodes.tolist(), sigs, strict=True):
            self._batch_sigs.setdefault(node, sig)
        flat = keys.ravel()
        owner = np.repeat(nodes, self.sim.bands)
        qidx, cands = self._bands.lookup(flat)
        pair_a = [owner[qidx]]
        pair_b = [cands.astype(np.int64)]
        order = np.argsort(flat, kind="stable")
        sk, so = flat[order], owner[order]
        dup = np.flatnonzero(sk[1:] == sk[:-1])
        if len(dup):  # runs of equal keys within the batch: every pair of the run
            starts = dup[np.concatenate(([True], dup[1:] != dup[:-1] + 1))]
            for s in starts.tolist():
                e = s + 1
                while e < len(sk) and sk[e] == sk[s]:
                    e += 1
                members = so[s:e]
                ii, jj = np.triu_indices(len(members), 1)
                pair_a.append(members[ii])
                pair_b.append(members[jj])
        self._bands.add(flat, owner)
        a = np.concatenate(pair_a)
        b = np.concatenate(pair_b)
        keep = a != b
        if not keep.any():
            return 0
        lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
        pairs = np.unique(np.stack((lo, hi), axis=1), axis=0)
        links = 0
        threshold = self.sim.near_threshold
        for x, y in pairs.tolist():
            if self._find(NEAR, x) == self._find(NEAR, y):
                continue
            sx, sy = self._sig(x), self._sig(y)
            if sx is None or sy is None:
                continue
            self.counters["near_checked"] += 1
            if np.count_nonzero(sx == sy) >= threshold * len(sx):
                links += 1
                self._union(NEAR, x, y, record=record)
                self._union(STORY, x, y, record=record)
        self.counters["near_links"] += links
        return links

    def _anchor_lists(self, features: list[U64]) -> list[U64]:
        """The anchor features (specific enough to look candidates up by) of each document."""
        if not features:
            return []
        flat = np.concatenate(features)
        owner = np.repeat(np.arange(len(features)), [len(f) for f in features])
        keep = self._is_anchor[feature_kinds(flat)]
        counts = np.bincount(owner[keep], minlength=len(features))
        return list(np.split(flat[keep], np.cumsum(counts)[:-1]))

    def _add_story_rows(
        self, nodes: npt.NDArray[np.int64], features: list[U64], anchor_lists: list[U64], *, pending: bool
    ) -> None:
        keep = [i for i, node in enumerate(nodes.tolist()) if not self._nodes.story_entry[node]]
        if not keep:
            return
        chosen = nodes[keep]
        self._nodes.story_entry[chosen] = True
        days = (self._nodes.t_order[chosen] // DAY_US).tolist()
        feats = [features[i] for i in keep]
        totals = story_weights(feats, self.sim).tolist()
        self._story.add(
            chosen.tolist(), days, feats, [anchor_lists[i] for i in keep], totals, pending=pending
        )

    def _link_story(
        self, nodes: npt.NDArray[np.int64], features: list[U64], anchor_lists: list[U64], *, record: bool
    ) -> int:
        """Score these documents against every story entry within the window (their own rows
        included, already added), all candidate pairs at once, and union those that pass."""
        if not len(nodes):
            return 0
        sim, story = self.sim, self._story
        t = self._nodes.t_order[nodes]
        owner = np.repeat(np.arange(len(nodes)), [len(a) for a in anchor_lists])
        q_feat = np.concatenate(anchor_lists) if anchor_lists else np.empty(0, dtype=np.uint64)
        qi, rows = story.candidates(q_feat, owner, t // DAY_US, self._window_days, sim.story_min_anchors)
        x, y = nodes[qi], story.node_array[rows]
        ok = (x != y) & (np.abs(t[qi] - self._nodes.t_order[y]) <= self._window_us)
        qi, rows, x, y = qi[ok], rows[ok], x[ok], y[ok]
        _, first = np.unique(np.minimum(x, y) << 32 | np.maximum(x, y), return_index=True)  # each pair once
        qi, rows = qi[first], rows[first]
        self.counters["story_checked"] += len(qi)
        totals = story_weights(features, sim)
        row_totals = np.array([story.total[r] for r in rows.tolist()], dtype=np.float64)
        a = [features[q] for q in qi.tolist()]
        b = [story.features[r] for r in rows.tolist()]
        same = same_story_many(a, b, totals[qi], row_totals, sim)
        links = 0
        for q, row in zip(qi[same].tolist(), rows[same].tolist(), strict=True):
            if self._union(STORY, int(nodes[q]), story.node[row], record=record):
                links += 1
        self.counters["story_links"] += links
        return links

    def _assignment(self, node: int) -> Assignment:
        near_head = self._find(NEAR, node)
        story_head = self._find(STORY, node)
        if near_head == node:
            return Assignment(None, None, self._nodes.hex(story_head))
        sa, sb = self._sig(node), self._sig(near_head)
        similarity = None
        if sa is not None and sb is not None:
            similarity = round(float(np.count_nonzero(sa == sb)) / len(sa), 4)
        return Assignment(self._nodes.hex(near_head), similarity, self._nodes.hex(story_head))

    def _drop_old_days(self) -> None:
        horizon = self._newest_day - max(self.config.story_keep_days, 2 * self._window_days + 1)
        for day in [d for d in self._days_seen if d < horizon and not self._story.pending.get(d)]:
            nodes = self._story.drop_day(day)
            self._nodes.story_entry[np.array(nodes, dtype=np.int64)] = False  # reloadable on demand
            del self._days_seen[day]
            self.counters["story_days_dropped"] += 1

    # ------------------------------------------------------------------------------ commit

    def commit(self, run_id: str) -> CommitResult:
        """Persist the entries added since the last commit (call after the documents are stored), then
        check them against segments that overlapping runs wrote meanwhile.

        Signatures are written before the entries that point at them, and every key is new, so a crash
        at any point leaves no partial state: at worst entries written before the crash are not linked
        to those of a run that overlapped this one, until one of them is indexed again."""
        pending = self._pending
        if not pending.nodes and not pending.unions[NEAR] and not pending.unions[STORY]:
            return CommitResult()
        nodes = self._nodes
        keys: list[str] = []
        near_entries = story_entries = 0
        by_month: dict[str, list[int]] = {}
        by_day: dict[int, list[int]] = {}
        for node in pending.nodes:
            t = int(nodes.t_order[node])
            month = "unknown" if t == NO_TIME else (_day(t) or "")[:7]
            by_month.setdefault(month, []).append(node)
            if t != NO_TIME and node in pending.features:
                by_day.setdefault(t // DAY_US, []).append(node)
        moved_sigs: dict[int, tuple[int, int]] = {}
        for month, members in sorted(by_month.items()):
            name = _segment_name(run_id)
            base = self._key("near", f"month={month}", name)
            rows = np.array(members, dtype=np.int64)
            sig_rows = nodes.sig_row[rows]
            sigs = np.zeros((len(rows), self.sim.num_perm), dtype=np.uint32)
            for i, r in enumerate(sig_rows.tolist()):
                if r >= 0:
                    sigs[i] = pending.sigs[r]
            self._put_new(base + ".sig.npy", _npy_bytes(sigs), "application/octet-stream")
            heads = np.array([self._find(NEAR, n) for n in members], dtype=np.int64)
            sims = [self._assignment(n).similarity for n in members]
            table = pa.table({
                "id": _ids_column(nodes.ids[rows]),
                "t_order": pa.array(nodes.t_order[rows]),
                "t_fetch": pa.array(nodes.t_fetch[rows]),
                "bands": _list_column([pending.bands.get(n, np.empty(0, dtype=np.uint64)) for n in members]),
                "head": _ids_column(nodes.ids[heads]),
                "head_t_order": pa.array(nodes.t_order[heads]),
                "head_t_fetch": pa.array(nodes.t_fetch[heads]),
                "similarity": pa.array(sims, type=pa.float32()),
            })  # fmt: skip
            meta = {"kind": "near", "run_id": run_id, "config": self.sim.config_hash, "rows": len(rows)}
            self._put_new(base + ".parquet", _parquet_bytes(table, meta), "application/vnd.apache.parquet")
            keys += [base + ".sig.npy", base + ".parquet"]
            seg = len(self._near_segments)
            self._near_segments.append(base + ".parquet")
            self._near_seen.add(base + ".parquet")
            self._cache_sigs(seg, sigs)
            for i, n in enumerate(members):
                moved_sigs[n] = (seg, i if sig_rows[i] >= 0 else -1)
            near_entries += len(rows)
        for day, members in sorted(by_day.items()):
            name = _segment_name(run_id)
            key = self._key("story", f"day={_day(day * DAY_US)}", name + ".parquet")
            rows = np.array(members, dtype=np.int64)
            heads = np.array([self._find(STORY, n) for n in members], dtype=np.int64)
            table = pa.table({
                "id": _ids_column(nodes.ids[rows]),
                "t_order": pa.array(nodes.t_order[rows]),
                "t_fetch": pa.array(nodes.t_fetch[rows]),
                "features": _list_column([pending.features[n] for n in members]),
                "head": _ids_column(nodes.ids[heads]),
                "head_t_order": pa.array(nodes.t_order[heads]),
                "head_t_fetch": pa.array(nodes.t_fetch[heads]),
            })  # fmt: skip
            meta = {"kind": "story", "run_id": run_id, "config": self.sim.config_hash, "rows": len(rows)}
            self._put_new(key, _parquet_bytes(table, meta), "application/vnd.apache.parquet")
            keys.append(key)
            self._days_seen.setdefault(day, set()).add(key)
            self._story.commit_day(day)
            story_entries += len(rows)
        unions = self._write_unions(run_id, keys)
        for node, (seg, row) in moved_sigs.items():
            nodes.sig_seg[node] = seg
            nodes.sig_row[node] = row
        if pending.nodes:
            nodes.persisted[np.array(pending.nodes, dtype=np.int64)] = True
        for kind in (NEAR, STORY):
            self._adopted[kind].clear()  # every node is persisted now
        self._pending = _Pending()
        concurrent, links = self._check_concurrent()
        if links:
            unions += self._write_unions(run_id, keys)
        result = CommitResult(near_entries, story_entries, unions, tuple(keys), concurrent, links)
        logger.info("dedup commit %s: %d near, %d story entries, %d unions; %d concurrent segments, %d links",
                    run_id, near_entries, story_entries, unions, concurrent, links)  # fmt: skip
        return result

    def _put_new(self, key: str, data: bytes, content_type: str) -> None:
        if not self.store.put_if_absent(key, data, content_type):  # a uuid collision: never in practice
            raise RuntimeError(f"dedup segment {key!r} exists already")

    def _write_unions(self, run_id: str, keys: list[str]) -> int:
        rows = [(kind, a, b) for kind in (NEAR, STORY) for a, b in self._pending.unions[kind]]
        if not rows:
            return 0
        nodes = self._nodes
        a = np.array([r[1] for r in rows], dtype=np.int64)
        b = np.array([r[2] for r in rows], dtype=np.int64)
        table = pa.table({
            "kind": pa.array([r[0] for r in rows], type=pa.uint8()),
            "a": _ids_column(nodes.ids[a]), "a_t_order": pa.array(nodes.t_order[a]), "a_t_fetch": pa.array(nodes.t_fetch[a]),
            "b": _ids_column(nodes.ids[b]), "b_t_order": pa.array(nodes.t_order[b]), "b_t_fetch": pa.array(nodes.t_fetch[b]),
        })  # fmt: skip
        key = self._key("unions", _segment_name(run_id) + ".parquet")
        meta = {"kind": "unions", "run_id": run_id, "config": self.sim.config_hash, "rows": len(rows)}
        self._put_new(key, _parquet_bytes(table, meta), "application/vnd.apache.parquet")
        keys.append(key)
        self._unions_seen.add(key)
        self._pending.unions[NEAR].clear()
        self._pending.unions[STORY].clear()
        return len(rows)

    def _check_concurrent(self) -> tuple[int, int]:
        """Load segments written since this index listed the store (by overlapping runs) and link
        their entries with ours."""
        concurrent = links = 0
        concurrent += self._load_unions()
        for key in self._list_near():
            if key not in self._near_seen:
                concurrent += 1
                links += self._ingest_near(key, link=True)
        for day, key in self._list_story(sorted(self._days_seen)):
            if key not in self._days_seen[day]:
                concurrent += 1
                links += self._ingest_story(key, day, link=True)
        self._batch_sigs.clear()
        return concurrent, links

    # ------------------------------------------------------------------------------ reading

    def resolve(self, doc_ids: Iterable[str]) -> dict[str, Assignment]:
        """The current assignment of indexed documents (heads as of everything persisted and assigned
        so far, which may be earlier than what was stored with older documents)."""
        self._ensure_near()
        wanted = [d for d in doc_ids if _HEX_ID.match(d)]
        if not wanted:
            return {}
        ids = np.frombuffer(b"".join(bytes.fromhex(d) for d in wanted), dtype=np.uint8).reshape(-1, 32)
        nodes = self._nodes.lookup(ids)
        self._ensure_own_days(nodes)
        return {
            d: self._assignment(n)
            for d, n in zip(wanted, nodes.tolist(), strict=True)
            if n >= 0 and self._nodes.near_entry[n]
        }

    def groups(self, since: date | None = None, until: date | None = None) -> Groups:
        """Near-duplicate clusters and stories with at least two members whose publication (else
        fetch) day is within ``[since, until]`` (inclusive, either open)."""
        self._ensure_near()
        nodes = self._nodes
        t = nodes.t_order[: nodes.n]
        lo = -(1 << 62) if since is None else (since - _EPOCH).days
        hi = (1 << 62) if until is None else (until - _EPOCH).days
        day = np.where(t == NO_TIME, -(1 << 62), t // DAY_US)
        in_range = np.flatnonzero(nodes.near_entry[: nodes.n] & (day >= lo) & (day <= hi))
        if since is None or until is None:
            prefix = self._key("story") + "/"
            days = {
                (date.fromisoformat(k[len(prefix) + 4 : len(prefix) + 14]) - _EPOCH).days
                for k in self.store.list(prefix)
                if k.endswith(".parquet")
            }
            self._ensure_story_days(d for d in days if lo - self._window_days <= d <= hi + self._window_days)
        else:
            self._ensure_story_days(range(lo - self._window_days, hi + self._window_days + 1))
        return Groups(self._group(NEAR, in_range), self._group(STORY, in_range))

    def _group(self, kind: int, members: npt.NDArray[np.intp]) -> tuple[Group, ...]:
        by_head: dict[int, list[int]] = {}
        for node in members.tolist():
            by_head.setdefault(self._find(kind, node), []).append(node)
        out = []
        for head, group in by_head.items():
            if len(group) < 2 and head in group:
                continue
            ordered = sorted(set(group), key=self._nodes.sort_key)
            out.append(Group(
                head=self._nodes.hex(head),
                head_day=_day(int(self._nodes.t_order[head])),
                members=tuple(
                    Member(self._nodes.hex(n), _day(int(self._nodes.t_order[n])),
                           (self._assignment(n).similarity if n != head else 1.0) if kind == NEAR else None)
                    for n in ordered
                ),
            ))  # fmt: skip
        out.sort(key=lambda g: (g.head_day or "", g.head))
        return tuple(out)

    # ------------------------------------------------------------------------------ sizes

    def memory_bytes(self) -> dict[str, int]:
        """Bytes held by the in-memory index, by part."""
        return {
            "nodes": self._nodes.nbytes,
            "bands": self._bands.nbytes,
            "unions": 80 * (len(self._parent[NEAR]) + len(self._parent[STORY])),
            "story_days": self._story.nbytes,
            "signature_cache": sum(s.nbytes for s in self._sig_cache.values()),
            "pending": sum(s.nbytes for s in self._pending.sigs) + 8 * 21 * len(self._pending.bands),
        }


def aliases(store: ObjectStore, doc_id: str) -> list[dict[str, Any]]:
    """Exact duplicates: the other URLs/sources this content was seen at after it was first stored."""
    from pipelines import readers

    return readers.aliases(store, doc_id)


def backfill(
    store: ObjectStore,
    *,
    since: str | date | None = None,
    until: str | date | None = None,
    run_id: str = "backfill",
    config: DedupConfig = DEFAULT_DEDUP,
    batch: int = 1000,
) -> CommitResult:
    """Index documents already in the clean zone (fetched within ``[since, until]``), e.g. after the
    similarity config changed. Documents already indexed are skipped; one commit per batch."""
    from pipelines.readers import iter_documents

    index = DedupIndex.open(store, config=config)
    total = CommitResult()
    docs: list[CleanDocument] = []

    def flush() -> CommitResult:
        index.assign(docs)
        docs.clear()
        result = index.commit(run_id)
        return CommitResult(
            total.near_entries + result.near_entries, total.story_entries + result.story_entries,
            total.unions + result.unions, total.keys + result.keys,
            total.concurrent_segments + result.concurrent_segments, total.concurrent_links + result.concurrent_links,
        )  # fmt: skip

    for raw in iter_documents(store, since=since, until=until):
        docs.append(_document_from_dict(raw))
        if len(docs) >= batch:
            total = flush()
    if docs:
        total = flush()
    return total


def _document_from_dict(raw: dict[str, Any]) -> CleanDocument:
    """The fields dedup reads, from a stored document's JSON."""
    return CleanDocument(
        id=raw["id"], url=raw.get("url", ""), canonical_url=raw.get("canonical_url"), source=raw.get("source", ""),
        title=raw.get("title"), text=raw.get("text", ""), fetched_at=raw.get("fetched_at", ""),
        published=raw.get("published"),
    )  # fmt: skip


__all__ = [
    "DEFAULT_DEDUP",
    "Assignment",
    "CommitResult",
    "DedupConfig",
    "DedupIndex",
    "Group",
    "Groups",
    "Member",
    "aliases",
    "backfill",
]
