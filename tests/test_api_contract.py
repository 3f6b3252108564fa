"""The API a pure client needs, over the generated-PDF index with the fake encoder (fast tier).

One request vocabulary (`question`, `query` as an alias), one passage shape, answers that carry the
page text around each quote, citations served as files (one or many, with media type and file name,
JSON on request), page images with the cited text marked, evaluation runs as jobs, and validation.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import rispy
from fastapi.testclient import TestClient
from PIL import Image

from atmp_rag.api import create_app
from atmp_rag.models import CitationFormat
from atmp_rag.service import Engine
from tests.conftest import FAKE_QUESTION

QUESTION = FAKE_QUESTION


# ------------------------------------------------------------------ one vocabulary, one passage shape

def test_search_takes_question_and_still_accepts_query(fake_client: TestClient) -> None:
    new = fake_client.post("/v1/search", json={"question": "risk control measures", "k": 3})
    old = fake_client.post("/v1/search", json={"query": "risk control measures", "k": 3})
    assert new.status_code == old.status_code == 200
    assert new.json()["results"] == old.json()["results"]
    body = new.json()
    assert body["question"] == body["query"] == "risk control measures"
    hit = body["results"][0]
    assert hit["rank"] == 1 and hit["score"] is not None and hit["spans"] and hit["url"].endswith("#page=3")
    both = fake_client.post("/v1/search", json={"question": "a", "query": "b"})
    assert both.status_code == 422 and both.json()["detail"][0]["loc"] == ["body", "query"]


def test_ask_accepts_query_as_the_old_name_too(fake_client: TestClient) -> None:
    r = fake_client.post("/v1/ask", json={"query": QUESTION, "k": 3})
    assert r.status_code == 200 and r.json()["question"] == QUESTION


def test_a_passage_has_the_same_shape_everywhere(fake_client: TestClient, answer: dict) -> None:
    searched = fake_client.post("/v1/search", json={"question": QUESTION, "k": 3}).json()["results"][0]
    read = fake_client.get(f"/v1/passages/{searched['chunk_id']}").json()
    assert set(read) == set(searched) == set(answer["related"][0])
    assert read["rank"] is None and read["score"] is None
    assert {k: v for k, v in read.items() if k not in ("rank", "score", "dense_score", "lexical_score")} == \
        {k: v for k, v in searched.items() if k not in ("rank", "score", "dense_score", "lexical_score")}


# ------------------------------------------------------------------ answers with their surroundings

def test_every_citation_comes_with_its_page_text_around_it(answer: dict, fake_store) -> None:
    assert [e["n"] for e in answer["excerpts"]] == [c["n"] for c in answer["citations"]]
    for c, e in zip(answer["citations"], answer["excerpts"], strict=True):
        assert e["quote"] == c["quote"]
        first, last = c["spans"][0], c["spans"][-1]
        assert "\n".join(fake_store.page(c["doc_id"], s["page"]).text[s["start"]:s["end"]] for s in c["spans"]) \
            == c["quote"]
        before = e["before"].removeprefix("… ")
        after = e["after"].removesuffix(" …")
        assert fake_store.page(c["doc_id"], first["page"]).text[: first["start"]].endswith(before)
        assert fake_store.page(c["doc_id"], last["page"]).text[last["end"]:].startswith(after)
        assert before or after


def test_a_quote_that_no_longer_matches_its_page_is_dropped_and_counted(fake_settings, fake_index, fake_embedder,
                                                                       answer: dict, tmp_path: Path) -> None:
    # A build whose stored page text was altered after ingest: the quote no longer reproduces at its offsets.
    src = Path(fake_index.index_dir)
    root = tmp_path / "indexes"
    shutil.copytree(src, root / src.name)
    (root / "current").symlink_to(src.name)
    cited = answer["citations"][0]
    db = sqlite3.connect(root / src.name / "store.sqlite")
    page = cited["spans"][0]["page"]
    text = db.execute("SELECT text FROM pages WHERE doc_id=? AND number=?", (cited["doc_id"], page)).fetchone()[0]
    db.execute("UPDATE pages SET text=? WHERE doc_id=? AND number=?",
               (text.replace("starting materials", "starting  materials"), cited["doc_id"], page))
    db.commit()
    db.close()
    engine = Engine(fake_settings.replace({"index.dir": root}), embedder=fake_embedder)
    assert engine.start()
    tampered = engine.ask(QUESTION, k=3)
    assert tampered.dropped_quotes >= 1
    assert all("starting materials" not in c.quote for c in tampered.citations)
    assert answer["dropped_quotes"] == 0  # the healthy index drops nothing


# ------------------------------------------------------------------ citations as files

@pytest.mark.parametrize("fmt", [f.value for f in CitationFormat])
def test_cite_serves_the_citation_itself_with_media_type_and_file_name(fake_client: TestClient, answer: dict,
                                                                       fmt: str) -> None:
    chunk_id = answer["related"][0]["chunk_id"]
    r = fake_client.get(f"/v1/passages/{chunk_id}/cite", params={"format": fmt})
    assert r.status_code == 200
    assert r.headers["content-type"] == CitationFormat(fmt).media_type
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert disposition.endswith(f'.{CitationFormat(fmt).extension}"')
    assert not r.text.startswith('{"format"')  # the citation, not a JSON wrapper
    if fmt == "csl-json":
        items = json.loads(r.text)
        assert isinstance(items, list) and items[0]["type"] == "report"
    wrapped = fake_client.get(f"/v1/passages/{chunk_id}/cite", params={"format": fmt},
                              headers={"Accept": "application/json"})
    assert wrapped.headers["content-type"] == "application/json"
    body = wrapped.json()
    assert body["citation"] == r.text and body["media_type"] == CitationFormat(fmt).media_type
    assert f'filename="{body["filename"]}"' in disposition


def test_an_answers_citations_are_formatted_in_one_request(fake_client: TestClient, answer: dict) -> None:
    body = {"format": "ris", "citations": answer["citations"]}
    raw = fake_client.post("/v1/cite", json=body)
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("application/x-research-info-systems")
    entries = rispy.loads(raw.text)
    assert len(entries) == len(answer["citations"])
    first = entries[0]
    cited = answer["citations"][0]
    # Reference managers read the reference number as a number, not as an ISBN/ISSN.
    assert first["number"] == cited["reference"] and "issn" not in first
    assert first["type_of_reference"] == "RPRT" and first["publisher"] == cited["issuer"]
    assert first["start_page"] == cited["page_labels"][0] and first["urls"] == [cited["url"]]
    listed = fake_client.post("/v1/cite", json=body, headers={"Accept": "application/json"}).json()
    assert listed["citation"] == raw.text and len(listed["items"]) == len(listed["filenames"]) == len(entries)
    assert all(name.endswith(".ris") for name in listed["filenames"])


def test_batch_cite_validation(fake_client: TestClient, answer: dict) -> None:
    assert fake_client.post("/v1/cite", json={"format": "ris", "citations": []}).status_code == 422
    assert fake_client.post("/v1/cite", json={"format": "docx", "citations": answer["citations"]}).status_code == 422
    stranger = {**answer["citations"][0], "doc_id": "no-such-document"}
    r = fake_client.post("/v1/cite", json={"format": "text", "citations": [stranger]})
    assert r.status_code == 422 and "no-such-document" in r.text


# ------------------------------------------------------------------ page images

def test_a_page_image_marks_the_cited_sentence(fake_client: TestClient, answer: dict) -> None:
    c = answer["citations"][0]
    page = c["spans"][0]["page"]
    ranges = ",".join(f"{s['start']}-{s['end']}" for s in c["spans"] if s["page"] == page)
    meta = fake_client.get(f"/v1/documents/{c['doc_id']}/pages/{page}").json()
    assert meta["image"] is True
    plain = fake_client.get(f"/v1/documents/{c['doc_id']}/pages/{page}/image", params={"scale": 1.0})
    marked = fake_client.get(f"/v1/documents/{c['doc_id']}/pages/{page}/image",
                             params={"highlight": ranges, "scale": 1.0})
    assert plain.status_code == marked.status_code == 200 and marked.headers["content-type"] == "image/png"
    assert plain.headers["x-highlight-boxes"] == "0"
    assert int(marked.headers["x-highlight-boxes"]) >= 1 and marked.headers["x-highlight-found"] == "true"

    def yellow(png: bytes) -> int:
        image = Image.open(io.BytesIO(png)).convert("RGB")
        return sum(1 for p in image.getdata() if p[0] > 200 and p[1] > 150 and p[2] < 150)

    assert yellow(plain.content) == 0 and yellow(marked.content) > 500


def test_page_image_errors(fake_client: TestClient, fake_settings, fake_engine, answer: dict,
                           tmp_path: Path) -> None:
    c = answer["citations"][0]
    base = f"/v1/documents/{c['doc_id']}/pages"
    assert fake_client.get(f"{base}/1/image", params={"highlight": "5-x"}).status_code == 422
    assert fake_client.get(f"{base}/1/image", params={"highlight": "0-999999"}).status_code == 422
    assert fake_client.get(f"{base}/99/image").status_code == 404
    assert fake_client.get("/v1/documents/nope/pages/1/image").status_code == 404
    # A service without the PDF (or with another edition of it) says so instead of drawing the wrong page.
    elsewhere = tmp_path / "pdf"
    elsewhere.mkdir()
    with TestClient(create_app(fake_settings.replace({"corpus.dir": elsewhere}),
                               Engine(fake_settings.replace({"corpus.dir": elsewhere}),
                                      embedder=fake_engine.embedder))) as other:
        assert other.get(f"{base}/1").json()["image"] is False
        r = other.get(f"{base}/1/image")
        assert r.status_code == 404 and "no copy of" in r.json()["detail"]
        shutil.copyfile(fake_settings.corpus.dir / "regulator-guide.pdf", elsewhere / f"{c['doc_id']}.pdf")
        r = other.get(f"{base}/1/image")
        assert r.status_code == 404 and "not the edition that was indexed" in r.json()["detail"]


# ------------------------------------------------------------------ evaluation runs as jobs

@pytest.mark.integration  # ranx compiles its metrics with numba on first use in a process: 30-70 s here
def test_an_evaluation_runs_as_a_job_with_progress_then_results(fake_client: TestClient) -> None:
    options = fake_client.get("/v1/eval/datasets").json()
    assert options["datasets"] == ["regulatory", "tiny"] and "bm25" in options["modes"]
    r = fake_client.post("/v1/eval/runs", json={"dataset": "tiny", "modes": ["bm25"], "k": 10})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "done") and job["id"].endswith("-tiny")
    seen = {job["status"]}
    # The job's first metrics compile ranx's numba kernels: 30-70 s on a fresh venv, more on a loaded machine.
    deadline = time.monotonic() + 300
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = fake_client.get(f"/v1/eval/runs/{job['id']}").json()
        seen.add(job["status"])
    assert job["status"] == "done", job
    assert job["progress"] == 1.0 and job["summary"]["bm25"]["mrr@10"] == pytest.approx(1.0)
    listed = fake_client.get("/v1/eval/runs").json()["runs"]
    assert job["id"] in [x["id"] for x in listed]
    result = fake_client.get(f"/v1/eval/runs/{job['id']}/result")
    assert result.status_code == 200 and result.json()["dataset"] == "tiny"
    report = fake_client.get(f"/v1/eval/runs/{job['id']}/report")
    assert report.status_code == 200 and report.text.startswith("# Evaluation: tiny")


def test_a_failing_run_is_reported_by_its_job(fake_settings, tmp_path: Path) -> None:
    from atmp_rag.evaluation.jobs import EvalJobs, EvalRequest, JobStatus
    from tests.conftest import ROOT

    questions = tmp_path / "eval" / "regulatory" / "questions.jsonl"
    questions.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / "eval" / "regulatory" / "questions.jsonl", questions)
    jobs = EvalJobs(fake_settings.replace({"index.dir": tmp_path / "no-index", "eval.dir": tmp_path / "eval"}))
    job = jobs.submit(EvalRequest(dataset="regulatory", modes=["bm25"], limit=3))
    deadline = time.monotonic() + 30
    while job.status in (JobStatus.queued, JobStatus.running) and time.monotonic() < deadline:
        time.sleep(0.05)
        job = jobs.get(job.id)
    assert job.status is JobStatus.failed and "no-index" in job.error
    assert [j.id for j in jobs.list()] == [job.id]
    assert not (tmp_path / "eval" / "runs" / job.id).exists()


def test_evaluation_requests_are_validated(fake_client: TestClient) -> None:
    assert fake_client.post("/v1/eval/runs", json={"dataset": "/etc"}).status_code == 422
    assert fake_client.post("/v1/eval/runs", json={"dataset": "tiny", "modes": ["magic"]}).status_code == 422
    r = fake_client.post("/v1/eval/runs", json={"dataset": "tiny", "modes": ["hybrid+rerank"]})
    assert r.status_code == 422 and "cross-encoder" in r.text
    assert fake_client.post("/v1/eval/runs", json={"dataset": "tiny", "split": "train"}).status_code == 422
    assert fake_client.get("/v1/eval/runs/20990101T000000Z-nothing").status_code == 404
    assert fake_client.get("/v1/eval/runs/..%2F..%2Fetc/result").status_code in (404, 422)


# ------------------------------------------------------------------ validation

@pytest.mark.parametrize("body", [
    {}, {"question": ""}, {"question": "   "}, {"question": "x" * 2001}, {"question": "ok", "k": "5"},
    {"question": "ok", "k": 0}, {"question": "ok", "mode": "magic"}, {"question": "ok", "unknown": 1},
    '{"question": "\\ud800"}',
])
def test_invalid_questions_are_422_without_echoing_them(fake_client: TestClient, body: dict | str) -> None:
    for path in ("/v1/search", "/v1/ask"):
        if isinstance(body, str):  # a lone surrogate can only be sent as raw JSON text
            r = fake_client.post(path, content=body, headers={"Content-Type": "application/json"})
        else:
            r = fake_client.post(path, json=body)
        assert r.status_code == 422, (path, body)
        assert all(set(d) == {"type", "loc", "msg"} for d in r.json()["detail"])
        assert "x" * 100 not in r.text


# ------------------------------------------------------------------ provenance of the generated index

def test_every_chunk_and_unit_of_the_generated_index_is_its_page_text_at_its_offsets(fake_store) -> None:
    def at(doc_id: str, spans) -> str:
        return "\n".join(fake_store.page(doc_id, s.page).text[s.start:s.end] for s in spans)

    assert fake_store.chunks and fake_store.units
    assert [c.chunk_id for c in fake_store.chunks if at(c.doc_id, c.spans) != c.text] == []
    assert [u.unit_id for u in fake_store.units if at(u.doc_id, u.spans) != u.text] == []
    assert [u.unit_id for u in fake_store.units if u.context and at(u.doc_id, u.context_spans) != u.context] == []
