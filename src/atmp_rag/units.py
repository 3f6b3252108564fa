"""Quotable units: the statements an answer may quote, cut once at ingest and stored with the index.

A unit is a verbatim range of a document's content text (`chunking.Segmented.text`) with its page
spans, section path and the chunks that hold it:

- **sentence** — one sentence of running text (the splitter of `text.sentences`, the one chunking uses);
- **list** — a lead-in sentence ending in ":" together with the items that follow it, up to
  `max_list_chars`; a longer list is cut after the last whole item that fits and its `note` says
  how many items follow;
- **item** — a list item that reads on its own (starts with a capital, ≥ 6 words); its lead-in is the
  unit's `context`;
- **table** — a small table quoted whole (caption, header and rows, ≤ `max_table_chars`);
- **row** — one row of a larger table, with the caption and column headers as its `context`;
- **definition** — the definition of a glossary term, with the term line as its `context`.

What is not a statement is never a unit: headings, reference lists, figure text, TOC lines, title and
history pages (never in the content text), fragments that start mid-sentence, footnote markers and
heading tails at a unit's start (stripped by `text.content.strip_lead_noise`). `build_units` reports
how many candidates were dropped and why.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from atmp_rag.chunking import Section, Segmented
from atmp_rag.models import Chunk, QuoteUnit, UnitKind
from atmp_rag.text.content import (
    TABLE_CAPTION,
    TABLE_LABEL,
    is_prose_line,
    strip_lead_noise,
    unit_problem,
    whole_sentence,
)
from atmp_rag.text.headings import DEFINITIONS_LEAD_IN, GLOSSARY_TITLES, SMALL_WORDS, VERBS, inline_glossary_entry
from atmp_rag.text.sentences import (
    LIST_ITEM,
    NOTE,
    lines_with_offsets,
    list_marker,
    marker_style,
    split,
    strip_range,
)
from atmp_rag.text.tables import LabelTable, is_continued_caption, label_table

__all__ = ["UnitBuild", "build_units"]

_FIGURE = re.compile(r"^(?:figure|fig\.|diagram|chart|scheme)\s+[\dA-Z]{1,4}\b", re.IGNORECASE)
_ROW_START = re.compile(r"^\S*[^\W\d_]")  # the first token holds a letter ("Benzene", "1,2-Dichloroethane")


@dataclass
class _Draft:
    kind: UnitKind
    start: int
    end: int
    section: Section
    context: tuple[int, int] | None = None
    context_tail: tuple[int, int] | None = None  # more of the context elsewhere (a glossary term's wrapped tail)
    rest: tuple[int, int, int] | None = None  # a list's items beyond the quote: start, end, count
    cell: bool = False  # a sentence of a table's cell, read row by row (a checklist's question is its content)


@dataclass
class UnitBuild:
    """The units of one document, their ranges in the content text, and what was dropped and why."""

    units: list[QuoteUnit]
    ranges: list[tuple[int, int]]
    dropped: Counter[str]


def _line_ranges(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out = []
    for off, line in lines_with_offsets(text[start:end]):
        r = strip_range(text, start + off, start + off + len(line))
        if r:
            out.append(r)
    return out


def _header_of(text: str, lines: list[tuple[int, int]], caption: tuple[int, int] | None) -> tuple[int, int] | None:
    """The caption and header lines of a table region: everything before its first row of values."""
    first_row = next((k for k, (a, b) in enumerate(lines) if _row_like(text[a:b])), 0)
    start = caption[0] if caption else lines[0][0]
    if first_row == 0:
        return caption
    return start, lines[first_row - 1][1]


def _row_like(line: str) -> bool:
    """A line of table values: a quarter or more of its tokens hold digits or measurement symbols
    ("Long term - 20°C ± 5°C 12 months", "Acetonitrile 4.1 410"), unlike a sentence that mentions a year."""
    tokens = line.split()
    valued = sum(1 for t in tokens if any(c.isdigit() for c in t) or t in {"±", "-", "–", "<", ">", "≤", "≥", "x"})
    return bool(tokens) and valued >= 0.25 * len(tokens) and any(c.isdigit() for c in line)


def _ragged_runs(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """Runs of ≥ 3 lines that are not running text: (first line index, end index, "table" | "figure" | "cells")."""
    texts = [text[a:b] for a, b in lines]
    out = []
    i = 0
    while i < len(texts):
        if i + 1 < len(texts) and TABLE_LABEL.match(texts[i + 1]) and texts[i].rstrip()[-1:] in ".;:!?":
            # The last line of the paragraph above ("acceptable.", "Table 1 lists examples of … cells.") is not
            # the table's first: the caption below is.
            i += 1
        elif 0 < i < len(texts) - 1 and texts[i][:1].islower() and texts[i].rstrip()[-1:] in ".;!?" \
                and is_prose_line(texts[i - 1]) and texts[i - 1].rstrip()[-1:] not in ".;:!?" \
                and not TABLE_LABEL.match(texts[i - 1]):
            # "application." ends the sentence wrapped from the line above ("… proposed in the marketing"), not
            # the first line of the cells below it.
            i += 1
        # The caption heads the run, or sits right above it when it reads like prose itself ("Table 1.
        # Release tests and acceptance criteria for the finished CAR-T cell product").
        caption_at = i if TABLE_LABEL.match(texts[i]) else i - 1 if i > 0 and TABLE_LABEL.match(texts[i - 1]) else None
        j = i
        while j < len(texts):
            line = texts[j]
            if caption_at is not None and j > i and (_prose_like_row(texts, j, caption_at) or _header_row(texts, j,
                                                                                              caption_at)
                                                     or _row_under_header(texts, j, caption_at)
                                                     or _sentence_row(texts, j, caption_at)):
                j += 1
                continue
            if (is_prose_line(line) and not (j - i >= 3 and (_ends_a_cell(texts[j - 1], line) or (
                    len(line.split()) <= 10 and _narrow_prose(texts[i:j]))))) \
                    or (LIST_ITEM.match(line) and not TABLE_LABEL.match(line)) \
                    or (j > 0 and _ends_a_sentence_before(texts[j - 1], line)):
                break
            j += 1
        if j - i >= 3:
            run = texts[i:j]
            rows = sum(1 for ln in run if _row_like(ln))
            # A caption above the table, or below it (several regulators print "Table 1 …" under the table);
            # a numbered caption right above a run of rows whose values are words ("Sterility Ph. Eur. 2.6.27
            # No growth", "Identity Flow cytometry CAR-positive T cells detected") heads a table too.
            captioned = caption_at == i - 1 and TABLE_CAPTION.match(texts[i - 1]) is not None
            # A chart's text is mostly single tokens (axis ticks "0%", "5%", labels); a table's rows hold a label
            # and values.
            ticks = sum(1 for ln in run if len(ln.split()) == 1) >= len(run) / 2
            if TABLE_LABEL.match(run[0]) or TABLE_LABEL.match(run[-1]) or captioned \
                    or (rows >= 1 and rows >= len(run) / 3 and not ticks):
                out.append((i, j, "table"))
            elif _FIGURE.match(run[0]) or (sum(len(ln.split()) for ln in run) / len(run) <= 4.5
                                           and not _wrapped_prose(texts, i, j)):
                out.append((i, j, "cells" if not _FIGURE.match(run[0]) and _narrow_prose(run) else "figure"))
        i = max(j, i + 1)
    return out


def _ends_a_cell(previous: str, line: str) -> bool:
    """`line` is the short last line of a sentence wrapped in a narrow cell ("independent power supply" / "and its
    own alarm system."): it goes on in lower case from a line that ends nothing."""
    return line[:1].islower() and len(line.split()) <= 6 and previous.rstrip()[-1:] not in ".;:!?"


def _wrapped_prose(texts: Sequence[str], i: int, j: int) -> bool:
    """Lines `i`..`j` of short words end with the lead-in of the list below them, wrapped in a narrow column
    ("remove it." / "For the purposes of this chapter, the following definitions" / "apply:" over "— raw
    material: …"): prose, not the text of a figure. (A run that merely goes on with the sentence of the line
    above may be a table's cells, "X X" / "Investigator/", or a formula's symbols, which stay a figure.)"""
    return texts[j - 1].rstrip().endswith(":") and j < len(texts) and bool(LIST_ITEM.match(texts[j]))


def _narrow_prose(run: Sequence[str]) -> bool:
    """Short lines that join into whole sentences: the cells of a table of prose set in narrow columns (a PIC/S
    aide-memoire's "Key questions" and "Notes", four words to a line), not the text of a figure. Most of the
    run's words must lie in at least two sentences that start with a capital, end with a full stop or
    question mark, run to six words or more and have a verb; a diagram's boxes ("Risk Review" / "Risk
    Communication") end no sentence."""
    joined = "\n".join(run)
    whole = [joined[a:b] for a, b in split(joined) if whole_sentence(joined[a:b], ".?", 6)]
    return len(whole) >= 2 and sum(len(s.split()) for s in whole) >= 0.6 * len(joined.split())


def _cell_units(text: str, lines: list[tuple[int, int]], section: Section) -> list[_Draft]:
    """The sentences of a table of prose in narrow columns (`_narrow_prose`), cell after cell as the text layer
    gives them. Lines without a verb before a line that starts with a capitalised word are the cells read before
    the sentence (a cross-reference "Annex 2A, 5.25; Annex 1, 6.7", a row label "5.1.2 Storage" / "locations"),
    unless they end with a small word ("Materials of animal origin used in" / "Europe should …" is one
    sentence): they become the sentence's context, so the quote starts with the cell's own words. A question
    is a checklist's content here ("Are the MCB and the WCB each stored in at least two separate locations …?")."""
    drafts = []
    starts = [a for a, _ in lines]
    for a, b in split(text, lines[0][0], lines[-1][1]):
        begin = a
        for pos in starts[bisect.bisect_right(starts, a):bisect.bisect_left(starts, b)]:
            before = text[a:pos].split()
            word = (text[pos:b].split(maxsplit=1) or [""])[0]
            if any(w.lower() in VERBS for w in before):
                break
            if word[:1].isupper() and any(c.islower() for c in word) and before[-1].lower() not in SMALL_WORDS:
                begin = pos
        context = strip_range(text, a, begin) if begin > a else None
        drafts.append(_Draft(UnitKind.sentence, begin, b, section, context=context, cell=True))
    return drafts


def _prose_like_row(texts: Sequence[str], j: int, caption_at: int) -> bool:
    """Line `j` of a captioned table is a row even though it reads like prose, and the table goes on:

    - cells read across a row ("Release and stability ≥ 20% CAR+ T cells of viable CD3+") above the wrapped
      rest of a cell ("cells");
    - under the header, a row of many lower-case words with a comparison or quantity sign, no verb and no
      sentence end ("Vector copy number ddPCR ≤ 5 copies per transduced cell"), the table going on (or
      ending) below it.
    """
    line, below = texts[j], texts[j + 1] if j + 1 < len(texts) else None
    if below is not None and is_prose_line(line) and any(c.isdigit() for c in line) and _wrapped_cell(below):
        return True
    return (j >= caption_at + 2 and line.rstrip()[-1:] not in ".;:!?" and any(sign in line for sign in "≤≥<>±×%")
            and not any(w.lower() in VERBS for w in line.split()) and (below is None or not is_prose_line(below)))


def _column_headers(line: str) -> bool:
    """A line of column headers: two to eight words, capitalised, no digit, no verb, no sentence end ("Test Method
    Acceptance criterion", "Study Storage condition Minimum time period")."""
    words = line.split()
    return (2 <= len(words) <= 8 and line[:1].isupper() and line.rstrip()[-1:] not in ".;:!?,"
            and words[-1].lower() not in SMALL_WORDS
            and not any(c.isdigit() for c in line) and not any(w.lower() in VERBS for w in words))


def _headed_rows(header: str, first_row: str) -> bool:
    """Column headers over a first row that reads across the columns ("Test Method Acceptance criterion" over
    "Appearance Visual inspection Colourless …"); a grid whose cells stand one per line ("Type of" /
    "Manufacturing" / …, Q7's Table 1) is no such table."""
    return _column_headers(header) and len(first_row.split()) >= 3


def _rows_under(lines: Sequence[tuple[int, int]], texts: Sequence[str], header: str) -> list[tuple[int, int]] | None:
    """The lines of a table under `header` when each reads across a whole row (`_reads_across`), less the caption
    and headers it repeats after a page break ("Table 2 (continued)"); None when some line is no whole row."""
    kept = [(r, t) for r, t in zip(lines, texts, strict=True)
            if not is_continued_caption(t) and " ".join(t.split()) != " ".join(header.split())]
    return [r for r, _ in kept] if len(kept) >= 2 and all(_reads_across(t) for _, t in kept) else None


#: Words a row of a table that ends with a sentence has at least: its label, values and a clause.
_ROW_SENTENCE_WORDS = 8


def _reads_across(line: str) -> bool:
    """A line that is a whole row of a table with column headers: three words or more, capitalised (the wrapped
    rest of a cell runs on in lower case), ending no sentence unless the row's last cell is one (a row of that
    many words is no wrapped cell's last line)."""
    words = line.split()
    return 3 <= len(words) <= 80 and not line[:1].islower() and (
        line.rstrip()[-1:] not in ".;:!?" or len(words) >= _ROW_SENTENCE_WORDS)


def _headed_caption(texts: Sequence[str], caption_at: int) -> bool:
    """The caption at line `caption_at` has column headers right under it, over a first row (`_headed_rows`)."""
    return caption_at + 2 < len(texts) and _headed_rows(texts[caption_at + 1], texts[caption_at + 2])


def _row_under_header(texts: Sequence[str], j: int, caption_at: int) -> bool:
    """Line `j` of a captioned table whose column headers stand right under the caption is a row, however much it
    reads like prose ("Appearance Visual inspection Colourless to pale yellow cell suspension, free", "Potency
    IFN-γ release after co-culture ≥ 2-fold over antigen-negative control"), as long as it ends no sentence and
    holds no verb: the paragraph after the table does. A row may be longer than any line of running text:
    extraction writes a row whose cells wrap on one line (`table_layout`)."""
    if j < caption_at + 2 or not _headed_caption(texts, caption_at):
        return False
    line = texts[j]
    words = line.split()
    return (0 < len(words) <= 80 and line.rstrip()[-1:] not in ".;:!?"
            and not any(w.lower().strip(",;()") in VERBS for w in words))


def _sentence_row(texts: Sequence[str], j: int, caption_at: int) -> bool:
    """Line `j` of a captioned table with column headers right under the caption is a whole row that ends with a
    sentence ("Flow cytometry for TRA-1-60 … 0.01% to 0.1% Rapid and widely available; … release test.", written
    on one line by `table_layout`): it starts with a capital and ends a sentence, and so does the row above it (a
    paragraph after the table starts on a line that ends no sentence)."""
    if j < caption_at + 2 or not _headed_caption(texts, caption_at):
        return False
    line, above = texts[j], texts[j - 1]
    return (line[:1].isupper() and line.rstrip()[-1:] in ".!?" and len(line.split()) >= _ROW_SENTENCE_WORDS
            and (j == caption_at + 2 or above.rstrip()[-1:] in ".!?"))



def _header_row(texts: Sequence[str], j: int, caption_at: int) -> bool:
    """Line `j`, right under a caption, is the table's column headers however long it is ("Product type
    Examples of potency-related attributes Examples of assay formats"): no verb, no sentence end, and short
    lines (cells) below it."""
    line, below = texts[j], texts[j + 1] if j + 1 < len(texts) else ""
    return (j == caption_at + 1 and line.rstrip()[-1:] not in ".;:!?," and _wrapped_cell(below)
            and not any(w.lower() in VERBS for w in line.split()))


def _wrapped_cell(line: str) -> bool:
    """A short line that ends no sentence: the wrapped rest of a table cell ("cells", "target ratio of 10:1")."""
    return 0 < len(line.split()) <= 8 and line.rstrip()[-1:] not in ".;:!?" and not is_prose_line(line)


def _ends_a_sentence_before(previous: str, line: str) -> bool:
    """`line` is the end of a sentence wrapped from `previous` that refers to a table or figure ("… the tests
    listed in" / "Table 1."), not a caption: `previous` runs on in lower case, `line` is short and ends it."""
    last = previous.split()[-1] if previous.split() else ""
    return (bool(TABLE_LABEL.match(line) or _FIGURE.match(line)) and len(line.split()) <= 6
            and line.rstrip()[-1:] in ".;" and last.isalpha() and last.islower())


def _table_units(text: str, lines: list[tuple[int, int]], section: Section, caption: tuple[int, int] | None,
                 max_chars: int, carried: tuple[int, int] | None = None) -> list[_Draft]:
    """Units of one table region. `carried`: the caption and header of the table this region continues
    (a table broken over a page starts again with rows), given to its units as context."""
    start = caption[0] if caption else lines[0][0]
    end = lines[-1][1]
    texts = [text[a:b] for a, b in lines]
    # The line of column headers: the first, under a caption above the run, or the second, under the run's own.
    head = 0 if caption is not None else 1 if TABLE_LABEL.match(texts[0]) else None
    long = end - start > max_chars  # a table that fits in one quote is quoted whole (below)
    if long and head is not None and len(lines) >= head + 3 and _headed_rows(texts[head], texts[head + 1]):
        # Column headers under the caption over lines that each read across a whole row (extraction writes a
        # row whose cells wrap on one line, `table_layout`): one unit per row, the caption and headers as its
        # context ("Product type Mechanism of action Example potency assay" over "AAV vector expressing a
        # therapeutic enzyme Expression of … Transduction of a permissive cell line …").
        rows = _rows_under(lines[head + 1:], texts[head + 1:], texts[head])
        if rows is not None:
            return [_Draft(UnitKind.row, a, b, section, (start, lines[head][1])) for a, b in rows]
    if carried is not None:
        rows = _rows_under(lines, texts, text[carried[0]:carried[1]].splitlines()[-1]) if long else None
        if rows is not None:
            return [_Draft(UnitKind.row, a, b, section, carried) for a, b in rows]
        return [_Draft(UnitKind.table, a, b, section, carried) for a, b in _slices(lines, max_chars)]
    body = [text[a:b] for a, b in lines if not TABLE_LABEL.match(text[a:b])]
    if sum(len(ln.split()) for ln in body) < 8 and not any(c.isdigit() for ln in body for c in ln):
        return []  # a caption over a few header words, its cells read elsewhere: nothing to quote
    if end - start <= max_chars:
        return [_Draft(UnitKind.table, start, end, section)]
    # A long table: one unit per row, the caption and column headers as context. The header runs up
    # to the first line holding a value (a digit), less a short label that starts the first row
    # ("Long term*" above its values); a row starts at a line whose first token has a letter.
    first_value = next((k for k, (a, b) in enumerate(lines) if any(c.isdigit() for c in text[a:b])), None)
    if first_value is None:
        return []
    header_end = first_value
    if header_end >= 2 and len(text[lines[header_end - 1][0]:lines[header_end - 1][1]].split()) <= 3:
        header_end -= 1
    # The header goes on over lines that continue it in lower case ("Study Storage condition Minimum time
    # period covered by" / "data at submission"); a capitalised line under it is a row whose values are
    # words ("Identity Flow cytometry CAR-positive T cells detected").
    for k in range(1, header_end):
        if text[lines[k][0]:lines[k][0] + 1].isupper():
            header_end = k
            break
    # Column headers right under the caption, above rows that read across ("Test Method Acceptance criterion"
    # over "Appearance Visual inspection Colourless …"): every slice of the table is quoted under them.
    k0 = head or 0
    if k0 + 1 < len(lines) and _headed_rows(texts[k0], texts[k0 + 1]):
        header_end = max(header_end, k0 + 1)
    context = (start, lines[header_end - 1][1]) if header_end > 0 else caption
    body = lines[header_end:]
    if len(body) > 1 and TABLE_LABEL.match(text[body[-1][0]:body[-1][1]]):
        body = body[:-1]  # a caption under the table is not a row of it
    # "Acetonitrile 4.1 410": a label, then its values at the end of the same line.
    one_line_rows = sum(1 for a, b in body if _ROW_START.match(text[a:b])
                        and any(c.isdigit() for c in text[a:b].split()[-1]))
    single = sum(1 for a, b in body if len(text[a:b].split()) < 2)
    if one_line_rows >= 0.7 * len(body) and single < 0.2 * len(body):
        # Every line is a row with its values ("Acetonitrile 4.1 410"): one unit per row.
        return [_Draft(UnitKind.row, a, b, section, context) for a, b in body]
    # Cells wrap over several lines, so rows cannot be told apart in the text layer: quote the
    # table in consecutive slices that fit, each with the caption and headers as context.
    return [_Draft(UnitKind.table, a, b, section, context) for a, b in _slices(body, max_chars)]


def _slices(lines: list[tuple[int, int]], max_chars: int) -> list[tuple[int, int]]:
    """Consecutive runs of whole lines, each at most `max_chars` long (a longer single line stands alone)."""
    out: list[tuple[int, int]] = []
    piece: list[tuple[int, int]] = []
    for a, b in lines:
        if piece and b - piece[0][0] > max_chars:
            out.append((piece[0][0], piece[-1][1]))
            piece = []
        piece.append((a, b))
    if piece:
        out.append((piece[0][0], piece[-1][1]))
    return out


def _label_units(text: str, lines: list[tuple[int, int]], table: LabelTable, section: Section) -> list[_Draft]:
    """The sentences of each prose cell of a table of labels and prose (`text.tables`), the row's label as
    their context: quoted as running text, a row would begin with its label ("Premises Open manipulations …")."""
    drafts = []
    for row in table.rows:
        label = strip_range(text, lines[row.label_start[0]][0] + row.label_start[1],
                            lines[row.label_end[0]][0] + row.label_end[1])
        start = lines[row.cell_start[0]][0] + row.cell_start[1]
        pieces: list[tuple[int, int]] = []
        for a, b in split(text, start, lines[row.last][1]):
            if pieces and text[a:a + 1].islower():
                pieces[-1] = (pieces[-1][0], b)  # "… dose levels;" + "vehicle and … controls.": one phrase list
            else:
                pieces.append((a, b))
        drafts.extend(_Draft(UnitKind.sentence, a, b, section, context=label, cell=True) for a, b in pieces)
    return drafts


def _table_goes_on(page_tops: Sequence[int], pos: int, table_end: int) -> bool:
    """`pos` is the top of a page, and the last table ended on the page before it."""
    k = bisect.bisect_left(page_tops, pos)
    return 0 < k < len(page_tops) and page_tops[k] == pos and table_end > page_tops[k - 1]


def _body_units(text: str, section: Section, start: int, end: int, max_list_chars: int,
                max_table_chars: int, dropped: Counter[str], page_tops: Sequence[int]) -> list[_Draft]:
    lines = _line_ranges(text, start, end)
    drafts: list[_Draft] = []
    regions: list[tuple[int, int]] = []  # ranges handled as tables or figures
    header: tuple[int, int] | None = None  # caption and column headers of the last table of the section
    table_end = -1  # end of the last table region
    labelled: list[tuple[int, int]] = []  # line indices of tables of labels and prose
    texts = [text[a:b] for a, b in lines]
    k = 0
    while k < len(lines):
        if (table := label_table(texts, k)) is None:
            k += 1
            continue
        drafts.extend(_label_units(text, lines, table, section))
        if table.intro:  # the sentence introducing the table is running text
            drafts.extend(_prose_units(text, section, lines[table.intro.start][0], lines[table.intro.stop - 1][1],
                                       max_list_chars))
        regions.append((lines[table.start][0], lines[table.end - 1][1]))
        labelled.append((table.start, table.end))
        k = table.end
    for i, j, kind in _ragged_runs(text, lines):
        if any(i < b and a < j for a, b in labelled):
            continue
        caption = None
        above = text[lines[i - 1][0]:lines[i - 1][1]] if i > 0 else ""
        # The line above captions the run unless the run begins with its own caption ("Table 1 lists … cells."
        # over "Table 1. Examples of …" is a sentence).
        if TABLE_LABEL.match(above) and not TABLE_LABEL.match(text[lines[i][0]:lines[i][1]]) and not (
                i > 1 and _ends_a_sentence_before(text[lines[i - 2][0]:lines[i - 2][1]], above)):
            caption = lines[i - 1]
        if kind == "cells":
            drafts.extend(_cell_units(text, lines[i:j], section))
        elif kind == "table":
            first = text[lines[i][0]:lines[i][1]]
            # A table broken over a page goes on at the next page's top with rows, or with a row whose
            # values sit on a later line ("Ethyl ether Diethyl ether" above its formula and class) when
            # the last table ran on the page before (only its footnotes between them).
            goes_on = _row_like(first) or _table_goes_on(page_tops, lines[i][0], table_end)
            continued = header if caption is None and header is not None and goes_on else None
            tables = _table_units(text, lines[i:j], section, caption, max_table_chars, continued)
            if continued is None:
                header = _header_of(text, lines[i:j], caption)
            drafts.extend(tables)
            table_end = lines[j - 1][1]
            if not tables:
                dropped["table without values"] += 1
        else:
            dropped["figure text"] += 1
        regions.append(((caption or lines[i])[0], lines[j - 1][1]))
    # Running text between the tables and figures.
    pos = start
    gaps = []
    for a, b in sorted(regions):
        if a > pos:
            gaps.append((pos, a))
        pos = max(pos, b)
    if pos < end:
        gaps.append((pos, end))
    for a, b in gaps:
        drafts.extend(_prose_units(text, section, a, b, max_list_chars))
    return sorted(drafts, key=lambda d: (d.start, d.end))  # reading order: ordinals follow the text


def _is_item(text: str, a: int) -> bool:
    line_start = text.rfind("\n", 0, a) + 1
    return bool(LIST_ITEM.match(text[line_start:a + 12].lstrip())) and not text[line_start:a].strip()


def _prose_units(text: str, section: Section, start: int, end: int, max_list_chars: int) -> list[_Draft]:
    ranges = split(text, start, end)
    drafts: list[_Draft] = []
    i = 0
    while i < len(ranges):
        a, b = ranges[i]
        if text[a:b].rstrip().endswith(":") and i + 1 < len(ranges) and _is_item(text, ranges[i + 1][0]):
            # A lead-in and its items: the items are the range's sentences that start at a list marker,
            # and the sentences that continue an item.
            j = i + 1
            items: list[tuple[int, int]] = []
            style = marker_style(text[ranges[j][0]:ranges[j][1]])
            # A lead-in that is itself an item with another marker than its items ("○ The exercise should
            # compare the following:" over "① …"): the next item with the lead-in's marker is its sibling.
            lead = list_marker(text[a:b]) if _is_item(text, a) else None
            if lead == list_marker(text[ranges[j][0]:ranges[j][1]]):
                lead = None  # ("- A summary …, including:" over "- Pharmacokinetics …": the items of one list)
            while j < len(ranges):
                s, e = ranges[j]
                if lead is not None and list_marker(text[s:e]) == lead:
                    break
                if _is_item(text, s) and not (marker_style(text[s:e]) != style
                                              and text[:items[-1][1]].rstrip().endswith(".")):
                    # A finished list ("(c) … species.") is not continued by the next numbered paragraph
                    # ("10. A dose-response …"); a sub-list after "… between:" or "…;" is.
                    items.append((s, e))
                elif items and _continues_item(text, items[-1][1], s):
                    items[-1] = (items[-1][0], e)  # a second sentence of the same item
                else:
                    break
                j += 1
            kept = [it for it in items if it[1] - a <= max_list_chars] or items[:1]
            rest = (items[len(kept)][0], items[-1][1], len(items) - len(kept)) if len(kept) < len(items) else None
            drafts.append(_Draft(UnitKind.list, a, kept[-1][1], section, rest=rest))
            defines = bool(DEFINITIONS_LEAD_IN.search(text[a:b])) or bool(
                section.path and GLOSSARY_TITLES.search(section.path[-1]))
            for s, e in items:
                s = _after_marker(text, s, e)
                if (term := _defined_term(text, s, e)) is not None:
                    drafts.append(_Draft(UnitKind.definition, s, e, section, context=term))
                elif defines and (entry := inline_glossary_entry(text[s:e], lower_case_term=True)) is not None:
                    # "b) shedding: the release of …" under "the following definitions apply:": the term is
                    # the context, the words after its colon the definition.
                    drafts.append(_Draft(UnitKind.definition, s + entry[1], e, section,
                                         context=(s, s + len(text[s:s + entry[1]].rstrip().rstrip(":").rstrip()))))
                elif text[s:s + 1].isupper() and len(text[s:e].split()) >= 6:
                    drafts.append(_Draft(UnitKind.item, s, e, section, context=(a, b)))
            i = j
            continue
        if text[a:b].rstrip().endswith(":") and i + 1 < len(ranges) \
                and (items_end := _unmarked_items(text, ranges[i + 1][0], end)) is not None:
            # Items whose bullets are drawn, not written: the lead-in and its lower-case lines up to the next
            # sentence are one list, and the text after them is split afresh.
            kept_end = items_end
            if items_end - a > max_list_chars:
                cut = text.rfind("\n", a, a + max_list_chars)
                kept_end = cut if cut > ranges[i + 1][0] else items_end
            drafts.append(_Draft(UnitKind.list, a, kept_end, section))
            ranges = ranges[:i + 1] + split(text, items_end, end)
            i += 1
            continue
        if _is_item(text, a):
            a = _after_marker(text, a, b)
        term = _defined_term(text, a, b)
        drafts.append(_Draft(UnitKind.definition, a, b, section, context=term) if term is not None
                      else _Draft(UnitKind.sentence, a, b, section))
        i += 1
    return drafts


def _unmarked_items(text: str, start: int, end: int) -> int | None:
    """Where the items of a list with drawn bullets end, when `start` (the text after a lead-in's colon) begins
    one: "The following elements should be included:" / "a minimum of three animals per sex … use of" / "a
    large animal species" / "at least one time point …" / "Biodistribution assessments may be …".

    Without markers an item is told from a wrapped line by the short line that ends the item before it: the
    items begin in lower case, and at least one line shorter than 0.7 of the widest ends an item that the next
    lower-case line follows. They run to a line that begins with a capital after a short or punctuated line
    (after a full line it goes on with the sentence: "… Investigator's" / "Brochure (IB) …"). None when
    `start` begins no such list (a sentence that merely goes on after the colon)."""
    lines = []
    for off, line in lines_with_offsets(text[start:end]):
        stripped = line.strip()
        if not stripped or (lines and LIST_ITEM.match(stripped)):
            break
        lines.append((start + off + len(line) - len(line.lstrip()), stripped))
    if len(lines) < 2 or not lines[0][1][:1].islower() or LIST_ITEM.match(lines[0][1]):
        return None
    width = max(len(line) for _, line in lines)
    short = [len(line) < 0.7 * width for _, line in lines]
    stop = len(lines)
    for k in range(1, len(lines)):
        if lines[k][1][:1].isupper() and (short[k - 1] or lines[k - 1][1][-1:] in ".;:"):
            stop = k
            break
    if stop < 2 or not any(short[k] and lines[k + 1][1][:1].islower() for k in range(stop - 1)):
        return None
    pos, line = lines[stop - 1]
    return pos + len(line)


#: A definition in the style of a law: '"Residual undifferentiated cells" means iPS cells …', "'Advanced therapy
#: medicinal product' means any of the following …".
_DEFINED_TERM = re.compile(r"[\"“'‘](?P<term>[^\"”'’\n]{2,80})[\"”'’]\s*(?:\([^)\n]{1,40}\)\s*)?"
                           r"(?:means|shall\s+mean|refers\s+to|is\s+defined\s+as|denotes)\b")


def _defined_term(text: str, a: int, b: int) -> tuple[int, int] | None:
    """The range of the term a unit starting at `a` defines in the style of a law, if it does."""
    m = _DEFINED_TERM.match(text, a, b)
    return (m.start("term"), m.end("term")) if m else None


def _continues_item(text: str, item_end: int, start: int) -> bool:
    """A sentence after a list item belongs to it when it goes on in the same line, or the item's
    last sentence had no end; a new line after a finished item starts a new paragraph, and so does a note
    ("※ For ex vivo …" under an unpunctuated item)."""
    if NOTE.match(text, start):
        return False
    if "\n" not in text[item_end:start]:
        return True
    return text[:item_end].rstrip()[-1:] not in ".!?;"


def _after_marker(text: str, a: int, b: int) -> int:
    m = LIST_ITEM.match(text[a:b])
    return a + m.end() if m and a + m.end() < b else a


def _section_drafts(text: str, section: Section, max_list_chars: int, max_table_chars: int,
                    dropped: Counter[str], page_tops: Sequence[int]) -> list[_Draft]:
    if section.kind == "references":
        dropped["reference list"] += 1
        return []
    body = strip_range(text, section.body_start, section.end)
    if body is None:
        return []
    start, end = body
    if section.kind == "entry":
        head = strip_range(text, section.start, section.body_start)
        if head is not None and text[head[1] - 1] == "." and not section.term.endswith("."):
            head = (head[0], head[1] - 1)  # "Clonal dominance. A state …": the term without its full stop
        ranges = split(text, start, end)
        if not ranges:
            return []
        # The definition: the entry's first sentences up to a length a reader takes in at once.
        last = 0
        while last + 1 < len(ranges) and ranges[last + 1][1] - start <= 600:
            last += 1
        drafts = [_Draft(UnitKind.definition, ranges[0][0], ranges[last][1], section, context=head,
                         context_tail=section.term_tail)]
        for a, b in ranges[last + 1:]:
            drafts.append(_Draft(UnitKind.sentence, a, b, section))
        return drafts
    return _body_units(text, section, start, end, max_list_chars, max_table_chars, dropped, page_tops)


def _wrapped_phrase(text: str) -> bool:
    """One phrase or sentence wrapped over narrow lines: it ends with a full stop or semicolon, and no line
    starts with a capital unless the line before it ended a sentence. (A capital after an unfinished line is
    the next cell of the row read into this one: "… kanamycin resistance gene" / "Report result; …".)"""
    lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
    return bool(lines) and lines[-1][-1:] in ".;" and all(
        not line[:1].isupper() or before[-1:] in ".;:" for before, line in itertools.pairwise(lines))


def _title_like_lines(text: str) -> bool:
    """Lines that end no sentence and hold none: a title block, not a sentence with a footer glued on."""
    # A footnote marker may follow the full stop ("… to humans.1", "… (42 U.S.C. 262).¹").
    return not re.search(r"[.!?;:][)\"”’]?[\d¹²³⁴⁵⁶⁷⁸⁹⁰*†]*$", text.rstrip()) \
        and not re.search(r"[.!?][)\"”’]?\s+[^\s\d]", text)


def build_units(seg: Segmented, chunks: Sequence[Chunk], max_list_chars: int = 900,
                max_table_chars: int = 700) -> UnitBuild:
    """The quotable units of one segmented document (see the module docstring)."""
    text = seg.text
    dropped: Counter[str] = Counter()
    # Where each page's text begins (past leading blanks): a table region starting there may continue one.
    # (the first part of each page: its notes drawn before the body, if any, go after the last page)
    firsts = {number: (a, b) for number, a, b, _ in reversed(seg.bounds)}
    page_tops = sorted(r[0] for a, b in firsts.values() if (r := strip_range(text, a, b)))
    chunk_ranges = [(seg.range_of(c.spans), c.chunk_id) for c in chunks if c.spans]
    units: list[QuoteUnit] = []
    ranges: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for section in seg.sections:
        for d in _section_drafts(text, section, max_list_chars, max_table_chars, dropped, page_tops):
            start = d.start if d.kind in (UnitKind.table, UnitKind.row) else \
                strip_lead_noise(text, d.start, d.end, preamble=not section.path)
            if d.kind is UnitKind.list and start != d.start:
                dropped["list lead-in is a fragment"] += 1
                continue
            problem = unit_problem(text[start:d.end], d.kind.value)
            if d.cell and (problem == "a question, not a statement"
                           or (problem == "figure text" and _wrapped_phrase(text[start:d.end]))):
                # A cell of a table read row by row: its question is a checklist's content, and its phrase
                # wrapped in a narrow column ("Well-characterized reagents" / "manufactured under …") no diagram.
                problem = None
            if problem is None and d.kind is UnitKind.sentence and _title_like_lines(text[start:d.end]) \
                    and (not section.path or not units):
                # Before the first heading a line that ends no sentence is the document's title or a running
                # head ("Questions and answers on the classification of …", "COVER NOTE FOR …"); so it is
                # before the document's first unit, under an "Annex 3" label read as a heading.
                problem = "title before the first heading"
            if problem is None and not section.path and d.kind is UnitKind.table and len(seg.sections) > 1:
                # Lines without sentences before the first heading of a document that has headings are its
                # title block read as a table ("From: Medicines and Healthcare products Regulatory Agency" /
                # "Published 12 June 2025" / "Contents"), not a table of the guidance.
                problem = "title block before the first heading"
            if problem is not None:
                dropped[problem] += 1
                continue
            if (start, d.end) in seen:
                continue
            seen.add((start, d.end))
            holders = [cid for (a, b), cid in chunk_ranges if a < d.end and start < b]
            if not holders:
                dropped["outside every chunk"] += 1
                continue
            context, context_spans = "", []
            if d.context is not None:
                context, context_spans = text[d.context[0]:d.context[1]], seg.spans(*d.context)
            if d.context is not None and d.context_tail is not None:
                # (joined as the quote check joins spans)
                context += "\n" + text[d.context_tail[0]:d.context_tail[1]]
                context_spans = context_spans + seg.spans(*d.context_tail)
            note = ""
            if d.rest is not None:
                pages = sorted({s.page for s in seg.spans(d.rest[0], d.rest[1])})
                where = f"PDF page {pages[0]}" if len(pages) == 1 else f"PDF pages {pages[0]}–{pages[-1]}"
                note = f"the list continues with {d.rest[2]} more item(s) ({where})"
            ordinal = len(units)
            units.append(QuoteUnit(
                unit_id=f"{seg.doc_id}:u{ordinal:05d}", doc_id=seg.doc_id, ordinal=ordinal, kind=d.kind,
                text=text[start:d.end], spans=seg.spans(start, d.end), context=context, context_spans=context_spans,
                section_path=list(section.path), chunk_ids=holders, note=note,
            ))
            ranges.append((start, d.end))
    return UnitBuild(units, ranges, dropped)
