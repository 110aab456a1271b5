"""The crawl's DNS resolver: Scrapy's caching threaded resolver, plus operator-pinned host addresses.

``CLEANWIRE_HOSTS_OVERRIDE`` maps host names to IP addresses, like an ``/etc/hosts`` for the crawl alone
(``{"news.example.test": "127.0.0.1"}``): a source can be pinned to a mirror or a test server while its
URLs keep their public names. Pinned names are answered without a lookup and never cached, so the pin
cannot leak into or be displaced by the DNS cache. ``spiders.middlewares.PrivateNetworkGuard`` reads the
same setting: a pinned address is the operator's decision, not a DNS answer, so it is not second-guessed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer


def pinned_hosts(settings: Any) -> dict[str, str]:
    """``CLEANWIRE_HOSTS_OVERRIDE`` as lower-case host → validated IP address string."""
    raw: Mapping[str, Any] = settings.getdict("CLEANWIRE_HOSTS_OVERRIDE")
    pins = {}
    for host, address in raw.items():
        # A typo here would silently send a source's traffic elsewhere: fail at start-up instead.
        pins[str(host).lower().rstrip(".")] = str(ipaddress.ip_address(str(address)))
    return pins


class HostsOverrideResolver(CachingThreadedResolver):
    def __init__(self, reactor: Any, cache_size: int, timeout: float, pins: Mapping[str, str] | None = None):
        super().__init__(reactor, cache_size, timeout)
        self.pins = dict(pins or {})

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> HostsOverrideResolver:
        # ``crawler`` is the CrawlerProcess here (resolvers are built once per process): only its
        # settings are read, as Scrapy's own resolvers do.
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), pinned_hosts(settings))

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:
        pinned = self.pins.get(name.lower().rstrip("."))
        if pinned is not None:
            return defer.succeed(pinned)
        return super().getHostByName(name, timeout)
