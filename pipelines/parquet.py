"""The analytics view: clean documents as Parquet, one file per raw object, partitioned ``date=<fetch day>``.

A row is ``CleanDocument.to_dict()`` flattened for columnar tools: scalar and string-list fields keep their
types; the nested fields (metadata, lineage, repairs, removals) are JSON text, because their shapes are
open (lineage may grow, metadata values are any JSON) and a fixed struct would make every addition a
schema break. DuckDB (``json_extract``), pandas and Spark all read JSON text columns.

Timestamps stay ISO 8601 strings, as in the JSON documents: a row converts back to the exact document
(``row_to_document``), and ``date`` (the partition column, from the path) is the day to filter on.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import IO, Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cleaning.records import SCHEMA_VERSION
from pipelines.layout import CLEAN_PREFIX
from pipelines.store import LocalStore, ObjectStore

logger = logging.getLogger(__name__)

PARQUET_PREFIX = f"{CLEAN_PREFIX}/parquet"
JSON_COLUMNS = ("metadata", "lineage", "repairs", "removals")
SCHEMA_VERSION_KEY = b"cleanwire.schema_version"
COMPRESSION = "zstd"  # best size/speed trade-off for text; read by every current Parquet reader
ROWS_PER_BATCH = 1000  # documents buffered per row group when streaming

_JSON_FIELD_META = {b"encoding": b"json"}

DOCUMENT_ARROW_SCHEMA = pa.schema(
    [
        pa.field("schema_version", pa.string(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("canonical_url", pa.string()),
        pa.field("urls", pa.list_(pa.string()), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("authors", pa.list_(pa.string()), nullable=False),
        pa.field("published", pa.string()),
        pa.field("language", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("fetched_at", pa.string(), nullable=False),
        pa.field("metadata", pa.string(), nullable=False, metadata=_JSON_FIELD_META),
        pa.field("lineage", pa.string(), nullable=False, metadata=_JSON_FIELD_META),
        pa.field("repairs", pa.string(), nullable=False, metadata=_JSON_FIELD_META),
        pa.field("removals", pa.string(), nullable=False, metadata=_JSON_FIELD_META),
        pa.field("near_duplicate_of", pa.string()),
        pa.field("similarity", pa.float64()),
        pa.field("story_id", pa.string()),
    ],
    metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()},
)
# The partition column, taken from ``date=YYYY-MM-DD`` in the path, never stored in the files.
PARTITIONING = ds.partitioning(pa.schema([pa.field("date", pa.date32())]), flavor="hive")
DATASET_SCHEMA = DOCUMENT_ARROW_SCHEMA.append(pa.field("date", pa.date32()))


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def document_to_row(doc: dict[str, Any]) -> dict[str, Any]:
    row = {name: doc.get(name) for name in DOCUMENT_ARROW_SCHEMA.names}
    for name in JSON_COLUMNS:
        row[name] = _json(doc.get(name) or ({} if name in ("metadata", "lineage") else []))
    return row


def row_to_document(row: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``document_to_row``; a ``date`` partition column, if present, is dropped."""
    doc = {name: row.get(name) for name in DOCUMENT_ARROW_SCHEMA.names}
    for name in JSON_COLUMNS:
        doc[name] = json.loads(row[name])
    return doc


def documents_to_table(docs: Iterable[dict[str, Any]]) -> pa.Table:
    table = pa.Table.from_pylist([document_to_row(d) for d in docs], schema=DOCUMENT_ARROW_SCHEMA)
    table.validate(full=True)
    return table


def write_documents_parquet(docs: Iterable[dict[str, Any]], sink: str | IO[bytes]) -> int:
    """Stream documents into one Parquet file (row groups of ``ROWS_PER_BATCH``); returns the row count."""
    count = 0
    with pq.ParquetWriter(sink, DOCUMENT_ARROW_SCHEMA, compression=COMPRESSION) as writer:
        batch: list[dict[str, Any]] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= ROWS_PER_BATCH:
                writer.write_table(documents_to_table(batch))
                count += len(batch)
                batch = []
        if batch or count == 0:
            writer.write_table(documents_to_table(batch))
            count += len(batch)
    return count


def documents_to_parquet_bytes(docs: list[dict[str, Any]]) -> bytes:
    """One Parquet file (zstd) for a raw object's documents, to store at ``layout.parquet_key``. The same
    documents give the same bytes, so a re-run's write-once PUT is a no-op."""
    buffer = io.BytesIO()
    write_documents_parquet(docs, buffer)
    return buffer.getvalue()


def as_date(value: str | date | None, name: str = "date") -> date | None:
    """``YYYY-MM-DD``, a date or a datetime (its date) → date; None stays None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected YYYY-MM-DD") from None


def date_filter(since: str | date | None, until: str | date | None) -> ds.Expression | None:
    """Both bounds inclusive, on the partition date."""
    lo, hi = as_date(since, "since"), as_date(until, "until")
    expr: ds.Expression | None = None
    if lo is not None:
        expr = ds.field("date") >= pa.scalar(lo, pa.date32())
    if hi is not None:
        upper = ds.field("date") <= pa.scalar(hi, pa.date32())
        expr = upper if expr is None else expr & upper
    return expr


def arrow_filesystem(store: ObjectStore) -> tuple[pafs.FileSystem, str] | None:
    """A pyarrow filesystem and base path for the store's root, or None for stores it cannot address."""
    if isinstance(store, LocalStore):
        return pafs.LocalFileSystem(), str(store.root)
    from pipelines.s3 import S3Store  # boto3 only when an S3 store is in play

    if isinstance(store, S3Store):
        return s3_filesystem(store), f"{store.bucket}/{store.prefix}".rstrip("/")
    return None


def s3_filesystem(store: Any) -> pafs.S3FileSystem:
    """Arrow's own S3 client with the store's endpoint, region and addressing; credentials from the AWS
    chain (Arrow reads the same environment variables and files as botocore)."""
    endpoint = (
        store.endpoint_url or os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    )
    kwargs: dict[str, Any] = {
        "region": store.region or store.client.meta.region_name or "us-east-1",
        "connect_timeout": store.connect_timeout,
        "request_timeout": store.read_timeout,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=store.max_attempts),
        "force_virtual_addressing": store.addressing_style == "virtual",
    }
    if endpoint:
        parts = urlsplit(endpoint)
        kwargs["endpoint_override"] = parts.netloc.rsplit("@", 1)[-1] + parts.path.rstrip("/")
        kwargs["scheme"] = parts.scheme or "https"
    return pafs.S3FileSystem(**kwargs)


def parquet_dataset(store: ObjectStore) -> ds.Dataset | None:
    """The whole Parquet view as a ``pyarrow.dataset`` (lazy), or None if the store has none."""
    located = arrow_filesystem(store)
    if located is None:
        return None
    filesystem, base = located
    root = f"{base}/{PARQUET_PREFIX}"
    if filesystem.get_file_info(root).type == pafs.FileType.NotFound:
        return None
    return ds.dataset(
        root, filesystem=filesystem, format="parquet", schema=DATASET_SCHEMA, partitioning=PARTITIONING
    )


def _read_via_store(store: ObjectStore, expr: ds.Expression | None, columns: list[str] | None) -> pa.Table:
    """For stores pyarrow cannot address: fetch each file through the store."""
    tables = []
    for key in store.list(f"{PARQUET_PREFIX}/date="):
        day = key[len(PARQUET_PREFIX) + len("/date=") :].split("/", 1)[0]
        table = pq.read_table(io.BytesIO(store.get(key)), schema=DOCUMENT_ARROW_SCHEMA)
        tables.append(
            table.append_column("date", pa.array([date.fromisoformat(day)] * table.num_rows, pa.date32()))
        )
    table = pa.concat_tables(tables) if tables else DATASET_SCHEMA.empty_table()
    if expr is not None:
        table = table.filter(expr)
    return table.select(columns) if columns else table


def read_parquet_dataset(
    store: ObjectStore,
    since: str | date | None = None,
    until: str | date | None = None,
    *,
    columns: list[str] | None = None,
) -> pa.Table:
    """Rows of the Parquet view whose partition date is within ``[since, until]`` (inclusive, either
    open), with a ``date`` column; only the date partitions in range are read."""
    expr = date_filter(since, until)
    dataset = parquet_dataset(store)
    if dataset is None:
        if arrow_filesystem(store) is None:
            return _read_via_store(store, expr, columns)
        empty = DATASET_SCHEMA.empty_table()
        return empty.select(columns) if columns else empty
    return dataset.to_table(columns=columns, filter=expr)


def iter_rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches():
        yield from batch.to_pylist()
