"""The raw zone: WARC round trip, rolling files, write-once publication, foreign WARCs, and the Scrapy
pipeline under slow and failing stores."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import shutil
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from scrapy.settings import Settings
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from cleaning.fetch_state import FetchState
from cleaning.records import RawPage
from pipelines import layout, raw_zone
from pipelines.raw_zone import RawWarcWriter, RawZonePipeline, iter_raw_pages, max_records_setting
from pipelines.store import LocalStore, StoreError
from spiders import settings as default_settings
from tests.faults.stores import KillableStore, SimulatedKill, temp_files


def page(n: int, source: str = "example", day: str = "2026-11-20", **fields: Any) -> RawPage:
    values: dict[str, Any] = {
        "url": f"https://example.com/news/{n}",
        "final_url": f"https://example.com/news/{n}",
        "status": 200,
        "headers": {"content-type": "text/html; charset=utf-8"},
        "body": f"<html><body><p>Story number {n}.</p></body></html>".encode(),
        "fetched_at": f"{day}T08:00:{n % 60:02d}Z",
        "source": source,
    }
    values.update(fields)
    return RawPage(**values)


def read_all(store: LocalStore, prefix: str = "raw/") -> dict[str, list[RawPage]]:
    return {key: list(iter_raw_pages(io.BytesIO(store.get(key)), key)) for key in store.list(prefix)}


# -- WARC round trip ------------------------------------------------------------------------------


def test_round_trip_keeps_urls_status_headers_body_and_hints(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    writer = RawWarcWriter(store, "run1")
    pages = [
        page(1, hints={"date": "2026-11-19", "title": "Tōkyō — “quoted”", "discovered_via": "sitemap"}),
        # A redirect: requested and final URL differ, and both survive.
        page(2, url="https://example.com/r/2", final_url="https://example.com/news/2?from=r"),
        page(3, status=404, body=b"gone"),
        page(4, status=418, body=b"teapot"),
        # Scrapy hands over decoded bodies: the transfer headers no longer describe them.
        page(
            5,
            headers={
                "Content-Type": "text/html",
                "Content-Encoding": "gzip",
                "Transfer-Encoding": "chunked",
                "Content-Length": "3",
                "ETag": '"abc"',
            },
        ),
        page(6, body=b""),
    ]
    for p in pages:
        assert writer.write(p) is None
    (entry,) = writer.finish_all()
    assert entry == {
        "key": layout.raw_key("example", "2026-11-20", "run1", 0),
        "source": "example",
        "date": "2026-11-20",
        "records": 6,
        "written": True,
    }

    ((key, back),) = read_all(store).items()
    assert len(back) == len(pages)
    for sent, got in zip(pages, back, strict=True):
        assert (got.url, got.final_url, got.status, got.body, got.fetched_at, got.source) == (
            sent.url,
            sent.final_url,
            sent.status,
            sent.body,
            sent.fetched_at,
            sent.source,
        )
        assert got.hints == sent.hints
        assert got.raw_object == key
        assert got.headers["content-length"] == str(len(sent.body))
    assert back[0].hints["title"] == "Tōkyō — “quoted”"
    assert back[4].headers == {
        "content-type": "text/html",
        "etag": '"abc"',
        "content-length": str(len(pages[4].body)),
    }
    assert "content-encoding" not in back[4].headers and "transfer-encoding" not in back[4].headers


def test_offsets_point_at_each_record(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    writer = RawWarcWriter(store, "run1")
    for n in range(5):
        writer.write(page(n))
    (entry,) = writer.finish_all()
    data = store.get(entry["key"])
    pages = list(iter_raw_pages(io.BytesIO(data), entry["key"]))
    offsets = [p.raw_offset for p in pages]
    assert offsets[0] == 0 and offsets == sorted(set(offsets))
    for p in pages:
        # Each record is its own gzip member: reading from the offset yields exactly that record.
        record = next(iter(ArchiveIterator(io.BytesIO(data[p.raw_offset :]))))
        assert record.rec_headers.get_header("WARC-Target-URI") == p.final_url
        assert record.content_stream().read() == p.body


# -- rolling --------------------------------------------------------------------------------------


def test_files_roll_per_source_and_day_every_max_records(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    writer = RawWarcWriter(store, "run1", max_records=2)
    full = []
    for n in range(5):
        full.append(writer.write(page(n)))
        if full[-1] is not None:
            assert writer.finish(*full[-1])["records"] == 2
    assert full == [None, ("example", "2026-11-20"), None, ("example", "2026-11-20"), None]
    writer.write(page(9, day="2026-11-21"))
    writer.write(page(7, source="other"))
    published = writer.finish_all()
    records = {e["key"]: e["records"] for e in published}
    assert records == {
        "raw/source=example/date=2026-11-20/run1-00000.warc.gz": 2,
        "raw/source=example/date=2026-11-20/run1-00001.warc.gz": 2,
        "raw/source=example/date=2026-11-20/run1-00002.warc.gz": 1,
        "raw/source=example/date=2026-11-21/run1-00003.warc.gz": 1,
        "raw/source=other/date=2026-11-20/run1-00000.warc.gz": 1,
    }
    back = read_all(store)
    assert {k: len(v) for k, v in back.items()} == records
    urls = [p.url for pages in back.values() for p in pages]
    assert sorted(urls) == sorted(page(n).url for n in (0, 1, 2, 3, 4, 9, 7))
    assert not writer.tmpdir.exists()  # every local file published and removed


def test_max_records_setting_from_env_unless_set_explicitly() -> None:
    settings = Settings()
    settings.setmodule(default_settings, priority="project")
    assert max_records_setting(settings, {}) == 500
    assert max_records_setting(settings, {"CLEANWIRE_WARC_MAX_RECORDS": "3"}) == 3
    settings.set("CLEANWIRE_WARC_MAX_RECORDS", 7, priority="cmdline")
    assert max_records_setting(settings, {"CLEANWIRE_WARC_MAX_RECORDS": "3"}) == 7
    with pytest.raises(ValueError, match="CLEANWIRE_WARC_MAX_RECORDS"):
        max_records_setting(Settings(), {"CLEANWIRE_WARC_MAX_RECORDS": "many"})
    with pytest.raises(ValueError, match="at least 1"):
        max_records_setting(Settings(), {"CLEANWIRE_WARC_MAX_RECORDS": "0"})


# -- write-once publication -----------------------------------------------------------------------


def test_publish_is_write_once(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = RawWarcWriter(store, "import-abc")
    first.write(page(1))
    (entry,) = first.finish_all()
    before = store.get(entry["key"])
    # The same run name again (a retried WARC import): the object stays as it was.
    again = RawWarcWriter(store, "import-abc")
    again.write(page(1))
    (second,) = again.finish_all()
    assert second == {**entry, "written": False}
    assert store.get(entry["key"]) == before


def test_reused_crawl_run_takes_the_next_part_and_drops_nothing(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = RawWarcWriter(store, "crawl-1", max_records=2, fresh_parts=True)
    for n in range(3):
        if full := first.write(page(n)):
            first.finish(*full)
    first.finish_all()
    # A retried crawl with the same run id fetches in another order: other pages under the same keys.
    second = RawWarcWriter(store, "crawl-1", max_records=2, fresh_parts=True)
    for n in (5, 4, 3):
        if full := second.write(page(n)):
            second.finish(*full)
    entries = second.finish_all()
    assert all(e["written"] for e in entries)
    assert [e["key"].rsplit("-", 1)[1] for e in entries] == ["00002.warc.gz", "00003.warc.gz"]
    assert second.stats["raw_key_taken"] == 2
    urls = sorted(p.url for pages in read_all(store).values() for p in pages)
    assert urls == sorted(page(n).url for n in range(6))


def test_publication_never_shows_a_partial_file(tmp_path: Path) -> None:
    store = KillableStore(tmp_path / "store", kill_at=2)
    writer = RawWarcWriter(store, "run1", max_records=2)
    with pytest.raises(SimulatedKill):
        for n in range(6):
            if full := writer.write(page(n)):
                writer.finish(*full)
    assert list(store.list()) == ["raw/source=example/date=2026-11-20/run1-00000.warc.gz"]
    assert temp_files(store.root), "the killed upload left its temp file behind, unlisted"
    assert [len(v) for v in read_all(store).values()] == [2]
    shutil.rmtree(writer.tmpdir)  # what a killed crawl leaves on local disk


# -- a WARC from another tool ---------------------------------------------------------------------


@pytest.mark.parametrize("gzip", [True, False])
def test_reads_a_warc_from_another_tool(gzip: bool) -> None:
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzip)
    writer.write_record(writer.create_warcinfo_record("crawl.warc", {"software": "wget/1.21"}))
    http = StatusAndHeaders(
        "200 OK", [("Content-Type", "text/html"), ("Server", "nginx")], protocol="HTTP/1.1"
    )
    request = writer.create_warc_record(
        "https://news.example/a",
        "request",
        payload=io.BytesIO(b""),
        http_headers=StatusAndHeaders("GET /a HTTP/1.1", [], is_http_request=True),
    )
    writer.write_record(request)
    writer.write_record(
        writer.create_warc_record(
            "https://news.example/a",
            "response",
            payload=io.BytesIO(b"<p>A</p>"),
            http_headers=http,
            warc_headers_dict={"WARC-Date": "2021-03-19T12:00:00Z"},
        )
    )
    writer.write_record(
        writer.create_warc_record(
            "https://news.example/meta", "metadata", payload=io.BytesIO(b"outlinks: none")
        )
    )
    moved = StatusAndHeaders(
        "301 Moved Permanently", [("Location", "https://news.example/b")], protocol="HTTP/1.1"
    )
    writer.write_record(
        writer.create_warc_record(
            "https://news.example/old-b",
            "response",
            payload=io.BytesIO(b""),
            http_headers=moved,
            warc_headers_dict={"WARC-Date": "2021-03-19T12:00:01Z"},
        )
    )
    buffer.seek(0)

    pages = list(iter_raw_pages(buffer, source="cc-news"))
    assert [(p.url, p.final_url, p.status, p.body, p.fetched_at, p.source, p.hints) for p in pages] == [
        (
            "https://news.example/a",
            "https://news.example/a",
            200,
            b"<p>A</p>",
            "2021-03-19T12:00:00Z",
            "cc-news",
            {},
        ),
        (
            "https://news.example/old-b",
            "https://news.example/old-b",
            301,
            b"",
            "2021-03-19T12:00:01Z",
            "cc-news",
            {},
        ),
    ]
    assert pages[0].headers == {"content-type": "text/html", "server": "nginx"}
    assert pages[1].headers["location"] == "https://news.example/b"
    assert 0 < pages[0].raw_offset < pages[1].raw_offset


# -- the Scrapy pipeline --------------------------------------------------------------------------


class SlowStore(LocalStore):
    """Uploads take a while, so the crawl writes more pages while a file is being published."""

    def upload_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> bool:
        time.sleep(0.02)
        return super().upload_file(key, path, content_type)


class FlakyStore(LocalStore):
    """Writes fail while ``down`` is set (or for the first ``failures`` attempts), as with a store that
    stays unreachable past its own retries."""

    def __init__(self, root: Path, down: bool = True, failures: int | None = None):
        super().__init__(root)
        self.down = down
        self.failures = failures
        self.attempts = 0
        self.lock = threading.Lock()

    def _attempt(self, what: str) -> None:
        with self.lock:
            self.attempts += 1
            if self.failures is not None:
                self.down = self.attempts <= self.failures
        if self.down:
            raise StoreError(f"{self.url}: {what} failed: EndpointConnectionError")

    def upload_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> bool:
        self._attempt(f"upload_file {key}")
        return super().upload_file(key, path, content_type)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        if self.failures is not None:
            self._attempt(f"put {key}")
        super().put(key, data, content_type)


def item(n: int, source: str = "example") -> dict[str, Any]:
    p = page(n, source=source, hints={"discovered_via": "feed"})
    return {
        "kind": "page",
        "url": p.url,
        "final_url": p.final_url,
        "status": p.status,
        "headers": p.headers,
        "body": p.body,
        "fetched_at": p.fetched_at,
        "source": p.source,
        "hints": p.hints,
    }


class Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, key: str, count: int = 1) -> None:
        self.values[key] = self.values.get(key, 0) + count


# A crawl reject as the spider yields it.
FAILURE = {
    "kind": "failure",
    "url": "https://example.com/x",
    "source": "example",
    "reason": "fetch_failed",
    "detail": "timeout",
    "fetched_at": "2026-11-20T08:00:00Z",
}


def pipeline_for(
    store: LocalStore, max_records: int, patience: float = 0.0
) -> tuple[RawZonePipeline, SimpleNamespace]:
    state = FetchState("example")
    state.update("https://example.com/news/1", fetched_at="2026-11-20T08:00:01Z", sha256="x", status=200)
    crawler = SimpleNamespace(stats=Stats(), spider=SimpleNamespace(fetch_state=state))
    pipeline = RawZonePipeline(store.url, "run1", max_records, crawler, patience=patience)
    pipeline.store = pipeline.writer.store = store
    return pipeline, crawler


def test_pages_arriving_during_an_upload_are_neither_lost_nor_torn(tmp_path: Path) -> None:
    store = SlowStore(tmp_path / "store")
    pipeline, _ = pipeline_for(store, max_records=3)

    async def crawl() -> None:
        # Items of different responses are processed concurrently, as Scrapy does.
        await asyncio.gather(*(pipeline.process_item(item(n)) for n in range(40)))
        await pipeline.close_spider()

    asyncio.run(crawl())
    back = read_all(store)
    urls = [p.url for pages in back.values() for p in pages]
    assert sorted(urls) == sorted(page(n).url for n in range(40))
    assert all(len(pages) <= 3 for pages in back.values())
    manifest = json.loads(store.get(layout.crawl_manifest_key("run1", "example")))
    assert sum(e["records"] for e in manifest["warc"]) == 40 and manifest["unpublished"] == []


def test_a_failed_upload_is_retried_with_the_next_file(tmp_path: Path) -> None:
    store = FlakyStore(tmp_path / "store")
    pipeline, crawler = pipeline_for(store, max_records=2)

    async def crawl() -> None:
        for n in range(2):
            await pipeline.process_item(item(n))
        store.down = False  # the outage ends
        for n in range(2, 5):
            await pipeline.process_item(item(n))
        await pipeline.close_spider()

    asyncio.run(crawl())
    urls = sorted(p.url for pages in read_all(store).values() for p in pages)
    assert urls == sorted(page(n).url for n in range(5))
    assert crawler.stats.values == {"cleanwire/raw_publish_failed": 1}
    assert crawler.spider.fetch_state is not None  # everything published: the state may be saved


def test_at_close_the_store_gets_time_to_come_back(tmp_path: Path) -> None:
    # Down for the publication at close and its first two retries: then back.
    store = FlakyStore(tmp_path / "store", failures=3)
    pipeline, crawler = pipeline_for(store, max_records=10, patience=30)
    pipeline.retry_delays = (0.1, 0.2, 0.4)
    failure = dict(FAILURE)

    async def crawl() -> None:
        await pipeline.process_item(dict(failure))
        for n in range(3):
            await pipeline.process_item(item(n))
        await pipeline.close_spider()

    started = time.monotonic()
    asyncio.run(crawl())
    assert 0.7 <= time.monotonic() - started < 5
    assert sorted(p.url for pages in read_all(store).values() for p in pages) == [
        page(n).url for n in range(3)
    ]
    assert crawler.spider.fetch_state is not None
    assert store.exists(layout.rejects_key("example", "2026-11-20", "run1-crawl"))
    assert json.loads(store.get(layout.crawl_manifest_key("run1", "example")))["unpublished"] == []


def test_pages_that_cannot_be_published_are_fetched_again_next_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore(tmp_path / "store")
    pipeline, crawler = pipeline_for(store, max_records=2)

    async def crawl() -> None:
        for n in range(3):
            await pipeline.process_item(item(n))
        await pipeline.close_spider()

    with caplog.at_level(logging.ERROR, logger="pipelines.raw_zone"):
        asyncio.run(crawl())
    assert not list(store.list("raw/"))
    assert store.attempts == 3  # the first file at rolling and again at close, the second at close
    # The crawl says so (an error: exit code 1) and does not save this run's fetch state.
    assert any(
        "could not be published" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR
    )
    assert crawler.spider.fetch_state is None
    assert crawler.stats.values["cleanwire/raw_unpublished_records"] == 3
    manifest = json.loads(store.get(layout.crawl_manifest_key("run1", "example")))
    assert manifest["warc"] == [] and sum(u["records"] for u in manifest["unpublished"]) == 3
    # The pages are kept on local disk for an operator.
    kept = [Path(u["path"]) for u in manifest["unpublished"]]
    assert all(p.is_file() for p in kept)
    urls = []
    for path in kept:
        with path.open("rb") as fh:
            urls += [p.url for p in iter_raw_pages(fh)]
    assert sorted(urls) == [page(n).url for n in range(3)]
    shutil.rmtree(pipeline.writer.tmpdir)


def test_a_page_that_cannot_be_written_locally_keeps_the_old_fetch_state(tmp_path: Path) -> None:
    pipeline, crawler = pipeline_for(LocalStore(tmp_path / "store"), max_records=10)

    def disk_full(page: RawPage) -> tuple[str, str] | None:
        raise OSError(28, "No space left on device")

    async def crawl() -> None:
        await pipeline.process_item(item(1))
        pipeline.writer.write = disk_full  # type: ignore[method-assign]  # the local disk fills up mid-crawl
        await pipeline.process_item(item(2))
        await pipeline.close_spider()

    asyncio.run(crawl())
    assert crawler.stats.values == {"cleanwire/raw_write_failed": 1}
    assert crawler.spider.fetch_state is None


def test_failure_items_become_crawl_rejects(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    pipeline, _ = pipeline_for(store, max_records=10)
    failure = dict(FAILURE)

    async def crawl() -> None:
        await pipeline.process_item(dict(failure))
        await pipeline.process_item(item(1))
        await pipeline.close_spider()

    asyncio.run(crawl())
    rejects = store.get(layout.rejects_key("example", "2026-11-20", "run1-crawl")).decode().splitlines()
    assert [json.loads(line) for line in rejects] == [failure]
    manifest = json.loads(store.get(layout.crawl_manifest_key("run1", "example")))
    assert manifest["failures"] == 1 and [e["records"] for e in manifest["warc"]] == [1]


# -- spooling and the compressor process ----------------------------------------------------------


def test_spool_round_trip_and_a_cut_spool_is_an_error(tmp_path: Path) -> None:
    pages = [page(n, hints={"discovered_via": "sitemap"}, headers={"x-odd": "é, \u00ff"}) for n in range(3)]
    pages.append(page(9, body=bytes(range(256)) * 40, status=404))
    spool = tmp_path / "x.spool"
    with spool.open("wb") as fh:
        for p in pages:
            fh.write(raw_zone._spool_entry(p))
            fh.write(p.body)
    with spool.open("rb") as fh:
        assert list(raw_zone.read_spool(fh)) == pages
    data = spool.read_bytes()
    spool.write_bytes(data[:-10])
    with spool.open("rb") as fh, pytest.raises(ValueError, match="cut short"):
        list(raw_zone.read_spool(fh))
    spool.write_bytes(b"not json\n" + data)
    with spool.open("rb") as fh, pytest.raises(ValueError, match="corrupt spool entry at byte 0"):
        list(raw_zone.read_spool(fh))


def spooled_writer(store: LocalStore, monkeypatch: pytest.MonkeyPatch, **kwargs: Any) -> RawWarcWriter:
    monkeypatch.setattr(raw_zone, "CHUNK_PAGES", 3)
    return RawWarcWriter(store, "run1", spool=True, **kwargs)


@pytest.mark.parametrize("with_process", [True, False])
def test_spooled_pages_make_the_same_warc_as_direct_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_process: bool
) -> None:
    pages = [page(n, hints={"discovered_via": "feed"}) for n in range(10)]
    direct = RawWarcWriter(LocalStore(tmp_path / "direct"), "run1", max_records=7)
    compressor = raw_zone.WarcCompressor() if with_process else None
    spooled = spooled_writer(
        LocalStore(tmp_path / "spooled"),
        monkeypatch,
        max_records=7,
        compressor=(lambda: compressor) if compressor else None,
    )
    for writer in (direct, spooled):
        for p in pages:
            full = writer.write(p)
            if full is not None:
                writer.finish(*full)
        writer.finish_all()
    if compressor is not None:
        compressor.close()
        assert spooled.stats["compressor_died"] == 0
    assert [(e["key"], e["records"]) for e in spooled.published] == [(e["key"], e["records"]) for e in direct.published]

    def contents(store: Any) -> dict[str, list[RawPage]]:
        # Offsets differ by the random record ids' compression, nothing else.
        return {k: [dataclasses.replace(p, raw_offset=0) for p in v] for k, v in read_all(store).items()}

    assert contents(spooled.store) == contents(direct.store)
    assert not list(spooled.tmpdir.parent.glob(f"{spooled.tmpdir.name}/*"))  # chunks and spools removed


def test_a_compressor_killed_mid_crawl_loses_no_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raw_zone, "CHUNK_PAGES", 2)
    store = LocalStore(tmp_path / "store")
    pipeline, crawler = pipeline_for(store, max_records=9)
    first = raw_zone.shared_compressor()

    async def crawl() -> None:
        for n in range(5):
            await pipeline.process_item(item(n))
        first.kill()  # an OOM kill, say: its chunks are compressed in the crawl process
        for n in range(5, 20):
            await pipeline.process_item(item(n))
        await pipeline.close_spider()

    asyncio.run(crawl())
    urls = sorted(p.url for pages in read_all(store).values() for p in pages)
    assert urls == sorted(page(n).url for n in range(20))
    assert crawler.stats.values["cleanwire/raw_compressor_died"] >= 1
    assert raw_zone.shared_compressor() is not first  # a new one took over
    assert crawler.spider.fetch_state is not None


def test_a_chunk_that_cannot_be_compressed_keeps_the_old_fetch_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(raw_zone, "CHUNK_PAGES", 2)
    store = LocalStore(tmp_path / "store")
    pipeline, crawler = pipeline_for(store, max_records=4)
    pipeline.writer.compressor = None  # compressed at sealing, so the spool can be spoilt before

    async def crawl() -> None:
        for n in range(2):
            await pipeline.process_item(item(n))
        for spool in pipeline.writer.tmpdir.glob("*.spool"):
            spool.write_bytes(b"{broken\n")  # the local disk corrupted it
        for n in range(2, 6):
            await pipeline.process_item(item(n))
        await pipeline.close_spider()

    with caplog.at_level(logging.ERROR, logger="pipelines.raw_zone"):
        asyncio.run(crawl())
    assert any("could not write the WARC file of 4 pages" in r.getMessage() for r in caplog.records)
    assert crawler.stats.values["cleanwire/raw_write_failed"] == 1
    assert crawler.spider.fetch_state is None  # those pages are fetched again next time
    # The other file is complete and published.
    assert sorted(p.url for pages in read_all(store).values() for p in pages) == [page(4).url, page(5).url]


def test_the_compressor_reports_errors_and_goes_on(tmp_path: Path) -> None:
    compressor = raw_zone.WarcCompressor()
    try:
        good = tmp_path / "good.spool"
        good.write_bytes(raw_zone._spool_entry(page(1)) + page(1).body)
        compressor.submit(tmp_path / "missing.spool", tmp_path / "missing.warc.gz")
        compressor.submit(good, tmp_path / "good.warc.gz")
        assert compressor.result(good) == 1  # results are matched to their job, whatever the order asked
        with pytest.raises(ValueError, match="FileNotFoundError"):
            compressor.result(tmp_path / "missing.spool")
        with (tmp_path / "good.warc.gz").open("rb") as fh:
            assert [p.url for p in iter_raw_pages(fh)] == [page(1).url]
    finally:
        compressor.close()
    assert not compressor.alive
    with pytest.raises(raw_zone.CompressorDied):
        compressor.submit(good, tmp_path / "again.warc.gz")
