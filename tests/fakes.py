"""The fast tier's stand-ins: a deterministic fake embedder and a small corpus of generated PDFs.

`FakeEmbedder` has the interface of `atmp_rag.embed.Embedder` (dimension, token counting, query and
passage encoding, late-chunking pooling) without torch: a token is a signed random projection of
its hash (blake2b, so every run and machine agrees), a text the normalised mean of its tokens. Texts
that share words are close, as with a real encoder, so retrieval, fusion and answer composition can
be exercised in milliseconds. Nothing here is a mock of the code under test: ingest, store,
retrieval, answers and the API run for real over real (generated) PDFs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from atmp_rag.config import Settings
from tests.pdfgen import ema_like_pdf, regulator_pdf

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


@lru_cache(maxsize=65_536)
def _token_vector(token: str, dimension: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(token.lower().encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)


class FakeEmbedder:
    """A deterministic bag-of-words encoder with the `Embedder` interface (no model, no torch)."""

    def __init__(self, dimension: int = 64, max_seq_length: int = 256) -> None:
        self.dimension = dimension
        self.model_name = "fake-hashing-encoder"
        self.query_prefix = ""
        self.passage_prefix = ""
        self.batch_size = 32
        self._max_seq_length = max_seq_length
        self.calls = {"queries": 0, "passages": 0}

    @property
    def max_tokens(self) -> int:
        """Content tokens before truncation, like the real encoder (window minus [CLS]/[SEP])."""
        return self._max_seq_length - 2

    def tokens(self, text: str) -> list[tuple[str, int, int]]:
        """Tokens of `text` with their character offsets (truncated to the window)."""
        return [(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)][: self.max_tokens]

    def count_tokens(self, text: str) -> int:
        """Number of tokens in `text` (words and punctuation marks)."""
        return sum(1 for _ in _TOKEN_RE.finditer(text))

    def _token_matrix(self, text: str) -> np.ndarray:
        toks = self.tokens(text)
        if not toks:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([_token_vector(t, self.dimension) for t, _, _ in toks])

    def _encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            m = self._token_matrix(text)
            if len(m):
                v = m.mean(axis=0)
                out[i] = v / max(float(np.linalg.norm(v)), 1e-12)
        return out

    def encode_queries(self, queries: list[str]) -> np.ndarray:
        """Normalised vectors of queries."""
        self.calls["queries"] += 1
        return self._encode([self.query_prefix + q for q in queries])

    def encode_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Normalised vectors of passages."""
        self.calls["passages"] += 1
        return self._encode([self.passage_prefix + t for t in texts])

    def encode_passages_pooled(self, texts: list[str], ranges: list[list[tuple[int, int]]]
                               ) -> tuple[np.ndarray, list[list[tuple[np.ndarray, int]]]]:
        """Passage vectors and, per character range, the sum and count of the token vectors inside it."""
        vectors = self._encode(texts)
        pooled: list[list[tuple[np.ndarray, int]]] = []
        for text, text_ranges in zip(texts, ranges, strict=True):
            toks = self.tokens(text)
            per_range = []
            for a, b in text_ranges:
                hit = [_token_vector(t, self.dimension) for t, s, e in toks if s < b and e > a]
                total = np.sum(hit, axis=0) if hit else np.zeros(self.dimension, dtype=np.float32)
                per_range.append((total.astype(np.float32), len(hit)))
            pooled.append(per_range)
        return vectors, pooled


# ------------------------------------------------------------------ a generated corpus

CATALOG_FIELDS = ("id", "issuer", "reference", "title", "version", "status", "status_note", "superseded_by",
                  "effective_date", "landing_url", "pdf_url", "sha256", "file", "topics")

#: The generated documents: doc id -> (issuer, reference, title, version, status, superseded_by, pdf_url).
GENERATED = {
    "ema-like-draft": ("EMA", "EMA/CAT/123456/2024", "Guideline on quality of ATMPs", "Draft, 1 March 2024", "draft",
                       "", "https://example.org/ema-like-draft.pdf"),
    "regulator-guide": ("HRA", "HRA-GL-7", "Guidance on vector release testing", "Version 2, 15 May 2021",
                        "superseded", "HRA-GL-9", ""),
}


def write_generated_corpus(folder: Path) -> tuple[Path, Path]:
    """Generated guideline PDFs in `folder`/pdf and a catalog for them; returns (pdf folder, catalog path)."""
    pdfs = folder / "pdf"
    pdfs.mkdir(parents=True, exist_ok=True)
    ema_like_pdf(pdfs / "ema-like-draft.pdf")
    regulator_pdf(pdfs / "regulator-guide.pdf")
    catalog = folder / "catalog.csv"
    with catalog.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CATALOG_FIELDS)
        writer.writeheader()
        for doc_id, (issuer, ref, title, version, status, successor, url) in GENERATED.items():
            writer.writerow({"id": doc_id, "issuer": issuer, "reference": ref, "title": title, "version": version,
                             "status": status, "status_note": "", "superseded_by": successor, "effective_date": "",
                             "landing_url": "https://example.org/guidelines", "pdf_url": url, "sha256": "",
                             "file": f"{doc_id}.pdf", "topics": "quality"})
    return pdfs, catalog


def write_tiny_beir(root: Path, name: str = "tiny") -> Path:
    """A three-record BEIR folder: enough to exercise the BEIR path without minutes of indexing."""
    folder = root / name
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = [{"_id": "d1", "title": "Stability", "text": "Long term stability testing at 25 degrees."},
              {"_id": "d2", "title": "Risk", "text": "Quality risk management uses scientific knowledge."},
              {"_id": "d3", "title": "Solvents", "text": "Residual solvents are limited by class."}]
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps(r) for r in corpus))
    (folder / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in (
        {"_id": "q1", "text": "stability testing temperature"}, {"_id": "q2", "text": "residual solvent class"})))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n")
    return folder


def generated_settings(folder: Path) -> Settings:
    """Settings for an index of the generated corpus under `folder` (eval runs there too)."""
    pdfs, catalog = write_generated_corpus(folder)
    write_tiny_beir(folder / "benchmarks")
    return Settings().replace({"corpus.dir": pdfs, "corpus.catalog": catalog, "index.dir": folder / "indexes",
                               "eval.dir": folder / "eval", "eval.benchmarks_dir": folder / "benchmarks",
                               "service.answers_db": folder / "var" / "answers.sqlite",
                               "chunking.max_tokens": 120, "chunking.overlap_tokens": 12,
                               "chunking.min_tokens": 20, "embedding.model": "fake-hashing-encoder"})
