"""Ranking metrics (ranx), page/doc hits, latency percentiles and paired significance tests."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
from pydantic import BaseModel

log = logging.getLogger(__name__)

#: Placeholder document id: ranx needs at least one entry per query in both qrels and run.
NO_DOC = "__none__"
#: How deep every run is retrieved (Recall@100 needs 100).
DEPTH = 100
STAT_TESTS: tuple[str, ...] = ("student", "fisher")


def ranking_metrics(k: int = 10) -> list[str]:
    """The ranx metric names reported for cutoff `k`: nDCG, MRR, MAP at k; Recall at 5, k and 100."""
    names = [f"ndcg@{k}", f"mrr@{k}", "recall@5", f"recall@{k}", "recall@100", f"map@{k}"]
    return list(dict.fromkeys(names))


def rank_scores(ids: Sequence[str]) -> dict[str, float]:
    """Scores that make ranx see exactly this order (dedupe and rerank included), best first."""
    if not ids:
        return {NO_DOC: 0.0}
    n = len(ids)
    return {doc: float(n - i) for i, doc in enumerate(ids)}


def _ranx() -> Any:
    # numba prints type-safety warnings on ranx's first compile; they are not ours to fix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import ranx
    return ranx


def evaluate_run(qrels: Mapping[str, Mapping[str, int]], run: Mapping[str, Mapping[str, float]],
                 metrics: Sequence[str], name: str = "run") -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Mean and per-query values of `metrics` (ranx); every qrels query must be in `run`."""
    ranx = _ranx()
    missing = set(qrels) - set(run)
    if missing:
        raise ValueError(f"run {name!r} lacks {len(missing)} judged queries")
    r = ranx.Run({q: dict(run[q]) for q in qrels}, name=name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        means = ranx.evaluate(ranx.Qrels({q: dict(d) for q, d in qrels.items()}), r, list(metrics))
    if isinstance(means, float | np.floating):
        means = {metrics[0]: means}
    per_query = {m: {q: float(v) for q, v in r.scores[m].items()} for m in metrics}
    return {m: float(v) for m, v in means.items()}, per_query


class Comparison(BaseModel):
    """A paired significance test of one metric between two modes over the same queries."""

    metric: str
    a: str
    b: str
    a_score: float
    b_score: float
    p_value: float
    significant: bool
    test: str
    wins: int
    ties: int
    losses: int


def compare_runs(qrels: Mapping[str, Mapping[str, int]], runs: Mapping[str, Mapping[str, Mapping[str, float]]],
                 metrics: Sequence[str], stat_test: str = "student", max_p: float = 0.05) -> list[Comparison]:
    """ranx `compare` between every pair of runs: paired Student t or Fisher randomisation test."""
    if stat_test not in STAT_TESTS:
        raise ValueError(f"stat_test must be one of {', '.join(STAT_TESTS)}")
    if len(runs) < 2:
        return []
    ranx = _ranx()
    qrels_obj = ranx.Qrels({q: dict(d) for q, d in qrels.items()})
    run_objs = [ranx.Run({q: dict(run[q]) for q in qrels}, name=name) for name, run in runs.items()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = ranx.compare(qrels_obj, run_objs, list(metrics), stat_test=stat_test, max_p=max_p,
                              rounding_digits=6)
    d = report.to_dict()
    out = []
    for a, b in combinations(list(runs), 2):
        for m in metrics:
            p = float(d[a]["comparisons"][b][m])
            if not np.isfinite(p):
                # Identical per-query scores: the t statistic is undefined, and there is no difference.
                p = 1.0
            wtl = d[a]["win_tie_loss"][b][m]
            out.append(Comparison(metric=m, a=a, b=b, a_score=float(d[a]["scores"][m]),
                                  b_score=float(d[b]["scores"][m]), p_value=p, significant=p < max_p,
                                  test=stat_test, wins=int(wtl["W"]), ties=int(wtl["T"]), losses=int(wtl["L"])))
    return out


def percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95 and mean of latencies in milliseconds (zeros for no values)."""
    if not values_ms:
        return {"p50": 0.0, "p95": 0.0, "mean": 0.0}
    arr = np.asarray(values_ms, dtype=float)
    return {"p50": float(np.percentile(arr, 50)), "p95": float(np.percentile(arr, 95)), "mean": float(arr.mean())}


def hit_at(flags: Sequence[bool], k: int) -> bool:
    """True when any of the first `k` flags is set."""
    return any(flags[:k])


def fraction(values: Sequence[bool]) -> float:
    """Share of true values (0.0 for none)."""
    return float(sum(values)) / len(values) if values else 0.0
