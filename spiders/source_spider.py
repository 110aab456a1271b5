"""The generic source spider: discovers articles through feeds, sitemaps, link-following and URL
lists, and yields raw pages (never transformed) for the raw zone.

Every URL it decides not to fetch or fails to fetch is yielded as a ``failure`` item with a reason,
so the crawl report and the rejects prefix account for it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from twisted.internet.error import ConnectionRefusedError, DNSLookupError, TCPTimedOutError, TimeoutError
from twisted.python.failure import Failure

from cleaning.fetch_state import FetchState
from cleaning.records import RejectReason
from cleaning.urls import canonicalize, strip_tracking
from spiders.discovery import DiscoveryError, Entry, parse_feed, parse_sitemap
from spiders.sources import Source

logger = logging.getLogger(__name__)


def _is_private_host(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class SourceSpider(scrapy.Spider):
    name = "source"

    def __init__(
        self,
        source: Source,
        since: date | None = None,
        until: date | None = None,
        max_pages: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=f"source-{source.name}", **kwargs)
        self.source = source
        self.since = since
        self.until = until
        self.max_pages = max_pages if max_pages is not None else source.max_pages
        self.scheduled = 0
        self.seen: set[str] = set()
        self.fetch_state: FetchState | None = None  # set by pipelines.fetch_state.FetchStateExtension
        self.started_at = datetime.now(UTC)
        # A source whose own seed URLs are private (a LAN site, a local test server) may stay there;
        # otherwise private/loopback targets are refused (SSRF guard) unless explicitly allowed.
        seeds = [*source.feeds, *source.sitemaps, *source.start_urls, *source.urls]
        self.allow_private = source.allow_private_network or all(
            _is_private_host(urlsplit(u).hostname or "") for u in seeds
        )

    # -- helpers -------------------------------------------------------------------------------

    def _count(self, key: str, n: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(f"cleanwire/{key}", n)

    def _failure(self, url: str, reason: RejectReason, detail: str) -> dict[str, Any]:
        self._count(f"rejected/{reason.value}")
        return {
            "kind": "failure",
            "url": url,
            "source": self.source.name,
            "reason": reason.value,
            "detail": detail,
            "fetched_at": now_iso(),
        }

    def in_window(self, when: datetime | None) -> bool:
        if self.since is None and self.until is None:
            return True
        if when is None:
            return False
        day = when.astimezone(UTC).date()
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

    def _policy_problem(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return f"scheme {parts.scheme!r} not fetched"
        if not self.allow_private and _is_private_host(parts.hostname or ""):
            return "private or loopback address from a public source (SSRF guard)"
        return None

    def article_request(self, url: str, hints: dict[str, str]) -> Iterator[Any]:
        canonical = canonicalize(url)
        if canonical in self.seen:
            self._count("duplicate_urls")
            return
        self.seen.add(canonical)
        if not self.source.url_allowed(url):
            self._count("filtered/not_allowed")
            return
        if self._unchanged_since_last_fetch(canonical, hints):
            self._count("unchanged_skipped")
            return
        if self.max_pages is not None and self.scheduled >= self.max_pages:
            self._count("filtered/max_pages")
            return
        problem = self._policy_problem(url)
        if problem:
            yield self._failure(url, RejectReason.BLOCKED_BY_POLICY, problem)
            return
        self.scheduled += 1
        self._count("discovered")
        yield Request(
            url,
            callback=self.parse_article,
            errback=self.fetch_failed,
            headers=self._conditional_headers(canonical),
            meta={"handle_httpstatus_all": True, "cw_hints": hints, "cw_url": url, "cw_canonical": canonical},
        )

    # -- incremental crawling ----------------------------------------------------------------------

    @property
    def skip_unchanged(self) -> bool:
        return self.settings.getbool("CLEANWIRE_SKIP_UNCHANGED", True)

    def _audit(self, canonical: str) -> bool:
        """A deterministic sample of URLs is fetched without validators, to catch servers whose
        ETag/Last-Modified do not change when the content does."""
        share = self.settings.getfloat("CLEANWIRE_AUDIT_SHARE", 0.05)
        run = self.settings.get("CLEANWIRE_RUN_ID", "")
        return int(hashlib.sha256(f"{run}|{canonical}".encode()).hexdigest()[:8], 16) % 10_000 < share * 10_000

    def _conditional_headers(self, canonical: str) -> dict[str, str]:
        state = self.fetch_state
        entry = state.get(canonical) if state else None
        if state is None or entry is None or state.distrust_validators or self._audit(canonical):
            return {}
        headers = {}
        if entry.etag:
            headers["If-None-Match"] = entry.etag
        if entry.last_modified:
            headers["If-Modified-Since"] = entry.last_modified
        return headers

    def _unchanged_since_last_fetch(self, canonical: str, hints: dict[str, str]) -> bool:
        """Discovery says the page has the same date as when it was last fetched, recently."""
        state = self.fetch_state
        if state is None or not self.skip_unchanged or "date" not in hints:
            return False
        entry = state.get(canonical)
        if entry is None or entry.lastmod != hints["date"] or entry.status != 200:
            return False
        revisit = self.settings.getfloat("CLEANWIRE_REVISIT_AFTER", 24 * 3600)
        return state.fetched_within(canonical, self.started_at, revisit)

    def _record_response(self, canonical: str, response: Response, hints: dict[str, str]) -> str:
        """Update the fetch state; returns "not-modified", "unchanged" (same bytes as last time),
        or "new"."""
        state = self.fetch_state
        if state is None:
            return "new"
        now = now_iso()
        if response.status == 304:
            state.update(canonical, fetched_at=now, lastmod=hints.get("date"))
            return "not-modified"
        if response.status != 200:
            state.update(canonical, fetched_at=now, status=response.status)
            return "new"
        entry = state.get(canonical)
        digest = hashlib.sha256(response.body).hexdigest()
        etag = _header(response, b"ETag")
        last_modified = _header(response, b"Last-Modified")
        outcome = "new"
        if entry is not None and entry.sha256 is not None:
            if entry.sha256 == digest:
                outcome = "unchanged"
            elif (etag and etag == entry.etag) or (last_modified and last_modified == entry.last_modified):
                # Changed content behind unchanged validators: stop trusting this server's.
                state.distrust_validators = True
                state.validator_failures += 1
                self._count("validators_wrong")
                logger.warning("%s: content changed behind unchanged validators at %s; conditional "
                               "requests are off for this source", self.source.name, response.url)
        state.update(canonical, fetched_at=now, etag=etag, last_modified=last_modified, sha256=digest,
                     lastmod=hints.get("date"), status=200)
        return outcome

    def _entry_hints(self, entry: Entry, via: str) -> dict[str, str]:
        hints = {"discovered_via": via}
        if entry.date:
            hints["date"] = entry.date.isoformat()
        if entry.title:
            hints["title"] = entry.title
        return hints

    # -- discovery -----------------------------------------------------------------------------

    def discovery_request(self, url: str, callback: Any) -> Request:
        """Feeds and sitemaps: conditional when only what changed is wanted (scheduled runs)."""
        canonical = canonicalize(url)
        headers = self._conditional_headers(canonical) if self.skip_unchanged else {}
        return Request(url, callback=callback, errback=self.discovery_failed, dont_filter=True, headers=headers,
                       meta={"cw_canonical": canonical, "handle_httpstatus_list": [304]})

    def _discovery_body(self, response: Response) -> bytes | None:
        """The body of a discovery document, or None when it has not changed (304)."""
        outcome = self._record_response(response.meta.get("cw_canonical", canonicalize(response.url)), response, {})
        if outcome == "not-modified":
            self._count("not_modified/discovery")
            return None
        return response.body

    async def start(self) -> AsyncIterator[Any]:
        src = self.source
        for url in src.feeds:
            yield self.discovery_request(url, self.parse_feed)
        for url in src.sitemaps:
            yield self.discovery_request(url, self.parse_sitemap)
        for url in src.start_urls:
            yield Request(
                url,
                callback=self.parse_listing,
                errback=self.discovery_failed,
                meta={"cw_depth": src.follow_depth},
                dont_filter=True,
            )
        for url in src.urls:
            for out in self.article_request(url, {"discovered_via": "url-list"}):
                yield out

    def parse_feed(self, response: Response) -> Iterator[Any]:
        body = self._discovery_body(response)
        if body is None:
            return
        try:
            entries = parse_feed(body)
        except DiscoveryError as exc:
            yield self._failure(response.url, RejectReason.FETCH_FAILED, f"feed: {exc}")
            return
        self._count("feeds")
        for entry in entries:
            if not self.in_window(entry.date):
                self._count("filtered/outside_window")
                continue
            yield from self.article_request(response.urljoin(entry.url), self._entry_hints(entry, "feed"))

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        body = self._discovery_body(response)
        if body is None:
            return
        try:
            entries = list(parse_sitemap(body, self.settings.getint("DOWNLOAD_MAXSIZE")))
        except DiscoveryError as exc:
            yield self._failure(response.url, RejectReason.FETCH_FAILED, f"sitemap: {exc}")
            return
        self._count("sitemaps")
        for entry in entries:
            url = response.urljoin(entry.url)
            if entry.kind == "sitemap":
                # A child sitemap last modified before the window cannot list anything new.
                if self.since and entry.date and entry.date.date() < self.since:
                    self._count("filtered/sitemap_before_window")
                    continue
                if self._policy_problem(url) is None and canonicalize(url) not in self.seen:
                    self.seen.add(canonicalize(url))
                    yield self.discovery_request(url, self.parse_sitemap)
                continue
            if not self.in_window(entry.date):
                self._count("filtered/outside_window")
                continue
            yield from self.article_request(url, self._entry_hints(entry, "sitemap"))

    def parse_listing(self, response: Response) -> Iterator[Any]:
        depth = int(response.meta.get("cw_depth", 1))
        host = urlsplit(response.url).hostname
        for href in response.css("a::attr(href)").getall():
            url = urljoin(response.url, href.strip())
            if urlsplit(url).hostname != host or not self.source.url_allowed(url):
                continue
            yield from self.article_request(url, {"discovered_via": "link"})
            if depth > 1 and canonicalize(url) not in self.seen:
                yield Request(url, callback=self.parse_listing, meta={"cw_depth": depth - 1})

    # -- fetching ------------------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Any]:
        hints = dict(response.meta.get("cw_hints", {}))
        outcome = self._record_response(response.meta.get("cw_canonical", canonicalize(response.url)), response, hints)
        if outcome == "not-modified":
            self._count("not_modified")
            return
        if outcome == "unchanged":
            self._count("unchanged_content")
            return
        self._count("fetched")
        self._count(f"status/{response.status}")
        requested = response.meta.get("cw_url") or response.url
        if requested != response.url:
            hints["requested_url"] = requested
        yield {
            "kind": "page",
            # The document's URL: where the article was found after redirects, without tracking.
            "url": strip_tracking(response.url),
            "final_url": response.url,
            "status": response.status,
            "headers": {
                k.decode("latin-1").lower(): b", ".join(v).decode("latin-1") for k, v in response.headers.items()
            },
            "body": response.body,
            "fetched_at": now_iso(),
            "source": self.source.name,
            "hints": hints,
        }

    def fetch_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        reason, detail = _classify(failure)
        yield self._failure(request.url, reason, detail)

    def discovery_failed(self, failure: Failure) -> Iterator[Any]:
        request = failure.request  # type: ignore[attr-defined]
        reason, detail = _classify(failure)
        logger.warning("discovery document failed: %s: %s", request.url, detail)
        self._count("discovery_failed")
        yield self._failure(request.url, reason, f"discovery: {detail}")


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _classify(failure: Failure) -> tuple[RejectReason, str]:
    if failure.check(IgnoreRequest):
        return RejectReason.BLOCKED_BY_POLICY, f"ignored: {failure.getErrorMessage() or 'robots.txt'}"
    if failure.check(TimeoutError, TCPTimedOutError):
        return RejectReason.FETCH_FAILED, "timeout"
    if failure.check(DNSLookupError):
        return RejectReason.FETCH_FAILED, "DNS lookup failed"
    if failure.check(ConnectionRefusedError):
        return RejectReason.FETCH_FAILED, "connection refused"
    return RejectReason.FETCH_FAILED, f"{getattr(failure.type, '__name__', 'error')}: {failure.getErrorMessage()}"[:500]
