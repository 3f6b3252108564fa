"""An uncatalogued PDF is cited as what its front matter says it is: a draft, its reference, its title."""

from __future__ import annotations

from pathlib import Path

import pytest

from atmp_rag.cite import status_warning
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
    assert ema.title.startswith("Guideline on quality, non-clinical and clinical requirements for investigational")
    assert ema.title.endswith("medicinal products in clinical trials")
    fda = front(pdfgen.fda_final_pdf(tmp_path / "fda.pdf"))
    assert fda.draft == "" and fda.title == "Potency Assurance for Cellular and Gene Therapy Products"
    hpra = front(pdfgen.regulator_pdf(tmp_path / "hpra.pdf"))
    assert hpra.draft == "" and hpra.reference == "GN-0042"
    assert hpra.title == "Nonclinical Evaluation of Cell-Based Gene Therapy Products"
    # A final guidance that tells its history: a wrapped sentence line starting "draft guidance …" is no title.
    history = pdfgen.plain_pdf(tmp_path / "final.pdf", [
        ["Guidance for Industry", "Potency Tests for Cellular and Gene Therapy Products",
         "This guidance finalizes the", "draft guidance of the same title dated October 2008.", "January 2011"],
        ["I. INTRODUCTION", "We recommend that you develop a potency assay early in product development."]])
    assert front(history).draft == ""


@pytest.mark.parametrize("name", ["ich-q9-quality-risk-management-2005.pdf", "ich-e6-r2-gcp-2016.pdf",
                                  "ich-q3c-r8-residual-solvents-2021.pdf"])
def test_real_ich_guidelines_read_as_final(name: str) -> None:
    path = SHARED_PDF / name
    if not path.exists():
        pytest.fail(f"{path} is missing: the tests need ../shared/corpus/pdf")
    got = front(path)
    assert got.draft == ""
    assert got.reference == ""  # ICH codes are the catalog's business; none is invented


def test_describe_completes_only_uncatalogued_documents(tmp_path: Path) -> None:
    found = FrontMatter(draft="Draft — Not for Implementation", reference="EMA/CAT/1/2024", title="Guideline on X")
    junk = uncatalogued_document(tmp_path / "gt-draft.pdf", {"title": "Microsoft Word - gt_v3.docx"})
    described = describe(junk, found)
    assert described.status is Status.draft and described.reference == "EMA/CAT/1/2024"
    assert described.title == "Guideline on X"
    warning = status_warning(described)
    assert warning.startswith("Draft guideline: EMA/CAT/1/2024 was released for consultation")
    assert '"Draft — Not for Implementation"' in warning
    # A real title in the metadata stays; the file-name fallback does not.
    titled = uncatalogued_document(tmp_path / "gt-draft.pdf", {"title": "Gene therapy quality"})
    assert describe(titled, found).title == "Gene therapy quality"
    untitled = uncatalogued_document(tmp_path / "gt-draft.pdf", {})
    assert describe(untitled, found).title == "Guideline on X"
    catalogued = Document(doc_id="q9", title="Quality Risk Management", reference="ICH Q9")
    assert describe(catalogued, found) == catalogued
