"""How natural a piece of text is: a character-class bigram model with per-class character frequencies.

The cost of a text is its negative log2-probability under

    P(text) = prod_i P(class_i | class_{i-1}) * P(char_i | class_i)

Class transitions and character counts come from ``chartable.json`` (built by
``python -m cleaning.mojibake.build chartable`` from translation catalogs, manual pages and news text
available offline). Characters never seen get a prior from encoding knowledge: the common tiers of the
legacy CJK standards (GB2312 level 1, Big5 frequent range, JIS X 0208 level 1, KS X 1001 hangul) are far
more likely than the rest, which is exactly what separates real CJK text from mojibake (UTF-8 bytes read
as GBK give ``鈥 娌 缃 鍙``: valid characters that almost never appear in real text).

>>> model = default_model()
>>> model.cost("中国") < model.cost("涓浗")
True
>>> model.cost("café") < model.cost("caf茅")
True
"""

from __future__ import annotations

import bisect
import contextlib
import json
import math
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

# Character classes. The order is part of the chartable format: append, never reorder.
CLASS_NAMES: tuple[str, ...] = (
    "space",  # whitespace (not U+3000)
    "digit",  # ASCII digits
    "lower",  # Latin lower case (ASCII, accented, extended)
    "upper",  # Latin upper case
    "punct",  # ASCII punctuation and symbols, general punctuation, Latin-1 punctuation
    "symbol",  # Latin-1 and other symbols: © ° ± ¹ ¼ ™ arrows, math, misc symbols, dingbats
    "box",  # box drawing and block elements (typical of mojibake, rare in text)
    "han",  # CJK ideographs
    "kana",  # hiragana, katakana
    "halfkana",  # half-width katakana
    "hangul",
    "cjkpunct",  # CJK symbols and punctuation, full-width punctuation, ideographic space
    "fullwidth",  # full-width Latin letters and digits
    "greek",
    "cyrillic",
    "hebrew",
    "arabic",
    "indic",  # Devanagari .. Sinhala
    "sea",  # Thai, Lao, Tibetan, Myanmar, Khmer
    "letter",  # other scripts' letters (Armenian, Georgian, Ethiopic, ...)
    "mark",  # generic combining marks
    "format",  # Cf: soft hyphen, zero-width (non-)joiners, direction marks
    "emoji",
    "pua",  # private use
    "bad",  # U+FFFD, controls, surrogates, unassigned, noncharacters
)
N_CLASSES = len(CLASS_NAMES)
C = {name: i for i, name in enumerate(CLASS_NAMES)}
SPACE, DIGIT, LOWER, UPPER, PUNCT = C["space"], C["digit"], C["lower"], C["upper"], C["punct"]
SYMBOL, BOX, HAN, KANA, HALFKANA, HANGUL = (
    C["symbol"],
    C["box"],
    C["han"],
    C["kana"],
    C["halfkana"],
    C["hangul"],
)
CJKPUNCT, FULLWIDTH, GREEK, CYRILLIC = C["cjkpunct"], C["fullwidth"], C["greek"], C["cyrillic"]
HEBREW, ARABIC, INDIC, SEA, LETTER = C["hebrew"], C["arabic"], C["indic"], C["sea"], C["letter"]
MARK, FORMAT, EMOJI, PUA, BAD = C["mark"], C["format"], C["emoji"], C["pua"], C["bad"]

# Classes that make up CJK text, and classes whose letters form words of a script.
CJK_CLASSES = frozenset({HAN, KANA, HALFKANA, HANGUL, CJKPUNCT, FULLWIDTH})
SCRIPT_OF_CLASS = {
    LOWER: "latin",
    UPPER: "latin",
    HAN: "cjk",
    KANA: "cjk",
    HALFKANA: "cjk",
    HANGUL: "cjk",
    FULLWIDTH: "cjk",
    GREEK: "greek",
    CYRILLIC: "cyrillic",
    HEBREW: "hebrew",
    ARABIC: "arabic",
    INDIC: "indic",
    SEA: "sea",
    LETTER: "letter",
}

_BLOCKS: tuple[tuple[int, int, int], ...] = (
    # (first, last, class) checked before the general-category rules; sorted by first.
    (0x0300, 0x036F, MARK),
    (0x0370, 0x03FF, GREEK),
    (0x0400, 0x052F, CYRILLIC),
    (0x0590, 0x05FF, HEBREW),
    (0x0600, 0x06FF, ARABIC),
    (0x0750, 0x077F, ARABIC),
    (0x08A0, 0x08FF, ARABIC),
    (0x0900, 0x0DFF, INDIC),
    (0x0E00, 0x0FFF, SEA),
    (0x1000, 0x109F, SEA),
    (0x1100, 0x11FF, HANGUL),
    (0x1780, 0x17FF, SEA),
    (0x1AB0, 0x1AFF, MARK),
    (0x1C80, 0x1C8F, CYRILLIC),
    (0x1DC0, 0x1DFF, MARK),
    (0x1F00, 0x1FFF, GREEK),
    (0x20D0, 0x20FF, MARK),
    (0x2190, 0x24FF, SYMBOL),
    (0x2500, 0x259F, BOX),
    (0x25A0, 0x27BF, SYMBOL),
    (0x27C0, 0x2BFF, SYMBOL),
    (0x2DE0, 0x2DFF, CYRILLIC),
    (0x2E80, 0x2FDF, HAN),
    (0x3000, 0x3000, CJKPUNCT),
    (0x3001, 0x3006, CJKPUNCT),
    (0x3007, 0x3007, HAN),
    (0x3008, 0x303F, CJKPUNCT),
    (0x3040, 0x30FF, KANA),
    (0x3130, 0x318F, HANGUL),
    (0x31F0, 0x31FF, KANA),
    (0x3200, 0x33FF, CJKPUNCT),
    (0x3400, 0x4DBF, HAN),
    (0x4E00, 0x9FFF, HAN),
    (0xA640, 0xA69F, CYRILLIC),
    (0xA960, 0xA97F, HANGUL),
    (0xAC00, 0xD7AF, HANGUL),
    (0xD7B0, 0xD7FF, HANGUL),
    (0xE000, 0xF8FF, PUA),
    (0xF900, 0xFAFF, HAN),
    (0xFB1D, 0xFB4F, HEBREW),
    (0xFB50, 0xFDFF, ARABIC),
    (0xFE00, 0xFE0F, EMOJI),
    (0xFE20, 0xFE2F, MARK),
    (0xFE30, 0xFE4F, CJKPUNCT),
    (0xFE50, 0xFE6F, CJKPUNCT),
    (0xFE70, 0xFEFE, ARABIC),
    (0xFF01, 0xFF0F, CJKPUNCT),
    (0xFF10, 0xFF19, FULLWIDTH),
    (0xFF1A, 0xFF20, CJKPUNCT),
    (0xFF21, 0xFF3A, FULLWIDTH),
    (0xFF3B, 0xFF40, CJKPUNCT),
    (0xFF41, 0xFF5A, FULLWIDTH),
    (0xFF5B, 0xFF60, CJKPUNCT),
    (0xFF61, 0xFF9F, HALFKANA),
    (0xFFA0, 0xFFDC, HANGUL),
    (0xFFE0, 0xFFEE, CJKPUNCT),
    (0x1F000, 0x1FAFF, EMOJI),
    (0x20000, 0x3FFFF, HAN),
    (0xF0000, 0x10FFFF, PUA),
)
_BLOCK_STARTS = [b[0] for b in _BLOCKS]

_class_cache: dict[str, int] = {}


def _classify(ch: str) -> int:
    o = ord(ch)
    if o < 0x80:
        if ch.isspace():
            return SPACE
        if o < 0x20 or o == 0x7F:
            return BAD
        if "0" <= ch <= "9":
            return DIGIT
        if "a" <= ch <= "z":
            return LOWER
        if "A" <= ch <= "Z":
            return UPPER
        return PUNCT
    if ch == "\ufffd" or 0xFDD0 <= o <= 0xFDEF or (o & 0xFFFE) == 0xFFFE:
        return BAD
    i = bisect.bisect_right(_BLOCK_STARTS, o) - 1
    if i >= 0 and _BLOCKS[i][0] <= o <= _BLOCKS[i][1]:
        return _BLOCKS[i][2]
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cs", "Cn", "Co"):
        return SPACE if ch in "\x85" else BAD
    if ch.isspace():
        return SPACE
    if cat == "Cf":
        return EMOJI if o == 0x200D else FORMAT
    if cat in ("Ll", "Lu", "Lt", "Lm", "Lo"):
        name = unicodedata.name(ch, "")
        if "LATIN" in name:
            return UPPER if cat in ("Lu", "Lt") else LOWER
        if cat == "Lm" and 0x2B0 <= o <= 0x2FF:
            return SYMBOL
        return LETTER if o >= 0x100 else SYMBOL  # ª º are Lo in Latin-1
    if cat.startswith("M"):
        return MARK
    if cat.startswith("N"):
        return SYMBOL if cat == "No" else DIGIT
    if cat.startswith("P"):
        return PUNCT
    return SYMBOL


def char_class(ch: str) -> int:
    """The class of one character (cached).

    >>> [CLASS_NAMES[char_class(c)] for c in "a中ｶ©\ufffd"]
    ['lower', 'han', 'halfkana', 'symbol', 'bad']
    """
    k = _class_cache.get(ch)
    if k is None:
        k = _class_cache[ch] = _classify(ch)
    return k


# --- Priors for characters never seen in the training text, from encoding knowledge. -------------


def _decode_rows(
    codec: str, leads: range, trails: list[int], lo: bytes = b"", hi: bytes = b"\xff\xff"
) -> set[str]:
    out: set[str] = set()
    for a in leads:
        for b in trails:
            raw = bytes((a, b))
            if not lo <= raw <= hi:
                continue
            with contextlib.suppress(UnicodeDecodeError):
                out.add(raw.decode(codec))
    return out


@cache
def common_han() -> frozenset[str]:
    """GB2312 level 1, the Big5 frequent range and JIS X 0208 level 1: ~7,200 ideographs."""
    gb1 = _decode_rows("gb2312", range(0xB0, 0xD8), list(range(0xA1, 0xFF)))
    b5t = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    big5 = _decode_rows("big5", range(0xA4, 0xC7), b5t, hi=b"\xc6\x7e")
    sjt = [*range(0x40, 0x7F), *range(0x80, 0xFD)]
    jis1 = _decode_rows("shift_jis", range(0x88, 0x99), sjt, lo=b"\x88\x9f", hi=b"\x98\x72")
    return frozenset(gb1 | big5 | jis1)


@cache
def secondary_han() -> frozenset[str]:
    """GB2312 level 2, Big5 less-frequent range and JIS X 0208 level 2, minus the common set."""
    gb2 = _decode_rows("gb2312", range(0xD8, 0xF8), list(range(0xA1, 0xFF)))
    b5t = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    big5 = _decode_rows("big5", range(0xC9, 0xFA), b5t)
    sjt = [*range(0x40, 0x7F), *range(0x80, 0xFD)]
    jis2 = _decode_rows("shift_jis", range(0x98, 0xEB), sjt, lo=b"\x98\x9f")
    return frozenset((gb2 | big5 | jis2) - common_han())


@cache
def common_hangul() -> frozenset[str]:
    """The 2,350 hangul syllables of KS X 1001 (EUC-KR), which cover nearly all running text."""
    return frozenset(_decode_rows("euc_kr", range(0xB0, 0xC9), list(range(0xA1, 0xFF))))


def _prior_weight(ch: str, k: int) -> float:
    """Relative prior of an unseen character within its class."""
    o = ord(ch)
    if k == HAN:
        if ch in common_han():
            return 1.0
        if ch in secondary_han():
            return 0.1
        return 0.01 if o < 0x20000 else 0.003
    if k == HANGUL:
        return 1.0 if ch in common_hangul() else 0.01
    if k in (LOWER, UPPER):
        if o < 0x100:
            return 1.0
        if o < 0x180 or 0x1E00 <= o <= 0x1EFF:
            return 0.3
        return 0.03
    if k == KANA:
        return 1.0 if 0x3041 <= o <= 0x30FA else 0.1
    return 1.0


# Size of the prior's support per class (roughly the repertoire of each class), so that the prior is a
# distribution: an unseen character costs log2(support / weight) bits more than a uniform guess.
_PRIOR_MASS: dict[int, float] = {
    HAN: 7200 * 1.0 + 17000 * 0.1 + 70000 * 0.01 + 60000 * 0.003,
    HANGUL: 2350 * 1.0 + 8822 * 0.01,
    LOWER: 64 + 300 * 0.3 + 400 * 0.03,
    UPPER: 64 + 300 * 0.3 + 400 * 0.03,
    KANA: 180 + 20 * 0.1,
}
_DEFAULT_MASS = 400.0
_PRIOR_MASS.update({LETTER: 3000.0, INDIC: 1000.0, SEA: 600.0, SYMBOL: 2000.0, HALFKANA: 63.0})
# Classes that hold several scripts: a change of script between two neighbouring letters of the same
# class (Thaana then Syriac, Devanagari then Tamil) costs this many bits.
_MULTI_SCRIPT = frozenset({LETTER, INDIC, SEA})
_SCRIPT_SWITCH = 10.0
# Half-width katakana are rare in the training text but legitimate: they move like katakana, a little
# more expensively.
_HALFKANA_EXTRA = 2.0
# How much the observed counts are trusted over the prior: lambda = N / (N + PSEUDO).
_PSEUDO = 2000.0


_BIGRAM_CLASSES = frozenset({HAN, KANA, HANGUL, CJKPUNCT})


def bigram_token(ch: str) -> str:
    """The token a character counts as in CJK bigrams: itself for CJK characters and punctuation,
    ``#`` for a digit, ``$`` for a line break, ``~`` for anything else.

    >>> [bigram_token(c) for c in "号7\\na。"]
    ['号', '#', '$', '~', '。']
    """
    if char_class(ch) in _BIGRAM_CLASSES:
        return ch
    if ch.isdigit():
        return "#"
    return "$" if ch in "\n\r" else "~"


@dataclass(frozen=True, slots=True)
class CharModel:
    trans: tuple[tuple[float, ...], ...]  # bits: -log2 P(class_b | class_a)
    seen: dict[str, float]  # bits: -log2 P(char | class) for characters in the training text
    class_total: tuple[float, ...]  # training characters per class
    cost_cache: dict[str, tuple[int, float]]  # character -> (class, cost)
    bigrams: dict[str, float]  # "ab" -> count, for CJK text (see bigram_token)
    bigram_rows: dict[str, float]  # "a" -> total count of pairs starting with a

    def char_cost(self, ch: str) -> float:
        """-log2 P(ch | class(ch)), in bits."""
        info = self.cost_cache.get(ch)
        if info is None:
            info = self._info(ch)
        return info[1]

    def _info(self, ch: str) -> tuple[int, float]:
        k = char_class(ch)
        n = self.class_total[k]
        lam = n / (n + _PSEUDO)
        p_prior = _prior_weight(ch, k) / _PRIOR_MASS.get(k, _DEFAULT_MASS)
        p_seen = 2.0 ** -self.seen[ch] if ch in self.seen else 0.0
        info = (k, -math.log2(lam * p_seen + (1.0 - lam) * p_prior))
        self.cost_cache[ch] = info
        return info

    def cost(self, text: str, before: str = " ", after: str | None = None) -> float:
        """Bits to encode ``text`` after the character ``before`` (and, if given, followed by ``after``)."""
        trans = self.trans
        cache = self.cost_cache
        prev_ch = before or " "
        prev = char_class(prev_ch)
        total = 0.0
        for ch in text:
            info = cache.get(ch)
            if info is None:
                info = self._info(ch)
            k = info[0]
            total += trans[prev][k] + info[1]
            if k == prev and k in _MULTI_SCRIPT and ord(ch) >> 7 != ord(prev_ch) >> 7:
                total += _SCRIPT_SWITCH
            prev = k
            prev_ch = ch
        if after:
            total += trans[prev][char_class(after)]
        return total


def _load(data: dict[str, object]) -> CharModel:
    counts_by_class = [0.0] * N_CLASSES
    char_counts: dict[str, float] = {}
    groups = data["chars"]
    assert isinstance(groups, list)
    for count, chars in groups:
        for ch in chars:
            char_counts[ch] = float(count)
            counts_by_class[char_class(ch)] += float(count)
    seen = {ch: -math.log2(n / counts_by_class[char_class(ch)]) for ch, n in char_counts.items() if n > 0}
    raw_trans = data["transitions"]
    assert isinstance(raw_trans, list)
    trans: list[list[float]] = []
    for row in raw_trans:
        # add-half smoothing over the classes, in log2
        total = sum(row) + N_CLASSES * 0.5
        trans.append([-math.log2((x + 0.5) / total) for x in row])
    for k in range(N_CLASSES):
        trans[k][HALFKANA] = trans[k][KANA] + _HALFKANA_EXTRA
        trans[HALFKANA][k] = trans[KANA][k] + _HALFKANA_EXTRA
    trans[HALFKANA][HALFKANA] = trans[KANA][KANA]
    bigrams: dict[str, float] = {}
    rows: dict[str, float] = {}
    for count, pairs in data.get("bigrams", []):  # type: ignore[attr-defined]  # list of [count, str]
        for i in range(0, len(pairs), 2):
            bigrams[pairs[i : i + 2]] = float(count)
            rows[pairs[i]] = rows.get(pairs[i], 0.0) + float(count)
    return CharModel(tuple(tuple(row) for row in trans), seen, tuple(counts_by_class), {}, bigrams, rows)


@cache
def default_model() -> CharModel:
    """The model shipped with the package (loaded once per process)."""
    text = resources.files("cleaning.mojibake").joinpath("chartable.json").read_text(encoding="utf-8")
    return _load(json.loads(text))
