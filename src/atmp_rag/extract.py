"""PDF -> cleaned pages.

Two interchangeable text backends (``pypdfium2``, the fast default, and ``pypdf`` in layout mode)
produce raw page texts (pypdfium2 reads a two-column page column by column: `two_columns`, and writes
raised, smaller digits as Unicode superscripts: `mark_superscripts`); one
backend-independent cleaning pipeline then turns them into the text the rest of the system stores,
chunks and quotes:

1. ``normalize_text``      \\r\\n -> \\n, NFKC except superscripts (also expands the ligatures ﬁ ﬂ ﬀ ﬃ ﬄ), Symbol-font
                           private-use glyphs mapped, soft hyphens removed (a soft hyphen at a line
                           end joins the word), pdfium's end-of-line hyphen marker U+FFFE turned
                           back into "-\\n" so that one hyphenation rule serves every backend.
2. ``normalize_whitespace`` per line: leading/trailing blanks trimmed, runs of blanks -> one space,
                           dot leaders -> "...".
3. ``remove_line_numbers`` EMA-style line-number margins (a run of consecutive integers at the
                           start of most lines of a page).
4. running headers/footers and printed page numbers: ``find_running_lines`` over the whole
                           document, ``find_page_numbers`` (with neighbour-page consistency), and
                           ``strip_furniture`` per page.
5. ``join_hyphenation``    end-of-line hyphens; see the function for the rule.
6. ``collapse_blank_lines``

Line breaks are kept: the chunker uses them to find headings.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
import statistics
import unicodedata
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from atmp_rag.models import Page
from atmp_rag.table_layout import rebuild_rows
from atmp_rag.text.content import classify_pages
from atmp_rag.text.headings import CONTENTS_TITLE, NUMBERED_ENTRY, roman_to_int
from atmp_rag.text.sentences import CIRCLED_DIGITS, RAISED, SUPERSCRIPT_DIGITS

if TYPE_CHECKING:
    import pypdfium2 as pdfium

__all__ = [
    "BACKENDS",
    "Cleaned",
    "Extracted",
    "ExtractionError",
    "PageNumber",
    "PdfBackend",
    "RawDocument",
    "Vocabulary",
    "clean_pages",
    "collapse_blank_lines",
    "extract_document",
    "extract_pages",
    "find_page_numbers",
    "find_running_lines",
    "get_backend",
    "interpolate_labels",
    "is_toc_page",
    "join_hyphenation",
    "line_number_margin",
    "mark_superscripts",
    "normalize_text",
    "normalize_whitespace",
    "pdf_metadata",
    "remove_line_numbers",
    "strip_furniture",
]

log = logging.getLogger(__name__)


def _wordset(words: str) -> frozenset[str]:
    """A set of space-separated words (keeps long word lists readable)."""
    return frozenset(words.split())


class ExtractionError(Exception):
    """A PDF that cannot be turned into pages; `reason` is a short message shown to users."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# backends


@dataclass
class RawDocument:
    """What a backend returns: raw text per page and the PDF page labels if the file defines them."""

    texts: list[str]
    labels: list[str] | None = None


class PdfBackend(ABC):
    """A PDF text extractor. Implementations raise ExtractionError with a user-facing reason."""

    name: ClassVar[str]

    @abstractmethod
    def read(self, path: Path, max_page_chars: int) -> RawDocument:
        """Raw text of every page; raises ExtractionError for unreadable files or oversized pages."""


def _too_large(number: int, n_chars: int, limit: int) -> ExtractionError:
    return ExtractionError(f"page {number} has {n_chars} characters, over the limit of {limit}")


def _no_pages() -> ExtractionError:
    return ExtractionError("no pages: the PDF contains zero pages")


def _encrypted() -> ExtractionError:
    return ExtractionError("encrypted: the PDF needs a password to open; provide an unencrypted copy")


def _corrupt(detail: str) -> ExtractionError:
    return ExtractionError(f"corrupt or truncated PDF ({detail})")


class PdfiumBackend(PdfBackend):
    """pypdfium2 (PDFium): fast and robust; the default."""

    name: ClassVar[str] = "pypdfium2"

    def read(self, path: Path, max_page_chars: int) -> RawDocument:
        """Raw text of every page via PDFium's text page API."""
        import pypdfium2 as pdfium

        try:
            doc = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as exc:
            raise _diagnose_load_failure(path, exc) from exc
        try:
            n = len(doc)
            if n == 0:
                raise _no_pages()
            texts: list[str] = []
            for i in range(n):
                page = doc[i]
                textpage = page.get_textpage()
                # Count before extracting so an absurd page is refused without materialising it.
                n_chars = textpage.count_chars()
                if n_chars > max_page_chars:
                    raise _too_large(i + 1, n_chars, max_page_chars)
                columns = two_columns(textpage, *page.get_size())
                text = "\n".join(columns) if columns else page_text(textpage, textpage.get_text_range())
                if len(text) > max_page_chars:
                    raise _too_large(i + 1, len(text), max_page_chars)
                texts.append(text)
                textpage.close()
                page.close()
            raw_labels = [doc.get_page_label(i) for i in range(n)]
            labels = raw_labels if any(raw_labels) else None
            return RawDocument(texts=texts, labels=labels)
        except pdfium.PdfiumError as exc:
            raise _corrupt(str(exc)) from exc
        finally:
            doc.close()


def two_columns(textpage: pdfium.PdfTextPage, width: float, height: float) -> tuple[str, ...] | None:
    """The texts of a two-column page in reading order (the Official Journal of the EU prints
    regulations and directives so): a running header that crosses the middle, the left column, the right
    column, a running footer that crosses the middle; None for any other page.

    PDFium returns text in content-stream order, and some producers write a two-column page line by
    line across both columns, which interleaves half-sentences. A page is two-column when a vertical
    strip near the middle holds no character between the header and footer bands, and each side reads
    as running text (at least 8 lines, median line at least 30 characters): a table whose cells leave
    the middle empty has short lines and keeps the usual extraction; so does any page with a line
    across the middle (a full-width title or paragraph), and a table of prose cells whose rows leave one
    side empty beside a longer cell of the other (`_unpaired`). The header and footer bands are kept whole (cut
    at the middle, a line's halves were glued to the first and last sentences of the columns).
    """
    low = _band_edge(textpage, width, height * 0.07, -2.0, height)
    high = _band_edge(textpage, width, height * 0.93, 2.0, height)
    for share in (0.5, 0.475, 0.525, 0.45, 0.55, 0.425, 0.575):
        x = width * share
        if _has_text(textpage, x - 2, low, x + 2, high):
            continue
        # Header and footer bands are read whole, before and after the columns, whether or not a line
        # crosses the middle: a header in two parts ("HEALTH SCIENCES AUTHORITY" left, the title right)
        # would otherwise end each column's text, where no running-line check looks for it.
        top = high if _has_text(textpage, 0, high, width, height) else height
        bottom = low if _has_text(textpage, 0, 0, width, low) else 0.0
        left = textpage.get_text_bounded(left=0, bottom=bottom, right=x, top=top)
        right = textpage.get_text_bounded(left=x, bottom=bottom, right=width, top=top)
        if not (_running_text(left) and _running_text(right)) or _unpaired(textpage, width, x, low, high) > 0.33:
            return None
        header = textpage.get_text_bounded(left=0, bottom=top, right=width, top=height) if top < height else ""
        footer = textpage.get_text_bounded(left=0, bottom=0, right=width, top=bottom) if bottom > 0 else ""
        return tuple(t for t in (header, left, right, footer) if t.strip())
    return None


def _has_text(textpage: pdfium.PdfTextPage, left: float, bottom: float, right: float, top: float) -> bool:
    """Whether any visible character lies in the rectangle."""
    return bool(textpage.get_text_bounded(left=left, bottom=bottom, right=right, top=top).strip())


def _unpaired(textpage: pdfium.PdfTextPage, width: float, x: float, low: float, high: float,
              step: float = 3.0) -> float:
    """The larger share of text-bearing heights, between the first and last height where both sides of `x` bear
    text, at which only one side does.

    Two columns of running text are both full down the page (gaps only between paragraphs, about 10–20 % of
    the heights); a table of prose cells (an ICH Q&A's "Questions" | "Answers") leaves one column empty beside
    every answer longer than its question (40–50 %), and read as two columns would put every question of the
    page before every answer."""
    bands = []
    y = low
    while y < high:
        bands.append((_has_text(textpage, 0, y, x, y + step), _has_text(textpage, x, y, width, y + step)))
        y += step
    both = [k for k, (a, b) in enumerate(bands) if a and b]
    if not both:
        return 1.0
    inner = bands[both[0]:both[-1] + 1]
    bearing = sum(1 for a, b in inner if a or b)
    return max(sum(1 for a, b in inner if a and not b), sum(1 for a, b in inner if b and not a)) / bearing


def _band_edge(textpage: pdfium.PdfTextPage, width: float, edge: float, step: float, height: float) -> float:
    """`edge` of a header or footer band moved by `step` (towards the page's edge) past the body's lines:
    a column's last line set low on the page ("… linking of each product to the" at 6 % of the height)
    belongs to the column, not to the footer band. A line goes with the body when it crosses the edge, or
    lies just inside the band less than a line's gap (10 pt) from text just outside it; a running line is
    set further off."""

    def has_text(a: float, b: float) -> bool:
        return _has_text(textpage, 0, min(a, b), width, max(a, b))

    gap = 10.0 * (1 if step > 0 else -1)
    while 0.0 < edge < height and (has_text(edge - 0.5, edge + 0.5) or (
            has_text(edge + step / 4, edge + gap) and has_text(edge - step / 4, edge - gap))):
        edge += step
    return min(max(edge, 0.0), height)


#: Characters that may be raised: digits, and a sign right before a digit ("10⁻⁶").
_RAISABLE = re.compile(r"\d|[-+−](?=\d)")
_TO_SUPERSCRIPT = str.maketrans("0123456789+-−", SUPERSCRIPT_DIGITS + "⁺⁻⁻")
#: How far `mark_superscripts` looks for the character a raised one sits beside.
_NEIGHBOURHOOD = 6


def mark_superscripts(textpage: pdfium.PdfTextPage, text: str) -> str:
    """`text` (PDFium's text of `textpage`, one character per char index) with raised, smaller digits
    written as Unicode superscripts: footnote markers ("Directive 2001/83/EC³", "design space¹"),
    exponents ("1 × 10¹³ vg/kg", "10⁻⁶") and units ("m²").

    Plain text loses the raise, and a marker or exponent then reads as part of the number it follows:
    "2001/83/EC3", "10¹³" as "1013" — a misquote of exactly the figures a regulatory answer is read for.
    A digit (or a sign before one) is raised when its font is smaller than that of the character beside
    it on the same line (< 0.85×) and its baseline sits between 0.15 and 0.9 of that font size higher;
    a digit after a raised one with the same size and baseline is raised too. Same-size raised digits
    (a text rise without a smaller font) are left alone: without the size difference a table cell set
    higher than its neighbour would read as a superscript.
    """
    raised, dropped = _raised(textpage, text)
    if not raised:
        return text
    render = _renderer(text, raised, dropped)
    return "".join(render(k) for k in range(len(text)))


def page_text(textpage: pdfium.PdfTextPage, text: str) -> str:
    """A one-column page's text: `mark_superscripts`, and tables whose cells wrap read row by row
    (`table_layout.rebuild_rows`)."""
    if len(text) != textpage.count_chars():
        return text  # PDFium's text and its char indices disagree: leave the text as it is
    raised, dropped = _raised(textpage, text)
    render = _renderer(text, raised, dropped)
    rows = rebuild_rows(textpage, text, render)
    if rows is not None:
        return rows
    return "".join(render(k) for k in range(len(text))) if raised else text


def _renderer(text: str, raised: set[int], dropped: set[int]) -> Callable[[int], str]:
    """The text of char k as the page reads it: "" for a dropped line break, a superscript for a raised digit."""
    def render(k: int) -> str:
        return "" if k in dropped else text[k].translate(_TO_SUPERSCRIPT) if k in raised else text[k]

    return render


def _raised(textpage: pdfium.PdfTextPage, text: str) -> tuple[set[int], set[int]]:
    """Char indices of `mark_superscripts`' raised characters, and of the line breaks it drops before them."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    if len(text) != textpage.count_chars() or not _RAISABLE.search(text):
        return set(), set()  # PDFium's text and its char indices disagree: leave the text as it is
    x, y = ctypes.c_double(), ctypes.c_double()
    seen: dict[int, tuple[float, float, float, float]] = {}

    def glyph(k: int) -> tuple[float, float, float, float]:
        """Font size, baseline y, left and right edge of char k."""
        if k not in seen:
            size = float(pdfium_c.FPDFText_GetFontSize(textpage, k))
            pdfium_c.FPDFText_GetCharOrigin(textpage, k, x, y)
            left, _, right, _ = textpage.get_charbox(k)
            seen[k] = (size, y.value, left, right)
        return seen[k]

    def beside(k: int, r: int) -> bool:
        size, base, left, right = glyph(k)
        r_size, r_base, r_left, r_right = glyph(r)
        if r_size <= 0 or size <= 0 or size >= 0.85 * r_size:
            return False
        gap = left - r_right if r < k else r_left - right
        return 0.15 * r_size < base - r_base < 0.9 * r_size and -0.5 * r_size < gap < 1.5 * r_size

    raised: set[int] = set()
    dropped: set[int] = set()
    for m in _RAISABLE.finditer(text):
        k = m.start()
        before = next((j for j in range(k - 1, max(-1, k - _NEIGHBOURHOOD), -1) if not text[j].isspace()), None)
        if before is not None and before in raised:
            size, base, _, _ = glyph(k)
            b_size, b_base, _, _ = glyph(before)
            if abs(size - b_size) < 0.5 and abs(base - b_base) < 0.3 * max(b_size, 1.0):
                raised.add(k)
            continue
        if before is not None and text[before].isprintable() and beside(k, before):
            raised.add(k)
            if text[before + 1:k] in ("\r\n", "\n"):
                # PDFium starts a new line at a raised digit that ends its line ("Titre of 10\r\n8"): the
                # digit belongs to the line it is raised above.
                dropped.update(range(before + 1, k))
            continue
        after = next((j for j in range(k + 1, min(len(text), k + _NEIGHBOURHOOD))
                      if not text[j].isspace() and not _RAISABLE.match(text, j)), None)
        if after is not None and text[after].isprintable() and beside(k, after):
            raised.add(k)
    return raised, dropped


def _running_text(text: str) -> bool:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return len(lines) >= 8 and statistics.median(len(ln) for ln in lines) >= 30


class PypdfBackend(PdfBackend):
    """pypdf, pure Python. `layout=True` uses ``extraction_mode="layout"``, which keeps word spacing."""

    name: ClassVar[str] = "pypdf"

    def __init__(self, layout: bool = True) -> None:
        self.layout = layout

    def read(self, path: Path, max_page_chars: int) -> RawDocument:
        """Raw text of every page via pypdf."""
        from pypdf import PdfReader
        from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

        try:
            reader = PdfReader(path, strict=False)
            if reader.is_encrypted:
                try:
                    ok = reader.decrypt("")
                except (DependencyError, NotImplementedError) as exc:
                    raise _encrypted() from exc
                if not ok:
                    raise _encrypted()
            n = len(reader.pages)
            if n == 0:
                raise _no_pages()
            texts = []
            for i, page in enumerate(reader.pages):
                text = page.extract_text(extraction_mode="layout") if self.layout else page.extract_text()
                if len(text) > max_page_chars:
                    raise _too_large(i + 1, len(text), max_page_chars)
                texts.append(text)
            labels = list(reader.page_labels) if "/PageLabels" in reader.trailer["/Root"] else None
            return RawDocument(texts=texts, labels=labels)
        except FileNotDecryptedError as exc:
            raise _encrypted() from exc
        except ExtractionError:
            raise
        except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            # pypdf surfaces broken structure as assorted exceptions deep in its parser.
            raise _corrupt(f"{type(exc).__name__}: {exc}") from exc


def _diagnose_load_failure(path: Path, exc: Exception) -> ExtractionError:
    """Name the reason PDFium could not open a file.

    PDFium fails on an empty page tree without an error of its own, and its error code is a
    process-wide "last error" that can be stale, so pypdf is asked first.
    """
    try:
        from pypdf import PdfReader

        reader = PdfReader(path, strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    return _encrypted()
            except Exception:  # missing crypto dependency: still a password-protected file
                return _encrypted()
        if len(reader.pages) == 0:
            return _no_pages()
    except Exception:  # pypdf cannot read it either: fall through to PDFium's own verdict
        pass
    if getattr(exc, "err_code", None) == 4:  # FPDF_ERR_PASSWORD
        return _encrypted()
    return _corrupt(str(exc))


#: Backends by name. "pypdf" is layout mode (measured better, see bench/extract.py).
BACKENDS: dict[str, PdfBackend] = {
    "pypdfium2": PdfiumBackend(),
    "pypdf": PypdfBackend(layout=True),
    "pypdf-plain": PypdfBackend(layout=False),
}


def get_backend(name: str) -> PdfBackend:
    """The backend registered under `name`; ValueError lists the valid names."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"unknown PDF backend {name!r}; choose one of {sorted(BACKENDS)}") from None


def _check_file(path: Path) -> None:
    """Cheap structural checks that give clearer messages than the parsers' own errors."""
    if not path.is_file():
        raise ExtractionError(f"file not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise _corrupt("empty file")
    with path.open("rb") as handle:
        head = handle.read(1024)
        handle.seek(max(0, size - 8192))
        tail = handle.read()
    if b"%PDF-" not in head:
        raise _corrupt("no PDF header; not a PDF file")
    # Parsers silently rebuild a cut file and return fewer pages; an interrupted download is the
    # usual cause, so a missing end-of-file marker is reported instead of half a document.
    if b"%%EOF" not in tail:
        raise _corrupt("no %%EOF marker at the end of the file")


# --------------------------------------------------------------------------------------------
# cleaning steps

#: Glyphs of the Symbol / Wingdings fonts that PDF producers leave in the private-use area.
_PUA_MAP = str.maketrans({
    "\uf020": " ",
    "\uf02b": "+",
    "\uf02d": "-",
    "\uf03d": "=",
    "\uf0a3": "≤",
    "\uf0a7": "▪",
    "\uf0b0": "°",
    "\uf0b1": "±",
    "\uf0b3": "≥",
    "\uf0b4": "×",
    "\uf0b7": "•",
    "\uf0d8": "➢",
    "\uf0fc": "✓",
})


#: A line break that PDFium puts after a superscript digit glued to a word or a punctuation mark (or after
#: any digit that `mark_superscripts` found raised), the line going on after a space.
_MARKER_BREAK = re.compile(rf"(?:(?<=[^\W\d_]\d)|(?<=[^\W\d_]\d\d)|(?<=[.,;:)]\d)|(?<={RAISED}))\r?\n (?=\S)")
#: The same break before the punctuation mark that follows a raised marker or exponent ("10⁻⁶\r\n."): joined
#: without a space.
_RAISED_BREAK = re.compile(rf"(?<={RAISED})\r?\n(?=[.,;:)\]])")
#: A footnote's raised marker alone on its line, its text on the next ("⁴\r\nIntegrating vectors …"): joined.
_MARKER_LINE = re.compile(rf"(?m)^({RAISED}{{1,3}})\r?\n(?=[A-Z])")
#: Superscripts survive NFKC (folded to digits they would glue to the number before them again), and so
#: does the micro sign ("µg", which NFKC turns into the Greek letter mu, a different character to search for)
#: and circled numbers (Korean and Japanese list markers "① … ②": folded, "1 Cell viability" is no item).
_KEPT = re.compile(rf"[{SUPERSCRIPT_DIGITS}⁺⁻]+|µ|[{CIRCLED_DIGITS}]")


def _nfkc(text: str) -> str:
    """NFKC of everything but superscript digits and signs and the micro sign."""
    pieces, pos = [], 0
    for m in _KEPT.finditer(text):
        pieces += [unicodedata.normalize("NFKC", text[pos:m.start()]), m.group()]
        pos = m.end()
    pieces.append(unicodedata.normalize("NFKC", text[pos:]))
    return "".join(pieces)


def normalize_text(text: str) -> str:
    """Unicode and line-ending normalisation of one raw page text.

    NFKC folds compatibility characters (ligatures "ﬁ" -> "fi", no-break spaces, full-width
    forms) but not superscript digits, which would glue to the number before them; a soft hyphen
    before a line break marks a word broken by the typesetter, so the two halves are joined; other
    soft hyphens are dropped. PDFium replaces a line-final hyphen by U+FFFE (U+0002 in text read from
    a rectangle) and glues the lines together; the marker is turned back into "-\\n" so that
    `join_hyphenation` decides for every backend alike. A raised footnote marker makes PDFium break
    the line right after it and go on with a space ("Directive3\r\n 2002/98/EC apply …"): that line is
    joined again, so the sentence is not cut in two at the marker; so is the break after a footnote's own
    raised marker and the break before punctuation after a raised digit.
    """
    text = _MARKER_LINE.sub(r"\1 ", _RAISED_BREAK.sub("", _MARKER_BREAK.sub(" ", text)))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # (PDFium's bounded text, read for two-column pages, writes that marker as U+0002.)
    text = text.replace("\ufffe", "-\n").replace("\x02", "-\n").replace("\u00ad\n", "").replace("\u00ad", "")
    text = text.translate(_PUA_MAP)
    text = _nfkc(text)
    # NFKC leaves these; they are line/paragraph separators or invisible.
    return text.replace("\u2028", "\n").replace("\u2029", "\n").replace("\u200b", "").replace("\x00", "")


_BLANKS = re.compile(r"[ \t\f\v]+")
_LEADER = re.compile(r"\s*(?:\.\s?){4,}\s*")
_RULE = re.compile(r"_{4,}")


def normalize_whitespace(text: str) -> str:
    """Trim every line, collapse runs of blanks (layout-mode padding carries no meaning here) and
    shorten dot leaders and fill-in rules to "..." / "___" (each dot would cost a token)."""
    out = []
    for line in text.split("\n"):
        line = _LEADER.sub(" ... ", line)
        line = _RULE.sub("___", line)
        out.append(_BLANKS.sub(" ", line).strip())
    return "\n".join(out)


_LEADING_INT = re.compile(r"^(\d{1,5})(?: (.*))?$")


def remove_line_numbers(lines: list[str], min_run: int = 5, min_share: float = 0.6,
                        follows: int | None = None) -> list[str]:
    """Remove an EMA-style line-number margin from one page's lines.

    A margin is the longest chain of lines (in reading order, other lines may sit in between)
    whose leading integers increase by exactly one; it counts only when it covers at least
    `min_run` lines and `min_share` of the page's text lines, so numbered lists and table rows
    stay untouched. A chain that goes on from `follows`, the last margin number of the page before,
    needs no share: a page with a figure or a table of unnumbered lines keeps its margin off. Bare
    numbers (a backend emitting the margin as separate lines) are dropped, prefixed numbers stripped.
    """
    return _strip_margin(lines, min_run, min_share, follows)[0]


def _strip_margin(lines: list[str], min_run: int = 5, min_share: float = 0.6,
                  follows: int | None = None) -> tuple[list[str], int | None]:
    """`remove_line_numbers`, and the last number of the margin it removed (None when it removed none)."""
    margin = line_number_margin(lines, min_run)
    if margin is None:
        return lines, None
    chain, first, last = margin
    # Bare margin numbers are not text lines: the share is measured against real text lines.
    text_lines = sum(1 for i, line in enumerate(lines) if line.strip() and not (i in chain and " " not in line))
    if len(chain) < min_share * max(text_lines, 1) and (follows is None or first != follows + 1):
        return lines, None
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in chain:
            m = _LEADING_INT.match(line)
            rest = m.group(2) if m else None
            if rest:
                out.append(rest)
            continue
        out.append(line)
    return out, last


def line_number_margin(lines: list[str], min_run: int = 5) -> tuple[set[int], int, int] | None:
    """The longest chain of lines whose leading integers increase by one (indices, first and last number),
    if it is at least `min_run` long: a line-number margin when `remove_line_numbers` accepts it."""
    best_len: dict[int, int] = {}
    best_end: dict[int, int] = {}
    prev: dict[int, int] = {}
    for i, line in enumerate(lines):
        m = _LEADING_INT.match(line)
        if m is None:
            continue
        value = int(m.group(1))
        length = best_len.get(value - 1, 0) + 1
        if length > best_len.get(value, 0):
            best_len[value] = length
            best_end[value] = i
            if value - 1 in best_end and length > 1:
                prev[i] = best_end[value - 1]
    if not best_len:
        return None
    end_value = max(best_len, key=lambda v: (best_len[v], -v))
    run = best_len[end_value]
    if run < min_run:
        return None
    chain: set[int] = set()
    idx: int | None = best_end[end_value]
    while idx is not None and len(chain) < run:
        chain.add(idx)
        idx = prev.get(idx)
    return chain, end_value - run + 1, end_value


def _furniture_key(line: str) -> str:
    """Digits folded so that "Page 3/45" and "Page 4/45" count as the same running line."""
    return re.sub(r"\d+", "#", line.strip())


def _edge_indices(lines: Sequence[str], depth: int) -> list[int]:
    """Indices of the first and last `depth` non-blank lines (the header and footer zones)."""
    filled = [i for i, line in enumerate(lines) if line.strip()]
    return sorted(set(filled[:depth] + filled[-depth:]))


def find_running_lines(pages: Sequence[Sequence[str]], depth: int = 3, min_share: float = 0.3) -> set[str]:
    """Keys (see `_furniture_key`) of lines repeated in the header/footer zones of many pages.

    A line is running when it appears in the top or bottom `depth` lines of at least
    max(3, min_share * pages) pages, or of at least 3 pages that make up half of the stretch
    between its first and last appearance (headers that change per part, or printed on odd
    pages only). Lines without letters are left to `find_page_numbers`. Case is kept so that a
    title in capitals is not mistaken for the running header in title case.
    """
    where: dict[str, list[int]] = {}
    for n, lines in enumerate(pages):
        for key in {_furniture_key(lines[i]) for i in _edge_indices(lines, depth)}:
            # "X X" ticks in a table column and formula lines ("5 x 50 PDE =") are content.
            if len(re.findall(r"[^\W\d_]", key)) >= 2 and len(key) >= 4 and "=" not in key:
                where.setdefault(key, []).append(n)
    threshold = max(3, math.ceil(min_share * len(pages)))
    running = {
        k for k, found in where.items()
        if len(found) >= threshold or (len(found) >= 3 and len(found) >= 0.5 * (found[-1] - found[0] + 1))
    }
    # Producers vary a header slightly between parts ("... to ICH E6(R1)" / "... to E6(R1)"): a
    # recurring line that nearly equals a running one is running too.
    for key, found in where.items():
        if len(found) >= 3 and key not in running and any(
            SequenceMatcher(None, key, r).ratio() >= 0.9 for r in running
        ):
            running.add(key)
    return running


_PAGE_LINE = re.compile(
    r"^(?:page\s*)?[-–—]?\s*(\d{1,4}|[ivxlc]{1,7})\s*[-–—]?(?:\s*(?:/|of)\s*\d{1,4})?$", re.IGNORECASE
)
_PAGE_IN_LINE = re.compile(r"\bpage\s+(\d{1,4})\s*(?:/|of)\s*\d{1,4}\b", re.IGNORECASE)


@dataclass(frozen=True)
class PageNumber:
    """A printed page number found on a page: which line, its text, and its kind and value."""

    line: int
    label: str
    kind: str  # "arabic" or "roman"
    value: int


#: A running header or footer that carries the page number at one end ("94 WHO Technical Report Series",
#: "Annex 3 95"): the number is a candidate too.
_NUMBER_AT_END = re.compile(r"^(\d{1,4})\s+\S.*\S$|^\S.*\S\s+(\d{1,4})$")


def _page_number_candidates(lines: Sequence[str], depth: int,
                            running: Container[str] = frozenset()) -> list[PageNumber]:
    out = []
    for i in _edge_indices(lines, depth):
        line = lines[i].strip()
        m = _PAGE_LINE.match(line)
        if m:
            token = m.group(1)
            if token.isdigit():
                out.append(PageNumber(i, token, "arabic", int(token)))
            else:
                value = roman_to_int(token)
                if value is not None and value <= 40:
                    out.append(PageNumber(i, token, "roman", value))
            continue
        m = _PAGE_IN_LINE.search(line)
        if m:
            out.append(PageNumber(i, m.group(1), "explicit", int(m.group(1))))
        elif _furniture_key(line) in running and (m := _NUMBER_AT_END.match(line)) \
                and not re.search(r"(?:\bof|/)\s*\d+$", line, re.IGNORECASE):
            token = m.group(1) or m.group(2)
            out.append(PageNumber(i, token, "arabic", int(token)))
    return out


def find_page_numbers(pages: Sequence[Sequence[str]], depth: int = 3,
                      running: Container[str] = frozenset()) -> list[PageNumber | None]:
    """The printed page number of every page, or None.

    A lone number in a header/footer zone could also be a table value, so it is trusted only
    when a neighbouring page carries the adjacent number of the same kind, or when its offset
    from the PDF page index matches one already trusted, or is shared by three pages (headers that
    alternate between even and odd pages: "94 WHO Technical Report Series" on every other page).
    "Page N/M" text is always trusted. `running`: keys of running lines, whose end numbers count.
    """
    cands = [_page_number_candidates(lines, depth, running) for lines in pages]
    chosen: list[PageNumber | None] = [None] * len(pages)
    for n, page_cands in enumerate(cands):
        for c in page_cands:
            if c.kind == "explicit":
                chosen[n] = c
                break
            before = cands[n - 1] if n > 0 else []
            after = cands[n + 1] if n + 1 < len(cands) else []
            if any(o.kind == c.kind and o.value == c.value - 1 for o in before) or any(
                o.kind == c.kind and o.value == c.value + 1 for o in after
            ):
                chosen[n] = c
                break
    offsets = {(c.kind, n - c.value) for n, c in enumerate(chosen) if c is not None}
    shared = Counter((c.kind, n - c.value) for n, page_cands in enumerate(cands) for c in page_cands)
    offsets |= {offset for offset, count in shared.items() if count >= 3}
    for n, page_cands in enumerate(cands):
        if chosen[n] is None:
            for c in page_cands:
                if (c.kind, n - c.value) in offsets:
                    chosen[n] = c
                    break
    return chosen


def interpolate_labels(numbers: Sequence[PageNumber | None]) -> list[str | None]:
    """Printed labels per page; a page whose number was not found (e.g. glued to a formula line)
    gets v when its neighbours carry v-1 and v+1 of the same kind."""
    labels = [n.label if n is not None else None for n in numbers]
    for i in range(1, len(numbers) - 1):
        before, after = numbers[i - 1], numbers[i + 1]
        if (
            numbers[i] is None and before is not None and after is not None
            and before.kind == after.kind == "arabic" and after.value == before.value + 2
        ):
            labels[i] = str(before.value + 1)
    return labels


def numbered_furniture(pages: Sequence[Sequence[str]], labels: Sequence[str | None], depth: int = 3) -> set[str]:
    """Keys of header/footer lines that carry their page's printed number at one end on at least two
    pages ("Annex 3 95", "Annex 3 97" on odd pages only): running lines too few to pass
    `find_running_lines` alone, but the page number vouches for them."""
    where: Counter[str] = Counter()
    for lines, label in zip(pages, labels, strict=True):
        if not label or not label.isdigit():
            continue
        for i in _edge_indices(lines, depth):
            m = _NUMBER_AT_END.match(lines[i].strip())
            if m and (m.group(1) or m.group(2)) == label and len(re.findall(r"[^\W\d_]", lines[i])) >= 2:
                where[_furniture_key(lines[i])] += 1
    return {key for key, count in where.items() if count >= 2}


def strip_furniture(
    lines: list[str], running: set[str], number: PageNumber | None, depth: int = 3
) -> list[str]:
    """Drop running header/footer lines and the printed page-number line from one page."""
    drop = {i for i in _edge_indices(lines, depth) if _furniture_key(lines[i]) in running}
    if number is not None and number.kind != "explicit":
        drop.add(number.line)
    return [line for i, line in enumerate(lines) if i not in drop]


_WORD = re.compile(r"[^\W\d_]+")
_COMPOUND = re.compile(r"[^\W\d_]+-[^\W\d_]+")
_BROKEN = re.compile(r"[^\W\d_]+-\n\n?[^\W\d_]+")


@dataclass
class Vocabulary:
    """Words and hyphenated compounds of one document, used to judge line-end hyphens."""

    words: set[str]
    compounds: set[str]

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> Vocabulary:
        """Build from page texts, ignoring the broken words themselves (they would vouch for themselves)."""
        words: set[str] = set()
        compounds: set[str] = set()
        for text in texts:
            clean = _BROKEN.sub(" ", text).lower()
            words.update(_WORD.findall(clean))
            compounds.update(_COMPOUND.findall(clean))
        return cls(words, compounds)


#: First halves that make a compound rather than a broken word ("pre-filled", "cross-referenced").
_PREFIXES = _wordset(
    "anti auto bi bio co counter cross de di extra hydro hyper hypo inter intra macro methyl micro mid "
    "mono multi non over poly post pre pro pseudo re self semi sub super tetra tri ultra un under well"
)


def _keep_hyphen(first: str, second: str, vocab: Vocabulary) -> bool:
    joined = (first + second).lower()
    hyphenated = f"{first}-{second}".lower()
    if hyphenated in vocab.compounds:
        return True
    if joined in vocab.words:
        return False
    # A compound joins two words or a prefix and a word ("well-known", "pre-filled"); a word broken
    # by the typesetter leaves fragments ("biotech-nological").
    return second.lower() in vocab.words or first.lower() in vocab.words or first.lower() in _PREFIXES


def join_hyphenation(text: str, vocab: Vocabulary | None = None) -> str:
    """Join words split by a hyphen at a line end, keeping the hyphen of real compounds.

    Only a letter-hyphen line end followed by a line starting with a lowercase letter is
    touched. The continuation word moves up to the first line (the rest of its line stays where
    it was, so line structure survives). The hyphen is kept when the document elsewhere writes
    the hyphenated form, dropped when it writes the joined form, and otherwise kept if either
    half is a word of the document or the first half a common prefix ("well-known",
    "decision-making", "pre-filled"), dropped only when both halves are mere fragments
    ("biotech-nological" -> "biotechnological"). Regulatory texts are mostly produced without
    automatic hyphenation, so a doubtful hyphen is kept: that is the faithful default.
    Hyphens across a page break are left alone.
    """
    vocab = vocab or Vocabulary.from_texts([text])
    lines = text.split("\n")
    i = 0
    while i < len(lines) - 1:
        line, nxt = lines[i], lines[i + 1]
        m = re.search(r"([^\W\d_]+)-$", line)
        if m and not nxt and i + 2 < len(lines) and lines[i + 2][:1].islower():
            # Layout-mode extraction puts blank lines between the lines of a paragraph.
            del lines[i + 1]
            nxt = lines[i + 1]
        if m and nxt[:1].islower() and nxt[:1].isalpha():
            head, _, tail = nxt.partition(" ")
            word = re.match(r"[^\W\d_]+", head)
            second = word.group(0) if word else head
            if _keep_hyphen(m.group(1), second, vocab):
                lines[i] = line + head
            else:
                lines[i] = line[:-1] + head
            if tail:
                lines[i + 1] = tail
            else:
                del lines[i + 1]
                continue  # the joined line may itself end with a hyphen now
        i += 1
    return "\n".join(lines)


def collapse_blank_lines(text: str) -> str:
    """At most one blank line in a row; no blank lines at the start or end of the page."""
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


#: A dot leader (shortened to "..." by `normalize_whitespace`) ending in a page number; leaders
#: without numbers are forms or templates, not a TOC.
_DOT_LEADER = re.compile(r"(?:\.{3,}|…)\s*(?:\d{1,4}|[ivxlcIVXLC]{1,6})$")
#: A contents entry without leaders: a title of at most 15 words that ends no sentence, then a page number.
_TOC_ENTRY = re.compile(r"^(?P<title>[A-Z0-9(][^.!?]*?(?:\.\d+)*\.?(?:\s+\S+){0,15}?)(?<![.;,:])\s+(?P<page>\d{1,4})$")


def is_toc_page(text: str, previous_is_toc: bool = False) -> bool:
    """A table-of-contents page: many dot-leader lines ending in a page number ("4.1 Scope ..... 3").

    The last page of a TOC may hold only a few entries: after a TOC page, one leader line is
    enough when most lines end with a page number.
    """
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return False
    leaders = sum(1 for line in lines if _DOT_LEADER.search(line))
    titled = any(CONTENTS_TITLE.match(line.strip()) for line in lines)
    if leaders >= 3 and (leaders >= 0.3 * len(lines) or (titled and leaders >= 2)):
        return True
    numbered_ends = sum(1 for line in lines if re.search(r"\s\d{1,4}$", line))
    if previous_is_toc and leaders >= 1 and numbered_ends >= 0.5 * len(lines):
        return True
    return (titled or previous_is_toc) and _entries_without_leaders(lines)


def _entries_without_leaders(lines: Sequence[str]) -> bool:
    """Whether most lines are "4.1. Drug substance 6": a short title and a page number, no leader dots
    (tab-separated contents lose their tab in the text layer), the page numbers never going back."""
    entries = [m for line in lines if (m := _TOC_ENTRY.match(line.strip()))]
    if len(entries) < 4 or len(entries) < 0.6 * (len(lines) - 1):
        return False
    numbers = [int(m.group("page")) for m in entries]
    forward = sum(b >= a for a, b in itertools.pairwise(numbers))
    return forward >= 0.9 * (len(numbers) - 1)


def strip_contents_block(text: str, min_entries: int = 4) -> str:
    """`text` without a contents list printed on a content page: a WHO annex opens with "1. Introduction 195",
    "2. Scope 196", … "References 242" under its title. Read as text, its entries became headings (so the
    real "1. Introduction" further on opened nothing) and its last entries were glued to the first sentence.

    A block is `min_entries` or more consecutive "title page-number" lines whose numbers never go back,
    at least three of them numbered like sections ("4. General considerations 198"), which rows of a table
    of values are not.
    """
    lines = text.split("\n")
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        j, pages = i, []
        while j < len(lines) and (m := _TOC_ENTRY.match(lines[j].strip())) and \
                (not pages or int(m.group("page")) >= pages[-1]):
            pages.append(int(m.group("page")))
            j += 1
        numbered = sum(1 for k in range(i, j) if NUMBERED_ENTRY.match(lines[k].strip()))
        if j - i >= min_entries and numbered >= 3:
            # with the list's own title right above it ("Table of contents")
            title = i - 1 if i > 0 and CONTENTS_TITLE.match(lines[i - 1].strip()) else i
            keep[title:j] = [False] * (j - title)
        i = max(j, i + 1)
    return "\n".join(line for line, k in zip(lines, keep, strict=True) if k) if not all(keep) else text


def _running_text_left(text: str) -> bool:
    """At least 60 words and two sentence ends after a lower-case word: a page's body, not the title lines
    around a contents list (nor the step dates above an ICH contents list, "… on 6 February 2003.")."""
    return len(text.split()) >= 60 and len(re.findall(r"[a-z)]\.(?:\s|$)", text)) >= 2


class Cleaned(NamedTuple):
    """A cleaned document: page texts, printed page labels, and the running lines taken off its pages."""

    texts: list[str]
    labels: list[str | None]
    furniture: list[str]  # each running header/footer line once, as first printed ("Draft", "EMA/CAT/…")


def clean_pages(raw_texts: Sequence[str]) -> Cleaned:
    """Run the whole cleaning pipeline over a document."""
    split: list[list[str]] = []
    follows: int | None = None  # the last margin number of the page before
    for t in raw_texts:
        kept, follows = _strip_margin(normalize_whitespace(normalize_text(t)).split("\n"), follows=follows)
        split.append(kept)
    running = find_running_lines(split)
    numbers = find_page_numbers(split, running=running)
    labels = interpolate_labels(numbers)
    running |= numbered_furniture(split, labels)
    furniture: dict[str, str] = {}
    for lines in split:
        for i in _edge_indices(lines, 3):
            if (key := _furniture_key(lines[i])) in running:
                furniture.setdefault(key, lines[i].strip())
    stripped = ["\n".join(strip_furniture(lines, running, num)) for lines, num in zip(split, numbers, strict=True)]
    vocab = Vocabulary.from_texts(stripped)
    texts = [collapse_blank_lines(join_hyphenation(t, vocab)) for t in stripped]
    return Cleaned(texts, labels, list(furniture.values()))


# --------------------------------------------------------------------------------------------
# public entry points


class Extracted(NamedTuple):
    """Every page of a PDF, and the running lines its cleaning took off (what the document says of itself
    on every page: a reference number, "Draft — Not for Implementation")."""

    pages: list[Page]
    furniture: list[str]


def extract_pages(
    path: Path, doc_id: str, backend: str = "pypdfium2", max_page_chars: int = 100_000
) -> list[Page]:
    """Extract and clean every page of a PDF (`extract_document` without the running lines)."""
    return extract_document(path, doc_id, backend, max_page_chars).pages


def extract_document(
    path: Path, doc_id: str, backend: str = "pypdfium2", max_page_chars: int = 100_000
) -> Extracted:
    """Extract and clean every page of a PDF.

    `Page.number` is the 1-based PDF page index; `Page.label` the printed page label: the PDF's
    own page labels when they say more than the plain index (many producers write "1, 2, 3…",
    which would hide the printed numbering), else the page number detected in the header or
    footer, else str(number). Every page is kept with its kind (`text.content.classify_pages`): TOC,
    title, document-history and contact pages are stored but never chunked or quoted.

    Raises ExtractionError for encrypted, corrupt or truncated, page-less, image-only PDFs and
    for pages over `max_page_chars` characters.
    """
    path = Path(path)
    _check_file(path)
    raw = get_backend(backend).read(path, max_page_chars)
    if not raw.texts:
        raise _no_pages()
    if not any(t.strip() for t in raw.texts):
        raise ExtractionError("no text layer (image-only PDF, needs OCR)")
    texts, printed, furniture = clean_pages(raw.texts)
    informative = raw.labels is not None and any(
        lab and lab != str(i + 1) for i, lab in enumerate(raw.labels)
    )
    toc: list[bool] = []
    for text in texts:
        toc.append(is_toc_page(text, previous_is_toc=bool(toc) and toc[-1]))
    stripped = [strip_contents_block(t) for t in texts]
    # A contents list that the first section follows on the same page (Swissmedic: title, "Table of
    # contents", then "1 Terms, definitions, abbreviations" and its text) leaves a content page.
    toc = [is_toc and not _running_text_left(s) for is_toc, s in zip(toc, stripped, strict=True)]
    texts = [t if is_toc else s for t, s, is_toc in zip(texts, stripped, toc, strict=True)]
    kinds = classify_pages(texts, toc)
    pages: list[Page] = []
    for i, text in enumerate(texts):
        number = i + 1
        label = (raw.labels[i] if informative and raw.labels else "") or printed[i] or str(number)
        pages.append(Page(doc_id=doc_id, number=number, label=label, text=text, kind=kinds[i]))
    log.debug("%s: %d pages extracted with %s", path.name, len(pages), backend)
    return Extracted(pages, furniture)


_PDF_DATE = re.compile(r"^D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?([Zz]|[+-]\d{2}'?\d{2}'?)?")


def _pdf_date(value: str) -> str:
    """PDF date "D:20051109120000+01'00'" -> ISO 8601 "2005-11-09T12:00:00+01:00"; else unchanged."""
    m = _PDF_DATE.match(value.strip())
    if not m:
        return value.strip()
    year, month, day, hour, minute, second, tz = m.groups()
    date = f"{year}-{month or '01'}-{day or '01'}"
    if hour is None:
        return date
    out = f"{date}T{hour}:{minute or '00'}:{second or '00'}"
    if tz:
        out += "Z" if tz in "Zz" else f"{tz[:3]}:{tz.replace(chr(39), '')[3:5]}"
    return out


def pdf_metadata(path: Path) -> dict[str, str]:
    """Title, author, subject and creation date ("title", "author", "subject", "creation_date").

    Values are stripped strings, empty when the PDF does not set them; the date is ISO 8601.
    """
    import pypdfium2 as pdfium

    path = Path(path)
    _check_file(path)
    try:
        doc = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise _diagnose_load_failure(path, exc) from exc
    try:
        meta = doc.get_metadata_dict(skip_empty=False)
    finally:
        doc.close()
    return {
        "title": (meta.get("Title") or "").strip(),
        "author": (meta.get("Author") or "").strip(),
        "subject": (meta.get("Subject") or "").strip(),
        "creation_date": _pdf_date(meta.get("CreationDate") or ""),
    }
