"""Soak with publishes: a real uvicorn on 127.0.0.1 under 8 and 32 clients while new builds are published.

    .venv/bin/python bench/soak.py [--source-index indexes] [--pdfs DIR] [--seconds 30] [--clients 8,32]
                                   [--baseline-seconds 10] [--out FILE]

In a private temp folder (the source index and the corpus are only read):
- the index is copied from --source-index when it holds a published build, else built once from --pdfs;
- `atmp-rag serve` starts on a free loopback port;
- a baseline: 1 client for --baseline-seconds, no publish;
- for each client count: that many clients, each on its own keep-alive connection, mix /v1/ask,
  /v1/search and page reads for --seconds; at half time a real `atmp-rag ingest` publishes a new
  build (a catalog-only change: every document reused), so the server reloads under load and the
  retention rules run while requests are in flight.

Prints requests, errors (non-200 statuses and connection failures such as resets, by kind),
p50/p95 latency, p50 against the 1-client baseline of the same run, and the server's RSS before
and after each run. Exits 1 on any error. Traffic goes to 127.0.0.1 only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from atmp_rag.health import wait_healthy

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "regulatory" / "questions.jsonl"
ATMP_RAG = str(Path(sys.executable).with_name("atmp-rag"))


@dataclass
class Run:
    """What one load level saw."""

    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    rss_before: int = 0
    rss_after: int = 0
    published: str = ""
    served_after: str = ""
    builds_after: int = 0

    @property
    def requests(self) -> int:
        """Requests completed or failed."""
        return len(self.latencies) + sum(self.failures.values())

    @property
    def errors(self) -> int:
        """Non-200 answers and connection failures."""
        return sum(self.failures.values())

    def pct(self, q: float) -> float:
        """The q-th percentile latency of successful requests in ms (nearest rank)."""
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs)) - 1))]


def default_pdfs() -> Path:
    """The repository's corpus folder when it holds PDFs, else the shared mirror."""
    local = ROOT / "corpus" / "pdf"
    return local if any(local.glob("*.pdf")) else ROOT.parent / "shared" / "corpus" / "pdf"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def retitle(catalog: Path, revision: int) -> None:
    """A catalog-only change (one title), so the next ingest publishes a new build without encoding."""
    with catalog.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames or [], list(reader)
    rows[0]["title"] = rows[0]["title"].split(" [soak ")[0] + f" [soak {revision}]"
    with catalog.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def ingest(env: dict[str, str]) -> dict[str, object]:
    """`atmp-rag ingest --json` in a fresh process; raises with its stderr on failure."""
    out = subprocess.run([ATMP_RAG, "ingest", "--json"], env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"ingest failed ({out.returncode}): {out.stderr}")
    return json.loads(out.stdout)


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> dict[str, object]:
    """Poll /readyz until the index is loaded (`atmp_rag.health.wait_healthy`); its body."""
    wait_healthy(f"{base}/readyz", timeout, proc)
    return httpx.get(f"{base}/readyz", timeout=10).json()


async def load(base: str, name: str, clients: int, seconds: float, questions: list[str],
               pages: list[tuple[str, int]], publish: dict[str, str] | None) -> Run:
    """`clients` coroutines, one keep-alive connection each, for `seconds`; one publish at half time."""
    run = Run(name, clients)
    stop_at = time.perf_counter() + seconds

    async def client(i: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60,
                                     limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)) as c:
            n = i
            while time.perf_counter() < stop_at:
                n += 1
                q = questions[n % len(questions)]
                t = time.perf_counter()
                try:
                    if n % 3 == 0:
                        r = await c.post("/v1/ask", json={"question": q})
                    elif n % 3 == 1:
                        r = await c.post("/v1/search", json={"query": q, "k": 10})
                    else:
                        doc_id, page = pages[n % len(pages)]
                        r = await c.get(f"/v1/documents/{doc_id}/pages/{page}")
                except httpx.HTTPError as exc:  # reset, refused, dropped: the failures this bench exists for
                    run.failures[type(exc).__name__] += 1
                    continue
                if r.status_code == 200:
                    run.latencies.append((time.perf_counter() - t) * 1000)
                else:
                    run.failures[f"HTTP {r.status_code}"] += 1

    async def publisher() -> None:
        assert publish is not None
        await asyncio.sleep(seconds / 2)
        report = await asyncio.to_thread(ingest, publish)
        run.published = Path(str(report["index_dir"])).name

    started = time.perf_counter()
    tasks = [client(i) for i in range(clients)]
    if publish is not None:
        tasks.append(publisher())
    await asyncio.gather(*tasks)
    run.seconds = time.perf_counter() - started
    return run


def prepare(work: Path, source: Path, pdfs: Path) -> dict[str, str]:
    """Private catalog and index under `work`; returns the environment for serve and ingest."""
    shutil.copyfile(ROOT / "corpus" / "catalog.csv", work / "catalog.csv")
    env = {**os.environ, "ATMP_RAG_INDEX__DIR": str(work / "indexes"), "ATMP_RAG_CORPUS__DIR": str(pdfs),
           "ATMP_RAG_CORPUS__CATALOG": str(work / "catalog.csv"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "ATMP_RAG_SERVICE__ANSWERS_DB": str(work / "answers.sqlite")}  # the soak's answers stay in its folder
    if (source / "current").exists():
        shutil.copytree(source, work / "indexes", symlinks=True, ignore=shutil.ignore_patterns(".tmp-*", ".*.lock"))
        print(f"index copied from {source}")
    else:
        print(f"building an index from {pdfs} (no published index in {source})")
    # Brings the copy up to date with this catalog and corpus (documents reused), or builds it.
    report = ingest(env)
    print(f"seed build: {Path(str(report['index_dir'])).name}, {report['chunks']} chunks, "
          f"{report['documents_indexed']} documents encoded, {report['documents_reused']} reused")
    return env


def main() -> int:
    """Run the soak and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source-index", type=Path, default=ROOT / "indexes")
    ap.add_argument("--pdfs", type=Path, default=default_pdfs())
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--baseline-seconds", type=float, default=10.0)
    ap.add_argument("--clients", default="8,32")
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args()

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="atmp-soak-") as tmp:
        work = Path(tmp)
        env = prepare(work, args.source_index, args.pdfs)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with (work / "serve.log").open("wb") as log:
            proc = subprocess.Popen([ATMP_RAG, "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level",
                                     "warning"], env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            ready = wait_ready(base, proc)
            server = psutil.Process(proc.pid)
            print(f"server ready: index {ready['index']} ({ready['chunks']} chunks), cpu cores {os.cpu_count()}")
            docs = httpx.get(f"{base}/v1/documents", timeout=30).json()["documents"]
            pages = [(d["doc_id"], p) for d in docs if d["indexed"] for p in range(1, (d["pages"] or 0) + 1)]
            asyncio.run(load(base, "warm-up", 2, 5, questions, pages, None))
            levels = [("baseline", 1, args.baseline_seconds, False)]
            levels += [("soak", int(c), args.seconds, True) for c in args.clients.split(",")]
            for revision, (name, clients, seconds, with_publish) in enumerate(levels, start=1):
                if with_publish:
                    retitle(work / "catalog.csv", revision)
                rss_before = server.memory_info().rss
                run = asyncio.run(load(base, name, clients, seconds, questions, pages, env if with_publish else None))
                run.rss_before, run.rss_after = rss_before, server.memory_info().rss
                time.sleep(1.2)  # past the server's once-per-second check of `current`
                run.served_after = str(httpx.get(f"{base}/readyz", timeout=30).json()["index"])
                # Build folders left on disk: keep_builds (2) plus any the server still holds.
                run.builds_after = sum(1 for p in (work / "indexes").iterdir()
                                       if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
                runs.append(run)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        errors_in_log = (work / "serve.log").read_text(errors="replace").count("ERROR")

    base_p50 = runs[0].pct(50)
    print()
    print(f"{'run':<9}{'clients':>8}{'s':>6}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}"
          f"{'p50/base':>10}{'RSS before':>12}{'RSS after':>11}{'builds':>8}  publish")
    for r in runs:
        moved = "yes" if r.served_after == r.published else "NO"
        print(f"{r.name:<9}{r.clients:>8}{r.seconds:>6.0f}{r.requests:>10}{r.errors:>8}{r.pct(50):>9.1f}"
              f"{r.pct(95):>9.1f}{r.requests / r.seconds:>8.1f}{r.pct(50) / base_p50:>9.2f}x"
              f"{r.rss_before / 2**20:>9.0f} MiB{r.rss_after / 2**20:>7.0f} MiB{r.builds_after:>8}  "
              f"{f'{r.published} (served after: {moved})' if r.published else '-'}")
        if r.failures:
            print(f"         failures: {dict(r.failures)}")
    print(f"server log lines with ERROR: {errors_in_log}")
    print(f"RSS growth over the soak runs: {(runs[-1].rss_after - runs[1].rss_before) / 2**20:+.0f} MiB")
    if args.out:
        args.out.write_text(json.dumps([{
            "run": r.name, "clients": r.clients, "seconds": r.seconds, "requests": r.requests, "errors": r.errors,
            "failures": dict(r.failures), "p50_ms": r.pct(50), "p95_ms": r.pct(95), "rss_before": r.rss_before,
            "rss_after": r.rss_after, "published": r.published, "served_after": r.served_after,
            "builds_after": r.builds_after,
        } for r in runs], indent=2) + "\n")
    soak_ok = all(r.errors == 0 and (not r.published or r.served_after == r.published) for r in runs)
    return 0 if soak_ok and errors_in_log == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
