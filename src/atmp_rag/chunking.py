"""Pages -> sections -> chunks that respect sections, the embedding model's token budget and exact provenance.

The content pages of a document (not TOC, title, history or contact pages: `Page.kind`) are seen as
one text ``G`` (page texts joined by "\\n"), so a range of ``G`` maps to page spans whose texts,
joined by "\\n", give back exactly the chunk text. `segment` finds the sections once; both the chunks
here and the quotable units of `units.py` are cut from them.

1. Headings: every line goes through `text.headings.detect_heading`; numbered headings are then
   checked against the previous numbered heading (a plausible next number), so list items such as
   "2. Reports" inside section 7.5 stay body text. A numbered line followed by a line starting in
   lowercase is a wrapped paragraph, not a heading. A bare "2 Biodistribution" (no full stop, not in
   capitals) is a heading only when its first subsection ("2.1 …") follows or its title names a
   standard section (`text.headings.bare_numbered_heading`). A heading wrapped over lines (capitals, or a
   Title Case title cut after "for" or a hyphen) is joined (`text.headings.continues_heading`).
2. Sections run from one accepted heading to the next and carry the path of headings above them.
   Inside a glossary ("GLOSSARY", "7. DEFINITIONS"), every term line ("Batch (or Lot)", "Harm:") and
   numbered term opens a section of its own ("1. GLOSSARY › 1.63 Certified Copy"); a reference list
   ("REFERENCES", "Bibliography") is a section of kind "references", never chunked.
3. Units: a section is cut into sentences (and list items, and blocks separated by blank lines or
   ending in ":"/";") by `text.sentences`, the splitter quotable units use too. A unit over the
   budget is cut at line breaks, then between words, and a single giant "word" (a formula) into
   character slices. Each unit's tokens are counted once; chunk sizes are sums of unit counts,
   verified with one real count per chunk.
4. Runs: neighbouring sections are chunked together only when one of them is under `min_tokens`,
   both fit in one chunk, and they share a parent (or both are front matter under unnumbered
   capitals, such as a title page); a heading with no body is glued to the section that follows
   when that section is its descendant. Within a run, units are packed greedily up to
   `max_tokens` (balanced so that the last chunk is not a scrap), and each chunk repeats the last
   whole sentences (≈ `overlap_tokens`) of the previous chunk of the same section, or its last
   words when no whole sentence is small enough.
5. A chunk's `section_path` is the common prefix of its units' section paths: a chunk inside one
   section gets that section's full path, a chunk that merged tiny siblings gets their parent.
"""

from __future__ import annotations

import bisect
import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from atmp_rag.models import Chunk, Page, PageSpan
from atmp_rag.text.content import TABLE_CAPTION, footnote_anchor, footnote_start, is_prose_line, leading_notes
from atmp_rag.text.headings import (
    ACKNOWLEDGEMENT_TITLES,
    BACK_MATTER,
    CROSS_REFERENCE_WORDS,
    GLOSSARY_TABLE_HEADER,
    GLOSSARY_TITLES,
    HARD_CAPS,
    Q_ITEM_START,
    REFERENCE_TITLES,
    SMALL_WORDS,
    VERBS,
    Heading,
    bare_numbered_heading,
    contents_titles,
    continues_heading,
    detect_heading,
    glossary_term,
    inline_glossary_entry,
    is_callout_label,
    is_caps,
    listed_title,
    long_title,
    number_key,
    plausible_next,
    question_line,
    table_glossary_entry,
    term_column_tail,
    title_ok,
    unnumbered_subheading,
    wrapped_glossary_term,
    wrapped_subheading,
)
from atmp_rag.text.sentences import blocks, lines_with_offsets, marker_style, sentences, strip_range
from atmp_rag.text.tables import is_caption, label_table

log = logging.getLogger(__name__)


__all__ = ["Heading", "Section", "Segmented", "chunk_pages", "chunk_segmented", "detect_heading", "segment"]


# --------------------------------------------------------------------------------------------
# headings


# --------------------------------------------------------------------------------------------
# sections


@dataclass
class Section:
    """A stretch of the document text G under one heading, with the path of headings above it.

    `kind` is "body", "references" (a reference list, bibliography or acknowledgements: never chunked,
    quoted or ranked) or "entry" (one term of a glossary, whose `term` names it).
    """

    path: list[str]
    start: int  # offset in G of the heading line (or of the text, for the preamble)
    end: int
    body_start: int  # offset in G just after the heading line(s)
    units: list[tuple[int, int]] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    soft: bool = True  # only unnumbered capitals above: title pages and other front matter
    kind: str = "body"
    term: str = ""
    term_tail: tuple[int, int] | None = None  # a wrapped term's tail, read into the definition ("product (ATMP)")


@dataclass
class _PathState:
    stack: list[tuple[int, str, bool]] = field(default_factory=list)  # (level, text, soft)
    last_number: tuple[tuple[str, int], ...] | None = None
    glossary_level: int | None = None  # level of the glossary heading we are in
    references_level: int | None = None
    # The glossary is a two-column table under a "Term Definition" header: each row is an entry.
    table_glossary: bool = False
    # Unnumbered sentence-case subheadings met so far ("Repeated dose toxicity"): siblings of each other.
    labels: set[str] = field(default_factory=set)
    # The document numbers its top-level sections "2 Scope" (no full stop): the next one may stand alone.
    bare_top: bool = False
    # The questions of a Q&A document met so far: leaves, never the parent of the next heading.
    questions: set[str] = field(default_factory=set)
    # Inside an entry opened by a heading ("1.1 Adverse Drug Reaction (ADR)", "HARM"): its text is the
    # definition, so "Regarding marketed medicinal products: a response …" is not a term of its own.
    in_heading_entry: bool = False
    # Numbered headings accepted so far: after only one, a "1." may restart the numbering (the first was the
    # document's own number, "5.2.12. RAW MATERIALS …" over a Pharmacopoeia chapter's "1. SCOPE").
    numbered_seen: int = 0

    def path(self) -> list[str]:
        return [text for _, text, _ in self.stack]

    def push(self, level: int, text: str, soft: bool) -> None:
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text, soft))
        if self.glossary_level is not None and level <= self.glossary_level:
            self.glossary_level = None
            self.table_glossary = False
        if self.references_level is not None and level <= self.references_level:
            self.references_level = None

    def soft_only(self) -> bool:
        return all(soft for _, _, soft in self.stack)

    def hard_depth(self) -> int:
        hard = [lvl for lvl, _, soft in self.stack if not soft]
        return hard[-1] if hard else 0

    def depth(self) -> int:
        return self.stack[-1][0] if self.stack else 0


def _line_before(lines: list[tuple[int, str]], i: int) -> str:
    """The last non-blank line before line `i`, right-stripped ("" at the start)."""
    return next((lines[j][1].rstrip() for j in range(i - 1, -1, -1) if lines[j][1].strip()), "")


def _runs_on(before: str) -> bool:
    """Does the line `before` visibly continue into the next ("… should be tested on" + "3 Batches …")?
    A table row or a caption ends without a full stop too, and a section may follow it."""
    return bool(before) and (before[-1] in ",(" or (
        before[-1].islower() and (before[:1].islower() or is_prose_line(before))))


def _next_bare(state: _PathState) -> int | None:
    """The number a bare top-level heading ("3 Potency assays") must carry to follow the last one."""
    if not state.bare_top or not state.last_number or state.last_number[0][0] != "d":
        return None
    return state.last_number[0][1] + 1


def _is_name_heading(text: str) -> bool:
    """Whether a heading on the path is a bare section name ("Introduction"), read back from its text."""
    heading = detect_heading(text)
    return heading is not None and heading.kind == "name"


def _back_matter(heading: Heading) -> bool:
    """An unnumbered back-matter name: "References", "Authors and acknowledgements"."""
    return heading.kind == "name" and (
        " ".join(heading.title.upper().split()) in BACK_MATTER or bool(REFERENCE_TITLES.match(heading.title)))


def _closes_numbering(state: _PathState, heading: Heading) -> bool:
    """An unnumbered back-matter name after numbered sections."""
    return state.last_number is not None and _back_matter(heading)


def _closes_parts(state: _PathState, heading: Heading) -> bool:
    """An unnumbered back-matter name right under a part ("Part 6: Checklist for applicants" … "Glossary"); under
    a subsection of a part (Q3C's "PART VI" › "TERTIARY-BUTYL ALCOHOL" › "References") it stays there."""
    return len(state.stack) == 1 and not state.stack[0][2] and state.stack[0][0] == 0 and _back_matter(heading)


def _under_roman(state: _PathState) -> int | None:
    """The level a "1."-style heading nests below: the innermost "A."- or "(I)"-style heading on the path when
    a roman-numbered one is above it, else the innermost roman-numbered heading."""
    # ("3) Replication-competent AAV", numbered by a digit, is no such subsection: it nests under "2. …".)
    heads = [(level, detect_heading(title)) for level, title, _ in state.stack]
    for k in range(len(heads) - 1, -1, -1):
        level, h = heads[k]
        if h is not None and h.kind == "letter" and h.number.strip("().")[:1].isupper():
            return level if any(above is not None and above.kind == "roman" for _, above in heads[:k]) else None
        if h is not None and h.kind == "roman":
            return level
    return None


def _push_heading(state: _PathState, heading: Heading, text: str, key: tuple[tuple[str, int], ...] | None,
                  under: bool = False) -> str:
    """Put a heading on the path; returns the kind of the section it opens. `under`: a subheading right
    below the last heading, and its child."""
    glossary = state.glossary_level
    if glossary is not None and heading.kind in ("caps", "letter") and not REFERENCE_TITLES.match(heading.title):
        # Capitals or letters inside a glossary are its terms ("CRITICAL PROCESS PARAMETER").
        state.stack = [s for s in state.stack if s[0] <= glossary]
        state.stack.append((glossary + 1, text, True))
        return "entry"
    if heading.kind == "numbered":
        state.last_number = key
        state.numbered_seen += 1
        # FDA's "III. RECOMMENDATIONS" › "C. Potency Assays" › "1. Assay Development", NMPA's "V. Main Study
        # Contents" › "1. Pharmacodynamics": under a roman-numbered section or a lettered subsection of one,
        # "1." is the next level down, not a new top section.
        above = _under_roman(state) if heading.level == 1 else None
        state.push(above + 1 if above is not None else heading.level, text, soft=False)
    elif heading.kind in ("annex", "part"):
        state.last_number = None  # numbering restarts inside an annex or part
        state.push(heading.level, text, soft=False)
    elif heading.kind == "roman":
        # Each roman-numbered section numbers its subsections afresh ("I. Overview" › "1. Purpose" …
        # "IV. Quality" › "1. Manufacturing"): the next "1." follows no earlier number.
        state.last_number = None
        state.push(heading.level, text, soft=False)
    elif _closes_parts(state, heading):
        state.push(0, text, soft=False)
    elif (heading.kind == "caps" and heading.title.rstrip(":") in HARD_CAPS) or _closes_numbering(state, heading):
        state.push(1, text, soft=False)
    elif heading.kind in ("name", "label"):
        # "Introduction", "Conclusion" under "TRIETHYLAMINE": one level below the last heading that is
        # not itself a section name, so consecutive names are siblings.
        base = state.depth() if under else next((lvl for lvl, title, _ in reversed(state.stack)
                                                 if not _is_name_heading(title) and title not in state.labels), 0)
        if glossary is not None and _back_matter(heading):
            base = glossary - 1  # "References" after an appendix's glossary ends it: no entry of it
        if heading.kind == "label":
            state.labels.add(text)
        state.push(base + 1, text, soft=True)
    elif heading.kind == "letter":
        # "(1) Purpose" › "1) Raw materials" › "(i) Somatic cells": Japanese notifications nest these
        # styles in this order under a numbered section (levels may skip: the path is a stack).
        # Chinese guidelines' "(I) Test articles" is the first level under "IV. …".
        rank = 1 if heading.number[1:2].isdigit() or heading.number[1:2] in ("I", "V", "X") else \
            2 if heading.number[:1].isdigit() else 3
        state.push(state.hard_depth() + rank, text, soft=True)
    elif heading.kind == "question":
        # A Q&A document's questions ("Q3: Can …?") nest under the current section, whatever its kind
        # ("3. Combined products", PEI's "B. Gene therapy and GMO aspects"), and are siblings of each other.
        base = next((lvl for lvl, title, _ in reversed(state.stack) if title not in state.questions), 0)
        state.questions.add(text)
        state.push(base + 1, text, soft=True)
    else:
        # Other capitals and section names ("Introduction") nest under the current numbered section.
        state.push(state.hard_depth() + 1, text, soft=True)
    level = state.depth()
    if glossary is not None and state.glossary_level is not None and level > glossary:
        return "entry"  # a numbered glossary term ("1.63 Certified Copy")
    title = heading.title or heading.text
    if REFERENCE_TITLES.match(title) or ACKNOWLEDGEMENT_TITLES.match(title):
        state.references_level = level
        return "references"
    if GLOSSARY_TITLES.search(heading.title or heading.text):
        state.glossary_level = level
    return "references" if state.references_level is not None else "body"


#: Question lines followed by their answers that make a document a Q&A document.
QA_MIN_QUESTIONS = 3


def _answered_questions(lines: Sequence[tuple[int, str]]) -> dict[int, Heading]:
    """Lines that head the answers of a Q&A document: question lines, each followed by a line that is
    not a question, at least `QA_MIN_QUESTIONS` of them. A list of questions (ICH Q9 4.3: "1. What might go
    wrong?", "2. What is the likelihood …?") has no answers between them and heads nothing."""
    found: dict[int, Heading] = {}
    texts = [(i, line) for i, (_, line) in enumerate(lines) if line.strip()]
    for k, (i, line) in enumerate(texts):
        heading = question_line(line)
        if heading is None or k + 1 >= len(texts):
            continue
        answer = texts[k + 1][1].strip()
        if question_line(answer) is None and not answer.endswith("?") and answer[:1].isupper():
            found[i] = heading
    return found if len(found) >= QA_MIN_QUESTIONS else {}


def _wrapped_question(lines: Sequence[tuple[int, str]], i: int) -> tuple[Heading | None, int | None]:
    """The numbered question that starts at line `i` ("Q3. When a product containing human T cells …") and
    ends on one of the next three lines (the first to hold a question mark), and how many lines it takes;
    (None, None) when no line ends it, a blank line comes first or it is too long (`detect_heading`)."""
    parts = [lines[i][1].strip()]
    for k in range(i + 1, min(i + 4, len(lines))):
        line = lines[k][1].strip()
        if not line:
            break
        parts.append(line)
        if "?" in line:
            cand = detect_heading(" ".join(parts))
            return (cand, len(parts)) if cand is not None and cand.kind == "question" else (None, None)
    return None, None


#: Bare-numbered title lines "1 …", "2 …", "3 …" in order that make them a document's sections.
BARE_SEQUENCE_MIN = 3


def _page_at(starts: Sequence[int], offset: int) -> int:
    """The start offset of the page holding `offset`, from the sorted page starts (0 before the first)."""
    k = bisect.bisect_right(starts, offset)
    return starts[k - 1] if k else 0


def _page_measures(lines: Sequence[tuple[int, str]], starts: Sequence[int]) -> dict[int, float]:
    """Each page's measure (by its start offset, `starts` sorted): the median length of its lines of eight words
    or more, the width its running text is set in (a column's on a two-column page)."""
    lengths: dict[int, list[int]] = {}
    for offset, line in lines:
        if len(line.split()) >= 8:
            lengths.setdefault(_page_at(starts, offset), []).append(len(line.strip()))
    return {page: float(sorted(v)[len(v) // 2]) for page, v in lengths.items()}


def _paragraph_below(below: Sequence[str], measure: float) -> bool:
    """The lines under a title wrapped in a narrow column are a paragraph: its first line is as wide as the
    page's running text (`measure`, from `_page_measures`), or it runs on over two more lines of about its
    width (a paragraph in the narrow column). Under "Sequence-specific PCR or" / "sequencing" in a table on a
    page of full-width text, "Matches the expected transgene and" / "regulatory elements." is the next cell."""
    if not below:
        return False
    width = len(below[0].strip())
    if width >= 0.6 * measure:
        return True
    more = [len(line.strip()) for line in below[1:3]]
    return len(more) == 2 and all(0.7 * width <= w <= 1.5 * width for w in more)


def _bare_sequence(lines: Sequence[tuple[int, str]]) -> dict[int, Heading]:
    """Line index -> heading for a document whose top-level sections are bare-numbered titles without a
    standard name or a subsection to show it ("1 Potency assays", "2 Comparability", "3 Release testing"):
    title lines numbered 1, 2, 3 … in reading order, at least `BARE_SEQUENCE_MIN` of them. Footnotes
    ("1 See …") end with a full stop or hold digits, so they fail the title rules and break no sequence."""
    texts = [(i, line) for i, (_, line) in enumerate(lines) if line.strip()]
    found: dict[int, Heading] = {}
    for k, (i, line) in enumerate(texts[:-1]):
        if _runs_on(texts[k - 1][1].rstrip() if k else ""):
            continue
        heading = bare_numbered_heading(line, texts[k + 1][1], len(found) + 1)
        if heading is not None and int(heading.number) == len(found) + 1:
            found[i] = heading
    return found if len(found) >= BARE_SEQUENCE_MIN else {}


def _sections(g: str, page_starts: frozenset[int] = frozenset(), listed: frozenset[str] = frozenset(),
              after_front: bool = False) -> list[Section]:
    """The sections of a document's joined content text; `page_starts`: offsets where its pages begin;
    `listed`: the section titles its contents list names (`text.headings.contents_titles`); `after_front`:
    title, history or contents pages came before the text, so its first line is no title of the document
    (an unnumbered "About this consultation" there opens a section)."""
    lines = lines_with_offsets(g)
    questions = _answered_questions(lines)
    bare = _bare_sequence(lines)
    starts = sorted(page_starts)
    measure = _page_measures(lines, starts)
    state = _PathState()
    sections: list[Section] = [Section(path=[], start=0, end=len(g), body_start=0)]
    prev_closed = True  # the previous non-blank line ended a sentence (or was a heading)
    after_heading = True  # the previous non-blank line was a heading (or there was none)
    at_start = after_front  # the text's first line, after front pages
    heading_kind = ""  # kind of the last heading
    paragraphs: set[str] = set()  # numbers that started paragraphs, not headings ("11.20 For each batch …")
    definition_at = -1  # the line under a glossary term on its own line: the definition's first line
    table_headers: set[str] = set()  # the lines right under a table caption
    nonblank = [k for k, (_, ln) in enumerate(lines) if ln.strip()]
    nonblank_texts = [lines[k][1] for k in nonblank]
    nonblank_at = {k: m for m, k in enumerate(nonblank)}
    i = 0
    n = len(lines)
    while i < n:
        offset, line = lines[i]
        if not line.strip():
            i += 1
            continue
        if is_caption(line) and (table := label_table(nonblank_texts, nonblank_at[i])) is not None:
            # A table of labels and prose: a label wrapped over lines ("Release and" / "characterisation") is
            # no subheading, and the rows are the table's text.
            i = nonblank[table.end - 1] + 1
            prev_closed, after_heading = True, False
            continue
        follows_heading, after_heading = after_heading, False
        heading = detect_heading(line)
        if i in questions and (heading is None or heading.kind == "question"):
            heading = questions[i]
        following = [ln for _, ln in lines[i + 1:i + 5] if ln.strip()]
        nxt = following[0] if following else ""
        if TABLE_CAPTION.match(line.lstrip()) and nxt:
            table_headers.add(" ".join(nxt.split()))
        if heading is None and i in bare:
            heading = bare[i]
        if heading is None:
            heading = listed_title(line, listed)  # "Master files": the contents list names it
        if heading is None and nxt:
            # At the top of a page a section may start whatever the previous page ended with (a footnote).
            running = offset not in page_starts and _runs_on(_line_before(lines, i))
            heading = bare_numbered_heading(line, nxt, None if running else _next_bare(state))
        # Right under a plain-words or numbered title ("Scope", "3. Personnel") a subheading may follow at once.
        stacked = follows_heading and heading_kind in ("name", "label", "numbered")
        # After front pages the text's first line may open a section ("About this consultation" over a
        # paragraph) unless the cover's title is repeated there ("Guidance for Industry" over its title lines,
        # which have no verb).
        opens = at_start and any(w.lower() in VERBS for w in nxt.split())
        at_start = False
        if heading is None and nxt and ((prev_closed and not follows_heading) or stacked or opens) \
                and state.glossary_level is None and state.references_level is None and lines[i + 1][1].strip() \
                and not TABLE_CAPTION.match(_line_before(lines, i).lstrip()):
            # After body text only: right under another heading, such a line is the heading's own furniture
            # ("PDE FOR CUMENE" + "ICH Harmonised Tripartite Guideline" + "Having reached Step 4 …").
            heading = unnumbered_subheading(line, nxt, following[1] if len(following) > 1 else "")
        joined = None
        if heading is None and len(following) > 1 and re.match(r"\s*\d{1,2}\s+[A-Z]", line) \
                and _title_tail(nxt, following[1]):
            # "3 Quality management and the qualified" / "person" / "3.1 …": a bare-numbered title wrapped
            # onto a short second line.
            running = offset not in page_starts and _runs_on(_line_before(lines, i))
            cand = bare_numbered_heading(f"{line.strip()} {nxt.strip()}", following[1],
                                         None if running else _next_bare(state))
            if cand is not None:
                heading, joined = cand, 2
        if heading is None and nxt and prev_closed and not follows_heading and state.glossary_level is None \
                and state.references_level is None and len(following) > 1 \
                and (wrapped := wrapped_subheading(line, nxt, following[1])) is not None \
                and _paragraph_below(following[1:], measure.get(_page_at(starts, offset), 0.0)):
            # "Dose escalation in" / "first-in-human trials" in a narrow column (`_paragraph_below`).
            heading, joined = wrapped, 2
        if heading is None and nxt and lines[i + 1][1].strip() and re.match(r"\s*\d+(?:\.\d+)*\.?\s+\S", line):
            # "5.2.3 Qualification of Source or Starting Materials for" + "Biotechnological/Biological Drug
            # Substances": a numbered title cut after a small word reads as a heading only when joined.
            cand = detect_heading(f"{line} {nxt}")
            after = following[1] if len(following) > 1 else ""
            cut = Heading(cand.number, line.split(None, 1)[1], cand.level, cand.kind, " ".join(line.split())) \
                if cand is not None else None
            if cut is not None and cut.kind == "numbered" and continues_heading(cut, nxt, after):
                heading, joined = cand, 2
        if heading is None and Q_ITEM_START.match(line) and "?" not in line:
            # "Q3: Can a simplified IMPD be submitted for an ATMP that already holds a marketing" +
            # "authorisation?": a numbered question wrapped onto the next lines, up to the one that ends it.
            heading, joined = _wrapped_question(lines, i)
        if heading is not None and heading.kind != "numbered" and " ".join(line.split()) in table_headers:
            # A table's header row repeated on the page it continues on ("Requirement Expectation") heads
            # no section: under its caption it was the table's first line.
            heading, joined = None, None
        if heading is None and (numbered := _PARAGRAPH_START.match(line)):
            paragraphs.add(numbered.group(1))
        if heading is None:
            if state.glossary_level is not None and GLOSSARY_TABLE_HEADER.match(line):
                state.table_glossary, prev_closed = True, True  # the header row is no term; rows follow
                i += 1
                continue
            in_glossary = state.glossary_level is not None and prev_closed
            term = glossary_term(line, nxt) if in_glossary and not state.table_glossary else None
            body_start = offset + len(line)
            term_tail: tuple[int, int] | None = None
            row = table_glossary_entry(line) if in_glossary and state.table_glossary else None
            if row is not None:
                term, body_start = row[0], offset + row[1]
                if i + 1 < n and (tail := term_column_tail(lines[i + 1][1])) is not None:
                    # "Advanced therapy medicinal A gene therapy …" + "product (ATMP) medicinal product or …":
                    # the term wrapped in its column, read into the definition's second line.
                    term_tail = (lines[i + 1][0] + tail[0], lines[i + 1][0] + tail[1])
                    term = f"{term} {g[term_tail[0]:term_tail[1]]}"
            consumed = 1
            if term is None and in_glossary \
                    and (wrapped := wrapped_glossary_term([line, *(ln for _, ln in lines[i + 1:i + 5])])) is not None:
                # "Advanced therapy medicinal" + "product (ATMP)" + "A gene therapy …": a term wrapped in a
                # table's narrow first column, read cell by cell, its definition on the line after.
                term, consumed = wrapped
                body_start = lines[i + consumed - 1][0] + len(lines[i + consumed - 1][1])
            if term is None and in_glossary and not state.in_heading_entry and i != definition_at \
                    and (inline := inline_glossary_entry(line)) is not None:
                term, body_start = inline[0], offset + inline[1]
            if term is None:
                prev_closed = line.rstrip()[-1:] in ".;:)" or _whole_item(line, lines[max(0, i - 6):i + 7])
                i += 1
                continue
            # A glossary term on its own line ("Batch (or Lot)", "Harm:") or before its definition on the
            # same line ("Sentinel subject: The first …") opens an entry of its own.
            level = state.glossary_level
            assert level is not None
            inline = body_start < offset + len(line)
            state.stack = [s for s in state.stack if s[0] <= level]
            named = term if inline or consumed > 1 else " ".join(line.split()).rstrip(":")
            state.stack.append((level + 1, named, True))
            sections[-1].end = offset
            sections.append(Section(path=state.path(), start=offset, end=len(g), body_start=body_start,
                                    soft=state.soft_only(), kind="entry", term=term, term_tail=term_tail))
            # A definition on the term's line may wrap: its next line is a term only after a full stop.
            prev_closed = not inline or line.rstrip()[-1:] in ".;:)"
            state.in_heading_entry = False
            i += consumed
            # Under an acronym on its own line ("SUSAR"), the definition starts: "A suspected unexpected serious
            # adverse reaction: a serious adverse reaction …" spells the acronym out, it is no entry of its own.
            definition_at = i if not inline and re.fullmatch(r"[A-Z][A-Z0-9-]{1,9}", named) else -1
            continue
        title_caps = is_caps(heading.title) if heading.title else False
        below = following[joined - 1] if joined and len(following) >= joined else nxt  # the line under the heading
        if (heading.kind in ("numbered", "roman", "letter", "name", "question") and below[:1].islower()
                and not title_caps and not _title_tail(below, following[1] if len(following) > 1 else "")) \
                or (heading.kind == "letter" and not joined and _opens_block(line, following)):
            prev_closed = line.rstrip()[-1:] in ".;:)"
            if heading.kind == "numbered":
                paragraphs.add(heading.number)
            i += 1  # a wrapped paragraph that merely starts with a number
            continue
        if heading.kind in ("annex", "part") and heading.number.split()[0].lower() in CROSS_REFERENCE_WORDS \
                and not follows_heading:
            # (Right under a heading, "Chapter 1 General Provisions" + "Article 1 (Purpose)" is the next heading.)
            before = _line_before(lines, i)
            if before and (before[-1].islower() or before[-1] in ",("):
                i += 1  # "… as required by" + "Article 14 Regulation …": a cross-reference, not a heading
                continue
        key = number_key(heading.number) if heading.kind == "numbered" else None
        if key == (("d", 1),) and state.numbered_seen == 1 and state.last_number is not None \
                and len(state.last_number) > 1:
            state.last_number = None  # the numbering starts under the document's own number
        if key is not None and (not plausible_next(state.last_number, key)
                                or (not title_caps and _numbers_on(heading.number, paragraphs))):
            # (After paragraphs "1.10" … "1.16", "1.17 The Good Manufacturing Practice Requirements of …"
            # is paragraph 1.17 whose first line reads like a title.)
            prev_closed = line.rstrip()[-1:] in ".;:)"
            paragraphs.add(heading.number)
            i += 1
            continue
        if key is not None and len(key) == 2 and key[1] == ("d", 0) and (
                state.last_number is None or state.last_number[0] != key[0]):
            # "1.0 Purpose", "2.0 Scope" (SOP and WHO style) are top-level sections holding "1.1", "1.2";
            # under a heading "5." (ICH E6's "5.0 Quality Management") a "5.0" stays its first child.
            heading = replace(heading, level=1)
        text, title = heading.text, heading.title
        consumed = joined or 1
        # Headings wrapped over several lines (capitals in capitals, Title Case fragments of a cut
        # title); an annex or part whose title is on the next line takes that line.
        while i + consumed < n and consumed < 4:
            next_line = " ".join(lines[i + consumed][1].split())
            after = lines[i + consumed + 1][1] if i + consumed + 1 < n else ""
            if continues_heading(Heading(heading.number, title, heading.level, heading.kind, text), next_line, after):
                text, title, consumed = f"{text} {next_line}", f"{title} {next_line}", consumed + 1
            elif (not heading.title and consumed == 1 and heading.kind in ("annex", "part") and next_line
                  and (title_ok(next_line) or long_title(next_line, after))):
                text, consumed = f"{text} {next_line}", 2
                break
            else:
                break
        if heading.kind == "caps" and is_callout_label(text) and state.glossary_level is None:
            # A call-out's label: the box's text continues the section it stands in (its path unchanged).
            end_line = lines[i + consumed - 1]
            current = sections[-1]
            if not g[current.body_start:offset].strip():
                current.body_start = end_line[0] + len(end_line[1])  # right under the heading: its body starts below
            else:
                current.end = offset
                sections.append(Section(path=state.path(), start=offset, end=len(g),
                                        body_start=end_line[0] + len(end_line[1]), soft=state.soft_only(),
                                        kind=current.kind if current.kind != "entry" else "body"))
            prev_closed = after_heading = True
            i += consumed
            continue
        kind = _push_heading(state, heading, text, key, under=stacked and heading.kind == "label")
        if key is not None and len(key) == 1 and re.match(r"\d{1,2}\s", heading.text):
            state.bare_top = True
        state.in_heading_entry = kind == "entry"
        end_line = lines[i + consumed - 1]
        body_start = end_line[0] + len(end_line[1])
        sections[-1].end = offset
        sections.append(Section(path=state.path(), start=offset, end=len(g), body_start=body_start,
                                soft=state.soft_only(), kind=kind,
                                term=(heading.title or text) if kind == "entry" else ""))
        prev_closed = after_heading = True
        heading_kind = heading.kind
        i += consumed
    return sections


def _title_tail(below: str, after: str) -> bool:
    """The line under a heading is its title's last word or two, a subheading right after it ("3 Quality
    management and the qualified" / "person" / "3.1 Pharmaceutical quality system"): not a paragraph's
    second line."""
    words = below.split()
    return 0 < len(words) <= 3 and below.rstrip()[-1] not in ".,;:" and detect_heading(after) is not None


def _opens_block(line: str, following: list[str]) -> bool:
    """A line as wide as the two lines under it, which are as wide as each other: the first line of a
    justified paragraph ("(1) Regulation (EC) No 1394/2007 of the European" over "Parliament and of the
    Council established specific" in a recital), not a title (a title wraps, if at all, onto a shorter line)."""
    widths = [len(" ".join(ln.split())) for ln in (line, *following[:2])]
    return len(widths) == 3 and min(widths) >= 40 and min(widths) >= 0.8 * max(widths)


#: A numbered paragraph's first line ("1.16 Manufacturers should ensure …"), not a cross-reference that a
#: wrapped sentence put at a line start ("2.2 of this guideline …").
_PARAGRAPH_START = re.compile(r"^\s*(\d{1,2}(?:\.\d{1,3})+)\.?\s+[A-Z]")


def _numbers_on(number: str, paragraphs: set[str]) -> bool:
    """`number` continues a run of numbered paragraphs ("1.17" after paragraph "1.16"; Q7 and EudraLex
    number paragraphs from N.10 on, their headings N.1 … N.9): a paragraph too."""
    parts = number.rstrip(".").split(".")
    if len(parts) < 2 or not parts[-1].isdigit() or int(parts[-1]) < 10:
        return False
    return ".".join([*parts[:-1], str(int(parts[-1]) - 1)]) in paragraphs


def _whole_item(line: str, around: Sequence[tuple[int, str]]) -> bool:
    """A bulleted item that reads as complete ("• gene therapy products that do not contain cells"), not one
    cut on a small word nor one as wide as the widest line `around` it ("☐ Name and contact details … in New" /
    "Zealand": wrapped): bullets often end without punctuation, and a title may follow the list."""
    words = line.split()
    wide = max((len(text.strip()) for _, text in around), default=0)
    return (marker_style(line) == "bullet" and len(words) >= 3 and words[-1].lower() not in SMALL_WORDS
            and len(line.strip()) < 0.8 * wide)


# --------------------------------------------------------------------------------------------
# units

def _split_long(
    g: str, s: int, e: int, n_tokens: int, count_tokens: Callable[[str], int], budget: int
) -> list[tuple[int, int, int]]:
    """Cut a unit over `budget` at line breaks, then between words; returns (start, end, tokens)."""
    if n_tokens <= budget:
        return [(s, e, n_tokens)]
    pieces: list[tuple[int, int, int]] = []
    lines = [r for off, line in lines_with_offsets(g[s:e]) if (r := strip_range(g, s + off, s + off + len(line)))]
    if len(lines) > 1:
        for ls, le in lines:
            pieces.extend(_split_long(g, ls, le, count_tokens(g[ls:le]), count_tokens, budget))
        return pieces
    # One long line: pack words, counting each word once (sums match WordPiece-style tokenizers);
    # each piece is then counted whole, so no unit can exceed the budget.
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", g[s:e])]
    if len(words) == 1:
        return _split_chars(g, s, e, n_tokens, count_tokens, budget)
    groups: list[tuple[int, int]] = []
    cur_start, cur_end, cur_tokens = words[0][0], words[0][0], 0
    for ws, we in words:
        t = count_tokens(g[ws:we])
        if cur_tokens and cur_tokens + t > budget:
            groups.append((cur_start, cur_end))
            cur_start, cur_tokens = ws, 0
        cur_end, cur_tokens = we, cur_tokens + t
    groups.append((cur_start, cur_end))
    if len(groups) == 1:  # the word counts summed under the budget but the whole is over it
        mid = words[len(words) // 2][0]
        groups = [(s, words[len(words) // 2 - 1][1]), (mid, e)]
    for gs, ge in groups:
        pieces.extend(_split_long(g, gs, ge, count_tokens(g[gs:ge]), count_tokens, budget))
    return pieces


def _split_chars(
    g: str, s: int, e: int, n_tokens: int, count_tokens: Callable[[str], int], budget: int
) -> list[tuple[int, int, int]]:
    """Last resort for one "word" over the budget (a formula, a URL): equal character slices."""
    n = math.ceil(n_tokens / budget) + 1
    step = max(1, math.ceil((e - s) / n))
    pieces = []
    for a in range(s, e, step):
        b = min(e, a + step)
        t = count_tokens(g[a:b])
        if t > budget and b - a > 1:
            pieces.extend(_split_chars(g, a, b, t, count_tokens, budget))
        else:
            pieces.append((a, b, t))
    return pieces


def _fill_units(g: str, section: Section, count_tokens: Callable[[str], int], budget: int) -> None:
    ranges: list[tuple[int, int]] = []
    head = strip_range(g, section.start, section.body_start)
    if head and section.body_start > section.start:
        ranges.append(head)
        body = section.body_start
    else:
        body = section.start
    for bs, be in blocks(g, body, section.end):
        ranges.extend(sentences(g, bs, be))
    for s, e in ranges:
        for ps, pe, t in _split_long(g, s, e, count_tokens(g[s:e]), count_tokens, budget):
            section.units.append((ps, pe))
            section.tokens.append(t)


# --------------------------------------------------------------------------------------------
# packing


@dataclass
class _Unit:
    start: int
    end: int
    tokens: int
    path: tuple[str, ...]
    section: int


def _runs(sections: list[Section], min_tokens: int, max_tokens: int) -> list[list[_Unit]]:
    """Group sections into runs that are chunked together (see module docstring, step 4)."""
    runs: list[list[_Unit]] = []
    run_paths: list[tuple[str, ...]] = []
    run_tokens = 0
    run_soft = False

    def add(units: list[_Unit], path: tuple[str, ...], soft: bool) -> None:
        nonlocal run_paths, run_tokens, run_soft
        total = sum(u.tokens for u in units)
        related = bool(_common_prefix([*run_paths, path])) or (run_soft and soft)
        if runs and related and (run_tokens < min_tokens or total < min_tokens) and run_tokens + total <= max_tokens:
            runs[-1].extend(units)
            run_paths.append(path)
            run_tokens += total
            run_soft = run_soft and soft
        else:
            runs.append(list(units))
            run_paths, run_tokens, run_soft = [path], total, soft

    pending: list[_Unit] = []  # a heading with no body, waiting for its first child
    pending_path: tuple[str, ...] = ()
    pending_soft = False
    for idx, sec in enumerate(sections):
        path = tuple(sec.path)
        units = [_Unit(s, e, t, path, idx) for (s, e), t in zip(sec.units, sec.tokens, strict=True)]
        if not units:
            continue
        heading_only = sec.body_start > sec.start and all(u.start < sec.body_start for u in units)
        if pending:
            if len(path) > len(pending_path) and path[: len(pending_path)] == pending_path:
                # The bare parent heading joins its child and takes the child's (longer) path.
                units = [_Unit(u.start, u.end, u.tokens, path, idx) for u in pending] + units
            else:
                add(pending, pending_path, pending_soft)
            pending = []
        if heading_only:
            pending, pending_path, pending_soft = units, path, sec.soft
            continue
        add(units, path, sec.soft)
    if pending:
        add(pending, pending_path, pending_soft)
    return runs


def _common_prefix(paths: Sequence[Sequence[str]]) -> tuple[str, ...]:
    if not paths:
        return ()
    first = paths[0]
    n = min(len(p) for p in paths)
    k = 0
    while k < n and all(p[k] == first[k] for p in paths):
        k += 1
    return tuple(first[:k])


def _word_tail(
    g: str, unit: _Unit, overlap_tokens: int, count_tokens: Callable[[str], int]
) -> tuple[int, int] | None:
    """The start offset and token count of the last words of `unit` worth ≤ overlap_tokens."""
    words = [m.start() + unit.start for m in re.finditer(r"\S+", g[unit.start:unit.end])]
    if len(words) < 2 or overlap_tokens <= 0:
        return None
    k = max(1, min(len(words) - 1, int(len(words) * overlap_tokens / max(unit.tokens, 1) * 0.9)))
    for _ in range(6):
        start = words[len(words) - k]
        t = count_tokens(g[start:unit.end])
        if t <= overlap_tokens:
            return start, t
        k = max(1, int(k * overlap_tokens / t * 0.9)) if k > 1 else 0
        if k == 0:
            return None
    return None


def _pack(
    g: str, units: list[_Unit], count_tokens: Callable[[str], int],
    max_tokens: int, overlap_tokens: int, min_tokens: int,
) -> list[tuple[int, int, list[_Unit], int]]:
    """Greedy, balanced packing of one run; returns (start, end, units, verified tokens) per chunk."""
    out: list[tuple[int, int, list[_Unit], int]] = []
    i = 0
    n = len(units)
    prev_last: int | None = None
    while i < n:
        # Overlap: whole trailing units of the previous chunk, same section, within the budget.
        ov_units: list[_Unit] = []
        ov_tokens = 0
        ov_start: int | None = None
        if prev_last is not None and overlap_tokens > 0:
            j = prev_last
            section = units[i].section
            while j >= 0 and units[j].section == section and ov_tokens + units[j].tokens <= overlap_tokens:
                ov_tokens += units[j].tokens
                j -= 1
            ov_units = units[j + 1:prev_last + 1]
            if not ov_units and units[prev_last].section == section:
                tail = _word_tail(g, units[prev_last], overlap_tokens, count_tokens)
                if tail is not None:
                    ov_start, ov_tokens = tail
            # The overlap never swallows a whole previous chunk.
            if ov_units and out and ov_units[0].start <= out[-1][0]:
                ov_units, ov_tokens = ov_units[1:], sum(u.tokens for u in ov_units[1:])
        remaining = sum(u.tokens for u in units[i:])
        room = max_tokens - ov_tokens
        if remaining > room:
            n_chunks = math.ceil(remaining / max(1, max_tokens - min(overlap_tokens, max_tokens // 4)))
            target = min(room, math.ceil(remaining / max(1, n_chunks)) + max_tokens // 10)
        else:
            target = room
        tokens = 0
        j = i
        # Fill to the balanced target, and past it (within the room) while the chunk is still
        # small: a heading alone, or half a target, is not a useful chunk.
        while j < n and (
            tokens == 0 or tokens + units[j].tokens <= target or tokens < max(min_tokens, target // 2)
        ):
            if tokens + units[j].tokens > room and tokens > 0:
                break
            tokens += units[j].tokens
            j += 1
        if tokens > room:  # a unit that only fits without overlap
            ov_units, ov_start, ov_tokens = [], None, 0
        last = j - 1
        # Verify against the real tokenizer; sums of parts can differ slightly from the whole.
        while True:
            start = ov_units[0].start if ov_units else (ov_start if ov_start is not None else units[i].start)
            end = units[last].end
            real = count_tokens(g[start:end])
            if real <= max_tokens:
                break
            if ov_units or ov_start is not None:
                ov_units, ov_start = [], None
            elif last > i:
                last -= 1
            else:
                break  # a single unit counted ≤ budget alone; accept the tokenizer's verdict
        out.append((start, end, ov_units + units[i:last + 1], real))
        prev_last = last
        i = last + 1
    return out


# --------------------------------------------------------------------------------------------
# public entry point


def _spans(a: int, b: int, bounds: list[tuple[int, int, int, int]]) -> list[PageSpan]:
    spans = []
    for number, s, e, at in bounds:
        if e <= a or s >= b:
            continue
        lo, hi = max(a, s), min(b, e)
        if lo < hi:
            spans.append(PageSpan(page=number, start=lo - s + at, end=hi - s + at))
    return spans


@dataclass
class Segmented:
    """A document cut into sections: the text G of its content pages joined by "\n", where each page
    lies in G, and the sections found in G. Chunks and quotable units are both built from it.

    A page's footnotes are not left where the page ends (a sentence running on to the next page would
    swallow them): G holds each page's body, then each page's footnotes in a section of their own under
    the path of the section the page ended in.
    """

    doc_id: str
    text: str
    bounds: list[tuple[int, int, int, int]]  # (page number, start, end in `text`, offset of start in the page)
    sections: list[Section]

    def spans(self, a: int, b: int) -> list[PageSpan]:
        """Page spans of the range [a, b) of `text`."""
        return _spans(a, b, self.bounds)

    def offset(self, page: int, pos: int) -> int:
        """Offset in `text` of position `pos` of page `page`."""
        for number, start, end, at in self.bounds:
            if number == page and at <= pos <= at + end - start:
                return start + pos - at
        raise KeyError(f"page {page} is not part of {self.doc_id}'s content")

    def range_of(self, spans: Sequence[PageSpan]) -> tuple[int, int]:
        """The range of `text` covered by consecutive page spans."""
        return self.offset(spans[0].page, spans[0].start), self.offset(spans[-1].page, spans[-1].end)


def segment(doc_id: str, pages: Sequence[Page]) -> Segmented:
    """Join a document's content pages (TOC, title, history and contact pages left out) and find its sections."""
    included = [p for p in sorted(pages, key=lambda p: p.number) if p.is_content and p.text.strip()]
    bounds: list[tuple[int, int, int, int]] = []
    parts: list[str] = []
    notes: list[tuple[int, int, str, int]] = []  # (page number, offset in the page, footnotes, marker in G)
    pos = 0
    for p in included:
        # Notes written before the body (read first) go where notes at the foot go: after the last page.
        lead = leading_notes(p.text)
        top = 0 if lead is None else lead[0]
        cut = footnote_start(p.text[top:])
        cut = None if cut is None else top + cut
        body = p.text[top:] if cut is None else p.text[top:cut].rstrip()
        if lead is not None:
            notes.append((p.number, 0, p.text[:top].rstrip(), pos + min(lead[1] - top, len(body))))
        if cut is not None:
            anchor = footnote_anchor(p.text, cut)
            at = len(body) if anchor is None else min(max(anchor - top, 0), len(body))
            notes.append((p.number, cut, p.text[cut:], pos + at))
        bounds.append((p.number, pos, pos + len(body), top))
        parts.append(body)
        pos += len(body) + 1
    g = "\n".join(parts)
    listed = contents_titles([p.text for p in included])
    after_front = bool(included) and any(not p.is_content for p in pages if p.number < included[0].number)
    sections = _sections(g, frozenset(b[1] for b in bounds), listed, after_front) if g.strip() else []
    if notes and sections:
        sections[-1].end = len(g)
        body_sections = list(sections)
        # Each page's footnotes go after the last page, under the section that holds the first one's marker.
        for number, at, text, anchor in notes:
            # (a note printed under a reference list belongs to the text before the list)
            home = next((sec for sec in reversed(body_sections)
                         if sec.start <= anchor and sec.kind == "body"), body_sections[0])
            g += "\n\n"
            bounds.append((number, len(g), len(g) + len(text), at))
            sections.append(Section(path=list(home.path), start=len(g), end=len(g) + len(text), body_start=len(g),
                                    soft=home.soft))
            g += text
    return Segmented(doc_id, g, bounds, sections)


def chunk_pages(
    doc_id: str,
    pages: list[Page],
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap_tokens: int = 24,
    min_tokens: int = 40,
) -> list[Chunk]:
    """Cut a document's cleaned pages into chunks (see the module docstring for the rules)."""
    return chunk_segmented(segment(doc_id, pages), count_tokens, max_tokens, overlap_tokens, min_tokens)


def chunk_segmented(
    seg: Segmented,
    count_tokens: Callable[[str], int],
    max_tokens: int = 200,
    overlap_tokens: int = 24,
    min_tokens: int = 40,
) -> list[Chunk]:
    """Chunks of a segmented document.

    Every chunk stays within one section (tiny sections may share a chunk, which then carries
    their common parent path), has at most `max_tokens` tokens by `count_tokens`, repeats about
    `overlap_tokens` tokens of the previous chunk of the same section, and satisfies
    ``chunk.text == "\\n".join(page.text[s.start:s.end] for s in chunk.spans)``. Non-content pages
    and reference lists are left out. `count_tokens` is called once per sentence and once per chunk.
    """
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    overlap_tokens = max(0, min(overlap_tokens, max_tokens // 2))
    g, doc_id = seg.text, seg.doc_id
    if not g.strip():
        return []
    sections = seg.sections
    for sec in sections:
        sec.units, sec.tokens = [], []
        if sec.kind != "references":
            _fill_units(g, sec, count_tokens, max_tokens)

    chunks: list[Chunk] = []
    for run in _runs(sections, min_tokens, max_tokens):
        for start, end, units, n_tok in _pack(g, run, count_tokens, max_tokens, overlap_tokens, min_tokens):
            text = g[start:end]
            if not any(c.isalnum() for c in text):
                continue
            ordinal = len(chunks)
            chunks.append(Chunk(
                chunk_id=f"{doc_id}:{ordinal:04d}",
                doc_id=doc_id,
                ordinal=ordinal,
                text=text,
                section_path=list(_common_prefix([u.path for u in units])),
                spans=seg.spans(start, end),
                n_tokens=n_tok,
            ))
    log.debug("%s: %d chunks from %d pages", doc_id, len(chunks), len({b[0] for b in seg.bounds}))
    return chunks
