"""Fill a character whose last UTF-8 byte was lost, when the context leaves one good answer.

A byte lost upstream leaves a ``Gap``: the lead byte and some continuation bytes are known, one
continuation byte is not. There are at most 64 completions; this module picks one only when the
evidence singles it out, in this order:

1. quote pairing: ``E2 80 ??`` after an unclosed ``‘`` (or ``“``) is the closing ``’`` (or ``”``); the
   same for CJK brackets;
2. the decoder's own behaviour: a GB18030 decoder drops a byte in the middle of a run only for 0x80;
3. phrases: completions that form a known phrase with their neighbours (``公网安备 …号``, ``2021年``,
   ``#号`` after a registration number, ``。`` at the end of a line);
4. the character model: the completion must be clearly more probable than every other one.

Otherwise the character stays unknown and is written as U+FFFD: nothing is invented silently.

>>> fill(Gap((0xE2, 0x80, HOLE), 1), "Regulators … over ‘deepfake", "")
('’', 0.95)
>>> fill(Gap((0xE5, 0xA4, HOLE), 1), "沪公网安", " 31010602000204号")
('备', 0.95)
>>> fill(Gap((0xE5, 0xA4, HOLE), 1), "你好", "")[0]
'\\ufffd'
"""

from __future__ import annotations

import math
import re
from functools import cache, lru_cache

from cleaning.mojibake.model import (
    BAD,
    CJKPUNCT,
    HAN,
    HANGUL,
    KANA,
    PUNCT,
    bigram_token,
    char_class,
    default_model,
)
from cleaning.mojibake.utf8 import HOLE, Gap, cont_ok

UNKNOWN = "\ufffd"

_OPENERS = {
    "‘": "’",
    "“": "”",
    "「": "」",
    "『": "』",
    "《": "》",
    "〈": "〉",
    "（": "）",
    "【": "】",
    "〔": "〕",
    "«": "»",
}
_CLOSERS = {v: k for k, v in _OPENERS.items()}

# Phrases common in news pages and their footers. '#' stands for a run of digits, '$' for the end of a
# line. A completion that makes one of these appear around it gets a bonus per phrase character.
PHRASES: tuple[str, ...] = tuple(
    """
    #年 #月 #日 #号 #時 #时 #分 #秒 #点 #萬 #万 #亿 #億 #元 #円 #圆 #个 #個 #人 #名 #位 #次 #岁 #歳 #天 #周 #週 #家 #条 #條 #件 #项
    #項 #届 #屆 #期 #回 #度 #倍 #米 #公里 #平方 #吨 #斤 #届 #楼 #层 #版 #章 #条 #% 第# 约# 約# 近# 超# 逾# 共# 达# 達# 至# 于# 於#
    在# 是# 为# 為# 到# #년 #월 #일 #시 #분 #초 #원 #명 #개 #번 #차 #회 #세 公网安备#号 公網安備#號 ICP备#号 ICP證#號 ICP证#号 备#号 備#號
    备案号 備案號 证#号 證#號 许可证#号 許可證#號 版权所有 版權所有 著作権 無断転載 保留所有权利 保留所有權利 违法和不良信息举报 举报电话 舉報電話 联系我们 聯繫我們 關於我們
    关于我们 网站地图 網站地圖 隐私政策 隱私政策 免责声明 免責聲明 责任编辑 責任編輯 来源 來源 记者 記者 新华社 新華社 新华网 新華網 人民网 人民網 中新网 中新網 央视网 央視網
    中国新闻网 中國新聞網 环球网 環球網 凤凰网 鳳凰網 澎湃新闻 澎湃新聞 联合报 聯合報 中央社 自由时报 自由時報 朝日新聞 読売新聞 毎日新聞 연합뉴스 本报讯 本報訊 日电 日電 报道
    報道 报导 報導 新闻 新聞 编辑 編輯 电话 電話 传真 傳真 地址 邮编 郵編 邮箱 郵箱 客服 热线 熱線 更多 返回 首页 首頁 上一篇 下一篇 相关 相關 中国 中國 中华人民共和国
    中華人民共和國 台湾 台灣 香港 澳门 澳門 北京 上海 广州 廣州 深圳 天津 重庆 重慶 日本 韩国 韓國 美国 美國 英国 英國 政府 经济 經濟 市场 市場 公司 企业 企業 发展
    發展 国家 國家 社会 社會 技术 技術 安全 网络 網絡 網路 互联网 互聯網 科技 记者 株式会社 ニュース 新聞社 뉴스 기자 저작권 무단전재 재배포 。$ ！$ ？$ 」$ 』$
    》$ ）$ 。」 ”。 」。 ：“ ，“ 。“
    """.split()  # noqa: SIM905  # a table of words reads better as text
)
_DIGITS = re.compile(r"[0-9０-９]+")
_SPACES = re.compile(r"[ \u3000\t]+")


def _normalise(s: str) -> str:
    return _SPACES.sub("", _DIGITS.sub("#", s))


@cache
def _phrase_index() -> dict[str, tuple[str, ...]]:
    """Phrases by each character they contain."""
    index: dict[str, list[str]] = {}
    for phrase in PHRASES:
        for ch in set(phrase) - {"#", "$"}:
            index.setdefault(ch, []).append(phrase)
    return {ch: tuple(v) for ch, v in index.items()}


def _context(left: str, right: str) -> tuple[str, str]:
    """The neighbourhood phrases are looked up in: digits as '#', no spaces, '$' for a line end."""
    left_n = _normalise(left[-40:])[-12:]
    right_n = _normalise(right[:40])[:12]
    if not right or right[0] == "\n":
        right_n = "$" + right_n
    return left_n, right_n


def _phrase_bonus(ch: str, left_n: str, right_n: str) -> int:
    """Length of the longest phrase that ``left_n + ch + right_n`` contains around ``ch``."""
    phrases = _phrase_index().get(ch)
    if not phrases:
        return 0
    window = left_n + ch + right_n
    pos = len(left_n)
    best = 0
    for phrase in phrases:
        start = window.find(phrase, max(0, pos - len(phrase) + 1))
        while start != -1 and start <= pos:
            if start + len(phrase) > pos:
                best = max(best, len(phrase.replace("#", "")) + (1 if "#" in phrase else 0))
                break
            start = window.find(phrase, start + 1)
    return best


def completions(gap: Gap) -> tuple[str, ...]:
    """Every character a gap with one unknown byte can stand for (the lead or a continuation byte).

    >>> len(completions(Gap((0xE5, 0x8F, HOLE), 1))), "안" in completions(Gap((HOLE, 0x95, 0x88), 0))
    (64, True)
    """
    return _completions(gap.pattern)


@cache
def _completions(pattern: tuple[int, ...]) -> tuple[str, ...]:
    if pattern.count(HOLE) != 1:
        return ()
    pos = pattern.index(HOLE)
    if pos == 0:
        first, last = {2: (0xC2, 0xDF), 3: (0xE0, 0xEF), 4: (0xF0, 0xF4)}.get(len(pattern), (0, -1))
        values = range(first, last + 1)
    else:
        values = range(0x80, 0xC0)
    out = []
    for b in values:
        raw = bytes(b if x == HOLE else x for x in pattern)
        if pos and not cont_ok(raw[0], pos, b):
            continue
        try:
            ch = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(ch) == 1 and char_class(ch) != BAD:
            out.append(ch)
    return tuple(out)


@cache
def _scored_options(pattern: tuple[int, ...]) -> tuple[tuple[str, int, float], ...]:
    """The completions of a gap with their class and cost (cached: the same gaps recur)."""
    model = default_model()
    return tuple((ch, char_class(ch), model.char_cost(ch)) for ch in _completions(pattern))


@lru_cache(maxsize=65536)
def _base_scores(pattern: tuple[int, ...], before: str, after: str) -> tuple[tuple[str, float], ...]:
    """log2 P(completion | the character before) + log2 P(the character after | completion), for the
    completions that fit the class of the character before (bigrams backed off to the class model)."""
    model = default_model()
    kb, ka = char_class(before), char_class(after)
    tb, ta = bigram_token(before), bigram_token(after)
    trans, bigrams, rows = model.trans, model.bigrams, model.bigram_rows
    after_bits = model.char_cost(after) if ta == after else 0.0
    out = []
    for ch, k, bits in _scored_options(pattern):
        if k not in _FIT_CLASSES and k != kb:
            continue  # a completion should fit the text it sits in
        guess_in = 2.0 ** -(trans[kb][k] + bits)
        p_in = (bigrams.get(tb + ch, 0.0) + _BACKOFF * guess_in) / (rows.get(tb, 0.0) + _BACKOFF)
        guess_out = 2.0 ** -(trans[k][ka] + after_bits)
        p_out = (bigrams.get(ch + ta, 0.0) + _BACKOFF * guess_out) / (rows.get(ch, 0.0) + _BACKOFF)
        out.append((ch, math.log2(p_in) + math.log2(p_out)))
    return tuple(out)


def _fits(ch: str, pattern: tuple[int, ...]) -> bool:
    """Whether ``ch``'s UTF-8 bytes agree with every known byte of ``pattern``."""
    raw = ch.encode("utf-8")
    return len(raw) == len(pattern) and all(p in (HOLE, b) for p, b in zip(pattern, raw, strict=True))


def _unclosed_opener(left: str) -> str | None:
    """The innermost opening quote or bracket on the current line of ``left`` that is not closed."""
    line = left[left.rfind("\n") + 1 :]
    stack: list[str] = []
    for ch in line:
        if ch in _OPENERS:
            stack.append(ch)
        elif ch in _CLOSERS and stack and stack[-1] == _CLOSERS[ch]:
            stack.pop()
    return stack[-1] if stack else None


# Weight of the class-and-frequency guess against observed bigram counts, and the probability the
# best completion needs among all completions (on held-out text, with the last byte of a character
# lost before ASCII: about 97% of the completions made at this level are right, and about two thirds
# of such lost bytes get one; the rest stay U+FFFD).
_BACKOFF = 4.0
_MIN_POSTERIOR = 0.9
# Bits of evidence per character of a known phrase that a completion would complete.
_PHRASE_BITS = 6.0
_FIT_CLASSES = frozenset({HAN, KANA, HANGUL, CJKPUNCT, PUNCT})


# Lead bytes of the closing quotes and brackets that ``_OPENERS`` pairs (’” E2, 」』》〉】〕 E3,
# ） EF, » C2).
_CLOSER_LEADS = frozenset(ch.encode("utf-8")[0] for ch in _CLOSERS)


def fillable(gap: Gap) -> bool:
    """Whether ``fill`` can possibly find a character for ``gap`` (else it is U+FFFD at once)."""
    return gap.missing == 1 or gap.pattern[0] in _CLOSER_LEADS


def fill(gap: Gap, left: str, right: str, *, mid_run_gb18030: bool = False) -> tuple[str, float]:
    """The character for ``gap`` between ``left`` and ``right`` and a confidence, or (U+FFFD, 0)."""
    opener = _unclosed_opener(left) if gap.pattern[0] in _CLOSER_LEADS else None
    if opener is not None and _fits(_OPENERS[opener], gap.pattern):
        return _OPENERS[opener], 0.95
    options = completions(gap)
    if not options:
        return UNKNOWN, 0.0
    if mid_run_gb18030 and gap.pattern[-1] == HOLE and gap.pattern[0] != HOLE:
        with_80 = bytes(0x80 if x == HOLE else x for x in gap.pattern)
        try:
            return with_80.decode("utf-8"), 0.9
        except UnicodeDecodeError:
            pass
    before = left[-1:] or "\n"
    after = right[:1] or "\n"
    base = _base_scores(gap.pattern, before, after)
    scores = dict(base)
    index = _phrase_index()
    if any(ch in index for ch in scores):
        left_n, right_n = _context(left, right)
        for ch in scores:
            if ch in index:
                scores[ch] += _PHRASE_BITS * _phrase_bonus(ch, left_n, right_n)
    if not scores:
        return UNKNOWN, 0.0
    top = max(scores.values())
    weights = {ch: 2.0 ** (s - top) for ch, s in scores.items()}
    best = max(weights, key=weights.__getitem__)
    p = weights[best] / sum(weights.values())
    if p >= _MIN_POSTERIOR:
        return best, round(min(p, 0.95), 3)
    return UNKNOWN, 0.0
