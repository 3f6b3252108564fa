"""One sentence splitter for chunking and for quotable units.

A section body is cut into *blocks* (at blank lines, before list items, after lines ending in ":"
or ";") and each block into *sentences*. Line breaks inside a block are not boundaries: regulatory
PDFs wrap every line. A full stop ends a sentence only when the next word starts in capitals, a
digit, a bullet or an opening quote or bracket, and the word before it is not an abbreviation
("e.g.", "No.", "Ph. Eur."), an initial, or a list number at the start of a line ("1.", "(a)").

All functions work on offsets into one text and never copy or change it, so every range they
return is a verbatim slice of the page text it came from.
"""

from __future__ import annotations

import itertools
import re

from atmp_rag.text.headings import wordset

__all__ = [
    "ABBREVIATIONS",
    "LIST_ITEM",
    "NOTE",
    "blocks",
    "lines_with_offsets",
    "list_marker",
    "marker_style",
    "sentences",
    "split",
    "strip_range",
]

#: Words that end in a full stop without ending a sentence.
ABBREVIATIONS = wordset(
    "e.g eg i.e ie etc viz cf vs al no nos nr ph eur fig figs ref refs vol vols approx ca dr mr mrs ms prof art arts "
    "sect sects para paras incl resp rev corr ed eds pp p ch chap app std co ltd inc corp dept jan feb mar apr jun "
    "jul aug sep sept oct nov dec st u.s e.u u.s.c c.f.r op cit ibid et seq sec ser suppl sq eq"
)
#: Superscript digits, as extraction writes raised footnote markers and exponents (`extract.mark_superscripts`);
#: `RAISED` is their regex character class.
SUPERSCRIPT_DIGITS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
#: Circled numbers ① … ⑳, list markers of Korean, Japanese and Chinese documents.
CIRCLED_DIGITS = "".join(chr(c) for c in range(0x2460, 0x2474))
RAISED = f"[{SUPERSCRIPT_DIGITS}]"
TO_SUPERSCRIPT = str.maketrans("0123456789", SUPERSCRIPT_DIGITS)
FROM_SUPERSCRIPT = str.maketrans(SUPERSCRIPT_DIGITS, "0123456789")
#: A footnote marker printed right after the full stop ("… adverse events.1 Early-phase trials …", "events.¹")
#: stays with its sentence; a plain digit only after a word or a bracket, so "section 3.2 The" is not cut.
#: A footnote's own raised marker starts a sentence ("… (pages 24-27). ² The information …").
_SENTENCE_END = re.compile(
    rf"(?:[.!?][\"'”’)\]]*{RAISED}*|(?<=[a-z]{{2}})\.\d{{1,2}}|(?<=\))\.\d{{1,2}})"
    rf"(?=\s+[\"'“‘(\[]?(?:[A-Z0-9•▪➢✓◦]|{RAISED}))")
#: A line that starts a list item: a bullet glyph (a checklist's "☐" too), "(a)", "a)", "1.", "i)", "1)".
#: (A number, one letter or a roman numeral: "(EC) No 1394/2007" on a line of its own is no item.)
LIST_ITEM = re.compile(rf"^(?P<marker>[•●▪■◦○➢►▶✓✔☐☑☒\-–—*o{CIRCLED_DIGITS}](?=\s)"
                       r"|\(?(?:\d{1,3}|[a-zA-Z]|[ivxIVX]{2,4})[.)](?=\s))\s+")
def marker_style(line: str) -> str | None:
    """The kind of list marker a line starts with: "bullet" (a glyph, or the letter o used as one), "digit"
    ("12.", "(3)", "1)"), "letter" (letters and roman numerals), or None for no marker."""
    marker = list_marker(line)
    if marker is None:
        return None
    core = marker.strip("().")
    if not core or marker == "o" or not core[0].isalnum():
        return "bullet"
    return "digit" if core[0].isdigit() else "letter"


#: A line holding only a list or heading number ("1.", "a)", "iv.", "A.1."); a wrapped sentence's short last
#: line ("data.", "site.") is not one.
_ENUMERATOR_LINE = re.compile(r"\(?(?:\d{1,3}|[A-Za-z]|[ivxlIVXL]{2,5})(?:\.[\dA-Za-z]{1,3})*[.)]")


def lines_with_offsets(text: str) -> list[tuple[int, str]]:
    """(offset, line) for every line of `text`."""
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, line))
        pos += len(line) + 1
    return out


def strip_range(text: str, s: int, e: int) -> tuple[int, int] | None:
    """[s, e) without surrounding whitespace, or None when nothing is left."""
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return (s, e) if s < e else None


def list_marker(line: str) -> str | None:
    """The list marker a line starts with ("•", "(a)", "1.", "ii)"), or None."""
    m = LIST_ITEM.match(line.strip())
    return m.group("marker") if m else None


#: A note's start: Korean and Japanese "※", "Note:", "NOTE 2:", "Important:" (a paragraph of its own, never the
#: tail of the list item above it).
NOTE = re.compile(r"※|(?:Note|NOTE|Important|IMPORTANT)(?:\s+\d{1,2})?\s*:")


def blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut [start, end) at blank lines, before list items and notes (`NOTE`: "※ For vectors …", "Note: …",
    not part of the item above them) and after lines ending in ':' or ';'."""
    cuts = [start]
    prev_line = ""
    for off, line in lines_with_offsets(text[start:end]):
        pos = start + off
        stripped = line.strip()
        if pos > start and (not stripped or LIST_ITEM.match(stripped) or NOTE.match(stripped)
                            or prev_line.endswith((":", ";"))):
            cuts.append(pos)
        prev_line = stripped
    cuts.append(end)
    out = []
    for s, e in itertools.pairwise(cuts):
        r = strip_range(text, s, e)
        if r:
            out.append(r)
    return out


def sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentence ranges of one block; abbreviations, initials and list numbers do not end a sentence."""
    out = []
    s = start
    for m in _SENTENCE_END.finditer(text, start, end):
        punct, stop = m.start(), m.end()
        word = re.search(r"[^\s(\[\"'“‘]*$", text[max(start, punct - 30):punct])
        last_word = (word.group(0) if word else "").lower()
        raised = any(c in SUPERSCRIPT_DIGITS for c in m.group())  # "… as described in Ph. Eur.³ The …" ends there
        if not raised and (last_word in ABBREVIATIONS or re.fullmatch(r"[a-z]", last_word)):
            continue  # "e.g. Part", initials "D. W. Gaylor"
        line_start = max(start, text.rfind("\n", start, stop) + 1)
        if _ENUMERATOR_LINE.fullmatch(text[line_start:stop].strip()):
            continue  # a list or heading number such as "1." at the start of a line
        r = strip_range(text, s, stop)
        if r:
            out.append(r)
        s = stop
    r = strip_range(text, s, end)
    if r:
        out.append(r)
    return out


def split(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Blocks, then sentences: the ranges of every sentence and list item of text[start:end]."""
    end = len(text) if end is None else end
    return [r for bs, be in blocks(text, start, end) for r in sentences(text, bs, be)]
