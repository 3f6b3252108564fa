"""FAISS index kinds, the atomic publish pointer, retention and reader leases."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from atmp_rag.store import IndexStore, build_faiss, clean_stale, publish, resolve_current, staging_folder


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


# ------------------------------------------------------------------ retention and leases (issue 9)

def _publish_copy(src: Path, root: Path, name: str, mtime: float) -> Path:
    """Publish a copy of a real build under `name`, dated `mtime` (copies keep their source's mtime)."""
    staged = staging_folder(root)
    shutil.copytree(src, staged)
    final = publish(root, staged, name)
    os.utime(final, (mtime, mtime))
    return final


def _builds(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")}


def test_clean_stale_counts_real_folders_and_never_removes_a_leased_build(session_index, tmp_path: Path) -> None:
    src = Path(session_index.index_dir)
    root = tmp_path / "indexes"
    root.mkdir()
    _publish_copy(src, root, "a", 1000)
    _publish_copy(src, root, "b", 2000)
    clean_stale(root, keep=2)
    assert _builds(root) == {"a", "b"}, "the `current` link is not a build: keep=2 keeps two folders"

    reader = IndexStore(root / "a")  # e.g. a server still serving `a`
    _publish_copy(src, root, "c", 3000)
    _publish_copy(src, root, "d", 4000)
    clean_stale(root, keep=2)
    assert _builds(root) == {"a", "c", "d"}, "b is removed; a is leased"
    assert reader.page(reader.chunks[0].doc_id, 1) is not None

    reader.close()
    clean_stale(root, keep=2)
    assert _builds(root) == {"c", "d"}
    assert resolve_current(root) == root / "d"


def test_a_store_reads_from_its_open_files_even_after_its_folder_is_gone(session_index, tmp_path: Path) -> None:
    folder = tmp_path / "build"
    shutil.copytree(Path(session_index.index_dir), folder)
    store = IndexStore(folder)
    doc_id = store.chunks[0].doc_id
    expected = store.pages(doc_id)
    shutil.rmtree(folder)  # outside any lease, e.g. an operator's rm -rf
    assert store.pages(doc_id) == expected and store.page(doc_id, 1) == expected[0]
    assert store.vectors().shape[0] == len(store.chunks)
    store.close()
    store.close()  # idempotent


def test_the_engine_releases_an_old_build_when_its_last_request_is_done(session_settings, session_index, embedder,
                                                                        tmp_path: Path) -> None:
    from atmp_rag.service import Engine

    src = Path(session_index.index_dir)
    root = tmp_path / "indexes"
    root.mkdir()
    _publish_copy(src, root, "a", 1000)
    engine = Engine(session_settings.replace({"index.dir": root}), embedder, check_interval=0)
    assert engine.start()
    in_flight = engine.current()  # a request that started on `a`
    _publish_copy(src, root, "b", 2000)
    assert engine.current().folder.name == "b"
    clean_stale(root, keep=1)
    assert (root / "a").is_dir(), "a request still uses a"
    assert in_flight.store.page(in_flight.store.chunks[0].doc_id, 1) is not None
    del in_flight  # the request finishes
    clean_stale(root, keep=1)
    assert _builds(root) == {"b"}
