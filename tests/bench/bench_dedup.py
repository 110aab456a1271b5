"""Scale benchmark of the dedup index (not a pytest test).

    python -m tests.bench.bench_dedup [--n 100000] [--batch 1000] [--commit-every 10000] [--days 100] [--workers 0]

Synthetic news-like documents (~300 words: Zipf-distributed filler words, sentences, names, figures and
a quote per story) are first written to a JSON Lines file (not timed), then read back and assigned in
publication order, a batch at a time as partitions are, with a commit per ``--commit-every`` documents.
About ``--dup-rate`` of them are planted near-duplicates of an earlier document: the original with a
random share (0–4%) of its words replaced, sometimes its last paragraph dropped (an unchanged copy is
an exact duplicate, same id, and is counted apart). Each synthetic story has 1–6 independent rewrites
sharing its names, figures and quote. With ``--workers N``, N processes compute the sketches
(``cleaning.similarity.sketch``, a pure function) one batch ahead of the index, as cleaning workers could.

Reported, in one run on a LocalStore in a temporary directory:

* throughput of ``assign`` (insert + query) and ``commit``, documents per second of wall time, and per
  second of CPU time of the main process (the machine may be shared);
* peak RSS (``resource.getrusage``) and its growth over the run, and the index's own count of the bytes
  it holds, per document;
* recall and precision of the planted near-duplicates: recall by exact Jaccard similarity of the pair,
  precision over every document given a ``near_duplicate_of``;
* the same for stories (synthetic, so only a sanity check of the grouping, not a quality measure);
* the cost of opening the persisted index cold and assigning one more batch.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import multiprocessing
import resource
import shutil
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa

from cleaning.normalize import content_sha256
from cleaning.records import CleanDocument
from cleaning.similarity import Sketches, jaccard, shingles, sketch
from pipelines.dedup import DedupIndex
from pipelines.store import LocalStore

DAY = "2026-01-01"
COMMON_NAMES = ["China", "Beijing", "United States", "Europe", "Ministry", "Government", "Reuters", "Group"]
UNITS = ["million", "billion", "percent", "", "", ""]


@dataclass
class Truth:
    story: int
    original: str | None  # id of the document this one is a planted copy of
    edit_rate: float = 0.0


class Corpus:
    """Deterministic synthetic documents, generated batch by batch (the corpus is never held whole)."""

    def __init__(self, n: int, days: int, dup_rate: float, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.n, self.days, self.dup_rate = n, days, dup_rate
        syllables = np.array(
            ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ve", "da", "qu", "re", "zan", "tor", "li"]
        )
        parts = self.rng.choice(syllables, size=(40_000, 4))
        lengths = self.rng.integers(1, 5, size=40_000)
        words = sorted({"".join(p[:k]) for p, k in zip(parts.tolist(), lengths.tolist(), strict=True)})
        self.words = np.array(words)
        ranks = np.arange(1, len(self.words) + 1)
        self.word_cdf = np.cumsum(1 / ranks**1.05)
        self.word_cdf /= self.word_cdf[-1]
        self.names = np.array([w.capitalize() + s for w in self.words[:25_000] for s in ("", "x")][:50_000])
        self.next_story = 0
        self.copy_pool: list[tuple[CleanDocument, int]] = []  # recent originals that may be copied later

    def _words(self, n: int) -> list[str]:
        """Zipf-distributed filler words."""
        return self.words[np.searchsorted(self.word_cdf, self.rng.random(n))].tolist()

    def _story(self) -> tuple[int, list[str], list[str], str]:
        self.next_story += 1
        names = self.rng.choice(self.names, size=6, replace=False).tolist()
        figures = [
            f"{self.rng.integers(2, 999)}.{self.rng.integers(1, 9)} {self.rng.choice(UNITS)}".strip()
            for _ in range(3)
        ]
        return self.next_story, names, figures, " ".join(self._words(8))

    def _text(self, names: list[str], figures: list[str], quote: str) -> str:
        words = self._words(300)
        mentions = [*names, *COMMON_NAMES[:3]]
        picks = self.rng.integers(0, len(mentions), size=24).tolist()
        numbers = self.rng.integers(0, len(figures), size=24).tolist()
        for k, pos in enumerate(self.rng.choice(300, size=24, replace=False).tolist()):
            words[pos] = mentions[picks[k]] if pos % 3 else figures[numbers[k]]
        words.insert(int(self.rng.integers(40, 250)), f"“{quote}”")
        sentences, i = [], 0
        while i < len(words):
            k = int(self.rng.integers(12, 26))
            chunk = words[i : i + k]
            chunk[0] = chunk[0].capitalize()
            sentences.append(" ".join(chunk) + ".")
            i += k
        paragraphs = [" ".join(sentences[j : j + 3]) for j in range(0, len(sentences), 3)]
        return "\n".join(paragraphs)

    def _copy(self, original: CleanDocument) -> tuple[str, float]:
        words = original.text.split(" ")
        rate = float(self.rng.uniform(0.0, 0.04))  # 0–12 words of 300: a light edit ... a rewritten lede
        positions = self.rng.choice(len(words), size=int(rate * len(words)), replace=False).tolist()
        for pos, word in zip(positions, self._words(len(positions)), strict=True):
            words[pos] = word
        text = " ".join(words)
        if self.rng.random() < 0.3:
            text = text.rsplit("\n", 1)[0]
        return text, rate

    def batches(self, size: int) -> Iterator[list[tuple[CleanDocument, Truth]]]:
        per_day = max(1, self.n // self.days)
        open_stories: list[
            tuple[int, list[str], list[str], str, int, int]
        ] = []  # ..., documents left, first day
        made = 0
        while made < self.n:
            batch: list[tuple[CleanDocument, Truth]] = []
            while len(batch) < size and made < self.n:
                day = made // per_day
                minute = (made % per_day) * 1440 // per_day  # later documents are published later
                published = f"{np.datetime64(DAY) + day}T{minute // 60:02d}:{minute % 60:02d}:00Z"
                fetched = f"{np.datetime64(DAY) + day}T23:59:00Z"
                if self.copy_pool and self.rng.random() < self.dup_rate:
                    original, story = self.copy_pool[int(self.rng.integers(len(self.copy_pool)))]
                    text, rate = self._copy(original)
                    truth = Truth(story, original.id, rate)
                else:
                    # A story is rewritten within two days of its first version (inside the 3-day window).
                    open_stories = [s for s in open_stories if s[4] > 0 and s[5] >= day - 2]
                    if not open_stories or self.rng.random() < 0.35:
                        open_stories.append((*self._story(), int(self.rng.integers(1, 7)), day))
                    k = int(self.rng.integers(len(open_stories)))
                    story, names, figures, quote, left, first = open_stories[k]
                    open_stories[k] = (story, names, figures, quote, left - 1, first)
                    text = self._text(names, figures, quote)
                    truth = Truth(story, None)
                doc = CleanDocument(
                    id=content_sha256(text), url=f"https://synthetic.example/{made}", canonical_url=None,
                    source="synthetic", title=None, text=text, fetched_at=fetched, published=published,
                )  # fmt: skip
                if truth.original is None:
                    self.copy_pool.append((doc, truth.story))
                    if len(self.copy_pool) > 2000:
                        self.copy_pool.pop(0)
                batch.append((doc, truth))
                made += 1
            yield batch


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def write_corpus(path: Path, args: argparse.Namespace) -> None:
    """Generate the corpus into a JSON Lines file (not timed); a planted copy carries the exact Jaccard
    similarity of its shingle set to its original's."""
    corpus = Corpus(args.n, args.days, args.dup_rate, args.seed)
    texts: dict[str, str] = {}
    with path.open("w", encoding="utf-8") as fh:
        for batch in corpus.batches(args.batch):
            for doc, truth in batch:
                line: dict[str, object] = {"id": doc.id, "text": doc.text, "published": doc.published,
                                           "fetched_at": doc.fetched_at, "url": doc.url, "story": truth.story}  # fmt: skip
                if truth.original is None:
                    texts[doc.id] = doc.text
                else:
                    line["original"] = truth.original
                    line["jaccard"] = jaccard(shingles(doc.text), shingles(texts[truth.original]))
                fh.write(json.dumps(line) + "\n")
            if len(texts) > 4 * len(corpus.copy_pool):
                keep = {d.id for d, _ in corpus.copy_pool}
                texts = {k: v for k, v in texts.items() if k in keep}


def read_batches(path: Path, size: int) -> Iterator[list[CleanDocument]]:
    batch: list[CleanDocument] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            raw = json.loads(line)
            batch.append(CleanDocument(id=raw["id"], url=raw["url"], canonical_url=None, source="synthetic", title=None,
                                       text=raw["text"], fetched_at=raw["fetched_at"], published=raw["published"]))  # fmt: skip
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def _warm(_: int) -> int:
    sketch(["warm up: " + " ".join(f"word{i}" for i in range(50))])
    pa.array([0])
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.bench_dedup", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--n", type=int, default=100_000, help="documents (default 100000)")
    parser.add_argument("--batch", type=int, default=1000, help="documents per assign call (a partition)")
    parser.add_argument("--commit-every", type=int, default=10_000, help="documents per commit (a run)")
    parser.add_argument("--days", type=int, default=100, help="days the documents are spread over")
    parser.add_argument("--dup-rate", type=float, default=0.1, help="share of planted near-duplicates")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes sketching batches ahead of the index (0: sketch inside assign)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-dedup-"))
    try:
        return run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> int:
    started = time.perf_counter()
    corpus_file, results_file = tmp / "corpus.jsonl", tmp / "results.jsonl"
    write_corpus(corpus_file, args)
    print(f"corpus generated in {time.perf_counter() - started:.0f} s (not timed)", flush=True)
    _warm(0)  # imports (datasketch pulls in scipy, pyarrow pandas), lookup tables: not timed
    pool = None
    if args.workers:
        pool = ProcessPoolExecutor(args.workers, mp_context=multiprocessing.get_context("forkserver"))
        list(pool.map(_warm, range(args.workers)))
    store = LocalStore(tmp / "store")
    index = DedupIndex.open(store)
    gc.collect()
    rss_start = rss_mb()
    t_assign = t_commit = t_wait = 0.0
    cpu_start = time.process_time()
    n = since_commit = 0
    ahead: deque[tuple[list[CleanDocument], Future[Sketches] | None]] = deque()

    def consume(docs: list[CleanDocument], future: Future[Sketches] | None, out: IO[str]) -> None:
        nonlocal t_assign, t_commit, t_wait, n, since_commit
        started = time.perf_counter()
        sketches = future.result() if future is not None else None
        t_wait += time.perf_counter() - started
        started = time.perf_counter()
        assigned = index.assign(docs, sketches=sketches)
        t_assign += time.perf_counter() - started
        for doc in assigned:
            out.write(json.dumps([doc.id, doc.near_duplicate_of, doc.similarity, doc.story_id]) + "\n")
        n += len(docs)
        since_commit += len(docs)
        if since_commit >= args.commit_every:
            started = time.perf_counter()
            index.commit(f"bench-{n}")
            t_commit += time.perf_counter() - started
            since_commit = 0

    with results_file.open("w", encoding="utf-8") as out:
        for docs in read_batches(corpus_file, args.batch):
            future = pool.submit(sketch, [d.text for d in docs]) if pool is not None else None
            ahead.append((docs, future))
            if len(ahead) > args.workers:  # keep every worker busy one batch ahead
                consume(*ahead.popleft(), out)
        while ahead:
            consume(*ahead.popleft(), out)
        started = time.perf_counter()
        index.commit("bench-last")
        t_commit += time.perf_counter() - started
    cpu_main = time.process_time() - cpu_start
    rss_peak = rss_mb()
    held = index.memory_bytes()
    if pool is not None:
        pool.shutdown()

    # Cold open: a new session reads the persisted index and assigns one more batch.
    more = next(Corpus(args.batch, 1, 0.0, args.seed + 1).batches(args.batch))
    started = time.perf_counter()
    cold = DedupIndex.open(store)
    cold.assign(
        [dataclasses.replace(d, published=f"{np.datetime64(DAY) + args.days - 1}T12:00:00Z") for d, _ in more]
    )
    t_cold = time.perf_counter() - started
    store_bytes = sum(p.stat().st_size for p in store.root.rglob("*") if p.is_file())
    report(args, n, corpus_file, results_file)
    total = t_assign + t_commit + t_wait
    print(f"documents             {n}  ({args.batch}/assign, commit every {args.commit_every}, {args.days} days, "
          f"{args.workers or 'no'} sketch workers)")  # fmt: skip
    print(
        f"assign (insert+query) {t_assign:7.1f} s  {n / t_assign:8.0f} docs/s"
        + (f"  (+{t_wait:.1f} s waiting for sketches)" if pool else "")
    )
    print(f"commit                {t_commit:7.1f} s")
    print(
        f"assign + commit       {total:7.1f} s  {n / total:8.0f} docs/s   (main process CPU {cpu_main:.1f} s: {n / cpu_main:.0f} docs/CPU-s)"
    )
    print(f"peak RSS              {rss_peak:7.0f} MB  (+{rss_peak - rss_start:.0f} MB during the run: "
          f"{(rss_peak - rss_start) * 2**20 / n:.0f} B/doc)")  # fmt: skip
    print(f"index held in memory  {sum(held.values()) / 2**20:7.1f} MB  ({sum(held.values()) / n:.0f} B/doc: "
          + ", ".join(f"{k} {v / n:.0f}" for k, v in held.items()) + ")")  # fmt: skip
    print(f"index in the store    {store_bytes / 2**20:7.1f} MB  ({store_bytes / n:.0f} B/doc)")
    print(f"cold open + 1 batch   {t_cold:7.1f} s")
    print(f"counters {index.counters}")
    return 0


def report(args: argparse.Namespace, n: int, corpus_file: Path, results_file: Path) -> None:
    truth: dict[str, tuple[int, str | None, float | None]] = {}
    exact = 0
    with corpus_file.open(encoding="utf-8") as fh:
        for line in fh:
            raw = json.loads(line)
            if raw["id"] == raw.get("original"):
                exact += 1  # unchanged copy: same content, same id, an alias rather than a near duplicate
                continue
            truth[raw["id"]] = (raw["story"], raw.get("original"), raw.get("jaccard"))
    got: dict[str, tuple[str | None, str]] = {}
    with results_file.open(encoding="utf-8") as fh:
        for line in fh:
            doc_id, near, _similarity, story = json.loads(line)
            got[doc_id] = (near, story)

    # Planted near-duplicates: recall by true Jaccard (found: the copy and its original have one cluster
    # head), precision over every document given a near_duplicate_of.
    def head(doc_id: str) -> str:
        return got[doc_id][0] or doc_id

    buckets: dict[str, list[bool]] = defaultdict(list)
    for doc_id, (_story, original, j) in truth.items():
        if original is None:
            continue
        assert j is not None
        bucket = "≥0.90" if j >= 0.9 else "0.80–0.90" if j >= 0.8 else "0.70–0.80" if j >= 0.7 else "<0.70"
        buckets[bucket].append(head(doc_id) == head(original))

    def family(doc_id: str) -> str:
        return truth[doc_id][1] or doc_id

    flagged = [(d, near) for d, (near, _) in got.items() if near]
    correct = sum(family(d) == family(near) for d, near in flagged)
    print(
        f"planted near-duplicates ({exact} unchanged copies are exact duplicates, not counted), recall by true Jaccard:"
    )
    for bucket in ("≥0.90", "0.80–0.90", "0.70–0.80", "<0.70"):
        found = buckets.get(bucket, [])
        if found:
            print(f"  J {bucket:10} {sum(found):6d} / {len(found):6d}  recall {sum(found) / len(found):.3f}")
    print(
        f"  flagged {len(flagged)} documents, {correct} of them copies of each other: precision {correct / max(1, len(flagged)):.4f}"
    )

    # Stories (synthetic): pairs grouped together vs pairs of the same synthetic story.
    by_story: dict[str, list[int]] = defaultdict(list)
    for doc_id, (_near, story) in got.items():
        by_story[story].append(truth[doc_id][0])
    grouped = same = 0
    for stories in by_story.values():
        grouped += len(stories) * (len(stories) - 1) // 2
        same += sum(c * (c - 1) // 2 for c in np.unique(stories, return_counts=True)[1].tolist())
    sizes = np.bincount([t[0] for t in truth.values()])
    true_pairs = int((sizes * (sizes - 1) // 2).sum())
    print(f"stories (synthetic): {len(by_story)} groups for {np.count_nonzero(sizes)} stories; pair precision "
          f"{same / max(1, grouped):.4f}, pair recall {same / max(1, true_pairs):.3f}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
