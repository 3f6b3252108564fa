"""The on-disk index: FAISS vectors + SQLite (documents, pages, chunks) + BM25 + manifest.

A published index folder is immutable. Builds are written to a temporary folder and renamed into
place, then the `current` symlink is swapped atomically, so a killed build never harms the index
being served.

Retention and leases: every reader (`IndexStore`) holds a shared `flock` on its build's manifest for
as long as it is open, and `clean_stale` (run only after a successful publish) removes an old build
only when it can take that lock exclusively. A running server therefore never loses the build it
still serves, however many publishes happen meanwhile; the build is removed by the first publish
after the server has moved on and closed it.
"""

from __future__ import annotations

import contextlib
import errno
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
from typing import IO, Any

import bm25s
import faiss
import numpy as np

from atmp_rag.models import Chunk, Document, Page, PageKind, Passage, QuoteUnit
from atmp_rag.text.lexical import Idf, Tokenizer, bm25_tokenize, document_frequencies

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


class DiskFull(OSError):
    """The disk of the index folder filled up while a build was written; the partial build was removed."""


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


def is_disk_full(exc: BaseException) -> bool:
    """Whether an error from the write layer means "no space left" (OSError, SQLite or FAISS)."""
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    # FAISS reports a failed fwrite as a RuntimeError that carries strerror(errno).
    return isinstance(exc, RuntimeError) and os.strerror(errno.ENOSPC) in str(exc)


def estimated_size(content: IndexContent) -> int:
    """Rough number of bytes an index of `content` takes on disk (for messages, not for allocation)."""
    text = sum(len(p.text.encode()) for p in content.pages)
    records = sum(len(c.model_dump_json()) for c in content.chunks)
    records += sum(len(d.model_dump_json()) for d in content.documents)
    records += sum(len(u.model_dump_json()) for u in content.units)
    lexical = sum(len(t.encode()) for t in content.lexical_texts)
    units = content.unit_vectors.nbytes if content.unit_vectors is not None else 0
    # Vectors twice (vectors.npy and the FAISS index), SQLite with its b-tree overhead, BM25 ~ its text.
    return int(2 * content.vectors.nbytes + units + 1.3 * (text + records) + lexical)


def _mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def write_staged(index_root: Path, content: IndexContent, manifest: dict[str, Any], faiss_kind: str,
                 bm25_params: dict[str, Any]) -> Path:
    """Write a complete build into a new hidden staging folder under `index_root` and return it.

    On any failure (including KeyboardInterrupt) the staging folder is removed before the error
    propagates; a full disk becomes one `DiskFull` line naming the folder and the space needed.
    """
    staged = staging_folder(index_root)
    try:
        write_index(staged, content, manifest, faiss_kind, bm25_params)
    except BaseException as exc:
        shutil.rmtree(staged, ignore_errors=True)
        if is_disk_full(exc):
            free = shutil.disk_usage(index_root).free
            raise DiskFull(
                f"no space left on the device of {index_root.resolve()}: the index needs about "
                f"{_mib(estimated_size(content))} and {_mib(free)} is free; the partial build was removed. "
                "Free some space (or set ATMP_RAG_INDEX__DIR to a larger disk) and run ingest again"
            ) from exc
        raise
    return staged


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


def remove_staging(index_root: Path) -> None:
    """Remove what dead builds left behind: `.tmp-*` staging folders and `.current-*` links (under the build lock)."""
    if not index_root.is_dir():
        return
    for tmp in index_root.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for link in index_root.glob(".current-*"):
        with contextlib.suppress(OSError):
            link.unlink()


def _remove_unless_leased(folder: Path) -> bool:
    """Delete a build folder unless a reader holds its lease; True when it was deleted."""
    try:
        fh = (folder / MANIFEST).open("rb")
    except OSError:
        return False
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("keeping %s: a running reader (server or CLI) still has it open", folder.name)
            return False
        # Removed while holding the lock: a reader that opened the manifest meanwhile sees it unlinked.
        shutil.rmtree(folder, ignore_errors=True)
    log.info("removed old build %s", folder.name)
    return True


def clean_stale(index_root: Path, keep: int) -> None:
    """After a successful publish: drop dead staging folders and all but the `keep` newest builds.

    Only real build folders count (the `current` link is not a build). The build `current` points to
    and builds a reader holds a lease on are never removed.
    """
    if not index_root.is_dir():
        return
    remove_staging(index_root)
    current = resolve_current(index_root, missing_ok=True)
    served = current.resolve() if current is not None else None
    builds = sorted(
        (p for p in index_root.iterdir()
         if p.is_dir() and not p.is_symlink() and not p.name.startswith(".") and (p / MANIFEST).exists()),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in builds[max(keep, 1):]:
        if old.resolve() != served:
            _remove_unless_leased(old)


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
        if p.name.startswith(".") or p.is_symlink() or not (p / MANIFEST).exists():
            continue
        with contextlib.suppress(ValueError, OSError):
            if json.loads((p / MANIFEST).read_text()).get("settings_hash") == settings_hash:
                found.append(p)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


# ---------------------------------------------------------------- reading

def _take_lease(folder: Path) -> tuple[IO[bytes], dict[str, Any]]:
    """Open a build's manifest, hold a shared lock on it (the lease) and parse it."""
    try:
        fh = (folder / MANIFEST).open("rb")
    except FileNotFoundError as exc:
        raise IndexNotFound(f"{folder} is not a published index (no {MANIFEST})") from exc
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexNotFound(f"{folder} is being removed") from exc
        if os.fstat(fh.fileno()).st_nlink == 0:
            raise IndexNotFound(f"{folder} was removed")
        return fh, json.loads(fh.read())
    except BaseException:
        fh.close()
        raise


class IndexStore:
    """A published index opened for reading: chunks and documents in memory, pages from SQLite.

    While open it holds the build's lease (see the module docstring), one read-only SQLite
    connection shared by all threads, and memory maps of the vectors: everything stays readable
    even if the folder were unlinked. `close()` releases them.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lease, self.manifest = _take_lease(folder)
        self._db_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        try:
            self._open(folder)
        except BaseException:
            self.close()
            raise

    def _open(self, folder: Path) -> None:
        # immutable=1: a published build never changes, so SQLite needs no locks or journal checks,
        # and reads keep working from the open descriptor. One connection, serialised by a lock.
        uri = f"{(folder / 'store.sqlite').resolve().as_uri()}?mode=ro&immutable=1"
        self._conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.documents: dict[str, Document] = {
            row[0]: Document.model_validate_json(row[1]) for row in self._rows("SELECT doc_id, json FROM documents")
        }
        self.doc_sha256: dict[str, str] = dict(self._rows("SELECT doc_id, sha256 FROM documents"))
        self.chunks: list[Chunk] = [
            Chunk.model_validate_json(row[0]) for row in self._rows("SELECT json FROM chunks ORDER BY row")
        ]
        self.row_of: dict[str, int] = {c.chunk_id: i for i, c in enumerate(self.chunks)}
        self.labels: dict[tuple[str, int], str] = {
            (d, n): lab or str(n) for d, n, lab in self._rows("SELECT doc_id, number, label FROM pages")
        }
        self.units: list[QuoteUnit] = [
            QuoteUnit.model_validate_json(row[0]) for row in self._rows("SELECT json FROM units ORDER BY row")
        ]
        self.units_of_chunk: dict[str, list[int]] = {}
        for i, u in enumerate(self.units):
            for chunk_id in u.chunk_ids:
                self.units_of_chunk.setdefault(chunk_id, []).append(i)
        self.idf = Idf(dict(self._rows("SELECT token, df FROM terms")), len(self.chunks))
        # The index's own tokenizer: queries are tokenised exactly as its BM25 and IDF were built.
        lexical = self.manifest.get("settings", {}).get("lexical", {})
        self.tokenizer = Tokenizer(lexical.get("stemmer", "english"), lexical.get("stopwords", "en"))
        self.faiss = faiss.read_index(str(folder / "faiss.index"))
        self.bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        self._vectors: np.ndarray = np.load(folder / "vectors.npy", mmap_mode="r")
        self._unit_vectors: np.ndarray = np.load(folder / "unit_vectors.npy", mmap_mode="r")
        self.loaded_at = time.time()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._db_lock:
            if self._conn is None:
                raise IndexNotFound(f"{self.folder} is closed")
            return self._conn.execute(sql, params).fetchall()

    @property
    def settings_hash(self) -> str:
        """Hash of the settings this index was built with."""
        return str(self.manifest.get("settings_hash", ""))

    def page(self, doc_id: str, number: int) -> Page | None:
        """One page's cleaned text, or None."""
        rows = self._rows("SELECT label, kind, text FROM pages WHERE doc_id = ? AND number = ?", (doc_id, number))
        if not rows:
            return None
        row = rows[0]
        return Page(doc_id=doc_id, number=number, label=row[0] or str(number), kind=PageKind(row[1]), text=row[2])

    def pages(self, doc_id: str) -> list[Page]:
        """All pages of a document in order."""
        rows = self._rows("SELECT number, label, kind, text FROM pages WHERE doc_id = ? ORDER BY number", (doc_id,))
        return [Page(doc_id=doc_id, number=n, label=lab or str(n), kind=PageKind(k), text=txt)
                for n, lab, k, txt in rows]

    def page_count(self, doc_id: str) -> int:
        """Number of stored pages of a document."""
        return int(self._rows("SELECT COUNT(*) FROM pages WHERE doc_id = ?", (doc_id,))[0][0])

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
        """All chunk vectors (memory-mapped at open), row-aligned with `chunks`."""
        return self._vectors

    def unit_vectors(self) -> np.ndarray:
        """All quotable-unit vectors (memory-mapped at open), row-aligned with `units`."""
        return self._unit_vectors

    def doc_units(self, doc_id: str) -> tuple[list[QuoteUnit], np.ndarray]:
        """A document's units and their vectors (copied out of the memory map), in unit order."""
        rows = [i for i, u in enumerate(self.units) if u.doc_id == doc_id]
        return [self.units[i] for i in rows], np.asarray(self.unit_vectors()[rows], dtype=np.float32)

    def close(self) -> None:
        """Close the SQLite connection and release the lease (idempotent); the build may then be removed."""
        with self._db_lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        if not self._lease.closed:
            self._lease.close()  # closing the descriptor drops the flock


def open_index(index_root: Path) -> IndexStore:
    """Open the published index at `index_root` (a `current` pointer or an index folder)."""
    folder = resolve_current(index_root)
    assert folder is not None
    return IndexStore(folder)
