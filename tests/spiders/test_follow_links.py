"""Link following from start URLs (``start_urls`` + ``follow_depth``): a real crawl (``python -m spiders.run``)
of a small site served over loopback, counting what the server was asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import LoopbackSite

ROOT = Path(__file__).parents[2]

# path -> the paths it links to (relative links, one absolute link to another host, a PDF)
LINKS = {
    "/start": ["/a", "b", "/start", "http://localhost:{port}/elsewhere", "/file.pdf"],
    "/a": ["/c", "/start", "/b"],
    "/b": [],
    "/c": ["/d"],
    "/d": ["/a"],
}


class _LinkSite(LoopbackSite):
    def respond(self, path: str) -> tuple[bytes | None, str]:
        if path == "/file.pdf":
            return b"%PDF-1.7 not html", "application/pdf"
        if path not in LINKS:
            return None, ""
        links = "".join(f'<li><a href="{h.format(port=self.port)}">link to {h}</a></li>' for h in LINKS[path])
        paragraph = f"<p>Article {path} says what the minister said on Monday about the talks in Geneva.</p>"
        html = f"<html><head><title>Page {path}</title></head><body><article>{paragraph * 6}</article>"
        return f"{html}<ul>{links}</ul></body></html>".encode(), "text/html; charset=utf-8"


@pytest.fixture
def site() -> Iterator[_LinkSite]:
    with _LinkSite() as s:
        yield s


def _crawl(site: _LinkSite, tmp_path: Path, depth: int) -> dict[str, object]:
    base = site.base
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        json.dumps(
            {
                "sources": [
                    {
                        "name": "links",
                        "start_urls": [f"{base}/start"],
                        "follow_depth": depth,
                        "allow_private_network": True,
                        "download_delay": 0,
                    }
                ]
            }
        )
    )
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "spiders.run", "--sources", str(sources), "--store", str(tmp_path / "store"),
         "--run-id", f"follow-{depth}", "--report", str(report), "--set", "AUTOTHROTTLE_ENABLED=false"],
        cwd=ROOT, check=True, timeout=120,
    )  # fmt: skip
    result: dict[str, object] = json.loads(report.read_text())["sources"]["links"]
    return result


@pytest.mark.parametrize(
    ("depth", "fetched"),
    [
        (1, {"/start", "/a", "/b", "/file.pdf"}),
        (2, {"/start", "/a", "/b", "/file.pdf", "/c"}),
        (4, {"/start", "/a", "/b", "/file.pdf", "/c", "/d"}),
    ],
)
def test_links_are_followed_as_deep_as_follow_depth_says(
    site: _LinkSite, tmp_path: Path, depth: int, fetched: set[str]
) -> None:
    report = _crawl(site, tmp_path, depth)
    asked = Counter(path for path in site.paths_requested() if path != "/robots.txt")
    assert set(asked) == fetched
    assert all(n == 1 for n in asked.values()), asked  # each page once, however many pages link to it
    assert "/elsewhere" not in asked  # another host is not followed
    counts = report["counts"]
    assert isinstance(counts, dict)
    assert counts.get("fetched") == len(fetched) - 1  # every fetched page but the start page is an article
