"""Bring WARC files written by any tool (CC-NEWS, wget, browsertrix, another crawler) into the raw
zone, so they are cleaned by exactly the code path of our own crawls. Importing the same file twice
writes nothing: its raw keys are derived from the file's SHA-256."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import tempfile
from pathlib import Path

from pipelines.raw_zone import RawWarcWriter, iter_raw_pages
from pipelines.store import ObjectStore, open_store

logger = logging.getLogger(__name__)


class WarcImportError(ValueError):
    pass


def _local_copy(location: str, tmpdir: Path) -> Path:
    if location.startswith("s3://"):
        bucket_and_key = location.removeprefix("s3://")
        bucket, _, key = bucket_and_key.partition("/")
        if not key:
            raise WarcImportError(f"{location}: an s3:// WARC location needs a key")
        path = tmpdir / Path(key).name
        open_store(f"s3://{bucket}").download_file(key, path)
        return path
    path = Path(location)
    if not path.is_file():
        raise WarcImportError(f"{location}: no such WARC file")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def import_warc(store: ObjectStore, location: str, source: str, max_records: int = 500) -> list[str]:
    """Copy the response records of a WARC (local path or s3://bucket/key, gzip or plain) into the
    raw zone under ``source``; returns the raw keys it consists of (written now or before)."""
    with tempfile.TemporaryDirectory(prefix="cleanwire-warc-import-") as tmp:
        path = _local_copy(location, Path(tmp))
        run = f"import-{_sha256(path)[:16]}"
        writer = RawWarcWriter(store, run, max_records)
        count = 0
        try:
            with open(path, "rb") as fh:
                for page in iter_raw_pages(fh, source=source):
                    page = dataclasses.replace(page, source=source)  # the importer names the partition
                    if not page.fetched_at:
                        raise WarcImportError(f"{location}: a response record has no WARC-Date")
                    full = writer.write(page)
                    count += 1
                    if full is not None:
                        writer.finish(*full)
        except WarcImportError:
            raise
        except Exception as exc:  # warcio raises several types for a file that is not WARC
            raise WarcImportError(f"{location}: not a readable WARC file ({type(exc).__name__}: {exc})") from None
        published = writer.finish_all()
    if count == 0:
        raise WarcImportError(f"{location}: no HTTP response records in this WARC")
    logger.info("imported %d records from %s as %s", count, location, run)
    return [entry["key"] for entry in published]

