"""Scale: how ingest and serving costs grow with the corpus (issue 11). Two modes.

    .venv/bin/python bench/scale.py documents [--n 20] [--pdfs DIR] [--repeat 1] [--out FILE]
    .venv/bin/python bench/scale.py passages --source INDEX_DIR [--sizes 10000,100000,1000000] [--workers 2]

documents
    Makes N synthetic guideline PDFs from the real corpus text (sections of the 10 real PDFs
    shuffled and renumbered, laid out with an EMA-style running header "EMA/CAT/…/2026", a
    "Page N/M" footer and a line-number margin) unless --pdfs names a folder to use as it is, then
    builds the same corpus with `atmp-rag ingest --engine local` and `--engine ray` (a local Ray
    with every CPU), each in a fresh process into an empty index folder, and prints wall time,
    documents/s, chunks/s, chunks/s per core and the ratio ray / local (the baseline: local, same run).

passages
    Builds indexes of 10^4, 10^5 and 10^6 passages through the project's own store writer
    (`store.write_staged` + `publish`, `ATMP_RAG_EMBEDDING__FAISS_INDEX=auto`) from the chunks of a real index
    (--source, e.g. `indexes/current`): each synthetic document is a copy of a real one (pages, chunk
    texts and provenance), each chunk vector the real chunk's vector plus Gaussian noise of norm 0.35
    (cosine ≈ 0.94 to it), renormalised; no encoding. Quotable units are kept for the real documents
    only (copy 0), so the answerer's tables stay small: this mode measures search, not /v1/ask.
    Per size it prints build time, size on disk, the index load time (`service.load_index` in a fresh
    process, the model loaded before the clock starts), the service's RSS after start-up and after the
    load test, /v1/search p50/p95 for bm25, dense and hybrid at concurrency 1 and 8 (a real
    `atmp-rag serve` on 127.0.0.1, httpx clients, the questions of eval/regulatory/questions.jsonl),
    exact vs approximate dense search in-process (p50 ms), recall@10 of the approximate index against
    exact search for the same questions, and the p50 ratios against the smallest size (baseline).
    With --workers N the largest size is also served by `atmp-rag serve --workers N`: RSS and PSS
    per worker and in total.

Traffic goes to 127.0.0.1 only; request loops are bounded; servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "eval" / "regulatory" / "questions.jsonl"
CATALOG = ROOT / "corpus" / "catalog.csv"
BIN = Path(sys.executable).with_name("atmp-rag")
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def default_pdfs() -> Path:
    for candidate in (ROOT.parent / "shared" / "corpus" / "pdf", ROOT / "corpus" / "pdf"):
        if candidate.is_dir() and any(candidate.glob("*.pdf")):
            return candidate
    raise SystemExit("no PDFs: run `make corpus` or pass --pdfs")


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------ documents

def _sections(pdfs: Path) -> list[tuple[str, list[str]]]:
    """(heading without its number, body lines) of every body section of the real PDFs."""
    from atmp_rag.chunking import segment
    from atmp_rag.extract import extract_pages

    out = []
    for pdf in sorted(pdfs.glob("*.pdf")):
        seg = segment(pdf.stem, extract_pages(pdf, pdf.stem))
        for sec in seg.sections:
            if sec.kind != "body" or not sec.path or sec.soft:
                continue
            body = seg.text[sec.body_start:sec.end].strip()
            if len(body) < 200:
                continue
            title = re.sub(r"^[\dIVXivx.()]+\s+", "", sec.path[-1]).strip()
            words, lines, line = body.split(), [], ""
            for w in words:
                if len(line) + len(w) + 1 > 95:
                    lines.append(line)
                    line = w
                else:
                    line = f"{line} {w}".strip()
            if line:
                lines.append(line)
            out.append((title, lines))
    return out


def make_documents(pdfs: Path, out: Path, n: int, seed: int = 11) -> int:
    """Write `n` synthetic EMA-style guideline PDFs into `out`; returns the page count."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    rng = random.Random(seed)
    sections = _sections(pdfs)
    width, height = A4
    pages_total = 0
    for i in range(n):
        chosen = rng.sample(sections, min(len(sections), rng.randint(8, 16)))
        lines: list[tuple[bool, str]] = [(True, "Guideline on synthetic advanced therapy topics")]
        for number, (title, body) in enumerate(chosen, start=1):
            lines.append((True, f"{number}. {title.upper() if number % 2 else title}"))
            lines.extend((False, line) for line in body)
        per_page = 46
        pages = [lines[k:k + per_page] for k in range(0, len(lines), per_page)]
        c = canvas.Canvas(str(out / f"synthetic-guideline-{i:04d}.pdf"), pagesize=A4)
        c.setTitle(f"Synthetic guideline {i}")
        c.setAuthor("Committee for Advanced Therapies")
        line_no = 1
        for page_number, page in enumerate(pages, start=1):
            c.setFont("Helvetica", 8)
            c.drawString(72, height - 40, f"EMA/CAT/{100000 + i}/2026")
            c.drawRightString(width - 72, 30, f"Page {page_number}/{len(pages)}")
            y = height - 80
            for heading, text in page:
                c.setFont("Helvetica", 7)
                c.drawRightString(52, y, str(line_no))
                c.setFont("Helvetica-Bold" if heading else "Helvetica", 9)
                c.drawString(64, y, text)
                line_no += 1
                y -= 15
            c.showPage()
        c.save()
        pages_total += len(pages)
    return pages_total


def _ingest(corpus: Path, engine: str) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory(prefix="scale-index-") as index:
        env = {**ENV, "ATMP_RAG_CORPUS__DIR": str(corpus), "ATMP_RAG_INDEX__DIR": index,
               "ATMP_RAG_CORPUS__CATALOG": str(CATALOG)}
        t0 = time.perf_counter()
        proc = subprocess.run([str(BIN), "ingest", "--json", "--engine", engine], env=env, capture_output=True,
                              text=True, check=False)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"ingest --engine {engine} failed: {proc.stderr[-2000:]}")
        return wall, json.loads(proc.stdout)


def documents(args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="scale-docs-") as tmp:
        if args.pdfs:
            corpus, pages = Path(args.pdfs), None
        else:
            corpus = Path(tmp)
            t0 = time.perf_counter()
            pages = make_documents(default_pdfs(), corpus, args.n)
            print(f"generated {args.n} synthetic PDFs ({pages} pages) in {time.perf_counter() - t0:.1f} s")
        n_docs = len(list(corpus.glob("*.pdf")))
        rows = []
        for r in range(args.repeat):
            # Alternate the order so that neither engine always runs on a warmer page cache.
            order = ("local", "ray") if r % 2 == 0 else ("ray", "local")
            for engine in order:
                wall, report = _ingest(corpus, engine)
                rows.append({"engine": engine, "wall_s": wall, "chunks": report["chunks"], "pages": report["pages"],
                             "encode_s": report.get("encode_seconds")})
                print(f"  {engine:<5} run {r + 1}: {wall:7.1f} s  {report['chunks']} chunks", flush=True)
    best = {e: min((x for x in rows if x["engine"] == e), key=lambda x: x["wall_s"]) for e in ("local", "ray")}
    print(f"\nDocuments: {n_docs} PDFs, {best['local']['pages']} pages, {best['local']['chunks']} chunks; "
          f"{cores} cores; best of {args.repeat}")
    print(f"{'engine':<6} {'wall s':>8} {'docs/s':>7} {'pages/s':>8} {'chunks/s':>9} {'chunks/s/core':>14} "
          f"{'ratio':>6}")
    base = best["local"]["wall_s"]
    for e in ("local", "ray"):
        b = best[e]
        print(f"{e:<6} {b['wall_s']:8.1f} {n_docs / b['wall_s']:7.2f} {b['pages'] / b['wall_s']:8.1f} "
              f"{b['chunks'] / b['wall_s']:9.1f} {b['chunks'] / b['wall_s'] / cores:14.1f} {b['wall_s'] / base:5.2f}x")
    if args.out:
        Path(args.out).write_text(json.dumps({"mode": "documents", "runs": rows, "cores": cores,
                                              "documents": n_docs}, indent=2))


# ------------------------------------------------------------------ passages

def build_passages(source: Path, size: int, root: Path, noise: float = 0.35, seed: int = 11) -> tuple[Path, float]:
    """Write an index of `size` passages under `root` (see the module docstring); returns (folder, seconds)."""
    from atmp_rag.config import Settings
    from atmp_rag.ingest import index_text
    from atmp_rag.store import IndexContent, IndexStore, publish, resolve_current, write_staged

    t0 = time.perf_counter()
    src = IndexStore(resolve_current(source))
    rng = np.random.default_rng(seed)
    doc_ids = sorted(src.chunk_counts())
    src_chunks = {d: src.doc_chunks(d) for d in doc_ids}
    src_pages = {d: src.pages(d) for d in doc_ids}
    vectors = np.asarray(src.vectors(), dtype=np.float32)
    documents, pages, chunks, rows = [], [], [], []
    copy = 0
    while len(chunks) < size:
        for d in doc_ids:
            if len(chunks) >= size:
                break
            new_id = d if copy == 0 else f"{d}~{copy}"
            doc = src.documents[d].model_copy(update={"doc_id": new_id})
            documents.append(doc)
            pages.extend(p.model_copy(update={"doc_id": new_id}) for p in src_pages[d])
            for row, c in src_chunks[d][: size - len(chunks)]:
                chunks.append(c.model_copy(update={"doc_id": new_id, "chunk_id": f"{new_id}:{c.ordinal:04d}"}))
                rows.append(row)
        copy += 1
    base = vectors[np.asarray(rows)]
    out = np.empty_like(base)
    block = 100_000
    for s in range(0, len(base), block):
        part = base[s:s + block]
        g = rng.standard_normal(part.shape).astype(np.float32)
        g *= noise / np.linalg.norm(g, axis=1, keepdims=True)
        v = part + g
        out[s:s + block] = v / np.linalg.norm(v, axis=1, keepdims=True)
    if copy > 1:  # copy 0 keeps the real vectors, so the real documents stay what they were
        n0 = sum(len(src_chunks[d]) for d in doc_ids)
        out[: min(n0, size)] = base[: min(n0, size)]
    present = {doc.doc_id for doc in documents}
    kept = {c.chunk_id for c in chunks}
    units, unit_src_rows = [], []
    for d in doc_ids:
        if d in present:
            for row in src.unit_rows(d):
                u = src.units[row]
                if all(c in kept for c in u.chunk_ids):
                    units.append(u)
                    unit_src_rows.append(row)
    unit_vectors = np.asarray(src.unit_vectors(), dtype=np.float32)[unit_src_rows] if units \
        else np.zeros((0, vectors.shape[1]), dtype=np.float32)
    by_id = {d.doc_id: d for d in documents}
    lexical = [index_text(by_id[c.doc_id], c) for c in chunks]
    settings = Settings(embedding={"faiss_index": "auto"})
    content = IndexContent(documents, pages, chunks, out, lexical,
                           {d.doc_id: f"synthetic-{d.doc_id}" for d in documents}, units, unit_vectors)
    manifest = dict(src.manifest)
    manifest.update({"name": f"scale-{size}", "counts": {"documents": len(documents), "pages": len(pages),
                                                           "chunks": len(chunks)},
                     "settings_hash": src.settings_hash, "synthetic": {"source": src.folder.name, "noise": noise}})
    src.close()
    root.mkdir(parents=True, exist_ok=True)
    staged = write_staged(root, content, manifest, settings.embedding.faiss_index, settings.lexical.model_dump())
    folder = publish(root, staged, f"scale-{size}")
    return folder, time.perf_counter() - t0


def du(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


_LOAD = """
import json, sys, time, psutil
from pathlib import Path
from atmp_rag.config import Settings
from atmp_rag.embed import embedder_for
from atmp_rag.service import load_index, serving_threads
s = Settings(index={"dir": Path(sys.argv[1])})
e = embedder_for(s, threads=serving_threads(s))
p = psutil.Process()
before = p.memory_info().rss
t = time.perf_counter()
loaded = load_index(Path(sys.argv[1]).resolve(), s, e)
print(json.dumps({"load_s": time.perf_counter() - t, "rss_before": before, "rss_after": p.memory_info().rss}))
"""


def measure_load(folder: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", _LOAD, str(folder)], env=ENV, capture_output=True, text=True,
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


async def _load(base: str, qs: list[str], mode: str, concurrency: int, n: int) -> tuple[list[float], int]:
    lat: list[float] = []
    errors = 0
    it = iter(range(n))

    async def client() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            for i in it:
                t = time.perf_counter()
                r = await c.post("/v1/search", json={"query": qs[i % len(qs)], "k": 10, "mode": mode})
                if r.status_code == 200:
                    lat.append((time.perf_counter() - t) * 1000)
                else:
                    errors += 1

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return lat, errors


def serve(root: Path, workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**ENV, "ATMP_RAG_INDEX__DIR": str(root), "ATMP_RAG_CORPUS__CATALOG": str(CATALOG)}
    cmd = [str(BIN), "serve", "--port", str(port), "--log-level", "warning"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server not ready")


def memory(proc: subprocess.Popen) -> list[dict]:
    """RSS and PSS of the server and each of its worker processes, in MiB."""
    out = []
    parent = psutil.Process(proc.pid)
    for p in [parent, *parent.children(recursive=True)]:
        try:
            full = p.memory_full_info()
        except psutil.Error:
            continue
        out.append({"pid": p.pid, "rss": full.rss / 2**20, "pss": getattr(full, "pss", 0) / 2**20})
    return out


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def dense_search_costs(folder: Path, qvecs: np.ndarray) -> dict:
    """In-process: exact (flat over the memory-mapped vectors) vs the built index, p50 ms, and recall@10."""
    import faiss

    from atmp_rag.store import read_faiss

    vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    index = read_faiss(folder / "faiss.index")
    exact_ms, approx_ms, exact_ids = [], [], []
    for q in qvecs:
        t = time.perf_counter()
        _, ids = faiss.knn(q.reshape(1, -1), vectors, 10, faiss.METRIC_INNER_PRODUCT)
        exact_ms.append((time.perf_counter() - t) * 1000)
        exact_ids.append(ids[0])
    found = []
    for q in qvecs:
        t = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), 10)
        approx_ms.append((time.perf_counter() - t) * 1000)
        found.append(ids[0])
    recall = float(np.mean([len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(found, exact_ids,
                                                                                            strict=True)]))
    return {"exact_p50_ms": statistics.median(exact_ms), "index_p50_ms": statistics.median(approx_ms),
            "recall_at_10": recall, "index_type": type(index).__name__}


def passages(args: argparse.Namespace) -> None:
    from atmp_rag.config import Settings
    from atmp_rag.embed import embedder_for

    qs = questions()
    embedder = embedder_for(Settings(), threads=1)
    qvecs = embedder.encode_queries(qs)
    encode_ms = []
    for q in qs[:100]:
        t = time.perf_counter()
        embedder.encode_queries([q])
        encode_ms.append((time.perf_counter() - t) * 1000)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(args.work or tempfile.mkdtemp(prefix="scale-passages-"))
    results: list[dict] = []
    for size in sizes:
        root = work / f"n{size}"
        if (root / "current").exists() and args.reuse:
            folder, build_s = (root / "current").resolve(), float("nan")
        else:
            shutil.rmtree(root, ignore_errors=True)
            folder, build_s = build_passages(Path(args.source), size, root)
        print(f"{size:,} passages: built in {build_s:.1f} s", flush=True)
        if args.build_only:
            continue
        manifest = json.loads((folder / "manifest.json").read_text())
        load = measure_load(folder)
        proc, base = serve(root)
        try:
            rss_start = sum(m["rss"] for m in memory(proc))
            row = {"size": size, "build_s": build_s, "disk_mib": du(folder) / 2**20, "load_s": load["load_s"],
                   "load_rss_delta_mib": (load["rss_after"] - load["rss_before"]) / 2**20,
                   "rss_start_mib": rss_start, "faiss": manifest.get("faiss"), "latency": {}}
            for mode in ("bm25", "dense", "hybrid"):
                for conc, n in ((1, args.requests), (8, 2 * args.requests)):
                    asyncio.run(_load(base, qs, mode, conc, 8))  # warm-up
                    lat, errors = asyncio.run(_load(base, qs, mode, conc, n))
                    row["latency"][f"{mode}@{conc}"] = {"p50": statistics.median(lat), "p95": pct(lat, 95),
                                                        "errors": errors}
            row["rss_end_mib"] = sum(m["rss"] for m in memory(proc))
        finally:
            stop(proc)
        row.update(dense_search_costs(folder, qvecs))
        results.append(row)
        print(json.dumps(row), flush=True)
    if not results:
        return
    if args.workers > 1:
        root = work / f"n{sizes[-1]}"
        proc, base = serve(root, workers=args.workers)
        try:
            asyncio.run(_load(base, qs, "hybrid", 8, 4 * args.requests))
            mem = memory(proc)
        finally:
            stop(proc)
        print(f"\nserve --workers {args.workers} on {sizes[-1]:,} passages after {4 * args.requests} hybrid searches:")
        for m in mem:
            print(f"  pid {m['pid']}: RSS {m['rss']:8.1f} MiB  PSS {m['pss']:8.1f} MiB")
        print(f"  total: RSS {sum(m['rss'] for m in mem):8.1f} MiB  PSS {sum(m['pss'] for m in mem):8.1f} MiB")
    print(f"\n{'passages':>10} {'build s':>8} {'disk MiB':>9} {'load s':>7} {'RSS MiB':>8} {'index':>13} "
          f"{'exact ms':>9} {'index ms':>9} {'recall@10':>9}")
    for r in results:
        print(f"{r['size']:>10,} {r['build_s']:8.1f} {r['disk_mib']:9.0f} {r['load_s']:7.2f} {r['rss_end_mib']:8.0f} "
              f"{r['index_type']:>13} {r['exact_p50_ms']:9.2f} {r['index_p50_ms']:9.2f} {r['recall_at_10']:9.3f}")
    print(f"\n{'passages':>10} " + " ".join(f"{k:>16}" for k in results[0]["latency"]) + "   (p50 / p95 ms)")
    for r in results:
        print(f"{r['size']:>10,} " + " ".join(f"{v['p50']:7.1f} /{v['p95']:7.1f}" for v in r["latency"].values()))
    print(f"\nbaseline, same run: one bare query encoding in this process (1 thread), p50 "
          f"{statistics.median(encode_ms):.1f} ms, p95 {pct(encode_ms, 95):.1f} ms")
    base = results[0]
    print(f"\np50 ratio against {base['size']:,} passages (size ratio in brackets):")
    for r in results[1:]:
        ratios = {k: r["latency"][k]["p50"] / base["latency"][k]["p50"] for k in base["latency"]}
        print(f"{r['size']:>10,} [{r['size'] / base['size']:.0f}x] " + " ".join(f"{k} {v:.2f}x" for k, v in
                                                                                  ratios.items()))
    if args.out:
        Path(args.out).write_text(json.dumps({"mode": "passages", "results": results}, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    d = sub.add_parser("documents")
    d.add_argument("--n", type=int, default=20)
    d.add_argument("--pdfs", default=None, help="use this folder of PDFs instead of synthetic ones")
    d.add_argument("--repeat", type=int, default=1)
    d.add_argument("--out", default=None)
    p = sub.add_parser("passages")
    p.add_argument("--source", default=str(ROOT / "indexes"), help="a real index (folder or its root)")
    p.add_argument("--sizes", default="10000,100000,1000000")
    p.add_argument("--requests", type=int, default=100)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--work", default=None, help="where the indexes go (default: a temporary folder, kept)")
    p.add_argument("--reuse", action="store_true", help="reuse indexes already built under --work")
    p.add_argument("--build-only", action="store_true", help="only build the indexes (then measure with --reuse)")
    p.add_argument("--out", default=None)
    args = parser.parse_args()
    documents(args) if args.mode == "documents" else passages(args)


if __name__ == "__main__":
    main()
