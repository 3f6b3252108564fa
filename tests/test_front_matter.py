"""An uncatalogued PDF is cited as what its front matter says it is: a draft, its reference, its title."""

from __future__ import annotations

from pathlib import Path

import pytest

from atmp_rag.cite import parse_date, status_warning
from atmp_rag.corpus import uncatalogued_document
from atmp_rag.extract import extract_document
from atmp_rag.front_matter import FrontMatter, describe, read_front_matter
from atmp_rag.models import Document, Status
from tests import pdfgen
from tests.conftest import SHARED_PDF


def front(path: Path) -> FrontMatter:
    pages, furniture = extract_document(path, path.stem)
    return read_front_matter(pages, furniture)


def test_ema_draft_from_its_running_header(tmp_path: Path) -> None:
    got = front(pdfgen.gene_therapy_draft_pdf(tmp_path / "gt.pdf"))
    assert "Draft" in got.draft
    assert got.reference == "EMA/CAT/123456/2024"
    assert got.date == "18 March 2024"  # the cover's first line; the adoption table's dates are rows of it
    assert got.title == ("Guideline on the quality, non-clinical and clinical aspects of gene therapy medicinal "
                         "products")


@pytest.mark.parametrize("header", [True, False])
def test_fda_draft_from_its_header_or_its_title_page(tmp_path: Path, header: bool) -> None:
    got = front(pdfgen.fda_draft_pdf(tmp_path / "fda.pdf", header=header))
    assert got.draft == ("Draft — Not for Implementation" if header else "Draft Guidance for Industry")
    # The title wraps over three lines above "Draft Guidance for Industry".
    assert got.title == ("Considerations for the Use of Human- and Animal-Derived Materials in the Manufacture of "
                         "Cell and Gene Therapy Products")


def test_adopted_guidelines_are_not_drafts(tmp_path: Path) -> None:
    # An adopted EMA guideline keeps "Draft agreed by CAT  March 2019" in its cover table.
    ema = front(pdfgen.ema_final_pdf(tmp_path / "ema.pdf"))
    assert ema.draft == "" and ema.reference == "EMA/CAT/852602/2018"
    assert ema.date == ""  # "Adopted by CAT  January 2025" is a table row, not a date line
    assert ema.title.startswith("Guideline on quality, non-clinical and clinical requirements for investigational")
    assert ema.title.endswith("medicinal products in clinical trials")
    fda = front(pdfgen.fda_final_pdf(tmp_path / "fda.pdf"))
    assert fda.draft == "" and fda.title == "Potency Assurance for Cellular and Gene Therapy Products"
    assert fda.date == "December 2023"
    hpra = front(pdfgen.regulator_pdf(tmp_path / "hpra.pdf"))
    assert hpra.draft == "" and hpra.reference == "GN-0042"
    assert hpra.title == "Nonclinical Evaluation of Cell-Based Gene Therapy Products"
    assert hpra.date == "1 March 2023"  # "Effective date: 1 March 2023"
    # A final guidance that tells its history: a wrapped sentence line starting "draft guidance …" is no title.
    history = pdfgen.plain_pdf(tmp_path / "final.pdf", [
        ["Guidance for Industry", "Potency Tests for Cellular and Gene Therapy Products",
         "This guidance finalizes the", "draft guidance of the same title dated October 2008.", "January 2011"],
        ["I. INTRODUCTION", "We recommend that you develop a potency assay early in product development."]])
    assert front(history).draft == ""


@pytest.mark.parametrize(("name", "code", "date"), [
    ("ich-q9-quality-risk-management-2005.pdf", "ICH Q9", "9 November 2005"),
    ("ich-e6-r2-gcp-2016.pdf", "ICH E6(R2)", "9 November 2016"),
    ("ich-q3c-r8-residual-solvents-2021.pdf", "ICH Q3C(R8)", "22 April 2021")])
def test_real_ich_guidelines_read_as_final_with_their_code(name: str, code: str, date: str) -> None:
    path = SHARED_PDF / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared/corpus/pdf")
    got = front(path)
    assert got.draft == ""
    # E6(R2)'s cover reads "INTEGRATED ADDENDUM TO ICH E6(R1): …" over "E6(R2)": the parent is not the code.
    assert got.reference == code
    assert got.date == date  # the catalog's "Step 4, …" date


def test_describe_completes_only_uncatalogued_documents(tmp_path: Path) -> None:
    found = FrontMatter(draft="Draft — Not for Implementation", reference="EMA/CAT/1/2024", title="Guideline on X",
                        date="18 March 2024")
    junk = uncatalogued_document(tmp_path / "gt-draft.pdf", {"title": "Microsoft Word - gt_v3.docx",
                                                             "creation_date": "2024-03-20", "author": "anonymous"})
    described = describe(junk, found)
    assert described.status is Status.draft and described.reference == "EMA/CAT/1/2024"
    assert described.version == "18 March 2024"  # the cover's date, not the file's
    assert described.issuer == ""  # reportlab's default author is nobody's name
    assert described.title == "Guideline on X"
    warning = status_warning(described)
    assert warning.startswith("Draft guideline: EMA/CAT/1/2024 was released for consultation")
    assert '"Draft — Not for Implementation"' in warning
    # A real title in the metadata stays; the file-name fallback does not.
    titled = uncatalogued_document(tmp_path / "gt-draft.pdf", {"title": "Gene therapy quality"})
    assert describe(titled, found).title == "Gene therapy quality"
    untitled = uncatalogued_document(tmp_path / "gt-draft.pdf", {})
    assert describe(untitled, found).title == "Guideline on X"
    # Without a date on the cover the file's creation day is the version, without its time of day.
    dated = uncatalogued_document(tmp_path / "gt-draft.pdf", {"creation_date": "2006-02-28T14:50:47+01:00"})
    assert describe(dated, FrontMatter()).version == "2006-02-28"
    catalogued = Document(doc_id="q9", title="Quality Risk Management", reference="ICH Q9")
    assert describe(catalogued, found) == catalogued


@pytest.mark.parametrize(("cover", "draft", "reference", "title"), [
    # ICH Step 2: the code alone under the title in capitals; "Draft version" and the consultation line.
    (["ICH HARMONISED GUIDELINE", "GOOD CLINICAL PRACTICE (GCP)", "E6(R3)", "Draft version",
      "Endorsed on 19 May 2023", "Currently under public consultation"],
     "Draft version", "ICH E6(R3)", "GOOD CLINICAL PRACTICE (GCP)"),
    # A Japanese notice in translation: a title wrapped in Title Case, then a sentence that is not title.
    (["PFSB Notification No. 0907-2", "September 7, 2012",
      "Guideline on Ensuring the Quality and Safety of Pharmaceuticals and Medical Devices",
      "Derived from the Processing of Autologous Human Somatic Stem Cells",
      "Regarding the quality and safety of pharmaceuticals and medical devices derived from the"],
     "", "PFSB Notification No. 0907-2", "Guideline on Ensuring the Quality and Safety of Pharmaceuticals and "
     "Medical Devices Derived from the Processing of Autologous Human Somatic Stem Cells"),
    # A Q&A whose kind heads the page; a WHO working document; a capitals title wrapped in capitals.
    (["Questions and answers", "Principles of GMP for the manufacturing of starting materials of biological origin",
      "used to transfer genetic material for the manufacturing of ATMPs",
      "This document has been developed by the GMP/GDP Inspectors Working Group together with"],
     "", "", "Questions and answers: Principles of GMP for the manufacturing of starting materials of biological "
     "origin used to transfer genetic material for the manufacturing of ATMPs"),
    (["Working document QAS/21.876", "May 2021", "DRAFT FOR COMMENTS",
      "NOTE FOR GUIDANCE ON STABILITY TESTING:", "STABILITY TESTING OF NEW DRUG SUBSTANCES AND PRODUCTS"],
     "DRAFT FOR COMMENTS", "QAS/21.876", "NOTE FOR GUIDANCE ON STABILITY TESTING: STABILITY TESTING OF NEW DRUG "
     "SUBSTANCES AND PRODUCTS"),
])
def test_covers_of_other_regulators(tmp_path: Path, cover: list[str], draft: str, reference: str, title: str) -> None:
    body = ["1. Introduction", "This guideline applies to cell-based products. The principles of ICH S6(R1) apply."]
    got = front(pdfgen.plain_pdf(tmp_path / "cover.pdf", [cover, body, body]))
    assert (got.draft, got.reference, got.title) == (draft, reference, title)


def test_a_body_citing_an_ich_code_gives_no_reference(tmp_path: Path) -> None:
    got = front(pdfgen.bare_numbered_pdf(tmp_path / "hc.pdf"))  # its first footnote cites "ICH S6(R1)"
    assert got.reference == "" and got.draft == ""


@pytest.mark.parametrize(("cover", "header", "superseded", "successor"), [
    # A cover sentence, wrapped over two lines, naming the successor by its reference.
    (["EMA/CAT/GTWP/671639/2008", "Guideline on the quality of gene therapy medicinal products",
      "This guideline has been", "superseded by EMA/CAT/80183/2014."],
     None, "This guideline has been superseded by EMA/CAT/80183/2014.", "EMA/CAT/80183/2014"),
    # A stamp in the running header of every page, and a successor named by title.
    (["Guidance document", "Cell therapy products: manufacture and clinical trials"],
     "SUPERSEDED", "SUPERSEDED", ""),
    (["Reflection paper on potency assays", "This document was withdrawn; see the Guideline on potency testing."],
     None, "This document was withdrawn; see the Guideline on potency testing.", "Guideline on potency testing"),
])
def test_a_superseded_pdf_says_so_and_is_cited_as_superseded(tmp_path: Path, cover: list[str], header: str | None,
                                                             superseded: str, successor: str) -> None:
    body = ["1. Introduction", "This guideline applies to cell-based products and should be read with ICH Q5A."]
    path = pdfgen.plain_pdf(tmp_path / "old.pdf", [cover, body, body, body], header=header)
    got = front(path)
    assert (got.superseded, got.successor) == (superseded, successor)
    described = describe(uncatalogued_document(path, {}), got)
    assert described.status is Status.superseded and described.superseded_by == successor
    assert status_warning(described).startswith("Superseded: ")
    assert f'the PDF reads "{superseded}"' in status_warning(described)


def test_a_guideline_that_supersedes_another_is_in_force(tmp_path: Path) -> None:
    cover = ["EMA/CAT/80183/2014", "Guideline on the quality of gene therapy medicinal products",
             "This guideline replaces the guideline EMA/CAT/GTWP/671639/2008, which is now withdrawn.",
             "Draft agreed by CAT\tJanuary 2013", "Adopted by CAT\t12 March 2014"]
    body = ["1. Introduction", "Superseded documents are listed in the annex. Withdrawn subjects are followed up."]
    got = front(pdfgen.plain_pdf(tmp_path / "new.pdf", [cover, body, body]))
    assert got.superseded == "" and got.draft == "" and got.reference == "EMA/CAT/80183/2014"


def test_cover_dates_of_other_regulators(tmp_path: Path) -> None:
    """Health Canada prints "Date adopted: 2025/04/02", Swissmedic "Valid from: 01.02.2023": the cover's date
    as printed, not the file's creation date."""
    body = ["1 Introduction", "This guidance applies to cell therapy products. Sponsors should consult it early."]
    hc = front(pdfgen.plain_pdf(tmp_path / "hc.pdf", [["Guidance Document", "Cell Therapy Products",
                                                        "Date adopted: 2025/04/02", "Effective date: 2025/10/01"],
                                                       body, body]))
    assert hc.date == "2025/04/02"
    ch = front(pdfgen.plain_pdf(tmp_path / "ch.pdf", [["Guidance document", "Authorisation of cell products",
                                                        "Identification number: ZL101_00_008e_WL",
                                                        "Valid from: 01.02.2023"], body, body]))
    assert ch.date == "01.02.2023"
    # GOV.UK prints "Updated 6 May 2021" under the title; an old EMEA cover "London, 30 May 2008".
    uk = front(pdfgen.plain_pdf(tmp_path / "uk.pdf", [["Guidance", "Guidance on the licensing of biosimilar products",
                                                        "Updated 6 May 2021"], body, body]))
    assert uk.date == "6 May 2021"
    emea = front(pdfgen.plain_pdf(tmp_path / "emea.pdf", [["European Medicines Agency", "London, 30 May 2008",
                                                            "Doc. Ref. EMEA/CHMP/GTWP/125491/2006"], body, body]))
    assert emea.date == "30 May 2008" and emea.reference == "EMEA/CHMP/GTWP/125491/2006"
    # The Paul-Ehrlich-Institut prints the month of the text's state, "Status: 03/2025" ("Stand" in German),
    # above the state of the version it replaces.
    pei = front(pdfgen.plain_pdf(tmp_path / "pei.pdf", [["Paul-Ehrlich-Institut", "Questions and Answers on ATMPs",
                                                          "Document No. PEI-KLI-QA-017", "Version 3.1",
                                                          "Status: 03/2025", "Replaces v3.0, Status: 09/2023"],
                                                         body, body]))
    assert pei.date == "03/2025"


def test_a_numbered_guide_with_a_day_first_date(tmp_path: Path) -> None:
    """ANVISA heads every page "Guide No. 47/2025 – version 1" and prints "Published: 14/08/2025" on the cover:
    the act and its number are the reference (the number alone names nothing), the date is kept as printed and
    read day first; a resolution the body cites ("RDC No. 945/2024") is not the document's reference."""
    cover = ["Brazilian Health Regulatory Agency", "Guide on Clinical Trials of Gene Therapy Products",
             "Published: 14/08/2025"]
    body = ["I. INTRODUCTION", "Art. 1. This Guide complements RDC No. 945/2024 on clinical trials.",
            "Art. 2. Sponsors should address vector persistence in a proportionate manner."]
    got = front(pdfgen.plain_pdf(tmp_path / "anvisa.pdf", [cover, body, body],
                                 header="Guide No. 47/2025 \u2013 version 1"))
    assert (got.reference, got.date) == ("Guide No. 47/2025", "14/08/2025")
    assert parse_date(got.date) == (2025, 8, 14)


def test_a_chinese_announcement_in_translation(tmp_path: Path) -> None:
    """NMPA/CDE covers: "Announcement No. 12 of 2024" is the reference and "Issued on: 2024-06-05" the date."""
    cover = ["Center for Drug Evaluation, NMPA", "Announcement No. 12 of 2024",
             "Technical Guideline for Non-clinical Research of CAR-T Products (Trial)", "Issued on: 2024-06-05",
             "(Translated for reference; the Chinese text prevails)"]
    body = ["I. Overview", "This guideline sets out the current thinking of the Center on non-clinical studies.",
            "Applicants may adopt alternative approaches where they are scientifically justified."]
    got = front(pdfgen.plain_pdf(tmp_path / "nmpa.pdf", [cover, body, body], label="\u2014 {n} \u2014"))
    assert (got.reference, got.date) == ("Announcement No. 12 of 2024", "2024-06-05")


def test_a_consultation_paper_with_notices_and_a_version_history_page(tmp_path: Path) -> None:
    """TGA: "Consultation paper" over the title and "Version 0.3, March 2024" on the cover (a draft, dated by
    its version line); page 2 holds the copyright and confidentiality notices over a "Version history" table,
    and is front matter, never quoted."""
    cover = ["Consultation paper", "Proposed refinements to the regulation of biologicals",
             "Version 0.3, March 2024"]
    notices = ["Copyright", "This work is copyright. You may reproduce the whole or part of this work in unaltered",
               "form for your own personal use. All other rights are reserved.", "Confidentiality",
               "All submissions received will be placed on the Internet site, unless marked confidential.",
               "Version history", "Version\tDescription of change\tEffective date",
               "V0.1\tInternal draft for discussion\tNovember 2023", "V0.3\tReleased for consultation\tMarch 2024"]
    body = ["About this consultation", "We propose that sentinel dosing be required for all first-in-human trials.",
            "Sponsors should justify the starting dose on the basis of all available nonclinical data."]
    path = pdfgen.plain_pdf(tmp_path / "tga.pdf", [cover, notices, body, body])
    pages, furniture = extract_document(path, "tga")
    got = read_front_matter(pages, furniture)
    assert (got.draft, got.date) == ("Consultation paper", "March 2024")
    assert got.title == "Proposed refinements to the regulation of biologicals"
    assert [p.kind.value for p in pages[:3]] == ["title", "history", "content"]


def test_a_commission_document_is_cited_by_its_commission_reference(tmp_path: Path) -> None:
    cover = ["EUROPEAN COMMISSION", "Brussels, 22.11.2017", "C(2017) 7694 final",
             "Guidelines on Good Manufacturing Practice specific to Advanced Therapy Medicinal Products"]
    body = ["1. Introduction", "These guidelines apply to the manufacture of advanced therapy medicinal products."]
    got = front(pdfgen.plain_pdf(tmp_path / "ec.pdf", [cover, body, body]))
    assert got.reference == "C(2017) 7694 final" and got.draft == ""
    assert got.title == "Guidelines on Good Manufacturing Practice specific to Advanced Therapy Medicinal Products"


def test_a_swissmedic_header_line_and_an_hpra_code_alone(tmp_path: Path) -> None:
    """Swissmedic prints "Identification number: … Version 2.0 Valid from: 01.03.2024" as one header line (the
    date inside it); HPRA prints its code "IA-G0077-2" alone on the cover and before the page number."""
    body = ["1 Introduction", "This guidance applies to cell therapy products. Sponsors should consult it early."]
    ch = front(pdfgen.plain_pdf(tmp_path / "ch.pdf", [body, body, body],
                                header="Identification number: ZL000_00_042e_WL Version 2.0 Valid from: 01.03.2024"))
    assert (ch.reference, ch.date) == ("ZL000_00_042e_WL", "01.03.2024")
    ie = front(pdfgen.plain_pdf(tmp_path / "ie.pdf", [["Health Products Regulatory Authority",
                                                        "Guide to the Hospital Exemption for ATMPs", "IA-G0077-2",
                                                        "Date: 12 May 2023"], body, body]))
    assert (ie.reference, ie.date) == ("IA-G0077-2", "12 May 2023")


def test_an_eu_regulation_is_cited_by_its_official_journal_title(tmp_path: Path) -> None:
    """An Official Journal print: the act's title line in capitals gives the title and the reference, not the
    "THE EUROPEAN PARLIAMENT AND THE COUNCIL …," formula under it nor the regulation it amends."""
    cover = ["I", "(Legislative acts)", "REGULATIONS",
             "REGULATION (EU) 2026/1187 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL", "of 14 May 2026",
             "amending Regulation (EC) No 1394/2007 on advanced therapy medicinal products",
             "THE EUROPEAN PARLIAMENT AND THE COUNCIL OF THE EUROPEAN UNION,",
             "Having regard to the Treaty on the Functioning of the European Union, and in particular Article 114,",
             "Whereas:"]
    body = ["Article 1", "Subject matter",
            "This Regulation lays down specific rules concerning advanced therapy medicinal products."]
    got = front(pdfgen.plain_pdf(tmp_path / "oj.pdf", [cover, body, body]))
    assert got.reference == "Regulation (EU) 2026/1187"
    assert got.title == "REGULATION (EU) 2026/1187 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL"
