"""Per-source learned boilerplate: short lines that recur across many pages of one source are template noise.

The rules in ``noise_rules.yaml`` know what noise looks like in general; a source's own template lines
("Read the Daily Planet on your phone", a columnist's sign-off, a section label) only show up as
repetition. ``learn_boilerplate`` counts normalised short lines over a source's cleaned texts;
``apply_boilerplate`` removes the learned lines from a document and re-applies the length gate.

Guard against removing article text: syndicated or updated copies of one article repeat its lines
across pages too. A line is learned only if it is short, seen on at least ``min_pages`` distinct pages
and at least ``min_share`` of the pages, and seen in at least ``min_pages`` distinct contexts: the
context of an occurrence is the page's longest line (the article it carries), which for template noise
is a different article each time and for copies of one article is the same paragraph.

The model is a plain JSON-serialisable value (``to_dict``/``from_dict``) with a content hash, stamped on
each document it changed; storage per source is the flows' job.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cleaning.config import DEFAULT_CONFIG, CleaningConfig
from cleaning.normalize import content_sha256, normalize_text
from cleaning.records import CleanDocument, Rejected, RejectReason, Removal

MODEL_VERSION = "1"
RULE = "learned-boilerplate"

_MARKER = re.compile(r"^(?:[-*•·]\s*|\d{1,2}[.)]\s+)")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class LineStats:
    pages: int  # distinct pages the line was seen on
    contexts: tuple[str, ...]  # distinct context fingerprints, at most BoilerplateModel.max_contexts


@dataclass(frozen=True)
class BoilerplateModel:
    pages: int = 0  # pages learned from
    lines: Mapping[str, LineStats] = dataclasses.field(default_factory=dict)  # normalised line -> stats
    # Thresholds (kept with the model so that a stored model means the same thing when reloaded).
    min_pages: int = 5  # a line must be seen on at least this many distinct pages …
    min_share: float = 0.2  # … and this share of all pages learned from …
    max_line_chars: int = 120  # … and be no longer than this (longer lines are prose)
    max_lines: int = 5000  # bound on the number of candidate lines kept (the most frequent)
    max_contexts: int = 16  # distinct contexts remembered per line (enough to pass min_pages)
    version: str = MODEL_VERSION

    def is_boilerplate(self, key: str) -> bool:
        stats = self.lines.get(key)
        return (
            stats is not None
            and stats.pages >= self.min_pages
            and stats.pages >= self.min_share * self.pages
            and len(stats.contexts) >= self.min_pages
        )

    @property
    def learned(self) -> list[str]:
        """The lines that count as boilerplate (normalised form), most frequent first."""
        return sorted(
            (k for k in self.lines if self.is_boilerplate(k)), key=lambda k: (-self.lines[k].pages, k)
        )

    @property
    def hash(self) -> str:
        """Short content hash of the model (stamped on the documents it changes)."""
        payload = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "pages": self.pages,
            "min_pages": self.min_pages,
            "min_share": self.min_share,
            "max_line_chars": self.max_line_chars,
            "max_lines": self.max_lines,
            "max_contexts": self.max_contexts,
            "lines": {
                k: {"pages": s.pages, "contexts": list(s.contexts)} for k, s in sorted(self.lines.items())
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BoilerplateModel:
        if str(data.get("version", MODEL_VERSION)) != MODEL_VERSION:
            raise ValueError(f"unsupported boilerplate model version {data.get('version')!r}")
        lines = {
            str(k): LineStats(int(v["pages"]), tuple(str(c) for c in v.get("contexts", ())))
            for k, v in dict(data.get("lines", {})).items()
        }
        return cls(
            pages=int(data.get("pages", 0)),
            lines=lines,
            min_pages=int(data.get("min_pages", 5)),
            min_share=float(data.get("min_share", 0.2)),
            max_line_chars=int(data.get("max_line_chars", 120)),
            max_lines=int(data.get("max_lines", 5000)),
            max_contexts=int(data.get("max_contexts", 16)),
        )


def line_key(line: str) -> str:
    """The normalised form lines are counted under: no list marker, spaces collapsed, case-folded.

    Digits are kept: prose of templated stories ("Shares closed at 12.30") differs only in its numbers.

    >>> line_key("- Read the  Daily Planet app "), line_key("read the daily planet APP")
    ('read the daily planet app', 'read the daily planet app')
    """
    return _SPACE.sub(" ", _MARKER.sub("", line.strip())).casefold().strip()


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12] if text else "-"


def _occurrences(text: str, max_chars: int) -> tuple[str, set[str]]:
    """The page's context fingerprint (its longest line: the article it carries) and its short lines."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    longest = max(lines, key=len, default="")
    keys = {
        key for line in lines if len(line) <= max_chars and line is not longest and (key := line_key(line))
    }
    return _fingerprint(longest), keys


def learn_boilerplate(
    texts_per_page: Iterable[str],
    previous: BoilerplateModel | None = None,
    *,
    min_pages: int | None = None,
    min_share: float | None = None,
    max_line_chars: int | None = None,
    max_lines: int | None = None,
) -> BoilerplateModel:
    """Count short lines over a source's cleaned page texts (one string per page), on top of ``previous``.

    >>> pages = [f"Story {i} says something long enough to be a paragraph of article prose here.\\nShare this story"
    ...          for i in range(6)]
    >>> model = learn_boilerplate(pages, min_pages=3, max_line_chars=40)
    >>> model.learned
    ['share this story']
    >>> learn_boilerplate([pages[0]] * 6, min_pages=3, max_line_chars=40).learned  # one article, copied
    []
    """
    base = previous or BoilerplateModel()
    settings = {
        "min_pages": base.min_pages if min_pages is None else min_pages,
        "min_share": base.min_share if min_share is None else min_share,
        "max_line_chars": base.max_line_chars if max_line_chars is None else max_line_chars,
        "max_lines": base.max_lines if max_lines is None else max_lines,
    }
    pages = base.pages
    counts = {k: s.pages for k, s in base.lines.items()}
    contexts = {k: list(s.contexts) for k, s in base.lines.items()}
    for text in texts_per_page:
        pages += 1
        context, keys = _occurrences(text, int(settings["max_line_chars"]))
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
            seen = contexts.setdefault(key, [])
            if context not in seen and len(seen) < base.max_contexts:
                seen.append(context)
        if len(counts) > 2 * int(settings["max_lines"]):
            counts, contexts = _prune(counts, contexts, int(settings["max_lines"]))
    counts, contexts = _prune(counts, contexts, int(settings["max_lines"]))
    lines = {k: LineStats(n, tuple(contexts.get(k, ()))) for k, n in counts.items()}
    return BoilerplateModel(
        pages=pages,
        lines=lines,
        min_pages=int(settings["min_pages"]),
        min_share=float(settings["min_share"]),
        max_line_chars=int(settings["max_line_chars"]),
        max_lines=int(settings["max_lines"]),
        max_contexts=base.max_contexts,
    )


def _prune(
    counts: dict[str, int], contexts: dict[str, list[str]], keep: int
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Keep the ``keep`` most frequent lines (ties by text, so the result is deterministic)."""
    if len(counts) <= keep:
        return counts, contexts
    kept = sorted(counts, key=lambda k: (-counts[k], k))[:keep]
    return {k: counts[k] for k in kept}, {k: contexts.get(k, []) for k in kept}


def apply_boilerplate(
    doc: CleanDocument, model: BoilerplateModel, config: CleaningConfig = DEFAULT_CONFIG
) -> CleanDocument | Rejected:
    """Remove the model's learned lines from a document; new id and hash, length gate re-applied.

    >>> pages = [f"Story {i} says something long enough to be a paragraph of article prose here.\\nShare this story"
    ...          for i in range(6)]
    >>> model = learn_boilerplate(pages, min_pages=3, max_line_chars=40)
    >>> doc = CleanDocument(id="", url="u", canonical_url=None, source="s", title=None,
    ...                     text=pages[0], fetched_at="")
    >>> apply_boilerplate(doc, model, CleaningConfig(min_text_chars=10)).text
    'Story 0 says something long enough to be a paragraph of article prose here.'
    """
    kept: list[str] = []
    removed: list[Removal] = []
    for line in doc.text.split("\n"):
        stripped = line.strip()
        if stripped and len(stripped) <= model.max_line_chars and model.is_boilerplate(line_key(stripped)):
            removed.append(Removal(stripped, RULE))
        else:
            kept.append(line)
    if not removed:
        return doc
    text = normalize_text("\n".join(kept))
    lineage = {**doc.lineage, "boilerplate_model": model.hash}
    if not text:
        return Rejected(
            doc.url,
            doc.source,
            RejectReason.EMPTY_EXTRACTION,
            "only learned boilerplate",
            doc.fetched_at,
            lineage,
        )
    if len(text) < config.min_text_chars:
        detail = f"{len(text)} chars < {config.min_text_chars} after learned boilerplate"
        return Rejected(doc.url, doc.source, RejectReason.TOO_SHORT, detail, doc.fetched_at, lineage)
    return dataclasses.replace(
        doc, id=content_sha256(text), text=text, lineage=lineage, removals=[*doc.removals, *removed]
    )
