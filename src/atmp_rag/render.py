"""A guideline page as a PNG, with the cited sentence marked where it stands on the printed page.

The index stores each page's *cleaned* text (running headers, line numbers and hyphenation removed,
NFKC), and a quote is a range of that text. To mark it on the page image, the quote is found in
PDFium's own character stream of the page: both sides are reduced to their letters and digits
(NFKC, lower case), so hyphenation, ligatures, line breaks and spacing do not matter, and each
matching character brings its box. Boxes on one line are merged into one rectangle.

PDFium is not thread-safe; every call into it here holds one process-wide lock.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: PDFium serves one caller at a time (see the module docstring).
PDFIUM_LOCK = threading.Lock()
HIGHLIGHT_RGBA = (255, 214, 0, 110)  # translucent yellow: the text stays readable under it
OUTLINE_RGBA = (214, 140, 0, 255)


@dataclass(frozen=True)
class Box:
    """A rectangle in PDF points (origin bottom-left of the page, as PDFium reports it)."""

    left: float
    bottom: float
    right: float
    top: float


@dataclass(frozen=True)
class RenderedPage:
    """A page image and the boxes marked on it (in PDF points)."""

    png: bytes
    boxes: list[Box]
    width: int
    height: int
    found: bool  # every requested range was located on the page


def _key(chars: Sequence[str]) -> tuple[str, list[int], list[bool]]:
    """Letters and digits of `chars` (NFKC, lower case), the index each came from, and whether it begins a line
    with a number (the line-number margins of EMA drafts, which the stored text no longer has)."""
    key: list[str] = []
    owner: list[int] = []
    margin: list[bool] = []
    line_start = True
    in_margin = False
    for i, c in enumerate(chars):
        if c in "\r\n":
            line_start, in_margin = True, False
            continue
        norm = unicodedata.normalize("NFKC", c).lower()
        kept = [x for x in norm if x.isalnum()]
        if line_start and c.strip():
            in_margin = c.isdigit()
            line_start = False
        elif in_margin and not c.isdigit():
            in_margin = False
        for x in kept:
            key.append(x)
            owner.append(i)
            margin.append(in_margin)
    return "".join(key), owner, margin


def _quote_key(text: str) -> str:
    return "".join(x for x in unicodedata.normalize("NFKC", text).lower() if x.isalnum())


def _find(haystack: str, needle: str, near: float) -> int:
    """Index of the occurrence of `needle` closest to relative position `near` (0..1), or -1."""
    best, best_dist = -1, 2.0
    start = haystack.find(needle)
    while start >= 0:
        dist = abs(start / max(1, len(haystack)) - near)
        if dist < best_dist:
            best, best_dist = start, dist
        start = haystack.find(needle, start + 1)
    return best


def locate(chars: Sequence[str], text: str, near: float = 0.0) -> list[int] | None:
    """Indices into `chars` (PDFium's characters of a page) that spell `text`, or None if it is not there.

    `near` is the expected relative position on the page (the quote's offset / page length), which
    picks among repeated occurrences of a short quote.
    """
    needle = _quote_key(text)
    if not needle:
        return None
    key, owner, margin = _key(chars)
    at = _find(key, needle, near)
    if at >= 0:
        return owner[at:at + len(needle)]
    # EMA drafts number their lines in the margin; the stored text dropped those numbers.
    kept = [i for i, m in enumerate(margin) if not m]
    stripped = "".join(key[i] for i in kept)
    at = _find(stripped, needle, near)
    if at >= 0:
        return [owner[kept[j]] for j in range(at, at + len(needle))]
    return None


def line_boxes(char_boxes: Sequence[tuple[float, float, float, float]]) -> list[Box]:
    """Merge character boxes (left, bottom, right, top) into one box per line of text."""
    boxes: list[Box] = []
    cur: list[float] | None = None
    for left, bottom, right, top in char_boxes:
        if right <= left or top <= bottom:
            continue  # generated spaces and line breaks have empty boxes
        if cur is not None and abs((bottom + top) / 2 - (cur[1] + cur[3]) / 2) < 0.6 * max(top - bottom, 1.0) \
                and left >= cur[0] - 2:
            cur = [min(cur[0], left), min(cur[1], bottom), max(cur[2], right), max(cur[3], top)]
            continue
        if cur is not None:
            boxes.append(Box(*cur))
        cur = [left, bottom, right, top]
    if cur is not None:
        boxes.append(Box(*cur))
    return boxes


def render_page(pdf_path: Path, number: int, scale: float = 1.5,
                highlights: Sequence[tuple[str, float]] = ()) -> RenderedPage:
    """PNG of 1-based PDF page `number`, with each highlight (text, expected relative position) marked.

    Raises IndexError for a page the PDF does not have.
    """
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c
    from PIL import Image, ImageDraw

    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(str(pdf_path))
        try:
            if not 1 <= number <= len(pdf):
                raise IndexError(f"{pdf_path.name} has {len(pdf)} pages, not {number}")
            page = pdf[number - 1]
            boxes: list[Box] = []
            found = True
            if highlights:
                textpage = page.get_textpage()
                n = textpage.count_chars()
                chars = [chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i)) for i in range(n)]
                for text, near in highlights:
                    hit = locate(chars, text, near)
                    if hit is None:
                        found = False
                        continue
                    boxes += line_boxes([textpage.get_charbox(i, loose=False) for i in hit])
                textpage.close()
            crop_left, _crop_bottom, _crop_right, crop_top = page.get_cropbox()
            image = page.render(scale=scale).to_pil().convert("RGBA")
            page.close()
        finally:
            pdf.close()
    if boxes:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        pad = 1.5 * scale
        for b in boxes:
            # PDF points (origin bottom-left) -> pixels (origin top-left) of the rendered crop box.
            x0, x1 = (b.left - crop_left) * scale - pad, (b.right - crop_left) * scale + pad
            y0, y1 = (crop_top - b.top) * scale - pad, (crop_top - b.bottom) * scale + pad
            draw.rectangle((x0, y0, x1, y1), fill=HIGHLIGHT_RGBA, outline=OUTLINE_RGBA, width=max(1, round(scale)))
        image = Image.alpha_composite(image, overlay)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", optimize=False)
    return RenderedPage(buf.getvalue(), boxes, image.width, image.height, found)
