"""Pure cleaning functions: bytes and strings in, values out. No Scrapy, boto3 or Prefect here.

The package's names are imported lazily: ``import cleaning.urls`` (in every crawl process) does not pay
for trafilatura and the mojibake model.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "clean_page": "cleaning.clean",
    "CLEANING_VERSION": "cleaning.config",
    "DEFAULT_CONFIG": "cleaning.config",
    "CleaningConfig": "cleaning.config",
    "content_sha256": "cleaning.normalize",
    "normalize_text": "cleaning.normalize",
    "SCHEMA_VERSION": "cleaning.records",
    "CleanDocument": "cleaning.records",
    "RawPage": "cleaning.records",
    "Rejected": "cleaning.records",
    "RejectReason": "cleaning.records",
    "repair_text": "cleaning.repair",
    "repair_text_explained": "cleaning.repair",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'cleaning' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
