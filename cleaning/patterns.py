"""What every match of a regular expression must contain, read off the pattern: a cheap prefilter.

CPython's ``re`` has no prefilter for a pattern that starts with an alternation: ``search`` tries the whole
pattern at every position of the text. ftfy's mojibake detector (``is_bad``) is such a pattern, with a few
dozen alternatives; one search with a single character class runs at a fraction of its cost, and a text
without any of the characters every match needs cannot match. The characters are read off the parsed
pattern, so that they stay right when the pattern changes; a pattern this cannot read gets None, and the
caller runs it as before.

This reads CPython's parse tree (``re._parser``), which is not public API; ``tests/cleaning/test_patterns.py``
checks what it relies on against ftfy's pattern itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from re import _constants, _parser  # type: ignore[attr-defined]
from typing import Any

_Items = Iterable[tuple[Any, Any]]


def _literal_set(item: tuple[Any, Any]) -> frozenset[str] | None:
    """The characters a parsed item matches, if it is a literal or a class of literals and ranges."""
    op, arg = item
    if op is _constants.LITERAL:
        return frozenset(chr(arg))
    if op is not _constants.IN:
        return None
    chars: set[str] = set()
    for member_op, member in arg:
        if member_op is _constants.LITERAL:
            chars.add(chr(member))
        elif member_op is _constants.RANGE:
            chars.update(map(chr, range(member[0], member[1] + 1)))
        else:  # a negated class or a category (\w, \s): not a small set
            return None
    return frozenset(chars)


def _alternatives(pattern: re.Pattern[str]) -> list[_Items] | None:
    try:
        parsed = list(_parser.parse(pattern.pattern, pattern.flags))
    except re.error:  # pragma: no cover - a compiled pattern parses
        return None
    if len(parsed) == 1 and parsed[0][0] is _constants.BRANCH:
        return list(parsed[0][1][1])
    return [parsed]


def clue_characters(pattern: re.Pattern[str], weight: Callable[[str], int]) -> frozenset[str] | None:
    """Characters of which every match of ``pattern`` holds at least one, or None if that cannot be read
    off the pattern (an alternative without a position that only a literal or a class fills).

    Per alternative of the top-level alternation, the literal or class with the least total ``weight`` is
    taken: the caller weighs characters by how common they are in the texts it checks.

    >>> sorted(clue_characters(re.compile("ab[éè]|x(?:y)[ÃÂ]z"), lambda c: 1 if c > "~" else 100))
    ['Â', 'Ã', 'è', 'é']
    >>> clue_characters(re.compile(r"\\w+|b[éè]"), len) is None
    True
    """
    if pattern.flags & re.IGNORECASE:
        return None
    alternatives = _alternatives(pattern)
    if alternatives is None:
        return None
    clues: set[str] = set()
    for alternative in alternatives:
        sets = [s for item in alternative if (s := _literal_set(item)) is not None]
        if not sets:
            return None
        clues |= min(sets, key=lambda s: sum(weight(c) for c in s))
    return frozenset(clues)
