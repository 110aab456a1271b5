"""The offline sample news site: six outlets on one local host, with ground truth for tests.

>>> from flows.sample_site import SampleSite, sources_yaml, load_expected
>>> with SampleSite(port=0) as site:  # doctest: +SKIP
...     yaml_text = sources_yaml(site.base_url)

See README.md in this directory for the site map and the traps it contains. The server module is
imported lazily so that ``python -m flows.sample_site.server`` runs it only once.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flows.sample_site.server import BASE_URL_TOKEN, SITE_DIR, SampleSite, sources_yaml

EXPECTED_PATH = Path(__file__).resolve().parent / "expected.json"

__all__ = [
    "BASE_URL_TOKEN",
    "EXPECTED_PATH",
    "SITE_DIR",
    "SampleSite",
    "load_expected",
    "load_manifest",
    "sources_yaml",
]

_FROM_SERVER = frozenset({"BASE_URL_TOKEN", "SITE_DIR", "SampleSite", "sources_yaml"})


def __getattr__(name: str) -> Any:
    if name in _FROM_SERVER:
        from flows.sample_site import server

        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _manifest_text() -> str:
    return EXPECTED_PATH.read_text(encoding="utf-8")


def load_manifest() -> dict[str, Any]:
    """All of expected.json: ``pages`` plus ``not_found``, ``redirects``, ``feeds``, ``sitemaps`` and more."""
    return json.loads(_manifest_text())


def load_expected() -> dict[str, dict[str, Any]]:
    """Ground truth per page: URL path -> record (kind, source, title, published, must_contain, ...)."""
    pages: dict[str, dict[str, Any]] = load_manifest()["pages"]
    return pages
