"""Small PDF factories for the extraction tests, written with reportlab into a caller's folder.

Each helper returns the path it wrote. The EMA-like document mimics the furniture of EMA drafts
(line-number margin, reference header, "Page N/M" footer) so the cleaning steps can be checked
against a known ground truth.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

#: Body of the EMA-like document: one list of lines per page. Lines starting with "#" are headings.
EMA_PAGES: list[list[str]] = [
    [
        "# 1. Introduction",
        "This guideline describes the quality requirements for advanced therapy medicinal",
        "products. It applies to biological and biotech-",
        "nological products, including gene therapy medicinal products and somatic",
        "cell therapy medicinal products. A well-",
        "known approach to quality is the risk-based approach described below.",
        "The applicant should justify every deviation from this guideline.",
        "# 2. Scope",
        "The scope covers investigational and authorised products. The guideline",
        "is well known to applicants and inspectors in the European Union and the",
        "principles are also applicable to products for compassionate use.",
    ],
    [
        "# 3. Legal basis",
        "This guideline should be read in conjunction with Directive 2001/83/EC and",
        "Regulation (EC) No 1394/2007 on advanced therapy medicinal products.",
        "# 4. Quality risk management",
        "Manufacturers should apply quality risk management to the design of the",
        "manufacturing process. Risks to the patient should be identified early.",
        "# 4.1 Risk assessment",
        "The risk assessment should consider the starting materials, the process and",
        "the facilities. Each risk should be scored for severity and probability.",
    ],
    [
        "# 4.2 Risk control",
        "Risk control measures should reduce the risk to an acceptable level. The",
        "effectiveness of the measures should be verified during process validation",
        "and reviewed periodically as knowledge about the product increases.",
        "# 5. References",
        "Guideline on the quality of biological active substances produced by stable",
        "clone cell lines. Guideline on process validation for biotechnology-derived",
        "active substances and data to be provided in the regulatory submission.",
    ],
]

EMA_REFERENCE = "EMA/CAT/123456/2024"


def ema_like_pdf(path: Path, pages: list[list[str]] | None = None) -> Path:
    """Write an EMA-style draft: numbered line margin, reference header, "Page N/M" footer."""
    pages = EMA_PAGES if pages is None else pages
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle("Guideline on quality of ATMPs")
    c.setAuthor("Committee for Advanced Therapies")
    c.setSubject("Quality guideline draft")
    width, height = A4
    line_no = 1
    for page_index, lines in enumerate(pages, start=1):
        c.setFont("Helvetica", 8)
        c.drawString(72, height - 40, EMA_REFERENCE)
        c.drawRightString(width - 72, 30, f"Page {page_index}/{len(pages)}")
        y = height - 90
        for line in lines:
            heading = line.startswith("# ")
            text = line[2:] if heading else line
            c.setFont("Helvetica", 8)
            c.drawRightString(52, y, str(line_no))
            c.setFont("Helvetica-Bold" if heading else "Helvetica", 10)
            c.drawString(72, y, text)
            line_no += 1
            y -= 16
        c.showPage()
    c.save()
    return path


def plain_pdf(path: Path, pages: list[list[str]], header: str | None = None, first_number: int = 1,
              label: str = "{n}") -> Path:
    """Write simple pages of text lines, with an optional running header and a bottom page label
    (`label` formatted with the printed number `n`, the first page printing `first_number`, and the
    page count `total`: "{n}", "Page {n} of {total}"). Tabs in a line separate up to three table cells,
    drawn in columns."""
    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    for number, lines in enumerate(pages, start=1):
        if header:
            c.setFont("Helvetica", 9)
            c.drawString(72, height - 40, header)
        c.setFont("Helvetica", 10)
        y = height - 80
        for line in lines:
            for x, cell in zip((72, 250, 400), line.split("\t"), strict=False):
                c.drawString(x, y, cell)
            y -= 14
        c.setFont("Helvetica", 9)
        c.drawCentredString(width / 2, 30, label.format(n=number + first_number - 1, total=len(pages)))
        c.showPage()
    c.save()
    return path


def encrypted_pdf(path: Path, user_password: str = "secret") -> Path:
    """Write a one-page PDF that needs a user password to open."""
    from pypdf import PdfReader, PdfWriter

    plain = plain_pdf(path.with_suffix(".plain.pdf"), [["Confidential text."]])
    writer = PdfWriter(clone_from=PdfReader(plain))
    writer.encrypt(user_password=user_password, owner_password="owner-" + user_password)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def truncated_pdf(path: Path) -> Path:
    """Write a valid multi-page PDF, then cut it in half as an interrupted download would."""
    full = ema_like_pdf(path.with_suffix(".full.pdf"))
    data = full.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def zero_page_pdf(path: Path) -> Path:
    """Write a syntactically valid PDF whose page tree is empty."""
    from pypdf import PdfWriter

    with path.open("wb") as handle:
        PdfWriter().write(handle)
    return path


def image_only_pdf(path: Path) -> Path:
    """Write two pages with drawings (a filled rectangle, a small raster image) and no text."""
    from reportlab.lib.utils import ImageReader

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFillColorRGB(0.2, 0.3, 0.8)
    c.rect(100, 400, 300, 200, fill=1)
    c.showPage()
    # A tiny grey image built in memory, standing in for a scanned page.
    raw = bytes([128]) * (8 * 8)
    try:
        from PIL import Image

        image = Image.frombytes("L", (8, 8), raw)
        c.drawImage(ImageReader(image), 100, 300, width=200, height=200)
    except ImportError:  # pragma: no cover - PIL ships with reportlab
        c.circle(200, 400, 50, fill=1)
    c.showPage()
    c.save()
    return path


def huge_page_pdf(path: Path, n_chars: int = 130_000) -> Path:
    """Write one page carrying about `n_chars` characters of (distinct, non-overlapping) text."""
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica", 1)
    height = A4[1]
    per_line = 150
    lines = n_chars // per_line + 1
    columns = 4
    per_column = lines // columns + 1
    for i in range(lines):
        column, row = divmod(i, per_column)
        text = f"{i:06d}" + "abcdefghij" * ((per_line - 6) // 10)
        c.drawString(20 + column * 140, height - 10 - row * 0.8, text)
    c.showPage()
    c.save()
    return path


def corrupt_pdf(path: Path, source: Path | None = None, keep: float = 0.5) -> Path:
    """Write the first `keep` fraction of `source` (default: a generated EMA-like PDF), like a cut download."""
    if source is None:
        return truncated_pdf(path)
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


#: Body of a guideline from "another regulator": numbered sections, a glossary of term lines, a
#: captioned table, a figure whose boxes leave scattered words, a footnote, and a numbered reference
#: list. Entries are (kind, text): "h" heading, "p" body line, "t" table line, "f" figure word,
#: "n" footnote line (printed small at the page bottom), "m" footnote marker line.
REGULATOR_BODY: list[list[tuple[str, str]]] = [
    [
        ("h", "1. Introduction"),
        ("p", "This guidance describes the nonclinical studies expected before the first administration of a"),
        ("p", "cell-based gene therapy product to humans. Sponsors should discuss the design of pivotal"),
        ("p", "studies with the agency before they start."),
        ("h", "2. Scope"),
        ("p", "The guidance applies to genetically modified cell therapy products and to viral vectors used to"),
        ("p", "modify cells ex vivo. It does not apply to vaccines against infectious diseases."),
        ("h", "3. Biodistribution studies"),
        ("p", "Biodistribution studies should be conducted in a relevant animal species before the first clinical"),
        ("p", "trial. The persistence of the vector should be followed until it is no longer detected in the"),
        ("p", "tissues examined, or for at least three months after administration."),
        ("m", "1"),
        ("p", "Samples should be taken from all major organs, including the gonads."),
        ("n", "1 Sampling times are chosen according to the expected kinetics of the vector."),
    ],
    [
        ("h", "4. Tumorigenicity"),
        ("p", "The tumorigenic potential of the final cell product should be assessed when the cells have been"),
        ("p", "extensively expanded or reprogrammed. Soft agar colony formation and in vivo studies in"),
        ("p", "immunodeficient animals are acceptable approaches."),
        ("t", "Table 2. Minimum observation periods in tumorigenicity studies"),
        ("t", "Cell type Observation period Animals per group"),
        ("t", "Pluripotent stem cell derived 6 months 10"),
        ("t", "Adult stem cells 4 months 8"),
        ("t", "Differentiated somatic cells 3 months 6"),
        ("p", "Longer observation periods may be needed when the cells are expected to persist in the body."),
        ("f", "Figure 3: Decision scheme for tumorigenicity testing"),
        ("f", "Starting cells"),
        ("f", "Expansion"),
        ("f", "Reprogramming"),
        ("f", "Soft agar"),
        ("f", "In vivo study"),
        ("f", "Release"),
    ],
    [
        ("h", "5. Glossary"),
        ("p", "Viral vector"),
        ("p", "A virus modified to deliver genetic material into cells, which cannot replicate in the patient."),
        ("p", "Shedding"),
        ("p", "The release of the vector from the treated patient through excreta, secreta or the skin."),
        ("p", "Biodistribution:"),
        ("p", "The distribution, persistence and clearance of the product in the body after administration."),
        ("h", "6. References"),
        ("p", "1. Smith J, Jones AB, Brown C. Biodistribution of lentiviral vectors in mice. Hum Gene Ther."),
        ("p", "2015;26(4):210-219. doi:10.1089/hum.2014.123"),
        ("p", "2. Lee K, Park S. Tumorigenicity of reprogrammed cells (2018). Stem Cell Rep. 11:45-57."),
        ("p", "3. World Health Organization. Guidelines on the quality of cell therapy products. WHO"),
        ("p", "Technical Report Series No. 1004, 2017, pp. 101-130."),
    ],
]
REGULATOR_TITLE = ["Health Products Regulatory Authority", "",
                   "GUIDANCE FOR SPONSORS", "Nonclinical Evaluation of Cell-Based Gene Therapy Products",
                   "", "Version 2.1", "Effective date: 1 March 2023", "Document number GN-0042"]
REGULATOR_HISTORY = ["Document history", "Version Date Summary of changes",
                     "1.0 12 January 2019 First publication", "2.0 5 May 2021 Section 4 on tumorigenicity added",
                     "2.1 1 March 2023 Glossary updated; references revised"]
REGULATOR_CONTACT = ["Contact us", "Health Products Regulatory Authority", "Kevin O'Malley House, Dublin 2",
                     "Telephone: +353 1 676 4971", "E-mail: info@hpra.example", "Website: www.hpra.example"]


def regulator_pdf(path: Path, labels: str = "dash", title_page: bool = True, history: bool = True,
                  contact: bool = True, header: str = "HPRA GN-0042 Nonclinical evaluation") -> Path:
    """A guideline in a layout this project was not written against: a title page, a document-history
    page, body pages numbered "- N -" (labels="dash") or "Page N of M" (labels="of"), a running header,
    a glossary of term lines, a captioned table, a figure of scattered words, a footnote marker and
    footnote, a numbered reference list, and a contact page."""
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle("Nonclinical Evaluation of Cell-Based Gene Therapy Products")
    c.setAuthor("Health Products Regulatory Authority")
    width, height = A4
    front = ([REGULATOR_TITLE] if title_page else []) + ([REGULATOR_HISTORY] if history else [])
    for lines in front:
        y = height - 200
        for line in lines:
            c.setFont("Helvetica-Bold" if line.isupper() else "Helvetica", 14 if lines is REGULATOR_TITLE else 10)
            c.drawCentredString(width / 2, y, line) if lines is REGULATOR_TITLE else c.drawString(72, y, line)
            y -= 22 if lines is REGULATOR_TITLE else 16
        c.showPage()
    n_body = len(REGULATOR_BODY) + (1 if contact else 0)
    for number, entries in enumerate(REGULATOR_BODY, start=1):
        c.setFont("Helvetica", 8)
        c.drawString(72, height - 40, header)
        label = f"- {number} -" if labels == "dash" else f"Page {number} of {n_body}"
        c.drawCentredString(width / 2, 30, label)
        y = height - 90
        for kind, text in entries:
            if kind == "n":
                c.setFont("Helvetica", 7)
                c.drawString(72, 60, text)
                continue
            if kind == "f":
                # Boxes of a diagram: short words scattered over the page width, one per line.
                c.setFont("Helvetica", 9)
                c.drawString(72 + (hash(text) % 5) * 60 if kind == "f" and not text.startswith("Figure") else 72,
                             y, text)
                y -= 18
                continue
            if kind == "m":
                c.setFont("Helvetica", 6)
                c.drawString(540, y + 4, text)
                continue
            c.setFont("Helvetica-Bold" if kind == "h" else "Helvetica", 10)
            c.drawString(72, y, text)
            y -= 15
        c.showPage()
    if contact:
        c.setFont("Helvetica", 8)
        c.drawString(72, height - 40, header)
        label = f"- {n_body} -" if labels == "dash" else f"Page {n_body} of {n_body}"
        c.drawCentredString(width / 2, 30, label)
        y = height - 90
        c.setFont("Helvetica", 10)
        for line in REGULATOR_CONTACT:
            c.drawString(72, y, line)
            y -= 15
        c.showPage()
    c.save()
    return path


#: An FDA-style guidance: a title page, a page of "Additional copies … available from" contact details,
#: roman-numbered sections, and a reference list.
FDA_LIKE_PAGES: list[list[str]] = [
    ["Guidance for Industry", "Potency Tests for Cellular and Gene Therapy Products", "",
     "U.S. Department of Health and Human Services", "Food and Drug Administration",
     "Center for Biologics Evaluation and Research", "January 2011"],
    ["Additional copies of this guidance are available from the Office of Communication, Outreach and",
     "Development (OCOD), 10903 New Hampshire Ave., Bldg. 71, Rm. 3128, Silver Spring, MD 20993-0002,",
     "or by calling 1-800-835-4709 or 240-402-8010, or email ocod@fda.hhs.gov, or from the Internet at",
     "http://www.fda.gov/BiologicsBloodVaccines/GuidanceComplianceRegulatoryInformation/default.htm.",
     "For questions on the content of this guidance, contact OCOD at the phone numbers or email address."],
    ["I. INTRODUCTION", "We, FDA, are providing you, a manufacturer of cellular and gene therapy products, with",
     "recommendations for developing tests to measure potency. Potency is the specific ability or",
     "capacity of the product to effect a given result.", "II. BACKGROUND",
     "Potency measurements are designed to measure a relevant biological activity. A potency assay",
     "should be quantitative whenever possible."],
    ["III. RECOMMENDATIONS",
     "You should develop a potency assay early in product development. The assay should be validated",
     "before licensure. We recommend that you use multiple complementary assays when a single assay",
     "cannot measure the product's activity.", "IV. REFERENCES",
     "1. Bravery CA, Carmen J, Fong T, et al. Potency assay development for cellular therapy products.",
     "Cytotherapy 2013;15(1):9-19."],
    # Terms and definitions on one line, after a colon or a dash (FDA, WHO and EU glossaries).
    ["APPENDIX A: GLOSSARY",
     "Bioassay: An assay that measures the activity of the product in a living system, such as cells",
     "or animals, in comparison with a reference standard.",
     "Reference standard – A well-characterized material used as a calibrator in a potency assay.",
     "Surrogate assay: A physicochemical or analytical assay that is correlated with biological activity."],
]


def fda_like_pdf(path: Path) -> Path:
    """Write the FDA-style guidance of `FDA_LIKE_PAGES` (plain pages, bottom page numbers)."""
    return plain_pdf(path, FDA_LIKE_PAGES)


#: A Health-Canada-style guidance: top-level sections printed as a bare number and a sentence-case
#: title ("2 Biodistribution", no full stop, not in capitals), numbered paragraphs ("2.1 …"), a
#: footnote that also starts with a bare number, and a reference list under "4 References".
BARE_NUMBERED_PAGES: list[list[str]] = [
    ["1 Introduction", "1.1 Policy objectives",
     "1.1.1 This guidance document describes the nonclinical studies that sponsors should complete",
     "before the first administration of a cell or gene therapy product to humans.1", "",
     "1 Health Canada considers the principles of ICH S6(R1) applicable where relevant."],
    ["2 Biodistribution",
     "2.1 Biodistribution studies should determine the distribution, persistence and clearance of the",
     "vector or cells in target and non-target tissues, including the gonads.",
     "2.2 Sampling time points should cover the expected period of persistence."],
    ["3 Tumourigenicity",
     "3.1 For cell therapy products derived from pluripotent stem cells, the sponsor should assess the",
     "risk of teratoma formation from residual undifferentiated cells.",
     "4 References",
     "1. ICH S6(R1): Preclinical safety evaluation of biotechnology-derived pharmaceuticals. 2011.",
     "2. FDA. Preclinical assessment of investigational cellular and gene therapy products. 2013."],
]


def bare_numbered_pdf(path: Path) -> Path:
    """Write the guidance of `BARE_NUMBERED_PAGES` (plain pages, bottom page numbers)."""
    return plain_pdf(path, BARE_NUMBERED_PAGES)


#: A national guidance (TGA/MHRA style) whose top-level sections are bare numbers and titles that
#: need no subsection ("3 Potency assays"), a footnote at a page bottom that starts with the next
#: section's number ("3 Regulation (EC) No 1394/2007 …"), and a table whose caption is printed under it.
SEQUENCE_PAGES: list[list[str]] = [
    ["1 Introduction",
     "This guidance describes the potency assays of cell and gene therapy products supplied under the",
     "clinical trial notification scheme.", "2 Scope",
     "The guidance applies to autologous and allogeneic cell therapy products regulated as medicines.3",
     "", "3 Regulation (EC) No 1394/2007 on advanced therapy medicinal products"],
    ["3 Potency assays",
     "Potency is the quantitative measure of biological activity based on the attribute of the product",
     "linked to the relevant biological properties.",
     "4 Release specifications",
     "Release specifications for a cell therapy product should include at least the tests below.",
     "Test Acceptance criterion Method",
     "Viability At least 70 % viable cells Dye exclusion",
     "Sterility No growth Ph. Eur. 2.6.27",
     "Endotoxin Below 5 EU/kg/h LAL test",
     "Table 1 Minimum release tests for cell therapy products",
     "5 Comparability",
     "A bridging study should include at least three batches tested in parallel with both assays."],
]


def sequence_pdf(path: Path) -> Path:
    """Write the guidance of `SEQUENCE_PAGES` (plain pages, bottom page numbers)."""
    return plain_pdf(path, SEQUENCE_PAGES)


#: A definitions section printed as a two-column table under a "Term Definition" header, its cells
#: wrapping over lines (EMA reflection papers and several national guidances), then ordinary text.
GLOSSARY_TABLE_PAGES: list[list[str]] = [
    ["1. Introduction", "This reflection paper discusses non-clinical models for gene therapy medicinal products.",
     "2. Definitions", "Term\tDefinition",
     "Vector shedding\tThe dissemination of the vector through secretions",
     "\tor excreta of the treated subject.",
     "Homologous model\tAn animal model in which a species-specific",
     "\tsurrogate of the human transgene is expressed.",
     "Disease model\tAnimal model that reproduces features of the human disease.",
     "Advanced therapy medicinal\tA gene therapy medicinal product, a somatic cell therapy",
     "product (ATMP)\tmedicinal product or a tissue engineered product.",
     "3. Discussion", "The applicant should justify the choice of the animal model."],
]


def glossary_table_pdf(path: Path) -> Path:
    """Write the pages of `GLOSSARY_TABLE_PAGES` (plain pages, bottom page numbers)."""
    return plain_pdf(path, GLOSSARY_TABLE_PAGES)


#: A glossary table whose rows are drawn cell by cell, as table layouts (reportlab's, Word's) draw them:
#: the text layer has a wrapped term's two lines before its definition's lines.
GLOSSARY_CELL_ROWS: list[tuple[list[str], list[str]]] = [
    (["Advanced therapy medicinal", "product (ATMP)"],
     ["A gene therapy medicinal product, a somatic cell therapy medicinal",
      "product or a tissue engineered product as defined in the Regulation."]),
    (["Batch"], ["A defined quantity of product prepared in one manufacturing process."]),
    (["Replication-competent", "lentivirus (RCL)"],
     ["A lentivirus that arose during manufacture and is able to replicate", "in the patient's cells."]),
    (["Chimeric antigen", "receptor (CAR) T cell"], ["A T cell genetically modified to express a synthetic receptor."]),
    (["Vector copy number", "(VCN) per transduced", "cell"],
     ["The average number of integrated vector genomes in the transduced cells."]),
]


def _cells_page(path: Path, intro: Sequence[str], xs: Sequence[float], headers: Sequence[str],
                rows: Sequence[Sequence[Sequence[str]]], label: str, outro: Sequence[str] = ()) -> Path:
    """One page: `intro` lines, a header row, then `rows` drawn cell by cell (each cell's lines at its column's x,
    one row under the other), `outro` lines, and the page `label` at the foot."""
    c = canvas.Canvas(str(path), pagesize=A4)
    _, height = A4
    c.setFont("Helvetica", 10)
    y = height - 80
    for line in intro:
        c.drawString(72, y, line)
        y -= 18
    for x, head in zip(xs, headers, strict=True):
        c.drawString(x, y, head)
    y -= 18
    for row in rows:
        for x, cell in zip(xs, row, strict=True):
            for k, line in enumerate(cell):
                c.drawString(x, y - 12 * k, line)
        y -= 12 * max(len(cell) for cell in row) + 8
    for line in outro:
        y -= 10
        c.drawString(72, y, line)
    c.drawCentredString(300, 30, label)
    c.showPage()
    c.save()
    return path


#: Rows of an FDA-style table whose cells wrap (product type, mechanism of action, example assay).
WRAPPED_ROWS: list[tuple[list[str], list[str], list[str]]] = [
    (["Autologous CAR T cells"], ["Antigen-specific killing of tumor", "cells after CAR engagement"],
     ["Co-culture cytotoxicity assay against", "antigen-expressing target cells, combined",
      "with IFN-gamma release after antigen", "stimulation"]),
    (["AAV vector expressing a", "therapeutic enzyme"], ["Expression of a functional", "enzyme in the target tissue"],
     ["Transduction of a permissive cell line", "followed by measurement of enzyme", "activity in cell lysates"]),
    (["Oncolytic virus"], ["Selective replication in and lysis", "of tumor cells"],
     ["Infectious titer by plaque assay and tumor", "cell killing assay"]),
    (["Mesenchymal stromal cells"], ["Immunomodulation through", "secreted factors"],
     ["Inhibition of T cell proliferation in a mixed", "lymphocyte reaction"]),
    (["Gene-edited hematopoietic", "stem cells"], ["Engraftment and production of", "corrected progeny"],
     ["Colony-forming unit assay combined with", "editing efficiency at the target locus"]),
]


def wrapped_table_pdf(path: Path) -> Path:
    """Two pages of an FDA-style draft, the second with a line-number margin counting every line, a paragraph,
    the caption "Table 1. …", a header row and the rows of `WRAPPED_ROWS` drawn cell by cell (a cell's lines
    one under the other, then the next cell's from the row's top, as word processors write them; rows apart by
    padding), then a closing paragraph."""
    c = canvas.Canvas(str(path), pagesize=A4)
    _, height = A4
    # A first page of running text, so that the table's page is read as a body page, not a title page.
    c.setFont("Helvetica", 10)
    for k, text in enumerate(("I. INTRODUCTION",
                              "This draft guidance provides recommendations on potency assurance for cellular and gene",
                              "therapy products. It describes the assays that sponsors use to measure potency and the",
                              "data that support their acceptance criteria at each stage of clinical development.")):
        c.drawString(72, height - 80 - 16 * k, text)
    c.drawCentredString(300, 30, "4")
    c.showPage()
    number = 1

    def line(x: float, y: float, text: str) -> None:
        nonlocal number
        c.setFont("Helvetica", 8)
        c.drawString(40, y, str(number))
        number += 1
        c.setFont("Helvetica", 10)
        c.drawString(x, y, text)

    y = height - 80
    for text in ("Where feasible, you should evaluate whether potency results correlate with clinical outcomes.",
                 "Table 1 gives examples of approaches that sponsors have used.",
                 "Table 1. Examples of potency assay approaches by product type"):
        line(72, y, text)
        y -= 16
    xs = (76, 204, 354)
    line(xs[0], y, "Product type")
    for x, head in zip(xs[1:], ("Mechanism of action", "Example potency assay"), strict=True):
        c.drawString(x, y, head)
    y -= 20
    for row in WRAPPED_ROWS:
        depth = max(len(cell) for cell in row)
        for k in range(depth):  # the margin numbers every line of the row first, as FDA drafts do
            c.setFont("Helvetica", 8)
            c.drawString(40, y - 12.4 * k, str(number))
            number += 1
        c.setFont("Helvetica", 10)
        for x, cell in zip(xs, row, strict=True):
            for k, text in enumerate(cell):
                c.drawString(x, y - 12.4 * k, text)
        y -= 12.4 * depth + 8
    line(72, y - 8, "The potency assays used for lot release should measure the biological activity of the product.")
    c.drawCentredString(300, 30, "5")
    c.showPage()
    c.save()
    return path


def glossary_cells_pdf(path: Path) -> Path:
    """One page: a body paragraph, "APPENDIX 1 GLOSSARY", a "Term | Definition" header and the rows of
    `GLOSSARY_CELL_ROWS`, each drawn cell by cell (the term cell's lines, then the definition's)."""
    return _cells_page(path, ("1. Scope", "This guide applies to products prepared under the hospital exemption.",
                              "APPENDIX 1 GLOSSARY"), (72, 230), ("Term", "Definition"), GLOSSARY_CELL_ROWS, "8")



#: Rows of a national regulator's study-design table: a short element label, a recommendation of sentences and
#: a rationale, each cell wrapped in its column.
DESIGN_ROWS: list[tuple[list[str], list[str], list[str]]] = [
    (["Species"],
     ["The relevant species used in the pivotal", "toxicology study. Mice or rats are",
      "acceptable for lentiviral vectors."],
     ["Biodistribution depends on", "capsid or envelope tropism."]),
    (["Animal numbers"],
     ["At least 5 animals per sex per time", "point for rodents; at least 3 per sex", "for non-human primates."],
     ["Accounts for inter-animal", "variability."]),
    (["Time points"],
     ["At least three time points: near peak,", "intermediate and late (Day 90 or later).",
      "Add Day 180 if vector persists at Day 90."],
     ["Characterises persistence and", "clearance of vector genomes."]),
    (["Assay", "sensitivity"],
     ["A validated qPCR assay with a lower", "limit of quantification of 50 copies",
      "per microgram of genomic DNA."],
     ["Detects low-level vector in", "non-target tissues."]),
]


def design_table_pdf(path: Path) -> Path:
    """One page: a section, its paragraph, the caption "Table 1 – …", a sentence introducing the table, the headers
    "Element Recommendation Rationale" and the rows of `DESIGN_ROWS` drawn cell by cell."""
    return _cells_page(path, ("5. Biodistribution",
                              "Biodistribution studies should characterise the distribution of the vector in the body.",
                              "Table 1 – Recommended biodistribution study design elements",
                              "Table 1 summarises the design elements that the Authority expects in a biodistribution",
                              "study. Deviations should be justified in the study plan."),
                       (72, 170, 370), ("Element", "Recommendation", "Rationale"), DESIGN_ROWS, "6")


#: Rows of a table of methods: a method, its typical sensitivity (a value) and a comment of sentences, wrapped.
METHOD_ROWS: list[tuple[list[str], list[str], list[str]]] = [
    (["Flow cytometry for", "TRA-1-60 or SSEA-4"], ["0.01% to 0.1%"],
     ["Rapid and widely available; limited by the", "number of events acquired; suitable for",
      "in-process control only."]),
    (["Quantitative RT-PCR", "for LIN28A"], ["Approximately", "0.002%"],
     ["Detects about 1 undifferentiated cell in", "50,000; depends on background expression", "of the marker."]),
    (["Droplet digital PCR"], ["0.001% or lower"],
     ["Absolute quantification without a", "standard curve; a combination of markers", "is recommended."]),
    (["Culture assay on", "laminin-521"], ["Approximately", "0.001%"],
     ["Amplifies viable pluripotent cells during", "7 days of culture; results come too late", "for fresh products."]),
    (["In vivo teratoma", "assay"], ["Approximately", "0.01%"],
     ["Integrates the in vivo environment;", "requires at least 16 weeks; a non-clinical",
      "study, not a release test."]),
]


def method_table_pdf(path: Path) -> Path:
    """One page: a section, its paragraph, the caption "Table 1. …", the headers "Method Typical sensitivity
    Comment", the rows of `METHOD_ROWS` drawn cell by cell, and a paragraph after the table."""
    return _cells_page(path, ("4.5.1. Assay selection and sensitivity",
                              "Table 1 summarises the methods most commonly used and their typical sensitivity.",
                              "Table 1. Tests for residual undifferentiated iPSCs"),
                       (72, 200, 320), ("Method", "Typical sensitivity", "Comment"), METHOD_ROWS, "8",
                       ("At least one of the release tests for residual undifferentiated cells should have a",
                        "demonstrated limit of detection of 0.001% or lower."))

#: Rows of an inspection aide-memoire (a PIC/S layout): an area label, a key question and a note, each cell a
#: few words to a line, and a cross-reference.
CHECKLIST_ROWS: list[tuple[list[str], list[str], list[str], list[str]]] = [
    (["3.1 Storage", "of banks"],
     ["Are the master and working", "banks each stored in at least", "two separate locations?"],
     ["Each storage", "location should have an", "independent power supply", "and its own alarm system."],
     ["Annex 2A, 5.4"]),
    (["3.2 Passage", "limits"],
     ["Is the maximum number of", "passages after thaw", "specified in the batch", "record?"],
     ["Unless validated, the", "production culture should", "not exceed 20 passages", "after thaw."],
     ["Annex 2A, 5.8"]),
    (["3.3 Waste", "inactivation"],
     ["Is liquid waste from live", "vector areas inactivated", "before it is discharged?"],
     ["Inactivation by heat or", "chemical treatment should", "be validated for the", "vector concerned."],
     ["Annex 2A,", "5.27"]),
]


def checklist_pdf(path: Path) -> Path:
    """One page: a numbered section, a paragraph, "3. AIDE-MEMOIRE", a four-column header and the rows of
    `CHECKLIST_ROWS`, each drawn cell by cell in narrow columns (label, question, note, cross-reference)."""
    return _cells_page(path, ("2. Purpose",
                              "This document gives inspectors a structured set of key questions for vector sites.",
                              "3. AIDE-MEMOIRE"), (72, 170, 330, 470), ("Area", "Key questions", "Notes", "Crossref."),
                       CHECKLIST_ROWS, "4")


#: UK/WHO-style guidance: unnumbered headings (a title right over a subheading), every paragraph numbered
#: in the margin, a lettered list ending with a full stop before the next numbered paragraph, a web
#: address on a line of its own before a "Key points" box, "Page N of M" labels.
UK_GUIDANCE_PAGES: list[list[str]] = [
    ["Introduction",
     "1. This guidance sets out the expectations of the agency for the non-clinical development of",
     "cell-based advanced therapy medicinal products intended for first-in-human clinical trials.",
     "2. Developers are encouraged to seek scientific advice before starting pivotal studies. Information",
     "on how to request advice is published at:",
     "https://www.example.gov.uk/guidance/get-scientific-advice",
     "Key points",
     "The non-clinical programme for a cell-based product should follow a risk-based approach and be",
     "justified case by case.",
     "Scope",
     "Products out of scope",
     "3. This guidance does not apply to:",
     "• blood and blood components for transfusion",
     "• gene therapy products that do not contain cells"],
    ["General principles",
     "Dose justification",
     "4. The highest dose given to animals should, where technically possible, be at least ten times the",
     "intended human dose. Relevant factors include:",
     "(a) the volume that can be injected into the target tissue;",
     "(b) the cell concentration at which cells aggregate; and",
     "(c) the size of the target organ in the chosen species.",
     "5. A dose-response relationship is not always expected for cell-based products, because",
     "engraftment may saturate."],
]


def uk_guidance_pdf(path: Path) -> Path:
    """Write the guidance of `UK_GUIDANCE_PAGES` ("Page N of M" labels)."""
    return plain_pdf(path, UK_GUIDANCE_PAGES, label="Page {n} of {total}")


#: A WHO Technical Report Series annex: the printed page number sits inside the running header, which
#: alternates between even pages ("94 WHO Technical Report Series, No. 1011, 2018", top left) and odd
#: pages ("Annex 3 95", top right); numbering starts at 93 on the annex's first page, printed at its foot.
#: The scope's sentence runs on to the next page past a footnote whose marker follows "genome".
#: Unnumbered back matter follows the numbered sections, and an appendix holds a form to fill in.
WHO_ANNEX_PAGES: list[list[str]] = [
    ["Annex 3", "WHO guidelines on the quality, safety and efficacy of gene therapy products",
     "1. Introduction",
     "Gene therapy products are medicinal products that mediate their effect by the expression of a genetic",
     "sequence delivered to the cells of a patient."],
    ["2. Scope", "These guidelines apply to viral and non-viral vectors that integrate into the host genome1 and",
     "to those that do not, used to deliver a transgene to human cells in vivo or ex vivo, and to the"],
    ["genetically modified cells made with them.",
     "3. Terminology", "Shedding is the release of the vector from a treated patient into the environment through",
     "excreta such as urine, faeces, saliva or semen."],
    ["4. Quality", "The potency assay should measure the biological activity of the expressed transgene and",
     "should be validated before pivotal clinical trials start."],
    ["5. Nonclinical evaluation", "Biodistribution studies should cover the target organ, the gonads and the",
     "brain, with sampling at an early and a late time point."],
    ["6. Clinical evaluation", "Patients should be followed up for delayed adverse events for a period that",
     "reflects the persistence of the vector and the risk of insertional mutagenesis.",
     "Authors and acknowledgements", "The first draft of these guidelines was prepared by a drafting group.",
     "References", "1. Hansen A, Chen L. Vector shedding in clinical trials. Hum Gene Ther. 2015;26:1-10."],
    ["Appendix 1", "Model certificate for the release of gene therapy vector lots",
     "This certificate is to be provided by the national regulatory authority on request.",
     "Name of product: ________", "Lot number: ________", "Signature of the responsible officer: ________"],
]


def who_annex_pdf(path: Path, first_number: int = 93) -> Path:
    """Write the annex of `WHO_ANNEX_PAGES` with its alternating running headers and in-header numbers."""
    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    for index, lines in enumerate(WHO_ANNEX_PAGES):
        printed = first_number + index
        c.setFont("Helvetica", 9)
        if not index:
            c.drawCentredString(width / 2, 30, str(printed))  # the annex's first page: number at the foot
        elif printed % 2 == 0:
            c.drawString(72, height - 40, f"{printed} WHO Technical Report Series, No. 1011, 2018")
        else:
            c.drawRightString(width - 72, height - 40, f"Annex 3 {printed}")
        c.setFont("Helvetica", 10)
        y = height - 80
        for line in lines:
            c.drawString(72, y, line)
            y -= 14
        if index == 1:
            c.setFont("Helvetica", 8)
            c.drawString(72, 60, "1 Integration is expected for retroviral and lentiviral vectors only.")
        c.showPage()
    c.save()
    return path


#: EudraLex Volume 4 Part IV style: every paragraph numbered "1.10", "1.11" … (paragraph 1.13's first line
#: reads like a title), raised footnote markers drawn in a small font after a word ("^" before the
#: marker in these lines), the footnotes at the page foot, and unnumbered subheadings over numbered
#: paragraphs ("Hygiene" over "3.12 …").
EU_GMP_PAGES: list[list[str]] = [
    ["1. Introduction",
     "1.10 Advanced therapy medicinal products are medicinal products for human use that are based on",
     "genes, cells or tissues, as defined in Article 2 of Regulation^1 (EC) No 1394/2007.",
     "1.11 These Guidelines develop the principles of good manufacturing practice specifically for ATMPs.",
     "1.12 Where blood components are used as starting materials, the technical requirements of Directive^2",
     "2002/98/EC apply to their donation, procurement and testing.",
     "1.13 The Good Manufacturing Practice Requirements of Part I, Part II and the Annexes of EudraLex",
     "Volume 4 are not applicable to ATMPs, unless specific reference is made to them.",
     "2. Risk-based approach",
     "2.10 The manufacturer should design its measures according to the specific risks of the product.",
     "2.11 Doses are expressed per kilogram, e.g. 2 × 10^13 vg/kg; the sterility assurance level is 10^-6.",
     "NOTE:1 Regulation (EC) No 1394/2007 of the European Parliament and of the Council on advanced therapies.",
     "NOTE:2 Directive 2002/98/EC setting standards of quality and safety for human blood components."],
    ["3. Personnel", "Hygiene",
     "3.12 Personnel suffering from an infectious disease should not be engaged in the manufacture of ATMPs.",
     "Qualified Person",
     "3.14 Each batch of ATMP must be certified by a Qualified Person before it is released for use."],
    ["7. Glossary", "Cleanroom: A room designed and controlled to prevent particle and microbial contamination.",
     "Reconstitution: Activities required after batch release and before administration to the patient."],
]


def eu_gmp_pdf(path: Path) -> Path:
    """Write `EU_GMP_PAGES` with a running header, "Page N/M" footers, markers and exponents raised in a
    6 pt font, and the "NOTE:" lines as 8 pt footnotes at the page foot."""
    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    for number, lines in enumerate(EU_GMP_PAGES, start=1):
        c.setFont("Helvetica", 8)
        c.drawString(72, height - 40, "EudraLex Volume 4 – Part IV")
        c.drawRightString(width - 72, 30, f"Page {number}/{len(EU_GMP_PAGES)}")
        for y, line in _body_lines(c, lines, height - 80):
            _draw_marked(c, 72.0, y, line, rise=4, gap=0.3)
        c.showPage()
    c.save()
    return path


#: Division headings of other layouts: an EU-regulation style (CHAPTER / Article with its title on the
#: next line, a cross-reference to another article at a line start) and an SOP/WHO style ("1.0 Purpose",
#: "2.0 Scope", "Section 3: Responsibilities").
DIVISION_PAGES: list[list[str]] = [
    ["CHAPTER I", "SUBJECT MATTER AND DEFINITIONS", "Article 1", "Subject matter",
     "This Regulation lays down specific rules concerning the authorisation, supervision and",
     "pharmacovigilance of advanced therapy medicinal products.", "Article 2", "Definitions",
     "For the purposes of this Regulation, a tissue engineered product means a product that contains",
     "engineered cells or tissues and is presented as having properties for regenerating human tissue."],
    ["CHAPTER II", "MARKETING AUTHORISATION REQUIREMENTS", "Article 3", "Donation, procurement and testing",
     "Where an advanced therapy medicinal product contains human cells or tissues, the applicant shall",
     "provide the information on donation, procurement and testing as required by",
     "Article 14 Regulation (EC) No 726/2004",
     "for the evaluation of the product by the committee."],
    ["1.0 Purpose", "1.1 This procedure describes how vector shedding data are collected and reported to",
     "the sponsor before the first clinical administration.", "2.0 Scope",
     "2.1 The procedure applies to all gene therapy products tested in the nonclinical facility.",
     "Section 3: Responsibilities", "3.1 The study director should approve the shedding sampling plan",
     "before dosing starts."],
]


def division_pdf(path: Path) -> Path:
    """Write the pages of `DIVISION_PAGES` (plain pages, bottom page numbers)."""
    return plain_pdf(path, DIVISION_PAGES)


#: A WHO-style guidance whose sections are unnumbered Title Case lines ("Introduction", "Glossary",
#: "References"), with glossary terms on their own lines and an unnumbered author-year reference list.
TITLE_CASE_PAGES: list[list[str]] = [
    ["Introduction",
     "This guidance sets out the evaluation principles for cell and gene therapy products intended for",
     "clinical use. Nonclinical studies should characterise biodistribution before the first dose in humans.",
     "Glossary", "Vector shedding",
     "The release of a viral vector from a treated patient through excreta or secretions.",
     "Persistence", "The continued presence of a vector or of administered cells in a tissue over time."],
    ["Potency", "A quantitative potency assay should reflect the mechanism of action of the product.",
     "References",
     "Smith J, Doe AB. Potency assays for cell therapies. J Pharm Sci 2005;94:123-9.",
     "World Health Organization. Guidelines on evaluation of cell therapy products (2022).",
     "Brown K, et al. Shedding studies in gene therapy. Hum Gene Ther 2019;30(2):11-20."],
]


def title_case_pdf(path: Path) -> Path:
    """Write the guidance of `TITLE_CASE_PAGES` with "Page N of M" labels."""
    return plain_pdf(path, TITLE_CASE_PAGES, label="Page {n} of {total}")


#: Two columns of an Official-Journal-style regulation, each side running text (wrapped to a column).
OJ_LEFT = [
    "Article 1", "Subject matter",
    *textwrap.wrap("This Regulation lays down specific rules concerning the authorisation, supervision and "
                   "pharmacovigilance of advanced therapy medicinal products in the Union, in addition to the "
                   "rules laid down in Directive 2001/83/EC for medicinal products.", 48),
    "Article 2", "Definitions",
    *textwrap.wrap("For the purposes of this Regulation, a tissue engineered product means a product that "
                   "contains or consists of engineered cells or tissues and is presented as having properties "
                   "for regenerating, repairing or replacing a human tissue in the treated patient.", 48),
]
OJ_RIGHT = [
    "Article 3", "Donation, procurement and testing",
    *textwrap.wrap("Where an advanced therapy medicinal product contains human cells or tissues, the donation, "
                   "procurement and testing of those cells or tissues shall be made in accordance with "
                   "Directive 2004/23/EC and the national rules that transpose it in the Member States.", 48),
    "Article 4", "Clinical trials",
    *textwrap.wrap("The rules set out in Directive 2001/20/EC shall apply to clinical trials of advanced therapy "
                   "medicinal products, and the principles of good clinical practice shall be adapted to their "
                   "specificities as set out in the detailed guidelines drawn up by the Commission.", 48),
]


#: The end of a left column that runs down to 6 % of the page height, a word broken at its line end with a
#: soft hyphen (`two_column_pdf(full=True)`).
OJ_LOW_END = ["The Agency shall publish a summary of the recom\u00ad",
              "mendation within 15 days of its adoption.",
              "The data shall be kept for a minimum of 30 years."]


def two_column_pdf(path: Path, pages: int = 2, footer: str | None = None,
                   halves: tuple[str, str, str] | None = None, full: bool = False) -> Path:
    """An OJ-style page written line by line across both columns (as some producers do), under a
    full-width running header (and over `footer`, drawn across the middle); a text extractor that follows
    the content stream interleaves them. `halves` (left header, right header, left footer) instead prints
    a header and footer in two parts that leave the middle free (HSA), drawn after the columns, with a
    "Page N of M" footer on the right. `full`: the left column goes on down to 6 % of the page height,
    ending with `OJ_LOW_END`."""
    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    left = OJ_LEFT
    if full:
        rows = int((height - 90 - 0.06 * height) / 12) + 1
        left = (OJ_LEFT * 6)[:rows - len(OJ_LOW_END)] + OJ_LOW_END
    for number in range(1, pages + 1):
        c.setFont("Helvetica", 8)
        if halves is None:
            c.drawString(45, height - 40, f"L 324/{120 + number}   EN   Official Journal of the European Union   "
                                          "10.12.2007")
        for i in range(max(len(left), len(OJ_RIGHT))):
            y = height - 90 - i * 12
            if i < len(left):
                c.drawString(45, y, left[i])
            if i < len(OJ_RIGHT):
                c.drawString(width / 2 + 15, y, OJ_RIGHT[i])
        if footer:
            c.drawString(45, 30, f"{footer} {number}")
        if halves is not None:
            c.drawString(45, height - 40, halves[0])
            c.drawRightString(width - 45, height - 40, halves[1])
            c.drawString(45, 30, halves[2])
            c.drawRightString(width - 45, 30, f"Page {number} of {pages}")
        c.showPage()
    c.save()
    return path


#: Rows of an ICH-style Q&A table: number and date of approval, the question, its longer answer.
QA_TABLE_ROWS: list[tuple[str, str, str]] = [
    ("1.1 Nov 2025", "Does the testing programme for master cell banks also apply to producer cell lines?",
     "Yes. Packaging and producer cell lines used for the manufacture of viral vectors should be qualified as "
     "cell substrates. Testing of the master cell bank should include tests for adventitious viruses using in "
     "vitro methods, and tests for retroviruses where relevant. For producer cell lines that contain "
     "integrated vector sequences, the test design should account for interference of the vector."),
    ("1.2 Nov 2025", "Can next generation sequencing replace the in vivo assays for adventitious viruses?",
     "NGS may replace the in vivo assays when the method has been shown to have an equal or greater breadth of "
     "detection for the viruses of concern. The validation package should include spiking studies with a panel "
     "of model viruses representing different genome types. A risk assessment justifying the replacement "
     "should be included in the marketing application."),
    ("1.3 May 2026", "Is viral testing of each plasmid lot used for transient transfection required?",
     "Plasmids produced in bacterial systems are not considered a source of adventitious viruses that infect "
     "mammalian cells. Viral testing of plasmid lots is therefore not required, but the plasmid manufacturing "
     "process should be described in the application, and any materials of animal origin used in the "
     "process should be addressed in the risk assessment."),
]


def qa_table_pdf(path: Path) -> Path:
    """One page of an ICH Q&A table: a "Questions" column and a wider "Answers" column with an empty strip
    between them, each row drawn cell by cell (the question's lines, then the answer's)."""
    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    c.setFont("Helvetica", 10)
    y = height - 80
    c.drawString(60, y, "# Date Questions")
    c.drawString(320, y, "Answers")
    y -= 20
    for number, question, answer in QA_TABLE_ROWS:
        q_lines = textwrap.wrap(f"{number} {question}", 40)
        a_lines = textwrap.wrap(answer, 48)
        for k, line in enumerate(q_lines):
            c.drawString(60, y - 13 * k, line)
        for k, line in enumerate(a_lines):
            c.drawString(320, y - 13 * k, line)
        y -= 13 * max(len(q_lines), len(a_lines)) + 10
    c.drawCentredString(width / 2, 30, "Page 4 of 8")
    c.showPage()
    c.save()
    return path


#: A question-and-answer document: numbered questions ("Q1: …?") head their answers.
QA_PAGES: list[list[str]] = [
    ["Questions and answers on the classification of advanced therapy medicinal products", "",
     "1. Introduction",
     "This document answers questions that applicants often ask about the classification of their products.",
     "Q1: What is a gene therapy medicinal product?",
     "A gene therapy medicinal product contains a recombinant nucleic acid administered to regulate, repair,",
     "replace, add or delete a genetic sequence.",
     "Q2: Can a CAR-T cell product be classified as a gene therapy medicinal product?",
     "Yes. Autologous T cells genetically modified to express a chimeric antigen receptor are classified as",
     "gene therapy medicinal products."],
    ["2. Combined products",
     "Question 3. Is a scaffold seeded with cells a combined advanced therapy medicinal product?",
     "A product is a combined advanced therapy medicinal product when it incorporates a medical device as an",
     "integral part and its cellular part contains viable cells or tissues."],
    # Questions on lines of their own, unnumbered or "4." (EMA Q&A documents), each followed by its answer;
    # then a list of questions with no answers between them (as in ICH Q9 4.3), which heads nothing.
    ["3. Out-of-specification batches",
     "Can an out-of-specification batch be administered to a patient?",
     "Exceptionally, administering an out-of-specification batch may be acceptable to avoid an immediate",
     "significant hazard to the patient.",
     "Who decides on the administration of such a batch?",
     "The treating physician decides, after a risk assessment by the manufacturer and the qualified person.",
     "4. Does the manufacturer have to notify the competent authority?",
     "The manufacturer should notify the competent authority within 48 hours of the administration.",
     "The risk assessment should answer three questions:", "What might go wrong?",
     "How likely is it to go wrong?", "What are the consequences?"],
]


def qa_pdf(path: Path) -> Path:
    """Write the Q&A document of `QA_PAGES` (plain pages, bottom page numbers)."""
    return plain_pdf(path, QA_PAGES)



#: An adopted EMA guideline: a title page with the adoption table, contents without leader dots (a tab
#: in the Word original, lost in the text layer), "Executive summary" unnumbered, then numbered sections.
EMA_FINAL_PAGES: list[list[str]] = [
    ["Guideline on quality, non-clinical and clinical requirements for investigational advanced therapy",
     "medicinal products in clinical trials", "", "Draft agreed by CAT  March 2019",
     "Adopted by CAT  January 2025", "Date of coming into effect  1 July 2025"],
    ["Table of contents", "Executive summary 3", "1. Introduction 3", "2. Scope 4", "3. Legal basis 4",
     "4. Quality documentation 5", "4.1. General information 5", "4.2. Drug substance 6",
     "5. Non-clinical documentation 8", "5.1. Pharmacology 8", "5.2. Biodistribution 9",
     "6. Clinical documentation 10", "References 12"],
    ["Executive summary", "This guideline describes the expectations for the quality, non-clinical and clinical",
     "documentation of investigational ATMPs in clinical trials.",
     "1. Introduction", "Advanced therapy medicinal products are complex products and the requirements depend on",
     "the stage of development and the risks of the product.",
     "2. Scope", "The guideline applies to gene therapy, somatic cell therapy and tissue engineered products."],
]


def ema_final_pdf(path: Path) -> Path:
    """Write the adopted EMA guideline of `EMA_FINAL_PAGES` (running reference header, "Page N/M")."""
    return plain_pdf(path, EMA_FINAL_PAGES, header="EMA/CAT/852602/2018", label="Page {n}/{total}")


def _draw_marked(c: canvas.Canvas, x: float, y: float, line: str, size: float = 10, rise: float | None = None,
                 gap: float = 0.0) -> None:
    """Draw a line whose "^1", "^13", "^-6" pieces are raised (by `rise`, default 0.35 × size) in a 0.6 × size
    font (footnote markers, exponents), each followed by `gap` points."""
    for k, piece in enumerate(re.split(r"\^(-?\d+)", line)):
        small = k % 2 == 1
        c.setFont("Helvetica", size * 0.6 if small else size)
        c.drawString(x, y + ((size * 0.35 if rise is None else rise) if small else 0), piece)
        x += c.stringWidth(piece, "Helvetica", size * 0.6 if small else size) + (gap if small else 0)


def _body_lines(c: canvas.Canvas, lines: list[str], top: float) -> Iterator[tuple[float, str]]:
    """(y, line) of each body line from `top` down; "NOTE:" lines are drawn as 8 pt footnotes at the foot."""
    y, foot = top, 70.0
    for line in lines:
        if line.startswith("NOTE:"):
            _draw_marked(c, 72, foot, line[len("NOTE:"):], size=8)
            foot -= 11
            continue
        yield y, line
        y -= 14


#: An EMA/CAT draft guideline on gene therapy (after a cover page): "EMA/CAT/…" header, line-number margin,
#: "Page N/M" footer, raised footnote markers and exponents, a reference to Table 1 wrapped onto its own
#: line above the table's caption, a table of values, unnumbered "Definitions" after "References".
#: Lines starting with "NOTE:" are footnotes at the page foot (8 pt).
GT_DRAFT_PAGES: list[list[str]] = [
    ["18 March 2024", "EMA/CAT/123456/2024", "Committee for Advanced Therapies (CAT)",
     "Guideline on the quality, non-clinical and clinical aspects of gene therapy medicinal products",
     "Draft agreed by CAT\tFebruary 2024", "Start of public consultation\t1 April 2024",
     "Keywords\tGene therapy, vector, biodistribution, shedding"],
    ["1. Introduction",
     "This guideline addresses gene therapy medicinal products as defined in Directive 2001/83/EC^1.",
     "Residual host cell DNA should be quantified using validated methods as described in Ph. Eur.^2",
     "The absence of replication-competent virus should be demonstrated at release of each batch.",
     "The occupational exposure limit of the excipient was set at a concentration of 5 µg/m^3.",
     "2. Release specification",
     "The release specification of an AAV vector drug product should include at least the tests listed in",
     "Table 1.",
     "Table 1. Release tests for AAV vector drug product",
     "Test\tMethod\tAcceptance criterion",
     "Vector genome titre\tddPCR\t1.0 × 10^13 – 5.0 × 10^13 vg/mL",
     "Empty/full capsid ratio\tAUC\t≤ 30% empty",
     "Replication-competent AAV\tcell-based assay\t< 1 rcAAV per 10^8 vg",
     "Endotoxin\tLAL\t< 5 EU/kg",
     "NOTE:^1Directive 2001/83/EC of the European Parliament and of the Council on medicinal products.",
     "NOTE:^2European Pharmacopoeia, general chapter 5.14 Gene transfer medicinal products for human use."],
    ["3. References",
     "1. Smith J, Doe A. Vector shedding in clinical trials. Hum Gene Ther. 2019;30:123-34.",
     "2. Brown K, Lee M. Biodistribution of AAV vectors. Mol Ther. 2020;28:456-67.",
     "Definitions",
     "Shedding: the dissemination of the vector through secretions and excreta of the patient.",
     "Transgene: the nucleic acid sequence delivered by the vector that encodes the therapeutic product."],
]


def gene_therapy_draft_pdf(path: Path) -> Path:
    """Write `GT_DRAFT_PAGES` as an EMA/CAT draft (see there); a tab separates table cells."""
    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    number = 0
    for page, lines in enumerate(GT_DRAFT_PAGES, start=1):
        c.setFont("Helvetica", 8)
        c.drawString(72, height - 40, "EMA/CAT/123456/2024")
        c.drawRightString(width - 72, height - 40, "Draft")
        c.drawCentredString(width / 2, 30, f"Page {page}/{len(GT_DRAFT_PAGES)}")
        for y, line in _body_lines(c, lines, height - 80):
            if page > 1:
                number += 1
                c.setFont("Helvetica", 7)
                c.drawString(40, y, str(number))
            for x, cell in zip((72, 230, 330), line.split("\t"), strict=False):
                _draw_marked(c, x, y, cell)
        c.showPage()
    c.save()
    return path


#: An FDA final guidance: a title page, the boxed statement and the title before the first heading,
#: "III." › "A." › "1." headings, a citation of the U.S. Code with a raised marker after its bracket, and a
#: landscape table whose cells wrap (tabs separate cells; "|" continues the cells of the row above).
FDA_FINAL_PAGES: list[list[str]] = [
    ["Potency Assurance for Cellular and Gene Therapy Products", "Guidance for Industry",
     "U.S. Department of Health and Human Services", "Food and Drug Administration", "December 2023"],
    ["Potency Assurance for Cellular and Gene Therapy Products", "Guidance for Industry",
     "This guidance represents the current thinking of the Food and Drug Administration (FDA or",
     "Agency) on this topic. It does not establish any rights for any person and is not binding on FDA or",
     "the public. You can use an alternative approach if it satisfies the requirements of the applicable",
     "statutes and regulations.",
     "I. INTRODUCTION",
     "This guidance applies to CGT products regulated as biologics under section 351 of the PHS Act",
     "(42 U.S.C. 262).^1 It provides recommendations for potency assurance.",
     "II. RECOMMENDATIONS", "A. Potency Assurance Strategy",
     "A potency assurance strategy is a risk-based approach that uses several elements to assure potency.",
     "B. Potency Assays",
     "1. Assay Development",
     "Assay development should begin early so that a suitable potency assay is available before pivotal studies.",
     "2. Assay Validation",
     "For early-phase studies, a qualified assay may be acceptable.",
     "NOTE:^1Section 351 of the Public Health Service Act governs the licensure of biological products."],
    ["Table 1. Examples of Potency-Related Attributes and Assays for a CAR T Cell Product",
     "Attribute\tAssay\tStage\tExample acceptance criterion",
     "Transduction efficiency\tFlow cytometry for CAR\tRelease and stability\t≥ 20% CAR+ T cells of viable CD3+",
     "|\texpression\t\tcells",
     "Vector copy number\tQuantitative PCR (qPCR) or\tRelease\t≤ 5 copies per transduced cell",
     "|\tdroplet digital PCR",
     "Cytotoxic activity\tCo-culture cytotoxicity assay\tRelease and stability\t≥ 30% specific lysis at an effector to",
     "|\tagainst CD19-expressing target\t\ttarget ratio of 10:1",
     "Note: Acceptance criteria in Table 1 are examples only and should be justified for each product."],
]


def fda_final_pdf(path: Path) -> Path:
    """Write `FDA_FINAL_PAGES` (see there): "Contains Nonbinding Recommendations" on every page after the
    first, page numbers from the second, the third page landscape."""
    c = canvas.Canvas(str(path), pagesize=A4)
    for page, lines in enumerate(FDA_FINAL_PAGES, start=1):
        landscape = page == 3
        width, height = (A4[1], A4[0]) if landscape else A4
        c.setPageSize((width, height))
        if page > 1:
            c.setFont("Helvetica", 9)
            c.drawCentredString(width / 2, height - 40, "Contains Nonbinding Recommendations")
            c.drawCentredString(width / 2, 30, str(page - 1))
        for y, line in _body_lines(c, lines, height - 80):
            for x, cell in zip((72, 250, 450, 600), line.split("\t"), strict=False):
                if cell and cell != "|":
                    _draw_marked(c, x, y, cell)
        if page == 2:
            c.rect(66, height - 80 - 14 * 5 - 4, width - 132, 14 * 4 + 2)  # the box round the statement
        c.showPage()
    c.save()
    return path


#: An FDA draft guidance: the title page names it a draft and asks for comments, and every page carries
#: "Draft — Not for Implementation" under "Contains Nonbinding Recommendations".
FDA_DRAFT_PAGES: list[list[str]] = [
    ["Considerations for the Use of Human- and Animal-Derived Materials", "in the Manufacture of Cell and",
     "Gene Therapy Products", "Draft Guidance for Industry",
     "This guidance document is being distributed for comment purposes only.",
     "Comments and suggestions regarding this draft document should be submitted within 90 days of",
     "publication in the Federal Register of the notice announcing the availability of the draft guidance.",
     "U.S. Department of Health and Human Services", "Food and Drug Administration", "April 2024"],
    ["I. INTRODUCTION",
     "This draft guidance provides recommendations on human- and animal-derived materials used in the",
     "manufacture of cell and gene therapy products. When final, it will represent FDA's current thinking.",
     "II. BACKGROUND",
     "Materials of human or animal origin can introduce adventitious agents into the product."],
    ["III. RECOMMENDATIONS",
     "You should qualify each human- or animal-derived material before use in manufacturing.",
     "Bovine serum should be sourced from countries with a negligible risk of bovine spongiform",
     "encephalopathy."],
]


def fda_draft_pdf(path: Path, header: bool = True) -> Path:
    """Write `FDA_DRAFT_PAGES` (see there); `header=False` leaves only the title page to say "draft"."""
    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    for page, lines in enumerate(FDA_DRAFT_PAGES, start=1):
        c.setFont("Helvetica", 9)
        if header:
            c.drawCentredString(width / 2, height - 30, "Contains Nonbinding Recommendations")
            c.drawCentredString(width / 2, height - 42, "Draft — Not for Implementation")
        if page > 1:
            c.drawCentredString(width / 2, 30, str(page - 1))
        y = height - 90
        for line in lines:
            c.setFont("Helvetica", 10)
            c.drawString(72, y, line)
            y -= 15
        c.showPage()
    c.save()
    return path


def notes_first_pdf(path: Path) -> Path:
    """FDA-style pages whose footnotes are written into the content stream *before* the body (drawn at the
    foot in 8 pt with a raised marker, but read first), the body carrying the raised marker."""
    pages = [
        (["^1 Potency is defined in the regulations as the specific ability of the product to effect a given",
          "result."],
         ["I. INTRODUCTION", "This guidance provides recommendations on potency assurance for cell and gene",
          "therapy products. Potency is a critical quality attribute^1 of every product.",
          "II. BACKGROUND", "Measuring the potency of these products is challenging because no single assay",
          "captures every activity of the product."]),
        (["^2 See the regulations on test procedures for the general requirements."],
         ["III. RECOMMENDATIONS", "You should have a quantitative functional assay in place before you begin a",
          "study intended to provide primary evidence of effectiveness.^2 The assay should be qualified."]),
    ]
    c = canvas.Canvas(str(path), pagesize=A4)
    height = A4[1]
    for notes, body in pages:
        for k, note in enumerate(notes):
            _draw_marked(c, 72, 80 - 11 * k, note, size=8)
        for k, line in enumerate(body):
            _draw_marked(c, 72, height - 80 - 14 * k, line)
        c.showPage()
    c.save()
    return path
