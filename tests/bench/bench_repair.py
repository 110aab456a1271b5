"""Benchmark text repair against ftfy on the generated repair cases (not a pytest test).

    python -m tests.bench.bench_repair [--pool dev|heldout|all] [--by-process] [--failures N]

For ``repair_text``, ``ftfy.fix_text`` (defaults) and ``ftfy.fix_encoding``, measured in the same run on
``tests/cleaning/data/repair_cases.json``:

* exact-repair rate on lossless cases (CJK processes; Western processes separately),
* mean character similarity (difflib ratio) to the original on lossy cases,
* false-change rate on negatives (real text that must come back unchanged),
* throughput in MB/s of UTF-8 input: on every case input (about 40% of the bytes are mojibake), on
  the negatives joined into ~3 KB pages in 60 languages, and on the extraction benchmark's news
  articles (clean text, the common case in production).

The ``dev`` pool is what the thresholds and the character table were tuned on; ``heldout`` cases come
from other documents (see ``cleaning/mojibake/build.py``). ``(input as is)`` scores the corrupted
inputs themselves, for reference.
"""

from __future__ import annotations

import argparse
import difflib
import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ftfy

from cleaning.repair import repair_text

CASES = Path(__file__).resolve().parents[1] / "cleaning" / "data" / "repair_cases.json"

Fixer = Callable[[str], str]
SYSTEMS: dict[str, Fixer] = {
    "repair_text": repair_text,
    "ftfy.fix_text": ftfy.fix_text,
    "ftfy.fix_encoding": ftfy.fix_encoding,
}


def load_cases(pool: str) -> list[dict[str, Any]]:
    cases = json.loads(CASES.read_text(encoding="utf-8"))["cases"]
    return [c for c in cases if pool == "all" or c["pool"] == pool]


def group_of(case: dict[str, Any]) -> str:
    if case["kind"] == "negative":
        return "negative"
    if case["kind"] == "western":
        return "western"
    return case["kind"]  # lossless / lossy (CJK processes)


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def evaluate(
    fix: Fixer, cases: list[dict[str, Any]]
) -> tuple[dict[str, float], list[tuple[dict[str, Any], str]], dict[str, list[float]]]:
    per_group: dict[str, list[float]] = defaultdict(list)
    per_process: dict[str, list[float]] = defaultdict(list)
    failures: list[tuple[dict[str, Any], str]] = []
    for case in cases:
        out = fix(case["input"])
        group = group_of(case)
        if group == "lossy":
            score = similarity(out, case["expected"])
        else:
            score = 1.0 if out == case["expected"] else 0.0
        per_group[group].append(score)
        per_process[f"{group}: {case.get('process') or case.get('category', '').split(':')[0]}"].append(score)
        if score < 1.0:
            failures.append((case, out))
    summary = {g: sum(v) / len(v) for g, v in per_group.items()}
    return summary, failures, per_process


def throughputs(systems: dict[str, Fixer], texts: list[str], min_seconds: float = 1.0) -> dict[str, float]:
    """MB/s of each system: the fastest of at least three passes over ``texts``, the systems taking
    turns so that a busy machine slows them alike."""
    size = sum(len(t.encode("utf-8")) for t in texts)
    best = dict.fromkeys(systems, float("inf"))
    rounds = 0
    spent = 0.0
    while rounds < 3 or spent < min_seconds * len(systems):
        for name, fix in systems.items():
            start = time.perf_counter()
            for t in texts:
                fix(t)
            elapsed = time.perf_counter() - start
            best[name] = min(best[name], elapsed)
            spent += elapsed
        rounds += 1
    return {name: size / t / 1e6 for name, t in best.items()}


def clean_documents(cases: list[dict[str, Any]]) -> list[str]:
    """Negatives joined into pages of ~3 KB, the shape of text the pipeline repairs."""
    lines = [c["input"] for c in cases if c["kind"] == "negative"]
    docs, page, size = [], [], 0
    for line in lines:
        page.append(line)
        size += len(line)
        if size > 3000:
            docs.append("\n".join(page))
            page, size = [], 0
    if page:
        docs.append("\n".join(page))
    return docs


def news_articles() -> list[str]:
    """The extraction benchmark's article texts: clean news, what the pipeline repairs most."""
    truth = Path(__file__).resolve().parents[1] / "data" / "extraction-benchmark" / "ground-truth.json"
    if not truth.is_file():
        return []
    return [
        v["articleBody"]
        for v in json.loads(truth.read_text(encoding="utf-8")).values()
        if v.get("articleBody")
    ]


COLUMNS = [
    ("lossless", "CJK lossless exact"),
    ("western", "Western exact"),
    ("lossy", "lossy similarity"),
    ("negative", "false changes"),
]


def _row(name: str, summary: dict[str, float], speeds: list[float | None]) -> str:
    row = f"{name:<18}"
    for key, _ in COLUMNS:
        value = summary.get(key, float("nan"))
        row += f"{1.0 - value if key == 'negative' else value:>19.1%} "
    return row + "".join(f"{s:>12.2f}" if s is not None else f"{'-':>12}" for s in speeds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--pool", choices=["dev", "heldout", "all"], default=None, help="default: dev and heldout"
    )
    parser.add_argument(
        "--by-process", action="store_true", help="break the scores down by corruption process"
    )
    parser.add_argument("--failures", type=int, default=0, help="show N failures of repair_text")
    parser.add_argument("--only", default="", help="keep cases whose process or category contains this text")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per throughput measurement")
    args = parser.parse_args(argv)

    pools = [args.pool] if args.pool else ["dev", "heldout"]
    for pool in pools:
        cases = [c for c in load_cases(pool) if args.only in (c.get("process") or c.get("category", ""))]
        counts: defaultdict[str, int] = defaultdict(int)
        for c in cases:
            counts[group_of(c)] += 1
        print(f"\npool={pool}: " + ", ".join(f"{g} {n}" for g, n in sorted(counts.items())))
        header = (
            f"{'system':<18}"
            + "".join(f"{title:>20}" for _, title in COLUMNS)
            + f"{'cases MB/s':>12}{'clean MB/s':>12}"
        )
        print(header)
        print("-" * len(header))
        speed_cases = throughputs(SYSTEMS, [c["input"] for c in cases], args.seconds)
        speed_clean = throughputs(SYSTEMS, clean_documents(cases), args.seconds)
        results: dict[str, dict[str, float]] = {}
        for name, fix in SYSTEMS.items():
            summary, failures, per_process = evaluate(fix, cases)
            summary["cases MB/s"], summary["clean MB/s"] = speed_cases[name], speed_clean[name]
            results[name] = summary
            print(_row(name, summary, [speed_cases[name], speed_clean[name]]))
            if args.by_process and name == "repair_text":
                for proc, scores in sorted(per_process.items()):
                    print(f"    {proc:<48} {sum(scores) / len(scores):>7.1%}  (n={len(scores)})")
            if args.failures and name == "repair_text":
                for case, out in failures[: args.failures]:
                    print(
                        f"    FAIL {case['id']} {case.get('process') or case.get('category')}  [{case['source']}]"
                    )
                    print(f"       input    {case['input'][:160]!r}")
                    print(f"       output   {out[:160]!r}")
                    print(f"       expected {case['expected'][:160]!r}")
        print(_row("(input as is)", evaluate(lambda t: t, cases)[0], [None, None]))
        ours = results["repair_text"]
        for other in ("ftfy.fix_text", "ftfy.fix_encoding"):
            theirs = results[other]
            print(
                f"repair_text / {other}: speed x{ours['cases MB/s'] / theirs['cases MB/s']:.2f} on cases, "
                f"x{ours['clean MB/s'] / theirs['clean MB/s']:.2f} on clean pages; "
                f"Western exact {ours.get('western', 0):.1%} vs {theirs.get('western', 0):.1%}"
            )

    articles = news_articles()
    if articles:
        size = sum(len(t.encode("utf-8")) for t in articles)
        speed = throughputs(SYSTEMS, articles, args.seconds)
        print(f"\nnews articles ({len(articles)} texts, {size / 1e6:.2f} MB, clean English news):")
        for name, mbs in speed.items():
            print(f"  {name:<18} {mbs:6.2f} MB/s   x{mbs / speed['ftfy.fix_text']:.2f} of ftfy.fix_text")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
