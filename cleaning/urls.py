"""URL canonicalisation: one form per article, so that tracking variants are fetched once."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

# Query parameters that identify a campaign or a click, never the resource.
_TRACKING = re.compile(
    r"^(utm_[a-z]+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|_ga|_gl|"
    r"cmpid|cmp|ito|icid|ocid|ncid|sr_share|share|smid|mbid|ref|ref_src|referrer|source|spm|"
    r"at_medium|at_campaign|at_custom\d|wt\.mc_id|cid|s_cid|__twitter_impression|outputtype)$",
    re.IGNORECASE,
)
# AMP variants of an article: /amp/ path segment, trailing /amp, ?amp or ?amp=1, .amp.html
_AMP_PATH = re.compile(r"(/amp/?$)|(\.amp(?=\.html?$))")


def strip_tracking(url: str) -> str:
    """The URL without click/campaign parameters and fragment; path and parameter order kept.

    >>> strip_tracking("https://Example.org/a/?id=3&utm_source=rss#top")
    'https://example.org/a/?id=3'
    """
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, urlencode(query), ""))


def canonicalize(url: str) -> str:
    """Canonical form used for fetch-once and alias keys.

    Raises ValueError for what is not a usable URL (a bad port, a broken IPv6 literal): callers that
    take URLs from pages, feeds or sitemaps record those as rejects rather than crash.

    >>> canonicalize("HTTP://Example.org:80/a/b/?utm_source=x&id=3&fbclid=y#top")
    'http://example.org/a/b?id=3'
    >>> canonicalize("https://example.org/news/story/amp/")
    'https://example.org/news/story'
    >>> canonicalize("http://example.org:80:99/a")
    Traceback (most recent call last):
    ...
    ValueError: Port could not be cast to integer value as '80:99'
    """
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    query = [(k, v) for k, v in query if not (k.lower() == "amp" and v in ("", "1", "true"))]
    path = _AMP_PATH.sub("", parts.path) or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    netloc = parts.netloc.lower()
    if (parts.scheme.lower(), parts.port) in (("http", 80), ("https", 443)):
        netloc = netloc.rsplit(":", 1)[0]
    rebuilt = urlunsplit((parts.scheme.lower(), netloc, path, urlencode(query), ""))
    return canonicalize_url(rebuilt, keep_fragments=False)
