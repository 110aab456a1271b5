"""The parts of CJK mojibake repair (``cleaning/mojibake``): byte maps, damaged UTF-8, gap filling, the
character model, the corruption simulators; their doctests; and properties of the whole."""

from __future__ import annotations

import doctest
import importlib

import ftfy
import pytest
from ftfy.badness import is_bad
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaning.mojibake.bytemaps import BIG5, CP1252, EUC_KR, GBK, SHIFT_JIS, is_trail_byte
from cleaning.mojibake.complete import completions, fill
from cleaning.mojibake.detect import find_legacy_misreads, find_utf8_misreads, suspicious_runs
from cleaning.mojibake.model import CLASS_NAMES, char_class, common_han, common_hangul, default_model
from cleaning.mojibake.simulate import legacy_misread, utf8_misread, western_misread
from cleaning.mojibake.utf8 import HOLE, Gap, parse
from cleaning.repair import _FTFY_TRIGGER, FTFY_CONFIG, might_be_bad, repair_text, repair_text_explained

MODULES = [
    "cleaning.repair",
    "cleaning.decode",
    "cleaning.mojibake.bytemaps",
    "cleaning.mojibake.build",
    "cleaning.mojibake.complete",
    "cleaning.mojibake.detect",
    "cleaning.mojibake.model",
    "cleaning.mojibake.simulate",
    "cleaning.mojibake.utf8",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


# --- byte maps --------------------------------------------------------------------------------------


def test_byte_maps_follow_real_decoders() -> None:
    assert GBK.to_bytes("鈥") == b"\xe2\x80"
    assert GBK.to_bytes("\ue044") == b"\xaa\xe5"  # GB18030 user-defined row, as browsers decode it
    assert GBK.to_bytes("€") == b"\x80" and GBK.alternative("€") == b"\xa2\xe3"
    assert GBK.to_bytes("\U0001f600") is None  # four-byte GB18030 never comes out of UTF-8 bytes
    assert SHIFT_JIS.to_bytes("ｯ") == b"\xaf"
    assert SHIFT_JIS.to_bytes("\x80") == b"\x80" and SHIFT_JIS.to_bytes("\uf8f0") == b"\xa0"  # cp932
    assert BIG5.to_bytes("銝") == b"\xe4\xb8"
    assert EUC_KR.to_bytes("븞") == b"\x95\x88"  # cp949's extension
    assert (
        CP1252.to_bytes("Ö") == b"\xd6"
        and CP1252.to_bytes("€") == b"\x80"
        and CP1252.to_bytes("\x81") == b"\x81"
    )


def test_trail_bytes() -> None:
    assert is_trail_byte("gbk", ord("d")) and not is_trail_byte("gbk", ord(" "))
    assert is_trail_byte("shift_jis", 0x80) and not is_trail_byte("shift_jis", 0xFD)
    assert not is_trail_byte("euc_jp", ord("d"))


# --- damaged UTF-8 ----------------------------------------------------------------------------------


def test_parse_complete_and_truncated() -> None:
    units, syncs = parse([0xE2, 0x80, 0x98, 0x64], 0, {0, 2, 4})
    assert units == ["‘", "d"] and syncs[-1] == (4, 2)
    units, _ = parse([0xE5, 0xA4], 0, {0, 2})
    assert units == [Gap((0xE5, 0xA4, HOLE), 1)]


def test_parse_holes() -> None:
    # a U+FFFD where a continuation byte was: marked, not silent
    units, _ = parse([0xE4, HOLE, 0xAD], 0, {0, 1, 2, 3})
    assert units == [Gap((0xE4, HOLE, 0xAD), 0)]
    # a lost lead byte and its surviving continuation bytes (hangul read as cp949)
    units, _ = parse([HOLE, 0x95, 0x88], 0, {0, 1, 3})
    assert units == [Gap((HOLE, 0x95, 0x88), 0)]


def test_parse_stops_at_invalid_bytes() -> None:
    units, syncs = parse([0xC3, 0xA9, 0xFF, 0x41], 0, {0, 2, 3, 4})
    assert units == ["é"] and syncs[-1] == (2, 1)


# --- filling lost bytes -----------------------------------------------------------------------------


def test_completions() -> None:
    assert len(completions(Gap((0xE5, 0x8F, HOLE), 1))) == 64
    assert "안" in completions(Gap((HOLE, 0x95, 0x88), 0))
    assert completions(Gap((0xE5, HOLE, HOLE), 2)) == ()  # two unknown bytes: not guessed


@pytest.mark.parametrize(
    ("pattern", "left", "right", "expected"),
    [
        ((0xE2, 0x80, HOLE), "over ‘deepfake", "", "’"),  # quote pairing
        ((0xE2, 0x80, HOLE), "he said “yes", " and left", "”"),
        ((0xE5, 0xA4, HOLE), "沪公网安", " 31010602000204号", "备"),  # a footer phrase
        ((0xE5, 0x8F, HOLE), "沪公网安备 31010602000204", "", "号"),  # a registration number
        ((0xE5, 0xA4, HOLE), "你好", "", "\ufffd"),  # many completions fit: not guessed
    ],
)
def test_fill(pattern: tuple[int, ...], left: str, right: str, expected: str) -> None:
    assert fill(Gap(pattern, 1), left, right)[0] == expected


def test_fill_gb18030_mid_run_is_0x80() -> None:
    """A GB18030 decoder drops a byte in the middle of a run only for 0x80."""
    assert fill(Gap((0xE4, 0xB8, HOLE), 1), "", "个", mid_run_gb18030=True)[0] == "一"


# --- the model --------------------------------------------------------------------------------------


def test_char_classes() -> None:
    assert [CLASS_NAMES[char_class(c)] for c in "a中ｶ©\ufffdαЖ한"] == [
        "lower", "han", "halfkana", "symbol", "bad", "greek", "cyrillic", "hangul",
    ]  # fmt: skip


def test_common_tiers() -> None:
    assert "中" in common_han() and "的" in common_han() and "鈥" not in common_han()
    assert "안" in common_hangul() and "븞" not in common_hangul()


@pytest.mark.parametrize(
    ("real", "mojibake"),
    [
        ("中国", "涓浗"),
        ("café", "caf茅"),
        ("こんにちは", "縺薙ｓ縺ｫ縺｡縺ｯ"),
        ("Привет", "袩褉懈胁械褌"),
        ("‘d", "鈥榙"),
    ],
)
def test_model_prefers_real_text(real: str, mojibake: str) -> None:
    model = default_model()
    assert model.cost(real) < model.cost(mojibake)


# --- detection --------------------------------------------------------------------------------------


def test_suspicious_runs_fast_check() -> None:
    assert suspicious_runs("中国人民银行今天宣布下调存款准备金率。") == []
    assert suspicious_runs("Plain English text.") == []
    assert suspicious_runs("涓枃瀛楃涓叉祴璇") == [(0, 8)]
    assert suspicious_runs("Copyright 漏 1999") == [(10, 11)]


def test_codec_with_most_evidence_wins_a_tie() -> None:
    """GBK and EUC-JP share their kana rows; the codec the rest of the line shows wins."""
    text = "¿¼¤µ¤¬ (ºÇÂç )¤Ê¤Î¤Ç¥Ç¥£¥ì¥¯¥È¥ê¤òÅ¾Á÷¤·¤Þ¤»¤ó¡£"
    assert "".join(c.replacement for c in find_legacy_misreads(text)).startswith("深さが")


def test_western_mojibake_left_to_ftfy() -> None:
    """Greek UTF-8 read as MacRoman looks like legacy bytes read as cp1252; ftfy's reading wins."""
    assert repair_text("ŒîŒµŒæŒπœå Alt œâœÇ Œ¥ŒµŒæŒπœå Ctrl") == "Δεξιό Alt ως δεξιό Ctrl"


def test_needs_evidence_for_lost_bytes_only() -> None:
    """A span that would be mostly U+FFFD is repaired only where the text shows the codec at work."""
    assert find_utf8_misreads("锟斤拷") == []
    assert find_utf8_misreads("Hello 世界") == []


# --- simulators -------------------------------------------------------------------------------------


def test_simulators() -> None:
    assert utf8_misread("‘deepfake’", "gbk", "ignore") == "鈥榙eepfake鈥"
    assert utf8_misread("一", "gbk", "whatwg") == "涓€"
    assert legacy_misread("中国", "gbk") == "ÖÐ¹ú"
    assert western_misread("café", "cp1252") == "cafÃ©"
    assert western_misread("café", "cp1252", 2) == "cafÃƒÂ©"


# --- properties -------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_any_text_is_handled(text: str) -> None:
    result = repair_text_explained(text)
    assert isinstance(result.text, str)
    for r in result.repairs:
        assert text[r.start : r.end] == r.original
        assert 0.0 <= r.confidence <= 1.0 and r.lost_bytes >= 0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="ascii", exclude_characters="&\x1b")))
def test_ascii_comes_back_unchanged(text: str) -> None:
    assert repair_text(text) is text


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_ftfy_precheck_never_skips_a_change(text: str) -> None:
    if not (_FTFY_TRIGGER.search(text) or might_be_bad(text)):
        assert ftfy.fix_text(text, FTFY_CONFIG) == text


_BADNESS_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyzABC   .,-\n"
    + "ÃÂÎÐØÙœŒé©®°·»¡«¿‘‚“”„•‹›™–—´²³¹±×µ÷√≈вЂВГРСβ€ΒΓΞΟā│┌▀░ãâêàäóòôú"
)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_BADNESS_ALPHABET, min_size=150, max_size=800))
def test_might_be_bad_has_no_false_negatives(text: str) -> None:
    """The fast stand-in for ``is_bad`` on long text misses nothing ftfy would see, line by line."""
    if is_bad(text) or any(is_bad(line) for line in text.split("\n")):
        assert might_be_bad(text)


CJK_SENTENCES = [
    "中国人民银行今天宣布下调存款准备金率",
    "台灣的經濟在過去十年中穩定成長",
    "日本銀行は大規模な金融緩和を維持することを決めました",
    "한국은행은 오늘 기준금리를 동결했다고 발표했습니다",
]


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(CJK_SENTENCES), st.sampled_from(["gbk", "shift_jis"]), st.integers(0, 40))
def test_lossless_misreads_of_prefixes_are_repaired(sentence: str, codec: str, cut: int) -> None:
    """Any prefix of a real sentence (long enough to carry evidence) misread losslessly comes back."""
    text = sentence[: max(6, cut)]
    try:
        broken = utf8_misread(text, codec, "strict")
    except UnicodeDecodeError:
        return  # not a lossless misreading
    assert repair_text(broken) == text
