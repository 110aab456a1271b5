"""Shared fixtures: the sample news site and a real Prefect server, both on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pipelines.s3server import moto_server_endpoint, s3_env, s3_store_url
from tests.servers import base_env, prefect_server

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

__all__ = ["moto_server_endpoint", "s3_env", "s3_store_url"]


@pytest.fixture(scope="session")
def sample_site() -> Iterator[object]:
    from flows.sample_site import SampleSite

    with SampleSite() as site:
        yield site


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``prefect server`` for the session; CLI subprocesses talk to it via PREFECT_API_URL."""
    with prefect_server(tmp_path_factory.mktemp("prefect-home")) as url:
        yield url


@pytest.fixture
def cli_env(prefect_api: str, tmp_path: Path) -> dict[str, str]:
    return base_env(PREFECT_API_URL=prefect_api, PREFECT_HOME=str(tmp_path / "prefect-client"))


@pytest.fixture
def sample_sources(sample_site: object, tmp_path: Path) -> Path:
    from flows.sample_site import sources_yaml

    path = tmp_path / "sources.yaml"
    path.write_text(sources_yaml(sample_site.base_url))  # type: ignore[attr-defined]
    return path


@pytest.fixture
def prefect_in_process(prefect_api: str) -> Iterator[str]:
    """Run flows in this process against the session's real Prefect server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        yield prefect_api
