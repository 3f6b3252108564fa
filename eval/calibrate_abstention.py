"""Calibrate the abstention threshold of the extractive answerer on the dev split; report dev and test.

    .venv/bin/python eval/calibrate_abstention.py [--index-dir indexes] [--questions eval/regulatory/questions.jsonl]

For every question the script retrieves passages from the full index exactly as /v1/ask does, and
records the evidence score (`atmp_rag.answer.evidence_score`: mean of the best dense cosine and the
best sentence coverage of the question's content terms). Abstaining means evidence < threshold.

Choice of threshold (dev only; test numbers are reported, never used to choose):
1. keep the thresholds whose abstention rate on answerable dev questions is <= --max-false (5 %);
2. among those, keep the ones with the highest abstention recall on unanswerable dev questions;
3. they form an interval between two consecutive dev scores: take its midpoint, so the rule keeps
   the largest possible margin to the dev questions on both sides instead of hugging one of them.

Writes eval/abstention.json: the threshold, dev and test precision/recall of abstention (positive
class = "abstained"), the answerable abstention rate, and answer-quality side metrics (share of
answered questions citing a gold page, share of citations verified against the stored page text).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from atmp_rag.answer import verify_quote
from atmp_rag.config import Settings
from atmp_rag.service import Engine

log = logging.getLogger("calibrate_abstention")
HERE = Path(__file__).resolve().parent


def load_questions(path: Path) -> list[dict[str, Any]]:
    """Questions of the regulatory set (one JSON object per line)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score_questions(engine: Engine, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evidence features and the (threshold-free) composed answer of every question."""
    loaded = engine.current()
    settings = engine.settings
    rows = []
    for q in questions:
        passages = loaded.retriever.search(q["question"], k=max(settings.k, settings.answer_passages))
        assessment = loaded.answerer.assess(q["question"], passages)
        citations = loaded.answerer.cite(loaded.answerer.select(assessment))
        gold = {(g["file"], p) for g in q.get("gold", []) for p in g["pages"]}
        cited = {(c.file, p) for c in citations for p in c.pages}
        rows.append({
            "id": q["id"], "split": q["split"], "style": q["style"], "answerable": bool(q["answerable"]),
            "top_dense": round(assessment.top_dense, 4), "best_coverage": round(assessment.best_coverage, 4),
            "evidence": round(assessment.evidence, 4),
            "citations": len(citations),
            "verified": sum(verify_quote(loaded.store, c.doc_id, c.pages, c.quote) for c in citations),
            "gold_page_cited": bool(gold & cited),
            "gold_doc_cited": bool({f for f, _ in gold} & {c.file for c in citations}),
        })
    return rows


def metrics(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Abstention precision/recall (positive = abstained) and side metrics at `threshold`."""
    unans = [r for r in rows if not r["answerable"]]
    ans = [r for r in rows if r["answerable"]]
    abstain = [r for r in rows if r["evidence"] < threshold]
    tp = sum(not r["answerable"] for r in abstain)
    answered = [r for r in ans if r["evidence"] >= threshold]
    cites = sum(r["citations"] for r in rows if r["evidence"] >= threshold)
    return {
        "questions": len(rows), "answerable": len(ans), "unanswerable": len(unans),
        "abstained": len(abstain),
        "precision": round(tp / len(abstain), 4) if abstain else 1.0,
        "recall": round(tp / len(unans), 4) if unans else 1.0,
        "answerable_abstention_rate": round((len(abstain) - tp) / len(ans), 4) if ans else 0.0,
        "answered_citing_gold_page": round(sum(r["gold_page_cited"] for r in answered) / len(answered), 4)
        if answered else 0.0,
        "answered_citing_gold_document": round(sum(r["gold_doc_cited"] for r in answered) / len(answered), 4)
        if answered else 0.0,
        "citations": cites,
        "citations_verified_rate": round(sum(r["verified"] for r in rows if r["evidence"] >= threshold) / cites, 4)
        if cites else 1.0,
    }


def choose_threshold(dev: list[dict[str, Any]], max_false: float) -> tuple[float, tuple[float, float]]:
    """The midpoint of the widest interval meeting the false-abstention bound with best recall, fewest false."""
    scores = sorted({r["evidence"] for r in dev})
    # Candidate cut points: below all scores, between consecutive scores, above all scores.
    cuts = [scores[0] - 0.05] + [(a + b) / 2 for a, b in itertools.pairwise(scores)] + [scores[-1] + 0.05]
    feasible = []
    for t in cuts:
        m = metrics(dev, t)
        if m["answerable_abstention_rate"] <= max_false:
            feasible.append(((m["recall"], -m["answerable_abstention_rate"]), t))
    best_key = max(key for key, _ in feasible)
    best = [t for key, t in feasible if key == best_key]
    # Cuts with the same outcome lie between the same two dev scores (the rule is monotone); take
    # the middle of that gap so both sides keep the largest margin.
    lo = max((s for s in scores if s < min(best)), default=min(best))
    hi = min((s for s in scores if s > max(best)), default=max(best))
    return round((lo + hi) / 2, 4), (lo, hi)


def main() -> int:
    """Run the calibration and write the report."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=Path, default=HERE / "regulatory" / "questions.jsonl")
    ap.add_argument("--index-dir", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=HERE / "abstention.json")
    ap.add_argument("--max-false", type=float, default=0.05, help="max abstention rate on answerable dev questions")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    settings = Settings(**({"index_dir": args.index_dir} if args.index_dir else {}))
    engine = Engine(settings)
    if not engine.start():
        log.error("no index: %s", engine.last_error)
        return 1
    questions = load_questions(args.questions)
    t0 = time.perf_counter()
    rows = score_questions(engine, questions)
    seconds = time.perf_counter() - t0
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    threshold, (lo, hi) = choose_threshold(dev, args.max_false)

    report = {
        "threshold": threshold,
        "rule": "abstain when evidence < threshold; evidence = 0.5 * best dense cosine + 0.5 * best sentence "
                "coverage of the question's IDF-weighted content terms",
        "margin": {"nearest_dev_score_below": lo, "nearest_dev_score_above": hi},
        "chosen_on": "dev",
        "max_answerable_abstention": args.max_false,
        "index": engine.current().name,
        "questions_file": str(args.questions),
        "dev": metrics(dev, threshold),
        "test": metrics(test, threshold),
        "seconds_per_question": round(seconds / max(1, len(rows)), 4),
        "sweep_dev": [{"threshold": round(t, 3), **{k: v for k, v in metrics(dev, t).items()
                                                     if k in ("precision", "recall", "answerable_abstention_rate")}}
                      for t in [x / 100 for x in range(30, 56)]],
        "questions": rows,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for split in ("dev", "test"):
        m = report[split]
        print(f"{split:5s} threshold={threshold:.4f} precision={m['precision']:.3f} recall={m['recall']:.3f} "
              f"answerable_abstained={m['answerable_abstention_rate']:.3f} "
              f"gold_page={m['answered_citing_gold_page']:.3f} verified={m['citations_verified_rate']:.3f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
