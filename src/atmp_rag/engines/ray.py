"""The Ray ingest engine: per-document CPU tasks, an encoder actor pool, results back to the one writer.

- Extraction, cleaning, chunking and units run as one Ray task per document (`ingest.prepare_document`,
  the local engine's own function), retried by Ray when a worker dies (`max_retries`).
- Encoding runs in a pool of actors (one per CPU of the cluster by default), each loading the model
  once. The chunk texts of all new documents are sorted by length and cut into the same slices as the
  local engine's (`ingest.encode_chunks`), so batches mix documents and padding stays small; late-chunking
  pools come back with the vectors. A killed actor is restarted and its call retried (`max_restarts`,
  `max_task_retries`); an error Ray does not retry fails the build with `EngineFailed` before anything
  is written, so the published index stays as it was.
- The incremental decision, the store writer and the atomic publish stay in `ingest`.

PDF paths are sent, not bytes: on a multi-machine cluster the corpus folder must be on storage every
node mounts at the same path (README, "Scaling").
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import ray
from ray.util import ActorPool

from atmp_rag.config import Settings
from atmp_rag.embed import embedder_for, token_counter_for
from atmp_rag.ingest import BATCH, EngineFailed, PassageEncoder, Prepared, _progress, prepare_document
from atmp_rag.models import Document

log = logging.getLogger(__name__)

#: Object store of a Ray started for one build: results are pages, chunks and vectors of a few documents
#: at a time, far below this; the default (30 % of RAM) would reserve GBs of a shared machine.
LOCAL_OBJECT_STORE_BYTES = 1 << 30


@ray.remote(num_cpus=1, max_retries=2)
def _prepare(settings: Settings, doc: Document, path: Path) -> Prepared:
    # The encoder's tokenizer counts the chunk budget; loaded once per worker process (cached), without torch.
    counter = token_counter_for(settings.embedding.model, settings.embedding.passage_prefix)
    return prepare_document(settings, doc, path, counter)


@ray.remote(num_cpus=1, max_restarts=2, max_task_retries=2)
class _Encoder:
    """One model per actor, loaded once; encodes slices of chunk texts."""

    def __init__(self, settings: Settings, threads: int) -> None:
        self.embedder = embedder_for(settings, threads=threads)

    def dimension(self) -> int:
        return self.embedder.dimension

    def encode_pooled(self, texts: list[str], ranges: list[list[tuple[int, int]]]
                      ) -> tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]]:
        return self.embedder.encode_passages_pooled(texts, ranges)

    def encode(self, texts: list[str]) -> np.ndarray:
        return self.embedder.encode_passages(texts)


class _RayEncoder:
    """The actor pool as a `PassageEncoder`."""

    def __init__(self, actors: list[Any], dimension: int) -> None:
        self.actors = actors
        self.dimension = dimension

    def encode_pooled(self, texts: list[str], ranges: list[list[tuple[int, int]]], show_progress: bool
                      ) -> tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]]:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        batches = [order[s:s + BATCH] for s in range(0, len(order), BATCH)]
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled: list[list[tuple[np.ndarray, int]]] = [[] for _ in texts]
        pool = ActorPool(self.actors)
        results = pool.map(lambda actor, idx: actor.encode_pooled.remote([texts[i] for i in idx],
                                                                         [ranges[i] for i in idx]), batches)
        with _progress(show_progress) as progress, _ray_errors():
            task = progress.add_task("encode", total=len(texts))
            for idx, (vecs, pools) in zip(batches, results, strict=True):
                out[idx] = vecs
                for i, p in zip(idx, pools, strict=True):
                    pooled[i] = p
                progress.advance(task, len(idx))
        return out, pooled

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with _ray_errors():
            return ray.get(self.actors[0].encode.remote(texts))


@contextlib.contextmanager
def _ray_errors() -> Iterator[None]:
    """A task or actor failure that Ray gave up on becomes one EngineFailed (nothing is published)."""
    try:
        yield
    except ray.exceptions.RayError as exc:
        raise EngineFailed(f"the Ray engine failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}") \
            from exc


class RayEngine:
    """Prepares documents in Ray tasks and encodes them in a Ray actor pool (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._actors: list[Any] = []
        self._encoder: _RayEncoder | None = None

    @classmethod
    @contextlib.contextmanager
    def connect(cls, settings: Settings, address: str | None) -> Iterator[RayEngine]:
        """Join the cluster at `address`, or start a local Ray for the build; leave it (or stop it) after.

        Ray's driver prints worker events ("(raylet) A worker died…") to stdout; for the build they go
        to stderr, so that `ingest --json` prints the report alone.
        """
        with contextlib.redirect_stdout(sys.stderr), cls._connected(settings, address) as engine:
            yield engine

    @classmethod
    @contextlib.contextmanager
    def _connected(cls, settings: Settings, address: str | None) -> Iterator[RayEngine]:
        started = False
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False,
                                      "configure_logging": False}
            if address:
                ray.init(address=address, **kwargs)
            else:
                # Ray runs its workers at nice 15 by default: on a machine shared with other jobs the
                # encoders would then get a fraction of the CPU the local engine gets. A build started
                # here is the user's foreground job, so its workers run at normal priority.
                # address="local": a Ray of its own, even when another runs on this machine (a user's, or
                # one a killed build left behind), which ray.init() would otherwise join, and then refuse
                # num_cpus for.
                ray.init(address="local", num_cpus=settings.ray.num_cpus, include_dashboard=False,
                         object_store_memory=LOCAL_OBJECT_STORE_BYTES, _system_config={"worker_niceness": 0},
                         **kwargs)
            started = True
        cpus = ray.cluster_resources().get("CPU", 0)
        log.info("Ray engine on %s: %d nodes, %g CPUs", address or "a local Ray", len(ray.nodes()), cpus)
        engine = cls(settings)
        try:
            yield engine
        finally:
            engine.close()
            if started:
                ray.shutdown()

    def prepare(self, settings: Settings, work: list[tuple[Document, Path]], show_progress: bool
                ) -> Iterator[tuple[Document, Path, Prepared]]:
        """One Ray task per document; results are yielded in the order of `work` once all are back."""
        if not work:
            return
        self._start_encoders(settings)  # they load the model while the tasks extract
        shared = ray.put(settings)
        # Absolute paths: a worker on another node does not run in this process's working directory.
        refs = [_prepare.remote(shared, doc, path.absolute()) for doc, path in work]
        done: dict[Any, Prepared] = {}
        with _progress(show_progress) as progress, _ray_errors():
            task = progress.add_task("extract", total=len(refs))
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    done[ref] = ray.get(ref)
                    progress.advance(task)
        for ref, (doc, path) in zip(refs, work, strict=True):
            yield doc, path, done[ref]

    def _start_encoders(self, settings: Settings) -> None:
        # One actor per CPU. They reserve no CPU: encoding starts only once every document task is back,
        # so the two never run together, and an actor that reserved a CPU could keep tasks from starting.
        if not self._actors:
            n = settings.ray.encoders or max(1, int(ray.cluster_resources().get("CPU", 1)))
            self._actors = [_Encoder.options(num_cpus=0, scheduling_strategy="SPREAD")
                            .remote(settings, settings.ray.encoder_threads) for _ in range(n)]
            log.info("%d encoder actors", n)

    def encoder(self, settings: Settings) -> PassageEncoder:
        """The actor pool as a PassageEncoder (actors started by `prepare`, or here)."""
        if self._encoder is None:
            self._start_encoders(settings)
            with _ray_errors():
                dimension = int(ray.get(self._actors[0].dimension.remote()))
            self._encoder = _RayEncoder(self._actors, dimension)
        return self._encoder

    def dimension(self, settings: Settings) -> int:
        """The encoder's output dimension (from an actor)."""
        return self.encoder(settings).dimension

    def close(self) -> None:
        """Stop the encoder actors (their CPUs and memory go back to the cluster)."""
        for actor in self._actors:
            with contextlib.suppress(Exception):
                ray.kill(actor)
        self._actors = []
        self._encoder = None
