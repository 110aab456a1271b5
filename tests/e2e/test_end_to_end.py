"""End to end: the sample site on loopback → `cleanwire run` (real Scrapy process, real Prefect
server) → a local store; then the stored documents are checked against the site's ground truth."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from cleaning.normalize import normalize_text
from flows.sample_site import load_expected
from tests.servers import cleanwire

pytestmark = pytest.mark.e2e


def _docs(store: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text("utf-8")) for p in sorted((store / "clean/v1/docs").glob("*/*.json"))]


def _objects(store: Path) -> set[str]:
    return {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory, prefect_api: str, sample_site: Any) -> dict[str, Any]:
    from flows.sample_site import sources_yaml
    from tests.servers import base_env

    tmp = tmp_path_factory.mktemp("e2e")
    sources = tmp / "sources.yaml"
    sources.write_text(sources_yaml(sample_site.base_url))
    store = tmp / "store"
    env = base_env(PREFECT_API_URL=prefect_api)
    proc = cleanwire("run", "--sources", str(sources), "--store", str(store), "--json", env=env)
    report = json.loads(proc.stdout)
    return {"store": store, "sources": sources, "env": env, "report": report, "objects": _objects(store)}


def _by_url(docs: list[dict[str, Any]], base: str) -> dict[str, dict[str, Any]]:
    return {d["url"].removeprefix(base): d for d in docs}


def test_one_document_per_article(first_run: dict[str, Any], sample_site: Any) -> None:
    expected = load_expected()
    articles = {p for p, e in expected.items() if e["kind"] == "article"}
    docs = _docs(first_run["store"])
    by_url = _by_url(docs, sample_site.base_url)
    missing = sorted(articles - set(by_url))
    assert not missing, f"articles without a document: {missing}"
    non_articles = sorted(set(by_url) - articles)
    assert not non_articles, f"documents for pages that are not articles: {non_articles}"
    assert len(docs) == len({d["id"] for d in docs}) == len(articles)


def test_noise_absent_and_sentences_present(first_run: dict[str, Any], sample_site: Any) -> None:
    expected = load_expected()
    by_url = _by_url(_docs(first_run["store"]), sample_site.base_url)
    problems = []
    for path, exp in expected.items():
        if exp["kind"] != "article":
            continue
        doc = by_url[path]
        for sentence in exp["must_contain"]:
            if sentence not in doc["text"]:
                problems.append(f"{path}: missing sentence {sentence[:60]!r}")
        for noise in exp["must_not_contain"]:
            if noise in doc["text"]:
                problems.append(f"{path}: noise present {noise[:60]!r}")
    assert not problems, "\n".join(problems)


def test_seed_noise_lines_gone(first_run: dict[str, Any]) -> None:
    text = "\n".join(d["text"] for d in _docs(first_run["store"]))
    for noise in ("Advertisement", "GET this page in PDF", "View shopping cart", "Email this to your friend",
                  "Get more with myNEWS", "See also", "weekly technical podcast Orbital"):
        assert noise not in text


def test_mojibake_title_repaired(first_run: dict[str, Any]) -> None:
    titles = {d["title"] for d in _docs(first_run["store"])}
    assert "Regulators hold talks with tech firms over ‘deepfake’" in titles
    assert not any("鈥" in (t or "") for t in titles)


def test_hash_is_sha256_of_stored_text(first_run: dict[str, Any]) -> None:
    for doc in _docs(first_run["store"]):
        assert doc["text"] == normalize_text(doc["text"])
        assert doc["id"] == hashlib.sha256(doc["text"].encode("utf-8")).hexdigest()
        assert doc["schema_version"] == "1.0"
        assert doc["lineage"]["raw_object"].startswith(f"raw/source={doc['source']}/")


def test_raw_zone_and_manifests(first_run: dict[str, Any]) -> None:
    objects = first_run["objects"]
    assert any(k.startswith("raw/source=shine/date=") and k.endswith(".warc.gz") for k in objects)
    assert any(k.startswith("manifests/crawl/") for k in objects)
    assert any(k.startswith("manifests/runs/") for k in objects)
    assert any(k.startswith("clean/v1/parquet/date=") for k in objects)


def test_rejects_have_reasons(first_run: dict[str, Any]) -> None:
    rejects = []
    for path in (first_run["store"] / "rejects").rglob("*.jsonl"):
        rejects += [json.loads(line) for line in path.read_text().splitlines()]
    assert rejects, "the sample site has non-article pages and a robots-blocked URL: they must be rejects"
    assert all(r["reason"] and r["url"] for r in rejects)
    reasons = {r["reason"] for r in rejects}
    assert "blocked_by_policy" in reasons  # /private/ is disallowed by robots.txt


def test_report_counts(first_run: dict[str, Any]) -> None:
    totals = first_run["report"]["totals"]
    assert totals["documents_stored"] == len(_docs(first_run["store"]))
    assert totals["pages_fetched"] >= totals["documents_stored"]
    assert set(first_run["report"]["timings"]) == {"crawl", "clean"}


def test_second_run_stores_nothing_new(first_run: dict[str, Any]) -> None:
    store = first_run["store"]
    before = {k for k in _objects(store) if k.startswith("clean/")}
    proc = cleanwire("run", "--sources", str(first_run["sources"]), "--store", str(store), "--json",
                     env=first_run["env"])
    report = json.loads(proc.stdout)
    assert report["totals"]["documents_stored"] == 0
    after = {k for k in _objects(store) if k.startswith("clean/")}
    assert after == before
    # A clean of what is already cleaned writes nothing at all.
    everything = _objects(store)
    proc = cleanwire("clean", "--store", str(store), "--json", env=first_run["env"])
    assert json.loads(proc.stdout)["totals"]["pages_cleaned"] == 0
    assert {k for k in _objects(store) if not k.startswith("manifests/runs/")} == {
        k for k in everything if not k.startswith("manifests/runs/")
    }


def test_syndication_and_story_grouping(first_run: dict[str, Any], sample_site: Any) -> None:
    """The seed story's five versions and the wire copy form one story; the wire copy is a near
    duplicate of the version it copies; the other articles (same regulator, other news) stay apart."""
    expected = load_expected()
    proc = cleanwire("dupes", "--store", str(first_run["store"]), "--json", env=first_run["env"])
    view = json.loads(proc.stdout)
    path = {d["id"]: d["url"].removeprefix(sample_site.base_url) for d in _docs(first_run["store"])}
    stories = [{path[m["id"]] for m in s["members"]} for s in view["stories"]]
    seed_story = {p for p, e in expected.items() if e["kind"] == "article" and e.get("story") == "deepfake-summons"}
    assert seed_story in stories
    for members in stories:
        assert members == seed_story or not (members & seed_story)
        assert all(expected[p].get("story") == expected[next(iter(members))].get("story") for p in members)
    copies = {p: e["near_duplicate_of"] for p, e in expected.items() if e.get("near_duplicate_of")}
    clusters = [{path[m["id"]] for m in c["members"]} for c in view["near_duplicate_clusters"]]
    for copy, original in copies.items():
        assert {copy, original} in clusters
