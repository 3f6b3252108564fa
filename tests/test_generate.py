"""Generative mode against a real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol.

The server is scripted (canned replies, one per request) so that every branch of the client is hit
for real over TCP: a grounded reply, a reply citing a passage that was never given ([9]), a reply
without markers, an HTTP error, a malformed body and a reply that arrives after the timeout.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from atmp_rag.answer import Answerer, verify_quote
from atmp_rag.generate import Generator, chat_url, reply_sentences
from atmp_rag.service import Engine

QUESTION = "On how many batches should stability data be provided for a biotechnological drug product?"


@dataclass
class Script:
    """Replies to serve in order and the requests received."""

    replies: list[tuple[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _completion(content: str) -> bytes:
    return json.dumps({
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()), "model": "scripted",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }).encode()


@pytest.fixture(scope="module")
def llm() -> Iterator[tuple[str, Script]]:
    """A scripted OpenAI-compatible server on a free loopback port; yields (base URL, script)."""
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            script.requests.append(json.loads(self.rfile.read(length)))
            script.headers.append(dict(self.headers))
            script.paths.append(self.path)
            kind, value = script.replies.pop(0) if script.replies else ("status", 503)
            if kind == "sleep":
                time.sleep(value)
                kind, value = "text", "Too late [1]."
            if kind == "status":
                self.send_response(value)
                self.end_headers()
                return
            body = _completion(value) if kind == "text" else value
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)  # the client may have given up (timeout test)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", script
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def engine(session_settings, session_index, embedder, llm) -> Engine:
    url, _ = llm
    s = session_settings.replace({"generation.url": url, "generation.timeout": 1.0, "generation.api_key": "sekret",
                                            "generation.model": "smol"})
    e = Engine(s, embedder)
    assert e.start()
    return e


@pytest.fixture()
def script(llm) -> Script:
    _, s = llm
    s.replies.clear()
    s.requests.clear()
    s.headers.clear()
    s.paths.clear()
    return s


def _check_citations(answer, engine: Engine) -> None:
    store = engine.current().store
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert c.verified and verify_quote(store, c.doc_id, c.pages, c.quote)
        assert f"[{c.n}]" in answer.answer


def test_chat_url_accepts_base_v1_or_full_endpoint() -> None:
    assert chat_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/v1/chat/completions"
    assert chat_url("http://127.0.0.1:11434/v1/") == "http://127.0.0.1:11434/v1/chat/completions"
    assert chat_url("http://h/v1/chat/completions") == "http://h/v1/chat/completions"


def test_reply_sentences_keep_markers_with_their_sentence() -> None:
    assert reply_sentences("Use three batches. [1] Store them\ninverted [2]. Also e.g. vials. [1][3]") == [
        "Use three batches [1].", "Store them inverted [2].", "Also e.g. vials [1][3]."]


def test_grounded_reply_becomes_generative_answer_with_verified_quotes(engine, script) -> None:
    script.replies.append(("text", "Stability data should cover at least three batches of final container "
                                   "product [2]. Data from pilot-plant scale batches may be provided [3]. "))
    a = engine.ask(QUESTION, answer_mode="generative")
    assert a.mode == "generative" and not a.abstained
    assert 1 <= len(a.citations) <= 2
    _check_citations(a, engine)
    # The request was a real chat completion with our model name, passages and key.
    body = script.requests[0]
    assert script.paths == ["/v1/chat/completions"]
    assert body["model"] == "smol" and body["messages"][0]["role"] == "system"
    assert "[1] ICH" in body["messages"][1]["content"] and QUESTION in body["messages"][1]["content"]
    assert script.headers[0].get("Authorization") == "Bearer sekret"


def test_bogus_marker_sentence_is_dropped_and_flagged(engine, script) -> None:
    script.replies.append(("text", "Stability data should be provided on at least 3 batches [1]. "
                                   "Gene therapy vectors need ten batches [9]."))
    a = engine.ask(QUESTION, answer_mode="generative")
    assert a.mode == "generative"
    assert "ten batches" not in a.answer and "[9]" not in a.answer
    assert any("[9]" in w and "not one of the" in w for w in a.warnings)
    assert len(a.citations) == 1
    _check_citations(a, engine)


def test_reply_with_only_bogus_or_unmarked_sentences_falls_back(engine, script) -> None:
    script.replies.append(("text", "All products need twelve batches [7]. This is always true."))
    a = engine.ask(QUESTION, answer_mode="generative")
    assert a.mode == "extractive" and a.citations
    assert any("no sentence grounded" in w for w in a.warnings)
    _check_citations(a, engine)


def test_not_covered_reply_falls_back_to_extractive(engine, script) -> None:
    script.replies.append(("text", "NOT COVERED"))
    a = engine.ask(QUESTION, answer_mode="generative")
    assert a.mode == "extractive" and a.citations


def test_timeout_falls_back_to_extractive(engine, script) -> None:
    script.replies.append(("sleep", 2.5))
    started = time.perf_counter()
    a = engine.ask(QUESTION, answer_mode="generative")
    assert time.perf_counter() - started < 2.4
    assert a.mode == "extractive" and a.citations
    assert any("did not answer within 1 s" in w for w in a.warnings)
    _check_citations(a, engine)


@pytest.mark.parametrize(("reply", "message"), [
    (("status", 500), "HTTP 500"),
    (("raw", b'{"choices": []}'), "not a chat completion"),
    (("raw", b"<html>gateway</html>"), "not a chat completion"),
])
def test_server_errors_fall_back_to_extractive(engine, script, reply, message) -> None:
    script.replies.append(reply)
    a = engine.ask(QUESTION, answer_mode="generative")
    assert a.mode == "extractive" and a.citations
    assert any(message in w for w in a.warnings)


def test_unreachable_endpoint_falls_back(session_settings, store, embedder) -> None:
    from atmp_rag.retrieve import Retriever

    s = session_settings.replace({"generation.url": "http://127.0.0.1:9/v1", "generation.timeout": 1.0})
    answerer = Answerer(store, s, embedder)
    passages = Retriever(store, embedder, s).search(QUESTION, k=5)
    extractive = answerer.answer(QUESTION, passages)
    a = Generator(s).generate(QUESTION, passages, extractive, answerer)
    assert a.mode == "extractive" and any("unreachable" in w for w in a.warnings)


def test_abstention_does_not_call_the_llm(engine, script) -> None:
    a = engine.ask("How do I resolve a merge conflict in git?", answer_mode="generative")
    assert a.abstained and script.requests == []


def test_api_generative_mode_over_http(engine, script) -> None:
    from fastapi.testclient import TestClient

    from atmp_rag.api import create_app

    script.replies.append(("text", "At least three batches of final container product should be tested [1]."))
    with TestClient(create_app(engine.settings, engine)) as client:
        r = client.post("/v1/ask", json={"question": QUESTION, "answer_mode": "generative"})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["mode"] == "generative" and data["citations"] and all(c["verified"] for c in data["citations"])
