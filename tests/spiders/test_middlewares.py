from __future__ import annotations

import asyncio
from typing import Any

import pytest
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.http import Request
from scrapy.utils.test import get_crawler
from twisted.internet.defer import Deferred

from spiders.middlewares import BlockedByPolicy, PrivateNetworkGuard
from spiders.resolver import HostsOverrideResolver, pinned_hosts


def _guard(allow_private: bool = False, **settings: Any) -> PrivateNetworkGuard:
    crawler = get_crawler(Spider, {"CLEANWIRE_HOSTS_OVERRIDE": {"news.example.test": "127.0.0.1"}, **settings})
    spider = Spider("test")
    spider.allow_private = allow_private  # type: ignore[attr-defined]
    crawler.spider = spider
    return PrivateNetworkGuard.from_crawler(crawler)


def _check(guard: PrivateNetworkGuard, url: str) -> None:
    asyncio.run(guard.process_request(Request(url)))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/a",
    "http://[::1]/a",
    "http://localhost/a",
    "http://10.0.0.1/a",
    "http://169.254.169.254/latest/meta-data/",
    "http://2130706433/a",  # resolves to 127.0.0.1 without DNS
    "http://127.1/a",
])
def test_private_targets_are_refused(url: str) -> None:
    with pytest.raises(BlockedByPolicy, match="SSRF guard"):
        _check(_guard(), url)


@pytest.mark.parametrize("url", ["http://93.184.216.34/a", "http://news.example.test:8080/a", "http://NEWS.example.test./a"])
def test_public_and_pinned_targets_pass(url: str) -> None:
    _check(_guard(), url)


def test_a_source_that_allows_its_private_network_passes() -> None:
    _check(_guard(allow_private=True), "http://127.0.0.1/a")


def test_the_guard_can_be_switched_off() -> None:
    with pytest.raises(NotConfigured):
        _guard(CLEANWIRE_PRIVATE_NETWORK_GUARD=False)


def test_pinned_hosts_are_validated_and_answered_without_a_lookup() -> None:
    crawler = get_crawler(Spider, {"CLEANWIRE_HOSTS_OVERRIDE": {"News.Example.Test": "127.0.0.1"}})
    assert pinned_hosts(crawler.settings) == {"news.example.test": "127.0.0.1"}
    resolver = HostsOverrideResolver(reactor=None, cache_size=0, timeout=1, pins=pinned_hosts(crawler.settings))
    answer: Deferred[str] = resolver.getHostByName("news.example.test.")
    assert answer.result == "127.0.0.1"
    with pytest.raises(ValueError):
        pinned_hosts(get_crawler(Spider, {"CLEANWIRE_HOSTS_OVERRIDE": {"x.test": "not-an-ip"}}).settings)
