"""S3Store against a real moto_server: write-once semantics, races, multipart, errors, outages."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders

from pipelines.s3 import PROBE_KEY, S3KeyNotFound, S3Store, S3StoreError, parse_s3_url, settings_from_env
from pipelines.store import InvalidKey, KeyNotFound, ObjectStore, StoreError, open_store
from tests.pipelines.s3server import MotoServer, create_bucket, free_port, s3_client, set_test_env


def _store(url: str, **kwargs: Any) -> S3Store:
    bucket, prefix = parse_s3_url(url)
    return S3Store(bucket, prefix, endpoint_url=os.environ["CLEANWIRE_S3_ENDPOINT_URL"], **kwargs)


def test_open_store_builds_an_s3_store_from_the_environment(s3_store_url: str) -> None:
    store = open_store(s3_store_url + "/")
    assert isinstance(store, S3Store)
    assert isinstance(store, ObjectStore)
    assert store.url == s3_store_url
    assert store.addressing_style == "path"  # custom endpoint → path-style by default
    assert store.endpoint_url == os.environ["CLEANWIRE_S3_ENDPOINT_URL"]


def test_settings_from_env_reads_cleanwire_and_aws_variables() -> None:
    env = {
        "CLEANWIRE_S3_ENDPOINT_URL": "http://minio:9000",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "CLEANWIRE_S3_ADDRESSING_STYLE": "Virtual",
        "CLEANWIRE_S3_RETRY_MODE": "adaptive",
        "CLEANWIRE_S3_MAX_ATTEMPTS": "3",
        "CLEANWIRE_S3_CONDITIONAL_WRITES": "off",
    }
    settings = settings_from_env(env)
    assert settings["endpoint_url"] == "http://minio:9000"
    assert settings["region"] == "eu-west-1"  # AWS_REGION wins over AWS_DEFAULT_REGION
    assert settings["addressing_style"] == "virtual"
    assert settings["retry_mode"] == "adaptive"
    assert settings["max_attempts"] == 3
    assert settings["conditional_writes"] is False
    assert settings_from_env({})["retry_mode"] == "standard"
    assert settings_from_env({})["conditional_writes"] is None
    with pytest.raises(ValueError, match="CLEANWIRE_S3_RETRY_MODE"):
        settings_from_env({"CLEANWIRE_S3_RETRY_MODE": "yolo"})
    with pytest.raises(ValueError, match="CLEANWIRE_S3_MAX_ATTEMPTS"):
        settings_from_env({"CLEANWIRE_S3_MAX_ATTEMPTS": "0"})


def test_botocore_endpoint_variables_also_mean_path_style() -> None:
    assert settings_from_env({"AWS_ENDPOINT_URL_S3": "http://minio:9000"})["addressing_style"] == "path"
    assert settings_from_env({})["addressing_style"] is None
    env = {"AWS_ENDPOINT_URL": "http://minio:9000", "CLEANWIRE_S3_ADDRESSING_STYLE": "virtual"}
    assert settings_from_env(env)["addressing_style"] == "virtual"


@pytest.mark.parametrize(
    ("url", "expected"),
    [("s3://b", ("b", "")), ("s3://b/", ("b", "")), ("s3://b/x/y/", ("b", "x/y"))],
)
def test_parse_s3_url(url: str, expected: tuple[str, str]) -> None:
    assert parse_s3_url(url) == expected


@pytest.mark.parametrize("url", ["s3://", "http://b/x", "s3://b/../x"])
def test_parse_s3_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        parse_s3_url(url)


def test_write_once_read_list_delete(s3_store_url: str) -> None:
    store = open_store(s3_store_url)
    assert store.put_if_absent("clean/v1/docs/ab/abc.json", b"first", "application/json")
    assert not store.put_if_absent("clean/v1/docs/ab/abc.json", b"second")
    assert store.get("clean/v1/docs/ab/abc.json") == b"first"
    store.put("state/x.json", b"1")
    store.put("state/x.json", b"2")  # put replaces
    assert store.get("state/x.json") == b"2"
    assert store.exists("state/x.json")
    assert not store.exists("state/y.json")
    for key in ("a/2", "a/10", "a/1", "b"):
        store.put(key, key.encode())
    assert list(store.list("a/")) == ["a/1", "a/10", "a/2"]
    assert list(store.list()) == sorted(
        ["a/1", "a/10", "a/2", "b", "clean/v1/docs/ab/abc.json", PROBE_KEY, "state/x.json"]
    )
    store.delete("a/1")
    store.delete("a/1")  # deleting a missing key is not an error
    assert list(store.list("a/")) == ["a/10", "a/2"]


def test_keys_are_relative_to_the_prefix_and_folder_markers_are_skipped(s3_store_url: str) -> None:
    bucket, _ = parse_s3_url(s3_store_url)
    client = s3_client(os.environ["CLEANWIRE_S3_ENDPOINT_URL"])
    client.put_object(Bucket=bucket, Key="data/dir/", Body=b"")
    client.put_object(Bucket=bucket, Key="other/k", Body=b"")
    client.put_object(Bucket=bucket, Key="datax/k", Body=b"")
    store = open_store(s3_store_url)
    store.put("dir/k", b"v")
    assert list(store.list()) == ["dir/k"]
    assert client.get_object(Bucket=bucket, Key="data/dir/k")["Body"].read() == b"v"


def test_missing_key_raises_key_not_found(s3_store_url: str, tmp_path: Path) -> None:
    store = open_store(s3_store_url)
    with pytest.raises(KeyNotFound) as info:
        store.get("nope.json")
    assert isinstance(info.value, S3KeyNotFound)
    assert info.value.code == "NoSuchKey"
    assert "nope.json" in str(info.value)
    with pytest.raises(KeyNotFound):
        store.download_file("nope.json", tmp_path / "out")


def test_invalid_keys_are_refused(s3_store_url: str) -> None:
    store = open_store(s3_store_url)
    for key in ("", "/abs", "a//b", "a/../b"):
        with pytest.raises(InvalidKey):
            store.put(key, b"")


def test_errors_carry_the_s3_code_not_just_text(s3_env: str) -> None:
    store = S3Store("cw-no-such-bucket", "p", endpoint_url=s3_env)
    with pytest.raises(S3StoreError) as info:
        store.get("k")
    assert not isinstance(info.value, KeyNotFound)
    error = info.value
    assert (error.code, error.status, error.bucket) == ("NoSuchBucket", 404, "cw-no-such-bucket")
    assert error.key == "p/k"


def test_errors_survive_pickling_between_processes(s3_store_url: str) -> None:
    with pytest.raises(S3KeyNotFound) as info:
        open_store(s3_store_url).get("missing")
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is S3KeyNotFound
    assert (clone.code, clone.status, clone.key, str(clone)) == (
        "NoSuchKey",
        404,
        "data/missing",
        str(info.value),
    )


def test_sixteen_racing_writers_exactly_one_wins(s3_store_url: str) -> None:
    store = open_store(s3_store_url)
    assert isinstance(store, S3Store)
    assert store.conditional_writes_supported()  # probe once, before the race
    barrier = threading.Barrier(16)
    results: dict[int, bool] = {}

    def write(n: int) -> None:
        barrier.wait()
        results[n] = store.put_if_absent("clean/v1/docs/00/race.json", f"writer {n}".encode())

    threads = [threading.Thread(target=write, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [n for n, won in results.items() if won]
    assert len(results) == 16
    assert len(winners) == 1
    assert store.get("clean/v1/docs/00/race.json") == f"writer {winners[0]}".encode()


def test_multipart_upload_of_20_mb_is_write_once(s3_store_url: str, tmp_path: Path) -> None:
    store = open_store(s3_store_url)
    assert isinstance(store, S3Store)
    src = tmp_path / "big.warc.gz"
    src.write_bytes(os.urandom(20 * 1024 * 1024))
    assert store.upload_file("raw/source=s/date=2026-11-01/run-00000.warc.gz", src)
    head = store.client.head_object(
        Bucket=store.bucket, Key="data/raw/source=s/date=2026-11-01/run-00000.warc.gz"
    )
    assert head["ETag"].strip('"').endswith("-3")  # 8 + 8 + 4 MB parts
    assert head["ContentLength"] == 20 * 1024 * 1024
    out = tmp_path / "back"
    store.download_file("raw/source=s/date=2026-11-01/run-00000.warc.gz", out)
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    # Second upload: HEAD says present, nothing is sent.
    assert not store.upload_file("raw/source=s/date=2026-11-01/run-00000.warc.gz", src)
    # And the completion itself is conditional: a multipart upload racing a finished one loses,
    # and its parts are aborted.
    assert not store._multipart_once(
        "data/raw/source=s/date=2026-11-01/run-00000.warc.gz", src, 20 * 1024 * 1024, "x"
    )
    assert store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []


def test_small_upload_file_is_one_conditional_put(s3_store_url: str, tmp_path: Path) -> None:
    store = open_store(s3_store_url)
    src = tmp_path / "small.json"
    src.write_bytes(b"{}")
    assert store.upload_file("manifests/crawl/run.json", src, "application/json")
    assert not store.upload_file("manifests/crawl/run.json", src)
    assert store.get("manifests/crawl/run.json") == b"{}"


# --- servers without conditional writes -------------------------------------------------------------


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def _error_response(url: str, status: int, code: str) -> AWSResponse:
    body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>simulated</Message></Error>"
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/xml"
    return AWSResponse(url, status, headers, _Raw(body.encode()))


def _conditional(request: Any) -> bool:
    return request.headers.get("If-None-Match") is not None


def test_server_ignoring_if_none_match_is_detected_and_falls_back(s3_store_url: str) -> None:
    store = _store(s3_store_url)

    def drop_condition(request: Any, **_: Any) -> None:
        if "If-None-Match" in request.headers:
            del request.headers["If-None-Match"]

    store.client.meta.events.register("before-sign.s3.PutObject", drop_condition)
    assert not store.conditional_writes_supported()
    assert store.stats["conditional_writes_unsupported"] == 1
    assert store.put_if_absent("k", b"1")
    assert not store.put_if_absent("k", b"2")
    assert store.get("k") == b"1"


def test_server_answering_501_is_detected_and_falls_back(s3_store_url: str) -> None:
    store = _store(s3_store_url)

    def not_implemented(request: Any, **_: Any) -> AWSResponse | None:
        return _error_response(request.url, 501, "NotImplemented") if _conditional(request) else None

    store.client.meta.events.register("before-send.s3.PutObject", not_implemented)
    store.client.meta.events.register("before-send.s3.CompleteMultipartUpload", not_implemented)
    assert store.put_if_absent("k", b"1")
    assert not store.conditional_writes_supported()
    assert not store.put_if_absent("k", b"2")
    # A store told conditional writes work, meeting a 501, switches over too.
    forced = _store(s3_store_url, conditional_writes=True)
    forced.client.meta.events.register("before-send.s3.PutObject", not_implemented)
    assert forced.put_if_absent("k2", b"1")
    assert not forced.conditional_writes_supported()


def test_conflict_409_is_retried(s3_store_url: str) -> None:
    store = _store(s3_store_url, conditional_writes=True)
    conflicts = {"left": 2}

    def conflict(request: Any, **_: Any) -> AWSResponse | None:
        if _conditional(request) and conflicts["left"]:
            conflicts["left"] -= 1
            return _error_response(request.url, 409, "ConditionalRequestConflict")
        return None

    store.client.meta.events.register("before-send.s3.PutObject", conflict)
    assert store.put_if_absent("k", b"1")
    assert store.stats["conditional_conflicts"] == 2
    assert not store.put_if_absent("k", b"1")


# --- secrets and outages ------------------------------------------------------------------------------

SECRET = "cwSECRETdoNotLeak0123456789abcdefXYZ"


def test_no_secret_in_repr_errors_or_logs(
    s3_store_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    store = open_store(s3_store_url)
    texts = [repr(store), str(store)]
    store.put_if_absent("k", b"v")
    failures: list[StoreError] = []
    for action in (
        lambda: store.get("missing"),
        lambda: S3Store("cw-no-such-bucket", endpoint_url=os.environ["CLEANWIRE_S3_ENDPOINT_URL"]).get("k"),
        lambda: S3Store("b", endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1).put("k", b""),
    ):
        with pytest.raises(StoreError) as info:
            action()
        failures.append(info.value)
    for exc in failures:
        texts += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    texts.append(caplog.text)
    assert caplog.records  # botocore logged at DEBUG: the check below is not vacuous
    for text in texts:
        assert SECRET not in text


def test_server_down_gives_a_clear_store_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    set_test_env(monkeypatch, endpoint, tmp_path)
    store = S3Store("b", "p", endpoint_url=endpoint, max_attempts=2, connect_timeout=1)
    started = time.monotonic()
    with pytest.raises(S3StoreError) as info:
        store.put("k", b"v")
    assert info.value.code == "EndpointConnectionError"
    assert info.value.status is None
    assert "s3://b/p/k" in str(info.value)
    assert time.monotonic() - started < 10


def test_store_survives_a_server_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with MotoServer() as server:
        set_test_env(monkeypatch, server.endpoint, tmp_path)
        bucket = create_bucket(server.endpoint)
        store = S3Store(bucket, "p", endpoint_url=server.endpoint, max_attempts=10)
        assert store.put_if_absent("before", b"1")
        # The replacement is loaded (with the bucket: moto's objects live in memory and are gone, real
        # servers keep them) but not listening; the old server stops and the new one binds 0.2 s later.
        with MotoServer(port=server.port).start(seed_buckets=[bucket], hold=True) as replacement:
            server.stop()
            restart = threading.Timer(0.2, replacement.release)
            restart.start()
            started = time.monotonic()
            try:
                assert store.put_if_absent("during", b"2")  # connection refused, retried with backoff
            finally:
                restart.join()
            assert time.monotonic() - started >= 0.2
            assert store.get("during") == b"2"
            assert list(store.list()) == ["during"]
