"""Peak memory of crawl + clean, end to end, for a small and a ten times larger corpus.

    python -m tests.bench.bench_memory [--quick] [--small N] [--large N] [--workers N] [--crawl-only]

For each size, a synthetic site (``tests.bench.common.NewsSite``, the sample site's articles made distinct,
9 kB each) is crawled by ``python -m spiders.run`` into a fresh local store, then the clean stage runs in
its own process over every raw object of that store (``clean_raw_object`` with ``clean_pages``, as the clean
flow does, without Prefect), here: ``python -m tests.bench.bench_memory clean --store DIR``.

The crawl's figure is the peak of the RSS of its process and its WARC compressor process summed, sampled
every 0.1 s. The clean stage's is the
peak of its process tree's RSS (main process, forkserver, pool workers, resource tracker) summed, sampled
every 0.1 s; pages shared between forked workers are counted once per process, so it is an upper bound
(the proportional set size, PSS, is reported beside it). Streaming means the peak does not grow with the
corpus: target large ≤ 1.2 × small.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.bench.bench_crawl import crawl_ours
from tests.bench.common import NewsSite, Row, load_average, log, print_table, run_measured

TARGET = 1.2


def _own_peak_rss_mb() -> float:
    """This process's VmHWM (not getrusage's ru_maxrss, which keeps the pre-exec image's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def clean_store(store_url: str, workers: int, report: Path) -> None:
    """The clean stage over every pending raw object of a store (what ``flows.runs._clean`` runs per key)."""
    from cleaning.config import DEFAULT_CONFIG
    from flows.pool import clean_pages
    from pipelines.clean_zone import clean_raw_object, pending_raw_keys
    from pipelines.store import open_store

    store = open_store(store_url)
    totals: Counter[str] = Counter()
    started = time.perf_counter()
    keys = pending_raw_keys(store)
    for key in keys:
        result = clean_raw_object(store, key, lambda pages: clean_pages(pages, workers, 60.0, DEFAULT_CONFIG))
        totals["pages"] += result.pages
        totals["stored"] += result.stored
        totals["duplicates"] += result.duplicates
        totals["rejected"] += sum(result.rejected.values())
    seconds = time.perf_counter() - started
    report.write_text(
        json.dumps(
            {
                **totals,
                "raw_objects": len(keys),
                "seconds": seconds,
                "self_peak_rss_mb": _own_peak_rss_mb(),
            }
        )
    )


def measure_crawl(pages: int, workdir: Path) -> dict[str, Any]:
    tag = f"mem{pages}"
    with NewsSite("articles", pages) as site:
        crawl = crawl_ours(site, workdir, tag, timeout=1800, interval=0.1)
    if crawl["pages"] != pages:
        log(f"memory: the crawl fetched {crawl['pages']} of {pages} pages (exit {crawl['exit_code']})")
    return crawl


def measure_size(pages: int, workers: int, workdir: Path) -> dict[str, Any]:
    log(f"memory: crawl + clean of {pages} pages")
    tag = f"mem{pages}"
    crawl = measure_crawl(pages, workdir)
    store = workdir / f"store-{tag}"
    report = workdir / f"clean-{tag}.json"
    cmd = [
        sys.executable,
        "-m",
        "tests.bench.bench_memory",
        "clean",
        "--store",
        str(store),
        "--workers",
        str(workers),
        "--report",
        str(report),
    ]
    done = run_measured(cmd, 1800, workdir / f"clean-{tag}.log")
    if not report.exists():
        raise RuntimeError(f"clean stage failed (exit {done.returncode}):\n{done.output}")
    clean: dict[str, Any] = json.loads(report.read_text())
    clean.update(
        wall_seconds=done.seconds,
        peak_pss_mb=done.memory.peak_pss_mb,
        peak_rss_sum_mb=done.memory.peak_rss_mb,
        main_peak_rss_mb=max(done.peak_rss_mb, clean["self_peak_rss_mb"]),
        max_process_hwm_mb=done.memory.max_process_hwm_mb,
        processes=done.memory.processes,
    )
    return {"crawl": crawl, "clean": clean}


def _count(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def run(
    quick: bool = False, small: int | None = None, large: int | None = None, workers: int = 2
) -> list[Row]:
    small = small or (300 if quick else 2000)
    large = large or (3000 if quick else 20000)
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="cleanwire-bench-memory-") as tmp:
        results = {n: measure_size(n, workers, Path(tmp)) for n in (small, large)}
    s, b = results[small], results[large]
    details = {
        "small": small,
        "large": large,
        "workers": workers,
        "results": results,
        "load_average": f"{load_before} → {load_average()}",
    }
    what = f"{_count(large)} vs {_count(small)} pages"
    ref = f"{small} pages"
    return [
        Row(
            "memory",
            f"crawl peak RSS (process + WARC compressor), {what}",
            b["crawl"]["peak_tree_rss_mb"],
            s["crawl"]["peak_tree_rss_mb"],
            "MB",
            ref,
            TARGET,
            higher_is_better=False,
            details=details,
        ),
        Row(
            "memory",
            f"clean stage peak RSS ({workers} workers), {what}",
            b["clean"]["peak_rss_sum_mb"],
            s["clean"]["peak_rss_sum_mb"],
            "MB",
            ref,
            TARGET,
            higher_is_better=False,
        ),
        Row(
            "memory",
            f"end to end peak RSS, {what}",
            max(b["crawl"]["peak_tree_rss_mb"], b["clean"]["peak_rss_sum_mb"]),
            max(s["crawl"]["peak_tree_rss_mb"], s["clean"]["peak_rss_sum_mb"]),
            "MB",
            ref,
            TARGET,
            higher_is_better=False,
        ),
    ]


def run_crawl_only(quick: bool = False, small: int | None = None, large: int | None = None) -> list[Row]:
    """The crawl's row alone: what iterating on the crawl's memory needs, without the clean stage."""
    small = small or (300 if quick else 2000)
    large = large or (3000 if quick else 20000)
    results = {}
    with tempfile.TemporaryDirectory(prefix="cleanwire-bench-memory-") as tmp:
        for n in (small, large):
            log(f"memory: crawl of {n} pages")
            results[n] = measure_crawl(n, Path(tmp))
    s, b = results[small], results[large]
    return [
        Row(
            "memory",
            f"crawl peak RSS (process + WARC compressor), {_count(large)} vs {_count(small)} pages",
            b["peak_tree_rss_mb"],
            s["peak_tree_rss_mb"],
            "MB",
            f"{small} pages",
            TARGET,
            higher_is_better=False,
            details={"small": small, "large": large, "results": results},
        )
    ]


def crawl_only_notes(rows: Sequence[Row]) -> list[str]:
    d = rows[0].details
    return [
        f"{n} pages: crawl {c['pages']} pages in {c['wall_seconds']:.0f} s "
        f"({c['pages'] / c['elapsed_seconds']:.0f} pages/s), peak PSS {c['peak_pss_mb']:.0f} MB"
        for n in (d["small"], d["large"])
        for c in [d["results"][n]]
    ]


def notes(rows: Sequence[Row]) -> list[str]:
    d = rows[0].details
    out = [
        "crawl: peak of the RSS of its process and WARC compressor summed; clean: peak of the RSS summed over its process tree (main "
        "process, forkserver, pool workers), sampled every 0.1 s"
    ]
    for n in (d["small"], d["large"]):
        c, k = d["results"][n]["crawl"], d["results"][n]["clean"]
        out.append(
            f"{n} pages: crawl {c['pages']} pages in {c['wall_seconds']:.0f} s (peak PSS {c['peak_pss_mb']:.0f} MB); "
            f"clean {k['pages']} pages ({k['stored']} stored, {k['duplicates']} duplicates, {k['rejected']} rejected) "
            f"from {k['raw_objects']} raw objects in {k['seconds']:.0f} s: main process peak RSS "
            f"{k['main_peak_rss_mb']:.0f} MB, largest process {k['max_process_hwm_mb']:.0f} MB, tree of "
            f"{k['processes']} processes peak PSS {k['peak_pss_mb']:.0f} MB"
        )
    out.append(f"load {d['load_average']}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    clean = sub.add_parser("clean", help="(internal) run the clean stage over a store in this process")
    clean.add_argument("--store", required=True)
    clean.add_argument("--workers", type=int, default=2)
    clean.add_argument("--report", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--small", type=int)
    parser.add_argument("--large", type=int)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--crawl-only", action="store_true", help="the crawl alone, without the clean stage")
    args = parser.parse_args(argv)
    if args.command == "clean":
        clean_store(args.store, args.workers, Path(args.report))
        return 0
    if args.crawl_only:
        rows = run_crawl_only(args.quick, args.small, args.large)
        print_table("memory: crawl peak for a 10× larger corpus (streaming)", rows, crawl_only_notes(rows))
        return 0
    rows = run(args.quick, args.small, args.large, args.workers)
    print_table("memory: peak for a 10× larger corpus (streaming)", rows, notes(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
