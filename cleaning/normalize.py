"""Text normalisation and the content id: NFC, unified line breaks and spaces, SHA-256."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Horizontal whitespace other than the plain space (NBSP, thin spaces, ideographic space is kept:
# U+3000 is meaningful spacing in CJK typesetting).
_HSPACE = re.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f]+")
_MULTISPACE = re.compile(r" {2,}")
# Zero-width characters and control characters, removed in one pass.
_REMOVED = re.compile(r"[\u200b\u200e\u200f\ufeff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_RUN = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFC, one kind of line break, no control characters, single spaces, at most one blank line.

    >>> normalize_text("Cafe\\u0301  au\\u00a0lait\\r\\n\\r\\n\\r\\n\\n end ")
    'Café au lait\\n\\nend'
    """
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _REMOVED.sub("", text)
    # Runs of spaces never cross a line break: collapsed in the whole text at once, not line by line.
    text = _MULTISPACE.sub(" ", _HSPACE.sub(" ", text))
    lines = [line.strip() for line in text.split("\n")]
    return _BLANK_RUN.sub("\n\n", "\n".join(lines)).strip()


def content_sha256(normalized_text: str) -> str:
    """The document id: SHA-256 of the UTF-8 bytes of the normalised text.

    >>> content_sha256("abc")
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    return hashlib.sha256(normalized_text.encode("utf-8")).hexdigest()
