"""Decode an HTTP body to text once, in one place.

Order of evidence:

1. a byte-order mark;
2. binary content is refused (``DecodeError`` with ``reason="binary"``): file signatures of PDF,
   images, archives, fonts, executables, and bodies full of NUL or control bytes;
3. UTF-16 without a byte-order mark, when NUL bytes alternate with ASCII (before UTF-8: such bytes
   are also valid UTF-8);
4. the bytes themselves when they are valid UTF-8 with non-ASCII content: a page whose bytes are valid
   UTF-8 is UTF-8, whatever the header or meta tag claims (the chance that legacy-encoded text is also
   valid UTF-8 is negligible for real text); a UTF-8 character cut by a size cap at the very end of the
   body does not change that;
5. the HTTP header, then the ``<meta charset>``, each through w3lib, which maps declared names to the
   superset codecs browsers use (gb2312 -> gb18030, iso-8859-1 -> cp1252, shift_jis -> cp932, ...);
   a declaration is taken only if the bytes decode under it without error *and* the result reads as
   text (charset-normalizer's mess measure; no run of CJK legacy bytes read as Latin-1);
6. charset-normalizer's detection on the bytes, kept to the plausible codecs.

>>> decode_html("<p>中文</p>".encode("gbk"), "text/html; charset=gb2312").text
'<p>中文</p>'
>>> page = decode_html("<p>中文</p>".encode("utf-8"), "text/html; charset=gb2312")
>>> page.text, page.decided_by
('<p>中文</p>', 'utf8-bytes')
"""

from __future__ import annotations

import codecs
import contextlib
import logging
from dataclasses import dataclass

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

logger = logging.getLogger(__name__)


class DecodeError(ValueError):
    """The bytes are not text in any plausible encoding.

    ``reason`` is ``"binary"`` for content that is not text at all (a PDF, an image, an archive, NUL
    bytes) and ``"undecodable"`` for text in no encoding that decodes it plausibly.
    """

    def __init__(self, message: str, reason: str = "undecodable") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DecodedPage:
    text: str
    encoding: str  # the codec used
    decided_by: str  # "bom", "utf8-bytes", "ascii", "http-header", "meta", "detected", "fallback", "empty"
    declared_http: str | None
    declared_meta: str | None


@dataclass(frozen=True, slots=True)
class DecodeConfig:
    # Bytes examined for signatures, NUL and control bytes, and the meta declaration.
    sniff_bytes: int = 8192
    # A body whose first sniff_bytes hold more NUL bytes than this share is binary (UTF-16 without
    # a BOM is recognised before this rule: its NULs alternate with ASCII).
    max_nul_share: float = 0.01
    # ... or more C0 control bytes (other than tab, line feed, form feed, carriage return, escape).
    max_control_share: float = 0.05
    # charset-normalizer's mess ratio above which a decoding does not read as text.
    max_mess: float = 0.2
    # When no encoding reads the bytes plausibly, the page is still decoded (cp1252, U+FFFD for bytes it
    # leaves undefined) unless more than this share of it would be U+FFFD.
    max_replaced_share: float = 0.01
    # Bytes given to charset-normalizer's detection (it is slow on large pages; the head is enough).
    detect_bytes: int = 200_000


DEFAULT_DECODE_CONFIG = DecodeConfig()

# File signatures of content that is never an HTML page.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "rar"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole2 (doc, xls)"),
    (b"%!PS-Adobe", "postscript"),
    (b"OggS", "ogg"),
    (b"ID3", "mp3"),
    (b"fLaC", "flac"),
    (b"\x1a\x45\xdf\xa3", "matroska/webm"),
    (b"wOFF", "woff"),
    (b"wOF2", "woff2"),
    (b"\x00\x01\x00\x00\x00", "truetype"),
    (b"OTTO", "opentype"),
    (b"\x00asm", "wasm"),
    (b"\x7fELF", "elf"),
    (b"MZ\x90\x00", "windows executable"),
    (b"\x00\x00\x01\x00", "ico"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
_ANY_SIGNATURE = tuple(signature for signature, _ in _SIGNATURES)
_RIFF_KINDS = {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}
_CONTROL_BYTES = bytes(sorted(frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}))


def binary_kind(body: bytes, config: DecodeConfig = DEFAULT_DECODE_CONFIG) -> str | None:
    """What binary content ``body`` is (``"pdf"``, ``"png"``, ``"nul bytes"``...), or None for text.

    >>> binary_kind(b"%PDF-1.7 ..."), binary_kind(b"<html>hi</html>"), binary_kind(b"\\x00\\x01" * 100)
    ('pdf', None, 'nul bytes')
    """
    head = body.lstrip(b"\t\n\r ")[:16]
    if head.startswith(_ANY_SIGNATURE):  # one call in C; the loop only names the match
        for signature, kind in _SIGNATURES:
            if head.startswith(signature):
                return kind
    if head.startswith(b"RIFF") and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    if head[4:8] == b"ftyp":
        return "iso media (mp4, heif)"
    sample = body[: config.sniff_bytes]
    if not sample or _utf16_order(sample) is not None:
        return None
    if sample.count(0) > config.max_nul_share * len(sample):
        return "nul bytes"
    # Counted in C (bytes.translate deleting them), not byte by byte in Python: 0.2–0.3 ms a page less.
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > config.max_control_share * len(sample):
        return "control bytes"
    return None


def _utf16_order(sample: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` for BOM-less UTF-16 of mostly ASCII text (NULs on every other byte)."""
    if len(sample) < 8 or sample.count(0) <= 0.4 * (len(sample) // 2):
        return None  # too few NULs for either half to be 40% NUL (one count in C, not two slices)
    even, odd = sample[0::2], sample[1::2]
    for zeros, chars, order in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) > 0.4 * len(zeros) and chars.count(0) < 0.05 * len(chars):
            # the other half must be text: printable ASCII and line breaks, nearly all of it
            printable = sum(1 for b in chars if 0x20 <= b < 0x7F or b in (0x09, 0x0A, 0x0D))
            return order if printable > 0.9 * len(chars) else None
    return None


def _plausible(text: str, encoding: str, config: DecodeConfig) -> bool:
    """Whether a decoding reads as text: no replacement characters, little mess, and (for single-byte
    codecs, which decode anything) no CJK legacy bytes read as Latin-1."""
    if "\ufffd" in text:
        return False
    sample = text[:20_000]
    from charset_normalizer.md import mess_ratio

    if mess_ratio(sample, config.max_mess) >= config.max_mess:
        return False
    if encoding in _SINGLE_BYTE:
        from cleaning.mojibake.detect import find_legacy_misreads, might_be_legacy

        if might_be_legacy(sample) and find_legacy_misreads(sample):
            return False
    return True


_SINGLE_BYTE = frozenset(
    {
        "cp1252",
        "latin-1",
        "iso8859-1",
        "iso8859-15",
        "cp1250",
        "cp1251",
        "cp1253",
        "cp1254",
        "cp1257",
        "koi8-r",
        "koi8-u",
        "mac-roman",
    }
)


def _codec(name: str | None) -> str | None:
    """The Python codec for a declared or detected name (superset codecs as browsers use them)."""
    if not name:
        return None
    resolved = resolve_encoding(name)
    if resolved is None:
        return None
    try:
        return codecs.lookup(resolved).name
    except LookupError:
        return None


# windows-1252 as browsers decode it: the five bytes it leaves undefined become C1 controls.
_CP1252_UNDEFINED = {0xDC00 + b: b for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D)}


def _try(body: bytes, encoding: str, config: DecodeConfig) -> str | None:
    try:
        if encoding == "cp1252":
            text = body.decode(encoding, "surrogateescape").translate(_CP1252_UNDEFINED)
        else:
            text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
    return text if _plausible(text, encoding, config) else None


# Where detection cannot tell codecs apart (the same bytes read equally well), the one web pages use
# most often wins: windows-1252 over windows-1250 and -1257 for Latin text, and so on.
_WEB_PREFERENCE = (
    "cp1252",
    "gb18030",
    "big5hkscs",
    "cp932",
    "euc_jp",
    "cp949",
    "cp1251",
    "cp1250",
    "cp1253",
    "cp1254",
    "cp1256",
    "cp1255",
    "cp874",
)


def _detect(body: bytes, config: DecodeConfig) -> tuple[str, str] | None:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(body[: config.detect_bytes]))
    if not matches:
        return None
    best = matches[0]
    ties = [m for m in matches if m.chaos <= best.chaos + 0.01 and m.coherence >= best.coherence - 0.05]
    ranked = sorted(
        ties,
        key=lambda m: (
            _WEB_PREFERENCE.index(_codec(m.encoding) or "")
            if _codec(m.encoding) in _WEB_PREFERENCE
            else len(_WEB_PREFERENCE)
        ),
    )
    for match in ranked + [m for m in matches if m not in ties]:
        encoding = _codec(match.encoding)
        if encoding is None:
            continue
        text = _try(body, encoding, config)
        if text is not None:
            return text, encoding
    return None


def _utf8(body: bytes) -> str | None:
    """``body`` as UTF-8, allowing one character cut off at the very end (a size cap)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(body) - 3 and exc.reason == "unexpected end of data":
            return body[: exc.start].decode("utf-8", "strict")
        return None


def decode_html(
    body: bytes, content_type: str | None = None, config: DecodeConfig = DEFAULT_DECODE_CONFIG
) -> DecodedPage:
    """Decode an HTML body given the response's Content-Type header value.

    Raises ``DecodeError`` (``reason="binary"``) for content that is not text, and
    (``reason="undecodable"``) when no encoding reads the bytes plausibly.
    """
    declared_http = http_content_type_encoding(content_type) if content_type else None
    declared_meta = html_body_declared_encoding(body[: config.sniff_bytes])
    if not body:
        return DecodedPage("", "utf-8", "empty", declared_http, declared_meta)

    bom_encoding, bom = read_bom(body)
    if bom_encoding:
        encoding = _codec(bom_encoding) or bom_encoding
        try:
            return DecodedPage(
                body[len(bom or b"") :].decode(encoding), encoding, "bom", declared_http, declared_meta
            )
        except UnicodeDecodeError as exc:
            raise DecodeError(f"bytes after a {bom_encoding} byte-order mark do not decode: {exc}") from exc

    kind = binary_kind(body, config)
    if kind is not None:
        raise DecodeError(f"binary content ({kind})", reason="binary")

    utf16 = _utf16_order(body[: config.sniff_bytes])
    if utf16 is not None:
        decided = "detected"
        for declared, by in ((declared_http, "http-header"), (declared_meta, "meta")):
            if declared and declared.lower().replace("_", "-").startswith("utf-16"):
                decided = by
                break
        try:
            return DecodedPage(body.decode(utf16), utf16, decided, declared_http, declared_meta)
        except UnicodeDecodeError:
            pass

    as_utf8 = _utf8(body)
    if as_utf8 is not None:
        decided = "ascii" if body.isascii() else "utf8-bytes"
        return DecodedPage(as_utf8, "utf-8", decided, declared_http, declared_meta)

    for declared, decided in ((declared_http, "http-header"), (declared_meta, "meta")):
        declared_codec = _codec(declared)
        if declared_codec is None or declared_codec == "utf-8":
            continue  # UTF-8 was tried above on the bytes themselves
        declared_text = _try(body, declared_codec, config)
        if declared_text is not None:
            return DecodedPage(declared_text, declared_codec, decided, declared_http, declared_meta)
        logger.info("declared charset %s (%s) does not fit the bytes; detecting", declared, decided)

    detected = _detect(body, config)
    if detected is not None:
        return DecodedPage(detected[0], detected[1], "detected", declared_http, declared_meta)
    # Nothing reads plausibly: rather a page with some mess than no page. The declaration if the bytes
    # decode under it, else the web's default for undeclared pages; replacement characters mark the
    # bytes that do not decode.
    for declared, decided in ((declared_http, "http-header"), (declared_meta, "meta")):
        declared_codec = _codec(declared)
        if declared_codec is not None:
            with contextlib.suppress(UnicodeDecodeError):
                return DecodedPage(
                    body.decode(declared_codec), declared_codec, decided, declared_http, declared_meta
                )
    text = body.decode("cp1252", "replace")
    if text.count("\ufffd") > config.max_replaced_share * len(text):
        raise DecodeError("no plausible text encoding for the bytes")
    logger.warning("no plausible encoding; decoded as cp1252 with replacement characters")
    return DecodedPage(text, "cp1252", "fallback", declared_http, declared_meta)
