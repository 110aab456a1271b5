"""Shared pieces of the benchmarks: corpora, result rows and tables, timing, peak memory of a process tree,
and a fast local news site for the crawl benchmarks."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from email.utils import formatdate
from functools import cache
from pathlib import Path
from typing import Any

from cleaning.records import RawPage

REPO = Path(__file__).resolve().parents[2]
_BENCHMARK_DIRS = (
    REPO / "tests" / "data" / "extraction-benchmark" / "html",
    REPO.parent / "shared" / "data" / "extraction-benchmark" / "html",
)
FETCHED_AT = "2024-05-06T07:08:09Z"


# -- results -------------------------------------------------------------------------------------


@dataclass
class Row:
    """One compared figure: ours against a reference (the bare tool, or the small corpus for memory)."""

    bench: str
    what: str
    ours: float
    reference: float
    unit: str
    reference_name: str
    target: float | None = None  # None: reported, not judged
    higher_is_better: bool = True  # ratio ≥ target when true, ratio ≤ target otherwise
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.ours / self.reference if self.reference else float("nan")

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        ok = self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target
        return "PASS" if ok else "MISS"

    def target_text(self) -> str:
        if self.target is None:
            return "—"
        return f"{'≥' if self.higher_is_better else '≤'} {self.target:g}×"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "verdict": self.verdict}


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def print_table(title: str, rows: Sequence[Row], notes: Sequence[str] = ()) -> None:
    head = ("measure", "ours", "reference", "ratio", "target", "")
    body = [
        (
            r.what,
            f"{_fmt(r.ours)} {r.unit}",
            f"{_fmt(r.reference)} {r.unit} ({r.reference_name})",
            f"{r.ratio:.2f}×",
            r.target_text(),
            r.verdict,
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    print(f"\n== {title} ==")
    print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for line in body:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    for note in notes:
        print(f"  {note}")
    sys.stdout.flush()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def spread(values: Sequence[float]) -> str:
    return "/".join(_fmt(v) for v in values)


def log(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


# -- corpora -------------------------------------------------------------------------------------


def benchmark_dir() -> Path:
    for d in _BENCHMARK_DIRS:
        if d.is_dir():
            return d
    raise FileNotFoundError(f"extraction benchmark pages not found in {', '.join(map(str, _BENCHMARK_DIRS))}")


@cache
def benchmark_bodies() -> tuple[tuple[str, bytes], ...]:
    """The 181 pages of the extraction benchmark: (name, HTML bytes as fetched)."""
    out = []
    for path in sorted(benchmark_dir().glob("*.html.gz")):
        out.append((path.name.removesuffix(".html.gz"), gzip.decompress(path.read_bytes())))
    return tuple(out)


@cache
def sample_site_articles() -> tuple[tuple[str, bytes, tuple[tuple[str, str], ...]], ...]:
    """The sample site's article pages as served: (path, body, response headers)."""
    from flows.sample_site import SampleSite, load_expected

    paths = [p for p, rec in load_expected().items() if rec["kind"] == "article"]
    out = []
    with SampleSite(port=0) as site:
        for path in sorted(paths):
            resp = site.render("GET", path)
            if resp.status == 200:
                out.append(
                    (site.url(path), resp.body, tuple((k.lower(), v) for k, v in resp.headers.items()))
                )
    return tuple(out)


def raw_page(url: str, body: bytes, source: str, headers: dict[str, str] | None = None) -> RawPage:
    return RawPage(
        url=url,
        final_url=url,
        status=200,
        headers=headers if headers is not None else {"content-type": "text/html"},
        body=body,
        fetched_at=FETCHED_AT,
        source=source,
    )


_TEXT_PARAGRAPH = re.compile(rb"<p\b[^>]*>(?=[^<]{60})", re.IGNORECASE)  # opens with a run of text
_WORDS = [
    "regulators",
    "council",
    "markets",
    "shipping",
    "reporters",
    "harbour",
    "budget",
    "quarterly",
    "transit",
    "ministers",
    "startup",
    "drought",
    "exporters",
    "railway",
    "lawmakers",
    "satellite",
    "vaccine",
    "tariffs",
    "ferry",
    "festival",
]


def variant(body: bytes, n: int) -> bytes:
    """``body`` with one sentence unique to ``n`` added to its first paragraph, so that every variant
    has its own content hash (a corpus of distinct stories, not thousands of aliases)."""
    words = " ".join(_WORDS[(n // 19**i) % len(_WORDS)] for i in range(4))
    sentence = f"Desk note {n}: {words}. ".encode()
    match = _TEXT_PARAGRAPH.search(body, max(0, body.lower().find(b"<article")))
    if match is None:
        return body
    return body[: match.end()] + sentence + body[match.end() :]


# -- processes -----------------------------------------------------------------------------------


def bench_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may contain spaces and parentheses
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, ()))
    return out


def _memory_kb(pid: int) -> tuple[int, int, int]:
    """(RSS, PSS, peak RSS) of one process in kB; zeros when it is gone."""
    rss = pss = hwm = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
                break
    except (OSError, ValueError, IndexError):
        pass
    return rss, pss or rss, hwm


@dataclass
class TreeMemory:
    """Peak memory of a process and its descendants, sampled; per-process high-water marks kept."""

    peak_pss_mb: float = 0.0  # sum over the tree of proportional set sizes (shared pages counted once)
    peak_rss_mb: float = 0.0  # sum over the tree of resident set sizes (shared pages counted per process)
    root_hwm_mb: float = 0.0  # the root process's own peak RSS
    max_process_hwm_mb: float = 0.0  # the largest peak RSS of any single process in the tree
    processes: int = 0
    samples: int = 0


@contextmanager
def sample_tree_memory(pid: int, interval: float = 0.1) -> Iterator[TreeMemory]:
    """Sample the memory of ``pid``'s process tree in a thread until the block exits."""
    result = TreeMemory()
    stop = threading.Event()
    seen: set[int] = set()

    def run() -> None:
        while True:
            rss = pss = 0
            for p in process_tree(pid):
                r, s, hwm = _memory_kb(p)
                rss += r
                pss += s
                seen.add(p)
                result.max_process_hwm_mb = max(result.max_process_hwm_mb, hwm / 1024)
                if p == pid:
                    result.root_hwm_mb = max(result.root_hwm_mb, hwm / 1024)
            result.peak_rss_mb = max(result.peak_rss_mb, rss / 1024)
            result.peak_pss_mb = max(result.peak_pss_mb, pss / 1024)
            result.samples += 1
            if stop.wait(interval):
                return

    thread = threading.Thread(target=run, name="tree-memory", daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result.processes = len(seen)


@dataclass
class Finished:
    returncode: int
    seconds: float
    memory: TreeMemory
    peak_rss_mb: float  # the child's own peak RSS (its VmHWM, the last value sampled)
    output: str


def run_measured(
    cmd: list[str], timeout: float, log_path: Path | None = None, interval: float = 0.1
) -> Finished:
    """Run a command, sampling its process tree's memory; the output goes to ``log_path`` (or is kept)."""
    started = time.perf_counter()
    sink = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen(cmd, cwd=REPO, env=bench_env(), stdout=sink, stderr=subprocess.STDOUT)
        with sample_tree_memory(proc.pid, interval) as memory:
            deadline = time.monotonic() + timeout
            while True:
                pid, status = os.waitpid(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    for child in reversed(process_tree(proc.pid)):  # its workers too, not just the root
                        with suppress(ProcessLookupError):
                            os.kill(child, signal.SIGKILL)
                    pid, status = os.waitpid(proc.pid, 0)
                    break
                time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log_path:
            sink.close()  # type: ignore[union-attr]
    seconds = time.perf_counter() - started
    output = log_path.read_text("utf-8", "replace")[-3000:] if log_path else ""
    # Not the rusage of wait4: Linux carries the ru_maxrss of the pre-exec image over exec, so a child
    # forked from a large parent reports at least the parent's size.
    return Finished(proc.returncode, seconds, memory, memory.root_hwm_mb, output)


_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) used so far by a process and its live descendants."""
    total = 0
    for p in process_tree(pid or os.getpid()):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / _TICKS


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- a fast local news site ----------------------------------------------------------------------


def site_bodies(corpus: str) -> tuple[list[bytes], Callable[[bytes, int], bytes] | None]:
    """Page bodies of a synthetic site: ``benchmark`` (the extraction benchmark's pages as they are, 170 kB
    on average) or ``articles`` (the sample site's articles, 9 kB on average, each page made distinct)."""
    if corpus == "benchmark":
        return [body for _, body in benchmark_bodies()], None
    if corpus == "articles":
        return [body for _, body, _ in sample_site_articles()], variant
    raise ValueError(f"unknown corpus {corpus!r}")


class NewsSite:
    """A synthetic news site on 127.0.0.1: ``count`` article pages under ``/news/`` (bodies from
    ``site_bodies(corpus)``, cycled), a sitemap listing them all, an RSS feed of the newest 50 and a robots.txt.

    Served by a small asyncio HTTP/1.1 server (keep-alive, GET/HEAD, ETag and Last-Modified) with every
    response prepared up front, in its own process (``python -m tests.bench.common``) so that neither the
    crawler nor this process's measuring threads share an interpreter with it."""

    def __init__(self, corpus: str, count: int):
        self.corpus = corpus
        self.count = count
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def article_path(n: int) -> str:
        return f"/news/2024/05/{1 + n % 28:02d}/story-{n:06d}/"

    @property
    def sitemap_url(self) -> str:
        return self.base_url + "/sitemap.xml"

    def sources_yaml(self, name: str = "bench") -> str:
        return json.dumps(
            {"sources": [{"name": name, "sitemaps": [self.sitemap_url], "allow": ["^/news/"]}]}
        )  # JSON is YAML

    def __enter__(self) -> NewsSite:
        self.port = free_port()
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.common",
                "--corpus",
                self.corpus,
                "--count",
                str(self.count),
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            env=bench_env(),
            stdout=subprocess.PIPE,
        )
        assert self._proc.stdout is not None
        if self._proc.stdout.readline().strip() != b"ready":
            self._proc.kill()
            raise RuntimeError("the synthetic news site did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None


def _prepared_responses(corpus: str, count: int, base_url: str) -> dict[str, tuple[bytes, bytes]]:
    """URL path -> (response head, head + body)."""
    bodies, make_body = site_bodies(corpus)
    modified = formatdate(1714979289, usegmt=True)
    out: dict[str, tuple[bytes, bytes]] = {}

    def add(path: str, body: bytes, ctype: str) -> None:
        etag = hashlib.sha256(body).hexdigest()[:32]
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f'ETag: "{etag}"\r\nLast-Modified: {modified}\r\nServer: bench\r\n\r\n'
        ).encode()
        out[path] = (head, head + body)

    for n in range(count):
        src = bodies[n % len(bodies)]
        add(NewsSite.article_path(n), make_body(src, n) if make_body else src, "text/html; charset=utf-8")
    entries = "".join(
        f"<url><loc>{base_url}{NewsSite.article_path(n)}</loc><lastmod>2024-05-{1 + n % 28:02d}T06:00:00+00:00"
        "</lastmod></url>"
        for n in range(count)
    )
    add(
        "/sitemap.xml",
        (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>\n'
        ).encode(),
        "application/xml",
    )
    items = "".join(
        f"<item><title>Story {n}</title><link>{base_url}{NewsSite.article_path(n)}</link></item>"
        for n in range(max(0, count - 50), count)
    )
    add(
        "/feed.xml",
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>bench</title>{items}</channel></rss>'.encode(),
        "application/rss+xml",
    )
    add(
        "/robots.txt",
        f"User-agent: *\nDisallow: /private/\nSitemap: {base_url}/sitemap.xml\n".encode(),
        "text/plain; charset=utf-8",
    )
    return out


async def _serve(responses: dict[str, tuple[bytes, bytes]], port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, target, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
                found = responses.get(target.split("?", 1)[0])
                if found is None:
                    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                else:
                    writer.write(found[0] if method == "HEAD" else found[1])
                await writer.drain()
                if b"connection: close" in head.lower():
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Serve a synthetic news site (see NewsSite).")
    parser.add_argument("--corpus", choices=["benchmark", "articles"], default="benchmark")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    responses = _prepared_responses(args.corpus, args.count, f"http://127.0.0.1:{args.port}")
    with suppress(KeyboardInterrupt):
        asyncio.run(_serve(responses, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
