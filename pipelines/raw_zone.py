"""Raw zone: every fetched response kept as a WARC response record, gzip, in the object store.

``RawZonePipeline`` is the Scrapy item pipeline; ``RawWarcWriter`` and ``iter_raw_pages`` are the
plain writer and reader, shared by the crawl, the clean stage and WARC backfills.

A WARC file is written locally and published whole (write-once), so readers never see a partial
file. The crawl first appends its pages to local spool files; a compressor process turns them into WARC
records (record digests and gzip, most of the raw zone's cost), off the reactor's thread. A crawl
killed mid-way loses only its unpublished pages, and it has not saved its fetch state either (that happens at spider close), so the next crawl fetches them again; pages that were published
clean into the same content-hashed documents as their refetched copies.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextlib
import dataclasses
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from cleaning.records import RawPage
from pipelines import layout
from pipelines.store import ObjectStore, StoreError, open_store

logger = logging.getLogger(__name__)

# Scrapy hands us decoded bodies: these headers no longer describe the stored payload.
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_HINTS_HEADER = "WARC-Cleanwire-Hints"
_SOURCE_HEADER = "WARC-Cleanwire-Source"
_REQUESTED_HEADER = "WARC-Cleanwire-Requested-URI"
_STATUS_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 404: "Not Found"}
# Operators size raw objects without a code change; an explicit Scrapy ``--set`` still wins.
MAX_RECORDS_ENV = "CLEANWIRE_WARC_MAX_RECORDS"
DEFAULT_MAX_RECORDS = 500
# Each record is its own gzip member (standard .warc.gz). warcio compresses at level 9; level 3 is
# 3.4x faster on news pages for files ~12 % larger, and compression was a third of the crawl's CPU.
WARC_GZIP_LEVEL = 3
# Seconds a finished crawl keeps retrying the store before giving up (the S3 client's own retries
# cover ~10-25 s): a two-minute outage costs a late finish, not a refetch of the pages.
DEFAULT_STORE_PATIENCE = 120.0
RETRY_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0)  # then 15 s until the patience runs out


@dataclass
class _Chunk:
    """A closed spool file of a few pages, and the compressor compressing it (None: not started)."""

    spool: Path
    records: int
    compressor: WarcCompressor | None = None

    @property
    def warc(self) -> Path:
        """Where the chunk's compressed records go."""
        return self.spool.with_suffix(".warc.gz")


@dataclass
class _OpenWarc:
    source: str
    date: str
    part: int
    path: Path
    fh: IO[bytes] | None = None  # the WARC file, or the spool of the current chunk
    records: int = 0
    chunk_records: int = 0
    chunk_bytes: int = 0
    chunks: list[_Chunk] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class SealedWarc:
    """A finished local file (closed, complete), waiting to be published; or, when ``spooled``, the
    pages of one, in chunks being compressed, which ``RawWarcWriter.compress`` joins into the file."""

    source: str
    date: str
    part: int
    path: Path
    records: int
    spooled: bool = False
    chunks: tuple[_Chunk, ...] = ()


def warc_member(page: RawPage) -> bytes:
    """``page`` as one WARC response record in its own gzip member (a standard .warc.gz is a series of
    them, which is what lets a reader start at any record's offset)."""
    headers = [(k, v) for k, v in page.headers.items() if k.lower() not in _DROP_HEADERS]
    headers.append(("Content-Length", str(len(page.body))))
    status_line = f"{page.status} {_STATUS_REASONS.get(page.status, 'Status')}"
    http_headers = StatusAndHeaders(status_line, headers, protocol="HTTP/1.1")
    warc_headers = {
        "WARC-Date": page.fetched_at,
        _SOURCE_HEADER: page.source,
        _REQUESTED_HEADER: page.url,
    }
    if page.hints:
        warc_headers[_HINTS_HEADER] = json.dumps(page.hints, ensure_ascii=True, sort_keys=True)
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=False)
    record = writer.create_warc_record(
        page.final_url or page.url,
        "response",
        payload=io.BytesIO(page.body),
        http_headers=http_headers,
        warc_headers_dict=warc_headers,
    )
    writer.write_record(record)
    member = zlib.compressobj(WARC_GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return member.compress(buffer.getvalue()) + member.flush()


# A spool file is a crawl's pages as they arrive, before they become WARC records: per page, one line
# of JSON (the page's fields and its body's length), then the body's bytes. Writing it costs the
# crawl's thread a file append; building records (two digests) and compressing them, ~2 ms per news
# page and most of what the raw zone costs, happens in another process (``compress_spool``).
def _spool_entry(page: RawPage) -> bytes:
    fields = [page.url, page.final_url, page.status, page.headers, page.fetched_at, page.source, page.hints]
    return json.dumps([*fields, len(page.body)], ensure_ascii=True).encode() + b"\n"


def read_spool(fh: IO[bytes]) -> Iterator[RawPage]:
    """The pages of a spool file, in the order written; ValueError on a cut or corrupt file."""
    while line := fh.readline():
        try:
            url, final_url, status, headers, fetched_at, source, hints, size = json.loads(line)
        except ValueError:
            raise ValueError(f"corrupt spool entry at byte {fh.tell() - len(line)}") from None
        body = fh.read(size)
        if len(body) != size:
            raise ValueError(f"spool cut short: {len(body)} of {size} body bytes of {url}")
        yield RawPage(url=url, final_url=final_url, status=status, headers=headers, body=body,
                      fetched_at=fetched_at, source=source, hints=hints)


def compress_spool(spool: str, warc: str) -> int:
    """Write the pages of the spool file ``spool`` as the gzip WARC file ``warc``; returns the number of
    records. A plain function of two paths, run in a worker process by the crawl."""
    records = 0
    with open(spool, "rb") as src, open(warc, "wb") as out:
        for page in read_spool(src):
            out.write(warc_member(page))
            records += 1
    return records


# Pages are handed to the worker process in chunks of this many pages or bytes, as they arrive, so that
# compression keeps pace with the crawl and only the last chunk is left to wait for at the end.
CHUNK_PAGES = 32
CHUNK_BYTES = 4 << 20


class CompressorDied(RuntimeError):
    """The compressor process is gone; what it had not finished is compressed by the caller."""


def _compressor_main(jobs: IO[bytes], results: IO[bytes]) -> None:
    """The compressor process: ``compress_spool`` for each job line, each outcome sent back as a line
    when done. It ends at the end of its input (the crawl closed it, or died)."""
    for line in jobs:
        spool, warc = json.loads(line)
        try:
            outcome: int | str = compress_spool(spool, warc)
        except Exception as exc:  # reported to the crawl, which records it; the process goes on
            outcome = f"{type(exc).__name__}: {exc}"
        results.write(json.dumps([spool, outcome]).encode() + b"\n")
        results.flush()


class WarcCompressor:
    """A worker process that turns spool chunks into gzip WARC files, fed job lines on its stdin.

    A plain child process (``python -m pipelines.raw_zone``): a multiprocessing child would re-import
    the crawl's main module (Scrapy and all, ~0.5 s and ~60 MB), and a ``ProcessPoolExecutor``'s feeder
    and manager threads wake on every submission and take the GIL from the reactor's thread. Here a
    submission is one small pipe write from the crawl's thread, and results are read only by the
    thread that waits for them. The process ends when its stdin closes, so it does not outlive the crawl.
    """

    def __init__(self) -> None:
        root = str(Path(__file__).resolve().parent.parent)
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.raw_zone"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": path},
        )
        assert self._process.stdin is not None and self._process.stdout is not None
        self._jobs, self._results = self._process.stdin, self._process.stdout
        self._done: dict[str, int | str] = {}
        self._submit_lock = threading.Lock()
        self._read_lock = threading.Lock()

    def submit(self, spool: Path, warc: Path) -> None:
        try:
            with self._submit_lock:
                self._jobs.write(json.dumps([str(spool), str(warc)]).encode() + b"\n")
                self._jobs.flush()
        except (OSError, ValueError) as exc:  # a broken pipe, or closed here
            raise CompressorDied(f"compressor process unreachable: {exc}") from None

    def result(self, spool: Path) -> int:
        """The number of records written for ``spool``, once done; CompressorDied if it never will be,
        ValueError with the compressor's error if it failed."""
        key = str(spool)
        with self._read_lock:
            while key not in self._done:
                try:
                    line = self._results.readline()
                except (OSError, ValueError):
                    line = b""
                if not line:
                    raise CompressorDied(f"compressor process exited (code {self._process.poll()})")
                done, outcome = json.loads(line)
                self._done[done] = outcome
            outcome = self._done.pop(key)
        if isinstance(outcome, str):
            raise ValueError(f"compressing {spool}: {outcome}")
        return outcome

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> None:
        """Kill the process at once (what an OOM kill does)."""
        self._process.kill()
        self._process.wait()

    def close(self, timeout: float = 10.0) -> None:
        """Let the process finish its jobs and exit."""
        with contextlib.suppress(OSError):
            self._jobs.close()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._results.close()


_compressor_lock = threading.Lock()
_compressor: WarcCompressor | None = None


def shared_compressor() -> WarcCompressor:
    """The crawl process's one compressor (shared by its crawlers), started on first use and again
    if it died (chunks sent to a dead one are compressed by whoever waits for them)."""
    global _compressor
    with _compressor_lock:
        if _compressor is None or not _compressor.alive:
            _compressor = WarcCompressor()
        return _compressor


def discard_compressor() -> None:
    """Stop the shared compressor; the next chunk starts a new one."""
    global _compressor
    with _compressor_lock:
        compressor, _compressor = _compressor, None
    if compressor is not None:
        compressor.close()


atexit.register(discard_compressor)


class RawWarcWriter:
    """Writes RawPages to rolling local WARC files per (source, fetch day); each finished file is
    published to the store write-once under ``layout.raw_key`` and listed in the returned manifest.

    An existing key normally means the file was published before (a WARC import derives its run name
    from the file's hash, so a retried import rewrites nothing). With ``fresh_parts`` an existing key
    means the run name was used before (a retried crawl) and holds other pages: the file takes the next
    free part number instead, so no page is dropped.

    With ``spool`` the pages are appended to spool files instead, in chunks of ``CHUNK_PAGES``; each
    chunk is compressed into WARC records by ``compressor()`` (the crawl's ``WarcCompressor`` process)
    as soon as it is full, and ``compress`` joins a sealed file's chunks into its WARC file before
    ``publish``. Record building and compression, most of the raw zone's cost, so leave the crawl's thread.

    ``write`` and ``seal`` must be called from one thread; ``compress`` and ``publish`` may run in
    another (they touch only their sealed file), which keeps a slow upload from blocking the crawl.
    """

    def __init__(
        self,
        store: ObjectStore,
        crawl_run: str,
        max_records: int = DEFAULT_MAX_RECORDS,
        *,
        fresh_parts: bool = False,
        spool: bool = False,
        compressor: Callable[[], WarcCompressor] | None = None,
    ):
        if max_records < 1:
            raise ValueError(f"max_records must be at least 1, not {max_records}")
        self.store = store
        self.crawl_run = crawl_run
        self.max_records = max_records
        self.fresh_parts = fresh_parts
        self.spool = spool
        self.compressor = compressor
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"cleanwire-warc-{crawl_run}-"))
        self.open: dict[tuple[str, str], _OpenWarc] = {}
        self.parts: dict[str, int] = {}
        self.published: list[dict[str, Any]] = []
        self.stats: collections.Counter[str] = collections.Counter()  # counted beside every warning
        self._parts_lock = threading.Lock()
        self._published_lock = threading.Lock()

    def _next_part(self, source: str) -> int:
        with self._parts_lock:
            part = self.parts.get(source, 0)
            self.parts[source] = part + 1
            return part

    def _open(self, source: str, day: str) -> _OpenWarc:
        key = (source, day)
        if key not in self.open:
            part = self._next_part(source)
            path = self.tmpdir / f"{source}-{day}-{part:05d}.warc.gz"
            self.open[key] = _OpenWarc(source, day, part, path)
        warc = self.open[key]
        if warc.fh is None:
            target = self._chunk_path(warc, len(warc.chunks)) if self.spool else warc.path
            warc.fh = open(target, "wb")  # noqa: SIM115 - closed in seal or _close_chunk
        return warc

    @staticmethod
    def _chunk_path(warc: _OpenWarc, number: int) -> Path:
        return warc.path.with_name(f"{warc.path.name.removesuffix('.warc.gz')}-{number:04d}.spool")

    def write(self, page: RawPage) -> tuple[str, str] | None:
        """Append one page; returns the (source, day) of a file that became full, if any."""
        day = page.fetched_at[:10]
        warc = self._open(page.source, day)
        assert warc.fh is not None
        if self.spool:
            warc.fh.write(_spool_entry(page))
            warc.fh.write(page.body)
            warc.chunk_records += 1
            warc.chunk_bytes += len(page.body)
            if warc.chunk_records >= CHUNK_PAGES or warc.chunk_bytes >= CHUNK_BYTES:
                self._close_chunk(warc)
        else:
            warc.fh.write(warc_member(page))
        warc.records += 1
        return (page.source, day) if warc.records >= self.max_records else None

    def _close_chunk(self, warc: _OpenWarc) -> None:
        """Close the current spool chunk and start its compression in the worker process, if any."""
        if warc.fh is None:
            return
        warc.fh.close()
        warc.fh = None
        chunk = _Chunk(self._chunk_path(warc, len(warc.chunks)), warc.chunk_records)
        warc.chunks.append(chunk)
        warc.chunk_records = warc.chunk_bytes = 0
        if self.compressor is not None:
            try:
                compressor = self.compressor()
                compressor.submit(chunk.spool, chunk.warc)
                chunk.compressor = compressor
            except CompressorDied:
                pass  # compressed by compress(), in that thread

    def seal(self, source: str, day: str) -> SealedWarc:
        """Close one open file: later pages of (source, day) go to a new file."""
        warc = self.open.pop((source, day))
        if not self.spool:
            if warc.fh is not None:
                warc.fh.close()
            return SealedWarc(source, day, warc.part, warc.path, warc.records)
        self._close_chunk(warc)
        return SealedWarc(source, day, warc.part, warc.path, warc.records, spooled=True, chunks=tuple(warc.chunks))

    def compress(self, sealed: SealedWarc) -> SealedWarc:
        """The WARC file of a sealed spool: each chunk's compressed records (from the worker process,
        or compressed here if it was not started or the worker died) joined in order into one file;
        the chunks' files are deleted once it is complete. A WARC file is returned as it is."""
        if not sealed.spooled:
            return sealed
        for chunk in sealed.chunks:
            try:
                records = chunk.compressor.result(chunk.spool) if chunk.compressor is not None else None
            except CompressorDied:
                self.stats["compressor_died"] += 1
                logger.warning("raw zone: the WARC compressor process died; compressing %s here", chunk.spool)
                records = None
            if records is None:
                records = compress_spool(str(chunk.spool), str(chunk.warc))
            if records != chunk.records:
                raise ValueError(f"{chunk.spool}: {records} records read back of {chunk.records} written")
        with open(sealed.path, "wb") as out:
            for chunk in sealed.chunks:
                with open(chunk.warc, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        for chunk in sealed.chunks:
            chunk.spool.unlink(missing_ok=True)
            chunk.warc.unlink(missing_ok=True)
        return dataclasses.replace(sealed, spooled=False, chunks=())

    def publish(self, sealed: SealedWarc) -> dict[str, Any]:
        """Upload a sealed file write-once and delete the local copy. On a store error the local
        file stays where it is (``sealed.path``) and the error propagates."""
        if sealed.spooled:
            raise ValueError(f"{sealed.path} is a spool file: compress it before publishing")
        part = sealed.part
        while True:
            key = layout.raw_key(sealed.source, sealed.date, self.crawl_run, part)
            written = self.store.upload_file(key, sealed.path, "application/warc")
            if written or not self.fresh_parts:
                break
            self.stats["raw_key_taken"] += 1
            logger.warning("raw zone: %s already exists (run name reused): taking the next part", key)
            part = self._next_part(sealed.source)
        sealed.path.unlink(missing_ok=True)
        entry = {
            "key": key,
            "source": sealed.source,
            "date": sealed.date,
            "records": sealed.records,
            "written": written,
        }
        with self._published_lock:
            self.published.append(entry)
        logger.info("raw zone: %s (%d records)", key, sealed.records)
        return entry

    def finish(self, source: str, day: str) -> dict[str, Any]:
        """Close one open file and publish it to the store."""
        return self.publish(self.compress(self.seal(source, day)))

    def seal_all(self) -> list[SealedWarc]:
        return [self.seal(source, day) for source, day in list(self.open)]

    def finish_all(self) -> list[dict[str, Any]]:
        for sealed in self.seal_all():
            self.publish(self.compress(sealed))
        self.remove_tmpdir()
        return self.published

    def remove_tmpdir(self) -> None:
        """Remove the local directory if it is empty (files that failed to publish stay)."""
        with contextlib.suppress(OSError):
            self.tmpdir.rmdir()


def iter_raw_pages(fh: IO[bytes], raw_object: str = "", source: str = "") -> Iterator[RawPage]:
    """RawPages from a WARC stream: our raw zone files or any crawler's WARC (CC-NEWS, wget,
    browsertrix). Response records with an HTTP payload are read; other record types are skipped.
    ``raw_offset`` is the record's byte offset in the file, for lineage."""
    records = ArchiveIterator(fh)
    for record in records:
        if record.rec_type != "response" or record.http_headers is None:
            continue
        body = record.content_stream().read()
        offset = records.get_record_offset()
        http = record.http_headers
        uri = record.rec_headers.get_header("WARC-Target-URI") or ""
        try:
            status = int(http.get_statuscode() or 0)
        except ValueError:
            status = 0
        hints_raw = record.rec_headers.get_header(_HINTS_HEADER)
        try:
            hints = json.loads(hints_raw) if hints_raw else {}
        except ValueError:
            hints = {}
        yield RawPage(
            url=record.rec_headers.get_header(_REQUESTED_HEADER) or uri,
            final_url=uri,
            status=status,
            headers={k.lower(): v for k, v in http.headers},
            body=body,
            fetched_at=record.rec_headers.get_header("WARC-Date") or "",
            source=record.rec_headers.get_header(_SOURCE_HEADER) or source,
            raw_object=raw_object,
            raw_offset=offset,
            hints=hints,
        )


def max_records_setting(settings: Any, environ: Mapping[str, str] = os.environ) -> int:
    """``CLEANWIRE_WARC_MAX_RECORDS``: an explicit Scrapy setting (``--set``, priority cmdline) first,
    then the environment, then the settings module."""
    from scrapy.settings import SETTINGS_PRIORITIES

    value = environ.get(MAX_RECORDS_ENV, "").strip()
    explicit = (settings.getpriority(MAX_RECORDS_ENV) or 0) >= SETTINGS_PRIORITIES["cmdline"]
    if value and not explicit:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"{MAX_RECORDS_ENV}={value!r}: expected a whole number") from None
    else:
        number = settings.getint(MAX_RECORDS_ENV, DEFAULT_MAX_RECORDS)
    if number < 1:
        raise ValueError(f"{MAX_RECORDS_ENV}={number}: expected at least 1")
    return number


class RawZonePipeline:
    """Scrapy item pipeline: page items → WARC in the raw zone; failure items → crawl rejects.

    A file that fails to publish (store unavailable beyond the store's own retries) is kept locally and
    tried again with the next file, and at spider close for up to ``CLEANWIRE_STORE_PATIENCE`` seconds
    (also given to the crawl rejects and manifests written there). If it still cannot be published, the
    crawl logs an error (exit code 1) and does not save the source's fetch state: the next crawl then
    fetches those pages again instead of treating them as already fetched.
    """

    def __init__(
        self,
        store_url: str,
        crawl_run: str,
        max_records: int,
        crawler: Any = None,
        patience: float = DEFAULT_STORE_PATIENCE,
    ):
        self.store = open_store(store_url)
        self.crawl_run = crawl_run
        self.crawler = crawler
        self.patience = patience
        self.retry_delays = RETRY_DELAYS
        self.writer = RawWarcWriter(
            self.store, crawl_run, max_records, fresh_parts=True, spool=True, compressor=shared_compressor
        )
        self.failures: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}
        self.unpublished: list[SealedWarc] = []  # failed to publish so far; retried
        self.write_failed = False  # a page could not even be written locally (disk full…)
        self._publish_lock = threading.Lock()  # one upload at a time; retries see a consistent list

    @classmethod
    def from_crawler(cls, crawler: Any) -> RawZonePipeline:
        from scrapy.exceptions import NotConfigured

        settings = crawler.settings
        store_url = settings.get("CLEANWIRE_STORE")
        crawl_run = settings.get("CLEANWIRE_RUN_ID")
        if not store_url or not crawl_run:
            raise NotConfigured("CLEANWIRE_STORE and CLEANWIRE_RUN_ID are required")
        return cls(
            store_url,
            crawl_run,
            max_records_setting(settings),
            crawler,
            settings.getfloat("CLEANWIRE_STORE_PATIENCE", DEFAULT_STORE_PATIENCE),
        )

    def open_spider(self) -> None:
        # Started now, beside the crawl's first requests: starting it costs ~0.1 s and its first job
        # ~0.1 s more (imports), which would otherwise fall on the reactor's thread at the first chunk.
        threading.Thread(target=shared_compressor, name="cleanwire-start-compressor", daemon=True).start()

    def _count(self, key: str, n: int = 1) -> None:
        stats = getattr(self.crawler, "stats", None)
        if stats is not None:
            stats.inc_value(f"cleanwire/{key}", n)

    def _compress(self, sealed: SealedWarc) -> SealedWarc | None:
        """The WARC file of a sealed spool. None when it cannot be built at all (disk full): an error,
        and the fetch state is not saved, so the next crawl fetches these pages again."""
        died = self.writer.stats["compressor_died"]
        try:
            return self.writer.compress(sealed)
        except (OSError, ValueError) as exc:
            self.write_failed = True
            self._count("raw_write_failed")
            logger.error("raw zone: could not write the WARC file of %d pages (%s): %s", sealed.records,
                         sealed.path, exc)
            return None
        finally:
            if self.writer.stats["compressor_died"] > died:
                self._count("raw_compressor_died", self.writer.stats["compressor_died"] - died)

    def _compress_and_publish(self, files: list[SealedWarc]) -> None:
        self._publish([warc for sealed in files if (warc := self._compress(sealed)) is not None])

    def _publish(self, files: list[SealedWarc]) -> None:
        """Publish ``files`` and every earlier file that failed; failures are kept for a later try."""
        with self._publish_lock:
            todo, self.unpublished = [*self.unpublished, *files], []
            for sealed in todo:
                try:
                    self.writer.publish(sealed)
                except (StoreError, OSError) as exc:
                    self._count("raw_publish_failed")
                    logger.warning(
                        "raw zone: publishing %d records of %s failed, will retry: %s",
                        sealed.records,
                        sealed.source,
                        exc,
                    )
                    self.unpublished.append(sealed)

    async def process_item(self, item: dict[str, Any]) -> dict[str, Any]:
        if item.get("kind") == "failure":
            day = str(item["fetched_at"])[:10]
            self.failures.setdefault((item["source"], day), []).append(item)
            return item
        page = RawPage(
            url=item["url"],
            final_url=item["final_url"],
            status=int(item["status"]),
            headers=dict(item["headers"]),
            body=bytes(item["body"]),
            fetched_at=item["fetched_at"],
            source=item["source"],
            hints=dict(item.get("hints") or {}),
        )
        try:
            full = self.writer.write(page)
        except OSError as exc:
            self.write_failed = True
            self._count("raw_write_failed")
            logger.error("raw zone: could not write %s to the local WARC file: %s", page.url, exc)
            return {"url": item["url"], "status": item["status"]}
        if full is not None:
            # Sealed here, on the reactor thread, so no page is appended to a file being compressed.
            # Awaited: while a file is compressed and uploaded, this response holds its place in
            # Scrapy's scraper slot, so a store slower than the crawl slows the crawl down instead of
            # piling up files.
            sealed = self.writer.seal(*full)
            await asyncio.to_thread(self._compress_and_publish, [sealed])
        # Items are not kept in memory or exported: drop the body from what Scrapy logs.
        return {"url": item["url"], "status": item["status"]}

    def _hold_fetch_state(self) -> None:
        """Keep the fetch state saved by the previous crawl: this crawl's is not saved (the extension
        saves ``spider.fetch_state`` on spider_closed, which Scrapy sends after the pipelines closed)."""
        spider = getattr(self.crawler, "spider", None)
        if spider is not None and getattr(spider, "fetch_state", None) is not None:
            spider.fetch_state = None

    async def close_spider(self) -> None:
        deadline = time.monotonic() + self.patience
        await asyncio.to_thread(self._compress_and_publish, self.writer.seal_all())
        for delay in _delays(deadline, self.retry_delays):
            if not self.unpublished:
                break
            await asyncio.sleep(delay)
            await asyncio.to_thread(self._publish, [])
        self.writer.remove_tmpdir()
        if self.write_failed:
            self._hold_fetch_state()
        if self.unpublished:
            lost = sum(s.records for s in self.unpublished)
            self._count("raw_unpublished_records", lost)
            self._hold_fetch_state()
            logger.error(
                "raw zone: %d WARC file(s) with %d records could not be published to %s; they are kept in %s "
                "and the fetch state is not saved, so the next crawl fetches these pages again",
                len(self.unpublished),
                lost,
                self.store.url,
                self.writer.tmpdir,
            )
        published = self.writer.published
        for (source, day), items in self.failures.items():
            key = layout.rejects_key(source, day, f"{self.crawl_run}-crawl")
            data = "".join(json.dumps(i, ensure_ascii=False, sort_keys=True) + "\n" for i in items)
            await self._put(key, data.encode(), "application/x-ndjson", deadline)
        sources = (
            {e["source"] for e in published}
            | {s for s, _ in self.failures}
            | {s.source for s in self.unpublished}
        )
        for source in sorted(sources):
            manifest = {
                "crawl_run": self.crawl_run,
                "source": source,
                "warc": [e for e in published if e["source"] == source],
                "unpublished": [
                    {"source": s.source, "date": s.date, "records": s.records, "path": str(s.path)}
                    for s in self.unpublished
                    if s.source == source
                ],
                "failures": sum(len(v) for (s, _), v in self.failures.items() if s == source),
            }
            await self._put(
                layout.crawl_manifest_key(self.crawl_run, source),
                json.dumps(manifest, indent=2, sort_keys=True).encode(),
                "application/json",
                deadline,
            )

    async def _put(self, key: str, data: bytes, content_type: str, deadline: float) -> None:
        delays = _delays(deadline, self.retry_delays)
        while True:
            try:
                await asyncio.to_thread(self.store.put, key, data, content_type)
                return
            except (StoreError, OSError) as exc:
                delay = next(delays, None)
                if delay is None:
                    self._count("store_errors")
                    logger.error("could not write %s to %s: %s", key, self.store.url, exc)
                    return
                self._count("store_retries")
                logger.warning("writing %s failed, retrying in %.0f s: %s", key, delay, exc)
                await asyncio.sleep(delay)


def _delays(deadline: float, steps: tuple[float, ...]) -> Iterator[float]:
    """Waits between retries until ``deadline`` (monotonic): ``steps``, then its last one repeated."""
    attempt = 0
    while (left := deadline - time.monotonic()) > 0:
        yield min(steps[min(attempt, len(steps) - 1)], left)
        attempt += 1


if __name__ == "__main__":
    # The compressor process (WarcCompressor): job lines on stdin, result lines on the real stdout; any
    # stray print goes to stderr instead of into the results.
    _results = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    _compressor_main(sys.stdin.buffer, _results)
