"""A local HTTP server for the offline sample news site.

``SampleSite`` serves the static tree in ``site/`` from 127.0.0.1 on a port chosen at run time. Text files
(.html, .xml, .txt, .json, .atom, .svg) carry the literal token ``{{BASE_URL}}`` wherever an absolute URL
is needed; it is replaced with the server's base URL (``http://127.0.0.1:PORT``, no trailing slash) when a
file is served. A request for ``/x.xml.gz`` that has no file of that name is answered with the gzip of the
substituted ``/x.xml`` (the tree stores only the plain file).

URL paths map to files like a typical static server: ``/a/b/`` -> ``a/b/index.html``; ``/a/b`` (no
extension) -> ``a/b.html`` when that file exists; a directory requested without its trailing slash is
redirected (301). Files and directories whose name starts with ``_`` or ``.`` are never served.

``site/_headers.json`` maps URL paths (without query string) to extra response headers and/or a status:
``{"/path": {"status": 301, "headers": {"Location": "{{BASE_URL}}/other"}}}``; a flat mapping of header
names to values is accepted too. Header values get the same ``{{BASE_URL}}`` substitution.

Every response carries a strong ``ETag`` (hash of the served bytes) and ``Last-Modified`` (file mtime, or
the time of a run-time override), and conditional GETs (``If-None-Match``, then ``If-Modified-Since``)
are answered with 304. ``HEAD`` is supported. Nothing is logged to stderr.

Usage::

    with SampleSite(port=0) as site:
        urllib.request.urlopen(site.url("/robots.txt"))
        site.set_override("/technode/feed.xml", body="<rss/>", headers={"ETag": '"old"'})
        assert ("GET", "/robots.txt", 200) in site.requests

Command line: ``python -m flows.sample_site.server [--port N]`` serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

PACKAGE_DIR = Path(__file__).resolve().parent
SITE_DIR = PACKAGE_DIR / "site"
SOURCES_TEMPLATE = PACKAGE_DIR / "sources.yaml"
BASE_URL_TOKEN = "{{BASE_URL}}"

# Files whose bytes get the {{BASE_URL}} substitution.
TEXT_SUFFIXES = frozenset({".html", ".htm", ".xml", ".txt", ".json", ".atom", ".rss", ".svg"})
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".gz": "application/gzip",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}
DEFAULT_CONTENT_TYPE = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Response:
    """What the server sends for one request (``body`` is empty for HEAD and 304)."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(slots=True)
class _Override:
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    modified: float = 0.0


@dataclass(frozen=True, slots=True)
class _Resolved:
    kind: str  # "file", "gzip" (gzip of ``path``), "slash" (directory without trailing slash)
    path: Path | None = None


def _merge(headers: dict[str, str], extra: Mapping[str, str]) -> None:
    """Set ``extra`` into ``headers``, replacing existing names case-insensitively."""
    for name, value in extra.items():
        for existing in [k for k in headers if k.lower() == name.lower()]:
            del headers[existing]
        headers[name] = value


def _get(headers: Mapping[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def _error_body(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return (
        f"<!DOCTYPE html>\n<html><head><title>{status} {phrase}</title></head>"
        f"<body><h1>{status} {phrase}</h1></body></html>\n"
    ).encode()


class SampleSite:
    """The sample news site on a local port, in a daemon thread; use as a context manager."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", root: Path | str | None = None) -> None:
        self.host = host
        self.port = port
        self.root = Path(root).resolve() if root is not None else SITE_DIR
        self._lock = threading.Lock()
        self._requests: list[tuple[str, str, int]] = []
        self._request_log: list[dict[str, Any]] = []
        self._overrides: dict[str, _Override] = {}
        self._static = self._load_static_headers()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url = ""

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SampleSite:
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _Handler)
        server.site = self
        self._server = server
        self.port = server.server_address[1]
        self._base_url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, name="sample-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SampleSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if not self._base_url:
            raise RuntimeError("SampleSite is not running; use `with SampleSite() as site:` or start()")
        return self._base_url

    def url(self, path: str) -> str:
        """Absolute URL of a site path (``/scmp/tech/`` -> ``http://127.0.0.1:PORT/scmp/tech/``)."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # ------------------------------------------------------------------ request log
    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """A snapshot of ``(method, path, status)`` for every request so far; path includes the query."""
        with self._lock:
            return list(self._requests)

    @property
    def request_log(self) -> list[dict[str, Any]]:
        """Like ``requests`` with the request headers: dicts with method, path, status, headers."""
        with self._lock:
            return [dict(r) for r in self._request_log]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()
            self._request_log.clear()

    def _record(self, method: str, path: str, status: int, headers: Mapping[str, str]) -> None:
        with self._lock:
            self._requests.append((method, path, status))
            self._request_log.append(
                {"method": method, "path": path, "status": status, "headers": dict(headers)}
            )

    # ------------------------------------------------------------------ overrides
    def set_override(
        self,
        path: str,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        """Change what ``path`` serves from now on.

        ``body``: new content (``str`` gets the ``{{BASE_URL}}`` substitution and is sent as UTF-8, ``bytes``
        are sent as they are); ``None`` keeps the file's content. ``headers`` replace computed or configured
        headers of the same name, e.g. ``{"ETag": '"old"'}`` to change content behind an unchanged ETag.
        ``status`` replaces the status (non-2xx statuses without a body get a small error page, 3xx an
        empty body). The path may be one that has no file.
        """
        data = body.replace(BASE_URL_TOKEN, self._base_url).encode("utf-8") if isinstance(body, str) else body
        ov = _Override(body=data, headers=dict(headers or {}), status=status, modified=time.time())
        with self._lock:
            self._overrides[path] = ov

    def clear_override(self, path: str | None = None) -> None:
        """Remove the override of ``path``, or all overrides."""
        with self._lock:
            if path is None:
                self._overrides.clear()
            else:
                self._overrides.pop(path, None)

    # ------------------------------------------------------------------ serving
    def _load_static_headers(self) -> dict[str, tuple[int | None, dict[str, str]]]:
        cfg_path = self.root / "_headers.json"
        if not cfg_path.is_file():
            return {}
        raw = json.loads(cfg_path.read_text(encoding="utf-8"))
        out: dict[str, tuple[int | None, dict[str, str]]] = {}
        for path, spec in raw.items():
            if "headers" in spec or "status" in spec:
                out[path] = (spec.get("status"), dict(spec.get("headers", {})))
            else:
                out[path] = (None, dict(spec))
        return out

    def _resolve(self, path: str) -> _Resolved | None:
        parts = [p for p in path.split("/") if p]
        if any(p.startswith((".", "_")) or p == ".." for p in parts):
            return None
        target = self.root.joinpath(*parts) if parts else self.root
        try:
            target = target.resolve()
        except OSError:
            return None
        if not target.is_relative_to(self.root):
            return None
        if path.endswith("/"):
            index = target / "index.html"
            return _Resolved("file", index) if index.is_file() else None
        if target.is_file():
            return _Resolved("file", target)
        if target.is_dir():
            return _Resolved("slash") if (target / "index.html").is_file() else None
        if target.suffix == ".gz":
            plain = target.with_suffix("")
            if plain.is_file():
                return _Resolved("gzip", plain)
        if not target.suffix:
            html = target.with_name(target.name + ".html")
            if html.is_file():
                return _Resolved("file", html)
        return None

    def _substitute(self, data: bytes) -> bytes:
        return data.replace(BASE_URL_TOKEN.encode("ascii"), self._base_url.encode("ascii"))

    def render(self, method: str, target: str, request_headers: Mapping[str, str] | None = None) -> Response:
        """The response to ``method target`` (``target`` as in the request line: path and query)."""
        request_headers = request_headers or {}
        split = urlsplit(target)
        path = unquote(split.path) or "/"
        with self._lock:
            ov = self._overrides.get(path)
        static_status, static_headers = self._static.get(path, (None, {}))

        body: bytes | None = None
        content_type = DEFAULT_CONTENT_TYPE
        modified: float | None = None
        headers: dict[str, str] = {}
        resolved = self._resolve(path) if path.startswith("/") else None
        if resolved is not None and resolved.kind == "slash":
            query = f"?{split.query}" if split.query else ""
            static_status = static_status or 301
            static_headers = {"Location": f"{self._base_url}{path}/{query}", **static_headers}
        elif resolved is not None and resolved.path is not None:
            data = resolved.path.read_bytes()
            if resolved.path.suffix in TEXT_SUFFIXES:
                data = self._substitute(data)
            if resolved.kind == "gzip":
                body, content_type = gzip.compress(data, mtime=0), CONTENT_TYPES[".gz"]
            else:
                body = data
                content_type = CONTENT_TYPES.get(resolved.path.suffix, "application/octet-stream")
            modified = resolved.path.stat().st_mtime

        status = static_status
        if ov is not None:
            if ov.body is not None:
                body, modified = ov.body, ov.modified
                if resolved is None or resolved.kind == "slash":
                    suffix = Path(path).suffix
                    content_type = CONTENT_TYPES.get(suffix, DEFAULT_CONTENT_TYPE)
            status = ov.status or status
        if status is None:
            status = 200 if body is not None else 404
        if ov is None or ov.body is None:
            if 300 <= status < 400:
                body = b""
            elif status >= 400:
                body, content_type = _error_body(status), DEFAULT_CONTENT_TYPE
        body = body or b""

        headers["Content-Type"] = content_type
        if 200 <= status < 300:
            headers["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            if modified is not None:
                headers["Last-Modified"] = formatdate(int(modified), usegmt=True)
        _merge(headers, {k: v.replace(BASE_URL_TOKEN, self._base_url) for k, v in static_headers.items()})
        if ov is not None:
            _merge(headers, ov.headers)

        if status == 200 and method in ("GET", "HEAD") and self._not_modified(request_headers, headers):
            keep = {
                k: v for k, v in headers.items() if k.lower() in ("etag", "last-modified", "cache-control")
            }
            return Response(304, keep, b"")
        headers["Content-Length"] = str(len(body))
        return Response(status, headers, b"" if method == "HEAD" else body)

    @staticmethod
    def _not_modified(request_headers: Mapping[str, str], headers: Mapping[str, str]) -> bool:
        inm = _get(request_headers, "If-None-Match")
        etag = _get(headers, "ETag")
        if inm is not None:
            return etag is not None and _etag_matches(inm, etag)
        ims = _get(request_headers, "If-Modified-Since")
        last_modified = _get(headers, "Last-Modified")
        if ims is None or last_modified is None:
            return False
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError):
            return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    site: SampleSite

    def handle_error(self, request: Any, client_address: Any) -> None:  # quiet: clients hang up
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SampleNews/1.0"
    timeout = 30
    server: _Server

    def _serve(self) -> None:
        site = self.server.site
        req_headers = {k: v for k, v in self.headers.items()}
        resp = site.render(self.command, self.path, req_headers)
        site._record(self.command, self.path, resp.status, req_headers)
        try:
            self.send_response(resp.status)
            for name, value in resp.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if resp.body:
                self.wfile.write(resp.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = _serve
    do_HEAD = _serve

    def _not_allowed(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = _error_body(405)
        self.server.site._record(self.command, self.path, 405, {k: v for k, v in self.headers.items()})
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = _not_allowed
    do_PUT = _not_allowed
    do_DELETE = _not_allowed

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


def sources_yaml(base_url: str) -> str:
    """The sample's sources YAML (``sources.yaml``) with ``{{BASE_URL}}`` replaced by ``base_url``."""
    return SOURCES_TEMPLATE.read_text(encoding="utf-8").replace(BASE_URL_TOKEN, base_url.rstrip("/"))


def _print_summary(site: SampleSite, lines: Iterable[str]) -> None:
    print(site.base_url, flush=True)
    for line in lines:
        print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the offline sample news site until Ctrl-C.")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--sources-out", metavar="PATH", help="also write the sources YAML for this base URL")
    args = parser.parse_args(argv)
    with SampleSite(port=args.port, host=args.host) as site:
        extra = [
            f"  robots:        {site.url('/robots.txt')}",
            f"  sitemap index: {site.url('/sitemap_index.xml')}",
        ]
        if args.sources_out:
            Path(args.sources_out).write_text(sources_yaml(site.base_url), encoding="utf-8")
            extra.append(f"  sources YAML:  {args.sources_out}")
        _print_summary(site, extra)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
