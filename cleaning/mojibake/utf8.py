"""Decode a damaged UTF-8 byte stream: bytes may be missing, silently or where a U+FFFD marks them.

The stream is a list of tokens: byte values, or ``HOLE`` for a byte (or two) that a decoder replaced
with U+FFFD. Decoding yields units: a complete character, or a ``Gap`` — a character whose bytes are
partly unknown (``pattern`` holds the known bytes and ``HOLE`` for the unknown ones). Gaps are filled
later from context (see ``complete.py``) or left as U+FFFD.

>>> units, syncs = parse([0xE2, 0x80, 0x98, 0x64], 0, {0, 2, 4})
>>> units, syncs[-1]
(['‘', 'd'], (4, 2))
>>> units, _ = parse([0xE5, 0xA4, 0x20], 0, {0, 2, 3})
>>> units[0]
Gap(pattern=(229, 164, -1), silent=1)
"""

from __future__ import annotations

from collections.abc import Container, Sequence
from dataclasses import dataclass

HOLE = -1


@dataclass(frozen=True, slots=True)
class Gap:
    pattern: tuple[int, ...]  # the character's bytes; HOLE where unknown
    silent: int  # bytes lost without a U+FFFD marking them

    @property
    def missing(self) -> int:
        return sum(1 for b in self.pattern if b == HOLE)


Unit = str | Gap


def seq_len(lead: int) -> int:
    """Continuation bytes a lead byte needs (0 for ASCII, -1 for bytes that cannot start a character)."""
    if lead < 0x80:
        return 0
    if 0xC2 <= lead <= 0xDF:
        return 1
    if 0xE0 <= lead <= 0xEF:
        return 2
    if 0xF0 <= lead <= 0xF4:
        return 3
    return -1


def cont_ok(lead: int, pos: int, b: int) -> bool:
    """Whether ``b`` can be continuation byte number ``pos`` (1-based) after ``lead``."""
    if pos == 1:
        if lead == 0xE0:
            return 0xA0 <= b <= 0xBF
        if lead == 0xED:
            return 0x80 <= b <= 0x9F
        if lead == 0xF0:
            return 0x90 <= b <= 0xBF
        if lead == 0xF4:
            return 0x80 <= b <= 0x8F
    return 0x80 <= b <= 0xBF


def _is_cont(b: int) -> bool:
    return 0x80 <= b <= 0xBF


def parse(
    toks: Sequence[int], start: int, bounds: Container[int]
) -> tuple[list[Unit], list[tuple[int, int]]]:
    """Decode from token ``start`` as far as the bytes stay UTF-8 (allowing for lost bytes).

    Returns the units and the sync points ``(token index, units so far)``: places that are both a unit
    boundary and one of ``bounds`` (a boundary between characters of the mojibake text). A repair can
    only end at a sync point.
    """
    units: list[Unit] = []
    syncs: list[tuple[int, int]] = [(start, 0)]
    n = len(toks)
    i = start
    after_hole = False
    while i < n:
        t = toks[i]
        if t == HOLE or (after_hole and _is_cont(t)):
            # A lost lead byte (and its surviving continuation bytes): the character is unknown.
            pattern = [HOLE]
            j = i + 1 if t == HOLE else i
            while j < n and len(pattern) < 4 and _is_cont(toks[j]):
                pattern.append(toks[j])
                j += 1
            units.append(Gap(tuple(pattern), 0))
            after_hole = True
            i = j
        elif t < 0x80:
            units.append(chr(t))
            after_hole = False
            i += 1
        else:
            need = seq_len(t)
            if need < 0 or _is_cont(t):
                break
            pattern = [t]
            silent = 0
            j = i + 1
            ended_by_hole = False
            while len(pattern) <= need and j < n:
                u = toks[j]
                if u == HOLE:
                    pattern.append(HOLE)
                    j += 1
                    if j >= n or not _is_cont(toks[j]):
                        ended_by_hole = True
                        break
                elif cont_ok(t, len(pattern), u):
                    pattern.append(u)
                    j += 1
                else:
                    break
            if len(pattern) <= need:
                if not ended_by_hole:
                    silent = need + 1 - len(pattern)
                pattern.extend([HOLE] * (need + 1 - len(pattern)))
            if HOLE in pattern:
                units.append(Gap(tuple(pattern), silent))
                after_hole = ended_by_hole
            else:
                units.append(bytes(pattern).decode("utf-8"))
                after_hole = False
            i = j
        if i in bounds:
            syncs.append((i, len(units)))
    return units, syncs
