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
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Generic, TypeVar, overload

import bm25s
import faiss
import numpy as np

from atmp_rag.models import Chunk, Document, Page, PageKind, Passage, QuoteUnit, UnitKind
from atmp_rag.text.headings import term_names
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
CREATE TABLE unit_chunks (chunk_id TEXT NOT NULL, unit_row INTEGER NOT NULL);
CREATE INDEX unit_chunks_chunk ON unit_chunks (chunk_id);
CREATE TABLE definitions (term TEXT NOT NULL, unit_row INTEGER NOT NULL);
CREATE INDEX definitions_term ON definitions (term);
CREATE TABLE terms (token TEXT PRIMARY KEY, df INTEGER NOT NULL);
"""


class IndexNotFound(FileNotFoundError):
    """No published index where one was expected."""


class BuildLocked(RuntimeError):
    """Another build holds the index folder's lock."""


class DiskFull(OSError):
    """The disk of the index folder filled up while a build was written; the partial build was removed."""


# ---------------------------------------------------------------- vectors

#: `faiss_index=auto`: exact search up to this many vectors, a tuned IVF index above. bench/scale.py
#: measured exact search at 10^5 passages still within the latency target and at 10^6 far over it
#: (README, "Scaling"); IVF costs a training pass and a recall below 1, so it is used only where needed.
APPROXIMATE_ABOVE = 200_000
#: Recall@10 against exact search that `auto` tunes the IVF probe count for (held-out perturbed vectors).
TARGET_RECALL = 0.97
_NPROBES = (4, 8, 16, 32, 64, 128, 256)


def resolve_faiss_kind(kind: str, n: int) -> str:
    """The index kind actually built for `n` vectors: `auto` is flat up to APPROXIMATE_ABOVE, IVF above."""
    if kind == "auto":
        return "ivf-tuned" if n > APPROXIMATE_ABOVE else "flat"
    return kind


def _recall_at_10(index: faiss.Index, queries: np.ndarray, exact: np.ndarray) -> float:
    _, found = index.search(queries, 10)
    return float(np.mean([len(set(f.tolist()) & set(e.tolist())) / 10 for f, e in zip(found, exact, strict=True)]))


def _tuning_queries(vectors: np.ndarray, rng: np.random.Generator, count: int = 256) -> np.ndarray:
    """Held-out queries for tuning the IVF probe count: each the normalised mean of 3 random stored vectors.

    A question lies between several passages, not next to one. On the 10^6-passage bench index the
    235 real questions reached recall@10 0.957 / 0.980 / 0.994 at nprobe 4 / 8 / 16, and these queries
    0.950 / 0.986 / 0.993 (so nprobe 8 is chosen); a stored vector plus noise (cosine 0.7, or even 0.5,
    to it) reached 1.0 at every nprobe there and chose nprobe 4: its neighbours sit in its own list.
    """
    n, dim = vectors.shape
    idx = np.sort(rng.choice(n, 3 * count, replace=n < 3 * count))  # sorted: sequential reads of a memory map
    rows = np.asarray(vectors[idx], dtype=np.float32)[rng.permutation(3 * count)]
    queries = rows.reshape(count, 3, dim).mean(axis=1)
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(queries, dtype=np.float32)


def _tuned_ivf(vectors: np.ndarray) -> tuple[faiss.Index, float]:
    """IVF-Flat with √n lists (trained on a sample) and the smallest probe count whose recall@10
    against exact search reaches TARGET_RECALL on 256 held-out queries (`_tuning_queries`)."""
    n, dim = vectors.shape
    nlist = int(min(8192, max(16, round(np.sqrt(n)))))
    rng = np.random.default_rng(0)
    sample = np.ascontiguousarray(vectors[np.sort(rng.choice(n, min(n, 40 * nlist), replace=False))],
                                  dtype=np.float32)
    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    index.train(sample)
    for start in range(0, n, 100_000):
        index.add(np.ascontiguousarray(vectors[start:start + 100_000], dtype=np.float32))
    queries = _tuning_queries(vectors, rng)
    _, exact = faiss.knn(queries, np.ascontiguousarray(vectors, dtype=np.float32), 10, faiss.METRIC_INNER_PRODUCT)
    recall = 0.0
    for nprobe in _NPROBES:
        index.nprobe = min(nprobe, nlist)
        recall = _recall_at_10(index, queries, exact)
        if recall >= TARGET_RECALL or nprobe >= nlist:
            break
    log.info("IVF index: %d lists, nprobe %d, recall@10 %.3f on held-out queries", nlist, index.nprobe, recall)
    return index, recall


def build_faiss(vectors: np.ndarray, kind: str) -> faiss.Index:
    """An inner-product FAISS index over normalised vectors: flat (exact), HNSW, IVF, or `auto`
    (flat up to APPROXIMATE_ABOVE vectors, a recall-tuned IVF above)."""
    return build_faiss_described(vectors, kind)[0]


def build_faiss_described(vectors: np.ndarray, kind: str) -> tuple[faiss.Index, dict[str, Any]]:
    """`build_faiss` and what the manifest records about the index (type, search parameters, tuned recall)."""
    n, dim = vectors.shape
    kind = resolve_faiss_kind(kind, n)
    if kind == "ivf-tuned":
        index, recall = _tuned_ivf(vectors)
        return index, {**faiss_description(index), "tuned_recall_at_10": round(recall, 4)}
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
    return index, faiss_description(index)


def faiss_description(index: faiss.Index) -> dict[str, Any]:
    """What the manifest records about a FAISS index: its type and search parameters."""
    out: dict[str, Any] = {"type": type(index).__name__, "ntotal": int(index.ntotal)}
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        out.update(nlist=int(ivf.nlist), nprobe=int(ivf.nprobe))
    if isinstance(index, faiss.IndexHNSW):
        out.update(M=int(index.hnsw.nb_neighbors(1)), efSearch=int(index.hnsw.efSearch))
    return out


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
        db.executemany("INSERT INTO unit_chunks VALUES (?, ?)",
                       [(c, i) for i, u in enumerate(content.units) for c in u.chunk_ids])
        # What the answerer needs about all units at once, so that it never has to read them all at load:
        # the mean token count (BM25 length norm) and the glossary entries by term.
        unit_lengths, definitions = unit_statistics(content.units, bm25_params["stemmer"], bm25_params["stopwords"])
        db.executemany("INSERT INTO definitions VALUES (?, ?)", definitions)
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
    index, described = build_faiss_described(content.vectors, faiss_kind)
    faiss.write_index(index, str(folder / "faiss.index"))
    manifest = {**manifest, "faiss": described}
    del index
    # The answerer's "closest units anywhere" search: in memory below the threshold, an ANN index above.
    if resolve_faiss_kind(faiss_kind, len(unit_vectors)) == "ivf-tuned":
        unit_index, manifest["unit_faiss"] = build_faiss_described(
            np.ascontiguousarray(unit_vectors, dtype=np.float32), faiss_kind)
        faiss.write_index(unit_index, str(folder / "unit_faiss.index"))
        del unit_index
    bm25 = bm25s.BM25(k1=bm25_params["k1"], b=bm25_params["b"])
    bm25.index(tokens, show_progress=False)
    bm25.save(str(folder / "bm25"), show_progress=False)
    manifest["unit_avg_tokens"] = unit_lengths
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))


def term_key(tokens: Iterable[str]) -> str:
    """The lookup key of a glossary term: its distinct stemmed tokens, sorted."""
    return "\x1f".join(sorted(set(tokens)))


def unit_statistics(units: Sequence[QuoteUnit], stemmer: str, stopwords: str,
                    block: int = 50_000) -> tuple[float, list[tuple[str, int]]]:
    """Mean token count of the units with their context, and (term key, row) of every glossary definition."""
    total = 0
    definitions: list[tuple[str, int]] = []
    for start in range(0, len(units), block):
        part = units[start:start + block]
        total += sum(len(t) for t in bm25_tokenize([f"{u.context}\n{u.text}" for u in part], stemmer, stopwords))
        rows = [start + i for i, u in enumerate(part) if u.kind is UnitKind.definition]
        if rows:
            keys = definition_keys([units[r].context for r in rows],
                                   lambda texts: bm25_tokenize(texts, stemmer, stopwords))
            definitions.extend((k, r) for r, ks in zip(rows, keys, strict=True) for k in ks)
    return total / max(1, len(units)), definitions


def definition_keys(terms: Sequence[str], tokenizer: Callable[[list[str]], list[list[str]]]) -> list[list[str]]:
    """The lookup keys of each glossary term: one per name it goes by (`text.headings.term_names`), so
    "1.11 Case Report Form (CRF)" is found as "case report form" and as "CRF"."""
    names = [term_names(t) for t in terms]
    tokens = iter(tokenizer([n for ns in names for n in ns]))
    return [list(dict.fromkeys(term_key(t) for t in (next(tokens) for _ in ns) if t)) for ns in names]


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


T = TypeVar("T")

#: Records kept parsed per open store (chunks, units): hot rows of a large index stay in memory, the
#: rest are read from SQLite on demand, so RSS does not grow with the corpus. 8,192 chunks of ~2 KB.
RECORD_CACHE = 8192


class RecordTable(Sequence[T], Generic[T]):
    """A read-only, row-ordered table of one SQLite index as a sequence, parsed lazily with an LRU cache.

    `table[row]` reads one record (cached); iteration streams the table in blocks. Code written for the
    former in-memory lists keeps working, while a million-passage index never holds them all.
    """

    def __init__(self, rows: Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]], table: str,
                 parse: Callable[[str], T], cache: int = RECORD_CACHE) -> None:
        self._rows = rows
        self._table = table
        self._parse = parse
        self._n = int(rows(f"SELECT COUNT(*) FROM {table}", ())[0][0])
        self._get = lru_cache(maxsize=cache)(self._load)

    def _load(self, row: int) -> T:
        found = self._rows(f"SELECT json FROM {self._table} WHERE row = ?", (row,))
        if not found:
            raise IndexError(row)
        return self._parse(found[0][0])

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, row: int) -> T: ...
    @overload
    def __getitem__(self, row: slice) -> list[T]: ...
    def __getitem__(self, row: int | slice) -> T | list[T]:
        if isinstance(row, slice):
            return [self._get(i) for i in range(*row.indices(self._n))]
        row = int(row)
        if row < 0:
            row += self._n
        if not 0 <= row < self._n:
            raise IndexError(row)
        return self._get(row)

    def __iter__(self) -> Iterator[T]:
        block = 2000
        for start in range(0, self._n, block):
            for _, blob in self._rows(f"SELECT row, json FROM {self._table} WHERE row >= ? AND row < ? ORDER BY row",
                                      (start, start + block)):
                yield self._parse(blob)

    def where(self, column: str, value: Any) -> list[tuple[int, T]]:
        """(row, record) of the rows whose `column` equals `value`, in row order (e.g. one document's)."""
        return [(int(r), self._parse(blob)) for r, blob in
                self._rows(f"SELECT row, json FROM {self._table} WHERE {column} = ? ORDER BY row", (value,))]


class _SqlMapping(Mapping[Any, Any]):
    """A read-only mapping answered by SQLite (one indexed lookup per key, LRU-cached)."""

    def __init__(self, get: Callable[[Any], Any], keys: Callable[[], Iterator[Any]], size: Callable[[], int],
                 cache: int = RECORD_CACHE) -> None:
        self._lookup = lru_cache(maxsize=cache)(get)
        self._keys = keys
        self._size = size

    def __getitem__(self, key: Any) -> Any:
        try:
            value = self._lookup(key)
        except TypeError as exc:  # unhashable key
            raise KeyError(key) from exc
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[Any]:
        return self._keys()

    def __len__(self) -> int:
        return self._size()


def read_faiss(path: Path) -> faiss.Index:
    """Read a FAISS index memory-mapped where FAISS can (IVF inverted lists, flat codes), else into RAM."""
    for flags in (faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if hasattr(faiss, "IO_FLAG_MMAP_IFC") else None,
                  faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY):
        if flags is None:
            continue
        try:
            return faiss.read_index(str(path), flags)
        except RuntimeError:
            continue
    return faiss.read_index(str(path))


class IndexStore:
    """A published index opened for reading: documents in memory; chunks, units and pages from SQLite
    on demand (LRU-cached); vectors, FAISS and BM25 memory-mapped.

    While open it holds the build's lease (see the module docstring), one read-only SQLite
    connection shared by all threads, and memory maps of the vectors: everything stays readable
    even if the folder were unlinked. `close()` releases them.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lease, self.manifest = _take_lease(folder)
        self._db_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._unit_lock = threading.Lock()  # not the SQLite lock: copying the vectors must not stall reads
        self._unit_matrix: np.ndarray | None = None
        self._unit_chunk_rows: tuple[np.ndarray, np.ndarray] | None = None
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
        self.chunks: RecordTable[Chunk] = RecordTable(self._rows, "chunks", Chunk.model_validate_json)
        self.units: RecordTable[QuoteUnit] = RecordTable(self._rows, "units", QuoteUnit.model_validate_json)
        self.row_of: Mapping[str, int] = _SqlMapping(
            self._chunk_row, lambda: (r[0] for r in self._rows("SELECT chunk_id FROM chunks ORDER BY row")),
            lambda: len(self.chunks))
        self.labels: Mapping[tuple[str, int], str] = _SqlMapping(
            self._label, lambda: ((d, n) for d, n in self._rows("SELECT doc_id, number FROM pages")),
            lambda: int(self._rows("SELECT COUNT(*) FROM pages")[0][0]))
        tables = {r[0] for r in self._rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self._has_definitions = "definitions" in tables
        self._definitions_fallback: dict[str, list[int]] | None = None
        self._has_unit_chunks = "unit_chunks" in tables
        if self._has_unit_chunks:
            self.units_of_chunk: Mapping[str, list[int]] = _SqlMapping(
                self._chunk_units, lambda: (r[0] for r in self._rows("SELECT DISTINCT chunk_id FROM unit_chunks")),
                lambda: int(self._rows("SELECT COUNT(DISTINCT chunk_id) FROM unit_chunks")[0][0]))
        else:  # a build written before issue 11: derive the map once, in memory
            by_chunk: dict[str, list[int]] = {}
            for i, u in enumerate(self.units):
                for chunk_id in u.chunk_ids:
                    by_chunk.setdefault(chunk_id, []).append(i)
            self.units_of_chunk = by_chunk
        # Each document's units are one run of rows (builds write them document by document).
        grouped = self._rows("SELECT doc_id, MIN(row), MAX(row), COUNT(*) FROM units GROUP BY doc_id")
        if any(int(hi) - int(lo) + 1 != int(n) for _, lo, hi, n in grouped):
            raise ValueError(f"{folder}: the units of a document are not stored in one run of rows")
        spans = sorted((int(lo), int(hi) + 1, d) for d, lo, hi, _ in grouped)
        self._unit_starts = [lo for lo, _, _ in spans]
        self._unit_spans = spans
        self.idf = Idf(dict(self._rows("SELECT token, df FROM terms")), len(self.chunks))
        # The index's own tokenizer: queries are tokenised exactly as its BM25 and IDF were built.
        lexical = self.manifest.get("settings", {}).get("lexical", {})
        self.tokenizer = Tokenizer(lexical.get("stemmer", "english"), lexical.get("stopwords", "en"))
        self.faiss = read_faiss(folder / "faiss.index")
        unit_index = folder / "unit_faiss.index"
        self.unit_faiss: faiss.Index | None = read_faiss(unit_index) if unit_index.exists() else None
        self.bm25 = bm25s.BM25.load(str(folder / "bm25"), show_progress=False, mmap=True)
        self._vectors: np.ndarray = np.load(folder / "vectors.npy", mmap_mode="r")
        self._unit_vectors: np.ndarray = np.load(folder / "unit_vectors.npy", mmap_mode="r")
        self.loaded_at = time.time()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._db_lock:
            if self._conn is None:
                raise IndexNotFound(f"{self.folder} is closed")
            return self._conn.execute(sql, params).fetchall()

    def _chunk_row(self, chunk_id: str) -> int | None:
        found = self._rows("SELECT row FROM chunks WHERE chunk_id = ?", (chunk_id,))
        return int(found[0][0]) if found else None

    def _label(self, key: tuple[str, int]) -> str | None:
        doc_id, number = key
        found = self._rows("SELECT label FROM pages WHERE doc_id = ? AND number = ?", (doc_id, number))
        return (found[0][0] or str(number)) if found else None

    def _chunk_units(self, chunk_id: str) -> list[int] | None:
        found = self._rows("SELECT unit_row FROM unit_chunks WHERE chunk_id = ? ORDER BY rowid", (chunk_id,))
        return [int(r[0]) for r in found] or None

    def definition_rows(self, term: Iterable[str], tokenizer: Callable[[list[str]], list[list[str]]]) -> list[int]:
        """Rows of the glossary definitions with a name of exactly these stemmed tokens, in row order.

        `tokenizer` tokenises the terms of an index built before the table existed (once, in memory).
        """
        key = term_key(term)
        if self._has_definitions:
            return [int(r[0]) for r in self._rows("SELECT unit_row FROM definitions WHERE term = ? ORDER BY unit_row",
                                                  (key,))]
        if self._definitions_fallback is None:
            rows = [i for i, u in enumerate(self.units) if u.kind is UnitKind.definition]
            table: dict[str, list[int]] = {}
            for r, keys in zip(rows, definition_keys([self.units[r].context for r in rows], tokenizer), strict=True):
                for k in keys:
                    table.setdefault(k, []).append(r)
            self._definitions_fallback = table
        return list(self._definitions_fallback.get(key, []))

    @property
    def settings_hash(self) -> str:
        """Hash of the settings this index was built with."""
        return str(self.manifest.get("settings_hash", ""))

    def chunk_counts(self) -> dict[str, int]:
        """Number of chunks per document (documents without chunks are absent)."""
        return {d: int(n) for d, n in self._rows("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id")}

    def chunk_documents(self) -> list[str]:
        """The document id of every chunk row, in row order (one column read, no JSON parsed)."""
        return [r[0] for r in self._rows("SELECT doc_id FROM chunks ORDER BY row")]

    def doc_chunks(self, doc_id: str) -> list[tuple[int, Chunk]]:
        """(row, chunk) of a document's chunks, in row order."""
        return self.chunks.where("doc_id", doc_id)

    def unit_rows(self, doc_id: str) -> range:
        """The rows of a document's units (empty when it has none)."""
        for lo, hi, d in self._unit_spans:
            if d == doc_id:
                return range(lo, hi)
        return range(0)

    def unit_document(self, row: int) -> tuple[str, range]:
        """The document holding unit `row` and the rows of all its units."""
        i = bisect_right(self._unit_starts, row) - 1
        if i < 0 or row >= self._unit_spans[i][1]:
            raise IndexError(row)
        lo, hi, doc_id = self._unit_spans[i]
        return doc_id, range(lo, hi)

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

    def _all_unit_vectors(self) -> np.ndarray:
        """The unit vectors in memory, read once: a scan over them is a few hundred microseconds per
        thousand units, while re-reading the memory map would copy it on every request. Only for an
        index without a unit ANN index (`APPROXIMATE_ABOVE`), so at most a few hundred MB."""
        if self._unit_matrix is None:
            with self._unit_lock:
                if self._unit_matrix is None:
                    self._unit_matrix = np.ascontiguousarray(self._unit_vectors, dtype=np.float32)
        return self._unit_matrix

    def warm_units(self) -> None:
        """Read the unit vectors that `closest_units` scans once (the first request would otherwise)."""
        if self.unit_faiss is None:
            self._all_unit_vectors()

    def closest_units(self, qvec: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and inner products of the `n` units closest to `qvec` anywhere in the index, best first."""
        if n <= 0 or not len(self.units):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self.unit_faiss is not None:
            scores, found = self.unit_faiss.search(np.asarray(qvec, dtype=np.float32).reshape(1, -1), n)
            keep = found[0] >= 0
            return found[0][keep].astype(np.int64), scores[0][keep]
        all_scores = self._all_unit_vectors() @ np.asarray(qvec, dtype=np.float32)
        n = min(len(all_scores), n)
        best = np.argpartition(-all_scores, n - 1)[:n]
        best = best[np.argsort(-all_scores[best], kind="stable")]
        return best.astype(np.int64), all_scores[best]

    def unit_chunk_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The chunk rows holding each unit as CSR arrays: unit `u`'s chunks are
        ``indices[indptr[u]:indptr[u + 1]]``. Read on first use (only the unit fusion list needs it)."""
        if self._unit_chunk_rows is None:
            if self._has_unit_chunks:
                pairs = self._rows("SELECT uc.unit_row, c.row FROM unit_chunks uc JOIN chunks c USING (chunk_id) "
                                   "ORDER BY uc.unit_row, c.row")
            else:
                pairs = sorted((u, self.row_of[c]) for c, us in self.units_of_chunk.items() for u in us
                               if c in self.row_of)
            arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
            counts = np.bincount(arr[:, 0], minlength=len(self.units)) if len(arr) else np.zeros(len(self.units))
            indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self._unit_chunk_rows = (indptr, arr[:, 1].astype(np.int32))
        return self._unit_chunk_rows

    def doc_units(self, doc_id: str) -> tuple[list[QuoteUnit], np.ndarray]:
        """A document's units and their vectors (copied out of the memory map), in unit order."""
        rows = self.unit_rows(doc_id)
        return list(self.units[rows.start:rows.stop]), np.array(self.unit_vectors()[rows.start:rows.stop],
                                                              dtype=np.float32)

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
