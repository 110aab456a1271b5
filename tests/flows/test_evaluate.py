"""Extraction quality cannot silently regress: the benchmark score is pinned, and the scorer is checked
against the benchmark's published numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.evaluate import (
    load_ground_truth,
    load_predictions,
    macro_scores,
    main,
    page_tp_fp_fn,
    run_eval,
    score_predictions,
)

BENCHMARK = Path(__file__).parents[1] / "data" / "extraction-benchmark"
# Pinned just under what the pipeline scores on the 181 pages (F1 0.977, P 0.982, R 0.972 when pinned).
F1_FLOOR = 0.975
PRECISION_FLOOR = 0.978
RECALL_FLOOR = 0.968


def test_scorer_reproduces_the_published_trafilatura_row() -> None:
    # README.rst of the benchmark: trafilatura 2.0.0, F1 0.958, precision 0.938, recall 0.978.
    scores = score_predictions(
        load_ground_truth(BENCHMARK), load_predictions(BENCHMARK / "reference-outputs" / "trafilatura.json")
    )
    assert scores.pages == 181
    assert scores.f1 == pytest.approx(0.958, abs=0.001)
    assert scores.precision == pytest.approx(0.938, abs=0.001)
    assert scores.recall == pytest.approx(0.978, abs=0.001)


def test_metric_details() -> None:
    # Shingles are counted as multisets; normalised per page; empty predictions only count for recall.
    assert page_tp_fp_fn("a b c d a b c d", "a b c d") == (0.2, 0.0, 0.8)
    assert page_tp_fp_fn("a b c d e", "x y") == pytest.approx((0.0, 1 / 3, 2 / 3))  # 2 true shingles, 1 short
    scores = macro_scores([(1.0, 0.0, 0.0), (0.0, 0.0, 1.0)])  # second page: nothing predicted
    assert (scores.precision, scores.recall) == (1.0, 0.5)


def test_pipeline_score_on_the_benchmark_stays_above_the_floor() -> None:
    report = run_eval(BENCHMARK, systems=("cleanwire",))
    ours = report.ours.scores
    assert ours.pages == 181
    assert ours.f1 >= F1_FLOOR, report.format_table()
    assert ours.precision >= PRECISION_FLOOR and ours.recall >= RECALL_FLOOR, report.format_table()


def test_main_prints_json_and_exits_1_below_the_floor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(BENCHMARK), "--limit", "4", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pages"] == 4
    assert report["systems"][0]["name"] == "cleanwire"
    assert set(report["ratios"]) == {s["name"] for s in report["systems"][1:]}
    assert main([str(BENCHMARK), "--limit", "4", "--floor", "1.01"]) == 1
