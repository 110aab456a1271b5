"""``kill -9`` of ``cleanwire`` mid-crawl and mid-clean, then the same command again: every article of the
sample site ends up with exactly one document, nothing is partial, nothing is duplicated.

Real components throughout: the sample site on loopback, the session's Prefect server, ``cleanwire`` as
a subprocess (its crawl is a Scrapy process of its own), a local store. Raw objects hold two records
each (``CLEANWIRE_WARC_MAX_RECORDS``) so a crawl publishes many and can be killed between any two. The
kill points come from a seeded RNG (``CLEANWIRE_FAULT_SEED`` picks others) and are counted in objects
seen in the store, polled every 20 ms; the whole process group is killed, as a container runtime or
``systemctl kill`` would, so the crawl process dies with its parent.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipelines import layout
from pipelines.store import LocalStore
from tests.faults.invariants import DOCS, sample_site_urls, store_problems, summary
from tests.servers import BIN, cleanwire

pytestmark = pytest.mark.e2e

SEED = int(os.environ.get("CLEANWIRE_FAULT_SEED", "20261121"))
POLL = 0.02  # seconds between looks at the store
RAW_OBJECT_RECORDS = 2


def count(store: LocalStore, prefix: str) -> int:
    if prefix == "raw/":
        return sum(1 for k in store.list(prefix) if layout.parse_raw_key(k) is not None)
    return sum(1 for _ in store.list(prefix))


def run_until_killed(
    args: list[str], env: dict[str, str], kill_when: Callable[[], bool], log: Path, timeout: float = 300
) -> dict[str, Any]:
    """Run ``cleanwire *args`` and SIGKILL its process group as soon as ``kill_when()`` holds."""
    exe = shutil.which("cleanwire", path=str(BIN)) or str(BIN / "cleanwire")
    started = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [exe, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        while proc.poll() is None and time.monotonic() - started < timeout:
            if kill_when():
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
                return {"killed": True, "after": round(time.monotonic() - started, 1)}
            time.sleep(POLL)
        return {"killed": False, "exit": proc.poll(), "log": log.read_text("utf-8", "replace")[-3000:]}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def run_ids(store: LocalStore) -> set[str]:
    return {raw.stem.rsplit("-", 1)[0] for k in store.list("raw/") if (raw := layout.parse_raw_key(k))}


def remove_local_leftovers(runs: set[str]) -> int:
    """A killed crawl leaves its unpublished WARC files and its log in the temp directory (never in the
    store); remove those of ``runs`` so that tests do not fill /tmp. Returns how many were found."""
    tmp = Path(tempfile.gettempdir())
    found = [d for run in runs for d in tmp.glob(f"cleanwire-warc-{run}-*")]
    for crawl in tmp.glob("cleanwire-crawl-*"):
        log = crawl / "scrapy.log"
        if log.is_file() and any(run in log.read_text("utf-8", "replace") for run in runs):
            found.append(crawl)
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return len(found)


def test_kill_9_in_crawl_and_in_clean_then_rerun(
    cli_env: dict[str, str], sample_site: Any, sample_sources: Path, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    kill_after_raw = rng.randint(1, 8)  # a full crawl of the sample site publishes ~20 raw objects
    kill_after_docs = rng.randint(1, 15)  # of 19 documents
    env = {**cli_env, "CLEANWIRE_WARC_MAX_RECORDS": str(RAW_OBJECT_RECORDS)}
    root = tmp_path / "store"
    store = LocalStore(root)
    args = ["run", "--sources", str(sample_sources), "--store", str(root), "--json"]
    articles, others = sample_site_urls(sample_site)
    steps = []

    # 1. Killed while crawling, after `kill_after_raw` raw objects were published.
    outcome = run_until_killed(
        args, env, lambda: count(store, "raw/") >= kill_after_raw, tmp_path / "run1.log"
    )
    assert outcome["killed"], f"the crawl ended before {kill_after_raw} raw objects: {outcome}"
    killed_runs = run_ids(store)
    steps.append(
        {
            "killed in crawl after raw objects": kill_after_raw,
            **outcome,
            **summary(store),
            "local leftovers": remove_local_leftovers(killed_runs),
        }
    )
    assert count(store, DOCS) == 0
    assert store_problems(store, finished=False) == []

    # 2. The same command: killed while cleaning, after `kill_after_docs` documents were written.
    outcome = run_until_killed(
        args, env, lambda: count(store, DOCS) >= kill_after_docs, tmp_path / "run2.log"
    )
    assert outcome["killed"], f"the run ended before {kill_after_docs} documents: {outcome}"
    steps.append({"killed in clean after documents": kill_after_docs, **outcome, **summary(store)})
    assert store_problems(store, finished=False) == []

    # 3. The same command again, to the end.
    proc = cleanwire(*args, env=env)
    report = json.loads(proc.stdout)
    steps.append({"completed": report["status"], **summary(store)})
    assert report["status"] == "ok", report

    problems = store_problems(store, articles, not_articles=others)
    assert problems == [], "\n".join([json.dumps(s) for s in steps] + problems)
    # The killed crawl's pages were fetched again (no fetch state was saved) and cleaned once.
    assert summary(store)["documents"] == len(articles)
    print(json.dumps(steps, indent=1))
