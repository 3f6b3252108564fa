"""The answering engine behind the API and the CLI: store + retriever + answerer, with hot index reload.

The library stays HTTP-free: `api.py` only maps routes onto `Engine` methods and exceptions onto
status codes.

Reload: `ingest` publishes a build by swapping the `current` symlink of the index folder. The
engine reads that link at most once per `check_interval` seconds; when it points somewhere new,
the request that noticed loads the new index (the encoder is shared, so this costs only the store)
and swaps one reference under a lock. Requests already running keep the snapshot they started
with, so nothing ever mixes two indexes within one request.

Release rule: a `Loaded` owns its `IndexStore`, whose lease keeps `ingest` from deleting the build.
The store is closed (lease released) when the `Loaded` is garbage-collected, i.e. once the engine
has swapped to a newer build AND the last request that started on the old one has finished. No
timer is involved, so a slow request (a generative answer) can never find its store closed.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from atmp_rag.answer import Answerer
from atmp_rag.config import Settings
from atmp_rag.conversation import contextualize
from atmp_rag.corpus import entry_problem, sha256_file
from atmp_rag.embed import Embedder, embedder_for
from atmp_rag.models import Answer, Chunk, Citation, Document, Passage, Status, Turn
from atmp_rag.render import RenderedPage, render_page
from atmp_rag.retrieve import Retriever, SearchFilters
from atmp_rag.schemas import CitationExcerpt
from atmp_rag.store import CURRENT, MANIFEST, IndexStore, resolve_current

log = logging.getLogger(__name__)

#: Characters of page text shown on either side of a quote.
EXCERPT_CHARS = 600


def serving_threads(settings: Settings) -> int:
    """Torch threads for encoding queries: `settings.compute.torch_threads`, or 1 when left at 0 (torch's default).

    A query is a few dozen tokens: intra-op parallelism gains little, and when another process holds
    one of the cores the threads wait on each other. Measured on the 2-core machine under load:
    one query encoding took 9 ms with 1 thread and 490 ms with 2.
    """
    return settings.compute.torch_threads or 1


def limit_blas_threads(threads: int) -> None:
    """Cap the BLAS thread pool (numpy's OpenBLAS) for the serving process.

    A request multiplies one query vector with a few thousand unit vectors: 0.17 ms on one thread,
    0.9 ms on two while the other core serves a request (measured on the 2-core machine), for the
    same reason `serving_threads` keeps torch to one thread.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


class NotReady(RuntimeError):
    """No index is loaded (none published yet, or it failed to load)."""


class NoPageImage(LookupError):
    """The service holds no copy of the indexed edition of a PDF, so it cannot render its pages."""


class UnknownFilterValues(ValueError):
    """Filter values that name no indexed document or issuer."""

    def __init__(self, unknown: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"unknown {k}: {', '.join(v)}" for k, v in unknown.items()))
        self.unknown = unknown


@dataclass(frozen=True)
class SectionEntry:
    """One section of a document's outline: the path and the PDF page it starts on."""

    section_path: list[str]
    section: str
    first_page: int


@dataclass
class Loaded:
    """Everything served from one published index; immutable once built, swapped as a whole."""

    folder: Path
    store: IndexStore
    retriever: Retriever
    answerer: Answerer
    chunk_counts: dict[str, int]
    issuers: frozenset[str]
    loaded_at: float = field(default_factory=time.time)

    @property
    def name(self) -> str:
        """The index folder's name (settings and corpus hashes)."""
        return str(self.store.manifest.get("name") or self.folder.name)

    @property
    def built_at(self) -> str:
        """When the index was built (UTC, from the manifest)."""
        return str(self.store.manifest.get("built_at", ""))

    def indexed(self, doc_id: str) -> bool:
        """Whether a document has chunks in this index."""
        return self.chunk_counts.get(doc_id, 0) > 0


def load_index(folder: Path, settings: Settings, embedder: Embedder) -> Loaded:
    """Open one published index folder and prepare retrieval and answering over it.

    The store is closed when the returned `Loaded` is garbage-collected (see the module docstring).
    """
    store = IndexStore(folder)
    try:
        counts = store.chunk_counts()
        answerer = Answerer(store, settings, embedder)
        answerer.warm()
        issuers = frozenset(store.documents[d].issuer for d in counts if d in store.documents)
        loaded = Loaded(folder, store, Retriever(store, embedder, settings), answerer, counts, issuers)
    except BaseException:
        store.close()
        raise
    weakref.finalize(loaded, store.close)
    return loaded


class Engine:
    """Serves searches and answers from the index published under `settings.index.dir`."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, check_interval: float = 1.0) -> None:
        self.settings = settings
        self._embedder = embedder
        self.check_interval = check_interval
        self._loaded: Loaded | None = None
        self._target: str | None = None
        self._last_check = 0.0
        self._swap_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self.last_error: str = ""
        self._generator = None

    @classmethod
    def running(cls, settings: Settings) -> Engine:
        """An engine serving the index published under `settings.index.dir` (scripts, benchmarks).

        Raises NotReady, saying why, when there is none.
        """
        engine = cls(settings)
        if not engine.start():
            raise NotReady(f"no index in {settings.index.dir}: {engine.last_error}")
        return engine

    # ------------------------------------------------------------ loading
    @property
    def embedder(self) -> Embedder:
        """The process-wide encoder (loaded on first use), with `serving_threads` torch threads."""
        if self._embedder is None:
            self._embedder = embedder_for(self.settings, threads=serving_threads(self.settings))
        return self._embedder

    def _link_target(self) -> str | None:
        """Where `current` points now (cheap: one readlink); the folder itself if it is an index."""
        root = self.settings.index.dir
        try:
            return os.readlink(root / CURRENT)
        except OSError:
            return str(root) if (root / MANIFEST).exists() else None

    def start(self) -> bool:
        """Load the encoder and the current index; returns False (and stays not ready) if there is none.

        Idempotent: an engine already serving the published index is left as it is (an app's lifespan
        may run more than once around one engine, e.g. under test clients).
        """
        _ = self.embedder
        limit_blas_threads(serving_threads(self.settings))
        if self._loaded is not None and self._link_target() == self._target:
            return True
        self._last_check = 0.0
        return self._reload(force=True)

    def _reload(self, force: bool = False) -> bool:
        target = self._link_target()
        if not force and target == self._target and self._loaded is not None:
            return True
        if not self._reload_lock.acquire(blocking=force):
            return self._loaded is not None  # another request is loading; serve the old index meanwhile
        try:
            target = self._link_target()
            if not force and target == self._target and self._loaded is not None:
                return True
            try:
                folder = resolve_current(self.settings.index.dir)
                assert folder is not None
                loaded = load_index(folder.resolve(), self.settings, self.embedder)
            except Exception as exc:  # a broken build (missing files, bad SQLite, bad FAISS) must not stop serving
                self.last_error = str(exc)
                if self._loaded is None:
                    log.warning("no index loaded: %s", exc)
                else:
                    log.error("new index at %s failed to load, still serving %s: %s", target,
                              self._loaded.name, exc)
                self._target = target  # do not retry a broken build on every request
                return self._loaded is not None
            with self._swap_lock:
                self._loaded = loaded
                self._target = target
            self.last_error = ""
            log.info("serving index %s (%d chunks)", loaded.name, len(loaded.store.chunks))
            return True
        finally:
            self._reload_lock.release()

    def current(self) -> Loaded:
        """The index to serve this request from, after checking (at most once per interval) for a new one."""
        now = time.monotonic()
        if now - self._last_check >= self.check_interval:
            self._last_check = now
            if self._link_target() != self._target or self._loaded is None:
                self._reload()
        with self._swap_lock:
            loaded = self._loaded
        if loaded is None:
            raise NotReady(self.last_error or "no index loaded")
        return loaded

    @property
    def ready(self) -> bool:
        """Whether an index is loaded."""
        try:
            self.current()
        except NotReady:
            return False
        return True

    # ------------------------------------------------------------ queries
    def filters(self, loaded: Loaded, issuers: Sequence[str] = (), doc_ids: Sequence[str] = (),
                statuses: Sequence[Status | str] = ()) -> SearchFilters:
        """Validated filters; raises UnknownFilterValues naming values that match no indexed document."""
        unknown: dict[str, list[str]] = {}
        bad_issuers = [i for i in issuers if i not in loaded.issuers]
        bad_docs = [d for d in doc_ids if not loaded.indexed(d)]
        if bad_issuers:
            unknown["issuers"] = bad_issuers
        if bad_docs:
            unknown["doc_ids"] = bad_docs
        parsed: list[Status] = []
        for s in statuses:
            try:
                parsed.append(Status(s))
            except ValueError:
                unknown.setdefault("statuses", []).append(str(s))
        if unknown:
            raise UnknownFilterValues(unknown)
        return SearchFilters(tuple(issuers), tuple(doc_ids), tuple(parsed))

    def search(self, query: str, k: int | None = None, mode: str | None = None,
               filters: SearchFilters | None = None, loaded: Loaded | None = None) -> list[Passage]:
        """Retrieve passages from the current index."""
        loaded = loaded or self.current()
        return loaded.retriever.search(query, k=k, mode=mode, filters=filters)

    def ask(self, question: str, k: int | None = None, mode: str | None = None,
            filters: SearchFilters | None = None, answer_mode: str = "extractive",
            loaded: Loaded | None = None, history: Sequence[Turn] = ()) -> Answer:
        """A grounded answer (extractive, or generative when an LLM endpoint is configured).

        `history` holds the earlier turns of a conversation (oldest first); a follow-up question is
        searched in their context (`conversation.contextualize`).
        """
        loaded = loaded or self.current()
        k = k or self.settings.retrieval.k
        doc_of_chunk = {c: loaded.store.chunks[r].doc_id for t in history for c in t.chunk_ids
                        if (r := loaded.store.row_of.get(c)) is not None}
        context = contextualize(question, history, doc_of_chunk)
        # The answer always considers `answer_passages` passages; `k` only bounds the related reading.
        retrieval = loaded.retriever.retrieve(context.query, k=max(k, self.settings.answer.passages), mode=mode,
                                              filters=filters, doc_boost=context.doc_boost)
        passages = retrieval.passages
        answer = loaded.answerer.answer(context.query, passages, query_vector=retrieval.query_vector,
                                        allowed_docs=loaded.retriever.allowed_documents(filters))
        answer = answer.model_copy(update={"related": answer.related[:k], "question": question,
                                           "retrieval_query": context.query if context.follow_up else ""})
        if answer_mode != "generative" or answer.abstained:
            return answer
        if not self.settings.generation.url:
            return answer.model_copy(update={"warnings": [
                *answer.warnings,
                "generative mode is not configured (ATMP_RAG_GENERATION__URL); extractive answer given"]})
        return self.generator.generate(question, passages, answer, loaded.answerer)

    @property
    def generator(self):  # returns Generator, imported lazily: the extractive path never needs httpx
        """The LLM client (created on first generative request)."""
        if self._generator is None:
            from atmp_rag.generate import Generator

            self._generator = Generator(self.settings)
        return self._generator

    # ------------------------------------------------------------ documents
    def documents(self, loaded: Loaded | None = None) -> list[tuple[Document, bool, int]]:
        """Every catalogued document with whether it is indexed and its chunk count."""
        loaded = loaded or self.current()
        return [(d, loaded.indexed(d.doc_id), loaded.chunk_counts.get(d.doc_id, 0))
                for d in sorted(loaded.store.documents.values(), key=lambda d: d.doc_id)]

    def outline(self, doc_id: str, loaded: Loaded | None = None) -> list[SectionEntry]:
        """Ordered unique section paths of a document, each with the PDF page where it first appears."""
        loaded = loaded or self.current()
        seen: dict[tuple[str, ...], SectionEntry] = {}
        chunks: list[Chunk] = sorted((c for _, c in loaded.store.doc_chunks(doc_id)), key=lambda c: c.ordinal)
        for c in chunks:
            key = tuple(c.section_path)
            if key and key not in seen and c.pages:
                seen[key] = SectionEntry(list(key), c.section, c.pages[0])
        return list(seen.values())

    def passage(self, chunk_id: str, loaded: Loaded | None = None) -> Passage | None:
        """A stored chunk as a Passage (rank 0, score 0), or None."""
        return (loaded or self.current()).store.passage(chunk_id)

    def excerpts(self, citations: Sequence[Citation], loaded: Loaded | None = None,
                 window: int = EXCERPT_CHARS) -> list[CitationExcerpt]:
        """The stored page text around each citation's quote (see `citation_excerpts`)."""
        return citation_excerpts((loaded or self.current()).store, citations, window)

    # ------------------------------------------------------------ page images
    def source_pdf(self, doc_id: str, loaded: Loaded | None = None) -> Path:
        """The service's copy of the PDF an indexed document was built from; raises NoPageImage saying why not.

        The file in the corpus folder must have the sha256 recorded at ingest, so an image is never
        of another edition than the text it is shown with.
        """
        loaded = loaded or self.current()
        doc = loaded.store.documents.get(doc_id)
        expected = loaded.store.doc_sha256.get(doc_id, "")
        if doc is None or not doc.file or not expected:
            raise NoPageImage(f"{doc_id} is not indexed")
        path = self.settings.corpus.dir / doc.file
        problem = entry_problem(path) if (path.exists() or path.is_symlink()) else "not in the corpus folder"
        if problem is not None:
            raise NoPageImage(f"the service has no copy of {doc.file} ({problem}: {self.settings.corpus.dir})")
        stat = path.stat()
        if _cached_sha256(str(path), stat.st_mtime_ns, stat.st_size) != expected:
            raise NoPageImage(f"{path.name} in the service's corpus folder is not the edition that was indexed "
                              "(sha256 differs); run `atmp-rag ingest`")
        return path

    def page_image(self, doc_id: str, number: int, ranges: Sequence[tuple[int, int]] = (), scale: float = 1.5,
                   loaded: Loaded | None = None) -> RenderedPage:
        """PNG of a page with the stored-text ranges `ranges` (character offsets, as in `PageSpan`) marked.

        Raises KeyError for an unknown page, ValueError for a range outside the page text and
        NoPageImage when the PDF is not available to the service.
        """
        loaded = loaded or self.current()
        page = loaded.store.page(doc_id, number)
        if page is None:
            raise KeyError(f"{doc_id} has no page {number}")
        highlights = []
        for start, end in ranges:
            if not 0 <= start < end <= len(page.text):
                raise ValueError(f"highlight {start}-{end} is outside the page text (0-{len(page.text)})")
            highlights.append((page.text[start:end], start / max(1, len(page.text))))
        return render_page(self.source_pdf(doc_id, loaded), number, scale, highlights)


@functools.lru_cache(maxsize=256)
def _cached_sha256(path: str, mtime_ns: int, size: int) -> str:
    # Keyed by modification time and size: a replaced file is hashed again.
    return sha256_file(Path(path))


def _trim(text: str, keep: int, from_end: bool) -> str:
    """At most `keep` characters of `text` (its end when `from_end`), cut at whitespace, with an ellipsis."""
    if len(text) <= keep:
        return text
    if from_end:
        cut = text[-keep:]
        space = cut.find(" ")
        return "… " + (cut[space + 1:] if 0 <= space < 40 else cut)
    cut = text[:keep]
    space = cut.rfind(" ")
    return (cut[:space] if space > keep - 40 else cut) + " …"


def citation_excerpts(store: IndexStore, citations: Sequence[Citation],
                      window: int = EXCERPT_CHARS) -> list[CitationExcerpt]:
    """For each citation, up to `window` characters of its page text before and after the quote.

    The quote is taken at its offsets (`Citation.spans`); a citation without offsets (from an older
    client) is found by its text on its pages. `before + quote + after` is verbatim page text; a
    citation whose quote cannot be placed gets empty surroundings.
    """
    out: list[CitationExcerpt] = []
    for c in citations:
        before = after = ""
        if c.spans:
            first, last = store.page(c.doc_id, c.spans[0].page), store.page(c.doc_id, c.spans[-1].page)
            if first is not None and last is not None:
                before = first.text[: c.spans[0].start]
                after = last.text[c.spans[-1].end:]
        else:
            pages = [store.page(c.doc_id, n) for n in c.pages]
            joined = "\n".join(p.text for p in pages if p is not None)
            at = joined.find(c.quote)
            if at >= 0:
                before, after = joined[:at], joined[at + len(c.quote):]
        out.append(CitationExcerpt(n=c.n, before=_trim(before, window, from_end=True), quote=c.quote,
                                   after=_trim(after, window, from_end=False)))
    return out
