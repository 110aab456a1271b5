"""Reproduce the corruption processes that repair undoes, to generate test cases and benchmarks.

>>> utf8_misread("‘deepfake’", "gbk")
'鈥榙eepfake鈥\\ufffd'
>>> utf8_misread("‘deepfake’", "gbk", errors="ignore")
'鈥榙eepfake鈥'
>>> legacy_misread("中国", "gbk")
'ÖÐ¹ú'
"""

from __future__ import annotations

import codecs

# Wrong decoders as browsers and Windows apply them (see bytemaps.py).
_DECODERS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb18030": "gb18030",
    "big5": "cp950",
    "shift_jis": "cp932",
    "euc_jp": "euc_jp",
    "euc_kr": "cp949",
    "cp1252": "cp1252",
    "latin-1": "latin-1",
    "mac_roman": "mac_roman",
    "cp1251": "cp1251",
}
_LEGACY_ENCODERS = {
    "gbk": "gbk",
    "big5": "cp950",
    "shift_jis": "cp932",
    "euc_jp": "euc_jp",
    "euc_kr": "cp949",
}


def _whatwg_handler(exc: UnicodeError) -> tuple[str, int]:
    """Browsers' GBK decoder turns a lone 0x80 into the euro sign; anything else becomes U+FFFD."""
    assert isinstance(exc, UnicodeDecodeError)
    if exc.object[exc.start] == 0x80 and exc.encoding in ("gb18030", "gbk"):
        return "€", exc.start + 1
    return "\ufffd", exc.start + 1


codecs.register_error("cleanwire-whatwg", _whatwg_handler)


def utf8_misread(text: str, codec: str, errors: str = "replace") -> str:
    """``text`` encoded as UTF-8 and decoded with ``codec``.

    ``errors``: ``strict`` (raise: the misreading is lossless or nothing), ``replace`` (U+FFFD per bad
    byte), ``ignore`` (bad bytes silently dropped, as in the Shanghai Daily seed) or ``whatwg``.
    """
    handler = "cleanwire-whatwg" if errors == "whatwg" else errors
    return text.encode("utf-8").decode(_DECODERS[codec], handler)


def legacy_misread(text: str, codec: str, reader: str = "cp1252") -> str:
    """``text`` encoded in a legacy CJK ``codec`` and decoded as windows-1252 (or Latin-1).

    Bytes windows-1252 leaves undefined come out as C1 controls, as browsers decode them.
    """
    raw = text.encode(_LEGACY_ENCODERS[codec])
    if reader == "latin-1":
        return raw.decode("latin-1")
    return "".join(bytes([b]).decode("cp1252", "strict") if _cp1252_defined(b) else chr(b) for b in raw)


def _cp1252_defined(b: int) -> bool:
    return b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)


def western_misread(text: str, codec: str, times: int = 1) -> str:
    """``text`` as UTF-8 decoded with a single-byte ``codec`` (``times`` = 2 for double mojibake)."""
    for _ in range(times):
        raw = text.encode("utf-8")
        if codec == "cp1252":
            text = "".join(bytes([b]).decode("cp1252") if _cp1252_defined(b) else chr(b) for b in raw)
        else:
            text = raw.decode(_DECODERS[codec])
    return text
