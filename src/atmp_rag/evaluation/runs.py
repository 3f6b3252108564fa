"""Run an evaluation: retrieve every query in every mode, score with ranx, compare modes, keep details.

`run_evaluation` is the one entry point for the CLI, the Streamlit page and the tests; it reports
progress through an optional callback and returns a typed, JSON-serialisable `EvaluationResult`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, Field

from atmp_rag.config import Settings
from atmp_rag.embed import Embedder
from atmp_rag.evaluation.answers import AnswerJudgement, CitedQuote, answer_quality
from atmp_rag.evaluation.datasets import (
    BeirDataset,
    DatasetRef,
    RegulatoryQuestion,
    beir_index,
    files_hash,
    load_beir,
    load_questions,
    resolve_dataset,
)
from atmp_rag.evaluation.metrics import (
    DEPTH,
    Comparison,
    compare_runs,
    evaluate_run,
    fraction,
    percentiles,
    rank_scores,
    ranking_metrics,
)
from atmp_rag.models import Chunk, Passage
from atmp_rag.retrieve import MODES, Retriever
from atmp_rag.store import IndexStore, open_index

log = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
#: Qrels entry for an answerable question whose gold document is not in the index (always a miss).
MISSING_GOLD = "__gold_not_indexed__"
#: Modes offered by `--modes` (the rerank variant needs ATMP_RAG_RETRIEVAL__RERANK_MODEL).
EVAL_MODES: tuple[str, ...] = (*MODES, "hybrid+rerank")
HIT_K = 5


# ---------------------------------------------------------------- result types

class Hit(BaseModel):
    """One retrieved passage of one query, as judged."""

    rank: int
    chunk_id: str
    doc_id: str
    file: str | None = None
    pages: list[int] = Field(default_factory=list)
    score: float
    relevant: bool


class GoldRef(BaseModel):
    """Where the answer is: a document and, for the regulatory set, its gold pages."""

    doc_id: str | None
    file: str | None = None
    pages: list[int] = Field(default_factory=list)
    grade: int = 1


class QueryDetail(BaseModel):
    """Per-query outcome in one mode: retrieved pages vs gold pages, metrics, latency."""

    qid: str
    query: str
    style: str = ""
    answerable: bool = True
    gold: list[GoldRef] = Field(default_factory=list)
    hits: list[Hit] = Field(default_factory=list)
    first_relevant_rank: int | None = None
    page_hit: bool | None = None
    doc_hit: bool | None = None
    latency_ms: float
    metrics: dict[str, float] = Field(default_factory=dict)
    abstained: bool | None = None
    citations: list[dict[str, Any]] = Field(default_factory=list)
    dropped_quotes: int = 0  # selected quotes the answerer left out because they failed verification
    evidence: list[str] = Field(default_factory=list)


class ModeResult(BaseModel):
    """All metrics of one retrieval mode, with per-query details."""

    mode: str
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    answer_latency_ms: dict[str, float] = Field(default_factory=dict)
    n_queries: int
    seconds: float
    queries: list[QueryDetail] = Field(default_factory=list)


class EvaluationResult(BaseModel):
    """A complete evaluation run, saved as JSON and rendered as a Markdown report."""

    dataset: str
    kind: str
    dataset_path: str
    dataset_hash: str
    split: str
    k: int
    depth: int
    modes: list[str]
    n_queries: int
    n_unanswerable: int = 0
    results: dict[str, ModeResult]
    comparisons: list[Comparison] = Field(default_factory=list)
    stat_test: str = "student"
    settings_hash: str
    settings: dict[str, Any]
    git_commit: str
    models: dict[str, str | None]
    versions: dict[str, str]
    index: dict[str, Any]
    started_at: str
    seconds: float
    notes: list[str] = Field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float]]:
        """{mode: {metric: value}}: the `--json` contract of `atmp-rag eval`."""
        out: dict[str, dict[str, float]] = {}
        for mode, res in self.results.items():
            values = dict(res.metrics)
            values["latency_p50_ms"] = res.latency_ms["p50"]
            values["latency_p95_ms"] = res.latency_ms["p95"]
            out[mode] = {k: round(v, 4) for k, v in values.items()}
        return out


# ---------------------------------------------------------------- queries to judge

@dataclass
class _Task:
    qid: str
    text: str
    qrels: dict[str, int]
    gold: list[GoldRef]
    style: str = ""
    answerable: bool = True
    gold_pages: dict[str, set[int]] = field(default_factory=dict)  # doc_id -> pages (regulatory only)
    evidence: list[str] = field(default_factory=list)  # verbatim evidence quotes (regulatory only)


def _chunk_relevant(task: _Task, chunk: Chunk, regulatory: bool) -> bool:
    if not regulatory:
        return chunk.chunk_id in task.qrels
    pages = task.gold_pages.get(chunk.doc_id)
    return bool(pages) and any(p in pages for p in chunk.pages)


def regulatory_tasks(questions: Sequence[RegulatoryQuestion], store: IndexStore) -> tuple[list[_Task], list[str]]:
    """Judged tasks for the regulatory set: a chunk is relevant when its file matches a gold file
    and its page span meets a gold page. Unanswerable questions get no qrels (abstention only)."""
    file_doc = {d.file: d.doc_id for d in store.documents.values() if d.file}
    by_doc: dict[str, list[Chunk]] = {}
    for c in store.chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    tasks, notes = [], []
    for q in questions:
        gold_pages: dict[str, set[int]] = {}
        gold: list[GoldRef] = []
        for g in q.gold:
            doc_id = file_doc.get(g.file)
            gold.append(GoldRef(doc_id=doc_id, file=g.file, pages=list(g.pages)))
            if doc_id is None:
                notes.append(f"{q.id}: gold file {g.file} is not in the index")
                continue
            gold_pages.setdefault(doc_id, set()).update(g.pages)
        task = _Task(q.id, q.question, {}, gold, q.style, q.answerable, gold_pages, [e.quote for e in q.evidence])
        if q.answerable:
            rel = {c.chunk_id: 1 for d in gold_pages for c in by_doc.get(d, []) if _chunk_relevant(task, c, True)}
            if not rel:
                notes.append(f"{q.id}: no indexed chunk covers its gold pages (counted as a miss)")
                rel = {MISSING_GOLD: 1}
            task.qrels = rel
        tasks.append(task)
    return tasks, notes


def beir_tasks(dataset: BeirDataset) -> list[_Task]:
    """Judged tasks for a BEIR dataset (queries present in the qrels only)."""
    return [
        _Task(qid, text, dict(dataset.qrels[qid]),
              [GoldRef(doc_id=d, grade=g) for d, g in sorted(dataset.qrels[qid].items())])
        for qid, text in dataset.queries.items()
    ]


# ---------------------------------------------------------------- provenance

def git_commit(start: Path | None = None) -> str:
    """The checked-out commit, read from `.git` files (no git process), or "" outside a repository."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents, *Path(__file__).resolve().parents):
        git = folder / ".git"
        if git.is_file():  # a worktree: "gitdir: <path>"
            text = git.read_text().strip()
            if text.startswith("gitdir:"):
                git = (folder / text.split(":", 1)[1].strip()).resolve()
        if not (git / "HEAD").is_file():
            continue
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        for base in (git, _common_dir(git)):
            if (base / ref).is_file():
                return (base / ref).read_text().strip()
            packed = base / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split(" ", 1)[0]
        return ""
    return ""


def _common_dir(git: Path) -> Path:
    common = git / "commondir"
    return (git / common.read_text().strip()).resolve() if common.is_file() else git


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("atmp-rag", "ranx", "bm25s", "faiss-cpu", "sentence-transformers", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = ""
    return out


# ---------------------------------------------------------------- running

def parse_modes(modes: str | Sequence[str]) -> list[str]:
    """Split and validate a mode list such as ``"bm25,dense,hybrid,hybrid+rerank"``."""
    items = [m.strip() for m in (modes.split(",") if isinstance(modes, str) else modes) if m.strip()]
    bad = [m for m in items if m not in EVAL_MODES]
    if bad or not items:
        raise ValueError(f"unknown mode(s) {', '.join(bad) or '(none)'}; choose from {', '.join(EVAL_MODES)}")
    return list(dict.fromkeys(items))


def _answerer_for(store: IndexStore, settings: Settings, embedder: Embedder | None) -> Any | None:
    """The extractive answerer when `atmp_rag.answer` is installed (it is written separately)."""
    if importlib.util.find_spec("atmp_rag.answer") is None:
        return None
    module = importlib.import_module("atmp_rag.answer")
    answerer_cls = getattr(module, "Answerer", None)
    if answerer_cls is None:
        return None
    answerer = answerer_cls(store, settings, embedder)
    if hasattr(answerer, "warm"):
        answerer.warm()
    return answerer


class _LazyEmbedder:
    """Loads the encoder only if a mode needs it, so BM25-only runs never import torch models."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._embedder: Embedder | None = None

    def __getattr__(self, name: str) -> Any:
        if self._embedder is None:
            from atmp_rag.ingest import embedder_for

            self._embedder = embedder_for(self._settings)
        return getattr(self._embedder, name)


def run_evaluation(dataset: str | Path | DatasetRef, modes: str | Sequence[str], settings: Settings,
                   progress: ProgressFn | None = None, *, k: int = 10, split: str = "all",
                   store: IndexStore | None = None, answers: bool = True, stat_test: str = "student",
                   show_progress: bool = False, limit: int | None = None,
                   embedder: Embedder | None = None) -> EvaluationResult:
    """Evaluate retrieval `modes` on a dataset and return every metric with per-query details.

    dataset: ``"regulatory"`` (questions scored against the published index, or `store`), a BEIR
    folder name under `settings.eval.benchmarks_dir`, or a path. For BEIR the corpus is indexed (and
    cached) with the same pipeline; BM25-only runs skip encoding.
    progress: called with (fraction done, message); safe to drive a Streamlit or rich bar.
    answers: on the regulatory set, also run the extractive answerer (when available) and report
    citation precision on gold pages, quote verification rate and abstention precision/recall.
    limit: evaluate only the first `limit` queries (quick checks; never for reported numbers).
    embedder: the query encoder to use (default: the process-wide one, loaded only if a mode needs it).
    """
    started = time.time()
    report = progress or (lambda _f, _m: None)
    modes = parse_modes(modes)
    if any(m.endswith("+rerank") for m in modes) and not settings.retrieval.rerank_model:
        raise ValueError("mode hybrid+rerank needs a cross-encoder: set ATMP_RAG_RETRIEVAL__RERANK_MODEL")
    ref = dataset if isinstance(dataset, DatasetRef) else resolve_dataset(dataset, settings)
    notes: list[str] = []
    regulatory = ref.kind == "regulatory"
    needs_dense = any(m != "bm25" for m in modes)

    if regulatory:
        questions = load_questions(ref.path, split)
        if store is None:
            store = open_index(settings.index.dir)
        data_hash = files_hash([ref.path])
        tasks, task_notes = regulatory_tasks(questions, store)
        notes.extend(task_notes)
        eval_split = split
    else:
        eval_split = "dev" if split == "dev" else "test"
        beir = load_beir(ref.path, eval_split, name=ref.name)
        data_hash = beir.data_hash
        if store is None:
            report(0.0, f"indexing {beir.name} ({len(beir.corpus)} records)")
            store = IndexStore(beir_index(beir, settings, dense=needs_dense, show_progress=show_progress))
        tasks = beir_tasks(beir)
        if beir.skipped_queries:
            notes.append(f"{len(beir.skipped_queries)} judged queries without text were skipped")
    if limit is not None:
        tasks = tasks[:limit]
        notes.append(f"limited to the first {limit} queries: not comparable with full runs")
    if needs_dense and not store.manifest.get("dense", True):
        raise ValueError(f"index {store.folder} was built without vectors; dense modes need a dense build")

    embedder = embedder or cast(Embedder, _LazyEmbedder(settings))
    retriever = Retriever(store, embedder, settings)
    answerer = _answerer_for(store, settings, embedder) if regulatory and answers else None
    if regulatory and answers and answerer is None:
        notes.append("atmp_rag.answer is not available: answer-level metrics skipped")

    judged = [t for t in tasks if t.qrels]
    qrels = {t.qid: t.qrels for t in judged}
    metric_names = ranking_metrics(k)
    depth = max(DEPTH, k)
    n_cand = settings.retrieval.candidates_for(settings.retrieval.k)
    total = len(modes) * len(tasks) * (2 if answerer is not None else 1)
    done = last_step = 0
    results: dict[str, ModeResult] = {}
    runs: dict[str, dict[str, dict[str, float]]] = {}

    for mode in modes:
        base, rerank = mode.removesuffix("+rerank"), mode.endswith("+rerank")
        t_mode = time.perf_counter()
        details: list[QueryDetail] = []
        run: dict[str, dict[str, float]] = {}
        latencies: list[float] = []
        answer_latencies: list[float] = []
        for task in tasks:
            t0 = time.perf_counter()
            # BEIR records never overlap, so de-duplication would only cost time there. The candidate
            # count is the one of a default top-`settings.retrieval.k` search, so the head of this deep ranking
            # is exactly what a user is shown (more candidates would change the fused order).
            passages = retriever.search(task.text, k=depth, mode=base, rerank=rerank, dedupe=regulatory,
                                        candidates=n_cand)
            ms = (time.perf_counter() - t0) * 1000
            latencies.append(ms)
            run[task.qid] = rank_scores([p.chunk.chunk_id for p in passages])
            details.append(_detail(task, passages, ms, k, regulatory))
            done += 1
            if answerer is not None:
                t1 = time.perf_counter()
                _answer(task, details[-1], answerer, retriever, base, rerank, settings, store)
                answer_latencies.append((time.perf_counter() - t1) * 1000)
                done += 1
            # At most ~200 updates per run: a UI redraw per query would cost more than BM25 itself.
            if int(200 * done / total) != last_step:
                last_step = int(200 * done / total)
                report(done / total, f"{mode}: {len(details)}/{len(tasks)} queries")
        runs[mode] = run
        means, per_query = evaluate_run(qrels, run, [*metric_names, "hit_rate@5"], name=mode) if qrels else ({}, {})
        for d in details:
            d.metrics = {m: round(per_query[m][d.qid], 6) for m in metric_names if d.qid in per_query.get(m, {})}
        metrics = {m: means[m] for m in metric_names if m in means}
        if regulatory:
            answerable = [d for d in details if d.answerable]
            metrics["page_hit@5"] = fraction([bool(d.page_hit) for d in answerable])
            metrics["doc_hit@5"] = fraction([bool(d.doc_hit) for d in answerable])
            if answerer is not None:
                metrics.update(answer_metrics(details))
        results[mode] = ModeResult(
            mode=mode, metrics=metrics, latency_ms=percentiles(latencies),
            answer_latency_ms=percentiles(answer_latencies) if answer_latencies else {},
            n_queries=len(tasks), seconds=round(time.perf_counter() - t_mode, 3), queries=details,
        )
        log.info("%s %s: %s", ref.name, mode, {m: round(v, 4) for m, v in metrics.items()})

    compare_metrics = [f"ndcg@{k}", f"mrr@{k}", f"recall@{k}", f"map@{k}"] + (["hit_rate@5"] if regulatory else [])
    comparisons = compare_runs(qrels, runs, compare_metrics, stat_test=stat_test) if qrels else []
    report(1.0, "done")
    return EvaluationResult(
        dataset=ref.name, kind=ref.kind, dataset_path=str(ref.path), dataset_hash=data_hash, split=eval_split,
        k=k, depth=depth, modes=modes, n_queries=len(judged),
        n_unanswerable=sum(1 for t in tasks if not t.answerable), results=results, comparisons=comparisons,
        stat_test=stat_test, settings_hash=settings.settings_hash(),
        settings={**settings.index_settings(), "retrieval": settings.retrieval.model_dump(mode="json"),
                  "answer": settings.answer.model_dump(mode="json")},
        git_commit=git_commit(), models={
            "embed_model": settings.embedding.model,
            "index_embed_model": store.manifest.get("embed_model"),
            "rerank_model": settings.retrieval.rerank_model,
        },
        versions=_versions(),
        index={"path": str(store.folder), "name": store.manifest.get("name", store.folder.name),
               "chunks": len(store.chunks), "documents": len(store.documents),
               "built_at": store.manifest.get("built_at", "")},
        started_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        seconds=round(time.time() - started, 3), notes=notes,
    )


def _detail(task: _Task, passages: list[Passage], ms: float, k: int, regulatory: bool) -> QueryDetail:
    flags = [_chunk_relevant(task, p.chunk, regulatory) for p in passages]
    hits = [
        Hit(rank=p.rank, chunk_id=p.chunk.chunk_id, doc_id=p.chunk.doc_id, file=p.document.file,
            pages=p.chunk.pages if regulatory else [], score=round(float(p.score), 6), relevant=f)
        for p, f in zip(passages[:k], flags[:k], strict=True)
    ]
    first = next((i + 1 for i, f in enumerate(flags) if f), None)
    detail = QueryDetail(qid=task.qid, query=task.text, style=task.style, answerable=task.answerable,
                         gold=task.gold, hits=hits, first_relevant_rank=first, latency_ms=round(ms, 3))
    if regulatory and task.answerable:
        detail.page_hit = any(flags[:HIT_K])
        detail.doc_hit = any(p.chunk.doc_id in task.gold_pages for p in passages[:HIT_K])
    return detail


def _answer(task: _Task, detail: QueryDetail, answerer: Any, retriever: Retriever, mode: str, rerank: bool,
            settings: Settings, store: IndexStore) -> None:
    # Same retrieval as the service's ask(): at least `answer_passages` passages in this mode.
    retrieval = retriever.retrieve(task.text, k=max(settings.retrieval.k, settings.answer.passages), mode=mode,
                                   rerank=rerank)
    answer = answerer.answer(task.text, retrieval.passages, query_vector=retrieval.query_vector)
    detail.abstained = bool(answer.abstained)
    detail.dropped_quotes = answer.dropped_quotes
    detail.evidence = task.evidence
    detail.citations = []
    for c in answer.citations:
        pages = task.gold_pages.get(c.doc_id, set())
        detail.citations.append({
            "doc_id": c.doc_id, "file": c.file, "pages": list(c.pages), "verified": bool(c.verified),
            "on_gold": bool(pages) and any(p in pages for p in c.pages), "quote": c.quote,
        })


def answer_metrics(details: Sequence[QueryDetail]) -> dict[str, float]:
    """Answer-level metrics over the questions of one mode.

    citation_precision: share of citations given for answerable questions that point to a gold page.
    quotes_dropped: selected quotes that failed verification against the stored page text and were
    left out (every returned citation is verified by construction; this counts what that cost, and
    is 0 on a healthy index).
    abstention_precision / _recall: abstentions that were right / unanswerable questions abstained on.
    answered_rate: share of answerable questions that got an answer.
    answer_*: what the user reads first (`evaluation.answers.answer_quality`): [1] on a gold page,
    [1] reproducing an evidence quote, units and words per answer, false and out-of-corpus abstention.
    """
    cites_ans = [c for d in details if d.answerable for c in d.citations]
    abstained = [d for d in details if d.abstained]
    unanswerable = [d for d in details if not d.answerable]
    answerable = [d for d in details if d.answerable]
    judged = [
        AnswerJudgement(d.qid, d.answerable, bool(d.abstained),
                        [CitedQuote(c["doc_id"], list(c["pages"]), c["quote"]) for c in d.citations],
                        {g.doc_id: set(g.pages) for g in d.gold if g.doc_id}, list(d.evidence))
        for d in details
    ]
    return {
        "citation_precision": fraction([c["on_gold"] for c in cites_ans]),
        "abstention_precision": fraction([not d.answerable for d in abstained]),
        "abstention_recall": fraction([bool(d.abstained) for d in unanswerable]),
        "answered_rate": fraction([not d.abstained for d in answerable]),
        "quotes_dropped": float(sum(d.dropped_quotes for d in details)),
        **answer_quality(judged),
    }
