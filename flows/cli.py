"""The ``cleanwire`` command line."""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from flows import dupes_cli, reader_cli


def _prefect_env() -> None:
    # Must run before Prefect is imported: it reads its settings at import time.
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_TO_API_BATCH_INTERVAL", "0.5")


DEFAULT_STORE = "./cleanwire-data"


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {n}")
    return n


def _sources_file(value: str) -> str:
    from spiders.sources import SourcesError, load_sources

    try:
        load_sources(value)
    except SourcesError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _store(value: str) -> str:
    from pipelines.store import StoreError, open_store

    try:
        open_store(value)
    except (StoreError, OSError) as exc:
        raise argparse.ArgumentTypeError(f"cannot open store {value!r}: {exc}") from None
    return value


def _add_window(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", type=_date, help="first day (YYYY-MM-DD) of feed dates / sitemap lastmod to fetch")
    p.add_argument("--until", type=_date, help="last day (YYYY-MM-DD), inclusive")


def _add_clean_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=_positive_int, help="cleaning worker processes (default: CPUs; with Dask: per task)")
    p.add_argument("--page-timeout", type=float, default=60.0, help="seconds per page before it is rejected")
    dask = p.add_mutually_exclusive_group()
    dask.add_argument("--dask-address", metavar="ADDR", help="clean on this Dask cluster (e.g. tcp://scheduler:8786)")
    dask.add_argument("--dask-workers", type=_positive_int, metavar="N",
                      help="clean on a local Dask cluster of N processes")


def _with_runner(flow: Any, args: argparse.Namespace) -> tuple[Any, bool]:
    """The flow, on a Dask task runner when asked for (same code, distributed cleaning)."""
    if not (getattr(args, "dask_address", None) or getattr(args, "dask_workers", None)):
        return flow, False
    from flows.runs import dask_task_runner

    return flow.with_options(task_runner=dask_task_runner(args.dask_address, args.dask_workers)), True


def _check_window(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if getattr(args, "since", None) and getattr(args, "until", None) and args.since > args.until:
        parser.error(f"--since {args.since} is after --until {args.until}")


def _check_backfill(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.urls and (not args.source or len(args.source) != 1):
        parser.error("--urls needs exactly one --source NAME (the partition the pages belong to)")
    if args.warc and args.source and len(args.source) != 1:
        parser.error("--warc takes at most one --source NAME (default: warc)")
    crawling = not (args.warc or args.replay_raw or args.replay_rejects or args.urls)
    if crawling and not (args.since or args.until):
        parser.error("choose a backfill: --since/--until, --urls, --warc, --replay-raw or --replay-rejects")
    if crawling and not args.sources:
        parser.error("a date-range backfill needs --sources FILE")


def _print_report(report: dict[str, Any], as_json: bool) -> int:
    from flows.report import print_report

    if as_json:
        print(json.dumps(report, indent=2, sort_keys=True, default=str))
    else:
        print_report(report)
    return 0 if report["status"] == "ok" else 1


def cmd_run(args: argparse.Namespace) -> int:
    from flows.runs import run_flow

    flow, distributed = _with_runner(run_flow, args)
    report = flow(sources_file=args.sources, store=args.store, sources=args.source, since=args.since,
                  until=args.until, max_pages=args.max_pages, workers=args.workers,
                  page_timeout=args.page_timeout, distributed=distributed)
    return _print_report(report, args.json)


def cmd_crawl(args: argparse.Namespace) -> int:
    from flows.runs import crawl_flow

    report = crawl_flow(sources_file=args.sources, store=args.store, sources=args.source, since=args.since,
                        until=args.until, max_pages=args.max_pages)
    return _print_report(report, args.json)


def cmd_clean(args: argparse.Namespace) -> int:
    from flows.runs import clean_flow

    flow, distributed = _with_runner(clean_flow, args)
    report = flow(store=args.store, sources=args.source,
                  since=args.since.isoformat() if args.since else None,
                  until=args.until.isoformat() if args.until else None,
                  workers=args.workers, page_timeout=args.page_timeout, distributed=distributed)
    return _print_report(report, args.json)


def cmd_demo(args: argparse.Namespace) -> int:
    import tempfile

    from flows.runs import run_flow
    from flows.sample_site import SampleSite, sources_yaml

    with SampleSite() as site, tempfile.TemporaryDirectory(prefix="cleanwire-demo-") as tmp:
        sources = Path(tmp) / "sources.yaml"
        sources.write_text(sources_yaml(site.base_url))
        print(f"sample news site on {site.base_url}; store: {args.store}", flush=True)
        report = run_flow(sources_file=str(sources), store=args.store, workers=args.workers)
    return _print_report(report, args.json)


def cmd_backfill(args: argparse.Namespace) -> int:
    from flows.backfill import backfill_flow

    flow, distributed = _with_runner(backfill_flow, args)
    report = flow(store=args.store, sources_file=args.sources, sources=args.source, since=args.since,
                  until=args.until, urls_file=args.urls, warc=args.warc, replay_raw=args.replay_raw,
                  replay_rejects=args.replay_rejects, workers=args.workers, page_timeout=args.page_timeout,
                  max_pages=args.max_pages, distributed=distributed)
    code = _print_report(report, args.json)
    if "changed" in report and not args.json:
        print(f"replay: {report['changed']} documents changed, {report['unchanged']} unchanged")
    return code


def cmd_serve(args: argparse.Namespace) -> int:
    from flows.schedule import group_plan, serve

    for group, spec in group_plan(args.sources).items():
        print(f"deployment run/cleanwire-{group}: {spec['schedule']}  sources: {', '.join(spec['sources'])}", flush=True)
    serve(args.sources, args.store, args.workers)
    return 0


def _iter_html_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(q for q in p.iterdir() if q.is_file() and not q.name.startswith(".")))
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"no such file or directory: {raw}")
    return files


def cmd_extract(args: argparse.Namespace) -> int:
    from cleaning.clean import clean_page
    from cleaning.records import CleanDocument, RawPage

    try:
        files = _iter_html_files(args.paths)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in files:
        try:
            body = path.read_bytes()
            if path.suffix == ".gz" or body[:2] == b"\x1f\x8b":
                body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            print(json.dumps({"file": str(path), "rejected": "unreadable", "detail": str(exc)}), flush=True)
            continue
        url = args.url or path.resolve().as_uri()
        page = RawPage(url, url, 200, {"content-type": "text/html"}, body, "", args.source)
        result = clean_page(page)
        if isinstance(result, CleanDocument):
            out = {"file": str(path), **result.to_dict()}
        else:
            out = {"file": str(path), "rejected": result.reason.value, "detail": result.detail}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 0


def cmd_fix_text(args: argparse.Namespace) -> int:
    from cleaning.repair import repair_text_explained

    text = sys.stdin.read()
    result = repair_text_explained(text)
    sys.stdout.write(result.text)
    if args.explain:
        for rep in result.repairs:
            print(json.dumps(rep.to_dict(), ensure_ascii=False), file=sys.stderr)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from flows import evaluate

    return evaluate.main(args.eval_args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cleanwire",
        description="News ingestion: crawl sources, clean articles, store content-hashed documents.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, sources: bool = True) -> None:
        if sources:
            p.add_argument("--sources", required=True, type=_sources_file, metavar="FILE", help="sources YAML file")
        p.add_argument("--source", action="append", metavar="NAME", help="only this source (repeatable)")
        p.add_argument("--store", default=DEFAULT_STORE, type=_store, metavar="URL",
                       help=f"object store: a directory or s3://bucket/prefix (default: {DEFAULT_STORE})")
        p.add_argument("--json", action="store_true", help="print the run report as JSON")

    p = sub.add_parser("run", help="crawl then clean", description="Crawl the sources, then clean what was fetched.")
    common(p)
    _add_window(p)
    p.add_argument("--max-pages", type=_positive_int, help="at most this many article pages per source")
    _add_clean_opts(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("crawl", help="discover and fetch into the raw zone only")
    common(p)
    _add_window(p)
    p.add_argument("--max-pages", type=_positive_int, help="at most this many article pages per source")
    p.set_defaults(func=cmd_crawl)

    p = sub.add_parser("clean", help="clean raw objects not yet cleaned",
                       description="Clean every raw zone object that has not been cleaned yet "
                                   "(re-running a finished clean writes nothing).")
    common(p, sources=False)
    p.add_argument("--since", type=_date, help="only raw objects fetched on or after this day")
    p.add_argument("--until", type=_date, help="only raw objects fetched on or before this day")
    _add_clean_opts(p)
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser(
        "backfill",
        help="fetch or re-clean the past: date range, URL list, WARC files, raw-zone replay, dead letters",
        description="One flow for every backfill. Choose one mode: --since/--until (sitemap lastmod and feed "
                    "dates), --urls FILE, --warc PATH_OR_S3_URL..., --replay-raw (re-clean the raw zone with the "
                    "current cleaning; writes only documents whose output changed), --replay-rejects (retry "
                    "retryable rejects: fetch failures, timeouts, 5xx/429).",
    )
    p.add_argument("--sources", type=_sources_file, metavar="FILE", help="sources YAML file (crawling modes)")
    p.add_argument("--source", action="append", metavar="NAME", help="only this source (repeatable); with "
                   "--urls or --warc: the source the pages belong to")
    p.add_argument("--store", default=DEFAULT_STORE, type=_store, metavar="URL", help=f"default: {DEFAULT_STORE}")
    p.add_argument("--json", action="store_true", help="print the run report as JSON")
    _add_window(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--urls", metavar="FILE", help="a file of article URLs, one per line (needs one --source)")
    mode.add_argument("--warc", nargs="+", metavar="PATH_OR_S3_URL", help="WARC files to clean (any tool's)")
    mode.add_argument("--replay-raw", action="store_true", help="re-clean raw objects (filter: --since/--until "
                      "on fetch day, --source)")
    mode.add_argument("--replay-rejects", action="store_true", help="retry retryable rejects")
    p.add_argument("--max-pages", type=_positive_int, help="at most this many article pages per source")
    _add_clean_opts(p)
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("serve", help="register and serve one scheduled Prefect deployment per source group",
                       description="Register one deployment of the run flow per source group with the group's "
                                   "cron schedule, and serve them until interrupted.")
    p.add_argument("--sources", required=True, type=_sources_file, metavar="FILE", help="sources YAML file")
    p.add_argument("--store", default=DEFAULT_STORE, type=_store, metavar="URL", help=f"default: {DEFAULT_STORE}")
    p.add_argument("--workers", type=_positive_int, help="cleaning worker processes per run (default: CPUs)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="run the pipeline on the bundled offline sample site",
                       description="Serve the bundled sample news site on 127.0.0.1, crawl it through its feeds "
                                   "and sitemaps, clean it, and store documents locally.")
    p.add_argument("--store", default=DEFAULT_STORE, type=_store, metavar="URL", help=f"default: {DEFAULT_STORE}")
    p.add_argument("--json", action="store_true", help="print the run report as JSON")
    p.add_argument("--workers", type=_positive_int, help="cleaning worker processes (default: CPUs)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("extract", help="clean local HTML files, print JSON lines",
                       description="Clean local HTML files (plain or .gz; a directory means every file in it) "
                                   "through the pipeline's cleaning; one JSON object per file on stdout.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--url", help="the URL the page was fetched from (metadata, relative links)")
    p.add_argument("--source", default="local", help="source name to record (default: local)")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("fix-text", help="repair mojibake: stdin → stdout")
    p.add_argument("--explain", action="store_true", help="print each repair as JSON on stderr")
    p.set_defaults(func=cmd_fix_text)

    p = sub.add_parser("eval", help="score cleaning against a ground-truth set", add_help=False)
    p.add_argument("eval_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_eval)

    reader_cli.register(sub)
    dupes_cli.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    _prefect_env()
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_window(parser, args)
    if args.command == "backfill":
        _check_backfill(parser, args)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
