"""Per-source learned boilerplate: template lines go, article text shared by copies stays."""

from __future__ import annotations

import doctest
import importlib
import json

import pytest

from cleaning.boilerplate import BoilerplateModel, apply_boilerplate, learn_boilerplate, line_key
from cleaning.config import CleaningConfig
from cleaning.normalize import content_sha256
from cleaning.records import CleanDocument, Rejected, RejectReason

TEMPLATE = ["Read the Daily Planet on your phone", "Share this story", "Comments"]
TOPICS = [
    "ports",
    "rail",
    "budget",
    "schools",
    "harbour",
    "energy",
    "water",
    "tariffs",
    "housing",
    "courts",
    "farms",
    "police",
]


def _page(i: int, *, body: list[str] | None = None) -> str:
    topic = f"{TOPICS[i % len(TOPICS)]} {i}"
    paragraphs = body or [
        f"Story {i} begins with a paragraph long enough to be article prose about {topic}, officials said.",
        f"The {topic} plan continues to divide the council, whose members meet again next week.",
    ]
    return "\n".join([TEMPLATE[0], *paragraphs, TEMPLATE[1], TEMPLATE[2]])


def _doc(text: str) -> CleanDocument:
    return CleanDocument(
        id=content_sha256(text), url="https://x.org/a", canonical_url=None, source="planet", title="T",
        text=text, fetched_at="2021-03-19T00:00:00Z", lineage={"config_hash": "c"},
    )  # fmt: skip


def test_learns_template_lines_of_a_source() -> None:
    model = learn_boilerplate([_page(i) for i in range(20)], min_pages=5)
    assert set(model.learned) == {line_key(t) for t in TEMPLATE}


def test_article_text_shared_by_syndicated_copies_is_not_learned() -> None:
    shared = [
        "A wire story paragraph that every copy of the article repeats word for word, the agency reported.",
        "Security assessments",  # a short subheading inside the shared article
        "Another paragraph of the shared wire story, long enough to be prose and identical in each copy.",
    ]
    pages = [_page(i, body=shared) for i in range(10)] + [_page(i) for i in range(10, 14)]
    model = learn_boilerplate(pages, min_pages=5)
    assert line_key("Security assessments") not in model.learned
    assert line_key("Share this story") in model.learned


def test_apply_removes_learned_lines_and_rehashes() -> None:
    model = learn_boilerplate([_page(i) for i in range(20)], min_pages=5)
    doc = _doc(_page(99))
    out = apply_boilerplate(doc, model, CleaningConfig(min_text_chars=50))
    assert isinstance(out, CleanDocument)
    assert not any(t in out.text for t in TEMPLATE)
    assert out.text.startswith("Story 99 begins")
    assert out.id == content_sha256(out.text) != doc.id
    assert [r.rule for r in out.removals] == ["learned-boilerplate"] * 3
    assert out.lineage["boilerplate_model"] == model.hash
    assert out.lineage["config_hash"] == "c"


def test_apply_reapplies_the_length_gate() -> None:
    model = learn_boilerplate([_page(i) for i in range(20)], min_pages=5)
    out = apply_boilerplate(_doc(_page(7)), model, CleaningConfig(min_text_chars=1000))
    assert isinstance(out, Rejected) and out.reason is RejectReason.TOO_SHORT


def test_untouched_document_is_returned_as_is() -> None:
    model = learn_boilerplate([_page(i) for i in range(20)], min_pages=5)
    doc = _doc("A paragraph with nothing the model learned, long enough to be article text on its own.")
    assert apply_boilerplate(doc, model) is doc


def test_model_round_trips_through_json_and_learns_incrementally() -> None:
    first = learn_boilerplate([_page(i) for i in range(3)], min_pages=5)
    assert first.learned == []  # not enough pages yet
    restored = BoilerplateModel.from_dict(json.loads(json.dumps(first.to_dict())))
    assert restored == first and restored.hash == first.hash
    more = learn_boilerplate([_page(i) for i in range(3, 20)], restored)
    assert more.pages == 20 and line_key("Share this story") in more.learned
    assert more.hash != first.hash


def test_model_size_is_bounded() -> None:
    pages = [f"unique short line {i} {'x' * (i % 7)}\nanother one {i * 31}" for i in range(500)]
    model = learn_boilerplate(pages, max_lines=100)
    assert len(model.lines) <= 100


@pytest.mark.parametrize("module", ["cleaning.boilerplate"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
