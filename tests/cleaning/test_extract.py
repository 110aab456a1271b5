"""Extraction: trafilatura plus the structural check against the page's DOM."""

from __future__ import annotations

import doctest
import gzip
import importlib
from pathlib import Path

import pytest

from cleaning.config import DEFAULT_CONFIG
from cleaning.extract import (
    ExtractionError,
    ExtractionSettings,
    StructureCheck,
    extract_article,
    looks_like_dump,
    parse_html,
)

BENCHMARK = Path(__file__).parents[1] / "data" / "extraction-benchmark" / "html"
WIRED = "d48aeb9cf2f2ff15769a57513249b4a6a669159f3e50b335e741d4206a824e88"

SENTENCES = [
    "Chinese regulators summoned eleven domestic technology companies for talks on the use of deepfake technology.",
    "The cyberspace administrator said in a statement that it met the companies together with the security ministry.",
    "Companies called in for talks included a smartphone maker, a livestreaming firm and a music streaming service.",
    "Deepfakes use artificial intelligence to create hyper-realistic but fake videos of people saying things.",
    "China has increased scrutiny of its internet giants in recent months, citing concerns over monopolistic behaviour.",
    "Authorities urged them to comply with cybersecurity laws and to conduct security assessments of new features.",
    "Regulators also told the companies to submit reports before adding functions that could mobilise society.",
    "The meeting comes as several companies are working on audio chat apps for the domestic market, analysts said.",
]


def _page(body: str, head: str = "<title>Regulators summon tech firms</title>") -> str:
    return f"<!doctype html><html lang='en'><head>{head}</head><body><header><a href='/'>Home</a></header>{body}</body></html>"


def _paragraphs(sentences: list[str]) -> str:
    return "".join(f"<p>{s}</p>" for s in sentences)


def test_comment_inside_a_paragraph_does_not_split_it() -> None:
    body = (
        "<article>"
        + _paragraphs(SENTENCES[:3])
        + "<p>When <!-- drop cap --> the minister spoke, talks resumed.</p>"
    )
    body += _paragraphs(SENTENCES[3:]) + "</article>"
    text = extract_article(_page(body), "https://x.org/a", DEFAULT_CONFIG).text
    assert "When the minister spoke, talks resumed." in text


def test_article_split_across_sibling_containers_is_extracted_whole() -> None:
    # A recorded page (benchmark copy) whose body is split into sibling "chunk" containers with an ad rail
    # between them; trafilatura alone keeps the first chunk only.
    html = gzip.decompress((BENCHMARK / f"{WIRED}.html.gz").read_bytes()).decode("utf-8")
    url = "https://www.wired.com/story/instagram-business-accounts-analytics/"
    first = "Instagram began testing hiding public like counts globally on Thursday"
    later = [
        "I learned that over a dozen people tapped on the profile",
        "In addition to behavior metrics, Instagram",
    ]
    text = extract_article(html, url, DEFAULT_CONFIG).text
    assert all(s in text for s in [first, *later])
    assert text.index(first) < text.index(later[0]) < text.index(later[1])
    alone = extract_article(html, url, DEFAULT_CONFIG, ExtractionSettings(extend_siblings=False)).text
    assert first in alone and not any(s in alone for s in later)


def test_runs_of_link_lines_are_removed_and_recorded() -> None:
    related = "".join(
        f"<li><a href='/news/{i}'>Another headline about technology regulation number {i}</a></li>"
        for i in range(4)
    )
    body = (
        "<article>" + _paragraphs(SENTENCES[:4])
        + "<p>Read the <a href='/statement'>full statement</a> published by the regulator on Thursday.</p>"
        + f"<ul class='links'>{related}</ul>" + _paragraphs(SENTENCES[4:]) + "</article>"
    )  # fmt: skip
    extraction = extract_article(_page(body), "https://x.org/a", DEFAULT_CONFIG)
    assert "Another headline" not in extraction.text
    assert "full statement published by the regulator" in extraction.text  # inline link in prose stays
    assert [r.rule for r in extraction.removals] == ["link-list"] * 4


def test_teaser_cards_are_counted() -> None:
    cards = "".join(
        f"<div class='card'><h3><a href='/story/{i}'>Headline of story number {i} here</a></h3><p>{s}</p></div>"
        for i, s in enumerate(SENTENCES[:5])
    )
    tree = parse_html(_page(f"<main>{cards}</main>"))
    text = "\n".join(SENTENCES[:5])
    assert StructureCheck(tree).teaser_links(text, ("https://x.org/",)) == (5, 5)
    article = parse_html(_page(f"<article>{_paragraphs(SENTENCES)}</article>"))
    assert StructureCheck(article).teaser_links("\n".join(SENTENCES))[0] == 0


def test_menu_dump_triggers_the_full_cascade() -> None:
    menu = "".join(f"<div><span>Section {i}</span></div>" for i in range(60))
    extraction = extract_article(_page(menu + _paragraphs(SENTENCES[:2])), "https://x.org/a", DEFAULT_CONFIG)
    assert extraction.passes[:2] == ("fast", "full")
    assert looks_like_dump("\n".join(f"Section {i}" for i in range(60)))


@pytest.mark.parametrize("html", ["", "   ", "\x00\x01"])
def test_unparsable_html_raises_extraction_error(html: str) -> None:
    with pytest.raises(ExtractionError):
        parse_html(html)


@pytest.mark.parametrize("module", ["cleaning.extract"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


ZH_SENTENCES = [
    "中国监管部门约谈了十一家国内科技企业，讨论深度伪造技术的使用问题。",
    "国家网信办在声明中表示，会同公安部门与这些企业进行了会谈。",
    "被约谈的企业包括一家智能手机制造商、一家直播公司和一家音乐流媒体服务商。",
    "深度伪造利用人工智能制作逼真的虚假视频，让人看起来说了从未说过的话。",
    "监管部门要求企业遵守网络安全法律，并对新功能开展安全评估。",
    "近几个月来，中国加强了对互联网巨头的审查。",
]


def test_a_short_cjk_text_counts_as_complete_where_as_many_latin_characters_would_not() -> None:
    chinese = "".join(ZH_SENTENCES)
    assert 150 < len(chinese) < 500 / 3 * 2  # under 500 characters, over 500 when weighted
    zh_page = _page(f"<article>{_paragraphs(ZH_SENTENCES)}</article>").replace("lang='en'", "lang='zh'")
    assert extract_article(zh_page, "https://x.cn/a", DEFAULT_CONFIG).passes == ("fast",)
    unweighted = ExtractionSettings(cjk_char_weight=1)
    assert extract_article(zh_page, "https://x.cn/a", DEFAULT_CONFIG, unweighted).passes[:2] == (
        "fast",
        "full",
    )
    english = _page(f"<article>{_paragraphs(SENTENCES[:3])}</article>")  # about 330 characters
    assert extract_article(english, "https://x.org/a", DEFAULT_CONFIG).passes[:2] == ("fast", "full")


# --- the structural check's shortcuts against their definitions, on real pages -----------------------


def _benchmark_trees(count: int) -> list[object]:
    from cleaning.decode import decode_html
    from cleaning.extract import parse_html

    paths = sorted(BENCHMARK.glob("*.html.gz"))
    step = max(1, len(paths) // count)
    return [parse_html(decode_html(gzip.decompress(p.read_bytes())).text) for p in paths[::step][:count]]


def test_text_content_shortcut_is_text_content() -> None:
    from cleaning.extract import _BLOCK_TAGS, _text_content

    checked = 0
    for tree in _benchmark_trees(12):
        for el in tree.iter(*_BLOCK_TAGS, "a"):  # type: ignore[attr-defined]
            assert _text_content(el) == el.text_content()
            checked += 1
    assert checked > 1000


def test_lazy_index_finds_the_first_element_of_each_key() -> None:
    """Looking keys up while indexing on demand gives what an index of the whole page gives: the first
    block element in document order with that key, or nothing."""
    import random

    from cleaning.extract import _BLOCK_TAGS, _MIN_KEY_CHARS, StructureCheck, _key

    rng = random.Random(5)
    for tree in _benchmark_trees(8):
        first: dict[str, object] = {}
        for el in tree.iter(*_BLOCK_TAGS):  # type: ignore[attr-defined]
            if el.tag == "div" and not (el.text and len(el.text.strip()) >= 20):
                continue
            key = _key(el.text_content())
            if len(key) >= _MIN_KEY_CHARS:
                first.setdefault(key, el)
        keys = [*first, "no such line in this page at all, anywhere"]
        rng.shuffle(keys)
        check = StructureCheck(tree)  # type: ignore[arg-type]
        for key in keys:
            assert check._find(key) is first.get(key)


def test_container_is_the_deepest_element_holding_most_of_the_text() -> None:
    import random

    from cleaning.extract import _BLOCK_TAGS, StructureCheck

    def by_definition(elements: list[tuple[object, int]]) -> object | None:
        total = sum(n for _, n in elements)
        weight: dict[object, int] = {}
        depth: dict[object, int] = {}
        for el, n in elements:
            for d, anc in enumerate(reversed([el, *el.iterancestors()])):  # type: ignore[attr-defined]
                weight[anc] = weight.get(anc, 0) + n
                depth[anc] = d
        held = [anc for anc, w in weight.items() if w >= 0.7 * total]
        return max(held, key=lambda a: depth[a]) if held else None

    rng = random.Random(1)
    for tree in _benchmark_trees(10):
        els = list(tree.iter(*_BLOCK_TAGS))  # type: ignore[attr-defined]
        check = StructureCheck(tree)  # type: ignore[arg-type]
        for _ in range(100):
            k = rng.randint(1, min(30, len(els)))
            i = rng.randrange(len(els))
            chosen = els[i : i + k] if rng.random() < 0.5 else rng.sample(els, k)
            elements = [(e, rng.randint(1, 300)) for e in chosen + rng.sample(chosen, len(chosen) // 3)]
            assert check._container(elements) is by_definition(elements)


_PARSE_EDGES = [
    "<html/>",
    "<p>x</p>",
    "<?xml version='1.0' encoding='utf-8'?><html><body><p>hi</p></body></html>",
    "<?xml version='1.0' encoding='latin-1'?><html><body><p>hé</p></body></html>",
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/xhtml1/DTD/x.dtd">\n<html><body>x</body></html>',
    "<!DOCTYPE x/y><html><body><p>no line break</p></body></html>",
    '<html lang="en"/>\n<body><p>self-closing html</p></body>',
    "<html><body><p>nul\x00 and \x0b and \ufffe</p></body></html>",
    "<html><body><p>lone \ud800 surrogate</p></body></html>",
    '<html><head><meta charset="windows-1252"></head><body><p>café “quoted” 中文</p></body></html>',
    "plain text, no markup at all",
    "<html><body></body></html>",
]


@pytest.mark.parametrize("html", _PARSE_EDGES)
def test_parse_html_builds_the_tree_load_html_builds(html: str) -> None:
    from lxml import etree
    from trafilatura.utils import load_html

    from cleaning.extract import ExtractionError, parse_html

    try:
        expected = load_html(html)
    except (ValueError, TypeError):
        expected = None
    try:
        got = parse_html(html)
    except ExtractionError:
        got = None
    assert (etree.tostring(got) if got is not None else None) == (
        etree.tostring(expected) if expected is not None else None
    )


def test_parse_html_builds_the_trees_load_html_builds_on_the_benchmark() -> None:
    from lxml import etree
    from trafilatura.utils import load_html

    from cleaning.decode import decode_html
    from cleaning.extract import _parse_clean_utf8, parse_html

    fast = 0
    for path in sorted(BENCHMARK.glob("*.html.gz"))[::3]:
        html = decode_html(gzip.decompress(path.read_bytes())).text
        assert etree.tostring(parse_html(html)) == etree.tostring(load_html(html))
        fast += _parse_clean_utf8(html) is not False
    assert fast >= 50  # the shortcut is what runs on ordinary pages
