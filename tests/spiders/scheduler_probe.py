"""A Scrapy extension for crawl tests: records the most requests Scrapy's scheduler held at once and every
request that reached the downloader, and writes them as JSON to ``CLEANWIRE_TEST_PROBE_OUT`` when the
spider closes. Installed through the ``EXTENSIONS`` setting of a ``python -m spiders.run`` crawl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scrapy import Request, signals
from scrapy.exceptions import NotConfigured


class SchedulerProbe:
    def __init__(self, crawler: Any, out: str):
        self.crawler = crawler
        self.out = Path(out)
        self.max_scheduled = 0
        self.downloaded: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Any) -> SchedulerProbe:
        out = crawler.settings.get("CLEANWIRE_TEST_PROBE_OUT")
        if not out:
            raise NotConfigured("no CLEANWIRE_TEST_PROBE_OUT")
        probe = cls(crawler, out)
        crawler.signals.connect(probe.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(probe.request_reached_downloader, signal=signals.request_reached_downloader)
        crawler.signals.connect(probe.spider_closed, signal=signals.spider_closed)
        return probe

    def request_scheduled(self, request: Request) -> None:
        # Sent before the request is enqueued: the scheduler then holds what it held, plus this one.
        scheduler = self.crawler.engine.scheduler
        self.max_scheduled = max(self.max_scheduled, len(scheduler) + 1)

    def request_reached_downloader(self, request: Request) -> None:
        self.downloaded.append(request.url)

    def spider_closed(self, reason: str) -> None:
        self.out.write_text(
            json.dumps({"max_scheduled": self.max_scheduled, "downloaded": self.downloaded, "reason": reason})
        )
