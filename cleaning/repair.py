"""Text repair: mojibake that ftfy fixes (with explicit options), and CJK mojibake that it does not.

Three passes, each only where a fast check sees a sign of damage (most news text is clean and comes
back untouched after a few regular-expression scans):

1. CJK legacy bytes read as cp1252 (``ÖÐ¹ú`` → ``中国``), before ftfy, which would otherwise take some
   of these bytes for UTF-8;
2. ftfy, line by line, for Western mojibake (UTF-8 read as cp1252, Latin-1, MacRoman, twice, ...),
   HTML entities and the rest of ``FTFY_CONFIG``;
3. UTF-8 read as a CJK codec (GBK/GB18030, Big5, Shift_JIS, EUC-JP, EUC-KR), span by span, with bytes
   lost upstream inferred when the context leaves one good answer and marked U+FFFD otherwise
   (see ``cleaning/mojibake``).

Every change is reported as a ``Repair`` whose ``start``/``end`` index the input text.

>>> repair_text("Regulators hold talks with tech firms over 鈥榙eepfake鈥")
'Regulators hold talks with tech firms over ‘deepfake’'
>>> repair_text("ÖÐ¹ú")
'中国'
>>> repair_text("The Mona Lisa doesnâ€™t have eyebrows.")
'The Mona Lisa doesn’t have eyebrows.'
>>> repair_text("「こんにちは」と言った。")  # correct text never changes
'「こんにちは」と言った。'
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import ftfy
from ftfy.badness import is_bad

from cleaning.mojibake.detect import (
    DEFAULT_THRESHOLDS,
    Candidate,
    Thresholds,
    find_legacy_misreads,
    find_utf8_misreads,
    might_be_legacy,
)
from cleaning.mojibake.model import default_model
from cleaning.records import Repair

logger = logging.getLogger(__name__)

# ftfy options chosen explicitly: its defaults straighten curly quotes and fold full-width CJK
# punctuation, both wrong for news text.
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html="auto",
    remove_terminal_escapes=True,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)
_FTFY_EXPLAINED = FTFY_CONFIG._replace(explain=True)


@dataclass(frozen=True, slots=True)
class RepairConfig:
    # Undo CJK legacy bytes (GBK, Big5, Shift_JIS, EUC-KR, EUC-JP) read as windows-1252 or Latin-1.
    cjk_legacy: bool = True
    # Apply ftfy with FTFY_CONFIG (Western mojibake, HTML entities, C1 controls, terminal escapes).
    ftfy: bool = True
    # Undo UTF-8 read as GBK/GB18030, Big5, Shift_JIS, EUC-JP or EUC-KR.
    cjk_utf8: bool = True
    # Decision thresholds of the CJK passes (bits of naturalness a repair must gain).
    thresholds: Thresholds = DEFAULT_THRESHOLDS


DEFAULT_REPAIR_CONFIG = RepairConfig()


@dataclass(frozen=True, slots=True)
class RepairResult:
    text: str
    repairs: list[Repair] = field(default_factory=list)


# Characters any ftfy fix needs to see before it changes anything: an HTML entity, a terminal escape,
# a C1 control or a lone surrogate; everything else it does is gated on ``is_bad``.
_FTFY_TRIGGER = re.compile("[&\x1b\x80-\x9f\ud800-\udfff]")


class _Edits:
    """Replacements applied in successive passes, to map positions back to the input text."""

    def __init__(self) -> None:
        # (start, end) in the current text, (start, end) in the input text
        self.spans: list[tuple[int, int, int, int]] = []

    def to_input(self, start: int, end: int) -> tuple[int, int]:
        shift = 0
        lo, hi = None, None
        for cs, ce, os_, oe in self.spans:
            if ce <= start:
                shift = oe - ce
                continue
            if cs >= end:
                break
            # overlaps an earlier edit: widen to the whole edit
            lo = os_ if lo is None else min(lo, os_)
            hi = oe if hi is None else max(hi, oe)
        in_start = start + shift if lo is None else min(lo, start + shift)
        in_end = end + shift if hi is None else max(hi, end + shift)
        return in_start, in_end

    def apply(self, text: str, changes: list[tuple[int, int, str]]) -> str:
        """Apply non-overlapping ``(start, end, replacement)`` changes (current coordinates)."""
        if not changes:
            return text
        out: list[str] = []
        pos = 0
        new_spans: list[tuple[int, int, int, int]] = []
        delta = 0
        for start, end, replacement in sorted(changes):
            out.append(text[pos:start])
            out.append(replacement)
            in_start, in_end = self.to_input(start, end)
            new_spans.append((start + delta, start + delta + len(replacement), in_start, in_end))
            delta += len(replacement) - (end - start)
            pos = end
        out.append(text[pos:])
        # earlier spans that were not touched move by the changes before them
        moved = []
        for cs, ce, os_, oe in self.spans:
            if any(cs < e and s < ce for s, e, _ in changes):
                continue
            d = sum(len(r) - (e - s) for s, e, r in changes if e <= cs)
            moved.append((cs + d, ce + d, os_, oe))
        self.spans = sorted(moved + new_spans)
        return "".join(out)


def _ftfy_lines(text: str, edits: _Edits, original: str, repairs: list[Repair]) -> str:
    changes: list[tuple[int, int, str]] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        start = pos
        pos += len(line)
        if not (_FTFY_TRIGGER.search(line) or is_bad(line)):
            continue
        fixed, steps = ftfy.fix_and_explain(line, _FTFY_EXPLAINED)
        if fixed == line:
            continue
        # the smallest span that covers the change
        a = 0
        while a < min(len(line), len(fixed)) and line[a] == fixed[a]:
            a += 1
        b = 0
        while b < min(len(line), len(fixed)) - a and line[-1 - b] == fixed[-1 - b]:
            b += 1
        names = [s.action + ":" + s.parameter for s in steps or []]
        encodings = [s.parameter for s in steps or [] if s.action == "encode"]
        kind = "html-entity" if names == ["apply:unescape_html"] else "ftfy"
        codec = f"utf-8 read as {encodings[0]}" if encodings else ", ".join(names)
        changes.append((start + a, start + len(line) - b, fixed[a : len(fixed) - b]))
        in_start, in_end = edits.to_input(start + a, start + len(line) - b)
        repairs.append(Repair(in_start, in_end, original[in_start:in_end], fixed[a : len(fixed) - b], kind, codec))
    return edits.apply(text, changes)


def _apply_candidates(text: str, cands: list[Candidate], edits: _Edits, original: str, repairs: list[Repair]) -> str:
    for c in cands:
        in_start, in_end = edits.to_input(c.start, c.end)
        repairs.append(
            Repair(in_start, in_end, original[in_start:in_end], c.replacement, c.kind, c.codec, c.confidence, c.lost_bytes)
        )
        logger.debug("repaired %s: %r -> %r (gain %.1f bits)", c.codec, c.original, c.replacement, c.gain)
    return edits.apply(text, [(c.start, c.end, c.replacement) for c in cands])


def _unless_ftfy_reads_better(text: str, cands: list[Candidate]) -> list[Candidate]:
    """Drop legacy repairs on lines that ftfy reads as Western mojibake more naturally.

    Both passes see high Latin-1 characters: ``ÖÐ¹ú`` is GBK read as cp1252, ``ŒîŒµ`` is Greek UTF-8
    read as MacRoman. The legacy pass runs first (ftfy would take some GBK byte pairs for UTF-8), so
    on each line it touches, the two readings are compared and the more natural one is kept.
    """
    model = default_model()
    kept: list[Candidate] = []
    by_line: dict[int, list[Candidate]] = {}
    for c in cands:
        by_line.setdefault(text.rfind("\n", 0, c.start) + 1, []).append(c)
    for start, group in by_line.items():
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        line = text[start:end]
        western = ftfy.fix_encoding(line, FTFY_CONFIG)
        if western != line:
            ours = _apply_to_line(line, start, group)
            if model.cost(western) <= model.cost(ours):
                logger.debug("legacy repair dropped for ftfy's reading: %r", western)
                continue
        kept.extend(group)
    return sorted(kept, key=lambda c: c.start)


def _apply_to_line(line: str, offset: int, cands: list[Candidate]) -> str:
    out, pos = [], 0
    for c in sorted(cands, key=lambda c: c.start):
        out.append(line[pos : c.start - offset])
        out.append(c.replacement)
        pos = c.end - offset
    out.append(line[pos:])
    return "".join(out)


def repair_text_explained(text: str, config: RepairConfig = DEFAULT_REPAIR_CONFIG) -> RepairResult:
    """Repair mojibake and say what was done: each ``Repair`` has its span in ``text``, the codec undone,
    a confidence and the number of bytes lost upstream.

    >>> result = repair_text_explained("Copyright 漏 1999- Shanghai Daily")
    >>> result.text
    'Copyright © 1999- Shanghai Daily'
    >>> r = result.repairs[0]
    >>> (r.start, r.end, r.original, r.replacement, r.kind, r.codec)
    (10, 11, '漏', '©', 'cjk-mojibake', 'utf-8 read as gbk')
    """
    if text.isascii() and "&" not in text and "\x1b" not in text:
        return RepairResult(text)
    repairs: list[Repair] = []
    edits = _Edits()
    current = text
    if config.cjk_legacy and might_be_legacy(current):
        legacy = find_legacy_misreads(current, config.thresholds)
        if legacy and config.ftfy:
            legacy = _unless_ftfy_reads_better(current, legacy)
        current = _apply_candidates(current, legacy, edits, text, repairs)
    if config.ftfy and (_FTFY_TRIGGER.search(current) or is_bad(current)):
        current = _ftfy_lines(current, edits, text, repairs)
    if config.cjk_utf8 and not current.isascii():
        current = _apply_candidates(current, find_utf8_misreads(current, config.thresholds), edits, text, repairs)
    repairs.sort(key=lambda r: (r.start, r.end))
    return RepairResult(current, repairs)


def repair_text(text: str) -> str:
    """Repair mojibake; correct text comes back unchanged."""
    return repair_text_explained(text).text
