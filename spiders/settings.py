"""Scrapy settings for cleanwire crawls: polite, bounded, quiet, no remote control."""

from __future__ import annotations

BOT_NAME = "cleanwire"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

USER_AGENT = "cleanwire/0.1 (+https://github.com/cleanwire/cleanwire; news archiving crawler)"
ROBOTSTXT_OBEY = True

# Politeness: AutoThrottle adapts the delay to each server's latency; a per-domain cap on top.
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.5
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4
DOWNLOAD_DELAY = 0.0

# Bounded fetches: a stalled server or a huge page cannot hold the crawl. DOWNLOAD_TIMEOUT bounds the
# whole transfer (connect, headers, body), so a server that trickles bytes is cut off too; each outcome
# is a reject: timeout → fetch_failed, over DOWNLOAD_MAXSIZE (announced, streamed, or inflated from
# Content-Encoding) → too_large, fewer bytes than announced → truncated (DOWNLOAD_FAIL_ON_DATALOSS keeps
# a short body from being stored as if it were the page).
DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DOWNLOAD_FAIL_ON_DATALOSS = True
DNS_TIMEOUT = 20
REDIRECT_MAX_TIMES = 5
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# A URL that still fails after its retries is a recorded reject (fetch_failed, truncated, …), not a
# crawl error: at Scrapy's default (ERROR) one bad server would make every run exit 1.
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"
DEPTH_LIMIT = 5
# Sitemap indexes nest at most this deep below a seed sitemap; deeper children are rejects.
CLEANWIRE_SITEMAP_MAX_DEPTH = 3

# SSRF guard: requests (and every redirect hop) to hosts that resolve to loopback, private, link-local
# or otherwise non-public addresses are refused, unless the source allows its private network. Before
# RobotsTxtMiddleware (100), so not even robots.txt is asked of a refused host.
DOWNLOADER_MIDDLEWARES = {
    "spiders.middlewares.PrivateNetworkGuard": 60,
    # robots.txt that cannot be had (5xx, timeout, …) means complete disallow (RFC 9309), not allow all.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "spiders.robots.Rfc9309RobotsTxtMiddleware": 100,
}
CLEANWIRE_PRIVATE_NETWORK_GUARD = True
# Host name → IP address pins for the crawl (an /etc/hosts of its own): {"news.example.org": "192.0.2.7"}.
# Pinned names are trusted by the SSRF guard: the operator chose the address.
TWISTED_DNS_RESOLVER = "spiders.resolver.HostsOverrideResolver"
CLEANWIRE_HOSTS_OVERRIDE: dict[str, str] = {}

# No local control endpoints in a batch crawler.
REMOTE_CONTROL_ENABLED = False
TELNETCONSOLE_ENABLED = False

COOKIES_ENABLED = False
HTTPCACHE_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"

ITEM_PIPELINES = {
    "pipelines.raw_zone.RawZonePipeline": 500,
}

# Raw zone: roll WARC files after this many records (and upload each finished file). The environment
# variable of the same name overrides it (an explicit --set wins).
CLEANWIRE_WARC_MAX_RECORDS = 500
# How long (seconds) a finished WARC file, crawl rejects and manifests keep being retried against an
# unavailable store before the crawl gives up (exit 1, fetch state not saved: the next crawl refetches).
CLEANWIRE_STORE_PATIENCE = 120.0

EXTENSIONS = {
    "pipelines.fetch_state.FetchStateExtension": 500,
}
# Incremental crawling (per-source state in the store): conditional requests with the validators of
# the last fetch; skip pages whose discovery date is unchanged since a fetch less than
# CLEANWIRE_REVISIT_AFTER seconds ago; fetch a share of candidates without validators to catch
# servers whose validators lie. Backfills turn CLEANWIRE_SKIP_UNCHANGED off.
CLEANWIRE_INCREMENTAL = True
CLEANWIRE_SKIP_UNCHANGED = True
CLEANWIRE_REVISIT_AFTER = 24 * 3600
CLEANWIRE_AUDIT_SHARE = 0.05
