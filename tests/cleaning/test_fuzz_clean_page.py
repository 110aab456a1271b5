"""Fuzzing the cleaning with random and mutated HTML: no uncaught exception, and every output is
either a reject with a reason or a document that satisfies the published JSON Schema."""

from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaning.clean import clean_page
from cleaning.records import CleanDocument, RawPage, Rejected, RejectReason
from pipelines.contract import validate_document

SITE = Path(__file__).resolve().parents[2] / "flows" / "sample_site" / "site"
BENCH = Path(__file__).resolve().parents[1] / "data" / "extraction-benchmark" / "html"
SEEDS = [p.read_bytes() for p in sorted(SITE.rglob("index.html"))[:8]] + [
    gzip.decompress(p.read_bytes()) for p in sorted(BENCH.glob("*.html.gz"))[:4]
]


def _check(body: bytes, content_type: str = "text/html") -> None:
    page = RawPage("https://fuzz.example/a", "https://fuzz.example/a", 200, {"content-type": content_type}, body,
                   "2024-01-01T00:00:00Z", "fuzz")
    result = clean_page(page)
    if isinstance(result, CleanDocument):
        validate_document(result.to_dict())
    else:
        assert isinstance(result, Rejected) and isinstance(result.reason, RejectReason) and result.detail
        # clean_page turns an internal exception into EXTRACTION_ERROR: on fuzzed input that is a bug.
        assert result.reason is not RejectReason.EXTRACTION_ERROR, result.detail


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 12))):
        op = draw(st.sampled_from(["flip", "cut", "dup", "insert", "truncate"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[pos : pos + draw(st.integers(1, 4096))]
        elif op == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 4096))]
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from([b"<div>" * 300, b"</p></div>", b"<!--", b"<![CDATA[", b"\x00\xff\xfe",
                                                  b"&#x110000;", b"<script>", "鈥榙eepfake鈥".encode(),
                                                  "Copyright 漏".encode("gb18030"), b"<meta charset=gb2312>"]))
        elif op == "truncate":
            del data[pos:]
    return bytes(data)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_pages_never_crash(body: bytes) -> None:
    _check(body)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=4096), st.sampled_from(["text/html", "text/html; charset=gb2312", "", "application/xhtml+xml"]))
def test_random_bytes_never_crash(body: bytes, content_type: str) -> None:
    _check(body, content_type)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=3000))
def test_random_text_in_html_never_crashes(text: str) -> None:
    _check(f"<html><head><title>{text[:80]}</title></head><body><article><p>{text}</p></article></body></html>"
           .encode("utf-8", "surrogatepass"))
