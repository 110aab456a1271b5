"""The object store unreachable for 30 s in the middle of a run: the run rides it out (botocore's retries,
then Prefect's task retries) or fails with a clear error and a re-run completes; either way every article
has exactly one document and nothing is partial or duplicated.

The store is a real ``moto_server`` behind a TCP proxy that resets every connection during the outage
and then lets them through again: unlike a restarted moto, the store keeps its data, as S3 or MinIO
would. ``CLEANWIRE_FAULT_OUTAGE_SECONDS`` sets the length (default 30) and
``CLEANWIRE_FAULT_OUTAGE_STAGE`` when it starts: ``clean`` (default; at the first document written)
or ``crawl`` (at the first raw object uploaded).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from flows.runs import run_flow
from pipelines.s3 import S3Store
from tests.faults.invariants import DOCS, sample_site_urls, store_problems, summary
from tests.faults.proxy import CuttableProxy
from tests.pipelines.s3server import TEST_REGION, create_bucket

pytestmark = pytest.mark.e2e

OUTAGE_SECONDS = float(os.environ.get("CLEANWIRE_FAULT_OUTAGE_SECONDS", "30"))
OUTAGE_STAGE = os.environ.get("CLEANWIRE_FAULT_OUTAGE_STAGE", "clean")
TRIGGER = {"clean": DOCS, "crawl": "raw/"}[OUTAGE_STAGE]


def test_store_unavailable_mid_run(
    prefect_in_process: str,
    s3_env: str,
    sample_site: Any,
    sample_sources: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket = create_bucket(s3_env)
    url = f"s3://{bucket}/data"
    direct = S3Store(bucket, "data", endpoint_url=s3_env, region=TEST_REGION)  # the test reads past the proxy
    articles, others = sample_site_urls(sample_site)
    with CuttableProxy("127.0.0.1", int(urlsplit(s3_env).port or 0)) as proxy:
        # The run (and its crawl process) reach the store only through the proxy.
        monkeypatch.setenv("CLEANWIRE_S3_ENDPOINT_URL", proxy.endpoint)
        # Smaller raw objects: the outage meets several of them, in flight and not yet started.
        monkeypatch.setenv("CLEANWIRE_WARC_MAX_RECORDS", "4")
        done = threading.Event()

        def outage() -> None:
            while not done.is_set():
                if next(iter(direct.list(TRIGGER)), None) is not None:
                    proxy.outage(OUTAGE_SECONDS)
                    return
                time.sleep(0.05)

        cutter = threading.Thread(target=outage, name="outage", daemon=True)
        cutter.start()
        started = time.monotonic()
        outcome: dict[str, Any] = {}
        try:
            report = run_flow(sources_file=str(sample_sources), store=url)
            outcome = {"status": report["status"], "totals": report["totals"]}
            if report["status"] != "ok":
                outcome["log_tail"] = report.get("crawl", {}).get("log_tail", "")[-1500:]
        except Exception as exc:  # the run may give up: then it must say why, and a re-run completes
            outcome = {"failed": f"{type(exc).__name__}: {exc}"[:500]}
        finished = time.monotonic()
        done.set()
        cutter.join()
        assert proxy.cuts, f"the outage never started: nothing under {TRIGGER} during the run"
        ((cut_start, cut_end),) = proxy.cuts
        outcome.update(
            seconds=round(finished - started, 1),
            outage_from=round(cut_start - started, 1),
            outage_to=round(cut_end - started, 1),
            connections_reset=proxy.refused,
        )
        assert cut_start < finished and proxy.refused > 0, f"the run did not meet the outage: {outcome}"
        if outcome.get("status") != "ok":
            # Failed or finished with problems: it says which store and key, and the same run again completes.
            assert "s3://" in json.dumps(outcome), outcome
            again = run_flow(sources_file=str(sample_sources), store=url)
            outcome["rerun"] = again["status"]
            assert again["status"] == "ok", again

    problems = store_problems(direct, articles, not_articles=others)
    assert problems == [], "\n".join([json.dumps(outcome), *problems])
    assert summary(direct)["documents"] == len(articles)
    print(json.dumps(outcome))
