"""Scheduled runs: one Prefect deployment of the ``run`` flow per source group, with the group's
cron schedule. ``cleanwire serve`` registers and serves them from this process; the same
deployments can run on a work pool with workers elsewhere (infra/prefect.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.runs import run_flow
from spiders.sources import SourcesError, load_sources


def deployment_name(group: str) -> str:
    return f"cleanwire-{group}"


def group_plan(sources_file: str) -> dict[str, dict[str, Any]]:
    """group → {"schedule": cron, "sources": [names]}; all sources of a group share one schedule."""
    sources = load_sources(sources_file)
    plan: dict[str, dict[str, Any]] = {}
    for group, members in sources.groups().items():
        schedules = sorted({s.schedule for s in members if s.schedule})
        if len(schedules) > 1:
            lines = ", ".join(f"{s.name} (line {s.line}): {s.schedule!r}" for s in members if s.schedule)
            raise SourcesError(f"{sources_file}: group {group!r} has different schedules ({lines}); "
                               "give each schedule its own group")
        if schedules:
            plan[group] = {"schedule": schedules[0], "sources": [s.name for s in members]}
    if not plan:
        raise SourcesError(f"{sources_file}: no source has a 'schedule'; nothing to serve")
    return plan


def build_deployments(sources_file: str, store: str, workers: int | None = None) -> list[Any]:
    sources_path = str(Path(sources_file).resolve())
    store_url = store if store.startswith("s3://") else str(Path(store).resolve())
    deployments = []
    for group, spec in group_plan(sources_path).items():
        deployments.append(
            run_flow.to_deployment(
                name=deployment_name(group),
                cron=spec["schedule"],
                parameters={"sources_file": sources_path, "store": store_url, "sources": spec["sources"],
                            "workers": workers},
                tags=["cleanwire", f"group:{group}"],
                description=f"cleanwire scheduled run of {', '.join(spec['sources'])}",
            )
        )
    return deployments


def serve(sources_file: str, store: str, workers: int | None = None) -> None:
    from prefect import serve as prefect_serve

    prefect_serve(*build_deployments(sources_file, store, workers))
