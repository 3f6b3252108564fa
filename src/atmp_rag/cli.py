"""`atmp-rag` command line: a thin typer layer that parses options, calls the library, prints results."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from atmp_rag.config import Settings, env_name, nested
from atmp_rag.models import CitationFormat, Document, RetrievalMode

app = typer.Typer(help="Regulatory answers for ATMPs from EMA/ICH guidelines, with page-level citations.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
corpus_app = typer.Typer(help="The guideline catalog and its PDFs.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
config_app = typer.Typer(help="The effective settings.", no_args_is_help=True)
app.add_typer(config_app, name="config")
# Without a terminal (logs, CI, `make up | tee`), rich would cut tables to 80 columns: print them whole.
console = Console() if sys.stdout.isatty() else Console(width=400, soft_wrap=True)
err = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=400, soft_wrap=True)

IndexDirOpt = Annotated[Path | None, typer.Option("--index-dir", help="Index folder (ATMP_RAG_INDEX__DIR).")]
CorpusDirOpt = Annotated[Path | None, typer.Option("--corpus-dir", help="PDF folder (ATMP_RAG_CORPUS__DIR).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False) -> None:
    """Configure logging once for every command."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=err, show_path=False)])
    # Third-party loggers (bm25s, httpx, sentence-transformers) only speak up on problems.
    for noisy in ("bm25s", "httpx", "sentence_transformers", "transformers", "faiss"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Settings from the environment, with CLI options (dotted names; None = not given) taking precedence."""
    try:
        return Settings(**nested(overrides or {}))
    except ValueError as exc:
        err.print(f"[red]invalid settings:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error for the user as one line (never wrapped, brackets shown as is) and return the Exit to raise."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


# ------------------------------------------------------------------ config

@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Print every setting: its value, where it came from (default, env, legacy env) and what it does."""
    from atmp_rag.config import PIPELINE_VERSION, describe

    s = load_settings()
    rows = describe(s)
    if as_json:
        print(json.dumps({"settings_hash": s.settings_hash(), "pipeline_version": PIPELINE_VERSION,
                          "settings": [{"name": r.name, "value": r.value, "source": r.source,
                                        "shapes_index": r.shapes_index, "description": r.description}
                                       for r in rows]}, indent=2, default=str))
        return
    table = Table("setting", "value", "source", "description",
                  title=f"effective settings (index settings hash {s.settings_hash()}, pipeline v{PIPELINE_VERSION})")
    for r in rows:
        name = f"{r.name} [dim]#[/]" if r.shapes_index else r.name
        table.add_row(name, escape(json.dumps(r.value, default=str)), r.source, r.description)
    console.print(table)
    console.print("[dim]#: shapes the index (part of its name). Environment: ATMP_RAG_<GROUP>__<NAME>, "
                  "e.g. ATMP_RAG_SERVICE__PORT=8010.[/]")


# ------------------------------------------------------------------ corpus

#: How each sync state reads in the summary line.
_STATE_COLOUR = {"present": "green", "copied": "cyan", "downloaded": "cyan", "missing": "yellow",
                 "manual download": "yellow", "not a PDF": "red", "download failed": "red", "hash mismatch": "red"}


@corpus_app.command("sync")
def corpus_sync(
    mirror: Annotated[Path | None, typer.Option("--mirror", help="Local folder holding the PDFs "
                                                "(ATMP_RAG_CORPUS__MIRROR); with one, nothing is downloaded.")] = None,
    corpus_dir: CorpusDirOpt = None,
    download: Annotated[bool | None, typer.Option(
        "--download/--no-download", help="Download what is missing from the official URLs. Default: only without "
        "a mirror and when not offline (ATMP_RAG_CORPUS__OFFLINE).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Fill the corpus folder from a mirror folder or the official URLs; verify sha256.

    With a mirror, or offline, nothing leaves the machine. A document whose catalog row has no PDF
    URL is listed as "manual download" with the page to get it from.
    """
    from atmp_rag.corpus import CatalogError, SyncState, load_catalog, sync_corpus

    s = load_settings({"corpus.dir": corpus_dir, "corpus.mirror": mirror})
    try:
        docs = load_catalog(s.corpus.catalog)
    except CatalogError as exc:
        raise fail(str(exc)) from exc
    if s.corpus.mirror is not None and not s.corpus.mirror.is_dir():
        raise fail(f"mirror folder not found: {s.corpus.mirror}")
    if download and s.corpus.offline:
        raise fail("--download and offline mode (ATMP_RAG_CORPUS__OFFLINE) contradict each other", 2)
    fetch = (s.corpus.mirror is None) if download is None else download
    fetch = fetch and not s.corpus.offline
    with err.status("syncing corpus") as status:
        results = sync_corpus(docs, s.corpus.dir, s.corpus.mirror, fetch, s.corpus.download_timeout,
                              s.corpus.download_retries, progress=lambda d: status.update(f"syncing {d}"))
    if as_json:
        print(json.dumps([{"doc_id": r.doc_id, "file": r.file, "state": r.state.value, "detail": r.detail}
                          for r in results], indent=2))
        return
    table = Table("document", "file", "state", "detail", title=f"corpus sync → {s.corpus.dir}")
    for r in results:
        table.add_row(r.doc_id, r.file or "", f"[{_STATE_COLOUR[r.state.value]}]{r.state.value}[/]", escape(r.detail))
    console.print(table)
    counts: dict[str, int] = {}
    for r in results:
        counts[r.state.value] = counts.get(r.state.value, 0) + 1
    console.print(", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    if counts.get(SyncState.manual.value):
        console.print(f"{counts[SyncState.manual.value]} documents have no PDF URL in the catalog: download them by "
                      f"hand (see detail) into {s.corpus.dir}.")
    if not fetch and counts.get(SyncState.missing.value):
        if s.corpus.offline:
            console.print("Nothing was downloaded (offline mode, ATMP_RAG_CORPUS__OFFLINE); with network access, "
                          "unset it and run `atmp-rag corpus sync` to fetch the rest.")
        else:
            console.print("Nothing was downloaded (a mirror was given or --no-download); "
                          "`atmp-rag corpus sync --download` fetches the rest.")


@corpus_app.command("list")
def corpus_list(corpus_dir: CorpusDirOpt = None, as_json: JsonOpt = False) -> None:
    """Show the catalog, which PDFs are present, and where to get the missing ones."""
    from atmp_rag.corpus import load_catalog, manual_reason

    s = load_settings({"corpus.dir": corpus_dir})
    docs = load_catalog(s.corpus.catalog)

    def where(d: Document) -> str:  # how to get a missing document
        return f"download: {d.pdf_url}" if d.pdf_url else f"manual download: {manual_reason(d, s.corpus.dir)}"

    rows = [(d, bool(d.file) and (s.corpus.dir / str(d.file)).is_file()) for d in docs]
    if as_json:
        print(json.dumps([{**d.model_dump(mode="json"), "present": p, "get": "" if p else where(d)}
                          for d, p in rows], indent=2))
        return
    table = Table("id", "issuer", "reference", "status", "present", "how to get it", title=str(s.corpus.catalog))
    for d, present in rows:
        table.add_row(d.doc_id, d.issuer, d.reference, d.status.value, "[green]yes[/]" if present else "[dim]no[/]",
                      "" if present else escape(where(d)))
    console.print(table)
    console.print(f"{sum(p for _, p in rows)} of {len(rows)} documents present in {s.corpus.dir}")


# ------------------------------------------------------------------ ingest

@app.command()
def ingest(
    corpus_dir: CorpusDirOpt = None,
    index_dir: IndexDirOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="Fail (publish nothing) if any PDF is skipped.")] = False,
    as_json: JsonOpt = False,
    engine: Annotated[str | None, typer.Option(
        "--engine", help="local (default) or ray: where new documents are extracted, chunked and encoded "
                         "(ATMP_RAG_INDEX__ENGINE; ray needs atmp-rag[ray]).")] = None,
    ray_address: Annotated[str | None, typer.Option(
        "--ray-address", help="Ray cluster to join ('auto', 'host:6379'); default: a local Ray for the build.")] = None,
) -> None:
    """Build or update the index from the corpus folder (incremental, atomic publish).

    Exits 1 with one line for an empty corpus, a full disk or another running build; 128+N after
    signal N (SIGINT: 130), having published nothing unless the signal came after the publish.
    """
    from atmp_rag.corpus import CatalogError, EmptyCorpus
    from atmp_rag.extract import ExtractionError
    from atmp_rag.ingest import BuildInterrupted, EngineFailed
    from atmp_rag.ingest import ingest as run_ingest
    from atmp_rag.store import BuildLocked, DiskFull

    s = load_settings({"corpus.dir": corpus_dir, "index.dir": index_dir})
    try:
        # A bar on a terminal, plain lines (documents, pages, chunks/s, ETA) in logs and CI.
        report = run_ingest(s, strict=strict, show_progress=not as_json, engine_name=engine,
                            ray_address=ray_address)
    except ModuleNotFoundError as exc:
        if exc.name != "ray":
            raise
        raise fail("--engine ray needs Ray: pip install 'atmp-rag[ray]'; nothing published") from exc
    except EngineFailed as exc:
        raise fail(f"{exc}; nothing published") from exc
    except ExtractionError as exc:
        raise fail(f"--strict: nothing published; skipped: {exc.reason}") from exc
    except (BuildLocked, EmptyCorpus, DiskFull, CatalogError) as exc:
        raise fail(str(exc)) from exc
    except BuildInterrupted as exc:
        raise fail(str(exc), 128 + exc.signum) from exc
    except KeyboardInterrupt as exc:  # before the build started (catalog, hashing)
        raise fail("interrupted; nothing published", 130) from exc
    if as_json:
        print(report.model_dump_json(indent=2))
        return
    table = Table("indexed", "reused", "pages", "chunks", "skipped", "seconds", title=report.index_dir)
    table.add_row(str(report.documents_indexed), str(report.documents_reused), str(report.pages),
                  str(report.chunks), str(len(report.skipped)), f"{report.seconds:.1f}")
    console.print(table)
    for s_ in report.skipped:
        console.print(f"[yellow]skipped[/] {s_.file}: {s_.reason}")
    for u in report.uncatalogued:
        console.print(f"[cyan]uncatalogued[/] {u}: indexed with metadata from the PDF")


# ------------------------------------------------------------------ search

def open_retriever(s: Settings):
    """Open the published index and the encoder once."""
    from atmp_rag.ingest import embedder_for
    from atmp_rag.retrieve import Retriever
    from atmp_rag.store import IndexNotFound, open_index

    try:
        store = open_index(s.index.dir)
    except IndexNotFound as exc:
        raise fail(str(exc)) from exc
    return Retriever(store, embedder_for(s), s)


ModeOpt = Annotated[RetrievalMode, typer.Option("--mode", help="Retrieval mode.")]


@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="The question or search text.")] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=100)] = 10,
    mode: ModeOpt = RetrievalMode.hybrid,
    queries: Annotated[Path | None, typer.Option("--queries", help="File with one query per line.")] = None,
    index_dir: IndexDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Retrieve passages; with --queries, one JSON line per query (the JSON of POST /v1/search)."""
    from atmp_rag.schemas import PassageOut, SearchResponse

    if (query is None) == (queries is None):
        raise fail("give a QUERY or --queries FILE (not both)", 2)
    s = load_settings({"index.dir": index_dir})
    retriever = open_retriever(s)
    index = str(retriever.store.manifest.get("name") or retriever.store.folder.name)

    def response(text: str) -> SearchResponse:
        hits = retriever.search(text, k=k, mode=mode)
        return SearchResponse(question=text, query=text, mode=mode.value, k=k, index=index,
                              results=[PassageOut.of(p) for p in hits])

    if queries is not None:
        if not queries.is_file():
            raise fail(f"queries file not found: {queries}", 2)
        for line in queries.read_text(encoding="utf-8").splitlines():
            if line.strip():
                print(response(line.strip()).model_dump_json())
        return
    assert query is not None
    result = response(query)
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    for p in result.results:
        console.print(f"[bold]{p.rank}.[/] {escape(p.reference)} — {escape(p.section or '(no section)')} "
                      f"[dim]p. {', '.join(p.page_labels)} · {p.chunk_id} · {p.score or 0:.4f}[/]")
        console.print(f"   {escape(p.text[:300].strip())}…\n")


# ------------------------------------------------------------------ eval

@app.command("eval")
def eval_cmd(
    dataset: Annotated[str, typer.Option("--dataset", help="'regulatory', a BEIR folder name under "
                                         "ATMP_RAG_EVAL__BENCHMARKS_DIR, or a path.")] = "regulatory",
    modes: Annotated[str, typer.Option("--modes", help="Comma list: bm25,dense,hybrid,hybrid+rerank.")]
    = "bm25,dense,hybrid",
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Cutoff of nDCG/MRR/MAP/Recall.")] = 10,
    split: Annotated[str, typer.Option("--split", help="dev | test | all (BEIR: all = test).")] = "all",
    out: Annotated[Path | None, typer.Option("--out", help="Report folder (default eval/runs/<time>-<dataset>).")]
    = None,
    stat_test: Annotated[str, typer.Option("--stat-test", help="student | fisher")] = "student",
    no_answers: Annotated[bool, typer.Option("--no-answers", help="Skip answer-level metrics.")] = False,
    index_dir: IndexDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate retrieval modes on the regulatory set or a BEIR dataset; save JSON + Markdown report."""
    from atmp_rag.evaluation import default_out_dir, parse_modes, run_evaluation, write_report
    from atmp_rag.progress import progress
    from atmp_rag.store import IndexNotFound

    if split not in ("dev", "test", "all"):
        raise fail("--split must be dev, test or all", 2)
    if stat_test not in ("student", "fisher"):
        raise fail("--stat-test must be student or fisher", 2)
    try:
        mode_list = parse_modes(modes)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    s = load_settings({"index.dir": index_dir})
    show = not as_json and sys.stderr.isatty()
    with progress(not as_json) as bar:
        task = bar.add_task("eval", total=100, unit="%")
        try:
            result = run_evaluation(dataset, mode_list, s, k=k, split=split, answers=not no_answers,
                                    stat_test=stat_test, show_progress=show,
                                    progress=lambda f, m: bar.update(task, completed=round(100 * f, 1),
                                                                     description=m))
        except (FileNotFoundError, IndexNotFound, ValueError) as exc:
            raise fail(str(exc), 2) from exc
    folder = out or default_out_dir(result, s.eval.dir)
    report = write_report(result, folder)
    if as_json:
        print(json.dumps({"dataset": result.dataset, "split": result.split, "report": str(report),
                          "results": result.summary()}, indent=2))
        return
    summary = result.summary()
    metrics = list(dict.fromkeys(m for v in summary.values() for m in v))
    table = Table("metric", *summary, title=f"{result.dataset} ({result.split}, {result.n_queries} queries)")
    for m in metrics:
        table.add_row(m, *(f"{summary[mode].get(m, float('nan')):.4f}" for mode in summary))
    console.print(table)
    for c in result.comparisons:
        if c.metric.startswith("mrr") or c.metric.startswith("ndcg"):
            console.print(f"{c.metric}: {c.a} {c.a_score:.4f} vs {c.b} {c.b_score:.4f}  p={c.p_value:.4g}"
                          f"{' (significant)' if c.significant else ''}")
    console.print(f"report: {report}")


# ------------------------------------------------------------------ ask, cite, serve

@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    k: Annotated[int, typer.Option("--k", min=1, max=50, help="Passages to retrieve.")] = 5,
    mode: ModeOpt = RetrievalMode.hybrid,
    generative: Annotated[bool, typer.Option("--generative", help="Use the LLM at ATMP_RAG_GENERATION__URL.")] = False,
    index_dir: IndexDirOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer a question with verbatim quotes and numbered page citations (or abstain)."""
    from atmp_rag.schemas import AskResponse
    from atmp_rag.service import Engine
    from atmp_rag.store import IndexNotFound, resolve_current

    if not question.strip():
        raise fail("the question is empty", 2)
    s = load_settings({"index.dir": index_dir})
    try:
        resolve_current(s.index.dir)  # before loading the model: a missing index fails in a second
    except IndexNotFound as exc:
        raise fail(str(exc)) from exc
    engine = Engine(s)
    # The engine logs load failures for the server's log; here the error line below says it once.
    service_log = logging.getLogger("atmp_rag.service")
    if not service_log.isEnabledFor(logging.DEBUG):
        service_log.setLevel(logging.CRITICAL)
    if not engine.start():
        raise fail(engine.last_error or f"no index in {s.index.dir}")
    answer = engine.ask(question, k=k, mode=mode, answer_mode="generative" if generative else "extractive")
    if as_json:  # the JSON of POST /v1/ask
        loaded = engine.current()
        print(AskResponse.of(answer, engine.excerpts(answer.citations, loaded), loaded.name).model_dump_json(indent=2))
        return
    if answer.abstained:
        console.print(f"[yellow]{answer.message}[/]")
        for p in answer.related:
            console.print(f"  · {p.document.reference} — {p.chunk.section or '(no section)'} "
                          f"[dim]p. {', '.join(p.page_labels)} · {p.chunk.chunk_id}[/]")
        return
    console.print(answer.answer, markup=False, highlight=False)
    console.print()
    for c in answer.citations:
        console.print(f"[bold][{c.n}][/] {c.reference} — {c.title}, {c.section or '(no section)'}, "
                      f"p. {', '.join(c.page_labels)} (PDF p. {', '.join(map(str, c.pages))})"
                      f"{' ✓' if c.verified else ''}\n    {c.url}", highlight=False)
    for w in answer.warnings:
        console.print(f"[yellow]warning:[/] {w}")


@app.command()
def cite(
    chunk_id: Annotated[str, typer.Argument(help="A passage id (from search or ask).")],
    fmt: Annotated[CitationFormat, typer.Option("--format", help="Citation format.")] = CitationFormat.text,
    index_dir: IndexDirOpt = None,
) -> None:
    """Print a citation of one passage in a reference-manager format (CSL-JSON: an array)."""
    from datetime import date

    from atmp_rag.cite import citation_from_passage, format_citation
    from atmp_rag.store import IndexNotFound, open_index

    s = load_settings({"index.dir": index_dir})
    try:
        store = open_index(s.index.dir)
    except IndexNotFound as exc:
        raise fail(str(exc)) from exc
    passage = store.passage(chunk_id)
    if passage is None:
        raise fail(f"unknown passage: {chunk_id}")
    text = format_citation(citation_from_passage(passage), passage.document, fmt.value, accessed=date.today())
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def check_ports(*checks: tuple[str, int, str]) -> None:
    """Fail at once, before any slow step, when a port to serve on is taken: (host, port, how to choose another)."""
    from atmp_rag.health import port_problem

    for host, port, how in checks:
        problem = port_problem(host, port)
        if problem is not None:
            raise fail(f"{problem}; choose another with {how}")


API_PORT_HOW = "--port (make up PORT=8010) or ATMP_RAG_SERVICE__PORT"
UI_PORT_HOW = "--ui-port (make up UI_PORT=8510) or ATMP_RAG_UI__PORT"


@app.command()
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Bind address (ATMP_RAG_SERVICE__HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Port (ATMP_RAG_SERVICE__PORT).")] = None,
    index_dir: IndexDirOpt = None,
    log_level: Annotated[str, typer.Option("--log-level", help="debug | info | warning")] = "info",
    workers: Annotated[int, typer.Option(
        "--workers", min=1, help="Worker processes (uvicorn); they share the memory-mapped index.")] = 1,
) -> None:
    """Run the HTTP API (uvicorn); the index reloads by itself when a new one is published."""
    s = load_settings({"service.host": host, "service.port": port, "index.dir": index_dir})
    check_ports((s.service.host, s.service.port, "--port or ATMP_RAG_SERVICE__PORT"))  # before loading anything
    import uvicorn

    from atmp_rag.api import create_app

    # Request logs are one key=value line each, for log shippers: plain lines, not the wrapped Rich console.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    pkg_log = logging.getLogger("atmp_rag")
    pkg_log.handlers[:] = [handler]
    pkg_log.propagate = False
    pkg_log.setLevel(log_level.upper())
    if workers > 1:
        # Each worker builds its own app from the environment (uvicorn imports the factory in every
        # process): pass the options given here on as ATMP_RAG_* variables. The index files are
        # memory-mapped, so the workers share their pages; each holds its own model and caches.
        for dotted, value in (("index.dir", index_dir), ("service.host", host), ("service.port", port)):
            if value is not None:
                os.environ[env_name(dotted)] = str(value)
        uvicorn.run("atmp_rag.api:create_app", factory=True, host=s.service.host, port=s.service.port,
                    workers=workers, log_level=log_level, access_log=False)
        return
    uvicorn.run(create_app(s), host=s.service.host, port=s.service.port, log_level=log_level, access_log=False)


# ------------------------------------------------------------------ ui, up

#: The Streamlit app lives next to the package in the repository (it is not part of the wheel).
UI_APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
LOCALHOST = "127.0.0.1"


def streamlit_command(port: int) -> list[str]:
    """`streamlit run ui/app.py` on 127.0.0.1, headless, without usage statistics or the deploy toolbar."""
    return [sys.executable, "-m", "streamlit", "run", str(UI_APP), "--server.address", LOCALHOST,
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "minimal"]


def ui_env(s: Settings, api_url: str) -> dict[str, str]:
    """The UI child's environment: where the service is and the key to send (nothing about indexes or PDFs)."""
    import os

    env = {**os.environ, "ATMP_RAG_UI__API_URL": api_url}
    key = s.ui.api_key or s.service.api_key
    if key:
        env["ATMP_RAG_UI__API_KEY"] = key
    return env


def supervise(children: dict[str, Any], health: dict[str, str] | None = None, timeout: float = 180.0,
              on_ready: Any = None) -> int:
    """Run child processes until one exits or SIGINT/SIGTERM arrives, then terminate them all.

    children: name -> Popen. health: name -> URL polled until it answers 200, then `on_ready()` is
    called once. Returns 0 after a signal, otherwise the exit code of the child that stopped first.
    """
    import signal
    import subprocess
    import time

    from atmp_rag.health import is_healthy

    stopping: list[int] = []

    def on_signal(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    pending = dict(health or {})
    deadline = time.monotonic() + timeout
    try:
        while not stopping:
            exited = {name: p.returncode for name, p in children.items() if p.poll() is not None}
            if exited:
                name, code = next(iter(exited.items()))
                err.print(f"[red]{name} stopped (exit code {code}); stopping the others[/red]")
                code = code or 1
                break
            for name, url in list(pending.items()):
                if is_healthy(url):
                    del pending[name]
                    if not pending and on_ready is not None:
                        on_ready()
            if pending and time.monotonic() > deadline:
                err.print(f"[red]not ready after {timeout:.0f} s: {', '.join(pending)}[/red]")
                code = 1
                break
            time.sleep(0.2)
    finally:
        for p in children.values():
            if p.poll() is None:
                p.terminate()
        for name, p in children.items():
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                err.print(f"[yellow]{name} did not stop in 15 s; killing it[/yellow]")
                p.kill()
                p.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code


@app.command()
def ui(
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="UI port (ATMP_RAG_UI__PORT).")] = None,
    api_url: Annotated[str | None, typer.Option("--api-url", help="Service URL (ATMP_RAG_UI__API_URL).")] = None,
) -> None:
    """Run the Streamlit app on 127.0.0.1: a pure client of the service at ATMP_RAG_UI__API_URL.

    It needs no index, PDF or model on this machine (install with `pip install atmp-rag[ui]`).
    """
    import subprocess

    s = load_settings({"ui.port": port, "ui.api_url": api_url})
    if not UI_APP.is_file():
        raise fail(f"Streamlit app not found at {UI_APP} (run from a checkout of the repository)")
    check_ports((LOCALHOST, s.ui.port, "--port or ATMP_RAG_UI__PORT"))
    url = f"http://{LOCALHOST}:{s.ui.port}"
    child = subprocess.Popen(streamlit_command(s.ui.port), env=ui_env(s, s.ui.api_url))
    code = supervise({"ui": child}, {"ui": f"{url}/_stcore/health"},
                     on_ready=lambda: console.print(f"UI:  {url}  (service {s.ui.api_url})"))
    raise typer.Exit(code)


@app.command()
def up(
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535,
                                             help="API port (ATMP_RAG_SERVICE__PORT).")] = None,
    ui_port: Annotated[int | None, typer.Option("--ui-port", min=1, max=65535,
                                                help="UI port (ATMP_RAG_UI__PORT).")] = None,
    mirror: Annotated[Path | None, typer.Option("--mirror", help="Sync the corpus from this folder first "
                                                "(nothing is downloaded).")] = None,
    prepare: Annotated[bool, typer.Option("--prepare/--no-prepare", help="Sync the corpus and build the index "
                                          "(if missing or stale) before starting.")] = False,
    index_dir: IndexDirOpt = None,
) -> None:
    """Run the service (uvicorn) and the UI (Streamlit) together on 127.0.0.1; Ctrl-C stops both.

    The ports are checked first, so a taken port fails in a second rather than after the corpus sync
    and the index build (`--prepare`, as `make up` runs it).
    """
    import subprocess

    s = load_settings({"service.port": port, "ui.port": ui_port, "index.dir": index_dir, "corpus.mirror": mirror})
    if not UI_APP.is_file():
        raise fail(f"Streamlit app not found at {UI_APP} (run from a checkout of the repository)")
    check_ports((LOCALHOST, s.service.port, API_PORT_HOW), (LOCALHOST, s.ui.port, UI_PORT_HOW))
    if s.service.port == s.ui.port:
        raise fail(f"the API and the UI cannot share port {s.ui.port}; choose another with {UI_PORT_HOW}", 2)
    api_url = f"http://{LOCALHOST}:{s.service.port}"
    ui_url = f"http://{LOCALHOST}:{s.ui.port}"
    if prepare or mirror is not None:
        me = [sys.executable, "-m", "atmp_rag"]
        sync = [*me, "corpus", "sync", *(["--mirror", str(s.corpus.mirror)] if s.corpus.mirror else [])]
        for step in (sync, [*me, "ingest", *(["--index-dir", str(s.index.dir)] if index_dir else [])]):
            code = subprocess.call(step)
            if code != 0:
                raise fail(f"`atmp-rag {' '.join(step[3:])}` failed (exit code {code}); not starting", code)
    import os

    # Children read the same settings; the UI must talk to exactly this service.
    service_env = {**os.environ, "ATMP_RAG_INDEX__DIR": str(s.index.dir)}
    serve_cmd = [sys.executable, "-m", "atmp_rag", "serve", "--host", LOCALHOST, "--port", str(s.service.port),
                 "--log-level", "warning"]
    children = {"service": subprocess.Popen(serve_cmd, env=service_env)}
    children["ui"] = subprocess.Popen(streamlit_command(s.ui.port), env=ui_env(s, api_url))
    console.print("starting the service (loading index and model) and the UI…")

    def ready() -> None:
        console.print(f"API: {api_url}  (OpenAPI docs: {api_url}/docs)")
        console.print(f"UI:  {ui_url}")
        console.print("Ctrl-C stops both.")

    code = supervise(children, {"service": f"{api_url}/healthz", "ui": f"{ui_url}/_stcore/health"}, on_ready=ready)
    raise typer.Exit(code)


if __name__ == "__main__":
    app()
