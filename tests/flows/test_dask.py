"""The clean stage on a local Dask cluster (Prefect's Dask task runner) gives the same documents as
the local default: same code, distributed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flows.runs import clean_flow, dask_task_runner, run_crawl_process

pytestmark = pytest.mark.e2e


def _ids(store: Path) -> set[str]:
    return {p.stem for p in (store / "clean/v1/docs").glob("*/*.json")}


def test_dask_clean_matches_local_clean(prefect_in_process: str, sample_sources: Path, tmp_path: Path) -> None:
    local = tmp_path / "local"
    run_crawl_process(str(sample_sources), str(local), "crawl1", ["technode", "republicworld"],
                      settings={"CLEANWIRE_WARC_MAX_RECORDS": 2})
    distributed = tmp_path / "distributed"
    shutil.copytree(local, distributed)
    clean_flow(store=str(local))
    on_dask = clean_flow.with_options(task_runner=dask_task_runner(local_workers=2))
    report = on_dask(store=str(distributed), distributed=True)
    assert len(report["clean"]["partitions"]) >= 3  # several raw objects, one task each
    assert _ids(distributed) == _ids(local) and _ids(local)
