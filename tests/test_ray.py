"""The Ray ingest engine (issue 11): the same index as the local engine, on a local Ray and on a simulated
two-node cluster; interrupts and killed workers never publish a broken build."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import ray  # the optional extra atmp-rag[ray]; `make install-test` installs it (a missing Ray fails, never skips)

from atmp_rag.config import Settings
from atmp_rag.ingest import ingest
from atmp_rag.store import IndexStore, open_index, resolve_current
from tests.conftest import make_settings, real_pdf

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def assert_same_index(local: IndexStore, distributed: IndexStore) -> None:
    """Same documents, pages, chunk ids and texts, units; vectors equal within float tolerance."""
    assert local.manifest["counts"] == distributed.manifest["counts"]
    assert local.manifest["documents"] == distributed.manifest["documents"]
    assert [c.model_dump() for c in local.chunks] == [c.model_dump() for c in distributed.chunks]
    assert [u.model_dump() for u in local.units] == [u.model_dump() for u in distributed.units]
    for doc_id in local.chunk_counts():
        assert local.pages(doc_id) == distributed.pages(doc_id)
    assert local.vectors().shape == distributed.vectors().shape
    assert local.unit_vectors().shape == distributed.unit_vectors().shape
    np.testing.assert_allclose(distributed.vectors(), local.vectors(), atol=1e-5)
    np.testing.assert_allclose(distributed.unit_vectors(), local.unit_vectors(), atol=1e-5)


def test_ray_engine_builds_the_same_index_as_the_local_engine(session_settings: Settings, session_index, store,
                                                              tmp_path: Path) -> None:
    # Same corpus folder, own index folder: everything is built anew on a local Ray with 2 CPUs.
    settings = session_settings.replace({"index.dir": tmp_path / "indexes", "ray.num_cpus": 2})
    report = ingest(settings, show_progress=False, engine_name="ray")
    assert report.documents_indexed == session_index.documents_indexed + session_index.documents_reused
    assert report.chunks == session_index.chunks
    assert not ray.is_initialized(), "a Ray started for the build is stopped after it"
    distributed = open_index(settings.index.dir)
    try:
        assert distributed.folder.name == Path(session_index.index_dir).name
        assert_same_index(store, distributed)
    finally:
        distributed.close()


def test_ray_engine_on_a_simulated_two_node_cluster(tmp_path: Path) -> None:
    from ray.cluster_utils import Cluster

    files = ("ich-q9-quality-risk-management-2005.pdf", "ich-q5c-stability-biotech-products-1995.pdf")
    local = make_settings(tmp_path / "local", files)
    ingest(local, show_progress=False)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        settings = make_settings(tmp_path / "cluster", files, {"ray.address": cluster.address})
        ray.init(address=cluster.address, log_to_driver=False)
        try:
            assert len([n for n in ray.nodes() if n["Alive"]]) == 2
            assert ray.cluster_resources()["CPU"] == 2
            report = ingest(settings, show_progress=False, engine_name="ray")
            # Both nodes ran work: the encoder actors are spread, one per CPU.
            assert report.documents_indexed == 2
        finally:
            ray.shutdown()
    finally:
        cluster.shutdown()
    a, b = open_index(local.index.dir), open_index(settings.index.dir)
    try:
        assert_same_index(a, b)
    finally:
        a.close()
        b.close()


def test_a_build_without_an_address_starts_its_own_ray_beside_a_running_one(tmp_path: Path) -> None:
    """Another Ray already running on the machine (a user's, or one a killed build left behind) is not
    joined by a build given no address: joining it failed ("When connecting to an existing cluster,
    num_cpus and num_gpus must not be provided")."""
    from ray.cluster_utils import Cluster

    settings = make_settings(tmp_path / "own", ("ich-q9-quality-risk-management-2005.pdf",), {"ray.num_cpus": 1})
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        report = ingest(settings, show_progress=False, engine_name="ray")
        assert report.documents_indexed == 1
        assert not ray.is_initialized()
    finally:
        cluster.shutdown()


@pytest.fixture()
def copied_index(tmp_path: Path, session_settings: Settings, session_index) -> Settings:
    """A private copy of the session corpus and index, plus one new PDF, so that a build has work."""
    shutil.copytree(session_settings.corpus.dir, tmp_path / "corpus")
    shutil.copytree(session_settings.index.dir, tmp_path / "indexes", symlinks=True)
    shutil.copyfile(real_pdf("ich-q10-pharmaceutical-quality-system-2008.pdf"),
                    tmp_path / "corpus" / "ich-q10-pharmaceutical-quality-system-2008.pdf")
    return session_settings.replace({"corpus.dir": tmp_path / "corpus", "index.dir": tmp_path / "indexes"})


def _ray_build(settings: Settings) -> subprocess.Popen:
    env = {**os.environ, "ATMP_RAG_CORPUS__DIR": str(settings.corpus.dir),
           "ATMP_RAG_INDEX__DIR": str(settings.index.dir),
           "ATMP_RAG_CORPUS__CATALOG": str(settings.corpus.catalog), "ATMP_RAG_RAY__NUM_CPUS": "2"}
    proc = subprocess.Popen([sys.executable, "-m", "atmp_rag", "--verbose", "ingest", "--json", "--engine", "ray"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    deadline = time.monotonic() + 300
    seen = []
    for line in proc.stderr:  # wait until the documents are prepared and the actors encode
        seen.append(line)
        if "encoding" in line and "chunks" in line:
            break
        assert time.monotonic() < deadline, "".join(seen)
    assert proc.poll() is None, "build finished before the fault: " + "".join(seen)
    return proc


def _published(settings: Settings) -> tuple[Path, str]:
    current = resolve_current(settings.index.dir)
    assert current is not None
    return current, (current / "manifest.json").read_text()


@pytest.mark.chaos
def test_sigint_during_a_ray_build_publishes_nothing(copied_index: Settings) -> None:
    before, manifest = _published(copied_index)
    proc = _ray_build(copied_index)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "nothing published" in err and "Traceback" not in err
    assert _published(copied_index) == (before, manifest)
    assert not list(copied_index.index.dir.glob(".tmp-*"))


@pytest.mark.chaos
def test_a_killed_encoder_actor_is_retried_or_fails_the_build_cleanly(copied_index: Settings) -> None:
    import psutil

    before, manifest = _published(copied_index)
    proc = _ray_build(copied_index)
    deadline = time.monotonic() + 60
    victims: list[psutil.Process] = []
    while not victims and time.monotonic() < deadline:
        victims = [p for p in psutil.process_iter(["cmdline"])
                   if any("ray::_Encoder" in part for part in (p.info["cmdline"] or []))]
        time.sleep(0.1)
    assert victims, "no encoder actor process found"
    victims[0].kill()
    out, err = proc.communicate(timeout=300)
    after, manifest_after = _published(copied_index)
    if proc.returncode == 0:  # Ray restarted the actor and retried its call: a complete, correct build
        assert out.lstrip().startswith("{"), f"stdout is the report alone: {out[:1500]!r}"
        report = json.loads(out)
        assert report["documents_indexed"] == 1 and after != before
        fresh = open_index(copied_index.index.dir)
        try:
            assert len(fresh.chunks) == report["chunks"] == fresh.faiss.ntotal
        finally:
            fresh.close()
    else:  # Ray gave up: one line, and the previous index is still the published one
        assert proc.returncode == 1 and "nothing published" in err, err
        assert (after, manifest_after) == (before, manifest)


_WITHOUT_RAY = "import sys; sys.modules['ray'] = None; from atmp_rag.cli import app; app()"


def test_the_default_path_needs_no_ray(copied_index: Settings) -> None:
    """Ray is an optional extra: with `import ray` failing, the local engine builds and search answers,
    and `--engine ray` says what to install and publishes nothing."""
    env = {**os.environ, "ATMP_RAG_CORPUS__DIR": str(copied_index.corpus.dir),
           "ATMP_RAG_INDEX__DIR": str(copied_index.index.dir),
           "ATMP_RAG_CORPUS__CATALOG": str(copied_index.corpus.catalog)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", _WITHOUT_RAY, *args], env=env, capture_output=True, text=True,
                              timeout=300)

    before = _published(copied_index)
    refused = cli("ingest", "--engine", "ray")
    assert refused.returncode == 1 and "pip install 'atmp-rag[ray]'" in refused.stderr, refused.stderr
    assert _published(copied_index) == before
    built = cli("ingest", "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["documents_indexed"] == 1
    found = cli("search", "quality risk management process", "--json")
    assert found.returncode == 0 and "chunk_id" in found.stdout, found.stderr
