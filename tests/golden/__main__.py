"""Record the pipeline digest for the current `PIPELINE_VERSION` (run after bumping it)."""

from __future__ import annotations

import json

from atmp_rag.config import PIPELINE_VERSION
from tests.conftest import SHARED_PDF
from tests.golden import GOLDEN, pipeline_digest

if __name__ == "__main__":
    record = {"pipeline_version": PIPELINE_VERSION, "digest": pipeline_digest(SHARED_PDF)}
    GOLDEN.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"{GOLDEN}: {record}")
