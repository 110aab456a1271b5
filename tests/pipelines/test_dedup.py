"""The persisted dedup index (``pipelines/dedup.py``) on a LocalStore: the sample site's syndicated copy,
its story in six versions, the same-regulator article that must stay apart; incremental and concurrent
sessions; what the index writes to the store; the ``dupes`` command."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest

from cleaning.records import CleanDocument
from cleaning.similarity import parse_timestamp
from flows import dupes_cli
from pipelines import layout
from pipelines.clean_zone import CleanZoneWriter
from pipelines.dedup import Assignment, DedupConfig, DedupIndex, aliases
from pipelines.store import LocalStore
from tests.cleaning.test_similarity import (
    CAC_ARTICLE,
    SEEDS_DIR,
    TECHNODE,
    WIRE,
    sample_site_documents,
    site_story,
)

DEEPFAKE = "deepfake-summons"


def docs_by_path() -> dict[str, CleanDocument]:
    return dict(sample_site_documents())


def earliest(docs: Sequence[CleanDocument]) -> CleanDocument:
    def key(d: CleanDocument) -> tuple[int, int, str]:
        fetched = parse_timestamp(d.fetched_at) or 0
        return (parse_timestamp(d.published) or fetched, fetched, d.id)

    return min(docs, key=key)


def snapshot(index: DedupIndex, docs: Sequence[CleanDocument]) -> dict[str, Assignment]:
    return index.resolve(d.id for d in docs)


def as_assignment(doc: CleanDocument) -> Assignment:
    assert doc.story_id is not None
    return Assignment(doc.near_duplicate_of, doc.similarity, doc.story_id)


@pytest.fixture(scope="module")
def one_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CleanDocument]:
    """The sample site's articles assigned in one session: the reference every other split must match."""
    store = LocalStore(tmp_path_factory.mktemp("one-run"))
    index = DedupIndex.open(store)
    docs = docs_by_path()
    out = index.assign(list(docs.values()))
    index.commit("one-run")
    return dict(zip(docs, out, strict=True))


# ---------------------------------------------------------------------------------------------------
# What the sample site must give


def test_syndicated_copy_points_at_its_original(one_run: dict[str, CleanDocument]) -> None:
    wire, technode = one_run[WIRE], one_run[TECHNODE]
    assert wire.near_duplicate_of == technode.id
    assert wire.similarity is not None and wire.similarity >= 0.8
    assert technode.near_duplicate_of is None and technode.similarity is None
    others = [d for p, d in one_run.items() if p != WIRE]
    assert all(d.near_duplicate_of is None and d.similarity is None for d in others)


def test_the_six_versions_of_the_story_are_one_story(one_run: dict[str, CleanDocument]) -> None:
    versions = [d for p, d in one_run.items() if site_story(p) == DEEPFAKE]
    assert len(versions) == 6
    head = earliest(versions)
    assert {d.story_id for d in versions} == {head.id}
    assert head.url.endswith(
        "/china-summons-tech-companies-to-discuss-deep-fake-technology-report.html"
    )  # 2021-03-18


def test_same_regulator_other_news_and_other_articles_stay_apart(one_run: dict[str, CleanDocument]) -> None:
    assert one_run[CAC_ARTICLE].story_id == one_run[CAC_ARTICLE].id
    others = [d for p, d in one_run.items() if site_story(p) != DEEPFAKE]
    assert all(d.story_id == d.id for d in others)  # every other article is a story of its own
    assert len({d.story_id for d in one_run.values()}) == len(one_run) - 5


def test_assign_keeps_everything_else_and_the_order(one_run: dict[str, CleanDocument]) -> None:
    for path, doc in docs_by_path().items():
        assigned = one_run[path]
        assert dataclasses.replace(assigned, near_duplicate_of=None, similarity=None, story_id=None) == doc


def test_seed_texts_are_one_story_without_near_duplicates(tmp_path: Path) -> None:
    published = ["2021-03-19T10:32:11+08:00", "2021-03-19T09:06:00+08:00", "2021-03-19", "2021-03-18T18:57:00+05:30",
                 "2021-03-19T08:00:00+08:00"]  # fmt: skip
    docs = [
        make_doc(p.read_text(encoding="utf-8"), published=pub, url=f"https://seed.example/{p.stem}")
        for p, pub in zip(sorted(SEEDS_DIR.glob("*.txt")), published, strict=True)
    ]
    out = DedupIndex.open(LocalStore(tmp_path)).assign(docs)
    assert {d.story_id for d in out} == {docs[3].id}  # the earliest: 2021-03-18 13:27 UTC
    assert all(d.near_duplicate_of is None for d in out)


def make_doc(
    text: str, *, published: str | None, url: str, fetched_at: str = "2021-03-21T00:00:00Z"
) -> CleanDocument:
    from cleaning.normalize import content_sha256

    return CleanDocument(id=content_sha256(text), url=url, canonical_url=None, source="seed", title=None, text=text,
                         fetched_at=fetched_at, published=published)  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Incremental: any split into sessions ends in the same clusters and stories


def _splits() -> dict[str, Callable[[list[str]], list[list[str]]]]:
    def chronological(paths: list[str]) -> list[list[str]]:
        docs = docs_by_path()
        ordered = sorted(paths, key=lambda p: (docs[p].published or "", docs[p].fetched_at))
        return [ordered[: len(ordered) // 2], ordered[len(ordered) // 2 :]]

    return {
        "chronological halves": chronological,
        "later half first": lambda paths: list(reversed(chronological(paths))),
        "alternating": lambda paths: [paths[0::2], paths[1::2]],
        "copy before its original": lambda paths: [[WIRE], [p for p in paths if p != WIRE]],
        "one document per session": lambda paths: [[p] for p in reversed(paths)],
    }


@pytest.mark.parametrize("split", list(_splits()))
def test_sessions_end_where_one_run_ends(
    split: str, tmp_path: Path, one_run: dict[str, CleanDocument]
) -> None:
    docs = docs_by_path()
    store = LocalStore(tmp_path)
    sessions = _splits()[split](sorted(docs))
    for n, paths in enumerate(sessions):
        index = DedupIndex.open(store)
        out = index.assign([docs[p] for p in paths])
        index.commit(f"session-{n}")
    # The last session's documents got exactly what one run gives them ...
    for path, doc in zip(sessions[-1], out, strict=True):
        assert as_assignment(doc) == as_assignment(one_run[path]), path
    # ... and the index now says for every document what one run says.
    view = snapshot(DedupIndex.open(store), list(docs.values()))
    assert view == {one_run[p].id: as_assignment(one_run[p]) for p in docs}


def test_a_copy_indexed_before_its_original_follows_the_original(
    tmp_path: Path, one_run: dict[str, CleanDocument]
) -> None:
    docs = docs_by_path()
    store = LocalStore(tmp_path)
    first = DedupIndex.open(store)
    (copy,) = first.assign([docs[WIRE]])
    first.commit("copy-first")
    assert copy.near_duplicate_of is None and copy.story_id == copy.id  # nothing else known yet
    second = DedupIndex.open(store)
    (original,) = second.assign([docs[TECHNODE]])
    result = second.commit("original-later")
    assert original.near_duplicate_of is None
    assert result.unions >= 1  # the copy's recorded head moved
    view = DedupIndex.open(store).resolve([copy.id])
    assert view[copy.id].near_duplicate_of == original.id
    assert view[copy.id].similarity == one_run[WIRE].similarity


def test_reassigning_indexed_documents_adds_nothing(
    tmp_path: Path, one_run: dict[str, CleanDocument]
) -> None:
    store = LocalStore(tmp_path)
    docs = list(docs_by_path().values())
    index = DedupIndex.open(store)
    index.assign(docs)
    index.commit("first")
    keys = set(store.list())
    again = DedupIndex.open(store)
    out = again.assign(docs + docs[:3])  # a replayed partition, with in-batch repeats
    assert again.commit("replay").keys == ()
    assert set(store.list()) == keys
    assert [as_assignment(d) for d in out[: len(docs)]] == [as_assignment(one_run[p]) for p in docs_by_path()]
    assert again.counters["already_indexed"] == len(docs) + 3


# ---------------------------------------------------------------------------------------------------
# Concurrency


def test_two_sessions_committing_concurrently_see_each_other(
    tmp_path: Path, one_run: dict[str, CleanDocument]
) -> None:
    docs = docs_by_path()
    paths = sorted(docs)
    store = LocalStore(tmp_path)
    a, b = DedupIndex.open(store), DedupIndex.open(store)
    part_a = [
        p for p in paths if p == TECHNODE or (site_story(p) == DEEPFAKE and "pandaily" in p) or "shine" in p
    ]
    part_b = [p for p in paths if p not in part_a]
    a.assign([docs[p] for p in part_a])  # neither has seen the other's documents
    b.assign([docs[p] for p in part_b])
    result_a = a.commit("run-a")
    result_b = b.commit("run-b")
    assert result_a.concurrent_segments == 0
    assert result_b.concurrent_segments >= 1 and result_b.concurrent_links >= 2  # wire ~ technode, the story
    view = snapshot(DedupIndex.open(store), list(docs.values()))
    assert view == {one_run[p].id: as_assignment(one_run[p]) for p in docs}


def test_both_writers_checking_each_other_is_harmless(
    tmp_path: Path, one_run: dict[str, CleanDocument], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both write before either lists: each then checks the other; the duplicate unions change nothing."""
    docs = docs_by_path()
    paths = sorted(docs)
    store = LocalStore(tmp_path)
    a, b = DedupIndex.open(store), DedupIndex.open(store)
    a.assign([docs[p] for p in paths[0::2]])
    b.assign([docs[p] for p in paths[1::2]])
    deferred = a._check_concurrent
    monkeypatch.setattr(a, "_check_concurrent", lambda: (0, 0))
    a.commit("run-a")  # written, not yet listed
    b.commit("run-b")  # sees run-a
    monkeypatch.setattr(a, "_check_concurrent", deferred)
    concurrent, _links = a._check_concurrent()  # run-a lists now and sees run-b
    assert concurrent >= 1
    a.commit("run-a")
    view = snapshot(DedupIndex.open(store), list(docs.values()))
    assert view == {one_run[p].id: as_assignment(one_run[p]) for p in docs}


def test_entries_of_both_concurrent_sessions_are_visible(tmp_path: Path) -> None:
    docs = list(docs_by_path().values())
    store = LocalStore(tmp_path)
    a, b = DedupIndex.open(store), DedupIndex.open(store)
    a.assign(docs[:10])
    b.assign(docs[10:])
    a.commit("run-a")
    b.commit("run-b")
    assert set(DedupIndex.open(store).resolve(d.id for d in docs)) == {d.id for d in docs}


# ---------------------------------------------------------------------------------------------------
# Time window


@pytest.mark.parametrize(
    ("days_apart", "same_story"), [(0, True), (2, True), (3, True), (4, False), (30, False)]
)
def test_story_time_window(tmp_path: Path, days_apart: int, same_story: bool) -> None:
    docs = docs_by_path()
    first = dataclasses.replace(docs["/pandaily/alibaba-tencent-bytedance-summoned-by-chinese-internet-regulator-over-voice-software-and-deep-fake-technology/"],
                                published="2021-03-10T12:00:00Z")  # fmt: skip
    second = dataclasses.replace(docs["/republicworld/technology-news/china-summons-tech-companies-to-discuss-deep-fake-technology-report.html"],
                                 published=f"2021-03-{10 + days_apart:02d}T11:00:00Z")  # fmt: skip
    index = DedupIndex.open(LocalStore(tmp_path))
    a, b = index.assign([first, second])
    assert (a.story_id == b.story_id) is same_story


def test_old_story_days_are_dropped_and_reloaded(tmp_path: Path, one_run: dict[str, CleanDocument]) -> None:
    docs = docs_by_path()
    store = LocalStore(tmp_path)
    index = DedupIndex.open(store, config=DedupConfig(story_keep_days=7))
    index.assign(list(docs.values()))
    index.commit("march")
    later = dataclasses.replace(docs[CAC_ARTICLE], text=docs[CAC_ARTICLE].text + "\nA later edition.",
                                published="2021-05-01", id="f" * 64)  # fmt: skip
    index.assign([later])  # weeks later: March is dropped from memory
    assert index.counters["story_days_dropped"] >= 1
    (again,) = index.assign([docs[WIRE]])  # an old document again: its days come back from the store
    assert as_assignment(again) == as_assignment(one_run[WIRE])


# ---------------------------------------------------------------------------------------------------
# What is stored


def test_the_store_holds_parquet_and_npy_only_never_pickle(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    index = DedupIndex.open(store)
    index.assign(list(docs_by_path().values()))
    result = index.commit("run-1")
    keys = list(store.list("state/dedup/"))
    assert keys and set(result.keys) == set(keys)
    prefix = DedupConfig().prefix + "/"
    for key in keys:
        assert key.startswith(prefix)
        rest = key[len(prefix) :]
        assert rest.split("/")[0] in ("near", "story", "unions")
        assert key.endswith((".parquet", ".sig.npy")), key
        data = store.get(key)
        assert not data.startswith(b"\x80"), key  # a pickle stream starts with the PROTO opcode
        if key.endswith(".npy"):
            sigs = np.load(tmp_path / key, allow_pickle=False)
            assert sigs.dtype == np.uint32 and sigs.shape[1] == 128
        else:
            table = pq.read_table(tmp_path / key)
            assert table.num_rows >= 1 and b"cleanwire.dedup" in (table.schema.metadata or {})
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".pkl", ".pickle")]


def test_segments_are_written_once_under_new_keys(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    docs = list(docs_by_path().values())
    written: list[str] = []
    for n, part in enumerate((docs[:7], docs[7:])):
        index = DedupIndex.open(store)
        index.assign(part)
        written += index.commit(f"run {n}/x").keys  # unsafe characters in the run id are replaced
    assert len(written) == len(set(written))
    assert all("/run-0-x-" in k or "/run-1-x-" in k for k in written)


def test_aliases_lists_exact_duplicates(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    doc = docs_by_path()[TECHNODE]
    writer = CleanZoneWriter(store)
    assert writer.store_document(doc) == "written"
    copy = dataclasses.replace(doc, url="https://mirror.example/copy", source="mirror")
    assert writer.store_document(copy) == "alias"
    assert [a["url"] for a in aliases(store, doc.id)] == ["https://mirror.example/copy"]
    assert store.exists(layout.alias_key(doc.id, copy.url))


# ---------------------------------------------------------------------------------------------------
# cleanwire dupes


def run_dupes(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="cleanwire")
    dupes_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def stored_site(tmp_path: Path) -> tuple[LocalStore, dict[str, CleanDocument]]:
    store = LocalStore(tmp_path)
    index = DedupIndex.open(store)
    docs = docs_by_path()
    out = dict(zip(docs, index.assign(list(docs.values())), strict=True))
    writer = CleanZoneWriter(store)
    for doc in out.values():
        writer.store_document(doc)
    index.commit("cli")
    return store, out


def test_dupes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, out = stored_site(tmp_path)
    assert (
        run_dupes(["dupes", "--store", store.url, "--since", "2021-03-15", "--until", "2021-03-21", "--json"])
        == 0
    )
    report: dict[str, Any] = json.loads(capsys.readouterr().out)
    (cluster,) = report["near_duplicate_clusters"]
    assert cluster["head"] == out[TECHNODE].id
    assert [m["id"] for m in cluster["members"]] == [out[TECHNODE].id, out[WIRE].id]
    assert cluster["members"][1]["similarity"] >= 0.8 and cluster["members"][1]["source"] == "wire"
    (story,) = report["stories"]
    assert {m["id"] for m in story["members"]} == {d.id for p, d in out.items() if site_story(p) == DEEPFAKE}
    assert story["head_title"] == "China summons tech companies to discuss deep fake technology: Report"


@pytest.mark.parametrize(
    ("argv", "clusters", "stories"),
    [
        (
            ["--since", "2021-03-19", "--until", "2021-03-19"],
            1,
            1,
        ),  # the head (03-18) is outside; shown anyway
        (["--since", "2021-03-20"], 0, 0),
        (["--until", "2021-03-17"], 0, 0),
        ([], 1, 1),
    ],
)
def test_dupes_date_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], clusters: int, stories: int
) -> None:
    store, _ = stored_site(tmp_path)
    assert run_dupes(["dupes", "--store", store.url, "--json", *argv]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (len(report["near_duplicate_clusters"]), len(report["stories"])) == (clusters, stories)


def test_dupes_text_and_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, out = stored_site(tmp_path)
    assert run_dupes(["dupes", "--store", store.url]) == 0
    text = capsys.readouterr().out
    assert "near-duplicate clusters: 1" in text and "stories: 1" in text and out[WIRE].id[:12] in text
    assert run_dupes(["dupes", "--store", store.url, "--since", "2021-03-20", "--until", "2021-03-01"]) == 2
    with pytest.raises(SystemExit):
        run_dupes(["dupes", "--store", store.url, "--since", "March"])


# ---------------------------------------------------------------------------------------------------
# Pieces


@pytest.mark.parametrize(("runs", "keyspace"), [(1, 50), (30, 5000), (200, 100)])
def test_sorted_runs_find_every_equal_key(runs: int, keyspace: int) -> None:
    from pipelines.dedup import _SortedRuns

    rng = np.random.default_rng(runs)
    index = _SortedRuns()
    expected: dict[int, list[int]] = {}
    for r in range(runs):
        keys = rng.integers(0, keyspace, size=64).astype(np.uint64)
        values = np.arange(r * 64, (r + 1) * 64)
        index.add(keys, values)
        for k, v in zip(keys.tolist(), values.tolist(), strict=True):
            expected.setdefault(k, []).append(v)
    assert len(index._keys) <= max(1, int(np.log2(runs)) + 2)  # runs merge like a binary counter
    queries = rng.integers(0, keyspace + keyspace // 5, size=500).astype(np.uint64)
    qidx, found = index.lookup(queries)
    got = sorted(zip(qidx.tolist(), found.tolist(), strict=True))
    assert got == sorted((i, v) for i, k in enumerate(queries.tolist()) for v in expected.get(k, []))


def test_sketches_computed_elsewhere_give_the_same_result(
    tmp_path: Path, one_run: dict[str, CleanDocument]
) -> None:
    from cleaning.similarity import SimilarityConfig, sketch

    docs = list(docs_by_path().values())
    index = DedupIndex.open(LocalStore(tmp_path))
    out = index.assign(docs, sketches=sketch([d.text for d in docs]))
    assert [as_assignment(d) for d in out] == [as_assignment(one_run[p]) for p in docs_by_path()]
    with pytest.raises(ValueError, match="sketches do not match"):
        index.assign(docs[:2], sketches=sketch([d.text for d in docs[:2]], story=False))
    with pytest.raises(ValueError, match="sketches do not match"):
        index.assign(
            docs[:2], sketches=sketch([d.text for d in docs[:2]], SimilarityConfig(near_threshold=0.7))
        )


def test_backfill_indexes_stored_documents(tmp_path: Path, one_run: dict[str, CleanDocument]) -> None:
    from pipelines.dedup import backfill

    store = LocalStore(tmp_path)
    writer = CleanZoneWriter(store)
    for doc in docs_by_path().values():
        writer.store_document(doc)  # stored before dedup existed: no index
    result = backfill(store, batch=7)
    assert result.near_entries == len(one_run)
    assert backfill(store).near_entries == 0  # already indexed
    view = snapshot(DedupIndex.open(store), list(one_run.values()))
    assert view == {d.id: as_assignment(d) for d in one_run.values()}


def test_an_index_kept_open_sees_other_runs_after_refresh(tmp_path: Path) -> None:
    docs = docs_by_path()
    store = LocalStore(tmp_path)
    long_lived = DedupIndex.open(store)
    long_lived.assign([docs[CAC_ARTICLE]])
    long_lived.commit("run-1")
    other = DedupIndex.open(store)  # another process
    other.assign([docs[TECHNODE]])
    other.commit("run-2")
    assert long_lived.refresh() >= 2  # its near and story segments
    (wire,) = long_lived.assign([docs[WIRE]])
    assert wire.near_duplicate_of == docs[TECHNODE].id
    assert DedupIndex.open(store).refresh() == 0  # nothing loaded yet: nothing to refresh
