"""Ingest benchmark: where the time of a full build goes, measured in one run on this machine.

Usage: python bench/ingest.py [--pdfs DIR] [--threads 0,1,2]

Prints, for the corpus in --pdfs (default: ../shared/corpus/pdf, else corpus/pdf):
* pages/s of each extractor backend (extraction + cleaning, as ingest runs it);
* chunks/s of the encoder alone on the exact texts the build encodes, per torch thread setting;
* full build seconds (`atmp-rag ingest` in a fresh process, model load included) and its peak RSS;
* no-change rebuild seconds (fresh process), and the ratio full build / pure encoding time.
Every ratio compares numbers measured in this same run, because the machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def default_pdfs() -> Path:
    shared = ROOT.parent / "shared" / "corpus" / "pdf"
    return shared if shared.is_dir() else ROOT / "corpus" / "pdf"


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, dict, int]:
    """Run `atmp-rag ARGS --json` in a fresh process: (wall seconds, parsed JSON, peak RSS in MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "atmp_rag", *args, "--json"], env=env, capture_output=True,
                         text=True, check=True)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, json.loads(out.stdout), max(peak, before) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=Path, default=default_pdfs())
    parser.add_argument("--threads", default="0,1", help="torch thread settings to time the encoder with (0 = default)")
    args = parser.parse_args()

    from atmp_rag.config import Settings
    from atmp_rag.extract import extract_pages
    from atmp_rag.ingest import index_text
    from atmp_rag.store import open_index

    pdfs = sorted(args.pdfs.glob("*.pdf"))
    print(f"corpus: {len(pdfs)} PDFs in {args.pdfs}\n")

    rows = []
    for backend in ("pypdfium2", "pypdf"):
        t0 = time.perf_counter()
        pages = sum(len(extract_pages(p, p.stem, backend=backend)) for p in pdfs)
        rows.append((backend, pages, time.perf_counter() - t0))
    base = rows[0][1] / rows[0][2]
    print("extractor   pages   seconds   pages/s   vs pypdfium2")
    for name, pages, sec in rows:
        print(f"{name:<10} {pages:>6} {sec:>9.2f} {pages / sec:>9.1f} {pages / sec / base:>10.2f}x")

    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "ATMP_RAG_CORPUS_DIR": str(args.pdfs), "ATMP_RAG_INDEX_DIR": str(Path(tmp) / "idx"),
               "ATMP_RAG_CATALOG_PATH": str(ROOT / "corpus" / "catalog.csv")}
        full_s, full, peak = run_cli(["ingest"], env)
        again_s, again, _ = run_cli(["ingest"], env)

        settings = Settings(index_dir=Path(tmp) / "idx")
        store = open_index(settings.index_dir)
        texts = [index_text(store.documents[c.doc_id], c) for c in store.chunks]

        print(f"\nfull build: {full['chunks']} chunks from {full['pages']} pages in {full_s:.1f} s "
              f"(in-process {full['seconds']:.1f} s, of which encoding {full['encode_seconds']:.1f} s); "
              f"peak RSS {peak} MiB")
        print(f"no-change rebuild: {again_s:.2f} s wall (in-process {again['seconds']:.2f} s), "
              f"reused {again['documents_reused']} documents, indexed {again['documents_indexed']}")

        from atmp_rag.embed import Embedder
        from atmp_rag.ingest import encode_chunks

        print("\ntorch threads   encode s   chunks/s   full build / pure encoding")
        for threads in [int(t) for t in args.threads.split(",")]:
            embedder = Embedder(settings.embed_model, threads=threads)
            encode_chunks(embedder, texts[:32], show_progress=False)  # warm-up
            t0 = time.perf_counter()
            encode_chunks(embedder, texts, show_progress=False)
            enc = time.perf_counter() - t0
            import torch

            print(f"{threads or torch.get_num_threads():>13} {enc:>10.1f} {len(texts) / enc:>10.1f} "
                  f"{full_s / enc:>12.2f}x  (encoding share of the build: {min(1.0, enc / full_s):.0%})")


if __name__ == "__main__":
    main()
