"""`cleanwire serve` against a real `prefect server`: one deployment per source group with its cron
schedule, and a triggered run of a deployment that completes and stores documents."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from flows.schedule import group_plan
from tests.servers import BIN, base_env

pytestmark = pytest.mark.e2e


def _wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_registers_scheduled_deployments_and_runs_one(prefect_in_process: str, sample_sources: Path,
                                                            tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    store = tmp_path / "store"
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        [str(BIN / "cleanwire"), "serve", "--sources", str(sample_sources), "--store", str(store)],
        env=base_env(PREFECT_API_URL=prefect_in_process), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    plan = group_plan(str(sample_sources))
    try:
        with get_client(sync_client=True) as client:
            def deployments() -> dict[str, Any]:
                found = {d.name: d for d in client.read_deployments() if d.name.startswith("cleanwire-")}
                return found if len(found) >= len(plan) else {}

            found = _wait_for(deployments, 90, "deployments to be registered")
            assert set(found) == {f"cleanwire-{g}" for g in plan}
            for group, spec in plan.items():
                dep = found[f"cleanwire-{group}"]
                crons = [s.schedule.cron for s in dep.schedules]  # type: ignore[union-attr]
                assert crons == [spec["schedule"]]
                assert dep.parameters["sources"] == spec["sources"]
                assert dep.parameters["store"] == str(store.resolve())

        run = run_deployment("run/cleanwire-shine", timeout=240)
        assert run.state is not None and run.state.is_completed(), (run.state, (tmp_path / "serve.log").read_text()[-3000:])
        stored = list((store / "clean/v1/docs").glob("*/*.json"))
        assert stored, "the triggered run stored no documents"
        assert all(p.is_file() for p in stored)
        assert any((store / "raw/source=shine").iterdir())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
