#!/usr/bin/env python3
"""Grid over hybrid fusion parameters on the regulatory DEV split only (never on test).

Query vectors are encoded once and cached, so each setting costs only BM25 + FAISS + fusion.
Prints MRR@10, page-hit@5 and nDCG@10 of each setting, best MRR@10 first:

    .venv/bin/python eval/tune_fusion.py [--index-dir indexes]
"""

from __future__ import annotations

import argparse
import itertools
import logging
from pathlib import Path
from typing import Any, cast

import numpy as np

from atmp_rag.config import Settings
from atmp_rag.embed import Embedder
from atmp_rag.evaluation import run_evaluation
from atmp_rag.ingest import embedder_for
from atmp_rag.store import open_index

HERE = Path(__file__).resolve().parent


class CachedQueries:
    """Delegates to the real encoder but encodes each distinct query only once."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        """Cached query vectors (normalised float32), one row per query."""
        missing = [q for q in queries if q not in self._cache]
        if missing:
            for q, v in zip(missing, self._embedder.encode_queries(missing), strict=True):
                self._cache[q] = v
        return np.stack([self._cache[q] for q in queries])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)


def main() -> None:
    """Evaluate every fusion setting of the grid on the dev split and print a ranking."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index-dir", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    base = Settings().replace({"eval.dir": HERE, "index.dir": args.index_dir})
    store = open_index(base.index.dir)
    embedder = cast(Embedder, CachedQueries(embedder_for(base)))
    grid: list[dict[str, Any]] = []
    for rrf_k, cand in itertools.product((10, 20, 40, 60, 100), (50, 100, 200)):
        grid.append({"retrieval.fusion": "rrf", "retrieval.rrf_k": rrf_k, "retrieval.candidates": cand})
    for w, cand, u in itertools.product((0.3, 0.4, 0.5, 0.6, 0.7), (50, 100), (0.0, 0.2, 0.3)):
        grid.append({"retrieval.fusion": "weighted", "retrieval.dense_weight": w, "retrieval.candidates": cand,
                     "retrieval.unit_weight": u})
    rows = []
    for params in grid:
        s = base.replace(params)
        res = run_evaluation("regulatory", "hybrid", s, split="dev", store=store, answers=False,
                             embedder=embedder).results["hybrid"].metrics
        rows.append((res["mrr@10"], res["page_hit@5"], res["ndcg@10"], params))
    print(f"{'mrr@10':>7} {'hit@5':>7} {'ndcg@10':>8}  setting (dev split, {len(grid)} settings)")
    for mrr, hit, ndcg, params in sorted(rows, key=lambda r: (-r[0], -r[1], -r[2])):
        print(f"{mrr:>7.4f} {hit:>7.4f} {ndcg:>8.4f}  {params}")


if __name__ == "__main__":
    main()
