"""What is content and what is not: page kinds and text that must never be quoted as an answer.

Guideline PDFs carry much text that answers nothing: title pages, document-history tables, contact
and copyright blocks, reference lists, the scattered words of a figure, footnote markers. The rules
here are written against general layouts (ICH, EMA, FDA, WHO and other regulators), not against one
corpus, and are tested with generated PDFs that vary them:

- `classify_pages`: "title" (the first page with text when it has no body heading and few
  sentences), "history" (a page headed "Document history" / "Revision history" and the date-heavy
  pages that continue it), "contact" (most lines are addresses, phone numbers, e-mail or web
  addresses), "toc" (decided by `extract.is_toc_page`), else "content". Only content pages are
  chunked, embedded and quoted.
- `unit_problem`: why a candidate quote is not a statement of the guideline (a continuation that
  starts in lower case, a figure's text dump, a worked calculation's lines, a reference entry, contact
  details, a TOC line, too few words), or None.
- `strip_lead_noise`: moves a quote's start past a footnote marker line or the wrapped tail of a
  heading, so a quote never starts with either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from atmp_rag.models import PageKind
from atmp_rag.text.headings import (
    CALLOUT_LABEL,
    MONTHS,
    SMALL_WORDS,
    VERBS,
    bare_numbered_heading,
    contents_titles,
    detect_heading,
    is_caps,
    listed_title,
)
from atmp_rag.text.sentences import FROM_SUPERSCRIPT, RAISED, TO_SUPERSCRIPT, lines_with_offsets

__all__ = [
    "classify_pages", "footnote_anchor", "footnote_start", "is_prose_line", "strip_lead_noise", "unit_problem",
    "whole_sentence",
]

_HISTORY_TITLE = re.compile(
    r"^(?:[\dIVX.]+\s*)?(?:document|revision|change|version|amendment|publication)s?\s+(?:history|record|log)\b"
    r"|^history of (?:changes|revisions|amendments|the document)\b|^record of (?:changes|amendments|revisions)\b",
    re.IGNORECASE,
)
#: "Document Control" / "Version control" (SFDA): a history table's title only at the top of a front page (a GMP
#: guide's "Document control" section is body text).
_CONTROL_TITLE = re.compile(r"^(?:document|version)\s+control\b", re.IGNORECASE)
_DATE = re.compile(rf"\b(?:{MONTHS})\b|\b(?:19|20)\d{{2}}\b|\b\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}\b", re.IGNORECASE)
_CONTACT = re.compile(
    r"\b(?:tel(?:ephone)?|phone|fax|facsimile|e-?mail|website|web site)\b\s*[:.+]?|www\.|https?://|"
    r"[\w.-]+@[\w-]+\.\w|\+\d{1,3}[\s(]|\bp\.?\s?o\.?\s+box\b|©|\(c\)\s*(?:19|20)\d{2}|all rights reserved|"
    r"reproduction is authori[sz]ed|an agency of the european union",
    re.IGNORECASE,
)
#: Headings that start the body of a guideline (a page holding one is not front matter).
_BODY_HEADING = re.compile(
    r"^(?:(?:\d{1,2}|[IVX]{1,4})\.?\s+\S|(?:chapter|section|article|part)\s+(?:\d|[IVX])|"
    # "1.1 Purpose", not a version-history row ("3.0 July 2023 Third edition")
    rf"\d{{1,2}}(?:\.\d{{1,2}}){{1,2}}\.?\s+(?!(?:{MONTHS})\b)[A-Z][a-z]|"
    r"q(?:uestion)?\s?\d{1,3}\b|"
    r"\d{1,2}\.0\s+(?:purpose|scope|introduction|background|objectives?)\b|"
    r"(?:executive\s+)?summary\b|introduction\b|scope\b|purpose\b|background\b|"
    r"preamble\b|objectives?\b|abstract\b|foreword\b|legal basis\b|general principles\b|questions? and answers?\b)",
    re.IGNORECASE,
)
_REFERENCE_SIGNALS = (
    re.compile(r"\((?:19|20)\d{2}[a-z]?\)"),
    re.compile(r"\b(?:19|20)\d{2}\s*[;,]\s*\d+\s*(?:\(\d+\))?\s*[:,]\s*\d+"),  # 2005;94:123 / 2005, 12: 4
    re.compile(r"\bdoi\s*:|\bdoi\.org\b|\bPMID\b|\bISBN\b", re.IGNORECASE),
    re.compile(r"\bet al\b\.?"),
    re.compile(r"\b(?:pp?\.|vol\.|no\.)\s*\d", re.IGNORECASE),
    re.compile(r"(?:^|[\s,;])(?:[A-Z][a-z'’-]+,?\s(?:[A-Z]\.?\s?){1,3}[,.;]\s*){2,}"),  # Smith J, Doe AB,
    re.compile(r"^\s*\[\d{1,3}\]"),
    # EU legislation cited in a footnote: "…, OJ L 311, 28.11.2001, p. 67." (the Official Journal, its date)
    re.compile(r"\bOJ\s+[LC]\s*\d+|\bOfficial Journal of the European (?:Union|Communities)\b"),
    re.compile(r"\b\d{1,2}\.\d{1,2}\.(?:19|20)\d{2}\b"),
)
_FOOTNOTE_MARK = re.compile(rf"(?:\d{{1,2}}[ \t]+|{RAISED}+[ \t]*)(?=[A-Z][a-z]|A\s)")
_FOOTNOTE_LINE = re.compile(rf"^(?:\d{{1,2}}|{RAISED}+|\*{{1,3}}|[a-z])$")
_LEADERS = re.compile(r"(?:\.\s?){3,}\s*\d+\s*$|…\s*\d+\s*$", re.MULTILINE)
_LEGAL = re.compile(
    r"protected by copyright|all (?:other )?rights (?:are )?reserved|reproduction is authori[sz]ed|"
    r"without warranty of any kind|^copyright\b|\bthis work is copyright\b|"
    r"^legal notice\b|^disclaimer\b|"
    # Procedural boilerplate of harmonised guidelines: where a document stands, not what it requires.
    r"having reached step \d|recommended for adoption to the (?:three )?regulatory (?:parties|bodies)|"
    # FDA's boxed statement on every guidance: what a guidance is, not what this one recommends.
    r"represents the current thinking of the (?:food and drug administration|fda|agency)\b|"
    r"does not establish any rights for any person|is not binding on (?:fda|the agency) or the public|"
    r"you can use an alternative approach if it satisfies|to discuss an alternative approach, contact",
    re.IGNORECASE,
)
#: Words that open a sentence rather than a label ("Where no appropriate" + "ICH or ISO definition …").
_OPENERS = frozenset({
    "where", "when", "whenever", "if", "while", "although", "though", "as", "because", "since", "unless", "whether",
    "which", "that", "this", "these", "those", "there", "it", "such", "each", "every", "any", "all", "some", "most",
    "many", "other"})
_BLANK = re.compile(r"_{3,}|\.{8,}\s*$")
_URL_LINE = re.compile(r"^(?:https?://|www\.)\S+$", re.IGNORECASE)
#: A call-out box's label opening a line, alone ("NOTE", "ADDENDUM") or before the box's title ("ADDENDUM (March
#: 2025) – Final product RCL testing in closed automated systems").
_CALLOUT_START = re.compile(rf"^{CALLOUT_LABEL}\b:?")
_CAPTION = re.compile(r"^(?:figure|fig\.|table|diagram|chart|scheme)\s+[\dA-Z]{1,4}[a-z]?\s*[:.–-]", re.IGNORECASE)
#: A table's label at the start of a line: "Table 1", "TABLE 4.", "Tab. A2"; or an unnumbered "Table. Examples
#: of test items" (Japanese notices in translation). The number is a digit or a capital ("Table of …" is no label).
_TABLE_NUMBER = r"(?i:table|tab\.)\s+[\dA-Z]{1,4}[a-z]?"
TABLE_LABEL = re.compile(rf"^(?:{_TABLE_NUMBER}\b|Table[.:]\s+\S)")
#: A caption that numbers a table and then titles it ("Table 1. Release tests …", "Table 2: …"): the line under
#: it is the table's header row, whatever it looks like ("Test Method Acceptance criterion").
TABLE_CAPTION = re.compile(r"^(?:table|tab\.)\s+[\dA-Z]{1,4}[a-z]?\s*[.:–—]\s+\S", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# A line of a typeset equation's text layer: an "=" or a product of numbers ("5 x 10 x 1"), with at most
# two words around it ("71.65 x 50 PDE", "= =").
_EQUATION_OP = re.compile(r"=|\d\s*[x×*]\s*\d")
_LONG_WORD = re.compile(r"[^\W\d_]{3,}")


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.split("\n") if ln.strip()]


_VALUE_SIGNS = frozenset(["×", "x", "±", "–", "-", "<", ">", "≤", "≥", "=", "%"])


def is_prose_line(line: str) -> bool:
    """A line of running text: it ends a sentence, or it is long and mostly lower-case words."""
    words = line.split()
    if len(words) >= 4 and line.rstrip()[-1:] in ".;:!?" and any(w.islower() for w in words):
        return True
    if len(words) < 8:
        return False
    values = sum(1 for w in words if any(c.isdigit() for c in w) or w in _VALUE_SIGNS)
    if values >= 3 and values >= 0.3 * len(words) and not any(w.lower() in VERBS for w in words):
        # A table row ("Vector genome titre ddPCR 1.0 × 10¹³ – 5.0 × 10¹³ vg/mL"); a sentence full of
        # conditions has its verb ("If long-term studies are conducted at 25°C ± 2°C/60% RH ± 5% RH …").
        return False
    lettered = [w.lstrip("\"“‘(") for w in words if sum(c.isalpha() for c in w) >= 2]
    if len(lettered) < 5:
        return False
    lower = sum(1 for w in lettered if w[:1].islower()) / len(lettered)
    # A table header ("Study Storage condition Minimum time period covered by") has no verb.
    return (lower >= 0.6 and len(words) >= 10) or (lower >= 0.4 and any(w in VERBS for w in words))


def _sentences_count(lines: Sequence[str]) -> int:
    return sum(1 for ln in lines if ln.endswith((".", "!", "?")) and any(c.islower() for c in ln))


def _has_body_heading(lines: Sequence[str]) -> bool:
    for ln, nxt in zip(lines, [*lines[1:], ""], strict=True):
        heading = detect_heading(ln) or bare_numbered_heading(ln, nxt)
        if heading is not None and _BODY_HEADING.match(heading.text):
            return True
    return False


def _starts_a_listed_section(lines: Sequence[str]) -> bool:
    """The page prints a contents list and then the first section it names ("Contents" / "– Who this
    guidance is for" / … / "Who this guidance is for" / "This guidance is for …"): web guidance printed to
    PDF begins its body on the page of its title."""
    listed = contents_titles(["\n".join(lines)])
    return any(listed_title(ln, listed) is not None for ln in lines)


#: A line of an alphabetical index: a term and the pages it is on ("Aseptic processing, 4, 7", "Batch, 3–5"), or
#: the letter heading a group of them.
_PAGES = r"\d{1,3}(?:\s*[–-]\s*\d{1,3})?"
_INDEX_LINE = re.compile(rf"^(?:[A-Z]|\S.{{0,80}}?,\s*{_PAGES}(?:\s*,\s*{_PAGES})*)$")


def _is_index(lines: Sequence[str]) -> bool:
    """A page that is mostly index lines (two columns read line by line keep each line whole)."""
    hits = sum(1 for ln in lines if _INDEX_LINE.match(ln.strip()))
    return hits >= 10 and hits >= 0.6 * len(lines)


def _contact_share(lines: Sequence[str]) -> float:
    return sum(1 for ln in lines if _CONTACT.search(ln)) / max(1, len(lines))


def _date_share(lines: Sequence[str]) -> float:
    return sum(1 for ln in lines if _DATE.search(ln)) / max(1, len(lines))


def classify_pages(texts: Sequence[str], toc: Sequence[bool]) -> list[PageKind]:
    """The kind of every page of one document (see the module docstring)."""
    kinds = [PageKind.toc if t else PageKind.content for t in toc]
    first_text = next((i for i, t in enumerate(texts) if t.strip()), None)
    for i, text in enumerate(texts):
        if kinds[i] is PageKind.toc:
            continue
        lines = _lines(text)
        if not lines:
            continue
        if len(lines) >= 3 and _contact_share(lines) >= 0.4 and _sentences_count(lines) <= 3:
            kinds[i] = PageKind.contact
        elif any(_HISTORY_TITLE.match(ln) for ln in lines[:6]) or (
                i <= 2 and not _has_body_heading(lines) and any(_HISTORY_TITLE.match(ln) for ln in lines)) or (
                i <= 2 and any(_CONTROL_TITLE.match(ln) for ln in lines[:2])):
            # Near the front, a "Version history" table under the copyright and confidentiality notices
            # (TGA) makes the page front matter too.
            kinds[i] = PageKind.history
        elif (i > 0 and kinds[i - 1] is PageKind.history and not _has_body_heading(lines)
              and (_date_share(lines) >= 0.15 or sum(1 for ln in lines[:12] if _DATE.search(ln)) >= 2)):
            kinds[i] = PageKind.history  # a history table continued over several pages
        elif _is_index(lines):
            kinds[i] = PageKind.toc  # a back-of-book index: terms and the pages they are on
        elif (i == first_text and i <= 1 and not _has_body_heading(lines) and _sentences_count(lines) <= 4
              and len(lines) <= 60 and not _starts_a_listed_section(lines)):
            kinds[i] = PageKind.title
    return kinds


def strip_lead_noise(text: str, start: int, end: int, preamble: bool = False) -> int:
    """A new start for text[start:end] past a footnote-marker line, a web address on a line of its own, or
    the tail of a wrapped heading or a box's label ("Key points", "NOTE", "ADDENDUM (March 2025) – …").

    "1\\nweight variation…" loses its "1" line, "1 Samples should…" its "1 ";
    "Drug Substances\\nIf an isolated intermediate…" loses
    "Drug Substances" (a Title Case line of at most six words without a verb or an end, followed by a capital;
    in the `preamble` before a document's first heading, title and address lines of up to 20 words, which may
    end in a comma: "Director, …, Bureau," over "Ministry of Health, …"),
    "https://www.gov.uk/…\nKey points\nThe non-clinical programme…" both its lines, and a caption line
    ("Figure 1: Typical process flow …\nThe total time …") its caption.
    """
    start = _past_row_label(text, start, end)
    while True:
        marker = _FOOTNOTE_MARK.match(text, start, end)
        if marker:
            # "1 Samples should be taken…": a footnote marker (or the number of a footnote) before a sentence.
            start = marker.end()
            continue
        nl = text.find("\n", start, end)
        if nl < 0:
            return start
        first = text[start:nl].strip()
        rest = text[nl + 1:end].lstrip()
        if not rest:
            return start
        callout = _CALLOUT_START.match(first)
        if _FOOTNOTE_LINE.match(first) or _URL_LINE.match(first) or (
                # A box's label over its text: alone on its line, or with a title that ends no sentence.
                callout is not None and rest[:1].isupper() and (callout.end() == len(first) or (
                    first[callout.end():].lstrip()[:1] in ("(", "–", "—", "-") and first[-1:] not in ".;:!?"
                    and len(first.split()) <= 16 and not any(w in VERBS for w in first.split())))):
            start = nl + 1
            while start < end and text[start].isspace():
                start += 1
            continue
        words = first.split()
        significant = [w for w in words if w[:1].isalpha() and w.lower() not in SMALL_WORDS]
        # Title Case, or a short label in sentence case ("Key points" over a call-out box).
        cased = all(w[0].isupper() for w in significant) or (
            len(words) <= 3 and len(significant) == len(words) and words[0][0].isupper()
            and words[0].lower() not in _OPENERS and not re.search(r"[\d/]", first))
        title_words, ends = (20, ".;:!?") if preamble else (6, ".;:,!?")
        tail = (
            0 < len(words) <= title_words and first[-1:] not in ends and significant and cased
            and not any(w in VERBS for w in words)
            and rest[:1].isupper() and not is_caps(first) and detect_heading(first) is None
        ) or (
            # A figure's or table's caption over the paragraph below it ("Figure 1: Typical process flow for
            # an autologous CAR-T cell product" / "The total time from apheresis …"): no sentence ends in it.
            _CAPTION.match(first) is not None and first[-1:] not in ".;!?" and rest[:1].isupper()
        )
        if not tail:
            return start
        start = nl + 1
        while start < end and text[start].isspace():
            start += 1


#: A sentence's opening word in capitals after a table row's label on the same line ("Manufacturer The manufacturer
#: is responsible …"): mid-sentence, these words are written in lower case.
_ROW_OPENER = re.compile(r"\s(?:The|Each|All|Any|This|These|It|Where|When|If)\s")
_LABEL_WORD = re.compile(r"[^\W\d_][\w'’()/-]*,?")


def _past_row_label(text: str, start: int, end: int) -> int:
    """`start` moved past the label of an uncaptioned table's row read on the line of its cell's first sentence
    ("Qualified person The qualified person certifies …", "Sponsor, or its legal representative The sponsor …"):
    one to six words of letters that start with a capital (not an opener such as "If"), hold no verb and end no
    sentence, then a capitalised "The"/"Each"/"If"/… that only a new sentence has ("A" may be a grade: "grade A
    and B areas")."""
    line_end = text.find("\n", start, end)
    line = text[start:end if line_end < 0 else line_end]
    m = _ROW_OPENER.search(line)
    if m is None:
        return start
    label = line[:m.start()].split()
    if not (1 <= len(label) <= 6) or not label[0][:1].isupper() or label[0].lower() in SMALL_WORDS | _OPENERS \
            or any(w.lower() in VERBS for w in label) or label[-1][-1:] in ".;:!?," \
            or not all(_LABEL_WORD.fullmatch(w) for w in label) or not any(len(w) >= 3 for w in label):
        return start
    return start + m.start() + 1


#: The first line of a footnote: its number (or symbol) and a capitalised text of several words.
_NOTE_LINE = re.compile(rf"^(?P<n>\d{{1,2}}|{RAISED}+|[*†‡]{{1,3}})[ \t]*(?=[A-Z])(?P<text>.*\S)$")


def _marker(text: str, body_end: int, note: str) -> re.Match[str] | None:
    """The marker of footnote `note` ("1", "²", "*") in text[:body_end], right after a word or a punctuation mark."""
    number = note.translate(FROM_SUPERSCRIPT)
    raised = number.translate(TO_SUPERSCRIPT)
    if number.isdigit():
        # Plain digits (a PDF whose markers lost their raise) only right after a word or a punctuation mark;
        # a superscript anywhere it does not continue a superscript number.
        pattern = rf"(?:(?:[^\W\d_]{{2}}|[.,;:)\]”’\"]){number}|(?<=\S)(?<!{RAISED}){raised})(?=\s|[.,;:)]|$)"
    else:
        pattern = re.escape(note) + r"(?=\s|[.,;:)]|$)"
    return re.search(pattern, text[:body_end])


def footnote_start(text: str) -> int | None:
    """Where the footnotes at the foot of a page begin in its text, or None.

    A footnote is a line at the bottom of the page (its last third, at most ten lines) that starts with a
    number and a capitalised text of at least four words ("1 Integration is expected for …") and whose
    number the page body carries as a marker right after a word or a punctuation mark ("host genome1",
    "negative.2"); everything below it is notes. A numbered heading or list item at the foot of a page
    has no such marker above it.
    """
    lines = [(off, ln.strip()) for off, ln in lines_with_offsets(text) if ln.strip()]
    if len(lines) < 4:
        return None
    first = max(1, len(lines) - min(10, len(lines) // 3 + 1))
    for k in range(first, len(lines)):
        off, line = lines[k]
        m = _NOTE_LINE.match(line)
        if m is None or len(m.group("text").split()) < 4 or detect_heading(line) is not None:
            continue
        if _marker(text, off, m.group("n")) is not None:
            return off
    return None


def leading_notes(text: str) -> tuple[int, int] | None:
    """Footnotes that a PDF draws *before* the page body (PDFium reads the content stream in the order it
    was written, and some producers write the notes first): (where the body begins, where the first note's
    marker is in the text), or None.

    The page must begin with a note line whose marker is raised or a symbol ("¹ Potency is defined in 21 CFR
    600.3(s) as …"; a plain "1 Introduction" at a page top is a heading); the notes run to the first line
    that ends a sentence and is not followed by another note line, and the body below carries the first
    note's marker ("… its potency¹").
    """
    lines = [(off, ln.strip()) for off, ln in lines_with_offsets(text) if ln.strip()]
    if len(lines) < 3:
        return None
    m = _NOTE_LINE.match(lines[0][1])
    # ("¹".isdigit() holds too: a plain marker is ASCII)
    if m is None or (m.group("n").isascii() and m.group("n").isdigit()) or len(m.group("text").split()) < 4:
        return None
    for k, (_, line) in enumerate(lines[:13]):
        if k + 1 < len(lines) and line[-1:] in ".;" and not _NOTE_LINE.match(lines[k + 1][1]):
            top = lines[k + 1][0]
            marker = _marker(text[top:], len(text) - top, m.group("n"))
            return (top, top + marker.start()) if marker is not None else None
    return None


def footnote_anchor(text: str, start: int) -> int | None:
    """Offset of the marker of the first footnote at `start` (see `footnote_start`) in the page body."""
    m = _NOTE_LINE.match(text[start:].split("\n", 1)[0].strip())
    found = _marker(text, start, m.group("n")) if m else None
    return found.start() if found else None


def _figure_dump(lines: Sequence[str]) -> bool:
    """Many short lines without sentence ends or verbs: the text layer of a diagram."""
    if len(lines) < 4 or _one_sentence(lines):
        return False
    words_per_line = sum(len(ln.split()) for ln in lines) / len(lines)
    ended = sum(1 for ln in lines if ln[-1:] in ".;:!?")
    with_verb = sum(1 for ln in lines if any(w.lower() in VERBS for w in ln.split()))
    return words_per_line <= 4.5 and ended <= 0.25 * len(lines) and with_verb <= 0.25 * len(lines)


def whole_sentence(text: str, ends: str = ".!?", min_words: int = 1) -> bool:
    """`text` reads as a whole sentence: a capital start, a verb, at least `min_words` words and one of `ends`
    at the end (a diagram's boxes, "Risk Review" / "Risk Communication", end no sentence)."""
    words = text.split()
    return (text[:1].isupper() and text.rstrip()[-1:] in ends and len(words) >= min_words
            and any(w.lower() in VERBS for w in words))


def _one_sentence(lines: Sequence[str]) -> bool:
    """The lines read as one sentence wrapped in a narrow column ("Each storage" / "location should have an" /
    "independent power supply" / "and its own alarm system."), mostly in lower-case words; a diagram's boxes are
    capitalised and end no sentence."""
    joined = " ".join(lines)
    words = joined.split()
    return whole_sentence(joined) and sum(1 for w in words if w[:1].islower()) >= 0.6 * len(words)


def _worked_calculation(lines: Sequence[str]) -> bool:
    """Three or more equation lines, a quarter of all: the text layer of a worked calculation (numerators,
    denominators and "=" signs each on a line of their own), which reads as nonsense when quoted."""
    equations = sum(1 for ln in lines if _EQUATION_OP.search(ln) and len(_LONG_WORD.findall(ln)) <= 2)
    return equations >= 3 and equations >= 0.25 * len(lines)


def unit_problem(text: str, kind: str = "sentence") -> str | None:
    """Why `text` must not be quoted as a statement of the guideline, or None when it may be."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    first = stripped[0]
    if first.islower() and kind != "definition":  # "Shedding: the dissemination …" defines in lower case
        return "starts mid-sentence"
    if first in ",;.)]}":
        return "starts with punctuation"
    lines = _lines(stripped)
    if _CAPTION.match(stripped) and len(stripped.split()) <= 25 and kind not in ("table", "row"):
        return "caption"
    if _LEADERS.search(stripped) and kind != "table":
        return "table of contents line"
    if kind not in ("table", "row") and _figure_dump(lines):
        return "figure text"
    if _worked_calculation(lines):
        return "worked calculation"
    if sum(1 for ln in lines if _BLANK.search(ln)) >= 2:
        return "form to fill in"  # "Name of product: ______" lines of a model certificate
    hits = sum(1 for p in _REFERENCE_SIGNALS if p.search(stripped))
    if hits >= 2:
        return "reference entry"
    if len(_CONTACT.findall(stripped)) >= 2:
        return "contact details"
    if _LEGAL.search(stripped):
        return "legal or procedural notice"
    words = _WORD.findall(stripped)
    if kind not in ("table", "row", "definition") and len(words) < 4:
        return "too short"
    letters = sum(c.isalpha() for c in stripped)
    visible = sum(not c.isspace() for c in stripped)
    if kind not in ("table", "row") and letters < 0.5 * max(1, visible):
        return "mostly numbers or symbols"
    if kind == "sentence" and stripped.endswith("?"):
        return "a question, not a statement"  # quoting a Q&A document's question back answers nothing
    if kind == "sentence" and stripped[-1] not in ".!?:;\"”’)":
        if len(words) < 9:
            return "no sentence end"
        if stripped.split()[-1].lower() in SMALL_WORDS | VERBS | {"as", "follows", "equals", "where"}:
            return "cut off before a formula or table"  # "The PDE for acetonitrile … is calculated as"
    return None
