"""Main-text extraction with trafilatura, configured for news, with a structural second opinion.

Measured on the shared benchmark (``flows/evaluate.py``), in this order:

1. trafilatura in fast balanced mode (no readability/justext comparison): the best recall, and about 35%
   faster than its full cascade;
2. when that output looks like a page dump (mostly short non-sentence lines, or one giant merged block)
   or is short, a second trafilatura pass with its full cascade and the configured precision/recall
   focus; its output replaces the first when the first was a dump, or when it is longer;
3. a structural check of the text against the page's DOM: each output line is mapped to the element it
   came from, which gives
   - article bodies split across sibling containers of one layout (``div.article-chunk`` × n): the
     containers after the one extracted are added (trafilatura keeps only the best-scoring one);
   - runs of lines that are each entirely link text (related-headline lists, menus): removed;
   - lines that each sit alone in a card beside a headline link to another page: a listing's teasers,
     counted for the NOT_ARTICLE gate.

The removed lines are returned as ``Removal`` records like the noise rules' removals.

Second opinions measured and not used: readability-lxml costs about as much as trafilatura's fast pass
again (the clean stage must stay within 10% of bare trafilatura's throughput), and trafilatura's full
cascade already compares with its own readability fork; JSON-LD ``articleBody`` is declared on 16 of
the 181 benchmark pages, and on half of those it is truncated to a teaser or holds raw HTML.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from copy import copy
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

import trafilatura
from lxml import etree
from lxml.html import HtmlElement, fromstring
from trafilatura.settings import Extractor
from trafilatura.utils import DOCTYPE_TAG, FAULTY_HTML, HTML_PARSER, is_dubious_html, load_html

from cleaning.config import CleaningConfig
from cleaning.normalize import collapse_spaces
from cleaning.records import Removal

logger = logging.getLogger(__name__)


class ExtractionError(ValueError):
    """The HTML could not be parsed."""


@dataclass(frozen=True, slots=True)
class ExtractionSettings:
    # First pass: trafilatura fast mode, balanced focus (best recall, least time on the benchmark).
    first_pass_fast: bool = True
    # Second pass (full cascade, config.favor_precision/favor_recall) when the first output is a page dump:
    # this share of its characters in short lines without sentence punctuation …
    dump_short_line_share: float = 0.4
    short_line_chars: int = 40
    # … or one line this long (a layout table or a container flattened into one block) …
    giant_line_chars: int = 2000
    # … or when the first output is shorter than this (then the longer of the two is kept) …
    min_first_pass_chars: int = 500
    # … counting each Han, kana or Hangul character as this many: a news text in Chinese, Japanese or
    # Korean takes about a third of the characters of the same text in English, so 500 characters of it
    # are a complete short article, not a sign that the first pass missed most of one.
    cjk_char_weight: int = 3
    # Add sibling containers with the extracted container's tag and class (article split in chunks).
    extend_siblings: bool = True
    sibling_min_chars: int = 300  # a sibling must add this much paragraph text (skips bios, captions)
    # Remove runs of at least this many consecutive lines that are each entirely link text …
    link_run_min_lines: int = 2
    link_density_min: float = 0.9  # share of an element's text inside <a href> (not #fragment links)
    link_line_max_chars: int = 200  # … and no longer than this (a long linked paragraph is prose)


DEFAULT_EXTRACTION_SETTINGS = ExtractionSettings()


@dataclass(frozen=True, slots=True)
class Extraction:
    text: str
    removals: list[Removal] = field(default_factory=list)  # lines the structural check removed
    teaser_links: int = 0  # distinct other pages the text's lines tease, as cards of a listing do
    passes: tuple[str, ...] = ()  # trafilatura passes run ("fast", "full") and which output was kept


def parse_html(html: str) -> HtmlElement:
    """Parse with trafilatura's loader (comments and processing instructions dropped, which plain
    ``lxml.html.fromstring`` keeps: a comment inside a paragraph then splits its text)."""
    try:
        tree = _parse_clean_utf8(html)
        if tree is False:
            tree = load_html(html)
    except (ValueError, TypeError) as exc:  # lxml raises these for empty or unparsable documents
        raise ExtractionError(f"unparsable HTML: {exc}") from exc
    if tree is None:
        raise ExtractionError("unparsable HTML")
    return tree


# Characters libxml2 rejects, as UTF-8 bytes: C0 controls but tab and line breaks, U+FFFE, U+FFFF.
_XML_INVALID_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_XML_INVALID_SEQUENCES = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")


def _parse_clean_utf8(html: str) -> HtmlElement | Literal[False] | None:
    """What ``trafilatura.utils.load_html(html)`` returns, for the usual page, at two thirds of the cost;
    False for a page it leaves to ``load_html``.

    ``load_html`` deletes the characters libxml2 rejects with a character-class substitution over the
    whole page (about 8 ns a character, though pages rarely hold any), then parses the string; lxml
    parses the same text given as UTF-8 bytes a fifth faster (its parser is set to UTF-8, so a page's
    own charset declaration is not read). Here the bytes are checked for those characters in C and the
    page goes to ``load_html`` if it has one; its other repairs (a doctype with a slash, a self-closing
    ``<html/>``) are made as it makes them. ``tests/cleaning/test_extract.py`` compares the trees.
    """
    try:
        data = html.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return False
    if len(data.translate(None, _XML_INVALID_BYTES)) != len(data) or any(
        s in data for s in _XML_INVALID_SEQUENCES
    ):
        return False
    beginning = html[:50].lower()
    # trafilatura.utils.repair_faulty_html, but its substitution of the rejected characters (none here)
    repaired = html
    if "doctype" in beginning:
        first_line, _, rest = repaired.partition("\n")
        repaired = DOCTYPE_TAG.sub("", first_line, count=1) + "\n" + rest
    for line in repaired[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            repaired = FAULTY_HTML.sub(r"\1>", repaired, count=1)
            break
    if repaired != html:
        data = repaired.encode("utf-8")
    try:
        tree = fromstring(data, parser=HTML_PARSER)
    except Exception:  # whatever lxml raises, load_html decides as it does
        return False
    if tree is None or len(tree) < 1:
        return False  # load_html's second attempt and error handling
    if is_dubious_html(beginning) and len(tree) < 2:
        return None  # load_html's "not valid HTML" verdict
    return tree


@lru_cache(maxsize=16)
def _extractor(fast: bool, precision: bool, recall: bool, tables: bool) -> Extractor:
    """trafilatura's options for a pass, built once: building them reads its config file's values
    through ConfigParser, about 0.08 ms a pass (a copy with the page's URL set costs a tenth of that)."""
    return Extractor(
        output_format="python",
        fast=fast,
        precision=precision,
        recall=recall,
        comments=False,
        dedup=False,  # its dedup is a process-global cache: output would depend on history
        tables=tables,
        with_metadata=False,  # cleaning.metadata reads the page's declarations itself, faster
    )


def _trafilatura_text(
    tree: HtmlElement, url: str | None, *, fast: bool, precision: bool, recall: bool, tables: bool
) -> str:
    options = copy(_extractor(fast, precision, recall, tables))
    options.url = url  # what Extractor(url=url) sets
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    doc = trafilatura.bare_extraction(tree, options=options)
    return (getattr(doc, "text", None) or "") if doc is not None else ""


_SENTENCE_END = re.compile(r"[.!?:;\"”’)\]。！？]$")


def looks_like_dump(text: str, settings: ExtractionSettings = DEFAULT_EXTRACTION_SETTINGS) -> bool:
    """Extractor output that is a menu/tag-cloud dump or a whole layout flattened into one block.

    >>> looks_like_dump("Home\\nNews\\nSports\\nWeather\\nContact us\\nA short sentence.")
    True
    >>> looks_like_dump("The minister said on Monday that talks would resume.\\nMarkets rose.")
    False
    """
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if not lines:
        return False
    total = sum(len(line) for line in lines)
    short = sum(
        len(line)
        for line in lines
        if len(line) < settings.short_line_chars and not _SENTENCE_END.search(line)
    )
    return (
        short > settings.dump_short_line_share * total
        or max(len(line) for line in lines) > settings.giant_line_chars
    )


def extract_article(
    html: str | HtmlElement,
    url: str | None,
    config: CleaningConfig,
    settings: ExtractionSettings = DEFAULT_EXTRACTION_SETTINGS,
) -> Extraction:
    """Extract the main text of one page (comments off, trafilatura's dedup off); see the module doc."""
    tree = parse_html(html) if isinstance(html, str) else html
    tables = config.include_tables
    text = _trafilatura_text(
        tree, url, fast=settings.first_pass_fast, precision=False, recall=False, tables=tables
    )
    passes: tuple[str, ...] = ("fast",) if settings.first_pass_fast else ("full",)
    dump = looks_like_dump(text, settings)
    if settings.first_pass_fast and (
        dump or _weighted_length(text, settings) < settings.min_first_pass_chars
    ):
        full = _trafilatura_text(
            tree, url, fast=False, precision=config.favor_precision, recall=config.favor_recall, tables=tables
        )
        if full and (dump or len(full) > len(text)):
            text, passes = full, ("fast", "full", "kept:full")
        else:
            passes = ("fast", "full", "kept:fast")
    if not text.strip():
        return Extraction(text="", passes=passes)
    check = StructureCheck(tree, settings)
    if settings.extend_siblings:
        text = check.extend_with_siblings(text)
    text, removals = check.drop_link_runs(text)
    teasers, _ = check.teaser_links(text, tuple(u for u in (url,) if u))
    return Extraction(text=text, removals=removals, teaser_links=teasers, passes=passes)


_CJK_CHAR = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def _weighted_length(text: str, settings: ExtractionSettings) -> int:
    """``len(text)`` with CJK characters counted ``settings.cjk_char_weight`` times.

    >>> _weighted_length("新闻 news", DEFAULT_EXTRACTION_SETTINGS)
    11
    """
    if len(text) >= settings.min_first_pass_chars:
        return len(text)  # the weighting can only add: no need to count
    return len(text) + (settings.cjk_char_weight - 1) * len(_CJK_CHAR.findall(text))


# --- structural check against the DOM ------------------------------------------------------------------

_SPACE = re.compile(r"\s+")
_LIST_MARKER = re.compile(r"^(?:[-*•·]\s*|\d{1,2}[.)]\s+)")
_BLOCK_TAGS = (
    "p",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "td",
    "th",
    "dd",
    "dt",
    "figcaption",
    "pre",
    "div",
)
_KEY_CHARS = 60  # lines are matched to elements by their first characters (extractors trim and join)
_MIN_KEY_CHARS = 10


def _key(text: str) -> str:
    """The first ``_KEY_CHARS`` characters of ``text`` with whitespace runs collapsed, lower-cased.

    ``" ".join(text.split())`` is ``_SPACE.sub(" ", text).strip()`` (both split on ``str.isspace``
    characters), at a third of the cost. Collapsing a prefix of the text gives a prefix of the collapsed
    text, so a long text (a container's whole ``text_content()``) is collapsed only as far as the key
    reaches; and most texts (extracted lines, paragraphs) start with a run that needs no collapsing at
    all (see ``_settled``): then nothing is split.

    >>> text = "  The  Minister said " + "x" * 500
    >>> _key(text), _key(text) == _key_of_all(text)
    ('the minister said xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx', True)
    >>> _key("The Minister said on Monday that talks would resume next week.")
    'the minister said on monday that talks would resume next wee'
    """
    head = text[:_KEY_CHARS]
    if _settled(head):
        return head.lower()[:_KEY_CHARS]
    if len(text) > _KEY_PREFIX:
        key = _key_of_prefix(text)
        if key is not None:
            return key
    return " ".join(text.split()).lower()[:_KEY_CHARS]


def _key_of_prefix(prefix: str) -> str | None:
    """The key of every text that starts with ``prefix``, when the prefix is long enough to decide it."""
    head = prefix[:_KEY_CHARS]
    if len(head) == _KEY_CHARS and _settled(head):
        return head.lower()[:_KEY_CHARS]
    head = " ".join(prefix[:_KEY_PREFIX].split())
    return head[:_KEY_CHARS].lower()[:_KEY_CHARS] if len(head) >= _KEY_CHARS else None


def _settled(head: str) -> bool:
    """Whether ``head``, the start of a text, is also the start of the collapsed text and lower-cases
    alone as it does within the text, so that a key is cut from it directly.

    That holds when it has no whitespace but single spaces between words (``str.isprintable`` is false
    for every whitespace character except the space) and no capital sigma: the one character whose lower
    case depends on the characters after it (σ, or ς at the end of a word).

    >>> _settled("The minister said"), _settled(" The minister"), _settled("The  minister")
    (True, False, False)
    >>> _settled("The minister\\nsaid"), _settled("The minister "), _settled("ΣΟΦΙΑ")
    (False, False, False)
    """
    return head.isprintable() and "  " not in head and " " not in (head[:1], head[-1:]) and "Σ" not in head


_KEY_PREFIX = 4 * _KEY_CHARS


def _key_of_all(text: str) -> str:
    """The definition ``_key`` computes faster."""
    return _SPACE.sub(" ", text).strip().lower()[:_KEY_CHARS]


def _text_content(el: HtmlElement) -> str:
    """``el.text_content()``, cheaper: a leaf's text is its own, and lxml's text serialisation makes the
    same libxml2 walk as the XPath ``string()`` behind ``text_content()`` without setting up an XPath
    evaluation (half the cost; the structural check takes the text of most block elements).

    >>> from lxml.html import fragment_fromstring
    >>> el = fragment_fromstring("<p>A <b>bold</b> move</p>")
    >>> _text_content(el), _text_content(el[0]), _text_content(el) == el.text_content()
    ('A bold move', 'bold', True)
    """
    if len(el) == 0:  # no child elements, comments or processing instructions: only text
        return el.text or ""
    return etree.tostring(el, method="text", encoding=str, with_tail=False)


def _signature(el: HtmlElement) -> tuple[str, str | None]:
    return el.tag, el.get("class")


class StructureCheck:
    """Maps extracted lines back to the page's block elements (by their leading text)."""

    def __init__(self, tree: HtmlElement, settings: ExtractionSettings = DEFAULT_EXTRACTION_SETTINGS) -> None:
        self.settings = settings
        # The page's block elements by key, the first of each key in document order. Indexed only as
        # far as lookups need (``_find``): the extracted lines usually map to elements before the end
        # of the page (its footer, related links), which are then never visited.
        self.index: dict[str, HtmlElement] = {}
        self._unindexed: Iterator[HtmlElement] | None = tree.iter(*_BLOCK_TAGS)
        # Each line is looked up by every step of the check, and each mapped element's ancestors
        # walked by two: both kept (a third of the check's time on the benchmark pages).
        self._lines: dict[str, HtmlElement | None] = {}
        self._ancestors: dict[HtmlElement, list[HtmlElement]] = {}

    def _find(self, key: str) -> HtmlElement | None:
        """The first block element whose text has this key, indexing the elements up to it."""
        found = self.index.get(key)
        if found is not None or self._unindexed is None:
            return found
        for el in self._unindexed:
            own = el.text
            if el.tag == "div" and not (own and len(own.strip()) >= 20):
                continue  # a div counts only when it holds text itself, not just child blocks
            # The element's text starts with its own text: when that decides the key, the whole
            # text (text_content(), a copy of all its descendants' text) is not needed.
            el_key = (own and len(own) >= _KEY_CHARS and _key_of_prefix(own)) or _key(_text_content(el))
            if len(el_key) >= _MIN_KEY_CHARS and el_key not in self.index:
                self.index[el_key] = el
                if el_key == key:
                    return el
        self._unindexed = None  # all indexed
        return None

    def element_of(self, line: str) -> HtmlElement | None:
        if line in self._lines:
            return self._lines[line]
        key = _key(_LIST_MARKER.sub("", line.strip(), count=1))
        el = self._find(key) if len(key) >= _MIN_KEY_CHARS else None
        self._lines[line] = el
        return el

    def ancestors(self, el: HtmlElement) -> list[HtmlElement]:
        """``list(el.iterancestors())``, nearest first."""
        found = self._ancestors.get(el)
        if found is None:
            found = self._ancestors[el] = list(el.iterancestors())
        return found

    @staticmethod
    def link_density(el: HtmlElement) -> float:
        """Share of the element's text inside ``<a href>`` (fragment and javascript links excluded)."""
        parent = el.getparent()
        for _ in range(4):  # a block inside a link (<a><h3>headline</h3></a>) is all link
            if parent is None:
                break
            if parent.tag == "a" and not (parent.get("href") or "#").startswith(("#", "javascript")):
                return 1.0
            parent = parent.getparent()
        total = len(collapse_spaces(_text_content(el)))
        if not total:
            return 0.0
        linked = sum(
            len(collapse_spaces(_text_content(a)))
            for a in el.iter("a")
            if not (a.get("href") or "#").startswith(("#", "javascript"))
        )
        return min(1.0, linked / total)

    def drop_link_runs(self, text: str) -> tuple[str, list[Removal]]:
        """Remove runs of consecutive lines that are each entirely link text (headline lists, menus)."""
        s = self.settings
        lines = text.split("\n")
        linky = []
        for line in lines:
            el = self.element_of(line) if line.strip() and len(line) <= s.link_line_max_chars else None
            linky.append(el is not None and self.link_density(el) >= s.link_density_min)
        drop = [False] * len(lines)
        i = 0
        while i < len(lines):
            if not linky[i]:
                i += 1
                continue
            j = i
            while j < len(lines) and (linky[j] or not lines[j].strip()):
                j += 1
            if sum(linky[i:j]) >= s.link_run_min_lines:
                for n in range(i, j):
                    drop[n] = linky[n]
            i = j
        removals = [Removal(line.strip(), "link-list") for line, d in zip(lines, drop, strict=True) if d]
        if not removals:
            return text, []
        return "\n".join(line for line, d in zip(lines, drop, strict=True) if not d), removals

    def teaser_links(self, text: str, own_urls: tuple[str, ...] = (), max_depth: int = 6) -> tuple[int, int]:
        """Distinct pages teased, and mapped lines: lines that sit alone in a card beside a headline link.

        That is a listing's shape (a headline link and a teaser per item, each to a different page); an
        article's paragraphs share one container, and their own inline links do not count.
        """
        mapped = [
            el for line in text.split("\n") if line.strip() and (el := self.element_of(line)) is not None
        ]
        per_ancestor: dict[HtmlElement, int] = {}
        for el in mapped:
            for anc in self.ancestors(el):
                per_ancestor[anc] = per_ancestor.get(anc, 0) + 1
        own = {u.split("#")[0].rstrip("/") for u in own_urls if u}
        targets: set[str] = set()
        for el in mapped:
            inside: set[HtmlElement] | None = None  # the line's own links: taken only when a card is seen
            for depth, anc in enumerate(self.ancestors(el)):
                if depth >= max_depth or per_ancestor.get(anc, 0) > 1:
                    break  # an article's paragraphs: at once (they share their parent)
                if inside is None:
                    inside = set(el.iter("a"))
                href = next(
                    (
                        h
                        for a in anc.iter("a")
                        if a not in inside
                        and not (h := (a.get("href") or "#").strip()).startswith(("#", "javascript"))
                        and h.split("#")[0].rstrip("/") not in own
                        and len(_text_content(a).split()) >= 3
                    ),
                    None,
                )
                if href:
                    targets.add(href)
                    break
        return len(targets), len(mapped)

    def _container(self, elements: list[tuple[HtmlElement, int]]) -> HtmlElement | None:
        """The deepest element holding at least 70% of the matched text.

        The elements holding that much are one chain down from the root (two elements neither inside
        the other would together hold more than the whole), so the deepest one is, for some matched
        element, the nearest of its ancestors-or-self holding enough: only those nearest ones' depths
        are compared, not every ancestor's recorded.
        """
        total = sum(n for _, n in elements)
        weight: dict[HtmlElement, int] = {}
        for el, n in elements:
            weight[el] = weight.get(el, 0) + n
            for anc in self.ancestors(el):
                weight[anc] = weight.get(anc, 0) + n
        deepest, deepest_depth = None, -1
        for el, _ in elements:
            chain = [el, *self.ancestors(el)]
            for height, anc in enumerate(chain):
                if weight[anc] >= 0.7 * total:
                    if len(chain) - height > deepest_depth:
                        deepest, deepest_depth = anc, len(chain) - height
                    break
        return deepest

    def extend_with_siblings(self, text: str) -> str:
        """Append paragraphs of sibling containers that share the extracted container's tag and class."""
        lines = text.split("\n")
        mapped = [
            (i, el)
            for i, line in enumerate(lines)
            if line.strip() and (el := self.element_of(line)) is not None
        ]
        if not mapped:
            return text
        container = self._container([(el, len(lines[i])) for i, el in mapped])
        if container is None:
            return text
        have: set[str] | None = None  # keys of the lines, once a sibling needs comparing (most have none)
        for level in (container, container.getparent()):
            if level is None or level.getparent() is None:
                continue
            before: list[str] = []
            after: list[str] = []
            seen_self = False
            signature = _signature(level)
            for sibling in level.getparent():
                if sibling is level:
                    seen_self = True
                    continue
                if _signature(sibling) != signature:
                    continue
                if have is None:
                    have = {_key(line) for line in lines}
                paragraphs = [collapse_spaces(_text_content(p)) for p in sibling.iter("p")]
                new = [p for p in paragraphs if p and _key(p) not in have]
                if sum(len(p) for p in new) < self.settings.sibling_min_chars:
                    continue
                have.update(_key(p) for p in new)
                (after if seen_self else before).extend(new)
            if before or after:
                inside = [i for i, el in mapped if el is level or level in self.ancestors(el)]
                first, last = (min(inside), max(inside) + 1) if inside else (0, len(lines))
                logger.debug("added %d paragraphs from sibling containers", len(before) + len(after))
                return "\n".join(lines[:first] + before + lines[first:last] + after + lines[last:])
        return text
