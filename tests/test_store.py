"""FAISS index kinds and the atomic publish pointer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from atmp_rag.store import build_faiss, publish, resolve_current, staging_folder


def _unit(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_every_index_kind_finds_exact_neighbours_of_stored_vectors(kind: str) -> None:
    vectors = _unit(2000, 32, seed=1)
    index = build_faiss(vectors, kind)
    assert index.ntotal == len(vectors)
    queries = vectors[:50]
    _, ids = index.search(queries, 1)
    # Each stored vector is its own nearest neighbour (inner product of unit vectors).
    assert (ids[:, 0] == np.arange(50)).mean() >= 0.95


def test_ivf_on_a_tiny_corpus_falls_back_to_exact_search() -> None:
    vectors = _unit(40, 16, seed=2)
    index = build_faiss(vectors, "ivf")
    scores, ids = index.search(vectors[:5], 3)
    assert list(ids[:, 0]) == [0, 1, 2, 3, 4]
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)


def test_publish_swaps_the_current_pointer_atomically(tmp_path: Path) -> None:
    root = tmp_path / "indexes"
    root.mkdir()
    for name in ("a", "b"):
        staged = staging_folder(root)
        staged.mkdir()
        (staged / "manifest.json").write_text("{}")
        publish(root, staged, name)
        assert resolve_current(root) == root / name
    assert sorted(p.name for p in root.iterdir()) == ["a", "b", "current"]
    assert not list(root.glob(".tmp-*")) and not list(root.glob(".current-*"))
