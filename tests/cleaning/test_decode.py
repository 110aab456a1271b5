"""Decoding HTTP bodies: header, meta and bytes that disagree; binary content refused with a reason.

Cases are data: ``data/decode_cases.json``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from cleaning.decode import DecodeError, binary_kind, decode_html

DATA = Path(__file__).parent / "data"


@cache
def _cases() -> dict[str, Any]:
    return json.loads((DATA / "decode_cases.json").read_text(encoding="utf-8"))


def _page(case: dict[str, Any]) -> tuple[str, bytes]:
    text = _cases()["texts"][case["text"]]
    html = f"<!doctype html><html><head>{case['meta']}<title>{text[:12]}</title></head><body><p>{text}</p><p>{text}</p></body></html>"
    return html, html.encode(case["encoding"])


@pytest.mark.parametrize("case", _cases()["pages"], ids=lambda c: c["name"])
def test_pages_decode_right_the_first_time(case: dict[str, Any]) -> None:
    html, body = _page(case)
    page = decode_html(body, case["content_type"])
    assert page.text == html
    assert page.encoding == case["expect_encoding"]
    assert page.decided_by == case["expect_decided_by"]


@pytest.mark.parametrize("case", _cases()["binary"], ids=lambda c: c["name"])
def test_binary_is_refused_with_a_reason(case: dict[str, Any]) -> None:
    body = bytes.fromhex(case["hex_prefix"]) + bytes(range(256)) * 4
    with pytest.raises(DecodeError) as info:
        decode_html(body, "text/html")
    assert info.value.reason == "binary"
    assert binary_kind(body) == case["kind"]


def test_declarations_are_reported() -> None:
    page = decode_html("<meta charset='gbk'><p>中文</p>".encode(), "text/html; charset=gb2312")
    assert (page.declared_http, page.declared_meta) == ("gb18030", "gb18030")
    assert page.decided_by == "utf8-bytes"


def test_utf8_cut_at_the_end_is_still_utf8() -> None:
    """A size cap can cut the last character in half; the page is UTF-8 all the same."""
    body = "<p>新闻报道</p><p>中文".encode()[:-1]
    page = decode_html(body, "text/html; charset=gbk")
    assert page.encoding == "utf-8"
    assert page.text == "<p>新闻报道</p><p>中"


def test_windows_1252_as_browsers_decode_it() -> None:
    """A byte windows-1252 leaves undefined is a C1 control, not a reason to doubt the declaration."""
    html = "<p>La Banque centrale européenne a décidé de maintenir ses taux d'intérêt.</p>"
    page = decode_html(html.encode("cp1252").replace(b"</p>", b"\x81</p>"), "text/html; charset=windows-1252")
    assert (page.encoding, page.decided_by) == ("cp1252", "http-header")
    assert page.text == html.replace("</p>", "\x81</p>")


def test_empty_body() -> None:
    page = decode_html(b"", "text/html")
    assert page.text == ""


def test_undecodable_bytes_raise() -> None:
    body = b"<html>" + bytes([0x81, 0xFF, 0xFE, 0x80, 0x9F]) * 200 + b"</html>"
    with pytest.raises(DecodeError) as info:
        decode_html(body, "text/html; charset=utf-8")
    assert info.value.reason in ("binary", "undecodable")


def test_text_is_not_binary() -> None:
    for text in ("<html>plain</html>", "<p>\tTab\nand line</p>", "中文页面"):
        assert binary_kind(text.encode()) is None
    assert binary_kind("<p>utf-16 page</p>".encode("utf-16-le")) is None
