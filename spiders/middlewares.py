"""Downloader middleware: the SSRF guard. Every request a spider sends, redirect and meta-refresh hops
included, is refused unless its host resolves only to public addresses.

A spider opts out with ``allow_private = True`` (``SourceSpider`` sets it from the source's
``allow_private_network`` or from seeds that are themselves on a private network). Hosts pinned by
``CLEANWIRE_HOSTS_OVERRIDE`` are the operator's own decision and are not checked.

Names are resolved through the reactor's installed resolver, the one the download itself uses, so the
address checked is the address connected to (the resolver caches it) and resolution never blocks the
reactor (Scrapy's resolver runs lookups in a thread). A name that does not resolve is let through: the
download then fails with its own DNS error, which the spider records.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.reactor import is_reactor_installed
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IResolutionReceiver
from zope.interface import implementer

from spiders.network import address_problem, is_ip_literal, literal_host_problem
from spiders.resolver import pinned_hosts

logger = logging.getLogger(__name__)


class BlockedByPolicy(IgnoreRequest):
    """A request refused by the crawl's own policy; the message is the reject's detail."""


@implementer(IResolutionReceiver)
class _AddressCollector:
    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.done: Deferred[list[str]] = Deferred()

    def resolutionBegan(self, resolution: Any) -> None:
        pass

    def addressResolved(self, address: Any) -> None:
        self.addresses.append(str(address.host))

    def resolutionComplete(self) -> None:
        self.done.callback(self.addresses)


class PrivateNetworkGuard:
    def __init__(self, crawler: Any, pinned: frozenset[str]):
        self.crawler = crawler
        self.pinned = pinned

    @classmethod
    def from_crawler(cls, crawler: Any) -> PrivateNetworkGuard:
        if not crawler.settings.getbool("CLEANWIRE_PRIVATE_NETWORK_GUARD", True):
            raise NotConfigured("CLEANWIRE_PRIVATE_NETWORK_GUARD is off")
        return cls(crawler, frozenset(pinned_hosts(crawler.settings)))

    async def process_request(self, request: Request) -> None:
        if getattr(self.crawler.spider, "allow_private", False):
            return
        host = (urlparse_cached(request).hostname or "").lower().rstrip(".")
        if host in self.pinned:
            return
        problem = literal_host_problem(host)
        if problem is None and not is_ip_literal(host):
            addresses = await self._resolve(host)
            problem = next((f"{host} resolves to {p}" for a in addresses if (p := address_problem(a))), None)
        if problem is not None:
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("cleanwire/private_network_refused")
            logger.info("refused %s: %s", request.url, problem)
            raise BlockedByPolicy(f"private network (SSRF guard): {problem}")

    async def _resolve(self, host: str) -> list[str]:
        """Every address the crawl's resolver gives for ``host`` (empty when it does not resolve)."""
        if not is_reactor_installed():
            # Reactorless mode: downloads resolve through asyncio, so the guard does too.
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError:
                return []
            return [str(info[4][0]) for info in infos]
        from twisted.internet import reactor

        receiver = _AddressCollector()
        reactor.nameResolver.resolveHostName(receiver, host)
        return await maybe_deferred_to_future(receiver.done)
