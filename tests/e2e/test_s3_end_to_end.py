"""The whole path into a real S3-compatible server (moto_server on loopback): `cleanwire run` of the
sample site into s3://…, checked with plain boto3 and pyarrow.dataset; re-runs write nothing; two
cleaners racing on one raw object leave one copy of each document."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest

from flows.sample_site import load_expected
from tests.pipelines.s3server import TEST_CREDENTIALS, TEST_REGION, s3_client
from tests.servers import base_env, cleanwire

pytestmark = pytest.mark.e2e


def _keys(client: Any, bucket: str, prefix: str) -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


class PutCounter:
    """Counts S3 writes that succeeded in this process (every boto3 client goes through _make_api_call);
    a conditional PUT refused with 412 wrote nothing and is not counted."""

    WRITES = frozenset({"PutObject", "CompleteMultipartUpload", "CopyObject", "DeleteObject"})

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        import botocore.client

        self.calls: list[tuple[str, str]] = []
        original = botocore.client.BaseClient._make_api_call
        counter = self

        def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
            result = original(client, operation, params)
            if operation in counter.WRITES:
                counter.calls.append((operation, params.get("Key", "")))
            return result

        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)


def test_run_into_s3_then_read_with_boto3_and_pyarrow(s3_store_url: str, s3_env: str, prefect_api: str,
                                                     sample_sources: Path, sample_site: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bucket, prefix = s3_store_url.removeprefix("s3://").split("/", 1)
    env = base_env(PREFECT_API_URL=prefect_api, **{k: v for k, v in os.environ.items() if k.startswith(("AWS_", "CLEANWIRE_"))})
    proc = cleanwire("run", "--sources", str(sample_sources), "--store", s3_store_url, "--json", env=env)
    report = json.loads(proc.stdout)
    client = s3_client(s3_env)

    # Plain boto3: one document per article, id = SHA-256 of the stored text, schema beside the data.
    doc_keys = _keys(client, bucket, f"{prefix}/clean/v1/docs/")
    docs = [json.loads(client.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in doc_keys]
    articles = {p for p, e in load_expected().items() if e["kind"] == "article"}
    assert {d["url"].removeprefix(sample_site.base_url) for d in docs} == articles
    for doc in docs:
        assert doc["id"] == hashlib.sha256(doc["text"].encode()).hexdigest()
        assert doc["schema_version"] == "1.0"
    assert report["totals"]["documents_stored"] == len(docs)
    assert _keys(client, bucket, f"{prefix}/clean/v1/schema/")
    assert _keys(client, bucket, f"{prefix}/raw/source=shine/")

    # pyarrow.dataset straight from the bucket.
    fs = pafs.S3FileSystem(access_key=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                           secret_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], region=TEST_REGION,
                           endpoint_override=s3_env, scheme="http")
    table = ds.dataset(f"{bucket}/{prefix}/clean/v1/parquet", filesystem=fs, format="parquet",
                       partitioning="hive").to_table(columns=["id", "text", "schema_version"])
    assert sorted(table.column("id").to_pylist()) == sorted(d["id"] for d in docs)

    # A clean of what is already cleaned writes nothing but its run report.
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.runs import clean_flow

    before = set(_keys(client, bucket, prefix + "/"))
    puts = PutCounter(monkeypatch)
    with temporary_settings(updates={PREFECT_API_URL: prefect_api}):
        again = clean_flow(store=s3_store_url)
    assert again["totals"]["documents_stored"] == 0
    assert [k for _, k in puts.calls if "/manifests/runs/" not in k] == []
    assert set(_keys(client, bucket, prefix + "/")) - before <= {f"{prefix}/{again['report_key']}"}


def test_racing_cleaners_leave_one_copy(s3_store_url: str, s3_env: str, sample_sources: Path) -> None:
    from cleaning.clean import clean_page
    from flows.runs import run_crawl_process
    from pipelines.clean_zone import clean_raw_object
    from pipelines.store import open_store

    run_crawl_process(str(sample_sources), s3_store_url, "race", ["shine", "technode"])
    store = open_store(s3_store_url)
    raw_keys = [k for k in store.list("raw/") if k.endswith(".warc.gz")]
    assert raw_keys
    results: list[Any] = []
    errors: list[BaseException] = []

    def cleaner(pages: Any) -> Any:
        return ((p, clean_page(p)) for p in pages)

    def racer(key: str) -> None:
        try:
            results.append(clean_raw_object(open_store(s3_store_url), key, cleaner))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    for key in raw_keys:
        threads = [threading.Thread(target=racer, args=(key,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors
    articles = {p for p, e in load_expected().items() if e["kind"] == "article" and e["source"] in ("shine", "technode")}
    doc_keys = list(store.list("clean/v1/docs/"))
    docs = [json.loads(store.get(k)) for k in doc_keys]
    assert len(docs) == len(articles), "one copy of each document"
    assert len({d["text"] for d in docs}) == len(docs) and len({d["url"] for d in docs}) == len(docs)
    assert not list(store.list("clean/v1/aliases/")), "racers on the same pages record no aliases"
    from pipelines.parquet import read_parquet_dataset

    ids = read_parquet_dataset(store, columns=["id"]).column("id").to_pylist()
    assert sorted(ids) == sorted(d["id"] for d in docs), "each document once in the analytics view"
