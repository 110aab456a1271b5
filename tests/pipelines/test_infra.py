"""The deployment files: Terraform formatted canonically, the Compose stack well-formed and loopback-only."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

INFRA = Path(__file__).resolve().parents[2] / "infra"


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform not installed")
def test_terraform_is_canonically_formatted() -> None:
    result = subprocess.run(
        ["terraform", "fmt", "-check", "-diff", "-recursive", str(INFRA / "terraform")],
        capture_output=True,
        text=True,
        env={**os.environ, "CHECKPOINT_DISABLE": "1"},
        timeout=60,
    )
    assert result.returncode == 0, result.stdout


def test_compose_stack() -> None:
    compose = yaml.safe_load((INFRA / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"s3", "create-bucket", "prefect"}
    assert services["create-bucket"]["depends_on"]["s3"]["condition"] == "service_healthy"
    assert services["prefect"]["image"].startswith("prefecthq/prefect:3.8.8-")
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
        image = service["image"]
        assert ":" in image and not image.endswith(":latest"), image
