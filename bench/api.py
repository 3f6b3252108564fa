"""API latency benchmark: a real uvicorn on 127.0.0.1 serving the full index, driven over loopback with httpx.

    .venv/bin/python bench/api.py [--index-dir indexes] [--requests 200] [--soak-seconds 60] [--out FILE]

Measures, in one run:
- one bare query encoding (the model alone, in this process, same queries): the baseline;
- /v1/search and /v1/ask p50/p95 latency, requests/s and errors at concurrency 1 and 8;
- a soak: 8 concurrent clients mixing search and ask for --soak-seconds, which must see 0 errors;
- the ratio of /v1/search p50 (concurrency 1) to the bare encoding p50, and of /v1/ask p50 to /v1/search p50.

Queries are the questions of eval/regulatory/questions.jsonl. Traffic goes to 127.0.0.1 only, the
request loops are bounded in count and time, and the server is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from atmp_rag.health import free_tcp_port, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "regulatory" / "questions.jsonl"


@dataclass
class Run:
    """Latencies (ms) and errors of one load level."""

    name: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)

    def pct(self, q: float) -> float:
        """The q-th percentile latency in ms (nearest rank)."""
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, max(0, round(q / 100 * len(xs)) - 1))]

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return (len(self.latencies) + self.errors) / self.seconds if self.seconds else 0.0


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    return free_tcp_port()


def start_server(index_dir: Path, port: int, answers_db: Path | None = None) -> subprocess.Popen[str]:
    """`atmp-rag serve` on 127.0.0.1:port, warnings-only logging so logging does not skew latency.

    `answers_db`: where the server stores the answers it gives (default: the setting's own).
    """
    env = {**os.environ, "ATMP_RAG_INDEX__DIR": str(index_dir), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    if answers_db is not None:
        env["ATMP_RAG_SERVICE__ANSWERS_DB"] = str(answers_db)
    exe = Path(sys.executable).with_name("atmp-rag")
    return subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_ready(base: str, proc: subprocess.Popen[str], timeout: float = 180) -> dict[str, object]:
    """Poll /readyz until the index is loaded (`atmp_rag.health.wait_healthy`); its body."""
    wait_healthy(f"{base}/readyz", timeout, proc)
    return httpx.get(f"{base}/readyz", timeout=10).json()


_ENCODE_SCRIPT = """
import itertools, json, sys, time
from atmp_rag.config import Settings
from atmp_rag.service import Engine
queries, repeats = json.loads(sys.stdin.read())
embedder = Engine(Settings()).embedder  # the encoder exactly as the server configures it
for q in queries[:10]:
    embedder.encode_queries([q])
out = []
for q in itertools.islice(itertools.cycle(queries), repeats):
    t = time.perf_counter()
    embedder.encode_queries([q])
    out.append((time.perf_counter() - t) * 1000)
print(json.dumps(out))
"""


def bare_encoding_ms(queries: list[str], repeats: int) -> list[float]:
    """Latency of encoding one query with the same model and settings (the baseline).

    Measured in a child process that exits afterwards: torch's idle worker threads left in this
    process would otherwise compete with the server for the two cores during the HTTP runs.
    """
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", _ENCODE_SCRIPT], input=json.dumps([queries, repeats]), env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


async def load(base: str, path: str, bodies: list[dict[str, object]], concurrency: int, n: int,
               seconds: float | None, name: str) -> Run:
    """`concurrency` clients send requests from `bodies` round robin: `n` in total, or for `seconds`."""
    run = Run(name, concurrency)
    counter = itertools.count()
    stop_at = time.perf_counter() + seconds if seconds else None
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def client(c: httpx.AsyncClient) -> None:
        while True:
            i = next(counter)
            if (stop_at is None and i >= n) or (stop_at is not None and time.perf_counter() >= stop_at):
                return
            body = bodies[i % len(bodies)]
            target = path if path != "mixed" else ("/v1/search" if i % 2 else "/v1/ask")
            if target == "/v1/ask" and "query" in body:
                body = {"question": body["query"]}
            elif target == "/v1/search" and "question" in body:
                body = {"query": body["question"]}
            t = time.perf_counter()
            try:
                r = await c.post(f"{base}{target}", json=body)
                ms = (time.perf_counter() - t) * 1000
                run.statuses[r.status_code] = run.statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    run.latencies.append(ms)
                else:
                    run.errors += 1
            except httpx.HTTPError:
                run.errors += 1

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=60, limits=limits) as c:
        await asyncio.gather(*(client(c) for _ in range(concurrency)))
    run.seconds = time.perf_counter() - started
    return run


def main() -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index-dir", type=Path, default=ROOT / "indexes")
    ap.add_argument("--requests", type=int, default=200, help="requests per endpoint and concurrency level")
    ap.add_argument("--soak-seconds", type=float, default=60.0)
    ap.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args()

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    search_bodies: list[dict[str, object]] = [{"query": q, "k": 10} for q in questions]
    ask_bodies: list[dict[str, object]] = [{"question": q} for q in questions]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # The answers the bench asks for are stored in a throw-away database, not the service's own.
    scratch = tempfile.TemporaryDirectory()
    proc = start_server(args.index_dir, port, answers_db=Path(scratch.name) / "answers.sqlite")
    try:
        ready = wait_ready(base, proc)
        print(f"server ready: index {ready['index']} ({ready['chunks']} chunks), cpu cores {os.cpu_count()}")
        # Warm-up: first requests pay for lazy imports and caches.
        asyncio.run(load(base, "/v1/search", search_bodies, 1, 20, None, "warm"))
        asyncio.run(load(base, "/v1/ask", ask_bodies, 1, 20, None, "warm"))
        encode = bare_encoding_ms(questions, repeats=max(100, args.requests))
        runs = []
        for concurrency in (1, 8):
            runs.append(asyncio.run(load(base, "/v1/search", search_bodies, concurrency, args.requests, None,
                                         "/v1/search")))
            runs.append(asyncio.run(load(base, "/v1/ask", ask_bodies, concurrency, args.requests, None, "/v1/ask")))
        soak = asyncio.run(load(base, "mixed", search_bodies, 8, 0, args.soak_seconds, "soak search+ask"))
        runs.append(soak)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        scratch.cleanup()

    enc_p50 = statistics.median(encode)
    print()
    print(f"{'endpoint':<18}{'conc':>5}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'req/s':>8}{'errors':>8}")
    for r in runs:
        print(f"{r.name:<18}{r.concurrency:>5}{len(r.latencies) + r.errors:>7}{r.pct(50):>9.1f}{r.pct(95):>9.1f}"
              f"{r.rps:>8.1f}{r.errors:>8}")
    search_p50 = runs[0].pct(50)
    enc_p95 = sorted(encode)[int(0.95 * len(encode)) - 1]
    print(f"{'bare encoding':<18}{1:>5}{len(encode):>7}{enc_p50:>9.1f}{enc_p95:>9.1f}")
    print()
    print(f"/v1/search p50 / one bare query encoding p50 = {search_p50:.1f} / {enc_p50:.1f} = "
          f"{search_p50 / enc_p50:.2f}x (target <= 2x)")
    ask_p50 = runs[1].pct(50)
    print(f"/v1/ask p50 / /v1/search p50 at concurrency 1 = {ask_p50:.1f} / {search_p50:.1f} = "
          f"{ask_p50 / search_p50:.2f}x (target <= 1.5x)")
    print(f"soak: {soak.seconds:.0f} s, 8 clients, {len(soak.latencies) + soak.errors} requests, {soak.errors} errors "
          f"(statuses {soak.statuses})")
    if args.out:
        args.out.write_text(json.dumps({
            "index": ready["index"], "bare_encoding_p50_ms": enc_p50, "search_to_encoding_ratio": search_p50 / enc_p50,
            "ask_to_search_ratio": ask_p50 / search_p50,
            "runs": [{"endpoint": r.name, "concurrency": r.concurrency, "n": len(r.latencies) + r.errors,
                      "p50_ms": r.pct(50), "p95_ms": r.pct(95), "rps": r.rps, "errors": r.errors,
                      "statuses": r.statuses} for r in runs],
        }, indent=2) + "\n")
    return 0 if all(r.errors == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
