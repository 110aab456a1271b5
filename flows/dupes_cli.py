"""``cleanwire dupes``: near-duplicate clusters and same-story groups of a date range, read from the
persisted dedup index (``pipelines/dedup.py``) and the stored documents.

    cleanwire dupes --store s3://news/cleanwire --since 2021-03-15 --until 2021-03-21
    cleanwire dupes --store ./cleanwire-data --json

Days are publication days (the fetch day when a document has none), both inclusive. A group is shown
when at least one of its members falls in the range; its head (the earliest member) may be older.
``--store`` defaults to ``$CLEANWIRE_STORE``. Exit codes: 0 done, 1 store failure, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date
from typing import Any

from pipelines.dedup import DedupIndex, Group
from pipelines.readers import get
from pipelines.store import KeyNotFound, ObjectStore, StoreError, open_store

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _describe(store: ObjectStore, doc_id: str, cache: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Title, source and URL of a stored document (empty when it is not in the store)."""
    if doc_id not in cache:
        try:
            doc = get(store, doc_id)
        except KeyNotFound:
            doc = {}
        cache[doc_id] = {k: doc.get(k) for k in ("title", "source", "url", "published", "fetched_at")}
    return cache[doc_id]


def _group_dict(
    group: Group, store: ObjectStore, cache: dict[str, dict[str, Any]], near: bool
) -> dict[str, Any]:
    return {
        "head": group.head,
        "head_day": group.head_day,
        **{
            f"head_{k}": v
            for k, v in _describe(store, group.head, cache).items()
            if k in ("title", "source", "url")
        },
        "members": [
            {
                "id": m.id,
                "day": m.day,
                **({"similarity": m.similarity} if near else {}),
                **{k: v for k, v in _describe(store, m.id, cache).items() if k in ("title", "source", "url")},
            }
            for m in group.members
        ],
    }


def _print_groups(title: str, groups: list[dict[str, Any]], near: bool) -> None:
    print(f"{title}: {len(groups)}")
    for g in groups:
        print(
            f"  {g['head'][:12]}  {g['head_day'] or '-':10}  {g.get('head_source') or '-':14}  {_line(g.get('head_title'))}"
        )
        for m in g["members"]:
            if m["id"] == g["head"]:
                continue
            sim = (
                f"{m['similarity']:.2f}"
                if near and m.get("similarity") is not None
                else ("~" if near else " ")
            )
            print(
                f"    {sim:>4} {m['id'][:12]}  {m['day'] or '-':10}  {m.get('source') or '-':14}  {_line(m.get('title'))}"
            )


def _line(text: str | None) -> str:
    return " ".join((text or "").split())[:100]


def cmd_dupes(args: argparse.Namespace) -> int:
    if args.since and args.until and args.since > args.until:
        print(f"cleanwire dupes: --since {args.since} is after --until {args.until}", file=sys.stderr)
        return EXIT_USAGE
    try:
        store = open_store(args.store)
        groups = DedupIndex.open(store).groups(args.since, args.until)
        cache: dict[str, dict[str, Any]] = {}
        clusters = [_group_dict(g, store, cache, near=True) for g in groups.clusters]
        stories = [_group_dict(g, store, cache, near=False) for g in groups.stories]
    except StoreError as exc:
        print(f"cleanwire dupes: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        report = {
            "since": args.since.isoformat() if args.since else None,
            "until": args.until.isoformat() if args.until else None,
            "near_duplicate_clusters": clusters,
            "stories": stories,
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_groups("near-duplicate clusters", clusters, near=True)
        _print_groups("stories", stories, near=False)
    logger.info("dupes: %d clusters, %d stories", len(groups.clusters), len(groups.stories))
    return EXIT_OK


def register(subparsers: Any) -> None:
    """Add ``dupes`` to a CLI's ``add_subparsers()``; it sets ``func(args) -> int``."""
    default = os.environ.get("CLEANWIRE_STORE")
    p = subparsers.add_parser(
        "dupes",
        help="near-duplicate clusters and same-story groups of a date range",
        description="Show near-duplicate clusters (syndicated copies) and stories (rewrites of one event) "
        "from the dedup index, for documents published (else fetched) within the range.",
    )
    p.add_argument("--store", default=default, required=default is None, metavar="URL",
                   help="directory or s3://bucket/prefix (default: $CLEANWIRE_STORE)")  # fmt: skip
    p.add_argument("--since", type=_day, metavar="YYYY-MM-DD", help="first day, inclusive")
    p.add_argument("--until", type=_day, metavar="YYYY-MM-DD", help="last day, inclusive")
    p.add_argument("--json", action="store_true", help="print the groups as JSON")
    p.set_defaults(func=cmd_dupes)
