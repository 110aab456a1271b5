"""Noise rules: the seed stories lose their page noise and keep every article sentence; generic cases."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaning.noise import default_rules, is_date_line, load_rules, strip_noise_lines, strip_page_echoes
from cleaning.normalize import normalize_text
from cleaning.records import Removal

DATA = Path(__file__).parent / "data"
SEEDS: dict[str, dict[str, list[str]]] = yaml.safe_load((DATA / "noise_seeds.yaml").read_text("utf-8"))
CASES: dict[str, Any] = yaml.safe_load((DATA / "noise_cases.yaml").read_text("utf-8"))


def _lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_noise_removed_and_sentences_kept(name: str) -> None:
    spec = SEEDS[name]
    text = normalize_text((DATA / name).read_text("utf-8"))
    kept, removals = strip_noise_lines(text)
    kept_lines = _lines(kept)

    def listed(line: str, entries: list[str]) -> bool:
        return any(line.startswith(entry) for entry in entries)

    for entry in spec["noise"]:
        assert not any(line.startswith(entry) for line in kept_lines), f"noise kept: {entry!r}"
    for line in _lines(text):
        if not listed(line, spec["noise"]) and not listed(line, spec["optional"]):
            assert line in kept_lines, f"article line removed: {line[:80]!r}"
    assert all(r.rule and r.text for r in removals)


@pytest.mark.parametrize("case", CASES["remove"], ids=lambda c: c["line"][:40])
def test_noise_line_removed_by_rule(case: dict[str, str]) -> None:
    article = "The minister said on Monday that the talks would resume in Geneva next week."
    kept, removals = strip_noise_lines(f"{article}\n{case['line']}")
    assert kept.strip() == article
    assert [r.rule for r in removals] == [case["rule"]]


@pytest.mark.parametrize("line", CASES["keep"], ids=lambda s: s[:40])
def test_article_sentence_that_looks_like_noise_stays(line: str) -> None:
    text = f"{line}\nThe minister said on Monday that the talks would resume in Geneva next week."
    kept, removals = strip_noise_lines(text)
    assert kept == text, removals


def test_edge_rules_do_not_fire_mid_article() -> None:
    paragraphs = [
        f"Paragraph {i} of the article says something about the talks in Geneva." for i in range(14)
    ]
    paragraphs.insert(7, "By Jane Doe")
    kept, removals = strip_noise_lines("\n".join(paragraphs))
    assert "By Jane Doe" in kept and not removals


def test_click_to_tweet_is_stripped_from_the_quote() -> None:
    kept, removals = strip_noise_lines("Focus is the enemy of busy.Click To Tweet")
    assert kept == "Focus is the enemy of busy."
    assert removals[0].rule == "click-to-tweet"


def test_repeated_short_label_removed() -> None:
    text = "Apps\nThe regulator met 11 companies on Thursday, the statement said.\nApps\nIt was the second meeting."
    kept, removals = strip_noise_lines(text)
    assert "Apps" not in _lines(kept)
    assert {r.rule for r in removals} == {"repeated-label"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Updated March 18th, 2021 at 18:57 IST", True),
        ("기사입력 :[ 2018-09-28 17:32 ]", True),
        ("4:14 p.m.", False),
        ("9.30 A.M. / 7.00 P.M.", False),
        ("The meeting took place on March 18, 2021.", False),
    ],
)
def test_date_lines(line: str, expected: bool) -> None:
    assert is_date_line(line) is expected


def test_headline_and_own_url_echoes_removed() -> None:
    text = "Talks Resume in Geneva\nThe minister said on Monday.\nhttps://example.com/talks"
    kept, removals = strip_page_echoes(
        text, ["Talks resume in Geneva | The Daily Planet"], urls=["https://example.com/talks/"]
    )
    assert kept == "The minister said on Monday."
    assert [(r.rule, r.field) for r in removals] == [("headline", "title"), ("page-url", "text")]


def test_rules_are_versioned_and_loadable() -> None:
    assert default_rules().version
    custom = load_rules({"version": "t", "rules": [{"id": "x", "pattern": "^x$", "max_chars": 5}]})
    assert strip_noise_lines("x\ny", custom) == ("y", [Removal("x", "x")])


@pytest.mark.parametrize("module", ["cleaning.noise"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


_NOISE_WORDS = st.sampled_from(
    [
        "Copyright 2021 The Daily",
        "Photo: Reuters",
        "image credit",
        "Listen to our podcast",
        "Click to tweet",
        "Follow us on Twitter",
        "cookie",
        "newsletter",
        "The minister said on Monday that talks would resume.",
        "ΟΔΟΣ ΣΟΦΟΚΛΕΟΥΣ",
        "İstanbul",
        "and",
        "•",
        "\n",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NOISE_WORDS, max_size=30))
def test_screening_rules_by_the_whole_text_changes_nothing(parts: list[str]) -> None:
    """Rules skipped because their required words are nowhere in the text would not have run on any line."""
    from unittest import mock

    import cleaning.noise

    text = " ".join(parts)
    screened = strip_noise_lines(text)
    with mock.patch.object(cleaning.noise, "_rules_without_their_words", return_value=frozenset()):
        assert strip_noise_lines(text) == screened
