"""Answer-level judgement of the regulatory set: what the user reads first, not only what was retrieved.

For every question one extractive answer is judged:

- ``first_on_gold``: citation [1] names a gold page of its document (the first thing a user checks);
- ``first_evidence``: the [1] quote contains most of one of the question's evidence quotes
  (`evidence_overlap` ≥ `EVIDENCE_OVERLAP`), i.e. it *is* the answer, not a sentence near it;
- ``units`` and ``words``: how long the answer is;
- abstention on answerable (false) and on unanswerable (out-of-corpus) questions.

Rates are over answered answerable questions unless the name says otherwise; `first_on_gold_all`
counts an abstention on an answerable question as a miss, so it can be compared with the
page-hit@1 of the retrieval under the answer.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from atmp_rag.text.sentences import SUPERSCRIPT_DIGITS

#: Share of an evidence quote's words that the [1] quote must reproduce in order to count.
EVIDENCE_OVERLAP = 0.5

#: Words, not superscripts: "attributes¹" is the word "attributes" and a footnote marker.
_TOKEN = re.compile(rf"[^\W{SUPERSCRIPT_DIGITS}]+")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _TOKEN.findall(text)]


def evidence_overlap(quote: str, evidence: str) -> float:
    """Share of the evidence quote's words found, in order, in `quote` (1.0 when it is contained)."""
    ev = _words(evidence)
    if not ev:
        return 0.0
    q = _words(quote)
    matcher = SequenceMatcher(None, ev, q, autojunk=False)
    return sum(b.size for b in matcher.get_matching_blocks()) / len(ev)


@dataclass
class CitedQuote:
    """One citation of an answer as the judge sees it."""

    doc_id: str
    pages: list[int]
    quote: str


@dataclass
class AnswerJudgement:
    """The judged answer to one question."""

    qid: str
    answerable: bool
    abstained: bool
    citations: list[CitedQuote] = field(default_factory=list)
    gold_pages: dict[str, set[int]] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)

    @property
    def first_on_gold(self) -> bool:
        """Citation [1] lies on a gold page of its document."""
        if not self.citations:
            return False
        first = self.citations[0]
        return bool(self.gold_pages.get(first.doc_id, set()) & set(first.pages))

    @property
    def any_on_gold(self) -> bool:
        """Some citation lies on a gold page."""
        return any(self.gold_pages.get(c.doc_id, set()) & set(c.pages) for c in self.citations)

    @property
    def first_evidence(self) -> float:
        """Best `evidence_overlap` of the [1] quote with any evidence quote."""
        if not self.citations or not self.evidence:
            return 0.0
        return max(evidence_overlap(self.citations[0].quote, ev) for ev in self.evidence)

    @property
    def words(self) -> int:
        """Words quoted in the whole answer."""
        return sum(len(_words(c.quote)) for c in self.citations)


def _rate(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def answer_quality(judged: Sequence[AnswerJudgement]) -> dict[str, float]:
    """Answer metrics over a set of judged answers (see the module docstring)."""
    answerable = [j for j in judged if j.answerable]
    answered = [j for j in answerable if not j.abstained and j.citations]
    unanswerable = [j for j in judged if not j.answerable]
    units = [len(j.citations) for j in answered]
    words = [j.words for j in answered]
    return {
        "answer_first_on_gold": _rate([j.first_on_gold for j in answered]),
        "answer_first_on_gold_all": _rate([j.first_on_gold for j in answerable]),
        "answer_first_evidence": _rate([j.first_evidence >= EVIDENCE_OVERLAP for j in answered]),
        "answer_any_on_gold": _rate([j.any_on_gold for j in answered]),
        "answer_units_median": float(statistics.median(units)) if units else 0.0,
        "answer_units_mean": float(statistics.fmean(units)) if units else 0.0,
        "answer_words_median": float(statistics.median(words)) if words else 0.0,
        "false_abstention": _rate([j.abstained for j in answerable]),
        "ooc_abstention": _rate([j.abstained for j in unanswerable]),
    }
