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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from atmp_rag.models import Chunk, Document, Page, PageKind, Passage, QuoteUnit
from atmp_rag.text.lexical import Idf, bm25_tokenize, document_frequencies

log = logging.getLogger(__name__)
# bm25s forces its logger to DEBUG on import; put it back under the application's control.
logging.getLogger("bm25s").setLevel(logging.WARNING)

MANIFEST = "manifest.json"
CURRENT = "current"
_SCHEMA = """
CREATE TABLE documents (doc_id TEXT PRIMARY KEY, sha256 TEXT, json TEXT NOT NULL);
CREATE TABLE pages (doc_id TEXT NOT NULL, number INTEGER NOT NULL, label TEXT, kind TEXT NOT NULL,
                    text TEXT NOT NULL, PRIMARY KEY (doc_id, number));
CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL,
                     json TEXT NOT NULL);
CREATE INDEX chunks_doc ON chunks (doc_id);
CREATE TABLE units (row INTEGER PRIMARY KEY, unit_id TEXT UNIQUE NOT NULL, doc_id TEXT NOT NULL, json TEXT NOT NULL);
CREATE INDEX units_doc ON units (doc_id);
CREATE TABLE terms (token TEXT PRIMARY KEY, df INTEGER NOT NULL);
"""


class IndexNotFound(FileNotFoundError):
    """No published index where one was expected."""


class BuildLocked(RuntimeError):
    """Another build holds the index folder's lock."""


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
    units: list[QuoteUnit] = field(default_factory=list)
    unit_vectors: np.ndarray | None = None  # row i is units[i]


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
            [(p.doc_id, p.number, p.label, p.kind.value, p.text) for p in content.pages],
        )
        db.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?)",
            [(i, c.chunk_id, c.doc_id, c.model_dump_json()) for i, c in enumerate(content.chunks)],
        )
        db.executemany(
            "INSERT INTO units VALUES (?, ?, ?, ?)",
            [(i, u.unit_id, u.doc_id, u.model_dump_json()) for i, u in enumerate(content.units)],
        )
        # Document frequencies from the very tokens BM25 indexes: the IDF of answer scoring.
        tokens = bm25_tokenize(content.lexical_texts, bm25_params["stemmer"], bm25_params["stopwords"])
        db.executemany("INSERT INTO terms VALUES (?, ?)", sorted(document_frequencies(tokens).items()))
        db.commit()
    finally:
        db.close()
    np.save(folder / "vectors.npy", content.vectors)
    unit_vectors = content.unit_vectors
    if unit_vectors is None:
        unit_vectors = np.zeros((len(content.units), content.vectors.shape[1]), dtype=np.float32)
    np.save(folder / "unit_vectors.npy", np.ascontiguousarray(unit_vectors, dtype=np.float32))
    faiss.write_index(build_faiss(content.vectors, faiss_kind), str(folder / "faiss.index"))
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
        self.units: list[QuoteUnit] = [
            QuoteUnit.model_validate_json(row[0]) for row in db.execute("SELECT json FROM units ORDER BY row")
        ]
        self.units_of_chunk: dict[str, list[int]] = {}
        for i, u in enumerate(self.units):
            for chunk_id in u.chunk_ids:
                self.units_of_chunk.setdefault(chunk_id, []).append(i)
        self.idf = Idf(dict(db.execute("SELECT token, df FROM terms")), len(self.chunks))
        self.faiss = faiss.read_index(str(folder / "faiss.index"))
        self.bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        self._vectors: np.ndarray | None = None
        self._unit_vectors: np.ndarray | None = None
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
            "SELECT label, kind, text FROM pages WHERE doc_id = ? AND number = ?", (doc_id, number)
        ).fetchone()
        if row is None:
            return None
        return Page(doc_id=doc_id, number=number, label=row[0] or str(number), kind=PageKind(row[1]), text=row[2])

    def pages(self, doc_id: str) -> list[Page]:
        """All pages of a document in order."""
        rows = self._db().execute(
            "SELECT number, label, kind, text FROM pages WHERE doc_id = ? ORDER BY number", (doc_id,)
        )
        return [Page(doc_id=doc_id, number=n, label=lab or str(n), kind=PageKind(k), text=txt)
                for n, lab, k, txt in rows]

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

    def unit_vectors(self) -> np.ndarray:
        """All quotable-unit vectors (memory-mapped), row-aligned with `units`."""
        if self._unit_vectors is None:
            self._unit_vectors = np.load(self.folder / "unit_vectors.npy", mmap_mode="r")
        return self._unit_vectors

    def doc_units(self, doc_id: str) -> tuple[list[QuoteUnit], np.ndarray]:
        """A document's units and their vectors (copied out of the memory map), in unit order."""
        rows = [i for i, u in enumerate(self.units) if u.doc_id == doc_id]
        return [self.units[i] for i in rows], np.asarray(self.unit_vectors()[rows], dtype=np.float32)

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
