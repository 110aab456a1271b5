"""Link following from start URLs (``start_urls`` + ``follow_depth``): a real crawl (``python -m spiders.run``)
of a small site served over loopback, counting what the server was asked for."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

# path -> the paths it links to (relative links, one absolute link to another host, a PDF)
LINKS = {
    "/start": ["/a", "b", "/start", "http://localhost:{port}/elsewhere", "/file.pdf"],
    "/a": ["/c", "/start", "/b"],
    "/b": [],
    "/c": ["/d"],
    "/d": ["/a"],
}


def _page(path: str, port: int) -> bytes:
    links = "".join(f'<li><a href="{href.format(port=port)}">link to {href}</a></li>' for href in LINKS[path])
    paragraph = f"<p>Article {path} says what the minister said on Monday about the talks in Geneva.</p>" * 6
    return f"<html><head><title>Page {path}</title></head><body><article>{paragraph}</article><ul>{links}</ul></body></html>".encode()


class _Site(ThreadingHTTPServer):
    requests: Counter[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Site

    def do_GET(self) -> None:
        self.server.requests[self.path] += 1
        if self.path == "/file.pdf":
            body, ctype = b"%PDF-1.7 not html", "application/pdf"
        elif self.path in LINKS:
            body, ctype = _page(self.path, self.server.server_address[1]), "text/html; charset=utf-8"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[_Site]:
    server = _Site(("127.0.0.1", 0), _Handler)
    server.requests = Counter()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _crawl(site: _Site, tmp_path: Path, depth: int) -> dict[str, object]:
    base = f"http://127.0.0.1:{site.server_address[1]}"
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
    site: _Site, tmp_path: Path, depth: int, fetched: set[str]
) -> None:
    report = _crawl(site, tmp_path, depth)
    asked = {path: n for path, n in site.requests.items() if path != "/robots.txt"}
    assert set(asked) == fetched
    assert all(n == 1 for n in asked.values()), asked  # each page once, however many pages link to it
    assert "/elsewhere" not in site.requests  # another host is not followed
    counts = report["counts"]
    assert isinstance(counts, dict)
    assert counts.get("fetched") == len(fetched) - 1  # every fetched page but the start page is an article
