"""An index that scales (issue 11): `faiss_index=auto`, memory-mapped FAISS, bounded caches, `serve --workers`."""

from __future__ import annotations

import json
import sys
import time
from functools import lru_cache
from pathlib import Path

import faiss
import httpx
import numpy as np
import psutil
import pytest

from atmp_rag import store as store_module
from atmp_rag.answer import Answerer
from atmp_rag.store import IndexStore, build_faiss_described, read_faiss, resolve_faiss_kind
from tests.conftest import ROOT, service_env
from tests.servers import free_tcp_port, running


def _clustered(n: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors around the same 200 centres (like embeddings of topics), not uniform noise."""
    centres = np.random.default_rng(0).standard_normal((200, dim)).astype(np.float32)
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, 200, n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_auto_is_exact_up_to_the_threshold_and_a_tuned_ivf_above(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    vectors = _clustered(20_000, 64, seed=3)
    assert resolve_faiss_kind("auto", 20_000) == "flat"  # the shipped threshold: far above 20,000
    _, described = build_faiss_described(vectors[:5000], "auto")
    assert described["type"] == "IndexFlatIP" and "nprobe" not in described

    monkeypatch.setattr(store_module, "APPROXIMATE_ABOVE", 10_000)
    index, described = build_faiss_described(vectors, "auto")
    assert described["type"] == "IndexIVFFlat"
    assert described["nlist"] == round(np.sqrt(20_000)) and described["nprobe"] in store_module._NPROBES
    assert described["tuned_recall_at_10"] >= store_module.TARGET_RECALL
    # Held-out queries of another kind than the tuning queries: fresh points of the same topics.
    queries = _clustered(300, 64, seed=4)
    _, exact = faiss.knn(queries, vectors, 10, faiss.METRIC_INNER_PRODUCT)
    faiss.write_index(index, str(tmp_path / "ivf.index"))
    mapped = read_faiss(tmp_path / "ivf.index")
    assert faiss.try_extract_index_ivf(mapped).nprobe == described["nprobe"], "nprobe survives the file"
    _, found = mapped.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found.tolist(), exact.tolist(), strict=True)])
    assert recall >= 0.95


def test_a_filtered_dense_search_works_on_an_ivf_index(store, embedder, session_settings,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from atmp_rag.retrieve import Retriever, SearchFilters

    vectors = np.asarray(store.vectors(), dtype=np.float32)
    monkeypatch.setattr(store_module, "APPROXIMATE_ABOVE", 10)
    ivf, _ = build_faiss_described(vectors, "auto")
    monkeypatch.setattr(store, "faiss", ivf)
    retriever = Retriever(store, embedder, session_settings)
    q5c = "ich-q5c-stability-biotech-products-1995"
    passages = retriever.search("stability testing of biotechnological products", k=5, mode="dense",
                                filters=SearchFilters(doc_ids=(q5c,)))
    assert passages and all(p.document.doc_id == q5c for p in passages)


def test_faiss_and_bm25_are_memory_mapped_at_load(store) -> None:
    # The flat index's codes live in the file's mapping, not in a private copy.
    maps = {m.path for m in psutil.Process().memory_maps()}
    assert str((store.folder / "faiss.index").resolve()) in maps
    assert isinstance(store.bm25.scores["data"], np.memmap)


def test_record_caches_are_bounded_and_reads_stay_correct(store) -> None:
    fresh = IndexStore(store.folder)
    try:
        fresh.chunks._get = lru_cache(maxsize=16)(fresh.chunks._load)  # a tiny cache: every read goes to SQLite
        expected = list(store.chunks)
        for row in [*range(len(fresh.chunks)), *range(len(fresh.chunks) - 1, -1, -1)]:
            assert fresh.chunks[row] == expected[row]
        assert fresh.chunks._get.cache_info().currsize <= 16
        assert [c.chunk_id for c in fresh.chunks] == [c.chunk_id for c in expected]
        assert fresh.row_of[expected[7].chunk_id] == 7 and expected[7].chunk_id in fresh.row_of
        assert "no-such-chunk" not in fresh.row_of and fresh.chunk("no-such-chunk") is None
        units = list(store.units)
        for doc_id in store.chunk_counts():
            rows = fresh.unit_rows(doc_id)
            assert [u.doc_id for u in units[rows.start:rows.stop]] == [doc_id] * len(rows)
            assert all(fresh.unit_document(r) == (doc_id, rows) for r in (rows.start, rows.stop - 1))
    finally:
        fresh.close()


def test_answers_are_the_same_whatever_the_document_cache_holds(store, retriever, session_settings,
                                                                embedder) -> None:
    questions = [json.loads(line)["question"] for line in
                 (ROOT / "eval" / "regulatory" / "questions.jsonl").read_text().splitlines()[:60]]
    roomy = Answerer(store, session_settings, embedder)
    roomy.warm()
    tight = Answerer(store, session_settings.replace({"answer.doc_cache": 1}), embedder)
    tight.warm()
    for q in questions:
        retrieval = retriever.retrieve(q, k=5)
        a = roomy.answer(q, retrieval.passages, query_vector=retrieval.query_vector)
        b = tight.answer(q, retrieval.passages, query_vector=retrieval.query_vector)
        assert a.model_dump() == b.model_dump(), q
    assert tight._doc_features.cache_info().currsize == 1
    assert roomy._doc_features.cache_info().currsize == len(store.chunk_counts())


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_serve_with_two_workers_shares_the_index(session_settings, session_index, tmp_path: Path) -> None:
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).with_name("atmp-rag")), "serve", "--port", str(port), "--workers", "2",
           "--log-level", "warning"]
    with running(cmd, service_env(session_settings), f"{url}/readyz", tmp_path / "serve.log", ROOT,
                 timeout=300) as proc:
        pids: set[int] = set()
        # /readyz answers as soon as one worker is up; the other may still be loading the model. Ask on
        # new connections (a kept-alive one stays with one worker) until both map the index, or time out.
        deadline = time.monotonic() + 180
        while len(pids) < 2 and time.monotonic() < deadline:
            for _ in range(10):
                r = httpx.post(f"{url}/v1/search", json={"query": "risk assessment tools", "k": 3}, timeout=30)
                assert r.status_code == 200 and r.json()
            for w in psutil.Process(proc.pid).children(recursive=True):
                if any(str(session_index.index_dir) in m.path for m in w.memory_maps()):
                    pids.add(w.pid)
            time.sleep(1)
        assert len(pids) == 2, "both workers map the same index files"
