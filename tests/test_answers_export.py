"""Stored answers, exports, baskets, feedback and evaluation drafts over the generated index (fast tier).

The exported DOCX is opened with python-docx and every quote is checked against the stored page text;
the BibTeX is parsed with bibtexparser, the RIS with rispy, and the CSL-JSON rendered with citeproc-py.
"""

from __future__ import annotations

import io
import json
import re

import bibtexparser
import docx
import pytest
import rispy
from citeproc import Citation as CslCitation
from citeproc import CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from fastapi.testclient import TestClient

from atmp_rag.api import create_app
from atmp_rag.cite import one_line, status_warning
from atmp_rag.models import Document, ExportFormat, Status
from atmp_rag.store import IndexStore
from tests.conftest import FAKE_QUESTION

QUESTION = FAKE_QUESTION


def page_text(store: IndexStore, doc_id: str, pages: list[int]) -> str:
    """The stored text of `pages`, whitespace as single spaces (how exports print a quote)."""
    return one_line("\n".join(store.page(doc_id, p).text for p in pages))


def export(client: TestClient, body: dict) -> tuple[bytes, str, str]:
    r = client.post("/v1/exports", json=body)
    assert r.status_code == 200, r.text
    disposition = r.headers["content-disposition"]
    name = re.search(r'filename="([^"]+)"', disposition)
    assert disposition.startswith("attachment") and name
    return r.content, r.headers["content-type"], name.group(1)


# ------------------------------------------------------------------ answers are stable objects

def test_every_answer_has_an_id_and_reopens_as_given(fake_client: TestClient, answer: dict) -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", answer["answer_id"])
    r = fake_client.get(f"/v1/answers/{answer['answer_id']}")
    assert r.status_code == 200, r.text
    stored = r.json()
    for key in ("question", "answer", "citations", "excerpts", "index", "answer_id"):
        assert stored[key] == answer[key], key
    assert stored["citations"][0]["spans"], "citations keep their page offsets"
    assert stored["index_changed"] is False and stored["current_index"] == answer["index"]
    assert re.fullmatch(r"[0-9a-f]{10}", stored["settings_hash"])
    again = fake_client.post("/v1/ask", json={"question": QUESTION, "k": 3}).json()
    assert again["answer_id"] != answer["answer_id"]


def test_an_abstention_is_stored_too(fake_client: TestClient) -> None:
    r = fake_client.post("/v1/ask", json={"question": "paracetamol dose for children with fever", "k": 3}).json()
    assert r["answer_id"]
    assert fake_client.get(f"/v1/answers/{r['answer_id']}").json()["abstained"] == r["abstained"]


@pytest.mark.parametrize("answer_id,status", [("0" * 32, 404), ("not an id!", 422), ("x" * 65, 422)])
def test_unknown_or_malformed_answer_ids(fake_client: TestClient, answer_id: str, status: int) -> None:
    r = fake_client.get(f"/v1/answers/{answer_id}")
    assert r.status_code == status
    if status == 404:
        assert "unknown answer" in r.json()["detail"]


def test_index_changed_after_a_new_index_is_published(fake_embedder, tmp_path) -> None:
    """A private generated index; a catalog edit publishes a new build; the answer reopens, flagged as changed."""
    from atmp_rag.ingest import ingest
    from atmp_rag.service import Engine
    from tests.fakes import generated_settings

    s = generated_settings(tmp_path)
    ingest(s, show_progress=False, embedder=fake_embedder)
    engine = Engine(s, embedder=fake_embedder, check_interval=0)
    with TestClient(create_app(s, engine)) as c:
        asked = c.post("/v1/ask", json={"question": QUESTION, "k": 3}).json()
        assert c.get(f"/v1/answers/{asked['answer_id']}").json()["index_changed"] is False
        catalog = s.corpus.catalog.read_text(encoding="utf-8")
        revised = catalog.replace("quality of ATMPs", "quality of ATMPs (rev 2)", 1)
        s.corpus.catalog.write_text(revised, encoding="utf-8")
        assert s.corpus.catalog.read_text(encoding="utf-8") != catalog
        ingest(s, show_progress=False, embedder=fake_embedder)
        again = c.get(f"/v1/answers/{asked['answer_id']}").json()
    assert again["index_changed"] is True and again["index"] == asked["index"] != again["current_index"]
    assert again["citations"] == asked["citations"], "the answer is shown as it was given"


# ------------------------------------------------------------------ exports

def test_docx_of_an_answer_has_every_quote_verbatim_and_a_reference_list(fake_client: TestClient, answer: dict,
                                                                          fake_store: IndexStore) -> None:
    content, media, name = export(fake_client, {"answer_id": answer["answer_id"], "format": "docx"})
    assert media == ExportFormat.docx.media_type and name.endswith(".docx") and name.startswith("What-should")
    document = docx.Document(io.BytesIO(content))
    quotes = [p for p in document.paragraphs if p.style.name == "Quote"]
    assert len(quotes) == len(answer["citations"])
    for paragraph, c in zip(quotes, answer["citations"], strict=True):
        quote, marker = paragraph.runs[0].text, paragraph.runs[1]
        assert quote == one_line(c["quote"]) and marker.text == f"[{c['n']}]" and marker.font.superscript
        assert quote in page_text(fake_store, c["doc_id"], c["pages"]), "every quote is on its page"
    texts = [p.text for p in document.paragraphs]
    refs = texts[texts.index("References") + 1:]
    assert [r.split(" ")[0] for r in refs] == [f"[{c['n']}]" for c in answer["citations"]]
    assert document.core_properties.title == QUESTION


def test_docx_of_twenty_passages_by_chunk_id(fake_client: TestClient, fake_store: IndexStore) -> None:
    chunks = (list(fake_store.chunks) * 20)[:20]  # the generated index has fewer: some are cited twice
    content, _, name = export(fake_client, {"chunk_ids": [c.chunk_id for c in chunks], "format": "docx"})
    assert name == "Guideline-quotations.docx"  # the default title
    document = docx.Document(io.BytesIO(content))
    quotes = [p.runs[0].text for p in document.paragraphs if p.style.name == "Quote"]
    assert len(quotes) == 20
    for quote, chunk in zip(quotes, chunks, strict=True):
        assert quote == one_line(chunk.text)
        assert quote in page_text(fake_store, chunk.doc_id, chunk.pages)


def test_warnings_of_draft_and_superseded_documents_are_under_their_quotes(fake_client: TestClient,
                                                                          fake_store: IndexStore) -> None:
    flagged = [d for d in fake_store.documents.values() if d.status != Status.final
               and any(c.doc_id == d.doc_id for c in fake_store.chunks)]
    assert flagged, "the generated corpus has a draft or superseded guideline"
    chunk = next(c for c in fake_store.chunks if c.doc_id == flagged[0].doc_id)
    content, _, _ = export(fake_client, {"chunk_ids": [chunk.chunk_id], "format": "docx"})
    texts = [p.text for p in docx.Document(io.BytesIO(content)).paragraphs]
    assert f"Warning: {status_warning(flagged[0])}" in texts
    md, _, _ = export(fake_client, {"chunk_ids": [chunk.chunk_id], "format": "md"})
    assert "**Warning:**" in md.decode()


def test_markdown_has_footnotes(fake_client: TestClient, answer: dict) -> None:
    content, media, name = export(fake_client, {"answer_id": answer["answer_id"], "format": "md"})
    text = content.decode()
    assert media.startswith("text/markdown") and name.endswith(".md")
    for c in answer["citations"]:
        assert f"[^{c['n']}]\n" in text and f"\n[^{c['n']}]: " in text
    assert text.startswith(f"# {QUESTION}")


def test_bibtex_has_one_entry_per_document_with_all_cited_pages(fake_client: TestClient,
                                                                fake_store: IndexStore) -> None:
    by_doc: dict[str, list] = {}
    for c in fake_store.chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    doc_id, chunks = next((d, cs) for d, cs in by_doc.items() if len({p for c in cs for p in c.pages}) > 1)
    picked = [chunks[0], chunks[-1], chunks[0]]
    other = next(cs[0] for d, cs in by_doc.items() if d != doc_id)
    content, media, name = export(fake_client, {"chunk_ids": [c.chunk_id for c in [*picked, other]],
                                                "format": "bibtex"})
    assert media.startswith("application/x-bibtex") and name.endswith(".bib")
    library = bibtexparser.parse_string(content.decode())
    assert not library.failed_blocks
    assert len(library.entries) == 2, "one entry per document, not per passage"
    pages = library.entries[0].fields_dict["pages"].value
    first, last = chunks[0].pages[0], chunks[-1].pages[-1]
    assert pages.startswith(str(first)) and pages.endswith(str(last)), pages


def test_ris_and_csl_json_parse_and_render(fake_client: TestClient, answer: dict) -> None:
    docs = {c["doc_id"] for c in answer["citations"]}
    ris, media, _ = export(fake_client, {"answer_id": answer["answer_id"], "format": "ris"})
    assert media.startswith("application/x-research-info-systems")
    records = rispy.loads(ris.decode())
    assert len(records) == len(docs) and all(r["type_of_reference"] == "RPRT" for r in records)
    csl, media, name = export(fake_client, {"answer_id": answer["answer_id"], "format": "csl-json"})
    assert name.endswith(".json")
    items = json.loads(csl)
    assert isinstance(items, list) and len(items) == len(docs)
    source = CiteProcJSON(items)
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, source, formatter.plain)
    for item in items:
        bibliography.register(CslCitation([CitationItem(item["id"])]))
    rendered = [str(entry) for entry in bibliography.bibliography()]
    assert len(rendered) == len(items) and all(item["title"] in " ".join(rendered) for item in items)


def test_basket_items_mix_answer_quotes_and_passages_in_order(fake_client: TestClient, answer: dict,
                                                              fake_store: IndexStore) -> None:
    chunk = fake_store.chunks[5]
    items = [{"chunk_id": chunk.chunk_id}, {"answer_id": answer["answer_id"], "n": 1}]
    content, _, _ = export(fake_client, {"items": items, "format": "docx", "title": "My basket"})
    quotes = [p.runs[0].text for p in docx.Document(io.BytesIO(content)).paragraphs if p.style.name == "Quote"]
    assert quotes == [one_line(chunk.text), one_line(answer["citations"][0]["quote"])]


@pytest.mark.parametrize("body,status,says", [
    ({"format": "docx"}, 422, "exactly one of"),
    ({"format": "docx", "chunk_ids": ["a"], "answer_id": "b"}, 422, "exactly one of"),
    ({"format": "pdf", "chunk_ids": ["a"]}, 422, "docx"),
    ({"format": "docx", "chunk_ids": []}, 422, "at least 1"),
    ({"format": "docx", "chunk_ids": ["no-such-chunk"]}, 422, "unknown passage no-such-chunk"),
    ({"format": "md", "answer_id": "0" * 32}, 404, "unknown answer"),
    ({"format": "md", "items": [{"chunk_id": "a", "answer_id": "b"}]}, 422, "either chunk_id or answer_id"),
    ({"format": "md", "items": [{"chunk_id": "a", "n": 1}]}, 422, "cannot go with chunk_id"),
])
def test_bad_exports_are_4xx_saying_why(fake_client: TestClient, body: dict, status: int, says: str) -> None:
    r = fake_client.post("/v1/exports", json=body)
    assert r.status_code == status, r.text
    assert says in json.dumps(r.json()["detail"])


def test_a_citation_number_the_answer_does_not_have_is_422(fake_client: TestClient, answer: dict) -> None:
    r = fake_client.post("/v1/exports", json={"format": "md", "items": [{"answer_id": answer["answer_id"], "n": 9}]})
    assert r.status_code == 422 and "has no citation [9]" in r.json()["detail"]


def test_export_of_a_document_unknown_to_the_index_still_cites_it() -> None:
    """Library level: a stored quote whose document left the index keeps the citation's own identity."""
    from atmp_rag.export import export as export_file
    from atmp_rag.models import Citation

    c = Citation(n=1, chunk_id="x", doc_id="gone", file=None, title="Old guideline", issuer="EMA", reference="R/1",
                 version="2001", status=Status.superseded, section="", pages=[3], page_labels=["iii"], quote="Q.",
                 url="", verified=True)
    out = export_file([(c, Document(doc_id="gone", title="Old guideline", issuer="EMA", reference="R/1",
                                    status=Status.superseded))], "bibtex")
    assert bibtexparser.parse_string(out.content.decode()).entries[0].fields_dict["pages"].value == "iii"
    with pytest.raises(ValueError, match="nothing to export"):
        export_file([], "docx")


# ------------------------------------------------------------------ baskets

def test_basket_round_trip_and_validation(fake_client: TestClient, answer: dict) -> None:
    assert fake_client.get("/v1/baskets/new-basket-1").json() == {"basket_id": "new-basket-1", "items": [],
                                                                  "updated_at": ""}
    items = [{"answer_id": answer["answer_id"], "n": 1}, {"chunk_id": "c1"}]
    r = fake_client.put("/v1/baskets/new-basket-1", json={"items": items})
    assert r.status_code == 200, r.text
    got = fake_client.get("/v1/baskets/new-basket-1").json()
    assert [{k: v for k, v in i.items() if v is not None} for i in got["items"]] == items and got["updated_at"]
    assert fake_client.put("/v1/baskets/short", json={"items": []}).status_code == 422
    assert fake_client.put("/v1/baskets/new-basket-1", json={"items": [{}]}).status_code == 422


# ------------------------------------------------------------------ feedback and drafts

def test_feedback_is_stored_and_listed_with_question_and_index(fake_client: TestClient, answer: dict) -> None:
    r = fake_client.post("/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "down",
                                               "comment": "misses section 4"})
    assert r.status_code == 201, r.text
    listed = fake_client.get("/v1/feedback", params={"rating": "down"}).json()["feedback"]
    mine = next(f for f in listed if f["id"] == r.json()["id"])
    assert mine == {**r.json(), "question": QUESTION, "index": answer["index"]}
    assert fake_client.post("/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "up"}).status_code == 201
    assert fake_client.get("/v1/feedback", params={"limit": 1}).json()["feedback"][0]["rating"] == "up"


@pytest.mark.parametrize("body,status,says", [
    ({"answer_id": "0" * 32, "rating": "up"}, 404, "unknown answer"),
    ({"answer_id": "abc", "rating": "meh"}, 422, "rating"),
    ({"answer_id": "abc", "rating": "up", "comment": "x" * 2001}, 422, "2000"),
    ({"rating": "up"}, 422, "answer_id"),
])
def test_bad_feedback_is_4xx_saying_why(fake_client: TestClient, body: dict, status: int, says: str) -> None:
    r = fake_client.post("/v1/feedback", json=body)
    assert r.status_code == status and says in json.dumps(r.json()["detail"]), r.text


def test_feedback_list_requires_the_api_key_when_one_is_set(fake_settings, fake_engine, answer: dict) -> None:
    s = fake_settings.replace({"service.api_key": "s3cret"})
    with TestClient(create_app(s, fake_engine)) as c:
        assert c.get("/v1/feedback").status_code == 401
        assert c.post("/v1/feedback", json={"answer_id": answer["answer_id"], "rating": "up"}).status_code == 401
        r = c.get("/v1/feedback", headers={"X-API-Key": "s3cret"})
        assert r.status_code == 200 and r.json()["feedback"]


def test_evaluation_drafts_are_saved_for_review_not_into_gold(fake_client: TestClient, answer: dict,
                                                              fake_settings) -> None:
    gold = fake_settings.eval.dir / "regulatory" / "questions.jsonl"
    before = gold.read_bytes() if gold.exists() else None
    body = {"question": QUESTION, "answer_id": answer["answer_id"],
            "pages": [{"doc_id": answer["citations"][0]["doc_id"], "page": answer["citations"][0]["pages"][0]}],
            "note": "from a thumbs-down"}
    r = fake_client.post("/v1/eval/drafts", json=body)
    assert r.status_code == 201, r.text
    assert fake_client.get("/v1/eval/drafts").json()["drafts"][0] == r.json()
    assert (gold.read_bytes() if gold.exists() else None) == before
    assert fake_client.post("/v1/eval/drafts", json={**body, "pages": []}).status_code == 422
    assert fake_client.post("/v1/eval/drafts", json={**body, "answer_id": "0" * 32}).status_code == 404
    r = fake_client.post("/v1/eval/drafts", json={**body, "pages": [{"doc_id": "nope", "page": 1},
                                                                  {"doc_id": body["pages"][0]["doc_id"], "page": 999}]})
    assert r.status_code == 422 and "nope p. 1 (document not in the index)" in r.json()["detail"]
    assert "p. 999" in r.json()["detail"]


def test_a_title_with_characters_xml_cannot_hold_still_exports(fake_client: TestClient, answer: dict) -> None:
    body = {"answer_id": answer["answer_id"], "title": "Plan\x01 \x0bv2\x00"}
    md = fake_client.post("/v1/exports", json={**body, "format": "md"})
    word = fake_client.post("/v1/exports", json={**body, "format": "docx"})
    assert md.status_code == word.status_code == 200, (md.text, word.text)
    assert docx.Document(io.BytesIO(word.content)).paragraphs[0].text == "Plan v2"
