from __future__ import annotations

import hashlib
import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _normalize_by_definition(text: str) -> str:
    """``normalize_text`` as its docstring defines it, one regular expression per step."""
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = re.sub(r"[\u200b\u200e\u200f\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    text = re.sub(r" {2,}", " ", re.sub(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f]+", " ", text))
    lines = [line.strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@settings(max_examples=500, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab é\u0301\t\n\r\u00a0\u2009\u200b\x00\x7f\u2028\u2029\u3000\ufeff"))
        | st.characters()
    )
)
def test_normalize_text_does_what_its_definition_does(text: str) -> None:
    """The substring pre-checks and repeated replacements give what one regular expression per step gives."""
    assert normalize_text(text) == _normalize_by_definition(text)


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
