"""Shared fixtures of both tiers.

Fast tier: a deterministic fake embedder (`tests/fakes.py`) and an index of generated PDFs, built in
about a second. Integration tier: one small real index per session, built from three real guideline
PDFs with the real model, plus real servers. A test belongs to the integration tier when it is
marked slow, browser, chaos or integration, or uses a fixture of `INTEGRATION_FIXTURES`; this file
marks it so (`pytest -m "not integration"` is `make test-fast`). In the fast tier a test that
imports torch or sentence-transformers fails: that is how the tier stays fast.
"""

from __future__ import annotations

import os
import shutil
import sys
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


def make_settings(tmp: Path, files: tuple[str, ...], extra: dict[str, object] | None = None) -> Settings:
    """Settings for an isolated corpus folder holding copies of `files`, an empty index folder and a private
    evaluation folder (the regulatory question set, no saved runs, no BEIR datasets).

    `extra`: further settings by dotted name, e.g. ``{"extraction.max_pages": 10}``.
    """
    corpus = tmp / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for name in files:
        shutil.copyfile(real_pdf(name), corpus / name)
    questions = tmp / "eval" / "regulatory" / "questions.jsonl"
    questions.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "eval" / "regulatory" / "questions.jsonl", questions)
    (tmp / "benchmarks").mkdir(exist_ok=True)
    return Settings(corpus={"dir": corpus, "catalog": CATALOG}, index={"dir": tmp / "indexes"},
                    eval={"dir": tmp / "eval", "benchmarks_dir": tmp / "benchmarks"},
                    service={"answers_db": tmp / "var" / "answers.sqlite"}).replace(extra or {})


#: Fixtures that need the real model, the real session index or real servers.
INTEGRATION_FIXTURES = frozenset({"session_settings", "session_index", "store", "embedder", "retriever",
                                  "api_service", "full_store"})
#: Modules the fast tier must never import (they are what makes a test slow).
HEAVY_MODULES = ("torch", "sentence_transformers")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of the integration tier (see the module docstring)."""
    for item in items:
        marked = {m.name for m in item.iter_markers()} & {"slow", "browser", "chaos", "integration"}
        if marked or INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _fast_tier_stays_fast(request: pytest.FixtureRequest):
    """A fast-tier test that imports torch or sentence-transformers fails, naming the module."""
    if request.node.get_closest_marker("integration") is not None:
        yield
        return
    before = {m for m in HEAVY_MODULES if m in sys.modules}
    yield
    loaded = [m for m in HEAVY_MODULES if m in sys.modules and m not in before]
    if loaded and not before:
        pytest.fail(f"a fast-tier test imported {', '.join(loaded)}: use tests.fakes.FakeEmbedder or mark it "
                    "integration")


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
    return {**os.environ, "ATMP_RAG_INDEX__DIR": str(settings.index.dir),
            "ATMP_RAG_CORPUS__CATALOG": str(settings.corpus.catalog), "ATMP_RAG_CORPUS__DIR": str(settings.corpus.dir),
            "ATMP_RAG_EVAL__DIR": str(settings.eval.dir),
            "ATMP_RAG_EVAL__BENCHMARKS_DIR": str(settings.eval.benchmarks_dir),
            "ATMP_RAG_SERVICE__ANSWERS_DB": str(settings.service.answers_db),
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


# ------------------------------------------------------------------ the fast tier

@pytest.fixture(scope="session")
def fake_embedder():
    """The deterministic fake encoder (no torch)."""
    from tests.fakes import FakeEmbedder

    return FakeEmbedder()


@pytest.fixture(scope="session")
def fake_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of the generated corpus and its index folder."""
    from tests.fakes import generated_settings

    return generated_settings(tmp_path_factory.mktemp("fast"))


@pytest.fixture(scope="session")
def fake_index(fake_settings: Settings, fake_embedder):
    """The index of the generated PDFs, built once with the fake encoder (real extraction, store, FAISS, BM25)."""
    from atmp_rag.ingest import ingest

    return ingest(fake_settings, show_progress=False, embedder=fake_embedder)


@pytest.fixture(scope="session")
def fake_store(fake_index):
    """The published index of the generated PDFs, opened."""
    from atmp_rag.store import open_index

    return open_index(Path(fake_index.index_dir).parent)


@pytest.fixture(scope="session")
def fake_engine(fake_settings: Settings, fake_index, fake_embedder):
    """A service engine over the generated index with the fake encoder."""
    from atmp_rag.service import Engine

    engine = Engine(fake_settings, embedder=fake_embedder)
    assert engine.start(), engine.last_error
    return engine


@pytest.fixture(scope="session")
def fake_client(fake_settings: Settings, fake_engine):
    """FastAPI's TestClient over the real app and the fake engine."""
    from fastapi.testclient import TestClient

    from atmp_rag.api import create_app

    with TestClient(create_app(fake_settings, fake_engine)) as client:
        yield client


#: A question the generated corpus answers (its risk-assessment page).
FAKE_QUESTION = "What should the risk assessment consider?"


@pytest.fixture(scope="session")
def answer(fake_client) -> dict:
    """One real /v1/ask answer (not an abstention) from the fake engine, as its JSON."""
    r = fake_client.post("/v1/ask", json={"question": FAKE_QUESTION, "k": 3})
    assert r.status_code == 200, r.text
    data = r.json()
    assert not data["abstained"] and data["citations"], data
    return data
