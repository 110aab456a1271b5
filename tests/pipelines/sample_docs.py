"""Small, valid clean documents for store, Parquet and reader tests."""

from __future__ import annotations

import json
from typing import Any

from cleaning.normalize import content_sha256
from cleaning.records import CleanDocument, Provenanced, Removal, Repair
from pipelines import layout
from pipelines.parquet import documents_to_parquet_bytes
from pipelines.store import ObjectStore


def make_doc(
    n: int, *, source: str = "example-news", day: str = "2026-11-01", title: str | None = None
) -> dict[str, Any]:
    text = _text(n)
    return CleanDocument(
        id=content_sha256(text),
        url=f"https://{source}.example/articles/{n}",
        canonical_url=f"https://{source}.example/a/{n}",
        source=source,
        title=title if title is not None else f"Headline {n}",
        text=text,
        fetched_at=f"{day}T08:{n % 60:02d}:00Z",
        language="en",
        authors=["Ann Writer"],
        published=f"{day}T06:00:00+01:00",
        metadata={
            "published": Provenanced(f"{day}T06:00:00+01:00", "json-ld"),
            "title": Provenanced(f"Headline {n}", "opengraph"),
        },
        lineage={
            "raw_object": f"raw/source={source}/date={day}/run1-00000.warc.gz",
            "raw_offset": 1000 * n,
            "cleaning_version": "2026.11.1",
            "config_hash": "c0ffee",
            "noise_rules_version": "1",
            "decoding": {"encoding": "utf-8", "decided_by": "header"},
        },
        repairs=[Repair(0, 3, "Ã©", "é", kind="ftfy", codec="utf-8 read as latin-1")],
        removals=[Removal("Advertisement", "ad-label")],
        # Every third document is a near-duplicate of the first.
        near_duplicate_of=content_sha256(_text(1)) if n % 3 == 0 else None,
        similarity=0.91 if n % 3 == 0 else None,
        story_id=f"story-{n % 2}",
    ).to_dict()


def _text(n: int) -> str:
    return f"Article number {n}.\nIt has a second paragraph about item {n} with ünïcödé and 漢字."


def write_docs(store: ObjectStore, docs: list[dict[str, Any]], *, parquet: bool = True) -> None:
    """Store documents as the clean flow does: one JSON per id, one Parquet file per (day, raw object)."""
    by_day: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for doc in docs:
        store.put_if_absent(
            layout.doc_key(doc["id"]), json.dumps(doc, ensure_ascii=False).encode(), "application/json"
        )
        by_day.setdefault((doc["fetched_at"][:10], doc["source"]), []).append(doc)
    if parquet:
        for (day, source), group in sorted(by_day.items()):
            store.put_if_absent(
                layout.parquet_key(source, day, "run1-00000"), documents_to_parquet_bytes(group)
            )
