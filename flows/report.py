"""The run report: counts per source and stage, rejects by reason, timings — as JSON, as a
Prefect artifact, and as a table on the terminal."""

from __future__ import annotations

from collections import Counter
from typing import Any


def merge_clean_results(partitions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    per_source: dict[str, dict[str, Any]] = {}
    for part in partitions:
        entry = per_source.setdefault(
            part["source"],
            {"partitions": 0, "skipped": 0, "pages": 0, "stored": 0, "duplicates": 0, "unchanged": 0,
             "near_duplicates": 0, "in_stories": 0, "rejected": Counter(), "seconds_clean": 0.0,
             "seconds_store": 0.0},
        )
        entry["partitions"] += 1
        entry["skipped"] += int(part.get("skipped", False))
        for key in ("pages", "stored", "duplicates", "unchanged", "near_duplicates", "in_stories"):
            entry[key] += part.get(key, 0)
        entry["seconds_clean"] += part.get("seconds_clean", 0.0)
        entry["seconds_store"] += part.get("seconds_store", 0.0)
        entry["rejected"].update(part.get("rejected", {}))
    for entry in per_source.values():
        entry["rejected"] = dict(sorted(entry["rejected"].items()))
        entry["seconds_clean"] = round(entry["seconds_clean"], 3)
        entry["seconds_store"] = round(entry["seconds_store"], 3)
    return per_source


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """Totals over all sources: fetched, stored, duplicates, rejects by reason."""
    crawl = report.get("crawl", {}).get("sources", {})
    clean = report.get("clean", {}).get("sources", {})
    rejected: Counter[str] = Counter()
    for entry in clean.values():
        rejected.update(entry["rejected"])
    for entry in crawl.values():
        for key, n in entry.get("counts", {}).items():
            if key.startswith("rejected/"):
                rejected["crawl:" + key.removeprefix("rejected/")] += n
    return {
        "pages_fetched": sum(e.get("counts", {}).get("fetched", 0) for e in crawl.values()),
        "pages_cleaned": sum(e["pages"] for e in clean.values()),
        "documents_stored": sum(e["stored"] for e in clean.values()),
        "duplicates": sum(e["duplicates"] for e in clean.values()),
        "near_duplicates": sum(e.get("near_duplicates", 0) for e in clean.values()),
        "in_stories": sum(e.get("in_stories", 0) for e in clean.values()),
        "rejected": dict(sorted(rejected.items())),
    }


def to_markdown(report: dict[str, Any]) -> str:
    totals = report["totals"]
    lines = [
        f"# cleanwire run `{report['run_id']}`",
        "",
        f"store: `{report['store']}` — status: **{report['status']}**",
        "",
        "| source | fetched | cleaned | stored | duplicates | rejected |",
        "|---|---:|---:|---:|---:|---|",
    ]
    crawl = report.get("crawl", {}).get("sources", {})
    clean = report.get("clean", {}).get("sources", {})
    for name in sorted(set(crawl) | set(clean)):
        c = crawl.get(name, {}).get("counts", {})
        k = clean.get(name, {"pages": 0, "stored": 0, "duplicates": 0, "rejected": {}})
        rej = ", ".join(f"{r}: {n}" for r, n in k["rejected"].items()) or "—"
        lines.append(f"| {name} | {c.get('fetched', 0)} | {k['pages']} | {k['stored']} | {k['duplicates']} | {rej} |")
    lines += ["", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {stage} | {secs:.2f} |" for stage, secs in report["timings"].items()]
    lines += ["", f"totals: {totals}"]
    return "\n".join(lines)


def print_report(report: dict[str, Any]) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    # Off a terminal (CI logs, pipes) rich would wrap the table at 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=160)
    crawl = report.get("crawl", {}).get("sources", {})
    clean = report.get("clean", {}).get("sources", {})
    table = Table(title=f"cleanwire run {report['run_id']} → {report['store']}")
    for col in ("source", "discovered", "fetched", "cleaned", "stored", "duplicates", "rejected (by reason)"):
        table.add_column(col, justify="left" if col in ("source", "rejected (by reason)") else "right")
    for name in sorted(set(crawl) | set(clean)):
        c = crawl.get(name, {}).get("counts", {})
        k = clean.get(name, {"pages": 0, "stored": 0, "duplicates": 0, "rejected": {}})
        rejected = dict(k["rejected"])
        for key, n in c.items():
            if key.startswith("rejected/"):
                rejected["crawl:" + key.removeprefix("rejected/")] = n
        table.add_row(
            name,
            str(c.get("discovered", "—")),
            str(c.get("fetched", "—")),
            str(k["pages"]),
            str(k["stored"]),
            str(k["duplicates"]),
            ", ".join(f"{r}={n}" for r, n in sorted(rejected.items())) or "—",
        )
    console.print(table)
    totals = report["totals"]
    console.print(
        f"pages fetched: {totals['pages_fetched']}  documents stored: {totals['documents_stored']}  "
        f"exact duplicates: {totals['duplicates']}  near duplicates: {totals.get('near_duplicates', 0)}  "
        f"grouped into earlier stories: {totals.get('in_stories', 0)}  rejected: {sum(totals['rejected'].values())}"
    )
    if totals["rejected"]:
        console.print("rejects by reason: " + ", ".join(f"{r}={n}" for r, n in totals["rejected"].items()))
    console.print("time per stage: " + ", ".join(f"{s} {t:.2f}s" for s, t in report["timings"].items()))
    console.print(f"status: {report['status']}   report: {report.get('report_key', '')}")
