"""Clean stage into the local store versus a real S3 server (moto_server on loopback), same pages,
same run: docs/s, and the share of the time spent writing. Shows whether uploads are the bottleneck.

    python -m tests.bench.bench_store [--pages 362] [--workers 2]
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cleaning.records import RawPage
from flows.pool import clean_pages
from pipelines.clean_zone import clean_raw_object
from pipelines.raw_zone import RawWarcWriter
from pipelines.store import ObjectStore, open_store

HTML_DIR = Path(__file__).resolve().parents[1] / "data" / "extraction-benchmark" / "html"


def build_raw_zone(store: ObjectStore, pages: int) -> list[str]:
    files = sorted(HTML_DIR.glob("*.html.gz"))
    writer = RawWarcWriter(store, "bench", max_records=100)
    for i in range(pages):
        body = gzip.decompress(files[i % len(files)].read_bytes())
        # Each copy of a page gets its own first words, so every page is a document of its own.
        body = body.replace(b"<p>", f"<p>Copy {i // len(files)}. ".encode(), 1)
        url = f"https://bench.example/{i}"
        full = writer.write(RawPage(url, url, 200, {"content-type": "text/html"}, body, "2024-05-06T00:00:00Z", "bench"))
        if full:
            writer.finish(*full)
    return [e["key"] for e in writer.finish_all()]


def clean_all(store: ObjectStore, keys: list[str], workers: int) -> dict[str, Any]:
    started = time.perf_counter()
    stored = store_seconds = 0.0
    for key in keys:
        result = clean_raw_object(store, key, lambda pages: clean_pages(pages, workers, 60.0))
        stored += result.stored
        store_seconds += result.seconds_store
    total = time.perf_counter() - started
    return {"docs": stored, "seconds": total, "docs_per_s": stored / total, "store_share": store_seconds / total}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=362)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    from tests.pipelines.s3server import TEST_CREDENTIALS, TEST_REGION, MotoServer, create_bucket

    with tempfile.TemporaryDirectory() as tmp, MotoServer() as server:
        os.environ.update(TEST_CREDENTIALS, AWS_DEFAULT_REGION=TEST_REGION, CLEANWIRE_S3_ENDPOINT_URL=server.endpoint,
                          AWS_EC2_METADATA_DISABLED="true")
        local = open_store(Path(tmp) / "local")
        s3 = open_store(f"s3://{create_bucket(server.endpoint)}/bench")
        keys = build_raw_zone(local, args.pages)
        for key in keys:
            s3.put_if_absent(key, local.get(key))
        clean_pages([], args.workers)  # start the worker pool before timing
        results = {"local": clean_all(local, keys, args.workers), "s3 (moto_server)": clean_all(s3, keys, args.workers)}
    print(f"clean stage, {args.pages} pages, {args.workers} workers")
    print(f"{'store':<18}{'docs':>6}{'seconds':>10}{'docs/s':>10}{'writing':>10}")
    for name, r in results.items():
        print(f"{name:<18}{r['docs']:>6.0f}{r['seconds']:>10.2f}{r['docs_per_s']:>10.1f}{r['store_share']:>9.0%}")
    ratio = results["s3 (moto_server)"]["docs_per_s"] / results["local"]["docs_per_s"]
    print(f"S3 / local docs/s: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
