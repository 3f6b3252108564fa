"""Shared fixtures: one small real index per test session, built from a few real guideline PDFs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from atmp_rag.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_PDF = Path(os.environ.get("ATMP_RAG_TEST_PDFS", ROOT.parent / "shared" / "corpus" / "pdf"))
CATALOG = ROOT / "corpus" / "catalog.csv"

#: The session index: risk management (Q9), biotech stability (Q5C) and small-molecule stability (Q1A(R2)).
SESSION_FILES = (
    "ich-q9-quality-risk-management-2005.pdf",
    "ich-q5c-stability-biotech-products-1995.pdf",
    "ich-q1a-r2-stability-2003.pdf",
)


def real_pdf(name: str) -> Path:
    """Path of a real corpus PDF; the suite cannot run without them."""
    path = SHARED_PDF / name
    if not path.is_file():
        pytest.fail(f"real corpus PDF missing: {path} (set ATMP_RAG_TEST_PDFS)")
    return path


def make_settings(tmp: Path, files: tuple[str, ...], **extra: object) -> Settings:
    """Settings for an isolated corpus folder holding copies of `files` and an empty index folder."""
    corpus = tmp / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copyfile(real_pdf(name), corpus / name)
    return Settings(corpus_dir=corpus, index_dir=tmp / "indexes", catalog_path=CATALOG, **extra)


@pytest.fixture(scope="session")
def session_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the shared session index."""
    return make_settings(tmp_path_factory.mktemp("session"), SESSION_FILES)


@pytest.fixture(scope="session")
def session_index(session_settings: Settings):
    """Build the session index once (real PDFs, real model, real FAISS) and return the ingest report."""
    from atmp_rag.ingest import ingest

    return ingest(session_settings, show_progress=False)


@pytest.fixture(scope="session")
def store(session_index):
    """The published session index, opened."""
    from atmp_rag.store import open_index

    return open_index(Path(session_index.index_dir).parent)


@pytest.fixture(scope="session")
def embedder(session_settings: Settings):
    """The process-wide encoder."""
    from atmp_rag.ingest import embedder_for

    return embedder_for(session_settings)


@pytest.fixture(scope="session")
def retriever(store, embedder, session_settings: Settings):
    """A Retriever over the session index."""
    from atmp_rag.retrieve import Retriever

    return Retriever(store, embedder, session_settings)


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for a subprocess (service or UI) that serves the session index."""
    return {**os.environ, "ATMP_RAG_INDEX_DIR": str(settings.index_dir),
            "ATMP_RAG_CATALOG_PATH": str(settings.catalog_path), "ATMP_RAG_CORPUS_DIR": str(settings.corpus_dir),
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **extra}


@pytest.fixture(scope="session")
def api_service(session_settings: Settings, session_index, tmp_path_factory: pytest.TempPathFactory):
    """A real `atmp-rag serve` subprocess over the session index; yields its base URL.

    Set ATMP_RAG_TEST_API_URL to use an already running service instead (e.g. one over the full index).
    """
    import sys

    from tests.servers import free_tcp_port, running

    given = os.environ.get("ATMP_RAG_TEST_API_URL")
    if given:
        yield given.rstrip("/")
        return
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(Path(sys.executable).with_name("atmp-rag")), "serve", "--port", str(port), "--log-level", "warning"]
    with running(cmd, service_env(session_settings), f"{url}/readyz", tmp_path_factory.mktemp("api") / "serve.log",
                 ROOT, timeout=180, stop_timeout=15):
        yield url
