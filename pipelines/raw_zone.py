"""Raw zone: every fetched response kept as a WARC response record, gzip, in the object store.

``RawZonePipeline`` is the Scrapy item pipeline; ``RawWarcWriter`` and ``iter_raw_pages`` are the
plain writer and reader, shared by the crawl, the clean stage and WARC backfills.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from cleaning.records import RawPage
from pipelines import layout
from pipelines.store import ObjectStore, open_store

logger = logging.getLogger(__name__)

# Scrapy hands us decoded bodies: these headers no longer describe the stored payload.
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}
_HINTS_HEADER = "WARC-Cleanwire-Hints"
_SOURCE_HEADER = "WARC-Cleanwire-Source"
_REQUESTED_HEADER = "WARC-Cleanwire-Requested-URI"
_STATUS_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 304: "Not Modified", 404: "Not Found"}


@dataclass
class _OpenWarc:
    source: str
    date: str
    part: int
    path: Path
    fh: IO[bytes]
    writer: WARCWriter
    records: int = 0
    urls: list[str] = field(default_factory=list)


class RawWarcWriter:
    """Writes RawPages to rolling local WARC files per (source, fetch day); each finished file is
    published to the store write-once under ``layout.raw_key`` and listed in the returned manifest."""

    def __init__(self, store: ObjectStore, crawl_run: str, max_records: int = 500):
        self.store = store
        self.crawl_run = crawl_run
        self.max_records = max_records
        self.tmpdir = Path(tempfile.mkdtemp(prefix=f"cleanwire-warc-{crawl_run}-"))
        self.open: dict[tuple[str, str], _OpenWarc] = {}
        self.parts: dict[str, int] = {}
        self.published: list[dict[str, Any]] = []

    def _open(self, source: str, day: str) -> _OpenWarc:
        key = (source, day)
        if key not in self.open:
            part = self.parts.get(source, 0)
            self.parts[source] = part + 1
            path = self.tmpdir / f"{source}-{day}-{part:05d}.warc.gz"
            fh = open(path, "wb")  # noqa: SIM115 - closed in _finish
            self.open[key] = _OpenWarc(source, day, part, path, fh, WARCWriter(fh, gzip=True))
        return self.open[key]

    def write(self, page: RawPage) -> tuple[str, str] | None:
        """Append one page; returns the (source, day) of a file that became full, if any."""
        day = page.fetched_at[:10]
        warc = self._open(page.source, day)
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
        record = warc.writer.create_warc_record(
            page.final_url or page.url,
            "response",
            payload=io.BytesIO(page.body),
            http_headers=http_headers,
            warc_headers_dict=warc_headers,
        )
        warc.writer.write_record(record)
        warc.records += 1
        warc.urls.append(page.url)
        return (page.source, day) if warc.records >= self.max_records else None

    def finish(self, source: str, day: str) -> dict[str, Any]:
        """Close one open file and publish it to the store."""
        warc = self.open.pop((source, day))
        warc.fh.close()
        key = layout.raw_key(source, day, self.crawl_run, warc.part)
        written = self.store.upload_file(key, warc.path, "application/warc")
        warc.path.unlink(missing_ok=True)
        entry = {"key": key, "source": source, "date": day, "records": warc.records, "written": written}
        self.published.append(entry)
        logger.info("raw zone: %s (%d records)", key, warc.records)
        return entry

    def finish_all(self) -> list[dict[str, Any]]:
        for source, day in list(self.open):
            self.finish(source, day)
        with contextlib.suppress(OSError):
            self.tmpdir.rmdir()
        return self.published


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


class RawZonePipeline:
    """Scrapy item pipeline: page items → WARC in the raw zone; failure items → crawl rejects."""

    def __init__(self, store_url: str, crawl_run: str, max_records: int):
        self.store = open_store(store_url)
        self.crawl_run = crawl_run
        self.writer = RawWarcWriter(self.store, crawl_run, max_records)
        self.failures: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.counts: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> RawZonePipeline:
        from scrapy.exceptions import NotConfigured

        settings = crawler.settings
        store_url = settings.get("CLEANWIRE_STORE")
        crawl_run = settings.get("CLEANWIRE_RUN_ID")
        if not store_url or not crawl_run:
            raise NotConfigured("CLEANWIRE_STORE and CLEANWIRE_RUN_ID are required")
        return cls(store_url, crawl_run, settings.getint("CLEANWIRE_WARC_MAX_RECORDS", 500))

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
        full = self.writer.write(page)
        if full is not None:
            await asyncio.to_thread(self.writer.finish, *full)
        # Items are not kept in memory or exported: drop the body from what Scrapy logs.
        return {"url": item["url"], "status": item["status"]}

    async def close_spider(self) -> None:
        published = await asyncio.to_thread(self.writer.finish_all)
        for (source, day), items in self.failures.items():
            key = layout.rejects_key(source, day, f"{self.crawl_run}-crawl")
            data = "".join(json.dumps(i, ensure_ascii=False, sort_keys=True) + "\n" for i in items)
            await asyncio.to_thread(self.store.put, key, data.encode(), "application/x-ndjson")
        sources = {e["source"] for e in published} | {s for s, _ in self.failures}
        for source in sorted(sources):
            manifest = {
                "crawl_run": self.crawl_run,
                "source": source,
                "warc": [e for e in published if e["source"] == source],
                "failures": sum(len(v) for (s, _), v in self.failures.items() if s == source),
            }
            await asyncio.to_thread(
                self.store.put,
                layout.crawl_manifest_key(self.crawl_run, source),
                json.dumps(manifest, indent=2, sort_keys=True).encode(),
                "application/json",
            )
