"""The HTTP API: every route and error path, API key, CORS, hot index reload, a real uvicorn, a schema fuzz."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from atmp_rag.api import create_app
from atmp_rag.service import Engine
from atmp_rag.store import publish

Q5C = "ich-q5c-stability-biotech-products-1995"
Q9 = "ich-q9-quality-risk-management-2005"


@pytest.fixture(scope="module")
def engine(session_settings, session_index, embedder) -> Engine:
    e = Engine(session_settings, embedder)
    assert e.start()
    return e


@pytest.fixture(scope="module")
def client(engine) -> Iterator[TestClient]:
    with TestClient(create_app(engine.settings, engine)) as c:
        yield c


@pytest.fixture(scope="module")
def chunk_id(store) -> str:
    return next(c.chunk_id for c in store.chunks if c.doc_id == Q5C and len(c.text) > 300)


# ------------------------------------------------------------------ health

def test_healthz_and_readyz(client, store) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    r = client.get("/readyz")
    assert r.status_code == 200
    data = r.json()
    assert data["status"] == "ready" and data["chunks"] == len(store.chunks) and data["documents"] == 3
    assert data["index"] == store.manifest["name"] and data["built_at"] == store.manifest["built_at"]
    assert data["generative"] is False  # no ATMP_RAG_GENERATION__URL in the test settings


def test_readyz_says_when_generative_mode_is_available(engine) -> None:
    s = engine.settings.replace({"generation.url": "http://127.0.0.1:9/v1"})
    with TestClient(create_app(s, engine)) as c:
        assert c.get("/readyz").json()["generative"] is True


def test_openapi_and_docs(client) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/search", "/v1/ask", "/v1/documents", "/v1/documents/{doc_id}", "/v1/documents/{doc_id}/pages/{n}",
            "/v1/passages/{chunk_id}", "/v1/passages/{chunk_id}/cite", "/healthz", "/readyz"} <= set(spec["paths"])
    assert client.get("/docs").status_code == 200
    # The key's schemes are in the spec, so /docs offers "Authorize" for the Bearer token and X-API-Key.
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}


# ------------------------------------------------------------------ search

@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_search_modes(client, mode: str) -> None:
    r = client.post("/v1/search", json={"query": "photostability testing of drug products", "k": 4, "mode": mode})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["mode"] == mode and data["k"] == 4 and 1 <= len(data["results"]) <= 4
    hit = data["results"][0]
    assert hit["rank"] == 1 and hit["pages"] and hit["text"] and hit["chunk_id"]
    assert {"doc_id", "file", "title", "issuer", "reference", "status", "section", "page_labels", "url",
            "score", "spans"} <= set(hit)


def test_search_filters(client) -> None:
    r = client.post("/v1/search", json={"query": "stability", "k": 10, "filters": {"doc_ids": [Q5C]}})
    assert r.status_code == 200 and {h["doc_id"] for h in r.json()["results"]} == {Q5C}
    r = client.post("/v1/search", json={"query": "risk", "filters": {"statuses": ["superseded"], "issuers": ["ICH"]}})
    assert r.status_code == 200 and {h["status"] for h in r.json()["results"]} == {"superseded"}
    r = client.post("/v1/search", json={"query": "risk", "filters": {"statuses": ["draft"]}})
    assert r.status_code == 200 and r.json()["results"] == []


def test_search_unknown_filter_values_are_422_listing_them(client) -> None:
    r = client.post("/v1/search", json={"query": "risk", "filters": {"doc_ids": [Q5C, "nope"],
                                                                      "issuers": ["ICH", "WHO"]}})
    assert r.status_code == 422
    detail = {tuple(d["loc"]): d for d in r.json()["detail"]}
    assert detail[("body", "filters", "doc_ids")]["input"] == ["nope"]
    assert detail[("body", "filters", "issuers")]["input"] == ["WHO"]
    # A catalogued but not indexed document is unknown to this index too.
    r = client.post("/v1/search", json={"query": "risk", "filters": {"doc_ids": ["ich-q7-gmp-api-2000"]}})
    assert r.status_code == 422 and "ich-q7-gmp-api-2000" in r.text
    r = client.post("/v1/search", json={"query": "risk", "filters": {"statuses": ["withdrawn"]}})
    assert r.status_code == 422


@pytest.mark.parametrize("body", [
    {},
    {"query": ""},
    {"query": "   "},
    {"query": "x" * 2001},
    {"query": "ok", "k": 0},
    {"query": "ok", "k": 51},
    {"query": "ok", "mode": "magic"},
    {"query": "ok", "filters": {"colour": ["red"]}},
    {"query": "ok", "extra": 1},
    {"query": 5},
    {"query": "ok", "k": "5"},  # counts are strict integers
    {"query": "ok", "k": True},
    {"query": "ok", "k": 5.0},
])
def test_search_invalid_bodies_are_422_with_field_errors(client, body) -> None:
    r = client.post("/v1/search", json=body)
    assert r.status_code == 422
    # type, loc and msg only: the input is never echoed (it may be huge, NaN or invalid Unicode)
    assert all(set(d) == {"type", "loc", "msg"} for d in r.json()["detail"])


def test_search_malformed_json_is_422(client) -> None:
    r = client.post("/v1/search", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422


# ------------------------------------------------------------------ ask

def test_ask_returns_verified_citations(client, store) -> None:
    r = client.post("/v1/ask", json={"question": "How should potency results of biotechnological products be "
                                                 "expressed in stability studies?", "k": 5})
    assert r.status_code == 200, r.text
    a = r.json()
    assert a["abstained"] is False and a["citations"] and a["mode"] == "extractive"
    assert a["index"] == store.manifest["name"] and len(a["related"]) <= 5
    for c in a["citations"]:
        assert f"[{c['n']}]" in a["answer"]
        # The quote is the stored page text at the offsets it names, on exactly the pages it names.
        at = "\n".join(store.page(c["doc_id"], s["page"]).text[s["start"]:s["end"]] for s in c["spans"])
        assert at == c["quote"] and {s["page"] for s in c["spans"]} <= set(c["pages"])
        assert {"chunk_id", "file", "title", "issuer", "reference", "version", "status", "section", "pages",
                "page_labels", "url"} <= set(c)


def test_ask_abstains_out_of_corpus(client) -> None:
    r = client.post("/v1/ask", json={"question": "What is the recommended dose of CAR-T cells per kilogram?"})
    a = r.json()
    assert r.status_code == 200 and a["abstained"] is True and a["citations"] == []
    assert "do not appear to cover" in a["message"] and a["related"]


def test_ask_warns_about_superseded_documents(client) -> None:
    r = client.post("/v1/ask", json={"question": "What are the steps of the quality risk management process?",
                                     "filters": {"doc_ids": [Q9]}})
    a = r.json()
    assert not a["abstained"] and a["warnings"] and "Superseded" in a["warnings"][0]


def test_ask_generative_without_endpoint_falls_back(client) -> None:
    r = client.post("/v1/ask", json={"question": "What is a stability-indicating profile?",
                                     "answer_mode": "generative"})
    a = r.json()
    assert r.status_code == 200 and a["mode"] == "extractive"
    assert any("not configured" in w for w in a["warnings"])


@pytest.mark.parametrize("body", [
    {"question": ""}, {"question": "q", "k": 99}, {"question": "q", "answer_mode": "poem"},
    {"question": "q", "filters": {"doc_ids": ["nope"]}}, {"question": "q", "query": "the same field twice"},
])
def test_ask_invalid_bodies_are_422(client, body) -> None:
    assert client.post("/v1/ask", json=body).status_code == 422


# ------------------------------------------------------------------ documents, pages, passages, cite

def test_documents_catalog(client, store) -> None:
    r = client.get("/v1/documents")
    assert r.status_code == 200
    docs = {d["doc_id"]: d for d in r.json()["documents"]}
    assert len(docs) == len(store.documents)
    q5c = docs[Q5C]
    assert q5c["indexed"] is True and q5c["pages"] == store.page_count(Q5C)
    assert q5c["chunks"] == sum(1 for c in store.chunks if c.doc_id == Q5C)
    assert docs["ich-q7-gmp-api-2000"]["indexed"] is False and docs["ich-q7-gmp-api-2000"]["chunks"] == 0


def test_document_outline(client, store) -> None:
    r = client.get(f"/v1/documents/{Q5C}")
    assert r.status_code == 200
    data = r.json()
    assert data["document"]["doc_id"] == Q5C
    paths = [tuple(e["section_path"]) for e in data["outline"]]
    assert paths and len(paths) == len(set(paths))
    first_pages = [e["first_page"] for e in data["outline"]]
    assert first_pages == sorted(first_pages)
    assert any("Potency" in e["section"] for e in data["outline"])
    assert client.get("/v1/documents/nope").status_code == 404


def test_page_route(client, store) -> None:
    r = client.get(f"/v1/documents/{Q5C}/pages/4")
    assert r.status_code == 200
    p = r.json()
    assert p["text"] == store.page(Q5C, 4).text and p["label"] == store.labels[(Q5C, 4)] and p["number"] == 4
    assert isinstance(p["is_toc"], bool)
    assert client.get(f"/v1/documents/{Q5C}/pages/999").status_code == 404
    assert client.get("/v1/documents/nope/pages/1").status_code == 404
    assert client.get(f"/v1/documents/{Q5C}/pages/0").status_code == 422
    assert client.get(f"/v1/documents/{Q5C}/pages/abc").status_code == 422


def test_page_url_has_page_fragment_when_the_catalog_has_a_pdf_url(engine, store) -> None:
    from atmp_rag.cite import page_url

    doc = store.documents[Q5C].model_copy(update={"pdf_url": "https://example.org/q5c.pdf#view=FitH"})
    assert page_url(doc, 4) == "https://example.org/q5c.pdf#page=4"


def test_passage_and_cite(client, store, chunk_id) -> None:
    r = client.get(f"/v1/passages/{chunk_id}")
    assert r.status_code == 200
    p = r.json()
    assert p["text"] == store.chunk(chunk_id).text and p["pages"] == store.chunk(chunk_id).pages
    assert client.get("/v1/passages/no-such-chunk").status_code == 404

    expected = {"text": "text/plain", "markdown": "text/markdown", "bibtex": "application/x-bibtex",
                "ris": "application/x-research-info-systems", "csl-json": "application/vnd.citationstyles.csl+json"}
    for fmt, media in expected.items():
        r = client.get(f"/v1/passages/{chunk_id}/cite", params={"format": fmt})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == f"{media}; charset=utf-8" and "Q5C" in r.text
        assert r.headers["content-disposition"].startswith('attachment; filename="ICH_Q5C_p')
        data = client.get(f"/v1/passages/{chunk_id}/cite", params={"format": fmt},
                          headers={"Accept": "application/json"}).json()
        assert data["format"] == fmt and data["media_type"].startswith(media) and data["citation"] == r.text
    [item] = json.loads(client.get(f"/v1/passages/{chunk_id}/cite?format=csl-json").text)
    assert item["number"] == "ICH Q5C"
    assert client.get(f"/v1/passages/{chunk_id}/cite").headers["content-type"].startswith("text/plain")
    assert client.get(f"/v1/passages/{chunk_id}/cite?format=docx").status_code == 422
    r = client.get(f"/v1/passages/{chunk_id}/cite?format=ris&format=bibtex")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "format"]
    assert client.get("/v1/passages/nope/cite?format=ris").status_code == 404


def test_unknown_route_and_method(client) -> None:
    assert client.get("/v1/nothing").status_code == 404
    assert client.get("/v1/search").status_code == 405


def test_request_id_header(client) -> None:
    assert len(client.get("/healthz").headers["x-request-id"]) == 12


# ------------------------------------------------------------------ API key, CORS, 500 handler

def test_api_key_required_when_configured(engine) -> None:
    s = engine.settings.replace({"service.api_key": "s3cret-ключ"})
    with TestClient(create_app(s, engine)) as c:
        assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        r = c.get("/v1/documents")
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert c.post("/v1/search", json={"query": "x"}).status_code == 401
        assert c.get("/v1/documents", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/v1/documents", headers={"X-API-Key": "s3cret"}).status_code == 401
        assert c.get("/v1/documents", headers={"Authorization": "Bearer s3cret-ключ".encode()}).status_code == 200
        assert c.get("/v1/documents", headers={"X-API-Key": "s3cret-ключ".encode()}).status_code == 200
        assert c.get("/v1/documents", headers={"authorization": "bearer s3cret-ключ".encode()}).status_code == 200


def test_api_key_off_by_default(client) -> None:
    assert client.get("/v1/documents").status_code == 200


def test_cors_origins(engine) -> None:
    s = engine.settings.replace({"service.cors_origins": ["http://ui.local:8501"]})
    with TestClient(create_app(s, engine)) as c:
        r = c.options("/v1/search", headers={"Origin": "http://ui.local:8501", "Access-Control-Request-Method": "POST"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://ui.local:8501"
        r = c.options("/v1/search", headers={"Origin": "http://evil.local", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in r.headers


def test_unhandled_errors_are_json_500_without_traceback(engine) -> None:
    app = create_app(engine.settings, engine)

    def boom() -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app.add_api_route("/boom", boom)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500 and r.json() == {"detail": "internal server error"}
    assert "secret" not in r.text and "Traceback" not in r.text


# ------------------------------------------------------------------ not ready, and hot reload

def _copy_build(src: Path, root: Path, name: str) -> Path:
    """Stage a copy of a published index under a new name and publish it (atomic `current` swap)."""
    staged = root / f".tmp-{name}"
    shutil.copytree(src, staged)
    manifest = json.loads((staged / "manifest.json").read_text())
    manifest["name"] = name
    (staged / "manifest.json").write_text(json.dumps(manifest))
    return publish(root, staged, name)


def test_not_ready_then_picks_up_published_index_without_restart(session_settings, session_index, embedder,
                                                                 tmp_path) -> None:
    root = tmp_path / "indexes"
    root.mkdir()
    s = session_settings.replace({"index.dir": root})
    engine = Engine(s, embedder, check_interval=0.0)
    with TestClient(create_app(s, engine)) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "not ready"
        assert c.post("/v1/search", json={"query": "stability"}).status_code == 503
        assert c.get("/v1/documents").status_code == 503

        _copy_build(Path(session_index.index_dir), root, "build-a")
        assert c.get("/readyz").json()["index"] == "build-a"
        before = engine.current()
        r = c.post("/v1/ask", json={"question": "What is a stability-indicating profile?"})
        assert r.status_code == 200 and r.json()["index"] == "build-a"

        _copy_build(Path(session_index.index_dir), root, "build-b")
        assert c.get("/readyz").json()["index"] == "build-b"
        r = c.post("/v1/search", json={"query": "photostability"})
        assert r.status_code == 200 and r.json()["index"] == "build-b"
        # A request that started on build-a keeps a working snapshot of it.
        assert before.name == "build-a" and before.retriever.search("photostability", k=2)
        assert before.store.page(Q5C, 4) is not None

        # A broken build does not replace the working one.
        broken = root / ".tmp-broken"
        broken.mkdir()
        (broken / "manifest.json").write_text("{}")
        publish(root, broken, "build-broken")
        assert c.get("/readyz").json()["index"] == "build-b"
        assert c.post("/v1/search", json={"query": "photostability"}).status_code == 200


def test_reload_is_checked_at_most_once_per_interval(session_settings, session_index, embedder, tmp_path) -> None:
    root = tmp_path / "indexes"
    root.mkdir()
    _copy_build(Path(session_index.index_dir), root, "one")
    engine = Engine(session_settings.replace({"index.dir": root}), embedder, check_interval=3600)
    assert engine.start() and engine.current().name == "one"
    _copy_build(Path(session_index.index_dir), root, "two")
    engine._last_check = time.monotonic()  # within the interval: no readlink, no reload
    assert engine.current().name == "one"
    engine._last_check -= 7200
    assert engine.current().name == "two"


# ------------------------------------------------------------------ schema fuzz

@pytest.fixture(scope="module")
def api_schema(engine, tmp_path_factory: pytest.TempPathFactory):
    # Evaluation runs the fuzzer starts find no question set here and fail at once, instead of running for minutes.
    empty = tmp_path_factory.mktemp("fuzz-eval")
    settings = engine.settings.replace({"eval.dir": empty, "eval.benchmarks_dir": empty})
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(settings, engine))


FUZZED = [("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/v1/search"), ("POST", "/v1/ask"),
          ("GET", "/v1/documents"), ("GET", "/v1/documents/{doc_id}"), ("GET", "/v1/documents/{doc_id}/pages/{n}"),
          ("GET", "/v1/documents/{doc_id}/pages/{n}/image"),
          ("GET", "/v1/passages/{chunk_id}"), ("GET", "/v1/passages/{chunk_id}/cite"), ("POST", "/v1/cite"),
          ("GET", "/v1/eval/datasets"), ("POST", "/v1/eval/runs"), ("GET", "/v1/eval/runs"),
          ("GET", "/v1/eval/runs/{run_id}"), ("GET", "/v1/eval/runs/{run_id}/result"),
          ("GET", "/v1/eval/runs/{run_id}/report"),
          ("GET", "/v1/answers/{answer_id}"), ("POST", "/v1/feedback"), ("GET", "/v1/feedback"),
          ("POST", "/v1/eval/drafts"), ("GET", "/v1/eval/drafts"), ("POST", "/v1/exports"),
          ("PUT", "/v1/baskets/{basket_id}"), ("GET", "/v1/baskets/{basket_id}")]


# Operations without parameters or body have no invalid form: only positive cases for them.
FUZZ_CASES = [(m, p, mode) for m, p in FUZZED for mode in ("positive", "negative")
              if mode == "positive" or p not in ("/healthz", "/readyz", "/v1/documents", "/v1/eval/datasets",
                                                  "/v1/eval/runs") or m == "POST"]


@pytest.mark.parametrize(("method", "path", "mode"), FUZZ_CASES)
def test_fuzz_openapi_no_server_errors(api_schema, chunk_id: str, method: str, path: str, mode: str) -> None:
    """Schemathesis generates valid (positive) and invalid (negative) requests from the schema: never a 5xx."""
    ops = {(r.ok().method.upper(), r.ok().path): r.ok() for r in api_schema.get_all_operations()}
    assert set(FUZZED) == set(ops), "every operation of the schema is fuzzed"
    operation = ops[(method, path)]
    statuses: list[int] = []
    strategy = operation.as_strategy(generation_mode=GenerationMode(mode))
    real = {k: v for k, v in {"doc_id": Q5C, "chunk_id": chunk_id}.items() if f"{{{k}}}" in path}
    if real and mode == "positive":
        # Random ids only reach the 404 branch; real ids let the other parameters be fuzzed too.
        strategy = strategy | operation.as_strategy(generation_mode=GenerationMode(mode), path_parameters=real)

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=strategy)
    def run(case) -> None:
        response = case.call()
        statuses.append(response.status_code)
        assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text[:300])
        if response.status_code == 200 and path == "/v1/ask":
            assert all(c["spans"] and c["quote"] for c in response.json()["citations"])

    run()
    assert statuses
    if real and mode == "positive":
        assert 200 in statuses or "{n}" in path or "{run_id}" in path
    if mode == "negative" and path.startswith("/v1/"):
        assert any(s in (404, 405, 422) for s in statuses)


# ------------------------------------------------------------------ a real server

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_real_uvicorn_serves_over_http(session_settings, session_index, store) -> None:
    port = _free_port()
    env = {**os.environ, "ATMP_RAG_INDEX__DIR": str(session_settings.index.dir),
           "ATMP_RAG_SERVICE__ANSWERS_DB": str(session_settings.service.answers_db),
           "ATMP_RAG_CORPUS__CATALOG": str(session_settings.corpus.catalog), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    exe = Path(sys.executable).with_name("atmp-rag")
    proc = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.3)
        r = httpx.post(f"{base}/v1/ask", json={"question": "How many batches of drug substance are needed for "
                                                           "stability data?"}, timeout=30)
        assert r.status_code == 200
        a = r.json()
        assert not a["abstained"] and a["citations"]
        for c in a["citations"]:
            assert c["verified"] and c["quote"] in "\n".join(store.page(c["doc_id"], p).text for p in c["pages"])
        assert httpx.post(f"{base}/v1/search", json={"query": "x", "k": 0}, timeout=10).status_code == 422
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "path=/v1/ask status=200 ms=" in out  # one structured log line per request


# ------------------------------------------------------------------ follow-up questions (issue 8)

CONVERSATION = (
    "What storage conditions are used for long-term stability testing of a drug substance?",
    "And what if it is intended for storage in a refrigerator?",
    "And in a freezer?",
)


def test_three_turn_conversation_through_the_real_api(api_service, store) -> None:
    """The UI's protocol: each turn sends the earlier questions and the passages their answers cited."""
    history: list[dict[str, object]] = []
    answers = []
    with httpx.Client(base_url=api_service, timeout=60) as http:
        for question in CONVERSATION:
            r = http.post("/v1/ask", json={"question": question, "history": history})
            assert r.status_code == 200, r.text
            a = r.json()
            assert not a["abstained"] and a["question"] == question
            answers.append(a)
            history.append({"question": question, "chunk_ids": [c["chunk_id"] for c in a["citations"]]})
        alone = http.post("/v1/ask", json={"question": CONVERSATION[-1]}).json()
    third = answers[-1]
    # Turns 2 and 3 are follow-ups: searched with the first question's terms, staying with drug *substances*.
    assert answers[0]["retrieval_query"] == ""
    assert "drug substance" in third["retrieval_query"]
    first = third["citations"][0]
    assert first["doc_id"] == "ich-q1a-r2-stability-2003"
    assert first["section"].endswith("Drug substances intended for storage in a freezer"), first["section"]
    assert first["pages"] == [10] and "freezer" in (first["context"] + first["quote"]).lower()
    assert first["quote"] in "\n".join(store.page(first["doc_id"], p).text for p in first["pages"])
    # Asked alone, "And in a freezer?" is not tied to drug substances.
    assert alone["retrieval_query"] == ""
    assert not alone["citations"] or alone["citations"][0]["section"] != first["section"]


def test_history_is_validated(client) -> None:
    too_long = [{"question": "q", "chunk_ids": []}] * 11
    assert client.post("/v1/ask", json={"question": "And in a freezer?", "history": too_long}).status_code == 422
    bad = [{"question": "", "chunk_ids": []}]
    assert client.post("/v1/ask", json={"question": "And in a freezer?", "history": bad}).status_code == 422
    # Unknown chunk ids (an index rebuilt since) are ignored, not an error.
    ok = [{"question": "What storage conditions apply to drug substances?", "chunk_ids": ["no-such:0001"]}]
    r = client.post("/v1/ask", json={"question": "And in a freezer?", "history": ok})
    assert r.status_code == 200 and r.json()["retrieval_query"]


def test_readyz_reports_answer_calibration(client) -> None:
    data = client.get("/readyz").json()
    assert data["answer_calibrated"] is True and data["warnings"] == []
