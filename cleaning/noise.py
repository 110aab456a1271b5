"""Noise-line removal after extraction: ad labels, navigation, promos, footers.

Rules are data (``noise_rules.yaml``, versioned); each removed line is recorded with its rule id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from cleaning.records import Removal


@dataclass(frozen=True, slots=True)
class NoiseRule:
    id: str
    pattern: re.Pattern[str]
    max_chars: int  # only lines up to this length are candidates (long lines are article text)


@dataclass(frozen=True, slots=True)
class NoiseRules:
    version: str
    rules: tuple[NoiseRule, ...]


@lru_cache(maxsize=1)
def default_rules() -> NoiseRules:
    raw = yaml.safe_load(resources.files("cleaning").joinpath("noise_rules.yaml").read_text("utf-8"))
    rules = tuple(
        NoiseRule(r["id"], re.compile(r["pattern"], re.IGNORECASE), int(r.get("max_chars", 200)))
        for r in raw["rules"]
    )
    return NoiseRules(str(raw["version"]), rules)


def strip_noise_lines(text: str, rules: NoiseRules | None = None) -> tuple[str, list[Removal]]:
    """Drop lines matched by a noise rule; return the kept text and what was removed.

    >>> strip_noise_lines("Advertisement\\nThe minister said on Monday that talks would resume.")[0]
    'The minister said on Monday that talks would resume.'
    """
    rules = rules or default_rules()
    kept: list[str] = []
    removed: list[Removal] = []
    for line in text.split("\n"):
        stripped = line.strip()
        rule = _match(stripped, rules) if stripped else None
        if rule is None:
            kept.append(line)
        else:
            removed.append(Removal(stripped, rule))
    return "\n".join(kept), removed


def _match(line: str, rules: NoiseRules) -> str | None:
    for rule in rules.rules:
        if len(line) <= rule.max_chars and rule.pattern.search(line):
            return rule.id
    return None
