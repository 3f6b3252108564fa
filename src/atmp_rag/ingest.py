"""The pipeline catalog -> PDFs -> pages -> chunks -> vectors -> published index, with a report.

Interrupts: for the length of a build SIGINT and SIGTERM are recorded and raised as
`BuildInterrupted`. The publish step checks the record, so a build that received a signal never
publishes, even when some library swallowed the KeyboardInterrupt. Old builds are cleaned only
after a successful publish.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from atmp_rag.chunking import Segmented, chunk_segmented, segment
from atmp_rag.config import PIPELINE_VERSION, Settings
from atmp_rag.corpus import EmptyCorpus, load_catalog, pdf_page_count, scan_corpus, sha256_file, uncatalogued_document
from atmp_rag.embed import Embedder, embedder_for
from atmp_rag.extract import ExtractionError, extract_document, pdf_metadata
from atmp_rag.front_matter import describe, read_front_matter
from atmp_rag.models import Chunk, Document, IngestReport, Page, QuoteUnit, SkippedFile, UnitKind
from atmp_rag.progress import ProgressLike
from atmp_rag.progress import progress as progress_display
from atmp_rag.store import (
    IndexContent,
    IndexStore,
    build_lock,
    clean_stale,
    publish,
    published_builds,
    remove_staging,
    resolve_current,
    write_staged,
)
from atmp_rag.units import build_units

log = logging.getLogger(__name__)


class BuildInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived during a build. `published` is None unless it came after the publish."""

    def __init__(self, signum: int, published: Path | None = None) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name} after publishing {published.name}" if published
                         else f"interrupted by {name}; nothing published")
        self.signum = signum
        self.published = published


class _Interrupts:
    """SIGINT/SIGTERM during a build: recorded, and raised as BuildInterrupted unless deferred."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.deferring = False
        self.published: Path | None = None

    def _handler(self, signum: int, _frame: Any) -> None:
        self.received.append(signum)
        if not self.deferring:
            raise BuildInterrupted(signum, self.published)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Signals wait until the block is done (the pointer swap, removing old builds), then raise."""
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.received:
            raise BuildInterrupted(self.received[0], self.published)


@contextlib.contextmanager
def _interrupts() -> Iterator[_Interrupts]:
    guard = _Interrupts()
    # Handlers can only be installed from the main thread; elsewhere the default behaviour stays.
    if threading.current_thread() is not threading.main_thread():
        yield guard
        return
    previous = {sig: signal.signal(sig, guard._handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield guard
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _publish_unless_interrupted(index_root: Path, staged: Path, name: str, guard: _Interrupts) -> Path:
    """Publish a staged build unless a signal was received; a signal during the swap waits until after it."""
    with guard.deferred():
        try:
            if guard.received:  # also when a library swallowed the KeyboardInterrupt
                raise BuildInterrupted(guard.received[0])
            final = guard.published = publish(index_root, staged, name)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
    return final


def package_version() -> str:
    """Installed version of atmp-rag."""
    try:
        return version("atmp-rag")
    except PackageNotFoundError:
        return "0+unknown"


def chunk_header(document: Document, chunk: Chunk) -> str:
    """Short context prepended to a chunk for encoding and BM25: reference and innermost section."""
    section = chunk.section_path[-1] if chunk.section_path else ""
    return " — ".join(x for x in (document.reference, section) if x)


def index_text(document: Document, chunk: Chunk, tables: str = "") -> str:
    """What is encoded and BM25-indexed for a chunk (the stored chunk text stays verbatim): the chunk header,
    the caption and column headers of tables the chunk continues (`table_context`), then the chunk."""
    return "\n".join(x for x in (chunk_header(document, chunk), tables, chunk.text) if x)


def index_texts(document: Document, chunks: Sequence[Chunk], units: Sequence[QuoteUnit]) -> list[str]:
    """`index_text` of each of a document's chunks, with the table context its units give it: the one place that
    says what is encoded and BM25-indexed, so both read the same text."""
    held: dict[str, list[QuoteUnit]] = {}
    for unit in units:
        for cid in unit.chunk_ids:
            held.setdefault(cid, []).append(unit)
    return [index_text(document, c, table_context(c, held.get(c.chunk_id, []))) for c in chunks]


def table_context(chunk: Chunk, units: Sequence[QuoteUnit]) -> str:
    """The captions and column headers of the tables whose rows `units` (the chunk's) quote without the chunk
    holding them: a long table runs over several chunks, and only the first holds "Table 1. Release tests for
    the finished CAR-T cell product" / "Quality attribute Method Acceptance criterion", so a question in those
    words found the rows of the first chunk only ("What endotoxin limit applies …?" missed the row in the next)."""
    out: list[str] = []
    for unit in units:
        if unit.kind in (UnitKind.row, UnitKind.table) and unit.context and unit.context not in chunk.text \
                and unit.context not in out:
            out.append(unit.context)
    return "\n".join(out)


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[ProgressLike]:
    # Bars on a terminal, plain lines with rate and ETA in logs and CI (`atmp_rag.progress`).
    with progress_display(enabled) as progress:
        yield progress


#: Texts per encoder call in `encode_chunks` (and per actor call in the Ray engine, so both batch alike).
BATCH = 256


class EngineFailed(RuntimeError):
    """The ingest engine gave up on a task (e.g. a Ray worker died beyond its retries); nothing was published."""


def encode_chunks(embedder: Embedder, texts: list[str], show_progress: bool, batch: int = BATCH,
                  ranges: list[list[tuple[int, int]]] | None = None
                  ) -> tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]]:
    """Encode texts in length-sorted slices so the bar moves and padding stays small.

    With `ranges` (character ranges per text), token embeddings are also pooled over each range in the
    same forward pass (`Embedder.encode_passages_pooled`); otherwise the pooled list is empty.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    pooled: list[list[tuple[np.ndarray, int]]] = [[] for _ in texts] if ranges is not None else []
    with _progress(show_progress) as progress:
        task = progress.add_task("encode", total=len(texts), unit="chunks")
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            if ranges is None:
                out[idx] = embedder.encode_passages([texts[i] for i in idx])
            else:
                vecs, pools = embedder.encode_passages_pooled([texts[i] for i in idx], [ranges[i] for i in idx])
                out[idx] = vecs
                for i, p in zip(idx, pools, strict=True):
                    pooled[i] = p
            progress.advance(task, len(idx))
    return out, pooled


@dataclass
class _DocBuild:
    """One document on its way into the index: pages, chunks, units and (once encoded) their vectors."""

    pages: list[Page]
    chunks: list[Chunk]
    units: list[QuoteUnit]
    vectors: np.ndarray | None = None
    unit_vectors: np.ndarray | None = None
    seg: Segmented | None = None  # present for newly processed documents (unit pooling needs it)
    unit_ranges: list[tuple[int, int]] = field(default_factory=list)
    # An uncatalogued document as its front matter describes it (status, reference, title); None for
    # catalogued ones, whose catalog row is the authority.
    document: Document | None = None


@dataclass
class Prepared:
    """What extracting, cleaning and chunking one document gave: its build or why it was skipped."""

    built: _DocBuild | None
    skipped: SkippedFile | None = None
    dropped: Counter[str] = field(default_factory=Counter)
    extract_seconds: float = 0.0
    chunk_seconds: float = 0.0


class TokenCounter(Protocol):
    """What chunking needs of the encoder: its tokenizer's count and its window."""

    max_tokens: int

    def count_tokens(self, text: str) -> int: ...


def prepare_document(settings: Settings, doc: Document, path: Path, counter: TokenCounter) -> Prepared:
    """Extract, clean, chunk and cut units of one PDF: the per-document CPU work of every engine."""
    t0 = time.perf_counter()
    try:
        _check_page_count(path, settings.extraction.max_pages)
        pages, furniture = extract_document(path, doc.doc_id, backend=settings.extraction.backend,
                                            max_page_chars=settings.extraction.max_page_chars)
    except (ExtractionError, OSError) as exc:
        reason = exc.reason if isinstance(exc, ExtractionError) else f"cannot read: {exc.strerror or exc}"
        return Prepared(None, SkippedFile(file=path.name, reason=reason))
    t1 = time.perf_counter()
    seg = segment(doc.doc_id, pages)
    chunks = chunk_segmented(seg, counter.count_tokens,
                             max_tokens=min(settings.chunking.max_tokens, counter.max_tokens),
                             overlap_tokens=settings.chunking.overlap_tokens, min_tokens=settings.chunking.min_tokens)
    built = build_units(seg, chunks)
    timing = {"extract_seconds": t1 - t0, "chunk_seconds": time.perf_counter() - t1}
    if not chunks:
        return Prepared(None, SkippedFile(file=path.name, reason="no indexable text after cleaning"),
                        Counter(built.dropped), **timing)
    described = None if doc.catalogued else describe(doc, read_front_matter(pages, furniture))
    return Prepared(_DocBuild(pages, chunks, built.units, seg=seg, unit_ranges=built.ranges, document=described),
                    None, Counter(built.dropped), **timing)


class PassageEncoder(Protocol):
    """What encoding needs: the local embedder, or the Ray engine's actor pool."""

    dimension: int

    def encode_pooled(self, texts: list[str], ranges: list[list[tuple[int, int]]], show_progress: bool
                      ) -> tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]]: ...

    def encode_passages(self, texts: list[str]) -> np.ndarray: ...


class IngestEngine(Protocol):
    """Where the documents that need work are prepared and encoded (see `atmp_rag.engines`)."""

    def prepare(self, settings: Settings, work: list[tuple[Document, Path]], show_progress: bool
                ) -> Iterator[tuple[Document, Path, Prepared]]: ...

    def encoder(self, settings: Settings) -> PassageEncoder: ...

    def dimension(self, settings: Settings) -> int: ...


class _LocalEncoder:
    """The in-process embedder as a PassageEncoder (length-sorted slices, one progress bar)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.dimension = embedder.dimension

    def encode_pooled(self, texts: list[str], ranges: list[list[tuple[int, int]]], show_progress: bool
                      ) -> tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]]:
        return encode_chunks(self.embedder, texts, show_progress, ranges=ranges)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode_passages(texts)


class LocalEngine:
    """The default engine: every document in this process, one after the other, with a progress bar."""

    def __init__(self, model: Callable[[], Embedder]) -> None:
        self._model = model  # loaded only when a document needs work

    def prepare(self, settings: Settings, work: list[tuple[Document, Path]], show_progress: bool
                ) -> Iterator[tuple[Document, Path, Prepared]]:
        with _progress(show_progress and bool(work)) as progress:
            task = progress.add_task("extract", total=len(work), unit="documents", pages=0)
            n_pages = 0
            for doc, path in work:
                progress.update(task, description=f"extract {doc.doc_id[:24]}")
                encoder = self._model()  # loaded outside the extract/chunk timings
                prepared = prepare_document(settings, doc, path, encoder)
                if prepared.built is not None:
                    n_pages += len(prepared.built.pages)
                    progress.update(task, pages=n_pages)
                yield doc, path, prepared
                progress.advance(task)

    def encoder(self, settings: Settings) -> PassageEncoder:
        return _LocalEncoder(self._model())

    def dimension(self, settings: Settings) -> int:
        return self._model().dimension


@contextlib.contextmanager
def _engine_for(settings: Settings, name: str | None, ray_address: str | None,
                embedder: Embedder | None) -> Iterator[IngestEngine | None]:
    """The engine named by `name` (or `settings.index.engine`); None means the local engine of `_build`."""
    name = name or settings.index.engine
    if name == "local":
        if ray_address:
            raise EngineFailed("--ray-address needs --engine ray")
        yield None
        return
    if name != "ray":
        raise EngineFailed(f"unknown ingest engine {name!r}: local or ray")
    from atmp_rag.engines.ray import RayEngine  # Ray is an optional extra, imported only here

    with RayEngine.connect(settings, ray_address or settings.ray.address) as engine:
        yield engine


@dataclass
class _Reuse:
    """What a previous build with the same settings can give back, per document sha256."""

    store: IndexStore | None = None
    sha: dict[str, str] = field(default_factory=dict)
    dimension: int = 0

    def close(self) -> None:
        """Release the previous build (its lease), so that cleaning may remove it."""
        if self.store is not None:
            self.store.close()

    def take(self, doc_id: str) -> _DocBuild | None:
        if self.store is None:
            return None
        found = self.store.doc_chunks(doc_id)
        rows = [r for r, _ in found]
        chunks = [c for _, c in found]
        units, unit_vectors = self.store.doc_units(doc_id)
        vectors = np.asarray(self.store.vectors()[rows], dtype=np.float32)
        # Same file, same front matter: an uncatalogued document keeps what its build read from it.
        previous = self.store.documents.get(doc_id)
        document = previous if previous is not None and not previous.catalogued else None
        return _DocBuild(self.store.pages(doc_id), chunks, units, vectors, unit_vectors, document=document)


def _previous_build(index_root: Path, settings_hash: str) -> _Reuse:
    for folder in published_builds(index_root, settings_hash):
        with contextlib.suppress(OSError, ValueError):
            # The settings hash holds the pipeline version already; this also refuses builds of older releases.
            if json.loads((folder / "manifest.json").read_text()).get("pipeline") != PIPELINE_VERSION:
                continue
        try:
            store = IndexStore(folder)
        except (OSError, ValueError, RuntimeError, sqlite3.Error) as exc:
            log.warning("cannot reuse %s: %s", folder.name, exc)
            continue
        sha = {d: s for d, s in store.doc_sha256.items() if s}
        return _Reuse(store, sha, int(store.manifest.get("dimension", 0)))
    return _Reuse()


def _hash_files(candidates: list[tuple[Document, Path]]
                ) -> tuple[list[tuple[Document, Path]], dict[str, str], list[SkippedFile]]:
    """sha256 of every candidate file; one that cannot be read is skipped with the reason."""
    files: list[tuple[Document, Path]] = []
    sha: dict[str, str] = {}
    skipped: list[SkippedFile] = []
    for doc, path in candidates:
        try:
            sha[doc.doc_id] = sha256_file(path)
        except OSError as exc:
            skipped.append(SkippedFile(file=path.name, reason=f"cannot read: {exc.strerror or exc}"))
            continue
        files.append((doc, path))
    return files, sha, skipped


def _check_page_count(path: Path, max_pages: int) -> None:
    """Raise ExtractionError when a PDF has more pages than the cap (checked before extracting anything)."""
    n = pdf_page_count(path)
    if n is not None and n > max_pages:
        raise ExtractionError(f"{n} pages, over the limit of {max_pages} (ATMP_RAG_EXTRACTION__MAX_PAGES)")


def content_hash(settings_hash: str, doc_hashes: dict[str, str], catalog: list[Document]) -> str:
    """Identity of a build: its settings (and pipeline version), every input file's sha256 and the catalog.

    The catalog is part of it because document metadata (status, superseded-by, URLs) is stored in
    the index and shown in citations: an edited catalog must republish, though no vector is recomputed.
    """
    blob = json.dumps({"settings": settings_hash, "docs": doc_hashes,
                       "catalog": [d.model_dump(mode="json") for d in catalog]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def ingest(settings: Settings, strict: bool = False, show_progress: bool = True,
           embedder: Embedder | None = None, engine_name: str | None = None,
           ray_address: str | None = None) -> IngestReport:
    """Index every PDF in the corpus folder; publish atomically; reuse unchanged documents.

    `engine_name` ("local" by default, or "ray"; `settings.index.engine` when None) says where the
    documents that need work are extracted, chunked and encoded; the reuse decision, the store
    writer and the publish are the same for both. `ray_address` joins a running Ray cluster
    ("auto", "host:6379"); without it the Ray engine starts a local Ray for the length of the build.

    Unreadable PDFs, and corpus entries that are not regular files, are skipped and listed in the
    report (with `strict`, nothing is published when any file is skipped). Raises EmptyCorpus when
    nothing can be indexed, BuildInterrupted on SIGINT/SIGTERM, DiskFull when the disk fills up.
    Old builds are removed only after a successful publish.
    """
    started = time.perf_counter()
    index_root = settings.index.dir
    catalog = load_catalog(settings.corpus.catalog)
    present, extra, rejected = scan_corpus(catalog, settings.corpus.dir)
    settings_hash = settings.settings_hash()

    candidates: list[tuple[Document, Path]] = [(d, settings.corpus.dir / str(d.file)) for d in present]
    for path in extra:
        try:
            meta = pdf_metadata(path)
        except (ExtractionError, OSError):
            meta = {}
        candidates.append((uncatalogued_document(path, meta), path))
    files, doc_sha, unreadable = _hash_files(candidates)
    skipped = [*rejected, *unreadable]
    for s in skipped:
        log.warning("skipping %s: %s", s.file, s.reason)
    if not files:
        raise EmptyCorpus(settings.corpus.dir, skipped)
    if strict and skipped:
        raise ExtractionError("; ".join(f"{s.file}: {s.reason}" for s in skipped))
    name = f"{settings.index.name}-{settings_hash}-{content_hash(settings_hash, doc_sha, catalog)}"

    with build_lock(index_root), _interrupts() as guard:
        current = resolve_current(index_root, missing_ok=True)
        if current is not None and current.name == name:
            manifest = json.loads((current / "manifest.json").read_text())
            log.info("index %s is up to date", name)
            listed = {s["file"]: SkippedFile(**s) for s in manifest.get("skipped", [])}
            listed.update({s.file: s for s in skipped})
            return IngestReport(
                index_dir=str(current), documents_indexed=0, documents_reused=manifest["counts"]["documents"],
                pages=manifest["counts"]["pages"], chunks=manifest["counts"]["chunks"],
                skipped=list(listed.values()),
                uncatalogued=manifest.get("uncatalogued", []),
                seconds=round(time.perf_counter() - started, 3), published=True,
            )
        remove_staging(index_root)
        reuse = _previous_build(index_root, settings_hash)
        try:
            with _engine_for(settings, engine_name, ray_address, embedder) as engine:
                report = _build(settings, catalog, files, doc_sha, reuse, name, strict, show_progress, embedder,
                                started, skipped, guard, engine)
        finally:
            reuse.close()
        with guard.deferred():
            clean_stale(index_root, settings.index.keep_builds)
        return report


def _build(settings: Settings, catalog: list[Document], files: list[tuple[Document, Path]], doc_sha: dict[str, str],
           reuse: _Reuse, name: str, strict: bool, show_progress: bool, embedder: Embedder | None,
           started: float, skipped_before: list[SkippedFile], guard: _Interrupts,
           engine: IngestEngine | None = None) -> IngestReport:
    # The model is loaded only when some document actually needs chunking and encoding.
    def model() -> Embedder:
        nonlocal embedder
        embedder = embedder or embedder_for(settings)
        return embedder

    skipped: list[SkippedFile] = list(skipped_before)
    per_doc: dict[str, _DocBuild] = {}
    reused: list[str] = []
    timings = {"extract": 0.0, "chunk": 0.0, "encode": 0.0, "write": 0.0}
    dropped: Counter[str] = Counter()

    # The incremental decision stays here, whatever the engine: unchanged documents are reused.
    work: list[tuple[Document, Path]] = []
    for doc, path in files:
        if reuse.sha.get(doc.doc_id) == doc_sha[doc.doc_id]:
            taken = reuse.take(doc.doc_id)
            if taken is not None and taken.unit_vectors is not None:
                per_doc[doc.doc_id] = taken
                reused.append(doc.doc_id)
                continue
        work.append((doc, path))

    runner = engine if engine is not None else LocalEngine(model)
    for doc, path, prepared in runner.prepare(settings, work, show_progress):
        dropped.update(prepared.dropped)
        timings["extract"] += prepared.extract_seconds
        timings["chunk"] += prepared.chunk_seconds
        if prepared.skipped is not None:
            log.warning("skipping %s: %s", path.name, prepared.skipped.reason)
            skipped.append(prepared.skipped)
        elif prepared.built is not None:
            per_doc[doc.doc_id] = prepared.built

    if strict and skipped:
        raise ExtractionError("; ".join(f"{s.file}: {s.reason}" for s in skipped))
    if not per_doc:
        raise EmptyCorpus(settings.corpus.dir, skipped)

    # From here on (encoding, the index) an uncatalogued document is as its front matter describes it.
    described: list[tuple[Document, Path]] = []
    for doc, path in files:
        built = per_doc.get(doc.doc_id)
        described.append((built.document if built and built.document and not doc.catalogued else doc, path))
    files = described
    docs_by_id = {d.doc_id: d for d, _ in files}
    new_ids = [d for d, v in per_doc.items() if v.vectors is None]
    t0 = time.perf_counter()
    if new_ids:
        log.info("encoding the chunks of %d new or changed documents", len(new_ids))
        directly = _encode_documents(runner.encoder(settings), settings,
                                     [(docs_by_id[d], per_doc[d]) for d in new_ids], show_progress)
        if directly:
            log.info("%d units held no token of any chunk and were encoded on their own", directly)
    timings["encode"] = time.perf_counter() - t0

    dimension = int(reuse.dimension) if embedder is None and reuse.dimension else runner.dimension(settings)
    content = _assemble(catalog, files, per_doc, doc_sha, dimension)
    manifest = {
        "documents": {d: {"sha256": doc_sha[d], "chunks": len(per_doc[d].chunks), "units": len(per_doc[d].units)}
                      for d in per_doc},
        "units_dropped": dict(sorted(dropped.items())),
        "skipped": [s.model_dump() for s in skipped],
        "uncatalogued": [d.doc_id for d, _ in files if not d.catalogued and d.doc_id in per_doc],
        "timings": timings,
    }
    final = _write_and_publish(settings, content, manifest, name, dimension, started, guard)
    seconds = round(time.perf_counter() - started, 3)
    log.info("published %s: %d documents (%d reused), %d chunks in %.1f s", final.name, len(per_doc), len(reused),
             len(content.chunks), seconds)
    return IngestReport(
        index_dir=str(final), documents_indexed=len(new_ids), documents_reused=len(reused), pages=len(content.pages),
        chunks=len(content.chunks), skipped=skipped, uncatalogued=manifest["uncatalogued"], seconds=seconds,
        encode_seconds=round(timings["encode"], 3),
    )


def _write_and_publish(settings: Settings, content: IndexContent, manifest: dict[str, Any], name: str,
                       dimension: int, started: float, guard: _Interrupts) -> Path:
    manifest.update({
        "name": name,
        "settings_hash": settings.settings_hash(),
        "pipeline": PIPELINE_VERSION,
        "settings": settings.index_settings(),
        "embed_model": settings.embedding.model,
        "dimension": dimension,
        "package_version": package_version(),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "counts": {"documents": len(content.doc_sha256), "pages": len(content.pages), "chunks": len(content.chunks)},
        "build_seconds": round(time.perf_counter() - started, 3),
    })
    staged = write_staged(settings.index.dir, content, manifest, settings.embedding.faiss_index,
                          {"k1": settings.lexical.k1, "b": settings.lexical.b, "stemmer": settings.lexical.stemmer,
                           "stopwords": settings.lexical.stopwords})
    return _publish_unless_interrupted(settings.index.dir, staged, name, guard)


def index_records(settings: Settings, documents: list[Document], chunks: list[Chunk], pages: list[Page],
                  name: str, encode: bool = True, embedder: Embedder | None = None,
                  show_progress: bool = True) -> Path:
    """Index ready-made chunks (e.g. a BEIR corpus: one chunk per record) with the same store and publish.

    With `encode=False` only BM25 is usable: vectors are zeros and the manifest says `"dense": false`.
    """
    started = time.perf_counter()
    settings.index.dir.mkdir(parents=True, exist_ok=True)
    with build_lock(settings.index.dir), _interrupts() as guard:
        existing = settings.index.dir / name
        if (existing / "manifest.json").exists():
            manifest = json.loads((existing / "manifest.json").read_text())
            if manifest.get("dense", True) or not encode:
                # Same records under the same settings were indexed before: reuse that build.
                return existing
        remove_staging(settings.index.dir)
        docs_by_id = {d.doc_id: d for d in documents}
        if encode:
            embedder = embedder or embedder_for(settings)
            dimension = embedder.dimension
            vectors, _ = encode_chunks(embedder, [index_text(docs_by_id[c.doc_id], c) for c in chunks], show_progress)
        else:
            dimension = 1
            vectors = np.zeros((len(chunks), dimension), dtype=np.float32)
        content = IndexContent(
            documents, pages, chunks, vectors, [index_text(docs_by_id[c.doc_id], c) for c in chunks],
            {d.doc_id: d.sha256 for d in documents},
        )
        final = _write_and_publish(settings, content, {"dense": encode}, name, dimension, started, guard)
        with guard.deferred():
            clean_stale(settings.index.dir, settings.index.keep_builds)
        return final


def _assemble(catalog: list[Document], files: list[tuple[Document, Path]], per_doc: dict[str, _DocBuild],
              doc_sha: dict[str, str], dimension: int) -> IndexContent:
    # Every catalog entry is stored (so the API can list what is missing); `pages` marks what is indexed.
    listed = {d.doc_id: d for d in catalog}
    listed.update({d.doc_id: d for d, _ in files})
    documents = [d.model_copy(update={"pages": len(per_doc[d.doc_id].pages) if d.doc_id in per_doc else None})
                 for d in listed.values()]
    docs_by_id = {d.doc_id: d for d in documents}
    pages: list[Page] = []
    chunks: list[Chunk] = []
    units: list[QuoteUnit] = []
    vectors: list[np.ndarray] = []
    unit_vectors: list[np.ndarray] = []
    lexical: list[str] = []
    for doc_id in sorted(per_doc):
        built = per_doc[doc_id]
        assert built.vectors is not None and built.unit_vectors is not None
        pages.extend(built.pages)
        chunks.extend(built.chunks)
        units.extend(built.units)
        lexical.extend(index_texts(docs_by_id[doc_id], built.chunks, built.units))
        vectors.append(built.vectors)
        unit_vectors.append(built.unit_vectors)
    matrix = np.vstack(vectors) if vectors else np.zeros((0, dimension), dtype=np.float32)
    unit_matrix = np.vstack(unit_vectors) if unit_vectors else np.zeros((0, dimension), dtype=np.float32)
    return IndexContent(documents, pages, chunks, matrix, lexical, {d: doc_sha[d] for d in per_doc}, units,
                        unit_matrix)


def _encode_documents(embedder: PassageEncoder, settings: Settings, docs: list[tuple[Document, _DocBuild]],
                      show_progress: bool) -> int:
    """Encode the chunks of new documents and give every unit a vector; returns how many units were
    encoded on their own.

    Default ("pooled"): a unit's vector is the mean of its token embeddings in the forward passes of
    the chunks that hold it, normalised (late chunking) — no second encoding pass, and the unit is
    read in its context. ``ATMP_RAG_EMBEDDING__UNIT_VECTORS=encoded`` encodes each unit (with its context) instead.
    """
    texts: list[str] = []
    ranges: list[list[tuple[int, int]]] = []
    owners: list[list[tuple[int, int]]] = []  # per chunk text: (doc index, unit index) per range
    for di, (doc, built) in enumerate(docs):
        assert built.seg is not None
        by_chunk: dict[str, list[int]] = {}
        for ui, unit in enumerate(built.units):
            for cid in unit.chunk_ids:
                by_chunk.setdefault(cid, []).append(ui)
        for chunk, text in zip(built.chunks, index_texts(doc, built.chunks, built.units), strict=True):
            head = len(text) - len(chunk.text)  # the header, any table context and their line breaks come first
            ca, cb = built.seg.range_of(chunk.spans)
            chunk_ranges, chunk_owners = [], []
            if settings.embedding.unit_vectors == "pooled":
                for ui in by_chunk.get(chunk.chunk_id, []):
                    ua, ub = built.unit_ranges[ui]
                    a, b = max(ua, ca) - ca, min(ub, cb) - ca
                    if a < b:
                        chunk_ranges.append((head + a, head + b))
                        chunk_owners.append((di, ui))
            texts.append(text)
            ranges.append(chunk_ranges)
            owners.append(chunk_owners)
    vectors, pooled = embedder.encode_pooled(texts, ranges, show_progress)
    sums = [np.zeros((len(b.units), embedder.dimension), dtype=np.float32) for _, b in docs]
    counts = [np.zeros(len(b.units), dtype=np.int64) for _, b in docs]
    for chunk_pools, chunk_owners in zip(pooled, owners, strict=True):
        for (vec, n), (di, ui) in zip(chunk_pools, chunk_owners, strict=True):
            sums[di][ui] += vec
            counts[di][ui] += n
    offset = 0
    directly = 0
    for di, (_doc, built) in enumerate(docs):
        built.vectors = vectors[offset:offset + len(built.chunks)]
        offset += len(built.chunks)
        missing = [ui for ui in range(len(built.units)) if counts[di][ui] == 0]
        unit_vectors = sums[di] / np.maximum(counts[di], 1)[:, None]
        if missing:
            directly += len(missing)
            texts_ = [f"{built.units[ui].context}\n{built.units[ui].text}".strip() for ui in missing]
            unit_vectors[missing] = embedder.encode_passages(texts_)
        norms = np.linalg.norm(unit_vectors, axis=1, keepdims=True)
        built.unit_vectors = (unit_vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return directly
