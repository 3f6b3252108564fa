"""The index's identity: an explicit pipeline version instead of a hash of source text.

- The pipeline's output on fixed PDFs must match the golden digest recorded for the current
  `PIPELINE_VERSION`: change the output without bumping the version and this fails.
- A comment-only edit of `chunking.py` reuses the published index; a behaviour change released with
  a version bump rebuilds it (both run ingest in a real process on a copy of the package).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from atmp_rag import config
from atmp_rag.config import PIPELINE_VERSION
from tests.conftest import ROOT, SHARED_PDF
from tests.golden import pipeline_digest, recorded


def test_pipeline_output_matches_the_digest_of_its_version() -> None:
    golden = recorded()
    digest = pipeline_digest(SHARED_PDF)
    if golden["pipeline_version"] != PIPELINE_VERSION:
        pytest.fail(f"PIPELINE_VERSION is {PIPELINE_VERSION} but tests/golden/pipeline.json records "
                    f"{golden['pipeline_version']}: record the new digest with `python -m tests.golden`")
    assert digest == golden["digest"], (
        "the output of extraction/chunking/units/tokenizer on the fixed PDFs changed while PIPELINE_VERSION did "
        "not: bump PIPELINE_VERSION in src/atmp_rag/config.py (the next ingest rebuilds) and run "
        "`python -m tests.golden`")


def test_the_digest_notices_a_one_character_change(monkeypatch: pytest.MonkeyPatch) -> None:
    import atmp_rag.extract as extract

    original = extract.extract_pages

    def one_char_less(*args: object, **kwargs: object):
        pages = original(*args, **kwargs)
        return [pages[0].model_copy(update={"text": pages[0].text[:-1]}), *pages[1:]]

    monkeypatch.setattr(extract, "extract_pages", one_char_less)
    assert pipeline_digest(SHARED_PDF) != recorded()["digest"]


_INGEST = """
import json, sys
from pathlib import Path
import atmp_rag
from atmp_rag.config import Settings
from atmp_rag.ingest import ingest
from tests.fakes import FakeEmbedder
report = ingest(Settings(), show_progress=False, embedder=FakeEmbedder())
print(json.dumps({"package": atmp_rag.__file__, "index": Path(report.index_dir).name,
                  "indexed": report.documents_indexed, "reused": report.documents_reused}))
"""


def test_a_comment_reuses_the_index_and_a_version_bump_rebuilds_it(tmp_path: Path, fake_settings) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "atmp_rag", src / "atmp_rag", ignore=shutil.ignore_patterns("__pycache__"))
    s = fake_settings
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{ROOT}", "ATMP_RAG_CORPUS__DIR": str(s.corpus.dir),
           "ATMP_RAG_CORPUS__CATALOG": str(s.corpus.catalog), "ATMP_RAG_INDEX__DIR": str(tmp_path / "indexes"),
           "ATMP_RAG_CHUNKING__MAX_TOKENS": str(s.chunking.max_tokens)}

    def build() -> dict[str, object]:
        out = subprocess.run([sys.executable, "-c", _INGEST], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        report = json.loads(out.stdout.strip().splitlines()[-1])
        assert report["package"].startswith(str(src))  # the copy runs, not the installed package
        return report

    first = build()
    assert first["indexed"] == 2

    chunking = src / "atmp_rag" / "chunking.py"
    chunking.write_text(chunking.read_text() + "\n# A comment changes no output: the index stays.\n")
    again = build()
    assert again["index"] == first["index"] and again["indexed"] == 0

    cfg = src / "atmp_rag" / "config.py"
    line = f"PIPELINE_VERSION = {PIPELINE_VERSION}\n"
    assert line in cfg.read_text()
    cfg.write_text(cfg.read_text().replace(line, f"PIPELINE_VERSION = {PIPELINE_VERSION + 1}\n"))
    bumped = build()
    assert bumped["index"] != first["index"] and bumped["indexed"] == 2 and bumped["reused"] == 0


def test_the_version_is_part_of_the_settings_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    before = config.Settings().settings_hash()
    monkeypatch.setattr(config, "PIPELINE_VERSION", PIPELINE_VERSION + 1)
    assert config.Settings().settings_hash() != before
