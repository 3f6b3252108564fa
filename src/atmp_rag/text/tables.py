"""Tables of row labels and prose cells, read from the text layer.

EMA, HPRA and many national guidances tabulate requirements as a label column and a prose column
("Table 1. Quality aspects …" / "Aspect Considerations" / "Starting materials When the source …"). The text
layer gives each row either on shared lines (the label before the cell's first line) or cell by cell (a label
wrapped over its own lines, "Process" / "parameters", then the cell's lines). Read as running text, each row
would start a sentence with its label, and a wrapped label would read as a subheading. Chunking reads such a
table as one stretch of text, and the quotable units are the sentences of each cell with the row's label as
their context.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from atmp_rag.text.content import TABLE_CAPTION, TABLE_LABEL
from atmp_rag.text.headings import SMALL_WORDS, VERBS, detect_heading, table_glossary_entry

__all__ = ["LabelRow", "LabelTable", "is_caption", "is_continued_caption", "label_table"]

#: "Table 1 (continued)", "Table 2 – continued", "Table 1 (cont'd)": the caption repeated on the next page.
_CONTINUED = re.compile(r"^(?:table|tab\.)\s+[\dA-Z]{1,4}[a-z]?\s*[(\-–—:,.]?\s*(?:continued|cont['’]?d)\b",
                        re.IGNORECASE)
_MAX_LABEL_WORDS = 5
#: Mean words per cell above which a table's cells are phrases, not values, even without a verb.
_MIN_PHRASE_WORDS = 9


@dataclass(frozen=True)
class LabelRow:
    """One row: its label from (line, column) to (line, column), where its prose cell starts, its last line."""

    label_start: tuple[int, int]
    label_end: tuple[int, int]
    cell_start: tuple[int, int]
    last: int


@dataclass(frozen=True)
class LabelTable:
    """A table of labels and prose from its caption line `start` up to (not including) line `end`; `header` is
    the line of its column headers (lines between the caption and it are a sentence introducing the table)."""

    start: int
    end: int
    rows: list[LabelRow]
    header: int

    @property
    def intro(self) -> range:
        """The lines of running text between the caption and the column headers."""
        return range(self.start + 1, self.header)


#: "Table 1 Considerations for the main types of studies": a number and a title with no mark between them.
_BARE_CAPTION = re.compile(r"^(?:table|tab\.)\s+\d{1,2}[a-z]?\s+(?P<title>(?-i:[A-Z])[^.;:!?]*)$", re.IGNORECASE)


def is_continued_caption(line: str) -> bool:
    """The caption a table repeats over its rows on the next page: "Table 2 (continued)", "Table 2 – cont'd"."""
    return _CONTINUED.match(line.strip()) is not None


def is_caption(line: str) -> bool:
    """A table's caption line, or its repetition on the next page ("Table 1 (continued)"). Without a mark after
    the number, the rest must read as a title ("Table 1 lists the tests" is a sentence)."""
    text = line.strip()
    if TABLE_CAPTION.match(text) or _CONTINUED.match(text):
        return True
    bare = _BARE_CAPTION.match(text)
    return bare is not None and len(words := bare.group("title").split()) <= 16 and \
        not any(w.lower() in VERBS for w in words)


def _header(line: str) -> str | None:
    """The column headers under a caption ("Aspect Considerations", "Requirement Expectation"), or None."""
    text = " ".join(line.split())
    words = text.split()
    if not 2 <= len(words) <= 8 or text[-1] in ".;:!?," or any(c.isdigit() for c in text) \
            or any(w.lower() in VERBS for w in words) or not text[0].isupper():
        return None
    return text


def _columns(header: str) -> int:
    """How many columns a header line in sentence case names: one per capitalised word ("Quality attribute
    Example method Example acceptance criterion": 3), acronyms aside ("Type of ATMP Considerations": 2). A header
    in title case ("Test Method Acceptance Criterion") does not tell its columns apart: 2, the least a table has."""
    words = header.split()
    if not any(w[:1].islower() and w.lower() not in SMALL_WORDS for w in words):
        return 2
    return max(2, sum(1 for w in words if w[:1].isupper() and not w.isupper()))


def _label_line(line: str) -> bool:
    """A line of a label wrapped in its narrow column: at most three words, no verb, no sentence end."""
    words = line.split()
    return 0 < len(words) <= 3 and line.rstrip()[-1] not in ".;:!?," and not any(w.lower() in VERBS for w in words)


def _row_start(texts: Sequence[str], j: int, series: str = "") -> LabelRow | None:
    """A row starting at line `j`: the label and the cell's first words on one line, a label of up to
    three short lines over a capitalised cell line of five words or more, or (`series`: the first word of the
    first row's label) the next label of the series wrapped in its column (`_series_row`). `last` is set by
    the caller."""
    line = texts[j]
    entry = table_glossary_entry(line)
    if entry is not None and len(entry[0].split()) <= _MAX_LABEL_WORDS:
        label_end = len(line[:entry[1]].rstrip())
        return LabelRow((j, 0), (j, label_end), (j, entry[1]), j)
    if not line.strip()[:1].isupper():
        return None
    if (heading := detect_heading(line)) is not None and heading.kind in ("annex", "part", "roman", "numbered"):
        return None  # "Appendix Glossary" after the table's last row opens a section, it labels no row
    if series and (row := _series_row(texts, j, series)) is not None:
        return row
    for m in range(1, 4):
        if j + m >= len(texts) or not _label_line(texts[j + m - 1]):
            return None
        cell = texts[j + m].strip()
        if cell[:1].isupper() and len(cell.split()) >= 5 and not _label_line(cell):
            label = " ".join(" ".join(texts[j:j + m]).split())
            if len(label.split()) <= _MAX_LABEL_WORDS:
                return LabelRow((j, 0), (j + m - 1, len(texts[j + m - 1].rstrip())), (j + m, 0), j + m)
            return None
    return None


#: The number of a row label in a series ("Tier 2", "Grade B", "Class III", "Phase 1"), after its first word.
_SERIES_NUMBER = re.compile(r"^(?:\d{1,2}[a-z]?|[A-Z]|[IVX]{1,4})[.:)]?$")


def _series_row(texts: Sequence[str], j: int, series: str) -> LabelRow | None:
    """The next label of a series of row labels ("Tier 1 (low risk)", … "Tier 2 (low to" / "moderate risk)"),
    wrapped in its column over the cell's first line ("Well-characterized reagents", too short for a row start
    of its own): the label goes on while a parenthesis is open or a line ends with a small word, for at most
    three lines, and the cell starts on the next line with a capital. Without it the row is read into the row
    before, and its cell is cited with the wrong label."""
    words = texts[j].split()
    if len(words) < 2 or words[0] != series or not _SERIES_NUMBER.match(words[1]):
        return None
    label = ""
    for m in range(3):
        if j + m + 1 >= len(texts):
            return None
        line = texts[j + m].strip()
        label = f"{label} {line}".strip()
        name = " ".join(line.split()[2:]) if m == 0 else line  # (past "Tier 2." / "Grade B:")
        if any(mark in name for mark in ",;:!?.") or any(w.lower() in VERBS for w in line.split()):
            return None  # a name, not a cell's sentence ("Tier 1 activities, plus functional testing and")
        if label.count("(") <= label.count(")") and line.split()[-1].lower() not in SMALL_WORDS:
            cell = texts[j + m + 1].strip()
            if not cell[:1].isupper() or len(label.split()) > 2 * _MAX_LABEL_WORDS:
                return None
            return LabelRow((j, 0), (j + m, len(texts[j + m].rstrip())), (j + m + 1, 0), j + m + 1)
    return None


def _cell_line(line: str, width: int) -> bool:
    """After a finished sentence, a line that goes on in the cell: capitalised, no heading, and no wider than
    the cell's lines so far (running text after the table spans the page)."""
    text = line.strip()
    return text[:1].isupper() and len(text) <= width + 2 and detect_heading(text) is None


#: Lines of a sentence that may stand between a caption and its column headers ("Table 1 summarises the design
#: elements that the Authority expects …" / "… Deviations should be justified in the study plan.").
_MAX_INTRO_LINES = 3


def _header_under(texts: Sequence[str], k: int) -> tuple[int, str] | None:
    """(line, text) of the column headers under the caption at line `k`: the next line, or the line after a
    short introduction of whole sentences (capitalised, ending a sentence right above the headers)."""
    if k + 1 < len(texts) and (header := _header(texts[k + 1])) is not None:
        return k + 1, header
    for h in range(k + 2, min(k + 2 + _MAX_INTRO_LINES, len(texts))):
        intro = texts[k + 1:h]
        if not texts[k + 1].strip()[:1].isupper() or any(is_caption(t) or _header(t) for t in intro):
            return None
        if intro[-1].rstrip()[-1:] in ".!?" and (header := _header(texts[h])) is not None:
            return h, header
    return None


def label_table(texts: Sequence[str], k: int) -> LabelTable | None:
    """The table of labels and prose whose caption is line `k` of `texts` (non-blank lines), or None.

    Under the caption (and a sentence introducing the table, if any), a line of two column headers; then rows,
    each starting after a line that ended a sentence; the lines after a row's start until the next start are
    its cell. The caption and headers repeated after a page break are skipped. A line after a finished row that
    starts no row ends the table, as does a caption of another table. At least two rows make a table.
    """
    if k + 3 >= len(texts) or not is_caption(texts[k]) or (found := _header_under(texts, k)) is None:
        return None
    at, header = found
    if _columns(header) > 2:
        # A label and the cells of two or more columns ("Residual host cell DNA qPCR for a host-specific" over
        # "Not more than 10 ng per dose"): the text layer interleaves the columns' lines, so a row's label
        # cannot be told from its cells and a wrapped label was cited with the row above's.
        return None
    rows: list[LabelRow] = []
    closed = True
    width = 0  # the longest line of a cell so far: the cell column's width in characters
    series = ""  # the first word of the first row's label, which the next labels of a series share
    j = at + 1
    while j < len(texts):
        line = texts[j]
        if " ".join(line.split()) == header:
            j += 1  # the header repeated at the top of the next page
            continue
        if closed and is_caption(line) and j + 1 < len(texts) and " ".join(texts[j + 1].split()) == header:
            j += 2  # "Table 1 (continued)" and its header
            continue
        row = _row_start(texts, j, series) if closed and not TABLE_LABEL.match(line.strip()) else None
        if row is not None:
            if not rows:
                series = texts[row.label_start[0]].split()[0]  # the first label's word ("Tier 1 …")
            rows.append(row)
            j = row.last
            width = max(width, len(texts[j].strip()) - row.cell_start[1])
        elif rows and (not closed or line.lstrip()[:1].islower() or _cell_line(line, width)):
            # (a sentence of a cell may start on a new line: as narrow as the cell, and no heading; a line in
            # lower case goes on with the cell, after a "…;" of a list of phrases too)
            rows[-1] = replace(rows[-1], last=j)
            width = max(width, len(line.strip()))
        else:
            break
        closed = texts[j].rstrip()[-1:] in ".;!?"
        j += 1
    if len(rows) < 2:
        return None
    cells = [" ".join([texts[r.cell_start[0]][r.cell_start[1]:], *texts[r.cell_start[0] + 1:r.last + 1]]).split()
             for r in rows]
    if 2 * sum(any(w.lower() in VERBS for w in cell) for cell in cells) < len(rows) \
            and sum(map(len, cells)) < _MIN_PHRASE_WORDS * len(rows):
        # Cells of values ("Not detected", "Slightly opalescent, colourless …"), not prose: a table of
        # values and methods, whose rows cannot be told apart in the text layer. Cells of long phrases
        # without a verb ("Target cells with high, low and no antigen expression; cytotoxicity, …") are prose.
        return None
    return LabelTable(k, rows[-1].last + 1, rows, at)
