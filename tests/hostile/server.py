"""A hostile news site on loopback: every way a page, a feed or a sitemap can go wrong, at fixed paths.

``HostileSite`` listens on 127.0.0.1 (a ThreadingHTTPServer in a daemon thread, nothing logged) and
serves its pages under a *public-looking* name, ``news.example.test:PORT``, which the crawl pins to
127.0.0.1 (``CLEANWIRE_HOSTS_OVERRIDE``); links to ``127.0.0.1``, ``localhost``, ``10.0.0.1``, a loopback
alias from /etc/hosts (``LOOPBACK_NAME``) and numeric spellings of 127.0.0.1 are then links from a public
source into a private network.

Nothing large is held in memory: the 500 MB pages are streamed in 64 KiB pieces and stop when the client
hangs up; the gzip bombs are 64 MiB of blanks compressed once (~64 KB). Stalling handlers wait until the
client gives up or the server stops.

``FEED_LINKS`` and ``SITEMAP_LINKS`` are the URL templates the feed and the sitemap list (``{public}``,
``{loopback}``, ``{closed}``, ``{port}`` are filled in per server); ``FETCH_ONCE_VARIANTS`` are spellings
of one article that must be fetched once. ``requests`` is the log of every request received.
"""

from __future__ import annotations

import functools
import ipaddress
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

PUBLIC_HOST = "news.example.test"


def loopback_alias(hosts_file: Path = Path("/etc/hosts")) -> str:
    """A name that /etc/hosts maps to a loopback address and that does not say so ("vm", the machine's
    own host name): only resolving it reveals where it points. "localhost" when there is none."""
    try:
        lines = hosts_file.read_text("utf-8", "replace").splitlines()
    except OSError:
        return "localhost"
    for line in lines:
        fields = line.split("#", 1)[0].split()
        try:
            loopback = len(fields) > 1 and ipaddress.ip_address(fields[0]).is_loopback
        except ValueError:
            continue
        names = [n for n in fields[1:] if "localhost" not in n and not n.startswith("ip6-")] if loopback else []
        if names:
            return names[0]
    return "localhost"


LOOPBACK_NAME = loopback_alias()
MB = 1024 * 1024
HUGE_BYTES = 500 * MB
BIG_BYTES = 5 * MB
STALL_SECONDS = 30.0

ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
# More public-looking names of this server, whose robots.txt stalls, fails, or does not exist.
STALLED_ROBOTS_HOST = "stalled-robots.example.test"
BROKEN_ROBOTS_HOST = "broken-robots.example.test"
NO_ROBOTS_HOST = "no-robots.example.test"
PINNED_HOSTS = (PUBLIC_HOST, STALLED_ROBOTS_HOST, BROKEN_ROBOTS_HOST, NO_ROBOTS_HOST)

# Article traps listed by the feed.
FEED_LINKS = [
    "{public}/articles/good",
    "{public}/articles/malformed",
    "{public}/articles/deeply-nested",
    "{public}/articles/empty",
    "{public}/articles/zero-bytes",
    "{public}/articles/soft-404",
    "{public}/articles/pdf-as-html",
    "{public}/articles/binary-as-html",
    "{public}/articles/gone",
    "{public}/articles/forbidden",
    "{public}/articles/server-error",
    "{public}/articles/big-5mb",
    "{public}/articles/huge-500mb-streamed",
    "{public}/articles/huge-500mb-declared",
    "{public}/articles/gzip-bomb",
    "{public}/articles/truncated",
    "{public}/articles/truncated-chunked",
    "{public}/articles/stall-before-headers",
    "{public}/articles/stall-mid-body",
    "{public}/private/from-feed",
    # robots.txt that cannot be had (RFC 9309: complete disallow) and one that does not exist (allow all).
    "http://" + STALLED_ROBOTS_HOST + ":{port}/articles/good",
    "http://" + BROKEN_ROBOTS_HOST + ":{port}/articles/good",
    "http://" + NO_ROBOTS_HOST + ":{port}/articles/no-robots",
    # SSRF: a public source linking into a private network, by literal and by name.
    "{loopback}/articles/good",
    "{closed}/articles/closed-port",
    "http://localhost/articles/good",
    "http://10.0.0.1/articles/internal",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/articles/good",
    "http://0.0.0.0:{port}/articles/good",
    "http://" + LOOPBACK_NAME + ":{port}/articles/good",
    "http://2130706433:{port}/articles/good",
    "http://127.1:{port}/articles/good",
    # Not fetchable at all.
    "ftp://" + PUBLIC_HOST + "/pub/file.txt",
    "http://" + PUBLIC_HOST + ":{port}:99/articles/bad-port",
    "http://[::1/articles/broken-ipv6",
]

# Redirect traps, soft failures and robots-disallowed pages, listed by the sitemap.
SITEMAP_LINKS = [
    "{public}/articles/redirect-chain",
    "{public}/articles/redirect-loop-a",
    "{public}/articles/redirect-endless/0",
    "{public}/articles/redirect-to-loopback",
    "{public}/articles/redirect-to-loopback-name",
    "{public}/articles/redirect-to-file",
    "{public}/articles/redirect-without-location",
    "{public}/articles/meta-refresh-to-loopback",
    "{public}/private/secret-1",
    "{public}/private/secret-2",
    "file:///etc/passwd",
]

FETCH_ONCE_PATH = "/news/fetch-once"
FETCH_ONCE_VARIANTS = [
    "{public}/news/fetch-once/",
    "{public}/news/fetch-once?utm_source=rss&utm_medium=feed",
    "{public}/news/fetch-once/amp/",
    "{public}/news/fetch-once/?fbclid=IwAR0abc#comments",
    "{public}/news/fetch-once?amp=1",
    "HTTP://" + PUBLIC_HOST.upper() + ":{port}/news/fetch-once",
    "{public}/news/fetch-once/amp",
]

# Seed documents of the public source: the feed and sitemap above, and discovery documents that are
# not what they claim to be.
FEEDS = [
    "{public}/feed.xml",
    "{public}/feed-entity-bomb.xml",
    "{public}/feed-entity-bomb-padded.xml",
    "{public}/feed-is-html.xml",
    "{public}/feed-gzip-bomb.xml",
]
SITEMAPS = [
    "{public}/sitemap.xml",
    "{public}/sitemap-gzip-bomb.xml.gz",
    "{public}/sitemap-is-html.xml",
    "{public}/sitemap-missing.xml",
    "{public}/sitemap-index.xml",
]
# Children of sitemap-index.xml (the index also lists itself).
SITEMAP_INDEX_CHILDREN = [
    "{public}/sitemap-child.xml",
    "{public}/sitemap-index.xml",
    "{loopback}/sitemap-private.xml",
    "{public}/private/sitemap.xml",
    "{public}/sitemap-endless/1.xml",
]
SITEMAP_CHILD_LINKS = ["{public}/articles/from-child-sitemap"]

# The source that allows its private network: the same kinds of links are fetched.
LAN_FEED = "{public}/feed-lan.xml"
LAN_LINKS = [
    "{loopback}/lan/one",
    "http://" + LOOPBACK_NAME + ":{port}/lan/two",
    "http://localhost:{port}/lan/three",
    "{public}/lan/redirect-to-loopback",
]

_WORDS = (
    "The regional transport authority said on Tuesday that the new line would open in stages, with the "
    "first section serving commuters from the northern suburbs by the end of next year. Officials told "
    "reporters that construction had been delayed by a shortage of materials and by disputes over land, "
    "but that the budget remained within the limits approved by the council last spring. Residents who "
    "attended a public meeting asked about noise during night works and about the fate of a market that "
    "stands on the planned route. "
)


def article_html(slug: str, title: str | None = None, extra_head: str = "") -> bytes:
    """A plausible news article whose text is unique to ``slug``."""
    title = title or f"Transit line update: {slug.replace('-', ' ')}"
    paragraphs = "".join(
        f"<p>{_WORDS} Report {slug}, part {i}: the figures for {slug} were confirmed by a spokesperson.</p>\n"
        for i in range(4)
    )
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>{extra_head}"
        f"<meta property='og:type' content='article'></head><body><header><nav><a href='/'>Home</a></nav>"
        f"</header><article><h1>{title}</h1><p class='byline'>By Staff Reporter</p>\n{paragraphs}</article>"
        f"<footer>Copyright News Example</footer></body></html>"
    ).encode()


@functools.cache
def gzip_bomb(prefix: bytes, suffix: bytes, size: int = 64 * MB) -> bytes:
    """gzip of ``prefix``, ``size`` blanks, ``suffix``: about a thousandth of ``size`` on the wire.

    Built without compressing ``size`` bytes: after a full flush the compressor starts afresh, so one
    compressed MiB of blanks is repeated as is; the gzip trailer's CRC is computed over the repeats.
    """
    block = b" " * MB
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    head = comp.compress(prefix) + comp.flush(zlib.Z_FULL_FLUSH)
    middle = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.compress(suffix) + comp.flush()
    crc = zlib.crc32(prefix)
    for _ in range(size // MB):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(suffix, crc)
    length = len(prefix) + size // MB * MB + len(suffix)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, mtime 0, max compression
    return header + head + middle * (size // MB) + tail + struct.pack("<II", crc, length & 0xFFFFFFFF)


_HTML_BOMB = (b"<html><body><p>", b"</p></body></html>")
_FEED_BOMB = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>', b"</title></channel></rss>")
_SITEMAP_BOMB = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">', b"</urlset>")


_ENTITY_BOMB_DTD = (
    '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + '<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
)


def rss(items: list[str], dtd: str = "", title: str = "News Example") -> bytes:
    entries = "".join(
        f"<item><title>Item {i}</title><link>{escape(url)}</link>"
        f"<pubDate>Tue, 16 Mar 2021 08:00:00 GMT</pubDate></item>\n"
        for i, url in enumerate(items)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n{dtd}<rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://{PUBLIC_HOST}/</link><description>d</description>\n{entries}</channel></rss>\n"
    ).encode()


def urlset(urls: list[str]) -> bytes:
    body = "".join(f"<url><loc>{escape(u)}</loc><lastmod>2021-03-16</lastmod></url>\n" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{body}</urlset>\n"
    ).encode()


def sitemap_index(urls: list[str]) -> bytes:
    body = "".join(f"<sitemap><loc>{escape(u)}</loc></sitemap>\n" for u in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
        f"{body}</sitemapindex>\n"
    ).encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    site: HostileSite

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up on purpose (size caps, timeouts) are the point here: count, do not print.
        self.site.errors += 1


class HostileSite:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.closed_port = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._requests: list[dict[str, Any]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> HostileSite:
        for bomb in (_HTML_BOMB, _FEED_BOMB, _SITEMAP_BOMB):
            gzip_bomb(*bomb)  # built before serving, so no request waits for it
        server = _Server((self.host, 0), _Handler)
        server.site = self
        self._server = server
        self.port = server.server_address[1]
        with socket.socket() as s:  # a port nothing listens on (it was free a moment ago)
            s.bind((self.host, 0))
            self.closed_port = s.getsockname()[1]
        self._thread = threading.Thread(target=server.serve_forever, name="hostile-site", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HostileSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- URLs ----------------------------------------------------------------------------------
    @property
    def public(self) -> str:
        return f"http://{PUBLIC_HOST}:{self.port}"

    @property
    def loopback(self) -> str:
        return f"http://{self.host}:{self.port}"

    def fill(self, template: str) -> str:
        return template.format(public=self.public, loopback=self.loopback, port=self.port,
                               closed=f"http://{self.host}:{self.closed_port}")

    def fill_all(self, templates: list[str]) -> list[str]:
        return [self.fill(t) for t in templates]

    # -- request log ---------------------------------------------------------------------------
    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request received: method, path (with query), host header, time."""
        with self._lock:
            return list(self._requests)

    def record(self, method: str, path: str, host: str) -> None:
        with self._lock:
            self._requests.append({"method": method, "path": path, "host": host, "at": time.time()})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def site(self) -> HostileSite:
        return self.server.site

    def do_GET(self) -> None:
        self.site.record("GET", self.path, self.headers.get("Host", ""))
        path = self.path.split("?", 1)[0].split("#", 1)[0]
        handler = _ROUTES.get(path)
        if handler is None:
            for prefix, prefixed in _PREFIX_ROUTES:
                if path.startswith(prefix):
                    handler = functools.partial(prefixed, rest=path.removeprefix(prefix))
                    break
        try:
            if handler is None:
                self.send(404, b"<html><head><title>404 Not Found</title></head><body>Not found</body></html>")
            else:
                handler(self)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    # -- helpers -------------------------------------------------------------------------------
    def send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str, status: int = 302) -> None:
        self.send(status, b"", headers={"Location": location})

    def hold(self, seconds: float = STALL_SECONDS) -> None:
        """Send nothing until the client hangs up, the server stops, or ``seconds`` pass."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.site.stopping.is_set():
            readable, _, _ = select.select([self.connection], [], [], 0.2)
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        break  # the client closed its side
                except OSError:
                    break
                time.sleep(0.05)  # a pipelined request waits in the buffer: keep holding
        self.close_connection = True

    def stream(self, total: int, chunked: bool) -> None:
        """``total`` bytes of article-like HTML, 64 KiB at a time, never all in memory."""
        piece = (b"<p>" + _WORDS.encode() + b"</p>\n") * 128
        piece = piece[: 64 * 1024]
        sent = 0
        while sent < total and not self.site.stopping.is_set():
            data = piece[: total - sent]
            if chunked:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            else:
                self.wfile.write(data)
            sent += len(data)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")


def _route_table() -> dict[str, Callable[[_Handler], None]]:
    r: dict[str, Callable[[_Handler], None]] = {}

    def route(path: str) -> Callable[[Callable[[_Handler], None]], Callable[[_Handler], None]]:
        def register(fn: Callable[[_Handler], None]) -> Callable[[_Handler], None]:
            r[path] = fn
            return fn
        return register

    @route("/robots.txt")
    def robots(h: _Handler) -> None:
        host = h.headers.get("Host", "").rsplit(":", 1)[0].lower()
        if host == STALLED_ROBOTS_HOST:
            h.hold()
        elif host == BROKEN_ROBOTS_HOST:
            h.send(503, b"<html><body>Service Unavailable</body></html>")
        elif host == NO_ROBOTS_HOST:
            h.send(404, b"<html><body>Not Found</body></html>")
        else:
            h.send(200, ROBOTS_TXT.encode(), "text/plain")

    # -- discovery documents -------------------------------------------------------------
    @route("/feed.xml")
    def feed(h: _Handler) -> None:
        links = h.site.fill_all(FEED_LINKS + FETCH_ONCE_VARIANTS[:4])
        h.send(200, rss(links), "application/rss+xml; charset=utf-8")

    @route("/sitemap.xml")
    def sitemap(h: _Handler) -> None:
        h.send(200, urlset(h.site.fill_all(SITEMAP_LINKS + FETCH_ONCE_VARIANTS[3:])), "application/xml")

    @route("/feed-entity-bomb.xml")
    def feed_entity_bomb(h: _Handler) -> None:
        h.send(200, rss(["&j;"], dtd=_ENTITY_BOMB_DTD).replace(b"&amp;j;", b"&j;"), "application/rss+xml")

    @route("/feed-entity-bomb-padded.xml")
    def feed_entity_bomb_padded(h: _Handler) -> None:
        # The declaration comes after 8 KB of comment: a check of the first few KB misses it.
        body = rss(["&xxe;"], dtd="<!-- " + "padding " * 1024 + "-->\n" + _ENTITY_BOMB_DTD)
        h.send(200, body.replace(b"&amp;xxe;", b"&xxe;"), "application/rss+xml")

    @route("/feed-is-html.xml")
    def feed_is_html(h: _Handler) -> None:
        h.send(200, article_html("a-page-not-a-feed"), "application/rss+xml")

    @route("/feed-gzip-bomb.xml")
    def feed_gzip_bomb(h: _Handler) -> None:
        h.send(200, gzip_bomb(*_FEED_BOMB), "application/rss+xml", {"Content-Encoding": "gzip"})

    @route("/sitemap-gzip-bomb.xml.gz")
    def sitemap_gzip_bomb(h: _Handler) -> None:
        h.send(200, gzip_bomb(*_SITEMAP_BOMB), "application/gzip")

    @route("/sitemap-is-html.xml")
    def sitemap_is_html(h: _Handler) -> None:
        h.send(200, article_html("a-page-not-a-sitemap"), "application/xml")

    @route("/sitemap-index.xml")
    def sitemap_index_doc(h: _Handler) -> None:
        h.send(200, sitemap_index(h.site.fill_all(SITEMAP_INDEX_CHILDREN)), "application/xml")

    @route("/sitemap-child.xml")
    def sitemap_child(h: _Handler) -> None:
        h.send(200, urlset(h.site.fill_all(SITEMAP_CHILD_LINKS)), "application/xml")

    @route("/sitemap-private.xml")
    def sitemap_private(h: _Handler) -> None:
        h.send(200, urlset([h.site.public + "/articles/from-private-sitemap"]), "application/xml")

    @route("/feed-lan.xml")
    def feed_lan(h: _Handler) -> None:
        h.send(200, rss(h.site.fill_all(LAN_LINKS)), "application/rss+xml")

    # -- articles ------------------------------------------------------------------------
    for slug in ("good", "from-child-sitemap", "redirect-target", "from-private-sitemap", "closed-port", "no-robots"):
        route(f"/articles/{slug}")(functools.partial(_article, slug=slug))

    @route("/articles/malformed")
    def malformed(h: _Handler) -> None:
        page = article_html("malformed").decode()
        page = page.replace("</p>", "").replace("</article>", "<div><span><b>unclosed").replace("<p>", "<p class='x>")
        h.send(200, page.encode() + b"<<<>>></html></html><body>")

    @route("/articles/deeply-nested")
    def deeply_nested(h: _Handler) -> None:
        depth = 100_000
        inner = article_html("deeply-nested").split(b"<article>")[1].split(b"</article>")[0]
        h.send(200, b"<html><head><title>Nested</title></head><body>" + b"<div>" * depth + inner
               + b"</div>" * depth + b"</body></html>")

    @route("/articles/empty")
    def empty(h: _Handler) -> None:
        h.send(200, b"<!DOCTYPE html><html><head><title>Story</title></head><body><article></article></body></html>")

    @route("/articles/zero-bytes")
    def zero_bytes(h: _Handler) -> None:
        h.send(200, b"")

    @route("/articles/soft-404")
    def soft_404(h: _Handler) -> None:
        h.send(200, b"<!DOCTYPE html><html><head><title>Page not found | News Example</title></head><body>"
               b"<h1>Page not found</h1><p>Sorry, we couldn't find the page you were looking for.</p>"
               b"<p><a href='/'>Back to the front page</a></p></body></html>")

    @route("/articles/pdf-as-html")
    def pdf_as_html(h: _Handler) -> None:
        h.send(200, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + bytes(range(256)) * 64)

    @route("/articles/binary-as-html")
    def binary_as_html(h: _Handler) -> None:
        h.send(200, bytes((i * 7919 + 13) % 256 for i in range(64 * 1024)))

    @route("/articles/gone")
    def gone(h: _Handler) -> None:
        h.send(404, b"<html><head><title>Not Found</title></head><body><h1>Not Found</h1></body></html>")

    @route("/articles/forbidden")
    def forbidden(h: _Handler) -> None:
        h.send(403, b"<html><head><title>Forbidden</title></head><body>Forbidden</body></html>")

    @route("/articles/server-error")
    def server_error(h: _Handler) -> None:
        h.send(500, b"<html><head><title>Internal Server Error</title></head><body>Oops</body></html>")

    @route("/articles/big-5mb")
    def big(h: _Handler) -> None:
        head = article_html("big-5mb")
        # An article followed by 5 MB of inline script, as page builders produce.
        padding = b"<script>var state = '" + b"x" * (BIG_BYTES - len(head)) + b"';</script>"
        h.send(200, head.replace(b"</body>", padding + b"</body>"))

    @route("/articles/huge-500mb-streamed")
    def huge_streamed(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.stream(HUGE_BYTES, chunked=True)

    @route("/articles/huge-500mb-declared")
    def huge_declared(h: _Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(HUGE_BYTES))
        h.end_headers()
        h.stream(HUGE_BYTES, chunked=False)

    @route("/articles/gzip-bomb")
    def html_gzip_bomb(h: _Handler) -> None:
        h.send(200, gzip_bomb(*_HTML_BOMB), headers={"Content-Encoding": "gzip"})

    @route("/articles/truncated")
    def truncated(h: _Handler) -> None:
        body = article_html("truncated")
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body) * 4))
        h.end_headers()
        h.wfile.write(body)
        h.close_connection = True

    @route("/articles/truncated-chunked")
    def truncated_chunked(h: _Handler) -> None:
        body = article_html("truncated-chunked")
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        h.wfile.write(f"{len(body):x}\r\n".encode() + body + b"\r\n")  # and never the last chunk
        h.close_connection = True

    @route("/articles/stall-before-headers")
    def stall_before_headers(h: _Handler) -> None:
        h.hold()

    @route("/articles/stall-mid-body")
    def stall_mid_body(h: _Handler) -> None:
        body = article_html("stall-mid-body")
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body[: len(body) // 3])
        h.wfile.flush()
        h.hold()

    # -- redirects -------------------------------------------------------------------------
    @route("/articles/redirect-chain")
    def redirect_chain(h: _Handler) -> None:
        h.redirect("/articles/redirect-chain/2", 301)

    @route("/articles/redirect-chain/2")
    def redirect_chain_2(h: _Handler) -> None:
        h.redirect(h.site.public + "/articles/redirect-chain/3", 307)

    @route("/articles/redirect-chain/3")
    def redirect_chain_3(h: _Handler) -> None:
        h.redirect("/articles/redirect-target?utm_source=redirect", 308)

    @route("/articles/redirect-loop-a")
    def loop_a(h: _Handler) -> None:
        h.redirect("/articles/redirect-loop-b")

    @route("/articles/redirect-loop-b")
    def loop_b(h: _Handler) -> None:
        h.redirect("/articles/redirect-loop-a")

    @route("/articles/redirect-to-loopback")
    def to_loopback(h: _Handler) -> None:
        h.redirect(h.site.loopback + "/articles/good")

    @route("/articles/redirect-to-loopback-name")
    def to_loopback_name(h: _Handler) -> None:
        h.redirect(f"http://{LOOPBACK_NAME}:{h.site.port}/articles/good")

    @route("/articles/redirect-to-file")
    def to_file(h: _Handler) -> None:
        h.redirect("file:///etc/passwd")

    @route("/articles/redirect-without-location")
    def without_location(h: _Handler) -> None:
        h.send(302, b"")

    @route("/articles/meta-refresh-to-loopback")
    def meta_refresh(h: _Handler) -> None:
        h.send(200, f"<html><head><meta http-equiv='refresh' content='0; url={h.site.loopback}/articles/good'>"
                    f"<title>Moved</title></head><body>Moved</body></html>".encode())

    @route("/lan/redirect-to-loopback")
    def lan_redirect(h: _Handler) -> None:
        h.redirect(h.site.loopback + "/lan/four")

    return r


def _article(h: _Handler, slug: str) -> None:
    h.send(200, article_html(slug))


def _endless_redirect(h: _Handler, rest: str) -> None:
    h.redirect(f"/articles/redirect-endless/{int(rest or 0) + 1}")


def _endless_sitemap(h: _Handler, rest: str) -> None:
    n = int(rest.removesuffix(".xml") or 0)
    h.send(200, sitemap_index([f"{h.site.public}/sitemap-endless/{n + 1}.xml"]), "application/xml")


def _fetch_once(h: _Handler, rest: str) -> None:
    h.send(200, article_html("fetch-once", extra_head=f"<link rel='canonical' href='{h.site.public}/news/fetch-once/'>"))


def _lan(h: _Handler, rest: str) -> None:
    h.send(200, article_html("lan-" + rest.strip("/")))


def _private(h: _Handler, rest: str) -> None:
    # Served (robots.txt is advice): a crawler that fetches these is caught by the request log.
    h.send(200, article_html("private-" + rest.strip("/").replace("/", "-")))


_ROUTES = _route_table()
_PREFIX_ROUTES: list[tuple[str, Callable[..., None]]] = [
    ("/articles/redirect-endless/", _endless_redirect),
    ("/sitemap-endless/", _endless_sitemap),
    (FETCH_ONCE_PATH, _fetch_once),
    ("/lan/", _lan),
    ("/private/", _private),
]
