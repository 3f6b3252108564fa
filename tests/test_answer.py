"""Extractive answers: the best unit first, verified page-exact citations, grouping, warnings, abstention, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from atmp_rag.answer import (
    ANSWER_TYPES,
    NUMERIC_QUESTION,
    Answerer,
    Assessment,
    Candidate,
    quote_text,
    verify_quote,
    verify_unit,
)
from atmp_rag.models import Answer, Status, UnitKind
from atmp_rag.text.lexical import coverage

Q9 = "ich-q9-quality-risk-management-2005"
Q5C = "ich-q5c-stability-biotech-products-1995"
Q1A = "ich-q1a-r2-stability-2003"
QUESTIONS = Path(__file__).resolve().parents[1] / "eval" / "regulatory" / "questions.jsonl"
SESSION_FILES = {f"{d}.pdf" for d in (Q9, Q5C, Q1A)}


@pytest.fixture(scope="module")
def answerer(store, session_settings, embedder) -> Answerer:
    """The answerer over the session index with the calibrated default threshold."""
    a = Answerer(store, session_settings, embedder)
    a.warm()
    assert a.calibrated  # the shipped scorer was fitted on an index with these settings
    return a


@pytest.fixture(scope="module")
def eager(store, session_settings, embedder) -> Answerer:
    """An answerer that never abstains, so every question yields citations to check."""
    return Answerer(store, session_settings.replace({"answer.abstain_threshold": 0.0}), embedder)


def ask(answerer: Answerer, retriever, question: str, k: int = 5, mode: str = "hybrid") -> Answer:
    retrieval = retriever.retrieve(question, k=k, mode=mode)
    return answerer.answer(question, retrieval.passages, query_vector=retrieval.query_vector)


def test_store_idf_matches_document_frequencies_recounted_from_the_chunks(store, session_settings) -> None:
    import math

    from atmp_rag.ingest import index_text
    from atmp_rag.text.lexical import bm25_tokenize

    token_sets = [set(t) for t in bm25_tokenize([index_text(store.documents[c.doc_id], c) for c in store.chunks],
                                                session_settings.lexical.stemmer, session_settings.lexical.stopwords)]
    n = len(token_sets)
    for token in ("stabil", "photost", "risk", "batch", "hazard"):
        df = sum(token in t for t in token_sets)
        assert df > 0
        assert store.idf(token) == pytest.approx(math.log(1 + (n - df + 0.5) / (df + 0.5)))
    assert store.idf("zzzunseen") >= max(store.idf(t) for t in ("stabil", "hazard"))


# ------------------------------------------------------------------ leading with the answer

def test_definition_question_leads_with_the_definition(answerer, retriever) -> None:
    a = ask(answerer, retriever, "What is accelerated testing?")
    first = a.citations[0]
    assert first.kind == "definition" and first.context == "Accelerated testing"
    assert first.doc_id == Q1A and first.section.endswith("GLOSSARY › Accelerated testing")
    assert a.answer.startswith("Accelerated testing: Studies designed to increase the rate of chemical degradation")


def test_a_glossary_entry_of_the_asked_term_is_evidence_when_retrieval_drifted(answerer, retriever) -> None:
    """The retrieved passages are about risk communication; the corpus still defines the asked term, so the
    answer is that entry, not an abstention (counting only retrieved passages, the evidence is too low)."""
    q = "What is accelerated testing?"
    drifted = retriever.retrieve("How should risk communication between stakeholders happen?", k=5)
    assert all(p.chunk.doc_id == Q9 for p in drifted.passages)
    a = answerer.answer(q, drifted.passages)
    assert not a.abstained
    assert a.citations[0].kind == "definition" and a.citations[0].context == "Accelerated testing"


@pytest.mark.parametrize(("question", "term"), [
    ("What is potency of a cell therapy product?", "potency"),
    ("What is meant by the shelf life of a drug product?", "shelf life"),
    ("What is the definition of a serious adverse event?", "serious adverse event"),
    ("What is the certificate of analysis?", "certificate of analysis"),
    ("Define design of experiments", "design of experiments"),
    ("How is potency defined for biological products?", "potency"),
    ("Define potency.", "potency"),
    # The document a question names before "mean by" is not the term ("NMPA guideline" was taken).
    ("What does the NMPA guideline mean by on-target off-tumour toxicity?", "on-target off-tumour toxicity"),
    ("What does the ANVISA guide mean by shedding?", "shedding"),
    # "in vitro" belongs to the term; "in" cuts only a modifier ("… in GCP")
    ("What is the definition of the limit of in vitro cell age?", "limit of in vitro cell age"),
    ("What is a certified copy in GCP?", "certified copy"),
    # a relative clause narrows the term
    ("How does the paper define the detection limit that applies to assays for residual cells?", "detection limit"),
])
def test_the_asked_term_stops_before_a_modifier(question: str, term: str) -> None:
    from atmp_rag.answer import asked_term

    assert asked_term(question) == term


@pytest.mark.parametrize(("question", "term"), [
    ("What counts as a 'significant change' for a drug product in stability testing?", "significant change"),
    ("What qualifies as a certified copy of a trial record?", "certified copy"),
    ("Who are considered vulnerable subjects in clinical trials?", "vulnerable subjects"),
    ("What is considered to be a starting material?", "starting material"),
    ("Is moving within an approved design space considered a change?", None),
])
def test_counts_as_and_considered_questions_ask_for_a_definition(question: str, term: str | None) -> None:
    from atmp_rag.answer import asked_term, is_definition_question

    assert is_definition_question(question) is (term is not None)
    if term is not None:
        assert asked_term(question) == term


@pytest.mark.parametrize(("question", "for_term"), [
    ("What is the re-test period?", True),  # "period" is a quantity word, but it is the asked term's own
    ("What is meant by a re-test period?", True),
    ("What is potency of a cell therapy product?", True),
    ("What is the permitted daily exposure for tertiary-butyl alcohol?", False),  # a value of the term
    ("What is the re-test period for an API stored at 25 C?", False),
    ("What is the maximum shelf life for fresh products?", False),
    ("Is moving within an approved design space considered a change?", False),
    # a question that says it wants the definition does, whatever quantity the term names
    ("How does the paper define the detection limit that applies to assays for residual cells?", True),
    ("What is the definition of the permitted daily exposure for residual solvents?", True),
])
def test_a_definition_question_for_a_quantity_asks_for_a_value(question: str, for_term: bool) -> None:
    from atmp_rag.answer import asks_for_term

    assert asks_for_term(question) is for_term


def test_a_term_defined_after_a_qualifier_is_defined() -> None:
    """Q1A: "In general, “significant change” for a drug product is defined as:" defines the term."""
    from atmp_rag.answer import _defines_pattern

    pattern = _defines_pattern("significant change")
    assert pattern is not None
    assert pattern.search("In general, “significant change” for a drug product is defined as:")
    assert not pattern.search("A significant change for a drug product occurs at 40°C.")


def test_without_a_glossary_entry_a_defining_sentence_leads(store) -> None:
    """Q9 4.3 "Risk analysis is the estimation of …" defines the asked term: it leads over a sentence the
    scorer ranked higher; "Risk analysis is used …" would not (it does not open a definition)."""
    from atmp_rag.answer import Candidate, lead_with_definition

    def candidate(text_start: str) -> Candidate:
        row = next(i for i, u in enumerate(store.units) if u.doc_id == Q9 and u.text.startswith(text_start))
        unit = store.units[row]
        passage = store.passage(unit.chunk_ids[0])
        assert passage is not None
        return Candidate(row=row, unit=unit, passage=passage, features={})

    other = candidate("Risk identification is a systematic use")
    defining = candidate("Risk analysis is the estimation")
    q = "What is risk analysis in quality risk management?"
    assert lead_with_definition(q, [other, defining])[0] is defining
    assert lead_with_definition("How is risk analysis performed?", [other, defining])[0] is other
    assert lead_with_definition("What is hazard analysis?", [other, defining])[0] is other


def test_a_sentence_saying_what_the_word_means_leads_over_the_entry_of_a_longer_term(store) -> None:
    """FDA style: "Under 21 CFR 600.3(s), the word potency is interpreted to mean …" answers "How does FDA define
    potency …?", not the glossary entry "Surrogate potency assay" that the scorer rated higher (a blind probe's
    [1]); a sentence that merely uses the word does not lead."""
    from atmp_rag.answer import Candidate, lead_with_definition
    from atmp_rag.models import PageSpan, QuoteUnit, UnitKind

    passage = store.passage(store.units[0].chunk_ids[0])
    assert passage is not None

    def candidate(n: int, kind: UnitKind, text: str, context: str = "") -> Candidate:
        unit = QuoteUnit(unit_id=f"u{n}", doc_id="fda", ordinal=n, kind=kind, text=text, context=context,
                         spans=[PageSpan(page=3, start=0, end=len(text))])
        return Candidate(row=n, unit=unit, passage=passage, features={"term_exact": 0.0})

    entry = candidate(0, UnitKind.definition, "An assay that measures a product attribute other than biological "
                      "activity.", "Surrogate potency assay –")
    uses = candidate(1, UnitKind.sentence, "Potency is one of the attributes that must be demonstrated.")
    says = candidate(2, UnitKind.sentence, "Under 21 CFR 600.3(s), the word potency is\ninterpreted to mean the "
                     "specific ability or capacity of the product to effect a given result.")
    assert lead_with_definition("How does FDA define potency for a biological product?", [entry, uses, says])[0] \
        is says
    assert lead_with_definition("What does the term 'potency' mean?", [entry, says])[0] is says
    assert lead_with_definition("How does FDA define potency?", [entry, uses])[0] is entry
    assert lead_with_definition("How should potency be measured?", [entry, says])[0] is entry


def test_table_question_leads_with_the_table_and_its_header(answerer, retriever, store) -> None:
    a = ask(answerer, retriever, "What are the long term and accelerated storage conditions for a drug substance "
                                 "intended for storage in a refrigerator?")
    first = a.citations[0]
    assert first.kind == "table" and first.doc_id == Q1A
    assert first.quote.startswith("Study Storage condition Minimum time period") and "5°C ± 3°C" in first.quote
    assert first.quote in store.page(Q1A, first.pages[0]).text


def test_list_lead_in_is_quoted_with_its_items_first(answerer, retriever, store) -> None:
    a = ask(answerer, retriever, "What are the two primary principles of quality risk management?")
    first = a.citations[0]
    assert first.quote.startswith("Two primary principles of quality risk management are:"), a.answer
    # Both bullet items of Q9 section 3 belong to the quote, and it is still verbatim on PDF page 6.
    assert "protection of the patient" in first.quote
    assert first.quote.rstrip().endswith("commensurate with the level of risk.")
    assert first.pages == [6] and first.quote in store.page(Q9, 6).text
    assert len(a.citations) <= 3 and not any("The level of effort" in c.quote for c in a.citations[1:])


def test_answers_are_short_and_not_redundant(eager, retriever) -> None:
    for q in ("How long should long-term stability testing cover at the time of submission?",
              "What is the purpose of risk control?", "Which tests should be included in a stability protocol?"):
        a = ask(eager, retriever, q)
        assert 1 <= len(a.citations) <= eager.settings.answer.max_units
        spans = [(c.doc_id, c.pages[0], c.quote) for c in a.citations]
        for i, (d1, p1, q1) in enumerate(spans):
            for d2, p2, q2 in spans[i + 1:]:
                assert not (d1 == d2 and p1 == p2 and (q1 in q2 or q2 in q1)), (q, q1, q2)


# ------------------------------------------------------------------ answers and citations

def test_answer_quotes_the_gold_sentence_on_its_page(answerer, retriever, store) -> None:
    a = ask(answerer, retriever, "Should stability samples of a liquid product in vials be stored in the inverted "
                                 "or horizontal position?")
    assert not a.abstained and 1 <= len(a.citations) <= 3
    c = a.citations[0]  # the answer comes first
    assert "inverted or horizontal position" in " ".join(c.quote.split()), a.answer
    assert c.doc_id == Q5C and c.pages == [8] and [(s.page, s.end - s.start) for s in c.spans] == [(8, len(c.quote))]
    assert c.quote in store.page(Q5C, 8).text
    assert c.page_labels == [store.labels[(Q5C, 8)]]
    assert c.file == f"{Q5C}.pdf" and c.reference == "ICH Q5C" and c.section
    assert f"[{c.n}]" in a.answer


def _unit_at(store, doc_id: str, page: int, opening: str) -> tuple[int, object]:
    """The row and unit of the sentence of `doc_id` that starts on `page` with `opening`."""
    for row, unit in enumerate(store.units):
        if unit.doc_id == doc_id and unit.pages[0] == page and " ".join(unit.text.split()).startswith(opening):
            return row, unit
    raise AssertionError(f"no unit of {doc_id} p{page} opens with {opening!r}")


def _candidate(retriever, row: int, unit, score: float) -> Candidate:
    """A candidate of `unit` with a passage that holds it, as `Answerer.candidates` makes them."""
    found = retriever.retrieve(" ".join(unit.text.split()), k=10).passages
    passage = next(p for p in found if p.chunk.chunk_id in unit.chunk_ids)
    return Candidate(row, unit, passage, {}, score=score)


def test_a_lead_sentence_that_leans_back_is_quoted_from_where_its_thought_starts(answerer, retriever,
                                                                                 store) -> None:
    # Q5C 5: "With only a few exceptions, however, the shelf-lives … . Therefore, the guidance is based upon …
    # . This takes into account …": two sentences lean back, so the quote starts two sentences earlier.
    row, unit = _unit_at(store, Q5C, 9, "This takes into account the fact that degradation")
    [lead] = answerer.select(Assessment({}, [_candidate(retriever, row, unit, 0.6)]))
    text = " ".join(lead.unit.text.split())
    assert text.startswith("With only a few exceptions, however, the shelf-lives"), text
    assert " ".join(unit.text.split()) in text and "Therefore, the guidance is based upon" in text
    assert verify_unit(store, lead.unit) and lead.unit.pages == [9]
    [citation] = answerer.cite([lead])
    assert citation.pages == [9] and verify_quote(store, Q5C, [9], citation.quote)


def test_a_neighbour_sentence_on_the_previous_page_joins_the_quote_across_the_page_break(answerer, retriever,
                                                                                         store) -> None:
    # Q1A: a sentence ends page 11 ("… within acceptance criteria.") and the next opens page 12.
    row, unit = _unit_at(store, Q1A, 12, "The nature of any degradation relationship will determine")
    previous = store.units[row - 1]
    assert previous.pages == [11] and " ".join(previous.text.split()).endswith("within acceptance criteria.")
    ranked = [_candidate(retriever, row, unit, 0.6), _candidate(retriever, row - 1, previous, 0.4)]
    lead = answerer.select(Assessment({}, ranked))[0]
    assert lead.unit.pages == [11, 12] and [s.page for s in lead.unit.spans] == [11, 12]
    assert verify_unit(store, lead.unit)
    text = " ".join(lead.unit.text.split())
    assert text.startswith(" ".join(previous.text.split())) and " ".join(unit.text.split()) in text
    [citation] = answerer.cite([lead])
    assert citation.pages == [11, 12] and verify_quote(store, Q1A, [11, 12], citation.quote)


def test_answer_text_is_the_quotes_with_markers(answerer, retriever) -> None:
    a = ask(answerer, retriever, "What is the purpose of stress testing of the drug substance?")
    assert not a.abstained
    assert [c.n for c in a.citations] == list(range(1, len(a.citations) + 1))
    for c in a.citations:
        assert f"{quote_text(c)} [{c.n}]" in a.answer
    # Nothing but (context and) quotes, markers and document labels.
    residue = a.answer
    for c in a.citations:
        residue = residue.replace(f"{quote_text(c)} [{c.n}]", "")
    assert re.fullmatch(r"(?:\s|ICH [^:]+:)*", residue), residue


def test_citation_names_only_the_pages_the_quote_lies_on(eager, retriever, store) -> None:
    checked = 0
    for q in ("accelerated storage condition for drug products", "risk communication between decision makers",
              "real-time stability data expiration dating", "container closure system for stability studies"):
        for c in ask(eager, retriever, q).citations:
            chunk = store.chunk(c.chunk_id)
            assert set(c.pages) <= set(chunk.pages) | {max(chunk.pages) + 1, min(chunk.pages) - 1}
            if len(c.pages) == 1:
                assert c.quote in store.page(c.doc_id, c.pages[0]).text
            elif not c.context:
                assert all(c.quote not in store.page(c.doc_id, p).text for p in c.pages)
            if not c.context:
                assert verify_quote(store, c.doc_id, c.pages, c.quote)
            unit = next(u for u in store.units if u.unit_id.split("+")[0] == c.unit_id.split("+")[0])
            assert unit.doc_id == c.doc_id and verify_unit(store, unit)
            checked += 1
    assert checked >= 4


def test_multi_document_answers_are_grouped_by_document(store, session_settings, embedder, retriever) -> None:
    # A loose floor so that a second document's unit joins the answer.
    loose = Answerer(store, session_settings, embedder)
    loose.scorer.add_floor, loose.scorer.add_ratio = 0.0, 0.0
    a = ask(loose, retriever, "On how many batches should stability data be provided for the drug substance?", k=8)
    docs = [c.doc_id for c in a.citations]
    assert {Q1A, Q5C} <= set(docs), docs
    # Grouped: each document's citations are contiguous, its paragraph labelled, the best unit first.
    assert docs == sorted(docs, key=docs.index)
    assert "ICH Q1A(R2): " in a.answer and "ICH Q5C: " in a.answer
    assert len(a.answer.split("\n\n")) == len(set(docs))


def test_superseded_guideline_is_warned(answerer, retriever, store) -> None:
    a = ask(answerer, retriever, "Which tools can be used for quality risk management, such as FMEA or HACCP?")
    assert not a.abstained
    q9 = [c for c in a.citations if c.doc_id == Q9]
    assert q9 and all(c.status == Status.superseded and "Superseded" in c.warning for c in q9)
    # One answer-level warning per superseded document, naming its replacement from the catalog.
    assert len([w for w in a.warnings if "ICH Q9" in w]) == 1
    assert any(store.documents[Q9].superseded_by in w for w in a.warnings)
    assert all(not c.warning for c in a.citations if c.status == Status.final)


def test_verify_quote_rejects_altered_misplaced_and_overclaimed_quotes(store) -> None:
    page = store.page(Q5C, 8).text
    quote = page[100:220]
    assert verify_quote(store, Q5C, [8], quote)
    assert not verify_quote(store, Q5C, [8], quote.replace("e", "a", 1))
    assert not verify_quote(store, Q5C, [7], quote)
    assert not verify_quote(store, Q5C, [8, 9], quote)  # fits on page 8 alone: page 9 over-claimed
    assert not verify_quote(store, Q5C, [7, 9], quote)
    assert not verify_quote(store, Q5C, [999], quote)
    tail, head = store.page(Q5C, 8).text[-40:], store.page(Q5C, 9).text[:40]
    assert verify_quote(store, Q5C, [8, 9], f"{tail}\n{head}")


# ------------------------------------------------------------------ property: every quote is verbatim

@pytest.fixture(scope="module")
def sentences_of_index(store) -> list[str]:
    out = []
    for c in store.chunks:
        out.extend(" ".join(s.split()) for s in re.split(r"(?<=[.;:])\s+", c.text) if len(s.split()) >= 4)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_property_every_citation_quote_is_verbatim_on_its_pages(data, eager, retriever, store,
                                                                sentences_of_index) -> None:
    sentence = data.draw(st.sampled_from(sentences_of_index))
    words = sentence.split()
    start = data.draw(st.integers(0, max(0, len(words) - 4)))
    length = data.draw(st.integers(2, 12))
    question = " ".join(words[start:start + length])
    if data.draw(st.booleans()):
        question = f"What does the guideline say about {question}?"
    mode = data.draw(st.sampled_from(["hybrid", "bm25", "dense"]))
    a = ask(eager, retriever, question, mode=mode)
    for c in a.citations:
        # The quote is the page text at the offsets it carries (not merely somewhere on the page).
        assert "\n".join(store.page(c.doc_id, s.page).text[s.start:s.end] for s in c.spans) == c.quote
        texts = [store.page(c.doc_id, p).text for p in c.pages]
        assert c.pages == list(range(c.pages[0], c.pages[0] + len(c.pages)))
        assert c.quote in "\n".join(texts)
        assert not c.context or c.context in "\n".join(texts)
        assert len(c.pages) == 1 or c.context or c.quote not in texts[0]
        assert f"[{c.n}]" in a.answer
        doc = store.documents[c.doc_id]
        if doc.pdf_url:
            assert c.url.endswith(f"#page={c.pages[0]}")


@pytest.mark.parametrize("mode", ["hybrid", "bm25", "dense"])
def test_one_query_encoding_per_answer_and_no_sentence_encoding(answerer, retriever, mode,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    emb = retriever.embedder
    queries: list[list[str]] = []
    passages: list[list[str]] = []
    enc_q, enc_p = emb.encode_queries, emb.encode_passages
    monkeypatch.setattr(emb, "encode_queries", lambda qs: queries.append(qs) or enc_q(qs))
    monkeypatch.setattr(emb, "encode_passages", lambda ts, **kw: passages.append(ts) or enc_p(ts, **kw))
    question = "How long should long-term stability testing cover at the time of submission?"
    a = ask(answerer, retriever, question, mode=mode)  # the query vector of retrieval is reused
    # An answerable question: the count of encodings is checked on a real answer, not on an abstention.
    assert not a.abstained and a.citations and a.dropped_quotes == 0
    assert len(queries) == 1 and passages == []


# ------------------------------------------------------------------ abstention

def _questions(answerable: bool) -> list[str]:
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    if answerable:
        return [r["question"] for r in rows if r["answerable"] and {g["file"] for g in r["gold"]} <= SESSION_FILES]
    return [r["question"] for r in rows if not r["answerable"]]


def test_abstains_on_out_of_corpus_questions(answerer, retriever) -> None:
    questions = _questions(answerable=False)
    assert len(questions) >= 20
    answers = [ask(answerer, retriever, q) for q in questions]
    abstained = [a for a in answers if a.abstained]
    assert len(abstained) >= 0.9 * len(questions), [a.question for a in answers if not a.abstained]
    for a in abstained:
        assert a.citations == [] and a.answer == ""
        assert "do not appear to cover" in a.message
        assert a.related  # the closest passages as related reading


def test_answers_in_corpus_questions(answerer, retriever) -> None:
    questions = _questions(answerable=True)
    assert len(questions) >= 20
    abstained = [q for q in questions if ask(answerer, retriever, q).abstained]
    assert len(abstained) <= 0.1 * len(questions), abstained


def test_a_definition_of_a_term_the_corpus_never_names_abstains(answerer, retriever) -> None:
    # Q9 is all risk assessment, never environmental: without the rule its evidence (0.55) clears the
    # threshold and a Q9 sentence about risk assessment is quoted as the definition.
    a = ask(answerer, retriever, "What is meant by an environmental risk assessment?")
    assert a.abstained and not a.citations, [c.quote for c in a.citations]


def test_a_definition_worded_otherwise_than_its_term_is_answered(answerer, retriever) -> None:
    # "risk acceptance" is a Q9 glossary entry; "severity" its own entry: both named, both answered.
    for question in ("What is meant by risk acceptance?", "What does 'severity' mean in quality risk management?"):
        a = ask(answerer, retriever, question)
        assert not a.abstained and a.citations, question


def test_naming_the_document_neither_raises_nor_lowers_the_coverage_abstention_reads(answerer, retriever) -> None:
    """"According to ICH Q9, …" names the document: for abstention, the unit of Q9 that answers covers the
    question's other terms as it covers them without the name (not less for lacking "ICH Q9", not more
    for its document being named), while the ranking feature counts the name as covered."""

    def principles(question: str):
        r = retriever.retrieve(question, k=10)
        _, cands = answerer.candidates(question, r.passages, r.query_vector)
        return next(c for c in cands if c.unit.text.startswith("Two primary principles of quality risk management"))

    plain = principles("What are the two primary principles of quality risk management?")
    named = principles("According to ICH Q9, what are the two primary principles of quality risk management?")
    assert named.own_coverage == pytest.approx(plain.own_coverage) and plain.own_coverage > 0.5
    assert named.features["coverage"] == pytest.approx(1.0)


@pytest.mark.parametrize(("question", "asked"), [
    ("Our liquid biologic is filled in vials with rubber stoppers. Should some stability samples be stored upside "
     "down?", "Should some stability samples be stored upside down?"),
    ("We make an API by fermentation. Who may enter the cell bank room? And must entry be logged?",
     "Who may enter the cell bank room? And must entry be logged?"),
    ("What is the PDE of TBA?", None),  # one sentence
    ("What is the PDE of TBA? And its class?", None),  # questions only: nothing to leave out
    ("Stability testing of frozen products, e.g. cell therapies.", None),  # no question at all
])
def test_the_asked_part_of_a_question_leaves_out_the_situation_stated_before_it(question: str,
                                                                                 asked: str | None) -> None:
    from atmp_rag.answer import asked_part

    assert asked_part(question) == asked


def test_a_situation_stated_before_the_question_does_not_lower_the_coverage_abstention_reads(answerer,
                                                                                           store) -> None:
    """The Q5C sentence on storing liquid products inverted covers "Should some stability samples be stored upside
    down or on their side?" as much after the asker's "We are a small start-up company preparing our first
    submission next spring." as without it: the situation's words, which the answer need not repeat, no longer
    dilute it (they had, from 0.14 to 0.05, below any abstention threshold's reach)."""
    asked = "Should some stability samples be stored upside down or on their side?"
    scenario = "We are a small start-up company preparing our first submission next spring. " + asked
    unit = next(u for u in store.units if "inverted or horizontal position" in " ".join(u.text.split()))
    passages = [store.passage(unit.chunk_ids[0])]

    def gold(question: str):
        _, cands = answerer.candidates(question, passages)
        return next(c for c in cands if c.unit.unit_id == unit.unit_id)

    alone, after = gold(asked), gold(scenario)
    whole = coverage(answerer.query_terms(scenario), answerer.unit_tokens(after.row))
    assert after.own_coverage == pytest.approx(alone.own_coverage) and after.own_coverage > 2 * whole


def test_a_situation_stated_before_the_question_does_not_lower_a_units_ranking_coverage(answerer, store) -> None:
    """Ranking reads the same coverage as abstention: every unit covers the scenario question at least as well as
    it covers the asking sentence alone, so the sentence that answers what is asked is not outranked by one
    that repeats the situation's words."""
    asked = "Should some stability samples be stored upside down or on their side?"
    scenario = "We are a small start-up company preparing our first submission next spring. " + asked
    unit = next(u for u in store.units if "inverted or horizontal position" in " ".join(u.text.split()))
    passages = [store.passage(unit.chunk_ids[0])]
    alone = {c.row: c.features["coverage"] for c in answerer.candidates(asked, passages)[1]}
    after = {c.row: c.features["coverage"] for c in answerer.candidates(scenario, passages)[1]}
    # (the units closest to each question's vector join both; the passage's own units are common to both)
    common = alone.keys() & after.keys()
    assert len(common) >= 3 and all(after[r] >= alone[r] - 1e-9 for r in common)
    gold = next(r for r in alone if store.units[r].unit_id == unit.unit_id)
    named = answerer._features(gold)[0].doc_tokens  # the ranking signal counts the document's name as covered
    whole = coverage(answerer.query_terms(scenario), answerer.unit_tokens(gold) | named)
    assert after[gold] > 2 * whole


def test_numbers_in_the_situation_do_not_make_the_question_ask_for_a_value(answerer, retriever) -> None:
    """ "Our long-term study runs at 25°C/60% RH and we saw a significant change at 40°C/75% RH. What additional
    study is expected?" asks for a study, not for a condition: Q1A's table of storage conditions, which shares
    the situation's numbers, must not lead as the answer to a value question would (it did)."""
    question = ("Our long-term stability study runs at 25°C/60% RH and we saw a significant change at 40°C/75% RH. "
                "What additional study is expected?")
    _asks_for_no_value(answerer, retriever, question)
    retrieval = retriever.retrieve(question, k=5)
    a = answerer.answer(question, retrieval.passages, query_vector=retrieval.query_vector)
    first = a.citations[0]
    assert first.kind == UnitKind.sentence.value and first.doc_id == Q1A, first.quote
    assert "additional testing at the intermediate storage condition" in " ".join(first.quote.split())
    # Asked for the condition itself, the question does want a value.
    _asks_for_a_value(answerer, retriever, "What is the intermediate storage condition for a study at 25°C/60% RH?")


def _asks_for_no_value(answerer, retriever, question: str) -> None:
    """Q1A's table of storage conditions is a candidate, and no candidate is favoured for holding a value."""
    retrieval = retriever.retrieve(question, k=5)
    _, cands = answerer.candidates(question, retrieval.passages, retrieval.query_vector)
    assert any(c.unit.kind is UnitKind.table for c in cands)
    assert not any(c.features["table_for_value"] or c.features["numeric_match"] for c in cands)


def _asks_for_a_value(answerer, retriever, question: str) -> None:
    retrieval = retriever.retrieve(question, k=5)
    _, cands = answerer.candidates(question, retrieval.passages, retrieval.query_vector)
    assert any(c.features["table_for_value"] for c in cands)


def test_numbers_in_a_condition_do_not_make_the_question_ask_for_a_value(answerer, retriever) -> None:
    """The same case asked in one sentence, the situation as a condition ("If …, what …?"): the clause that asks
    says what kind of answer is wanted, so Q1A's table of storage conditions is no value answer here either (on
    the test split, "If the excipients and API each comply with solvent limits, do we still have to test the
    finished drug product …?" was answered with Q3C's table of acetonitrile contents; now with its scope section)."""
    _asks_for_no_value(answerer, retriever, "If our long-term stability study runs at 25°C/60% RH and we saw a "
                                            "significant change at 40°C/75% RH, what additional study is expected?")
    # The condition alone, asked as a question, does want values.
    _asks_for_a_value(answerer, retriever, "At what conditions does our long-term stability study run, 25°C/60% RH or "
                                           "30°C/65% RH?")


@pytest.mark.parametrize(("question", "asking"), [
    ("If the excipients and API each comply with solvent limits, do we still have to test the finished product?",
     "do we still have to test the finished product?"),
    ("When the interests of science conflict with the well-being of participants, which should prevail?",
     "which should prevail?"),
    ("Once a batch has failed at 40°C, how long is the intermediate study?", "how long is the intermediate study?"),
    # "When" asking, not setting a condition: the whole question
    ("When should the intermediate condition at 30°C be tested?", "When should the intermediate condition at 30°C "
                                                                   "be tested?"),
    # a condition without an asking clause after its comma
    ("If stored at 5°C, for example, the product?", "If stored at 5°C, for example, the product?"),
    ("Our product keeps 2 days. What can we base lot release on?", "What can we base lot release on?"),
    ("What is the PDE of TBA?", "What is the PDE of TBA?"),
])
def test_the_clauses_that_ask_say_what_kind_of_answer_is_wanted(question: str, asking: str) -> None:
    from atmp_rag.answer import asking_clauses

    assert asking_clauses(question) == asking


@pytest.mark.parametrize(("question", "value", "when"), [
    ("At what time points should participants have their blood checked for replication-competent virus?", True,
     True),
    ("pre-CTA meeting request lead time BRDD maximum number of questions", True, True),
    ("If that culture later comes back positive, what are we expected to do and how fast?", True, True),
    ("What quantity of reserve sample should be kept for each API batch?", True, False),
    ("How long should long-term stability testing cover at the time of submission?", True, False),
    ("What should a sponsor do to validate an electronic data capture system used in a trial?", False, False),
    ("Which ICH guideline covers residual solvents?", False, False),
    # a specification's limit, asked for without a quantity word
    ("What vector copy number is acceptable when releasing a CAR-T batch?", True, False),
    ("What is the acceptance criterion for endotoxin in the finished product?", True, False),
    ("What level of residual host cell DNA is allowed?", True, False),
    # a way of doing something, not a value
    ("What approaches are acceptable for demonstrating comparability?", False, False),
    ("What test methods are acceptable for sterility?", False, False),
    ("Should impurity acceptance criteria at filing be set tightly around the observed batch data?", False, False),
])
def test_questions_for_a_value_or_a_time_are_told_apart(question: str, value: bool, when: bool) -> None:
    """The answer-type signals: a question for a value favours units holding a number (and tables), one for a
    time or deadline units saying when ("within", "before", "months")."""
    assert bool(NUMERIC_QUESTION.search(question)) is value
    when_type = ANSWER_TYPES[1][0]
    assert bool(when_type.search(question)) is when



@pytest.mark.parametrize(("question", "money"), [
    ("What fee does EMA charge for a CAT scientific recommendation on classification?", True),
    ("How much does WHO charge in fees to evaluate a cell therapy product?", True),
    ("How much does it cost to request scientific advice?", True),
    ("Can payments to trial participants be made only if they finish the study?", False),
    ("Who is in charge of releasing API batches?", False),
    ("Which charge variants of a monoclonal antibody should be monitored?", False),
    ("How much water loss is a significant change for a product in a semi-permeable container?", False),
])
def test_questions_for_a_fee_or_a_price_are_told_apart(question: str, money: bool) -> None:
    from atmp_rag.answer import asks_for_money

    assert asks_for_money(question) is money


def test_a_question_for_a_fee_abstains_unless_a_passage_states_one(answerer, retriever) -> None:
    """Guidelines say what a submission must hold, not what it costs: a fee question that shares its other words
    with a stability guideline had been answered with a sentence on the data package. With a passage that states
    a fee, the check lets the answer through."""
    fee = "What fee applies to a registration application for a new drug product in climatic zones I and II?"
    assert ask(answerer, retriever, fee).abstained
    assert not ask(answerer, retriever, "What stability data does a registration application for a new drug "
                                        "product in climatic zones I and II need?").abstained
    passages = retriever.retrieve(fee, k=5).passages
    assert not answerer._states_money(fee, passages)
    priced = passages[0].model_copy(update={"chunk": passages[0].chunk.model_copy(
        update={"text": passages[0].chunk.text + " The fee for this review is EUR 12 000."})})
    assert answerer._states_money(fee, [priced, *passages[1:]])

def test_off_topic_question_abstains(answerer, retriever) -> None:
    a = ask(answerer, retriever, "Who won the football world cup in 2018?")
    assert a.abstained and not a.citations


# ------------------------------------------------------------------ CLI

def test_ask_cli_json_contract(session_settings, session_index, store) -> None:
    from atmp_rag.cli import app

    env = {"ATMP_RAG_INDEX__DIR": str(session_settings.index.dir),
           "ATMP_RAG_CORPUS__CATALOG": str(session_settings.corpus.catalog)}
    out = CliRunner().invoke(app, ["ask", "What should be included in a stability-indicating profile of a "
                                          "biotechnological product?", "--json", "--k", "5"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {"question", "answer", "abstained", "citations"} <= set(data)
    assert data["abstained"] is False and data["citations"]
    keys = {"n", "chunk_id", "file", "reference", "title", "section", "pages", "quote", "verified", "url"}
    for c in data["citations"]:
        assert keys <= set(c) and c["spans"]
        assert c["quote"] in "\n".join(store.page(c["doc_id"], p).text for p in c["pages"])

    out = CliRunner().invoke(app, ["ask", "How do I bake sourdough bread?"], env=env)
    assert out.exit_code == 0 and "do not appear to cover" in out.stdout


def test_cite_cli_formats(session_settings, session_index, store) -> None:
    from atmp_rag.cli import app

    env = {"ATMP_RAG_INDEX__DIR": str(session_settings.index.dir)}
    chunk = next(c for c in store.chunks if c.doc_id == Q5C)
    out = CliRunner().invoke(app, ["cite", chunk.chunk_id, "--format", "bibtex"], env=env)
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("@techreport{ICH_Q5C_1995") and "ICH Q5C" in out.stdout
    out = CliRunner().invoke(app, ["cite", chunk.chunk_id, "--format", "csl-json"], env=env)
    [item] = json.loads(out.stdout)  # CSL-JSON is an array, as bibliography files hold
    assert item["number"] == "ICH Q5C"
    assert CliRunner().invoke(app, ["cite", chunk.chunk_id, "--format", "docx"], env=env).exit_code == 2
    assert CliRunner().invoke(app, ["cite", "no-such-chunk"], env=env).exit_code == 1


def test_a_scope_section_is_background_unless_the_question_asks_about_the_document(answerer, retriever) -> None:
    """Units under a heading of the document's scope, background or purpose are marked as setting out what the
    document covers (a scorer signal, fitted on dev): a scope's list of the materials a guidance covers shares a
    question's nouns without stating a requirement. A question about the document itself ("Does the guideline
    cover …?") is answered there, so for it the mark is off."""
    passages = retriever.retrieve("scope of the stability guideline new drug substances and products", k=5).passages
    for question, marked in (("How long should long-term stability studies of a new drug substance last?", 1.0),
                             ("Does the stability guideline cover biotechnological products?", 0.0)):
        _, cands = answerer.candidates(question, passages)
        scope = [c for c in cands if any("scope" in h.lower() for h in c.unit.section_path)]
        others = [c for c in cands if not any(w in " ".join(c.unit.section_path).lower()
                                              for w in ("scope", "introduction", "background", "objective",
                                                        "purpose", "preamble", "foreword"))]
        assert scope and others
        assert {c.features["background_unasked"] for c in scope} == {marked}
        assert {c.features["background_unasked"] for c in others} == {0.0}
