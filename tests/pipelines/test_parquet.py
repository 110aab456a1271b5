"""The Parquet view: schema, round-trip, and reading it with pyarrow.dataset (S3) and DuckDB (local)."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleaning.records import SCHEMA_VERSION
from pipelines import layout
from pipelines.parquet import (
    DOCUMENT_ARROW_SCHEMA,
    JSON_COLUMNS,
    SCHEMA_VERSION_KEY,
    documents_to_parquet_bytes,
    iter_rows,
    read_parquet_dataset,
    row_to_document,
)
from pipelines.store import LocalStore, ObjectStore, open_store
from tests.pipelines.sample_docs import make_doc, write_docs

DAYS = ("2026-11-01", "2026-11-02", "2026-11-03")


def _docs() -> list[dict]:
    return [
        make_doc(10 * i + j, day=day, source=("alpha", "beta")[j % 2])
        for i, day in enumerate(DAYS)
        for j in range(3)
    ]


def test_schema_has_every_document_field_and_the_version() -> None:
    assert DOCUMENT_ARROW_SCHEMA.names == list(make_doc(1))
    assert DOCUMENT_ARROW_SCHEMA.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()
    for name in JSON_COLUMNS:
        assert DOCUMENT_ARROW_SCHEMA.field(name).type == pa.string()


def test_bytes_round_trip_to_the_same_documents() -> None:
    docs = _docs()
    data = documents_to_parquet_bytes(docs)
    assert data == documents_to_parquet_bytes(docs)  # deterministic: write-once re-runs are no-ops
    file = pq.ParquetFile(io.BytesIO(data))
    assert file.schema_arrow.metadata[SCHEMA_VERSION_KEY] == b"1.0"
    assert file.metadata.row_group(0).column(0).compression == "ZSTD"
    assert [row_to_document(r) for r in iter_rows(file.read())] == docs


def test_empty_file_is_valid() -> None:
    table = pq.read_table(io.BytesIO(documents_to_parquet_bytes([])))
    assert table.num_rows == 0
    assert table.schema.names == DOCUMENT_ARROW_SCHEMA.names


def test_missing_required_field_is_refused() -> None:
    doc = make_doc(1)
    doc["text"] = None
    with pytest.raises((pa.ArrowInvalid, ValueError)):
        documents_to_parquet_bytes([doc])


def _check_dataset(store: ObjectStore) -> None:
    table = read_parquet_dataset(store)
    assert table.num_rows == 9
    assert sorted(set(table.column("date").to_pylist())) == [date.fromisoformat(d) for d in DAYS]
    middle = read_parquet_dataset(store, since="2026-11-02", until=date(2026, 11, 2), columns=["id", "date"])
    assert middle.column_names == ["id", "date"]
    assert middle.num_rows == 3
    assert set(middle.column("date").to_pylist()) == {date(2026, 11, 2)}
    assert read_parquet_dataset(store, since="2026-11-03").num_rows == 3
    assert read_parquet_dataset(store, until="2026-10-31").num_rows == 0


def test_pyarrow_dataset_straight_from_the_s3_server(s3_store_url: str) -> None:
    store = open_store(s3_store_url)
    assert read_parquet_dataset(store).num_rows == 0  # no view yet
    write_docs(store, _docs())
    _check_dataset(store)


def test_local_store_dataset_and_duckdb(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    write_docs(store, _docs())
    _check_dataset(store)
    files = f"{store.root}/{layout.CLEAN_PREFIX}/parquet/*/*.parquet"
    rows = duckdb.execute(
        f"""
        SELECT date, source, count(*) AS n, min(json_extract_string(lineage, '$.cleaning_version')) AS v
        FROM read_parquet('{files}', hive_partitioning = true)
        WHERE date >= DATE '2026-11-02'
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    assert rows == [
        (date(2026, 11, 2), "alpha", 2, "2026.11.1"),
        (date(2026, 11, 2), "beta", 1, "2026.11.1"),
        (date(2026, 11, 3), "alpha", 2, "2026.11.1"),
        (date(2026, 11, 3), "beta", 1, "2026.11.1"),
    ]


def test_stores_pyarrow_cannot_address_are_read_through_the_store(tmp_path: Path) -> None:
    class Wrapped:  # any ObjectStore that is neither LocalStore nor S3Store
        def __init__(self, inner: LocalStore):
            self._inner = inner
            self.url = inner.url

        def __getattr__(self, name: str) -> object:
            return getattr(self._inner, name)

    inner = LocalStore(tmp_path / "store")
    write_docs(inner, _docs())
    table = read_parquet_dataset(Wrapped(inner), since="2026-11-03")  # type: ignore[arg-type]
    assert table.num_rows == 3
