"""Quality gates: each rejected page names the reason from RejectReason; articles pass."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from cleaning.gates import check_body, check_text
from cleaning.records import RejectReason

DATA = Path(__file__).parent / "data"
CASES: list[dict[str, Any]] = yaml.safe_load((DATA / "gates_cases.yaml").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_gate_verdicts(case: dict[str, Any]) -> None:
    text = "\n".join([case["text"]] * int(case.get("text_repeat", 1)))
    verdict = check_text(
        text,
        url=case["url"],
        title=case.get("title"),
        min_chars=250,
        page_type=case.get("page_type"),
        accessible_for_free=case.get("accessible_for_free"),
        link_list_chars=int(case.get("link_list_chars", 0)),
        teaser_links=int(case.get("teaser_links", 0)),
    )
    if case["expect"] is None:
        assert verdict is None
    else:
        assert verdict is not None and verdict[0] is RejectReason(case["expect"]), verdict
        assert verdict[1]  # every reject says why


@pytest.mark.parametrize(
    ("body", "rejected"),
    [
        (b'{"items": []}', True),
        (b"\xef\xbb\xbf[1, 2]", True),
        (b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', True),
        (b"<urlset><url><loc>https://x.org/</loc></url></urlset>", True),
        (b'<?xml version="1.0"?><!DOCTYPE html><html><body><p>x</p></body></html>', False),
        (b"<!doctype html><html><body><p>x</p></body></html>", False),
    ],
)
def test_wrong_content_type_by_body(body: bytes, rejected: bool) -> None:
    verdict = check_body(body)
    assert (verdict is not None and verdict[0] is RejectReason.NOT_HTML) if rejected else verdict is None


@pytest.mark.parametrize("module", ["cleaning.gates"])
def test_doctests(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
