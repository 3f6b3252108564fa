"""Ingest and store: provenance, incremental rebuilds, atomic publish, bad inputs."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from atmp_rag.config import Settings
from atmp_rag.ingest import ingest
from atmp_rag.models import Status
from atmp_rag.store import open_index, resolve_current
from tests.conftest import SESSION_FILES, make_settings, real_pdf


def test_session_index_has_every_document(session_index, store) -> None:
    assert session_index.skipped == []
    indexed = {d for d, doc in store.documents.items() if doc.pages}
    assert indexed == {f[:-4] for f in SESSION_FILES}
    assert session_index.chunks == len(store.chunks) > 50
    assert store.faiss.ntotal == len(store.chunks)
    # catalog entries without a PDF are listed but not indexed
    assert store.documents["ema-cat-80183-2014"].pages is None


def test_offsets_reproduce_every_chunk(store) -> None:
    pages = {}
    for chunk in store.chunks:
        parts = []
        for span in chunk.spans:
            key = (chunk.doc_id, span.page)
            if key not in pages:
                pages[key] = store.page(*key).text
            parts.append(pages[key][span.start:span.end])
        assert "\n".join(parts) == chunk.text, chunk.chunk_id


def test_chunks_fit_the_encoder_window(store, embedder, session_settings) -> None:
    budget = min(session_settings.chunking.max_tokens, embedder.max_tokens)
    assert max(embedder.count_tokens(c.text) for c in store.chunks) <= budget


def test_q9_section_path_and_page(store) -> None:
    q9 = [c for c in store.chunks if c.doc_id == "ich-q9-quality-risk-management-2005"]
    sections = [c for c in q9 if c.section_path and c.section_path[0].upper().startswith("4. GENERAL QUALITY RISK")]
    assert sections, "Q9 section 4 not detected"
    assert 6 in sections[0].pages


def test_manifest_records_settings_and_hashes(store, session_settings) -> None:
    m = store.manifest
    assert m["settings_hash"] == session_settings.settings_hash()
    assert m["embed_model"] == session_settings.embedding.model
    assert m["dimension"] == 384
    for name in SESSION_FILES:
        assert len(m["documents"][name[:-4]]["sha256"]) == 64
    assert store.folder.name.startswith(f"default-{session_settings.settings_hash()}-")


def test_no_change_rebuild_reuses_everything(session_settings, session_index) -> None:
    again = ingest(session_settings, show_progress=False)
    assert again.documents_indexed == 0
    assert again.documents_reused == len(SESSION_FILES)
    assert again.index_dir == session_index.index_dir
    assert again.chunks == session_index.chunks


def test_changed_settings_give_a_new_folder(session_settings) -> None:
    other = session_settings.replace({"chunking.max_tokens": 120})
    assert other.settings_hash() != session_settings.settings_hash()
    same = session_settings.replace({"retrieval.k": 3, "service.api_key": "x"})
    assert same.settings_hash() == session_settings.settings_hash()


@pytest.fixture()
def copied_index(tmp_path: Path, session_settings: Settings, session_index) -> Settings:
    """A private copy of the session corpus and index, to change without disturbing other tests."""
    shutil.copytree(session_settings.corpus.dir, tmp_path / "corpus")
    shutil.copytree(session_settings.index.dir, tmp_path / "indexes", symlinks=True)
    return session_settings.replace({"corpus.dir": tmp_path / "corpus", "index.dir": tmp_path / "indexes"})


def test_incremental_add_and_remove(copied_index: Settings, store) -> None:
    from tests import pdfgen
    from tests.pdfgen import ema_like_pdf

    extra = copied_index.corpus.dir / "local-sop-draft.pdf"
    ema_like_pdf(extra)
    added = ingest(copied_index, show_progress=False)
    assert added.documents_reused == len(SESSION_FILES)
    assert added.documents_indexed == 1
    assert added.uncatalogued == ["local-sop-draft"]
    new = open_index(copied_index.index.dir)
    assert not new.documents["local-sop-draft"].catalogued
    # Its running header names its reference; nothing on it says draft.
    assert new.documents["local-sop-draft"].reference == "EMA/CAT/123456/2024"
    assert new.documents["local-sop-draft"].status is Status.final
    # reused vectors are bit-identical to the original build
    for chunk_id, row in list(store.row_of.items())[:40]:
        assert np.array_equal(new.vectors()[new.row_of[chunk_id]], store.vectors()[row])

    # A draft added next to it: the first is reused and keeps what its front matter said.
    pdfgen.fda_draft_pdf(copied_index.corpus.dir / "hdm-draft.pdf")
    more = ingest(copied_index, show_progress=False)
    assert more.documents_indexed == 1
    docs = open_index(copied_index.index.dir).documents
    assert docs["local-sop-draft"].reference == "EMA/CAT/123456/2024"
    assert docs["hdm-draft"].status is Status.draft
    assert docs["hdm-draft"].version == "April 2024"  # its title page's date
    assert docs["hdm-draft"].title.startswith("Considerations for the Use of Human- and Animal-Derived Materials")
    (copied_index.corpus.dir / "hdm-draft.pdf").unlink()

    extra.unlink()
    removed = ingest(copied_index, show_progress=False)
    assert removed.documents_indexed == 0
    after = open_index(copied_index.index.dir)
    assert "local-sop-draft" not in after.documents
    assert len(after.chunks) == len(store.chunks)


def test_bad_pdfs_are_skipped_with_reasons(tmp_path: Path, fake_embedder) -> None:
    from tests import pdfgen

    settings = make_settings(tmp_path, ("ich-q5c-stability-biotech-products-1995.pdf",),
                             {"extraction.max_page_chars": 20_000})
    made = tmp_path / "made"
    made.mkdir()
    # The factories leave intermediate files beside their output: make them elsewhere, copy the results.
    for name, factory in [("locked.pdf", pdfgen.encrypted_pdf), ("truncated.pdf", pdfgen.truncated_pdf),
                          ("empty.pdf", pdfgen.zero_page_pdf), ("scanned.pdf", pdfgen.image_only_pdf),
                          ("huge.pdf", pdfgen.huge_page_pdf)]:
        shutil.copyfile(factory(made / name), settings.corpus.dir / name)
    report = ingest(settings, show_progress=False, embedder=fake_embedder)
    reasons = {s.file: s.reason for s in report.skipped}
    assert set(reasons) == {"locked.pdf", "truncated.pdf", "empty.pdf", "scanned.pdf", "huge.pdf"}
    assert "encrypted" in reasons["locked.pdf"]
    assert "corrupt" in reasons["truncated.pdf"]
    assert "no pages" in reasons["empty.pdf"]
    assert "OCR" in reasons["scanned.pdf"]
    assert "limit" in reasons["huge.pdf"]
    assert report.documents_indexed == 1
    assert open_index(settings.index.dir).documents["ich-q5c-stability-biotech-products-1995"].pages == 10


@pytest.mark.integration
def test_ingest_without_a_terminal_prints_plain_progress_lines(tmp_path: Path) -> None:
    s = make_settings(tmp_path, ("ich-q5c-stability-biotech-products-1995.pdf",))
    env = {**os.environ, "ATMP_RAG_CORPUS__DIR": str(s.corpus.dir), "ATMP_RAG_INDEX__DIR": str(s.index.dir),
           "ATMP_RAG_CORPUS__CATALOG": str(s.corpus.catalog)}
    out = subprocess.run([sys.executable, "-m", "atmp_rag", "ingest"], env=env, capture_output=True, text=True,
                         timeout=600)  # stdout and stderr are pipes, as in a log or CI
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    extract = re.compile(r"\d\d:\d\d:\d\d extract .* 1/1 documents · 10 pages .* done in \d+ s")
    assert any(extract.search(line) for line in lines), lines
    encode = [line for line in lines if " encode " in line]
    assert encode and re.search(r"encode (\d+)/\1 chunks · [\d.]+ chunks/s · done in \d+ s$", encode[-1]), encode
    assert str(Path(s.index.dir).resolve()) in out.stdout.replace("\n", "") or s.index.dir.name in out.stdout


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "atmp_rag", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


#: Rounds of the interrupt test per signal (issue 9: 20 in a row without one publish).
KILL_ROUNDS = int(os.environ.get("ATMP_RAG_TEST_KILL_ROUNDS", "20"))


@pytest.mark.slow
@pytest.mark.chaos
@pytest.mark.timeout(300)
@pytest.mark.parametrize("round_", range(KILL_ROUNDS))
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_build_leaves_published_index_intact(copied_index: Settings, sig: signal.Signals, round_: int) -> None:
    before = resolve_current(copied_index.index.dir)
    assert before is not None
    manifest_before = (before / "manifest.json").read_text()
    builds_before = sorted(p.name for p in copied_index.index.dir.iterdir())
    # A changed corpus forces a real build: add three more real PDFs.
    for name in ("ich-q10-pharmaceutical-quality-system-2008.pdf",
                 "ich-q11-development-manufacture-drug-substances-2012.pdf",
                 "ich-q8-r2-pharmaceutical-development-2009.pdf"):
        shutil.copyfile(real_pdf(name), copied_index.corpus.dir / name)
    env = {**os.environ, "ATMP_RAG_CORPUS__DIR": str(copied_index.corpus.dir),
           "ATMP_RAG_INDEX__DIR": str(copied_index.index.dir),
           "ATMP_RAG_CORPUS__CATALOG": str(copied_index.corpus.catalog)}
    proc = _cli("--verbose", "ingest", "--json", env=env)
    # Interrupt while the new documents are being encoded (several seconds of work left), at a
    # different moment each round.
    assert proc.stderr is not None
    deadline = time.monotonic() + 180
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "encoding" in line and "chunks" in line:
            break
        assert time.monotonic() < deadline, "".join(seen)
    time.sleep(0.2 * (round_ % 5))
    assert proc.poll() is None, "build finished before it could be interrupted: " + "".join(seen)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)  # drains the pipes so a dying process cannot block on them
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "nothing published" in err and "Traceback" not in err
        assert not list(copied_index.index.dir.glob(".tmp-*")), "an interrupted build leaves no staging folder"
    else:
        assert proc.returncode == -signal.SIGKILL
    after = resolve_current(copied_index.index.dir)
    assert after == before
    assert (after / "manifest.json").read_text() == manifest_before
    assert sorted(p.name for p in copied_index.index.dir.iterdir() if not p.name.startswith(".tmp-")) \
        == builds_before, "an interrupted build neither publishes nor deletes"
    reopened = open_index(copied_index.index.dir)
    assert len(reopened.chunks) == json.loads(manifest_before)["counts"]["chunks"]
    reopened.close()
    if round_ == 0:
        # the next build cleans up and completes
        done = ingest(copied_index, show_progress=False)
        assert done.documents_indexed == 3 and done.documents_reused == len(SESSION_FILES)
        assert not list(copied_index.index.dir.glob(".tmp-*"))
