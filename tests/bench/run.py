"""Benchmarks of the pipeline against the bare tools it builds on, measured in the same run.

    python -m tests.bench.run [--quick] [--only clean,crawl,repair,memory,dedup] [--json [PATH]] [--strict]

clean   clean stage docs/s (worker processes, 1 and 2 workers) against trafilatura.extract in one process
crawl   crawl stage pages/s against bare Scrapy on the same local site and settings
repair  repair_text MB/s against ftfy.fix_text
memory  peak memory of crawl + clean for a corpus 10× larger (streaming: must not grow)
dedup   the near-duplicate scale benchmark (tests/bench/bench_dedup.py), when present

Each benchmark prints a table: our figure, the reference figure, the ratio and the target (PASS/MISS; "info"
rows have no target). The whole run takes under 15 minutes on 2 cores, ``--quick`` under 3.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import shlex
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from tests.bench.common import Row, load_average, log, print_table

BENCHMARKS = ("clean", "crawl", "repair", "memory", "dedup")


# -- repair --------------------------------------------------------------------------------------


def _repair_texts() -> dict[str, list[str]]:
    """Inputs of the repair benchmark: the repair cases (mojibake of every kind among real text), the
    clean pages of bench_repair, and the benchmark's article texts (what the pipeline repairs most)."""
    from tests.bench import bench_repair
    from tests.bench.common import benchmark_dir

    texts: dict[str, list[str]] = {}
    cases = bench_repair.load_cases("all")
    texts["repair cases (mixed)"] = [c["input"] for c in cases]
    texts["clean pages"] = bench_repair.clean_documents(cases)
    truth = benchmark_dir().parent / "ground-truth.json"
    if truth.is_file():
        bodies = [v.get("articleBody", "") for v in json.loads(truth.read_text("utf-8")).values()]
        texts["news articles"] = [b for b in bodies if b]
    return texts


def run_repair(quick: bool) -> list[Row]:
    import ftfy

    from cleaning.repair import repair_text
    from tests.bench import bench_repair

    systems: dict[str, Callable[[str], str]] = {"repair_text": repair_text, "ftfy.fix_text": ftfy.fix_text}
    rows = []
    for label, texts in _repair_texts().items():
        size = sum(len(t.encode("utf-8")) for t in texts)
        log(f"repair: {label}: {len(texts)} texts, {size / 1e6:.2f} MB")
        speed = bench_repair.throughputs(systems, texts, 0.25 if quick else 1.0)
        rows.append(
            Row(
                "repair",
                f"{label}, {size / 1e6:.2f} MB",
                speed["repair_text"],
                speed["ftfy.fix_text"],
                "MB/s",
                "ftfy.fix_text",
                None,
                details={"texts": len(texts), "bytes": size},
            )
        )
    return rows


REPAIR_NOTES = [
    "MB/s of UTF-8 input, the best of at least three passes, the systems taking turns (bench_repair.throughputs)",
    "no target was set for repair speed: reported, not judged",
]


# -- dedup ---------------------------------------------------------------------------------------


# Documents for bench_dedup when it has no --quick of its own (its default is 100,000).
DEDUP_DOCS = {True: 5_000, False: 30_000}


def dedup_argv(module: Any, quick: bool) -> list[str]:
    """Arguments for bench_dedup.main: its own --quick if it has one, else a smaller --n."""
    import inspect

    source = inspect.getsource(module)
    if quick and '"--quick"' in source:
        return ["--quick"]
    if '"--n"' in source:
        return ["--n", str(DEDUP_DOCS[quick])]
    return []


def run_dedup(quick: bool, argv: list[str] | None = None) -> list[Row]:
    """Run the near-duplicate benchmark's own entry point; it prints its own report. Rows it returns
    (tests.bench.common.Row) join the summary."""
    if importlib.util.find_spec("tests.bench.bench_dedup") is None:
        print("\n== dedup ==\n  skipped: tests/bench/bench_dedup.py is not there")
        return []
    module = importlib.import_module("tests.bench.bench_dedup")
    entry = getattr(module, "main", None)
    if entry is None:
        print("\n== dedup ==\n  skipped: tests/bench/bench_dedup.py has no main(argv)")
        return []
    args = dedup_argv(module, quick) if argv is None else argv
    print(f"\n== dedup: python -m tests.bench.bench_dedup {' '.join(args)} ==", flush=True)
    result = entry(args)
    sys.stdout.flush()
    if isinstance(result, list) and all(isinstance(r, Row) for r in result):
        return result
    if isinstance(result, int) and result != 0:
        raise RuntimeError(f"bench_dedup.main returned {result}")
    return []


# -- the command ---------------------------------------------------------------------------------


def _run_one(name: str, quick: bool, dedup_args: list[str] | None) -> tuple[list[Row], list[str]]:
    if name == "clean":
        from tests.bench import bench_clean

        rows = bench_clean.run(quick)
        return rows, bench_clean.notes(rows)
    if name == "crawl":
        from tests.bench import bench_crawl

        rows = bench_crawl.run(quick)
        return rows, bench_crawl.notes(rows)
    if name == "memory":
        from tests.bench import bench_memory

        rows = bench_memory.run(quick)
        return rows, bench_memory.notes(rows)
    if name == "repair":
        return run_repair(quick), REPAIR_NOTES
    if name == "dedup":
        return run_dedup(quick, dedup_args), []
    raise ValueError(name)


TITLES = {
    "clean": "clean stage: docs/s against bare trafilatura",
    "crawl": "crawl stage: pages/s against bare Scrapy",
    "repair": "repair: repair_text MB/s against ftfy.fix_text",
    "memory": "memory: peak for a 10× larger corpus (streaming)",
    "dedup": "dedup",
}


def _environment() -> dict[str, Any]:
    packages = {}
    for name in ("scrapy", "trafilatura", "ftfy", "pebble", "warcio"):
        try:
            packages[name] = version(name)
        except Exception:
            packages[name] = "?"
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": len(os.sched_getaffinity(0)),
        "load_average": load_average(),
        "packages": packages,
    }


def _json_safe(value: Any) -> Any:
    """NaN and infinities (a ratio with no reference) as null: JSON has no spelling for them."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def summary(rows: Sequence[Row], errors: dict[str, str]) -> None:
    print("\n== summary ==")
    for r in rows:
        print(f"  {r.verdict:<4}  {r.bench:<6}  {r.what}: {r.ratio:.2f}× (target {r.target_text()})")
    for name, error in errors.items():
        print(f"  ERROR {name}: {error.strip().splitlines()[-1] if error.strip() else error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller corpora and single passes (< 3 minutes)"
    )
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help="comma-separated: " + ",".join(BENCHMARKS)
    )
    parser.add_argument(
        "--json",
        nargs="?",
        const="bench-results.json",
        metavar="PATH",
        help="also write every figure as JSON (default path: bench-results.json)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--dedup-args",
        metavar="ARGS",
        help="arguments for bench_dedup.main instead of the defaults (quoted, e.g. '--n 100000')",
    )
    args = parser.parse_args(argv)
    dedup_args = shlex.split(args.dedup_args) if args.dedup_args is not None else None
    selected = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in selected if s not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (have: {', '.join(BENCHMARKS)})")

    env = _environment()
    print(f"cleanwire benchmarks{' (quick)' if args.quick else ''}: {', '.join(selected)}")
    print(
        f"python {env['python']}, {env['cpus']} CPUs, load average {env['load_average']}; "
        + ", ".join(f"{k} {v}" for k, v in env["packages"].items())
    )
    started = time.perf_counter()
    rows: list[Row] = []
    errors: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for name in selected:
        t0 = time.perf_counter()
        try:
            bench_rows, notes = _run_one(name, args.quick, dedup_args)
        except Exception:
            errors[name] = traceback.format_exc()
            print(f"\n== {TITLES[name]} ==\n  ERROR\n{errors[name]}", file=sys.stderr, flush=True)
            continue
        finally:
            seconds[name] = time.perf_counter() - t0
        if bench_rows and name != "dedup":
            print_table(TITLES[name], bench_rows, [*notes, f"({seconds[name]:.0f} s)"])
        rows.extend(bench_rows)
    total = time.perf_counter() - started
    summary(rows, errors)
    print(f"  total {total:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in seconds.items()) + ")")

    if args.json:
        report = {
            "environment": env,
            "quick": args.quick,
            "seconds": {**seconds, "total": total},
            "results": [r.to_dict() for r in rows],
            "errors": errors,
        }
        Path(args.json).write_text(json.dumps(_json_safe(report), indent=2, default=str) + "\n")
    if errors:
        return 1
    return 1 if args.strict and any(r.verdict == "MISS" for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
