"""``cleanwire ls | cat | export``: read the clean zone of a store from the terminal.

    cleanwire ls --store s3://news/cleanwire --since 2026-11-01 --source example-news --limit 20
    cleanwire cat 3f1c…e9 --store ./cleanwire-data
    cleanwire export --store s3://news/cleanwire --format parquet --since 2026-11-01 -o november.parquet

``--store`` defaults to ``$CLEANWIRE_STORE``, else ``./cleanwire-data``. Exit codes: 0 done, 1 not found or store failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from pipelines.parquet import write_documents_parquet
from pipelines.readers import get, iter_documents
from pipelines.store import KeyNotFound, StoreError

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


DEFAULT_STORE = "./cleanwire-data"  # the same default as the pipeline commands


def _store_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=os.environ.get("CLEANWIRE_STORE", DEFAULT_STORE),
        metavar="URL",
        help=f"directory or s3://bucket/prefix (default: $CLEANWIRE_STORE or {DEFAULT_STORE})",
    )


def _check_store(url: str) -> None:
    # Opening a directory store creates the directory; a read command must not, so a typo is an error.
    if "://" not in url and not Path(url).is_dir():
        raise StoreError(f"no store at {url!r}")


def _filter_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="YYYY-MM-DD", help="first fetch date, inclusive")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="last fetch date, inclusive")
    parser.add_argument("--source", help="only documents of this source")


def _documents(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    return iter_documents(args.store, since=args.since, until=args.until, source=args.source)


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def cmd_ls(args: argparse.Namespace) -> int:
    docs = _documents(args)
    for doc in itertools.islice(docs, args.limit) if args.limit else docs:
        print(doc["id"], doc["fetched_at"][:10], doc["source"], _one_line(doc["title"]), sep="\t")
    return EXIT_OK


def cmd_cat(args: argparse.Namespace) -> int:
    try:
        doc = get(args.store, args.id)
    except KeyNotFound as exc:
        print(f"cleanwire cat: {exc.args[0]}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return EXIT_OK


@contextmanager
def _output(target: str, binary: bool) -> Iterator[IO[Any]]:
    if target == "-":
        yield sys.stdout.buffer if binary else sys.stdout
    else:
        with open(target, "wb" if binary else "w", encoding=None if binary else "utf-8") as fh:
            yield fh


def cmd_export(args: argparse.Namespace) -> int:
    binary = args.format == "parquet"
    if binary and args.output == "-" and sys.stdout.isatty():
        print("cleanwire export: refusing to write Parquet to a terminal; use -o FILE", file=sys.stderr)
        return EXIT_USAGE
    with _output(args.output, binary) as out:
        if binary:
            count = write_documents_parquet(_documents(args), out)
        else:
            count = 0
            for doc in _documents(args):
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
                count += 1
    logger.info("exported %d documents as %s to %s", count, args.format, args.output)
    return EXIT_OK


def _guard(name: str, func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Store failures become one line on stderr and an exit code, not a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            _check_store(args.store)
            return func(args)
        except ValueError as exc:  # a malformed date or id
            print(f"cleanwire {name}: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except StoreError as exc:
            print(f"cleanwire {name}: {exc}", file=sys.stderr)
            return EXIT_FAILED

    return run


def register(subparsers: Any) -> None:
    """Add ``ls``, ``cat`` and ``export`` to a CLI's ``add_subparsers()``; each sets ``func(args) -> int``."""
    ls = subparsers.add_parser("ls", help="list clean documents: id, fetch date, source, title")
    _store_arg(ls)
    _filter_args(ls)
    ls.add_argument("--limit", type=int, default=0, metavar="N", help="at most N documents (0: all)")
    ls.set_defaults(func=_guard("ls", cmd_ls))

    cat = subparsers.add_parser("cat", help="print one clean document as JSON")
    cat.add_argument("id", help="document id (SHA-256 hex)")
    _store_arg(cat)
    cat.set_defaults(func=_guard("cat", cmd_cat))

    export = subparsers.add_parser("export", help="write clean documents as JSON Lines or Parquet")
    _store_arg(export)
    _filter_args(export)
    export.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="output file, or - for stdout")
    export.set_defaults(func=_guard("export", cmd_export))
