"""Page images: a quote of the stored (cleaned) text is found on the printed page and marked there.

The check is PDFium's own: the text inside the drawn boxes, read back from the page, must spell the
quote. Covered: a real ICH page, an EMA-style draft whose line-number margin the stored text no
longer has, a repeated short phrase, and a quote that is not on the page.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from atmp_rag.extract import extract_pages
from atmp_rag.render import Box, locate, render_page
from tests.conftest import real_pdf
from tests.pdfgen import ema_like_pdf

Q9 = "ich-q9-quality-risk-management-2005.pdf"


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def text_in_boxes(pdf: Path, number: int, boxes: list[Box]) -> str:
    """What PDFium reads inside the boxes (slightly inset, so neighbouring lines stay out)."""
    doc = pdfium.PdfDocument(str(pdf))
    try:
        textpage = doc[number - 1].get_textpage()
        return " ".join(textpage.get_text_bounded(b.left, b.bottom + 1, b.right, b.top - 1) for b in boxes)
    finally:
        doc.close()


def yellow_share(png: bytes, box: Box, crop_top: float, scale: float) -> float:
    """Share of the box's pixels that carry the highlight's yellow tint."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    x0, x1 = int(box.left * scale), int(box.right * scale)
    y0, y1 = int((crop_top - box.top) * scale), int((crop_top - box.bottom) * scale)
    pixels = [image.getpixel((x, y)) for x in range(x0 + 2, x1 - 2, 3) for y in range(y0 + 2, y1 - 2, 3)]
    tinted = [p for p in pixels if p[0] > 200 and p[1] > 150 and p[2] < 200]
    return len(tinted) / max(1, len(pixels))


def test_a_quote_of_a_real_page_is_marked_where_it_is_printed() -> None:
    pdf = real_pdf(Q9)
    page = extract_pages(pdf, "q9")[5]
    quote = "This guideline provides principles and examples of tools for quality risk management"
    start = page.text.index(quote)
    rendered = render_page(pdf, 6, 1.5, [(quote, start / len(page.text))])
    assert rendered.found and rendered.boxes
    assert words(text_in_boxes(pdf, 6, rendered.boxes)) == words(quote)
    crop_top = 842.0  # A4 portrait, the crop box of this PDF
    assert all(yellow_share(rendered.png, b, crop_top, 1.5) > 0.5 for b in rendered.boxes)


def test_a_quote_across_lines_of_a_draft_with_line_numbers(tmp_path: Path) -> None:
    pdf = ema_like_pdf(tmp_path / "draft.pdf")
    pages = extract_pages(pdf, "draft")
    quote = "The risk assessment should consider the starting materials, the process and\nthe facilities."
    assert quote in pages[1].text  # the stored text has no line numbers; the printed page has 19 and 20
    rendered = render_page(pdf, 2, 1.0, [(quote, 0.5)])
    assert rendered.found and len(rendered.boxes) == 2  # one box per printed line
    assert words(text_in_boxes(pdf, 2, rendered.boxes)) == words(quote)


def test_a_quote_that_is_not_on_the_page_marks_nothing() -> None:
    pdf = real_pdf(Q9)
    rendered = render_page(pdf, 6, 1.0, [("Gene therapy vectors must be sequenced in full.", 0.5)])
    assert not rendered.found and rendered.boxes == []
    assert abs(Image.open(io.BytesIO(rendered.png)).size[0] - 595) <= 1  # A4 at 1 pixel per point


def test_a_repeated_phrase_is_marked_at_its_own_occurrence() -> None:
    chars = list("risk control\r\nmore text here\r\nrisk control")
    first = locate(chars, "risk control", near=0.0)
    last = locate(chars, "risk control", near=0.95)
    assert first is not None and last is not None
    assert "".join(chars[i] for i in first).replace(" ", "") == "riskcontrol"
    assert min(last) > max(first)


def test_a_page_the_pdf_does_not_have() -> None:
    with pytest.raises(IndexError, match="has 23 pages"):
        render_page(real_pdf(Q9), 99)
