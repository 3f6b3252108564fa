"""Evaluation datasets: the regulatory question set (own format) and any folder in BEIR layout.

A BEIR corpus is indexed with the same store and index pipeline as the guidelines (one chunk and one
page per record), cached under ``<index_dir>/beir/<dataset>-<settings hash>-<corpus hash>`` so
reruns reuse it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from atmp_rag.config import Settings
from atmp_rag.corpus import feed
from atmp_rag.models import Chunk, Document, Page, PageSpan

log = logging.getLogger(__name__)

REGULATORY = "regulatory"
Split = Literal["dev", "test", "all"]
SPLITS: tuple[str, ...] = ("dev", "test", "all")


# ---------------------------------------------------------------- hashing

def files_hash(paths: list[Path], length: int = 12) -> str:
    """Short sha256 over the bytes of `paths` (in order); names data in cache folders and reports."""
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        with path.open("rb") as fh:
            feed(h, fh)
    return h.hexdigest()[:length]


# ---------------------------------------------------------------- regulatory set

@dataclass(frozen=True)
class GoldPages:
    """Pages of one guideline PDF that answer a question (1-based PDF page indices)."""

    file: str
    pages: tuple[int, ...]


@dataclass(frozen=True)
class Evidence:
    """A verbatim quote that supports the answer, on one page of one PDF."""

    file: str
    page: int
    quote: str


@dataclass(frozen=True)
class RegulatoryQuestion:
    """One line of ``eval/regulatory/questions.jsonl``."""

    id: str
    question: str
    split: str
    style: str
    answerable: bool
    gold: tuple[GoldPages, ...] = ()
    evidence: tuple[Evidence, ...] = ()


def regulatory_questions_path(settings: Settings) -> Path:
    """Where the regulatory question set lives (``<eval_dir>/regulatory/questions.jsonl``)."""
    return settings.eval.dir / REGULATORY / "questions.jsonl"


def load_questions(path: Path, split: str = "all") -> list[RegulatoryQuestion]:
    """Read the regulatory question set, keeping one split (`dev`, `test`) or `all`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}")
    questions = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                q = RegulatoryQuestion(
                    id=str(raw["id"]),
                    question=raw["question"],
                    split=raw["split"],
                    style=raw.get("style", ""),
                    answerable=bool(raw["answerable"]),
                    gold=tuple(GoldPages(g["file"], tuple(int(p) for p in g["pages"])) for g in raw.get("gold", [])),
                    evidence=tuple(Evidence(e["file"], int(e["page"]), e["quote"]) for e in raw.get("evidence", [])),
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{lineno}: malformed question ({exc})") from exc
            if split == "all" or q.split == split:
                questions.append(q)
    return questions


# ---------------------------------------------------------------- BEIR

@dataclass
class BeirDataset:
    """A retrieval benchmark in BEIR layout, restricted to the queries judged in one qrels file."""

    name: str
    path: Path
    split: str
    corpus: dict[str, tuple[str, str]]  # _id -> (title, text), file order
    queries: dict[str, str]  # only queries present in the qrels
    qrels: dict[str, dict[str, int]]
    corpus_hash: str
    data_hash: str
    skipped_queries: list[str] = field(default_factory=list)

    def record_text(self, doc_id: str) -> str:
        """What is indexed and encoded for a record: ``title + " " + text`` (as MTEB/BEIR do)."""
        title, text = self.corpus[doc_id]
        return f"{title} {text}" if title else text


def is_beir_folder(path: Path) -> bool:
    """True when `path` holds corpus.jsonl, queries.jsonl and a qrels folder."""
    return (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file() and (path / "qrels").is_dir()


def qrels_file(path: Path, split: str) -> Path:
    """The qrels file for a split: ``qrels/dev.tsv`` for dev, ``qrels/test.tsv`` for test and all."""
    name = "dev" if split == "dev" else "test"
    file = path / "qrels" / f"{name}.tsv"
    if not file.is_file():
        raise FileNotFoundError(f"{path.name} has no qrels/{name}.tsv (split {split!r})")
    return file


def read_qrels(file: Path) -> dict[str, dict[str, int]]:
    """TREC-style qrels TSV with a `query-id corpus-id score` header; zero scores are kept out."""
    qrels: dict[str, dict[str, int]] = {}
    with file.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header is None:
            return qrels
        if header[:2] != ["query-id", "corpus-id"]:
            # No header line: the first row is data.
            reader = iter([header, *reader])
        for row in reader:
            if len(row) < 3 or not row[0]:
                continue
            score = int(float(row[2]))
            if score > 0:
                qrels.setdefault(row[0], {})[row[1]] = score
    return qrels


def load_beir(path: Path, split: str = "test", name: str | None = None) -> BeirDataset:
    """Load a BEIR folder; only queries that occur in the split's qrels are kept."""
    if not is_beir_folder(path):
        raise FileNotFoundError(f"{path} is not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    qfile = qrels_file(path, split)
    qrels = read_qrels(qfile)
    corpus: dict[str, tuple[str, str]] = {}
    with (path / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                corpus[str(rec["_id"])] = ((rec.get("title") or "").strip(), rec.get("text") or "")
    queries: dict[str, str] = {}
    with (path / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                qid = str(rec["_id"])
                if qid in qrels:
                    queries[qid] = rec["text"]
    skipped = sorted(set(qrels) - set(queries))
    if skipped:
        log.warning("%s: %d judged queries have no text in queries.jsonl; skipped", path.name, len(skipped))
    unknown = sum(1 for docs in qrels.values() for d in docs if d not in corpus)
    if unknown:
        log.warning("%s: %d qrels rows point to documents missing from corpus.jsonl", path.name, unknown)
    corpus_hash = files_hash([path / "corpus.jsonl"])
    return BeirDataset(
        name=name or path.name,
        path=path,
        split=split,
        corpus=corpus,
        queries=queries,
        qrels={q: qrels[q] for q in queries},
        corpus_hash=corpus_hash,
        data_hash=files_hash([path / "corpus.jsonl", path / "queries.jsonl", qfile]),
        skipped_queries=skipped,
    )


def beir_records(dataset: BeirDataset) -> tuple[list[Document], list[Chunk], list[Page]]:
    """One Document, one Chunk and one Page per corpus record (documents have no PDF pages)."""
    documents: list[Document] = []
    chunks: list[Chunk] = []
    pages: list[Page] = []
    for doc_id, (title, _) in dataset.corpus.items():
        text = dataset.record_text(doc_id)
        documents.append(Document(doc_id=doc_id, title=title, catalogued=False, pages=1))
        chunks.append(Chunk(chunk_id=doc_id, doc_id=doc_id, ordinal=0, text=text,
                            spans=[PageSpan(page=1, start=0, end=len(text))]))
        pages.append(Page(doc_id=doc_id, number=1, text=text))
    return documents, chunks, pages


def beir_index_root(settings: Settings) -> Path:
    """Folder holding the cached BEIR indexes."""
    return settings.index.dir / "beir"


def beir_index_name(dataset: BeirDataset, settings: Settings, dense: bool) -> str:
    """Cache folder name: dataset, index-settings hash, corpus hash (and `-bm25` for lexical-only builds)."""
    name = f"{dataset.name}-{settings.settings_hash()}-{dataset.corpus_hash}"
    return name if dense else f"{name}-bm25"


def beir_index(dataset: BeirDataset, settings: Settings, dense: bool = True, show_progress: bool = True) -> Path:
    """The cached index of a BEIR corpus, built on first use.

    A lexical-only build (`dense=False`, no encoding) is enough for BM25 runs; when a dense build
    of the same corpus and settings already exists it is reused instead.
    """
    from atmp_rag.ingest import index_records  # heavy import (torch) only when an index is needed

    root = beir_index_root(settings)
    full = root / beir_index_name(dataset, settings, dense=True)
    if (full / "manifest.json").exists():
        return full
    name = beir_index_name(dataset, settings, dense=dense)
    if (root / name / "manifest.json").exists():
        return root / name
    # Several datasets share this folder: keep every cached build (they are keyed by content).
    beir_settings = settings.replace({"index.dir": root, "index.keep_builds": 10_000})
    documents, chunks, pages = beir_records(dataset)
    log.info("indexing %s (%d records, dense=%s) into %s", dataset.name, len(chunks), dense, root / name)
    return index_records(beir_settings, documents, chunks, pages, name, encode=dense, show_progress=show_progress)


# ---------------------------------------------------------------- resolving a --dataset argument

@dataclass(frozen=True)
class DatasetRef:
    """What `--dataset` names: the regulatory set or a BEIR folder."""

    kind: Literal["regulatory", "beir"]
    name: str
    path: Path


def resolve_dataset(spec: str | Path, settings: Settings) -> DatasetRef:
    """Map ``regulatory``, a BEIR folder name under `settings.eval.benchmarks_dir`, or a path to a dataset."""
    text = str(spec)
    if text == REGULATORY:
        return DatasetRef("regulatory", REGULATORY, regulatory_questions_path(settings))
    path = Path(text).expanduser()
    if path.is_file() and path.suffix == ".jsonl":
        return DatasetRef("regulatory", path.stem, path)
    candidates = [path] if path.is_absolute() or path.exists() else [settings.eval.benchmarks_dir / text, path]
    for cand in candidates:
        if is_beir_folder(cand):
            return DatasetRef("beir", cand.resolve().name, cand)
    raise FileNotFoundError(
        f"unknown dataset {text!r}: not 'regulatory', a questions .jsonl, nor a BEIR folder "
        f"(looked in {', '.join(str(c) for c in candidates)})"
    )
