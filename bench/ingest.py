"""Ingest benchmark: where the time of a full build goes, measured in one run on this machine.

Usage: python bench/ingest.py [--pdfs DIR] [--threads 0,1,2] [--baseline-commit 1492f77 --repeat 2]

Prints, for the corpus in --pdfs (default: ../shared/corpus/pdf, else corpus/pdf):
* pages/s of each extractor backend (extraction + cleaning, as ingest runs it);
* chunks/s of the encoder alone on the exact texts the build encodes, per torch thread setting;
* full build seconds (`atmp-rag ingest` in a fresh process, model load included) and its peak RSS;
* no-change rebuild seconds (fresh process), and the ratio full build / pure encoding time;
* with --baseline-commit: the full build of that commit (checked out into a temporary git worktree and
  run with the same interpreter and packages) and of this checkout, alternated --repeat times, best of
  each: what the quotable units and their vectors (issue 8) add to the build.
Every ratio compares numbers measured in this same run, because the machines are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
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


_PEAK = "PEAK_RSS_KB="
#: Runs the CLI in-process and reports this process's own peak RSS when it exits (getrusage of the
#: parent only gives the maximum over all children, so separate builds could not be told apart).
_WRAPPER = (
    "import atexit, resource, runpy, sys\n"
    "atexit.register(lambda: sys.stderr.write('" + _PEAK + "%d\\n' % "
    "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n"
    "sys.argv = ['atmp_rag', *sys.argv[1:]]\n"
    "runpy.run_module('atmp_rag', run_name='__main__')\n"
)


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, dict, int]:
    """Run `atmp-rag ARGS --json` in a fresh process: (wall seconds, parsed JSON, its peak RSS in MiB)."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", _WRAPPER, *args, "--json"], env=env, capture_output=True,
                         text=True, check=True)
    seconds = time.perf_counter() - t0
    peak = max((int(line[len(_PEAK):]) for line in out.stderr.splitlines() if line.startswith(_PEAK)), default=0)
    return seconds, json.loads(out.stdout), peak // 1024


def compare_with_baseline(pdfs: Path, commit: str, repeat: int) -> None:
    """Full builds of `commit` and of this checkout, alternated, in fresh processes; prints the ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), commit], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            times: dict[str, list[float]] = {"baseline": [], "current": []}
            peaks: dict[str, int] = {"baseline": 0, "current": 0}
            counts: dict[str, dict] = {}
            for i in range(repeat):
                for name, src in (("baseline", tree / "src"), ("current", ROOT / "src")):
                    index_dir, catalog = str(Path(tmp) / f"idx-{name}-{i}"), str(ROOT / "corpus" / "catalog.csv")
                    # Commits before the nested settings (issue 10) read only the flat names: set both, or
                    # the baseline would build into (and repoint) this checkout's own indexes/.
                    env = {**os.environ, "PYTHONPATH": str(src), "ATMP_RAG_CORPUS__DIR": str(pdfs),
                           "ATMP_RAG_INDEX__DIR": index_dir, "ATMP_RAG_CORPUS__CATALOG": catalog,
                           "ATMP_RAG_CORPUS_DIR": str(pdfs), "ATMP_RAG_INDEX_DIR": index_dir,
                           "ATMP_RAG_CATALOG_PATH": catalog}
                    seconds, report, peak = run_cli(["ingest"], env)
                    times[name].append(seconds)
                    peaks[name] = max(peaks[name], peak)
                    counts[name] = report
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    base, cur = min(times["baseline"]), min(times["current"])
    print(f"\nfull build, best of {repeat} (fresh processes, alternated):")
    print(f"  baseline {commit}: {base:.1f} s, {counts['baseline']['chunks']} chunks "
          f"(encode {counts['baseline']['encode_seconds']:.1f} s)")
    print(f"  current:           {cur:.1f} s, {counts['current']['chunks']} chunks "
          f"(encode {counts['current']['encode_seconds']:.1f} s)")
    print(f"  current / baseline: {cur / base:.2f}x wall; all runs: baseline {[round(t, 1) for t in times['baseline']]}"
          f", current {[round(t, 1) for t in times['current']]}")
    print(f"  peak RSS: baseline {peaks['baseline']} MiB, current {peaks['current']} MiB "
          f"({peaks['current'] / max(1, peaks['baseline']):.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pdfs", type=Path, default=default_pdfs())
    parser.add_argument("--threads", default="0,1", help="torch thread settings to time the encoder with (0 = default)")
    parser.add_argument("--baseline-commit", default=None,
                        help="Also time the full build of this commit against this checkout (e.g. 1492f77).")
    parser.add_argument("--repeat", type=int, default=2, help="Alternated builds per side with --baseline-commit.")
    parser.add_argument("--only-baseline", action="store_true", help="Skip everything but the baseline comparison.")
    args = parser.parse_args()
    if args.baseline_commit and args.only_baseline:
        compare_with_baseline(args.pdfs, args.baseline_commit, args.repeat)
        return

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
        env = {**os.environ, "ATMP_RAG_CORPUS__DIR": str(args.pdfs), "ATMP_RAG_INDEX__DIR": str(Path(tmp) / "idx"),
               "ATMP_RAG_CORPUS__CATALOG": str(ROOT / "corpus" / "catalog.csv")}
        full_s, full, peak = run_cli(["ingest"], env)
        again_s, again, _ = run_cli(["ingest"], env)

        settings = Settings().replace({"index.dir": Path(tmp) / "idx"})
        store = open_index(settings.index.dir)
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
            embedder = Embedder(settings.embedding.model, threads=threads)
            encode_chunks(embedder, texts[:32], show_progress=False)  # warm-up
            t0 = time.perf_counter()
            encode_chunks(embedder, texts, show_progress=False)
            enc = time.perf_counter() - t0
            import torch

            print(f"{threads or torch.get_num_threads():>13} {enc:>10.1f} {len(texts) / enc:>10.1f} "
                  f"{full_s / enc:>12.2f}x  (encoding share of the build: {min(1.0, enc / full_s):.0%})")

    if args.baseline_commit:
        compare_with_baseline(args.pdfs, args.baseline_commit, args.repeat)


if __name__ == "__main__":
    main()
