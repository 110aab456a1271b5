"""Crash at every write, then run again: the store ends as if nothing had happened.

In-process and exhaustive: a ``KillableStore`` dies at its k-th publication (the temp file written, the
object not yet published: the worst moment), for every k of a full run; the same command then runs to
the end on the same directory. The real-process version (``kill -9`` of ``cleanwire``) is in
test_kill_and_rerun.py.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
from pathlib import Path

import pytest

from pipelines import layout
from pipelines.clean_zone import clean_raw_object, pending_raw_keys
from pipelines.parquet import read_parquet_dataset
from pipelines.raw_zone import RawWarcWriter
from pipelines.store import LocalStore, ObjectStore
from tests.faults.invariants import store_problems
from tests.faults.sample_raw import article, in_process, raw_page, revised_clean
from tests.faults.stores import KillableStore, SimulatedKill, temp_files

SEED = 20261121
TIMING = ("finished_at", "seconds_clean", "seconds_store")

ARTICLES = {
    "alpha": [f"https://alpha.example/a/{n}" for n in range(1, 6)],
    "beta": ["https://beta.example/a/6"],
}
NOT_ARTICLES = ["https://alpha.example/gone", "https://beta.example/tag/x"]


def all_articles() -> list[str]:
    return [u for urls in ARTICLES.values() for u in urls]


def crawl(store: ObjectStore, run: str, *, recrawl: bool = False) -> None:
    """Raw objects like a crawl's: rolling files per source, a 404, a tag page, a syndicated copy;
    a re-crawl fetches some pages again."""
    writer = RawWarcWriter(store, run, max_records=3, fresh_parts=True)
    pages = [
        raw_page(url, article(n), source="alpha", second=n) for n, url in enumerate(ARTICLES["alpha"], 1)
    ]
    pages.insert(2, raw_page(NOT_ARTICLES[0], "", status=404, source="alpha", second=10))
    pages += [
        raw_page(ARTICLES["beta"][0], article(6), source="beta", second=11),
        raw_page("https://beta.example/syndicated/1", article(1), source="beta", second=12),
        raw_page(NOT_ARTICLES[1], "<p>Tag</p>", source="beta", second=13),
    ]
    if recrawl:
        pages = [*pages[1:4], pages[-2]]
    try:
        for page in pages:
            if full := writer.write(page):
                writer.finish(*full)
        writer.finish_all()
    finally:
        shutil.rmtree(writer.tmpdir, ignore_errors=True)  # a killed crawl's local files: not the store's


def clean_all(store: ObjectStore) -> None:
    """What the clean flow does: every pending raw object, in order."""
    for key in pending_raw_keys(store):
        clean_raw_object(store, key, in_process)


def comparable(root: Path) -> dict[str, object]:
    store = LocalStore(root)
    out: dict[str, object] = {}
    for key in store.list():
        data = store.get(key)
        if key.startswith("state/cleaned/"):
            out[key] = {k: v for k, v in json.loads(data).items() if k not in TIMING}
        else:
            out[key] = data
    return out


@pytest.fixture(scope="module")
def raw_zone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("raw-zone")
    store = LocalStore(root)
    crawl(store, "run1")
    crawl(store, "run2", recrawl=True)
    return root


@pytest.fixture(scope="module")
def reference(raw_zone: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The store after an uninterrupted clean, and how many publications that clean made."""
    root = tmp_path_factory.mktemp("reference")
    shutil.copytree(raw_zone, root, dirs_exist_ok=True)
    counting = KillableStore(root)
    clean_all(counting)
    assert store_problems(counting, all_articles(), not_articles=NOT_ARTICLES) == []
    return root, counting.steps


def test_the_reference_run_has_aliases_duplicates_and_rejects(reference: tuple[Path, int]) -> None:
    root, steps = reference
    keys = list(LocalStore(root).list())
    assert any(k.startswith(f"{layout.CLEAN_PREFIX}/aliases/") for k in keys)
    assert any(k.startswith("rejects/") for k in keys)
    assert steps >= 15


def test_clean_killed_at_every_write_then_rerun(
    raw_zone: Path, reference: tuple[Path, int], tmp_path: Path
) -> None:
    root, steps = reference
    want = comparable(root)
    for kill_at in range(1, steps + 1):
        work = tmp_path / f"kill-{kill_at}"
        shutil.copytree(raw_zone, work)
        with pytest.raises(SimulatedKill):
            clean_all(KillableStore(work, kill_at=kill_at))
        assert temp_files(work), kill_at
        store = LocalStore(work)
        assert store_problems(store, all_articles(), not_articles=NOT_ARTICLES, finished=False) == [], kill_at
        clean_all(store)
        assert store_problems(store, all_articles(), not_articles=NOT_ARTICLES) == [], kill_at
        assert comparable(work) == want, kill_at
        shutil.rmtree(work)


def test_clean_killed_twice_then_rerun(raw_zone: Path, reference: tuple[Path, int], tmp_path: Path) -> None:
    root, steps = reference
    want = comparable(root)
    rng = random.Random(SEED)
    for trial in range(8):
        first, second = rng.randint(1, steps), rng.randint(1, steps // 2)
        work = tmp_path / f"trial-{trial}"
        shutil.copytree(raw_zone, work)
        for kill_at in (first, second):
            with contextlib.suppress(SimulatedKill):  # the second kill may come after the last write
                clean_all(KillableStore(work, kill_at=kill_at))
        clean_all(LocalStore(work))
        assert store_problems(LocalStore(work), all_articles(), not_articles=NOT_ARTICLES) == [], (
            first,
            second,
        )
        assert comparable(work) == want, (first, second)


def test_crawl_killed_at_every_upload_then_recrawled_and_cleaned(tmp_path: Path) -> None:
    counting = KillableStore(tmp_path / "count")
    crawl(counting, "run1")
    uploads = counting.steps
    assert uploads >= 3
    for kill_at in range(1, uploads + 1):
        work = tmp_path / f"kill-{kill_at}"
        # The killed crawl cleaned what it had published before the next crawl, or not: both orders.
        for clean_between in (False, True):
            store = KillableStore(work / str(clean_between), kill_at=kill_at)
            with pytest.raises(SimulatedKill):
                crawl(store, "run1")
            store.kill_at = None
            if clean_between:
                clean_all(store)
            crawl(store, "run2")  # a killed crawl saved no fetch state: the next one fetches everything
            clean_all(store)
            problems = store_problems(store, all_articles(), not_articles=NOT_ARTICLES)
            assert problems == [], (kill_at, clean_between)


def replay_all(store: ObjectStore) -> None:
    """What ``cleanwire backfill --replay-raw`` does after a change of the cleaning."""
    for key in pending_raw_keys(store, include_cleaned=True):
        clean_raw_object(store, key, revised_clean, replay=True)


def test_replay_killed_at_every_write_then_replayed_again(
    reference: tuple[Path, int], tmp_path: Path
) -> None:
    root, _ = reference
    replayed = tmp_path / "replayed"
    shutil.copytree(root, replayed)
    counting = KillableStore(replayed)
    replay_all(counting)
    want = {k: v for k, v in comparable(replayed).items() if not k.startswith("state/cleaned/")}
    revised_ids = view_ids(counting)
    assert revised_ids and all(d.endswith("Revised.") for d in revised_texts(counting, revised_ids))
    for kill_at in range(1, counting.steps + 1):
        work = tmp_path / f"kill-{kill_at}"
        shutil.copytree(root, work)
        with pytest.raises(SimulatedKill):
            replay_all(KillableStore(work, kill_at=kill_at))
        replay_all(LocalStore(work))
        got = {k: v for k, v in comparable(work).items() if not k.startswith("state/cleaned/")}
        assert got == want, kill_at
        assert view_ids(LocalStore(work)) == revised_ids, kill_at
        shutil.rmtree(work)


def view_ids(store: ObjectStore) -> list[str]:
    return sorted(read_parquet_dataset(store, columns=["id"]).column("id").to_pylist())


def revised_texts(store: ObjectStore, ids: list[str]) -> list[str]:
    return [json.loads(store.get(layout.doc_key(i)))["text"] for i in ids]
