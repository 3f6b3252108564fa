"""Nested settings: described groups, legacy names, what names an index, `config show`, no absolute paths."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from atmp_rag import config
from atmp_rag.config import LEGACY_ENV, IndexShaping, Settings, describe, env_name, index_groups
from tests.conftest import ROOT


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ATMP_RAG_* variable of the calling shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("ATMP_RAG_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_every_setting_is_described_and_grouped() -> None:
    rows = describe(Settings())
    assert len(rows) >= 50
    assert all(r.description for r in rows), [r.name for r in rows if not r.description]
    assert all(re.fullmatch(r"[a-z]+\.[a-z0-9_]+", r.name) for r in rows)
    assert set(index_groups()) == {"extraction", "chunking", "embedding", "lexical"}


def test_a_misspelt_nested_setting_is_an_error(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ATMP_RAG_CHUNKING__MAX_TOKEN", "100")
    with pytest.raises(ValidationError, match="max_token"):
        Settings()


def test_nested_environment_names(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ATMP_RAG_SERVICE__PORT", "8010")
    clean_env.setenv("ATMP_RAG_RETRIEVAL__MODE", "bm25")
    clean_env.setenv("ATMP_RAG_SERVICE__CORS_ORIGINS", '["http://ui.local"]')
    s = Settings()
    assert s.service.port == 8010 and s.retrieval.mode == "bm25" and s.service.cors_origins == ["http://ui.local"]
    assert env_name("chunking.max_tokens") == "ATMP_RAG_CHUNKING__MAX_TOKENS"


def test_legacy_flat_names_are_aliases_and_nested_names_win(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("ATMP_RAG_CHUNK_MAX_TOKENS", "150")
    clean_env.setenv("ATMP_RAG_PORT", "9000")
    clean_env.setenv("ATMP_RAG_INDEX_DIR", "/srv/indexes")
    clean_env.setenv("ATMP_RAG_API_KEY", "k")
    clean_env.setenv("ATMP_RAG_CORS_ORIGINS", '["http://a", "http://b"]')
    s = Settings()
    assert s.chunking.max_tokens == 150 and s.service.port == 9000 and str(s.index.dir) == "/srv/indexes"
    assert s.service.api_key == s.ui.api_key == "k"  # one key for both ends, as before
    assert s.service.cors_origins == ["http://a", "http://b"]
    clean_env.setenv("ATMP_RAG_CHUNKING__MAX_TOKENS", "180")
    assert Settings().chunking.max_tokens == 180
    assert Settings(chunking={"max_tokens": 90}).chunking.max_tokens == 90  # arguments (CLI options) win


def test_every_legacy_name_points_at_a_real_setting() -> None:
    names = {r.name for r in describe(Settings())}
    targets = [t for ts in LEGACY_ENV.values() for t in ts]
    assert set(targets) <= names, set(targets) - names


def test_only_index_shaping_groups_and_the_pipeline_version_name_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    base = Settings()
    h = base.settings_hash()
    for change in ({"retrieval.k": 3}, {"retrieval.fusion": "rrf"}, {"answer.max_units": 1}, {"service.port": 1},
                   {"ui.api_url": "http://x"}, {"index.dir": ROOT}, {"corpus.offline": True},
                   {"compute.torch_threads": 1}, {"generation.url": "http://llm"}):
        assert base.replace(change).settings_hash() == h, change
    for change in ({"chunking.max_tokens": 120}, {"extraction.backend": "pypdf"}, {"extraction.max_pages": 5},
                   {"embedding.model": "other"}, {"embedding.faiss_index": "hnsw"}, {"lexical.k1": 0.9},
                   {"embedding.unit_vectors": "encoded"}):
        assert base.replace(change).settings_hash() != h, change
    assert all(issubclass(type(getattr(base, g)), IndexShaping) for g in index_groups())
    monkeypatch.setattr(config, "PIPELINE_VERSION", config.PIPELINE_VERSION + 1)
    assert Settings().settings_hash() != h


def test_replace_refuses_unknown_settings() -> None:
    with pytest.raises(ValueError, match="unknown settings in chunking"):
        Settings().replace({"chunking.max_token": 1})
    with pytest.raises(ValueError, match="unknown settings group"):
        Settings().replace({"chunk.max_tokens": 1})


def test_config_show_names_each_source_and_masks_secrets(clean_env: pytest.MonkeyPatch) -> None:
    from atmp_rag.cli import app

    env = {"ATMP_RAG_SERVICE__PORT": "8010", "ATMP_RAG_CHUNK_MAX_TOKENS": "150", "ATMP_RAG_API_KEY": "s3cret"}
    out = CliRunner().invoke(app, ["config", "show", "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    rows = {r["name"]: r for r in data["settings"]}
    assert rows["service.port"]["value"] == 8010 and rows["service.port"]["source"] == "env ATMP_RAG_SERVICE__PORT"
    assert rows["chunking.max_tokens"]["source"] == "env ATMP_RAG_CHUNK_MAX_TOKENS (legacy name)"
    assert rows["retrieval.k"]["source"] == "default" and rows["chunking.max_tokens"]["shapes_index"]
    assert rows["service.api_key"]["value"] == rows["ui.api_key"]["value"] == "***"
    assert "s3cret" not in out.stdout
    assert data["pipeline_version"] == config.PIPELINE_VERSION
    table = CliRunner().invoke(app, ["config", "show"], env=env)
    assert table.exit_code == 0 and "service.port" in table.stdout and "legacy name" in table.stdout


def test_no_absolute_paths_in_committed_files() -> None:
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    pattern = re.compile(r"(?<![\w.~])/(?:work|home|Users|root)/[\w.-]+")
    found = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".pdf", ".npy", ".sqlite"}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{name}: {m.group()}" for m in pattern.finditer(text)]
    assert found == []
