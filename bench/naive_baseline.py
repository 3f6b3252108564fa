#!/usr/bin/env python3
"""atmp-rag retrieval against a naive baseline on the regulatory question set, in one run.

The baseline: fixed 200-word windows (no overlap, no sections) over the raw pypdfium2 text of the
same PDFs (only \\r\\n -> \\n), indexed with our store (BM25 + the default embed model), hybrid =
reciprocal-rank fusion (k=60). Both systems are scored by `run_evaluation` with the same judging
(a retrieved chunk is relevant when its file matches and its pages meet a gold page), on the test
and dev splits separately; metrics are over answerable questions.

    .venv/bin/python bench/naive_baseline.py [--pdf-dir ../shared/corpus/pdf] [--torch-threads 1]

Note: `index_records` prepends each document's reference (e.g. "ICH Q9") to a window for BM25 and
encoding, as it does for our chunks; the stored window text is raw.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import pypdfium2 as pdfium

from atmp_rag.config import Settings
from atmp_rag.corpus import load_catalog
from atmp_rag.evaluation import run_evaluation
from atmp_rag.ingest import embedder_for, index_records
from atmp_rag.models import Chunk, Document, Page, PageSpan, RetrievalMode
from atmp_rag.store import IndexStore, open_index

ROOT = Path(__file__).resolve().parents[1]
WINDOW = 200
MODES = tuple(m.value for m in RetrievalMode)
SPLITS = ("test", "dev")
_WORD = re.compile(r"\S+")


def raw_pages(path: Path, doc_id: str) -> list[Page]:
    """Raw page text of a PDF (pypdfium2), only \\r\\n normalised to \\n; numbers are 1-based."""
    pdf = pdfium.PdfDocument(str(path))
    try:
        pages = []
        for i in range(len(pdf)):
            textpage = pdf[i].get_textpage()
            text = textpage.get_text_range().replace("\r\n", "\n")
            textpage.close()
            pages.append(Page(doc_id=doc_id, number=i + 1, label=str(i + 1), text=text))
        return pages
    finally:
        pdf.close()


def windows(doc_id: str, pages: list[Page], size: int = WINDOW) -> list[Chunk]:
    """Consecutive `size`-word windows over a document's word stream, one PageSpan per page touched."""
    words = [(p.number, m.start(), m.end()) for p in pages for m in _WORD.finditer(p.text)]
    text_of = {p.number: p.text for p in pages}
    chunks = []
    for ordinal, start in enumerate(range(0, len(words), size)):
        spans: list[PageSpan] = []
        for page, s, e in words[start:start + size]:
            if spans and spans[-1].page == page:
                spans[-1].end = e
            else:
                spans.append(PageSpan(page=page, start=s, end=e))
        text = "\n".join(text_of[sp.page][sp.start:sp.end] for sp in spans)
        chunks.append(Chunk(chunk_id=f"{doc_id}:w{ordinal:05d}", doc_id=doc_id, ordinal=ordinal, text=text,
                            spans=spans, n_tokens=len(words[start:start + size])))
    return chunks


def build_naive(settings: Settings, pdf_dir: Path, embedder: object) -> tuple[Path, int]:
    """Extract, window and index every PDF of `pdf_dir` under `settings.index.dir`; return folder, pages."""
    catalog = {d.file: d for d in load_catalog(ROOT / "corpus" / "catalog.csv") if d.file}
    documents: list[Document] = []
    pages: list[Page] = []
    chunks: list[Chunk] = []
    for path in sorted(pdf_dir.glob("*.pdf")):
        doc_pages = raw_pages(path, path.stem)
        meta = catalog.get(path.name)
        update = {"doc_id": path.stem, "file": path.name, "pages": len(doc_pages)}
        documents.append(meta.model_copy(update=update) if meta else Document(**update, catalogued=False))
        pages.extend(doc_pages)
        chunks.extend(windows(path.stem, doc_pages))
    folder = index_records(settings, documents, chunks, pages, name=f"naive-{WINDOW}w", encode=True,
                           embedder=embedder, show_progress=True)  # type: ignore[arg-type]
    return folder, len(pages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdf-dir", type=Path, default=ROOT.parent / "shared" / "corpus" / "pdf")
    parser.add_argument("--index-dir", type=Path, default=ROOT / "indexes", help="our published index")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch threads (default: ATMP_RAG_COMPUTE__TORCH_THREADS or torch's default)")
    args = parser.parse_args()
    started = time.perf_counter()

    ours_settings = Settings().replace({"index.dir": args.index_dir, "eval.dir": ROOT / "eval",
                                        "compute.torch_threads": args.torch_threads})
    embedder = embedder_for(ours_settings)
    ours = open_index(args.index_dir)

    with tempfile.TemporaryDirectory(prefix="atmp-naive-") as tmp:
        naive_settings = ours_settings.replace({"index.dir": Path(tmp), "retrieval.fusion": "rrf",
                                                "retrieval.rrf_k": 60})
        t0 = time.perf_counter()
        folder, n_pages = build_naive(naive_settings, args.pdf_dir, embedder)
        build_s = time.perf_counter() - t0
        naive = IndexStore(folder)

        rows: list[tuple[str, str, str, dict[str, float]]] = []
        n_questions: dict[str, int] = {}
        for split in SPLITS:
            for system, store, settings in (("naive", naive, naive_settings), ("atmp-rag", ours, ours_settings)):
                result = run_evaluation("regulatory", MODES, settings, store=store, answers=False, split=split,
                                        embedder=embedder)
                n_questions[split] = result.n_queries
                for mode in MODES:
                    label = "hybrid-rrf" if system == "naive" and mode == "hybrid" else mode
                    if system == "atmp-rag" and mode == "hybrid":
                        label = f"hybrid-{settings.retrieval.fusion}"
                    rows.append((split, system, label, result.results[mode].metrics))
        naive.close()
    ours.close()

    metrics = ("page_hit@5", "mrr@10", "ndcg@10")
    print(f"\nnaive index: {len(naive.chunks)} chunks ({WINDOW}-word windows, {n_pages} pages), "
          f"built in {build_s:.1f} s (extract + encode + write)")
    print(f"atmp-rag index: {len(ours.chunks)} chunks ({ours.folder.name})")
    print("questions (answerable): " + ", ".join(f"{s} {n}" for s, n in n_questions.items()))
    print("\n| split | system | mode | page-hit@5 | MRR@10 | nDCG@10 |\n|---|---|---|---:|---:|---:|")
    for split, system, mode, values in rows:
        print(f"| {split} | {system} | {mode} | " + " | ".join(f"{values[m]:.4f}" for m in metrics) + " |")
    print("\nhybrid(atmp-rag) − hybrid-rrf(naive), same run:")
    print("| split | page-hit@5 | MRR@10 | nDCG@10 |\n|---|---:|---:|---:|")
    for split in SPLITS:
        ours_h = next(v for s, sy, m, v in rows if s == split and sy == "atmp-rag" and m.startswith("hybrid"))
        naive_h = next(v for s, sy, m, v in rows if s == split and sy == "naive" and m.startswith("hybrid"))
        print(f"| {split} | " + " | ".join(f"{ours_h[m] - naive_h[m]:+.4f}" for m in metrics) + " |")
    print(f"\ntotal run time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
