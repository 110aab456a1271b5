"""Find spans of CJK mojibake and decide, span by span, whether undoing the wrong decoding is better.

For each run of non-ASCII characters and each wrong codec, the characters are mapped back to the bytes
the wrong decoder saw; stretches of those bytes that are UTF-8 (allowing for lost bytes, see
``utf8.py``) become candidates. Legacy CJK bytes read as cp1252 are found the same way in the other
direction. A candidate replaces its span only when the character model (``model.py``) finds it more
natural than the span by a margin (the ``gain``, in bits): mojibake is made of rare characters mixed
across scripts, real text of common characters in one script.

Evidence is shared within a text: once one span is repaired with high confidence as, say, UTF-8 read
as GBK, other spans of the same text with the same signature need less gain (a page is usually broken
in one way, in its title, a paragraph or its footer).
"""

from __future__ import annotations

import bisect
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache

from cleaning.mojibake.bytemaps import (
    CP1252,
    LEGACY_CODECS,
    UTF8_MISREADS,
    ByteMap,
    LegacyCodec,
    is_trail_byte,
)
from cleaning.mojibake.complete import UNKNOWN, fill, fillable
from cleaning.mojibake.model import (
    BAD,
    CYRILLIC,
    DIGIT,
    GREEK,
    HAN,
    HANGUL,
    LOWER,
    PUA,
    PUNCT,
    SCRIPT_OF_CLASS,
    SPACE,
    SYMBOL,
    UPPER,
    CharModel,
    char_class,
    common_han,
    common_hangul,
    default_model,
)
from cleaning.mojibake.utf8 import HOLE, Gap, parse, seq_len

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Thresholds:
    # Gain (bits) a span needs on its own. Mojibake spans of a few characters gain 30-200 bits; real
    # text whose bytes happen to decode in another codec loses bits. Tuned on the dev pool so that no
    # negative is changed, with margin.
    strong: float = 24.0
    # Gain a span needs when the same text already has a strong repair of the same kind.
    weak: float = 6.0
    # Cost of a byte lost without a U+FFFD marking it, at the end of a run where the wrong decoder
    # must have dropped it (its next byte was not a valid trail byte) ...
    silent_loss_end: float = 3.0
    # ... and anywhere else.
    silent_loss_mid: float = 10.0
    # Penalty for letters of a script foreign to the surrounding text (first letter, then each more).
    island_first: float = 10.0
    island_more: float = 1.0
    # ASCII letters inside CJK text are common (brand names, code): smaller penalty (accented ones are
    # not).
    island_latin_in_cjk: float = 3.0
    # A legacy decoding must read like real text on its own: at most this many bits per character on
    # average (real CJK text: 7-11; random byte pairs decoded as GBK or Shift_JIS: 16 and more).
    legacy_mean_bits: float = 15.0
    # Where two codecs explain a span, the one with most evidence in the text gets this head start.
    favourite_bonus: float = 8.0
    # Extra gain for a Latin-1 symbol in a context it typically has (``Copyright ©``, ``30 °C``).
    symbol_bonus: float = 16.0
    # Expected cost of a character whose bytes were partly lost, before it is filled from context.
    gap_bits: float = 12.0


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class Candidate:
    start: int
    end: int
    original: str
    replacement: str
    kind: str  # "cjk-mojibake" (UTF-8 read as a CJK codec) or "cjk-legacy" (CJK bytes read as cp1252)
    codec: str  # e.g. "utf-8 read as gbk"
    gain: float  # bits by which the replacement is more natural
    lost_bytes: int  # bytes lost upstream (inferred or marked U+FFFD in the replacement)
    confidence: float
    # the decoded units (characters, or gaps to fill from context) and, per unit, whether a gap's byte
    # was lost in the middle of a GB18030 run (which only happens to byte 0x80)
    units: tuple[str | Gap, ...] = ()
    mid_run: tuple[bool, ...] = ()
    # mostly lost bytes, and more of them than the text marks with U+FFFD: only repaired where the text
    # already shows this codec at work
    needs_evidence: bool = False


def detection_confidence(gain: float) -> float:
    """How sure a repair is, from its gain: 6 bits -> 0.5, 24 bits -> 0.94.

    >>> detection_confidence(6.0), detection_confidence(24.0)
    (0.5, 0.938)
    """
    return round(1.0 - 2.0 ** (-max(gain, 0.0) / 6.0), 3)


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# Characters that cp1252/Latin-1 produce for bytes 0x80-0xFF.
_CP1252_HIGH = "".join(
    sorted({bytes([b]).decode("latin-1") for b in range(0x80, 0x100)} | {c for c, _ in CP1252.extra})
)
# Two high characters in a row, or with an ASCII trail byte between them (Big5, Shift_JIS, GBK).
_LEGACY_HINT = re.compile("[" + re.escape(_CP1252_HIGH) + "][\x40-\x7e]?[" + re.escape(_CP1252_HIGH) + "]")
_LEGACY_RUN = re.compile("(?:[" + re.escape(_CP1252_HIGH) + "][\x40-\x7e]?)+")


_SCRIPT_LETTERS = {
    "latin": re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]"),
    "cjk": re.compile("[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7a3\uf900-\ufaff\uff10-\uff5a\uff61-\uff9f]"),
    "cyrillic": re.compile("[\u0400-\u052f]"),
    "greek": re.compile("[\u0370-\u03ff\u1f00-\u1fff]"),
    "arabic": re.compile("[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufefe]"),
    "hebrew": re.compile("[\u0590-\u05ff]"),
    "indic": re.compile("[\u0900-\u0dff]"),
    "sea": re.compile("[\u0e00-\u0fff\u1000-\u109f\u1780-\u17ff]"),
}


def _dominant_script(text: str, start: int, end: int) -> str | None:
    """The script of (nearly) all letters around ``text[start:end]`` on its line, if there is one."""
    lo = max(text.rfind("\n", 0, start) + 1, start - 200)
    hi = text.find("\n", end)
    hi = min(len(text) if hi < 0 else hi, end + 200)
    return _dominant_in(text[lo:start] + " " + text[end:hi])


@lru_cache(maxsize=4096)  # asked again for the same span by each codec and pass
def _dominant_in(window: str) -> str | None:
    counts = {script: len(pattern.findall(window)) for script, pattern in _SCRIPT_LETTERS.items()}
    total = sum(counts.values())
    if total < 6:
        return None
    script = max(counts, key=counts.__getitem__)
    return script if counts[script] >= 0.9 * total else None


def _island_cost(s: str, dominant: str | None, th: Thresholds) -> float:
    if dominant is None:
        return 0.0
    cost = 0.0
    in_island = False
    for ch in s:
        script = SCRIPT_OF_CLASS.get(char_class(ch))
        if script is None:
            continue  # digits, spaces, punctuation, symbols belong to every script
        if script == dominant:
            in_island = False
            continue
        if dominant == "cjk" and script == "latin" and ch < "\x80":
            cost += th.island_latin_in_cjk if not in_island else 0.0
        else:
            cost += th.island_more if in_island else th.island_first
        in_island = True
    return cost


def _gain(
    model: CharModel, text: str, start: int, end: int, replacement: str, th: Thresholds, dominant: str | None
) -> float:
    before = text[start - 1] if start > 0 else "\n"
    after = text[end] if end < len(text) else "\n"
    original = text[start:end]
    cost_orig = model.cost(original, before, after) + _island_cost(original, dominant, th)
    cost_new = model.cost(replacement, before, after) + _island_cost(replacement, dominant, th)
    return cost_orig - cost_new


# --- UTF-8 read as a CJK codec ---------------------------------------------------------------------


def _utf8_candidates(
    text: str,
    run_start: int,
    run_end: int,
    bmap: ByteMap,
    model: CharModel,
    th: Thresholds,
    dominant: str | None,
) -> list[Candidate]:
    next_byte = ord(text[run_end]) if run_end < len(text) else None
    whole = _whole_run(text[run_start:run_end], bmap)
    if whole is not None:
        cand = _utf8_candidate(text, run_start, run_end, whole, True, next_byte, bmap, model, th, dominant)
        return [] if cand is None else [cand]
    toks: list[int] = []
    tok_char: list[int] = []  # character index (in text) of each token
    bounds: set[int] = set()
    to_bytes = bmap.to_bytes
    for i in range(run_start, run_end):
        ch = text[i]
        bounds.add(len(toks))
        if ch == UNKNOWN:
            toks.append(HOLE)
            tok_char.append(i)
            continue
        raw = to_bytes(ch)
        if (
            bmap.ambiguous
            and (alt := bmap.alternative(ch)) is not None
            and _prefer_alternative(text, i + 1, run_end, alt, bmap)
        ):
            raw = alt
        if raw is None:
            toks.append(0xFF)  # no UTF-8 byte: a stretch cannot cross this character
            tok_char.append(i)
        else:
            toks.extend(raw)
            tok_char.extend([i] * len(raw))
    n = len(toks)
    bounds.add(n)
    tok_char.append(run_end)

    out: list[Candidate] = []
    p = 0
    while p < n:
        t = toks[p]
        if t == HOLE or seq_len(t) > 0:
            units, syncs = parse(toks, p, bounds)
            # the furthest sync point whose stretch holds at least one multi-byte character
            first_mb = next((i for i, u in enumerate(units) if _substantive(u)), None)
            best = None
            if first_mb is not None:
                for q, nu in reversed(syncs):
                    if nu > first_mb:
                        best = (q, nu)
                        break
            if best is not None:
                q, nu = best
                cand = _utf8_candidate(
                    text, tok_char[p], tok_char[q], units[:nu], q == n, next_byte, bmap, model, th, dominant
                )
                if cand is not None:
                    out.append(cand)
                p = q
                continue
        # move to the next character boundary
        p += 1
        while p < n and p not in bounds:
            p += 1
    return out


def _whole_run(run: str, bmap: ByteMap) -> list[str | Gap] | None:
    """The common case at C speed: the whole run, re-encoded with one of the codec's encoders, is UTF-8
    (perhaps cut short at its end, where the wrong decoder dropped the last byte). None otherwise:
    the run needs the byte-by-byte treatment (decoder quirks, U+FFFD, several stretches)."""
    for encoder in bmap.encoders:
        try:
            raw = run.encode(encoder)
        except UnicodeEncodeError:
            continue
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason != "unexpected end of data" or exc.end != len(raw) or exc.start == 0:
                continue
            tail = tuple(raw[exc.start :])
            need = seq_len(tail[0]) + 1
            head: list[str | Gap] = list(raw[: exc.start].decode("utf-8"))
            return [*head, Gap(tail + (HOLE,) * (need - len(tail)), need - len(tail))]
        return list(decoded) if not decoded.isascii() else None
    return None


def _substantive(unit: str | Gap) -> bool:
    """A non-ASCII character, or a gap that still says something (its lead byte, or two continuation
    bytes after a lost lead: hangul in UTF-8 read as cp949 loses its lead byte and keeps the rest)."""
    if isinstance(unit, str):
        return unit >= "\x80"
    return unit.pattern[0] != HOLE or len(unit.pattern) >= 3


def _prefer_alternative(text: str, nxt: int, run_end: int, alt: bytes, bmap: ByteMap) -> bool:
    """Whether the bytes after an ambiguous character complete the UTF-8 character its alternative
    byte sequence starts (``€`` read as A2 E3 when two continuation bytes follow)."""
    need = seq_len(alt[-1])
    if need <= 0:
        return False
    following = b""
    while len(following) < need and nxt < run_end:
        following += bmap.to_bytes(text[nxt]) or b"\xff"
        nxt += 1
    return len(following) >= need and all(0x80 <= b <= 0xBF for b in following[:need])


def _utf8_candidate(
    text: str,
    start: int,
    end: int,
    units: list[str | Gap],
    at_run_end: bool,
    next_byte: int | None,
    bmap: ByteMap,
    model: CharModel,
    th: Thresholds,
    dominant: str | None,
) -> Candidate | None:
    # Drop a trailing gap the wrong decoder cannot have produced: it only loses the last byte of a run
    # when the following byte is not a valid trail byte for it.
    last = units[-1]
    if (
        isinstance(last, Gap)
        and last.silent
        and at_run_end
        and next_byte is not None
        and is_trail_byte(bmap.name, next_byte)
    ):
        return None
    penalty = 0.0
    lost = 0
    gaps = 0
    # U+FFFD decoded from the bytes (``锟斤拷`` is EF BF BD EF BF BD read as GBK) says nothing either
    complete = sum(1 for u in units if isinstance(u, str) and u >= "\x80" and u != UNKNOWN)
    gaps_marked = sum(1 for u in units if isinstance(u, str) and u == UNKNOWN)
    mid_run: list[bool] = []
    for idx, unit in enumerate(units):
        is_end = idx == len(units) - 1 and at_run_end
        if isinstance(unit, Gap):
            gaps += 1
            lost += unit.missing
            penalty += unit.silent * (th.silent_loss_end if is_end else th.silent_loss_mid)
            mid_run.append(bmap.name == "gbk" and unit.silent > 0 and not is_end)
        else:
            mid_run.append(False)
    # Gaps are scored as characters of average cost; they are filled from context once the repairs
    # around them are known (``_refill``).
    known = "".join(u for u in units if isinstance(u, str))
    gain = _gain(model, text, start, end, known, th, dominant) - penalty - gaps * th.gap_bits
    if complete == 1 and gaps == 0:
        gain += _symbol_bonus(text, start, end, known, th)
    if gain < th.weak:
        return None
    replacement = "".join(u if isinstance(u, str) else UNKNOWN for u in units)
    return Candidate(
        start, end, text[start:end], replacement, "cjk-mojibake", f"utf-8 read as {bmap.name}", gain, lost,
        1.0, tuple(units), tuple(mid_run),
        needs_evidence=gaps + gaps_marked > complete and gaps + gaps_marked > text.count(UNKNOWN, start, end),
    )  # fmt: skip


# Latin-1 symbols in the company they keep in news text: a single CJK character standing where one of
# these belongs (``Copyright 漏 1999``: UTF-8 C2 A9 read as GBK) is repaired with this much more gain.
_SYMBOL_CONTEXTS = (
    re.compile(r"(?i)(?:copyright|\(c\))\s*©|©\s*(?:19|20)\d\d"),
    re.compile(r"\w[®™]|[®™]\s"),
    re.compile(r"\d\s?°|°\s?[CF]\b"),
    re.compile(r"[£€¥]\s?\d"),
    re.compile(r"\d\s?[½¼¾]"),
    re.compile(r"\d\s?[±×÷]\s?\d"),
    re.compile(r"«\s?\w|\w\s?»"),
    re.compile(r"§\s?\d"),
)


def _symbol_bonus(text: str, start: int, end: int, replacement: str, th: Thresholds) -> float:
    """Bonus for a single Latin-1 symbol that fits its neighbours (see ``_SYMBOL_CONTEXTS``)."""
    if len(replacement) != 1 or not "\xa0" <= replacement <= "\xff":
        return 0.0
    window = text[max(0, start - 12) : start] + replacement + text[end : end + 12]
    pos = min(start, 12)
    for pattern in _SYMBOL_CONTEXTS:
        for m in pattern.finditer(window):
            if m.start() <= pos < m.end():
                return th.symbol_bonus
    return 0.0


def _fill_units(
    units: Sequence[str | Gap], mid_run: Sequence[bool], left: str, right: str
) -> tuple[str, float]:
    """The units as text, each gap filled from its context or U+FFFD; and the lowest fill confidence."""
    plain = [u if isinstance(u, str) else UNKNOWN for u in units]
    if UNKNOWN not in plain or not any(isinstance(u, Gap) and fillable(u) for u in units):
        return "".join(plain), 1.0
    # what follows each unit (40 characters are enough context)
    after = [""] * len(units)
    tail = right[:40]
    for i in range(len(units) - 1, -1, -1):
        after[i] = tail
        tail = (plain[i] + tail)[:40]
    pieces: list[str] = []
    before = left[-40:]
    confidence = 1.0
    for idx, unit in enumerate(units):
        if isinstance(unit, Gap) and fillable(unit):
            ch, p = fill(unit, before, after[idx], mid_run_gb18030=mid_run[idx])
            if ch != UNKNOWN:
                confidence = min(confidence, p)
        else:
            ch = plain[idx]
        pieces.append(ch)
        before = (before + ch)[-40:]
    return "".join(pieces), confidence


# --- legacy CJK bytes read as cp1252 ---------------------------------------------------------------


def _legacy_candidates(
    text: str,
    model: CharModel,
    th: Thresholds,
    codecs: Sequence[LegacyCodec] = LEGACY_CODECS,
    min_chars: int = 2,
    done: Sequence[tuple[int, int]] = (),
) -> list[Candidate]:
    """Candidates for runs of cp1252 high characters; by default only runs with two of them in a row
    that decode to at least two characters (``min_chars=1`` once a codec is known to be at work)."""
    out: list[Candidate] = []
    for m in _LEGACY_RUN.finditer(text):
        start, end = m.span()
        if end - start < 2 or (min_chars > 1 and not _LEGACY_HINT.search(text, start, end)):
            continue
        raw = b"".join(CP1252.to_bytes(ch) or b"?" for ch in m.group())
        if _western_utf8(raw):
            continue  # UTF-8 of European text read as cp1252: ftfy's job
        dominant = _dominant_script(text, start, end)
        # Other bytes that are also UTF-8 are more likely UTF-8 read as cp1252, unless the legacy
        # reading is clearly better.
        utf8_gain = _utf8_reading_gain(text, start, end, raw, model, th, dominant)
        if utf8_gain >= th.strong:
            continue
        for codec in codecs:
            cand = _legacy_candidate(text, start, raw, codec, model, th, min_chars, dominant)
            if cand is not None and cand.gain > utf8_gain + th.weak:
                out.append(cand)
    return out


_WESTERN_CLASSES = frozenset({LOWER, UPPER, PUNCT, SYMBOL, GREEK, CYRILLIC, SPACE, DIGIT})


def _western_utf8(raw: bytes) -> bool:
    """Whether ``raw`` is UTF-8 of Latin, Greek or Cyrillic letters, punctuation and symbols (two or
    more non-ASCII characters: a single one is left to the comparison of gains)."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    non_ascii = len(decoded) - len(decoded.encode("ascii", "ignore"))
    return non_ascii >= 2 and all(char_class(ch) in _WESTERN_CLASSES for ch in decoded)


def _utf8_reading_gain(
    text: str, start: int, end: int, raw: bytes, model: CharModel, th: Thresholds, dominant: str | None
) -> float:
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return float("-inf")
    return _gain(model, text, start, end, decoded, th, dominant)


def _legacy_candidate(
    text: str,
    start: int,
    raw: bytes,
    codec: LegacyCodec,
    model: CharModel,
    th: Thresholds,
    min_chars: int,
    dominant: str | None,
) -> Candidate | None:
    """Decode the longest prefix of ``raw`` that is well-formed in ``codec`` (non-ASCII characters)."""
    decoded = raw.decode(codec.decoder, "replace")
    out: list[str] = []
    for ch in decoded:
        if ch < "\x80" or char_class(ch) in (BAD, PUA):
            break
        out.append(ch)
    try:
        i = len("".join(out).encode(codec.decoder))
    except UnicodeEncodeError:
        return None
    if len(out) < min_chars or raw[:i].decode(codec.decoder, "replace") != "".join(out):
        return None
    end = start + i
    original = text[start:end]
    replacement = "".join(out)
    if sum(model.char_cost(ch) for ch in replacement) > th.legacy_mean_bits * len(replacement):
        return None  # random bytes decode to rare characters; real text is mostly frequent ones
    if all("\uff61" <= ch <= "\uff9f" for ch in replacement):
        return None  # any Latin-1 letter is a half-width katakana in Shift_JIS: no evidence alone
    gain = _gain(model, text, start, end, replacement, th, dominant)
    return Candidate(
        start, end, original, replacement, "cjk-legacy", f"{codec.name} read as cp1252", gain, 0, 1.0
    )


# --- decisions --------------------------------------------------------------------------------------


def _select(
    cands: list[Candidate], th: Thresholds, evidence: dict[str, float], favourite: str | None = None
) -> list[Candidate]:
    """Non-overlapping candidates that pass their threshold, best gain first.

    ``evidence``: total gain of the strong repairs already made in this text, per codec; spans of those
    codecs only need the weak threshold. Where two codecs explain the same span about equally well, the
    ``favourite`` (the codec the text has most evidence for) wins.
    """

    def order(c: Candidate) -> float:
        return -(c.gain + (th.favourite_bonus if c.codec == favourite else 0.0))

    chosen: list[Candidate] = []
    starts: list[int] = []  # of the chosen, sorted, to test overlaps in log time
    ends: list[int] = []
    for c in sorted(cands, key=order):
        need = th.weak if c.codec in evidence else th.strong
        if c.gain < need or (c.needs_evidence and c.codec not in evidence):
            continue
        i = bisect.bisect_left(starts, c.end)  # chosen spans starting before c ends: 0 .. i-1
        if i and ends[i - 1] > c.start:
            continue  # spans do not overlap each other, so the last of them is the one to check
        starts.insert(i, c.start)
        ends.insert(i, c.end)
        chosen.append(c)
    return sorted(chosen, key=lambda c: c.start)


def _favourite(evidence: dict[str, float]) -> str | None:
    return max(evidence, key=evidence.__getitem__) if evidence else None


def _evidence(chosen: list[Candidate]) -> dict[str, float]:
    out: dict[str, float] = {}
    for c in chosen:
        out[c.codec] = out.get(c.codec, 0.0) + c.gain
    return out


# The start of a UTF-8 multi-byte character: a lead byte followed by a continuation byte, by a lost
# byte (U+FFFD, encoded as '?') or by nothing; or a lost byte followed by a continuation byte.
_UTF8_SEQ = re.compile(rb"[\xc2-\xf4](?:[\x80-\xbf]|\?|$)|\?[\x80-\xbf]")


_LOST_LEAD = re.compile(rb"\?[\x80-\xbf]{2}")
_UTF8_TRUNCATED = re.compile(rb"(?:[\xc2-\xdf]|[\xe0-\xef][\x80-\xbf]?|[\xf0-\xf4][\x80-\xbf]{0,2})\Z")


def _worth_parsing(run: str, bmap: ByteMap) -> bool:
    """A fast check with the codec's C encoder and decoder: are the bytes this codec gives back for
    ``run`` UTF-8 at all, more than they are not? (Decoder quirks in ``extra`` are left out here.)"""
    raw = run.encode(bmap.encoders[-1], "replace")
    if not _UTF8_SEQ.search(raw):
        return any(c in run for c, _ in bmap.extra)
    decoded = raw.decode("utf-8", "replace")
    bad = decoded.count(UNKNOWN)
    good = len(decoded) - len(decoded.encode("ascii", "ignore")) - bad
    if decoded.endswith(UNKNOWN) and _UTF8_TRUNCATED.search(raw):
        good, bad = good + 1, bad - 1  # a character cut at the end of the run: a lost byte
    if good > 0 and (bad <= 2 * good + 2 or UNKNOWN in run):  # visibly damaged runs get a full look
        return True
    if UNKNOWN in run and _LOST_LEAD.search(raw):  # lead bytes lost, continuation bytes kept (cp949)
        return True
    return any(c in run for c, _ in bmap.extra)


def _utf8_all(
    text: str,
    model: CharModel,
    th: Thresholds,
    runs: list[tuple[int, int]],
    bmaps: Sequence[ByteMap] = UTF8_MISREADS,
) -> list[Candidate]:
    cands: list[Candidate] = []
    for start, end in runs:
        dominant: str | bool | None = False  # computed when first needed
        run = text[start:end]
        for bmap in bmaps:
            if not _worth_parsing(run, bmap):
                continue
            if dominant is False:
                dominant = _dominant_script(text, start, end)
            assert dominant is not True
            cands.extend(_utf8_candidates(text, start, end, bmap, model, th, dominant))
    return cands


def _ranges(codepoints: list[int]) -> str:
    """A regular-expression character class body for sorted code points."""
    out: list[str] = []
    i = 0
    while i < len(codepoints):
        j = i
        while j + 1 < len(codepoints) and codepoints[j + 1] == codepoints[j] + 1:
            j += 1
        lo, hi = chr(codepoints[i]), chr(codepoints[j])
        out.append(re.escape(lo) if i == j else f"{re.escape(lo)}-{re.escape(hi)}")
        i = j + 1
    return "".join(out)


# Han and hangul that count as common: the legacy standards' common tiers, plus characters of the
# training text at least this frequent (bits, -log2 P(char | class)).
_COMMON_SEEN_BITS = 17.0


@cache
def _suspicious_re() -> re.Pattern[str]:
    """Characters that real text rarely holds and UTF-8 read as a CJK codec produces all the time:
    rare ideographs and hangul, private use, U+FFFD, box drawing, C1 controls; two ideographs of the
    common tiers that the training text never shows; and some pairings of half-width katakana."""
    model = default_model()
    tiers = set(common_han()) | set(common_hangul())
    frequent = {
        ch for ch, bits in model.seen.items() if bits <= _COMMON_SEEN_BITS and char_class(ch) in (HAN, HANGUL)
    }
    rare, unseen = [], []
    for first, last in (
        (0x2E80, 0x2FDF),
        (0x3400, 0x4DBF),
        (0x4E00, 0x9FFF),
        (0xAC00, 0xD7A3),
        (0xF900, 0xFAFF),
    ):
        for cp in range(first, last + 1):
            ch = chr(cp)
            if ch in frequent:
                continue
            if ch not in tiers:
                rare.append(cp)
            elif ch not in model.seen:
                unseen.append(cp)
    unseen_class = "[" + _ranges(unseen) + "]"
    return re.compile(
        "[\x80-\x9f\u2500-\u259f\ue000-\uf8ff\ufffd\U00020000-\U0003ffff\U000f0000-\U0010ffff"
        + _ranges(rare)
        + "]"
        + f"|{unseen_class}[^\x00-\x7f]*?{unseen_class}"
        # Half-width katakana are legitimate, but UTF-8 read as Shift_JIS puts them next to kanji, and
        # a lead byte C2-DF followed by a continuation byte gives two in this pattern (``ﾃｩ`` for é).
        + "|[\u3400-\u9fff][\uff61-\uff9f]|[\uff61-\uff9f][\u3400-\u9fff]|[\uff82-\uff9f][\uff61-\uff7f]"
    )


# A run of one to three ideographs or hangul between ASCII characters: a Latin-1 letter or symbol in
# UTF-8 read as GBK, Big5, EUC-JP or EUC-KR (``caf茅``, ``Copyright 漏``) made of common characters.
_SHORT_CJK_RUN = re.compile("[\u3400-\u9fff\uf900-\ufaff\uac00-\ud7a3]{1,3}")


# Every character a match of ``_suspicious_re()`` or ``_SHORT_CJK_RUN`` can start with: C1 controls, box
# drawing, private use, U+FFFD, the supplementary ideograph and private planes, and the CJK, hangul and
# half-width katakana blocks the rare and unseen characters are taken from.
# The class is split: a class of basic-plane characters is matched through a table, one with
# supplementary-plane ranges range by range (twice the time per character); most text has no
# supplementary-plane characters, which one encode shows.
_MAY_BE_SUSPICIOUS = re.compile(
    "[\x80-\x9f\u2500-\u259f\u2e80-\u2fdf\u3400-\u9fff\uac00-\ud7a3\ue000-\ufaff\uff61-\uff9f\ufffd]"
)
_MAY_BE_SUSPICIOUS_ASTRAL = re.compile("[\U00020000-\U0003ffff\U000f0000-\U0010ffff]")


def _may_be_suspicious(text: str) -> bool:
    if _MAY_BE_SUSPICIOUS.search(text) is not None:
        return True
    has_astral = len(text.encode("utf-16-le", "surrogatepass")) != 2 * len(text)
    return has_astral and _MAY_BE_SUSPICIOUS_ASTRAL.search(text) is not None


def suspicious_runs(text: str) -> list[tuple[int, int]]:
    """The runs of non-ASCII characters worth a full analysis (a fast check; most text has none).

    >>> suspicious_runs("中文字符串测试"), suspicious_runs("涓枃瀛楃涓叉祴璇")
    ([], [(0, 8)])
    >>> suspicious_runs("Copyright 漏 1999"), suspicious_runs("2021年3月")
    ([(10, 11)], [])
    """
    if not _may_be_suspicious(text):  # most text: one scan with a small class, not two
        return []
    sus = _suspicious_re()
    if sus.search(text) is None and _SHORT_CJK_RUN.search(text) is None:
        return []
    out = []
    for m in _NON_ASCII_RUN.finditer(text):
        start, end = m.span()
        if sus.search(text, start, end) or (
            end - start <= 3
            and _SHORT_CJK_RUN.fullmatch(text, start, end)
            and _in_alphabetic(text, start, end)
        ):
            out.append((start, end))
    return out


def _in_alphabetic(text: str, start: int, end: int) -> bool:
    """Whether a span touches an ASCII letter or sits in text of an alphabetic script."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if (before.isascii() and before.isalpha()) or (after.isascii() and after.isalpha()):
        return True
    return _dominant_script(text, start, end) not in (None, "cjk")


def _refill(text: str, chosen: list[Candidate]) -> list[Candidate]:
    """Fill gaps again now that the neighbouring repairs are known (a closing quote needs its opening
    quote repaired, ``备`` needs the ``号`` after it); a second round for gaps still unknown."""
    for round_ in range(2):
        out: list[Candidate] = []
        for i, c in enumerate(chosen):
            if not c.units or (round_ and UNKNOWN not in c.replacement):
                out.append(c if round_ else replace(c, confidence=detection_confidence(c.gain)))
                continue
            lo, hi = max(0, c.start - 80), min(len(text), c.end + 80)
            j = i
            while j > 0 and out[j - 1].end > lo:
                j -= 1
            k = i + 1
            while k < len(chosen) and chosen[k].start < hi:
                k += 1
            left = _apply(text, out[j:i], lo, c.start)[-40:]
            right = _apply(text, chosen[i + 1 : k], c.end, hi)[:40]
            replacement, fill_conf = _fill_units(c.units, c.mid_run, left, right)
            conf = min(detection_confidence(c.gain), fill_conf)
            out.append(replace(c, replacement=replacement, confidence=conf))
        chosen = out
    return chosen


def _apply(text: str, cands: Sequence[Candidate], lo: int, hi: int) -> str:
    """``text[lo:hi]`` with the candidates inside it applied."""
    out: list[str] = []
    pos = lo
    for c in cands:
        if c.start < lo or c.end > hi:
            continue
        out.append(text[pos : c.start])
        out.append(c.replacement)
        pos = c.end
    out.append(text[pos:hi])
    return "".join(out)


def _two_passes(text: str, find: Finder, th: Thresholds) -> list[Candidate]:
    """Strong repairs first; then the text again with those applied (as context: the script around a
    span, the repaired neighbours of a lost byte), where the codecs already seen need less gain."""
    cands = find(text, None, [])
    favourite = _favourite(_evidence([c for c in cands if c.gain >= th.strong]))
    strong = _select(cands, th, {}, favourite)
    if not strong:
        return []
    evidence = _evidence(strong)
    patched = _apply(text, strong, 0, len(text))
    done, shift = [], 0
    for c in strong:
        done.append((c.start + shift, c.start + shift + len(c.replacement)))
        shift += len(c.replacement) - (c.end - c.start)
    second = _select(find(patched, evidence, done), th, evidence, _favourite(evidence))
    merged = list(strong)
    new_starts = [d_start for d_start, _ in done]
    for c in second:
        start, end = _to_original(strong, done, new_starts, c.start, c.end)
        if start is not None and end is not None:
            merged.append(replace(c, start=start, end=end, original=text[start:end]))
    merged.sort(key=lambda c: c.start)
    return merged


# find(text, evidence or None on the first pass, spans already repaired) -> candidates
Finder = Callable[[str, "dict[str, float] | None", list[tuple[int, int]]], list[Candidate]]


def _outside(spans: list[tuple[int, int]], done: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``spans`` not covered by ``done`` (both sorted, each without overlaps).

    >>> _outside([(0, 10), (12, 20)], [(2, 4), (8, 14)])
    [(0, 2), (4, 8), (14, 20)]
    """
    out = []
    j = 0
    for start, end in spans:
        while j < len(done) and done[j][1] <= start:
            j += 1
        k = j
        while k < len(done) and done[k][0] < end:
            if done[k][0] > start:
                out.append((start, done[k][0]))
            start = max(start, done[k][1])
            k += 1
        if start < end:
            out.append((start, end))
    return out


def find_utf8_misreads(text: str, th: Thresholds = DEFAULT_THRESHOLDS) -> list[Candidate]:
    """Spans of ``text`` that are UTF-8 read as a CJK codec, with their repair (non-overlapping).

    >>> [(c.original, c.replacement, c.lost_bytes) for c in find_utf8_misreads("over 鈥榙eepfake鈥")]
    [('鈥榙', '‘d', 0), ('鈥', '’', 1)]
    """
    model = default_model()

    def find(t: str, evidence: dict[str, float] | None, done: list[tuple[int, int]]) -> list[Candidate]:
        if evidence is None:
            return _utf8_all(t, model, th, suspicious_runs(t))
        # every run now, not only suspicious ones: with this evidence even spans of common
        # characters (Cyrillic in UTF-8 read as GBK) are worth a look, for the codecs already seen
        bmaps = [b for b in UTF8_MISREADS if f"utf-8 read as {b.name}" in evidence]
        runs = _outside([m.span() for m in _NON_ASCII_RUN.finditer(t)], done)
        return _utf8_all(t, model, th, runs, bmaps)

    return _refill(text, _two_passes(text, find, th))


def _to_original(
    first: list[Candidate], done: list[tuple[int, int]], new_starts: list[int], start: int, end: int
) -> tuple[int | None, int | None]:
    """Position in the original text of a span of the patched text that lies outside every repair
    (``done``: where the repairs ``first`` sit in the patched text; ``new_starts``: their starts)."""
    i = bisect.bisect_left(new_starts, end)  # repairs starting before the span ends
    if i and done[i - 1][1] > start:
        return None, None  # inside (or across) a repair
    if not i:
        return start, end
    c = first[i - 1]
    shift = done[i - 1][1] - c.end  # patched minus original, after repair i - 1
    return start - shift, end - shift


def find_legacy_misreads(text: str, th: Thresholds = DEFAULT_THRESHOLDS) -> list[Candidate]:
    """Spans of ``text`` that are CJK legacy bytes read as cp1252, with their repair.

    >>> [(c.original, c.replacement) for c in find_legacy_misreads("ÖÐ¹úÈËÃñ ½«")]
    [('ÖÐ¹úÈËÃñ', '中国人民'), ('½«', '将')]
    """
    model = default_model()

    def find(t: str, evidence: dict[str, float] | None, done: list[tuple[int, int]]) -> list[Candidate]:
        if evidence is None:
            return _legacy_candidates(t, model, th)
        codecs = [c for c in LEGACY_CODECS if f"{c.name} read as cp1252" in evidence]
        return _legacy_candidates(t, model, th, codecs, min_chars=1, done=done)

    return [replace(c, confidence=detection_confidence(c.gain)) for c in _two_passes(text, find, th)]


def might_be_legacy(text: str) -> bool:
    """Whether ``text`` has two cp1252 high characters in a row (a pair of legacy CJK bytes).

    >>> might_be_legacy("ÖÐ¹ú"), might_be_legacy("café crème"), might_be_legacy("中文")
    (True, False, False)
    """
    return _LEGACY_HINT.search(text) is not None


def all_candidates(text: str, th: Thresholds = DEFAULT_THRESHOLDS) -> list[Candidate]:
    """Every candidate with its gain, before any threshold (for tuning and explanations)."""
    model = default_model()
    runs = [m.span() for m in _NON_ASCII_RUN.finditer(text)]
    return _utf8_all(text, model, th, runs) + _legacy_candidates(text, model, th, min_chars=1)
