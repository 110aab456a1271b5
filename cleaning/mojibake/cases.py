"""Generate repair test cases from real text: each corruption process, and text that must not change.

Used by ``python -m cleaning.mojibake.build cases``; the output is committed as
``tests/cleaning/data/repair_cases.json`` so that tests run without the source texts.

Case kinds:

* ``lossless``: real text, corrupted by a process that keeps every byte (``expected`` is the text);
  ``whole`` (the whole line) or ``embedded`` (one line or phrase inside correct text).
* ``lossy``: the same processes with bytes lost (U+FFFD markers, or silently dropped as in the
  Shanghai Daily seed); scored by similarity, since lost bytes cannot always be inferred.
* ``negative``: real text in many scripts, and adversarial text (CJK words whose bytes happen to be
  UTF-8, accented words whose bytes happen to be GBK, ...): must come back unchanged.
"""

from __future__ import annotations

import html.entities
import random
import re
import unicodedata
from typing import Any

from cleaning.mojibake.simulate import legacy_misread, utf8_misread, western_misread

Lines = dict[str, list[tuple[str, str]]]

CJK_LANGS = ("zh_CN", "zh_TW", "zh_HK", "ja", "ko")
_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7a3]")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)

# Which source languages each corruption process is generated from.
UTF8_MISREAD_SOURCES = {
    "gbk": ("zh_CN", "zh_TW", "ja", "ko", "ru", "fr", "de"),
    "big5": ("zh_TW", "zh_HK", "zh_CN", "fr", "es"),
    "shift_jis": ("ja", "zh_CN", "fr"),
    "euc_jp": ("ja", "zh_CN", "de"),
    "euc_kr": ("ko", "fr", "pt"),
}
LEGACY_SOURCES = {
    "gbk": ("zh_CN",),
    "big5": ("zh_TW", "zh_HK"),
    "shift_jis": ("ja",),
    "euc_jp": ("ja",),
    "euc_kr": ("ko",),
}
WESTERN_SOURCES = ("fr", "de", "es", "pt", "it", "pl", "cs", "tr", "vi", "sv", "ru", "el", "uk", "en")


def _usable(line: str, lang: str) -> bool:
    if not 8 <= len(line) <= 220:
        return False
    if lang in CJK_LANGS:
        return len(_CJK_CHAR.findall(line)) >= 4
    if lang == "en":
        return True
    return any(ord(c) > 0x7F for c in line)


def _pick(lines: Lines, langs: tuple[str, ...], rng: random.Random) -> tuple[str, str, str]:
    lang = rng.choice([lg for lg in langs if lines.get(lg)])
    source, line = rng.choice(lines[lang])
    return lang, source, line


def _pool_lines(lines: Lines) -> Lines:
    return {lang: [(s, ln) for s, ln in v if _usable(ln, lang)] for lang, v in lines.items()}


def _context(lines: Lines, lang: str, rng: random.Random) -> tuple[str, str, str]:
    """Two correct lines to embed a broken one between (same language, or English news)."""
    pool = lines.get(lang) or lines["en"]
    if rng.random() < 0.3 and lines.get("en"):
        pool = lines["en"]
    a, b = rng.choice(pool), rng.choice(pool)
    return a[1], b[1], a[0] + " + " + b[0]


def _case(
    kind: str, process: str, mode: str, pool: str, source: str, original: str, broken: str
) -> dict[str, Any]:
    return {
        "kind": kind,
        "process": process,
        "mode": mode,
        "pool": pool,
        "source": source,
        "input": broken,
        "expected": original,
    }


def _utf8_cases(lines: Lines, pool: str, rng: random.Random, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for codec, langs in UTF8_MISREAD_SOURCES.items():
        lossless = lossy = tries = 0
        while (lossless < n or lossy < n // 2) and tries < 20000:
            tries += 1
            lang, source, line = _pick(lines, langs, rng)
            embedded = rng.random() < 0.35
            try:
                broken = utf8_misread(line, codec, "strict")
                kind = "lossless"
            except UnicodeDecodeError:
                kind = "lossy"
                broken = utf8_misread(
                    line, codec, rng.choice(["replace", "ignore", "whatwg" if codec == "gbk" else "replace"])
                )
            if broken == line:
                continue
            if (kind == "lossless" and lossless >= n) or (kind == "lossy" and lossy >= n // 2):
                continue
            process = f"utf-8 read as {codec}"
            if embedded:
                before, after, ctx_source = _context(lines, lang, rng)
                original = f"{before}\n{line}\n{after}"
                out.append(
                    _case(
                        kind,
                        process,
                        "embedded",
                        pool,
                        f"{source} in {ctx_source}",
                        original,
                        f"{before}\n{broken}\n{after}",
                    )
                )
            else:
                out.append(_case(kind, process, "whole", pool, source, line, broken))
            if kind == "lossless":
                lossless += 1
            else:
                lossy += 1
    return out


def _legacy_cases(lines: Lines, pool: str, rng: random.Random, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for codec, langs in LEGACY_SOURCES.items():
        made = tries = 0
        while made < n and tries < 20000:
            tries += 1
            _lang, source, line = _pick(lines, langs, rng)
            try:
                broken = legacy_misread(line, codec, rng.choice(["cp1252", "latin-1"]))
            except UnicodeEncodeError:
                continue
            process = f"{codec} read as cp1252"
            if rng.random() < 0.35:
                before, after, ctx_source = _context(lines, "en", rng)
                original = f"{before}\n{line}\n{after}"
                out.append(
                    _case(
                        "lossless",
                        process,
                        "embedded",
                        pool,
                        f"{source} in {ctx_source}",
                        original,
                        f"{before}\n{broken}\n{after}",
                    )
                )
            else:
                out.append(_case("lossless", process, "whole", pool, source, line, broken))
            made += 1
    return out


def _entities(text: str) -> str:
    return "".join(
        f"&{html.entities.codepoint2name[ord(c)]};"
        if ord(c) in html.entities.codepoint2name and ord(c) > 0x7F
        else c
        for c in text
    )


def _western_cases(lines: Lines, pool: str, rng: random.Random, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    processes = [("cp1252", 1), ("latin-1", 1), ("mac_roman", 1), ("cp1252", 2), ("html", 1)]
    for codec, times in processes:
        made = tries = 0
        while made < n and tries < 20000:
            tries += 1
            lang, source, line = _pick(lines, WESTERN_SOURCES, rng)
            if line.isascii() or "<" in line or "&" in line:
                continue
            if codec == "html":
                broken, process = _entities(line), "html entities"
                if broken == line:
                    continue
            else:
                try:
                    broken = western_misread(line, codec, times)
                except UnicodeDecodeError:
                    continue
                process = f"utf-8 read as {codec}" + (" twice" if times == 2 else "")
            if rng.random() < 0.35:
                before, after, ctx_source = _context(lines, lang, rng)
                original = f"{before}\n{line}\n{after}"
                out.append(
                    _case(
                        "western",
                        process,
                        "embedded",
                        pool,
                        f"{source} in {ctx_source}",
                        original,
                        f"{before}\n{broken}\n{after}",
                    )
                )
            else:
                out.append(_case("western", process, "whole", pool, source, line, broken))
            made += 1
    return out


# --- negatives --------------------------------------------------------------------------------------

_EMOJI_LINES = (
    "Great match tonight 🎉⚽️ see you all next week 👋",
    "家族で旅行に行きました 🚄🗻 とても楽しかった！",
    "오늘 날씨 최고 ☀️😎 #주말",
    "Thumbs up 👍🏽 from the team 👨‍👩‍👧‍👦 and ❤️ to everyone",
    "Флаг 🇺🇦 и 🇵🇱 на саммите",
    "🔥 Breaking: markets rally 📈 as rates fall 📉",
    "新年快乐 🧧🎆 万事如意",
    "Score: 3️⃣ – 1️⃣ ✅",
)
_MATH_LINES = (
    "∑ x² ≤ ∞ and ∫ f(x) dx ≈ 0.5 ± 0.01",
    "α + β = γ, where Δ → 0 and θ ∈ [0, π]",
    "Temperature rose to 38°C (100.4°F), ±2° from the forecast",
    "√2 ≈ 1.414, ½ + ¼ = ¾, 3 × 4 ÷ 2 = 6",
    "∀ε > 0 ∃δ > 0: |x − a| < δ ⇒ |f(x) − L| < ε",
    "Prices: £12.50, €14.99, ¥1,980, ₩15,000, ₹899",
    "A ⊆ B ∩ C, ∅ ≠ {x | x ∉ ℕ}",
    "Copyright © 2024 Example News Ltd. All rights reserved. Trademark™ and Registered®",
)


def _halfwidth_katakana(text: str) -> str:
    table: dict[str, str] = {}
    for cp in range(0xFF61, 0xFFA0):
        full = unicodedata.normalize("NFKC", chr(cp))
        if len(full) == 1:
            table.setdefault(full, chr(cp))
    out = []
    for ch in text:
        if ch in table:
            out.append(table[ch])
        else:
            base = unicodedata.normalize("NFD", ch)
            if len(base) == 2 and base[0] in table and base[1] in "\u3099\u309a":
                out.append(table[base[0]] + ("ﾞ" if base[1] == "\u3099" else "ﾟ"))
            else:
                out.append(ch)
    return "".join(out)


def _bytes_are_utf8(raw: bytes) -> bool:
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _adversarial_cjk(lines: Lines, pool: str, limit: int) -> list[dict[str, Any]]:
    """Lines with a CJK word whose legacy bytes are valid UTF-8 (the detector sees a candidate)."""
    out: list[dict[str, Any]] = []
    codecs = {
        "zh_CN": ("gbk",),
        "zh_TW": ("big5", "gbk"),
        "zh_HK": ("big5",),
        "ja": ("cp932", "euc_jp", "gbk"),
        "ko": ("cp949", "gbk"),
    }
    for lang, encs in codecs.items():
        found = 0
        for source, line in lines.get(lang, []):
            if found >= limit:
                break
            hit = None
            for m in re.finditer(r"[^\x00-\x7f]+", line):
                word = m.group()
                for enc in encs:
                    for size in (2, 3, 4):
                        for i in range(len(word) - size + 1):
                            try:
                                raw = word[i : i + size].encode(enc)
                            except UnicodeEncodeError:
                                continue
                            if _bytes_are_utf8(raw):
                                hit = (enc, word[i : i + size])
                                break
                        if hit:
                            break
                    if hit:
                        break
                if hit:
                    break
            if hit:
                found += 1
                out.append(
                    {
                        "kind": "negative",
                        "category": f"adversarial: {hit[1]} in {hit[0]} is valid UTF-8",
                        "pool": pool,
                        "source": source,
                        "input": line,
                        "expected": line,
                    }
                )
    return out


def _adversarial_latin(lines: Lines, pool: str, limit: int) -> list[dict[str, Any]]:
    """Lines with accented words whose cp1252 bytes decode as GBK/Big5/Shift_JIS/EUC-KR."""
    out: list[dict[str, Any]] = []
    langs = ("fr", "de", "es", "pt", "it", "sv", "da", "nb", "fi", "is", "hu", "tr", "ca", "ga", "cy", "et")
    found = 0
    for lang in langs:
        for source, line in lines.get(lang, []):
            if found >= limit:
                return out
            m = re.search(r"[\u00c0-\u00ff]{2,}", line)
            if not m:
                continue
            try:
                raw = m.group().encode("cp1252")
            except UnicodeEncodeError:
                continue
            for enc in ("gbk", "cp950", "cp932", "cp949"):
                try:
                    raw.decode(enc)
                except UnicodeDecodeError:
                    continue
                out.append(
                    {
                        "kind": "negative",
                        "category": f"adversarial: {m.group()} is valid {enc}",
                        "pool": pool,
                        "source": source,
                        "input": line,
                        "expected": line,
                    }
                )
                found += 1
                break
    return out


def _negatives(lines: Lines, raw_lines: Lines, pool: str, rng: random.Random) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for lang in sorted(raw_lines):
        per_lang = 150 if lang in CJK_LANGS else 40 if lang == "en" else 25
        candidates = [x for x in raw_lines[lang] if 2 <= len(x[1]) <= 300]
        for source, line in rng.sample(candidates, min(per_lang, len(candidates))):
            out.append(
                {
                    "kind": "negative",
                    "category": f"text: {lang}",
                    "pool": pool,
                    "source": source,
                    "input": line,
                    "expected": line,
                }
            )
    for source, line in rng.sample(lines.get("en", []), min(40, len(lines.get("en", [])))):
        caps = line.upper()
        out.append(
            {
                "kind": "negative",
                "category": "all-caps headline",
                "pool": pool,
                "source": source + " (upper-cased)",
                "input": caps,
                "expected": caps,
            }
        )
    for lang in ("fr", "de", "es", "pl", "tr", "ru", "el"):
        for source, line in rng.sample(lines.get(lang, []), min(6, len(lines.get(lang, [])))):
            caps = line.upper()
            out.append(
                {
                    "kind": "negative",
                    "category": "all-caps accented",
                    "pool": pool,
                    "source": source + " (upper-cased)",
                    "input": caps,
                    "expected": caps,
                }
            )
    kata = [x for x in lines.get("ja", []) if re.search(r"[\u30a1-\u30fa]{2,}", x[1])]
    for source, line in rng.sample(kata, min(40, len(kata))):
        half = _halfwidth_katakana(line)
        out.append(
            {
                "kind": "negative",
                "category": "half-width katakana",
                "pool": pool,
                "source": source + " (katakana made half-width)",
                "input": half,
                "expected": half,
            }
        )
    out.extend(_adversarial_cjk(lines, pool, 40))
    out.extend(_adversarial_latin(lines, pool, 60))
    # Mixed: CJK lines with English news around them (a page in two languages).
    for _ in range(40):
        lang = rng.choice((*CJK_LANGS[:2], "ja", "ko"))
        if not lines.get(lang) or not lines.get("en"):
            continue
        s1, cjk = rng.choice(lines[lang])
        s2, en = rng.choice(lines["en"])
        text = f"{en} {cjk}" if rng.random() < 0.5 else f"{cjk}\n{en}"
        out.append(
            {
                "kind": "negative",
                "category": "mixed CJK and English",
                "pool": pool,
                "source": f"{s1} + {s2}",
                "input": text,
                "expected": text,
            }
        )
    return out


def _constructed() -> list[dict[str, Any]]:
    out = []
    for line in _EMOJI_LINES:
        out.append(
            {
                "kind": "negative",
                "category": "emoji",
                "pool": "dev",
                "source": "constructed",
                "input": line,
                "expected": line,
            }
        )
    for line in _MATH_LINES:
        out.append(
            {
                "kind": "negative",
                "category": "math and symbols",
                "pool": "dev",
                "source": "constructed",
                "input": line,
                "expected": line,
            }
        )
    return out


def build_cases(dev: Lines, heldout: Lines, rng: random.Random) -> dict[str, Any]:
    cases: list[dict[str, Any]] = []
    for pool, raw in (("dev", dev), ("heldout", heldout)):
        lines = _pool_lines(raw)
        cases.extend(_utf8_cases(lines, pool, rng, 40))
        cases.extend(_legacy_cases(lines, pool, rng, 30))
        cases.extend(_western_cases(lines, pool, rng, 30))
        cases.extend(_negatives(lines, raw, pool, rng))
    cases.extend(_constructed())
    for i, case in enumerate(cases):
        case["id"] = f"{case['kind']}-{case['pool']}-{i:05d}"
    return {
        "about": (
            "Repair cases generated by `python -m cleaning.mojibake.build cases` from real text on a Debian "
            "machine (gettext catalogs, translated manual pages, Vim tutors, CPython CJK codec test texts, "
            "extraction-benchmark news). `source` names the text each case comes from; `pool` says whether it "
            "was used for tuning (dev) or held out."
        ),
        "cases": cases,
    }
