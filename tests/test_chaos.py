"""Chaos suite (issue 9): faults, load and hostile input against real processes.

Real `atmp-rag serve` processes (uvicorn on 127.0.0.1), real `atmp-rag ingest` processes, the real
session index and PDFs. Every scenario reproduces one failure of the campaign on main:
publishing under a running server, NaN/Infinity/surrogates on a keep-alive connection, a 500
followed by a request on the same connection, oversized bodies, corpus entries that are not files,
an empty corpus, no network, a full disk, `ask` without an index. The interrupt loop lives in
`tests/test_ingest.py::test_killed_build_leaves_published_index_intact` (also marked `chaos`).
"""

from __future__ import annotations

import csv
import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
import pytest

from atmp_rag.config import Settings
from atmp_rag.corpus import sync_corpus
from atmp_rag.extract import ExtractionError
from atmp_rag.ingest import ingest
from atmp_rag.models import Document
from atmp_rag.store import resolve_current
from tests.conftest import ROOT, make_settings, service_env
from tests.servers import free_tcp_port, running

pytestmark = pytest.mark.chaos

Q5C = "ich-q5c-stability-biotech-products-1995"
Q7 = "ich-q7-gmp-api-2000"  # catalogued, not in the session corpus: no chunks, so never warmed at load
ATMP_RAG = str(Path(sys.executable).with_name("atmp-rag"))


# ------------------------------------------------------------------ helpers

def private_copy(tmp: Path, settings: Settings) -> Settings:
    """A copy of the session corpus, index and catalog to change without disturbing other tests."""
    shutil.copytree(settings.corpus.dir, tmp / "corpus")
    shutil.copytree(settings.index.dir, tmp / "indexes", symlinks=True)
    shutil.copyfile(settings.corpus.catalog, tmp / "catalog.csv")
    return settings.replace({"corpus.dir": tmp / "corpus", "index.dir": tmp / "indexes",
                             "corpus.catalog": tmp / "catalog.csv"})


def retitle(catalog: Path, revision: int) -> None:
    """Edit one catalog title: a catalog-only change, so the next ingest publishes without encoding."""
    with catalog.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    assert fields is not None
    for row in rows:
        if row["id"] == Q5C:
            row["title"] = row["title"].split(" [rev ")[0] + f" [rev {revision}]"
    with catalog.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def publish_revision(settings: Settings, revision: int) -> Path:
    """A real catalog-only publish (in-process ingest: every document reused, no model needed)."""
    retitle(settings.corpus.catalog, revision)
    report = ingest(settings, show_progress=False)
    assert report.documents_reused == 3 and report.documents_indexed == 0
    return Path(report.index_dir)


def builds(index_dir: Path) -> set[str]:
    """Names of the real build folders (not the `current` link, not staging)."""
    return {p.name for p in index_dir.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")}


def serve_cmd(port: int) -> list[str]:
    return [ATMP_RAG, "serve", "--port", str(port), "--log-level", "warning"]


@dataclass
class Load:
    """What a client loop saw: statuses, exceptions by type, latencies."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + sum(self.failures.values())

    @property
    def bad(self) -> dict[str, int]:
        return {**{str(k): v for k, v in self.statuses.items() if k != 200}, **self.failures}


def client_loop(url: str, clients: int, seconds: float) -> Load:
    """`clients` threads, each on its own keep-alive connection, asking, searching and reading pages."""
    load = Load()
    stop_at = time.monotonic() + seconds
    questions = ["How should potency be expressed in stability studies?", "What is quality risk management?",
                 "Which storage conditions apply to accelerated stability testing?"]

    def worker(i: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            n = i
            while time.monotonic() < stop_at:
                n += 1
                try:
                    if n % 3 == 0:
                        r = c.post("/v1/ask", json={"question": questions[n % len(questions)]})
                    elif n % 3 == 1:
                        r = c.post("/v1/search", json={"query": questions[n % len(questions)], "k": 5})
                    else:
                        r = c.get(f"/v1/documents/{Q5C}/pages/{1 + n % 10}")
                    with load.lock:
                        load.statuses[r.status_code] += 1
                except httpx.HTTPError as exc:  # resets, refused or dropped connections
                    with load.lock:
                        load.failures[type(exc).__name__] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return load


# ------------------------------------------------------------------ 1. publishing under a running server

@pytest.mark.timeout(900)
def test_publishes_while_serving_never_delete_the_served_build(session_settings, session_index, tmp_path) -> None:
    s = private_copy(tmp_path, session_settings)
    served = resolve_current(s.index.dir)
    assert served is not None
    served = served.resolve()
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    with running(serve_cmd(port), service_env(s), f"{url}/readyz", tmp_path / "serve.log", ROOT, stop_timeout=15):
        assert httpx.get(f"{url}/readyz").json()["index"] == served.name
        # The campaign's reproduction: two publishes while the server is idle (keep_builds=2).
        second = publish_revision(s, 1)
        third = publish_revision(s, 2)
        assert served.is_dir(), "the build a running server holds was deleted"
        assert {served.name, second.name, third.name} <= builds(s.index.dir)

        # 32 clients on keep-alive connections, two more publishes in the middle of the load.
        result: dict[str, Load] = {}
        loop = threading.Thread(target=lambda: result.setdefault("load", client_loop(url, 32, 15.0)))
        loop.start()
        time.sleep(4)
        publish_revision(s, 3)
        time.sleep(4)
        fifth = publish_revision(s, 4)
        loop.join()
        load = result["load"]
        assert load.requests > 50
        assert load.bad == {}, f"{load.bad} in {load.requests} requests"
        assert httpx.get(f"{url}/readyz").json()["index"] == fifth.name

        # The server has moved on and its requests on the old builds are finished: their leases are
        # released, so the next publish removes them (keep_builds=2: the new one and its predecessor).
        sixth = publish_revision(s, 5)
        assert not served.exists() and not second.exists() and not third.exists()
        assert builds(s.index.dir) == {fifth.name, sixth.name}
        time.sleep(1.5)  # the server looks at `current` at most once per second
        r = httpx.post(f"{url}/v1/ask", json={"question": "What is quality risk management?"}, timeout=60)
        assert r.status_code == 200 and r.json()["index"] == sixth.name


# ------------------------------------------------------------------ a served private index for the API scenarios

@pytest.fixture(scope="module")
def chaos_server(session_settings, session_index, tmp_path_factory) -> Iterator[tuple[str, psutil.Process]]:
    """A real server over a private copy whose SQLite holds one undecodable page (Q7 page 1): a genuine 500."""
    tmp = tmp_path_factory.mktemp("chaos-server")
    s = private_copy(tmp, session_settings)
    folder = resolve_current(s.index.dir)
    assert folder is not None
    db = sqlite3.connect(folder / "store.sqlite")
    db.execute("INSERT INTO pages VALUES (?, 1, '1', 0, CAST(X'FFFE80' AS TEXT))", (Q7,))
    db.commit()
    db.close()
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    with running(serve_cmd(port), service_env(s), f"{url}/readyz", tmp / "serve.log", ROOT, stop_timeout=15) as proc:
        yield url, psutil.Process(proc.pid)


class KeepAlive:
    """One HTTP/1.1 connection; fails the test if the server closes or resets it between requests."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.local_port: int | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        self.conn.request(method, path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        response = self.conn.getresponse()
        data = response.read()
        sock = self.conn.sock
        assert sock is not None, f"server closed the connection after {method} {path} -> {response.status}"
        port = sock.getsockname()[1]
        assert self.local_port in (None, port), "the connection was re-opened: the server dropped it"
        self.local_port = port
        return response.status, data


def _bad_bodies(text_field: str) -> list[bytes]:
    q = f'"{text_field}"'
    bodies = [
        f'{{{q}: NaN}}', f'{{{q}: Infinity}}', f'{{{q}: -Infinity}}', f'{{{q}: 1e400}}',
        f'{{{q}: "x", "k": NaN}}', f'{{{q}: "x", "k": Infinity}}', f'{{{q}: "x", "k": 1e400}}',
        f'{{{q}: "x", "mode": NaN}}', f'{{{q}: "x", "filters": {{"doc_ids": [NaN]}}}}',
        f'{{{q}: "x", "filters": {{"issuers": [1e400, -Infinity]}}}}',
        f'{{{q}: "x", "filters": {{"statuses": [NaN]}}}}', f'{{{q}: "x", "filters": NaN}}',
        f'{{{q}: "stab\\ud800ility"}}', f'{{{q}: "\\udfff"}}', '{"\\ud800": "x"}',
        f'{{{q}: "x", "\\ud800": 1}}', f'{{{q}: "x", "filters": {{"\\udc00": []}}}}',
        f'{{{q}: "x", "filters": {{"doc_ids": ["\\ud800"]}}}}', f'{{{q}: "x", "filters": {{"issuers": ["\\ud800"]}}}}',
        f'{{{q}: "x", "filters": {{"statuses": ["\\ud800"]}}}}', f'{{{q}: "x", "mode": "\\ud800"}}',
        f'{{{q}: "x", "k": "5"}}', f'{{{q}: "x", "k": true}}', f'{{{q}: "x", "k": 5.5}}', f'{{{q}: "x", "k": 5.0}}',
        f'{{{q}: "x", "k": {"9" * 5000}}}', "[]", "null", '"x"', "{", '{"a":', "",
    ]
    return [b.encode() for b in bodies] + [b"\xff\xfe\xfd", b"[" * 60_000, b'{"' + b"k" * 60_000 + b'": 1}']


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("path", "text_field"), [("/v1/search", "query"), ("/v1/ask", "question")])
def test_malformed_bodies_on_one_keepalive_connection_then_a_good_request(chaos_server, path, text_field) -> None:
    url, _ = chaos_server
    conn = KeepAlive(url)
    for body in _bad_bodies(text_field):
        status, data = conn.request("POST", path, body)
        assert 400 <= status < 500, (body[:80], status, data[:300])
        detail = json.loads(data)["detail"]  # always valid JSON
        if status == 422:
            assert all(set(d) == {"type", "loc", "msg"} for d in detail), detail  # never the input echoed
        assert len(data) < 4000, "an error never echoes the request"
    status, data = conn.request("POST", path, json.dumps({text_field: "What is a stability-indicating profile?"})
                                .encode())
    assert status == 200, data[:300]
    # Strict counts and single-valued query parameters on the same connection.
    status, data = conn.request("GET", f"/v1/documents/{Q5C}/pages/2")
    assert status == 200 and json.loads(data)["number"] == 2
    chunk = json.loads(conn.request("POST", "/v1/search", b'{"query": "stability", "k": 1}')[1])["results"][0]
    status, data = conn.request("GET", f"/v1/passages/{chunk['chunk_id']}/cite?format=text&format=bibtex")
    assert status == 422 and b"more than once" in data
    status, _ = conn.request("GET", f"/v1/passages/{chunk['chunk_id']}/cite?format=bibtex")
    assert status == 200


@pytest.mark.timeout(120)
def test_an_internal_error_is_a_json_500_and_the_connection_stays_usable(chaos_server) -> None:
    url, _ = chaos_server
    conn = KeepAlive(url)
    for _ in range(3):
        status, data = conn.request("GET", f"/v1/documents/{Q7}/pages/1")  # the undecodable page
        assert status == 500 and json.loads(data) == {"detail": "internal server error"}
        status, data = conn.request("GET", f"/v1/documents/{Q5C}/pages/1")
        assert status == 200 and json.loads(data)["number"] == 1


def _http_status(sock: socket.socket) -> tuple[int, bytes]:
    """Read one response (headers + Content-Length body) from a raw socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), body[:length]


@pytest.mark.timeout(180)
def test_oversized_bodies_are_413_without_buffering_and_the_connection_survives(chaos_server) -> None:
    url, process = chaos_server
    port = int(url.rsplit(":", 1)[1])
    rss_before = process.memory_info().rss
    good = b'{"query": "stability", "k": 1}'
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        # A declared 50 MB body, sent in full: answered 413 at once, the rest read and discarded.
        size = 50 * 2**20
        sock.sendall(b"POST /v1/search HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % size)
        block = b" " * 2**20
        for _ in range(size // len(block)):
            sock.sendall(block)
        status, body = _http_status(sock)
        assert status == 413 and b"limit is 65536 bytes" in body
        # The same connection serves the next request.
        sock.sendall(b"POST /v1/search HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(good), good))
        status, _ = _http_status(sock)
        assert status == 200
        # A chunked body without a declared length, over the limit: counted as it streams.
        sock.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            sock.sendall(b"%x\r\n%s\r\n" % (40_000, b" " * 40_000))
        sock.sendall(b"0\r\n\r\n")
        status, body = _http_status(sock)
        assert status == 413 and b"limit" in body
        sock.sendall(b"POST /v1/search HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(good), good))
        assert _http_status(sock)[0] == 200
    grown = (process.memory_info().rss - rss_before) / 2**20
    assert grown < 30, f"server RSS grew {grown:.0f} MiB for a 50 MB body"


def test_openapi_offers_the_api_key_schemes(chaos_server) -> None:
    url, _ = chaos_server
    spec = httpx.get(f"{url}/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["type"] == "http" and schemes["HTTPBearer"]["scheme"] == "bearer"
    assert schemes["APIKeyHeader"]["in"] == "header" and schemes["APIKeyHeader"]["name"] == "X-API-Key"
    assert {"HTTPBearer": []} in spec["paths"]["/v1/ask"]["post"]["security"]
    assert spec["components"]["schemas"]["AskRequest"]["properties"]["k"]["type"] == "integer"


# ------------------------------------------------------------------ corpus entries, empty corpus, network

def _ingest_cli(s: Settings, *args: str, timeout: float = 240, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**service_env(s), **extra}
    # The timeout turns a hang (a FIFO opened for reading) into a test failure instead of a stuck suite.
    return subprocess.run([ATMP_RAG, "ingest", *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(400)
def test_corpus_entries_that_are_not_regular_files_are_skipped_with_reasons(session_settings, session_index,
                                                                             tmp_path) -> None:
    s = private_copy(tmp_path, session_settings)
    corpus = s.corpus.dir
    os.mkfifo(corpus / "pipe.pdf")
    os.mkfifo(corpus / "ich-q10-pharmaceutical-quality-system-2008.pdf")  # under a catalog name
    (corpus / "folder.pdf").mkdir()
    (corpus / "gone.pdf").symlink_to(corpus / "missing.pdf")
    (corpus / "loop.pdf").symlink_to(corpus / "loop.pdf")
    (corpus / "linked-q5c.pdf").symlink_to(corpus / f"{Q5C}.pdf")  # a link to a regular file: indexed
    before = builds(s.index.dir)

    strict = _ingest_cli(s, "--strict", "--json")
    assert strict.returncode == 1 and "nothing published" in strict.stderr and "pipe.pdf" in strict.stderr
    assert "Traceback" not in strict.stderr and builds(s.index.dir) == before

    done = _ingest_cli(s, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    reasons = {x["file"]: x["reason"] for x in report["skipped"]}
    assert "named pipe" in reasons["pipe.pdf"]
    assert "named pipe" in reasons["ich-q10-pharmaceutical-quality-system-2008.pdf"]
    assert "directory" in reasons["folder.pdf"]
    assert "dangling symbolic link" in reasons["gone.pdf"]
    assert "loop" in reasons["loop.pdf"]
    assert report["documents_indexed"] == 1 and report["uncatalogued"] == ["linked-q5c"]
    assert report["documents_reused"] == 3


def test_a_failed_strict_build_deletes_no_build(session_settings, session_index, embedder, tmp_path) -> None:
    from tests.pdfgen import truncated_pdf

    s = private_copy(tmp_path, session_settings)
    publish_revision(s, 1)  # two builds now: keep_builds=2 must keep both
    before = builds(s.index.dir)
    assert len(before) == 2
    made = tmp_path / "made"
    made.mkdir()
    shutil.copyfile(truncated_pdf(made / "cut.pdf"), s.corpus.dir / "cut.pdf")
    with pytest.raises(ExtractionError, match=r"cut\.pdf"):
        ingest(s, strict=True, show_progress=False, embedder=embedder)
    assert builds(s.index.dir) == before and not list(s.index.dir.glob(".tmp-*"))


def test_page_cap_skips_a_long_pdf_with_its_reason(tmp_path, embedder) -> None:
    s = make_settings(tmp_path, (f"{Q5C}.pdf", "ich-q9-quality-risk-management-2005.pdf"), {"extraction.max_pages": 10})
    report = ingest(s, show_progress=False, embedder=embedder)
    assert report.documents_indexed == 1  # Q5C: 10 pages
    assert [(x.file, x.reason) for x in report.skipped] == [
        ("ich-q9-quality-risk-management-2005.pdf", "23 pages, over the limit of 10 (ATMP_RAG_EXTRACTION__MAX_PAGES)")]


def test_an_empty_corpus_stops_with_one_message_naming_the_ways_to_get_pdfs(tmp_path) -> None:
    s = make_settings(tmp_path, ())
    result = _ingest_cli(s, timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: no PDFs to index in"), result.stderr
    assert str(s.corpus.dir) in lines[0]
    assert "MIRROR=" in lines[0] and "copy PDF files into" in lines[0] and "network access" in lines[0]
    assert not (s.index.dir / "current").exists()


def test_sync_without_network_gives_up_after_the_first_unreachable_url(tmp_path) -> None:
    port = free_tcp_port()  # nobody listens: connection refused, like a machine without network
    docs = [Document(doc_id=f"d{i}", file=f"d{i}.pdf", pdf_url=f"http://127.0.0.1:{port}/d{i}.pdf")
            for i in range(4)]
    started = time.monotonic()
    results = sync_corpus(docs, tmp_path / "corpus", download_missing=True, timeout=5, retries=3)
    assert [r.state.value for r in results] == ["missing"] * 4
    assert results[0].detail.startswith("network unreachable")
    assert all(r.detail.startswith("not downloaded: network unreachable") for r in results[1:])
    assert time.monotonic() - started < 10, "no retries with back-off when the network is unreachable"


@pytest.mark.timeout(60)
def test_sync_never_hashes_or_blocks_on_entries_that_are_not_files(tmp_path) -> None:
    corpus, mirror = tmp_path / "corpus", tmp_path / "mirror"
    corpus.mkdir()
    mirror.mkdir()
    os.mkfifo(corpus / "a.pdf")
    (corpus / "b.pdf").mkdir()
    os.mkfifo(mirror / "c.pdf")  # a FIFO in the mirror is not copied (nor opened)
    docs = [Document(doc_id=x, file=f"{x}.pdf") for x in "abc"]
    results = sync_corpus(docs, corpus, mirror=mirror, download_missing=False)
    assert [r.state.value for r in results] == ["missing", "missing", "manual download"]
    assert "named pipe" in results[0].detail and "directory" in results[1].detail
    assert results[2].detail.startswith("no PDF URL or landing page in catalog")  # the mirror's FIFO was skipped


# ------------------------------------------------------------------ a full disk

PROGRESS_LINE = re.compile(r"^\d\d:\d\d:\d\d (?:extract|encode) ")

_FULL_DISK = """
import sqlite3, sys
import faiss, numpy
where = sys.argv[1]
if where == "numpy":  # vectors.npy: written into /dev/full, which answers every write with ENOSPC
    save = numpy.save
    def full_save(file, arr, *a, **k):
        with open("/dev/full", "wb") as fh:
            save(fh, arr, *a, **k)
    numpy.save = full_save
elif where == "faiss":  # faiss.index: FAISS's own fwrite into /dev/full
    write = faiss.write_index
    faiss.write_index = lambda index, path: write(index, "/dev/full")
elif where == "sqlite":  # store.sqlite: SQLite's own "database or disk is full" (page cap)
    connect = sqlite3.connect
    def small_connect(path, *a, **k):
        conn = connect(path, *a, **k)
        if ".tmp-" in str(path):
            conn.execute("PRAGMA max_page_count = 8")
        return conn
    sqlite3.connect = small_connect
from atmp_rag.cli import app
app(["ingest"], prog_name="atmp-rag")
"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("where", ["numpy", "faiss", "sqlite"])
def test_a_full_disk_is_one_line_and_leaves_no_partial_build(session_settings, session_index, tmp_path,
                                                            where) -> None:
    s = private_copy(tmp_path, session_settings)
    retitle(s.corpus.catalog, 1)  # a new build is needed, every document reused
    current_before = resolve_current(s.index.dir)
    before = builds(s.index.dir)
    result = subprocess.run([sys.executable, "-c", _FULL_DISK, where], env=service_env(s), capture_output=True,
                            text=True, timeout=150)
    assert result.returncode == 1, result.stderr
    # Without a terminal ingest reports progress as plain timestamped lines; the error itself is one line.
    lines = [line for line in result.stderr.splitlines() if line.strip() and not PROGRESS_LINE.match(line)]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: no space left on the device of {s.index.dir.resolve()}: the index needs "
                               "about "), lines[0]
    assert "MiB is free; the partial build was removed" in lines[0]
    assert not list(s.index.dir.glob(".tmp-*")), "the partial build is removed"
    assert resolve_current(s.index.dir) == current_before and builds(s.index.dir) == before


# ------------------------------------------------------------------ ask without an index

@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", [["ask", "What is a stability protocol?"], ["search", "stability"]])
def test_ask_and_search_without_an_index_fail_before_loading_the_model(tmp_path, command) -> None:
    env = {**os.environ, "ATMP_RAG_INDEX__DIR": str(tmp_path / "indexes"),
           # A model that cannot load: reaching for it first would give a different error.
           "ATMP_RAG_EMBEDDING__MODEL": str(tmp_path / "no-such-model")}
    result = subprocess.run([ATMP_RAG, *command], env=env, capture_output=True, text=True, timeout=100)
    assert result.returncode == 1
    assert result.stderr.count("no published index") == 1, result.stderr
    assert "could not be loaded" not in result.stderr and "Traceback" not in result.stderr
