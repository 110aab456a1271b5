"""Downloader middleware: Scrapy's robots.txt middleware with RFC 9309's rule for a robots.txt that cannot
be had (section 2.3.1.4): a 5xx answer or a network failure (timeout, refused, truncated, over the size
cap, a redirect loop, a redirect into a private network) means complete disallow for that host. A 4xx
answer still means no rules, as in Scrapy.

Scrapy itself allows everything after such a failure and logs it as an ERROR, so one host with a
stalling robots.txt would both be crawled against its will and turn the run's exit code to 1. Here the
failure is a warning and a counter, and every URL of the host becomes a ``blocked_by_policy`` reject whose
detail says why.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from spiders.failures import classify_failure
from spiders.middlewares import BlockedByPolicy

logger = logging.getLogger(__name__)

_DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


class Rfc9309RobotsTxtMiddleware(RobotsTxtMiddleware):
    def __init__(self, crawler: Any):
        super().__init__(crawler)
        self.unreachable: dict[str, str] = {}  # netloc → why its robots.txt could not be had

    async def robot_parser(self, request: Request) -> Any:
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc not in self._parsers:
            self._parsers[netloc] = Deferred()
            robots_request = Request(
                f"{url.scheme}://{netloc}/robots.txt",
                priority=self.DOWNLOAD_PRIORITY,
                meta={"dont_obey_robotstxt": True},
                callback=NO_CALLBACK,
            )
            try:
                response = await self.crawler.engine.download_async(robots_request)
            except Exception as exc:  # every way the download can fail is the same case: unreachable
                _, detail = classify_failure(Failure(exc), robots_request,
                                             self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
                self._unreachable(netloc, detail)
            else:
                if response.status >= 500:
                    self._stats.inc_value("robotstxt/response_count")
                    self._stats.inc_value(f"robotstxt/response_status_count/{response.status}")
                    self._unreachable(netloc, f"HTTP {response.status}")
                else:
                    await self._parse_robots(response, netloc, request)
            self._stats.inc_value("robotstxt/request_count")
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            return await maybe_deferred_to_future(parser)
        return parser

    def _unreachable(self, netloc: str, detail: str) -> None:
        logger.warning("robots.txt of %s unreachable (%s): complete disallow (RFC 9309)", netloc, detail)
        self._stats.inc_value("cleanwire/robots_unreachable")
        self.unreachable[netloc] = detail
        parser = build_from_crawler(self._parserimpl, self.crawler, _DISALLOW_ALL)
        pending = self._parsers[netloc]
        self._parsers[netloc] = parser
        if isinstance(pending, Deferred):
            pending.callback(parser)

    def process_request_2(self, rp: Any, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            why = self.unreachable.get(urlparse_cached(request).netloc)
            if why is None:
                raise
            raise BlockedByPolicy(f"robots.txt unreachable ({why}): complete disallow (RFC 9309)") from None
