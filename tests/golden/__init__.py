"""What the pipeline makes of fixed PDFs, as one digest: the evidence behind `config.PIPELINE_VERSION`.

The digest covers every output an index is built from: cleaned pages (text, label, kind), chunks
(text, section path, offsets), quotable units (kind, text, context, offsets, note) and the BM25 tokens
of the chunks, for a real ICH guideline and generated PDFs of other layouts (`tests.pdfgen`). Tokens are counted by the
fast tier's encoder (`tests.fakes.FakeEmbedder`), so no model is loaded.

After an intended change of that output, bump `PIPELINE_VERSION` and record the new digest:
``.venv/bin/python -m tests.golden``.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).with_name("pipeline.json")
REAL_PDF = "ich-q9-quality-risk-management-2005.pdf"


def pipeline_output(pdf: Path, doc_id: str) -> dict[str, object]:
    """Pages, chunks, units and BM25 tokens of one PDF, as JSON values."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.config import Settings
    from atmp_rag.extract import extract_pages
    from atmp_rag.ingest import index_text
    from atmp_rag.models import Document
    from atmp_rag.text.lexical import bm25_tokenize
    from atmp_rag.units import build_units
    from tests.fakes import FakeEmbedder

    s = Settings()
    encoder = FakeEmbedder()
    pages = extract_pages(pdf, doc_id, backend=s.extraction.backend, max_page_chars=s.extraction.max_page_chars)
    seg = segment(doc_id, pages)
    chunks = chunk_segmented(seg, encoder.count_tokens, max_tokens=min(s.chunking.max_tokens, encoder.max_tokens),
                             overlap_tokens=s.chunking.overlap_tokens, min_tokens=s.chunking.min_tokens)
    units = build_units(seg, chunks).units
    doc = Document(doc_id=doc_id, reference=doc_id.upper())
    tokens = bm25_tokenize([index_text(doc, c) for c in chunks], s.lexical.stemmer, s.lexical.stopwords)
    return {
        "pages": [p.model_dump(mode="json") for p in pages],
        "chunks": [c.model_dump(mode="json") for c in chunks],
        "units": [u.model_dump(mode="json") for u in units],
        "tokens": tokens,
    }


def pipeline_digest(pdf_dir: Path) -> str:
    """sha256 of the pipeline's output on the fixed PDFs (the real one is read from `pdf_dir`)."""
    from tests import pdfgen

    # Generated layouts of other regulators (title, history and contact pages, bare-numbered, division and
    # unnumbered Title Case headings, reference lists, two columns, contents without leaders, numbered
    # paragraphs under unnumbered headings, page numbers inside alternating headers, raised footnote
    # markers and paragraph numbers of EU GMP guidelines): heading rules
    # for them change the output too.
    layouts = {"draft": pdfgen.ema_like_pdf, "regulator": pdfgen.regulator_pdf, "fda": pdfgen.fda_like_pdf,
               "bare": pdfgen.bare_numbered_pdf, "division": pdfgen.division_pdf, "title_case": pdfgen.title_case_pdf,
               "two_column": pdfgen.two_column_pdf, "qa": pdfgen.qa_pdf, "ema_final": pdfgen.ema_final_pdf,
               "sequence": pdfgen.sequence_pdf, "glossary_table": pdfgen.glossary_table_pdf,
               "uk_guidance": pdfgen.uk_guidance_pdf, "who_annex": pdfgen.who_annex_pdf, "eu_gmp": pdfgen.eu_gmp_pdf}
    with tempfile.TemporaryDirectory() as tmp:
        outputs = {"q9": pipeline_output(pdf_dir / REAL_PDF, "q9")}
        for name, make in layouts.items():
            outputs[name] = pipeline_output(make(Path(tmp) / f"{name}.pdf"), name)
    return hashlib.sha256(json.dumps(outputs, sort_keys=True).encode()).hexdigest()


def recorded() -> dict[str, object]:
    """The golden record: {"pipeline_version": n, "digest": "…"}."""
    return json.loads(GOLDEN.read_text(encoding="utf-8"))
