from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def prefect_in_process(prefect_api: str) -> Iterator[str]:
    """Run flows in this process against the session's real Prefect server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        yield prefect_api
