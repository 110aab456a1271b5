"""The clue characters read off a pattern (``cleaning/patterns.py``) and the mojibake prefilter built on
ftfy's ``BADNESS_RE`` with them: it must never hide a match of the pattern it stands in for."""

from __future__ import annotations

import doctest
import re

import ftfy
from ftfy.badness import BADNESS_RE, is_bad
from hypothesis import given, settings
from hypothesis import strategies as st

import cleaning.patterns
from cleaning import repair
from cleaning.patterns import clue_characters
from cleaning.repair import FTFY_CONFIG, might_be_bad


def test_doctests() -> None:
    assert doctest.testmod(cleaning.patterns).failed == 0


def test_the_prefilter_is_active_for_the_pinned_ftfy() -> None:
    """If ftfy's pattern changes shape so that no clue set can be read, ``might_be_bad`` silently gets
    slow again: this says so."""
    assert repair._BADNESS_CLUES is not None and repair._BAD_CLUE is not None
    assert {"Ã", "Â", "€"} & repair._BADNESS_CLUES
    # the characters of correct news text do not wake the full check
    assert not repair._BADNESS_CLUES & set("’‘“”–—…\xa0«»")


def test_each_alternative_of_ftfy_pattern_needs_a_clue() -> None:
    """An independent check of the analysis: every alternative, with each of its clue characters
    replaced by a character that is not a clue, can no longer match where it matched before."""
    clues = repair._BADNESS_CLUES
    assert clues is not None
    samples = [
        "doesnâ€™t",  # UTF-8 read as cp1252
        "CafÃ© au lait",
        "Ã\xa0 bientôt",
        "Ã mesure",
        "Â£100",
        "Ð¼Ð¾Ñ\x81ÐºÐ²Ð°",
        "Ø§Ù„Ø¹Ø±Ø¨ÙŠØ©",
        "вЂњquotedвЂќ",
        "Ã¢â‚¬Å“double mojibakeÃ¢â‚¬Â",
        "The price is 10â‚¬",
        "Ã¼ber",
        "Ã\x9f",
        "√±o",
    ]
    checked = 0
    for text in samples:
        if is_bad(text):
            checked += 1
            assert repair._BAD_CLUE.search(text), text
            stripped = "".join("x" if c in clues else c for c in text)
            assert not BADNESS_RE.search(stripped), (text, stripped)
    assert checked >= 10


_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABC   .,-\n0123"
    + "ÃÂÎÐØÙœŒé©®°·»¡«¿‘‚“”„•‹›™–—´²³¹±×µ÷√≈вЂВГРСβ€ΒΓΞΟā│┌▀░ãâêàäóòôú¢£¥¤¦§¨ª¬¯¸ƒˆ˜"
)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=60))
def test_no_text_without_a_clue_is_bad(text: str) -> None:
    if repair._BAD_CLUE is not None and not repair._BAD_CLUE.search(text):
        assert not is_bad(text)
        assert not might_be_bad(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_ALPHABET, min_size=150, max_size=600))
def test_prefilter_never_skips_an_ftfy_change(text: str) -> None:
    if not might_be_bad(text) and not re.search("[&\x1b\x80-\x9f\ud800-\udfff]", text):
        assert ftfy.fix_text(text, FTFY_CONFIG) == text


def test_clue_characters_refuse_what_they_cannot_read() -> None:
    assert clue_characters(re.compile("(?i)abc"), len) is None  # case-insensitive: sets would need closing
    assert clue_characters(re.compile(r"[^a]b|c"), len) == frozenset("bc")
    assert clue_characters(re.compile(r".+"), len) is None


_SUSPICIOUS_BY_DEFINITION = re.compile(
    "[\x80-\x9f\u2500-\u259f\u2e80-\u2fdf\u3400-\u9fff\uac00-\ud7a3\ue000-\ufaff"
    "\uff61-\uff9f\ufffd\U00020000-\U0003ffff\U000f0000-\U0010ffff]"
)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=()))
    | st.text(alphabet="ab’“中\U00020001😀\ufffd\ud800")
)
def test_split_suspicious_class_is_the_whole_class(text: str) -> None:
    from cleaning.mojibake.detect import _may_be_suspicious

    assert _may_be_suspicious(text) == (_SUSPICIOUS_BY_DEFINITION.search(text) is not None)
