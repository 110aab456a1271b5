"""Text similarity for duplicate and same-story detection: pure functions, no I/O.

Two questions, two methods:

* **Near duplicate** (a syndicated copy, a lightly edited republication): the documents share most of
  their word 5-grams. Text → tokens (words; each Han/kana character is a token of its own) → 5-token
  shingles → 32-bit shingle hashes → MinHash signature (datasketch's ``affine32`` scheme, computed for a
  whole batch at once with the same permutations, so ``datasketch.LeanMinHash`` gives the same values)
  → LSH band keys. Two documents are candidates when one band key is equal, and near duplicates when
  the estimated Jaccard similarity of their shingle sets reaches ``near_threshold``.

* **Same story** (independent rewrites of one event): rewrites share few 5-grams (the five seed
  versions of the deepfake story measure under 0.06 Jaccard against each other) but name the same
  people, companies and places, repeat the same figures and quotes and are published within days.
  :func:`story_features` reads a set of such features from the text (capitalised names, numbers with
  their unit, month-day dates, quoted phrases); each feature has a kind and each kind a weight. Two
  documents published at most ``story_window_days`` apart are the same story when the weight they
  share reaches ``story_min_weight``, is at least ``story_min_overlap`` of the smaller document's
  weight, and comes from at least ``story_min_anchors`` specific features. Weights depend only on
  the feature, never on corpus statistics (no IDF), so the decision for a pair depends only on the
  two documents: that is what lets an incremental index reach the same groups whatever the order in
  which documents arrive.

    >>> a = "Regulators summoned Alibaba, Tencent and ByteDance over deepfakes, a $37 billion issue."
    >>> sorted(story_features(a).items())[:3]
    [('entity:alibaba', <FeatureKind.ENTITY: 1>), ('entity:bytedance', <FeatureKind.ENTITY: 1>), ('entity:tencent', <FeatureKind.ENTITY: 1>)]
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache

import numpy as np
import numpy.typing as npt

# Bump when signatures, band keys, features or decisions change for the same input: a persisted index
# built with another version (or another config, see ``SimilarityConfig.config_hash``) is not reused.
SIMILARITY_VERSION = "1"

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class SimilarityConfig:
    # Shingle = this many consecutive tokens. Five words: unrelated articles share almost none (< 0.015
    # Jaccard on the sample site), while one edited word breaks only the five shingles that contain it.
    shingle_size: int = 5
    # MinHash permutations. The Jaccard estimate has standard error sqrt(J(1-J)/num_perm): 0.035 at 0.8.
    num_perm: int = 128
    # datasketch's permutation seed (MinHash(num_perm, seed, scheme="affine32")).
    seed: int = 1
    # LSH banding (bands × rows ≤ num_perm). 21 bands of 6 rows make a pair a candidate with probability
    # 0.998 at Jaccard 0.8, 0.93 at 0.7, 0.28 at 0.5, 0.015 at 0.3 and 3e-7 at 0.05 (unrelated news sharing
    # stock phrases): a million indexed documents give ~0.3 false candidates per query, each rejected by
    # comparing signatures.
    bands: int = 21
    rows: int = 6
    # Estimated Jaccard from which a candidate pair is a near duplicate. The sample site's syndicated copy
    # measures 0.93 (two edited sentences), the independent rewrites of its story under 0.06; 0.8 is far
    # from both and is the usual near-duplicate cut with 5-word shingles (a copy with 1-2% of its words
    # changed still passes; one with a rewritten lede may not, and is then grouped as the same story).
    near_threshold: float = 0.8
    # Same story: documents whose publication (else fetch) times are further apart never group.
    story_window_days: float = 3.0
    # Same story: shared feature weight (sum of the weights of shared features) at least this ... On the
    # sample site no two different stories share more than 2.8 (the same-regulator article included);
    # the six versions of the deepfake story share 5.5–30, and those at 7 or more connect all six. 7.0
    # keeps 2.5× the strongest unrelated pair: precision first, recall through the other versions.
    story_min_weight: float = 7.0
    # ... and at least this fraction of the smaller document's total feature weight ...
    story_min_overlap: float = 0.2
    # ... from at least this many shared anchor features (weight ≥ anchor_weight, see below).
    story_min_anchors: int = 3
    # Features with at least this weight are anchors: specific enough to look candidates up by.
    anchor_weight: float = 1.0
    # Weights per feature kind (see FeatureKind). A name not in the common list is strong evidence; a
    # country, capital or institution word ("China", "ministry") is mentioned by every story on a topic.
    weight_entity: float = 1.0
    weight_common_entity: float = 0.2
    # A figure with a unit or decimals ("37 billion", "1.5", "500,000") is specific to one event ...
    weight_number: float = 1.5
    # ... a bare integer under 100 ("11 companies") much less so, and a year hardly at all.
    weight_small_number: float = 0.5
    weight_year: float = 0.2
    # A quoted phrase of 3+ tokens repeated verbatim is the strongest sign of a shared source ...
    weight_quote: float = 3.0
    # ... a one- or two-word quote ("deepfake") is a scare quote, about as telling as a name.
    weight_short_quote: float = 1.0
    # A month-day date ("March 2").
    weight_date: float = 1.0

    def __post_init__(self) -> None:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands × rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        if self.shingle_size < 1 or self.bands < 1 or self.rows < 1:
            raise ValueError("shingle_size, bands and rows must be positive")

    @property
    def config_hash(self) -> str:
        """Short stable hash of the settings and the similarity version (persisted indexes are keyed by it)."""
        payload = json.dumps({"version": SIMILARITY_VERSION, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def kind_weights(self) -> npt.NDArray[np.float64]:
        """Weight per ``FeatureKind`` value (index 0 unused)."""
        return _kind_weights(self)


@cache
def _kind_weights(config: SimilarityConfig) -> npt.NDArray[np.float64]:
    w = np.zeros(16, dtype=np.float64)
    for kind in FeatureKind:
        w[kind] = getattr(config, f"weight_{kind.name.lower()}")
    w.flags.writeable = False  # shared by every caller
    return w


DEFAULT_SIMILARITY = SimilarityConfig()


# ---------------------------------------------------------------------------------------------------
# Tokens and shingles


_SEP, _WORD, _SINGLE = 0, 1, 2
# Scripts written without spaces: every character is a token (shingles are then character 5-grams).
_SINGLE_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_SINGLE_ASTRAL = (0x20000, 0x3FFFF)  # CJK extension planes

# Token hash: h = Σ c_i · P^i mod 2^64 over the lower-cased code points, then mixed. P is odd, hence
# invertible mod 2^64, which lets a batch compute every token's hash from one prefix sum.
_P = 0x100000001B3
_P_INV = pow(_P, -1, 1 << 64)
_MIX = 0x9E3779B97F4A7C15
_SHINGLE_MULT = np.uint64(_MIX)
_MASK64 = (1 << 64) - 1
_MAX_BATCH_CHARS = 1 << 20  # code points per vectorised chunk: bounds temporary arrays to ~40 MB


@cache
def _tables() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint32], npt.NDArray[np.bool_]]:
    """Per BMP code point: token class (separator / word character / a token alone), its simple
    lower-case form (one code point; characters whose lower case is longer stay as they are), and
    whether it is an upper-case letter."""
    classes = np.zeros(0x10000, dtype=np.uint8)
    lower = np.arange(0x10000, dtype=np.uint32)
    upper = np.zeros(0x10000, dtype=np.bool_)
    for cp in range(0x10000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat[0] in "LNM":
            classes[cp] = _WORD
        if cat == "Lu":
            upper[cp] = True
            low = ch.lower()
            if len(low) == 1:
                lower[cp] = ord(low)
    for lo, hi in _SINGLE_RANGES:
        seg = classes[lo : hi + 1]
        seg[seg == _WORD] = _SINGLE
    return classes, lower, upper


def normalize_for_similarity(text: str) -> str:
    """NFKC: full-width forms, ligatures and compatibility characters do not make texts different.

    >>> normalize_for_similarity("ＡＢＣ ﬁnance")
    'ABC finance'
    """
    return text if text.isascii() else unicodedata.normalize("NFKC", text)  # ASCII is NFKC already


def _lower(cps: U32) -> U32:
    low = np.take(_tables()[1], cps, mode="clip")  # clip: astral code points read the last entry, fixed below
    return np.where(cps > 0xFFFF, cps, low) if len(cps) and int(cps.max()) > 0xFFFF else low


@dataclass(slots=True)
class _Analysis:
    """Character-level facts about a chunk of texts joined by NUL, computed once and shared by the
    shingle hashing and the story features."""

    joined: str  # the NFKC texts joined by NUL (a separator: nothing spans two texts)
    offsets: npt.NDArray[np.intp]  # where each text starts in ``joined``
    cps: U32  # code points of ``joined``
    starts: npt.NDArray[np.intp]  # token starts ...
    ends: npt.NDArray[np.intp]  # ... and ends (exclusive)
    token_text: npt.NDArray[np.intp]  # the text each token belongs to
    hashes: U64 | None = None  # token_hash of every token, once computed


def _analyse(norms: Sequence[str]) -> _Analysis:
    joined = "\x00".join(norms)
    offsets = np.cumsum([0] + [len(t) + 1 for t in norms[:-1]]).astype(np.intp)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    classes = np.take(_tables()[0], cps, mode="clip")
    if len(cps) and int(cps.max()) > 0xFFFF:
        astral = cps > 0xFFFF
        lo, hi = _SINGLE_ASTRAL
        classes[astral] = np.where((cps[astral] >= lo) & (cps[astral] <= hi), _SINGLE, _SEP)
    word = classes == _WORD
    single = classes == _SINGLE
    edge = np.empty(
        len(cps) + 1, dtype=np.bool_
    )  # word[i] != word[i-1]: a run of word characters starts or ends
    np.not_equal(word[1:], word[:-1], out=edge[1:-1])
    edge[0] = bool(word[0]) if len(cps) else False
    edge[-1] = bool(word[-1]) if len(cps) else False
    run_edges = np.flatnonzero(edge)  # alternating starts and ends of word runs
    singles = np.flatnonzero(single)
    starts = np.concatenate((run_edges[0::2], singles))
    ends = np.concatenate((run_edges[1::2], singles + 1))
    if len(singles):
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
    token_text = np.searchsorted(offsets, starts, side="right") - 1
    return _Analysis(joined, offsets, cps, starts, ends, token_text)


def _chunks(texts: Sequence[str]) -> list[tuple[int, _Analysis]]:
    """NFKC the texts and analyse them in chunks of at most ``_MAX_BATCH_CHARS`` code points."""
    out: list[tuple[int, _Analysis]] = []
    norms = [normalize_for_similarity(t) for t in texts]
    i = 0
    while i < len(norms):
        j, size = i, 0
        while j < len(norms) and (j == i or size + len(norms[j]) <= _MAX_BATCH_CHARS):
            size += len(norms[j]) + 1
            j += 1
        out.append((i, _analyse(norms[i:j])))
        i = j
    return out


def tokens(text: str) -> list[str]:
    """The tokens shingles are made of: lower-cased runs of letters, digits and marks; each Han or kana
    character alone.

    >>> tokens("Tencent’s “deepfake” probe: 11 firms")
    ['tencent', 's', 'deepfake', 'probe', '11', 'firms']
    >>> tokens("监管部门约谈11家企业")
    ['监', '管', '部', '门', '约', '谈', '11', '家', '企', '业']
    """
    a = _analyse([normalize_for_similarity(text)])
    lowered = _lower(a.cps).astype("<u4").tobytes().decode("utf-32-le")
    return [lowered[s:e] for s, e in zip(a.starts.tolist(), a.ends.tolist(), strict=True)]


def _fmix64(h: U64) -> U64:
    """MurmurHash3's 64-bit finaliser (a bijection that spreads every input bit)."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _fmix32(h: U32) -> U32:
    """MurmurHash3's 32-bit finaliser: datasketch's ``affine32`` pre-mix of every input hash."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def token_hash(token: str) -> int:
    """The 64-bit hash of one token as returned by :func:`tokens`; the batch path computes exactly this.

    >>> token_hash("deepfake") == int(token_hashes(["Deepfake"])[0][0])
    True
    """
    h = 0
    power = 1
    for ch in token:
        h = (h + ord(ch) * power) & _MASK64
        power = (power * _P) & _MASK64
    mixed = np.array([(h + len(token) * _MIX) & _MASK64], dtype=np.uint64)
    return int(_fmix64(mixed)[0])


class _Powers:
    """P^i and P^-i mod 2^64 for i < n, grown on demand (a memo of a pure function)."""

    def __init__(self) -> None:
        self.pow = np.ones(1, dtype=np.uint64)
        self.inv = np.ones(1, dtype=np.uint64)

    def upto(self, n: int) -> tuple[U64, U64]:
        if len(self.pow) < n:
            size = max(n, 2 * len(self.pow))
            one = np.ones(1, dtype=np.uint64)  # a Python int here would promote the result to float64
            self.pow = np.concatenate((one, np.cumprod(np.full(size - 1, _P, dtype=np.uint64))))
            self.inv = np.concatenate((one, np.cumprod(np.full(size - 1, _P_INV, dtype=np.uint64))))
        return self.pow[:n], self.inv[:n]


_POWERS = _Powers()


def _hash_tokens(a: _Analysis) -> U64:
    """``token_hash`` of every token of the chunk, from one prefix sum over its code points."""
    if a.hashes is not None:
        return a.hashes
    n = len(a.cps)
    pw, inv = _POWERS.upto(n + 1)
    prefix = np.empty(n + 1, dtype=np.uint64)
    prefix[0] = 0
    np.cumsum(_lower(a.cps).astype(np.uint64) * pw[:n], out=prefix[1:])  # wraps mod 2^64, as intended
    raw = (prefix[a.ends] - prefix[a.starts]) * inv[a.starts]
    a.hashes = _fmix64(raw + (a.ends - a.starts).astype(np.uint64) * _SHINGLE_MULT)
    return a.hashes


def token_hashes(texts: Sequence[str]) -> list[U64]:
    """Token hashes of each text (``token_hash`` of every token of ``tokens(text)``), vectorised over
    the batch: a few numpy passes over the code points instead of a Python call per token."""
    out: list[U64] = []
    for first, a in _chunks(texts):
        hashes = _hash_tokens(a)
        cut = np.searchsorted(a.token_text, np.arange(1, len(a.offsets)))
        out.extend(np.split(hashes, cut))
        del first
    return out


def _shingles_of_chunk(a: _Analysis, size: int) -> tuple[U32, npt.NDArray[np.intp]]:
    """32-bit hashes of every ``size``-token shingle of the chunk (text by text, in order) and the
    number of shingles of each text. A shingle never spans two texts."""
    hashes = _hash_tokens(a)
    n = len(hashes) - size + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint32), np.zeros(len(a.offsets), dtype=np.intp)
    acc = np.zeros(n, dtype=np.uint64)
    for j in range(size):
        acc = acc * _SHINGLE_MULT + hashes[j : j + n]
    same_text = a.token_text[:n] == a.token_text[size - 1 :]
    acc = _fmix64(acc[same_text])
    folded = ((acc >> np.uint64(32)) ^ (acc & np.uint64(0xFFFFFFFF))).astype(np.uint32)
    counts = np.bincount(a.token_text[:n][same_text], minlength=len(a.offsets))
    return folded, counts


def shingle_hashes_from_tokens(token_hashes: U64, size: int = 5) -> U32:
    """32-bit hashes of the ``size``-token shingles of one token-hash sequence (empty if too short)."""
    n = len(token_hashes) - size + 1
    if n <= 0:
        return np.empty(0, dtype=np.uint32)
    acc = np.zeros(n, dtype=np.uint64)
    for j in range(size):
        acc = acc * _SHINGLE_MULT + token_hashes[j : j + n]
    acc = _fmix64(acc)
    return ((acc >> np.uint64(32)) ^ (acc & np.uint64(0xFFFFFFFF))).astype(np.uint32)


def shingle_hashes(text: str, size: int = 5) -> U32:
    """Hashes of the ``size``-token shingles of ``text``.

    >>> len(shingle_hashes("one two three four five six"))  # two 5-token shingles
    2
    """
    return shingle_hashes_from_tokens(token_hashes([text])[0], size)


def shingles(text: str, size: int = 5) -> set[tuple[str, ...]]:
    """The shingle set itself, for exact Jaccard (tests, REPL); the index uses hashes only.

    >>> sorted(shingles("a b c d", 3))
    [('a', 'b', 'c'), ('b', 'c', 'd')]
    """
    toks = tokens(text)
    return {tuple(toks[i : i + size]) for i in range(len(toks) - size + 1)}


def jaccard(a: set[tuple[str, ...]] | set[str], b: set[tuple[str, ...]] | set[str]) -> float:
    """Exact Jaccard similarity |a ∩ b| / |a ∪ b| (0.0 for two empty sets).

    >>> jaccard({"x", "y"}, {"y", "z"})
    0.3333333333333333
    """
    union = len(a | b)
    return len(a & b) / union if union else 0.0


# ---------------------------------------------------------------------------------------------------
# MinHash and LSH


@cache
def _permutations(num_perm: int, seed: int) -> tuple[U32, U32]:
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    return np.asarray(a, dtype=np.uint32), np.asarray(b, dtype=np.uint32)


_EMPTY_HASH = np.uint32(0xFFFFFFFF)
_ROWS_PER_CHUNK = 8192  # shingles per permutation block: 128 × 8192 × 4 B = 4 MB of temporaries


def minhash_signatures(shingle_sets: Sequence[U32], num_perm: int = 128, seed: int = 1) -> U32:
    """MinHash signatures (one row per set) of 32-bit shingle hashes, identical to datasketch's
    ``MinHash(num_perm, seed, hashfunc=int, scheme="affine32").update_batch(hashes).hashvalues``.
    An empty set gets the all-0xFFFFFFFF signature.

    >>> from datasketch import MinHash
    >>> hashes = shingle_hashes("the quick brown fox jumps over the lazy dog again and again")
    >>> m = MinHash(num_perm=16, seed=1, hashfunc=int, scheme="affine32")
    >>> m.update_batch(hashes.tolist())
    >>> bool((minhash_signatures([hashes], 16)[0] == m.hashvalues).all())
    True
    """
    counts = np.array([len(s) for s in shingle_sets], dtype=np.intp)
    flat = np.concatenate(list(shingle_sets)) if len(shingle_sets) else np.empty(0, dtype=np.uint32)
    return _minhash_concat(flat.astype(np.uint32), counts, num_perm, seed)


def _minhash_concat(flat: U32, counts: npt.NDArray[np.intp], num_perm: int, seed: int) -> U32:
    """Signatures of consecutive sets given as one array of hashes and the size of each set: the
    permutations are applied to blocks of many sets at once, the minimum taken per set (reduceat)."""
    a, b = _permutations(num_perm, seed)
    out = np.full((len(counts), num_perm), _EMPTY_HASH, dtype=np.uint32)
    nonempty = np.flatnonzero(counts)
    if not len(nonempty):
        return out
    mixed = _fmix32(flat)
    offsets = np.concatenate(([0], np.cumsum(counts[nonempty])))
    i = 0
    while i < len(nonempty):
        # Take sets while the block stays under the row budget (at least one set).
        j = max(i + 1, int(np.searchsorted(offsets, offsets[i] + _ROWS_PER_CHUNK, side="right")) - 1)
        block = mixed[offsets[i] : offsets[j]]
        phv = a[:, None] * block[None, :]  # (num_perm, rows); uint32 wrap-around = mod 2^32
        phv += b[:, None]
        mins = np.minimum.reduceat(phv, offsets[i:j] - offsets[i], axis=1)
        out[nonempty[i:j]] = mins.T
        i = j
    return out


def signatures(
    texts: Sequence[str], config: SimilarityConfig = DEFAULT_SIMILARITY
) -> tuple[U32, npt.NDArray[np.intp]]:
    """MinHash signatures of ``texts`` and their shingle counts (0: too short to have a signature)."""
    sk = sketch(texts, config, story=False)
    return sk.signatures, sk.shingle_counts


@dataclass(frozen=True, slots=True)
class Sketches:
    """Everything the dedup index stores about a batch of texts, computed in one pass (a pure function
    of the texts, so it can run in worker processes while the index handles another batch)."""

    signatures: U32  # (texts, num_perm) MinHash values
    shingle_counts: npt.NDArray[np.intp]  # 0: too short for a shingle, no signature
    features: list[U64]  # story feature hashes per text (sorted); empty when story=False
    config_hash: str = ""  # SimilarityConfig.config_hash of the settings used

    def __len__(self) -> int:
        return len(self.shingle_counts)

    def take(self, rows: Sequence[int]) -> Sketches:
        return Sketches(self.signatures[list(rows)], self.shingle_counts[list(rows)],
                        [self.features[i] for i in rows] if self.features else [], self.config_hash)  # fmt: skip


def sketch(
    texts: Sequence[str], config: SimilarityConfig = DEFAULT_SIMILARITY, *, story: bool = True
) -> Sketches:
    """MinHash signatures and story features of a batch of texts: the character analysis (NFKC, code
    points, token boundaries) is done once per chunk and shared.

    >>> s = sketch(["Alibaba and Tencent met the CAC on Thursday, the regulator said."] * 2)
    >>> s.signatures.shape, int(s.shingle_counts[0]), estimate_jaccard(s.signatures[0], s.signatures[1])
    ((2, 128), 7, 1.0)
    """
    sigs: list[U32] = []
    counts: list[npt.NDArray[np.intp]] = []
    feats: list[dict[str, FeatureKind]] = [{} for _ in texts] if story else []
    for first, a in _chunks(texts):
        flat, n = _shingles_of_chunk(a, config.shingle_size)
        sigs.append(_minhash_concat(flat, n, config.num_perm, config.seed))
        counts.append(n)
        if story:
            _story_features_of_chunk(a, feats[first : first + len(a.offsets)])
    if not sigs:
        return Sketches(
            np.empty((0, config.num_perm), dtype=np.uint32),
            np.zeros(0, dtype=np.intp),
            [],
            config.config_hash,
        )
    features = _feature_hash_lists(feats) if story else []
    return Sketches(np.concatenate(sigs), np.concatenate(counts), features, config.config_hash)


def to_datasketch(signature: U32, config: SimilarityConfig = DEFAULT_SIMILARITY) -> object:
    """A ``datasketch.LeanMinHash`` holding ``signature`` (to use datasketch's own LSH or estimators)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=config.seed, hashvalues=signature, scheme="affine32")


def estimate_jaccard(a: U32, b: U32) -> float:
    """Estimated Jaccard similarity: the fraction of equal MinHash values (datasketch's ``jaccard``).

    >>> estimate_jaccard(np.array([1, 2, 3, 4], dtype=np.uint32), np.array([1, 2, 0, 4], dtype=np.uint32))
    0.75
    """
    return float(np.count_nonzero(a == b)) / len(a)


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that two sets of this Jaccard similarity share at least one LSH band key.

    >>> round(candidate_probability(0.8, 21, 6), 4), round(candidate_probability(0.3, 21, 6), 4)
    (0.9983, 0.0152)
    """
    return float(1.0 - (1.0 - similarity**rows) ** bands)


_BAND_SALT = np.uint64(0x2545F4914F6CDD1D)


def band_keys(sigs: U32, bands: int, rows: int) -> U64:
    """One 64-bit key per (document, band): a hash of the band's ``rows`` MinHash values and the band
    number, so one sorted array can hold every band of every document. Shape (documents, bands).

    >>> sig = np.arange(12, dtype=np.uint32).reshape(1, 12)
    >>> band_keys(sig, 2, 6).shape
    (1, 2)
    """
    n = sigs.shape[0]
    block = sigs[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    acc = np.broadcast_to((np.arange(bands, dtype=np.uint64) + np.uint64(1)) * _BAND_SALT, (n, bands)).copy()
    for j in range(rows):
        acc = _fmix64(acc * _SHINGLE_MULT + block[:, :, j])
    return acc


# ---------------------------------------------------------------------------------------------------
# Same-story features


class FeatureKind(enum.IntEnum):
    """Kinds of story features; the value is stored in the top 4 bits of the feature hash."""

    ENTITY = 1  # a capitalised name not in the common list: "Kuaishou", "Avatarify"
    COMMON_ENTITY = 2  # a country, capital, institution or generic word: "China", "Ministry"
    NUMBER = 3  # a figure with a unit or decimals, or ≥ 100: "37b", "1.5m", "500000", "15%"
    SMALL_NUMBER = 4  # an integer under 100 without a unit: "11"
    YEAR = 5  # 1900–2100 without a unit
    QUOTE = 6  # a quoted phrase of 3+ tokens
    SHORT_QUOTE = 7  # a quoted word or two
    DATE = 8  # month and day: "03-18"


# Countries, demonyms, big cities, institutions and newsroom words: named by every story on a topic.
def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_COMMON_ENTITIES = _wordset(
    """
    afghanistan africa african america american argentina asia asian australia australian austria bangladesh
    beijing belgium berlin brazil brazilian britain british brussels canada canadian china chinese delhi dubai
    egypt england english europe european france french geneva germany german greece greek hong kong india
    indian indonesia indonesian iran iranian iraq ireland israel israeli italy italian japan japanese korea
    korean london malaysia mexico moscow mumbai new york nigeria pakistan paris philippines poland russia
    russian saudi arabia seoul shanghai shenzhen singapore spain swiss switzerland taiwan taiwanese thailand
    tokyo turkey turkish uk ukraine ukrainian us usa u.s washington vietnam west western east eastern north
    south asia-pacific mainland europe global world international national federal state states united
    republic kingdom union city province district county region
    government authority authorities official officials regulator regulators ministry minister administration
    department bureau commission committee council agency office parliament congress senate court police
    army military party president premier chairman chairwoman chief ceo cfo director spokesman spokeswoman
    spokesperson secretary governor mayor prime king queen prince
    company companies group holding holdings corp corporation co inc ltd limited plc llc firm bank fund
    technology technologies tech news daily post times journal herald tribune press report reports reuters
    bloomberg ap afp xinhua cnn bbc associated
    internet online digital mobile app apps web data security public social media network market markets
    stock stocks exchange economy business industry new old first last next year years month week today
    ipo gdp covid coronavirus pandemic ai
    """
)
# Capitalised words that are not names even in mid-sentence (titles, quotes, headings).
_NOT_NAMES = _wordset(
    """
    a an the and or but nor for so yet of in on at to by with from into onto over under after before about
    as if than then when while where what which who whom whose why how this that these those there here it
    its he she they we you i me my our your his her their them us mr mrs ms dr sir st no not yes all any some
    each every both either neither one two three also however meanwhile according said says read see more
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    jan feb mar apr jun jul aug sep sept oct nov dec
    advertisement photo image video file getty updated published copyright
    utc gmt est edt pst pdt cet cest bst ist hkt jst sgt
    """
)
_MONTHS = {
    m: i
    for i, names in enumerate(
        (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
         ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"),
         ("nov", "november"), ("dec", "december")),
        start=1,
    )
    for m in names
}  # fmt: skip
# Characters skipped when looking back from a word for the end of the previous sentence.
_SKIP_BACK = frozenset(map(ord, " \t\u00a0\"“‘'([{«「『—–-•*"))
_SENTENCE_END = frozenset(map(ord, ".!?…:;\n"))
_NUMBER_PATTERN = (  # ASCII digits: [0-9] scans faster than \d, and other digits are NFKC-folded or rare
    r"(?P<int>[0-9]+(?:,[0-9]{3})*)(?P<dec>\.[0-9]+)?"
    r"(?P<unit>\s?(?:%|[Pp]er ?cent\b|[Pp]ercent\b|[Mm]illion\b|[Bb]illion\b|[Tt]rillion\b|[Tt]housand\b)"
    r"|(?:bn|mn|m|b|k)\b)?"
)
_NUMBER = re.compile(_NUMBER_PATTERN)
_DIGITS = re.compile(r"[0-9][0-9,.]*")  # finds where figures start: a simple pattern scans 3x faster


def _char_table(chars: str) -> npt.NDArray[np.bool_]:
    table = np.zeros(0x10000, dtype=np.bool_)
    table[[ord(c) for c in chars]] = True
    table.flags.writeable = False
    return table


_NUMBER_JOINERS = _char_table(".,/:-")  # after these, digits are no figure of their own: "v2.1", "18:57"
_UNITS = {"%": "%", "percent": "%", "per cent": "%", "percent ": "%", "million": "m", "mn": "m", "m": "m",
          "billion": "b", "bn": "b", "b": "b", "trillion": "t", "thousand": "k", "k": "k"}  # fmt: skip
_QUOTE = re.compile(
    r"“([^“”\n\x00]{1,300})”|\"([^\"\n\x00]{1,300})\"|«([^«»\n\x00]{1,300})»"
    r"|「([^「」\n\x00]{1,300})」|『([^『』\n\x00]{1,300})』|‘([^‘’\n\x00]{2,300})’"
)
_QUOTE_MARKS = '“"«「『‘'  # characters that may open a quote
_WORD_RUN = re.compile(r"\w+")
_SINGLE_CLASS = "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _SINGLE_RANGES)
_QUOTE_TOKEN = re.compile(
    f"[{_SINGLE_CLASS}]|[^\\W{_SINGLE_CLASS}]+"
)  # as tokens(): a Han or kana character alone


@cache
def _sentence_tables() -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """BMP tables: skipped when looking back for a sentence end; ends a sentence."""
    skip = np.zeros(0x10000, dtype=np.bool_)
    skip[list(_SKIP_BACK)] = True
    end = np.zeros(0x10000, dtype=np.bool_)
    end[list(_SENTENCE_END)] = True
    end[0] = True  # the NUL between the texts of a batch
    return skip, end


def _name_key(word: str) -> str | None:
    key = word.lower()
    if len(key) > 4 and key.endswith("s") and not key.endswith(("ss", "us", "is")):
        key = key[:-1]  # plural: "Deepfakes" and "deepfake" are one feature
    if len(key) < 2 or key in _NOT_NAMES or key.isdigit():
        return None
    return key


def _day_next_to(a: _Analysis, idx: int) -> tuple[int, int] | None:
    """The day number of "March 18(th)" or "18(th) March" around the month token ``idx``."""
    n = len(a.starts)
    for j in (idx + 1, idx - 1):
        if not 0 <= j < n:
            continue
        lo, hi = (idx, j) if j > idx else (j, idx)
        gap = a.joined[int(a.ends[lo]) : int(a.starts[hi])]
        if gap.strip(". ") != "" or "\x00" in gap:
            continue
        start = int(a.starts[j])
        tok = a.joined[start : int(a.ends[j])]
        digits = tok[:-2] if tok[-2:].lower() in ("st", "nd", "rd", "th") else tok
        if digits.isdigit() and len(digits) <= 2 and 1 <= int(digits) <= 31:
            return start, start + len(digits)
    return None


@cache
def _word_hashes(words: frozenset[str]) -> U64:
    return np.array(sorted({token_hash(w) for w in words}), dtype=np.uint64)


def _names_and_dates(a: _Analysis, out: list[dict[str, FeatureKind]]) -> set[int]:
    """Add name and date features of every text; return the offsets of day numbers (not figures).

    The filtering runs on arrays (capitalised, sentence-initial, stop word, month: by token hash), so
    Python only sees each distinct candidate name of a text once."""
    if not len(a.starts):
        return set()
    upper = _tables()[2]
    skip, end = _sentence_tables()
    first = a.cps[a.starts]
    cap = np.flatnonzero(np.take(upper, first, mode="clip") & (first <= 0xFFFF))  # capitalised tokens
    if not len(cap):
        return set()
    hashes = _hash_tokens(a)[cap]
    starts = a.starts[cap]
    month = np.isin(hashes, _word_hashes(frozenset(_MONTHS)))
    days = _dates(a, cap[month], out)
    # Sentence-initial: the last character before the word, skipping spaces, quotes and brackets, ends a
    # sentence (or there is none). Such a word counts as a name only if it also appears mid-sentence;
    # a short all-capitals word ("CAC") counts anywhere.
    significant = np.flatnonzero(~np.take(skip, a.cps, mode="clip"))
    k = np.searchsorted(significant, starts) - 1
    before = np.where(k >= 0, significant[np.maximum(k, 0)], -1)
    initial = (before < 0) | np.take(end, a.cps[np.maximum(before, 0)], mode="clip")
    length = a.ends[cap] - starts
    second = a.cps[np.minimum(starts + 1, len(a.cps) - 1)]
    acronym = (length >= 2) & (length <= 5) & np.take(upper, second, mode="clip")
    keep = ~month & (~initial | acronym) & (length >= 2) & ~np.isin(hashes, _word_hashes(_NOT_NAMES))
    idx = cap[keep]
    if not len(idx):
        return days
    # One occurrence per (text, token hash).
    _, first_of = np.unique(
        hashes[keep] ^ (a.token_text[idx].astype(np.uint64) * _SHINGLE_MULT), return_index=True
    )
    joined = a.joined
    chosen = idx[first_of]
    for s, e, doc in zip(
        a.starts[chosen].tolist(), a.ends[chosen].tolist(), a.token_text[chosen].tolist(), strict=True
    ):
        key = _name_key(joined[s:e])
        if key is not None:
            out[doc][f"entity:{key}"] = (
                FeatureKind.COMMON_ENTITY if key in _COMMON_ENTITIES else FeatureKind.ENTITY
            )
    return days


def _dates(a: _Analysis, months: npt.NDArray[np.intp], out: list[dict[str, FeatureKind]]) -> set[int]:
    days: set[int] = set()
    for idx in months.tolist():
        day_pos = _day_next_to(a, idx)
        if day_pos is not None:
            month = _MONTHS[a.joined[int(a.starts[idx]) : int(a.ends[idx])].lower()]
            day = int(a.joined[day_pos[0] : day_pos[1]])
            out[int(a.token_text[idx])][f"date:{month:02d}-{day:02d}"] = FeatureKind.DATE
            days.add(day_pos[0])
    return days


def _numbers(a: _Analysis, days: set[int], out: list[dict[str, FeatureKind]]) -> None:
    """Figures: a digit that does not continue a word or another figure ("A2", "v2.1", "18:57", "1/2",
    "COVID-19") starts one; found with arrays, then read (with its unit) by one anchored match each."""
    cps = a.cps
    if not len(cps):
        return
    digit = (cps >= 0x30) & (cps <= 0x39)
    prev = np.concatenate(([0], cps[:-1]))
    prev_word = np.take(_tables()[0], prev, mode="clip") != _SEP
    prev_joiner = np.take(_NUMBER_JOINERS, prev, mode="clip")
    starts = np.flatnonzero(digit & ~prev_word & ~prev_joiner)
    if days:
        starts = starts[~np.isin(starts, np.fromiter(days, dtype=np.intp))]
    if not len(starts):
        return
    doc_of = (np.searchsorted(a.offsets, starts, side="right") - 1).tolist()
    joined = a.joined
    size = len(joined)
    for s, doc in zip(starts.tolist(), doc_of, strict=True):
        m = _NUMBER.match(joined, s)
        assert m is not None  # starts with a digit
        e = m.end()
        if e < size and (joined[e].isalnum() or joined[e] == "%"):
            continue  # "5G", "3rd": part of a word
        if e + 1 < size and joined[e] in ":/" and joined[e + 1].isdigit():
            continue  # "18:57", "3/18": a time or a date
        name, kind = _number_feature(m.group())
        out[doc][name] = kind


@lru_cache(maxsize=1 << 16)
def _number_feature(number: str) -> tuple[str, FeatureKind]:
    """ "$37 billion" (matched as "37 billion") → ("number:37b", NUMBER)."""
    m = _NUMBER.match(number)
    assert m is not None  # the same pattern found it
    digits = m["int"].replace(",", "")
    dec = (m["dec"] or "")[1:].rstrip("0")
    unit = _UNITS.get((m["unit"] or "").lower().lstrip(), "")
    value = f"{int(digits)}{'.' + dec if dec else ''}{unit}"
    if unit or dec:
        kind = FeatureKind.NUMBER
    elif len(digits) == 4 and 1900 <= int(digits) <= 2100:
        kind = FeatureKind.YEAR
    elif int(digits) < 100:
        kind = FeatureKind.SMALL_NUMBER
    else:
        kind = FeatureKind.NUMBER
    return f"number:{value}", kind


def _quote_marks(text: str) -> list[int]:
    """Offsets of every opening-quote character, in order (str.find runs at C speed; a regex
    character class steps through the text in the interpreter's matching loop)."""
    marks: list[int] = []
    for mark in _QUOTE_MARKS:
        pos = text.find(mark)
        while pos >= 0:
            marks.append(pos)
            pos = text.find(mark, pos + 1)
    marks.sort()
    return marks


def _quotes(joined: str, offsets: list[int], out: list[dict[str, FeatureKind]]) -> None:
    doc = end = 0
    for start in _quote_marks(joined):
        if start < end:
            continue  # the closing mark of the quote just read
        m = _QUOTE.match(joined, start)
        if m is None:
            continue
        end = m.end()
        inner = next(g for g in m.groups() if g is not None)
        toks = _WORD_RUN.findall(inner.lower()) if inner.isascii() else _QUOTE_TOKEN.findall(inner.lower())
        if not toks:
            continue
        while doc + 1 < len(offsets) and offsets[doc + 1] <= m.start():
            doc += 1
        out[doc]["quote:" + " ".join(toks)] = FeatureKind.QUOTE if len(toks) >= 3 else FeatureKind.SHORT_QUOTE


def story_features_many(texts: Sequence[str]) -> list[dict[str, FeatureKind]]:
    """:func:`story_features` of each text, with the character work vectorised over the batch."""
    out: list[dict[str, FeatureKind]] = [{} for _ in texts]
    for first, a in _chunks(texts):
        _story_features_of_chunk(a, out[first : first + len(a.offsets)])
    return out


def _story_features_of_chunk(a: _Analysis, out: list[dict[str, FeatureKind]]) -> None:
    offsets = a.offsets.tolist()
    days = _names_and_dates(a, out)
    _numbers(a, days, out)
    _quotes(a.joined, offsets, out)


def story_features(text: str) -> dict[str, FeatureKind]:
    """Names, figures, dates and quotes of a text: the evidence that two rewrites report one event.

    Names are capitalised words (tokens as in :func:`tokens`), counted only when seen mid-sentence: a
    capitalised first word of a sentence is usually no name ("Founded in 2015, ..."). Hyphenated and
    possessive forms reduce to their first part ("Clubhouse-like", "ByteDance’s" → "clubhouse",
    "bytedance") and plurals to the singular ("Deepfakes" → "deepfake"). Figures keep their unit
    ("$37 billion" → "37b"); "March 18th" is a date, not a number.

    >>> feats = story_features("Shares of Kuaishou rose 15% on March 18 after it raised $5.4 billion, "
    ...                        "the Hong Kong exchange said. “We are pleased,” Kuaishou said.")
    >>> sorted(feats)  # doctest: +NORMALIZE_WHITESPACE
    ['date:03-18', 'entity:hong', 'entity:kong', 'entity:kuaishou', 'number:15%', 'number:5.4b',
     'quote:we are pleased']
    >>> feats["entity:hong"].name, feats["number:5.4b"].name
    ('COMMON_ENTITY', 'NUMBER')
    """
    return story_features_many([text])[0]


_KIND_SHIFT = np.uint64(60)
_VALUE_MASK = (1 << 60) - 1


def feature_hashes(features: dict[str, FeatureKind]) -> U64:
    """Sorted 64-bit hashes of features, the kind in the top 4 bits (what the index stores).

    >>> h = feature_hashes({"entity:kuaishou": FeatureKind.ENTITY, "number:37b": FeatureKind.NUMBER})
    >>> sorted(int(x) >> 60 for x in h)
    [1, 3]
    """
    values = [_feature_value(name) | (int(kind) << 60) for name, kind in features.items()]
    return np.unique(np.array(values, dtype=np.uint64))


def _feature_hash_lists(features: list[dict[str, FeatureKind]]) -> list[U64]:
    """``feature_hashes`` of many documents with one sort instead of one per document."""
    values = [_feature_value(name) | (int(kind) << 60) for f in features for name, kind in f.items()]
    owner = np.repeat(np.arange(len(features), dtype=np.uint64), [len(f) for f in features])
    hashes = np.array(values, dtype=np.uint64)
    order = np.lexsort((hashes, owner))
    hashes = hashes[order]  # by document, then value; a document's features are unique names
    return list(np.split(hashes, np.cumsum([len(f) for f in features])[:-1]))


@lru_cache(maxsize=1 << 18)  # names and figures recur across documents; a hit costs a tenth of a hash
def _feature_value(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little") & _VALUE_MASK


def feature_kinds(hashes: U64) -> npt.NDArray[np.intp]:
    return (hashes >> _KIND_SHIFT).astype(np.intp)


@dataclass(frozen=True, slots=True)
class StoryScore:
    shared_weight: float  # sum of the weights of the shared features
    overlap: float  # shared weight / the smaller document's total weight
    anchors: int  # shared features with weight ≥ anchor_weight

    def same_story(self, config: SimilarityConfig = DEFAULT_SIMILARITY) -> bool:
        return (
            self.shared_weight >= config.story_min_weight
            and self.overlap >= config.story_min_overlap
            and self.anchors >= config.story_min_anchors
        )


def story_weight(hashes: U64, config: SimilarityConfig = DEFAULT_SIMILARITY) -> float:
    """Total weight of a document's features."""
    return float(config.kind_weights()[feature_kinds(hashes)].sum())


def story_score(a: U64, b: U64, config: SimilarityConfig = DEFAULT_SIMILARITY) -> StoryScore:
    """Weighted overlap of two documents' story features (``feature_hashes`` arrays).

    >>> x = feature_hashes(story_features("On Thursday Alibaba, Tencent, Kuaishou and Xiaomi met the CAC."))
    >>> y = feature_hashes(story_features("The CAC summoned Alibaba, Tencent, Kuaishou and Xiaomi."))
    >>> s = story_score(x, y)
    >>> s.anchors, s.shared_weight, s.overlap, s.same_story()
    (5, 5.0, 1.0, False)
    """
    weights = config.kind_weights()
    shared = np.intersect1d(a, b, assume_unique=True)
    return shared_score(
        shared, float(weights[feature_kinds(a)].sum()), float(weights[feature_kinds(b)].sum()), config
    )


def shared_score(
    shared: U64, total_a: float, total_b: float, config: SimilarityConfig = DEFAULT_SIMILARITY
) -> StoryScore:
    """``story_score`` from the shared features and each document's total weight (the index keeps
    the totals, so a pair costs one intersection)."""
    w_shared = config.kind_weights()[feature_kinds(shared)]
    smaller = min(total_a, total_b)
    shared_weight = float(w_shared.sum())
    return StoryScore(
        shared_weight=shared_weight,
        overlap=shared_weight / smaller if smaller > 0 else 0.0,
        anchors=int(np.count_nonzero(w_shared >= config.anchor_weight)),
    )


def story_weights(
    features: Sequence[U64], config: SimilarityConfig = DEFAULT_SIMILARITY
) -> npt.NDArray[np.float64]:
    """Total feature weight of each document (``story_weight`` for many at once)."""
    lengths = np.array([len(f) for f in features], dtype=np.intp)
    if not lengths.sum():
        return np.zeros(len(features), dtype=np.float64)
    flat = np.concatenate(list(features))
    owner = np.repeat(np.arange(len(features)), lengths)
    weights = config.kind_weights()[feature_kinds(flat)]
    return np.bincount(owner, weights=weights, minlength=len(features)).astype(np.float64, copy=False)


def same_story_many(
    a: Sequence[U64],
    b: Sequence[U64],
    total_a: npt.NDArray[np.float64],
    total_b: npt.NDArray[np.float64],
    config: SimilarityConfig = DEFAULT_SIMILARITY,
) -> npt.NDArray[np.bool_]:
    """``story_score(a[i], b[i]).same_story()`` for many pairs with one sort: the features of both sides
    of every pair, tagged with the pair, sorted; a feature seen twice in a pair is shared.

    >>> x = feature_hashes(story_features("The CAC summoned Alibaba, Tencent, Kuaishou and Xiaomi over "
    ...                                   "“security assessments” of a $37 billion plan."))
    >>> y = feature_hashes(story_features("Regulators met Alibaba, Tencent, Kuaishou, Xiaomi and ByteDance."))
    >>> w = story_weights([x, y])
    >>> same_story_many([x, x], [y, x], w[[0, 0]], w[[1, 0]]).tolist()  # four names shared: 4.0; itself: 7.5
    [False, True]
    """
    n = len(a)
    if not n:
        return np.zeros(0, dtype=np.bool_)
    lengths = np.array([len(f) for f in a] + [len(f) for f in b], dtype=np.intp)
    flat = np.concatenate([*a, *b]) if lengths.sum() else np.empty(0, dtype=np.uint64)
    pair = np.repeat(np.concatenate((np.arange(n), np.arange(n))), lengths)
    order = np.lexsort((flat, pair))
    flat, pair = flat[order], pair[order]
    twice = (flat[1:] == flat[:-1]) & (pair[1:] == pair[:-1])  # a document's features are unique
    shared, shared_pair = flat[1:][twice], pair[1:][twice]
    weights = config.kind_weights()[feature_kinds(shared)]
    shared_weight = np.bincount(shared_pair, weights=weights, minlength=n)
    anchors = np.bincount(shared_pair[weights >= config.anchor_weight], minlength=n)
    smaller = np.minimum(total_a, total_b)
    overlap = np.divide(shared_weight, smaller, out=np.zeros(n), where=smaller > 0)
    return (
        (shared_weight >= config.story_min_weight)
        & (overlap >= config.story_min_overlap)
        & (anchors >= config.story_min_anchors)
    )


def story_similarity(text_a: str, text_b: str, config: SimilarityConfig = DEFAULT_SIMILARITY) -> StoryScore:
    """``story_score`` of two texts (REPL convenience)."""
    return story_score(feature_hashes(story_features(text_a)), feature_hashes(story_features(text_b)), config)


# ---------------------------------------------------------------------------------------------------
# Times


def parse_timestamp(value: str | None) -> int | None:
    """Microseconds since the epoch (UTC) of an ISO 8601 date or date-time; None if absent or unreadable.
    A date alone is its midnight UTC; a date-time without offset is taken as UTC.

    >>> parse_timestamp("1970-01-02"), parse_timestamp("1970-01-01T01:00:00+01:00"), parse_timestamp("soon")
    (86400000000, 0, None)
    """
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
