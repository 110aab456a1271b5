"""Document language: what the page declares, or what py3langid reads in the text.

py3langid ships its model inside the package (no download at run time); the model is loaded once per
process, on first use (about 1 s).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

logger = logging.getLogger(__name__)

_TAG = re.compile(r"^([a-z]{2,3})(?:[-_][a-z0-9]{2,8})*$")


@dataclass(frozen=True, slots=True)
class LanguageSettings:
    # Text shorter than this is not classified (short texts give unreliable guesses).
    min_chars: int = 40
    # Only this much of the text is read: a few paragraphs decide the language; longer costs time.
    max_chars: int = 3000
    # A guess below this normalised probability is dropped rather than stored.
    min_confidence: float = 0.5


DEFAULT_LANGUAGE_SETTINGS = LanguageSettings()


def normalize_language_tag(value: str | None) -> str | None:
    """The primary subtag of a declared language, lower-cased; None for empty or non-language values.

    >>> normalize_language_tag("en-US"), normalize_language_tag("pt_BR"), normalize_language_tag(" DE ")
    ('en', 'pt', 'de')
    >>> normalize_language_tag("x-default") is None, normalize_language_tag("") is None
    (True, True)
    """
    if not value:
        return None
    tag = value.strip().lower().split(",")[0].strip()
    m = _TAG.match(tag)
    return m.group(1) if m else None


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(
    text: str, settings: LanguageSettings = DEFAULT_LANGUAGE_SETTINGS
) -> tuple[str, float] | None:
    """ISO 639-1 code and probability of the text's language, or None if too short or too unsure.

    >>> detect_language("Die Regierung hat am Montag neue Regeln für den Handel mit China vorgestellt.")[0]
    'de'
    >>> detect_language("Hi") is None
    True
    """
    sample = text[: settings.max_chars]
    if len(sample.strip()) < settings.min_chars:
        return None
    lang, prob = _identifier().classify(sample)
    if prob < settings.min_confidence:
        logger.debug("language guess %s below confidence (%.2f)", lang, prob)
        return None
    return str(lang), float(prob)
