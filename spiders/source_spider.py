"""The generic source spider: discovers articles through feeds, sitemaps, link-following and URL
lists, and yields raw pages (never transformed) for the raw zone.

Every URL it decides not to fetch or fails to fetch is yielded as a ``failure`` item with a reason,
so the crawl report and the rejects prefix account for it.
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache, partial
from typing import Any
from urllib.parse import urljoin, urlsplit

import scrapy
from scrapy import signals
from scrapy.http import Request, Response, TextResponse
from scrapy.spidermiddlewares.referer import RefererMiddleware
from twisted.python.failure import Failure

from cleaning.fetch_state import FetchState
from cleaning.records import RejectReason
from cleaning.urls import canonicalize, strip_tracking
from spiders.discovery import DiscoveryError, Entry, Sitemap, parse_feed, read_sitemap
from spiders.failures import classify_failure
from spiders.network import literal_host_problem
from spiders.sources import Source

logger = logging.getLogger(__name__)

# Article responses of every status reach parse_article (a 404 or 503 is stored and rejected at clean
# time with its status) except redirects, which RedirectMiddleware must see to follow them:
# ``handle_httpstatus_all`` would hand the 301 itself to the callback.
_NOT_REDIRECTS = tuple(s for s in range(100, 600) if s not in (301, 302, 303, 307, 308))


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class _Origin:
    """The discovery document a queued entry came from: what Scrapy's spider middleware gives a request
    yielded by that document's callback, given here to the request made later from ``start()`` (see
    there): the base for relative URLs, the depth (DepthMiddleware) and the Referer (RefererMiddleware,
    with the document's referrer policy)."""

    base_url: str
    depth: int
    referrer: Callable[[str], str | None] | None

    def request_fields(self, url: str) -> tuple[dict[str, str], dict[str, Any]]:
        """Headers and meta for a request to ``url`` made from this document."""
        referrer = self.referrer(url) if self.referrer else None
        return ({"Referer": referrer} if referrer else {}), {"depth": self.depth}


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
        # Bound once: Scrapy checks each callback's source (for a generator returning a value) and caches
        # the answer weakly by callback object; a bound method made per request missed that cache and
        # re-parsed this module's source on every page (~0.3 ms of the crawl's thread per page).
        self._article_callback = self.parse_article
        self._article_errback = self.fetch_failed
        # What discovery found and start() has not yet turned into requests: one lazy stream of outputs
        # (requests, failure items) per discovery document. See start().
        self._streams: deque[Iterator[Any]] = deque()
        self.fetch_state: FetchState | None = None  # set by pipelines.fetch_state.FetchStateExtension
        self.started_at = datetime.now(UTC)
        # A source whose own seed URLs are private (a LAN site, a local test server) may stay there;
        # otherwise private/loopback targets are refused (SSRF guard) unless explicitly allowed.
        seeds = [*source.feeds, *source.sitemaps, *source.start_urls, *source.urls]
        # The downloader middleware spiders.middlewares.PrivateNetworkGuard reads this attribute.
        self.allow_private = source.allow_private_network or all(
            literal_host_problem(urlsplit(u).hostname or "") is not None for u in seeds
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
        """The early, literal check of a discovered URL (no request is made for a refused one); names
        that resolve to private addresses are refused later, by the guard middleware."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return f"scheme {parts.scheme!r} not fetched"
        problem = _host_problem(parts.hostname or "")
        if problem == "no host":
            return problem
        if problem is not None and not self.allow_private:
            return f"private network (SSRF guard): {problem}"
        return None

    def _absolute(self, base_url: str, url: str) -> tuple[str, str] | dict[str, Any]:
        """``url`` made absolute against a document's base URL, and its canonical form; or the failure
        item of a URL that cannot be."""
        try:
            joined = urljoin(base_url, url.strip())
            # canonicalize raises on what cannot be requested either (a bad port, a broken IPv6 literal)
            canonical = canonicalize(joined)
        except ValueError as exc:
            return self._failure(url, RejectReason.BLOCKED_BY_POLICY, f"malformed URL: {exc}")
        return joined, canonical

    def article_request(
        self,
        url: str,
        hints: dict[str, str],
        origin: _Origin | None = None,
        canonical: str | None = None,
        follow: int = 0,
    ) -> Iterator[Any]:
        """The request for a discovered article, or its other outcome (a duplicate or filtered count, a
        failure item). ``canonical``: ``canonicalize(url)`` when the caller has it already. ``follow``:
        how many more levels of links to follow from the fetched page (``follow_depth`` from a start URL)."""
        if canonical is None:
            try:
                canonical = canonicalize(url)
            except ValueError as exc:
                yield self._failure(url, RejectReason.BLOCKED_BY_POLICY, f"malformed URL: {exc}")
                return
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
        headers = self._conditional_headers(canonical)
        meta: dict[str, object] = {
            "handle_httpstatus_list": _NOT_REDIRECTS,
            "cw_hints": hints,
            "cw_url": url,
            "cw_canonical": canonical,
        }
        if follow > 0:
            meta["cw_follow"] = follow
        if origin is not None:
            extra_headers, extra_meta = origin.request_fields(url)
            headers.update(extra_headers)
            meta.update(extra_meta)
        try:
            # dont_filter: the canonical-URL set above is the dedup; Scrapy's fingerprint filter would
            # drop a redirect hop back to a seen URL (a loop, or a redirect to a URL fetched directly)
            # silently, without the errback, and so without a reject.
            request = Request(
                url,
                callback=self._article_callback,
                errback=self._article_errback,
                headers=headers,
                dont_filter=True,
                meta=meta,
            )
        except ValueError as exc:
            yield self._failure(url, RejectReason.BLOCKED_BY_POLICY, f"malformed URL: {exc}")
            return
        self.scheduled += 1
        self._count("discovered")
        yield request

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

    @staticmethod
    def _canonical(response: Response) -> str:
        # Not ``meta.get(key, canonicalize(...))``: that would canonicalize every response's URL for nothing.
        return response.meta.get("cw_canonical") or canonicalize(response.url)

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

    def discovery_request(
        self, url: str, callback: Any, depth: int = 0, origin: _Origin | None = None
    ) -> Request:
        """Feeds and sitemaps: conditional when only what changed is wanted (scheduled runs)."""
        canonical = canonicalize(url)
        headers = self._conditional_headers(canonical) if self.skip_unchanged else {}
        meta: dict[str, Any] = {"cw_canonical": canonical, "cw_url": url, "cw_sitemap_depth": depth,
                                "handle_httpstatus_list": [304]}
        if origin is not None:
            extra_headers, extra_meta = origin.request_fields(url)
            headers.update(extra_headers)
            meta.update(extra_meta)
        return Request(url, callback=callback, errback=self.discovery_failed, dont_filter=True, headers=headers,
                       meta=meta)

    def _discovery_body(self, response: Response) -> bytes | None:
        """The body of a discovery document, or None when it has not changed (304)."""
        outcome = self._record_response(self._canonical(response), response, {})
        if outcome == "not-modified":
            self._count("not_modified/discovery")
            return None
        return response.body

    def _origin(self, response: Response) -> _Origin:
        referer = self.crawler.get_spider_middleware(RefererMiddleware)
        # The policy as RefererMiddleware picks it for a request yielded from this response (its
        # Referrer-Policy header, else the REFERRER_POLICY setting); bound now, so the response is not kept.
        request = response.request
        policy = referer.policy(response, request) if referer is not None and request is not None else None
        return _Origin(
            base_url=response.urljoin(""),  # the URL relative links resolve against (<base href> included)
            depth=int(response.meta.get("depth", 0)) + 1,
            referrer=partial(policy.referrer, response.url) if policy is not None else None,
        )

    # -- feeding requests to Scrapy ------------------------------------------------------------

    async def start(self) -> AsyncIterator[Any]:
        """The seed requests, then every discovered entry's outcome, made only as Scrapy has room for it.

        Discovery callbacks do not yield their entries' requests: a sitemap of 20,000 URLs would put
        20,000 Request objects (about 3 kB each) in the scheduler at once, and the crawl's memory would
        grow with the site. A callback checks its document and queues a lazy stream of the document's
        outputs (``self._streams``); this generator, which Scrapy consumes lazily, pulls from the streams
        and waits while the engine needs to back out (Scrapy's documented lazy start pattern), so the
        scheduler holds a request or so and the downloader its concurrency's worth. The newest stream goes
        first: a child sitemap's pages are requested before its index's next child.

        start() ends when no stream is left and nothing is scheduled, downloading or being handled,
        which is when no callback can queue another stream; Scrapy then closes the spider as usual.
        """
        src = self.source
        for url in src.feeds:
            yield self.discovery_request(url, self.parse_feed)
        for url in src.sitemaps:
            self.seen.add(canonicalize(url))  # an index that lists a seed sitemap does not fetch it again
            yield self.discovery_request(url, self.parse_sitemap)
        for url in src.start_urls:
            self.seen.add(canonicalize(url))  # a page linking back here does not fetch it as an article
            yield Request(
                url,
                callback=self.parse_listing,
                errback=self.discovery_failed,
                meta={"cw_depth": src.follow_depth},
                dont_filter=True,
            )
        if src.urls:
            self._streams.append(self._url_list_outputs(src.urls))
        engine = self.crawler.engine
        assert engine is not None
        while True:
            if not self._streams:
                if not self._engine_busy():
                    return
                await self.crawler.signals.wait_for(signals.scheduler_empty)
                continue
            stream = self._streams[-1]
            try:
                out = next(stream)
            except StopIteration:
                self._streams.remove(stream)
                continue
            except Exception:
                # A bug in one document's stream: log it (an error, so the crawl reports a problem) and
                # go on with the others, as Scrapy does with a callback that raises.
                logger.exception("%s: discovery stream failed", self.source.name)
                self._streams.remove(stream)
                continue
            if isinstance(out, Request) and engine.needs_backout():
                await self.crawler.signals.wait_for(signals.scheduler_empty)
            yield out

    def _engine_busy(self) -> bool:
        """Whether a request is scheduled or downloading, or a response or item being handled: Scrapy's
        ``spider_is_idle()`` without its test of whether start() is done, start() being what asks."""
        engine = self.crawler.engine
        assert engine is not None
        scheduler = engine.scheduler
        slot = engine.scraper.slot
        return (
            bool(engine.downloader.active)
            or (scheduler is not None and scheduler.has_pending_requests())
            or (slot is not None and not slot.is_idle())
        )

    def _url_list_outputs(self, urls: Iterable[str]) -> Iterator[Any]:
        for url in urls:
            yield from self.article_request(url, {"discovered_via": "url-list"})

    # -- discovery -----------------------------------------------------------------------------

    def parse_feed(self, response: Response) -> Iterator[Any]:
        body = self._discovery_body(response)
        if body is None:
            return
        try:
            entries = parse_feed(body, self.settings.getint("DOWNLOAD_MAXSIZE"))
        except DiscoveryError as exc:
            yield self._discovery_rejected(response, f"feed: {exc}", exc.reason)
            return
        self._count("feeds")
        self._streams.append(self._feed_outputs(entries, self._origin(response)))

    def _feed_outputs(self, entries: list[Entry], origin: _Origin) -> Iterator[Any]:
        for entry in entries:
            if not self.in_window(entry.date):
                self._count("filtered/outside_window")
                continue
            absolute = self._absolute(origin.base_url, entry.url)
            if isinstance(absolute, dict):
                yield absolute
                continue
            url, canonical = absolute
            yield from self.article_request(url, self._entry_hints(entry, "feed"), origin, canonical)

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        body = self._discovery_body(response)
        if body is None:
            return
        try:
            sitemap = read_sitemap(body, self.settings.getint("DOWNLOAD_MAXSIZE"))
        except DiscoveryError as exc:
            yield self._discovery_rejected(response, f"sitemap: {exc}", exc.reason)
            return
        self._count("sitemaps")
        depth = int(response.meta.get("cw_sitemap_depth", 0))
        url = response.meta.get("cw_url") or response.url
        self._streams.append(self._sitemap_outputs(sitemap, depth, url, self._origin(response)))

    def _sitemap_outputs(self, sitemap: Sitemap, depth: int, url: str, origin: _Origin) -> Iterator[Any]:
        """The outcome of each entry of a checked sitemap, parsing it as they are pulled."""
        entries = sitemap.entries()
        while True:
            try:
                entry = next(entries, None)
            except DiscoveryError as exc:
                # read_sitemap parsed the same bytes whole with the same parser: not expected. What was
                # pulled so far stands; the document gets its reject.
                logger.warning("discovery document refused: %s: sitemap: %s", url, exc)
                self._count("discovery_failed")
                yield self._failure(url, exc.reason, f"sitemap: {exc}")
                return
            if entry is None:
                return
            absolute = self._absolute(origin.base_url, entry.url)
            if isinstance(absolute, dict):
                yield absolute
                continue
            entry_url, canonical = absolute
            if entry.kind == "sitemap":
                yield from self._child_sitemap(entry_url, entry, depth + 1, origin)
                continue
            if not self.in_window(entry.date):
                self._count("filtered/outside_window")
                continue
            yield from self.article_request(entry_url, self._entry_hints(entry, "sitemap"), origin, canonical)

    def _child_sitemap(self, url: str, entry: Entry, depth: int, origin: _Origin) -> Iterator[Any]:
        # A child sitemap last modified before the window cannot list anything new.
        if self.since and entry.date and entry.date.date() < self.since:
            self._count("filtered/sitemap_before_window")
            return
        canonical = canonicalize(url)
        if canonical in self.seen:
            self._count("duplicate_urls")  # an index listing itself or a sibling twice
            return
        self.seen.add(canonical)
        problem = self._policy_problem(url)
        if problem:
            yield self._failure(url, RejectReason.BLOCKED_BY_POLICY, f"sitemap: {problem}")
            return
        # Nesting is bounded: a site can generate index after index forever. Past the bound the child is
        # a reject, as it is before Scrapy's DEPTH_LIMIT would drop its pages without a trace (a sitemap
        # at depth d lists pages at depth d + 1; feeds and seed sitemaps are depth 0).
        limit = self.settings.getint("CLEANWIRE_SITEMAP_MAX_DEPTH", 3)
        depth_limit = self.settings.getint("DEPTH_LIMIT")
        if depth > limit or (depth_limit and depth + 1 > depth_limit):
            yield self._failure(url, RejectReason.BLOCKED_BY_POLICY,
                                f"sitemap: nested {depth} levels below a seed sitemap (limit {limit})")
            return
        yield self.discovery_request(url, self.parse_sitemap, depth, origin)

    def parse_listing(self, response: Response) -> Iterator[Any]:
        """A start URL: the pages it links to are articles, fetched once each; from those, links are
        followed on as long as ``follow_depth`` allows (``parse_article``)."""
        depth = int(response.meta.get("cw_depth", 1))
        for url in self._links(response):
            yield from self.article_request(url, {"discovered_via": "link"}, follow=depth - 1)

    def _links(self, response: Response) -> Iterator[str]:
        """The page's links to the same host that the source allows, in page order."""
        if not isinstance(response, TextResponse):
            return  # a PDF or an image has no links to follow
        host = urlsplit(response.url).hostname
        for href in response.css("a::attr(href)").getall():
            try:
                url = urljoin(response.url, href.strip())
                same_host = urlsplit(url).hostname == host
            except ValueError:
                continue  # a broken link on a page is not a discovered article
            if same_host and self.source.url_allowed(url):
                yield url

    # -- fetching ------------------------------------------------------------------------------

    def parse_article(self, response: Response) -> Iterator[Any]:
        hints = dict(response.meta.get("cw_hints", {}))
        outcome = self._record_response(self._canonical(response), response, hints)
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
        follow = int(response.meta.get("cw_follow", 0))
        if follow > 0 and 200 <= response.status < 300:
            for url in self._links(response):
                yield from self.article_request(url, {"discovered_via": "link"}, follow=follow - 1)

    def _request_failure(self, failure: Failure) -> tuple[str, RejectReason, str]:
        """The URL as discovered (a redirect hop's failure is the discovered URL's outcome), the
        reason, and the detail (naming the failing hop when it is not the discovered URL)."""
        request = failure.request  # type: ignore[attr-defined]
        url = request.meta.get("cw_url") or request.url
        reason, detail = classify_failure(failure, request, self.settings.getint("DOWNLOAD_MAXSIZE"))
        if request.url != url and request.url not in detail:
            detail = f"{detail} (at {request.url})"
        return url, reason, detail

    def fetch_failed(self, failure: Failure) -> Iterator[Any]:
        url, reason, detail = self._request_failure(failure)
        self._count("fetch_errors")
        yield self._failure(url, reason, detail)

    def discovery_failed(self, failure: Failure) -> Iterator[Any]:
        url, reason, detail = self._request_failure(failure)
        logger.warning("discovery document failed: %s: %s", url, detail)
        self._count("discovery_failed")
        yield self._failure(url, reason, f"discovery: {detail}")

    def _discovery_rejected(self, response: Response, detail: str, reason: RejectReason) -> dict[str, Any]:
        logger.warning("discovery document refused: %s: %s", response.url, detail)
        self._count("discovery_failed")
        return self._failure(response.meta.get("cw_url") or response.url, reason, detail)


@lru_cache(maxsize=1024)
def _host_problem(host: str) -> str | None:
    """``literal_host_problem``, remembered: a sitemap lists thousands of URLs on one host, and telling an
    IP literal from a name costs an ``ipaddress`` parse that fails."""
    return literal_host_problem(host)


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
