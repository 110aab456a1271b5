"""Shingling, MinHash, LSH banding and story features of ``cleaning/similarity.py``, on cases kept as data.

The story cases are the sample site's articles (the deepfake story in six outlets' versions, an article
on the same regulator about other news, and unrelated articles), cleaned by the real pipeline.
"""

from __future__ import annotations

import doctest
import functools
import itertools
import math
from pathlib import Path

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH

import cleaning.similarity as similarity
from cleaning.clean import clean_page
from cleaning.records import CleanDocument, RawPage
from cleaning.similarity import (
    DEFAULT_SIMILARITY,
    FeatureKind,
    SimilarityConfig,
    band_keys,
    candidate_probability,
    estimate_jaccard,
    feature_hashes,
    jaccard,
    minhash_signatures,
    parse_timestamp,
    shingle_hashes,
    shingle_hashes_from_tokens,
    shingles,
    signatures,
    sketch,
    story_features,
    story_features_many,
    story_score,
    token_hash,
    token_hashes,
    tokens,
)

SEEDS_DIR = Path(__file__).parent / "data" / "seeds"  # copies of the project's five seed texts
FETCHED = "2021-03-21T06:{:02d}:00Z"


@functools.cache
def sample_site_documents() -> dict[str, CleanDocument]:
    """The sample site's article pages cleaned by ``clean_page``, keyed by URL path. They are 'fetched' a
    minute apart in path order, so the technode original is fetched before its /wire/ copy."""
    from flows.sample_site import SampleSite, load_expected

    out: dict[str, CleanDocument] = {}
    with SampleSite() as site:
        articles = sorted(p for p, rec in load_expected().items() if rec["kind"] == "article")
        for n, path in enumerate(articles):
            response = site.render("GET", path)
            url = site.url(path)
            headers = {k.lower(): v for k, v in response.headers.items()}
            page = RawPage(
                url, url, response.status, headers, response.body, FETCHED.format(n), path.split("/")[1]
            )
            doc = clean_page(page)
            assert isinstance(doc, CleanDocument), (path, doc)
            out[path] = doc
    return out


def site_story(path: str) -> str | None:
    from flows.sample_site import load_expected

    story: str | None = load_expected()[path]["story"]
    return story


def by_story(name: str) -> list[str]:
    return [p for p in sample_site_documents() if site_story(p) == name]


CAC_ARTICLE = "/scmp/tech/policy/article/3125907/chinas-internet-watchdog-orders-apps-stop-collecting-personal-data-they-do-not"
TECHNODE = "/technode/2021/03/19/chinese-regulators-summon-11-tech-companies-over-deepfake-technology/"
WIRE = "/wire/technology/china-regulators-summon-tech-firms-over-deepfakes-2021-03-19/"


def test_doctests() -> None:
    result = doctest.testmod(similarity, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 15 and result.failed == 0


# ---------------------------------------------------------------------------------------------------
# Tokens and shingles

TOKEN_CASES = [
    ("Plain words, punctuation; and CASE.", ["plain", "words", "punctuation", "and", "case"]),
    ("Tencent’s “deepfake” probe", ["tencent", "s", "deepfake", "probe"]),
    ("Clubhouse-like apps in 2021", ["clubhouse", "like", "apps", "in", "2021"]),
    ("ＡＢＣ full-width and the ﬁ ligature", ["abc", "full", "width", "and", "the", "fi", "ligature"]),
    ("监管部门约谈11家企业", ["监", "管", "部", "门", "约", "谈", "11", "家", "企", "业"]),
    ("アプリの審査", ["ア", "プ", "リ", "の", "審", "査"]),
    ("한국 기업", ["한국", "기업"]),  # Hangul is written with spaces: words, not characters
    ("Ελληνικά ΚΕΊΜΕΝΑ", ["ελληνικά", "κείμενα"]),
    ("emoji 🙂 between", ["emoji", "between"]),
    ("", []),
    ("— … —", []),
]


@pytest.mark.parametrize(("text", "expected"), TOKEN_CASES)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def test_batch_token_hashes_equal_the_scalar_definition() -> None:
    texts = [text for text, _ in TOKEN_CASES]
    for text, hashes in zip(texts, token_hashes(texts), strict=True):
        assert hashes.tolist() == [token_hash(t) for t in tokens(text)], text


def test_batches_are_split_without_changing_results(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [doc.text for doc in sample_site_documents().values()]
    whole = sketch(texts)
    monkeypatch.setattr(similarity, "_MAX_BATCH_CHARS", 3000)  # several chunks, one text per chunk at most
    split = sketch(texts)
    assert (whole.signatures == split.signatures).all()
    assert (whole.shingle_counts == split.shingle_counts).all()
    assert all((a == b).all() for a, b in zip(whole.features, split.features, strict=True))


SHINGLE_CASES = [
    ("one two three four", 5, 0),
    ("one two three four five", 5, 1),
    ("one two three four five six", 5, 2),
    ("a b c d", 3, 2),
    ("监管部门约谈", 5, 2),
]


@pytest.mark.parametrize(("text", "size", "count"), SHINGLE_CASES)
def test_shingle_counts(text: str, size: int, count: int) -> None:
    assert len(shingles(text, size)) == count
    assert len(shingle_hashes(text, size)) == count


def test_batch_shingles_never_span_two_texts() -> None:
    texts = ["alpha beta gamma", "delta epsilon zeta", "one two three four five six"]
    sk = sketch(texts, SimilarityConfig(shingle_size=5), story=False)
    assert sk.shingle_counts.tolist() == [0, 0, 2]
    per_text = [shingle_hashes_from_tokens(th, 5) for th in token_hashes(texts)]
    assert (minhash_signatures(per_text) == sk.signatures).all()


def test_case_and_compatibility_forms_do_not_change_shingles() -> None:
    assert (shingle_hashes("THE Quick brown fox jumps") == shingle_hashes("the quick brown fox jumps")).all()
    assert (shingle_hashes("ＡＢＣ def ghi jkl mno") == shingle_hashes("ABC def ghi jkl mno")).all()


# ---------------------------------------------------------------------------------------------------
# MinHash


def test_signatures_are_datasketch_minhash_values() -> None:
    texts = [doc.text for doc in sample_site_documents().values()]
    sigs, counts = signatures(texts)
    for text, sig in zip(texts, sigs, strict=True):
        m = MinHash(
            num_perm=DEFAULT_SIMILARITY.num_perm,
            seed=DEFAULT_SIMILARITY.seed,
            hashfunc=int,
            scheme="affine32",
        )
        m.update_batch(shingle_hashes(text).tolist())
        assert (m.hashvalues == sig).all()
        lean = similarity.to_datasketch(sig)
        assert isinstance(lean, LeanMinHash)
        assert lean.jaccard(LeanMinHash(m)) == 1.0
    assert (counts > 0).all()


def test_empty_set_has_the_empty_signature() -> None:
    sigs = minhash_signatures([np.empty(0, dtype=np.uint32), np.arange(3, dtype=np.uint32)], 8)
    assert (sigs[0] == 0xFFFFFFFF).all() and not (sigs[1] == 0xFFFFFFFF).all()


# (set size, overlap) → true Jaccard = overlap / (2 · size − overlap); the estimate must be within four
# standard errors sqrt(J(1−J)/num_perm). The hashing is deterministic, so this cannot flake.
JACCARD_CASES = [
    (1000, 0),
    (1000, 100),
    (1000, 400),
    (1000, 667),
    (1000, 800),
    (1000, 900),
    (1000, 980),
    (200, 150),
    (5000, 4500),
]


@pytest.mark.parametrize(("size", "overlap"), JACCARD_CASES)
def test_minhash_estimate_tracks_true_jaccard(size: int, overlap: int) -> None:
    rng = np.random.default_rng(size + overlap)
    pool = rng.choice(1 << 32, size=2 * size, replace=False).astype(np.uint32)
    a, b = pool[:size], pool[size - overlap : 2 * size - overlap]
    true = jaccard(set(a.tolist()), set(b.tolist()))
    assert true == pytest.approx(overlap / (2 * size - overlap))
    sig = minhash_signatures([a, b])
    sigma = math.sqrt(max(true * (1 - true), 0.01) / DEFAULT_SIMILARITY.num_perm)
    assert abs(estimate_jaccard(sig[0], sig[1]) - true) <= 4 * sigma


def test_minhash_estimate_on_articles() -> None:
    docs = sample_site_documents()
    paths = sorted(docs)
    sigs, _ = signatures([docs[p].text for p in paths])
    for (i, p), (j, q) in itertools.combinations(enumerate(paths), 2):
        true = jaccard(shingles(docs[p].text), shingles(docs[q].text))
        est = estimate_jaccard(sigs[i], sigs[j])
        assert abs(est - true) <= 4 * math.sqrt(max(true * (1 - true), 0.01) / 128), (p, q, true, est)


def test_syndicated_copy_measures_as_near_duplicate_and_rewrites_do_not() -> None:
    docs = sample_site_documents()
    sig = dict(zip(sorted(docs), signatures([docs[p].text for p in sorted(docs)])[0], strict=True))
    assert estimate_jaccard(sig[TECHNODE], sig[WIRE]) >= 0.9
    rewrites = by_story("deepfake-summons")
    for p, q in itertools.combinations(rewrites, 2):
        if {p, q} != {TECHNODE, WIRE}:
            assert jaccard(shingles(docs[p].text), shingles(docs[q].text)) < 0.06, (p, q)


# ---------------------------------------------------------------------------------------------------
# LSH banding


@pytest.mark.parametrize(
    ("similarity_", "bands", "rows", "expected"),
    [
        (0.8, 21, 6, 0.9983),
        (0.7, 21, 6, 0.9278),
        (0.5, 21, 6, 0.2816),
        (0.3, 21, 6, 0.0152),
        (0.05, 21, 6, 0.0),
    ],
)
def test_candidate_probability(similarity_: float, bands: int, rows: int, expected: float) -> None:
    assert candidate_probability(similarity_, bands, rows) == pytest.approx(expected, abs=1e-4)


def test_band_keys_change_only_with_their_band() -> None:
    rng = np.random.default_rng(7)
    sig = rng.integers(0, 1 << 32, size=(1, 128), dtype=np.uint64).astype(np.uint32)
    other = sig.copy()
    other[0, 6 * 4 + 2] ^= 1  # one value of band 4
    keys, keys2 = band_keys(sig, 21, 6), band_keys(other, 21, 6)
    assert keys.shape == (1, 21)
    assert (keys[0] != keys2[0]).tolist() == [i == 4 for i in range(21)]
    shifted = np.roll(sig, 6, axis=1)  # the same values in the next band make another key
    assert not set(band_keys(shifted, 21, 6)[0].tolist()) & set(keys[0].tolist())


def test_band_candidates_agree_with_datasketch_lsh() -> None:
    docs = sample_site_documents()
    paths = sorted(docs)
    sigs, _ = signatures([docs[p].text for p in paths])
    lsh = MinHashLSH(num_perm=128, params=(21, 6))
    for p, sig in zip(paths, sigs, strict=True):
        lsh.insert(p, LeanMinHash(seed=1, hashvalues=sig, scheme="affine32"))
    keys = band_keys(sigs, 21, 6)
    for i, p in enumerate(paths):
        ours = {q for j, q in enumerate(paths) if (keys[i] == keys[j]).any()}
        assert ours == set(lsh.query(LeanMinHash(seed=1, hashvalues=sigs[i], scheme="affine32"))), p


def test_config_rejects_more_band_rows_than_permutations() -> None:
    with pytest.raises(ValueError, match="exceeds num_perm"):
        SimilarityConfig(bands=22, rows=6)
    assert SimilarityConfig().config_hash == DEFAULT_SIMILARITY.config_hash
    assert SimilarityConfig(near_threshold=0.7).config_hash != DEFAULT_SIMILARITY.config_hash


# ---------------------------------------------------------------------------------------------------
# Story features

FEATURE_CASES = [
    # (text, features that must be present with this kind, features that must be absent)
    (
        "Regulators summoned Alibaba, Tencent and ByteDance’s rivals on Thursday.",
        {"entity:alibaba": FeatureKind.ENTITY, "entity:tencent": FeatureKind.ENTITY, "entity:bytedance": FeatureKind.ENTITY},
        ["entity:regulators", "entity:regulator", "entity:thursday"],
    ),
    (
        "Founded in 2015, the chain has 300 stores. Shares of the Founded fund rose.",  # initial, then mid
        {"entity:founded": FeatureKind.ENTITY, "number:300": FeatureKind.NUMBER, "number:2015": FeatureKind.YEAR},
        [],
    ),
    ("Several firms left. Others stayed.", {}, ["entity:several", "entity:others", "entity:other"]),
    (
        "The Cyberspace Administration of China (CAC) met them. CAC officials said so.",
        {"entity:cyberspace": FeatureKind.ENTITY, "entity:cac": FeatureKind.ENTITY,
         "entity:administration": FeatureKind.COMMON_ENTITY, "entity:china": FeatureKind.COMMON_ENTITY},
        [],
    ),
    ("It used Deepfakes, as deepfake Deepfake apps do.", {"entity:deepfake": FeatureKind.ENTITY}, ["entity:deepfakes"]),
    (
        "It raised $37 billion, HK$120 million and 1.50 per cent; 500,000 yuan; 15% more; 5G phones; 11 firms.",
        {"number:37b": FeatureKind.NUMBER, "number:120m": FeatureKind.NUMBER, "number:1.5%": FeatureKind.NUMBER,
         "number:500000": FeatureKind.NUMBER, "number:15%": FeatureKind.NUMBER, "number:11": FeatureKind.SMALL_NUMBER},
        ["number:5", "number:37", "number:1.50%"],
    ),
    (
        "Updated March 18th, 2021 at 18:57 IST; the app was removed on 2 March and on Mar. 5.",
        {"date:03-18": FeatureKind.DATE, "date:03-02": FeatureKind.DATE, "date:03-05": FeatureKind.DATE,
         "number:2021": FeatureKind.YEAR},
        ["number:18", "number:2", "number:5", "number:57", "entity:march", "entity:mar"],
    ),
    (
        "They must “conduct security assessments on their own” about “deepfake” apps, he said: \"OK then\".",
        {"quote:conduct security assessments on their own": FeatureKind.QUOTE, "quote:deepfake": FeatureKind.SHORT_QUOTE,
         "quote:ok then": FeatureKind.SHORT_QUOTE},
        [],
    ),
    ("他说：「监管部门约谈企业」。", {"quote:监 管 部 门 约 谈 企 业": FeatureKind.QUOTE}, []),
    (
        'He said "one two three" and "four five six", then left.',  # a closing mark opens nothing
        {"quote:one two three": FeatureKind.QUOTE, "quote:four five six": FeatureKind.QUOTE},
        ["quote:and"],
    ),
    ("", {}, []),
]  # fmt: skip


@pytest.mark.parametrize(("text", "present", "absent"), FEATURE_CASES)
def test_story_features(text: str, present: dict[str, FeatureKind], absent: list[str]) -> None:
    feats = story_features(text)
    for name, kind in present.items():
        assert feats.get(name) == kind, (name, sorted(feats))
    for name in absent:
        assert name not in feats, (name, sorted(feats))


def test_batch_story_features_equal_one_by_one() -> None:
    texts = [case[0] for case in FEATURE_CASES] + [d.text for d in sample_site_documents().values()]
    assert story_features_many(texts) == [story_features(t) for t in texts]


def test_feature_hashes_carry_their_kind() -> None:
    feats = {
        "entity:kuaishou": FeatureKind.ENTITY,
        "number:37b": FeatureKind.NUMBER,
        "quote:a b c": FeatureKind.QUOTE,
    }
    hashes = feature_hashes(feats)
    assert sorted((hashes >> np.uint64(60)).tolist()) == [1, 3, 6]
    assert (hashes == np.sort(hashes)).all() and len(np.unique(hashes)) == 3


def _score(p: str, q: str) -> similarity.StoryScore:
    docs = sample_site_documents()
    return story_score(
        feature_hashes(story_features(docs[p].text)), feature_hashes(story_features(docs[q].text))
    )


def test_same_story_scores_on_the_sample_site() -> None:
    """Every article pair of the sample site: no pair of different stories links; the rewrites of the
    deepfake story are connected by links (not every pair needs one)."""
    docs = sample_site_documents()
    linked: dict[str, set[str]] = {p: {p} for p in docs}
    for p, q in itertools.combinations(sorted(docs), 2):
        score = _score(p, q)
        same = site_story(p) == site_story(q)
        if not same:
            assert not score.same_story(), (p, q, score)
            assert score.shared_weight < DEFAULT_SIMILARITY.story_min_weight / 2, (p, q, score)
        elif score.same_story():
            merged = linked[p] | linked[q]
            for r in merged:
                linked[r] = merged
    for name in {site_story(p) for p in docs}:
        members = set(by_story(name or ""))
        assert linked[next(iter(members))] == members, name


STORY_PAIR_CASES = [
    # Rewrites of one event (well above the thresholds) ...
    ("/pandaily/alibaba-tencent-bytedance-summoned-by-chinese-internet-regulator-over-voice-software-and-deep-fake-technology/",
     "/republicworld/technology-news/china-summons-tech-companies-to-discuss-deep-fake-technology-report.html", True),
    ("/shine/news/nation/2103194125/", TECHNODE, True),
    ("/scmp/tech/policy/article/3126036/beijing-sharpens-focus-deepfake-use-social-audio-apps-it-pushes-security",
     "/pandaily/alibaba-tencent-bytedance-summoned-by-chinese-internet-regulator-over-voice-software-and-deep-fake-technology/", True),
    (TECHNODE, WIRE, True),
    # ... and the same regulator, other news: stays apart from every version of the story.
    (CAC_ARTICLE, "/scmp/tech/policy/article/3126036/beijing-sharpens-focus-deepfake-use-social-audio-apps-it-pushes-security", False),
    (CAC_ARTICLE, "/republicworld/technology-news/china-summons-tech-companies-to-discuss-deep-fake-technology-report.html", False),
    (CAC_ARTICLE, TECHNODE, False),
    # Two Shenzhen start-ups raising money the same week.
    ("/pandaily/fruit-tea-chain-cha-ling-files-for-hong-kong-ipo/", "/technode/2021/03/18/skyloft-drone-delivery-series-b/", False),
]  # fmt: skip


def test_batch_story_decisions_equal_pair_by_pair() -> None:
    docs = sample_site_documents()
    hashes = [feature_hashes(f) for f in story_features_many([d.text for d in docs.values()])]
    pairs = list(itertools.product(range(len(hashes)), repeat=2))
    totals = similarity.story_weights(hashes)
    batch = similarity.same_story_many(
        [hashes[i] for i, _ in pairs],
        [hashes[j] for _, j in pairs],
        totals[[i for i, _ in pairs]],
        totals[[j for _, j in pairs]],
    )
    assert batch.tolist() == [story_score(hashes[i], hashes[j]).same_story() for i, j in pairs]
    assert batch.any() and not batch.all()
    assert totals.tolist() == pytest.approx([similarity.story_weight(h) for h in hashes])


@pytest.mark.parametrize(("a", "b", "same"), STORY_PAIR_CASES)
def test_story_pairs(a: str, b: str, same: bool) -> None:
    assert _score(a, b).same_story() is same
    assert _score(b, a) == _score(a, b)  # symmetric: a pure function of the pair


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason="shared seed texts not available")
def test_seed_texts_form_one_connected_story() -> None:
    texts = [p.read_text(encoding="utf-8") for p in sorted(SEEDS_DIR.glob("*.txt"))]
    assert len(texts) == 5
    hashes = [feature_hashes(f) for f in story_features_many(texts)]
    parent = list(range(len(texts)))
    for i, j in itertools.combinations(range(len(texts)), 2):
        assert jaccard(shingles(texts[i]), shingles(texts[j])) < 0.06
        if story_score(hashes[i], hashes[j]).same_story():
            parent[max(parent[i], parent[j])] = min(parent[i], parent[j])
            parent = [parent[p] for p in parent]
    assert set(parent) == {0}


# ---------------------------------------------------------------------------------------------------
# Times

TIME_CASES = [
    ("2021-03-19", 1616112000 * 10**6),
    ("2021-03-19T10:32:11+08:00", 1616121131 * 10**6),
    ("2021-03-19T02:32:11Z", 1616121131 * 10**6),
    ("2021-03-19T02:32:11", 1616121131 * 10**6),
    ("2021-03-19T02:32:11.5+00:00", 1616121131 * 10**6 + 500000),
    ("", None),
    (None, None),
    ("yesterday", None),
]


@pytest.mark.parametrize(("value", "expected"), TIME_CASES)
def test_parse_timestamp(value: str | None, expected: int | None) -> None:
    assert parse_timestamp(value) == expected
