"""Why a request failed, as a ``RejectReason`` and a detail: the one place where Scrapy's and Twisted's
exceptions are turned into reject records."""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionLost, ConnectionRefusedError, DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed
from twisted.web.http import PotentialDataLoss

from cleaning.records import RejectReason
from spiders.middlewares import BlockedByPolicy

_DETAIL_MAX = 500


def classify_failure(failure: Failure, request: Any = None, maxsize: int = 0) -> tuple[RejectReason, str]:
    """The reject reason and detail of a failed request. ``request`` (the failing hop) gives the redirect
    history for redirect failures; ``maxsize`` (DOWNLOAD_MAXSIZE) is named in size failures."""
    reason, detail = _classify(failure, request, maxsize)
    return reason, detail[:_DETAIL_MAX]


def _classify(failure: Failure, request: Any, maxsize: int) -> tuple[RejectReason, str]:
    message = failure.getErrorMessage()
    if failure.check(BlockedByPolicy):
        return RejectReason.BLOCKED_BY_POLICY, message
    if failure.check(HttpError):  # before IgnoreRequest, its base class
        response = getattr(failure.value, "response", None)
        status = getattr(response, "status", "?")
        if response is not None and 300 <= int(status) < 400:
            location = response.headers.get(b"Location")
            where = f" to {location.decode('latin-1')!r}" if location else " without a Location"
            return RejectReason.HTTP_STATUS, f"HTTP {status}: redirect not followed{where}"
        return RejectReason.HTTP_STATUS, f"HTTP {status}"
    if failure.check(IgnoreRequest):
        return _ignored(message, request)
    if failure.check(DownloadTimeoutError, TxTimeoutError, TCPTimedOutError):
        return RejectReason.FETCH_FAILED, f"timeout: {message}"
    if failure.check(DownloadCancelledError):
        # Scrapy cancels a download for one reason besides a timeout (reported as DownloadTimeoutError):
        # the body passed DOWNLOAD_MAXSIZE, announced (message says so) or while streaming (no message).
        cap = f" ({maxsize} bytes)" if maxsize else ""
        return RejectReason.TOO_LARGE, f"body over DOWNLOAD_MAXSIZE{cap}, download cancelled{': ' + message if message else ''}"
    if failure.check(ResponseDataLossError, PotentialDataLoss):
        return RejectReason.TRUNCATED, "connection closed before the announced body length (Content-Length or chunked end)"
    if failure.check(CannotResolveHostError, DNSLookupError):
        return RejectReason.FETCH_FAILED, f"DNS lookup failed: {message}"
    if failure.check(DownloadConnectionRefusedError, ConnectionRefusedError):
        return RejectReason.FETCH_FAILED, "connection refused"
    if failure.check(DownloadFailedError, ResponseFailed, ConnectionLost):
        return RejectReason.FETCH_FAILED, f"connection failed: {message}"
    return RejectReason.FETCH_FAILED, f"{getattr(failure.type, '__name__', 'error')}: {message}"


def _ignored(message: str, request: Any) -> tuple[RejectReason, str]:
    if "robots.txt" in message:
        return RejectReason.BLOCKED_BY_POLICY, "disallowed by robots.txt"
    if "DOWNLOAD_MAXSIZE" in message:  # HttpCompressionMiddleware: a compressed body that inflates past the cap
        return RejectReason.TOO_LARGE, f"decompressed body over DOWNLOAD_MAXSIZE: {message}"
    if "max redirections" in message:
        meta = getattr(request, "meta", {}) or {}
        hops = [*meta.get("redirect_urls", []), *([request.url] if request is not None else [])]
        if len(set(hops)) < len(hops):
            return RejectReason.FETCH_FAILED, f"redirect loop: {' -> '.join(_dedup_cycle(hops))}"
        return RejectReason.FETCH_FAILED, f"too many redirects ({len(hops)} hops): {' -> '.join(hops[:6])}"
    return RejectReason.BLOCKED_BY_POLICY, f"ignored: {message}"


def _dedup_cycle(hops: list[str]) -> list[str]:
    """The hops up to and including the first repeated URL: enough to see the loop."""
    seen: set[str] = set()
    out = []
    for hop in hops:
        out.append(hop)
        if hop in seen:
            break
        seen.add(hop)
    return out
