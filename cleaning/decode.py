"""Decode an HTTP body to text once, in one place.

Order of evidence: a BOM; then the bytes themselves when they are valid UTF-8 with non-ASCII content
(a page whose bytes are valid UTF-8 is UTF-8, whatever the header or meta tag claims: the chance that
legacy-encoded text is also valid UTF-8 is negligible for real text); then the HTTP header and the
``<meta charset>`` through w3lib, which maps declared names to the superset codecs browsers use
(gb2312 -> gb18030, iso-8859-1 -> cp1252, ...); then charset-normalizer on the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from w3lib.encoding import html_body_declared_encoding, html_to_unicode, http_content_type_encoding, read_bom


class DecodeError(ValueError):
    """The bytes are not text in any plausible encoding."""


@dataclass(frozen=True, slots=True)
class DecodedPage:
    text: str
    encoding: str  # the codec used
    decided_by: str  # "bom", "utf8-bytes", "http-header", "meta", "detected", "ascii"
    declared_http: str | None
    declared_meta: str | None


def _detect(body: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(body[:200_000]).best()
    return best.encoding if best is not None else None


def decode_html(body: bytes, content_type: str | None = None) -> DecodedPage:
    """Decode an HTML body given the response's Content-Type header value."""
    declared_http = http_content_type_encoding(content_type) if content_type else None
    declared_meta = html_body_declared_encoding(body[:8192])

    bom_enc, _ = read_bom(body)
    if bom_enc:
        enc, text = html_to_unicode(content_type, body)
        return DecodedPage(text, enc, "bom", declared_http, declared_meta)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        decided = "utf8-bytes" if not body.isascii() else "ascii"
        return DecodedPage(text, "utf-8", decided, declared_http, declared_meta)

    if declared_http or declared_meta:
        enc, text = html_to_unicode(content_type, body)
        decided = "http-header" if declared_http else "meta"
        if "\ufffd" not in text:
            return DecodedPage(text, enc, decided, declared_http, declared_meta)
    detected = _detect(body)
    if detected is None:
        raise DecodeError("no plausible text encoding for the bytes")
    try:
        text = body.decode(detected)
    except (UnicodeDecodeError, LookupError) as exc:
        raise DecodeError(f"detected encoding {detected!r} does not decode the bytes: {exc}") from exc
    return DecodedPage(text, detected, "detected", declared_http, declared_meta)
