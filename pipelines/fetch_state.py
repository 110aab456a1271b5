"""Scrapy extension: load each source's fetch state from the store when its spider opens, save it
when it closes. The spider reads and updates ``spider.fetch_state``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scrapy import Spider, signals

from cleaning.fetch_state import FetchState
from pipelines import layout
from pipelines.store import KeyNotFound, ObjectStore, open_store

logger = logging.getLogger(__name__)


def load_fetch_state(store: ObjectStore, source: str) -> FetchState:
    try:
        return FetchState.from_bytes(store.get(layout.fetch_state_key(source)), source)
    except KeyNotFound:
        return FetchState(source)
    except (ValueError, OSError, EOFError) as exc:
        logger.warning("fetch state of %s unreadable (%s): starting afresh", source, exc)
        return FetchState(source)


def save_fetch_state(store: ObjectStore, state: FetchState) -> None:
    store.put(layout.fetch_state_key(state.source), state.to_bytes(), "application/gzip")


class FetchStateExtension:
    def __init__(self, store: ObjectStore):
        self.store = store

    @classmethod
    def from_crawler(cls, crawler: Any) -> FetchStateExtension:
        from scrapy.exceptions import NotConfigured

        if not crawler.settings.getbool("CLEANWIRE_INCREMENTAL", True) or not crawler.settings.get("CLEANWIRE_STORE"):
            raise NotConfigured("incremental crawling is off")
        ext = cls(open_store(crawler.settings.get("CLEANWIRE_STORE")))
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    async def spider_opened(self, spider: Spider) -> None:
        source = getattr(spider, "source", None)
        if source is not None:
            spider.fetch_state = await asyncio.to_thread(load_fetch_state, self.store, source.name)  # type: ignore[attr-defined]

    async def spider_closed(self, spider: Spider) -> None:
        state = getattr(spider, "fetch_state", None)
        if state is not None:
            await asyncio.to_thread(save_fetch_state, self.store, state)
