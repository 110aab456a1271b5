"""Clean stage throughput against bare trafilatura, measured in the same run.

    python -m tests.bench.bench_clean [--quick] [--repeats N]

Ours: ``flows.pool.clean_pages`` over RawPages, as the clean flow runs it (pebble worker processes,
per-page timeout, bounded window), with 1 and with 2 workers; the pools are warmed up before timing.
Bare: a loop of ``trafilatura.extract(body)`` in this one process, on the same bytes; the same spread over
2 processes is reported too, as the ceiling this machine allows any 2-worker figure. Both on the shared
extraction benchmark pages and on the sample site's article pages; each figure is the median of N passes,
the systems taking turns so that a busy machine slows them alike.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

import trafilatura

from cleaning.config import DEFAULT_CONFIG
from cleaning.records import CleanDocument, RawPage
from flows.pool import clean_pages, get_pool
from tests.bench.common import (
    Row,
    benchmark_bodies,
    load_average,
    log,
    median,
    print_table,
    raw_page,
    sample_site_articles,
    spread,
    tree_cpu_seconds,
)

TARGET_TWO_WORKERS = 1.8  # 2 workers against one bare process
PAGE_TIMEOUT = 60.0
# Bare extraction in N processes below this share of N× one process: the machine was busy.
BUSY_SCALING = 0.85


def benchmark_pages(limit: int | None = None) -> list[RawPage]:
    bodies = benchmark_bodies()
    if limit is not None and limit < len(bodies):
        step = len(bodies) / limit  # an even spread of the set, not its first pages
        bodies = tuple(bodies[int(i * step)] for i in range(limit))
    return [raw_page(f"https://bench.example/{name}", body, "extraction-benchmark") for name, body in bodies]


def sample_pages(copies: int) -> list[RawPage]:
    """The sample site's articles, ``copies`` times over (19 small pages are too few to time alone)."""
    articles = sample_site_articles()
    return [
        raw_page(url, body, url.split("/")[3], dict(headers))
        for _ in range(copies)
        for url, body, headers in articles
    ]


def bare_pass(pages: Sequence[RawPage]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one pass."""
    started, cpu = time.perf_counter(), time.process_time()
    for page in pages:
        trafilatura.extract(page.body)
    return time.perf_counter() - started, time.process_time() - cpu


def _bare_text_length(body: bytes) -> int:
    return len(trafilatura.extract(body) or "")


def bare_parallel_pass(pages: Sequence[RawPage], executor: ProcessPoolExecutor) -> float:
    """Wall seconds of bare extraction spread over the executor's processes: how this machine scales."""
    started = time.perf_counter()
    for _ in executor.map(_bare_text_length, [p.body for p in pages], chunksize=2):
        pass
    return time.perf_counter() - started


def ours_pass(pages: Sequence[RawPage], workers: int) -> tuple[float, float, Counter[str]]:
    """(wall seconds, CPU seconds of this process and its workers, outcomes) of one pass."""
    outcomes: Counter[str] = Counter()
    started, cpu = time.perf_counter(), tree_cpu_seconds()
    for _page, result in clean_pages(pages, workers, PAGE_TIMEOUT, DEFAULT_CONFIG):
        outcomes["documents" if isinstance(result, CleanDocument) else f"rejected/{result.reason}"] += 1
    return time.perf_counter() - started, tree_cpu_seconds() - cpu, outcomes


def warm_up(pages: Sequence[RawPage], workers_list: Sequence[int]) -> None:
    """One untimed pass of every system over all pages: starts the pools' workers and lets each process
    import and initialise what it needs (language model, noise rules, trafilatura's and lxml's caches,
    the allocator's arenas); the first pass measured otherwise runs up to 40% slower."""
    for page in pages:
        trafilatura.extract(page.body)
    for workers in workers_list:
        get_pool(workers)
        for _ in clean_pages(pages, workers, PAGE_TIMEOUT, DEFAULT_CONFIG):
            pass


def measure(label: str, pages: list[RawPage], repeats: int, workers_list: Sequence[int]) -> list[Row]:
    log(
        f"clean: {label}: {len(pages)} pages × {repeats} passes (bare, "
        + ", ".join(f"{w} worker(s)" for w in workers_list)
        + ")"
    )
    warm_up(pages, workers_list)
    parallel = max(workers_list)
    executor = ProcessPoolExecutor(parallel, mp_context=multiprocessing.get_context("forkserver"))
    bare_parallel_pass(pages, executor)
    load_before = load_average()
    bare_parallel: list[float] = []
    bare: list[float] = []
    bare_cpu: list[float] = []
    ours: dict[int, list[float]] = {w: [] for w in workers_list}
    ours_cpu: dict[int, list[float]] = {w: [] for w in workers_list}
    outcomes: Counter[str] = Counter()
    for _ in range(repeats):
        wall, cpu = bare_pass(pages)
        bare.append(len(pages) / wall)
        bare_cpu.append(1000 * cpu / len(pages))
        for w in workers_list:
            wall, cpu, outcomes = ours_pass(pages, w)
            ours[w].append(len(pages) / wall)
            ours_cpu[w].append(1000 * cpu / len(pages))
        bare_parallel.append(len(pages) / bare_parallel_pass(pages, executor))
    executor.shutdown()
    bare_rate = median(bare)
    rows = []
    for w in workers_list:
        rows.append(
            Row(
                bench="clean",
                what=f"{label}, {w} worker{'s' if w > 1 else ''}",
                ours=median(ours[w]),
                reference=bare_rate,
                unit="docs/s",
                reference_name="trafilatura.extract, 1 process",
                target=TARGET_TWO_WORKERS if w == 2 else None,
                details={
                    "workers": w,
                    "pages": len(pages),
                    "repeats": repeats,
                    "ours_runs": ours[w],
                    "bare_runs": bare,
                    "ours_cpu_ms_per_doc": median(ours_cpu[w]),
                    "bare_cpu_ms_per_doc": median(bare_cpu),
                    "load_average": f"{load_before} → {load_average()}",
                    "outcomes": dict(outcomes),
                },
            )
        )
    rows.append(
        Row(
            bench="clean",
            what=f"{label}, bare in {parallel} processes (the machine's scaling)",
            ours=median(bare_parallel),
            reference=bare_rate,
            unit="docs/s",
            reference_name="trafilatura.extract, 1 process",
            details={"runs": bare_parallel, "bare_runs": bare, "processes": parallel},
        )
    )
    return rows


def run(quick: bool = False, repeats: int | None = None, workers_list: Sequence[int] = (1, 2)) -> list[Row]:
    repeats = repeats or (1 if quick else 3)
    rows = measure("extraction benchmark", benchmark_pages(48 if quick else None), repeats, workers_list)
    rows += measure("sample site articles", sample_pages(10 if quick else 40), repeats, workers_list)
    return rows


def notes(rows: Sequence[Row]) -> list[str]:
    out = [
        "ours = flows.pool.clean_pages (worker processes, full cleaning); bare = trafilatura.extract in one process",
        "CPU = CPU time per page (ours: this process + its workers), which a busy machine does not inflate; the",
        "ratio's ceiling on an idle machine is workers × bare CPU / ours CPU",
    ]
    for r in rows:
        d = r.details
        if "ours_runs" not in d:
            out.append(
                f"{r.what}: {spread(d['runs'])} docs/s per pass: the most any clean stage could reach with "
                "as many workers on this machine"
            )
            if r.ratio < BUSY_SCALING * d["processes"]:
                out.append(
                    f"WARNING: bare extraction scaled only {r.ratio:.2f}× over {d['processes']} processes: other "
                    "processes were using the CPUs, so the multi-worker figures above understate the clean stage"
                )
            continue
        out.append(
            f"{r.what}: ours {spread(d['ours_runs'])}, bare {spread(d['bare_runs'])} docs/s per pass; "
            f"CPU ours {d['ours_cpu_ms_per_doc']:.1f} ms/doc, bare {d['bare_cpu_ms_per_doc']:.1f} ms/doc "
            f"(ceiling {d['workers'] * d['bare_cpu_ms_per_doc'] / d['ours_cpu_ms_per_doc']:.2f}×); load {d['load_average']}; "
            + ", ".join(f"{k} {v}" for k, v in sorted(d["outcomes"].items()))
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int)
    args = parser.parse_args(argv)
    rows = run(args.quick, args.repeats)
    print_table("clean stage: docs/s against bare trafilatura", rows, notes(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
