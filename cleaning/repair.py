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

import bisect
import logging
import re
from dataclasses import dataclass, field

import ftfy
from ftfy.badness import BADNESS_RE, is_bad

from cleaning.mojibake.detect import (
    DEFAULT_THRESHOLDS,
    Candidate,
    Thresholds,
    find_legacy_misreads,
    find_utf8_misreads,
    might_be_legacy,
)
from cleaning.mojibake.model import default_model
from cleaning.patterns import clue_characters
from cleaning.records import Repair

logger = logging.getLogger(__name__)

# ftfy options chosen explicitly: its defaults straighten curly quotes and fold full-width CJK
# punctuation, both wrong for news text. Everything that repairs an encoding is on; everything that
# would change correct text is off.
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html="auto",  # &eacute; -> é, except in lines that look like markup (hold a '<')
    remove_terminal_escapes=True,  # ANSI colour codes are never content
    fix_encoding=True,  # the mojibake repair itself (UTF-8 read as cp1252, Latin-1, MacRoman, ...)
    restore_byte_a0=True,  # 'Ã ' whose NBSP became a space: still mojibake
    replace_lossy_sequences=True,  # mojibake with lost bytes becomes U+FFFD, not left garbled
    decode_inconsistent_utf8=True,  # mojibake spans inside otherwise correct text
    fix_c1_controls=True,  # C1 controls are cp1252 characters read as Latin-1
    fix_latin_ligatures=False,  # ﬁ stays ﬁ: normalisation is a later, separate step
    fix_character_width=False,  # full-width CJK punctuation and letters are correct text
    uncurl_quotes=False,  # curly quotes are correct text
    fix_line_breaks=False,  # line breaks are normalised in cleaning/normalize.py
    fix_surrogates=True,  # lone surrogates (UTF-16 pairs decoded separately) cannot be stored
    remove_control_chars=False,  # control characters are removed in cleaning/normalize.py
    normalization=None,  # NFC happens in cleaning/normalize.py
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
# ftfy's badness patterns look at most a few characters around a non-ASCII one, so on long text
# ``might_be_bad`` runs them only on the stretches around non-ASCII characters (most of a news text is
# ASCII, and ``is_bad`` on all of it costs more than the rest of the repair).
_NON_ASCII_STRETCH = re.compile(r"[^\x00-\x7f]+(?:[\x00-\x7f]{1,6}[^\x00-\x7f]+)*")
_BAD_AT_LINE_START = re.compile("(?:^|\n)[ÃÂ] ")  # ftfy checks each line, where '^' is a line start
# Characters of correct text that ftfy's mojibake classes also hold; the clue characters avoid them.
_COMMON_IN_TEXT = frozenset("‘’“”–—…«»\xa0·°©®™€£")


def _clue_weight(char: str) -> int:
    """How often ``char`` turns up in correct text, roughly: a clue set of rare characters is wanted."""
    if char.isascii() or char in _COMMON_IN_TEXT:
        return 1000
    return 10 if char.islower() else 5 if char.isalpha() else 1


# ftfy's badness alternatives each need one mojibake character; the clues are a set of them that correct
# news text rarely holds (not curly quotes or dashes), so most texts skip ``is_bad`` after one scan.
_BADNESS_CLUES = clue_characters(BADNESS_RE, _clue_weight)
_BAD_CLUE = (
    re.compile("[" + "".join(re.escape(c) for c in sorted(_BADNESS_CLUES | set("ÃÂ"))) + "]")
    if _BADNESS_CLUES is not None
    else None
)


def might_be_bad(text: str) -> bool:
    """Whether ftfy's ``is_bad`` could hold for ``text`` or one of its lines (no false negatives).

    >>> might_be_bad("Plain text with “quotes” and café."), might_be_bad("The café â€” ok")
    (False, True)
    """
    if _BAD_CLUE is not None and _BAD_CLUE.search(text) is None:
        return False  # most news text: curly quotes and dashes, none of the clue characters
    if len(text) < 200:
        return is_bad(text) or _BAD_AT_LINE_START.search(text) is not None
    stretches = [text[max(0, m.start() - 3) : m.end() + 3] for m in _NON_ASCII_STRETCH.finditer(text)]
    reduced = "\x00".join(stretches)
    return is_bad(reduced) or _BAD_AT_LINE_START.search(text) is not None


class _Edits:
    """Replacements applied in successive passes, to map positions back to the input text.

    >>> edits = _Edits()
    >>> edits.apply("ab鈥榙c", [(2, 4, "‘d")])
    'ab‘dc'
    >>> edits.to_input(4, 5), edits.to_input(2, 3)
    ((4, 5), (2, 4))
    """

    def __init__(self) -> None:
        # sorted, without overlaps: (start, end) in the current text, (start, end) in the input text
        self.spans: list[tuple[int, int, int, int]] = []
        self.starts: list[int] = []

    def to_input(self, start: int, end: int) -> tuple[int, int]:
        """The span of the input text that ``[start, end)`` of the current text comes from (an edit
        it overlaps is taken whole)."""
        j = bisect.bisect_left(self.starts, end)  # spans starting before ``end``: 0 .. j-1
        i = j
        while i > 0 and self.spans[i - 1][1] > start:
            i -= 1  # spans i .. j-1 overlap [start, end)
        shift = self.spans[i - 1][3] - self.spans[i - 1][1] if i else 0
        in_start, in_end = start + shift, end + shift
        if i < j:  # the first overlapped edit starts the span at the latest, the last one ends it
            in_start = min(in_start, self.spans[i][2])
            last = self.spans[j - 1]
            in_end = last[3] + max(0, end - last[1])
        return in_start, in_end

    def apply(self, text: str, changes: list[tuple[int, int, str]]) -> str:
        """Apply non-overlapping ``(start, end, replacement)`` changes (current coordinates)."""
        if not changes:
            return text
        changes = sorted(changes)
        out: list[str] = []
        added: list[tuple[int, int, int, int]] = []
        pos = delta = 0
        for start, end, replacement in changes:
            out.append(text[pos:start])
            out.append(replacement)
            in_start, in_end = self.to_input(start, end)
            added.append((start + delta, start + delta + len(replacement), in_start, in_end))
            delta += len(replacement) - (end - start)
            pos = end
        out.append(text[pos:])
        # earlier spans that no change touched move by the changes before them
        kept: list[tuple[int, int, int, int]] = []
        k = 0
        delta = 0
        for cs, ce, os_, oe in self.spans:
            while k < len(changes) and changes[k][1] <= cs:
                delta += len(changes[k][2]) - (changes[k][1] - changes[k][0])
                k += 1
            if k < len(changes) and changes[k][0] < ce:
                continue  # replaced by a later edit, which maps to the input through it
            kept.append((cs + delta, ce + delta, os_, oe))
        self.spans = sorted(kept + added)
        self.starts = [span[0] for span in self.spans]
        return "".join(out)


def _ftfy_lines(
    text: str, edits: _Edits, original: str, repairs: list[Repair], maybe_bad: bool = True
) -> str:
    """ftfy on each line that needs it. ``maybe_bad=False`` (``might_be_bad(text)`` is false) says no line
    is bad, which saves ``is_bad`` on every line of a text sent here for an HTML entity alone."""
    changes: list[tuple[int, int, str]] = []
    pos = 0
    pieces = text.split("\n")  # ftfy's own segments: lines ending in "\n" (not other line breaks)
    for i, piece in enumerate(pieces):
        line = piece + "\n" if i < len(pieces) - 1 else piece
        start = pos
        pos += len(line)
        if not (_FTFY_TRIGGER.search(line) or (maybe_bad and is_bad(line))):
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
        repairs.append(
            Repair(in_start, in_end, original[in_start:in_end], fixed[a : len(fixed) - b], kind, codec)
        )
    return edits.apply(text, changes)


def _apply_candidates(
    text: str, cands: list[Candidate], edits: _Edits, original: str, repairs: list[Repair]
) -> str:
    for c in cands:
        in_start, in_end = edits.to_input(c.start, c.end)
        repairs.append(
            Repair(
                in_start,
                in_end,
                original[in_start:in_end],
                c.replacement,
                c.kind,
                c.codec,
                c.confidence,
                c.lost_bytes,
            )
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
        western = ftfy.fix_encoding(line, FTFY_CONFIG) if is_bad(line) else line
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
    if config.ftfy:
        maybe_bad = might_be_bad(current)
        if maybe_bad or _FTFY_TRIGGER.search(current):
            current = _ftfy_lines(current, edits, text, repairs, maybe_bad)
    if config.cjk_utf8 and not current.isascii():
        current = _apply_candidates(
            current, find_utf8_misreads(current, config.thresholds), edits, text, repairs
        )
    repairs.sort(key=lambda r: (r.start, r.end))
    return RepairResult(current, repairs)


def repair_text(text: str) -> str:
    """Repair mojibake; correct text comes back unchanged."""
    return repair_text_explained(text).text
