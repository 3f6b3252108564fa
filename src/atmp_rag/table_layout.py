"""Table rows from glyph positions: a table whose cells wrap is read row by row, not cell by cell.

PDF producers write a table cell after cell, so PDFium's text of a row whose cells wrap reads down the
first cell, then down the second:

    AAV vector expressing a
    therapeutic enzyme
    Expression of a functional
    enzyme in the target tissue
    Transduction of a permissive cell line …

and no later step can tell which words share a row. Positions can: the columns start at the same x on
every line, a cell is a run of lines the page writes one after another in one column, and the cells of a
row start at the same height. `rebuild_rows` finds blocks of three or more such columns and writes each row
as one line, its cells left to right, every cell's lines joined:

    AAV vector expressing a therapeutic enzyme Expression of a functional enzyme in the target tissue …

which is how a table of one-line cells already reads ("Benzene 2 Carcinogen"), so the unit builder's
table rules (`units.py`) treat both alike. A row with a cell of sentences and a header row whose cells wrap
keep PDFium's lines, a row labelled with a section number gets its label on a line of its own (`_row_text`),
and everything else on the page keeps PDFium's order: two-column term | definition lists (a wrapped
definition cannot be told from the next term), centred or right-aligned cells, a producer that writes a row
line by line across its cells, a block that starts or ends inside a cell. No character is dropped or added.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pypdfium2 as pdfium

#: Columns a block needs: with two, a wrapped definition cannot be told from the next term.
MIN_COLUMNS = 3
#: A gap between two glyphs of one PDFium line wider than this many ems separates two cells (justified
#: prose spaces its words well under one em; table columns sit further apart).
CELL_GAP = 1.0
#: How far (pt) a cell's left edge may sit from its column's.
ALIGN = 4.0
_BARE_NUMBER = re.compile(r"\d{1,5}")
#: A glyph: its char index, then its box (left, bottom, right, top) in points.
Glyph = tuple[int, float, float, float, float]
#: A section number of two levels or more and a capitalised title ("8.2.16 CERTIFICATE(S) OF ANALYSIS …"), not a
#: value ("1.5 mg").
_SECTION_NUMBER = re.compile(r"\d{1,2}(?:\.\d{1,3}){1,4}\.?\s+[A-Z].*", re.DOTALL)
#: A bullet or list marker set apart from its item ("•   increase use of …", "(a)   …") is not a cell.
_LIST_MARKER = re.compile(r"[^\w\s]|\(?(?:\d{1,2}|[a-zA-Z]|[ivxIVX]{1,4})[.)]")


@dataclass(frozen=True)
class Segment:
    """Consecutive glyphs of one PDFium line with no cell gap between them."""

    line: int
    chars: tuple[int, ...]  # char indices, non-blank glyphs and the blanks between them
    left: float
    right: float
    top: float
    bottom: float
    # (char index, left, bottom, right, top) of each non-blank glyph: where a segment can be cut in two
    glyphs: tuple[Glyph, ...] = field(default=(), compare=False, repr=False)

    @property
    def middle(self) -> float:
        """Vertical centre."""
        return (self.top + self.bottom) / 2


def _lines(text: str) -> list[range]:
    """Char index ranges of PDFium's lines (its text ends lines with "\\r\\n")."""
    out, start = [], 0
    for m in re.finditer(r"\r\n|\n|\r", text):
        out.append(range(start, m.start()))
        start = m.end()
    out.append(range(start, len(text)))
    return out


def segments(textpage: pdfium.PdfTextPage, text: str, spans: Sequence[range]) -> list[list[Segment]]:
    """Each PDFium line's segments (`spans`: the lines' char ranges, `_lines`), split where the gap between two
    glyphs exceeds `CELL_GAP` ems."""
    import pypdfium2.raw as pdfium_c

    out: list[list[Segment]] = []
    for n, span in enumerate(spans):
        glyphs: list[Glyph] = [(k, *textpage.get_charbox(k)) for k in span if not text[k].isspace()]
        em = _em(textpage, pdfium_c, glyphs, text)
        segs: list[Segment] = []
        current: list[Glyph] = []
        right = 0.0
        for glyph in glyphs:
            if current and (glyph[1] - right > CELL_GAP * em or glyph[1] < current[0][1] - 1) \
                    and not _LIST_MARKER.fullmatch(text[current[0][0]:current[-1][0] + 1].strip()):
                segs.append(_segment(n, current))
                current = []
            right = max(right, glyph[3]) if current else glyph[3]
            current.append(glyph)
        if current:
            segs.append(_segment(n, current))
        out.append(segs)
    return out


def _segment(line: int, glyphs: Sequence[Glyph]) -> Segment:
    """The segment of these glyphs (and the blanks between them)."""
    return Segment(line, tuple(range(glyphs[0][0], glyphs[-1][0] + 1)), min(g[1] for g in glyphs),
                   max(g[3] for g in glyphs), max(g[4] for g in glyphs), min(g[2] for g in glyphs), tuple(glyphs))


def _split_at_columns(seg: Segment, columns: Sequence[float]) -> list[Segment] | None:
    """`seg` cut where a word starts at a column's left edge, when every piece then lies in a column: a cell
    that nearly fills its column leaves less than `CELL_GAP` before the next cell, and PDFium's line runs
    them together ("Mesenchymal stromal cells Immunomodulation through")."""
    pieces: list[list[Glyph]] = [[]]
    for glyph in seg.glyphs:
        previous = pieces[-1][-1] if pieces[-1] else None
        # a cut only where a word starts (a blank before it) at a column's edge
        if previous is not None and glyph[0] > previous[0] + 1 and glyph[1] > previous[3] + 0.5 and \
                any(abs(glyph[1] - c) <= ALIGN for c in columns):
            pieces.append([])
        pieces[-1].append(glyph)
    if len(pieces) < 2:
        return None
    parts = [_segment(seg.line, piece) for piece in pieces]
    return parts if all(_column_of(part, columns) is not None for part in parts) else None


def _em(textpage: pdfium.PdfTextPage, pdfium_c: Any, glyphs: Sequence[Glyph], text: str) -> float:
    """The line's font size; when PDFium reports a degenerate one (a text matrix that scales a 1 pt font), the
    median height of its letters and digits over 0.6 (an x-height and a cap height average about that)."""
    sizes = [float(pdfium_c.FPDFText_GetFontSize(textpage, g[0])) for g in glyphs[:3]]
    if sizes and min(sizes) >= 4:
        return statistics.median(sizes)
    heights = [top - bottom for k, _, bottom, _, top in glyphs if text[k].isalnum() and top > bottom]
    return statistics.median(heights) / 0.6 if heights else 10.0


def _bands(segs: Sequence[Segment]) -> list[list[Segment]]:
    """Segments grouped into horizontal bands (sharing a line's height), top of the page first."""
    bands: list[list[Segment]] = []
    for s in sorted(segs, key=lambda s: -s.top):
        if bands:
            first = bands[-1][0]
            if abs(s.middle - first.middle) < 0.5 * max(first.top - first.bottom, 1.0):
                bands[-1].append(s)
                continue
        bands.append([s])
    return [sorted(b, key=lambda s: s.left) for b in bands]


def _column_of(seg: Segment, columns: Sequence[float]) -> int | None:
    """Index of the column a segment starts at (within `ALIGN` of its left edge) and ends in (before the next
    column starts); None for a segment set elsewhere (centred, right-aligned or across columns), which a
    reader of the text alone could not place either."""
    for i, left in enumerate(columns):
        nxt = columns[i + 1] if i + 1 < len(columns) else float("inf")
        if abs(seg.left - left) <= ALIGN and seg.right <= nxt + ALIGN:
            return i
    return None


@dataclass
class Block:
    """Rows of a table block: per row, per column, its segments top to bottom."""

    rows: list[list[list[Segment]]]
    split: set[Segment] = field(default_factory=set)  # segments of the page cut into the block's cells

    def segments(self) -> set[Segment]:
        """Every segment of the block (the cut pieces, not the segments they were cut from)."""
        return {s for row in self.rows for cell in row for s in cell}


def table_blocks(bands: Sequence[Sequence[Segment]], stream: Sequence[Segment]) -> list[Block]:
    """Blocks of `MIN_COLUMNS` or more left-aligned columns that read row by row (`_rows`) and hold whole cells
    (`_whole`); `stream` is every segment of the page in PDFium's order."""
    nearby = {s: (stream[i - 1] if i else None, stream[i + 1] if i + 1 < len(stream) else None)
              for i, s in enumerate(stream)}
    blocks: list[Block] = []
    i = 0
    while i < len(bands):
        head = bands[i]
        if len(head) < MIN_COLUMNS:
            i += 1
            continue
        columns = [s.left for s in head]
        if any(_column_of(s, columns) != n for n, s in enumerate(head)):
            i += 1  # overlapping segments: not a row of cells
            continue
        j = i + 1
        block_bands = [list(head)]
        split: set[Segment] = set()
        while j < len(bands) and (placed := _in_columns(bands[j], columns)) is not None:
            block_bands.append(placed[0])
            split |= placed[1]
            j += 1
        block = _rows(block_bands, columns)
        if block is not None:
            block.split = split
            if _whole(block, nearby):
                blocks.append(block)
        i = max(j, i + 1)
    return blocks


def _in_columns(band: Sequence[Segment], columns: Sequence[float]) -> tuple[list[Segment], set[Segment]] | None:
    """The band's segments, each in a column (cut at a column's edge where needed, `_split_at_columns`), and the
    segments that were cut; None when some segment lies in no column."""
    placed: list[Segment] = []
    cut: set[Segment] = set()
    for seg in band:
        if _column_of(seg, columns) is not None:
            placed.append(seg)
            continue
        parts = _split_at_columns(seg, columns)
        if parts is None:
            return None
        placed.extend(parts)
        cut.add(seg)
    return placed, cut


def _whole(block: Block, nearby: dict[Segment, tuple[Segment | None, Segment | None]]) -> bool:
    """Whether no cell of the block goes on outside it: the page writes no line of the same column just above
    a cell's first line, right before it, nor just below its last line, right after it (a block that starts
    under a header whose cells wrap would otherwise take the header's last lines for a row)."""
    inside = block.segments() | block.split
    for row in block.rows:
        for cell in row:
            if not cell:
                continue
            first, last = cell[0], cell[-1]
            height = first.top - first.bottom
            # (a piece cut from a segment has no neighbours of its own: the cut segment was inside the block)
            before, after = nearby.get(first, (None, None))[0], nearby.get(last, (None, None))[1]
            if before is not None and before not in inside and abs(before.left - first.left) <= ALIGN and \
                    0 < before.top - first.top <= 1.8 * height:
                return False
            if after is not None and after not in inside and abs(after.left - last.left) <= ALIGN and \
                    0 < last.top - after.top <= 1.8 * height:
                return False
    return True


def _rows(bands: Sequence[Sequence[Segment]], columns: Sequence[float]) -> Block | None:
    """The block's rows, or None when they are not clear.

    A cell is a run of segments of one column that the page writes one after another, each a line below the
    last (a producer writes a table cell by cell); a row is the cells that start at the same height. Rows
    must open with a cell in the first column and stay clear of each other, and some cell must wrap (one-line
    cells already read as rows). A producer writing line by line across the columns leaves every cell one
    line long, so such a table is left as it is: its wrapped lines cannot be told from new rows."""
    if len(bands) < 2:
        return None
    height = statistics.median(s.top - s.bottom for band in bands for s in band)
    cells: list[tuple[int, list[Segment]]] = []
    for seg in sorted((s for band in bands for s in band), key=lambda s: (s.line, s.left)):
        col = _column_of(seg, columns)
        assert col is not None
        if cells and cells[-1][0] == col and 0 < cells[-1][1][-1].top - seg.top <= 1.8 * height:
            cells[-1][1].append(seg)
        else:
            cells.append((col, [seg]))
    if not any(len(segs) > 1 for _, segs in cells):
        return None
    starts: list[list[tuple[int, list[Segment]]]] = []  # cells starting at one height, top of the page first
    for cell in sorted(cells, key=lambda c: -c[1][0].top):
        if starts and starts[-1][0][1][0].top - cell[1][0].top <= 0.5 * height:
            starts[-1].append(cell)
        else:
            starts.append([cell])
    rows: list[list[list[Segment]]] = []
    bottom = float("inf")
    for group in starts:
        cols = [col for col, _ in group]
        if 0 not in cols or len(set(cols)) < len(cols) or group[0][1][0].top > bottom + 0.25 * height:
            return None  # a row without its first cell, two cells in one column, or rows that overlap
        row: list[list[Segment]] = [[] for _ in columns]
        for col, segs in group:
            row[col] = segs
        rows.append(row)
        bottom = min(segs[-1].bottom for _, segs in group)
    return Block(rows)


def rebuild_rows(textpage: pdfium.PdfTextPage, text: str, render: Callable[[int], str]) -> str | None:
    """The page's text with every wrapped-cell table block written one row per line; None when the page has
    none. `text` is PDFium's text of the page (one character per char index); `render(k)` gives the text
    of char k as the page's text should read it ("" for a char dropped, a superscript for a raised digit).
    """
    spans = _lines(text)
    if not _goes_back_up(textpage, text, spans):
        return None
    lines = segments(textpage, text, spans)
    # Line numbers in the margin (left of all text) belong to no table; a number inside one is a cell ("2005").
    words = [s for segs in lines for s in segs if not _BARE_NUMBER.fullmatch(_plain(text, s))]
    margin = min((s.left for s in words), default=0.0)
    body = [s for segs in lines for s in segs if s.right >= margin or not _BARE_NUMBER.fullmatch(_plain(text, s))]
    blocks = [b for b in (_without_wrapped_header(b, text) for b in table_blocks(_bands(body), body)) if b]
    if not blocks:
        return None
    owner = {s: b for b in blocks for s in b.segments() | b.split}
    out: list[str] = []
    written: set[int] = set()
    for n, segs in enumerate(lines):
        mine = [s for s in segs if s in owner]
        if not mine:
            out.append("".join(render(k) for k in spans[n]))
            continue
        for s in segs:
            if s not in owner:
                out.append(_render(s, render))  # a margin number beside a row keeps a line of its own
        for s in mine:
            block = owner[s]
            if id(block) not in written:
                written.add(id(block))
                headed = _one_line_header(block, text)
                out.extend(_row_text(row, render, headed and k > 0) for k, row in enumerate(block.rows))
    return "\n".join(out)


def _one_line_header(block: Block, text: str) -> bool:
    """The block's first row is a line of column headers: every cell one line of words, no digit, no sentence end
    ("Method Typical sensitivity Comment")."""
    head = block.rows[0]
    if len(block.rows) < 2 or any(len(cell) != 1 for cell in head):
        return False
    cells = [_plain(text, cell[0]) for cell in head]
    return all(c and not any(ch.isdigit() for ch in c) and c[-1] not in ".;:!?" for c in cells)


def _without_wrapped_header(block: Block, text: str) -> Block | None:
    """The block less a first row of column headers whose cells wrap ("Study | Storage condition | Minimum time
    period covered by / data at submission", no digit in it), which keeps PDFium's lines: the unit builder
    finds a table by its header's short lines and reads a header of one line as prose. None when no row that
    is left wraps."""
    head = block.rows[0]
    if len(block.rows) > 1 and any(len(cell) > 1 for cell in head) and \
            not any(c.isdigit() for cell in head for s in cell for c in _plain(text, s)):
        block = Block(block.rows[1:], block.split)  # (the head band is never cut: its segments are the columns)
    return block if any(len(cell) > 1 for row in block.rows for cell in row) else None


def _goes_back_up(textpage: pdfium.PdfTextPage, text: str, spans: Sequence[range]) -> bool:
    """Whether the page may hold a table whose cells wrap: some line starts above the line before it and to its
    right (where a cell-by-cell table goes on with its next column), or a line starts well right of the page's
    left edge right under another (a wrapped cell of a later column: "Study Storage condition
    Minimum time period covered by" / "data at submission"). Reading one glyph per line, this spares running
    text the full layout analysis."""
    starts: list[tuple[float, float, float]] = []
    for span in spans:
        k = next((k for k in span if not text[k].isspace()), None)
        if k is None:
            continue
        left, bottom, _, top = textpage.get_charbox(k)
        if starts and top > starts[-1][1] + 0.5 * max(top - bottom, 1.0) and left > starts[-1][0] + ALIGN:
            return True
        starts.append((left, top, top - bottom))
    edge = min((left for left, _, _ in starts), default=0.0)
    return any(b[0] > edge + 60 and 0 < a[1] - b[1] <= 2 * max(b[2], 1.0) for a, b in itertools.pairwise(starts))


def _plain(text: str, seg: Segment) -> str:
    return "".join(text[k] for k in seg.chars).strip()


def _render(seg: Segment, render: Callable[[int], str]) -> str:
    return "".join(render(k) for k in seg.chars).strip()


def _row_text(row: Sequence[Sequence[Segment]], render: Callable[[int], str], under_header: bool = False) -> str:
    """A row of values on one line, its cells left to right, each cell's lines joined (a line ending in a
    hyphen joins without a blank): "Long term 5°C ± 3°C 12 months". A row with a cell that ends a sentence (a
    checklist's question and note, a lifecycle table's paragraphs) keeps its cells' lines, one cell after
    the other, as PDFium read them: the sentence splitter and the unit builder's checklist rules read such
    cells, and a row label run into a question would no longer be told from it. Under a one-line header
    (`under_header`) a row with a value cell between its label and a last cell that ends a sentence is written on
    one line too ("Flow cytometry for TRA-1-60, SSEA-4 or OCT4 0.01% to 0.1% Rapid and widely available; …
    release test."): its value cells would otherwise read as lines of their own, and the row ends where its
    sentence ends. (A label and cells of sentences only keep their lines: a table of labels and prose.)"""
    lines = [[_render(s, render) for s in cell] for cell in row]  # top line first, left to right within a line
    cells = []
    for parts in lines:
        joined = ""
        for part in parts:
            joined = part if not joined else joined + ("" if re.search(r"[A-Za-z]-$", joined) else " ") + part
        if joined:
            cells.append(joined)
    if any(re.search(r"[.?!]$", c) and len(c.split()) > 3 for c in cells) and not (
            under_header and len(cells) == len(row) and re.search(r"[.?!]$", cells[-1])
            and any(not re.search(r"[.?!]$", c) for c in cells[1:-1])):
        return "\n".join(part for parts in lines for part in parts)
    # A row labelled with a section number ("8.2.16 CERTIFICATE(S) OF ANALYSIS …", ICH E6's essential documents,
    # the number in a column of its own or not) is a numbered entry of the document: its label reads as a
    # heading, the rest of the row under it.
    label = 0  # cells in the label
    if len(cells) > 2 and re.fullmatch(r"[\d.]+", cells[0]) and _SECTION_NUMBER.fullmatch(f"{cells[0]} {cells[1]}"):
        label = 2
    elif len(cells) > 1 and _SECTION_NUMBER.fullmatch(cells[0]):
        label = 1
    if label:
        return " ".join(cells[:label]) + "\n" + " ".join(cells[label:])
    return " ".join(cells)
