from __future__ import annotations

import pytest
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.python.failure import Failure

from cleaning.records import RejectReason
from spiders.failures import classify_failure
from spiders.middlewares import BlockedByPolicy

URL = "http://news.example.org/a"


def _failure(exc: BaseException) -> Failure:
    try:
        raise exc
    except BaseException:
        return Failure()


CASES = [
    (BlockedByPolicy("private network (SSRF guard): loopback address 127.0.0.1"), "blocked_by_policy", "SSRF guard"),
    (IgnoreRequest("Forbidden by robots.txt"), "blocked_by_policy", "robots.txt"),
    (IgnoreRequest("Ignored response <200 x> because its body (1 B compressed, 9 B decompressed so far) exceeded "
                   "DOWNLOAD_MAXSIZE (8 B) during decompression."), "too_large", "decompressed body"),
    (IgnoreRequest("something else"), "blocked_by_policy", "ignored: something else"),
    (HttpError(Response(URL, status=404), "Ignoring non-200 response"), "http_status", "HTTP 404"),
    (HttpError(Response(URL, status=302, headers={"Location": "file:///etc/passwd"}), "x"), "http_status",
     "redirect not followed to 'file:///etc/passwd'"),
    (HttpError(Response(URL, status=302), "x"), "http_status", "without a Location"),
    (DownloadTimeoutError(f"Getting {URL} took longer than 2.0 seconds."), "fetch_failed", "timeout"),
    (TxTimeoutError(), "fetch_failed", "timeout"),
    (DownloadCancelledError("Expected to receive 524288000 bytes which is larger than download max size (10)"),
     "too_large", "524288000 bytes"),
    (DownloadCancelledError(""), "too_large", "DOWNLOAD_MAXSIZE (10485760 bytes), download cancelled"),
    (ResponseDataLossError(), "truncated", "connection closed before"),
    (CannotResolveHostError("no.such.host"), "fetch_failed", "DNS lookup failed"),
    (DownloadConnectionRefusedError(), "fetch_failed", "connection refused"),
    (DownloadFailedError("[<twisted.python.failure.Failure ConnectionLost>]"), "fetch_failed", "connection failed"),
    (ValueError("odd"), "fetch_failed", "ValueError: odd"),
]


@pytest.mark.parametrize(("exc", "reason", "detail"), CASES, ids=[type(c[0]).__name__ + str(i) for i, c in enumerate(CASES)])
def test_classify_failure(exc: BaseException, reason: str, detail: str) -> None:
    got_reason, got_detail = classify_failure(_failure(exc), Request(URL), maxsize=10 * 1024 * 1024)
    assert got_reason == RejectReason(reason)
    assert detail in got_detail


def test_redirect_loop_and_endless_redirects_are_told_apart() -> None:
    hops = ["http://x/a", "http://x/b", "http://x/a", "http://x/b", "http://x/a"]
    last = Request("http://x/b", meta={"redirect_urls": hops})
    reason, detail = classify_failure(_failure(IgnoreRequest("max redirections reached")), last)
    assert reason is RejectReason.FETCH_FAILED
    assert detail == "redirect loop: http://x/a -> http://x/b -> http://x/a"

    endless = [f"http://x/{i}" for i in range(5)]
    reason, detail = classify_failure(_failure(IgnoreRequest("max redirections reached")),
                                      Request("http://x/5", meta={"redirect_urls": endless}))
    assert reason is RejectReason.FETCH_FAILED and detail.startswith("too many redirects (6 hops): http://x/0 ->")


def test_details_are_bounded() -> None:
    _, detail = classify_failure(_failure(ValueError("x" * 5000)))
    assert len(detail) == 500
