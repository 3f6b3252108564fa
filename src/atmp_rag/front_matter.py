"""What an uncatalogued PDF says about itself: draft status, reference number, title and date.

A PDF dropped into the corpus folder without a catalog row used to be cited from its file metadata
alone: the status "final", the file name as reference, and whatever title the producer left ("Microsoft
Word - gtmp_draft.docx"). A draft cited as final is a wrong citation, so the front matter is read:

- the running lines (headers and footers printed on most pages, which cleaning takes off the text):
  "Draft — Not for Implementation", "EMA/CAT/123456/2024 Draft";
- the top of the first page (all of it when it is a title page): the reference ("EMA/CAT/80183/2014",
  "Document number GN-0042"), a title line ("Guideline on …", "Draft guidance for industry"), the date
  printed on a line of its own ("18 March 2024", "Adopted on 17 November 2022"), and what marks a draft
  ("Draft", "distributed for comment purposes only", "currently under public consultation");
- a cover with no title line of that kind ("Annex 3" over "WHO considerations on …") is titled by the
  title-like block it begins with, and an annex with no date by the year of the report series its
  running line cites ("WHO Technical Report Series, No. 1048, 2024").

Only the front is read: the body of a guideline cites other documents' references and discusses drafts
("Draft agreed by CAT" is a row of every adopted EMA guideline's cover table). A front or running line
that says the document itself is no longer in force ("This guideline has been superseded by …", a
"SUPERSEDED" or "Withdrawn" stamp) marks it superseded, with its successor when the line names one; a
document that *replaces* another ("This guideline supersedes …") is the one in force. What is not found
keeps the metadata value; nothing here marks a document final.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from atmp_rag.models import Document, Page, PageKind, Status
from atmp_rag.text.headings import NUMBERED_ENTRY, detect_heading

__all__ = ["FrontMatter", "describe", "read_front_matter"]

#: Lines read from the top of a first page that is not a title page (title pages are read whole).
TOP_LINES = 12

#: "EMA/CAT/80183/2014", "EMEA/CHMP/GTWP/125491/2006", "CPMP/ICH/2736/99", "CAT/CPWP/686637/2011 Rev. 1".
_AGENCY_REFERENCE = re.compile(
    r"\b(?:EMA|EMEA|CPMP|CHMP|CAT|CVMP|COMP|PDCO|HMPC|PRAC)/(?:[A-Z][A-Za-z0-9-]*/){0,4}\d{2,7}/(?:19|20)?\d{2}\b"
    r"(?:\s*(?:Rev|Corr)\.?\s*\d+\b)?"
)
#: "Document number GN-0042", "Identification number: ZL101_00_008e_WL", "Working document QAS/21.876".
_LABELLED_REFERENCE = re.compile(
    r"\b(?:(?:document|doc\.?|guidance|guideline|identification)?\s*(?:reference|ref\.?|number|no\.?|code)\s*"
    r"(?:number|no\.?)?|working\s+document)\s*[:.]?\s+"
    r"(?P<ref>(?-i:[A-Z][A-Za-z0-9_]*(?:[-/._][A-Za-z0-9]+)+))\b",
    re.IGNORECASE,
)
#: A European Commission document: "C(2017) 7694 final" (the Commission decision adopting EudraLex Part IV),
#: "SWD(2020) 123 final", "COM(2022) 338 final".
_COMMISSION_REFERENCE = re.compile(r"\b(?:C|COM|SWD|SEC)\(\d{4}\)\s?\d{1,5}(?:\s+final)?\b")
#: An EU legal act by the title line of its Official Journal print, in capitals ("REGULATION (EU) 2026/1187 OF
#: THE EUROPEAN PARLIAMENT …"): not "Regulation (EC) No 1394/2007", which a guideline's prose cites.
_EU_ACT_TITLE = (r"(?:COMMISSION\s+)?(?:IMPLEMENTING\s+|DELEGATED\s+)?(?P<act>REGULATION|DIRECTIVE|DECISION)"
                 r"\s+(?P<number>(?:\((?:EU|EC|EEC)\)\s+)?(?:No\s+)?\d{2,4}/\d{1,4}(?:/(?:EU|EC|EEC))?)\b")
_EU_ACT = re.compile(rf"^\s*{_EU_ACT_TITLE}")
#: "PFSB Notification No. 0907-2", "PSEHB/PED Notification No. 0612-1" (Japanese notices).
_NOTIFICATION = re.compile(r"\b(?:[A-Z]{2,}(?:/[A-Z]{2,})?\s+)?Notification\s+No\.\s*\d[\d-]*\b")
#: A numbered act of a regulator, as its cover or running head names it: "Guide No. 47/2025" (ANVISA),
#: "RDC nº 505/2021", "Resolution No. 1234", "Announcement No. 12 of 2024" (NMPA/CDE). The kind of act is kept:
#: "47/2025" alone names nothing.
_NUMBERED_ACT = re.compile(
    r"\b(?:Guide|Guideline|Guidance|Resolution|RDC|Normative\s+Instruction|Instruction|Circular|Ordinance|Decree|"
    r"Order|Notice|Announcement|Standard)\s+(?:No\.|Nº|N°|nº|n°|Number)\s*\d{1,5}"
    r"(?:[/-]\d{2,4}|\s+of\s+(?:19|20)\d{2})?\b")
#: An ICH code: "ICH E6(R3) Guideline" in a running line, or "Q5A(R2)" alone on an ICH cover.
_ICH_CODE = r"(?:[QSEM]\d{1,2}[A-Z]?(?:\(R\d\))?)"
_ICH_REFERENCE = re.compile(rf"\bICH\s+(?P<code>{_ICH_CODE})(?![\w(])|^\s*(?P<alone>{_ICH_CODE})\s*$")
_ICH_COVER = re.compile(r"^\s*ICH\s+HARMONI[SZ]ED\s+(?:TRIPARTITE\s+)?GUIDELINE\s*$", re.IGNORECASE)
#: A running line or a front line that calls the document a draft. "Draft agreed by …", "Draft adopted by
#: …" are rows of an adoption table, which adopted guidelines keep on their cover.
_DRAFT_WORD = re.compile(r"\bdraft\b(?![^\n]*\b(?:agreed|adopted|discussed|endorsed by|released by)\b)", re.IGNORECASE)
#: A front line that starts with "Draft" in capitals ("Draft", "DRAFT GUIDANCE", "Draft guideline on …"); a
#: wrapped sentence line "draft guidance of the same title dated …" (a final guidance's history) does not.
_DRAFT_TITLE_LINE = re.compile(
    r"^\s*(?:Draft|DRAFT)\b(?!.*\b(?i:agreed|adopted|discussed|endorsed|released)\b)(?!.*\.$)")
_CONSULTATION = re.compile(
    r"\bnot for implementation\b|\bfor comment purposes only\b|\bcurrently under public consultation\b|"
    r"\bpublic consultation draft\b|\bconsultation version\b|\bdraft\b[^.\n]{0,40}\bfor (?:public )?consultation\b|"
    r"^\s*(?:public\s+)?consultation\s+(?:paper|document)\s*$",  # a TGA or MHRA consultation paper's cover
    re.IGNORECASE,
)
#: A line saying that this document is no longer in force: "This guideline has been superseded by …",
#: "The present document was withdrawn on …", "This guidance is no longer in effect"; or a stamp printed
#: on its own ("SUPERSEDED", "Withdrawn – see …", "Superseded by EMA/CAT/…"). The active voice ("This
#: guideline supersedes / replaces …") is a successor speaking, and does not match.
_SUPERSEDED = re.compile(
    r"\b(?:this|the\s+present)\s+(?:\w+\s+){0,3}?(?:guideline|guidance|document|paper|version|publication|"
    r"note|notice|annex)\s+(?:has\s+been|had\s+been|was|is|is\s+now)\s+(?:(?:hereby|formally|now)\s+)?"
    r"(?:superseded|replaced|withdrawn|archived|revoked|rescinded|obsolete|no\s+longer\s+(?:in\s+(?:effect|force|use)|"
    r"valid|applicable|current))\b"
    r"|^\s*(?:superseded|withdrawn|archived|obsolete|rescinded|revoked|no\s+longer\s+in\s+(?:effect|force))"
    r"(?:\s*$|\s*[-–—:(]|\s+(?:by|on|in|see)\b)",
    re.IGNORECASE,
)
#: What a superseding line names as the successor: a reference, else the words after "by"/"see" up to the
#: end of the clause ("… replaced by the Guideline on potency testing of cell-based products.").
_SUCCESSOR = re.compile(r"\b(?:by|see)\s+(?P<by>[^.;]{3,120}?)\s*(?:[.;]|$)", re.IGNORECASE)
#: Words a guideline title starts with (after an optional "Draft").
_TITLE_START = re.compile(
    r"^\s*(?:draft\s+)?(?:guidelines?|guidance|reflection paper|questions and answers|concept paper|"
    r"note for guidance|points to consider|position paper|recommendations?|"
    # An EU legal act: "REGULATION (EU) 2026/1187 OF THE EUROPEAN PARLIAMENT …", "COMMISSION DIRECTIVE 2009/120/EC"
    rf"{_EU_ACT_TITLE})\b",
    re.IGNORECASE,
)
#: "Guidance for Industry" over or under an FDA title.
_AUDIENCE_LINE = re.compile(
    r"^\s*(?:draft\s+)?guidance for (?:industry|sponsors|applicants|industry and (?:fda )?staff)\s*$", re.IGNORECASE)
#: An issuer's name beside the audience line, not a title.
_ISSUER = re.compile(r"\b(?:authority|administration|agency|department|ministry|cent(?:er|re)|office|committee|"
                     r"commission|institute)\b", re.IGNORECASE)
#: Producer titles that say nothing about the document.
_JUNK_TITLE = re.compile(
    r"^\s*(?:microsoft (?:word|powerpoint)\b|untitled\b|document\d*\s*$)|\.(?:docx?|rtf|pdf|odt)\s*$", re.IGNORECASE)
#: Producer defaults in the author field ("anonymous" is what reportlab writes), not an issuer.
_JUNK_AUTHOR = re.compile(r"^\s*(?:anonymous|unknown|user|admin|administrator|author)\s*$", re.IGNORECASE)
_MAX_TITLE = 250
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
#: A date to the day as covers print it: "18 March 2024", "2024-03-18", "2025/04/02" (Health Canada),
#: "01.02.2023" (Swissmedic), "14/08/2025" (ANVISA; kept as printed, `cite.parse_date` reads it day first).
_DAY_DATE = (rf"\d{{1,2}}\s+{_MONTH}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{4}}/\d{{2}}/\d{{2}}|"
             r"\d{2}\.\d{2}\.\d{4}|\d{1,2}/\d{1,2}/\d{4}")
#: Labels a date follows on a cover or in a header ("Valid from: 01.02.2023", "Effective date: 1 March 2023").
_DATE_LABEL = r"valid\s+from|effective\s+date|date\s+of\s+issue|issue\s+date|in\s+force\s+from|date\s+adopted"
#: A cover line that is a date and nothing else: "18 March 2024", "December 2023", "(May 2021)",
#: "Adopted on 17 November 2022", "Effective date: 1 March 2023", "Date adopted: 2025/04/02", "Valid from:
#: 01.02.2023", "Updated 6 May 2021" (GOV.UK), "London, 30 May 2008" (an old EMEA cover's place and date),
#: "Version 0.3, March 2024" (TGA), "Issued on: 2024-06-05" (NMPA).
#: "Draft agreed by CAT  March 2019" is a row of the adoption table, not the document's date.
_DATE_LINE = re.compile(
    rf"^\(?(?:[A-Z][a-z]+,\s+)?(?:(?:step\s+\d[a-z]?,?|endorsed\s+on|adopted\s+on|dated?:?|issued(?:\s+on)?:?|"
    rf"published(?:\s+on)?:?|released(?:\s+on)?:?|"
    rf"first\s+published:?|(?:last\s+)?updated:?|revised:?|version\s+\d+(?:\.\d+)*,?|"
    rf"(?:{_DATE_LABEL}|date\s+(?:of\s+adoption|issued|of\s+publication)|adoption\s+date):?)\s+)?"
    rf"(?P<date>{_DAY_DATE}|{_MONTH}\s+\d{{1,2}},\s+\d{{4}}|{_MONTH}\s+\d{{4}})\)?$",
    re.IGNORECASE,
)

#: A labelled date inside a longer line: Swissmedic's header "Identification number: ZL… Version 2.0 Valid from:
#: 01.03.2024" (`_DATE_LINE` wants the date alone on its line).
#: German authorities' "Stand: 03/2025", in English "Status: 03/2025": the month of the text's state.
_STATUS_MONTH = r"(?:status|stand|as\s+of)\s*:\s*(?P<month>(?:0[1-9]|1[0-2])/(?:19|20)\d{2})\b"
_LABELLED_DATE = re.compile(rf"\b(?:(?:{_DATE_LABEL})\s*:?\s*(?P<date>{_DAY_DATE})|{_STATUS_MONTH})", re.IGNORECASE)
#: A document code printed alone on the cover or before the page number in a running line: "IA-G0077-2"
#: (HPRA), "IA-G0077-2 3/8".
_CODE_ALONE = re.compile(r"^(?P<code>[A-Z]{1,5}-[A-Z]{0,3}\d{3,6}(?:-\d{1,3})?)(?:\s+\d{1,4}\s*/\s*\d{1,4})?$")
#: The issue of a series a running line cites: "WHO Technical Report Series, No. 1048, 2024" (a WHO annex
#: prints no date of its own; the year of the report it is published in is its date).
_SERIES_ISSUE = re.compile(r"\bSeries,?\s+No\.\s*\d+,\s*(?P<year>(?:19|20)\d{2})\b")


@dataclass(frozen=True)
class FrontMatter:
    """What the front of a PDF states; empty strings where it states nothing."""

    draft: str = ""  # the line that marks the document a draft, as printed
    superseded: str = ""  # the line that says the document is no longer in force, as printed
    successor: str = ""  # what that line names as replacing it ("EMA/CAT/80183/2014"), if anything
    reference: str = ""
    title: str = ""
    date: str = ""  # the cover's date as printed ("18 March 2024")


def _front_lines(pages: Sequence[Page], content_top: bool = False) -> list[str]:
    """The lines of the front: the title pages before the first content page, else the top of page 1.

    `content_top` adds the top of the first content page after title pages (a notice letter can be the
    title page, the guidance's own cover "DRAFT GUIDANCE DOCUMENT" following as content): read for what
    marks a draft, not for references, which an introduction cites from other documents.
    """
    lines: list[str] = []
    for page in pages:
        filled = [line.strip() for line in page.text.split("\n") if line.strip()]
        if page.kind is PageKind.title:
            lines.extend(filled)
            continue
        if not lines or content_top:
            lines.extend(filled[:TOP_LINES])
        break
    return lines


def _reference(lines: Sequence[str]) -> str:
    for line in lines:
        if m := _EU_ACT.match(line):
            return f"{m.group('act').title()} {' '.join(m.group('number').split())}"
    for pattern in (_AGENCY_REFERENCE, _COMMISSION_REFERENCE, _NOTIFICATION):
        for line in lines:
            if m := pattern.search(line):
                return " ".join(m.group(0).split())
    # The cover's code alone on its line ("E6(R2)") first: "… ADDENDUM TO ICH E6(R1): …" names the parent,
    # and a body line "principles of ICH S6(R1) apply" another guideline; a short running line is the document's.
    for line in lines:
        if (m := _ICH_REFERENCE.search(line)) and m.group("alone"):
            return f"ICH {m.group('alone')}"
    for line in lines:
        if (m := _ICH_REFERENCE.search(line)) and len(line.split()) <= 5:
            return f"ICH {m.group('code')}"
    for line in lines:
        if m := _NUMBERED_ACT.search(line):
            return " ".join(m.group(0).split())
    for line in lines:
        if (m := _LABELLED_REFERENCE.search(line)) and any(ch.isdigit() for ch in m.group("ref")):
            return m.group("ref")
    return next((m.group("code") for line in lines if (m := _CODE_ALONE.match(line.strip()))), "")


def _title(lines: Sequence[str]) -> str:
    for i, line in enumerate(lines):
        if _ICH_COVER.match(line):
            # "ICH HARMONISED GUIDELINE" over the title in capitals, then the code ("E6(R3)").
            return " ".join(_title_block(lines, i + 1, 1))
    for i, line in enumerate(lines):
        # A title begins with a capital: "guidance on the evaluation of …" is a wrapped line of prose.
        if not _TITLE_START.match(line) or _AUDIENCE_LINE.match(line) or not line.lstrip()[:1].isupper():
            continue
        if len(line.split()) <= 3:
            # "Questions and answers" / "Guidance document" over the subject.
            subject = _title_block(lines, i + 1, 1, wrapped=True)
            if not subject:
                continue
            joined = " ".join(subject)
            # "Guidance" over "Guidance on the licensing of …" adds nothing.
            return _clean_title(joined if _TITLE_START.match(joined) else f"{line}: {joined}")
        return _clean_title(" ".join(_title_block(lines, i, 1, wrapped=True, head=True)))
    for i, line in enumerate(lines):
        if _AUDIENCE_LINE.match(line):
            # The title is the block of lines above ("Potency Assurance for …" / "Guidance for Industry"),
            # or below when the audience heads the page or an issuer's name is above it.
            above = _title_block(lines, i - 1, -1)
            return " ".join(above) if len(" ".join(above).split()) >= 3 else " ".join(_title_block(lines, i + 1, 1))
    return _leading_title(lines)


def _leading_title(lines: Sequence[str]) -> str:
    """The title-like block the front begins with, under an "Annex 3" label ("WHO considerations on regulatory
    convergence for cell and gene" / "therapy products"), when no line starts like a guideline's title.

    Only lines before the first prose line are read. A block of one or two words is a heading ("Background",
    "Contents"); a block without a joining word ("of", "for", "on" …) is a name ("Health Canada Santé Canada").
    """
    for i, line in enumerate(lines):
        if line.rstrip().endswith(".") or len(line.split()) > 15:
            break  # prose: the front has no title block
        label = detect_heading(line)  # "Annex 3", "Part I" over the title: a label, not the title itself
        if (label is not None and label.kind in ("annex", "part") and not label.title) \
                or NUMBERED_ENTRY.match(line) or not line[:1].isupper():
            continue
        words = " ".join(_title_block(lines, i, 1, wrapped=True)).split()
        if len(words) >= 3 and any(w.lower() in _OPEN_END for w in words):
            return _clean_title(" ".join(words))
    return ""


def _clean_title(title: str) -> str:
    title = re.sub(r"^\s*draft\s+", "", title, flags=re.IGNORECASE).strip()[:_MAX_TITLE]
    return title[:1].upper() + title[1:]


def _title_like(line: str) -> bool:
    """A line that can be part of a title: not an issuer, a date, a status, a version or a reference line."""
    return not (_ISSUER.search(line) or _DRAFT_TITLE_LINE.match(line) or _AUDIENCE_LINE.match(line)
                or line.rstrip().endswith(".") or len(line.split()) > 15 or _ICH_REFERENCE.search(line)
                or _AGENCY_REFERENCE.search(line) or _LABELLED_REFERENCE.search(line)
                or re.search(r"\b(?:19|20)\d{2}\b|\bnonbinding\b|^(?:version|revision|effective|date|document|final"
                             r"\s+version|step\s+\d|keywords)\b", line, re.IGNORECASE))


_OPEN_END = frozenset({"of", "and", "for", "on", "in", "the", "to", "with", "from", "by", "or"})


def _continues(last: str, line: str) -> bool:
    """Whether `line` goes on with a title whose previous line is `last`: in lower case, after a colon or an
    open "of"/"and", in the same capitals, or in Title Case under a long line (a wrap; a sentence below the
    title, "This document has been developed by …", is not in Title Case)."""
    if line[:1].islower() or last.rstrip().endswith(":") or last.split()[-1].lower() in _OPEN_END:
        return True
    if last.isupper() or line.isupper():
        return last.isupper() and line.isupper()
    significant = [w for w in line.split() if len(w) > 3]
    title_case = bool(significant) and sum(w[0].isupper() for w in significant) >= 0.6 * len(significant)
    return title_case and len(last.split()) >= 6


def _title_block(lines: Sequence[str], start: int, step: int, most: int = 3, wrapped: bool = False,
                 head: bool = False) -> list[str]:
    """Up to `most` title-like lines from `start` on (upwards for step -1), in reading order.

    `wrapped`: each line after the first must continue it (`_continues`); `head`: the line at `start`
    begins the title whatever it looks like ("Guideline on …", checked by the caller).
    """
    block: list[str] = []
    for k in range(start, len(lines) if step > 0 else -1, step):
        t = lines[k]
        if len(block) == most:
            break
        checked = bool(block) or not head  # a `head` line begins the title whatever it looks like
        if checked and (not _title_like(t) or (wrapped and block and not _continues(block[-1], t))):
            break
        block.append(t)
    return block if step > 0 else block[::-1]


def read_front_matter(pages: Sequence[Page], furniture: Sequence[str]) -> FrontMatter:
    """Read status, reference and title from a document's running lines and front page (see the module)."""
    front = _front_lines(pages)
    draft = next((line for line in furniture if _DRAFT_WORD.search(line) or _CONSULTATION.search(line)), "")
    if not draft:
        draft = next((line for line in _front_lines(pages, content_top=True)
                      if (_DRAFT_TITLE_LINE.match(line) and len(line.split()) <= 12) or _CONSULTATION.search(line)), "")
    date = next((m.group("date") for line in [*front, *furniture] if (m := _DATE_LINE.match(line))), "") or \
        next((m.group("date") or m.group("month") for line in [*front, *furniture]
              if (m := _LABELLED_DATE.search(line))), "") or \
        next((m.group("year") for line in [*furniture, *front] if (m := _SERIES_ISSUE.search(line))), "")
    lines = [*furniture, *_front_lines(pages, content_top=True)]
    # A sentence wraps: a line going on in lower case ("superseded by …" under "This guideline has been") is
    # read with the line before it; a stamp is printed capitalised ("SUPERSEDED", "Superseded by …").
    superseded = next((text for a, b in zip(["", *lines], lines, strict=False)
                       if _SUPERSEDED.search(text := f"{a} {b}" if a and b[:1].islower() else b)), "")
    return FrontMatter(draft=draft, superseded=superseded, successor=_successor(superseded),
                       reference=_reference([*furniture, *front]), title=_title(front), date=date)


def _successor(line: str) -> str:
    """The reference or name a superseding line gives for the document in force ("" when none)."""
    for pattern in (_AGENCY_REFERENCE, _NOTIFICATION):
        if m := pattern.search(line):
            return " ".join(m.group(0).split())
    if (m := _ICH_REFERENCE.search(line)) and m.group("code"):
        return f"ICH {m.group('code')}"
    if m := _SUCCESSOR.search(line):
        return re.sub(r"^(?:the|a|an)\s+", "", " ".join(m.group("by").split()), flags=re.IGNORECASE)
    return ""


def describe(document: Document, front: FrontMatter) -> Document:
    """An uncatalogued Document completed from its front matter (catalogued ones are returned as they are:
    the catalog is the authority)."""
    if document.catalogued:
        return document
    update: dict[str, object] = {}
    # A withdrawn draft is not in force either: superseded says more than draft.
    if front.superseded:
        update["status"], update["superseded_by"] = Status.superseded, front.successor
    elif front.draft:
        update["status"] = Status.draft
    if said := front.superseded or front.draft:
        update["status_note"] = f'(not in the catalog; the PDF reads "{" ".join(said.split())}")'
    if front.reference:
        update["reference"] = front.reference
    if _JUNK_AUTHOR.match(document.issuer):
        update["issuer"] = ""  # a citation would read "anonymous EMA/CAT/…"
    if front.date:
        update["version"] = front.date  # the cover's date, rather than the file's creation date
    # `corpus.uncatalogued_document` falls back on the file name when the PDF has no title.
    from_file = Path(document.file or "").stem.replace("-", " ").replace("_", " ")
    if front.title and (not document.title.strip() or _JUNK_TITLE.search(document.title)
                        or document.title in (document.file, from_file)):
        update["title"] = front.title
    return document.model_copy(update=update) if update else document
