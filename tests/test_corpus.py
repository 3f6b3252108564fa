"""Corpus sync against a real HTTP server on 127.0.0.1 started by the tests.

The server serves a PDF, a redirect chain, a 404, an HTML landing page where a PDF was expected, a
slow first answer, a 503, a PDF of another edition and a transfer cut halfway; every case checks
what is installed (nothing half-written) and what the user is told. The CLI is run as a real
process whose proxies point at a local listener that counts connections, to show that with a mirror
or offline nothing leaves the machine.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from atmp_rag.corpus import SyncState, download, load_catalog, sync_corpus
from atmp_rag.models import Document
from tests.fakes import CATALOG_FIELDS
from tests.pdfgen import ema_like_pdf, plain_pdf

ATMP_RAG = str(Path(sys.executable).with_name("atmp-rag"))
LANDING = b"<!DOCTYPE html><html><head><title>Guideline</title></head><body>" + b"Download the PDF here. " * 80 + \
    b"</body></html>"


class Pdfs:
    """Two real PDFs (generated): the edition the catalog names, and another one."""

    def __init__(self, folder: Path) -> None:
        self.good = ema_like_pdf(folder / "good.pdf").read_bytes()
        self.other = plain_pdf(folder / "other.pdf", [["1. Scope", "Another edition of the same guideline."]]) \
            .read_bytes()
        self.good_sha = hashlib.sha256(self.good).hexdigest()


class Server(ThreadingHTTPServer):
    """The test server: routes in `Handler`, request counts per path in `hits`."""

    daemon_threads = True

    def __init__(self, pdfs: Pdfs) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.pdfs = pdfs
        self.hits: Counter[str] = Counter()
        self.slow_first = 2  # requests to /slow.pdf that stall before a good answer

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that timed out closes its end: the server's late write fails, as it would in the wild.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args: object) -> None:  # keep the test output clean
        return

    def _send(self, status: int, body: bytes, ctype: str = "application/pdf", headers: dict[str, str] | None = None,
              cut: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if cut:  # half the body, then the connection drops: a download interrupted halfway
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.server.hits[path] += 1
        n = self.server.hits[path]
        pdfs = self.server.pdfs
        if path == "/pdf/good.pdf":
            self._send(200, pdfs.good)
        elif path.startswith("/redirect/"):
            left = int(path.rsplit("/", 1)[1])
            target = "/pdf/good.pdf" if left <= 1 else f"/redirect/{left - 1}"
            self._send(302, b"", "text/plain", {"Location": target})
        elif path == "/missing.pdf":
            self._send(404, b"not found", "text/plain")
        elif path == "/landing.pdf":
            self._send(200, LANDING, "text/html; charset=utf-8")
        elif path == "/slow.pdf":
            if n <= self.server.slow_first:
                time.sleep(1.5)  # longer than the client's timeout
            self._send(200, pdfs.good)
        elif path == "/busy.pdf":
            if n == 1:
                self._send(503, b"try later", "text/plain")
            else:
                self._send(200, pdfs.good)
        elif path == "/other.pdf":
            self._send(200, pdfs.other)
        elif path == "/cut.pdf":
            self._send(200, pdfs.good, cut=True)
        else:
            self._send(404, b"no route", "text/plain")


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> Pdfs:
    return Pdfs(tmp_path_factory.mktemp("pdfs"))


@pytest.fixture
def server(pdfs: Pdfs) -> Iterator[Server]:
    srv = Server(pdfs)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def doc(url: str, sha: str = "", doc_id: str = "g") -> Document:
    return Document(doc_id=doc_id, file=f"{doc_id}.pdf", pdf_url=url, sha256=sha, landing_url="https://example.org/g")


def leftovers(folder: Path) -> list[str]:
    """Temp files a download may leave behind (none allowed)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


# ------------------------------------------------------------------ one download

def test_a_pdf_behind_a_redirect_chain_is_installed(server: Server, pdfs: Pdfs, tmp_path: Path) -> None:
    [r] = sync_corpus([doc(f"{server.url}/redirect/3", pdfs.good_sha)], tmp_path, timeout=5, retries=3)
    assert r.state is SyncState.downloaded, r
    assert r.detail == f"{server.url}/pdf/good.pdf"  # the final URL after three redirects
    assert (tmp_path / "g.pdf").read_bytes() == pdfs.good
    assert server.hits["/redirect/3"] == server.hits["/redirect/1"] == server.hits["/pdf/good.pdf"] == 1
    assert leftovers(tmp_path) == []


def test_a_404_is_reported_and_not_retried(server: Server, tmp_path: Path) -> None:
    [r] = sync_corpus([doc(f"{server.url}/missing.pdf")], tmp_path, timeout=5, retries=3, backoff=0.05)
    assert r.state is SyncState.failed and "HTTP 404" in r.detail
    assert server.hits["/missing.pdf"] == 1
    assert not (tmp_path / "g.pdf").exists() and leftovers(tmp_path) == []


def test_an_html_landing_page_is_refused_with_a_reason(server: Server, tmp_path: Path) -> None:
    [r] = sync_corpus([doc(f"{server.url}/landing.pdf")], tmp_path, timeout=5, retries=3, backoff=0.05)
    assert r.state is SyncState.not_pdf
    assert "HTML page (text/html)" in r.detail and "landing page" in r.detail
    assert f"download by hand from {server.url}/landing.pdf" in r.detail
    assert server.hits["/landing.pdf"] == 1  # refusing is not a reason to ask again
    assert not (tmp_path / "g.pdf").exists() and leftovers(tmp_path) == []


def test_a_slow_server_times_out_and_the_download_is_retried(server: Server, pdfs: Pdfs, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="atmp_rag.corpus")
    started = time.monotonic()
    [r] = sync_corpus([doc(f"{server.url}/slow.pdf", pdfs.good_sha)], tmp_path, timeout=0.5, retries=3,
                      backoff=0.05)
    assert r.state is SyncState.downloaded, r
    assert server.hits["/slow.pdf"] == 3  # two timeouts, then the answer
    messages = [rec.getMessage() for rec in caplog.records]
    assert len(messages) == 2 and "(attempt 1/3)" in messages[0] and "(attempt 2/3)" in messages[1], messages
    assert time.monotonic() - started < 10
    assert (tmp_path / "g.pdf").read_bytes() == pdfs.good and leftovers(tmp_path) == []


def test_a_503_is_retried(server: Server, pdfs: Pdfs, tmp_path: Path) -> None:
    [r] = sync_corpus([doc(f"{server.url}/busy.pdf", pdfs.good_sha)], tmp_path, timeout=5, retries=3, backoff=0.05)
    assert r.state is SyncState.downloaded and server.hits["/busy.pdf"] == 2


def test_a_timeout_on_every_attempt_fails_after_the_retries(server: Server, tmp_path: Path) -> None:
    server.slow_first = 10
    [r] = sync_corpus([doc(f"{server.url}/slow.pdf")], tmp_path, timeout=0.3, retries=2, backoff=0.05)
    assert r.state is SyncState.failed and r.detail.startswith("download failed after 2 attempts")
    assert server.hits["/slow.pdf"] == 2
    assert not (tmp_path / "g.pdf").exists() and leftovers(tmp_path) == []


def test_a_sha256_mismatch_is_not_installed(server: Server, pdfs: Pdfs, tmp_path: Path) -> None:
    [r] = sync_corpus([doc(f"{server.url}/other.pdf", pdfs.good_sha)], tmp_path, timeout=5, retries=3)
    assert r.state is SyncState.hash_mismatch and "not installed" in r.detail
    assert not (tmp_path / "g.pdf").exists() and leftovers(tmp_path) == []


def test_a_download_interrupted_halfway_leaves_no_partial_file(server: Server, tmp_path: Path) -> None:
    [r] = sync_corpus([doc(f"{server.url}/cut.pdf")], tmp_path, timeout=5, retries=3, backoff=0.05)
    assert r.state is SyncState.failed and "after 3 attempts" in r.detail
    assert server.hits["/cut.pdf"] == 3  # a broken transfer is worth another try
    assert not (tmp_path / "g.pdf").exists() and leftovers(tmp_path) == []


def test_download_refuses_to_keep_a_partial_file_even_when_called_directly(server: Server, tmp_path: Path) -> None:
    with pytest.raises(OSError, match="after 1 attempts"):
        download(f"{server.url}/cut.pdf", tmp_path / "x.pdf", timeout=5, retries=1)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ the CLI, the catalog, the network

def write_catalog(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CATALOG_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({f: row.get(f, "") for f in CATALOG_FIELDS})
    return path


class ConnectionCounter:
    """A TCP listener standing in for a proxy: it counts connections and closes each one at once."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.count = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.count += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def offline_world(tmp_path: Path, pdfs: Pdfs) -> Iterator[tuple[dict[str, str], ConnectionCounter, Path]]:
    """A catalog of three documents (one in the mirror, one with only a PDF URL, one with only a landing page),
    a mirror folder, and an environment whose every proxy is the connection counter."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "in-mirror.pdf").write_bytes(pdfs.good)
    catalog = write_catalog(tmp_path / "catalog.csv", [
        {"id": "in-mirror", "issuer": "EMA", "reference": "EMA/1", "title": "In the mirror", "file": "in-mirror.pdf",
         "pdf_url": "http://downloads.invalid/in-mirror.pdf", "sha256": pdfs.good_sha},
        {"id": "url-only", "issuer": "EMA", "reference": "EMA/2", "title": "Only a PDF URL", "file": "url-only.pdf",
         "pdf_url": "http://downloads.invalid/url-only.pdf"},
        {"id": "landing-only", "issuer": "EC", "reference": "C(2019) 7140", "title": "Only a landing page",
         "landing_url": "https://ec.example.invalid/gmp-atmp"},
    ])
    counter = ConnectionCounter()
    env = {**os.environ, "ATMP_RAG_CORPUS__CATALOG": str(catalog), "ATMP_RAG_CORPUS__DIR": str(tmp_path / "pdf"),
           "ATMP_RAG_CORPUS__DOWNLOAD_RETRIES": "1"}
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env[name] = counter.url
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    try:
        yield env, counter, mirror
    finally:
        counter.close()


def sync_cli(env: dict[str, str], *args: str) -> list[dict[str, str]]:
    out = subprocess.run([ATMP_RAG, "corpus", "sync", "--json", *args], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_with_a_mirror_nothing_leaves_the_machine(offline_world) -> None:
    env, counter, mirror = offline_world
    rows = {r["doc_id"]: r for r in sync_cli(env, "--mirror", str(mirror))}
    assert rows["in-mirror"]["state"] == "copied"
    assert rows["url-only"]["state"] == "missing"
    assert rows["url-only"]["detail"].startswith(f"not in the mirror {mirror}; not downloaded")
    assert rows["landing-only"]["state"] == "manual download"
    assert rows["landing-only"]["detail"].startswith(
        "no PDF URL in catalog — download by hand from https://ec.example.invalid/gmp-atmp and save it as ")
    time.sleep(0.3)  # let the listener see any late connection
    assert counter.count == 0, "a download was attempted although a mirror was given"


def test_offline_mode_attempts_no_download(offline_world) -> None:
    env, counter, _ = offline_world
    rows = {r["doc_id"]: r for r in sync_cli({**env, "ATMP_RAG_CORPUS__OFFLINE": "1"})}
    assert rows["url-only"]["state"] == rows["in-mirror"]["state"] == "missing"
    assert rows["url-only"]["detail"] == ("downloads are off (offline mode or --no-download); not downloaded — its PDF "
                                          "is at http://downloads.invalid/url-only.pdf")
    time.sleep(0.3)
    assert counter.count == 0


def test_the_connection_counter_does_see_a_download_attempt(offline_world) -> None:
    # The control: without a mirror and online, sync does try the network (through the counting proxy).
    env, counter, _ = offline_world
    rows = {r["doc_id"]: r for r in sync_cli(env)}
    assert rows["url-only"]["state"] in ("missing", "download failed")
    assert counter.count >= 1


def test_corpus_list_says_how_to_get_each_missing_document(offline_world) -> None:
    env, _, _ = offline_world
    out = subprocess.run([ATMP_RAG, "corpus", "list", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    rows = {r["doc_id"]: r for r in json.loads(out.stdout)}
    assert rows["url-only"]["get"] == "download: http://downloads.invalid/url-only.pdf"
    assert rows["landing-only"]["get"].startswith("manual download: no PDF URL in catalog — download by hand from "
                                                 "https://ec.example.invalid/gmp-atmp")
    assert rows["landing-only"]["file"] == "landing-only.pdf"  # a row without a file name still names one


def test_the_sync_table_is_not_cut_to_80_columns_in_a_log(offline_world) -> None:
    env, _, mirror = offline_world
    out = subprocess.run([ATMP_RAG, "corpus", "sync", "--mirror", str(mirror)], env={**env, "COLUMNS": "80"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "download by hand from https://ec.example.invalid/gmp-atmp and save it as" in out.stdout
    assert "1 copied, 1 manual download, 1 missing" in out.stdout


def test_every_catalog_row_names_a_file_and_rows_without_urls_say_where_to_look(tmp_path: Path) -> None:
    from tests.conftest import CATALOG

    docs = load_catalog(CATALOG)
    assert all(d.file for d in docs)
    bare = next(d for d in docs if not d.pdf_url and not d.landing_url)
    [r] = sync_corpus([bare], tmp_path, download_missing=True)
    assert r.state is SyncState.manual
    assert r.detail.startswith("no PDF URL or landing page in catalog — find ") and bare.reference in r.detail
    assert r.detail.endswith(f"save it as {tmp_path / bare.file}")
