"""The downstream API (iter_documents, get, aliases) and the ls/cat/export commands."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from flows import reader_cli
from pipelines import layout
from pipelines.parquet import iter_rows, row_to_document
from pipelines.readers import aliases, get, iter_documents
from pipelines.store import KeyNotFound, LocalStore, ObjectStore, open_store
from tests.pipelines.sample_docs import make_doc, write_docs

DOCS = [
    make_doc(1, day="2026-11-01", source="alpha"),
    make_doc(2, day="2026-11-01", source="beta"),
    make_doc(3, day="2026-11-02", source="alpha", title="Tab\there,\nnewline"),
    make_doc(4, day="2026-11-03", source="beta"),
]


def _ids(docs: Any) -> set[str]:
    return {d["id"] for d in docs}


def _expected(since: str | None = None, until: str | None = None, source: str | None = None) -> set[str]:
    return {
        d["id"]
        for d in DOCS
        if (since is None or d["fetched_at"][:10] >= since)
        and (until is None or d["fetched_at"][:10] <= until)
        and (source is None or d["source"] == source)
    }


@pytest.fixture
def local_store(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "store")
    write_docs(store, DOCS)
    return store


FILTERS = [
    {},
    {"since": "2026-11-02"},
    {"until": "2026-11-01"},
    {"since": "2026-11-01", "until": "2026-11-02", "source": "alpha"},
    {"source": "beta"},
    {"since": "2026-12-01"},
]


@pytest.mark.parametrize("use_parquet", [True, False])
@pytest.mark.parametrize("filters", FILTERS)
def test_iter_documents_filters_by_fetch_date_and_source(
    local_store: LocalStore, filters: dict[str, str], use_parquet: bool
) -> None:
    docs = list(iter_documents(local_store, use_parquet=use_parquet, **filters))
    assert _ids(docs) == _expected(**filters)
    assert len(docs) == len(_ids(docs))  # each once


def test_parquet_path_is_chosen_when_the_view_exists_and_yields_each_id_once(local_store: LocalStore) -> None:
    # The same content seen again on a later day lands in that day's partition too.
    again = dict(DOCS[0], fetched_at="2026-11-03T09:00:00Z")
    write_docs(local_store, [again])
    docs = list(iter_documents(local_store.url))
    assert [d["id"] for d in docs].count(DOCS[0]["id"]) == 1
    assert docs == sorted(docs, key=lambda d: (d["fetched_at"][:10], d["id"]))
    # The stored JSON (first sighting) is what is returned, not the Parquet row.
    assert next(d for d in docs if d["id"] == DOCS[0]["id"]) == DOCS[0]
    assert _ids(iter_documents(local_store, since="2026-11-03")) == {DOCS[0]["id"], DOCS[3]["id"]}


def test_without_parquet_view_documents_are_listed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    write_docs(store, DOCS, parquet=False)
    assert _ids(iter_documents(store, since="2026-11-02")) == _expected(since="2026-11-02")


def test_get_and_missing_document(local_store: LocalStore) -> None:
    assert get(local_store, DOCS[1]["id"]) == DOCS[1]
    missing = "0" * 64
    with pytest.raises(KeyNotFound, match=f"no document {missing} in"):
        get(local_store, missing)
    with pytest.raises(ValueError):
        get(local_store, "../etc/passwd")


def _write_alias(store: ObjectStore, doc_id: str, url: str, source: str) -> None:
    alias = {"id": doc_id, "url": url, "source": source, "fetched_at": "2026-11-04T00:00:00Z"}
    store.put_if_absent(layout.alias_key(doc_id, url), json.dumps(alias).encode())


def test_aliases(local_store: LocalStore) -> None:
    doc_id = DOCS[0]["id"]
    assert aliases(local_store, doc_id) == []
    _write_alias(local_store, doc_id, "https://mirror.example/a/1", "mirror")
    _write_alias(local_store, doc_id, "https://other.example/1", "other")
    _write_alias(local_store, DOCS[1]["id"], "https://other.example/2", "other")
    found = aliases(local_store, doc_id)
    assert {a["url"] for a in found} == {"https://mirror.example/a/1", "https://other.example/1"}


def test_readers_on_s3(s3_store_url: str) -> None:
    store = open_store(s3_store_url)
    write_docs(store, DOCS)
    _write_alias(store, DOCS[2]["id"], "https://mirror.example/3", "mirror")
    assert _ids(iter_documents(s3_store_url, since="2026-11-02")) == _expected(since="2026-11-02")
    assert _ids(iter_documents(store, source="alpha", use_parquet=False)) == _expected(source="alpha")
    assert get(s3_store_url, DOCS[3]["id"]) == DOCS[3]
    assert [a["source"] for a in aliases(store, DOCS[2]["id"])] == ["mirror"]


# --- CLI ------------------------------------------------------------------------------------------------


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="cleanwire")
    reader_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


def test_cli_ls(local_store: LocalStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("ls", "--store", local_store.url, "--since", "2026-11-02") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{DOCS[2]['id']}\t2026-11-02\talpha\tTab here, newline",
        f"{DOCS[3]['id']}\t2026-11-03\tbeta\tHeadline 4",
    ]
    assert _run("ls", "--store", local_store.url, "--limit", "1", "--source", "beta") == 0
    assert capsys.readouterr().out.split("\t")[0] == DOCS[1]["id"]


def test_cli_refuses_a_missing_store_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("ls", "--store", str(tmp_path / "typo")) == 1
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


def test_cli_store_from_environment(local_store: LocalStore, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("CLEANWIRE_STORE", local_store.url)
    assert _run("ls") == 0
    assert len(capsys.readouterr().out.splitlines()) == len(DOCS)


def test_cli_cat(local_store: LocalStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("cat", DOCS[0]["id"], "--store", local_store.url) == 0
    assert json.loads(capsys.readouterr().out) == DOCS[0]
    assert _run("cat", "f" * 64, "--store", local_store.url) == 1
    assert "no document" in capsys.readouterr().err
    assert _run("cat", "not-an-id", "--store", local_store.url) == 2
    assert _run("ls", "--store", local_store.url, "--since", "1st of May") == 2


def test_cli_export_jsonl_and_parquet(local_store: LocalStore, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.jsonl"
    assert _run("export", "--store", local_store.url, "--source", "alpha", "-o", str(out)) == 0
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert _ids(exported) == _expected(source="alpha")

    store = local_store.url
    assert _run("export", "--store", store, "--format", "jsonl", "--until", "2026-11-01", "-o", "-") == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert _ids(printed) == _expected(until="2026-11-01")

    pq_out = tmp_path / "out.parquet"
    assert _run("export", "--store", local_store.url, "--format", "parquet", "-o", str(pq_out)) == 0
    rows = [row_to_document(r) for r in iter_rows(pq.read_table(pq_out))]
    assert sorted(rows, key=lambda d: d["id"]) == sorted(DOCS, key=lambda d: d["id"])


def test_cli_export_parquet_to_stdout(local_store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BytesIO()

    class Stdout:
        def __init__(self) -> None:
            self.buffer = buffer

        def isatty(self) -> bool:
            return False

    monkeypatch.setattr("sys.stdout", Stdout())
    store = local_store.url
    assert _run("export", "--store", store, "--format", "parquet", "--since", "2026-11-03", "-o", "-") == 0
    assert pq.read_table(io.BytesIO(buffer.getvalue())).column("id").to_pylist() == [DOCS[3]["id"]]
