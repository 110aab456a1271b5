"""One crawl, one OS process: ``python -m spiders.run --sources FILE --store URL --run-id ID``.

Runs one SourceSpider per selected source in a single CrawlerProcess, writes a JSON crawl report,
and turns the spiders' finish reasons and error counts into the exit code (Scrapy itself exits 0
whenever start-up succeeded):

    0  every spider finished and logged no error
    1  a spider finished abnormally or logged errors (the report says which)
    2  bad arguments or sources file
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from datetime import date
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from spiders import settings as default_settings
from spiders.source_spider import SourceSpider
from spiders.sources import Source, SourcesError, load_sources, parse_url_list

logger = logging.getLogger(__name__)


def build_settings(store: str, run_id: str, overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    settings.set("CLEANWIRE_STORE", store, priority="cmdline")
    settings.set("CLEANWIRE_RUN_ID", run_id, priority="cmdline")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def crawl(
    sources_file: str | None,
    store: str,
    run_id: str,
    names: list[str] | None = None,
    since: date | None = None,
    until: date | None = None,
    max_pages: int | None = None,
    overrides: dict[str, Any] | None = None,
    urls_file: str | None = None,
) -> dict[str, Any]:
    sources = _select(sources_file, names, urls_file)
    process = CrawlerProcess(build_settings(store, run_id, overrides), install_root_handler=True)
    results: dict[str, Any] = {}
    crawlers = []
    for source in sources:
        crawler = process.create_crawler(SourceSpider)
        for key, value in source_settings(source).items():
            crawler.settings.set(key, value, priority="spider")
        crawlers.append((source, crawler))
        process.crawl(crawler, source=source, since=since, until=until, max_pages=max_pages)
    process.start()
    for source, crawler in crawlers:
        stats = crawler.stats.get_stats() if crawler.stats else {}
        results[source.name] = {
            "finish_reason": stats.get("finish_reason"),
            "errors": int(stats.get("log_count/ERROR", 0)),
            "requests": int(stats.get("downloader/request_count", 0)),
            "responses": int(stats.get("downloader/response_count", 0)),
            "counts": {k.removeprefix("cleanwire/"): v for k, v in sorted(stats.items()) if k.startswith("cleanwire/")},
            "elapsed_seconds": float(stats.get("elapsed_time_seconds", 0.0)),
        }
    return {"run_id": run_id, "sources": results}


def source_settings(source: Source) -> dict[str, Any]:
    """The Scrapy settings a source's own options set, for its crawler alone. Priority "spider": above
    the project defaults, below an operator's ``--set``."""
    out: dict[str, Any] = {}
    if source.download_delay is not None:
        out["DOWNLOAD_DELAY"] = source.download_delay
    if source.concurrency is not None:
        out["CONCURRENT_REQUESTS_PER_DOMAIN"] = source.concurrency
    return out


def _select(sources_file: str | None, names: list[str] | None, urls_file: str | None) -> list[Source]:
    """The sources to crawl; with a URL list, one source whose discovery is exactly that list."""
    if urls_file is None:
        if sources_file is None:
            raise SourcesError("a sources file is required (or a URL list with --urls)")
        return load_sources(sources_file).select(names)
    if not names or len(names) != 1:
        raise SourcesError("--urls needs exactly one --source NAME (the partition the pages belong to)")
    urls = parse_url_list(Path(urls_file))
    known = {s.name: s for s in load_sources(sources_file).sources} if sources_file else {}
    base = known.get(names[0]) or Source(name=names[0], urls=urls)
    return [dataclasses.replace(base, feeds=(), sitemaps=(), start_urls=(), urls=urls, allow=(), deny=())]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _die_with_parent() -> None:
    """A crawl whose runner was killed (kill -9 of `cleanwire run`) must not go on beside the rerun:
    ask Linux to send SIGTERM when the parent dies (PR_SET_PDEATHSIG), and leave if it already has."""
    if sys.platform != "linux":
        return
    import ctypes
    import os
    import signal

    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:
        sys.exit(1)


def main(argv: list[str] | None = None) -> int:
    _die_with_parent()
    parser = argparse.ArgumentParser(prog="python -m spiders.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sources", help="sources YAML file")
    parser.add_argument("--urls", help="crawl exactly these URLs (one per line) as --source NAME")
    parser.add_argument("--source", action="append", dest="names", help="only this source (repeatable)")
    parser.add_argument("--store", required=True, help="object store URL (directory or s3://bucket/prefix)")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--since", type=_date)
    parser.add_argument("--until", type=_date)
    parser.add_argument("--max-pages", type=int)
    parser.add_argument("--report", help="write the crawl report (JSON) here")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="Scrapy setting override")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = json.loads(value) if value[:1] in "[{0123456789tfn-" else value
    try:
        report = crawl(args.sources, args.store, args.run_id, args.names, args.since, args.until, args.max_pages,
                       overrides, args.urls)
    except SourcesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(report, indent=2, sort_keys=True)
    if args.report:
        Path(args.report).write_text(text)
    else:
        print(text)
    bad = [n for n, r in report["sources"].items() if r["finish_reason"] != "finished" or r["errors"]]
    if bad:
        print(f"crawl problems in: {', '.join(bad)} (see report)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
