"""Metadata with provenance: each field from the most trusted declaration, with where it came from."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from cleaning.extract import parse_html
from cleaning.language import detect_language, normalize_language_tag
from cleaning.metadata import clean_authors, normalize_date, read_page_metadata, resolve_metadata
from cleaning.records import Removal

DATA = Path(__file__).parent / "data"
CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "metadata_cases.yaml").read_text("utf-8"))
DATES: list[list[str | None]] = yaml.safe_load((DATA / "metadata_dates.yaml").read_text("utf-8"))
TEXT = "The regulator met eleven technology companies on Thursday to discuss security assessments."


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_page_metadata_values_and_sources(case: dict[str, Any]) -> None:
    page = read_page_metadata(parse_html(case["html"]), case["url"])
    fields, authors = resolve_metadata(page, url=case["url"], text=TEXT)
    for name, (value, source) in case["expect"].items():
        assert name in fields, name
        assert (fields[name].value, fields[name].source) == (value, source), name
        if name == "authors":
            assert authors == value
    for name in case.get("absent", []):
        assert name not in fields, (name, fields.get(name))


@pytest.mark.parametrize(("raw", "iso"), DATES, ids=lambda v: str(v))
def test_normalize_date(raw: str, iso: str | None) -> None:
    assert normalize_date(raw) == iso


def test_bylines_and_datelines_cut_from_the_text_become_metadata() -> None:
    page = read_page_metadata(
        parse_html("<html><head><title>T</title></head><body></body></html>"), "https://x.org/a"
    )
    removals = [
        Removal("Updated March 18th, 2021 at 18:57 IST", "dateline"),
        Removal("Reported by: Vishal Tiwari | Image:self", "byline"),
        Removal("Published March 18th, 2021 at 18:50 IST", "dateline"),
        Removal("Additional reporting by Joseph Hudak", "credit-line"),
    ]
    fields, authors = resolve_metadata(page, url="https://x.org/a", text=TEXT, removals=removals)
    assert authors == ["Vishal Tiwari"]
    assert fields["authors"].source == "byline-text"
    assert fields["published"].value == "2021-03-18T18:50:00+05:30"
    assert fields["modified"].value == "2021-03-18T18:57:00+05:30"
    assert fields["credits"].value == ["Additional reporting by Joseph Hudak"]


def test_language_detected_when_not_declared() -> None:
    page = read_page_metadata(
        parse_html("<html><head><title>T</title></head><body></body></html>"), "https://x.org/a"
    )
    text = "Die Regierung hat am Montag neue Regeln für den Handel mit China vorgestellt, teilte das Ministerium mit."
    fields, _ = resolve_metadata(page, url="https://x.org/a", text=text)
    assert (fields["language"].value, fields["language"].source) == ("de", "py3langid")


@pytest.mark.parametrize(
    ("names", "sites", "expected"),
    [
        (["By Jane Doe and John Smith"], [], ["Jane Doe", "John Smith"]),
        (["Jane Doe, John Smith & Ana Lima"], [], ["Jane Doe", "John Smith", "Ana Lima"]),
        (["The Morning Briefing Newsletter"], [], []),
        (["Example News"], ["Example News"], []),
        (["https://example.com/authors/jane", "jane@example.com"], [], []),
        (["Asia Wire staff"], ["Asia Wire"], ["Asia Wire staff"]),
    ],
)
def test_clean_authors(names: list[str], sites: list[str], expected: list[str]) -> None:
    assert clean_authors(names, site_names=sites) == expected


def test_language_helpers() -> None:
    assert normalize_language_tag("zh-Hans-CN") == "zh"
    assert detect_language("short") is None
    guess = detect_language("The regulator met eleven technology companies on Thursday to discuss security.")
    assert guess is not None and guess[0] == "en"


def test_malformed_declarations_do_not_raise() -> None:
    html = """<html><head><script type="application/ld+json">{not json</script>
    <meta property="article:published_time" content="sometime"><meta name="author" content="">
    </head><body><time datetime="garbage">x</time></body></html>"""
    page = read_page_metadata(parse_html(html), "not a url")
    assert "published" not in page.fields and page.authors is None


def test_elements_after_the_headline_are_what_the_xpath_selects() -> None:
    """Bylines and datelines are searched among the 80 elements after the first <h1>, walked in Python;
    the XPath it replaces is the reference, on the benchmark's pages and on awkward markup."""
    from lxml import etree

    from cleaning.decode import decode_html
    from cleaning.metadata import _following, _is_byline, _is_dateline
    from tests.bench.common import benchmark_bodies

    near = "(//h1)[1]/following::*[position() <= 80]"
    byline = etree.XPath(
        near + "[@itemprop='author' or @rel='author' or contains(@class, 'byline')"
        " or contains(concat(' ', normalize-space(@class), ' '), ' author ') or contains(@class, 'author-name')"
        " or contains(concat(' ', normalize-space(@class), ' '), ' source ')]"
    )
    dateline = etree.XPath(
        near + "[contains(@class, 'date') or contains(@class, 'time') or contains(@class, 'publish')"
        " or @itemprop='datePublished'][not(self::time)]"
    )
    awkward = (
        "<html><body><div><header><h1>Title<span class='author'>in h1</span></h1><!-- c -->"
        "<p class='x\tauthor\ny'>A</p><p class='x\u00a0author'>B</p><p class=' source '>C</p>"
        "<p class='authors'>D</p><time class='date'>E</time><span class='update-time'>F</span></header>"
        "<p rel='author'>G</p></div>" + "<p class='source'>x</p>" * 100 + "</body></html>"
    )
    trees = [parse_html(awkward), parse_html("<html><body><p class='byline'>x</p></body></html>")]
    trees += [parse_html(decode_html(body).text) for _, body in benchmark_bodies()[::6]]
    for tree in trees:
        h1 = next(tree.iter("h1"), None)
        following = _following(h1) if h1 is not None else []
        assert following == (tree.xpath(near) if h1 is not None else [])
        assert [el for el in following if _is_byline(el)] == byline(tree)
        assert [el for el in following if _is_dateline(el)] == dateline(tree)


@pytest.mark.parametrize("module", ["cleaning.metadata", "cleaning.language"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
