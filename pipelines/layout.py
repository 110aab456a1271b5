"""The storage layout: every key the pipeline reads or writes is derived here, deterministically.

    raw/source=<s>/date=<YYYY-MM-DD>/<crawl-run>-<n>.warc.gz      fetched responses (WARC, gzip)
    manifests/crawl/<crawl-run>/<s>.json                        what one crawl wrote for a source
    clean/v<major>/docs/<id[:2]>/<id>.json                      one document per content hash, write-once
    clean/v<major>/aliases/<id>/<sha256(url)[:16]>.json         other URLs/sources seen with that content
    clean/v<major>/parquet/date=<YYYY-MM-DD>/<s>-<raw-stem>.parquet  analytics view, one file per raw object
    clean/v<major>/schema/document-<version>.schema.json        the published JSON Schema
    rejects/source=<s>/date=<YYYY-MM-DD>/<raw-stem>.jsonl       rejects with reasons (replayable)
    state/cleaned/<raw key>.json                                completion marker of a cleaned raw object
    state/sources/<s>/boilerplate.json                          learned per-source boilerplate
    state/sources/<s>/fetch-state.json.gz                       incremental crawling: validators, hashes
    manifests/runs/<run>.json                                   run report
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cleaning.records import SCHEMA_VERSION

SCHEMA_MAJOR = SCHEMA_VERSION.split(".")[0]
CLEAN_PREFIX = f"clean/v{SCHEMA_MAJOR}"

_SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_RAW_KEY = re.compile(r"^raw/source=(?P<source>[^/]+)/date=(?P<date>\d{4}-\d{2}-\d{2})/(?P<stem>[^/]+)\.warc\.gz$")


def valid_source_name(name: str) -> bool:
    return bool(_SOURCE_NAME.match(name))


def raw_key(source: str, date: str, crawl_run: str, part: int) -> str:
    return f"raw/source={source}/date={date}/{crawl_run}-{part:05d}.warc.gz"


@dataclass(frozen=True, slots=True)
class RawKey:
    key: str
    source: str
    date: str
    stem: str


def parse_raw_key(key: str) -> RawKey | None:
    m = _RAW_KEY.match(key)
    return RawKey(key, m["source"], m["date"], m["stem"]) if m else None


def crawl_manifest_key(crawl_run: str, source: str) -> str:
    return f"manifests/crawl/{crawl_run}/{source}.json"


def run_manifest_key(run_id: str) -> str:
    return f"manifests/runs/{run_id}.json"


def doc_key(doc_id: str) -> str:
    return f"{CLEAN_PREFIX}/docs/{doc_id[:2]}/{doc_id}.json"


def alias_key(doc_id: str, url: str) -> str:
    return f"{CLEAN_PREFIX}/aliases/{doc_id}/{hashlib.sha256(url.encode()).hexdigest()[:16]}.json"


def parquet_key(source: str, date: str, raw_stem: str) -> str:
    """One file per raw object: raw stems are unique per source only (each source of a crawl has a
    ``<run>-00000``), so the source is part of the name."""
    return f"{CLEAN_PREFIX}/parquet/date={date}/{source}-{raw_stem}.parquet"


def schema_key(version: str = SCHEMA_VERSION) -> str:
    """One immutable schema object per schema version (1.0, 1.1, …) beside the data."""
    return f"{CLEAN_PREFIX}/schema/document-{version}.schema.json"


def rejects_key(source: str, date: str, stem: str) -> str:
    return f"rejects/source={source}/date={date}/{stem}.jsonl"


def cleaned_marker_key(raw: str) -> str:
    return f"state/cleaned/{raw}.json"


def fetch_state_key(source: str) -> str:
    return f"state/sources/{source}/fetch-state.json.gz"


def boilerplate_key(source: str) -> str:
    return f"state/sources/{source}/boilerplate.json"
