"""Project rules that a test can enforce."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"scrapy", "boto3", "botocore", "prefect", "twisted", "moto"}


def test_cleaning_is_pure() -> None:
    offenders = []
    for path in sorted((ROOT / "cleaning").rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert not offenders, "cleaning/ must not import scrapy, boto3, prefect:\n" + "\n".join(offenders)


def test_top_level_layout() -> None:
    for name in ("spiders", "pipelines", "cleaning", "flows", "tests", "infra", "pyproject.toml", "README.md",
                 "Makefile", ".ci/run", "scrapy.cfg", "uv.lock"):
        assert (ROOT / name).exists(), name
