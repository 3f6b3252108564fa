"""Answer quality of the current answerer against the baseline answerer, in one run, on one index.

    .venv/bin/python bench/answers.py [--split test] [--index-dir indexes] [--baseline-commit 1492f77]
                                      [--json FILE] [--show-misses]

The baseline is `src/atmp_rag/answer.py` as it was at `--baseline-commit` (the answerer before issue 8),
loaded from git into a private module and run over the same index, the same retrieval results and the
same questions. Both answer every question of the split; the script prints, side by side:

- answer [1] on a gold page (over answered answerable questions, and over all answerable ones);
- the page-hit@1 of the retrieval under both answers (the floor the answer must not fall below);
- [1] quote overlapping an evidence quote (`atmp_rag.evaluation.answers.EVIDENCE_OVERLAP`);
- units and words per answer, false abstention, out-of-corpus abstention;
- answer latency p50 (ms) of each answerer, and their ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from atmp_rag.config import Settings
from atmp_rag.evaluation.answers import AnswerJudgement, CitedQuote, answer_quality
from atmp_rag.evaluation.datasets import load_questions
from atmp_rag.service import Engine, NotReady

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench.answers")

#: The answerer before issue 8 (sentence coverage ranking, calibrated threshold 0.4408).
BASELINE_COMMIT = "1492f77"
BASELINE_THRESHOLD = 0.4408


def load_baseline(commit: str) -> ModuleType:
    """The answer module of `commit`, imported under a private name (its own imports are shimmed)."""
    source = subprocess.run(["git", "show", f"{commit}:src/atmp_rag/answer.py"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    # The baseline took the BM25 tokenizer from the store; it now lives in the text layer.
    source = source.replace("from atmp_rag.store import IndexStore, bm25_tokenize",
                            "from atmp_rag.store import IndexStore\nfrom atmp_rag.text.lexical import bm25_tokenize")
    # Imported from a temporary file, removed once the module is loaded (runs left one folder each).
    with tempfile.TemporaryDirectory(prefix="baseline-answer-") as folder:
        path = Path(folder) / "baseline_answer.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location("baseline_answer", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is being built
        spec.loader.exec_module(module)
    return module


def judge(qid: str, answerable: bool, answer: Any, gold: dict[str, set[int]], evidence: list[str]) -> AnswerJudgement:
    """Turn an Answer into what the judge needs."""
    return AnswerJudgement(qid, answerable, bool(answer.abstained),
                           [CitedQuote(c.doc_id, list(c.pages), c.quote) for c in answer.citations], gold, evidence)


def quote_hygiene(store: Any, citations: list[CitedQuote]) -> dict[str, int]:
    """Counts of quotes that must never happen: on a non-content page (title, history, contact, TOC),
    starting in lower case, starting with a heading's wrapped tail, or flagged by the content rules
    (figure text, reference entry, caption, contact details, legal notice…)."""
    from atmp_rag.text.content import unit_problem

    headings = {u.section_path[-1] for u in store.units if u.section_path}
    out = {"citations": len(citations), "non_content_page": 0, "lowercase_start": 0, "heading_tail_start": 0,
           "flagged": 0}
    for c in citations:
        if any(not store.page(c.doc_id, p).is_content for p in c.pages):
            out["non_content_page"] += 1
        lines = c.quote.split("\n")
        first = lines[0].strip()
        if first[:1].islower() and not (c.kind == "definition" and c.context):
            out["lowercase_start"] += 1  # a definition reads after its term ("Shedding: the dissemination …")
        if len(lines) > 1 and lines[1][:1].isupper() and len(first.split()) <= 6 and any(
                h.endswith(first) and h != first for h in headings):
            out["heading_tail_start"] += 1
        problem = unit_problem(c.quote, "table" if any(ch.isdigit() for ch in c.quote) else "definition")
        if problem is not None and problem != "starts mid-sentence":
            out["flagged"] += 1
    return out


def main() -> None:
    """Run both answerers over one split and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=["dev", "test", "all"])
    parser.add_argument("--index-dir", type=Path, default=ROOT / "indexes")
    parser.add_argument("--baseline-commit", default=BASELINE_COMMIT)
    parser.add_argument("--json", type=Path, default=None, help="Write the numbers to this file.")
    parser.add_argument("--show-misses", action="store_true", help="Print questions whose [1] misses gold.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    settings = Settings().replace({"index.dir": args.index_dir})
    try:
        engine = Engine.running(settings)
    except NotReady as exc:
        sys.exit(str(exc))
    loaded = engine.current()
    baseline_mod = load_baseline(args.baseline_commit)
    # The baseline reads these settings (some no longer exist under these names).
    baseline_settings = SimpleNamespace(bm25_stemmer=settings.lexical.stemmer,
                                        bm25_stopwords=settings.lexical.stopwords,
                                        answer_passages=settings.answer.passages, answer_max_sentences=5,
                                        abstain_threshold=BASELINE_THRESHOLD)
    baseline = baseline_mod.Answerer(loaded.store, baseline_settings, engine.embedder)
    baseline.warm()
    questions = load_questions(settings.eval.dir / "regulatory" / "questions.jsonl", args.split)
    file_doc = {d.file: d.doc_id for d in loaded.store.documents.values() if d.file}

    judged: dict[str, list[AnswerJudgement]] = {"baseline": [], "current": []}
    latency: dict[str, list[float]] = {"baseline": [], "current": []}
    hit1: list[bool] = []
    misses: list[str] = []
    for q in questions:
        gold: dict[str, set[int]] = {}
        for g in q.gold:
            if g.file in file_doc:
                gold.setdefault(file_doc[g.file], set()).update(g.pages)
        evidence = [e.quote for e in q.evidence]
        retrieval = loaded.retriever.retrieve(q.question, k=max(settings.retrieval.k, settings.answer.passages))
        if q.answerable:
            first = retrieval.passages[0] if retrieval.passages else None
            hit1.append(bool(first and gold.get(first.chunk.doc_id, set()) & set(first.chunk.pages)))
        t0 = time.perf_counter()
        old = baseline.answer(q.question, retrieval.passages)
        t1 = time.perf_counter()
        new = loaded.answerer.answer(q.question, retrieval.passages, query_vector=retrieval.query_vector)
        t2 = time.perf_counter()
        latency["baseline"].append((t1 - t0) * 1000)
        latency["current"].append((t2 - t1) * 1000)
        judged["baseline"].append(judge(q.id, q.answerable, old, gold, evidence))
        j = judge(q.id, q.answerable, new, gold, evidence)
        judged["current"].append(j)
        if args.show_misses and q.answerable and (j.abstained or not j.first_on_gold):
            first_q = " ".join(new.citations[0].quote.split())[:160] if new.citations else "(abstained)"
            misses.append(f"{q.id} {q.question}\n    [1] {first_q}")

    hygiene = quote_hygiene(loaded.store, [c for j in judged["current"] for c in j.citations])
    out: dict[str, Any] = {"split": args.split, "index": loaded.name, "questions": len(questions), "hygiene": hygiene,
                           "retrieval_page_hit@1": sum(hit1) / len(hit1) if hit1 else 0.0}
    for name in ("baseline", "current"):
        out[name] = answer_quality(judged[name])
        out[name]["latency_p50_ms"] = statistics.median(latency[name])
    print(f"split {args.split}: {len(questions)} questions, index {loaded.name}")
    print(f"retrieval page-hit@1 (same retrieval for both): {out['retrieval_page_hit@1']:.3f}")
    print(f"{'metric':<28}{'baseline':>10}{'current':>10}")
    for metric in out["current"]:
        print(f"{metric:<28}{out['baseline'][metric]:>10.3f}{out['current'][metric]:>10.3f}")
    ratio = out["current"]["latency_p50_ms"] / max(out["baseline"]["latency_p50_ms"], 1e-9)
    print(f"answer latency p50 ratio current/baseline: {ratio:.2f}x")
    print("quote hygiene of the current answers (all citations): " + ", ".join(f"{k} {v}" for k, v in hygiene.items()))
    for m in misses:
        print(m)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
