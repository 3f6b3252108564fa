"""Render a guideline page as an image from the local corpus folder (pypdfium2).

The API serves page *text*; the picture of the page comes from the PDF in `settings.corpus_dir`
when the UI runs next to it. The file is checked against the catalog's sha256 first, so the image
is never of a different edition than the one the index was built from.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import streamlit as st


@st.cache_data(show_spinner=False, max_entries=256)
def _sha256(path: str, mtime: float, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def local_pdf(corpus_dir: Path, file: str | None, sha256: str = "") -> tuple[Path | None, str]:
    """The local copy of a guideline PDF, or None with the reason it cannot be shown."""
    if not file:
        return None, "the catalog names no PDF file for this document"
    path = corpus_dir / file
    if not path.is_file():
        return None, f"{file} is not in the local corpus folder ({corpus_dir})"
    if sha256:
        stat = path.stat()
        if _sha256(str(path), stat.st_mtime, stat.st_size) != sha256.lower():
            return None, f"{file} in {corpus_dir} does not match the catalog's sha256 (another edition?)"
    return path, ""


@st.cache_data(show_spinner=False, max_entries=64)
def render_page(path: str, number: int, scale: float = 1.4) -> bytes:
    """PNG bytes of 1-based PDF page `number`."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    try:
        page = pdf[number - 1]
        image = page.render(scale=scale).to_pil()
        page.close()
    finally:
        pdf.close()
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
