"""PDF extraction: cleaning steps one by one, bad inputs, generated EMA-like drafts and real ICH PDFs."""

from __future__ import annotations

from pathlib import Path

import pytest

from atmp_rag.extract import (
    ExtractionError,
    Vocabulary,
    clean_pages,
    collapse_blank_lines,
    extract_pages,
    find_page_numbers,
    find_running_lines,
    get_backend,
    is_toc_page,
    join_hyphenation,
    normalize_text,
    normalize_whitespace,
    pdf_metadata,
    remove_line_numbers,
    strip_furniture,
)
from atmp_rag.models import Page
from tests import pdfgen
from tests.conftest import SHARED_PDF, real_pdf

Q9 = "ich-q9-quality-risk-management-2005.pdf"
E6 = "ich-e6-r2-gcp-2016.pdf"


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[Page]]:
    """Every real corpus PDF extracted once with the default backend (speed is measured in bench/extract.py)."""
    real_pdf(Q9)  # fails clearly when the corpus is missing
    out = {p.stem: extract_pages(p, p.stem) for p in sorted(SHARED_PDF.glob("*.pdf"))}
    assert len(out) >= 10
    return out


# ------------------------------------------------------------------------------ cleaning steps


def test_normalize_text_ligatures_soft_hyphens_and_line_ends() -> None:
    assert normalize_text("ﬁnal ﬂow\r\nnext") == "final flow\nnext"
    assert normalize_text("bio\u00adtech") == "biotech"
    # A soft hyphen at a line end marks a typesetter's break: the halves are joined.
    assert normalize_text("biotech\u00ad\nnological") == "biotechnological"
    # PDFium's end-of-line hyphen marker becomes a real hyphen and line break again.
    assert normalize_text("decision\ufffemaking here") == "decision-\nmaking here"
    assert normalize_text("\uf0b7 item\u00a0one") == "• item one"


def test_normalize_text_joins_the_breaks_around_raised_markers_and_keeps_the_micro_sign() -> None:
    # A footnote's marker alone on its line; a raised digit before the full stop; µ is not NFKC's Greek mu.
    assert normalize_text("⁴\r\nIntegrating vectors include") == "⁴ Integrating vectors include"
    assert normalize_text("negative²\r\n. Next") == "negative². Next"
    assert normalize_text("5 µg/m³ and ﬁve") == "5 µg/m³ and five"


def test_normalize_whitespace_trims_and_shortens_leaders() -> None:
    assert normalize_whitespace("  a   b  \nc\t \n") == "a b\nc\n"
    assert normalize_whitespace("1. SCOPE ............................ 2") == "1. SCOPE ... 2"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("used for biotech-\nnological products", "used for biotechnological\nproducts"),
        ("a well-\nknown approach. The known issue", "a well-known\napproach. The known issue"),
        ("decision-\nmaking is hard. Making sense", "decision-making\nis hard. Making sense"),
        # the hyphenated form elsewhere in the text wins
        ("a risk-\nbased plan; a risk-based view", "a risk-based\nplan; a risk-based view"),
        # the joined form elsewhere in the text wins
        ("quality manage-\nment and management", "quality management\nand management"),
        # a known prefix makes a compound even when the second half is unknown
        ("in pre-\nfilled syringes", "in pre-filled\nsyringes"),
        # no lowercase continuation: nothing to join
        ("see ICH-\nQ9 text", "see ICH-\nQ9 text"),
        ("dash -\nnext", "dash -\nnext"),
        # the continuation word alone on its line: the line disappears
        ("biotech-\nnological\nnext", "biotechnological\nnext"),
    ],
)
def test_join_hyphenation(text: str, expected: str) -> None:
    assert join_hyphenation(text) == expected


def test_join_hyphenation_uses_document_vocabulary() -> None:
    vocab = Vocabulary.from_texts(["The investigator signs.", "nothing else"])
    assert join_hyphenation("the investi-\ngator", vocab) == "the investigator"
    # the broken halves do not vouch for themselves
    assert "gator" not in Vocabulary.from_texts(["the investi-\ngator"]).words


def test_remove_line_numbers_prefixed_and_bare() -> None:
    prefixed = ["EMA/CAT/1/2024", *[f"{n} line {n} of text" for n in range(41, 49)]]
    assert remove_line_numbers(prefixed) == ["EMA/CAT/1/2024", *[f"line {n} of text" for n in range(41, 49)]]
    bare = []
    for n in range(1, 7):
        bare += [str(n), f"text {n}"]
    assert remove_line_numbers(bare) == [f"text {n}" for n in range(1, 7)]


def test_remove_line_numbers_keeps_lists_and_tables() -> None:
    numbered_list = ["Questions:", "1. What might go wrong?", "2. How likely?", "3. How bad?"]
    assert remove_line_numbers(numbered_list) == numbered_list
    # a short run among many text lines is content, not a margin
    table = [f"Body line {i} without numbers" for i in range(20)] + [f"{n} mg dose" for n in range(1, 6)]
    assert remove_line_numbers(table) == table


_WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]


def _body(i: int) -> list[str]:
    """Six body lines that differ from page to page even with digits folded."""
    return [f"{_WORDS[(i + k) % 12]} {_WORDS[(2 * i + k) % 12]} {_WORDS[(3 * i + 5 * k) % 12]} {k}."
            for k in range(6)]


def _doc(n: int) -> list[list[str]]:
    """Pages with a running header, a printed number under it, and body lines that never repeat."""
    first = ["QUALITY RISK MANAGEMENT", "1. INTRODUCTION", *_body(0)]
    return [first] + [["Quality Risk Management", str(i), *_body(i)] for i in range(1, n)]


def test_running_headers_and_page_numbers_are_stripped() -> None:
    pages = _doc(8)
    running = find_running_lines(pages)
    assert running == {"Quality Risk Management"}
    numbers = find_page_numbers(pages)
    assert [n.label if n else None for n in numbers][1:4] == ["1", "2", "3"]
    cleaned = [strip_furniture(lines, running, num) for lines, num in zip(pages, numbers, strict=True)]
    assert cleaned[3] == pages[3][2:]
    # the title in capitals on the first page is not the running header in title case
    assert cleaned[0][0] == "QUALITY RISK MANAGEMENT"


def test_lone_number_without_neighbours_is_not_a_page_number() -> None:
    pages = [["Table 1", "Heading", "value", "25"], ["Other text", "more", "end", "text"]]
    assert find_page_numbers(pages) == [None, None]


def test_headers_that_differ_per_part_are_found() -> None:
    pages = [["PDE for Cumene" if i < 5 else "PDE for Triethylamine", *_body(i)] for i in range(10)]
    assert find_running_lines(pages) == {"PDE for Cumene", "PDE for Triethylamine"}


def test_collapse_blank_lines() -> None:
    assert collapse_blank_lines("\n\na\n\n\n\nb\n\n") == "a\n\nb"


def test_is_toc_page() -> None:
    toc = "TABLE OF CONTENTS\n1. INTRODUCTION ... 1\n2. SCOPE ... 2\n3. PRINCIPLES ... 2\n4. PROCESS ... 3"
    assert is_toc_page(toc)
    form = "- Signature Page (optional) ...\n1 Table of Contents ...\n2 Summary ...\n3 Introduction ..."
    assert not is_toc_page(form)  # leaders without page numbers: a template, not a TOC
    assert not is_toc_page("1. INTRODUCTION\nSome text.\nMore text about 3 things.")
    assert is_toc_page("PART VI ... 28\nPDE for 2-MTHF 35", previous_is_toc=True)
    leaderless = "Contents\nExecutive summary 3\n1. Introduction 3\n2. Scope 4\n2.1. Definitions 4\n3. Legal basis 6"
    assert is_toc_page(leaderless)
    assert not is_toc_page(leaderless.replace("Contents\n", ""))  # without its title: could be a table
    assert not is_toc_page(leaderless.replace("Legal basis 6", "Legal basis 2"))  # page numbers going back
    solvents = "Contents\nAcetonitrile 410\nChlorobenzene 360\nChloroform 60\nCumene 70\nCyclohexane 3880"
    assert not is_toc_page(solvents)  # values of a table, not page numbers that never go back


# ------------------------------------------------------------------------------ generated PDFs


@pytest.mark.parametrize("backend", ["pypdfium2", "pypdf"])
def test_ema_like_draft_is_cleaned(tmp_path: Path, backend: str) -> None:
    pages = extract_pages(pdfgen.ema_like_pdf(tmp_path / "ema.pdf"), "ema", backend=backend)
    assert [p.number for p in pages] == [1, 2, 3]
    assert [p.label for p in pages] == ["1", "2", "3"]  # from the "Page N/M" footer
    text = "\n".join(p.text for p in pages)
    assert pdfgen.EMA_REFERENCE not in text
    assert "Page 1/3" not in text and "Page 2/3" not in text
    lines = [line for line in text.split("\n") if line.strip()]
    assert lines[0] == "1. Introduction"
    assert not any(line.split()[0].isdigit() and not line.split()[0].endswith(".") for line in lines)
    assert "biotechnological" in text and "biotech-" not in text
    assert "well-known" in text
    assert "risk-based approach" in text
    assert pages[1].text.startswith("3. Legal basis")
    assert not any(p.is_toc for p in pages)


@pytest.mark.parametrize("backend", ["pypdfium2", "pypdf"])
def test_pdf_page_labels_win_when_informative(tmp_path: Path, backend: str) -> None:
    from pypdf import PdfReader, PdfWriter

    plain = pdfgen.plain_pdf(tmp_path / "plain.pdf", [[f"{w} text."] for w in _WORDS[:4]], first_number=5)
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.set_page_label(0, 1, style="/r")
    writer.set_page_label(2, 3, style="/D", prefix="A-", start=1)
    labelled = tmp_path / "labelled.pdf"
    with labelled.open("wb") as handle:
        writer.write(handle)
    assert [p.label for p in extract_pages(labelled, "l", backend=backend)] == ["i", "ii", "A-1", "A-2"]
    # without labels, the printed numbers at the foot of the pages are used
    pages = extract_pages(plain, "p", backend=backend)
    assert [p.label for p in pages] == ["5", "6", "7", "8"]
    assert [p.text for p in pages] == [f"{w} text." for w in _WORDS[:4]]


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = pdfgen.encrypted_pdf(tmp_path / "locked.pdf")
    for backend in ("pypdfium2", "pypdf"):
        with pytest.raises(ExtractionError) as info:
            extract_pages(path, "locked", backend=backend)
        assert "encrypted" in info.value.reason
    with pytest.raises(ExtractionError, match="encrypted"):
        pdf_metadata(path)


def test_truncated_pdf(tmp_path: Path) -> None:
    for path in (pdfgen.truncated_pdf(tmp_path / "cut.pdf"), pdfgen.corrupt_pdf(tmp_path / "cut2.pdf", real_pdf(Q9))):
        with pytest.raises(ExtractionError) as info:
            extract_pages(path, "cut")
        assert "corrupt or truncated" in info.value.reason


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "notes.pdf"
    path.write_text("just text")
    with pytest.raises(ExtractionError, match="corrupt or truncated"):
        extract_pages(path, "notes")


def test_zero_page_pdf(tmp_path: Path) -> None:
    path = pdfgen.zero_page_pdf(tmp_path / "empty.pdf")
    # an encrypted file first: PDFium's stale "last error" must not leak into the next diagnosis
    with pytest.raises(ExtractionError, match="encrypted"):
        extract_pages(pdfgen.encrypted_pdf(tmp_path / "locked.pdf"), "locked")
    for backend in ("pypdfium2", "pypdf"):
        with pytest.raises(ExtractionError) as info:
            extract_pages(path, "empty", backend=backend)
        assert "no pages" in info.value.reason


def test_image_only_pdf(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError) as info:
        extract_pages(pdfgen.image_only_pdf(tmp_path / "scan.pdf"), "scan")
    assert info.value.reason == "no text layer (image-only PDF, needs OCR)"


def test_page_over_the_character_limit(tmp_path: Path) -> None:
    path = pdfgen.huge_page_pdf(tmp_path / "huge.pdf")
    with pytest.raises(ExtractionError) as info:
        extract_pages(path, "huge")
    assert info.value.reason.startswith("page 1 has ")
    assert "over the limit" in info.value.reason
    small = pdfgen.ema_like_pdf(tmp_path / "ema.pdf")
    with pytest.raises(ExtractionError, match=r"page 1 has \d+ characters, over the limit of 200"):
        extract_pages(small, "ema", max_page_chars=200)


def test_unknown_backend() -> None:
    with pytest.raises(ValueError, match="pypdfium2"):
        get_backend("tesseract")


def test_pdf_metadata(tmp_path: Path) -> None:
    meta = pdf_metadata(pdfgen.ema_like_pdf(tmp_path / "ema.pdf"))
    assert meta["title"] == "Guideline on quality of ATMPs"
    assert meta["author"] == "Committee for Advanced Therapies"
    assert meta["subject"] == "Quality guideline draft"
    assert meta["creation_date"][:4].isdigit() and meta["creation_date"][4] == "-"
    assert pdf_metadata(real_pdf(Q9))["creation_date"] == "2006-02-28T14:50:47+01:00"


# ------------------------------------------------------------------------------ real PDFs


def test_q9_heading_page_and_running_header(corpus: dict[str, list[Page]]) -> None:
    from atmp_rag.chunking import detect_heading

    q9 = corpus[Q9[:-4]]
    assert len(q9) == 23
    page6 = q9[5]
    assert page6.number == 6 and page6.label == "2"  # printed page 2
    heading_lines = [line for line in page6.text.split("\n") if line.startswith("4. GENERAL")]
    assert heading_lines == ["4. GENERAL QUALITY RISK MANAGEMENT PROCESS"]
    heading = detect_heading(heading_lines[0])
    assert heading is not None and heading.number == "4" and heading.level == 1
    for page in q9:
        assert "Quality Risk Management" not in page.text.split("\n"), page.number
    # the printed page number is gone from the top of page 7 ("Quality Risk Management" / "3")
    assert q9[6].text.startswith("Decision nodes")


def test_real_toc_pages_are_flagged(corpus: dict[str, list[Page]]) -> None:
    assert [p.number for p in corpus[Q9[:-4]] if p.is_toc] == [3, 4]
    assert [p.number for p in corpus[E6[:-4]] if p.is_toc] == [3, 4, 5]
    # E6 7.5 prints an example TOC of an Investigator's Brochure (no page numbers): content, not a TOC
    assert "TABLE OF CONTENTS OF INVESTIGATOR'S BROCHURE" in corpus[E6[:-4]][49].text
    assert [p.number for p in corpus["ich-q3c-r8-residual-solvents-2021"] if p.is_toc] == [5, 6]


def test_real_front_matter_pages_are_classified(corpus: dict[str, list[Page]]) -> None:
    for doc_id, pages in corpus.items():
        assert pages[0].kind == "title", doc_id
        assert pages[1].kind == "history", doc_id
    q3c = corpus["ich-q3c-r8-residual-solvents-2021"]
    assert [p.kind.value for p in q3c[:4]] == ["title", "history", "history", "history"]
    # the Q1A cover note on page 3 is content: it states what changed
    assert corpus["ich-q1a-r2-stability-2003"][2].kind == "content"


@pytest.mark.parametrize("labels", ["dash", "of"])
def test_unseen_regulator_layout_pages(tmp_path: Path, labels: str) -> None:
    from tests.pdfgen import regulator_pdf

    pages = extract_pages(regulator_pdf(tmp_path / "reg.pdf", labels=labels), "reg")
    assert [p.kind.value for p in pages] == ["title", "history", "content", "content", "content", "contact"]
    assert [p.label for p in pages[2:]] == ["1", "2", "3", "4"]  # "- 1 -" or "Page 1 of 4" printed
    assert not any("HPRA GN-0042" in p.text for p in pages)  # the running header is gone


def test_page_numbers_inside_alternating_running_headers(tmp_path: Path) -> None:
    """WHO TRS style: "94 WHO Technical Report Series …" on even pages, "Annex 3 95" on odd pages (only
    three of them): the printed numbers 93–99 are the labels and both headers are stripped."""
    pages = extract_pages(pdfgen.who_annex_pdf(tmp_path / "who.pdf"), "who")
    assert [p.label for p in pages] == ["93", "94", "95", "96", "97", "98", "99"]
    assert not any("Technical Report Series" in p.text or "Annex 3 9" in p.text for p in pages)
    assert pages[0].text.startswith("Annex 3\nWHO guidelines")  # the annex's own title is content


def test_real_labels_follow_printed_numbers(corpus: dict[str, list[Page]]) -> None:
    e6 = corpus[E6[:-4]]
    assert [p.label for p in e6[2:5]] == ["i", "ii", "iii"]
    assert e6[6].label == "1" and e6[65].label == "60"
    # a page whose number is glued to a formula line gets it from its neighbours
    q3c = corpus["ich-q3c-r8-residual-solvents-2021"]
    assert q3c[31].label == "26"


def test_real_corpus_is_clean(corpus: dict[str, list[Page]]) -> None:
    for doc_id, pages in corpus.items():
        for page in pages:
            assert "\r" not in page.text and "\u00ad" not in page.text and "\ufffe" not in page.text
            assert "\n\n\n" not in page.text
            assert all(line == line.strip() for line in page.text.split("\n")), (doc_id, page.number)
            assert "ﬁ" not in page.text and "ﬂ" not in page.text
    e6_text = "\n".join(p.text for p in corpus[E6[:-4]])
    assert "Integrated Addendum to ICH E6(R1): Guideline for Good Clinical Practice" not in e6_text
    assert "Integrated Addendum to E6(R1): Guideline for Good Clinical Practice" not in e6_text
    assert "decision-making" in "\n".join(p.text for p in corpus[Q9[:-4]])


def test_raised_digits_are_superscripts_on_real_pages(corpus: dict[str, list[Page]]) -> None:
    """Footnote markers and exponents keep their raise: a LOEL with footnote 13 is no "LOEL13", a
    concentration in mg/m³ no "mg/m3"; lowered (subscript) digits of a formula stay plain."""
    q3c = "\n".join(p.text for p in corpus["ich-q3c-r8-residual-solvents-2021"])
    assert "LOEL¹³ = 450 ppm" in q3c and "LOEL13" not in q3c
    assert "Cumene¹ 0.7 70" in q3c and "Cumene1 " not in q3c
    assert "mg/m³" in q3c and "day⁻¹" in q3c
    assert "HOCH2CH2OH" in q3c
    q8 = "\n".join(p.text for p in corpus["ich-q8-r2-pharmaceutical-development-2009"])
    assert "quality by design¹ (QbD)" in q8


def test_small_digits_beside_text_are_superscripts_only_when_raised(tmp_path: Path) -> None:
    """A smaller digit on the baseline (a table cell), a small raised digit far from any text, and one a line
    above the next line stay plain; same-size raised digits too (no size difference to go by)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = tmp_path / "digits.pdf"
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica", 10)
    c.drawString(72, 700, "Batch size")
    c.setFont("Helvetica", 6)
    c.drawString(72 + c.stringWidth("Batch size ", "Helvetica", 10), 700, "42")  # small, on the baseline
    c.drawString(300, 704, "7")  # raised, but nothing beside it
    c.drawString(72, 668, "9")  # small digit one line above the next line
    c.setFont("Helvetica", 10)
    c.drawString(72, 656, "Storage temperature")
    c.drawString(72, 640, "Volume 5")
    c.drawString(72 + c.stringWidth("Volume 5", "Helvetica", 10) + 0.5, 644, "3")  # same size, raised
    c.setFont("Helvetica", 10)
    c.drawString(72, 620, "Titre of 10")
    c.setFont("Helvetica", 6)
    c.drawString(72 + c.stringWidth("Titre of 10", "Helvetica", 10) + 0.3, 624, "8")
    c.save()
    text = extract_pages(path, "digits")[0].text
    assert "Batch size 42" in text and "Volume 5" in text
    assert "Titre of 10⁸" in text
    assert not any(ch in text.replace("10⁸", "") for ch in "⁰¹²³⁴⁵⁶⁷⁸⁹")


def test_pypdf_backend_on_a_real_pdf() -> None:
    pages = extract_pages(real_pdf(Q9), "q9", backend="pypdf")
    assert len(pages) == 23
    assert "4. GENERAL QUALITY RISK MANAGEMENT PROCESS" in pages[5].text.split("\n")
    assert [p.number for p in pages if p.is_toc] == [3, 4]


def test_two_column_page_written_across_columns_is_read_column_by_column(tmp_path: Path) -> None:
    """An OJ-style page drawn line by line across both columns: without column detection its lines
    would read "… specific rules concerning the Where an advanced therapy medicinal product …"."""
    from tests.pdfgen import two_column_pdf

    pages = extract_pages(two_column_pdf(tmp_path / "oj.pdf"), "oj")
    flat = " ".join(pages[0].text.split())
    assert "This Regulation lays down specific rules concerning the authorisation, supervision" in flat
    assert "Where an advanced therapy medicinal product contains human cells or tissues" in flat
    assert flat.index("Article 2 Definitions") < flat.index("Article 3 Donation")
    assert "Official Journal of the European Union" in flat  # the full-width header line stays whole


def test_a_column_that_runs_into_the_footer_band_keeps_its_last_lines(tmp_path: Path) -> None:
    """The left column of an OJ page set down to 6 % of the page height: its last lines are the column's
    end, not a footer read after the right column; and the soft hyphen PDFium reports as U+0002 in text
    read from a rectangle joins its word ("recom-" / "mendation")."""
    from tests.pdfgen import two_column_pdf

    pages = extract_pages(two_column_pdf(tmp_path / "oj.pdf", footer="Page", full=True), "oj")
    flat = " ".join(pages[0].text.split())
    assert "summary of the recommendation within 15 days" in flat
    assert "\x02" not in pages[0].text
    assert flat.index("kept for a minimum of 30 years.") < flat.index("Article 3 Donation")


def test_a_running_footer_across_both_columns_stays_whole_and_is_furniture(tmp_path: Path) -> None:
    """A TGA-style footer drawn across the middle of a two-column page: cut at the middle, its halves were
    glued to the last line of each column ("… concerning the TGA consultation: Regulation of bio")."""
    from tests.pdfgen import two_column_pdf

    footer = "TGA consultation: Regulation of biologicals and first-in-human trials | V0.3 March 2024"
    pages = extract_pages(two_column_pdf(tmp_path / "tga.pdf", pages=3, footer=footer), "tga")
    for page in pages:
        assert "TGA consultation" not in page.text and "V0.3" not in page.text  # whole, so taken off as furniture
        flat = " ".join(page.text.split())
        assert "Where an advanced therapy medicinal product contains human cells or tissues" in flat


def test_a_header_and_footer_in_two_parts_are_furniture_of_a_two_column_page(tmp_path: Path) -> None:
    """HSA-style: the header and footer are printed in a left and a right part that leave the middle free.
    Read with the columns, the left parts ended the left column's text, mid-page, where no running-line
    check looks ("… received by HSA to date. HEALTH SCIENCES AUTHORITY HPRG-CTGTP-GD-004 | Version 2.0 …")."""
    from tests.pdfgen import two_column_pdf

    halves = ("HEALTH SCIENCES AUTHORITY", "GUIDANCE ON RELEASE TESTING", "HPRG-CTGTP-GD-004 | Version 2.0")
    pages = extract_pages(two_column_pdf(tmp_path / "hsa.pdf", pages=3, halves=halves), "hsa")
    for page in pages:
        assert not any(part in page.text for part in halves)
        flat = " ".join(page.text.split())
        assert "This Regulation lays down specific rules concerning the authorisation, supervision" in flat
        assert "Where an advanced therapy medicinal product contains human cells or tissues" in flat


def test_a_table_with_an_empty_middle_is_not_split_into_columns(tmp_path: Path) -> None:
    """Short cells either side of an empty middle: a table, not two columns of running text."""
    from tests.pdfgen import plain_pdf

    rows = [f"Solvent {i}{' ' * 60}{i * 10} ppm" for i in range(1, 15)]
    pages = extract_pages(plain_pdf(tmp_path / "table.pdf", [rows]), "table")
    assert "Solvent 1 10 ppm" in " ".join(pages[0].text.split())


def test_a_contents_list_followed_by_the_first_section_leaves_a_content_page(tmp_path: Path) -> None:
    """Swissmedic: the title, "Table of contents" (no leader dots) and section 1 with its text on page 1.
    Classed a contents page, the page and its first section were lost; the list itself is no text."""
    from tests.pdfgen import plain_pdf

    entries = [f"{n} {t} {p}" for n, t, p in [("1", "Terms, definitions, abbreviations", 1), ("1.1", "Terms", 1),
                                               ("2", "Introduction", 2), ("2.1", "Objective", 2),
                                               ("3", "Starting materials", 3), ("4", "Manufacturing", 4)]]
    first = ["Authorisation of cell therapy products", "Table of contents", *entries,
             "1 Terms, definitions, abbreviations", "1.1 Terms",
             "In this guidance document, cell therapy products are medicinal products that contain viable human",
             "cells which have been substantially manipulated. Products consisting of genetically modified cells",
             "are also cell therapy products within the meaning of this document. The starting material is the",
             "tissue or the cells removed from the donor, together with the transport medium in which they come."]
    body = ["2 Introduction", "This guidance explains what Swissmedic expects in an application for authorisation."]
    pages = extract_pages(plain_pdf(tmp_path / "ch.pdf", [first, body, body]), "ch")
    assert pages[0].kind.value == "content"
    assert "Table of contents" not in pages[0].text and "Starting materials 3" not in pages[0].text
    assert "In this guidance document, cell therapy products" in pages[0].text


def test_a_line_number_margin_goes_on_over_a_page_of_unnumbered_table_lines() -> None:
    """EMA template: the margin numbers every text line but not a figure's labels or a table's cells. On a page
    mostly of those, the margin covers too few lines to count alone; going on from the page before (120 after
    119), it is still the margin and comes off ("122 syringe or a catheter …" was quoted with its number)."""
    first = "\n".join(f"{n} The applicant should describe the product and its manufacture in line {n}." for n in
                      range(100, 120))
    cells = [f"Cell text {k} of the decision tree" for k in range(14)]
    second = "\n".join([f"{n} A device that is only co-packaged with the product is not part of it." for n in
                        range(120, 126)] + cells)
    texts = clean_pages([first, second]).texts
    assert texts[1].startswith("A device that is only co-packaged")
    assert "122 " not in texts[1]
    # alone (no page before it), such a page keeps its numbers: a numbered list or table rows look alike
    assert clean_pages([second]).texts[0].startswith("120 A device")


def test_a_q_and_a_table_with_an_empty_strip_between_its_columns_is_not_two_columns(tmp_path: Path) -> None:
    """An ICH Q&A table ("Questions" | "Answers") leaves the middle of the page empty and both sides read as
    running text, like two columns; but beside every answer longer than its question the question side is
    empty. Read as two columns, every question of the page came before every answer."""
    from tests.pdfgen import qa_table_pdf

    flat = " ".join(extract_pages(qa_table_pdf(tmp_path / "qa.pdf"), "qa")[0].text.split())
    assert flat.index("interference of the vector.") < flat.index("Can next generation sequencing")
    assert flat.index("in the marketing application.") < flat.index("Is viral testing of each plasmid")


def test_a_table_whose_cells_wrap_is_read_row_by_row(tmp_path: Path) -> None:
    """A table drawn cell by cell whose cells wrap (FDA and WHO layouts): each row is one line, its cells left to
    right with their wrapped lines joined, so "AAV vector expressing a" and "therapeutic enzyme" stay with their
    row (PDFium's text read down one cell, then down the next); the line-number margin beside the table goes, and
    the paragraphs around it are untouched."""
    from atmp_rag.extract import extract_pages

    page = extract_pages(pdfgen.wrapped_table_pdf(tmp_path / "t.pdf"), "t")[1]
    lines = page.text.splitlines()
    assert ("AAV vector expressing a therapeutic enzyme Expression of a functional enzyme in the target tissue "
            "Transduction of a permissive cell line followed by measurement of enzyme activity in cell lysates"
            ) in lines
    assert ("Autologous CAR T cells Antigen-specific killing of tumor cells after CAR engagement Co-culture "
            "cytotoxicity assay against antigen-expressing target cells, combined with IFN-gamma release after "
            "antigen stimulation") in lines
    assert "Product type Mechanism of action Example potency assay" in lines
    assert lines.index("Table 1. Examples of potency assay approaches by product type") + 1 == \
        lines.index("Product type Mechanism of action Example potency assay")
    assert "The potency assays used for lot release should measure the biological activity of the product." in lines
    assert not any(line.split()[0].isdigit() for line in lines)  # the margin's numbers and the page label are gone


def test_the_rows_of_a_wrapped_table_are_quoted_under_its_caption_and_headers(tmp_path: Path) -> None:
    """Each row of a table too long to quote whole is a unit whose context is the caption and column headers."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.models import UnitKind
    from atmp_rag.units import build_units

    seg = segment("t", extract_pages(pdfgen.wrapped_table_pdf(tmp_path / "t.pdf"), "t"))
    units = build_units(seg, chunk_segmented(seg, lambda t: len(t.split()), 180, 20, 20)).units
    rows = [u for u in units if u.kind is UnitKind.row]
    assert len(rows) == len(pdfgen.WRAPPED_ROWS)
    oncolytic = next(u for u in rows if u.text.startswith("Oncolytic virus"))
    assert oncolytic.text == ("Oncolytic virus Selective replication in and lysis of tumor cells Infectious titer by "
                              "plaque assay and tumor cell killing assay")
    assert oncolytic.context.splitlines() == ["Table 1. Examples of potency assay approaches by product type",
                                              "Product type Mechanism of action Example potency assay"]


def test_rebuilt_tables_of_real_guidelines_lose_no_text_and_read_row_by_row() -> None:
    """On ICH E6(R2) (essential-documents table) and Q1A(R2) (storage-condition tables), rebuilding rows
    reorders text and never drops or adds a character; a wrapped row reads across, and a row whose cell holds a
    sentence keeps its lines (checked by the checklist test in test_units)."""
    from collections import Counter

    import pypdfium2 as pdfium

    from atmp_rag.extract import mark_superscripts, page_text, two_columns

    found: set[str] = set()
    for name in ("ich-e6-r2-gcp-2016.pdf", "ich-q1a-r2-stability-2003.pdf"):
        doc = pdfium.PdfDocument(str(real_pdf(name)))
        try:
            for i in range(len(doc)):
                page = doc[i]
                textpage = page.get_textpage()
                raw = textpage.get_text_range()
                if two_columns(textpage, *page.get_size()):
                    continue
                before, after = mark_superscripts(textpage, raw), page_text(textpage, raw)
                # (characters, not words: a cell's lines joined at a hyphen make one word of two)
                assert Counter("".join(before.split())) == Counter("".join(after.split())), (name, i + 1)
                found.update(line.strip() for line in after.splitlines())
        finally:
            doc.close()
    assert "Accelerated 40°C ± 2°C/not more than (NMT) 25% RH 6 months" in found  # its cells wrap
    assert "Study Storage condition Minimum time period covered by" in found  # a wrapped header keeps its lines
    # a row labelled with a section number: the label heads its section, the rest of the row under it
    assert "8.2.16 CERTIFICATE(S) OF ANALYSIS OF INVESTIGATIONAL PRODUCT(S) SHIPPED" in found
    assert "To document identity, purity, and strength of investigational product(s) to be used in the trial X" in found


def test_a_chunk_that_continues_a_table_is_indexed_with_its_caption_and_headers(tmp_path: Path) -> None:
    """A long table runs over several chunks and only the first holds its caption and column headers: every later
    chunk is encoded and BM25-indexed with them (its stored text stays verbatim), so a question in the caption's
    words finds a row of any chunk (a probe's endotoxin row sat in the table's second chunk, sixth in the search)."""
    from atmp_rag.chunking import chunk_segmented, segment
    from atmp_rag.ingest import index_text, table_context
    from atmp_rag.models import Document
    from atmp_rag.units import build_units

    seg = segment("t", extract_pages(pdfgen.wrapped_table_pdf(tmp_path / "t.pdf"), "t"))
    chunks = chunk_segmented(seg, lambda t: len(t.split()), 40, 5, 5)
    units = build_units(seg, chunks).units
    caption = "Table 1. Examples of potency assay approaches by product type"
    later = [c for c in chunks if "Gene-edited hematopoietic" in c.text and caption not in c.text]
    assert later, "the table should run over more than one chunk"
    document = Document(doc_id="t", title="Potency assurance", reference="FDA-2025-D-0001")
    for chunk in later:
        held = [u for u in units if chunk.chunk_id in u.chunk_ids]
        text = index_text(document, chunk, table_context(chunk, held))
        assert text.endswith(chunk.text)
        assert f"{caption}\nProduct type Mechanism of action Example potency assay\n" in text
    first = next(c for c in chunks if caption in c.text)
    held = [u for u in units if first.chunk_id in u.chunk_ids]
    assert table_context(first, held) == ""  # a chunk that holds the caption needs no copy of it
