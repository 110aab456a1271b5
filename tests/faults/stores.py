"""Stores that die like a killed process: at a chosen write, between the temp file and its publication."""

from __future__ import annotations

from pathlib import Path

from pipelines.store import LocalStore


class SimulatedKill(BaseException):
    """Not an ``Exception``: no handler in the code under test may catch it, as none can catch SIGKILL."""


class KillableStore(LocalStore):
    """A LocalStore whose ``kill_at``-th publication (1-based) never happens: the process "dies" with
    the complete temp file on disk and the object unpublished, the worst moment for atomicity. Steps are
    counted across put, put_if_absent and upload_file; ``kill_at=None`` counts without dying."""

    def __init__(self, root: str | Path, kill_at: int | None = None):
        super().__init__(root)
        self.kill_at = kill_at
        self.steps = 0

    def _step(self) -> None:
        self.steps += 1
        if self.steps == self.kill_at:
            raise SimulatedKill(f"killed at publication {self.steps}")

    def _publish_once(self, tmp: Path, target: Path) -> bool:
        if target.exists():  # nothing would be published: not a write step
            return super()._publish_once(tmp, target)
        self._step()
        return super()._publish_once(tmp, target)

    def _publish_replace(self, tmp: Path, target: Path) -> None:
        self._step()
        super()._publish_replace(tmp, target)


def temp_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".tmp-*") if p.is_file())
