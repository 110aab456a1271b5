"""The clean zone on a LocalStore with an in-process cleaner: write-once documents, aliases, resumption
after a crash, replays that write nothing, rejects, Parquet files and completion markers."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from cleaning.records import CleanDocument, CleanResult, RawPage
from pipelines import layout
from pipelines.clean_zone import CleanZoneWriter, clean_raw_object, parquet_key, pending_raw_keys
from pipelines.parquet import read_parquet_dataset
from pipelines.store import LocalStore
from tests.faults.sample_raw import article, in_process, put_raw, raw_page, revised_clean, toy_clean
from tests.faults.stores import KillableStore, SimulatedKill, temp_files


def docs(store: LocalStore) -> dict[str, dict[str, Any]]:
    return {k: json.loads(store.get(k)) for k in store.list(f"{layout.CLEAN_PREFIX}/docs/")}


def objects(store: LocalStore) -> dict[str, bytes]:
    return {k: store.get(k) for k in store.list()}


def parquet_ids(store: LocalStore) -> list[str]:
    return sorted(read_parquet_dataset(store, columns=["id"]).column("id").to_pylist())


class CountingStore(LocalStore):
    def __init__(self, root: Path):
        super().__init__(root)
        self.writes: list[str] = []

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.writes.append(key)
        super().put(key, data, content_type)

    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        written = super().put_if_absent(key, data, content_type)
        if written:
            self.writes.append(key)
        return written


@pytest.fixture
def store(tmp_path: Path) -> CountingStore:
    return CountingStore(tmp_path / "store")


@pytest.fixture
def first_pages() -> list[RawPage]:
    """Three articles, a 404 and a page too short to be an article."""
    return [
        raw_page("https://example.com/a/1", article(1), second=1),
        raw_page("https://example.com/a/2", article(2), second=2),
        raw_page("https://example.com/gone", "<p>Not here</p>", status=404, second=3),
        raw_page("https://example.com/tag/x", "<p>Tag x</p>", second=4),
        raw_page("https://example.com/a/3", article(3), second=5),
    ]


@pytest.fixture
def first(store: CountingStore, first_pages: list[RawPage]) -> str:
    """The raw object of ``first_pages``."""
    return put_raw(store, "run1", first_pages)


def test_documents_are_written_once_by_content_hash(store: CountingStore, first: str) -> None:
    result = clean_raw_object(store, first, in_process)
    assert (result.pages, result.stored, result.duplicates, result.unchanged) == (5, 3, 0, 0)
    assert dict(result.rejected) == {"http_status": 1, "too_short": 1}
    stored = docs(store)
    assert sorted(d["url"] for d in stored.values()) == [f"https://example.com/a/{n}" for n in (1, 2, 3)]
    for key, doc in stored.items():
        assert key == layout.doc_key(str(doc["id"]))
        assert doc["lineage"] == {"raw_object": first, "raw_offset": doc["lineage"]["raw_offset"]}
    assert sorted(result.new_ids) == sorted(str(d["id"]) for d in stored.values())
    # Write-once: a later copy of the same content (fetched again, another day) changes nothing.
    before = objects(store)
    later = put_raw(store, "run2", [raw_page("https://example.com/a/1", article(1), second=30)])
    assert clean_raw_object(store, later, in_process).duplicates == 1
    assert {k: v for k, v in objects(store).items() if k.startswith("clean/v1/docs/")} == {
        k: v for k, v in before.items() if k.startswith("clean/v1/docs/")
    }


def test_same_content_at_another_url_is_an_alias(store: CountingStore, first: str) -> None:
    clean_raw_object(store, first, in_process)
    mirror = put_raw(
        store, "run2", [raw_page("https://mirror.example/copy-of-1", article(1), source="mirror")]
    )
    result = clean_raw_object(store, mirror, in_process)
    assert (result.stored, result.duplicates) == (0, 1)
    original = toy_clean(raw_page("u", article(1)))
    assert isinstance(original, CleanDocument)
    doc_id = original.id
    alias = json.loads(store.get(layout.alias_key(doc_id, "https://mirror.example/copy-of-1")))
    assert alias["id"] == doc_id and alias["source"] == "mirror" and alias["raw_object"] == mirror
    first_stays = json.loads(store.get(layout.doc_key(doc_id)))
    assert first_stays["url"] == "https://example.com/a/1"
    # Not in the mirror's Parquet file: the view has each document once.
    mirror_raw = layout.parse_raw_key(mirror)
    assert mirror_raw is not None and not store.exists(parquet_key(mirror_raw))
    assert parquet_ids(store) == sorted(str(d["id"]) for d in docs(store).values())


def test_same_url_fetched_again_is_no_alias(store: CountingStore, first: str) -> None:
    clean_raw_object(store, first, in_process)
    again = put_raw(store, "run2", [raw_page("https://example.com/a/2", article(2), second=40)])
    store.writes.clear()
    result = clean_raw_object(store, again, in_process)
    assert (result.stored, result.duplicates) == (0, 1)
    assert not list(store.list(f"{layout.CLEAN_PREFIX}/aliases/"))
    assert store.writes == [layout.cleaned_marker_key(again)]


def test_duplicates_within_one_raw_object(store: CountingStore) -> None:
    key = put_raw(
        store,
        "run1",
        [
            raw_page("https://example.com/a/1", article(1)),
            raw_page("https://example.com/a/1?amp", article(1)),
            raw_page("https://example.com/a/1", article(1)),
        ],
    )
    result = clean_raw_object(store, key, in_process)
    assert (result.stored, result.duplicates) == (1, 2)
    assert [a.rsplit("/", 1)[1] for a in store.list(f"{layout.CLEAN_PREFIX}/aliases/")] == [
        layout.alias_key("x", "https://example.com/a/1?amp").rsplit("/", 1)[1]
    ]
    assert len(parquet_ids(store)) == 1


@pytest.mark.parametrize("kill_at", [1, 2, 3, 4, 5, 6])
def test_resumed_after_a_crash_at_any_write(tmp_path: Path, kill_at: int) -> None:
    pages = [raw_page(f"https://example.com/a/{n}", article(n), second=n) for n in range(3)]
    pages.append(raw_page("https://example.com/gone", "", status=404, second=9))
    reference = LocalStore(tmp_path / "reference")
    key = put_raw(reference, "run1", pages)
    shutil.copytree(reference.root, tmp_path / "crashed")  # the same raw object, byte for byte
    expected = clean_raw_object(reference, key, in_process)

    crashed = KillableStore(tmp_path / "crashed", kill_at=kill_at)
    with pytest.raises(SimulatedKill):
        clean_raw_object(crashed, key, in_process)
    assert temp_files(crashed.root) and not any(".tmp" in k for k in crashed.list())
    assert pending_raw_keys(crashed) == [key]

    resumed = clean_raw_object(LocalStore(crashed.root), key, in_process)
    assert (resumed.stored, resumed.duplicates, resumed.rejected) == (
        expected.stored,
        expected.duplicates,
        expected.rejected,
    )
    assert sorted(resumed.new_ids) == sorted(expected.new_ids)
    after, want = objects(crashed), objects(reference)
    marker = layout.cleaned_marker_key(key)
    assert after.keys() == want.keys()
    assert {k: v for k, v in after.items() if k != marker} == {k: v for k, v in want.items() if k != marker}
    assert without_timing(after[marker]) == without_timing(want[marker])
    assert pending_raw_keys(crashed) == []


def without_timing(marker: bytes) -> dict[str, Any]:
    return {
        k: v
        for k, v in json.loads(marker).items()
        if k not in ("finished_at", "seconds_clean", "seconds_store")
    }


def test_replay_of_unchanged_output_writes_nothing(store: CountingStore, first: str) -> None:
    clean_raw_object(store, first, in_process)
    before = objects(store)
    store.writes.clear()
    result = clean_raw_object(store, first, in_process, replay=True)
    assert (result.stored, result.unchanged, result.skipped) == (0, 3, False)
    assert store.writes == []
    assert objects(store) == before


def test_rejects_are_stored_with_their_reasons(store: CountingStore, first: str) -> None:
    clean_raw_object(store, first, in_process)
    raw = layout.parse_raw_key(first)
    assert raw is not None
    lines = store.get(layout.rejects_key(raw.source, raw.date, raw.stem)).decode().splitlines()
    rejects = [json.loads(line) for line in lines]
    assert [(r["url"], r["reason"], r["detail"]) for r in rejects] == [
        ("https://example.com/gone", "http_status", "HTTP 404"),
        ("https://example.com/tag/x", "too_short", "5 characters"),
    ]
    assert all(r["lineage"]["raw_object"] == first and r["lineage"]["raw_offset"] > 0 for r in rejects)
    assert all(r["schema_version"] == "1.0" and r["source"] == "example" for r in rejects)


def test_marker_makes_a_rerun_a_no_op(store: CountingStore, first: str) -> None:
    clean_raw_object(store, first, in_process)
    marker = json.loads(store.get(layout.cleaned_marker_key(first)))
    assert marker["stored"] == 3 and marker["pages"] == 5 and marker["cleaning_version"]
    assert pending_raw_keys(store) == []
    store.writes.clear()

    def must_not_clean(pages: Iterable[RawPage]) -> Iterator[tuple[RawPage, CleanResult]]:
        raise AssertionError("a cleaned raw object was cleaned again")

    result = clean_raw_object(store, first, must_not_clean)
    assert result.skipped and result.stored == 0
    assert store.writes == []


def test_each_raw_object_has_its_own_parquet_file(store: CountingStore) -> None:
    # Every source of one crawl has a raw object named <run>-00000 on the same day.
    keys = [
        put_raw(store, "run1", [raw_page(f"https://{s}.example/a", article(n), source=s)])
        for n, s in enumerate(["alpha", "beta", "gamma"])
    ]
    for key in keys:
        clean_raw_object(store, key, in_process)
    assert len(list(store.list(f"{layout.CLEAN_PREFIX}/parquet/"))) == 3
    table = read_parquet_dataset(store, columns=["id", "source"])
    assert sorted(table.column("source").to_pylist()) == ["alpha", "beta", "gamma"]
    assert parquet_ids(store) == sorted(str(d["id"]) for d in docs(store).values())


def test_store_document_outcomes(store: CountingStore) -> None:
    doc = toy_clean(raw_page("https://example.com/a/1", article(1)))
    assert isinstance(doc, CleanDocument)
    writer = CleanZoneWriter(store)
    first = dataclasses.replace(doc, lineage={"raw_object": "raw/x", "raw_offset": 0})
    assert writer.store_document(first) == "written"
    assert writer.store_document(first) == "resumed"  # same URL, same raw object: a re-run of it
    refetched = dataclasses.replace(doc, lineage={"raw_object": "raw/y", "raw_offset": 0})
    assert writer.store_document(refetched) == "alias"
    assert not list(store.list(f"{layout.CLEAN_PREFIX}/aliases/"))
    elsewhere = dataclasses.replace(doc, url="https://elsewhere.example/1")
    assert writer.store_document(elsewhere) == "alias"
    assert len(list(store.list(f"{layout.CLEAN_PREFIX}/aliases/"))) == 1


def test_raw_pages_read_from_the_stored_object(store: CountingStore, first: str) -> None:
    seen: list[RawPage] = []

    def recording(pages: Iterable[RawPage]) -> Iterator[tuple[RawPage, CleanResult]]:
        for page in pages:
            seen.append(page)
            yield page, toy_clean(page)

    clean_raw_object(store, first, recording)
    assert [p.url for p in seen][:2] == ["https://example.com/a/1", "https://example.com/a/2"]
    assert all(p.raw_object == first and p.source == "example" for p in seen)
    data = store.get(first)
    for page in seen:
        record = next(iter(ArchiveIterator(io.BytesIO(data[page.raw_offset :]))))
        assert record.content_stream().read() == page.body


@pytest.mark.parametrize(("kill_at", "left"), [(1, 3), (3, 3), (4, 3), (5, 0)])
def test_replay_killed_after_its_writes_is_finished_by_the_next_replay(
    tmp_path: Path, first_pages: list[RawPage], kill_at: int, left: int
) -> None:
    store = LocalStore(tmp_path / "store")
    key = put_raw(store, "run1", first_pages)
    clean_raw_object(store, key, in_process)
    # A replay with revised cleaning dies at its kill_at-th write: 3 documents, the Parquet file, the
    # marker (the rejects are unchanged: not written). The next replay stores what the view still lacks.
    with pytest.raises(SimulatedKill):
        clean_raw_object(KillableStore(store.root, kill_at=kill_at), key, revised_clean, replay=True)
    result = clean_raw_object(store, key, revised_clean, replay=True)
    assert (result.stored, result.unchanged) == (left, 3 - left)
    revised = sorted(d["id"] for d in docs(store).values() if str(d["text"]).endswith("Revised."))
    assert len(revised) == 3 and parquet_ids(store) == revised
    again = clean_raw_object(store, key, revised_clean, replay=True)
    assert (again.stored, again.unchanged) == (0, 3)
