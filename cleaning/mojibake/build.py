"""Offline maintenance: rebuild the character table and the repair test cases from text on this machine.

Not imported at run time. Sources are real text in many scripts that a Debian machine with the project's
venv carries: gettext catalogs (``/usr/share/locale/*/LC_MESSAGES/*.mo``), translated manual pages
(``/usr/share/man/<lang>``), the Vim tutor translations, CLDR names shipped with babel, CPython's CJK
codec test texts and the English news articles of the extraction benchmark.

Every source has a stable name (``gettext:coreutils:zh_CN``, ``man:login.1:ja``, ...) and belongs to one
of two pools by a hash of its document name: ``dev`` (the character table is built from it and the
thresholds were tuned on it) and ``heldout`` (never looked at while tuning; the benchmark reports both).

    python -m cleaning.mojibake.build chartable   # -> cleaning/mojibake/chartable.json
    python -m cleaning.mojibake.build cases       # -> tests/cleaning/data/repair_cases.json
"""

from __future__ import annotations

import argparse
import collections
import functools
import gettext
import glob
import gzip
import hashlib
import json
import logging
import math
import os
import random
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

from cleaning.mojibake.model import CLASS_NAMES, N_CLASSES, bigram_token, char_class

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
CHARTABLE = Path(__file__).with_name("chartable.json")
CASES = ROOT / "tests" / "cleaning" / "data" / "repair_cases.json"
BENCHMARK = ROOT / "tests" / "data" / "extraction-benchmark" / "ground-truth.json"
CJK_TEST_DIR = (
    Path(sys.base_prefix)
    / "lib"
    / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    / "test"
    / "cjkencodings"
)

# Languages read from the catalogs and manual pages (locale directory names).
LANGUAGES = [
    "zh_CN",
    "zh_TW",
    "zh_HK",
    "ja",
    "ko",
    "ru",
    "uk",
    "bg",
    "be",
    "sr",
    "mk",
    "kk",
    "el",
    "he",
    "ar",
    "fa",
    "th",
    "hi",
    "mr",
    "ne",
    "bn",
    "pa",
    "gu",
    "ta",
    "ml",
    "kn",
    "ka",
    "fr",
    "de",
    "es",
    "it",
    "pt",
    "pt_BR",
    "nl",
    "sv",
    "da",
    "nb",
    "fi",
    "et",
    "pl",
    "cs",
    "sk",
    "sl",
    "hr",
    "hu",
    "ro",
    "tr",
    "vi",
    "id",
    "ca",
    "gl",
    "eu",
    "lt",
    "lv",
    "is",
    "ga",
    "cy",
    "eo",
    "sq",
    "az",
]

_PLACEHOLDER = re.compile(
    r"%(?:\d+\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|Z|t|I64)?[diouxXeEfFgGaAcspnm%]"
    r"|%\([a-z_]+\)[sdr]|\{[0-9a-zA-Z_.:!]*\}|\$\{?[A-Z_]+\}?|\(_[A-Za-z0-9]\)|_(?=[^\W_])|&(?=[^\W_])|</?[a-z]+[^>]{0,30}>"
)
_SPACES = re.compile(r"\s+")


def pool_of(document: str) -> str:
    """``heldout`` for a quarter of the documents (by a stable hash of their name), else ``dev``.

    >>> pool_of("gettext:coreutils"), pool_of("gettext:git")
    ('dev', 'dev')
    """
    return "heldout" if int(hashlib.sha1(document.encode()).hexdigest(), 16) % 4 == 0 else "dev"


def _clean_line(line: str) -> str:
    line = _PLACEHOLDER.sub("", line)
    return _SPACES.sub(" ", line).strip()


def _mo_lines(path: str) -> list[str]:
    with open(path, "rb") as fh:
        try:
            catalog = gettext.GNUTranslations(fh)._catalog  # type: ignore[attr-defined]  # no public accessor
        except (OSError, UnicodeDecodeError, ValueError):
            return []
    out = []
    for key, value in catalog.items():
        if not isinstance(value, str) or key in ("", ("", 0)):
            continue
        for line in value.split("\n"):
            cleaned = _clean_line(line)
            if len(cleaned) >= 2:
                out.append(cleaned)
    return out


_ROFF_ESC = re.compile(r"\\f(?:\[[^\]]*\]|\(..|.)|\\\(..|\\\[[^\]]*\]|\\[&e|^%:]|\\s[-+]?\d")
_ROFF_KEEP = (".SH", ".SS", ".B", ".I", ".BR", ".IR", ".RB", ".RI", ".BI", ".IB", ".TP", ".IP")


def _man_lines(path: str) -> list[str]:
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return []
    out = []
    for line in text.split("\n"):
        if line.startswith(('.\\"', "'\\\"", '.\\"')):
            continue
        if line.startswith((".", "'")):
            parts = line.split(None, 1)
            if len(parts) < 2 or parts[0] not in _ROFF_KEEP:
                continue
            line = parts[1].replace('"', "")
        line = _ROFF_ESC.sub("", line.replace("\\-", "-"))
        cleaned = _SPACES.sub(" ", line).strip()
        if len(cleaned) >= 2:
            out.append(cleaned)
    return out


def _plain_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        lines = [_SPACES.sub(" ", ln).strip() for ln in fh]
    return [ln for ln in lines if len(ln) >= 2]


Source = tuple[str, str, str, Callable[[], list[str]]]  # (name, document, language, reader)


def iter_sources() -> Iterator[Source]:
    """Every text source on this machine, in a stable order."""
    for lang in LANGUAGES:
        for path in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
            doc = "gettext:" + os.path.basename(path)[:-3]
            yield f"{doc}:{lang}", doc, lang, functools.partial(_mo_lines, path)
        for path in sorted(glob.glob(f"/usr/share/man/{lang}/man*/*.gz")):
            doc = "man:" + os.path.basename(path)[:-3]
            yield f"{doc}:{lang}", doc, lang, functools.partial(_man_lines, path)
    tutors = {"zh_cn": "zh_CN", "zh_tw": "zh_TW", "ja": "ja", "ko": "ko", "ru": "ru", "uk": "uk", "bg": "bg", "el": "el",
              "fr": "fr", "de": "de", "es": "es", "it": "it", "pl": "pl", "cs": "cs", "vi": "vi", "sr": "sr", "tr": "tr",
              "hu": "hu", "nl": "nl", "sv": "sv", "pt": "pt", "da": "da", "lv": "lv", "eo": "eo"}  # fmt: skip
    for suffix, lang in tutors.items():
        for path in sorted(glob.glob(f"/usr/share/vim/vim*/tutor/tutor.{suffix}.utf-8")):
            doc = f"vim-tutor:{suffix}"
            yield f"{doc}:{lang}", doc, lang, functools.partial(_plain_lines, path)
    for sample in sorted(CJK_TEST_DIR.glob("*-utf8.txt")):
        doc = f"cpython-cjkencodings:{sample.name}"
        yield doc, doc, "cjk", functools.partial(_plain_lines, str(sample))
    if BENCHMARK.exists():
        articles = json.loads(BENCHMARK.read_text(encoding="utf-8"))
        for key in sorted(articles):
            doc = f"extraction-benchmark:{key[:12]}"
            yield doc, doc, "en", functools.partial(_article_lines, articles[key]["articleBody"])


def _article_lines(body: str) -> list[str]:
    lines = (_SPACES.sub(" ", x).strip() for x in body.split("\n"))
    return [ln for ln in lines if len(ln) >= 2]


def corpus(pool: str) -> dict[str, list[tuple[str, str]]]:
    """Lines per language: ``{lang: [(source, line), ...]}``, deduplicated, for one pool."""
    out: dict[str, list[tuple[str, str]]] = collections.defaultdict(list)
    seen: set[str] = set()
    for name, doc, lang, read in iter_sources():
        if pool_of(doc) != pool:
            continue
        for line in read():
            if line not in seen:
                seen.add(line)
                out[lang].append((name, line))
    return dict(out)


# --- chartable ------------------------------------------------------------------------------------

# Characters per language used for class transitions: languages weigh equally, whatever their volume.
_TRANSITION_CAP = 300_000


def build_chartable() -> dict[str, object]:
    lines = corpus("dev")
    trans = [[0] * N_CLASSES for _ in range(N_CLASSES)]
    counts: collections.Counter[str] = collections.Counter()
    for lang in sorted(lines):
        used = 0
        for _, line in lines[lang]:
            line = unicodedata.normalize("NFC", line)
            counts.update(line)
            if used < _TRANSITION_CAP:
                prev = char_class(" ")
                for ch in line + "\n":
                    k = char_class(ch)
                    trans[prev][k] += 1
                    prev = k
                used += len(line)
    for ch in [c for c in counts if char_class(c) in (char_class("\ufffd"),)]:
        del counts[ch]  # never learn that replacement characters or controls are normal
    groups: dict[int, list[str]] = collections.defaultdict(list)
    for ch, n in counts.items():
        groups[n].append(ch)
    return {
        "about": "Character counts, class transitions and CJK bigrams of real text (dev pool); see cleaning/mojibake/build.py.",
        "classes": list(CLASS_NAMES),
        "transitions": trans,
        "chars": [[n, "".join(sorted(groups[n]))] for n in sorted(groups, reverse=True)],
        "bigrams": _bigrams(lines),
    }


# Bigrams of CJK text kept in the table: pairs seen at least this often, counts rounded to a quarter
# of a power of two (the completion of lost bytes needs orders of magnitude, not exact counts).
_BIGRAM_MIN = 10


def _bigrams(lines: dict[str, list[tuple[str, str]]]) -> list[list[object]]:
    pairs: collections.Counter[str] = collections.Counter()
    for lang in ("zh_CN", "zh_TW", "zh_HK", "ja", "ko", "cjk"):
        for _, line in lines.get(lang, []):
            prev = "$"
            for ch in unicodedata.normalize("NFC", line) + "\n":
                tok = bigram_token(ch)
                if prev != "~" or tok != "~":
                    pairs[prev + tok] += 1
                prev = tok
    buckets: dict[int, list[str]] = collections.defaultdict(list)
    for pair, n in pairs.items():
        if n >= _BIGRAM_MIN and pair != "~~":
            buckets[round(4 * math.log2(n))].append(pair)
    return [[round(2 ** (b / 4)), "".join(sorted(buckets[b]))] for b in sorted(buckets, reverse=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cleaning.mojibake.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("what", choices=["chartable", "cases", "stats"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.what == "chartable":
        table = build_chartable()
        CHARTABLE.write_text(
            json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
        )
        logger.info("wrote %s (%d bytes)", CHARTABLE, CHARTABLE.stat().st_size)
    elif args.what == "stats":
        for pool in ("dev", "heldout"):
            lines = corpus(pool)
            logger.info("%s: %s", pool, {k: len(v) for k, v in sorted(lines.items())})
    else:
        from cleaning.mojibake.cases import build_cases

        cases = build_cases(corpus("dev"), corpus("heldout"), random.Random(20261121))
        CASES.parent.mkdir(parents=True, exist_ok=True)
        CASES.write_text(json.dumps(cases, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        logger.info("wrote %s", CASES)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
