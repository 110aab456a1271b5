"""Crawl stage throughput against bare Scrapy, on the same synthetic local site, measured in the same run.

    python -m tests.bench.bench_crawl [--quick] [--pages N] [--repeats N]

The site (``tests.bench.common.NewsSite``) serves N article pages whose bodies are the extraction benchmark's
pages, listed in one sitemap, from an asyncio server in this process. Both crawls run in their own process
and discover the articles through that sitemap:

* ours: ``python -m spiders.run`` with the site as its one source (our spider, the raw zone pipeline writing
  WARC files to a fresh local store through its compressor process, the fetch state extension), as the
  crawl flow runs it;
* bare: Scrapy's own ``SitemapSpider`` with a callback that yields a two-field item and no item pipeline,
  run by this module (``python -m tests.bench.bench_crawl bare ...``).

Both get the same settings: ours from ``spiders/settings.py`` minus our own components (item pipelines,
extensions, ``CLEANWIRE_*``), with AutoThrottle off and no delay (it would measure the sleep, not the crawler).
pages/s = article responses / Scrapy's ``elapsed_time_seconds`` (spider open to close, pipeline close
included); the process wall time is reported beside it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.bench.common import (
    NewsSite,
    Row,
    load_average,
    log,
    median,
    print_table,
    run_measured,
    spread,
)

TARGET = 0.8
# Applied to both crawls on top of spiders/settings.py (ours) or its non-cleanwire part (bare).
SHARED_OVERRIDES: dict[str, Any] = {
    "AUTOTHROTTLE_ENABLED": False,
    "DOWNLOAD_DELAY": 0,
    "LOG_LEVEL": "INFO",
}
_OUR_PACKAGES = ("spiders.", "pipelines.", "cleaning.", "flows.")


def _names_our_code(value: Any) -> bool:
    """A setting that installs one of our components (middleware, pipeline, extension, resolver)."""
    if isinstance(value, str):
        return value.startswith(_OUR_PACKAGES)
    if isinstance(value, dict):
        return any(_names_our_code(k) for k in value)
    if isinstance(value, list | tuple):
        return any(_names_our_code(v) for v in value)
    return False


def bare_settings(overrides: dict[str, Any]) -> dict[str, Any]:
    """Our politeness, concurrency and fetch settings without our components and their settings."""
    from spiders import settings as ours

    out = {
        name: value
        for name in dir(ours)
        if name.isupper()
        and not name.startswith("CLEANWIRE_")
        and name not in ("SPIDER_MODULES", "NEWSPIDER_MODULE")
        and not _names_our_code(value := getattr(ours, name))
    }
    out.update(overrides)
    return out


def _crawl_bare(sitemap: str, report: Path, overrides: dict[str, Any]) -> None:
    from scrapy.crawler import CrawlerProcess
    from scrapy.spiders import SitemapSpider

    class BareSitemapSpider(SitemapSpider):
        name = "bare"
        sitemap_urls = (sitemap,)

        def parse(self, response: Any) -> Any:
            yield {"url": response.url, "status": response.status}

    process = CrawlerProcess(bare_settings(overrides), install_root_handler=True)
    crawler = process.create_crawler(BareSitemapSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    report.write_text(
        json.dumps(
            {
                "pages": int(stats.get("item_scraped_count", 0)),
                "responses": int(stats.get("downloader/response_count", 0)),
                "elapsed_seconds": float(stats.get("elapsed_time_seconds", 0.0)),
                "finish_reason": stats.get("finish_reason"),
                "errors": int(stats.get("log_count/ERROR", 0)),
                "memusage_max_mb": int(stats.get("memusage/max", 0)) / 2**20,
            }
        )
    )


def _set_args(overrides: dict[str, Any]) -> list[str]:
    out = []
    for key, value in overrides.items():
        out += ["--set", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    return out


def crawl_ours(
    site: NewsSite, workdir: Path, tag: str, timeout: float = 600, interval: float = 0.5
) -> dict[str, Any]:
    """Our crawl of ``site`` into a fresh store; the report, wall time and peak memory of the process."""
    sources = workdir / "sources.yaml"
    sources.write_text(site.sources_yaml())
    store = workdir / f"store-{tag}"
    report = workdir / f"ours-{tag}.json"
    cmd = [
        sys.executable,
        "-m",
        "spiders.run",
        "--sources",
        str(sources),
        "--store",
        str(store),
        "--run-id",
        f"bench-{tag}",
        "--report",
        str(report),
        *_set_args(SHARED_OVERRIDES),
    ]
    done = run_measured(cmd, timeout, workdir / f"ours-{tag}.log", interval)
    if not report.exists():
        raise RuntimeError(f"our crawl failed (exit {done.returncode}):\n{done.output}")
    source = json.loads(report.read_text())["sources"]["bench"]
    return {
        "pages": int(source["counts"].get("fetched", 0)),
        "responses": source["responses"],
        "elapsed_seconds": source["elapsed_seconds"],
        "wall_seconds": done.seconds,
        "exit_code": done.returncode,
        "errors": source["errors"],
        "peak_pss_mb": done.memory.peak_pss_mb,
        "peak_rss_mb": done.peak_rss_mb,
        # The crawl process and its children (the WARC compressor, the forkserver that started it).
        "peak_tree_rss_mb": done.memory.peak_rss_mb,
        "warc_bytes": sum(p.stat().st_size for p in store.rglob("*.warc.gz")),
    }


def crawl_bare(site: NewsSite, workdir: Path, tag: str, timeout: float = 600) -> dict[str, Any]:
    report = workdir / f"bare-{tag}.json"
    cmd = [
        sys.executable,
        "-m",
        "tests.bench.bench_crawl",
        "bare",
        "--sitemap",
        site.sitemap_url,
        "--report",
        str(report),
        *_set_args(SHARED_OVERRIDES),
    ]
    done = run_measured(cmd, timeout, workdir / f"bare-{tag}.log", interval=0.5)
    if not report.exists():
        raise RuntimeError(f"bare crawl failed (exit {done.returncode}):\n{done.output}")
    out: dict[str, Any] = json.loads(report.read_text())
    out.update(
        wall_seconds=done.seconds,
        exit_code=done.returncode,
        peak_pss_mb=done.memory.peak_pss_mb,
        peak_rss_mb=done.peak_rss_mb,
    )
    return out


def run(quick: bool = False, pages: int | None = None, repeats: int | None = None) -> list[Row]:
    pages = pages or (600 if quick else 2000)
    repeats = repeats or (1 if quick else 3)
    ours_runs: list[dict[str, Any]] = []
    bare_runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="cleanwire-bench-crawl-") as tmp,
        NewsSite("benchmark", pages) as site,
    ):
        log(f"crawl: {pages} pages (extraction benchmark bodies) at {site.base_url}, {repeats} crawls each")
        load_before = load_average()
        for i in range(repeats):
            # Alternate the order, so that neither crawl always runs first on a warmer (or busier) machine.
            order = ("ours", "bare") if i % 2 == 0 else ("bare", "ours")
            for which in order:
                if which == "ours":
                    ours_runs.append(crawl_ours(site, Path(tmp), str(i)))
                else:
                    bare_runs.append(crawl_bare(site, Path(tmp), str(i)))
        load_after = load_average()
    for name, runs in (("ours", ours_runs), ("bare", bare_runs)):
        for r in runs:
            if r["pages"] != pages or r["exit_code"]:
                log(f"crawl: {name} fetched {r['pages']} of {pages} pages (exit {r['exit_code']})")
    rate = [r["pages"] / r["elapsed_seconds"] for r in ours_runs]
    bare_rate = [r["pages"] / r["elapsed_seconds"] for r in bare_runs]
    wall = [r["pages"] / r["wall_seconds"] for r in ours_runs]
    bare_wall = [r["pages"] / r["wall_seconds"] for r in bare_runs]
    settings = {
        k: v
        for k, v in bare_settings(SHARED_OVERRIDES).items()
        if k.startswith(("CONCURRENT", "DOWNLOAD_DELAY", "AUTOTHROTTLE_ENABLED", "ROBOTSTXT"))
    }
    details = {
        "pages": pages,
        "repeats": repeats,
        "ours_runs": ours_runs,
        "bare_runs": bare_runs,
        "settings": settings,
        "load_average": f"{load_before} → {load_after}",
    }
    return [
        Row(
            "crawl",
            f"{pages} pages, crawl time",
            median(rate),
            median(bare_rate),
            "pages/s",
            "bare Scrapy SitemapSpider",
            TARGET,
            details={**details, "ours": rate, "bare": bare_rate},
        ),
        Row(
            "crawl",
            f"{pages} pages, process wall time",
            median(wall),
            median(bare_wall),
            "pages/s",
            "bare Scrapy SitemapSpider",
            None,
            details={"ours": wall, "bare": bare_wall},
        ),
    ]


def notes(rows: Sequence[Row]) -> list[str]:
    d = rows[0].details
    ours, bare = d["ours_runs"], d["bare_runs"]
    return [
        "ours = python -m spiders.run (our spider + raw zone WARC pipeline + fetch state); bare = Scrapy "
        "SitemapSpider, no item pipeline",
        "same settings for both: " + ", ".join(f"{k}={v}" for k, v in sorted(d["settings"].items())),
        f"crawl time pages/s per run: ours {spread(d['ours'])}, bare {spread(d['bare'])}; "
        f"wall: ours {spread(rows[1].details['ours'])}, bare {spread(rows[1].details['bare'])}",
        f"pages fetched: ours {[r['pages'] for r in ours]}, bare {[r['pages'] for r in bare]}; "
        f"peak RSS ours {median([r['peak_rss_mb'] for r in ours]):.0f} MB (with its compressor process "
        f"{median([r['peak_tree_rss_mb'] for r in ours]):.0f} MB), bare {median([r['peak_rss_mb'] for r in bare]):.0f} MB; "
        f"WARC written {median([r['warc_bytes'] for r in ours]) / 2**20:.0f} MB per crawl; load {d['load_average']}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    bare = sub.add_parser("bare", help="(internal) run the bare Scrapy crawl in this process")
    bare.add_argument("--sitemap", required=True)
    bare.add_argument("--report", required=True)
    bare.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pages", type=int)
    parser.add_argument("--repeats", type=int)
    args = parser.parse_args(argv)
    if args.command == "bare":
        overrides: dict[str, Any] = {}
        for item in args.set:
            name, _, value = item.partition("=")
            overrides[name] = json.loads(value) if value[:1] in "[{0123456789tfn-" else value
        _crawl_bare(args.sitemap, Path(args.report), overrides)
        return 0
    rows = run(args.quick, args.pages, args.repeats)
    print_table("crawl stage: pages/s against bare Scrapy", rows, notes(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
