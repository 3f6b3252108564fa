"""Small PDF factories for the extraction tests, written with reportlab into a caller's folder.

Each helper returns the path it wrote. The EMA-like document mimics the furniture of EMA drafts
(line-number margin, reference header, "Page N/M" footer) so the cleaning steps can be checked
against a known ground truth.
"""

from __future__ import annotations

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


def plain_pdf(path: Path, pages: list[list[str]], header: str | None = None, first_number: int = 1) -> Path:
    """Write simple pages of text lines, with an optional running header and a bottom page number
    (the first page printing `first_number`)."""
    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    for number, lines in enumerate(pages, start=1):
        if header:
            c.setFont("Helvetica", 9)
            c.drawString(72, height - 40, header)
        c.setFont("Helvetica", 10)
        y = height - 80
        for line in lines:
            c.drawString(72, y, line)
            y -= 14
        c.setFont("Helvetica", 9)
        c.drawCentredString(width / 2, 30, str(number + first_number - 1))
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
