"""The app's basket, exports, permalinks and feedback against a real HTTP service over the generated index.

The service is the real app (fake encoder, generated PDFs) under uvicorn in a thread, so these run in the
fast tier; the pages run in `streamlit.testing.v1.AppTest` and talk to it over HTTP only.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import docx
import httpx
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from atmp_rag.api import create_app
from atmp_rag.cite import one_line
from tests.servers import free_tcp_port, wait_http

APP = Path(__file__).resolve().parents[1] / "ui" / "app.py"
QUESTION = "What should the risk assessment consider?"
SECOND = "How should the tumorigenic potential of the cell product be assessed?"


@pytest.fixture(scope="module")
def api_url(fake_settings, fake_engine) -> Iterator[str]:
    """The real API app over the generated index, served by uvicorn on a free loopback port."""
    import uvicorn

    port = free_tcp_port()
    server = uvicorn.Server(uvicorn.Config(create_app(fake_settings, fake_engine), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/readyz", 30)
    yield url
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def ui_env(api_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The app knows only the service's URL."""
    point_app_at(api_url, monkeypatch)
    return api_url


def point_app_at(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Forget every ATMP_RAG_ setting but the service's URL, and the app's caches."""
    for name in list(os.environ):
        if name.startswith("ATMP_RAG_") and not name.startswith("ATMP_RAG_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ATMP_RAG_UI__API_URL", url)
    st.cache_data.clear()
    st.cache_resource.clear()


def start(page: str | None = None, **params: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ask(at: AppTest) -> None:
    at.chat_input[0].set_value(QUESTION).run()
    assert not at.exception, [e.value for e in at.exception]


def button(at: AppTest, key: str):
    return at.button(key=key)


def test_add_citations_and_a_whole_answer_to_the_basket_then_reload_reorder_and_export(ui_env: str) -> None:
    at = start()
    ask(at)
    basket_id = at.query_params["basket"]
    assert isinstance(basket_id, str) and len(basket_id) >= 8
    button(at, "basket-1-1").click().run()
    stored = httpx.get(f"{ui_env}/v1/baskets/{basket_id}").json()["items"]
    assert len(stored) == 1 and stored[0]["n"] == 1
    first = httpx.get(f"{ui_env}/v1/answers/{stored[0]['answer_id']}").json()
    # "Add answer to basket" adds every quote of the answer, but none twice.
    button(at, "basket-all-1").click().run()
    assert httpx.get(f"{ui_env}/v1/baskets/{basket_id}").json()["items"] == stored
    at.chat_input[0].set_value(SECOND).run()
    button(at, "basket-all-3").click().run()
    stored = httpx.get(f"{ui_env}/v1/baskets/{basket_id}").json()["items"]
    second = httpx.get(f"{ui_env}/v1/answers/{stored[-1]['answer_id']}").json()
    assert second["question"] == SECOND and len(stored) == 1 + len(second["citations"])
    quotes = {(a["answer_id"], c["n"]): c["quote"] for a in (first, second) for c in a["citations"]}

    # A reload is a new session with the same URL: the basket comes back from the service.
    again = start("views/basket.py", basket=basket_id)
    assert again.query_params["basket"] == basket_id
    labels = [m.value for m in again.markdown if m.value.startswith("**[")]
    assert len(labels) == len(stored) and f"from “{QUESTION}”" in labels[0]
    button(again, "down-0").click().run()
    reordered = httpx.get(f"{ui_env}/v1/baskets/{basket_id}").json()["items"]
    assert reordered[:2] == [stored[1], stored[0]]
    button(again, "export-docx").click().run()
    assert not again.exception, [e.value for e in again.exception]
    download = again.get("download_button")
    assert download and download[0].proto.label.endswith(".docx")
    content = httpx.post(f"{ui_env}/v1/exports", json={"items": reordered, "format": "docx"}).content
    exported = [p.runs[0].text for p in docx.Document(io.BytesIO(content)).paragraphs if p.style.name == "Quote"]
    assert exported == [one_line(quotes[(i["answer_id"], i["n"])]) for i in reordered]

    button(again, "remove-0").click().run()
    assert httpx.get(f"{ui_env}/v1/baskets/{basket_id}").json()["items"] == reordered[1:]


def test_permalink_reopens_the_answer(ui_env: str) -> None:
    asked = httpx.post(f"{ui_env}/v1/ask", json={"question": QUESTION, "k": 5}).json()
    at = start(answer=asked["answer_id"])
    assert QUESTION in [m.value for m in at.markdown]
    labels = [e.label for e in at.expander if e.label.startswith("[")]
    assert len(labels) == len(asked["citations"])
    assert any("reopened from its permalink" in c.value for c in at.caption)
    assert not at.info, "the index has not changed: no note"
    unknown = start(answer="0" * 32)
    assert any("could not be opened" in e.value for e in unknown.error)


def test_thumbs_down_with_comment_then_a_draft_from_the_evaluation_page(ui_env: str) -> None:
    at = start()
    ask(at)
    at.text_input(key="fb-comment-1").set_value("misses the hazard list")
    button(at, "fb-down-1").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("thumbs down was recorded" in c.value for c in at.caption)
    latest = httpx.get(f"{ui_env}/v1/feedback", params={"limit": 1}).json()["feedback"][0]
    assert latest["rating"] == "down" and latest["comment"] == "misses the hazard list"
    assert latest["question"] == QUESTION

    ev = start("views/evaluation.py")
    assert any(QUESTION in str(df.value.to_dict()) for df in ev.dataframe)
    ev.text_input(key="draft_pages").set_value("1-2")
    button(ev, "draft_save").click().run()
    assert not ev.exception, [e.value for e in ev.exception]
    assert any("saved for review" in s.value for s in ev.success)
    draft = httpx.get(f"{ui_env}/v1/eval/drafts").json()["drafts"][0]
    assert draft["question"] == QUESTION and [p["page"] for p in draft["pages"]] == [1, 2]
    ev.text_input(key="draft_pages").set_value("three")
    button(ev, "draft_save").click().run()
    assert any("not a page number" in e.value for e in ev.error)


def test_permalink_notes_when_the_index_has_changed(fake_embedder, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A private generated index under a real uvicorn; a catalog edit publishes a new build; the app says so."""
    import uvicorn

    from atmp_rag.ingest import ingest
    from atmp_rag.service import Engine
    from tests.fakes import generated_settings

    s = generated_settings(tmp_path)
    ingest(s, show_progress=False, embedder=fake_embedder)
    port = free_tcp_port()
    server = uvicorn.Server(uvicorn.Config(create_app(s, Engine(s, embedder=fake_embedder, check_interval=0)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/readyz", 30)
        point_app_at(url, monkeypatch)
        asked = httpx.post(f"{url}/v1/ask", json={"question": QUESTION, "k": 5}).json()
        catalog = s.corpus.catalog.read_text(encoding="utf-8")
        s.corpus.catalog.write_text(catalog.replace("quality of ATMPs", "quality of ATMPs (rev 2)", 1),
                                    encoding="utf-8")
        ingest(s, show_progress=False, embedder=fake_embedder)
        at = start(answer=asked["answer_id"])
        notes = [i.value for i in at.info]
        assert any(asked["index"] in n and "now serves" in n for n in notes), notes
        assert len([e for e in at.expander if e.label.startswith("[")]) == len(asked["citations"])
    finally:
        server.should_exit = True
        thread.join(10)
