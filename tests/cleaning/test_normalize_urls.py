from __future__ import annotations

import hashlib

import pytest

from cleaning.normalize import content_sha256, normalize_text
from cleaning.urls import canonicalize

NORMALIZE = [
    ("Cafe\u0301", "Café"),  # NFC
    ("a\r\nb\rc", "a\nb\nc"),
    ("a\u00a0\u2009b  c\t d", "a b c d"),
    ("x\n\n\n\n\ny", "x\n\ny"),
    ("  lead and trail  \n", "lead and trail"),
    ("zero\u200bwidth\ufeff", "zerowidth"),
    ("中文\u3000全角", "中文\u3000全角"),  # the ideographic space is typography, kept
    ("curly ‘quotes’ and “more”", "curly ‘quotes’ and “more”"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZE)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected
    assert normalize_text(expected) == expected  # idempotent


def test_content_sha256_is_sha256_of_utf8() -> None:
    text = "Regulators hold talks with tech firms over ‘deepfake’"
    assert content_sha256(text) == hashlib.sha256(text.encode()).hexdigest()


URLS = [
    ("https://Example.org/a/?utm_source=x&utm_medium=y", "https://example.org/a"),
    ("https://example.org/a?b=2&a=1", "https://example.org/a?a=1&b=2"),
    ("https://example.org/a#comments", "https://example.org/a"),
    ("https://example.org:443/a/", "https://example.org/a"),
    ("https://example.org/news/x/amp", "https://example.org/news/x"),
    ("https://example.org/news/x?amp=1&id=5", "https://example.org/news/x?id=5"),
    ("https://example.org/news/x.amp.html", "https://example.org/news/x.html"),
    ("https://example.org/?fbclid=abc", "https://example.org/"),
    ("https://example.org/search?q=amp", "https://example.org/search?q=amp"),
]


@pytest.mark.parametrize(("url", "expected"), URLS)
def test_canonicalize(url: str, expected: str) -> None:
    assert canonicalize(url) == expected
