"""``python -m tests.hostile.crawl_child ARGS_JSON OUT_JSON``: one ``flows.runs.run_crawl_process`` call in a
process of its own, so that this process's RUSAGE_CHILDREN is the crawl's and nothing else's (the test
process may have waited for bigger children, e.g. a Prefect server). Writes the crawl report and the
crawl process's peak RSS in KiB (Linux ``ru_maxrss`` units) to OUT_JSON."""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path


def main(args_json: str, out_path: str) -> None:
    from flows.runs import run_crawl_process

    report = run_crawl_process(**json.loads(args_json))
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    Path(out_path).write_text(json.dumps({"report": report, "peak_rss_kib": peak_kib}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
