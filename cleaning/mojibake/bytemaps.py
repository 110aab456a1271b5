"""Undo a wrong decoding character by character: which bytes did the wrong decoder see for this character?

Two directions of CJK mojibake are handled:

* ``utf-8 read as W`` (W a double-byte CJK codec): each mojibake character maps back to one or two bytes
  of W; the concatenated bytes are (a damaged copy of) the original UTF-8.
* ``L read as cp1252`` (L a legacy CJK codec): each mojibake character is one byte of windows-1252 or
  Latin-1; the bytes are the original L-encoded text.

The tables follow what real decoders produce, not only Python's codecs: browsers decode ``gbk`` and
``gb2312`` as GB18030 (private-use characters for the user-defined rows, byte 0x80 as ``€``), Windows
decodes Shift_JIS as cp932 (0x80 as U+0080, 0xA0 as U+F8F0), Big5 as cp950 or Big5-HKSCS, EUC-KR as
cp949.

>>> GBK.to_bytes("鈥")
b'\\xe2\\x80'
>>> GBK.to_bytes("\\ue044")  # GB18030 user-defined row AA, as browsers decode it
b'\\xaa\\xe5'
>>> SHIFT_JIS.to_bytes("ｯ")
b'\\xaf'
>>> CP1252.to_bytes("Ö"), CP1252.to_bytes("€")
(b'\\xd6', b'\\x80')
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ByteMap:
    """Characters of one (wrong) decoder mapped back to the bytes it decoded them from."""

    name: str
    encoders: tuple[str, ...]  # Python codecs tried in order
    max_len: int = 2  # longest byte sequence one character may come from
    extra: tuple[tuple[str, bytes], ...] = ()  # decoder quirks not in Python's codecs
    # A character two byte sequences decode to, and the other sequence: the choice between them is
    # made by the bytes that follow (see ``alternative``).
    ambiguous: tuple[tuple[str, bytes], ...] = ()
    cache: dict[str, bytes | None] = field(default_factory=dict, compare=False, repr=False)

    def to_bytes(self, ch: str) -> bytes | None:
        """The bytes ``ch`` was decoded from, or None if this decoder cannot produce ``ch``."""
        try:
            return self.cache[ch]
        except KeyError:
            pass
        found: bytes | None = None
        for c, b in self.extra:
            if c == ch:
                found = b
                break
        else:
            for codec in self.encoders:
                try:
                    raw = ch.encode(codec)
                except UnicodeEncodeError:
                    continue
                if len(raw) <= self.max_len:
                    found = raw
                    break
        self.cache[ch] = found
        return found

    def alternative(self, ch: str) -> bytes | None:
        """The other byte sequence ``ch`` may come from, if it has one.

        >>> GBK.to_bytes("€"), GBK.alternative("€")
        (b'\\x80', b'\\xa2\\xe3')
        """
        for c, b in self.ambiguous:
            if c == ch:
                return b
        return None


# UTF-8 read as GBK/GB2312/GB18030: GB18030's two-byte area (its four-byte area never comes out of UTF-8
# bytes). cp936 first for the few characters where GBK and GB18030 disagree (U+30FB, U+2015).
# The euro sign is both byte 0x80 (as browsers decode GBK) and A2 E3 (GB18030's own code for it).
GBK = ByteMap("gbk", ("cp936", "gb18030"), extra=(("€", b"\x80"),), ambiguous=(("€", b"\xa2\xe3"),))
BIG5 = ByteMap("big5", ("cp950", "big5hkscs"))
SHIFT_JIS = ByteMap(
    "shift_jis",
    ("cp932", "shift_jis"),
    extra=(
        ("\x80", b"\x80"),
        ("€", b"\x80"),
        ("\uf8f0", b"\xa0"),
        ("\uf8f1", b"\xfd"),
        ("\uf8f2", b"\xfe"),
        ("\uf8f3", b"\xff"),
    ),
)
EUC_JP = ByteMap("euc_jp", ("euc_jp",), max_len=3)
EUC_KR = ByteMap("euc_kr", ("cp949",))

UTF8_MISREADS: tuple[ByteMap, ...] = (GBK, BIG5, SHIFT_JIS, EUC_JP, EUC_KR)


def _cp1252_extra() -> tuple[tuple[str, bytes], ...]:
    out = []
    for b in range(0x80, 0xA0):
        with contextlib.suppress(UnicodeDecodeError):
            out.append((bytes([b]).decode("cp1252"), bytes([b])))
    return tuple(out)


# Legacy bytes read as windows-1252 (browsers' "iso-8859-1") or Latin-1: one byte per character; the five
# bytes windows-1252 leaves undefined come out as C1 controls, as Latin-1 decodes them.
CP1252 = ByteMap("cp1252", ("latin-1",), max_len=1, extra=_cp1252_extra())


@dataclass(frozen=True, slots=True)
class LegacyCodec:
    """A legacy CJK encoding whose bytes may have been read as cp1252."""

    name: str
    decoder: str  # Python codec used to decode the recovered bytes
    trail_ascii: bool  # whether ASCII bytes 0x40-0x7E can be trail bytes


LEGACY_CODECS: tuple[LegacyCodec, ...] = (
    LegacyCodec("gbk", "gb18030", trail_ascii=True),
    LegacyCodec("big5", "cp950", trail_ascii=True),
    LegacyCodec("shift_jis", "cp932", trail_ascii=True),
    LegacyCodec("euc_kr", "cp949", trail_ascii=True),
    LegacyCodec("euc_jp", "euc_jp", trail_ascii=False),
)


def is_trail_byte(codec: str, byte: int) -> bool:
    """Whether ``byte`` can follow a lead byte in ``codec``: if it cannot, a lead byte before it was lost.

    >>> is_trail_byte("gbk", ord("d")), is_trail_byte("gbk", ord(" ")), is_trail_byte("euc_jp", ord("d"))
    (True, False, False)
    """
    if codec in ("gbk", "big5"):
        return 0x40 <= byte <= 0x7E or 0x80 <= byte <= 0xFE
    if codec == "shift_jis":
        return 0x40 <= byte <= 0x7E or 0x80 <= byte <= 0xFC
    if codec == "euc_kr":
        return 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A or 0x81 <= byte <= 0xFE
    return 0xA1 <= byte <= 0xFE
