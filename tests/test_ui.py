"""The Streamlit app (ui/) against a real service over the session index: every page, chat, abstention, CLI.

Pages run in `streamlit.testing.v1.AppTest`; the service is a real `atmp-rag serve` subprocess
(`api_service` in conftest), so citations, pages and outlines are compared with what the API returns.
The app is a pure client: it gets no index, corpus or evaluation folder here, only the service's URL,
and a test runs every page in a separate process to show it never imports torch, FAISS or PDFium.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, service_env
from tests.servers import free_tcp_port, wait_http

APP = ROOT / "ui" / "app.py"
Q9 = "ich-q9-quality-risk-management-2005"
ANSWERED = "What are the two primary principles of quality risk management?"
OUT_OF_SCOPE = "What is the maximum daily dose of paracetamol for children with fever?"


@pytest.fixture
def ui_env(api_service: str, session_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the app at the test service, and at nothing else: no index, corpus or evaluation folder of its own.

    Returns the service's evaluation folder (where runs started from the app are saved).
    """
    for name in list(os.environ):
        if name.startswith("ATMP_RAG_") and not name.startswith("ATMP_RAG_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ATMP_RAG_UI__API_URL", api_service)
    # Whatever the app might read locally points at an empty folder: it must not need any of it.
    for name in ("ATMP_RAG_INDEX__DIR", "ATMP_RAG_CORPUS__DIR", "ATMP_RAG_EVAL__DIR"):
        monkeypatch.setenv(name, str(tmp_path / "nothing-here"))
    # Streamlit caches live per process: a previous test's settings or catalog must not leak in.
    st.cache_data.clear()
    st.cache_resource.clear()
    return session_settings.eval.dir


def start(page: str | None = None) -> AppTest:
    """Run the app (optionally switched to a page) and check it raised nothing."""
    at = AppTest.from_file(str(APP), default_timeout=90)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def api_ask(url: str, question: str) -> dict:
    """The service's own answer, with the parameters the Chat page uses by default."""
    body = {"question": question, "k": 5, "mode": "hybrid", "answer_mode": "extractive",
            "filters": {"issuers": [], "doc_ids": [], "statuses": []}}
    response = httpx.post(f"{url}/v1/ask", json=body, timeout=60)
    response.raise_for_status()
    return response.json()


def texts(elements) -> list[str]:
    return [e.value for e in elements]


# ---------------------------------------------------------------- chat

def test_chat_first_visit_offers_examples(ui_env: Path) -> None:
    at = start()
    assert "Ask the guidelines" in texts(at.title)
    examples = [b for b in at.button if b.key and b.key.startswith("example-")]
    assert len(examples) >= 3
    assert at.chat_input[0].key == "question"


def test_chat_answer_cites_the_pages_the_api_cites(ui_env: Path, api_service: str) -> None:
    expected = api_ask(api_service, ANSWERED)
    assert not expected["abstained"] and expected["citations"], "the service should answer this question"

    at = start()
    at.chat_input[0].set_value(ANSWERED).run()
    assert not at.exception, [e.value for e in at.exception]

    labels = [e.label for e in at.expander if e.label.startswith("[")]
    assert len(labels) == len(expected["citations"])
    for label, c in zip(labels, expected["citations"], strict=True):
        assert label.startswith(f"[{c['n']}] ")
        assert f"PDF p. {c['pages'][0]}" in label
        assert c["reference"] in label
    # The answer keeps its [n] markers, and each quote is highlighted inside its passage.
    html = "\n".join(texts(at.markdown))
    assert all(f'<span class="cite-n">[{c["n"]}]</span>' in html for c in expected["citations"])
    first_quote = " ".join(expected["citations"][0]["quote"].split()[:6])
    marks = [m for m in texts(at.markdown) if '<mark class="quote">' in m]
    assert len(marks) == len(expected["citations"])
    assert first_quote in " ".join(marks[0].replace("<br>", " ").split())
    # The quote is shown inside the page text around it, as the service sent it (no second request).
    before = " ".join(expected["excerpts"][0]["before"].split()[-4:])
    assert before and before in " ".join(marks[0].replace("<br>", " ").split())
    # ICH Q9 is superseded in the catalog: the warning must be visible, not only in the citation text.
    assert any("Superseded" in w for w in texts(at.warning))
    # "Cite this": one code block per citation naming the guideline and its printed page.
    first = expected["citations"][0]
    code = texts(at.code)[0]
    assert first["reference"] in code and f"p. {first['page_labels'][0]}" in code
    downloads = at.get("download_button")
    assert len(downloads) == len(expected["citations"]) + 1  # one per citation + "download all"


def test_chat_citation_format_switch_gives_bibtex(ui_env: Path, api_service: str) -> None:
    at = start()
    at.selectbox(key="cite_fmt").set_value("bibtex").run()
    at.chat_input[0].set_value(ANSWERED).run()
    assert not at.exception
    code = texts(at.code)[0]
    assert code.lstrip().startswith("@") and "ICH" in code  # a BibTeX entry, not the text format


def test_chat_abstention_shown_with_related_reading(ui_env: Path, api_service: str) -> None:
    expected = api_ask(api_service, OUT_OF_SCOPE)
    assert expected["abstained"], "the service should abstain on an out-of-scope question"

    at = start()
    at.chat_input[0].set_value(OUT_OF_SCOPE).run()
    assert not at.exception
    assert any("abstained" in i.value.lower() for i in at.info)
    assert not [e for e in at.expander if e.label.startswith("[")]  # no citations claimed
    related = [e.label for e in at.expander]
    assert len(related) == len(expected["related"]) > 0
    first = expected["related"][0]
    assert first["reference"] in related[0]


def test_chat_example_then_clear(ui_env: Path) -> None:
    at = start()
    example = at.button(key="example-1").label
    at.button(key="example-1").click().run()
    assert not at.exception
    assert [m.get("content") for m in at.session_state["messages"]] == [example, None]
    assert at.chat_message[0].markdown[0].value == example
    at.button(key="clear").click().run()
    assert not at.exception
    assert at.session_state["messages"] == []
    assert [b for b in at.button if b.key and b.key.startswith("example-")]


def test_chat_filters_restrict_sources(ui_env: Path) -> None:
    at = start()
    at.multiselect(key="f_docs").set_value(["ich-q5c-stability-biotech-products-1995"]).run()
    at.chat_input[0].set_value("How should stability studies be designed?").run()
    assert not at.exception
    cited = [e.label for e in at.expander if e.label.startswith("[")]
    related = [e.label for e in at.expander if not e.label.startswith("[") and not e.label.startswith("All")]
    assert cited or related
    assert all("ICH Q5C" in label for label in cited + related)


def test_chat_without_superseded_guidelines(ui_env: Path) -> None:
    at = start()
    at.toggle(key="f_superseded").set_value(False).run()
    at.chat_input[0].set_value(ANSWERED).run()
    assert not at.exception
    labels = [e.label for e in at.expander if not e.label.startswith("All")]
    assert labels and not [label for label in labels if "ICH Q9" in label or "SUPERSEDED" in label]


def test_generative_mode_is_offered_only_when_the_service_has_an_llm(ui_env: Path) -> None:
    at = start()
    assert not at.exception
    # The test service has no ATMP_RAG_GENERATION__URL: only the extractive mode can be chosen.
    assert [str(o).lower() for o in at.radio(key="f_answer_mode").options] == ["extractive"]


def test_open_cited_page_in_documents(ui_env: Path, api_service: str) -> None:
    expected = api_ask(api_service, ANSWERED)["citations"][0]
    at = start()
    at.chat_input[0].set_value(ANSWERED).run()
    at.button(key="view-1-1").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Documents" in texts(at.title)
    assert at.session_state["doc_select"] == expected["doc_id"]
    assert at.number_input(key="page_no").value == expected["pages"][0]
    # It lands on the page viewer: the catalog is folded away and the page image, with the quote marked, is shown.
    assert not at.expander[0].proto.expanded
    mark = at.session_state["highlight"]
    assert mark["ranges"] == [(s["start"], s["end"]) for s in expected["spans"] if s["page"] == expected["pages"][0]]
    assert at.image and "marked" in at.image[0].proto.imgs[0].caption


def test_service_down_is_explained(ui_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATMP_RAG_UI__API_URL", f"http://127.0.0.1:{free_tcp_port()}")
    st.cache_resource.clear()
    for page in (None, "views/documents.py", "views/evaluation.py"):
        at = start(page)
        assert any("not reachable" in e.value for e in at.error)


def test_client_sends_api_key_and_reports_errors(session_settings, session_index, embedder, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from atmp_rag.api import create_app
    from atmp_rag.service import Engine
    from ui.client import ApiClient, NotReady, ServiceError, Unauthorized

    keyed = session_settings.replace({"service.api_key": "s3cret"})  # the app is not given the key
    with TestClient(create_app(keyed, Engine(keyed, embedder=embedder))) as http:
        with pytest.raises(Unauthorized, match="ATMP_RAG_API_KEY"):
            ApiClient("http://testserver", None, http=http).documents()
        api = ApiClient("http://testserver", "s3cret", http=http)
        assert {d["doc_id"] for d in api.documents() if d["indexed"]} >= {Q9}
        with pytest.raises(ServiceError) as missing:
            api.document("no-such-guideline")
        assert missing.value.status == 404
        with pytest.raises(ServiceError, match="unknown doc_ids"):
            api.ask("stability", doc_ids=["no-such-guideline"])
    empty = session_settings.replace({"index.dir": tmp_path / "no-index"})
    with TestClient(create_app(empty, Engine(empty, embedder=embedder))) as http, \
            pytest.raises(NotReady, match="atmp-rag ingest"):
        ApiClient("http://testserver", http=http).ready()


# ---------------------------------------------------------------- documents

def test_documents_catalog_outline_and_page(ui_env: Path, api_service: str, session_settings) -> None:
    at = start("views/documents.py")
    catalog = at.dataframe[0].value
    assert {"Index", "Issuer", "Reference", "Title", "Status", "Date", "Pages"} <= set(catalog.columns)
    indexed = catalog[catalog["Index"] == "indexed"]
    assert set(indexed["Reference"]) == {"ICH Q9", "ICH Q5C", "ICH Q1A(R2)"}
    assert (catalog["Index"] == "missing").sum() == len(catalog) - 3

    at.text_input(key="doc_search").set_value("risk management").run()
    assert "ICH Q9" in set(at.dataframe[0].value["Reference"])
    assert len(at.dataframe[0].value) < len(catalog)

    at.selectbox(key="doc_select").set_value(Q9).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Superseded" in w.value for w in at.warning)
    detail = httpx.get(f"{api_service}/v1/documents/{Q9}", timeout=30).json()
    outline = detail["outline"]
    assert len(at.dataframe[1].value) == len(outline)

    at.selectbox(key="outline_pick").set_value(3).run()
    target = outline[3]["first_page"]
    assert at.number_input(key="page_no").value == target
    page = httpx.get(f"{api_service}/v1/documents/{Q9}/pages/{target}", timeout=30).json()
    assert at.code[0].value == page["text"]
    # The service holds the indexed PDF and renders the page; the app has no PDF at all.
    assert page["image"] is True
    assert at.image, [i.value for i in at.info]

    at.button(key="next_page").click().run()
    assert at.number_input(key="page_no").value == target + 1


def test_documents_not_indexed_document(ui_env: Path) -> None:
    at = start("views/documents.py")
    at.selectbox(key="doc_select").set_value("ema-cat-80183-2014").run()
    assert not at.exception
    assert any("not indexed" in i.value for i in at.info)


# ---------------------------------------------------------------- evaluation

@pytest.mark.timeout(900)
def test_evaluation_runs_on_the_service_with_progress_then_show_compare_download(ui_env: Path,
                                                                                  session_settings) -> None:
    from tests.fakes import write_tiny_beir

    runs_dir = ui_env / "runs"
    write_tiny_beir(session_settings.eval.benchmarks_dir)  # a dataset the service has, not the app
    at = start("views/evaluation.py")
    assert any("No saved runs" in i.value for i in at.info)
    assert at.selectbox(key="ev_dataset").options == ["Regulatory questions (gold pages)", "BEIR: tiny"]

    at.multiselect(key="ev_modes").set_value(["bm25", "hybrid"])
    at.number_input(key="ev_limit").set_value(6)
    at.button(key="ev_run").click().run(timeout=600)
    assert not at.exception, [e.value for e in at.exception]
    assert at.success, [e.value for e in at.error]
    runs = sorted(runs_dir.iterdir())  # saved by the service, in its own evaluation folder
    assert len(runs) == 1 and (runs[0] / "result.json").is_file() and (runs[0] / "report.md").is_file()
    saved = json.loads((runs[0] / "result.json").read_text())

    metrics = at.dataframe[0].value
    assert list(metrics.columns) == ["bm25", "hybrid"]
    assert metrics.loc["ndcg@10", "bm25"] == pytest.approx(saved["results"]["bm25"]["metrics"]["ndcg@10"], abs=1e-4)
    assert "quotes_dropped" in metrics.index and metrics.loc["quotes_dropped", "bm25"] == 0
    # Misses: gold pages against retrieved pages, one row per missed answerable question.
    missed = [q for q in saved["results"]["bm25"]["queries"] if q["answerable"] and q["page_hit"] is False]
    if missed:
        table = at.dataframe[1].value
        assert list(table["id"]) == [q["qid"] for q in missed]
        assert {"gold", "retrieved (top 5)"} <= set(table.columns)
    assert {d.label for d in at.get("download_button")} == {"result.json", "report.md"}

    # A second saved run is offered for comparison and shows up in the comparison table.
    shutil.copytree(runs[0], runs[0].with_name("20000101T000000Z-regulatory"))
    at = start("views/evaluation.py")
    assert len(at.selectbox(key="ev_show").options) == 2
    at.multiselect(key="ev_compare").set_value(at.multiselect(key="ev_compare").options[:1]).run()
    compare = at.dataframe[-1].value
    assert len(compare) == 4  # two runs x two modes

    # BEIR: BM25 on the tiny dataset finds both gold records first.
    at.selectbox(key="ev_dataset").set_value("tiny")
    at.multiselect(key="ev_modes").set_value(["bm25"])
    at.button(key="ev_run").click().run(timeout=300)
    assert not at.exception, [e.value for e in at.exception]
    assert at.dataframe[0].value.loc["mrr@10", "bm25"] == pytest.approx(1.0)


# ---------------------------------------------------------------- a pure client

#: What a UI process must never load: models, indexes, PDF engines.
HEAVY = ("torch", "sentence_transformers", "transformers", "faiss", "pypdfium2", "pypdf", "bm25s", "sklearn", "ranx")

_EVERY_PAGE = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
at.chat_input[0].set_value(sys.argv[2]).run()
at.selectbox(key="cite_fmt").set_value("ris").run()
at.button(key="basket-1-1").click().run()  # into the basket, exported below
at.button(key="view-1-1").click().run()  # Documents, with the page image and the quote marked
shown = {"image": len(at.image), "title": [t.value for t in at.title]}
at.switch_page("views/evaluation.py").run()
at.switch_page("views/basket.py").run()
at.button(key="export-docx").click().run()
shown["export"] = [b.proto.label for b in at.get("download_button")]
print(json.dumps({"heavy": [m for m in json.loads(sys.argv[3]) if m in sys.modules], "shown": shown,
                  "exceptions": [str(e.value) for e in at.exception],
                  "ours": sorted(m for m in sys.modules if m.startswith("atmp_rag"))}))
"""


@pytest.mark.timeout(300)
def test_the_app_is_a_pure_client_that_never_imports_models_indexes_or_pdfs(api_service: str,
                                                                          tmp_path: Path) -> None:
    # A process of its own, started in an empty folder, knowing only the service's URL.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATMP_RAG_")}
    env["ATMP_RAG_UI__API_URL"] = api_service
    out = subprocess.run([sys.executable, "-c", _EVERY_PAGE, str(APP), ANSWERED, json.dumps(HEAVY)], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=280)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["exceptions"] == []
    # Every page ran, the page image and a DOCX export of the basket included.
    assert report["shown"] == {"image": 1, "title": ["Documents"], "export": ["Download Guideline-quotations.docx"]}
    assert report["heavy"] == [], f"the UI process imported {report['heavy']}"
    assert set(report["ours"]) <= {"atmp_rag", "atmp_rag.config", "atmp_rag.models"}, report["ours"]
    assert list(tmp_path.iterdir()) == []  # and wrote nothing where it ran


# ---------------------------------------------------------------- pure rendering helpers

def test_highlight_survives_pdf_line_breaks_and_escapes_html() -> None:
    from ui.common import answer_html, excerpt_html, page_phrase

    excerpt = {"n": 1, "before": "1. Scope\n", "quote": "The <b>risk</b> to quality should be\nbased on scientific "
               "knowledge.", "after": " Next sentence."}
    html = excerpt_html(excerpt, excerpt["quote"])
    quote = "The &lt;b&gt;risk&lt;/b&gt; to quality should be based on scientific knowledge."
    assert f'<mark class="quote">{quote}</mark>' in html
    assert html.index("Scope") < html.index("<mark") < html.index("Next sentence")
    assert "\n" not in html  # one physical line, so Markdown never re-parses part of it
    assert "<mark" not in excerpt_html(None, "a quote without surroundings")
    assert answer_html("A [1] B [2]").count('class="cite-n"') == 2
    assert page_phrase(["7"], [13]) == "p. 7 (PDF p. 13)"
    assert page_phrase(["3", "4"], [9, 10]) == "p. 3–4 (PDF p. 9–10)"


# ---------------------------------------------------------------- CLI: up

@pytest.mark.timeout(300)
def test_up_starts_service_and_ui_and_stops_both_on_sigint(session_settings, session_index) -> None:
    import threading

    import psutil

    api_port, ui_port = free_tcp_port(), free_tcp_port()
    proc = subprocess.Popen([str(Path(sys.executable).with_name("atmp-rag")), "up", "--port", str(api_port),
                             "--ui-port", str(ui_port)], env=service_env(session_settings), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    announced = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C stops both" in line:
                announced.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_http(f"http://127.0.0.1:{api_port}/readyz", 180, proc)
        wait_http(f"http://127.0.0.1:{ui_port}/_stcore/health", 60, proc)
        # `up` announces the URLs once its own health checks pass, which may be a moment after ours.
        assert announced.wait(60), "".join(lines)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 2
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines)
    assert proc.returncode == 0, out
    assert f"http://127.0.0.1:{api_port}" in out and f"http://127.0.0.1:{ui_port}" in out
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
