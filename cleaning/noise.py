"""Noise-line removal after extraction: ad labels, navigation, promos, footers, bylines and datelines.

Rules are data (``noise_rules.yaml``, versioned); each removed line is recorded as a ``Removal`` with its
rule id. Bylines, credit lines and datelines are removed from the text too, but their rules carry a
``meta`` tag so that ``cleaning.metadata`` can turn them into authors and dates instead of losing them.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from cleaning.records import Removal

logger = logging.getLogger(__name__)

# List markers that trafilatura and writers put before items; rules match the line without them.
_LIST_MARKER = re.compile(r"^(?:[-*•·▪►–—]\s*|\d{1,2}[.)]\s+)")
_WORD = re.compile(r"[^\W_]")  # a letter or digit
# Segment separators of a meta line: "05/10/2018 - Publicado por: Clarissa Borba - Categoria: Saúde".
_SEGMENT_SPLIT = re.compile(r"\s+[-|•·–—]\s+|\s+(?=(?:by|por|par|von)\s)", re.IGNORECASE)
_NUMBERS = re.compile(r"\d+(?:st|nd|rd|th|er|e|º|ª|日|月|年|시|분|일|월|년)?", re.IGNORECASE)
_DATE_TOKEN_SPLIT = re.compile(r"[\s,;:/()\[\]|–—\-]+")
_TERMINAL = re.compile(r"[.!?:;。！？]$")
_NUMERIC_DATE = re.compile(r"\b(?:19|20)\d{2}\b|\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b")


@dataclass(frozen=True, slots=True)
class NoiseRule:
    id: str
    pattern: re.Pattern[str] | None
    max_chars: int  # only lines up to this length are candidates (long lines are article text)
    kind: str = "regex"  # "regex" | "date-only" | "repeated-short"
    action: str = "drop"  # "drop" | "strip" (remove only the matched span)
    where: str = "any"  # "any" | "edge" (near the start or the end of the text)
    meta: str = ""  # "byline" | "credit" | "dateline": the removed line is a metadata candidate
    requires: tuple[str, ...] = ()  # the line (lower-cased) must contain one of these for the rule to run


@dataclass(frozen=True, slots=True)
class NoiseRules:
    version: str
    rules: tuple[NoiseRule, ...]
    edge_lines: int = 6
    date_words: frozenset[str] = frozenset()
    date_labels: frozenset[str] = frozenset()
    time_words: frozenset[str] = frozenset()


def load_rules(data: dict[str, Any]) -> NoiseRules:
    """Build rules from the parsed YAML document (see ``noise_rules.yaml`` for the fields)."""
    rules = []
    for r in data["rules"]:
        kind = str(r.get("kind", "regex"))
        pattern = re.compile(r["pattern"], re.IGNORECASE) if kind == "regex" else None
        rules.append(
            NoiseRule(
                id=str(r["id"]),
                pattern=pattern,
                max_chars=int(r.get("max_chars", 200)),
                kind=kind,
                action=str(r.get("action", "drop")),
                where=str(r.get("where", "any")),
                meta=str(r.get("meta", "")),
                requires=tuple(str(w).lower() for w in r.get("requires", ())),
            )
        )
    return NoiseRules(
        version=str(data["version"]),
        rules=tuple(rules),
        edge_lines=int(data.get("edge_lines", 6)),
        date_words=frozenset(w.replace(".", "") for w in str(data.get("date_words", "")).lower().split()),
        date_labels=frozenset(str(data.get("date_labels", "")).lower().split()),
        time_words=frozenset(w.replace(".", "") for w in str(data.get("time_words", "")).lower().split()),
    )


@lru_cache(maxsize=1)
def default_rules() -> NoiseRules:
    text = resources.files("cleaning").joinpath("noise_rules.yaml").read_text("utf-8")
    return load_rules(yaml.safe_load(text))


def _bare(line: str) -> str:
    """The line without a leading list marker.

    >>> _bare("- Order Reprints"), _bare("3. Stay hydrated"), _bare("2019 was a year")
    ('Order Reprints', 'Stay hydrated', '2019 was a year')
    """
    return _LIST_MARKER.sub("", line, count=1)


_ASCII_DIGIT = re.compile("[0-9]")


def _has_digit(text: str) -> bool:
    """``any(c.isdigit() for c in text)``, in C for the usual cases: an ASCII digit, or ASCII text
    (ASCII has no other digits; ``\\d`` would miss superscripts, which ``isdigit`` counts)."""
    if _ASCII_DIGIT.search(text) is not None:
        return True
    return not text.isascii() and any(c.isdigit() for c in text)


def _date_words(segment: str) -> list[str]:
    return [
        w for t in _DATE_TOKEN_SPLIT.split(_NUMBERS.sub(" ", segment.lower())) if (w := t.replace(".", ""))
    ]


def _date_segment(segment: str, rules: NoiseRules) -> bool:
    return all(w in rules.date_words for w in _date_words(segment))


def _has_date(segment: str, rules: NoiseRules) -> bool:
    """A calendar date, not only a time of day: a year, a numeric date, or a month/day/status word."""
    if _NUMERIC_DATE.search(segment):
        return True
    return _has_digit(segment) and any(w not in rules.time_words for w in _date_words(segment))


def _label_segment(segment: str, labels: frozenset[str]) -> bool:
    """ "by Jane Doe", "Categoria: Saúde", "Tags: sad": a label and a short value."""
    head, _, rest = segment.partition(":") if ":" in segment[:20] else segment.partition(" ")
    first = head.strip().lower().split(" ")[0] if head.strip() else ""
    return first in labels and 0 < len(rest.split()) <= 6


def is_date_line(line: str, rules: NoiseRules | None = None) -> bool:
    """A line made only of date/time words and numbers, optionally with a "by <name>" or label segment.

    >>> is_date_line("Updated March 18th, 2021 at 18:57 IST")
    True
    >>> is_date_line("05/10/2018 - Publicado por: Clarissa Borba - Categoria: Saúde - Tags: sad")
    True
    >>> is_date_line("5:45 AM PST 11/19/2019 by Patrick Shanley")
    True
    >>> is_date_line("On March 18, 2021 the agency met 11 companies.")
    False
    >>> is_date_line("Monday"), is_date_line("4:14 p.m.")
    (False, False)
    """
    rules = rules or default_rules()
    if not _has_digit(line):
        return False
    segments = [s for s in _SEGMENT_SPLIT.split(line.strip(" -–—•|")) if s.strip()]
    dated = False
    for segment in segments:
        if _date_segment(segment, rules):
            dated = dated or _has_date(segment, rules)
        elif not _label_segment(segment, rules.date_labels):
            return False
    return dated


_NAME_TOKEN = re.compile(
    r"^[A-ZÀ-ÖØ-ÞĀ-ſ][\w.'’-]*$|^[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]{1,8}$"  # capitalised, or CJK
    r"|^(de|da|van|von|der|del|la|le|di|du|bin|al|and|&|y|e|et|und)$"  # particles and conjunctions
    r"|^(staff|reporters?|correspondents?|writers?|editors?)$"  # "Asia Wire staff"
)


def looks_like_names(text: str) -> bool:
    """Names, not prose: a few tokens, nearly all capitalised (particles and "and" allowed).

    >>> looks_like_names("Jane Doe and John Smith")
    True
    >>> looks_like_names("the way, this is not a byline")
    False
    """
    tokens = [t.strip(",;") for t in re.split(r"\s+", text.strip()) if t.strip(",;")]
    if not tokens or len(tokens) > 12:
        return False
    good = sum(1 for t in tokens if _NAME_TOKEN.match(t))
    return good / len(tokens) >= 0.8 and not text.rstrip().endswith(("!", "?", ":", ";"))


_BYLINE_HEAD = re.compile(
    r"^(by|written by|reported by|story by|words by|text by|von|por|par|door|av)\s*:?\s+", re.IGNORECASE
)


def byline_names(line: str) -> str:
    """The name part of a byline ("By Jane Doe | Image: x" -> "Jane Doe"), or "" if it is not a byline.

    >>> byline_names("Reported by: Vishal Tiwari | Image:self")
    'Vishal Tiwari'
    >>> byline_names("By the time he arrived, the shop was closed")
    ''
    """
    m = _BYLINE_HEAD.match(line.strip())
    if not m:
        return ""
    names = re.split(r"\s+[|•·]\s*|\s*\|\s*", line.strip()[m.end() :])[0].strip()
    return names if looks_like_names(names) else ""


def strip_noise_lines(text: str, rules: NoiseRules | None = None) -> tuple[str, list[Removal]]:
    """Drop lines matched by a noise rule; return the kept text and what was removed.

    >>> strip_noise_lines("Advertisement\\nThe minister said on Monday that talks would resume.")[0]
    'The minister said on Monday that talks would resume.'
    >>> strip_noise_lines("He said the advertisement was misleading.")[0]
    'He said the advertisement was misleading.'
    """
    rules = rules or default_rules()
    lines = text.split("\n")
    content = [i for i, line in enumerate(lines) if line.strip()]
    edge = set(content[: rules.edge_lines] + content[-rules.edge_lines :])
    repeated = _repeated_labels(lines, rules)
    absent = _rules_without_their_words(text, rules)
    kept: list[str] = []
    removed: list[Removal] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            kept.append(line)
            continue
        hit = _match(stripped, rules, i in edge, repeated, absent)
        if hit is None:
            kept.append(line)
            continue
        rule, span = hit
        if rule.action == "strip" and span is not None:
            rest = (stripped[: span[0]] + stripped[span[1] :]).strip()
            removed.append(Removal(stripped[span[0] : span[1]].strip(), rule.id))
            if rest:
                kept.append(rest)
            continue
        removed.append(Removal(stripped, rule.id))
    if removed:
        logger.debug("noise rules removed %d lines", len(removed))
    return "\n".join(kept), removed


def _repeated_labels(lines: list[str], rules: NoiseRules) -> set[str]:
    limit = max((r.max_chars for r in rules.rules if r.kind == "repeated-short"), default=0)
    if not limit:
        return set()
    counts = Counter(
        key
        for line in lines
        if (key := _bare(line.strip()).lower())
        and len(key) <= limit
        and len(key.split()) <= 2
        and not _has_digit(key)
        and _WORD.search(key)
        and not _TERMINAL.search(key)
    )
    return {key for key, n in counts.items() if n > 1}


# A rule to try, with its index in ``rules.rules`` and its ``requires`` words (None: no words required).
_Candidate = tuple[int, NoiseRule, "tuple[str, ...] | None"]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The rules to try on a line, by the line's length and whether it is near an edge: what the checks
    of ``max_chars`` and ``where`` leave of ``rules.rules``, in their order, looked up instead of tested
    rule by rule (most lines are prose longer than most rules' ``max_chars``)."""

    limits: tuple[int, ...]  # the rules' distinct max_chars, ascending
    at_edge: tuple[tuple[_Candidate, ...], ...]  # per limit
    inside: tuple[tuple[_Candidate, ...], ...]
    with_words: tuple[tuple[int, tuple[str, ...]], ...]  # (index, requires) of the rules that require words

    def candidates(self, length: int, at_edge: bool) -> tuple[_Candidate, ...]:
        i = bisect.bisect_left(self.limits, length)  # the first limit >= length
        if i == len(self.limits):
            return ()
        return (self.at_edge if at_edge else self.inside)[i]


_plans: dict[int, tuple[NoiseRules, _Plan]] = {}


def _plan(rules: NoiseRules) -> _Plan:
    cached = _plans.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    required = [(i, r, r.requires or None) for i, r in enumerate(rules.rules)]
    limits = tuple(sorted({r.max_chars for r in rules.rules}))
    plan = _Plan(
        limits,
        tuple(tuple(c for c in required if c[1].max_chars >= limit) for limit in limits),
        tuple(
            tuple(c for c in required if c[1].max_chars >= limit and c[1].where != "edge") for limit in limits
        ),
        tuple((i, r.requires) for i, r in enumerate(rules.rules) if r.requires),
    )
    _plans[id(rules)] = (rules, plan)
    return plan


def _rules_without_their_words(text: str, rules: NoiseRules) -> frozenset[int]:
    """The rules (by index) none of whose ``requires`` words is anywhere in the text: they cannot run on
    any of its lines. One search of the whole text per word instead of one per line and word (a substring
    search costs about 0.7 ns a character, and most lines are long enough for most rules).

    A line's ``lower()`` is a substring of the text's: ``str.lower`` is per character except for the final
    sigma, whose form depends on the letters around it, so a text with a capital sigma is not screened.
    """
    with_words = _plan(rules).with_words
    if not with_words or "Σ" in text:
        return frozenset()
    lower = text.lower()
    return frozenset(i for i, words in with_words if not any(w in lower for w in words))


def _match(
    line: str, rules: NoiseRules, at_edge: bool, repeated: set[str], absent: frozenset[int] = frozenset()
) -> tuple[NoiseRule, tuple[int, int] | None] | None:
    bare = _bare(line)
    if not _WORD.search(bare):
        return _SEPARATOR, None
    candidates = _plan(rules).candidates(len(bare), at_edge)
    if not candidates:
        return None
    lower = bare.lower()
    for index, rule, requires in candidates:
        if requires is not None:
            if index in absent:
                continue
            for word in requires:  # a loop, not any(genexpr): a third of the cost
                if word in lower:
                    break
            else:
                continue
        if rule.kind == "date-only":
            if is_date_line(bare, rules):
                return rule, None
        elif rule.kind == "repeated-short":
            if lower in repeated:
                return rule, None
        elif rule.pattern is not None and (m := rule.pattern.search(bare)):
            if rule.meta == "byline" and not byline_names(bare):
                continue
            offset = len(line) - len(bare)
            return rule, (m.start() + offset, m.end() + offset)
    return None


_SEPARATOR = NoiseRule("separator", None, 0)


_FOLD = re.compile(r"[\W_]+")
_TITLE_SPLIT = re.compile(r"\s+[|–—:·•»-]\s+")


def _fold(text: str) -> str:
    return _FOLD.sub(" ", text.casefold()).strip()


def _folds_to_one_of(text: str, forms: set[str], longest: int) -> bool:
    """``_fold(text) in forms``, where no form is longer than ``longest``, without folding all of a long
    line (folding costs about 70 ns a character).

    Folding is per character (``casefold`` has no context), so the fold of a prefix of ``text`` is a
    prefix of its fold: when that is already longer than every form, no form can be the whole fold.

    >>> _folds_to_one_of("Big News -- Today", {"big news today"}, 14)
    True
    >>> _folds_to_one_of("Big news today, said the minister in a long paragraph", {"big news today"}, 14)
    False
    """
    cut = 2 * longest + 2
    head = _fold(text[:cut])
    if len(text) <= cut:
        return head in forms
    return len(head) <= longest and _fold(text) in forms


def strip_page_echoes(
    text: str, titles: Sequence[str], *, urls: Sequence[str] = (), lines_to_check: int = 3
) -> tuple[str, list[Removal]]:
    """Remove lines that repeat the page's own metadata: the headline at the top, the page's URL anywhere.

    Extractors often keep the ``<h1>`` as the first line; the headline is stored as ``title``. Only exact
    matches (case and punctuation folded) of a title form (og:title, JSON-LD headline, ``<title>``,
    ``<h1>``, or a part of one split at " | ", " - ", ": ") among the first lines count. A standfirst equal
    to the page description is kept: on news pages it is usually the first paragraph itself.

    >>> strip_page_echoes("Big news today\\nThe minister said on Monday.", ["Big News Today | The Daily"])[0]
    'The minister said on Monday.'
    >>> strip_page_echoes("The minister said.\\nhttps://x.org/a/1", ["Big news"], urls=["https://x.org/a/1"])[0]
    'The minister said.'
    """
    # The title forms overlap (og:title, <title> and JSON-LD often agree; "Headline - Site" splits into
    # the headline): each distinct one is folded once.
    pieces = dict.fromkeys(titles)
    for title in titles:
        pieces.update(dict.fromkeys(part for part in _TITLE_SPLIT.split(title) if len(part) >= 10))
    forms = {_fold(piece) for piece in pieces}
    forms.discard("")
    longest = max(map(len, forms), default=0)
    own = {u.strip().rstrip("/") for u in urls if u}
    lines = text.split("\n")
    removed: list[Removal] = []
    seen = 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped:
            continue
        seen += 1
        if seen <= lines_to_check and _folds_to_one_of(stripped, forms, longest):
            removed.append(Removal(stripped, "headline", "title"))
            lines[i] = ""
        elif stripped.rstrip("/") in own:
            removed.append(Removal(stripped, "page-url"))
            lines[i] = ""
    if not removed:
        return text, removed
    return "\n".join(lines).strip("\n"), removed
