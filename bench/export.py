"""Export benchmark: a 20-passage basket to DOCX against a single /v1/search, on one real uvicorn, same run.

    .venv/bin/python bench/export.py [--index-dir indexes] [--requests 30] [--passages 20] [--out FILE]

Prints the p50 (and p95) latency in ms of POST /v1/search (k=10) and of POST /v1/exports with
`passages` chunk ids (the top hits of a broad search) as DOCX, and the ratio export p50 / search p50.
The target is an export p50 of at most 1 s. Requests are sequential, to 127.0.0.1 only; the server
stores nothing outside a temporary folder and is stopped at the end.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import statistics
import tempfile
import time
from pathlib import Path

import httpx

# Run as a script (`python bench/export.py`): its folder is on sys.path, so the API bench's helpers import.
from api import ROOT, free_port, start_server, wait_ready

log = logging.getLogger("bench.export")
QUESTIONS = ROOT / "eval" / "regulatory" / "questions.jsonl"


def timed(client: httpx.Client, path: str, bodies: list[dict[str, object]], n: int) -> list[float]:
    """Milliseconds of `n` sequential POSTs to `path` with `bodies` round robin; any non-200 is an error."""
    out = []
    for i in range(n):
        started = time.perf_counter()
        r = client.post(path, json=bodies[i % len(bodies)])
        out.append((time.perf_counter() - started) * 1000)
        if r.status_code != 200:
            raise SystemExit(f"{path} answered {r.status_code}: {r.text[:300]}")
    return out


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs)) - 1))]


def main() -> None:
    """Run the benchmark and print (and optionally save) its figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, default=ROOT / "indexes")
    ap.add_argument("--requests", type=int, default=30)
    ap.add_argument("--passages", type=int, default=20)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would bury the figures
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(args.index_dir, port, answers_db=Path(tmp) / "answers.sqlite")
        try:
            ready = wait_ready(base, proc)
            with httpx.Client(base_url=base, timeout=60) as client:
                broad = client.post("/v1/search", json={"question": "stability testing and quality risk management",
                                                        "k": args.passages}).json()["results"]
                chunk_ids = [p["chunk_id"] for p in broad][: args.passages]
                if len(chunk_ids) < args.passages:
                    raise SystemExit(f"the index gave only {len(chunk_ids)} passages")
                export_body = {"chunk_ids": chunk_ids, "format": "docx"}
                searches = [{"question": q, "k": 10} for q in questions]
                # Warm both paths (model, caches, python-docx's template) before timing.
                timed(client, "/v1/search", searches, 5)
                timed(client, "/v1/exports", [export_body], 3)
                search_ms = timed(client, "/v1/search", searches, args.requests)
                export_ms = timed(client, "/v1/exports", [export_body], args.requests)
                size = len(client.post("/v1/exports", json=export_body).content)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    result = {
        "index": ready.get("index"), "requests": args.requests, "passages": args.passages, "docx_bytes": size,
        "search_p50_ms": round(statistics.median(search_ms), 1), "search_p95_ms": round(pct(search_ms, 95), 1),
        "export_docx_p50_ms": round(statistics.median(export_ms), 1),
        "export_docx_p95_ms": round(pct(export_ms, 95), 1),
    }
    result["export_over_search_p50"] = round(result["export_docx_p50_ms"] / result["search_p50_ms"], 2)
    result["target_met"] = result["export_docx_p50_ms"] <= 1000
    out = io.StringIO()
    json.dump(result, out, indent=2)
    print(out.getvalue())
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(out.getvalue() + "\n")
        log.info("saved %s", args.out)


if __name__ == "__main__":
    main()
