"""Citation formats must be exact for prose and parseable by the tools that import them."""

from __future__ import annotations

import json
import re
from datetime import date

import bibtexparser
import pytest
from citeproc import Citation as CSLCitation
from citeproc import (
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc.source.json import CiteProcJSON

from atmp_rag.cite import (
    FORMATS,
    citation_from_passage,
    format_citation,
    format_citations,
    page_url,
    parse_date,
)
from atmp_rag.models import Chunk, Document, PageSpan, Passage, Status

ACCESSED = date(2024, 5, 1)
RIS_LINE = re.compile(r"^[A-Z][A-Z0-9]  - ")

Q9_PDF = "https://database.ich.org/sites/default/files/Q9%20Guideline.pdf"
Q9_TEXT = (
    "The evaluation of the risk to quality should be based on scientific knowledge\n"
    "and ultimately link to the protection of the patient."
)


def q9(**update: object) -> Document:
    return Document(
        doc_id="ich-q9",
        file="ich-q9-guideline.pdf",
        issuer="ICH",
        reference="Q9",
        title="Quality Risk Management",
        version="Step 4, 9 November 2005",
        landing_url="https://www.ich.org/page/quality-guidelines",
        pdf_url=Q9_PDF,
        topics=["quality", "risk"],
    ).model_copy(update=update)


def ema_cat_draft() -> Document:
    return Document(
        doc_id="ema-cat-investigational-atmp-draft",
        file="ema-cat-852602-2018-draft.pdf",
        issuer="EMA",
        reference="EMA/CAT/852602/2018",
        title=(
            "Guideline on quality, non-clinical and clinical requirements for "
            "investigational advanced therapy medicinal products in clinical trials"
        ),
        version="Draft for public consultation, 2019-01-31",
        status=Status.draft,
        status_note="Consultation closed; final version pending.",
        pdf_url="https://www.ema.europa.eu/en/documents/scientific-guideline/draft.pdf",
    )


def local_sop() -> Document:
    """A PDF dropped into the corpus folder with no catalog row, so no official URL."""
    return Document(
        doc_id="sop-vector-release",
        file="sop-vector-release.pdf",
        title="Release testing of lentiviral vector lots",
        catalogued=False,
    )


def passage(
    document: Document,
    pages: tuple[int, ...] = (12,),
    labels: tuple[str, ...] = ("9",),
    text: str = Q9_TEXT,
    section: tuple[str, ...] = (
        "4. GENERAL QUALITY RISK MANAGEMENT PROCESS",
        "4.3 Risk Assessment",
    ),
) -> Passage:
    spans = [PageSpan(page=p, start=0, end=80) for p in pages]
    chunk = Chunk(
        chunk_id=f"{document.doc_id}:0007",
        doc_id=document.doc_id,
        ordinal=7,
        text=text,
        section_path=list(section),
        spans=spans,
    )
    return Passage(chunk=chunk, document=document, score=0.71, rank=1, page_labels=list(labels))


# --- building citations ---------------------------------------------------------------------


def test_page_url_points_at_the_pdf_page() -> None:
    assert page_url(q9(), 12) == f"{Q9_PDF}#page=12"
    # A fragment already in the catalog URL must not end up as "#view=FitH#page=3".
    assert page_url(q9(pdf_url=f"{Q9_PDF}#view=FitH"), 3) == f"{Q9_PDF}#page=3"


def test_page_url_landing_page_gets_no_fragment_and_no_url_gives_empty() -> None:
    landing = q9(pdf_url="")
    assert page_url(landing, 12) == "https://www.ich.org/page/quality-guidelines"
    assert page_url(local_sop(), 2) == ""


def test_citation_from_passage_defaults() -> None:
    citation = citation_from_passage(passage(q9()), n=3)
    assert citation.n == 3
    assert citation.quote == Q9_TEXT
    assert citation.pages == [12]
    assert citation.page_labels == ["9"]
    assert citation.url == f"{Q9_PDF}#page=12"
    assert citation.section.endswith("4.3 Risk Assessment")
    assert citation.verified is True
    assert citation.warning == ""


def test_citation_falls_back_to_pdf_page_numbers_without_labels() -> None:
    citation = citation_from_passage(passage(local_sop(), pages=(2, 3), labels=()), quote="lot", verified=False)
    assert citation.page_labels == ["2", "3"]
    assert citation.quote == "lot"
    assert citation.url == ""
    assert citation.verified is False


def test_draft_and_superseded_warnings() -> None:
    draft = citation_from_passage(passage(ema_cat_draft()))
    assert draft.warning.startswith("Draft guideline: EMA/CAT/852602/2018")
    assert "final version pending" in draft.warning

    old_q9 = q9(status=Status.superseded, superseded_by="ICH Q9(R1)")
    superseded = citation_from_passage(passage(old_q9))
    assert superseded.warning.startswith("Superseded: ICH Q9")
    assert "ICH Q9(R1)" in superseded.warning
    assert "superseded by ICH Q9(R1)" in format_citation(superseded, old_q9, "text", with_quote=False)


# --- text and Markdown ------------------------------------------------------------------------


def test_text_exact_for_ich_q9() -> None:
    doc = q9()
    citation = citation_from_passage(passage(doc))
    assert (
        format_citation(citation, doc, "text", with_quote=False)
        == "ICH Q9, Quality Risk Management, Step 4, 9 November 2005, section 4.3, p. 9."
    )


def test_text_with_quote_puts_the_quote_first_on_one_line() -> None:
    doc = q9()
    citation = citation_from_passage(passage(doc))
    assert format_citation(citation, doc, "text") == (
        '"The evaluation of the risk to quality should be based on scientific knowledge '
        'and ultimately link to the protection of the patient." '
        "(ICH Q9, Quality Risk Management, Step 4, 9 November 2005, section 4.3, p. 9)"
    )


def test_multi_page_label_range() -> None:
    doc = q9()
    citation = citation_from_passage(passage(doc, pages=(12, 13), labels=("9", "10")))
    text = format_citation(citation, doc, "text", with_quote=False)
    assert text.endswith("section 4.3, pp. 9–10.")
    assert citation.url.endswith("#page=12")


def test_markdown_links_the_page() -> None:
    doc = q9()
    citation = citation_from_passage(passage(doc))
    md = format_citation(citation, doc, "markdown", with_quote=False)
    assert md == (f"ICH Q9, *Quality Risk Management*, Step 4, 9 November 2005, section 4.3, [p. 9]({Q9_PDF}#page=12).")


def test_markdown_without_url_has_no_link() -> None:
    doc = local_sop()
    citation = citation_from_passage(passage(doc, section=("Annex 2 Potency assay",)))
    md = format_citation(citation, doc, "markdown", with_quote=False)
    assert "](" not in md
    assert md == "*Release testing of lentiviral vector lots*, Annex 2 Potency assay, p. 9."


def test_format_citations_numbers_text_entries() -> None:
    doc, draft = q9(), ema_cat_draft()
    pairs = [
        (citation_from_passage(passage(doc), n=1), doc),
        (citation_from_passage(passage(draft, labels=("14",)), n=2), draft),
    ]
    lines = format_citations(pairs, "text", with_quote=False).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[1] ICH Q9, Quality Risk Management")
    assert lines[1].startswith("[2] EMA/CAT/852602/2018, Guideline on quality")
    assert lines[1].endswith("p. 14.")


# --- BibTeX -----------------------------------------------------------------------------------


def test_bibtex_parses_with_bibtexparser() -> None:
    doc = q9()
    citation = citation_from_passage(passage(doc, pages=(12, 13), labels=("9", "10")))
    library = bibtexparser.parse_string(format_citation(citation, doc, "bibtex", ACCESSED))
    assert not library.failed_blocks
    [entry] = library.entries
    assert entry.entry_type == "techreport"
    assert entry.key == "ICH_Q9_2005"
    fields = {f.key: f.value for f in entry.fields}
    assert fields["title"] == "{Quality Risk Management}"
    assert fields["institution"] == "ICH"
    assert fields["number"] == "Q9"
    assert fields["year"] == "2005"
    assert fields["pages"] == "9--10"
    assert fields["url"] == f"{Q9_PDF}#page=12"
    assert fields["urldate"] == "2024-05-01"
    assert "section 4.3" in fields["note"]


def test_bibtex_escapes_special_characters() -> None:
    doc = q9(
        title="Q&A: 100% {sterile} filling_of ATMPs #2 at $-cost",
        reference="GMP_ATMP#4",
    )
    citation = citation_from_passage(passage(doc, text="Yield > 50% & <5 ppm_x"))
    bib = format_citation(citation, doc, "bibtex", ACCESSED)
    library = bibtexparser.parse_string(bib)
    assert not library.failed_blocks
    fields = {f.key: f.value for f in library.entries[0].fields}
    assert fields["title"] == (r"{Q\&A: 100\% \{sterile\} filling\_of ATMPs \#2 at \$-cost}")
    assert fields["number"] == r"GMP\_ATMP\#4"
    assert fields["annote"] == r'"Yield > 50\% \& <5 ppm\_x"'
    # Outside url, no special character may appear unescaped.
    for name, value in fields.items():
        if name not in ("url", "urldate"):
            assert not re.search(r"(?<!\\)[%&$#_]", value), (name, value)


def test_bibtex_keys_unique_and_misc_without_issuer() -> None:
    doc, sop = q9(), local_sop()
    pairs = [
        (citation_from_passage(passage(doc), n=1), doc),
        (citation_from_passage(passage(doc, labels=("11",)), n=2), doc),
        (citation_from_passage(passage(sop), n=3), sop),
    ]
    library = bibtexparser.parse_string(format_citations(pairs, "bibtex"))
    assert not library.failed_blocks
    assert [e.key for e in library.entries] == [
        "ICH_Q9_2005",
        "ICH_Q9_2005_2",
        "sop_vector_release",
    ]
    assert library.entries[2].entry_type == "misc"


# --- RIS --------------------------------------------------------------------------------------


def test_ris_records_are_well_formed() -> None:
    doc, draft = q9(), ema_cat_draft()
    pairs = [
        (citation_from_passage(passage(doc, pages=(12, 13), labels=("9", "10"))), doc),
        (citation_from_passage(passage(draft, labels=("14",)), n=2), draft),
    ]
    ris = format_citations(pairs, "ris", ACCESSED)
    lines = ris.splitlines()
    assert all(RIS_LINE.match(line) for line in lines), lines
    tags = [line[:2] for line in lines]
    assert tags.count("TY") == 2
    assert tags.count("ER") == 2
    assert tags[0] == "TY"
    assert tags[-1] == "ER"
    first = lines[: tags.index("ER") + 1]
    assert "TY  - RPRT" in first
    assert "AU  - ICH" in first
    assert "PY  - 2005" in first
    assert "DA  - 2005/11/09" in first
    assert "SP  - 9" in first
    assert "EP  - 10" in first
    assert f"UR  - {Q9_PDF}#page=12" in first
    assert "Y2  - 2024/05/01" in first
    assert any(line.startswith("N1  - Section: ") for line in first)
    assert any(line.startswith('N1  - Quote: "The evaluation') for line in first)
    assert "M3  - Draft guideline" in lines
    assert "IS  - Q9" in first and not any(line.startswith("SN  - ") for line in lines)
    assert ris.count("\r\n") == len(lines)  # CR LF line ends, as the RIS specification asks


def test_ris_fields_land_where_a_maintained_parser_puts_them() -> None:
    import rispy

    doc, draft = q9(), ema_cat_draft()
    pairs = [
        (citation_from_passage(passage(doc, pages=(12, 13), labels=("9", "10"))), doc),
        (citation_from_passage(passage(draft, labels=("14",)), n=2), draft),
    ]
    first, second = rispy.loads(format_citations(pairs, "ris", ACCESSED))
    assert first["type_of_reference"] == "RPRT" and first["title"] == "Quality Risk Management"
    assert first["authors"] == ["ICH"] and first["publisher"] == "ICH"
    assert first["number"] == "Q9" and "issn" not in first  # the reference number is a number, not an ISSN
    assert first["year"] == "2005" and first["date"] == "2005/11/09"
    assert (first["start_page"], first["end_page"]) == ("9", "10")
    assert first["urls"] == [f"{Q9_PDF}#page=12"] and first["access_date"] == "2024/05/01"
    assert first["type_of_work"] == "Guideline" and second["type_of_work"] == "Draft guideline"
    assert any(n.startswith("Section: ") for n in first["notes"])


# --- CSL-JSON ---------------------------------------------------------------------------------


def test_csl_json_item() -> None:
    doc = q9()
    citation = citation_from_passage(passage(doc, pages=(12, 13), labels=("9", "10")))
    [item] = json.loads(format_citation(citation, doc, "csl-json", ACCESSED))
    assert item["type"] == "report"
    assert item["title"] == "Quality Risk Management"
    assert item["publisher"] == item["authority"] == "ICH"
    assert item["number"] == "Q9"
    assert item["issued"] == {"date-parts": [[2005, 11, 9]]}
    assert item["page"] == "9-10"
    assert item["URL"] == f"{Q9_PDF}#page=12"
    assert item["accessed"] == {"date-parts": [[2024, 5, 1]]}
    assert item["note"].startswith("section 4.3")


def test_csl_json_array_of_several() -> None:
    doc, draft = q9(), ema_cat_draft()
    pairs = [
        (citation_from_passage(passage(doc)), doc),
        (citation_from_passage(passage(draft), n=2), draft),
    ]
    items = json.loads(format_citations(pairs, "csl-json"))
    assert isinstance(items, list)
    assert len(items) == 2
    assert items[1]["issued"] == {"date-parts": [[2019, 1, 31]]}
    assert len({i["id"] for i in items}) == 2


def test_csl_json_renders_with_citeproc_py() -> None:
    doc = q9()
    citation = citation_from_passage(passage(doc))
    [item] = json.loads(format_citation(citation, doc, "csl-json", ACCESSED))
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, CiteProcJSON([item]), formatter.plain)
    bibliography.register(CSLCitation([CitationItem(item["id"])]))
    [rendered] = [str(entry) for entry in bibliography.bibliography()]
    assert rendered.startswith("ICH (2005) Quality Risk Management.")
    assert f"{Q9_PDF}#page=12" in rendered


# --- dates and errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("Step 4, 9 November 2005",), (2005, 11, 9)),
        (("2018-03-22",), (2018, 3, 22)),
        (("Adopted by CAT, March 2018",), (2018, 3)),
        (("November 9, 2005",), (2005, 11, 9)),
        (("Rev. 1, 2021",), (2021,)),
        (("Step 4", "2019-09-01"), (2019, 9, 1)),
        (("Step 4", ""), None),
        (("31 February 2020",), (2020, 2)),
        # Numeric dates as covers print them: year first, dotted day first, slashed day first unless it cannot be.
        (("2025/04/02",), (2025, 4, 2)),
        (("01.02.2023",), (2023, 2, 1)),
        (("14/08/2025",), (2025, 8, 14)),
        (("08/14/2025",), (2025, 8, 14)),
        (("Status: 03/2025",), (2025, 3)),
        (("Guide No. 47/2025",), (2025,)),
    ],
)
def test_parse_date(texts: tuple[str, ...], expected: tuple[int, ...] | None) -> None:
    assert parse_date(*texts) == expected


def test_csl_year_only_date() -> None:
    doc = q9(version="Rev. 1, 2021")
    citation = citation_from_passage(passage(doc))
    [item] = json.loads(format_citation(citation, doc, "csl-json"))
    assert item["issued"] == {"date-parts": [[2021]]}


def test_unknown_format_raises() -> None:
    doc = q9()
    citation = citation_from_passage(passage(doc))
    with pytest.raises(ValueError, match="unknown citation format 'apa'"):
        format_citation(citation, doc, "apa")
    with pytest.raises(ValueError, match="csl-json"):
        format_citations([(citation, doc)], "endnote")
    assert "csl-json" in FORMATS


def test_status_warning_does_not_repeat_the_catalog_note() -> None:
    from atmp_rag.cite import status_warning
    from atmp_rag.corpus import load_catalog
    from tests.conftest import CATALOG

    q3c = next(d for d in load_catalog(CATALOG) if d.doc_id == "ich-q3c-r8-residual-solvents-2021")
    assert q3c.status_note == "superseded (by Q3C(R9), 2024)"  # the catalog says it once more in words
    warning = status_warning(q3c)
    assert warning == "Superseded: ICH Q3C(R8) has been replaced by ICH Q3C(R9) (2024)."
    assert warning.lower().count("superseded") == 1
    # A note that adds information is kept.
    other = q3c.model_copy(update={"status_note": "withdrawn after the 2024 revision of Table 2"})
    assert status_warning(other).endswith("withdrawn after the 2024 revision of Table 2")


def test_control_characters_from_pdf_metadata_never_reach_an_export() -> None:
    # An uncatalogued PDF's metadata can carry NUL and other control bytes (and extraction form feeds).
    doc = local_sop().model_copy(update={"title": "Release\x00 testing\x07 of vector lots\x1f",
                                         "issuer": "QA\x00", "version": "2021\x0c"})
    citation = citation_from_passage(passage(doc, labels=("9\x00",), text="Lots are\x00 tested.\x0b"))
    controls = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
    for fmt in FORMATS:
        out = format_citation(citation, doc, fmt, ACCESSED)
        assert not controls.search(out), (fmt, out)
        assert "Release testing of vector lots" in " ".join(out.split()), fmt
    library = bibtexparser.parse_string(format_citation(citation, doc, "bibtex", ACCESSED))
    assert not library.failed_blocks and len(library.entries) == 1
    assert json.loads(format_citation(citation, doc, "csl-json"))[0]["title"].startswith("Release")
