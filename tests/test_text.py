"""The text layer: one sentence splitter, one heading detector, one tokenizer/IDF, content rules."""

from __future__ import annotations

import math

import pytest

from atmp_rag.models import PageKind
from atmp_rag.text.content import classify_pages, is_prose_line, strip_lead_noise, unit_problem
from atmp_rag.text.headings import Heading, continues_heading, glossary_term, roman_to_int
from atmp_rag.text.lexical import Idf, QueryTerms, Tokenizer, coverage, document_frequencies
from atmp_rag.text.sentences import split


def pieces(text: str) -> list[str]:
    return [text[a:b] for a, b in split(text)]


# ------------------------------------------------------------------ sentences

def test_split_keeps_abbreviations_decimals_and_section_numbers_inside_sentences() -> None:
    text = ("Samples should be stored at 25 °C ± 2 °C/60% RH ± 5% RH, e.g. in a chamber qualified per Ph. Eur. "
            "No. 5 requirements, i.e. for 12 months. See section 4.3 for the protocol and Fig. 2 for details. "
            "Data from 3.5 years may be used.")
    assert pieces(text) == [
        "Samples should be stored at 25 °C ± 2 °C/60% RH ± 5% RH, e.g. in a chamber qualified per Ph. Eur. "
        "No. 5 requirements, i.e. for 12 months.",
        "See section 4.3 for the protocol and Fig. 2 for details.",
        "Data from 3.5 years may be used.",
    ]


def test_superscript_markers_stay_with_their_sentence_and_start_a_footnote() -> None:
    """A raised marker after the full stop ends the sentence; a footnote's own raised marker starts one;
    an exponent is no sentence end; tokens drop the marker ("Directive²" is "directive")."""
    text = ("Delayed adverse events are expected.³ Early-phase trials are first-in-human studies at 2 × 10¹³ "
            "vg/kg. See Part IV (pages 24-27).\n² The information included for Cumene reflects the revision.")
    assert [text[a:b] for a, b in split(text)] == [
        "Delayed adverse events are expected.³",
        "Early-phase trials are first-in-human studies at 2 × 10¹³ vg/kg.",
        "See Part IV (pages 24-27).",
        "² The information included for Cumene reflects the revision.",
    ]
    tokens = Tokenizer()
    assert tokens.one("Directive² 2002/98/EC and Cumene¹") == tokens.one("Directive 2002/98/EC and Cumene")


def test_a_raised_footnote_marker_needs_no_word_before_it() -> None:
    from atmp_rag.text.content import footnote_start

    body = "Regulation (EU) 2016/679⁴ applies to the traceability data of donors and patients.\n" * 6
    note = "⁴ Regulation (EU) 2016/679 of the European Parliament and of the Council on data protection.\n"
    assert footnote_start(body + note) == len(body)


def test_a_footnote_marker_after_the_full_stop_ends_the_sentence() -> None:
    text = ("Products differ in their potential for delayed adverse events.1 Early-phase trials are often "
            "first-in-human studies. See section 3.2 The product is stored. As set out in Q1A(R2).12 The data "
            "are pooled. The dose is approx.5 Units per kilogram.")
    assert [text[a:b] for a, b in split(text)] == [
        "Products differ in their potential for delayed adverse events.1",
        "Early-phase trials are often first-in-human studies.",
        "See section 3.2 The product is stored.",
        "As set out in Q1A(R2).12",
        "The data are pooled.",
        "The dose is approx.5 Units per kilogram.",
    ]


def test_split_wrapped_lines_and_list_items() -> None:
    text = ("Stability information should be provided on at least 3 batches of final container\n"
            "product representative of that which will be used at manufacturing scale. Where\n"
            "possible, batches should be derived from different batches of bulk material.\n"
            "The following should be considered:\n"
            "• the intended storage condition of the product;\n"
            "• the container closure system in contact with the product;\n"
            "1. A 5% change in assay from its initial value;\n")
    got = pieces(text)
    assert got[0].endswith("manufacturing scale.") and "\n" in got[0]  # quotes stay verbatim page text
    assert got[1] == "Where\npossible, batches should be derived from different batches of bulk material."
    assert got[2] == "The following should be considered:"
    assert "• the intended storage condition of the product;" in got
    assert "1. A 5% change in assay from its initial value;" in got
    for a, b in split(text):
        assert text[a:b] == text[a:b].strip()


def test_a_parenthesised_abbreviation_is_no_list_marker() -> None:
    from atmp_rag.text.sentences import LIST_ITEM

    assert LIST_ITEM.match("(a) the volume") and LIST_ITEM.match("(iv) the dose") and LIST_ITEM.match("12. The")
    assert not LIST_ITEM.match("(EC) No 1394/2007.") and not LIST_ITEM.match("(MOA) for the tumours")


def test_initials_and_enumerators_do_not_end_sentences() -> None:
    assert pieces("As shown by D. W. Gaylor in 1990. The model holds.") == [
        "As shown by D. W. Gaylor in 1990.", "The model holds."]
    # A wrapped sentence whose last line is one short word ends there.
    assert pieces("A change of vector requires comparability\ndata.\nTissue-specific promoters may be used.") == [
        "A change of vector requires comparability\ndata.", "Tissue-specific promoters may be used."]


# ------------------------------------------------------------------ headings

def test_roman_numerals_one_implementation() -> None:
    assert [roman_to_int(s) for s in ("iv", "IX", "xii", "XL", "ic", "")] == [4, 9, 12, 40, None, None]


def test_title_case_continuation_of_a_cut_heading() -> None:
    heading = Heading("5.2.2", "Justification of Starting Material Selection for Semi-Synthetic", 3, "numbered",
                      "5.2.2 Justification of Starting Material Selection for Semi-Synthetic")
    assert continues_heading(heading, "Drug Substances", "If an isolated intermediate is proposed…")
    # a sentence is not a continuation, and a short complete heading is not cut
    assert not continues_heading(heading, "If an isolated intermediate is proposed", "")
    short = Heading("6.1", "General Principles", 2, "numbered", "6.1 General Principles")
    assert not continues_heading(short, "A Control Strategy", "is a planned set of controls")


@pytest.mark.parametrize(("line", "nxt", "term"), [
    ("Batch (or Lot)", "A specific quantity of material produced in a process.", "Batch (or Lot)"),
    ("Harm:", "Damage to health, including the damage that can occur.", "Harm"),
    ("Life cycle:", "All phases in the life of the product.", "Life cycle"),
    ("The following should be considered:", "Whether the", None),  # a verb: a sentence
    ("In the case of continuous production, a", "Batch may correspond", None),
    ("Trial Site", "the location(s) where trial-related activities are conducted", None),  # lower-case start
])
def test_glossary_terms(line: str, nxt: str, term: str | None) -> None:
    assert glossary_term(line, nxt) == term


# ------------------------------------------------------------------ lexical

def test_idf_is_counted_from_the_token_lists_and_query_terms_drop_question_words() -> None:
    tok = Tokenizer("english", "en")
    docs = tok(["Stability testing of drug substances.", "Stability of biotech products.", "Risk management."])
    df = document_frequencies(docs)
    assert df["stabil"] == 2 and df["risk"] == 1
    idf = Idf(df, len(docs))
    assert idf("stabil") == pytest.approx(math.log(1 + (3 - 2 + 0.5) / (2 + 0.5)))
    assert idf("never-seen") == idf.unseen >= idf("risk")
    terms = QueryTerms(tok, idf)("What is stability testing?")
    assert "what" not in terms and set(terms) == {"stabil", "test"}
    assert coverage(terms, {"stabil"}) == pytest.approx(idf("stabil") / (idf("stabil") + idf("test")))


# ------------------------------------------------------------------ content

def test_prose_lines_and_table_headers() -> None:
    assert is_prose_line("The long term testing should cover a minimum of 12 months’ duration on at least")
    assert not is_prose_line("Study Storage condition Minimum time period covered by")
    assert not is_prose_line("Benzene 2 Carcinogen")


@pytest.mark.parametrize(("text", "problem"), [
    ("assure that a quality risk management process is defined;", "starts mid-sentence"),
    ("Risk Review\nRisk Communication\nRisk Assessment\nRisk Evaluation\nunacceptable\nRisk Control",
     "figure text"),
    ("Smith J, Jones AB, Brown C. Biodistribution of lentiviral vectors. Hum Gene Ther. 2015;26(4):210-219.",
     "reference entry"),
    # A footnote citing EU legislation in the Official Journal is a reference, not a statement of the guideline
    # (an EMA draft's "³ Regulation (EC) No 1394/2007 …" had been the answer to a question on EMA's fees).
    ("Regulation (EC) No 1394/2007 of the European Parliament and of the Council of 13 November 2007 on advanced "
     "therapy medicinal products, OJ L 324, 10.12.2007, p. 121.", "reference entry"),
    ("Gene therapy medicinal products are defined in Part IV of Annex I to Directive 2001/83/EC.", None),
    ("The guideline came into effect on 01.01.2020 for all new marketing authorisation applications.", None),
    ("Telephone: +353 1 676 4971 E-mail: info@hpra.example", "contact details"),
    ("Figure 1: Overview of a typical quality risk management process", "caption"),
    ("This document is protected by copyright and may be used under a public license.", "legal or procedural notice"),
    ("2.1.7 Storage Conditions ... 8", "table of contents line"),
    ("Name of product: ________\nLot number: ________", "form to fill in"),
    ("Risk control includes decision making to reduce and/or accept risks.", None),
])
def test_unit_problems(text: str, problem: str | None) -> None:
    assert unit_problem(text) == problem


def test_footnotes_at_the_foot_of_a_page_need_their_marker_in_the_body() -> None:
    from atmp_rag.text.content import footnote_start

    body = ("2. Scope\nThese guidelines apply to vectors that integrate into the host genome1 and to those\n"
            "that do not, used to deliver a transgene to human cells in vivo or ex vivo, and to the\n")
    note = "1 Integration is expected for retroviral and lentiviral vectors only.\n"
    assert footnote_start(body + note) == len(body)
    # Without the marker above it, "1 Integration …" is a numbered paragraph or heading, not a footnote.
    assert footnote_start(body.replace("genome1", "genome") + note) is None
    # A marker after the full stop ("… only.2") counts, and so does a following note numbered on.
    marked = body.replace("to the\n", "to the cells.2\n")
    assert footnote_start(marked + note + "2 A sample is negative below the limit of quantification.\n") == len(marked)


def test_a_worked_calculation_is_not_a_table() -> None:
    # Q3C's PDE derivations: each number, "=" and product on a line of its own in the text layer.
    calculation = ("720ppm\n7.2mg/day\n= =\n= = =\n10\n7.2 x 1000 Limit\n7.165 mg/day\n5 x 10 x 1 x 10 x 1\n"
                   "71.65 x 50 PDE\n71.65 mg/kg")
    assert unit_problem(calculation, "table") == "worked calculation"
    rows = "Benzene 2 Carcinogen\nCarbon tetrachloride 4 Toxic and environmental hazard\n1,2-Dichloroethane 5 Toxic"
    assert unit_problem(rows, "table") is None
    formula = "PDE =\nNOEL x Weight Adjustment\nF1 x F2 x F3 x F4 x F5\n(1)"  # one equation, quotable
    assert unit_problem(formula, "table") is None


def test_lead_noise_is_stripped_from_quotes() -> None:
    text = "1\nweight variation is applied.\nDrug Substances\nIf an isolated intermediate is used, justify it."
    assert text[strip_lead_noise(text, 0, 30):].startswith("weight variation")
    start = text.index("Drug Substances")
    assert text[strip_lead_noise(text, start, len(text)):].startswith("If an isolated")
    marker = "1 Samples should be taken from all major organs."
    assert marker[strip_lead_noise(marker, 0, len(marker)):].startswith("Samples")
    cfr = "21 CFR Part 11 applies to electronic records."
    assert strip_lead_noise(cfr, 0, len(cfr)) == 0  # "21 CFR" is not a footnote marker
    raised = "¹See the glossary for the terms used."  # a raised marker needs no space after it
    assert raised[strip_lead_noise(raised, 0, len(raised)):].startswith("See the glossary")
    # A figure's caption over the paragraph below it is no part of its first sentence; a sentence that
    # begins by naming a figure is left whole.
    caption = "Figure 1: Typical process flow for an autologous CAR-T cell product\nThe total time from apheresis."
    assert caption[strip_lead_noise(caption, 0, len(caption)):].startswith("The total time")
    mention = "Figure 1 shows the typical steps for a CAR-T\nCell product. Each step is documented."
    assert strip_lead_noise(mention, 0, len(mention)) == 0


def test_classify_pages_title_history_contact() -> None:
    title = "European Agency\nGUIDELINE ON POTENCY TESTING\nOF CELL-BASED PRODUCTS\nDraft\n1 March 2024"
    history = "Revision history\nVersion Date Change\n1.0 May 2019 First\n2.0 June 2021 Second"
    more_history = "3.0 July 2023 Third\n4.0 May 2024 Fourth edition published"
    body = "1. Introduction\nThis guideline applies to cell therapy products. It describes potency assays."
    contact = "Contact\nTelephone: +44 20 3660 6000\nE-mail: info@agency.example\nwww.agency.example"
    kinds = classify_pages([title, history, more_history, body, contact], [False] * 5)
    assert kinds == [PageKind.title, PageKind.history, PageKind.history, PageKind.content, PageKind.contact]
    # a first page that starts the body is content, not a title page
    assert classify_pages([body, body], [False, False]) == [PageKind.content, PageKind.content]


def test_a_sentence_cut_before_a_formula_is_not_a_statement() -> None:
    assert unit_problem("The PDE for acetonitrile in this study is calculated as") == \
        "cut off before a formula or table"
    assert unit_problem("The PDE for acetonitrile in this study is calculated as 4.1 mg per day") is None


def test_a_subheading_wrapped_in_a_narrow_column_but_not_a_table_cell() -> None:
    from atmp_rag.text.headings import wrapped_subheading

    got = wrapped_subheading("Dose escalation in", "first-in-human trials", "First-in-human trials of cell and gene")
    assert got is not None and got.title == "Dose escalation in first-in-human trials"
    # ICH Q7 Table 1 read cell by cell: "Introduction of" / "the API" / "Starting" / "Material into" …
    assert wrapped_subheading("Introduction of", "the API", "Starting") is None
    assert wrapped_subheading("Storage of", "samples.", "The samples should be kept frozen at all times") is None


def test_a_one_word_term_of_a_glossary_table_before_a_definition_without_an_article() -> None:
    from atmp_rag.text.headings import table_glossary_entry

    line = "Custom-made Prepared to meet the needs of an individual patient identified in a"
    assert table_glossary_entry(line) == ("Custom-made", line.index("Prepared"))
    assert table_glossary_entry("Batch A defined quantity of product prepared in one process") == ("Batch", 6)
    assert table_glossary_entry("Disease model Animal model that reproduces the disease") == ("Disease model", 14)


def test_the_tail_of_a_term_wrapped_in_a_glossary_column() -> None:
    from atmp_rag.text.headings import term_column_tail

    assert term_column_tail("product (ATMP) product or a tissue engineered product") == (0, 14)
    assert term_column_tail("lentivirus (RCL) that is able to replicate") == (0, 16)
    # a definition's own wrapped line: no abbreviation, or a verb or small word before it
    assert term_column_tail("or excreta of the treated subject.") is None
    assert term_column_tail("is expressed (see 4.2) in the model") is None
    assert term_column_tail("of the vector (AAV) in the tissue") is None


@pytest.mark.parametrize(("term", "names"), [
    ("1.11 Case Report Form (CRF)", ["Case Report Form (CRF)", "Case Report Form", "CRF"]),
    ("Batch (or Lot)", ["Batch (or Lot)", "Batch", "Lot"]),
    ("Shelf life (also referred to as expiration dating period)",
     ["Shelf life (also referred to as expiration dating period)", "Shelf life", "expiration dating period"]),
    ("Stress testing (drug substance)", ["Stress testing (drug substance)", "Stress testing"]),
    ("Quality Target Product Profile (QTPP):", ["Quality Target Product Profile (QTPP)",
                                                 "Quality Target Product Profile", "QTPP"]),
    ("Harm:", ["Harm"]),
])
def test_the_names_a_glossary_term_goes_by(term: str, names: list[str]) -> None:
    from atmp_rag.text.headings import term_names

    assert term_names(term) == names


def test_a_page_after_the_history_that_opens_with_parts_is_content_and_an_index_is_no_content() -> None:
    """Medsafe: "Part 1: Introduction" › "1.1 Purpose" after a "Document history" page is the body, however many
    years its prose cites ("Medicines Act 1981", "1 December 2025"); an alphabetical index at the back ("Aseptic
    processing, 6", letter headings) is listed like a contents page, never chunked."""
    history = "Document history\nEdition Date Changes\n1.0 March 2019 First edition.\n2.0 June 2022 Fees updated."
    body = ("Part 1: Introduction\n1.1 Purpose\nThis guideline sets out what Medsafe expects from sponsors.\n"
            "1.2 Legal basis\nUnder section 30 of the Medicines Act 1981, a clinical trial may only begin once\n"
            "approved. Approval is separate from approval under the Hazardous Substances Act 1996.\n"
            "Applications received before 1 December 2025 will be assessed under Edition 2.0.")
    index = "Index\nA\n" + "\n".join(f"{term}, {n}, {n + 3}" for n, term in enumerate(
        ["Action limits", "Alert limits", "Allogeneic donors", "Aseptic processing", "Batch records",
         "Cleanrooms", "Deviations", "Media fills", "Qualified person", "Shipping", "Traceability"], 2))
    kinds = classify_pages([history, body, index], [False] * 3)
    assert kinds == [PageKind.history, PageKind.content, PageKind.toc]


def test_a_row_label_on_the_line_of_its_cells_first_sentence_is_no_part_of_it() -> None:
    """An uncaptioned "Party | Responsibilities" table read row by row: the label shares its line with the
    cell's first sentence ("Qualified person The qualified person certifies …"); a capitalised "The" only a new
    sentence has marks where the label ends. Words that hold a verb, a symbol or a single letter before a
    capital ("F1 = A factor …", "grade A and B areas", "If The …") are left alone."""
    for row, quote in [
        ("Qualified person The qualified person certifies that each batch has been manufactured.",
         "The qualified person certifies"),
        ("Sponsor, or its legal representative The sponsor is responsible for the IMPD.", "The sponsor is"),
        ("Not an ATMP The finished product contains no viable or non-viable cells.", "The finished product"),
    ]:
        assert row[strip_lead_noise(row, 0, len(row)):].startswith(quote)
    for sentence in ("F1 = A factor to account for extrapolation between species.",
                     "Microorganisms recovered from grade A and B areas should be identified to species level.",
                     "Results should be recorded The same day.", "If The sponsor agrees, the site may start."):
        assert strip_lead_noise(sentence, 0, len(sentence)) == 0


def test_a_document_control_table_at_the_front_is_history_but_a_document_control_section_is_not() -> None:
    """SFDA's page 2 opens with "Document Control" over "Version | Author | Date | Comments" rows whose "1.0
    Biological Products Evaluation" read as section headings, under which the whole introduction was filed; a
    GMP guide's "Document control" section deep in the body stays content."""
    title = "Saudi Food & Drug Authority\nDrug Sector\nGuidance on Quality Requirements\nVersion 1.1"
    control = ("Document Control\nVersion Author Date Comments\n1.0 Biological Products Evaluation\nDepartment\n"
               "03 March\n2025\nInitial version\nDisclaimer\nThis guidance represents the current thinking of the "
               "authority. It does not create or confer any rights.")
    body = "1. INTRODUCTION\nThis guidance applies to cell therapy products. It describes the quality information."
    gmp = "4.3 Document control\nDocuments should be approved, signed and dated by authorised persons."
    kinds = classify_pages([title, control, body, body, gmp], [False] * 5)
    assert kinds[1] is PageKind.history
    assert kinds[4] is PageKind.content
