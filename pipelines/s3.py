"""An S3 bucket (or any S3-compatible server) as an ``ObjectStore``, through boto3.

Settings come from arguments or, in ``S3Store.from_url``, from the environment; credentials only ever come
from the standard AWS chain (environment, shared files, SSO, instance/task roles) and are never accepted,
stored, logged or put in messages here.

Write-once (``put_if_absent``, ``upload_file``) uses S3 conditional writes (``If-None-Match: *``), which
AWS S3 and MinIO (and moto, in tests) enforce atomically. Some S3-compatible servers reject the header
(501) or silently ignore it; the first write-once call probes for that once per store and, if unsupported, falls back
to HEAD-then-PUT, which has a race window: two writers that both HEAD before either PUTs both write, the
last one wins and both report True. For content-addressed keys both bodies carry the same text, so the
harm is a doubled "new" count and last-writer-wins of the per-fetch fields (url, fetched_at, lineage).
"""

from __future__ import annotations

import builtins
import collections
import logging
import math
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipelines.store import KeyNotFound, StoreError, check_key

logger = logging.getLogger(__name__)

MB = 1024 * 1024
# Files at or above this size are uploaded in parts; smaller ones in one conditional PUT.
MULTIPART_THRESHOLD = 8 * MB
MULTIPART_CHUNKSIZE = 8 * MB
MAX_PARTS = 10_000  # S3's limit: the part size grows for files above 10,000 chunks
TRANSFER_CONCURRENCY = 4  # parts in flight per upload: 4 x 8 MB of buffers

DEFAULT_RETRY_MODE = "standard"  # exponential backoff with jitter; "adaptive" adds client-side rate limiting
DEFAULT_MAX_ATTEMPTS = 10  # incl. the first; jittered sleeps of up to 0.05·2^i s ride out ~10-25 s of outage
DEFAULT_CONNECT_TIMEOUT = 5.0  # seconds; a refused connection fails at once and is retried
DEFAULT_READ_TIMEOUT = 60.0  # seconds per socket read, generous for 8 MB parts on slow links
MAX_POOL_CONNECTIONS = 32  # worker threads share one client; botocore's default pool of 10 is too small

# A fixed key, never deleted: whatever state it is in, two conditional PUTs tell whether the header is
# honoured (either one gets 412) or ignored (both succeed). Readers never probe; only writers do.
PROBE_KEY = "state/_probe/conditional-write"
# User metadata naming the writer of an object, so a 412 after botocore retried an ambiguous failure
# (e.g. a reset after the server committed) can tell "I wrote it" from "someone else did".
WRITE_ID_META = "cleanwire-write-id"
CONFLICT_ATTEMPTS = 5  # 409 ConditionalRequestConflict: another conditional write on the key is in flight

_ADDRESSING_STYLES = ("path", "virtual", "auto")
_RETRY_MODES = ("standard", "adaptive", "legacy")
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_NOT_IMPLEMENTED_CODES = frozenset({"NotImplemented"})


class S3StoreError(StoreError):
    """A failed S3 call. ``code`` is the S3 error code (``AccessDenied``, ``NoSuchBucket``…) or, for a
    transport failure, the botocore exception class name (``EndpointConnectionError``…)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None = None,
        bucket: str = "",
        key: str | None = None,
        op: str = "",
    ):
        super().__init__(message)
        self.code = code
        self.status = status
        self.bucket = bucket
        self.key = key
        self.op = op

    def __str__(self) -> str:  # KeyError (a base of S3KeyNotFound) would quote the message
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (worker pools); the keyword-only fields must survive pickling.
        fields = {
            "code": self.code,
            "status": self.status,
            "bucket": self.bucket,
            "key": self.key,
            "op": self.op,
        }
        return (_rebuild_error, (type(self), self.args[0], fields))


class S3KeyNotFound(KeyNotFound, S3StoreError):
    pass


def _rebuild_error(cls: type[S3StoreError], message: str, fields: dict[str, Any]) -> S3StoreError:
    return cls(message, **fields)


def error_code(exc: ClientError) -> tuple[str, int | None]:
    """The S3 error code and HTTP status of a failed call (a HEAD has no body: its code is the status)."""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = exc.response.get("Error", {}).get("Code") or (str(status) if status else "Unknown")
    return code, status


def _retried(exc: ClientError) -> bool:
    return bool(exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0))


def _redact_endpoint(url: str | None) -> str | None:
    """Drop any user:password@ from an endpoint URL before it is shown."""
    if not url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _env_choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    value = environ.get(name, "").strip().lower()
    if not value:
        return None
    if value not in choices:
        raise ValueError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


def _env_number(environ: Mapping[str, str], name: str, kind: type[int] | type[float]) -> Any:
    value = environ.get(name, "").strip()
    if not value:
        return None
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a number") from None
    if number <= 0:
        raise ValueError(f"{name}={value!r}: expected a positive number")
    return number


def settings_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Keyword arguments for ``S3Store`` from ``CLEANWIRE_S3_*`` and the standard AWS region variables.

    ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL`` are not read here: botocore honours them itself when no
    ``CLEANWIRE_S3_ENDPOINT_URL`` is set.
    """
    conditional = _env_choice(environ, "CLEANWIRE_S3_CONDITIONAL_WRITES", ("auto", "on", "off"))
    style = _env_choice(environ, "CLEANWIRE_S3_ADDRESSING_STYLE", _ADDRESSING_STYLES)
    if style is None and (environ.get("AWS_ENDPOINT_URL_S3") or environ.get("AWS_ENDPOINT_URL")):
        style = "path"  # a custom endpoint, as with CLEANWIRE_S3_ENDPOINT_URL (see S3Store)
    settings: dict[str, Any] = {
        "endpoint_url": environ.get("CLEANWIRE_S3_ENDPOINT_URL") or None,
        "region": environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None,
        "addressing_style": style,
        "retry_mode": _env_choice(environ, "CLEANWIRE_S3_RETRY_MODE", _RETRY_MODES) or DEFAULT_RETRY_MODE,
        "max_attempts": _env_number(environ, "CLEANWIRE_S3_MAX_ATTEMPTS", int) or DEFAULT_MAX_ATTEMPTS,
        "connect_timeout": _env_number(environ, "CLEANWIRE_S3_CONNECT_TIMEOUT", float)
        or DEFAULT_CONNECT_TIMEOUT,
        "read_timeout": _env_number(environ, "CLEANWIRE_S3_READ_TIMEOUT", float) or DEFAULT_READ_TIMEOUT,
        "conditional_writes": {"on": True, "off": False}.get(conditional or "auto"),
    }
    return settings


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix/`` → ``("bucket", "some/prefix")``."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {url!r}")
    prefix = prefix.strip("/")
    if prefix:
        check_key(prefix)
    return bucket, prefix


class S3Store:
    """Keys are relative to ``s3://<bucket>/<prefix>/``; the layout is the same as a ``LocalStore``'s.

    ``client`` takes a ready boto3 S3 client (tests, custom sessions); the connection arguments then only
    describe it (``pipelines.parquet`` builds pyarrow's S3 filesystem from them). Thread-safe: one store
    and its client can serve many worker threads.
    """

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: str | None = None,
        retry_mode: str = DEFAULT_RETRY_MODE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        conditional_writes: bool | None = None,
        client: Any = None,
    ):
        if addressing_style is not None and addressing_style not in _ADDRESSING_STYLES:
            raise ValueError(f"addressing_style {addressing_style!r}: expected one of {_ADDRESSING_STYLES}")
        if retry_mode not in _RETRY_MODES:
            raise ValueError(f"retry_mode {retry_mode!r}: expected one of {_RETRY_MODES}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._base = f"{self.prefix}/" if self.prefix else ""
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self.endpoint_url = endpoint_url
        self.region = region
        # Custom endpoints (MinIO, Ceph, moto) rarely have wildcard DNS for virtual-hosted buckets, so
        # path-style is the default there; on AWS botocore's own choice (virtual-hosted) stands.
        self.addressing_style = addressing_style or ("path" if endpoint_url else None)
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD,
            multipart_chunksize=MULTIPART_CHUNKSIZE,
            max_concurrency=TRANSFER_CONCURRENCY,
        )
        if client is None:
            retries: Any = {"mode": retry_mode, "max_attempts": max_attempts}
            s3_options: Any = {"addressing_style": self.addressing_style} if self.addressing_style else None
            config = Config(
                retries=retries,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                max_pool_connections=MAX_POOL_CONNECTIONS,
                s3=s3_options,
            )
            # A session of its own: creating clients from boto3's shared default session is not thread-safe.
            client = boto3.session.Session(region_name=region).client(
                "s3", endpoint_url=endpoint_url, config=config
            )
        self._client = client
        self._conditional = conditional_writes  # None until probed
        self._probe_lock = threading.Lock()
        # Counted beside every warning, for run reports.
        self.stats: collections.Counter[str] = collections.Counter()

    @classmethod
    def from_url(cls, url: str, environ: Mapping[str, str] = os.environ) -> S3Store:
        """``s3://bucket/prefix`` with settings from the environment (see ``settings_from_env``)."""
        bucket, prefix = parse_s3_url(url)
        return cls(bucket, prefix, **settings_from_env(environ))

    def __repr__(self) -> str:
        endpoint = _redact_endpoint(self.endpoint_url or self._client.meta.endpoint_url)
        return f"S3Store({self.url!r}, endpoint={endpoint!r}, region={self._client.meta.region_name!r})"

    @property
    def client(self) -> Any:
        return self._client

    # --- helpers -------------------------------------------------------------------------------------

    def _full(self, key: str) -> str:
        return self._base + check_key(key)

    def _error(self, op: str, full_key: str | None, exc: Exception) -> S3StoreError:
        status: int | None = None
        detail = ""
        if isinstance(exc, ClientError):
            code, status = error_code(exc)
            # The server's message helps with AccessDenied & co; the server never sees the secret key.
            detail = str(exc.response.get("Error", {}).get("Message") or "")[:200]
        else:
            code = type(exc).__name__
        where = f"s3://{self.bucket}/{full_key}" if full_key is not None else f"s3://{self.bucket}"
        message = f"{where}: {op} failed: {code}" + (f" (HTTP {status})" if status else "")
        if detail:
            message += f": {detail}"
        cls = S3KeyNotFound if code in _NOT_FOUND_CODES else S3StoreError
        return cls(message, code=code, status=status, bucket=self.bucket, key=full_key, op=op)

    def _head(self, full_key: str) -> dict[str, Any] | None:
        try:
            response: dict[str, Any] = self._client.head_object(Bucket=self.bucket, Key=full_key)
            return response
        except ClientError as exc:
            if error_code(exc)[0] in _NOT_FOUND_CODES:
                return None
            raise self._error("head", full_key, exc) from None
        except BotoCoreError as exc:
            raise self._error("head", full_key, exc) from None

    def _written_by(self, full_key: str, write_id: str) -> bool:
        head = self._head(full_key)
        return head is not None and head.get("Metadata", {}).get(WRITE_ID_META) == write_id

    @staticmethod
    def _backoff(attempt: int) -> None:
        time.sleep(random.uniform(0, 0.05 * 2**attempt))

    # --- conditional-write support -----------------------------------------------------------------

    def conditional_writes_supported(self) -> bool:
        """Whether the server honours ``If-None-Match: *``; probed once per store, then cached."""
        if self._conditional is None:
            with self._probe_lock:
                if self._conditional is None:
                    self._conditional = self._probe()
                    logger.info(
                        "%s: conditional writes %s",
                        self.url,
                        "supported" if self._conditional else "NOT supported",
                    )
                    if not self._conditional:
                        self.stats["conditional_writes_unsupported"] += 1
                        logger.warning(
                            "%s: falling back to HEAD-then-PUT for write-once keys (racy)", self.url
                        )
        return self._conditional

    def _probe(self) -> bool:
        full = self._full(PROBE_KEY)
        for _ in range(2):
            try:
                self._client.put_object(Bucket=self.bucket, Key=full, Body=b"", IfNoneMatch="*")
            except ClientError as exc:
                code, status = error_code(exc)
                if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                    return True
                if status == 501 or code in _NOT_IMPLEMENTED_CODES:
                    return False
                raise self._error("probe conditional writes", full, exc) from None
            except BotoCoreError as exc:
                raise self._error("probe conditional writes", full, exc) from None
        return False  # both conditional PUTs succeeded: the header is ignored

    def _mark_unsupported(self) -> None:
        # A server that passed the probe but answers 501 now (e.g. mixed backends behind a balancer).
        self._conditional = False
        self.stats["conditional_writes_unsupported"] += 1
        logger.warning(
            "%s: server answered 501 to a conditional write; falling back to HEAD-then-PUT", self.url
        )

    # --- ObjectStore ---------------------------------------------------------------------------------

    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        full = self._full(key)
        if self.conditional_writes_supported():
            written = self._put_conditional(full, data, content_type)
            if written is not None:
                return written
        return self._put_checked(full, data, content_type)

    def _put_conditional(self, full: str, data: bytes, content_type: str) -> bool | None:
        """True/False as ``put_if_absent``; None if the server turned out not to support the condition."""
        write_id = uuid.uuid4().hex
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=full,
                    Body=data,
                    ContentType=content_type,
                    IfNoneMatch="*",
                    Metadata={WRITE_ID_META: write_id},
                )
                return True
            except ClientError as exc:
                code, status = error_code(exc)
                if code == "PreconditionFailed":
                    return self._written_by(full, write_id) if _retried(exc) else False
                if code == "ConditionalRequestConflict":
                    self.stats["conditional_conflicts"] += 1
                    self._backoff(attempt)
                    continue
                if status == 501 or code in _NOT_IMPLEMENTED_CODES:
                    self._mark_unsupported()
                    return None
                raise self._error("put_if_absent", full, exc) from None
            except BotoCoreError as exc:
                raise self._error("put_if_absent", full, exc) from None
        return self._after_conflicts("put_if_absent", full, write_id)

    def _after_conflicts(self, op: str, full: str, write_id: str) -> bool:
        # Still conflicting after retries: if the key now exists, a concurrent writer won.
        head = self._head(full)
        if head is not None:
            return head.get("Metadata", {}).get(WRITE_ID_META) == write_id
        raise S3StoreError(
            f"s3://{self.bucket}/{full}: {op} failed: ConditionalRequestConflict after {CONFLICT_ATTEMPTS} attempts",
            code="ConditionalRequestConflict",
            status=409,
            bucket=self.bucket,
            key=full,
            op=op,
        )

    def _put_checked(self, full: str, data: bytes, content_type: str) -> bool:
        # Racy fallback (see the module docstring): the window is between this HEAD and the PUT.
        if self._head(full) is not None:
            return False
        self._put(full, data, content_type, "put_if_absent")
        return True

    def _put(self, full: str, data: bytes, content_type: str, op: str) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=full, Body=data, ContentType=content_type)
        except (ClientError, BotoCoreError) as exc:
            raise self._error(op, full, exc) from None

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._put(self._full(key), data, content_type, "put")

    def get(self, key: str) -> bytes:
        full = self._full(key)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=full)
            body: bytes = response["Body"].read()
            return body
        except (ClientError, BotoCoreError) as exc:
            raise self._error("get", full, exc) from None

    def exists(self, key: str) -> bool:
        return self._head(self._full(key)) is not None

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix``, relative to the store. Streamed page by page: ListObjectsV2 returns keys
        in UTF-8 byte order, which is Python's ``str`` order, so nothing is buffered or re-sorted."""
        paginator = self._client.get_paginator("list_objects_v2")
        last = ""
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._base + prefix):
                for obj in page.get("Contents", ()):
                    key = obj["Key"][len(self._base) :]
                    if key.endswith("/"):  # "folder" markers made by consoles are not objects of the layout
                        continue
                    if key < last:
                        raise S3StoreError(
                            f"{self.url}: listing is not in lexicographic order at {key!r}",
                            code="UnsortedListing",
                            status=None,
                            bucket=self.bucket,
                            key=obj["Key"],
                            op="list",
                        )
                    last = key
                    yield key
        except (ClientError, BotoCoreError) as exc:
            raise self._error("list", self._base + prefix, exc) from None

    def upload_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> bool:
        """Write-once upload: one conditional PUT below 8 MB, else a multipart upload whose completion
        is conditional. s3transfer's ``upload_file`` does not accept ``IfNoneMatch`` (not in its allowed
        ``ExtraArgs``), so the parts are sent here; an object only appears at the key on completion."""
        full = self._full(key)
        path = Path(path)
        if self._head(full) is not None:
            return False  # do not send bytes that are already there
        size = path.stat().st_size
        if size < self.transfer.multipart_threshold:
            return self.put_if_absent(key, path.read_bytes(), content_type)
        return self._multipart_once(full, path, size, content_type)

    def _multipart_once(self, full: str, path: Path, size: int, content_type: str) -> bool:
        write_id = uuid.uuid4().hex
        checksum = self._client.meta.config.request_checksum_calculation == "when_supported"
        extra: dict[str, Any] = {"ChecksumAlgorithm": "CRC32"} if checksum else {}
        try:
            upload_id = self._client.create_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                ContentType=content_type,
                Metadata={WRITE_ID_META: write_id},
                **extra,
            )["UploadId"]
        except (ClientError, BotoCoreError) as exc:
            raise self._error("upload_file", full, exc) from None
        completed = False
        try:
            parts = self._upload_parts(full, upload_id, path, size, extra)
            result = self._complete(full, upload_id, parts, write_id)
            completed = result
            return result
        except (ClientError, BotoCoreError) as exc:
            raise self._error("upload_file", full, exc) from None
        finally:
            if not completed:
                self._abort(full, upload_id)

    def _upload_parts(
        self, full: str, upload_id: str, path: Path, size: int, extra: dict[str, Any]
    ) -> builtins.list[dict[str, Any]]:
        chunk = max(self.transfer.multipart_chunksize, math.ceil(size / MAX_PARTS))
        count = math.ceil(size / chunk)

        def send(number: int) -> dict[str, Any]:
            with open(path, "rb") as fh:
                fh.seek((number - 1) * chunk)
                body = fh.read(chunk)
            response = self._client.upload_part(
                Bucket=self.bucket, Key=full, UploadId=upload_id, PartNumber=number, Body=body, **extra
            )
            part = {"ETag": response["ETag"], "PartNumber": number}
            if "ChecksumCRC32" in response:
                part["ChecksumCRC32"] = response["ChecksumCRC32"]
            return part

        with ThreadPoolExecutor(max_workers=self.transfer.max_request_concurrency) as pool:
            return list(pool.map(send, range(1, count + 1)))

    def _complete(
        self, full: str, upload_id: str, parts: builtins.list[dict[str, Any]], write_id: str
    ) -> bool:
        def complete(**condition: str) -> None:
            self._client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=full,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
                **condition,
            )

        if self.conditional_writes_supported():
            for attempt in range(CONFLICT_ATTEMPTS):
                try:
                    complete(IfNoneMatch="*")
                    return True
                except ClientError as exc:
                    code, status = error_code(exc)
                    if code == "PreconditionFailed":
                        return self._written_by(full, write_id) if _retried(exc) else False
                    if code == "ConditionalRequestConflict":
                        self.stats["conditional_conflicts"] += 1
                        self._backoff(attempt)
                        continue
                    if status == 501 or code in _NOT_IMPLEMENTED_CODES:
                        self._mark_unsupported()
                        break
                    raise
            else:
                return self._after_conflicts("upload_file", full, write_id)
        # Racy fallback, as in put_if_absent: the window is between this HEAD and the completion.
        if self._head(full) is not None:
            return False
        complete()
        return True

    def _abort(self, full: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=full, UploadId=upload_id)
        except (ClientError, BotoCoreError) as exc:
            # Left-over parts are removed by the bucket's abort-incomplete-multipart lifecycle rule.
            self.stats["multipart_abort_failed"] += 1
            logger.warning(
                "s3://%s/%s: abort of multipart upload failed: %s", self.bucket, full, type(exc).__name__
            )

    def download_file(self, key: str, path: Path) -> None:
        full = self._full(key)
        try:
            self._client.download_file(self.bucket, full, str(path), Config=self.transfer)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("download_file", full, exc) from None

    def delete(self, key: str) -> None:
        full = self._full(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=full)
        except (ClientError, BotoCoreError) as exc:
            raise self._error("delete", full, exc) from None
