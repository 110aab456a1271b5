"""Text repair: mojibake that ftfy fixes, with explicit options. (CJK repair: see repair_cjk.)"""

from __future__ import annotations

from dataclasses import dataclass, field

import ftfy

from cleaning.records import Repair

# ftfy options chosen explicitly: its defaults straighten curly quotes and fold full-width CJK
# punctuation, both wrong for news text.
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html="auto",
    remove_terminal_escapes=True,
    fix_encoding=True,
    restore_byte_a0=True,
    replace_lossy_sequences=True,
    decode_inconsistent_utf8=True,
    fix_c1_controls=True,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    fix_surrogates=True,
    remove_control_chars=False,
    normalization=None,
    explain=False,
)


@dataclass(frozen=True, slots=True)
class RepairResult:
    text: str
    repairs: list[Repair] = field(default_factory=list)


def repair_text_explained(text: str) -> RepairResult:
    fixed = ftfy.fix_text(text, FTFY_CONFIG)
    if fixed == text:
        return RepairResult(text)
    return RepairResult(fixed, [Repair(0, len(text), text, fixed, kind="ftfy")])


def repair_text(text: str) -> str:
    """Repair mojibake; correct text comes back unchanged."""
    return repair_text_explained(text).text
