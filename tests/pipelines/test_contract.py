"""The JSON Schema of a clean document: it matches CleanDocument.to_dict() and is published write-once."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from cleaning.clean import clean_page
from cleaning.records import SCHEMA_VERSION, CleanDocument, RawPage
from pipelines import layout
from pipelines.contract import (
    SchemaConflict,
    document_errors,
    document_schema,
    publish_schema,
    schema_bytes,
    validate_document,
)
from pipelines.store import LocalStore, open_store
from tests.pipelines.sample_docs import make_doc

PARAGRAPHS = [
    "The city council voted on Tuesday to expand the riverside park by twelve hectares, ending a debate that had run for almost three years.",
    "Supporters said the new green space would reduce flooding in the lower districts, while opponents worried about the cost of buying the old warehouses.",
    "The mayor, who cast the deciding vote, said construction would begin next spring and that the first paths would open to the public before the summer.",
    "Residents who attended the meeting applauded the decision, and several local businesses have already offered to sponsor benches and trees along the water.",
]
HTML = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Council approves park expansion</title>
<link rel="canonical" href="https://news.example/2026/11/park-expansion">
<meta name="author" content="Jane Reporter">
<meta property="article:published_time" content="2026-11-01T09:30:00+00:00">
</head><body><header><nav><a href="/">Home</a> <a href="/city">City</a></nav></header>
<article><h1>Council approves park expansion</h1>
{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
</article><footer>© 2026 News Example</footer></body></html>"""


@pytest.fixture(scope="module")
def real_doc() -> dict:
    raw = RawPage(
        url="https://news.example/2026/11/park-expansion?utm_source=feed",
        final_url="https://news.example/2026/11/park-expansion",
        status=200,
        headers={"content-type": "text/html; charset=utf-8"},
        body=HTML.encode(),
        fetched_at="2026-11-01T10:00:00Z",
        source="news-example",
        raw_object="raw/source=news-example/date=2026-11-01/run1-00000.warc.gz",
        raw_offset=0,
    )
    result = clean_page(raw)
    assert isinstance(result, CleanDocument), result
    return result.to_dict()


def test_a_cleaned_page_validates(real_doc: dict) -> None:
    validate_document(real_doc)
    assert document_errors(real_doc) == []


def test_schema_lists_exactly_the_fields_of_to_dict(real_doc: dict) -> None:
    schema = document_schema()
    assert set(schema["properties"]) == set(real_doc)
    assert set(schema["required"]) == set(real_doc)
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("change", "keyword"),
    [
        (lambda d: d.update(id="ABC"), "pattern"),
        (lambda d: d.update(schema_version="2.0"), "const"),
        (lambda d: d.pop("text"), "required"),
        (lambda d: d.update(extra=1), "additionalProperties"),
        (lambda d: d.update(authors="Jane"), "type"),
        (lambda d: d["lineage"].pop("config_hash"), "required"),
        (lambda d: d["repairs"].append({"start": 0}), "required"),
        (lambda d: d.update(fetched_at="yesterday"), "pattern"),
        (lambda d: d.update(near_duplicate_of="cluster-7"), "pattern"),
        (lambda d: d.update(similarity=1.5), "maximum"),
        (lambda d: d.pop("story_id"), "required"),
    ],
)
def test_invalid_documents_fail_by_keyword(change, keyword: str) -> None:
    doc = copy.deepcopy(make_doc(1))
    validate_document(doc)
    change(doc)
    with pytest.raises(jsonschema.ValidationError) as info:
        validate_document(doc)
    assert info.value.validator == keyword
    assert keyword in {e.validator for e in document_errors(doc)}


def test_publish_schema_is_write_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    assert publish_schema(store)
    assert not publish_schema(store)
    published = store.get(layout.schema_key())
    assert published == schema_bytes()
    assert json.loads(published)["$id"].endswith(SCHEMA_VERSION)


def test_publish_schema_refuses_to_hide_a_different_schema(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put(layout.schema_key(), b'{"$id": "urn:someone-else"}')
    with pytest.raises(SchemaConflict, match="urn:someone-else"):
        publish_schema(store)


def test_publish_schema_to_s3(s3_store_url: str) -> None:
    store = open_store(s3_store_url)
    assert publish_schema(store)
    assert not publish_schema(store)
    assert store.get(layout.schema_key()) == schema_bytes()
