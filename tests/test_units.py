"""Quotable units: cut at ingest, verbatim at their offsets, never from non-content pages or fragments,
and the answers built from them on a layout this project was not written against."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from atmp_rag.answer import Answerer, verify_unit
from atmp_rag.config import Settings
from atmp_rag.models import UnitKind
from tests.conftest import CATALOG


def reproduce(store, doc_id: str, spans) -> str:
    return "\n".join(store.page(doc_id, s.page).text[s.start:s.end] for s in spans)


def test_every_unit_is_verbatim_at_its_offsets(store) -> None:
    assert len(store.units) > 300
    for u in store.units:
        assert reproduce(store, u.doc_id, u.spans) == u.text, u.unit_id
        if u.context:
            assert reproduce(store, u.doc_id, u.context_spans) == u.context, u.unit_id
        assert verify_unit(store, u)
        assert u.chunk_ids and all(store.chunk(c) is not None for c in u.chunk_ids)


def test_units_are_never_fragments_or_non_content(store) -> None:
    headings = {p[-1] for u in store.units for p in [u.section_path] if p}
    for u in store.units:
        assert not u.text[0].islower(), u.text[:60]
        assert not u.text.split("\n")[0].strip().isdigit(), u.text[:60]  # no footnote-marker line first
        assert all(store.page(u.doc_id, s.page).is_content for s in [*u.spans, *u.context_spans]), u.unit_id
        lines = u.text.split("\n")
        first_line = lines[0].strip()
        # a unit never starts with the wrapped tail of a heading ("Drug Substances\nIf an isolated…"): a
        # heading's last words alone on the first line, the next line starting a new sentence
        tail = len(lines) > 1 and lines[1][:1].isupper() and len(first_line.split()) <= 6
        assert not (tail and any(h.endswith(first_line) and h != first_line for h in headings)), u.text[:80]


def test_unit_vectors_are_normalised_and_row_aligned(store) -> None:
    vectors = np.asarray(store.unit_vectors())
    assert vectors.shape == (len(store.units), store.manifest["dimension"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_real_units_have_lists_tables_and_definitions(store) -> None:
    kinds = {u.kind for u in store.units}
    assert {UnitKind.sentence, UnitKind.list, UnitKind.item, UnitKind.table, UnitKind.definition} <= kinds
    q9_lead = [u for u in store.units if u.kind is UnitKind.list
               and u.text.startswith("Two primary principles of quality risk management are:")]
    assert q9_lead and q9_lead[0].text.rstrip().endswith("commensurate with the level of risk.")
    tables = [u for u in store.units if u.kind is UnitKind.table and "Intermediate**" in u.text]
    assert tables and tables[0].text.startswith("Study Storage condition")  # the header stays with the rows
    defs = {u.context.rstrip(":"): u for u in store.units if u.kind is UnitKind.definition}
    assert "Accelerated testing" in defs
    assert defs["Accelerated testing"].section_path[-1] == "Accelerated testing"


# ------------------------------------------------------------------ a layout never seen before

@pytest.fixture(scope="module")
def regulator_index(tmp_path_factory: pytest.TempPathFactory, embedder):
    """A one-document index of a generated guideline of "another regulator" (title page, history page,
    "- N -" labels, glossary, table, figure, footnote, reference list, contact page); not in the catalog."""
    from atmp_rag.ingest import ingest
    from atmp_rag.store import open_index
    from tests.pdfgen import regulator_pdf

    tmp = tmp_path_factory.mktemp("regulator")
    corpus = tmp / "corpus"
    corpus.mkdir()
    regulator_pdf(corpus / "hpra-gn-0042.pdf")
    settings = Settings().replace({"corpus.dir": corpus, "index.dir": tmp / "indexes", "corpus.catalog": CATALOG})
    report = ingest(settings, show_progress=False, embedder=embedder)
    assert report.uncatalogued == ["hpra-gn-0042"]
    store = open_index(settings.index.dir)
    return store, Answerer(store, settings.replace({"answer.abstain_threshold": 0.0}), embedder), settings


def _answer(regulator_index, question: str):
    from atmp_rag.retrieve import Retriever

    store, answerer, settings = regulator_index
    retrieval = Retriever(store, answerer.embedder, settings).retrieve(question, k=5)
    return answerer.answer(question, retrieval.passages, retrieval.query_vector)


def test_unseen_layout_definition_leads(regulator_index) -> None:
    a = _answer(regulator_index, "What is a viral vector?")
    first = a.citations[0]
    assert first.kind == "definition" and first.context == "Viral vector"
    assert first.section.endswith("Glossary › Viral vector")
    assert a.answer.startswith("Viral vector: A virus modified to deliver genetic material")


def test_unseen_layout_table_is_quoted_with_its_header(regulator_index) -> None:
    a = _answer(regulator_index, "What is the minimum observation period in tumorigenicity studies of "
                                 "pluripotent stem cell derived products?")
    first = a.citations[0]
    assert first.kind == "table"
    assert "Cell type Observation period Animals per group" in first.quote
    assert "Pluripotent stem cell derived 6 months 10" in first.quote


@pytest.mark.parametrize("question", [
    "Health Products Regulatory Authority guidance for sponsors version 2.1 effective date",
    "document history first publication section 4 on tumorigenicity added",
    "Smith Jones Brown biodistribution of lentiviral vectors in mice Hum Gene Ther",
    "contact telephone e-mail website of the authority",
    "decision scheme starting cells expansion reprogramming soft agar release",
])
def test_unseen_layout_never_quotes_front_matter_references_or_figures(regulator_index, question: str) -> None:
    store, _, _ = regulator_index
    a = _answer(regulator_index, question)
    for c in a.citations:
        assert all(store.page(c.doc_id, p).is_content for p in c.pages), (question, c.pages)
        assert "doi" not in c.quote and "Hum Gene Ther" not in c.quote
        assert "Reprogramming\nSoft agar" not in c.quote
        assert not c.quote.startswith("1 ")


def test_unseen_layout_footnote_marker_is_not_quoted(regulator_index) -> None:
    store, _, _ = regulator_index
    samples = [u for u in store.units if "Samples should be taken from all major organs" in u.text]
    assert samples and samples[0].text.startswith("Samples should be taken")


def test_unseen_layout_labels_in_citations(regulator_index) -> None:
    a = _answer(regulator_index, "How long should the persistence of the vector be followed?")
    first = a.citations[0]
    assert "at least three months" in " ".join(first.quote.split())
    assert first.pages == [3] and first.page_labels == ["1"]  # printed "- 1 -" on PDF page 3


def test_units_survive_an_incremental_rebuild(regulator_index, tmp_path: Path, embedder) -> None:
    from atmp_rag.ingest import ingest
    from atmp_rag.store import open_index

    store, _, settings = regulator_index
    copied = settings.replace({"index.dir": tmp_path / "indexes", "corpus.dir": tmp_path / "corpus"})
    shutil.copytree(settings.corpus.dir, copied.corpus.dir)
    shutil.copytree(settings.index.dir, copied.index.dir, symlinks=True)
    from tests.pdfgen import plain_pdf

    plain_pdf(copied.corpus.dir / "extra.pdf", [["1. Scope", "This extra guideline covers nothing at all here."]])
    report = ingest(copied, show_progress=False, embedder=embedder)
    assert report.documents_reused == 1 and report.documents_indexed == 1
    again = open_index(copied.index.dir)
    old_units, old_vecs = store.doc_units("hpra-gn-0042")
    new_units, new_vecs = again.doc_units("hpra-gn-0042")
    assert [u.model_dump() for u in new_units] == [u.model_dump() for u in old_units]
    assert np.array_equal(new_vecs, old_vecs)  # reused, not re-encoded


def test_fda_style_title_and_contact_pages_and_references_are_never_units(tmp_path: Path) -> None:
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import fda_like_pdf

    pages = extract_pages(fda_like_pdf(tmp_path / "fda.pdf"), "fda")
    assert [p.kind.value for p in pages] == ["title", "contact", "content", "content", "content"]
    seg = segment("fda", pages)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    texts = " ".join(u.text for u in built.units)
    assert "Potency is the specific ability" in texts and "You should develop a potency assay" in texts
    assert "Guidance for Industry" not in texts and "ocod@fda.hhs.gov" not in texts
    assert "Cytotherapy" not in texts and built.dropped["reference list"] == 1
    body = [u for u in built.units if max(u.pages) < 5]
    assert {u.section_path[-1] for u in body} == {"I. INTRODUCTION", "II. BACKGROUND", "III. RECOMMENDATIONS"}
    # "Term: definition" and "Term – definition" on one line are glossary entries, as a term on its own line is.
    entries = {u.context: u for u in built.units if u.kind.value == "definition"}
    assert set(entries) == {"Bioassay:", "Reference standard –", "Surrogate assay:"}
    assert entries["Bioassay:"].text.startswith("An assay that measures") and \
        entries["Bioassay:"].text.endswith("in comparison with a reference standard.")
    assert entries["Reference standard –"].section_path == ["APPENDIX A: GLOSSARY", "Reference standard"]


def test_bare_numbered_sections_are_headings_in_context_and_footnotes_are_not(tmp_path: Path) -> None:
    """"2 Biodistribution" followed by "2.1 …" opens section 2; the footnote "1 Health Canada considers …"
    opens nothing; "4 References" is a reference list, never quoted."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import bare_numbered_pdf

    seg = segment("hc", extract_pages(bare_numbered_pdf(tmp_path / "hc.pdf"), "hc"))
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    section_of = {u.text.split()[0]: u.section for u in built.units if u.text[:1].isdigit()}
    assert section_of["1.1.1"] == "1 Introduction › 1.1 Policy objectives"
    first = next(u.text for u in built.units if u.text.startswith("1.1.1"))
    assert first.endswith("to humans.1")  # the footnote below is a sentence of its own, not glued on
    assert section_of["2.1"] == section_of["2.2"] == "2 Biodistribution"
    assert section_of["3.1"] == "3 Tumourigenicity"
    assert not any(u.text.startswith(("Biodistribution", "Tumourigenicity")) for u in built.units)
    texts = " ".join(u.text for u in built.units)
    assert "Preclinical safety evaluation" not in texts and built.dropped["reference list"] >= 1
    assert not any("Health Canada" in s for u in built.units for s in u.section_path)


def test_bare_sections_in_sequence_and_a_table_captioned_below(tmp_path: Path) -> None:
    """Once "1 Introduction" and "2 Scope" show the numbering, "3 Potency assays" opens section 3 without a
    subsection, and "5 Comparability" follows a table; the page-bottom footnote "3 Regulation (EC) …"
    opens nothing. The table whose caption sits under it is quoted as a table, caption included."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import sequence_pdf

    seg = segment("tga", extract_pages(sequence_pdf(tmp_path / "tga.pdf"), "tga"))
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    section_of = {u.text.split()[0]: u.section for u in built.units}
    assert section_of["Potency"] == "3 Potency assays"
    assert section_of["Release"] == "4 Release specifications"
    assert section_of["A"] == "5 Comparability"
    assert not any("Regulation" in s for u in built.units for s in u.section_path)
    table = next(u for u in built.units if "Viability" in u.text)
    assert table.kind is UnitKind.table and table.section == "4 Release specifications"
    assert table.text.startswith("Test Acceptance criterion") and table.text.endswith("cell therapy products")
    assert not any(u.text.startswith(("Potency assays", "Release specifications\n")) for u in built.units)


def test_unnumbered_headings_over_numbered_paragraphs_lists_and_a_key_points_box(tmp_path: Path) -> None:
    """UK-style guidance: "General principles" over "Dose justification" over "4. The highest dose …" heads
    a section and its subsection; the lettered list ends at its full stop, so paragraph 5 is a sentence of
    its own, not an item; the "Key points" box's sentence is quoted without the web address and label
    above it; no unit is a heading or a web address."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import uk_guidance_pdf

    seg = segment("uk", extract_pages(uk_guidance_pdf(tmp_path / "uk.pdf"), "uk"))
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    by_start = {u.text.split()[0] + " " + u.text.split()[1]: u for u in built.units}
    assert by_start["The highest"].section == "General principles › Dose justification"
    scope = next(u for u in built.units if "does not apply to:" in u.text)
    assert scope.kind is UnitKind.list and scope.section in ("Products out of scope", "Scope › Products out of scope")
    paragraph = by_start["A dose-response"]
    assert paragraph.kind is UnitKind.sentence and paragraph.section == "General principles › Dose justification"
    items = [u for u in built.units if u.kind is UnitKind.list and "Relevant factors" in u.text]
    assert len(items) == 1 and items[0].text.endswith("chosen species.")
    box = by_start["The non-clinical"]
    assert box.text.startswith("The non-clinical programme") and box.text.endswith("case by case.")
    assert not any(u.text.startswith(("https", "Key points", "General principles")) for u in built.units)


def test_a_footnote_is_not_swallowed_by_a_sentence_running_over_the_page(tmp_path: Path) -> None:
    """WHO annex: the scope's sentence runs from page 2 to page 3 past the footnote at the foot of page 2;
    the sentence is quoted whole without the footnote, and the footnote is a unit of its own, cited on
    page 2 under the section its page ended in, without its marker. Then the back matter: "Authors and
    acknowledgements" is top-level, not a subsection of 6, and never quoted; the appendix takes its long title
    from the next line, and neither the reference list nor the blank form is quoted."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import who_annex_pdf

    pages = extract_pages(who_annex_pdf(tmp_path / "who.pdf"), "who")
    seg = segment("who", pages)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    scope = next(u for u in built.units if u.text.startswith("These guidelines apply"))
    assert scope.text.endswith("made with them.") and "Integration" not in scope.text and scope.pages == [2, 3]
    note = next(u for u in built.units if "Integration is expected" in u.text)
    assert note.text.startswith("Integration") and note.pages == [2] and note.section == "2. Scope"
    for u in (scope, note):
        assert "\n".join(pages[s.page - 1].text[s.start:s.end] for s in u.spans) == u.text
    # Back matter after numbered sections is top-level: the acknowledgements are never quoted, and the appendix
    # after them is quoted under its long title; a form is no unit.
    assert not any(u.text.startswith("The first draft") for u in built.units)
    assert any(s.path == ["Authors and acknowledgements"] for s in seg.sections)
    certificate = next(u for u in built.units if u.text.startswith("This certificate"))
    assert certificate.section == "Appendix 1 Model certificate for the release of gene therapy vector lots"
    assert not any("____" in u.text or "Hum Gene Ther" in u.text for u in built.units)


def test_numbered_paragraphs_raised_markers_and_footnotes_of_an_eu_gmp_guideline(tmp_path: Path) -> None:
    """EudraLex style: a raised marker does not cut paragraph 1.10 in two; paragraph 1.13, whose first line
    reads like a title, is no heading after paragraphs 1.10-1.12; the footnotes are quoted under the section
    of their markers (the page ends in section 2); "Hygiene" over "3.12 …" heads a subsection."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import eu_gmp_pdf

    seg = segment("eu", extract_pages(eu_gmp_pdf(tmp_path / "eu.pdf"), "eu"))
    assert not any("1.13" in " ".join(s.path) for s in seg.sections)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    unit = {u.text.split()[0] + " " + u.text.split()[1]: u for u in built.units}
    assert unit["1.10 Advanced"].text.endswith("Regulation¹ (EC) No 1394/2007.")
    # The raised marker is no digit of the number after it, nor exponents digits of the number before.
    assert "Directive² 2002/98/EC apply" in " ".join(unit["1.12 Where"].text.split())
    assert unit["2.11 Doses"].text.endswith("e.g. 2 × 10¹³ vg/kg; the sterility assurance level is 10⁻⁶.")
    assert unit["1.13 The"].section == "1. Introduction" and unit["1.13 The"].text.endswith("made to them.")
    note = unit["Regulation (EC)"]
    assert note.section == "1. Introduction" and note.text.endswith("advanced therapies.")
    assert "European Parliament" not in unit["1.13 The"].text
    assert unit["3.12 Personnel"].section == "3. Personnel › Hygiene"
    assert unit["3.14 Each"].section == "3. Personnel › Qualified Person"


def test_a_glossary_table_gives_one_entry_per_row(tmp_path: Path) -> None:
    """Under "Term Definition", each row of the two-column table is an entry of its own, its wrapped
    definition cell (and a wrapped term: "product (ATMP)") included; the header row is no term; the next
    numbered section is text again."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import glossary_table_pdf

    pages = extract_pages(glossary_table_pdf(tmp_path / "rp.pdf"), "rp")
    seg = segment("rp", pages)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    entries = {u.context: u for u in built.units if u.kind is UnitKind.definition}
    assert set(entries) == {"Vector shedding", "Homologous model", "Disease model",
                            "Advanced therapy medicinal\nproduct (ATMP)"}
    assert entries["Vector shedding"].text == ("The dissemination of the vector through secretions\n"
                                               "or excreta of the treated subject.")
    assert entries["Vector shedding"].section == "2. Definitions › Vector shedding"
    assert entries["Disease model"].text.startswith("Animal model that reproduces")
    # a term wrapped in its column is read into the definition's second line: the entry takes its tail
    atmp = entries["Advanced therapy medicinal\nproduct (ATMP)"]
    assert atmp.context == "Advanced therapy medicinal\nproduct (ATMP)"
    assert atmp.section == "2. Definitions › Advanced therapy medicinal product (ATMP)"
    assert atmp.text.startswith("A gene therapy medicinal product")
    # both pieces of the term are verbatim page text at their spans (what the quote check reads)
    assert "\n".join(pages[0].text[s.start:s.end] for s in atmp.context_spans) == atmp.context
    last = next(u for u in built.units if u.text.startswith("The applicant should justify"))
    assert last.kind is UnitKind.sentence and last.section == "3. Discussion"


LABEL_TABLE_PAGES = [
    ["5. Quality requirements",
     "ATMPs must meet quality standards equivalent to those of authorised products.",
     "Table 1: Quality expectations for ATMPs prepared in hospitals",
     "Requirement\tExpectation",
     "Premises\tOpen manipulations are carried out in a grade A zone with a",
     "\tgrade B background.",
     "\tA closed system may be operated in grade D.",
     "Release and",
     "characterisation",
     "\tAll release tests are performed on every batch before it is used.",
     "Personnel\tOperators are trained in aseptic technique before they",
     "\tmanufacture a product for a patient."],
    ["Table 1 (continued)",
     "Requirement\tExpectation",
     "Release and certification\tEach batch is certified by the named responsible",
     "\tperson before administration.",
     "The applicant describes in the dossier how each of these expectations is met for every product made.",
     "6. Traceability",
     "Traceability data must be kept for at least 30 years after the expiry date."],
]


def test_a_table_of_labels_and_prose_is_quoted_by_sentence_with_the_row_label(tmp_path: Path) -> None:
    """A captioned "Requirement | Expectation" table whose cells are prose, continued on the next page under
    its repeated header: each sentence of a cell is a unit with the row's label as its context, so no quote
    starts with the label ("Premises Open manipulations …"); the text after the table is prose again."""
    from atmp_rag.answer import quote_text
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.models import Citation
    from atmp_rag.units import build_units
    from tests.pdfgen import plain_pdf

    seg = segment("he", extract_pages(plain_pdf(tmp_path / "he.pdf", LABEL_TABLE_PAGES), "he"))
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 80, 10, 10))
    labelled = [(u.context, " ".join(u.text.split()), u.pages) for u in built.units if u.context]
    assert labelled == [
        ("Premises", "Open manipulations are carried out in a grade A zone with a grade B background.", [1]),
        # a cell's sentence on a line of its own, as narrow as the cell, stays in the row
        ("Premises", "A closed system may be operated in grade D.", [1]),
        # a label wrapped over its own lines, read before its cell
        ("Release and\ncharacterisation", "All release tests are performed on every batch before it is used.", [1]),
        ("Personnel", "Operators are trained in aseptic technique before they manufacture a product for a patient.",
         [1]),
        # after "Table 1 (continued)" and the repeated header on the next page
        ("Release and certification", "Each batch is certified by the named responsible person before "
                                      "administration.", [2]),
    ]
    # running text after the table (wider than its cells) and the next section are prose again
    after = next(u for u in built.units if u.text.startswith("The applicant describes"))
    assert after.section == "5. Quality requirements" and not after.context
    last = next(u for u in built.units if u.text.startswith("Traceability data"))
    assert last.section == "6. Traceability" and not last.context
    assert {c.section for c in built.units} == {"5. Quality requirements", "6. Traceability"}
    assert not any(u.text.startswith(("Premises", "Personnel", "Release and", "Requirement", "Table"))
                   for u in built.units)
    unit = built.units[[u.context for u in built.units].index("Personnel")]
    citation = Citation.model_construct(quote=unit.text, context=unit.context, kind=unit.kind.value, note="")
    assert quote_text(citation).startswith("Personnel: Operators are trained")


def test_a_term_wrapped_in_its_table_cell_read_cell_by_cell(tmp_path: Path) -> None:
    """A glossary table drawn cell by cell puts a wrapped term's lines ("Advanced therapy medicinal" +
    "product (ATMP)", "Vector copy number" + "(VCN) per transduced" + "cell") before its definition: those
    lines are the term, the definition is the entry's unit,
    and the entry is found by every name it goes by ("ATMP", "replication-competent lentivirus")."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.store import definition_keys, term_key
    from atmp_rag.text.lexical import Tokenizer
    from atmp_rag.units import build_units
    from tests.pdfgen import glossary_cells_pdf

    seg = segment("he", extract_pages(glossary_cells_pdf(tmp_path / "he.pdf"), "he"))
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    entries = {" ".join(u.context.split()): u for u in built.units if u.kind is UnitKind.definition}
    assert set(entries) == {"Advanced therapy medicinal product (ATMP)", "Batch",
                            "Replication-competent lentivirus (RCL)", "Chimeric antigen receptor (CAR) T cell",
                            "Vector copy number (VCN) per transduced cell"}
    # a definition that starts "A T cell …" is no entry "A"
    assert entries["Chimeric antigen receptor (CAR) T cell"].text.startswith("A T cell genetically")
    atmp = entries["Advanced therapy medicinal product (ATMP)"]
    assert atmp.text.startswith("A gene therapy medicinal product") and atmp.text.endswith("Regulation.")
    assert atmp.section == "APPENDIX 1 GLOSSARY › Advanced therapy medicinal product (ATMP)"
    tok = Tokenizer("english", "en")
    keys = definition_keys([atmp.context, entries["Replication-competent lentivirus (RCL)"].context], tok)
    assert term_key(tok.one("ATMP")) in keys[0]
    assert term_key(tok.one("advanced therapy medicinal product")) in keys[0]
    assert term_key(tok.one("replication-competent lentivirus")) in keys[1]


def test_chapter_article_section_and_n0_headings(tmp_path: Path) -> None:
    """CHAPTER / Article headings with their titles on the next line, "1.0 Purpose" as a top-level section
    holding "1.1", "Section 3: …"; an "Article 14 …" cross-reference at a line start opens nothing."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import division_pdf

    pages = extract_pages(division_pdf(tmp_path / "div.pdf"), "div")
    assert [p.kind.value for p in pages] == ["content"] * 3
    seg = segment("div", pages)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))

    def section(words: str) -> list[str]:
        return next(u.section_path for u in built.units if words in " ".join(u.text.split()))

    assert section("lays down specific rules") == ["CHAPTER I SUBJECT MATTER AND DEFINITIONS",
                                                   "Article 1 Subject matter"]
    assert section("tissue engineered product means")[-1] == "Article 2 Definitions"
    assert section("as required by Article 14") == ["CHAPTER II MARKETING AUTHORISATION REQUIREMENTS",
                                                    "Article 3 Donation, procurement and testing"]
    # Numbered sections sit under the chapter, as in one document they would; "2.0" is a sibling of "1.0".
    chapter = ["CHAPTER II MARKETING AUTHORISATION REQUIREMENTS"]
    assert section("vector shedding data are collected") == [*chapter, "1.0 Purpose"]
    assert section("applies to all gene therapy products") == [*chapter, "2.0 Scope"]
    assert section("study director should approve") == [*chapter, "Section 3: Responsibilities"]
    assert not any("Article 14" in s for u in built.units for s in u.section_path)


def test_unnumbered_title_case_sections_glossary_and_references(tmp_path: Path) -> None:
    """"Introduction", "Glossary" and "References" alone on their lines are sections: glossary terms
    become definitions, the author-year reference list is never quoted."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.models import UnitKind
    from atmp_rag.units import build_units
    from tests.pdfgen import title_case_pdf

    pages = extract_pages(title_case_pdf(tmp_path / "who.pdf"), "who")
    assert [p.kind.value for p in pages] == ["content", "content"]
    seg = segment("who", pages)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    intro = next(u for u in built.units if "Nonclinical studies should characterise" in u.text)
    assert intro.section_path == ["Introduction"]
    definitions = {u.context.rstrip(":"): u for u in built.units if u.kind is UnitKind.definition}
    assert {"Vector shedding", "Persistence"} <= set(definitions)
    assert definitions["Vector shedding"].text.startswith("The release of a viral vector")
    texts = " ".join(u.text for u in built.units)
    assert "J Pharm Sci" not in texts and "Hum Gene Ther" not in texts and "World Health Organization" not in texts


def test_questions_of_a_qa_document_head_their_answers_and_are_never_quoted(tmp_path: Path) -> None:
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.text.content import unit_problem
    from atmp_rag.units import build_units
    from tests.pdfgen import qa_pdf

    pages = extract_pages(qa_pdf(tmp_path / "qa.pdf"), "qa")
    assert [p.kind.value for p in pages] == ["content", "content", "content"]
    seg = segment("qa", pages)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))

    def section(words: str) -> list[str]:
        return next(u.section_path for u in built.units if words in " ".join(u.text.split()))

    assert section("contains a recombinant nucleic acid") == [
        "1. Introduction", "Q1: What is a gene therapy medicinal product?"]
    assert section("chimeric antigen receptor")[-1].startswith("Q2: Can a CAR-T cell product")
    assert section("incorporates a medical device") == [
        "2. Combined products",
        "Question 3. Is a scaffold seeded with cells a combined advanced therapy medicinal product?"]
    assert section("48 hours")[-1] == "4. Does the manufacturer have to notify the competent authority?"
    assert section("immediate significant hazard") == [
        "3. Out-of-specification batches", "Can an out-of-specification batch be administered to a patient?"]
    assert section("treating physician")[-1] == "Who decides on the administration of such a batch?"
    # A list of questions with no answer between them heads nothing: the lead-in stays under question 4.
    assert section("answer three questions")[-1].startswith("4. Does the manufacturer")
    assert not any(s.startswith(("What might", "How likely")) for u in built.units for s in u.section_path)
    assert not any(u.text.rstrip().endswith("?") for u in built.units)
    # The document's title above the first heading is not a statement of the guideline.
    assert not any(u.text.startswith("Questions and answers on") for u in built.units)
    assert built.dropped["title before the first heading"] == 1
    assert unit_problem("What is the shelf life of the product once it has been thawed?") is not None


def test_contents_without_leader_dots_and_an_unnumbered_executive_summary(tmp_path: Path) -> None:
    """An adopted EMA guideline: its contents page ("4.1. General information 5", no leader dots) is not
    content, so "1. Introduction" after it opens section 1 instead of continuing "6. Clinical documentation 10";
    "Executive summary" alone on its line is a section, not the start of a quote."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import ema_final_pdf

    pages = extract_pages(ema_final_pdf(tmp_path / "ema.pdf"), "ema")
    assert [p.kind.value for p in pages] == ["title", "toc", "content"]
    seg = segment("ema", pages)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10))
    by_start = {u.text.split()[0]: u for u in built.units}
    assert by_start["This"].section_path == ["Executive summary"]
    assert by_start["Advanced"].section_path == ["1. Introduction"]
    assert by_start["The"].section_path == ["2. Scope"]
    assert all(u.pages == [3] for u in built.units)


def _built_units(pdf: Path, doc_id: str):
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units

    seg = segment(doc_id, extract_pages(pdf, doc_id))
    return build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10)).units


def test_an_ema_gene_therapy_draft_with_raised_markers_a_table_of_values_and_late_definitions(tmp_path: Path) -> None:
    """EMA/CAT draft: "Ph. Eur.²" ends its sentence (the marker after the abbreviation's full stop); µ stays
    the micro sign; "… listed in" / "Table 1." is one sentence, not the caption of the table below; the
    table's rows with exponents stay in the table (not read as prose); "Definitions" after "References"
    is a top-level section whose "Term: definition in lower case" lines are glossary entries."""
    from tests.pdfgen import gene_therapy_draft_pdf

    units = _built_units(gene_therapy_draft_pdf(tmp_path / "gt.pdf"), "gt")
    texts = [" ".join(u.text.split()) for u in units]
    assert "Residual host cell DNA should be quantified using validated methods as described in Ph. Eur.²" in texts
    assert "The occupational exposure limit of the excipient was set at a concentration of 5 µg/m³." in texts
    assert ("The release specification of an AAV vector drug product should include at least the tests listed in "
            "Table 1.") in texts
    table = next(u for u in units if u.kind is UnitKind.table)
    flat = " ".join(table.text.split())
    assert flat.startswith("Table 1. Release tests") and "1.0 × 10¹³ – 5.0 × 10¹³ vg/mL" in flat
    assert "< 1 rcAAV per 10⁸ vg" in flat and "Endotoxin LAL < 5 EU/kg" in flat
    shedding = next(u for u in units if u.kind is UnitKind.definition and u.context == "Shedding:")
    assert shedding.section_path == ["Definitions", "Shedding"]  # the lower-case definition is an entry too
    assert shedding.text.startswith("the dissemination of the vector")


def test_an_fda_guidance_box_headings_code_citation_and_landscape_table(tmp_path: Path) -> None:
    """FDA final guidance: the boxed statement and the title above it are never quoted; "1. Assay
    Development" nests under "B. Potency Assays" of "II. RECOMMENDATIONS"; "(42 U.S.C. 262).¹" does not end
    the sentence at "U.S.C."; the landscape table with wrapped cells is one table unit holding every row."""
    from tests.pdfgen import fda_final_pdf

    units = _built_units(fda_final_pdf(tmp_path / "fda.pdf"), "fda")
    assert not any("current thinking" in u.text or "alternative approach" in u.text or
                   u.text.startswith("Potency Assurance for") for u in units)
    dev = next(u for u in units if u.text.startswith("Assay development should begin"))
    assert dev.section_path == ["II. RECOMMENDATIONS", "B. Potency Assays", "1. Assay Development"]
    assert any(" ".join(u.text.split()).endswith("section 351 of the PHS Act (42 U.S.C. 262).¹") for u in units)
    table = next(u for u in units if u.kind is UnitKind.table)
    flat = " ".join(table.text.split())
    assert flat.startswith("Table 1. Examples of Potency-Related Attributes")
    assert "≥ 20% CAR+ T cells" in flat and "≤ 5 copies per transduced cell" in flat and "target ratio of 10:1" in flat


#: A first page of running text before the page with a table (so the table is not on a title page).
_CAR_T_INTRO = ["1. Introduction", "This guideline describes the quality documentation of CAR-T cell products.",
                "It applies to autologous and allogeneic products. The applicant should justify any deviation.",
                "Release testing should be performed on each batch. Results should be recorded."]


def test_a_table_under_a_prose_like_caption_keeps_its_rows_of_lower_case_words(tmp_path: Path) -> None:
    """A caption that reads like a sentence heads a table whose row "Vector copy number ddPCR ≤ 5 copies per
    transduced cell" has as many lower-case words as prose: the row stays in the table (it was lost between
    two slices of it), and the paragraph under the table is still running text."""
    from tests.pdfgen import plain_pdf

    page = ["4.4. Release specification",
            "The release specification should include at least the tests listed in Table 1.",
            "Table 1. Release tests and acceptance criteria for the finished CAR-T cell product",
            "Quality attribute\tAcceptance criterion",
            "Viability (flow cytometry)\t≥ 80% viable cells",
            "Vector copy number ddPCR\t≤ 5 copies per transduced cell",
            "Replication-competent lentivirus\tNot detected",
            "Endotoxin\t< 0.5 EU/mL",
            "Where the result of the sterility test is not available before the product must be administered, the",
            "product may be released on the basis of the other tests."]
    units = _built_units(plain_pdf(tmp_path / "t.pdf", [_CAR_T_INTRO, page]), "t")
    tables = [" ".join(u.text.split()) for u in units if u.kind in (UnitKind.table, UnitKind.row)]
    assert len(tables) == 1 and tables[0].startswith("Table 1. Release tests")
    assert "Vector copy number ddPCR ≤ 5 copies per transduced cell" in tables[0]
    assert tables[0].endswith("Endotoxin < 0.5 EU/mL")
    assert any(u.text.startswith("Where the result of the sterility test") for u in units)


def test_a_numbered_caption_heads_a_table_whose_values_are_words(tmp_path: Path) -> None:
    """Under "Table 1. Release tests …" the header "Test Method Acceptance criterion" is the table's header
    row, not a subheading, and rows whose values are words ("Sterility Ph. Eur. 2.6.27 No growth") are a
    table with that caption and header, not one long "sentence" running from row to row (seen on a
    generated EMA/CAT guideline that no test had covered)."""
    from tests.pdfgen import plain_pdf

    page = ["4.3. Characterisation and release testing",
            "Characterisation should include identity, purity and potency. Table 1 lists the release tests.",
            "Table 1. Release tests for genetically modified autologous T-cell products (indicative)",
            "Test\tMethod\tAcceptance criterion",
            "Identity\tFlow cytometry (CAR expression)\tCAR-positive T cells detected",
            "Viability\tFlow cytometry (7-AAD exclusion)\tAt least 70% viable cells",
            "Vector copy number\tqPCR or ddPCR\tNot more than 5 copies per transduced",
            "\t\tcell",
            "Sterility\tPh. Eur. 2.6.27\tNo growth",
            "Mycoplasma\tPh. Eur. 2.6.7 (NAT)\tNot detected",
            "Replication-competent\tCell-based assay or qPCR\tNot detected",
            "Where the shelf-life of the product is shorter than the time required to obtain the result of the",
            "compendial sterility test, the product may be released on the basis of a rapid method."]
    units = _built_units(plain_pdf(tmp_path / "t.pdf", [_CAR_T_INTRO, page]), "t")
    assert not any("Test Method" in " ".join(u.section_path) for u in units)
    tables = [u for u in units if u.kind in (UnitKind.table, UnitKind.row)]
    assert tables, [(u.kind, u.text) for u in units]
    quoted = " ".join(" ".join(f"{u.context} {u.text}".split()) for u in tables)
    assert quoted.startswith("Table 1. Release tests") and "Test Method Acceptance criterion" in quoted
    assert "Sterility Ph. Eur. 2.6.27 No growth" in quoted
    assert "Replication-competent Cell-based assay or qPCR" in quoted
    assert not any(u.kind is UnitKind.sentence and "No growth" in u.text for u in units)
    assert any(u.kind is UnitKind.sentence and u.text.startswith("Where the shelf-life") for u in units)


def test_a_lettered_list_of_lower_case_definitions(tmp_path: Path) -> None:
    """ANVISA's "the following definitions apply:" and "b) shedding: the release …": each item is the definition of
    its term (the term as context, the words after the colon as the quote), beside the list itself; a lettered
    list under another lead-in ("as defined in Art. 8, the sponsor should provide:") defines nothing."""
    from tests.pdfgen import plain_pdf

    page = ["III. DEFINITIONS", "Art. 8. For the purposes of this Guide, the following definitions apply:",
            "a) vector: the vehicle, viral or non-viral, used to deliver the genetic material into the target cell;",
            "b) shedding: the release of the vector or its components from the treated participant through",
            "secretions or excreta, such as saliva, urine, faeces or semen;",
            "c) vector copy number (VCN): the average number of integrated vector copies per diploid genome.",
            "IV. NON-CLINICAL REQUIREMENTS",
            "Art. 9. For the biodistribution study, as defined in Art. 8, the sponsor should provide:",
            "a) species: the relevant animal species and the route of administration;",
            "b) sampling: at least three time points after dosing."]
    units = _built_units(plain_pdf(tmp_path / "br.pdf", [_CAR_T_INTRO, page]), "br")
    defined = {u.context: " ".join(u.text.split()) for u in units if u.kind is UnitKind.definition}
    assert defined == {
        "vector": "the vehicle, viral or non-viral, used to deliver the genetic material into the target cell;",
        "shedding": "the release of the vector or its components from the treated participant through secretions "
                    "or excreta, such as saliva, urine, faeces or semen;",
        "vector copy number (VCN)": "the average number of integrated vector copies per diploid genome.",
    }, defined
    assert any(u.kind is UnitKind.list and u.text.startswith("For the purposes of this Guide") for u in units)


def test_a_chinese_guideline_in_translation(tmp_path: Path) -> None:
    """NMPA/CDE layout: "(I) Test articles" under "IV. …" and "1. Pharmacodynamics" under "V. …" are
    subsections, not sentences or new top sections; a "Table 1 Considerations …" caption without a mark over
    cells of phrases (no verb, "…;" going on in lower case) is a table of labels and prose; the "Appendix
    Glossary" of "Term. Definition." entries gives definitions, and the "References" after it is no entry."""
    from tests.pdfgen import plain_pdf

    body = ["IV. Test Articles and Animal Models", "(I) Test articles",
            "The test article used in pivotal studies should be representative of the clinical product.",
            "V. Main Study Contents", "1. Pharmacodynamics",
            "In vivo pharmacodynamic studies are usually conducted in tumour-bearing immunodeficient mice.",
            "The main considerations for each type of study are summarised in Table 1.",
            "Table 1 Considerations for the main types of non-clinical studies",
            "Study type Recommended considerations",
            "In vitro pharmacodynamics Target cells with high, low and no antigen expression; cytotoxicity,",
            "cytokine secretion and proliferation.",
            "In vivo pharmacodynamics Tumour-bearing immunodeficient mice; three or more dose levels;",
            "vehicle and untransduced T-cell controls.",
            "Biodistribution and persistence Validated qPCR and flow cytometry; blood and major tissues;",
            "expansion, contraction and persistence phases."]
    glossary = ["Appendix Glossary",
                "Cytokine release syndrome. A systemic inflammatory response caused by the large-scale release",
                "of cytokines from activated immune cells, typically manifesting as fever and hypotension.",
                "Clonal dominance. A state in which one or a few T-cell clones bearing a specific vector",
                "integration site expand disproportionately within the modified cell population.",
                "References",
                "[1] Center for Drug Evaluation. Technical Guideline for Research on Gene Therapy Products. 2022."]
    overview = ["I. Overview", "This guideline sets out the current thinking of the Center on non-clinical studies.",
                "Applicants may adopt alternative approaches where they are scientifically justified."]
    units = _built_units(plain_pdf(tmp_path / "cn.pdf", [overview, body, glossary], label="\u2014 {n} \u2014"), "cn")
    article = next(u for u in units if u.text.startswith("The test article used"))
    assert article.section_path == ["IV. Test Articles and Animal Models", "(I) Test articles"]
    mice = next(u for u in units if u.text.startswith("In vivo pharmacodynamic studies"))
    assert mice.section_path == ["V. Main Study Contents", "1. Pharmacodynamics"]
    rows = {u.context: " ".join(u.text.split()) for u in units if u.context and "Table 1" not in u.context
            and u.kind is UnitKind.sentence}
    assert rows["In vivo pharmacodynamics"] == ("Tumour-bearing immunodeficient mice; three or more dose levels; "
                                                "vehicle and untransduced T-cell controls.")
    assert "Biodistribution and persistence" in rows
    defined = {u.context: u.section_path for u in units if u.kind is UnitKind.definition}
    assert defined == {"Cytokine release syndrome": ["Appendix Glossary", "Cytokine release syndrome"],
                       "Clonal dominance": ["Appendix Glossary", "Clonal dominance"]}, defined
    assert not any("Center for Drug Evaluation" in u.text for u in units)  # the reference list is never quoted


def test_a_pharmacopoeia_chapter_in_narrow_columns(tmp_path: Path) -> None:
    """European Pharmacopoeia style: the chapter's own number heads it ("5.2.12. RAW MATERIALS …") and its
    sections restart at "1. SCOPE"; subsections are numbered with hyphens ("3-1.", "3-1-1."); a lead-in wrapped
    in a narrow column ("remove it." / "For the purposes of this chapter, the following definitions" / "apply:")
    is prose, not a figure, so its em-dash items are definitions; "SDS-PAGE" in a table cell heads nothing."""
    from tests.pdfgen import plain_pdf

    page = ["01/2024:50212", "5.2.12. RAW MATERIALS OF BIOLOGICAL ORIGIN FOR THE PRODUCTION OF",
            "CELL-BASED AND GENE THERAPY MEDICINAL PRODUCTS", "1. SCOPE",
            "This general chapter describes the requirements for raw", "materials of biological origin used in the",
            "production of cell-based medicinal products. The extent of",
            "testing may take into account the capacity of the process to", "remove it.",
            "For the purposes of this chapter, the following definitions", "apply:",
            "— raw material: a substance used during manufacture of",
            "the active substance or of the finished product;",
            "— ancillary material: a raw material that comes into", "direct contact with the cells during processing.",
            "3. SPECIFIC RAW MATERIALS", "3-1. SERA AND SERUM REPLACEMENTS", "3-1-1. Bovine serum",
            "The content of bacterial endotoxins in bovine serum is not", "more than 10 IU/mL.",
            "Table 5.2.12.-1. – Tests for recombinant cytokines", "Test Method Acceptance criterion",
            "Identity Peptide mapping or", "SDS-PAGE", "Conforms to the", "reference preparation",
            "Purity Size-exclusion", "chromatography", "Not less than 95 per cent", "monomer",
            "Recombinant cytokines supplied as frozen solutions are", "stored at -70 °C or below."]
    units = _built_units(plain_pdf(tmp_path / "pheur.pdf", [page], header="EUROPEAN PHARMACOPOEIA 11.0"), "pheur")
    scope = next(u for u in units if u.text.startswith("This general chapter"))
    assert scope.section_path == ["1. SCOPE"], scope.section_path
    serum = next(u for u in units if u.text.startswith("The content of bacterial endotoxins"))
    assert serum.section_path == ["3. SPECIFIC RAW MATERIALS", "3-1. SERA AND SERUM REPLACEMENTS",
                                  "3-1-1. Bovine serum"]
    defined = {u.context for u in units if u.kind is UnitKind.definition}
    assert defined == {"raw material", "ancillary material"}, defined
    frozen = next(u for u in units if "frozen solutions" in u.text)
    assert "SDS-PAGE" not in frozen.section_path, frozen.section_path


def test_a_japanese_notice_in_translation(tmp_path: Path) -> None:
    """A notice's sender block ("Director, …, Bureau," / "Ministry of Health, Labour and Welfare") and title
    are not the start of its first quotable sentence; "Article 1 (Purpose)" right under "Chapter 1 General
    Provisions" is a heading, not a cross-reference; '(3) "Residual undifferentiated cells" means …' is the
    definition of that term; an unnumbered "Table." caption heads its table."""
    from tests.pdfgen import plain_pdf

    cover = ["PSEHB/MDED Notification No. 0331-7", "March 31, 2023",
             "To: Commissioner of Prefectural Health Department",
             "Director, Medical Device Evaluation Division, Pharmaceutical Safety and Environmental Health Bureau,",
             "Ministry of Health, Labour and Welfare",
             "Guideline on the Quality and Safety of Cellular and Tissue-based",
             "Products Derived from Human Induced Pluripotent Stem Cells",
             "Regarding the quality and safety of cellular and tissue-based products derived from human iPS",
             "cells, the basic technical requirements were presented in separate notifications issued in 2012.",
             "Chapter 1 General Provisions", "Article 1 (Purpose)",
             "This guideline sets out the basic technical requirements for ensuring the quality and safety of",
             "products manufactured from human iPS cells. Alternative approaches may be accepted.",
             "Article 2 (Definitions)",
             "For the purposes of this guideline, the terms listed below shall have the following meanings:",
             '(1) "Human iPS cells" means cells that have been artificially induced to acquire pluripotency.',
             '(2) "Residual undifferentiated cells" means iPS cells that remain in the final product after',
             "differentiation has been completed."]
    tests = ["Article 3 (Specifications)",
             "Specifications for the final product shall be established on the basis of characterization data.",
             "Table. Examples of test items for the final product",
             "Test item\tTest method\tSpecification (example)",
             "Viability\tTrypan blue exclusion\tNot less than 70%",
             "Sterility\tSterility test of the Japanese\tNo growth",
             "\tPharmacopoeia",
             "Endotoxin\tKinetic chromogenic method\tLess than 5 EU/mL",
             "For the detection of residual undifferentiated cells, a sensitive method is recommended."]
    units = _built_units(plain_pdf(tmp_path / "jp.pdf", [cover, tests], label="- {n} -"), "jp")
    assert units[0].text.startswith("Regarding the quality"), units[0].text
    purpose = next(u for u in units if u.text.startswith("This guideline sets out"))
    assert purpose.section_path == ["Chapter 1 General Provisions", "Article 1 (Purpose)"]
    residual = next(u for u in units
                    if u.kind is UnitKind.definition and u.context == "Residual undifferentiated cells")
    assert residual.text.startswith('"Residual undifferentiated cells" means iPS cells')
    table = next(u for u in units if u.kind in (UnitKind.table, UnitKind.row))
    assert "Table. Examples of test items" in f"{table.context} {table.text}"
    assert not any(u.kind is UnitKind.sentence and "Trypan blue" in u.text for u in units)


def test_web_guidance_printed_to_pdf_keeps_its_first_page_and_listed_headings(tmp_path: Path) -> None:
    """GOV.UK-style guidance: title, lede, "From: …", "Published …" and a "Contents" list of the sections,
    then the first section on the same page. The page is content (it used to be classed a title page and
    its section lost), a line the contents list names is a heading (sentence case, or after a web address),
    and the title block is no table."""
    from tests.pdfgen import plain_pdf

    first = ["Guidance", "Point of care manufacturing: designation, control sites and", "master files",
             "How to apply for designation of a medicine as a point of care product.",
             "From: Medicines and Healthcare products Regulatory Agency", "Published 12 June 2025", "Contents",
             "– Who this guidance is for", "– What point of care manufacturing means", "– Master files",
             "Who this guidance is for",
             "This guidance is for organisations that intend to manufacture medicines at or near the place where",
             "a patient is treated, and for the hospitals and clinics where that manufacture takes place."]
    second = ["What point of care manufacturing means",
              "Point of care manufacturing is manufacture that can only be carried out at or near the place where",
              "the patient is treated. A template is available:",
              "https://www.gov.uk/government/publications/point-of-care-master-file-template",
              "Master files",
              "The point of care master file is the central document that describes how the product is made at",
              "every site. It must be kept up to date throughout the life of the product."]
    pdf = plain_pdf(tmp_path / "gov.pdf", [first, second], label="Page {n} of {total}")
    units = _built_units(pdf, "gov")
    paths = {u.text.split()[0] + " " + u.text.split()[1]: u.section_path for u in units}
    assert paths["This guidance"] == ["Who this guidance is for"]
    assert paths["Point of"] == ["What point of care manufacturing means"]
    assert paths["The point"] == ["Master files"]
    assert not any(u.text.startswith(("From:", "Published")) or "Contents" in u.text for u in units)


def test_a_who_annex_title_under_its_label_is_no_unit_and_names_the_document(tmp_path: Path) -> None:
    """WHO TRS annex: "Annex 3" over a wrapped title and a contents list ("1. Scope 94" …, no leader dots), then
    the background in prose, one of whose wrapped lines starts "guidance on the evaluation of …". The title is
    read from the block under the label (not from the prose line), the year from the report series in the
    running header; the title is never quoted, and the contents entries are neither headings nor text."""
    from atmp_rag.extract import extract_document
    from atmp_rag.front_matter import read_front_matter
    from tests.pdfgen import plain_pdf

    first = ["Annex 3", "WHO considerations on regulatory convergence for cell and gene", "therapy products",
             "1. Scope 94", "2. Terminology 95", "3. Reliance pathways 95", "Authors and acknowledgements 97",
             "Background",
             "At its meeting in October 2022 the Expert Committee noted the increasing number of requests for",
             "guidance on the evaluation of these products and recommended that WHO develop a document.",
             "The document was adopted by the Committee at its meeting in 2024."]
    second = ["1. Scope", "These considerations apply to cell and gene therapy products regulated as medicines.",
              "2. Terminology", "The definitions below apply to the terms as used in this annex."]
    pdf = plain_pdf(tmp_path / "who.pdf", [first, second, second],
                    header="WHO Technical Report Series, No. 1048, 2024", first_number=93)
    front = read_front_matter(*extract_document(pdf, "who"))
    assert front.title == "WHO considerations on regulatory convergence for cell and gene therapy products"
    assert front.date == "2024"
    units = _built_units(pdf, "who")
    assert units[0].text.startswith("At its meeting in October 2022")
    assert not any("regulatory convergence" in u.text or "Authors" in u.text for u in units)
    scope = next(u for u in units if u.text.startswith("These considerations apply"))
    assert scope.section_path == ["1. Scope"] and scope.pages == [2]


def test_a_long_header_under_a_caption_heads_a_table_of_wrapped_cells(tmp_path: Path) -> None:
    """FDA Table 1: the caption, a header line as long as prose ("Product type Examples of potency-related
    attributes Examples of assay formats") and cells wrapped over short lines. The header used to break
    the table off: caption and header became a "sentence", the cells figure text."""
    from tests.pdfgen import plain_pdf

    table = ["3. Potency-related attributes",
             "Table 1 lists examples of potency-related attributes that sponsors have used for CAR T cells.",
             "Table 1. Examples of potency-related attributes by product type",
             "Product type Examples of potency-related attributes Examples of assay formats",
             "Autologous", "CD19-directed CAR T", "cells", "Antigen-specific cytotoxicity;",
             "antigen-induced interferon gamma", "release", "Flow cytometry-based killing", "assay",
             "AAV vector encoding", "an enzyme", "Transgene expression;", "enzymatic activity",
             "Cell-based transduction", "assay with enzyme readout",
             "You should not rely on vector genome titer alone as a measure of potency for these products."]
    units = _built_units(plain_pdf(tmp_path / "fda.pdf", [_CAR_T_INTRO, table]), "fda")
    tables = [u for u in units if u.kind is UnitKind.table]
    assert tables and " ".join(tables[0].text.split()).startswith("Table 1. Examples of potency-related attributes")
    assert "Examples of assay formats" in tables[0].text
    assert not any(u.kind is UnitKind.sentence and "Examples of assay formats" in u.text for u in units)
    assert any(u.text.startswith("You should not rely on vector genome titer") for u in units)


def test_an_eight_word_subheading_over_a_numbered_paragraph_of_an_eu_gmp_text(tmp_path: Path) -> None:
    """EudraLex Part IV: "Application of the risk-based approach to investigational ATMPs" over "2.8 The
    application of GMP …" at a page top. Eight words in sentence case are no short title, but the paragraph
    number under it says a paragraph begins there: it is a subheading, not the start of 2.8's quote."""
    from tests.pdfgen import plain_pdf

    first = ["2. Risk-based approach",
             "2.1 ATMPs are complex products, and the risks associated with them may differ substantially",
             "according to the type of product. The risk assessment should be documented.",
             "2.2 The manufacturer is responsible for the quality of the ATMPs it produces and for the controls."]
    second = ["Application of the risk-based approach to investigational ATMPs",
              "2.8 The application of GMP to investigational ATMPs should be proportionate to the stage",
              "of development.",
              "2.9 The validation of the manufacturing process is not expected for investigational ATMPs",
              "used in phase I and phase I/II clinical trials."]
    units = _built_units(plain_pdf(tmp_path / "eu.pdf", [first, second]), "eu")
    p28 = next(u for u in units if "proportionate to the stage" in u.text)
    assert p28.text.startswith("2.8 The application of GMP")
    assert p28.section_path == ["2. Risk-based approach",
                                "Application of the risk-based approach to investigational ATMPs"]


def test_a_first_section_after_the_cover_and_a_subheading_wrapped_in_a_narrow_column(tmp_path: Path) -> None:
    """TGA consultation paper: after the cover, the text begins "About this consultation" over a paragraph
    (the text's first line, which used to be taken for a title); in a narrow column "Dose escalation in" /
    "first-in-human trials" is one subheading (its first sentence was lost as a fragment)."""
    from tests.pdfgen import plain_pdf

    cover = ["Consultation paper", "Proposed refinements to the regulation of biologicals", "Version 0.3, March 2024"]
    body = ["About this consultation",
            "The Therapeutic Goods Administration is seeking feedback on proposed refinements to the way",
            "biologicals are classified. This paper does not propose changes to the Act.",
            "Dose escalation in", "first-in-human trials", "First-in-human trials of cell and gene",
            "therapies present particular challenges for", "dose selection. The starting dose should be",
            "justified on the basis of all available data."]
    units = _built_units(plain_pdf(tmp_path / "tga.pdf", [cover, body]), "tga")
    paths = {u.text.split()[0] + " " + u.text.split()[1]: u.section_path for u in units}
    assert paths["The Therapeutic"] == ["About this consultation"]
    assert paths["First-in-human trials"] == ["Dose escalation in first-in-human trials"]
    assert not any(u.text.startswith(("Dose", "first-in-human")) for u in units)


def test_footnotes_written_before_the_body_go_under_the_section_of_their_marker(tmp_path: Path) -> None:
    """Notes drawn first are read first: "¹ Potency is defined …" used to open the page, glued under the
    previous page's section (or none) and before its heading."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import notes_first_pdf

    pages = extract_pages(notes_first_pdf(tmp_path / "fda.pdf"), "fda")
    assert pages[0].text.startswith("¹ Potency is defined")  # what the text layer gives
    seg = segment("fda", pages)
    units = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10)).units
    by_start = {" ".join(u.text.split()[:3]): u for u in units}
    assert by_start["Potency is defined"].section_path == ["I. INTRODUCTION"]
    assert by_start["Potency is defined"].pages == [1]
    assert by_start["See the regulations"].section_path == ["III. RECOMMENDATIONS"]
    assert by_start["This guidance provides"].section_path == ["I. INTRODUCTION"]
    for u in units:  # still verbatim on its page
        assert "\n".join(pages[s.page - 1].text[s.start:s.end] for s in u.spans) == u.text


def test_a_wrapped_header_cell_over_rows_of_values_opens_no_section(tmp_path: Path) -> None:
    """EudraLex Table 1: header cells wrapped over short lines, the last one "Typical ATMP operations" over
    a row "A 3 520 3 520 20 <1 <1 Open aseptic manipulation …", which reads like a subheading over a paragraph.
    A row of values is no paragraph: the table and the notes and paragraphs after it stay in "3. Premises"."""
    from tests.pdfgen import plain_pdf

    page = ["3. Premises", "3.9 Table 1 gives the limits that apply to each grade of clean area in operation.",
            "Table 1: Clean area grades", "Grade Maximum", "particles/m³ at rest", "Air sample", "(cfu/m³)",
            "Typical ATMP operations",
            "A 3 520 3 520 20 <1 <1 Open aseptic manipulation of cells; filling of final containers",
            "B 3 520 352 000 29 10 5 Background for a Grade A zone used for open manipulation",
            "3.10 Where the Grade A zone is provided by a biological safety cabinet, the cabinet should be qualified."]
    units = _built_units(plain_pdf(tmp_path / "eu.pdf", [_CAR_T_INTRO, page]), "eu")
    assert all(u.section_path in (["1. Introduction"], ["3. Premises"]) for u in units), \
        [u.section_path for u in units]
    assert any(u.text.startswith("3.10 Where the Grade A zone") for u in units)


def test_a_table_header_repeated_on_the_next_page_heads_no_section(tmp_path: Path) -> None:
    """HPRA Table 1 ("Requirement | Expectation") runs over a page and repeats its header at the top of the
    next one, where it read as a subheading over the rows' prose: the rows, and the page's later text,
    stayed filed under "Requirement Expectation"."""
    from tests.pdfgen import plain_pdf

    first = ["5 QUALITY REQUIREMENTS", "Table 1 summarises what the HPRA expects for the quality system elements.",
             "Table 1: Expectations for the pharmaceutical quality system", "Requirement Expectation",
             "Premises Open manipulations are carried out in a grade A zone with a grade B background.",
             "Personnel Operators are trained in aseptic technique before they manufacture a product."]
    second = ["Requirement Expectation",
              "Release and certification Each batch is certified by the named responsible person before use.",
              "Stability and transport The shelf life and the transport conditions to the ward are supported."]
    units = _built_units(plain_pdf(tmp_path / "hpra.pdf", [_CAR_T_INTRO, first, second]), "hpra")
    assert not any("Requirement Expectation" in " ".join(u.section_path) for u in units), \
        {tuple(u.section_path) for u in units}


def _text_units(pages: list[str], doc_id: str):
    """Units of pages given as their cleaned text (characters a test PDF's standard fonts cannot draw)."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import clean_pages
    from atmp_rag.models import Page
    from atmp_rag.units import build_units

    texts = clean_pages(pages).texts
    seg = segment(doc_id, [Page(doc_id=doc_id, number=n, text=t) for n, t in enumerate(texts, 1)])
    return build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 60, 10, 10)).units


def test_a_korean_guideline_in_translation() -> None:
    """MFDS layout: "Ⅳ. …" (Unicode roman numerals) restarts its "1." subsections after "Ⅰ." had "1."–"2.",
    and "1) …" nests under them (not "4. Release Specifications" under "3) rcAAV"); circled numbers "① …" are
    the items of a "○ … following:" lead-in, and the next "○" paragraph is not one of them; a "※" note is a
    unit of its own, not the tail of the item above it."""
    overview = "\n".join([
        "Ⅰ. Overview", "1. Purpose",
        "○ This guideline sets out the quality data that applicants should submit for gene therapy products.",
        "2. Scope", "○ The following products are excluded from the scope of this guideline:",
        "- Oncolytic viruses intended for the treatment of cancer",
        "- Plasmid DNA products administered directly to patients",
        "※ For ex vivo genetically modified cell products, the quality of the final product is addressed elsewhere."])
    quality = "\n".join([
        "Ⅳ. Quality of AAV Vector Products", "1. Manufacturing Process and Process Controls",
        "1) In-process controls",
        "○ The following in-process controls should be established for the upstream process:",
        "① Cell viability of at least 90% at the time of transfection",
        "② Bioburden and mycoplasma testing of the unprocessed bulk",
        "○ In-process control limits should be justified on the basis of data from at least three batches.",
        "2. Characterisation", "1) Vector genome titer",
        "○ The vector genome titer should be determined by droplet digital PCR using primers for the cassette.",
        "3) Replication-competent AAV",
        "○ The rcAAV test should consist of three serial passages on HEK293 cells with wild-type adenovirus.",
        "3. Release Specifications",
        "○ Release specifications for the drug substance should include at least the test items listed here."])
    units = _text_units([overview, quality], "mfds")
    def path(start: str) -> list[str]:
        return next(u.section_path for u in units if u.text.startswith(start))

    assert path("The vector genome titer") == [
        "IV. Quality of AAV Vector Products", "2. Characterisation", "1) Vector genome titer"]
    assert path("Release specifications") == ["IV. Quality of AAV Vector Products", "3. Release Specifications"]
    items = [u.text for u in units if u.kind is UnitKind.item and ("bulk" in u.text or "viability" in u.text)]
    assert items == ["Cell viability of at least 90% at the time of transfection",
                     "Bioburden and mycoplasma testing of the unprocessed bulk"], items
    limits = next(u for u in units if "limits should be justified" in u.text)
    assert limits.kind is UnitKind.sentence
    note = next(u for u in units if u.text.startswith("※"))
    assert note.text.startswith("※ For ex vivo") and not any(
        u.kind is UnitKind.item and "※" in u.text for u in units)


def test_circled_numbers_survive_normalisation() -> None:
    """NFKC folds "①" to "1", which reads as no list marker at all ("1 Cell viability …")."""
    from atmp_rag.extract import normalize_text

    assert normalize_text("① Cell viability\n② Bioburden") == "① Cell viability\n② Bioburden"
    assert normalize_text("Ⅳ. Quality") == "IV. Quality"  # roman numeral characters still fold to letters


def test_recitals_and_the_annex_of_an_eu_regulation(tmp_path: Path) -> None:
    """A recital's first line as wide as the lines under it ("(1) Regulation (EC) No 1394/2007 of the
    European" / "Parliament and of the Council established specific" / …) is a paragraph, not a section that
    holds every recital after it; "ANNEX" alone on its line heads the annex."""
    from tests.pdfgen import plain_pdf

    recitals = ["Whereas:",
                "(1) Regulation (EC) No 1394/2007 of the European",
                "Parliament and of the Council established specific",
                "rules concerning the authorisation, supervision and",
                "pharmacovigilance of advanced therapy products.",
                "(2) The hospital exemption should not become a parallel",
                "route to the market that undermines the incentive to",
                "seek a marketing authorisation.",
                "Article 1", "Subject matter",
                "This Regulation lays down specific rules concerning the classification of these products."]
    annex = ["ANNEX",
             "The report referred to in Article 5(1) shall contain at least the number of patients treated."]
    units = _built_units(plain_pdf(tmp_path / "oj.pdf", [recitals, annex]), "oj")
    paths = {tuple(u.section_path) for u in units}
    assert not any(p and p[0].startswith("(1)") for p in paths), paths
    hospital = next(u for u in units if u.text.startswith("The hospital exemption should not"))
    assert not hospital.section_path
    report = next(u for u in units if u.text.startswith("The report referred to"))
    assert report.section_path == ["ANNEX"]


def test_steps_a_checklist_notes_and_a_glossary_after_the_last_part() -> None:
    """Medsafe layout: "Step 1 – Pre-submission meeting" heads a subsection of the section describing the steps;
    a checklist item wrapped onto a short line ("… reporting in New" / "Zealand") heads nothing; a "Note:"
    paragraph is a unit of its own; "Glossary" after "Part 6: …" is no part of Part 6, and an acronym's line
    ("SUSAR") is its term, the "A suspected unexpected serious adverse reaction: …" under it its definition."""
    page = "\n".join([
        "Part 3: Applying for approval", "3.3 The review process",
        "The review of a gene therapy trial application follows the steps below, in this order.",
        "Step 1 – Pre-submission meeting",
        "Sponsors are encouraged to request a pre-submission meeting at least 20 working days ahead.",
        "Step 2 – Validation",
        "Medsafe checks the application for completeness within 10 working days of its receipt.",
        "Part 6: Checklist for applicants",
        "Before you submit, check that your application includes each of the items below, in order.",
        "☐ Covering letter signed by the sponsor, stating the vector type",
        "☐ Name and contact details of the person responsible for SUSAR reporting in New",
        "Zealand",
        "Note: Incomplete applications will not be validated and will be returned to the sponsor.",
        "Glossary", "SUSAR",
        "A suspected unexpected serious adverse reaction: a serious adverse reaction whose",
        "nature or severity is not consistent with the investigator's brochure.",
        "Working day", "Any day other than a Saturday, a Sunday or a public holiday."])
    units = _text_units([page], "medsafe")

    def unit(start: str):
        return next(u for u in units if u.text.startswith(start))

    assert unit("Sponsors are encouraged").section_path == [
        "Part 3: Applying for approval", "3.3 The review process", "Step 1 – Pre-submission meeting"]
    assert unit("Medsafe checks").section_path[-1] == "Step 2 – Validation"
    assert not any("Zealand" in u.section_path for u in units)
    assert unit("Note: Incomplete").section_path == ["Part 6: Checklist for applicants"]
    defined = {u.context: u.section_path for u in units if u.kind is UnitKind.definition}
    assert defined == {"SUSAR": ["Glossary", "SUSAR"], "Working day": ["Glossary", "Working day"]}, defined


def test_a_bare_numbered_title_wrapped_onto_a_short_line_and_endnotes(tmp_path: Path) -> None:
    """MHRA layout: "3 Quality management and the qualified" / "person" over "3.1 …" is section 3, not a
    paragraph of section 2; the "Endnotes" list of legislation is never quoted."""
    from tests.pdfgen import plain_pdf

    lines = ["1 Introduction", "This guidance sets out the expectations of the agency for manufacturers.",
             "2 Scope", "This guidance applies to somatic cell therapy and tissue engineered products.",
             "3 Quality management and the qualified", "person", "3.1 Pharmaceutical quality system",
             "Each manufacturing site must operate a pharmaceutical quality system.",
             "Endnotes",
             "1. The Medicines for Human Use (Clinical Trials) Regulations 2004 (SI 2004/1031), as amended.",
             "2. The Human Tissue (Quality and Safety for Human Application) Regulations 2007 (SI 2007/1523)."]
    units = _built_units(plain_pdf(tmp_path / "mhra.pdf", [lines]), "mhra")
    site = next(u for u in units if u.text.startswith("Each manufacturing site"))
    assert site.section_path == ["3 Quality management and the qualified person", "3.1 Pharmaceutical quality system"]
    assert not any("SI 2004/1031" in u.text or "SI 2007/1523" in u.text for u in units)


def test_case_studies_head_their_paragraphs() -> None:
    """An EMA reflection paper's annex: "Case 2: Donor-derived virus-specific T cells" heads the case it
    describes (its text was the heading's run-on sentence), the next case its sibling."""
    page = "\n".join([
        "Annex I – Case studies",
        "The following anonymised case studies are based on classification requests assessed by the CAT.",
        "Case 1: Autologous chondrocytes for cartilage defects",
        "Chondrocytes are isolated from a cartilage biopsy of the patient and expanded in culture.",
        "Case 2: Donor-derived virus-specific T cells",
        "T cells specific for Epstein-Barr virus are selected from the blood of a stem cell donor."])
    units = _text_units([page], "cat")
    case = next(u for u in units if u.text.startswith("T cells specific"))
    assert case.section_path == ["Annex I – Case studies", "Case 2: Donor-derived virus-specific T cells"]
    first = next(u for u in units if u.text.startswith("Chondrocytes are isolated"))
    assert first.section_path == ["Annex I – Case studies", "Case 1: Autologous chondrocytes for cartilage defects"]


def test_a_checklist_of_key_questions_and_notes_in_narrow_columns(tmp_path: Path) -> None:
    """PIC/S aide-memoire layout: a table whose question and note cells run four words to a line, drawn cell by
    cell. The short lines are no figure's text: each note is a sentence, each key question a quotable unit (a
    checklist's questions are its content) with the row label and the cross-reference read before it as its
    context, and a note's short last line ("and its own alarm system.") stays in its sentence."""
    from tests.pdfgen import checklist_pdf

    units = _built_units(checklist_pdf(tmp_path / "am.pdf"), "am")
    texts = {" ".join(u.text.split()): u for u in units}
    assert "Each storage location should have an independent power supply and its own alarm system." in texts
    assert "Unless validated, the production culture should not exceed 20 passages after thaw." in texts
    assert "Inactivation by heat or chemical treatment should be validated for the vector concerned." in texts
    question = texts["Are the master and working banks each stored in at least two separate locations?"]
    assert " ".join(question.context.split()) == "3.1 Storage of banks"
    later = texts["Is the maximum number of passages after thaw specified in the batch record?"]
    assert " ".join(later.context.split()) == "Annex 2A, 5.4 3.2 Passage limits"
    assert all(u.section_path == ["3. AIDE-MEMOIRE"] for u in units if u.text.startswith(("Is ", "Are ", "Each")))


def test_items_with_drawn_bullets_are_quoted_with_their_lead_in() -> None:
    """A list whose bullets are drawn, not written (Health Canada layout): the lead-in's colon, then items in
    lower case without markers, each ending on a short line. They are one list unit with the lead-in (they
    were dropped as sentences starting mid-sentence), and the paragraph after them is a sentence of its own.
    A sentence that merely goes on after a colon over full lines (ICH E6 3.1.2) is no list."""
    page = [
        "2.1.1 Study design",
        "A biodistribution study should use the intended clinical route of administration and a",
        "formulation representative of the clinical product. The following elements should be "
        "included:",
        "a minimum of three animals per sex per time point, unless a smaller number is justified by "
        "the",
        "use of a large animal species",
        "at least one time point at or near the expected peak of vector presence and at least one "
        "later",
        "time point to characterise persistence or clearance",
        "the highest dose planned for the toxicity studies and, where feasible, a lower dose to show",
        "whether distribution is dose-dependent",
        "Biodistribution assessments may be conducted as stand-alone studies or incorporated into "
        "the",
        "pivotal toxicity studies.",
    ]
    units = _text_units(["\n".join(page) + "\n"], "hc")
    lists = [u for u in units if u.kind is UnitKind.list]
    assert len(lists) == 1
    text = " ".join(lists[0].text.split())
    assert text.startswith("The following elements should be included: a minimum of three animals")
    assert text.endswith("whether distribution is dose-dependent")
    assert "Biodistribution assessments may be conducted as stand-alone studies or incorporated into the pivotal " \
           "toxicity studies." in {" ".join(u.text.split()) for u in units}

    e6 = _text_units(["3.1 Responsibilities\n"
                      "3.1.2 The IRB/IEC should obtain the following documents:\n"
                      "trial protocol(s)/amendment(s), written informed consent form(s) and consent form\n"
                      "updates that the investigator proposes for use in the trial, subject recruitment procedures\n"
                      "(e.g., advertisements), written information to be provided to subjects, Investigator's\n"
                      "Brochure (IB), available safety information, and any other documents that the\n"
                      "IRB/IEC may need to fulfil its responsibilities.\n"], "e6")
    assert not [u for u in e6 if u.kind is UnitKind.list]
    assert not [u for u in e6 if u.text.startswith("Brochure")]


def test_a_sentence_ends_on_its_own_line_above_table_cells() -> None:
    """"application." ends the sentence wrapped from the line above it; the short lines of a Q&A table's next
    row (the question cell) start below it. It was taken as the first line of those cells and dropped with
    them, cutting the sentence at "… in the marketing"."""
    units = _text_units(["3.1 Cell substrates\n"
                         "The EOPC should be cells at or beyond the maximum in vitro cell age used for production. "
                         "Cells should be expanded to at least the limit\n"
                         "of in vitro cell age that is proposed in the marketing\n"
                         "application.\n"
                         "3.1.4 Nov 2025 Is testing for bovine and porcine\n"
                         "viruses required if animal derived\n"
                         "reagents were used only during the\n"
                         "historical establishment of the cell\n"
                         "line?\n"
                         "Yes, unless the absence of such agents can be justified by other means.\n"], "qa")
    texts = {" ".join(u.text.split()) for u in units}
    assert "Cells should be expanded to at least the limit of in vitro cell age that is proposed in the marketing " \
           "application." in texts


def test_a_charts_axis_ticks_are_no_table() -> None:
    """The text of a chart (ICH Q8's drying-profile figure): axis ticks "0%", "5%" … on lines of their own hold
    digits like a table's rows, but a table's rows hold a label and values; the chart is figure text, never a
    table unit, and the sentence above it keeps its last line."""
    units = _text_units(["4. Design space\n"
                         "The design space is shown for the drying step of the granulation process used for the "
                         "tablets.\n"
                         "Operating above the upper limit of the design space can cause excessive impurity\n"
                         "formation, while operating below the lower limit of the design space can result in\n"
                         "excessive particle attrition.\n"
                         "0%\n5%\n10%\n15%\n20%\n0 2 4 6 8 10 12\ntime (hr)\nMoisture Content\nDesign space\n"
                         "lower limit\n"
                         "The endpoint criterion of the drying step is set at the lower limit of the design space.\n"],
                        "q8")
    assert not [u for u in units if "0%" in u.text]
    assert "Operating above the upper limit of the design space can cause excessive impurity formation, while " \
           "operating below the lower limit of the design space can result in excessive particle attrition." \
           in {" ".join(u.text.split()) for u in units}


def test_a_wrapped_row_label_of_a_series_starts_its_row() -> None:
    """An FDA-style table of risk tiers (label, examples, activities): "Tier 2 (low to" / "moderate risk)" is the
    next label of the series "Tier 1 …", wrapped in its column over the cell's short first line. It starts a
    row: the cells after it are cited with their own tier, not the tier before (the activities of tier 2 had
    been cited with "Tier 1 (low risk)"), and the example cell, a phrase without a verb wrapped four words to a
    line, is a quote, not a diagram's text. Cells of a table of values read into each other ("… resistance gene"
    / "Report result; …") are no such phrase."""
    from atmp_rag.units import _wrapped_phrase

    page = [
        "3.1 Risk assessment",
        "You may use a tiered classification system to assign a level of risk to each material and to determine "
        "the",
        "extent of qualification needed, as shown in Table 1 below for the materials used in manufacture.",
        "Table 1. Example of a Tiered Risk Classification",
        "Risk Tier Examples Recommended Qualification Activities",
        "Tier 1 (low risk) Licensed biologics and approved drugs",
        "intended for human use, such as",
        "U.S.-licensed human serum albumin.",
        "Confirm identity on receipt; review the",
        "certificate of analysis (CoA); assess the impact",
        "of the material on the process.",
        "Tier 2 (low to",
        "moderate risk)",
        "Well-characterized reagents",
        "manufactured under current good",
        "manufacturing practice (CGMP) for use",
        "as ancillary materials, such as",
        "recombinant cytokines produced in",
        "animal-free systems.",
        "Tier 1 activities, plus functional testing and",
        "supplier qualification, such as a questionnaire",
        "or audit.",
        "Tier 3 (moderate",
        "risk)",
        "Reagents not intended for therapeutic",
        "use, such as research-grade monoclonal",
        "antibodies and growth factors produced",
        "in media containing animal components.",
        "Tier 2 activities, plus testing for sterility,",
        "mycoplasma, and endotoxin; evaluation of",
        "adventitious agent risk; consider replacing with",
        "a higher-grade material.",
        "You should justify the tier assigned to each material in your submission, and you should reassess the",
        "assignment whenever the supplier, grade, or source of the material changes.",
    ]
    units = {" ".join(u.text.split()): " ".join(u.context.split()) for u in _text_units(["\n".join(page)], "fda")}
    assert units["Tier 1 activities, plus functional testing and supplier qualification, such as a questionnaire "
                 "or audit."] == "Tier 2 (low to moderate risk)"
    assert units["Well-characterized reagents manufactured under current good manufacturing practice (CGMP) for use "
                 "as ancillary materials, such as recombinant cytokines produced in animal-free systems."] \
        == "Tier 2 (low to moderate risk)"
    assert units["Confirm identity on receipt; review the certificate of analysis (CoA); assess the impact of the "
                 "material on the process."] == "Tier 1 (low risk)"
    assert units["Tier 2 activities, plus testing for sterility, mycoplasma, and endotoxin; evaluation of "
                 "adventitious agent risk; consider replacing with a higher-grade material."] \
        == "Tier 3 (moderate risk)"
    assert not _wrapped_phrase("DNA qPCR for the plasmid\nbackbone, including the\nkanamycin resistance gene\n"
                               "Report result; limits justified.")
    # A cell's sentence that starts with the series' word is no label, however its lines end.
    from atmp_rag.text.tables import _series_row

    assert _series_row(["Tier 1 activities, plus", "Supplier qualification by audit."], 0, "Tier") is None
    assert _series_row(["Tier 2", "Supplier qualification by audit."], 0, "Tier") is not None


def test_a_table_of_three_columns_continued_on_the_next_page_lends_no_row_its_neighbours_label(
        tmp_path: Path) -> None:
    """A WHO-style release-test table (attribute, method, criterion) continued under "Table 1 continued" and
    its repeated header: the text layer interleaves the three columns' lines, so a row's label cannot be told
    from its cells. It is no table of labels and prose: the row "Residual helper virus or" / "baculovirus" had
    been cited with the label "Residual plasmid" of the row above, and "Residual host cell DNA" cut to
    "Residual host cell". Every row is still quoted, starting with its own label."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import plain_pdf

    pages = [
        ["4.4 Specifications and release testing",
         "Specifications should be established for both the drug substance and the drug product, and the",
         "acceptance criteria should be justified on the basis of manufacturing experience and clinical data.",
         "Table 1",
         "Release tests for rAAV drug product (examples)",
         "Quality attribute\tExample method\tExample acceptance criterion",
         "Appearance\tVisual inspection\tClear, colourless solution."],
        ["Table 1 continued",
         "Quality attribute\tExample method\tExample acceptance criterion",
         "Residual host cell DNA\tqPCR for a host-specific\tNot more than 10 ng per dose;",
         "\tsequence\tfragments below 200 base pairs.",
         "Residual plasmid DNA\tqPCR for the plasmid\tReport result; limits justified.",
         "\tbackbone, including the",
         "\tkanamycin resistance gene",
         "Residual helper virus or\tInfectivity assay and qPCR\tNot detected.",
         "baculovirus",
         "Sterility\tPharmacopoeial sterility test\tNo growth.",
         "Mycoplasma\tCulture method or validated\tNot detected.",
         "\tnucleic acid amplification test",
         "5. Nonclinical evaluation",
         "The nonclinical programme should address the biodistribution of the vector in relevant species."],
    ]
    seg = segment("who", extract_pages(plain_pdf(tmp_path / "who.pdf", pages), "who"))
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 80, 10, 10))
    # no unit of the continued table carries a row label: none can be read from the interleaved lines
    assert not [(u.context, u.text) for u in built.units if u.context and 2 in u.pages]
    helper = [u for u in built.units if "Infectivity assay" in u.text]
    assert helper and all("Residual helper virus or" in u.text for u in helper)
    assert not any(u.context.startswith("Residual host cell") and u.text.startswith("DNA") for u in built.units)



def test_a_table_of_labels_and_sentences_introduced_by_a_sentence_quotes_each_cell_under_its_label(
        tmp_path: Path) -> None:
    """A national regulator's table (Element | Recommendation | Rationale) whose caption is followed by a sentence
    introducing it before the column headers: its row labels ("Time points", "Assay" / "sensitivity") had been
    read as subheadings of the section, and its sentences quoted without the row they belong to. Each sentence is
    quoted with its row's label as context, no label heads a section, and the introducing sentence is quoted."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import design_table_pdf

    seg = segment("hc", extract_pages(design_table_pdf(tmp_path / "hc.pdf"), "hc"))
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 200, 10, 10))
    paths = {" > ".join(u.section_path) for u in built.units}
    assert paths == {"5. Biodistribution"}, paths
    by_text = {" ".join(u.text.split()): " ".join(u.context.split()) for u in built.units}
    assert by_text.get("At least three time points: near peak, intermediate and late (Day 90 or later).") \
        == "Time points", by_text
    assert by_text.get("Detects low-level vector in non-target tissues.") == "Assay sensitivity", by_text
    assert any(t.startswith("Table 1 summarises the design elements") for t in by_text), by_text


def test_a_table_of_labels_values_and_comments_is_quoted_row_by_row_under_its_headers(tmp_path: Path) -> None:
    """A three-column table (method | typical sensitivity | comment) whose cells wrap, the comment a sentence: the
    text layer wrote each cell on lines of its own, so the values ("0.001% or lower") stood alone and the table
    was quoted in slices that began mid-row. Each row is now one unit, read across, with the caption and headers
    as its context."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import METHOD_ROWS, method_table_pdf

    seg = segment("ips", extract_pages(method_table_pdf(tmp_path / "ips.pdf"), "ips"))
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 400, 10, 10))
    rows = [u for u in built.units if u.kind.value == "row"]
    expected = [" ".join(" ".join(cell) for cell in row) for row in METHOD_ROWS]
    assert [" ".join(u.text.split()) for u in rows] == expected
    assert all(" ".join(u.context.split()) == "Table 1. Tests for residual undifferentiated iPSCs Method Typical "
               "sensitivity Comment" for u in rows)
    assert any(" ".join(u.text.split()).startswith("Table 1 summarises the methods") for u in built.units)

def test_a_call_out_boxs_label_starts_no_quote_on_a_generated_pdf(tmp_path: Path) -> None:
    """A "NOTE" box the heading rules do not read as a heading, and an "ADDENDUM (date) – title" line over an
    inserted box: the label is never the start of a unit (quotes had read "NOTE Because of the short shelf
    life …" and "ADDENDUM (March 2025) – Final product RCL testing … Where the vector lot …"), while "NOTE:"
    opening a sentence on its own line is the sentence's."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import plain_pdf

    page = [
        "4.4 Microbiological safety testing",
        "Sterility should be tested according to Ph. Eur. 2.6.27 on the final product of every batch.",
        "Bacterial endotoxins should be tested according to Ph. Eur. 2.6.14.",
        "NOTE",
        "Because of the short shelf life of some CAR-T products, the Regulator accepts release of a batch on the",
        "basis of a negative 48-hour interim sterility read.",
        "4.5 Replication-competent lentivirus",
        "The final product should be tested for replication-competent lentivirus by a cell-culture assay.",
        "ADDENDUM (March 2025) – Final product RCL testing in closed automated systems",
        "Where the vector lot has been tested for RCL, a VSV-G qPCR test may replace the culture assay.",
        "NOTE: The sponsor should keep retained samples of every lot for the culture assay.",
    ]
    pages = extract_pages(plain_pdf(tmp_path / "boxes.pdf", [page]), "boxes")
    seg = segment("boxes", pages)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 200, 10, 10))
    starts = [u.text.split()[0] for u in built.units]
    assert "NOTE" not in starts and "ADDENDUM" not in starts, starts
    texts = [" ".join(u.text.split()) for u in built.units]
    assert any(t.startswith("Because of the short shelf life") for t in texts)
    assert any(t.startswith("Where the vector lot has been tested for RCL") for t in texts)
    assert any(t.startswith("NOTE: The sponsor should keep retained samples") for t in texts)


def test_a_captioned_table_of_word_values_is_one_table_quoted_under_its_column_headers(tmp_path: Path) -> None:
    """A release table whose rows read like prose ("Appearance Visual inspection Colourless to pale yellow cell
    suspension, free" / "of visible clumps", "Sterility Ph. Eur. 2.6.27 or rapid method No growth"): under its
    caption and a line of column headers it is one table, cut into slices that each carry the caption and the
    headers, not sentences ("Test Method Acceptance criterion Appearance Visual inspection …" had been quoted
    as a sentence and the endotoxin limit lost between two slices without their headers)."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.extract import extract_pages
    from atmp_rag.units import build_units
    from tests.pdfgen import plain_pdf

    rows = [
        "Appearance Visual inspection Colourless to pale yellow cell suspension, free", "of visible clumps",
        "Identity (CAR expression) Flow cytometry CAR detected on CD3+ cells",
        "Viable cell count Automated cell counter Within ±20% of the labelled dose",
        "Viability (fresh product) 7-AAD flow cytometry ≥ 70% viable cells",
        "Transduction efficiency Flow cytometry ≥ 15% CAR+ of viable CD3+ cells",
        "Vector copy number Droplet digital PCR ≤ 5 copies per transduced cell",
        "Potency IFN-γ release after co-culture ≥ 2-fold over antigen-negative control",
        "Sterility Ph. Eur. 2.6.27 or rapid method No growth",
        "Mycoplasma Validated NAT Not detected",
        "Bacterial endotoxins Ph. Eur. 2.6.14 ≤ 1.0 EU/mL",
        "Residual activation beads Microscopic count ≤ 100 beads per 3 × 10⁶ cells",
        "Residual cytokine (IL-2) ELISA ≤ 50 IU/mL",
    ]
    page = ["4.5 Release specification",
            "The release specification should include, as a minimum, the tests listed in Table 1.",
            "Table 1: Minimum release specification for CAR-T cell products",
            "Test Method Acceptance criterion", *rows,
            "Tests that cannot be completed before administration should be identified in the specification."]
    pages = extract_pages(plain_pdf(tmp_path / "release.pdf", [page]), "release")
    seg = segment("release", pages)
    built = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 400, 10, 10), max_table_chars=500)
    tables = [u for u in built.units if u.kind in (UnitKind.table, UnitKind.row)]
    assert len(tables) >= 2  # longer than one slice
    for t in tables:
        assert " ".join(t.context.split()).endswith("Test Method Acceptance criterion"), t.context
    endotoxin = next(t for t in tables if "Bacterial endotoxins" in t.text)
    assert "≤ 1.0 EU/mL" in endotoxin.text
    sentences = " ".join(u.text for u in built.units if u.kind is UnitKind.sentence)
    assert "Visual inspection" not in sentences and "Droplet digital PCR" not in sentences
    assert "Tests that cannot be completed" in sentences


def test_a_long_table_of_word_values_is_quoted_row_by_row_without_its_repeated_caption() -> None:
    """A WHO-style table of words too long to quote whole, carried over a page break under "Table 2 (continued)"
    and its repeated headers: every row (one line each, as extraction writes rows whose cells wrap) is a unit
    with the caption and headers as context, and neither the "(continued)" caption nor the repeated headers
    is quoted as a row."""
    header = "Study type Product type Minimum duration Comment"
    first = ["6. Duration", "Table 2 indicates durations for the main study types of cell-based products.",
             "Table 2. Indicative duration of nonclinical studies", header,
             "Proof of concept All products Disease-dependent Non-GLP studies acceptable in this case",
             "Biodistribution Non-persistent cells One month after dosing Three time points at least",
             "Biodistribution Persistent or engrafting cells Three months after dosing Include the gonads",
             "General toxicity Single administration Three months after dosing Interim sacrifice advised",
             "General toxicity Persistent or engrafting cells Six months after dosing Recovery groups added",
             "General toxicity Repeated administration Three months after the last dose Case by case"]
    second = ["Table 2 (continued)", header,
              "Tumorigenicity Pluripotent stem cell derived Twenty-six weeks Up to fifty-two weeks",
              "Tumorigenicity Expanded somatic cells Case by case In vitro data first",
              "Immunotoxicity Allogeneic products Case by case Mismatch of the donor HLA",
              "7. Tumorigenicity",
              "Tumorigenicity studies should be conducted in strains with severe immunodeficiency."]
    units = _text_units(["\n".join(first), "\n".join(second)], "who")
    rows = [u for u in units if u.kind is UnitKind.row]
    texts = [" ".join(u.text.split()) for u in rows]
    assert "Tumorigenicity Expanded somatic cells Case by case In vitro data first" in texts
    assert "Biodistribution Non-persistent cells One month after dosing Three time points at least" in texts
    assert not any(t.startswith(("Table 2", "Study type")) for t in texts)
    assert all(u.context.splitlines()[0] == "Table 2. Indicative duration of nonclinical studies" for u in rows)
    assert any(u.text.startswith("Tumorigenicity studies should be conducted") for u in units)


@pytest.mark.parametrize("title", ["Authors and acknowledgements", "Acknowledgements", "ACKNOWLEDGMENTS",
                                   "Contributors"])
def test_acknowledgements_are_never_quoted(title: str) -> None:
    """WHO back matter: who drafted and reviewed the document, with their agencies, is no requirement (a list of an
    agency's staff would "answer" a question that names the agency); the section before it is quoted as usual."""
    page = ["11. Communication with national regulatory authorities",
            "Developers should seek scientific advice before initiating pivotal nonclinical studies.",
            title,
            "The first draft of this document was prepared by Dr L. Okonkwo-Hale, Medicines Control Authority, "
            "Accra, Ghana, and Dr S. Varga, Swedish Medical Products Agency, Uppsala, Sweden.",
            "The draft was reviewed at a WHO informal consultation held virtually in March 2023.",
            "References",
            "1. Guidelines on the evaluation of similar biotherapeutic products. Geneva: WHO; 2013."]
    intro = ["10. Scope", "These considerations apply to cell-based products intended for first-in-human trials."]
    texts = [u.text for u in _text_units(["\n".join(intro), "\n".join(page)], "who")]
    assert "Developers should seek scientific advice before initiating pivotal nonclinical studies." in texts
    assert not any("Okonkwo" in t or "informal consultation" in t or "Guidelines on the evaluation" in t for t in texts)
