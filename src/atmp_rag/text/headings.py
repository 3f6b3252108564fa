"""One heading detector for every layer: extraction, chunking, units and answers.

A heading is a line that names a section: a decimal or CTD number with a title ("4.3 Risk Control",
"3.2.S.4.1 Specification"), a roman section ("II. SCOPE"), "Annex I", "PART II", a lettered item
("A. General", "(a) Short title") or a line in capitals ("GLOSSARY"). `detect_heading` classifies
one line; `plausible_next` checks a numbered heading against the previous one, so that numbered
list items inside a section stay body text; `continues_heading` decides whether the next line is
the wrapped rest of a heading ("5.2.2 Justification of Starting Material Selection for Semi-Synthetic"
+ "Drug Substances"). Section titles that mark glossaries and reference lists are named here too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ACKNOWLEDGEMENT_TITLES",
    "CALLOUT_LABEL",
    "CONTENTS_TITLE",
    "CROSS_REFERENCE_WORDS",
    "DEFINITIONS_LEAD_IN",
    "GLOSSARY_TITLES",
    "HARD_CAPS",
    "NUMBERED_ENTRY",
    "Q_ITEM_START",
    "REFERENCE_TITLES",
    "Heading",
    "bare_numbered_heading",
    "continues_heading",
    "detect_heading",
    "glossary_term",
    "inline_glossary_entry",
    "is_callout_label",
    "is_caps",
    "is_section_name",
    "number_key",
    "plausible_next",
    "question_line",
    "roman_to_int",
    "title_ok",
]


def wordset(words: str) -> frozenset[str]:
    """A set of space-separated words (keeps long word lists readable)."""
    return frozenset(words.split())


@dataclass(frozen=True)
class Heading:
    """A heading line: its number or label ("4.3.1", "3.2.S.4.1", "Annex I", "II", "A", "(a)", "")
    and title, the line as printed (whitespace-normalised), its level and kind.

    Levels: decimal depth (4 -> 1, 4.3 -> 2, 4.3.1 -> 3; "I.5" -> 2), annex/appendix -> 1,
    roman section ("II. SCOPE") -> 1, PART -> 0 (parts hold numbered sections), lettered items
    -> 2 ("A.") or 3 ("(a)"), unnumbered capitals -> 1. `kind` is one of "numbered", "roman",
    "annex" (also "Section N", "Article N"), "part" (also "Chapter N"), "letter", "caps", "name" (a
    standard section name such as "References" in any case, nested under the current numbered section:
    `is_section_name`),
    "question" ("Q1: What is …?", nested likewise).
    """

    number: str
    title: str
    level: int
    kind: str
    text: str


_UNITS = wordset(
    "mg g kg µg μg ng ml mL l L µl μl h hr hrs hours days day weeks months month years year min sec s "
    "ppm ppb % °C °F C K mm cm m nm µm μm rpm Pa kPa bar mol mmol M mM IU U kDa Da x"
)
VERBS = wordset(
    "should must shall will may is are was were can could might has have had be been does do would"
)
SMALL_WORDS = wordset("a an and as at by for from in into of on or the to with within without via vs per")
HARD_CAPS = wordset(
    "GLOSSARY REFERENCES REFERENCE DEFINITIONS INTRODUCTION SCOPE BACKGROUND ABBREVIATIONS BIBLIOGRAPHY "
    "SUMMARY CONCLUSION CONCLUSIONS ANNEXES APPENDICES FOREWORD PREAMBLE PURPOSE OBJECTIVE OBJECTIVES DISCUSSION "
    "RECOMMENDATIONS ACKNOWLEDGEMENTS ACKNOWLEDGMENTS"
)

_NUMBERED = re.compile(
    r"^(?P<num>(?:\d{1,2}[a-z]?|[A-Z]\d{0,2}|[IVX]{1,5})(?:\.(?:\d{1,3}[a-z]?|[A-Z]))*)(?P<dot>\.?)"
    r"(?:\s+(?P<title>\S.*))?$"
)
_ANNEX = re.compile(
    r"^(?P<word>annex|appendix|attachment|section|article)\s+(?P<num>[IVX]{1,5}|\d{1,2}(?:\.\d{1,2}){0,3}|[A-Z])\b"
    r"\s*(?P<sep>[.:–-]?)\s*(?P<title>.*)$",
    re.IGNORECASE,
)
#: An appendix titled without a number: "Appendix Glossary", "Annex: Terminology".
_UNNUMBERED_ANNEX = re.compile(r"^(?P<word>annex|appendix|attachment)\s*[:.–-]?\s+(?P<title>(?-i:[A-Z])[^.;:,]*)$",
                               re.IGNORECASE)
_PART = re.compile(r"^(?P<word>part|chapter)\s+(?P<num>[IVX]{1,5}|\d{1,2}|[A-Z])\b\s*(?P<sep>[.:–-]?)\s*(?P<title>.*)$",
                   re.IGNORECASE)
#: Words of division headings that running text also uses for cross-references ("… as set out in
#: Article 8 of Directive 2001/83/EC", "… see Section 3.2 Stability"): a line starting with one is not
#: a heading when the line before it stops mid-sentence (checked by the chunker).
CROSS_REFERENCE_WORDS = frozenset({"section", "article", "chapter"})
#: A title that is one question ("What is an ATMP?", "Can a sponsor rely on centralised monitoring?").
_QUESTION_TITLE = re.compile(
    r"^(?:what|how|when|which|who|whom|whose|why|where|is|are|was|were|can|could|should|shall|must|may|might|"
    r"does|do|did|will|would|has|have)\b[^?]*\?$",
    re.IGNORECASE,
)
#: A mark after a question that flags it as new or revised ("…mandatory?*", "…?†", "…? (new)"): not part of it.
_REVISION_MARK = r"(?:\s*(?:\*{1,2}|[†‡]|\((?:new|revised|updated|rev\.?\s*\d*)\)|\[(?:new|revised|updated)\]))?"
#: "Q1: What is …?", "Q 12. Can …?", "Question 3 – Is …?": a numbered question of a Q&A document.
_Q_ITEM = re.compile(r"^(?P<word>Q|Question)\s?(?P<num>\d{1,3})\s*[.:)–-]?\s+(?P<title>\S.*\?)"
                     + _REVISION_MARK + "$", re.IGNORECASE)
#: "Step 1 – Pre-submission meeting", "Stage 2: Validation", "Case 1: Autologous chondrocytes for …".
_STEP = re.compile(r"^(?P<num>(?:Step|Stage|Case(?: study)?)\s+\d{1,2})\s*[:.–—-]\s*(?P<title>[A-Z].*)$")
#: The start of a numbered question, which may wrap onto the next line ("Q3: Can a simplified IMPD be …").
Q_ITEM_START = re.compile(r"^\s*(?:Q|Question)\s?\d{1,3}\s*[.:)–-]?\s+[A-Z]")
#: "(a) Title", "(iv) Title", and the "(1) Title" / "1) Title" levels of Japanese notifications.
#: "(a) Short title", "(ii) …", "(1) Purpose", "1) Raw materials", and the "(I) Test articles" of Chinese guidelines.
_PAREN_ITEM = re.compile(r"^(?P<num>\((?:[a-z]|[ivx]{1,4}|\d{1,2}|[IVX]{1,5})\)|\d{1,2}\))\s+(?P<title>\S.*)$")
_ROMAN_COMPONENT = re.compile(r"^[IVX]{1,5}$")
_ACRONYM = re.compile(r"^(?:[A-Z]{1,5}\d*(?:-[A-Z0-9]{1,5})+|[A-Z]+\d+[A-Z0-9]*)$")
#: The European Pharmacopoeia numbers subsections with hyphens: "3-1. SERA AND SERUM REPLACEMENTS", "3-1-1. Bovine
#: serum" (the full stop is part of the style; "2-8 °C" in a sentence has none).
_HYPHEN_NUMBERED = re.compile(r"^(?P<num>\d{1,2}(?:-\d{1,2}){1,3})\.\s+(?P<title>\S.*)$")


def _words(title: str) -> list[str]:
    return title.split()


def is_caps(text: str) -> bool:
    """Written in capitals; a few lowercase letters are tolerated ("SPECIFIC GUIDANCE FOR APIs")."""
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 2 and sum(c.isupper() for c in letters) >= 0.9 * len(letters)


#: Month names and their abbreviations, for case-insensitive patterns ("Nov 2025", "14 May 2026", "Sept").
MONTHS = "jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|" \
         "oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
#: A date at a title's start ("Nov 2025", "14 May 2026"): a table row's date cell, never a heading's title.
_DATED = re.compile(rf"(?:\d{{1,2}}\s+)?(?:{MONTHS})\.?\s+(?:19|20)\d\d\b", re.IGNORECASE)


def title_ok(title: str, max_words: int = 16) -> bool:
    """Does `title` read like a heading title rather than a sentence, a value or a table cell?"""
    title = title.strip()
    if not title or len(title) > 110:
        return False
    first = title.lstrip("\"'“‘(")
    if not first[:1].isupper():
        return False
    if _DATED.match(first):
        return False  # "3.1.2 Nov 2025 Can next generation …": a Q&A table's row, its date of approval
    words = _words(title)
    if _QUESTION_TITLE.match(title):
        # Question-and-answer documents head each answer with its question ("3. Can a CAR-T product be
        # classified as a GTMP?"); a question is one sentence, so only its length is checked.
        return len(words) <= 30 and title.count("?") == 1
    if len(words) > max_words or words[0] in _UNITS:
        return False
    if title[-1] in ",;?!&" or (title.endswith(".") and len(words) > 3):
        return False
    if re.search(r"\.\s+\S", title):
        return False  # two sentences ("Lewis RJ. Hawley's Dictionary"): a reference or a paragraph
    if is_caps(title):
        return True
    if any(w in VERBS for w in words) or (len(words) > 1 and words[-1] in SMALL_WORDS):
        return False  # a modal verb, or a line broken after "of"/"and": a wrapped sentence
    if len(words) > 8:
        # Long titles are in Title Case; a long sentence-case line is a paragraph's first line.
        significant = [w for w in words if w.isalpha() and w.lower() not in SMALL_WORDS]
        if not significant or sum(w[0].isupper() for w in significant) < 0.5 * len(significant):
            return False
    return True


#: Words and characters a numbered question of a Q&A document may run to (over three or four lines).
_Q_ITEM_MAX_WORDS, _Q_ITEM_MAX_CHARS = 60, 420


def _numbered_question(text: str) -> Heading | None:
    """ "Q1: What is …?", "Question 3 – Is …?": a Q&A document's numbered question, as the heading of its answer.

    The label and the final question mark say it is a question, so it may be long and may set the scene in a
    sentence of its own before it asks ("Q3. When CAR-T cells are given to immunodeficient mice, the animals
    develop GVHD. How should tumorigenicity be evaluated?"); it must start with a capital, end with its only
    question mark and not start with a date (a Q&A table's row).
    """
    m = _Q_ITEM.match(text)
    if m is None:
        return None
    title = m.group("title").strip()
    if len(title) > _Q_ITEM_MAX_CHARS or len(title.split()) > _Q_ITEM_MAX_WORDS or title.count("?") != 1 \
            or not title.lstrip("\"'“‘(")[:1].isupper() or _DATED.match(title):
        return None
    number = f"{m.group('word')}{'' if m.group('word') == 'Q' else ' '}{m.group('num')}"
    return Heading(number=number, title=title, level=2, kind="question", text=text)


def detect_heading(line: str) -> Heading | None:
    """Classify one line as a heading, or None.

    Recognised: decimal and CTD numbers ("4.", "4.2.1 Title", "3.2.S.4.1 Specification",
    "A2.1 Title", "I.5 Title"), roman sections ("II. SCOPE"), "Annex 1", "ANNEX I: Title",
    "Appendix 2.", "PART I:", lettered items ("A. General", "(a) Short title") and unnumbered
    capitals ("GLOSSARY"). Rejected: long or sentence-like titles (a modal verb, a final full
    stop on more than three words, a final comma/semicolon/question mark), numbers followed by a
    unit or a lowercase word ("25 °C ± 2 °C", "12 months"), and a bare number without a full stop
    unless its title is in capitals.
    """
    text = " ".join(line.split())
    if (question := _numbered_question(text)) is not None:
        return question  # (it may be long: a Q&A document's question wrapped over several lines)
    if not text or len(text) > 130:
        return None

    m = _ANNEX.match(text) or _PART.match(text)
    if m:
        word, num, title = m.group("word"), m.group("num"), m.group("title").strip()
        # "Annex II provides examples ..." and "Appendix 3. Summaries ... are published in" are sentences.
        if title and not title_ok(title):
            return None
        kind = "part" if word.lower() in ("part", "chapter") else "annex"
        # "Section 4.2" sits under "Section 4"; parts and chapters hold numbered sections.
        level = 0 if kind == "part" else 1 + num.count(".")
        return Heading(number=f"{word} {num}", title=title, level=level, kind=kind, text=text)

    if text in ("ANNEX", "APPENDIX"):
        # The one annex of an EU legal act, its title on the next line.
        return Heading(number=text, title="", level=1, kind="annex", text=text)
    m = _UNNUMBERED_ANNEX.match(text)
    if m and title_ok(m.group("title"), max_words=6):
        return Heading(number=m.group("word"), title=m.group("title").strip(), level=1, kind="annex", text=text)

    m = _STEP.match(text)
    if m and title_ok(m.group("title"), max_words=8):
        # A step of a procedure ("Step 1 – Pre-submission meeting") or a case study ("Case 2: …"): a subsection of
        # the section describing them, the next one its sibling.
        return Heading(number=m.group("num"), title=m.group("title"), level=2, kind="label", text=text)
    m = _PAREN_ITEM.match(text)
    if m:
        title = m.group("title")
        # List items end in punctuation ("(e) The subject's responsibilities."); titles do not.
        if len(title) <= 60 and title[-1] not in ".:;," and title_ok(title, max_words=8):
            return Heading(number=m.group("num"), title=title, level=3, kind="letter", text=text)
        return None

    m = _HYPHEN_NUMBERED.match(text)
    if m and title_ok(m.group("title")):
        parts = m.group("num").split("-")
        # Numbered as "3.1.1" for the order of sections; the path keeps the heading as printed.
        return Heading(number=".".join(parts), title=m.group("title"), level=len(parts), kind="numbered", text=text)

    m = _NUMBERED.match(text)
    if m:
        num, dot, title = m.group("num"), m.group("dot"), (m.group("title") or "").strip()
        parts = num.split(".")
        if len(parts) == 1:
            comp = parts[0]
            if comp.isdigit() or comp[:-1].isdigit():
                # A bare "3 Title" is too often a footnote or a table row; EMA and ICH write "3." or caps.
                if not title or not title_ok(title) or not (dot or is_caps(title)):
                    return None
                if _QUESTION_TITLE.match(title):
                    return None  # "1. What might go wrong?": one of a list of questions (Q9 4.3), not a section
                return Heading(number=num, title=title, level=1, kind="numbered", text=text)
            if _ROMAN_COMPONENT.match(comp):  # "I." is roman; other single capitals are letters
                if dot and title and title_ok(title):
                    return Heading(number=num, title=title, level=1, kind="roman", text=text)
                return None
            if len(comp) == 1 and comp.isupper():
                if dot and title and title[-1] not in ".:;," and title_ok(title, max_words=8):
                    return Heading(number=num, title=title, level=2, kind="letter", text=text)
                return None
            return None
        if not any(any(ch.isdigit() for ch in p) for p in parts):
            return None  # "U.S. Food" and other abbreviations
        # After the first component only digits or single capitals (CTD "S", "P") are numbers.
        if not all(re.fullmatch(r"\d{1,3}[a-z]?|[A-Z]", p) for p in parts[1:]):
            return None
        if not title or not title_ok(title):
            return None
        return Heading(number=num, title=title, level=len(parts), kind="numbered", text=text)

    words = _words(text)
    if (
        is_caps(text)
        and not any(ch.isdigit() for ch in text)
        and len(words) <= 12
        and sum(c.isalpha() for c in text) >= 4
        and any(len(re.sub(r"\W", "", w)) >= 3 for w in words)
        and text[-1] not in ".,;"
        and text[0].isalpha()
        and words[0].lower() not in SMALL_WORDS  # "AND TERTIARY-BUTYL ALCOHOL": a wrapped line
        # One short word is an acronym in a table ("DMSO") or a glossary term ("NOEL:"); so is one of
        # hyphenated or numbered parts ("SDS-PAGE", "RT-PCR", "HEK293"), however long.
        and ((len(words) > 1 and not text.endswith(":")) or (len(text) >= 6 and not _ACRONYM.match(text))
             or text in HARD_CAPS)
    ):
        return Heading(number="", title=text, level=1, kind="caps", text=text)
    # A standard section name alone on its line, in any case ("References", "Glossary", "Introduction"):
    # WHO, FDA and many national guidances head these sections without a number or capitals. With a
    # colon ("Introduction:", "Summary:") it is a run-in label inside a numbered section (ICH E6 7.3).
    if not text.endswith(":") and is_section_name(text):
        return Heading(number="", title=text, level=1, kind="name", text=text)
    return None


#: Standard section names of more than one word (every EMA guideline opens with "Executive summary").
#: (Acknowledgement titles are section names by `ACKNOWLEDGEMENT_TITLES`.)
SECTION_PHRASES = frozenset({"EXECUTIVE SUMMARY", "LEGAL BASIS", "LIST OF ABBREVIATIONS"})
#: Back matter: after numbered sections, an unnumbered one of these closes them (WHO, FDA: "References"
#: after "6.3 …" is no subsection of 6.3).
BACK_MATTER = frozenset({"ACKNOWLEDGEMENTS", "ACKNOWLEDGMENTS", "AUTHORS AND ACKNOWLEDGEMENTS",
                         "AUTHORS AND ACKNOWLEDGMENTS", "ANNEXES", "APPENDICES", "BIBLIOGRAPHY", "REFERENCES",
                         # EMA's template puts unnumbered "Definitions" after the numbered text, before or
                         # after "References"
                         "DEFINITIONS", "GLOSSARY", "ABBREVIATIONS", "LIST OF ABBREVIATIONS",
                         "DEFINITIONS AND ABBREVIATIONS", "GLOSSARY OF TERMS", "ENDNOTES"})


def is_section_name(title: str) -> bool:
    """A standard section name in any case: "References", "Glossary", "Introduction", "Executive summary"."""
    return (title.upper() in HARD_CAPS or " ".join(title.upper().split()) in SECTION_PHRASES
            or bool(REFERENCE_TITLES.match(title) or ACKNOWLEDGEMENT_TITLES.match(title)
                    or GLOSSARY_TITLES.fullmatch(title)))


_BARE_NUMBERED = re.compile(r"^(?P<num>\d{1,2})\s+(?P<title>\S.*)$")


def bare_numbered_heading(line: str, next_line: str, expected: int | None = None) -> Heading | None:
    """A top-level heading printed as a bare number and a sentence-case title ("2 Biodistribution"),
    recognised from its context only: for a line `detect_heading` rejected on its own.

    Alone, "3 Title" is as often a footnote ("1 Health Canada considers …"), a table row or a list
    entry as a heading. It is taken as a heading when what follows shows it opens section N: the next
    line starts with its first subsection or numbered paragraph ("2.1 …"), or its title names a
    standard section ("4 References", "5 Glossary"). Several regulators' layouts (Health Canada,
    TGA, WHO) number their top-level sections this way.

    `expected`: the next top-level number of a document already shown to number its sections so
    ("1 Introduction", "2 Scope" seen, so "3 Potency assays" may follow without a subsection). Then a
    title of words alone (no digit: "3 Regulation (EC) No 1394/2007" is a footnote) starting in a capital,
    followed by a line starting in a capital, is enough.
    """
    text = " ".join(line.split())
    m = _BARE_NUMBERED.match(text)
    if not m:
        return None
    num, title = m.group("num"), m.group("title")
    if not title_ok(title, max_words=10) or title.endswith("."):
        return None
    child = re.match(rf"{num}\.\d{{1,2}}\.?\s+\S", " ".join(next_line.split()))
    in_sequence = (expected is not None and int(num) == expected and title[:1].isupper()
                   and not any(c.isdigit() for c in title) and title[-1:] not in ":;,"
                   and next_line.strip()[:1].isupper())
    if not child and not in_sequence and not (is_section_name(title) or GLOSSARY_TITLES.search(title)):
        return None
    return Heading(number=num, title=title, level=1, kind="numbered", text=text)


def number_key(number: str) -> tuple[tuple[str, int], ...]:
    """"4.2.1" -> (("d", 4), ("d", 2), ("d", 1)); roman first parts and letters get their own types."""
    out = []
    for i, part in enumerate(number.split(".")):
        m = re.fullmatch(r"(\d+)[a-z]?", part)
        if m:
            out.append(("d", int(m.group(1))))
        elif i == 0 and _ROMAN_COMPONENT.match(part):
            out.append(("r", roman_to_int(part) or 0))
        else:
            out.append(("a:" + part, 0))
    return tuple(out)


_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")


def roman_to_int(s: str) -> int | None:
    """Value of a well-formed roman numeral in either case ("iv" -> 4, "XII" -> 12), else None."""
    s = s.lower()
    if not s or not _ROMAN.match(s):
        return None
    values = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
    total = 0
    for a, b in zip(s, s[1:] + " ", strict=True):
        v = values[a]
        total += -v if b != " " and values[b] > v else v
    return total


def plausible_next(prev: tuple[tuple[str, int], ...] | None, cand: tuple[tuple[str, int], ...]) -> bool:
    """Is `cand` a plausible heading number after `prev` (next sibling of some ancestor, or a child)?

    Up to two missed siblings are tolerated; deeper levels opened by a jump start at 0-3
    ("4.2" -> "5.1" is fine, "4.2" -> "5.7" is not).
    """
    if prev is None:
        return True
    for k in range(len(cand)):
        if cand[:k] != prev[:k]:
            return False
        rest_ok = all(t == "d" and v <= 3 for t, v in cand[k + 1:])
        if k < len(prev):
            (pt, pv), (ct, cv) = prev[k], cand[k]
            if pt == ct and pt in ("d", "r") and pv < cv <= pv + 3 and rest_ok:
                return True
        else:
            # A child of the previous heading; any first number (earlier siblings may have been missed).
            return cand[k][0] == "d" and rest_ok
    return False




#: Section titles whose entries are terms and their definitions.
GLOSSARY_TITLES = re.compile(r"\b(?:glossary|definitions?|terminology|terms and definitions)\b", re.IGNORECASE)
#: Section titles of who wrote and reviewed a document ("Authors and acknowledgements", WHO's back matter): names
#: and institutions, never quoted as an answer (a list of an agency's staff would "answer" a question naming it).
ACKNOWLEDGEMENT_TITLES = re.compile(
    r"^(?:(?:authors?(?:\s+and|\s*&)\s+)?acknowledge?ments?|contributors|list of (?:participants|contributors))"
    r"\s*:?$",
    re.IGNORECASE)
#: Section titles of reference lists and bibliographies (never quoted as an answer).
REFERENCE_TITLES = re.compile(
    r"^(?:[\dIVX.]+\s*)?(?:references?|bibliography|literature(?: references)?|reference list|endnotes|"
    r"references? and (?:further )?(?:reading|bibliography)|further reading)\s*:?$",
    re.IGNORECASE,
)


def _title_case(line: str) -> bool:
    """Significant words start in capitals ("Biotechnological/Biological Drug Substances")."""
    words = [w for w in line.split() if w[:1].isalpha()]
    significant = [w for w in words if w.lower() not in SMALL_WORDS]
    return bool(significant) and all(w[0].isupper() for w in significant)


#: A call-out box's label ("ADDENDUM" over each box of text ICH E6(R2) added, "NOTE"): it marks the box, not a
#: section, so the text under it stays in the section around it (`text.content.strip_lead_noise` strips it from
#: a quote's start when it opens a line with the box's title).
CALLOUT_LABEL = r"(?:ADDENDUM|NOTE|N\.\s?B\.|NB)"
_CALLOUT_LABEL = re.compile(CALLOUT_LABEL + r"\s*:?")


def is_callout_label(line: str) -> bool:
    """Whether `line` is only a call-out box's label ("ADDENDUM", "NOTE:")."""
    return _CALLOUT_LABEL.fullmatch(" ".join(line.split())) is not None


def continues_heading(heading: Heading, next_line: str, following: str = "") -> bool:
    """Whether `next_line` is the wrapped rest of `heading`'s title.

    Capitals continue in capitals ("6. INTEGRATION OF QUALITY RISK MANAGEMENT INTO INDUSTRY" + "AND
    REGULATORY OPERATIONS"). A title in Title Case continues when the heading line looks cut (long,
    or ending in a small word or a hyphen) and the next line is a short Title Case fragment followed
    by the start of a sentence or another heading ("…Selection for Semi-Synthetic" + "Drug Substances").
    """
    nxt = " ".join(next_line.split())
    if not nxt or len(nxt) > 90 or not heading.title or is_callout_label(nxt):
        return False
    other = detect_heading(nxt)
    if other is not None and other.kind != "caps":
        return False
    title = heading.title
    if is_caps(title):
        digits_ok = len(nxt.split()) >= 2 or not any(c.isdigit() for c in nxt)
        return title.rstrip(":") not in HARD_CAPS and is_caps(nxt) and digits_ok
    last = title.split()[-1].lower()
    looks_cut = len(heading.text) >= 50 or last in SMALL_WORDS or title.endswith(("-", "/", ","))
    if not looks_cut or len(nxt.split()) > 8 or nxt[-1] in ".;:,!?" or not _title_case(nxt):
        return False
    if any(w in VERBS for w in nxt.split()):
        return False
    after = following.strip()
    return not after or not after[0].islower()


def glossary_term(line: str, next_line: str) -> str | None:
    """The term of a glossary entry line ("Batch (or Lot)", "Harm:"), or None for body text.

    A term line is short, starts in capitals or digits, does not end a sentence and has no modal
    verb, and its definition starts on the next line with a capital.
    """
    text = " ".join(line.split())
    nxt = next_line.strip()
    if not text or not nxt or len(text) > 100 or not (text[0].isupper() or text[0].isdigit()):
        return None
    if not nxt[0].isupper() and not nxt[0].isdigit() and nxt[0] not in "\"“(":
        return None
    words = text.split()
    if len(words) > 12 or text[-1] in ".;,!?" or any(w in VERBS for w in words):
        return None
    if re.search(r"[.;]\s", text) or "," in re.sub(r"\([^)]*\)", "", text):
        return None  # clauses: a sentence (or a wrapped line of one), not a term
    term = text.rstrip(":").strip()
    if not term or term.split()[-1].lower() in SMALL_WORDS:
        return None  # "…production of a": a line broken after a small word
    return term


def wrapped_glossary_term(lines: Sequence[str]) -> tuple[str, int] | None:
    """(term, lines it takes) for a glossary term wrapped over two to four lines of a table's narrow first
    column and read cell by cell ("Advanced therapy" + "medicinal product" + "(ATMP)", then its
    definition), or None.

    The lines after the first are short (the cell's tail, not a definition's line) and start in lower
    case or with a parenthesis; the longest such run whose joined text obeys `glossary_term` before a
    capitalised line is the term.
    """
    first = " ".join(lines[0].split()) if lines else ""
    if not first[:1].isupper() or len(first.split()) > 6:
        return None
    tails = 0
    for line in lines[1:4]:
        tail = " ".join(line.split())
        if not (tail[:1].islower() or tail[:1] == "(") or len(tail.split()) > 4:
            break
        tails += 1
    for m in range(tails, 0, -1):
        after = lines[m + 1].strip() if m + 1 < len(lines) else ""
        joined = " ".join(" ".join(ln.split()) for ln in lines[:m + 1])
        if after[:1].isupper() and (term := glossary_term(joined, after)) is not None:
            return term, m + 1
    return None


#: The tail of a glossary term that wrapped in its table column and was read into the start of the
#: definition's next line: a few lower-case words closed by the term's abbreviation ("product (ATMP)").
_TERM_TAIL = re.compile(r"^\s*(?P<tail>[a-z][\w-]*(?:\s+[a-z][\w-]*){0,3}\s+\([A-Z][A-Za-z0-9-]{1,9}\))\s+\S")


def term_column_tail(line: str) -> tuple[int, int] | None:
    """The range in `line` of a table glossary term's wrapped tail, read into the start of the definition's
    next line ("product (ATMP) medicinal product or …"), or None."""
    m = _TERM_TAIL.match(line)
    if m is None or any(w in VERBS or w in SMALL_WORDS for w in m.group("tail").split()[:-1]):
        return None
    return m.start("tail"), m.end("tail")


_TERM_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,3})*\.?\s+")
_PARENTHESIS = re.compile(r"\s*\(([^()]*)\)")
_ALTERNATIVE = re.compile(r"^(?:or|also (?:referred to as|known as|called)|also|i\.e\.,?)\s+(?=\S)", re.IGNORECASE)
_ABBREVIATION = re.compile(r"[A-Z][A-Za-z0-9-]{0,8}[A-Z0-9]s?")


def term_names(term: str) -> list[str]:
    """The names a glossary term goes by: the term as printed without its number or colon, without its
    parenthesised parts, each side of an "or", and the abbreviation or alternative in its parentheses.

    "1.11 Case Report Form (CRF)" is asked about as "case report form" or "CRF", "Batch (or Lot)" as
    "batch" or "lot", "Stress testing (drug substance)" as "stress testing".
    """
    text = _TERM_NUMBER.sub("", " ".join(term.split())).rstrip(":").strip()
    names = [text]
    bare = " ".join(_PARENTHESIS.sub(" ", text).split())
    names.extend(part.strip() for part in re.split(r"\s+or\s+", bare))
    for inner in _PARENTHESIS.findall(text):
        inner = " ".join(inner.split())
        alternative = _ALTERNATIVE.sub("", inner)
        if alternative != inner or _ABBREVIATION.fullmatch(inner):
            names.append(alternative)
    return list(dict.fromkeys(n for n in names if n))


#: "Sentinel subject: The first subject …", "Vector shedding – The release …": a glossary term and its
#: definition on one line (FDA, WHO and EU glossaries; ICH puts the term on a line of its own).
#: After a colon the definition may start in lower case ("Shedding: the dissemination of …", EMA). A term may
#: also end at a full stop before a capitalised definition ("Clonal dominance. A state in which …", the run-in
#: bold terms of Chinese and other translated glossaries); such a term holds no full stop of its own.
_INLINE_ENTRY = re.compile(r"^\s*(?P<term>[A-Z0-9“\"(][^:;]{0,80}?)\s*"
                           r"(?::\s+(?=[A-Za-z0-9“\"(])|\s[–—-]\s+(?=[A-Z0-9“\"(])|(?P<stop>\.)\s+(?=[A-Z]))")


_RUN_IN_LABELS = frozenset({"note", "notes", "example", "examples", "see", "see also", "source", "comment",
                            "comments", "remark", "remarks"})


#: A definition item of a lettered or numbered list under "the following definitions apply:": the term may be
#: in lower case and is followed by a colon ("b) shedding: the release of the vector …", ANVISA, Swissmedic).
_ITEM_ENTRY = re.compile(r"^\s*(?P<term>[A-Za-z0-9“\"(][^:;]{0,80}?)\s*:\s+(?=[A-Za-z0-9“\"(])")
#: A lead-in that announces a list of definitions ("For the purposes of this Guide, the following definitions
#: apply:", "The following terms are defined:"); "the following, as defined in section 2, should be provided:" is
#: not one.
DEFINITIONS_LEAD_IN = re.compile(
    r"\bdefinitions?\b|\bfollowing\s+(?:terms|expressions|meanings)\b|\bshall\s+mean\b",
    re.IGNORECASE)


def inline_glossary_entry(line: str, lower_case_term: bool = False) -> tuple[str, int] | None:
    """(term, offset of the definition in `line`) when a glossary line starts with a term and a colon, dash
    or full stop ("Dose escalation: The stepwise increase …"), else None. The term obeys the rules of
    `glossary_term`: short, no verb, no clause, not cut after a small word; a term ending at a full stop
    ("Clonal dominance. A state …") holds none of its own. `lower_case_term` reads an item of
    a list of definitions, whose term may be in lower case but must end at a colon ("shedding: the …")."""
    m = (_ITEM_ENTRY if lower_case_term else _INLINE_ENTRY).match(line)
    if m is None:
        return None
    term = " ".join(m.group("term").split())
    if (marker := re.match(r"\(?(?:\d{1,2}|[a-z]|[ivx]{2,4})\)\s+", term)) is not None:
        term = term[marker.end():]  # "1) Processing: Artificial manipulation …" defines "Processing"
    words = term.split()
    if term.lower() in _RUN_IN_LABELS:
        return None  # "Note: The definition …": a remark inside the glossary, not a term
    if not words or len(words) > 10 or any(w in VERBS for w in words) or words[-1].lower() in SMALL_WORDS:
        return None
    if re.search(r"[.;]\s", term) or "," in re.sub(r"\([^)]*\)", "", term):
        return None
    if m.groupdict().get("stop") and ("." in term or len(words) > 8 or words[0] in _DEFINITION_START
                                      or len(line[m.end():].split()) < 3):
        # "U.S. Food and …", "Ph. Eur. …": an abbreviation's full stop ends no term; "The introduction of new
        # technologies. (ICH Q10)" is a definition's sentence and its source, not a term.
        return None
    if len(line[m.end():].split()) < 2:
        return None  # "Examples:" + a list on the next lines: a lead-in, not a definition
    return term, m.end()


#: The header row of a glossary printed as a two-column table ("Term Definition", "Abbreviation Meaning").
GLOSSARY_TABLE_HEADER = re.compile(
    r"^\s*(?:terms?|expressions?|abbreviations?|acronyms?)\s+(?:definitions?|descriptions?|meanings?|"
    r"explanations?|full (?:name|term|form))\s*$", re.IGNORECASE)
#: Words a definition cell starts with ("Vector shedding The dissemination …", "Certified Copy A copy …").
_DEFINITION_START = frozenset({"The", "A", "An", "Any", "All", "Each", "Every", "One", "Those", "Refers", "Means"})


def table_glossary_entry(line: str) -> tuple[str, int] | None:
    """(term, offset of the definition) for a row of a two-column glossary table, where the text layer
    keeps no gap between the cells ("Vector shedding The dissemination of the vector …"), else None.

    The definition cell starts at the first article or "Refers/Means" after one to six words of term,
    or else at a capitalised word followed by a lower-case one, after a lower-case word ("Disease model
    Animal model that …") or a one-word term ("Custom-made Prepared to meet …").
    """
    words = [(m.start(), m.group()) for m in re.finditer(r"\S+", line)]
    if len(words) < 3 or not words[0][1][:1].isupper() or words[0][1] in _DEFINITION_START:
        return None  # ("A T cell genetically modified …" is a definition's first line)
    cut = next((k for k in range(1, min(7, len(words) - 1)) if words[k][1] in _DEFINITION_START), None)
    if cut is None:
        cut = next((k for k in range(1, min(7, len(words) - 1))
                    if words[k][1][:1].isupper() and (k == 1 or words[k - 1][1][:1].islower())
                    and words[k + 1][1][:1].islower()),
                   None)
    if cut is None:
        return None
    term = " ".join(w for _, w in words[:cut])
    if term.lower() in _RUN_IN_LABELS or any(w in VERBS for _, w in words[:cut]) or re.search(r"[.;:,]$", term):
        return None
    return term, words[cut][0]


#: A paragraph number in the margin ("6. The relevance …", "(12) Where …", EudraLex's "3.12 Personnel …"):
#: UK, WHO and EU guidance number every paragraph, so a title's next line may start with one.
_PARAGRAPH_NUMBER = re.compile(r"^(?:\(?\d{1,3}[.)]|\d{1,2}(?:\.\d{1,3}){1,2}\.?)\s+(?=\S)")
#: A decimal paragraph number ("2.8 ", "4.12. "): a numbered paragraph of an EU GMP or WHO text.
_DECIMAL_PARAGRAPH = re.compile(r"^\d{1,2}\.\d{1,3}\.?\s+[A-Z]")


def unnumbered_subheading(line: str, next_line: str, after: str = "") -> Heading | None:
    """A short unnumbered subheading in sentence case on a line of its own ("Repeated dose toxicity",
    "Quality defects") followed by running text, recognised from its context: for a line `detect_heading`
    rejected. The caller checks that the line before closed a sentence.

    The line has at most six words and no digit, comma, colon or final punctuation, no verb, does not end
    on a small word ("… studies in"), and the next line is a paragraph's first line (its paragraph number
    aside): a capital and at least eight words, or a list's lead-in. A first line of a paragraph is as long
    as the next, so a short line before it is a title. With `after` (the line after the next), a title
    directly above such a subheading ("General principles" over "Choice of animal model" over a paragraph)
    is one too. Over a numbered paragraph ("2.8 The application of GMP …", EU GMP) the paragraph number
    says where the paragraph begins, so the title may have up to ten words ("Application of the risk-based
    approach to investigational ATMPs") and be as long as the paragraph's first line.
    """
    text = " ".join(line.split())
    numbered = _DECIMAL_PARAGRAPH.match(" ".join(next_line.split())) is not None
    if not _short_title(text, max_words=10 if numbered else 6):
        return None
    nxt = _PARAGRAPH_NUMBER.sub("", " ".join(next_line.split()))
    n = len(nxt.split())
    # A list's lead-in ("This guidance does not apply to:") is a paragraph's first line however short.
    lead_in = n >= 4 and nxt.endswith(":") and any(w.lower() in VERBS for w in nxt.split())
    # A row of values is no paragraph: "Typical ATMP operations", the last column header of a table whose
    # header cells wrap, sits over "A 3 520 3 520 20 <1 <1 Open aseptic manipulation of cells; filling of".
    values = sum(1 for w in nxt.split() if re.fullmatch(r"[<>≤≥~±]?[\d.,]+%?", w))
    above_paragraph = nxt[:1].isupper() and not (values >= 3 and values >= 0.25 * n) and (
        (n >= 8 and (numbered or len(text) <= 0.6 * len(nxt))) or lead_in)
    if not above_paragraph and not (after and unnumbered_subheading(next_line, after) is not None):
        return None
    return Heading(number="", title=text, level=1, kind="label", text=text)


def wrapped_subheading(line: str, next_line: str, after: str) -> Heading | None:
    """A short sentence-case subheading wrapped over two lines in a narrow column ("Dose escalation in" /
    "first-in-human trials"), above a paragraph that starts with a capital (a line of five words or more):
    the first line is cut after a small word, the second is a lower-case fragment of at most four words with
    no verb and no end, and together they are a short title (`_short_title`). A narrow column's paragraph
    lines are as short as the title, so `unnumbered_subheading`'s length test cannot tell them apart."""
    first, rest = " ".join(line.split()), " ".join(next_line.split())
    words, tail = first.split(), rest.split()
    if len(words) < 2 or words[-1].lower() not in SMALL_WORDS or not 1 <= len(tail) <= 4 or not rest[:1].islower():
        return None
    # The paragraph below starts with a capital and a line of words (in a table's text layer, "Introduction
    # of" / "the API" sit over a cell's next word, "Starting").
    if rest[-1] in ".;:,!?" or any(w.lower() in VERBS for w in tail) or not after.strip()[:1].isupper() \
            or len(after.split()) < 5:
        return None
    title = f"{first} {rest}"
    return Heading(number="", title=title, level=1, kind="label", text=title) if _short_title(title) else None


def long_title(line: str, after: str) -> bool:
    """A sentence-case title of up to 14 words on the line under "Appendix 1" ("Model certificate for the
    release of gene therapy vector lots"): no verb, no end punctuation, not cut on a small word, and a new
    line after it. (`title_ok` wants Title Case beyond eight words.)"""
    words = line.split()
    return (0 < len(words) <= 14 and line[:1].isupper() and line[-1:].isalnum() and after.strip()[:1].isupper()
            and not any(w in VERBS for w in words) and words[-1].lower() not in SMALL_WORDS)


def _short_title(text: str, max_words: int = 6) -> bool:
    """At most `max_words` words in sentence or title case, no digit, comma, colon, final punctuation or verb."""
    words = text.split()
    if not 1 <= len(words) <= max_words or len(text) < 4 or not text[0].isupper() or not text[0].isalpha():
        return False
    if re.search(r"[\d,:;.?!]", text) or not title_ok(text, max_words=max_words):
        return False
    # Capitals that `detect_heading` turned down are a wrapped heading's tail ("THE PROTOCOL").
    return not (len(words) == 1 and words[0].lower() in SMALL_WORDS) and not is_caps(text)


_NUMBERED_QUESTION = re.compile(r"^(?:(?P<num>\d{1,3})[.)]\s+)?(?P<title>\S.*\?)" + _REVISION_MARK + "$",
                                re.IGNORECASE)


def question_line(line: str) -> Heading | None:
    """A whole line that asks one question ("Can a CAR-T product be a GTMP?", "3. What is …?"), as the
    heading it is in a Q&A document. Whether the document *is* one is for the caller to decide: a list
    of questions (ICH Q9's "1. What might go wrong?") looks the same line by line."""
    text = " ".join(line.split())
    m = _NUMBERED_QUESTION.match(text)
    if m is None:
        return None
    title = m.group("title")
    if not _QUESTION_TITLE.match(title) or not title_ok(title):
        return None
    return Heading(number=m.group("num") or "", title=title, level=2, kind="question", text=text)


#: A contents list's own heading ("Contents", "Table of contents"), on a contents page or a content page.
CONTENTS_TITLE = re.compile(r"^\s*(?:table\s+of\s+)?contents?\s*$", re.IGNORECASE)
#: A line that starts with a section number and a capital: a numbered heading or a contents entry
#: ("1. Introduction 195", "2 Scope", "3.1.2 Donor testing 3", "IV. GLOSSARY", "A. Potency Assay Development").
NUMBERED_ENTRY = re.compile(r"^\s*(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,5}\.|[A-Z]\.)\s+[A-Z]")
#: A contents entry's marker ("– Master files").
_ENTRY_MARKER = re.compile(r"^\s*[•●▪■◦\-–—]\s+")


def _entry(line: str) -> str:
    """A contents line as a comparable title: no marker; lower case."""
    return " ".join(_ENTRY_MARKER.sub("", line).split()).lower()


def contents_titles(content_texts: Sequence[str]) -> frozenset[str]:
    """The section titles that a contents list printed on a content page names (compared with
    `listed_title`): web guidance printed to PDF puts "Contents" over "– Who this guidance is for",
    "– Master files", …, with neither numbers nor pages, and its headings are short lines that the other
    rules take for running text. (Table-of-contents pages are not read: their numbered titles are found by
    `detect_heading` anyway, and their other lines name furniture such as a cover's running title.)
    """
    titles: set[str] = set()
    for text in content_texts:
        lines = [ln.strip() for ln in text.split("\n") if ln.strip()]
        for i, line in enumerate(lines):
            if not CONTENTS_TITLE.match(line):
                continue
            for entry in lines[i + 1:]:
                if not _ENTRY_MARKER.match(entry) or len(entry.split()) > 13 or entry.rstrip()[-1:] in ".;:":
                    break
                titles.add(_entry(entry))
    return frozenset(t for t in titles if t and 1 <= len(t.split()) <= 12)


def listed_title(line: str, listed: frozenset[str]) -> Heading | None:
    """A line that a contents list names as a section ("Master files", "What point of care manufacturing
    means"): a heading however it reads, when it starts with a capital (not the contents entry itself, with
    its marker, nor the wrapped end of a title "… control sites and" / "master files") and ends no sentence."""
    text = " ".join(line.split())
    if not listed or not text[:1].isupper() or text[-1:] in ".;:," or text.lower() not in listed:
        return None
    return Heading(number="", title=text, level=1, kind="label", text=text)
