"""Dense, lexical and hybrid retrieval over a published index, with filters, de-duplication and rerank."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import faiss
import numpy as np

from atmp_rag.config import Settings
from atmp_rag.embed import Embedder, Reranker, get_reranker
from atmp_rag.models import Chunk, Passage, RetrievalMode, Status
from atmp_rag.store import IndexStore

log = logging.getLogger(__name__)

#: Retrieval modes by name (`models.RetrievalMode` is the one definition).
MODES: tuple[str, ...] = tuple(m.value for m in RetrievalMode)


@dataclass(frozen=True)
class SearchFilters:
    """Restrict retrieval to some issuers, documents or statuses (empty means no restriction)."""

    issuers: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    statuses: tuple[Status, ...] = ()

    def is_empty(self) -> bool:
        """True when nothing is filtered."""
        return not (self.issuers or self.doc_ids or self.statuses)


@dataclass
class Ranked:
    """Candidate rows of one retrieval list, best first, with their raw scores."""

    rows: np.ndarray
    scores: np.ndarray
    extra: dict[str, dict[int, float]] = field(default_factory=dict)


def rrf(lists: list[Ranked], k: int) -> dict[int, float]:
    """Reciprocal-rank fusion: sum of 1 / (k + rank) over the lists a row appears in."""
    fused: dict[int, float] = {}
    for ranked in lists:
        for rank, row in enumerate(ranked.rows.tolist(), start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return fused


def weighted(lists: list[Ranked], weights: list[float]) -> dict[int, float]:
    """Weighted sum of min-max normalised scores; a row missing from a list gets 0 there."""
    fused: dict[int, float] = {}
    for ranked, w in zip(lists, weights, strict=True):
        if not len(ranked.rows):
            continue
        lo, hi = float(ranked.scores.min()), float(ranked.scores.max())
        span = hi - lo or 1.0
        for row, s in zip(ranked.rows.tolist(), ranked.scores.tolist(), strict=True):
            fused[row] = fused.get(row, 0.0) + w * (s - lo) / span
    return fused


def _overlap(a: Chunk, b: Chunk) -> float:
    """Fraction of the shorter chunk's characters that the other chunk also covers."""
    if a.doc_id != b.doc_id:
        return 0.0
    shared = 0
    for sa in a.spans:
        for sb in b.spans:
            if sa.page == sb.page:
                shared += max(0, min(sa.end, sb.end) - max(sa.start, sb.start))
    shorter = min(sum(s.end - s.start for s in a.spans), sum(s.end - s.start for s in b.spans)) or 1
    return shared / shorter


def search_parameters(index: faiss.Index, selector: faiss.IDSelector) -> faiss.SearchParameters:
    """Search parameters restricting `index` to `selector`, keeping the index's own probe settings
    (an IVF or HNSW index rejects the generic parameters, and would otherwise lose its nprobe/efSearch)."""
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        return faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe)
    if isinstance(index, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    return faiss.SearchParameters(sel=selector)


@dataclass
class Retrieval:
    """Passages of one search and the query vector they were found with (None for bm25 alone)."""

    passages: list[Passage]
    query_vector: np.ndarray | None = None


class Retriever:
    """Searches one IndexStore; the model and index are loaded once and shared across queries."""

    def __init__(self, store: IndexStore, embedder: Embedder, settings: Settings,
                 reranker: Reranker | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        if reranker is None and settings.retrieval.rerank_model:
            self.reranker = get_reranker(settings.retrieval.rerank_model)
        doc_ids = sorted(store.documents)
        self._doc_index = {d: i for i, d in enumerate(doc_ids)}
        self._row_doc = np.array([self._doc_index[d] for d in store.chunk_documents()], dtype=np.int32)
        self._n = len(store.chunks)

    # ------------------------------------------------------------ filters
    def allowed_documents(self, filters: SearchFilters | None) -> frozenset[str] | None:
        """Ids of the documents passing the filters, or None when unfiltered."""
        if filters is None or filters.is_empty():
            return None
        return frozenset(
            doc_id for doc_id in self._doc_index
            if (not filters.doc_ids or doc_id in filters.doc_ids)
            and (not filters.issuers or self.store.documents[doc_id].issuer in filters.issuers)
            and (not filters.statuses or self.store.documents[doc_id].status in filters.statuses)
        )

    def allowed_rows(self, filters: SearchFilters | None) -> np.ndarray | None:
        """Boolean mask of rows passing the filters, or None when unfiltered."""
        allowed = self.allowed_documents(filters)
        if allowed is None:
            return None
        ok_docs = np.array([d in allowed for d in self._doc_index], dtype=bool)
        return ok_docs[self._row_doc]

    # ------------------------------------------------------------ single lists
    def dense(self, qvec: np.ndarray, n: int, mask: np.ndarray | None) -> Ranked:
        """Top `n` rows by inner product with the query vector."""
        n = min(n, self._n)
        if n <= 0:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        params = None
        if mask is not None:
            allowed = np.flatnonzero(mask).astype(np.int64)
            if not len(allowed):
                return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
            params = search_parameters(self.store.faiss, faiss.IDSelectorBatch(allowed))
        scores, rows = self.store.faiss.search(qvec.reshape(1, -1), n, params=params)
        keep = rows[0] >= 0
        return Ranked(rows[0][keep], scores[0][keep])

    def lexical(self, query: str, n: int, mask: np.ndarray | None) -> Ranked:
        """Top `n` rows by BM25."""
        tokens = self.store.tokenizer.one(query)
        if not tokens or self._n == 0:
            return Ranked(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        scores = self.store.bm25.get_scores(tokens)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        n = min(n, self._n)
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[np.isfinite(scores[top]) & (scores[top] > 0)]
        return Ranked(top.astype(np.int64), scores[top].astype(np.float32))

    def units(self, qvec: np.ndarray, mask: np.ndarray | None) -> Ranked:
        """Chunk rows scored by the best inner product of any of their quotable units with the query.

        A chunk whose one sentence answers the question scores high here even when the rest of the
        chunk dilutes its own vector; the units were embedded at ingest, so this costs one search."""
        rows, scores = self.store.closest_units(qvec, self.settings.retrieval.unit_candidates)
        indptr, chunk_rows = self.store.unit_chunk_rows()
        best: dict[int, float] = {}
        for unit, score in zip(rows.tolist(), scores.tolist(), strict=True):
            for row in chunk_rows[indptr[unit]:indptr[unit + 1]].tolist():
                if row not in best and (mask is None or mask[row]):
                    best[row] = score  # units come best first: the first score seen is the chunk's best
        return Ranked(np.fromiter(best, dtype=np.int64, count=len(best)),
                      np.fromiter(best.values(), dtype=np.float32, count=len(best)))

    # ------------------------------------------------------------ public
    def search(self, query: str, k: int | None = None, mode: str | None = None,
               filters: SearchFilters | None = None, rerank: bool = False,
               dedupe: bool = True, candidates: int | None = None) -> list[Passage]:
        """The `k` best passages for `query` (one query encoding at most).

        `candidates` overrides how many rows each list contributes before fusion (default
        ``settings.retrieval.candidates_for(k)``); evaluation passes the count a top-`retrieval.k` search
        would use, so a deep ranking keeps exactly the head that users see.
        """
        return self.retrieve(query, k, mode, filters, rerank, dedupe, candidates).passages

    def retrieve(self, query: str, k: int | None = None, mode: str | None = None,
                 filters: SearchFilters | None = None, rerank: bool = False, dedupe: bool = True,
                 candidates: int | None = None, doc_boost: dict[str, float] | None = None) -> Retrieval:
        """Like `search`, and also returns the query vector (None in bm25 mode) for answer scoring.

        `doc_boost` multiplies the fused score of every candidate of the named documents (follow-up
        questions prefer the documents a conversation has cited; see `service.Engine.ask`).
        """
        k = k or self.settings.retrieval.k
        mode = mode or self.settings.retrieval.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        mask = self.allowed_rows(filters)
        n_cand = candidates if candidates is not None else self.settings.retrieval.candidates_for(k)
        qvec = self.embedder.encode_queries([query])[0] if mode != "bm25" or rerank else None
        dense = self.dense(qvec, n_cand, mask) if mode in ("dense", "hybrid") and qvec is not None else None
        lex = self.lexical(query, n_cand, mask) if mode in ("bm25", "hybrid") else None

        if mode == "dense":
            assert dense is not None
            fused = dict(zip(dense.rows.tolist(), dense.scores.tolist(), strict=True))
        elif mode == "bm25":
            assert lex is not None
            fused = dict(zip(lex.rows.tolist(), lex.scores.tolist(), strict=True))
        elif self.settings.retrieval.fusion == "weighted":
            assert dense is not None and lex is not None
            w, u = self.settings.retrieval.dense_weight, self.settings.retrieval.unit_weight
            if u > 0 and qvec is not None:
                fused = weighted([dense, lex, self.units(qvec, mask)], [(1 - u) * w, (1 - u) * (1 - w), u])
            else:
                fused = weighted([dense, lex], [w, 1.0 - w])
        else:
            assert dense is not None and lex is not None
            fused = rrf([dense, lex], self.settings.retrieval.rrf_k)

        if doc_boost:
            for row in fused:
                factor = doc_boost.get(self.store.chunks[row].doc_id)
                if factor:
                    fused[row] *= factor
        ordered = sorted(fused, key=lambda r: (-fused[r], r))
        if rerank and self.reranker is not None:
            head = ordered[: self.settings.retrieval.rerank_top_n]
            scores = self.reranker.score(query, [self.store.chunks[r].text for r in head])
            reranked = [head[i] for i in np.argsort(-scores, kind="stable")]
            fused.update({head[i]: float(scores[i]) for i in range(len(head))})
            ordered = reranked + ordered[len(head):]

        chosen: list[int] = []
        for row in ordered:
            chunk = self.store.chunks[row]
            if dedupe and any(_overlap(chunk, self.store.chunks[c]) > 0.5 for c in chosen):
                continue
            chosen.append(row)
            if len(chosen) == k:
                break

        lex_scores = dict(zip(lex.rows.tolist(), lex.scores.tolist(), strict=True)) if lex is not None else {}
        dense_scores: dict[int, float] = {}
        if qvec is not None and chosen:
            vectors = self.store.vectors()
            dense_scores = {r: float(np.dot(vectors[r], qvec)) for r in chosen}
        passages = [self._passage(row, rank, fused[row], dense_scores.get(row), lex_scores.get(row))
                    for rank, row in enumerate(chosen, start=1)]
        return Retrieval(passages, qvec)

    def _passage(self, row: int, rank: int, score: float, dense: float | None, lexical: float | None) -> Passage:
        chunk = self.store.chunks[row]
        return Passage(
            chunk=chunk,
            document=self.store.documents[chunk.doc_id],
            score=float(score),
            rank=rank,
            page_labels=self.store.page_labels(chunk),
            dense_score=dense,
            lexical_score=lexical,
        )
