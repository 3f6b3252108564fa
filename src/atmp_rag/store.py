"""The on-disk index: FAISS vectors + SQLite (documents, pages, chunks) + BM25 + manifest.

A published index folder is immutable. Builds are written to a temporary folder and renamed into
place, then the `current` symlink is swapped atomically, so a killed build never harms the index
being served.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from atmp_rag.models import Chunk, Document, Page, Passage

log = logging.getLogger(__name__)
# bm25s forces its logger to DEBUG on import; put it back under the application's control.
logging.getLogger("bm25s").setLevel(logging.WARNING)

MANIFEST = "manifest.json"
CURRENT = "current"
_SCHEMA = """
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, sha256 TEXT, json TEXT NOT NULL);
CREATE TABLE pages (doc_id TEXT NOT NULL, number INTEGER NOT NULL, label TEXT, is_toc INTEGER NOT NULL,
                    text TEXT NOT NULL, PRIMARY KEY (doc_id, number));
CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL,
                     json TEXT NOT NULL);
CREATE INDEX chunks_doc ON chunks (doc_id);
"""


class IndexNotFound(FileNotFoundError):
    """No published index where one was expected."""


class BuildLocked(RuntimeError):
    """Another build holds the index folder's lock."""


# ---------------------------------------------------------------- lexical

@lru_cache(maxsize=4)
def _stemmer(language: str) -> Any:
    if not language:
        return None
    import Stemmer

    return Stemmer.Stemmer(language)


def bm25_tokenize(texts: list[str], stemmer: str, stopwords: str) -> list[list[str]]:
    """Tokenise with the same lowercasing, stop words and stemming at index and query time."""
    return bm25s.tokenize(
        texts,
        stopwords=stopwords or None,
        stemmer=_stemmer(stemmer),
        return_ids=False,
        show_progress=False,
    )


# ---------------------------------------------------------------- vectors

def build_faiss(vectors: np.ndarray, kind: str) -> faiss.Index:
    """An inner-product FAISS index over normalised vectors: flat (exact), HNSW or IVF."""
    n, dim = vectors.shape
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    elif kind == "ivf" and n >= 1000:
        nlist = max(4, int(np.sqrt(n)))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = max(1, nlist // 8)
    else:
        # IVF needs enough points to train its centroids; below that exact search is cheaper anyway.
        index = faiss.IndexFlatIP(dim)
    if n:
        index.add(vectors)
    return index


# ---------------------------------------------------------------- writing

@dataclass
class IndexContent:
    """Everything one index holds, in chunk-row order (row i of `vectors` is `chunks[i]`)."""

    documents: list[Document]
    pages: list[Page]
    chunks: list[Chunk]
    vectors: np.ndarray
    lexical_texts: list[str]
    doc_sha256: dict[str, str]


def write_index(folder: Path, content: IndexContent, manifest: dict[str, Any], faiss_kind: str,
                bm25_params: dict[str, Any]) -> None:
    """Write a complete index into an empty `folder` (not yet published)."""
    folder.mkdir(parents=True, exist_ok=False)
    db = sqlite3.connect(folder / "store.sqlite")
    try:
        db.executescript(_SCHEMA)
        db.executemany(
            "INSERT INTO documents VALUES (?, ?, ?)",
            [(d.doc_id, content.doc_sha256.get(d.doc_id, ""), d.model_dump_json()) for d in content.documents],
        )
        db.executemany(
            "INSERT INTO pages VALUES (?, ?, ?, ?, ?)",
            [(p.doc_id, p.number, p.label, int(p.is_toc), p.text) for p in content.pages],
        )
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?)",
            [(i, c.chunk_id, c.doc_id, c.model_dump_json()) for i, c in enumerate(content.chunks)],
        )
        db.commit()
    finally:
        db.close()
    np.save(folder / "vectors.npy", content.vectors)
    faiss.write_index(build_faiss(content.vectors, faiss_kind), str(folder / "faiss.index"))
    tokens = bm25_tokenize(content.lexical_texts, bm25_params["stemmer"], bm25_params["stopwords"])
    bm25 = bm25s.BM25(k1=bm25_params["k1"], b=bm25_params["b"])
    bm25.index(tokens, show_progress=False)
    bm25.save(str(folder / "bm25"), show_progress=False)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))


@contextlib.contextmanager
def build_lock(index_root: Path) -> Iterator[None]:
    """Hold an exclusive lock on the index folder for the length of a build."""
    index_root.mkdir(parents=True, exist_ok=True)
    with (index_root / ".build.lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise BuildLocked(f"another ingest is building in {index_root}") from exc
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def staging_folder(index_root: Path) -> Path:
    """A fresh temporary folder name under the index root (hidden, so never served)."""
    return index_root / f".tmp-{uuid.uuid4().hex[:12]}"


def publish(index_root: Path, staged: Path, name: str) -> Path:
    """Move a staged build to `index_root/name` and point `current` at it, atomically."""
    final = index_root / name
    if final.exists():
        # Same settings and same corpus: the existing folder already holds this content.
        shutil.rmtree(staged)
    else:
        os.rename(staged, final)
    link_tmp = index_root / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(name, link_tmp)
    os.replace(link_tmp, index_root / CURRENT)
    return final


def clean_stale(index_root: Path, keep: int) -> None:
    """Drop staging folders of dead builds and all but the `keep` newest published builds."""
    if not index_root.is_dir():
        return
    for tmp in index_root.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    current = resolve_current(index_root, missing_ok=True)
    builds = sorted(
        (p for p in index_root.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST).exists()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in builds[keep:]:
        if current is None or old.resolve() != current.resolve():
            shutil.rmtree(old, ignore_errors=True)


def resolve_current(index_root: Path, missing_ok: bool = False) -> Path | None:
    """The folder `current` points to, or the root itself when it is an index folder."""
    if (index_root / MANIFEST).exists():
        return index_root
    link = index_root / CURRENT
    if link.exists():
        return (index_root / os.readlink(link)) if link.is_symlink() else link
    if missing_ok:
        return None
    raise IndexNotFound(f"no published index in {index_root}; run `atmp-rag ingest` first")


def published_builds(index_root: Path, settings_hash: str) -> list[Path]:
    """Published folders built with these settings, newest first."""
    if not index_root.is_dir():
        return []
    found = []
    for p in index_root.iterdir():
        if p.name.startswith(".") or not (p / MANIFEST).exists():
            continue
        with contextlib.suppress(ValueError, OSError):
            if json.loads((p / MANIFEST).read_text()).get("settings_hash") == settings_hash:
                found.append(p)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


# ---------------------------------------------------------------- reading

class IndexStore:
    """A published index opened for reading: chunks and documents in memory, pages from SQLite."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            self.manifest: dict[str, Any] = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError as exc:
            raise IndexNotFound(f"{folder} is not a published index (no {MANIFEST})") from exc
        self._db_path = folder / "store.sqlite"
        self._local = threading.local()
        db = self._db()
        self.documents: dict[str, Document] = {
            row[0]: Document.model_validate_json(row[1]) for row in db.execute("SELECT doc_id, json FROM documents")
        }
        self.doc_sha256: dict[str, str] = dict(db.execute("SELECT doc_id, sha256 FROM documents"))
        self.chunks: list[Chunk] = [
            Chunk.model_validate_json(row[0]) for row in db.execute("SELECT json FROM chunks ORDER BY row")
        ]
        self.row_of: dict[str, int] = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.labels: dict[tuple[str, int], str] = {
            (d, n): lab or str(n) for d, n, lab in db.execute("SELECT doc_id, number, label FROM pages")
        }
        self.faiss = faiss.read_index(str(folder / "faiss.index"))
        self.bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        self._vectors: np.ndarray | None = None
        self.loaded_at = time.time()

    def _db(self) -> sqlite3.Connection:
        # One read-only connection per thread: sqlite3 connections must not cross threads.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"file:{self._db_path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    @property
    def settings_hash(self) -> str:
        """Hash of the settings this index was built with."""
        return str(self.manifest.get("settings_hash", ""))

    def page(self, doc_id: str, number: int) -> Page | None:
        """One page's cleaned text, or None."""
        row = self._db().execute(
            "SELECT label, is_toc, text FROM pages WHERE doc_id = ? AND number = ?", (doc_id, number)
        ).fetchone()
        if row is None:
            return None
        return Page(doc_id=doc_id, number=number, label=row[0] or str(number), is_toc=bool(row[1]), text=row[2])

    def pages(self, doc_id: str) -> list[Page]:
        """All pages of a document in order."""
        rows = self._db().execute(
            "SELECT number, label, is_toc, text FROM pages WHERE doc_id = ? ORDER BY number", (doc_id,)
        )
        return [Page(doc_id=doc_id, number=n, label=lab or str(n), is_toc=bool(t), text=txt) for n, lab, t, txt in rows]

    def page_count(self, doc_id: str) -> int:
        """Number of stored pages of a document."""
        return int(self._db().execute("SELECT COUNT(*) FROM pages WHERE doc_id = ?", (doc_id,)).fetchone()[0])

    def chunk(self, chunk_id: str) -> Chunk | None:
        """A chunk by id, or None."""
        row = self.row_of.get(chunk_id)
        return None if row is None else self.chunks[row]

    def passage(self, chunk_id: str) -> Passage | None:
        """A stored chunk as a Passage outside any ranking (rank 0, score 0), or None."""
        chunk = self.chunk(chunk_id)
        if chunk is None:
            return None
        return Passage(chunk=chunk, document=self.documents[chunk.doc_id], score=0.0, rank=0,
                       page_labels=self.page_labels(chunk))

    def page_labels(self, chunk: Chunk) -> list[str]:
        """Printed page labels of a chunk's pages."""
        return [self.labels.get((chunk.doc_id, n), str(n)) for n in chunk.pages]

    def vectors(self) -> np.ndarray:
        """All chunk vectors (memory-mapped), row-aligned with `chunks`."""
        if self._vectors is None:
            self._vectors = np.load(self.folder / "vectors.npy", mmap_mode="r")
        return self._vectors

    def close(self) -> None:
        """Close this thread's SQLite connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def open_index(index_root: Path) -> IndexStore:
    """Open the published index at `index_root` (a `current` pointer or an index folder)."""
    folder = resolve_current(index_root)
    assert folder is not None
    return IndexStore(folder)
