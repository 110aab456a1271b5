"""clean_page end to end: seed articles in realistic pages, rejects with reasons, never raising."""

from __future__ import annotations

import doctest
import html
import importlib
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from cleaning.clean import clean_page
from cleaning.noise import default_rules
from cleaning.normalize import normalize_text
from cleaning.records import CleanDocument, RawPage, Rejected, RejectReason

DATA = Path(__file__).parent / "data"
PAGES: dict[str, dict[str, Any]] = yaml.safe_load((DATA / "pages_seeds.yaml").read_text("utf-8"))
SEEDS: dict[str, dict[str, list[str]]] = yaml.safe_load((DATA / "noise_seeds.yaml").read_text("utf-8"))
ARTICLE = [
    "Chinese regulators summoned eleven domestic technology companies for talks on the use of deepfake technology.",
    "The cyberspace administrator said in a statement that it met the companies together with the security ministry.",
    "Companies called in for talks included a smartphone maker, a livestreaming firm and a music streaming service.",
    "Deepfakes use artificial intelligence to create hyper-realistic but fake videos of people saying things.",
    "China has increased scrutiny of its internet giants in recent months, citing concerns over monopolistic behaviour.",
]


def _raw(body: bytes | str, url: str = "https://news.example.com/2021/03/19/story", **kw: Any) -> RawPage:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return RawPage(
        url=url, final_url=url, status=kw.pop("status", 200),
        headers=kw.pop("headers", {"content-type": "text/html; charset=utf-8"}), body=data,
        fetched_at="2021-03-20T00:00:00Z", source="test", **kw,
    )  # fmt: skip


def _html(paragraphs: list[str], head: dict[str, str] | None = None, title: str = "Story") -> str:
    metas = "".join(
        f'<meta {"property" if k.startswith(("og:", "article:")) else "name"}="{k}" content="{html.escape(v)}">'
        for k, v in (head or {}).items()
    )
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>{metas}"
        "</head><body><header><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></header>"
        f"<main><article><div class='article-body'>{body}</div></article></main>"
        "<footer><p>About us</p><p>Contact</p></footer></body></html>"
    )


@pytest.mark.parametrize("name", sorted(PAGES))
def test_seed_page_cleaned_noise_gone_sentences_kept_metadata_filled(name: str) -> None:
    page, seed = PAGES[name], SEEDS[name]
    lines = [line for line in normalize_text((DATA / name).read_text("utf-8")).split("\n") if line.strip()]
    result = clean_page(_raw(_html(lines, page["head"], page["head"]["og:title"]), page["url"]))
    assert isinstance(result, CleanDocument), result
    kept = result.text.split("\n")
    optional = [*seed["optional"], *([page["title_line"]] if "title_line" in page else [])]
    for line in lines:
        is_noise = any(line.startswith(n) for n in seed["noise"])
        if is_noise:
            assert not any(k.startswith(line[:40]) for k in kept), f"noise kept: {line[:60]!r}"
        elif not any(line.startswith(o) for o in optional):
            assert line in kept, f"article line lost: {line[:60]!r}"
    for field, (value, source) in page["expect"].items():
        assert (result.metadata[field].value, result.metadata[field].source) == (value, source), field
    if "authors" in page["expect"]:
        assert result.authors == page["expect"]["authors"][0]
    assert result.title and result.language == "en"
    assert all(r.rule for r in result.removals)


def test_document_fields_and_lineage() -> None:
    head = {
        "og:title": "Regulators summon tech firms",
        "author": "Jane Doe",
        "pubdate": "2021-03-19T10:00:00Z",
    }
    raw = _raw(_html(["Regulators summon tech firms", *ARTICLE, "Advertisement"], head), hints={})
    doc = clean_page(raw)
    assert isinstance(doc, CleanDocument)
    assert doc.text == "\n".join(ARTICLE)
    assert (doc.title, doc.authors, doc.published) == (
        "Regulators summon tech firms",
        ["Jane Doe"],
        "2021-03-19T10:00:00+00:00",
    )
    assert {r.rule for r in doc.removals} >= {"headline", "ad-label"}
    assert doc.lineage["noise_rules_version"] == default_rules().version
    assert doc.lineage["settings_hash"] and doc.lineage["config_hash"]
    assert doc.lineage["extraction"]["passes"][0] == "fast"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_raw(b'{"error": "not here"}'), RejectReason.NOT_HTML),
        (_raw(b"%PDF-1.7 ..."), RejectReason.NOT_HTML),
        (_raw(_html(ARTICLE), headers={"content-type": "image/png"}), RejectReason.NOT_HTML),
        (_raw(_html(ARTICLE), status=404), RejectReason.HTTP_STATUS),
        (_raw(b""), RejectReason.EMPTY_EXTRACTION),
        (_raw(_html(ARTICLE[:1])), RejectReason.TOO_SHORT),
        (_raw(_html(ARTICLE), url="https://news.example.com/tag/deepfake/"), RejectReason.NOT_ARTICLE),
        (
            _raw(_html(["Sorry, we couldn't find that page.", "Try the search box or return to the home page."],
                       title="Page not found | Example News")),
            RejectReason.SOFT_404,
        ),
        (
            _raw(_html(ARTICLE[:2]).replace(
                "</head>", '<script type="application/ld+json">{"@type": "NewsArticle", "isAccessibleForFree": false}'
                "</script></head>")),
            RejectReason.PAYWALL_STUB,
        ),
    ],
    ids=["json", "pdf", "image-type", "404", "empty", "short", "tag-page", "soft-404", "paywall"],
)  # fmt: skip
def test_rejects_have_reasons(raw: RawPage, reason: RejectReason) -> None:
    result = clean_page(raw)
    assert isinstance(result, Rejected) and result.reason is reason, result
    assert result.detail and result.lineage["noise_rules_version"]


def test_never_raises_on_garbage() -> None:
    rng = random.Random(7)
    bodies = [bytes(rng.randrange(256) for _ in range(n)) for n in (1, 10, 1000, 20000)]
    bodies += [
        b"<html>" * 5000,
        b"<p>" + b"\xff\xfe" * 1000,
        "<html><body>\u0000\ud800</body></html>".encode("utf-8", "surrogatepass"),
    ]
    for body in bodies:
        result = clean_page(_raw(body))
        assert isinstance(result, (CleanDocument, Rejected))


@pytest.mark.parametrize("module", ["cleaning.clean"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
