"""Retrieval modes, fusion, filters, de-duplication and the search CLI contract."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from atmp_rag.models import Status
from atmp_rag.retrieve import Ranked, SearchFilters, rrf, weighted

Q9 = "ich-q9-quality-risk-management-2005"
Q5C = "ich-q5c-stability-biotech-products-1995"
Q1A = "ich-q1a-r2-stability-2003"


def test_rrf_matches_definition() -> None:
    a = Ranked(np.array([1, 2, 3]), np.array([0.9, 0.8, 0.1]))
    b = Ranked(np.array([3, 1]), np.array([5.0, 1.0]))
    fused = rrf([a, b], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)


def test_weighted_fusion_normalises_each_list() -> None:
    a = Ranked(np.array([1, 2]), np.array([0.9, 0.5]))
    b = Ranked(np.array([2, 1]), np.array([10.0, 0.0]))
    fused = weighted([a, b], [0.5, 0.5])
    assert fused[1] == pytest.approx(0.5)
    assert fused[2] == pytest.approx(0.5)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_mode_finds_the_q9_process_section(retriever, mode: str) -> None:
    hits = retriever.search("What are the steps of the quality risk management process?", k=5, mode=mode)
    assert hits and [h.rank for h in hits] == list(range(1, len(hits) + 1))
    assert any(h.chunk.doc_id == Q9 for h in hits[:3])
    assert all(h.document.doc_id == h.chunk.doc_id for h in hits)


def test_hybrid_retrieves_accelerated_condition_page(retriever) -> None:
    hits = retriever.search("storage conditions for accelerated stability studies of drug substances", k=5)
    assert any(h.chunk.doc_id == Q1A for h in hits)


def test_filters_restrict_documents_and_status(retriever) -> None:
    only = retriever.search("stability testing", k=10, filters=SearchFilters(doc_ids=(Q5C,)))
    assert only and {h.chunk.doc_id for h in only} == {Q5C}
    superseded = retriever.search("risk", k=10, mode="dense", filters=SearchFilters(statuses=(Status.superseded,)))
    assert superseded and {h.document.status for h in superseded} == {Status.superseded}
    none = retriever.search("risk", k=10, filters=SearchFilters(issuers=("Nobody",)))
    assert none == []


def test_results_do_not_repeat_overlapping_text(retriever) -> None:
    hits = retriever.search("stability", k=20, mode="bm25")
    ids = [h.chunk.chunk_id for h in hits]
    assert len(ids) == len(set(ids))
    from atmp_rag.retrieve import _overlap

    for i, a in enumerate(hits):
        for b in hits[i + 1:]:
            assert _overlap(a.chunk, b.chunk) <= 0.5


def test_one_query_costs_one_encoding(retriever, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = retriever.embedder.encode_queries
    monkeypatch.setattr(retriever.embedder, "encode_queries", lambda qs: calls.append(qs) or original(qs))
    retriever.search("hold time of intermediates", k=5, mode="hybrid")
    assert len(calls) == 1


def test_search_cli_json_contract(session_settings, session_index, tmp_path) -> None:
    from atmp_rag.cli import app

    env = {"ATMP_RAG_INDEX__DIR": str(session_settings.index.dir)}
    out = CliRunner().invoke(app, ["search", "photostability", "--k", "3", "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["query"] == "photostability" and len(data["results"]) == 3
    keys = {"chunk_id", "file", "doc_id", "reference", "title", "section", "pages", "score", "text"}
    assert keys <= set(data["results"][0])
    assert all(isinstance(p, int) and p >= 1 for p in data["results"][0]["pages"])

    queries = tmp_path / "q.txt"
    queries.write_text("risk assessment tools\n\nshelf life of biotechnological products\n")
    out = CliRunner().invoke(app, ["search", "--queries", str(queries), "--k", "2", "--mode", "bm25"], env=env)
    assert out.exit_code == 0, out.output
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [x["query"] for x in lines] == ["risk assessment tools", "shelf life of biotechnological products"]


def test_search_cli_rejects_bad_mode(session_settings) -> None:
    from atmp_rag.cli import app

    out = CliRunner().invoke(app, ["search", "x", "--mode", "magic"],
                             env={"ATMP_RAG_INDEX__DIR": str(session_settings.index.dir)})
    assert out.exit_code == 2


def test_unit_chunk_rows_match_the_stored_unit_to_chunk_map(store) -> None:
    indptr, rows = store.unit_chunk_rows()
    assert len(indptr) == len(store.units) + 1 and indptr[-1] == len(rows)
    for u in range(0, len(store.units), max(1, len(store.units) // 50)):
        expected = sorted(store.row_of[c] for c in store.units[u].chunk_ids)
        assert sorted(rows[indptr[u]:indptr[u + 1]].tolist()) == expected


def test_unit_list_scores_each_chunk_by_its_closest_unit(retriever, store) -> None:
    qvec = retriever.embedder.encode_queries(["Which solvents are in class 1 and what are their limits?"])[0]
    ranked = retriever.units(qvec, None)
    assert len(ranked.rows) and np.all(np.diff(ranked.scores) <= 1e-6)
    vectors = np.asarray(store.unit_vectors())
    for row, score in zip(ranked.rows[:5].tolist(), ranked.scores[:5].tolist(), strict=True):
        own = [u for u in range(len(store.units)) if store.chunks[row].chunk_id in store.units[u].chunk_ids]
        assert score == pytest.approx(max(float(vectors[u] @ qvec) for u in own), abs=1e-5)
    only = retriever.units(qvec, retriever.allowed_rows(SearchFilters(doc_ids=(Q5C,))))
    assert len(only.rows) and {store.chunks[r].doc_id for r in only.rows.tolist()} == {Q5C}


def test_hybrid_with_the_unit_list_keeps_its_contract(store, embedder, session_settings) -> None:
    from atmp_rag.retrieve import Retriever

    plain = Retriever(store, embedder, session_settings)
    three = Retriever(store, embedder, session_settings.replace({"retrieval.unit_weight": 0.5}))
    q = "Which solvents should be avoided in the manufacture of drug substances?"
    a, b = plain.search(q, k=10), three.search(q, k=10)
    assert [h.rank for h in b] == list(range(1, 11))
    assert [h.chunk.chunk_id for h in a] != [h.chunk.chunk_id for h in b]  # the third list takes part
    only = three.search(q, k=5, filters=SearchFilters(doc_ids=(Q5C,)))
    assert only and {h.chunk.doc_id for h in only} == {Q5C}
