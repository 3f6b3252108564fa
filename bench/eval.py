#!/usr/bin/env python3
"""End-to-end time and peak memory of `atmp-rag eval` per dataset and mode, with ratios against BM25.

Each (dataset, mode) runs as its own `atmp-rag eval` process, so its peak RSS is that process's
own (read with os.wait4), and its wall time includes interpreter start, model load, index load,
retrieval, ranx scoring and report writing. Indexes are built once, before timing (a warm-up run
per dataset), so the table compares steady-state runs; the warm-up time is printed separately.

    .venv/bin/python bench/eval.py [--datasets nfcorpus,scifact] [--modes bm25,dense,hybrid]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Measure:
    """One timed `atmp-rag eval` process."""

    dataset: str
    mode: str
    seconds: float
    peak_rss_mib: float
    ndcg10: float | None
    queries_per_s: float | None


def atmp_rag() -> list[str]:
    """The CLI of this checkout's virtualenv (falls back to `python -m atmp_rag`)."""
    exe = Path(sys.executable).parent / "atmp-rag"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "atmp_rag"]


def run_eval(dataset: str, modes: str, out: Path, extra: list[str]) -> tuple[float, float, dict]:
    """Run one `atmp-rag eval --json`; return wall seconds, peak RSS (MiB) of that process, parsed JSON."""
    cmd = [*atmp_rag(), "eval", "--dataset", dataset, "--modes", modes, "--json", "--out", str(out), *extra]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as stdout:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=stdout, stderr=subprocess.DEVNULL)
        # wait4 gives this child's own rusage; RUSAGE_CHILDREN would mix in earlier runs' peaks.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        text = stdout.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    # ru_maxrss is in KiB on Linux.
    return seconds, usage.ru_maxrss / 1024, json.loads(text)


def main() -> None:
    """Warm the index caches, then time every (dataset, mode) and print ratios against BM25."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="nfcorpus,scifact")
    ap.add_argument("--modes", default="bm25,dense,hybrid")
    ap.add_argument("--repeat", type=int, default=1, help="Runs per mode; the fastest is kept.")
    args = ap.parse_args()
    datasets = [d for d in args.datasets.split(",") if d]
    modes = [m for m in args.modes.split(",") if m]
    if "bm25" not in modes:
        modes.insert(0, "bm25")
    work = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    rows: list[Measure] = []
    try:
        for dataset in datasets:
            # Warm-up: builds (or finds) the cached dense index so timed runs measure evaluation only.
            seconds, rss, _ = run_eval(dataset, "dense", work / f"warm-{dataset}", [])
            print(f"warm-up {dataset}: {seconds:.1f} s (index build if not cached), peak {rss:.0f} MiB", flush=True)
            for mode in modes:
                best: Measure | None = None
                for i in range(args.repeat):
                    seconds, rss, data = run_eval(dataset, mode, work / f"{dataset}-{mode}-{i}", [])
                    res = data["results"][mode]
                    n = None
                    result_file = work / f"{dataset}-{mode}-{i}" / "result.json"
                    if result_file.exists():
                        n = json.loads(result_file.read_text())["n_queries"]
                    m = Measure(dataset, mode, seconds, rss, res.get("ndcg@10"), n / seconds if n else None)
                    best = m if best is None or m.seconds < best.seconds else best
                assert best is not None
                rows.append(best)
                print(f"  {dataset} {mode}: {best.seconds:.1f} s, {best.peak_rss_mib:.0f} MiB", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{'dataset':<10} {'mode':<14} {'time s':>8} {'x bm25':>7} {'peak MiB':>9} {'x bm25':>7} "
          f"{'q/s':>7} {'nDCG@10':>8}")
    for dataset in datasets:
        base = next(r for r in rows if r.dataset == dataset and r.mode == "bm25")
        for r in (r for r in rows if r.dataset == dataset):
            print(f"{r.dataset:<10} {r.mode:<14} {r.seconds:>8.1f} {r.seconds / base.seconds:>7.2f} "
                  f"{r.peak_rss_mib:>9.0f} {r.peak_rss_mib / base.peak_rss_mib:>7.2f} "
                  f"{(r.queries_per_s or 0):>7.1f} {(r.ndcg10 or 0):>8.4f}")


if __name__ == "__main__":
    main()
