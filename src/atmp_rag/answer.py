"""Grounded, extractive answers that lead with the answer: ranked quotable units, each a verified citation.

How an answer is made
1. Candidates are the quotable units (`units.py`: sentences, lists with their lead-in, table rows
   with their headers, glossary definitions) held by the top `answer_passages` retrieved passages.
   Units were cut, tokenised and embedded at ingest, so ranking them costs dot products with the
   query vector retrieval already computed and set lookups: no encoding at request time.
2. Each candidate is described by a few signals (`FEATURES`): dense similarity of unit and question,
   IDF-weighted coverage of the question's content terms (both also relative to the best candidate),
   coverage by the unit's section title, the rank and dense score of the passage holding it,
   definitional form for definition questions (a glossary entry of exactly the asked term leads:
   `lead_with_definition`), the unit's kind and length. A logistic model over
   these signals (`UnitScorer`, weights in `data/answer_scorer.json`, fitted on the dev split of the
   regulatory question set by `eval/fit_answer_scorer.py`, recording the settings hash of the index
   it was fitted on) gives each unit the probability that it states the answer.
3. The best unit comes first. Another unit is added only when it clears a floor (absolute and
   relative to the best) and adds something: it must not overlap a chosen unit nor repeat its words
   or meaning. At most `answer_max_units` units; the rendered answer is grouped by document.
4. Abstention: when the evidence (`evidence_score`: mean of the best passage's dense cosine and the
   best unit's term coverage) is below the calibrated threshold (same JSON file, chosen on dev by
   `eval/fit_answer_scorer.py`) the answer abstains and lists the closest passages. A glossary entry of
   exactly the asked term always answers; a definition question whose term no drawn-on passage names
   always abstains (`Answerer._names_asked_term`), as does a question for a fee or a price that no drawn-on
   passage states (`Answerer._states_money`).
5. Every quote (and its context) is re-read from the stored page text at the unit's offsets and
   checked verbatim before it is shown; a unit that fails is never returned.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from atmp_rag.cite import citation_from_passage, page_url, source_label
from atmp_rag.config import Settings
from atmp_rag.embed import Embedder
from atmp_rag.models import Answer, Citation, PageSpan, Passage, QuoteUnit, Status, UnitKind
from atmp_rag.store import IndexStore, definition_keys, term_key
from atmp_rag.text.lexical import QueryTerms, coverage
from atmp_rag.text.sentences import RAISED, split

log = logging.getLogger(__name__)

ABSTAIN_MESSAGE = (
    "The indexed guidelines do not appear to cover this question. "
    "The closest passages are listed as related reading."
)

#: Signals describing how directly a unit answers a question (see the module docstring).
FEATURES = (
    "dense", "dense_rel", "coverage", "coverage_rel", "section_coverage", "passage_rank", "passage_dense",
    "passage_score_rel", "retrieved", "definition_match", "defines_term", "term_exact", "numeric_match", "type_match",
    "rare_hit", "bigrams", "first_in_section", "is_list", "table_for_value", "is_item", "is_definition", "log_words",
    "bm25", "neighbor_coverage", "neighbor_dense", "section_dense", "background_unasked",
)
#: Headings of a document's setting out (its scope, background, purpose): what it covers, not what it requires.
_BACKGROUND_HEADING = re.compile(r"\b(?:scope|background|introduction|purpose|objectives?|foreword|preamble)\b",
                                 re.IGNORECASE)
#: A question about the document itself (which guideline, what it covers or applies to, its purpose), which
#: its setting-out sections answer.
_ASKS_ABOUT_DOCUMENT = re.compile(
    r"\b(?:guidelines?|guidances?|documents?|scope|background|introduction|purpose|objectives?|apply|applies|"
    r"applicable|application|cover|covers|covered|excluded|exempt)\b", re.IGNORECASE)
#: Words after a definition question's term that narrow it to what it is a quantity of ("… for TBA?").
_QUALIFIER = re.compile(r"\s*(?:for|of|in|at|during|under|when|after|before)\s+\S", re.IGNORECASE)
#: Questions asking for a quantity: a unit holding a number is more likely to answer them. "What vector copy
#: number is acceptable …?" and "What is the acceptance criterion for …?" ask for a specification's limit.
NUMERIC_QUESTION = re.compile(
    r"\b(?:how (?:many|much|long|often|old|large|frequently|fast|soon|quickly|high|low)|time ?points?|timelines?|"
    # (not "What approach is acceptable …?", which asks for a way of doing something)
    r"what\s+(?:\S+\s+){0,4}?(?!(?:approach(?:es)?|methods?|strateg(?:y|ies)|designs?|"
    r"justifications?|documentation|evidence|data|rationale|tests?|assays?|models?|ways?|process(?:es)?|procedures?|"
    r"formats?|information)\b)\S+\s+(?:is|are)\s+"
    r"(?:acceptable|allowed|permitted|tolerated)|"
    r"what\s+(?:is|are)\s+the\s+acceptance\s+criteri(?:on|a)|"
    r"lead times?|deadlines?|quantity|quantities|number of|temperatures?|limits?|concentrations?|levels?|"
    r"percentage|amount|duration|periods?|frequency|intervals?|thresholds?|values?|pde|permitted daily exposure|"
    r"storage conditions?|minimum|maximum|at least|ppm|°c|mg|days?|weeks?|months?|years?)\b|%",
    re.IGNORECASE,
)
#: What kind of answer a question wants, and words that a unit giving that kind of answer tends to hold.
ANSWER_TYPES = (
    (re.compile(r"^\s*who\b|\bwho (?:is|should|must|can|has|decides|approves|signs)\b|\bwhose responsibility\b|"
                r"\bresponsible for\b", re.IGNORECASE),
     re.compile(r"\b(?:sponsor|investigator|monitor|irb|iec|committee|board|management|quality unit|manufacturer|"
                r"applicant|holder|responsib\w*|person|personnel|authority|authorities)\b", re.IGNORECASE)),
    (re.compile(r"\bhow (?:often|frequently|soon|quickly|fast)\b|\bwhen (?:should|must|is|are|do|does)\b|\bdeadline\b|"
                r"\bby when\b|\bat what (?:time|times|stage|point)\b|\btime ?points?\b|\btimelines?\b|\blead time\b",
                re.IGNORECASE),
     re.compile(r"\b(?:annual\w*|every|at least|prior to|before|after|within|promptly|immediately|periodic\w*|"
                r"frequen\w*|times?|days?|weeks?|months?|years?|intervals?)\b", re.IGNORECASE)),
    (re.compile(r"\bwhich (?:ich )?(?:guideline|guidance|document)\b|\bwhere (?:is|are|can)\b.*\b(?:described|covered|"
                r"addressed)\b", re.IGNORECASE),
     re.compile(r"\bICH\b|\bQ\d{1,2}[A-Z]?\b|\bE\d{1,2}\b|\bguideline\b|\bguidance\b|\bannex\b", re.IGNORECASE)),
)
_ANAPHOR = re.compile(r"^(?:it|this|these|that|those|they|such|in this case|in such cases|however|therefore|thus|"
                      r"also|furthermore|moreover|in addition|additionally)\b", re.IGNORECASE)
_QUOTED = re.compile(r"['‘\"“]([^'’\"”]{2,60})['’\"”]")
#: Words after an asked term that narrow it rather than belong to it ("… in GCP", "… for biotech products", "… that
#: applies to assays").
#: ("in vitro", "in vivo" are part of a term: "limit of in vitro cell age")
_MODIFIER = (r"(?:in(?!\s+(?:vitro|vivo|situ|silico)\b)|according|under|for|as defined|as used|of\s+(?:an?|the)|"
             r"that|which)")
_TERM_AFTER = re.compile(
    r"\b(?:(?:what|who)\s+(?:counts|qualifies|(?:is|are)\s+(?:considered|regarded))\s+(?:to\s+be\s+|as\s+)?(?:an?\s+|the\s+)?|"
    r"what\s+(?:is|are)\s+(?!meant\b|the\s+(?:meaning|definition)\b)(?:an?\s+|the\s+)?|define\s+(?:an?\s+|the\s+)?|definition\s+of\s+(?:an?\s+|the\s+)?|"
    r"meaning\s+of\s+(?:an?\s+|the\s+)?|meant\s+by\s+(?:an?\s+|the\s+)?|what\s+does\s+(?:an?\s+|the\s+)?)"
    # "potency of a cell therapy product": an article after "of" starts a modifier, not part of the term
    # ("Certificate of Analysis", "Design of Experiments" keep theirs).
    rf"(?P<term>[^?,;]{{2,60}}?)(?:\s+(?:mean|{_MODIFIER})\b|\s*[?,;]|$)",
    re.IGNORECASE,
)
#: "What does the NMPA guideline mean by on-target toxicity?", "What is meant by …": the term follows "by" (not
#: the document, which "what does" would take).
_MEANT_BY = re.compile(
    rf"\bmean[ts]?\s+by\s+(?:an?\s+|the\s+)?(?P<term>[^?,;]{{2,60}}?)(?:\s+{_MODIFIER}\b|\s*[?,;]|$)", re.IGNORECASE)
#: "How is potency defined for biological products?"
_HOW_DEFINED = re.compile(r"\bhow\s+(?:is|are)\s+(?:an?\s+|the\s+)?(?P<term>[^?,;]{2,60}?)\s+defined\b", re.IGNORECASE)
#: "What is a certified copy?", "Define QTPP", "meaning of …", "what is meant by …", "what does X mean",
#: "what counts as / qualifies as / is considered …", "who are considered …".
DEFINITION_QUESTION = re.compile(
    r"^\s*(?:(?:what|who)\s+(?:counts|qualifies|(?:is|are)\s+(?:considered|regarded))\s+(?:to\s+be|as)?\b"
    r"|what\s+(?:is|are)\s+(?:an?\s+|the\s+)?(?:\S+\s+){0,5}?\S+\s*(?:in\s+\S+(?:\s+\S+){0,3}?\s*)?\?*\s*$"
    r"|.*\b(?:define|defined|definition\s+of|meaning\s+of|meant\s+by|what\s+does\s+.{1,60}\s+mean"
    r"|what\s+do\s+.{1,60}\s+mean|stands?\s+for)\b)",
    re.IGNORECASE,
)
DEFAULT_SCORER = "answer_scorer.json"


# --------------------------------------------------------------------------------------------
# the scorer

@dataclass
class UnitScorer:
    """A logistic model over `FEATURES` and the abstention and selection thresholds fitted with it."""

    weights: dict[str, float]
    bias: float
    abstain_threshold: float = 0.0
    add_floor: float = 0.5  # another unit needs at least this probability
    add_ratio: float = 0.6  # … and this share of the best unit's probability
    settings_hash: str = ""
    fitted: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """P(unit states the answer) for a (n, len(FEATURES)) feature matrix."""
        w = np.array([self.weights.get(f, 0.0) for f in FEATURES], dtype=np.float64)
        z = x.astype(np.float64) @ w + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    @classmethod
    def load(cls, path: Path | None = None) -> UnitScorer:
        """The scorer at `path`, or the one shipped with the package."""
        if path is None:
            text = resources.files("atmp_rag.data").joinpath(DEFAULT_SCORER).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text)
        unknown = set(data["weights"]) - set(FEATURES)
        if unknown:
            raise ValueError(f"answer scorer {path or DEFAULT_SCORER} has unknown features: {sorted(unknown)}")
        return cls(weights=data["weights"], bias=float(data["bias"]),
                   abstain_threshold=float(data.get("abstain_threshold", 0.0)),
                   add_floor=float(data.get("add_floor", 0.5)), add_ratio=float(data.get("add_ratio", 0.6)),
                   settings_hash=str(data.get("settings_hash", "")), fitted=dict(data.get("fitted", {})))

    def to_json(self) -> str:
        """The scorer as the JSON `load` reads."""
        return json.dumps({"features": list(FEATURES), "weights": self.weights, "bias": self.bias,
                           "abstain_threshold": self.abstain_threshold, "add_floor": self.add_floor,
                           "add_ratio": self.add_ratio, "settings_hash": self.settings_hash,
                           "fitted": self.fitted}, indent=2)


# --------------------------------------------------------------------------------------------
# candidates

@dataclass
class Candidate:
    """A unit considered for an answer, the best-ranked passage holding it, its signals and probability."""

    row: int
    unit: QuoteUnit
    passage: Passage
    features: dict[str, float]
    score: float = 0.0
    # Coverage of the question's terms by the unit's own words (its feature "coverage" also counts the
    # document's name): what abstention reads.
    own_coverage: float = 0.0


@dataclass
class Assessment:
    """What `Answerer.assess` found: the question's terms, ranked candidates and the evidence to answer."""

    terms: dict[str, float]
    ranked: list[Candidate] = field(default_factory=list)
    evidence: float = 0.0
    top_dense: float = 0.0
    best_coverage: float = 0.0

    @property
    def best(self) -> Candidate | None:
        """The top candidate, if any."""
        return self.ranked[0] if self.ranked else None


def evidence_score(top_dense: float, best_coverage: float) -> float:
    """How well the index covers a question, in [0, 1]: the mean of the best passage's dense cosine and
    the best unit's coverage of the question's IDF-weighted content terms.

    Both grow with evidence and neither alone suffices: paraphrased questions have low lexical
    coverage but a close passage; out-of-corpus questions that share vocabulary have a plausible
    passage but leave their rare, specific terms uncovered. (The best unit's probability ranks units
    within a question well but separates answerable from unanswerable questions worse: measured on
    dev by eval/fit_answer_scorer.py.)
    """
    return 0.5 * max(0.0, top_dense) + 0.5 * best_coverage


def asked_part(question: str) -> str | None:
    """The sentences of a question that ask ("… ? "), when others state the asker's situation ("Our cell product
    only keeps for a couple of days, so it has to be given before the sterility test is finished. What can we
    base lot release on?"); None for a question of one sentence or of questions only.

    The situation's words (how long the product keeps, who the asker is) need not appear in the text that
    answers: abstention also reads how well the asked part is covered (see `Answerer.candidates`).
    """
    spans = split(question)
    asked = [question[a:b] for a, b in spans if question[a:b].rstrip().endswith("?")]
    return " ".join(asked) if asked and len(asked) < len(spans) else None


#: A question whose asking clause follows a condition ("If the excipients and API each comply with solvent limits,
#: do we still have to test the finished product?"): the clause after the comma must itself ask (an
#: interrogative or an auxiliary opens it), so "When should …" and lists of conditions are left whole.
_CONDITION_THEN_ASK = re.compile(
    r"^\s*(?:even\s+if|if|once|given\s+that|assuming(?:\s+that)?|suppose|supposing|although|though|since|because|"
    r"provided\s+that|as\s+long\s+as|when|whenever|after|before|while|where)\b[^?]*?,\s*"
    r"(?P<ask>(?:and\s+|then\s+|so\s+)?(?:do|does|did|is|are|was|were|can|could|should|must|may|might|will|would|"
    r"shall|has|have|what|which|how|who|whom|whose|when|where|why)\b[^,?]*\?)\s*$",
    re.IGNORECASE,
)


def asking_clauses(question: str) -> str:
    """What says which kind of answer is wanted: the asking sentences of a question that states a situation
    first (`asked_part`), the main clause of one that opens with a condition ("If …, do we …?"), else the
    whole question.

    The situation's and the condition's words describe the asker's case, not the answer: "… comply with
    solvent limits, do we still have to test …?" asks whether, not for a limit.
    """
    asked = asked_part(question)
    if asked is not None:
        return asked
    m = _CONDITION_THEN_ASK.match(question)
    return m.group("ask") if m else question


def is_definition_question(question: str) -> bool:
    """Whether the question asks what a term means."""
    return bool(DEFINITION_QUESTION.match(question.strip()))


#: A question for a fee or a price ("What fee does EMA charge for …?", "How much does it cost to …?"), not one on
#: payments in a trial ("Can payments to participants be made only if …?") or on a molecule's charge.
MONEY_QUESTION = re.compile(
    r"\b(?:fees?|prices?|pricing|tariffs?)\b|\bhow much\b[^?]*\b(?:cost|costs|charge|charges|charged|pay|paid)\b|"
    r"\bwhat\s+(?:does|do|will|would)\b[^?]*\bcost\b", re.IGNORECASE)
#: Text that states a fee or a price: the word, a currency sign or code.
_MONEY = re.compile(r"\b(?:fees?|prices?|tariffs?|charged|EUR|USD|GBP|CHF|JPY|euros?|dollars?)\b|[€$£¥]",
                    re.IGNORECASE)


def asks_for_money(question: str) -> bool:
    """Whether the asking part of a question wants a fee or a price."""
    return MONEY_QUESTION.search(asking_clauses(question)) is not None


#: A question that says it wants a definition, whatever quantity its term names ("How does the paper define the
#: detection limit …?", "What is the definition of permitted daily exposure?").
_ASKS_TO_DEFINE = re.compile(r"\bhow\s+(?:does|do|did)\s+.{1,60}?\bdefine\b|\bhow\s+(?:is|are)\s+.{1,60}?\bdefined\b|"
                             r"\bdefinition\s+of\b|\bmeaning\s+of\b|\bmeant\s+by\b", re.IGNORECASE)


def asks_for_term(question: str) -> bool:
    """Whether a definition-form question asks what its term means, not for a quantity named by it: "What is
    the re-test period?" asks for the definition; "What is the permitted daily exposure for TBA?" and "What
    is the maximum shelf life …?" ask for a value (a quantity word outside the term, or the term narrowed
    by "for", "of", "in" … to something it is a quantity of), unless the question says it wants a definition
    ("How does the paper define the detection limit for …?")."""
    if not is_definition_question(question):
        return False
    if not NUMERIC_QUESTION.search(question) or _ASKS_TO_DEFINE.search(question):
        return True
    term = asked_term(question)
    at = question.lower().find(term.lower()) if term else -1
    if at < 0:
        return False
    rest = question[at + len(term):]
    return not NUMERIC_QUESTION.search(question[:at] + " " + rest) and not _QUALIFIER.match(rest)


def asked_term(question: str) -> str:
    """The term a definition question asks about: a quoted phrase, the words after "what is", "define"…, or
    those between "how is" and "defined"."""
    quoted = _QUOTED.search(question)
    if quoted:
        return quoted.group(1)
    m = _term_match(question)
    return m.group("term").strip().rstrip(".!") if m else ""


def _term_match(question: str) -> re.Match[str] | None:
    return _HOW_DEFINED.search(question) or _MEANT_BY.search(question) or _TERM_AFTER.search(question)


def _full_term(question: str) -> str:
    """The asked term with the words after it that `asked_term` cuts as a modifier ("batch of an autologous
    product" for "… define a batch of an autologous product?"), up to the question's end or first comma; ""
    when nothing was cut from it (a quoted term, "how is X defined")."""
    m = None if _QUOTED.search(question) else _term_match(question)
    if m is None or m.re is _HOW_DEFINED:
        return ""
    rest = re.split(r"[?,;]", question[m.start("term"):], maxsplit=1)[0]
    return " ".join(rest.split()).rstrip(".!")


def lead_with_definition(question: str, ranked: list[Candidate]) -> list[Candidate]:
    """For a definition question, the best glossary entry of exactly the asked term comes first (without
    one, a sentence that opens by defining exactly that term).

    "How is 'risk' defined …" is answered by the entry "Risk:", not by a sentence that uses the word,
    however well the scorer rates that sentence. On the dev split, every question with such an entry
    among its candidates had it on a gold page (7 of 7), while the scorer alone led with it 6 times.
    Questions for a quantity ("What is the permitted daily exposure for TBA?") want a value, not the
    term's definition, and are left to the scorer.
    """
    if not asks_for_term(question):
        return ranked
    full = _full_term(question)
    if full and full.lower() != asked_term(question).lower() and (phrase := _defining_opening(full, r"\b")):
        # "How does the guidance define a batch of an autologous product?": a sentence defining the whole
        # phrase ("… a batch of an autologous product is the quantity …") answers it, not the glossary entry
        # "Batch" of the term that the modifier "of an …" was cut from.
        specific = next((c for c in ranked if phrase.search(c.unit.text)), None)
        if specific is not None:
            return [specific] + [c for c in ranked if c is not specific]
    exact = next((c for c in ranked if c.features.get("term_exact")), None)
    if exact is None and (opening := _defining_opening(asked_term(question))) is not None:
        # No glossary entry: a sentence that opens by defining exactly the asked term ("Potency is the
        # quantitative measure of …", "Centralized monitoring is a remote evaluation …") is the definition.
        exact = next((c for c in ranked if c.unit.kind is not UnitKind.definition and opening.match(c.unit.text)),
                     None)
    if exact is None and (named := _naming_definition(asked_term(question))) is not None:
        # … or one that names the term as a word and says what it means ("Under 21 CFR 600.3(s), the word
        # potency is interpreted to mean …"), rather than the glossary entry of a longer term that contains it
        # ("Surrogate potency assay: …").
        exact = next((c for c in ranked if c.unit.kind is not UnitKind.definition and named.search(c.unit.text)),
                     None)
    if exact is None or exact is ranked[0]:
        return ranked
    return [exact] + [c for c in ranked if c is not exact]


def _bigrams(tokens: Sequence[str]) -> frozenset[tuple[str, str]]:
    return frozenset(itertools.pairwise(tokens))


@dataclass
class _DocFeatures:
    """Lexical features of one document's units (position i is unit row `lo + i`), computed once per
    document and kept in a bounded cache."""

    lo: int
    tokens: list[frozenset[str]]
    token_lists: list[list[str]]
    section_tokens: list[frozenset[str]]
    context_tokens: list[frozenset[str]]
    term_keys: list[frozenset[str]]  # of a glossary definition: the keys of the names its term goes by
    doc_tokens: frozenset[str]  # the document's issuer, reference and title: how a question names it
    bigram_sets: list[frozenset[tuple[str, str]]]
    has_digit: list[bool]
    first_in_section: list[bool]
    neighbors: list[list[int]]  # unit rows
    background: list[bool]  # under a heading of the document's scope, background or purpose
    section_of: list[int]  # index into `centroids`
    centroids: np.ndarray  # normalised mean vector of each section's units


class Answerer:
    """Composes extractive answers from the quotable units of one index."""

    def __init__(self, store: IndexStore, settings: Settings, embedder: Embedder | None = None,
                 scorer: UnitScorer | None = None) -> None:
        self.store = store
        self.settings = settings
        self.embedder = embedder
        self.scorer = scorer or UnitScorer.load(settings.answer.scorer)
        self.tokenizer = store.tokenizer
        self.terms = QueryTerms(self.tokenizer, store.idf)
        self._avg_len: float | None = None
        # Per-document lexical features of the units, bounded: RSS does not grow with the number of documents.
        self._doc_features = lru_cache(maxsize=max(1, settings.answer.doc_cache))(self._features_of)
        self._lock = threading.Lock()
        if self.scorer.settings_hash and self.scorer.settings_hash != store.settings_hash:
            log.warning("the answer scorer was fitted on an index with settings %s; this index has %s "
                        "(refit with eval/fit_answer_scorer.py)", self.scorer.settings_hash, store.settings_hash)

    @property
    def abstain_threshold(self) -> float:
        """Below this evidence the answer abstains (the scorer's own, unless the settings override it)."""
        t = self.settings.answer.abstain_threshold
        return self.scorer.abstain_threshold if t is None else t

    @property
    def calibrated(self) -> bool:
        """Whether the scorer (and its abstention threshold) was fitted on an index with these settings."""
        return not self.scorer.settings_hash or self.scorer.settings_hash == self.store.settings_hash

    # ------------------------------------------------------------ lexical statistics
    def idf(self, token: str) -> float:
        """IDF of a stemmed token over the index's chunks."""
        return self.store.idf(token)

    def query_terms(self, text: str) -> dict[str, float]:
        """Stemmed content terms of `text` with their IDF weights."""
        return self.terms(text)

    def warm(self) -> None:
        """Tokenise the units of every document once (the first request would otherwise), up to the
        per-document cache; with an in-memory unit search, also read the unit vectors once."""
        self._average_length()
        self.store.warm_units()
        for doc_id in sorted(self.store.chunk_counts())[: self.settings.answer.doc_cache]:
            rows = self.store.unit_rows(doc_id)
            if rows:
                self._doc_features(rows.start)

    def _average_length(self) -> float:
        """Mean token count of a unit with its context over the whole index (BM25's length norm)."""
        if self._avg_len is None:
            stored = self.store.manifest.get("unit_avg_tokens")
            if stored is None:  # an index built before issue 11: count once
                lengths = [len(t) for t in self.tokenizer([f"{u.context}\n{u.text}" for u in self.store.units])]
                stored = sum(lengths) / max(1, len(lengths))
            self._avg_len = float(stored)
        return self._avg_len

    def _features_of(self, lo: int) -> _DocFeatures:
        """Tokens, neighbours, sections and section centroids of the units of the document starting at row `lo`."""
        doc_id, rows = self.store.unit_document(lo)
        units = [u for _, u in self.store.units.where("doc_id", doc_id)]
        text = self.tokenizer([f"{u.context}\n{u.text}" for u in units])
        sections_text = self.tokenizer([u.section_path[-1] if u.section_path else "" for u in units])
        contexts = self.tokenizer([u.context for u in units])
        section_ids: dict[tuple[str, ...], int] = {}
        section_of = [section_ids.setdefault(tuple(u.section_path), len(section_ids)) for u in units]
        vectors = np.asarray(self.store.unit_vectors()[rows.start:rows.stop], dtype=np.float32)
        sums = np.zeros((len(section_ids), vectors.shape[1] if vectors.ndim == 2 else 1), dtype=np.float32)
        np.add.at(sums, np.asarray(section_of, dtype=np.int64), vectors)
        centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
        return _DocFeatures(
            lo=rows.start,
            tokens=[frozenset(t) for t in text],
            token_lists=[list(t) for t in text],
            section_tokens=[frozenset(t) for t in sections_text],
            context_tokens=[frozenset(t) for t in contexts],
            doc_tokens=frozenset(self.tokenizer.one(" ".join((doc.issuer, doc.reference, doc.title))))
            if (doc := self.store.documents.get(doc_id)) is not None else frozenset(),
            term_keys=[frozenset(k) for k in definition_keys(
                [u.context if u.kind is UnitKind.definition else "" for u in units], self.tokenizer)],
            bigram_sets=[_bigrams(t) for t in text],
            has_digit=[any(c.isdigit() for c in u.text) for u in units],
            first_in_section=[i == 0 or units[i - 1].section_path != u.section_path for i, u in enumerate(units)],
            # Neighbours: the units just before and after in the same section (the paragraph around).
            neighbors=[[rows.start + j for j in (i - 1, i + 1)
                        if 0 <= j < len(units) and units[j].section_path == u.section_path]
                       for i, u in enumerate(units)],
            background=[any(_BACKGROUND_HEADING.search(h) for h in u.section_path) for u in units],
            section_of=section_of,
            centroids=centroids,
        )

    def _features(self, row: int) -> tuple[_DocFeatures, int]:
        """The features of the document holding unit `row`, and the unit's position in it."""
        lo = self.store.unit_document(row)[1].start
        f = self._doc_features(lo)
        return f, row - f.lo

    def _definitions(self, term: Sequence[str]) -> list[int]:
        """Rows of the glossary definitions whose term (context) has exactly these tokens."""
        return self.store.definition_rows(frozenset(term), self.tokenizer)

    def _bm25(self, terms: dict[str, float], row: int, k1: float = 1.2, b: float = 0.75) -> float:
        """BM25 of a unit for the question's terms (IDF of the index's chunks, the unit's own length)."""
        f, i = self._features(row)
        tokens = f.token_lists[i]
        if not tokens:
            return 0.0
        counts: dict[str, int] = {}
        for t in tokens:
            if t in terms:
                counts[t] = counts.get(t, 0) + 1
        norm = k1 * (1 - b + b * len(tokens) / max(self._average_length(), 1e-9))
        return sum(terms[t] * c * (k1 + 1) / (c + norm) for t, c in counts.items())

    def unit_tokens(self, row: int) -> frozenset[str]:
        """Stemmed tokens of a unit with its context."""
        f, i = self._features(row)
        return f.tokens[i]

    # ------------------------------------------------------------ candidates and scoring
    def passage_units(self, passage: Passage) -> list[int]:
        """Rows of the units a passage holds, in reading order."""
        return sorted(self.store.units_of_chunk.get(passage.chunk.chunk_id, []))

    def _query_vector(self, question: str, query_vector: np.ndarray | None) -> np.ndarray | None:
        if query_vector is not None:
            return query_vector
        if self.embedder is None:
            return None
        return self.embedder.encode_queries([question])[0]

    def candidates(self, question: str, passages: Sequence[Passage], query_vector: np.ndarray | None = None,
                   allowed_docs: frozenset[str] | None = None) -> tuple[dict[str, float], list[Candidate]]:
        """The units of the top passages, plus the units closest to the question anywhere in the index
        (`answer_unit_candidates` by dense similarity, and glossary entries of the term a definition
        question asks about), each with its signals (probabilities not yet set).

        Units found outside the retrieved passages are how an answer can lead with a sentence whose
        passage ranked below `answer_passages`; `allowed_docs` keeps them within the search filters.
        """
        terms = self.query_terms(question)
        top = list(passages[: self.settings.answer.passages])
        holder: dict[int, Passage] = {}
        for p in top:
            for row in self.passage_units(p):
                if row not in holder or p.rank < holder[row].rank:
                    holder[row] = p
        qvec = self._query_vector(question, query_vector)
        vectors = self.store.unit_vectors()
        # A question for a quantity ("What is the permitted daily exposure for TBA?") wants a value, not the
        # entry "Permitted daily exposure (PDE): The maximum …" that its words name.
        definitional = asks_for_term(question)
        term = self.tokenizer.one(asked_term(question)) if definitional else []
        extra: list[int] = []
        if qvec is not None and len(self.store.units) and self.settings.answer.unit_candidates > 0:
            for row in self.store.closest_units(qvec, self.settings.answer.unit_candidates * 4)[0].tolist():
                if len(extra) >= self.settings.answer.unit_candidates:
                    break
                if row not in holder and (allowed_docs is None or self.store.units[row].doc_id in allowed_docs):
                    extra.append(row)
        if term:
            extra.extend(r for r in self._definitions(term)
                         if r not in holder and r not in extra
                         and (allowed_docs is None or self.store.units[r].doc_id in allowed_docs))
        for row in extra:
            chunk_id = self.store.units[row].chunk_ids[0]
            p = self.store.passage(chunk_id)
            if p is not None:
                holder[row] = p.model_copy(update={"rank": 0})  # rank 0: not among the retrieved passages
        if not holder:
            return terms, []
        rows = sorted(holder)
        dense = (np.asarray(vectors[rows], dtype=np.float32) @ qvec).astype(float) if qvec is not None \
            else np.zeros(len(rows))
        chunk_vectors = self.store.vectors()
        feats = {r: self._features(r) for r in rows}
        # A question may name the document ("… according to the CAT reflection paper?", "Does the Singapore
        # release testing guidance cover …?"): those words are covered by the citation, not by the unit.
        covers = [coverage(terms, feats[r][0].tokens[feats[r][1]] | feats[r][0].doc_tokens) for r in rows]
        # Abstention reads the unit's own words for the question's terms other than those naming its document:
        # naming a document of the corpus says nothing of whether it answers ("What fee does the
        # Paul-Ehrlich-Institut charge …?"), nor does a unit fail to answer for not repeating its name.
        def own_coverage(wanted: dict[str, float]) -> list[float]:
            unnamed = {f.lo: {t: w for t, w in wanted.items() if t not in f.doc_tokens} or wanted
                       for f, _ in feats.values()}
            return [coverage(unnamed[feats[r][0].lo], feats[r][0].tokens[feats[r][1]]) for r in rows]

        own = own_coverage(terms)
        asked = asked_part(question)
        if asked is not None and (asked_terms := self.query_terms(asked)):
            covers = [max(c, coverage(asked_terms, feats[r][0].tokens[feats[r][1]] | feats[r][0].doc_tokens))
                      for c, r in zip(covers, rows, strict=True)]
            # A question after a statement of the asker's situation: a unit that covers what is asked covers
            # the question (the situation's words dragged scenario questions below the abstention threshold).
            own = [max(o, a) for o, a in zip(own, own_coverage(asked_terms), strict=True)]
        total_idf = sum(terms.values()) or 1.0
        # Dense similarity of every neighbour in one product, and each section's, instead of per candidate.
        neighbors = {r: f.neighbors[i] for r, (f, i) in feats.items()}
        around = sorted({j for r in rows for j in neighbors[r]})
        around_dense = dict(zip(around, (np.asarray(vectors[around], dtype=np.float32) @ qvec).tolist(), strict=True)) \
            if qvec is not None and around else {}
        section_key = {r: (f.lo, f.section_of[i]) for r, (f, i) in feats.items()}
        sections = sorted(set(section_key.values()))
        centroid_rows = [self._doc_features(lo).centroids[k] for lo, k in sections]
        section_dense = dict(zip(sections, (np.asarray(centroid_rows, dtype=np.float32) @ qvec).tolist(),
                                 strict=True)) if qvec is not None and sections else {}
        best_dense, best_cover = float(max(dense)), max(covers)
        term_pattern = _defines_pattern(asked_term(question)) if definitional else None
        # What kind of answer is wanted is said by the asking sentences: "the cells have to be infused before
        # the 14-day sterility culture is finished. If that culture later comes back positive, what are we
        # expected to do and how fast?" asks for an action and a deadline, not for the 14 days. (Only the kind:
        # ranking coverage by the clause after a condition as well moved no dev answer, so the simpler rule stays.)
        asking = asking_clauses(question)
        # ("How does the paper define the detection limit …?" asks what the term means, not for a limit)
        numeric = bool(NUMERIC_QUESTION.search(asking)) and not definitional
        wanted = [unit_re for q_re, unit_re in ANSWER_TYPES if q_re.search(asking)]
        about_document = _ASKS_ABOUT_DOCUMENT.search(asking) is not None
        rarest = max(terms.values(), default=0.0) or 1.0
        q_bigrams = _bigrams([t for t in self.tokenizer.one(question) if t in terms])
        top_score = max((p.score for p in top), default=0.0) or 1.0
        out = []
        for i, row in enumerate(rows):
            unit, p = self.store.units[row], holder[row]
            f, u = feats[row]
            kind = unit.kind
            term_cover = coverage(terms, f.context_tokens[u]) if kind is UnitKind.definition else 0.0
            by_term = kind is UnitKind.definition and bool(term) and set(term) <= f.context_tokens[u]
            by_phrase = term_pattern is not None and term_pattern.search(unit.text) is not None
            defines = float(by_term or by_phrase)
            # The entry of exactly the asked term ("Risk:", "Case Report Form (CRF)" for "CRF"), not one that
            # merely contains it ("Risk Assessment:").
            exact = kind is UnitKind.definition and bool(term) and term_key(term) in f.term_keys[u]
            features = {
                "dense": float(dense[i]),
                "dense_rel": float(dense[i]) - best_dense,
                "coverage": covers[i],
                "coverage_rel": covers[i] - best_cover,
                "section_coverage": coverage(terms, f.section_tokens[u]),
                "passage_rank": 1.0 / p.rank if p.rank else 0.0,
                "passage_dense": float(p.dense_score) if p.dense_score is not None else (
                    float(np.dot(chunk_vectors[self.store.row_of[p.chunk.chunk_id]], qvec)) if qvec is not None
                    else 0.0),
                "passage_score_rel": float(p.score) / top_score if p.rank else 0.0,
                "retrieved": float(p.rank > 0),
                "definition_match": term_cover if definitional else 0.0,
                "defines_term": defines,
                "term_exact": float(exact),
                "numeric_match": float(numeric and f.has_digit[u]),
                "type_match": float(any(r.search(unit.text) for r in wanted)),
                "rare_hit": max((w for t, w in terms.items() if t in f.tokens[u]), default=0.0) / rarest,
                "bigrams": len(q_bigrams & f.bigram_sets[u]) / len(q_bigrams) if q_bigrams else 0.0,
                "first_in_section": float(f.first_in_section[u]),
                "is_list": float(kind is UnitKind.list),
                # A table answers a question for a value (a limit, a condition, a duration); for other
                # questions a table that shares their words is a poor lead (measured on dev: no loss there).
                "table_for_value": float(numeric and kind in (UnitKind.table, UnitKind.row)),
                "is_item": float(kind is UnitKind.item),
                "is_definition": float(kind is UnitKind.definition),
                "log_words": math.log1p(len(unit.text.split())),
                # BM25 normalised by the question's total IDF, so questions of any length compare.
                "bm25": self._bm25(terms, row) / total_idf,
                "neighbor_coverage": max((coverage(terms, self.unit_tokens(j)) for j in neighbors[row]), default=0.0),
                "neighbor_dense": max((around_dense.get(j, 0.0) for j in neighbors[row]), default=0.0),
                "section_dense": section_dense.get(section_key[row], 0.0),
                # A scope section's list of the materials or products a guidance covers shares a question's
                # nouns ("… irradiated murine embryonic fibroblasts") without saying what is required of them.
                "background_unasked": float(f.background[u] and not about_document),
            }
            out.append(Candidate(row, unit, p, features, own_coverage=own[i]))
        return terms, out

    def assess(self, question: str, passages: Sequence[Passage], query_vector: np.ndarray | None = None,
               allowed_docs: frozenset[str] | None = None) -> Assessment:
        """Rank the candidate units by the scorer's probability; `evidence_score` says whether to answer."""
        if query_vector is None and passages:
            query_vector = self._query_vector(question, None)  # bm25 retrieval: encode the question once here
        terms, cands = self.candidates(question, passages, query_vector, allowed_docs)
        if not cands:
            return Assessment(terms)
        x = np.array([[c.features[f] for f in FEATURES] for c in cands], dtype=np.float64)
        for c, prob in zip(cands, self.scorer.probabilities(x).tolist(), strict=True):
            c.score = float(prob)
        ranked = sorted(cands, key=lambda c: (-c.score, c.unit.doc_id, c.unit.ordinal))
        ranked = lead_with_definition(question, ranked)
        top_dense = self._top_dense(passages, query_vector, question)
        # Abstention looks at the retrieved passages only, as it was calibrated: units pulled in from
        # elsewhere are chosen for being close to the question and would flatter out-of-corpus questions.
        # (`own_coverage`: the document's name counts neither way, see `candidates`)
        best_coverage = max([c.own_coverage for c in cands if c.features["retrieved"]], default=0.0)
        evidence = evidence_score(top_dense, best_coverage)
        if any(c.features["term_exact"] for c in cands):
            # The one exception is a glossary entry of exactly the asked term: the corpus defines what was
            # asked, however far the retrieved passages drifted ("What is homologous use?" retrieving Q9's
            # "use of materials") and however few of the question's words the definition repeats
            # ("Shedding: the dissemination of the vector …" for "What is the definition of shedding?").
            evidence = 1.0
        elif not self._names_asked_term(question, passages) or not self._states_money(question, passages):
            evidence = 0.0
        return Assessment(terms, ranked, evidence, top_dense, best_coverage)

    def _states_money(self, question: str, passages: Sequence[Passage]) -> bool:
        """False for a question for a fee or a price (`asks_for_money`) when no passage the answer draws on
        states one (the word "fee", a price, a currency): guidelines say what an application must hold, not what
        it costs, and a question that names an application, a meeting or a procedure shares every other word
        with them. Each of five held-out probe documents had a fee question among its out-of-corpus ones, and
        two had been answered ("What fee does the Authority charge for a pre-submission scientific advice
        meeting?" with when to request the meeting)."""
        return not asks_for_money(question) or any(
            _MONEY.search(p.chunk.text) for p in passages[: self.settings.answer.passages])

    def _names_asked_term(self, question: str, passages: Sequence[Passage]) -> bool:
        """False for a definition question whose term no passage the answer draws on names (every content
        word of the term, stemmed, in one passage): the corpus cannot define what it never mentions.

        Near-domain questions ("What is meant by an environmental risk assessment for a clinical trial with a
        GMO?", "… a combined ATMP?") otherwise score like paraphrases and were answered with a sentence that
        shares their other words. On the regulatory question set and four held-out probes, every answerable
        definition question (32) had its term in a passage, and none of the out-of-corpus ones (3). A
        passage, not a unit: "the assay should be qualified, which means …" defines a "qualified potency
        assay" in a passage about potency assays.
        """
        if not asks_for_term(question):
            return True
        # "quality target product profile (QTPP)": the text may spell out only one of the two
        wanted = set(self.terms(re.sub(r"\([^)]*\)", " ", asked_term(question))))
        # (the passages' plain tokens: `wanted` holds no question words, and their IDF is not needed)
        return not wanted or any(wanted <= set(self.tokenizer.one(p.chunk.text))
                                 for p in passages[: self.settings.answer.passages])

    def _top_dense(self, passages: Sequence[Passage], query_vector: np.ndarray | None, question: str) -> float:
        """Best dense cosine of the top passages (encodes the question only when retrieval did not)."""
        top = list(passages[: self.settings.answer.passages])
        scores = [p.dense_score for p in top if p.dense_score is not None]
        if scores:
            return float(max(scores))
        qvec = self._query_vector(question, query_vector)
        if qvec is None or not top:
            return 0.0
        vectors = self.store.vectors()
        return float(max(float(np.dot(vectors[self.store.row_of[p.chunk.chunk_id]], qvec)) for p in top))

    # ------------------------------------------------------------ composing
    def answer(self, question: str, passages: Sequence[Passage], query_vector: np.ndarray | None = None,
               allowed_docs: frozenset[str] | None = None) -> Answer:
        """An extractive answer of verified quotes, or an abstention with related reading.

        `allowed_docs`: the documents the search filters allow (None: all).
        """
        assessment = self.assess(question, passages, query_vector, allowed_docs)
        if not passages or assessment.best is None or assessment.evidence < self.abstain_threshold:
            return self.abstain(question, passages)
        chosen = self.select(assessment)
        citations = self.cite(chosen)
        if not citations:
            return self.abstain(question, passages).model_copy(update={"dropped_quotes": len(chosen)})
        return Answer(
            question=question,
            answer=compose(citations),
            abstained=False,
            citations=citations,
            related=list(passages[: self.settings.answer.passages]),
            mode="extractive",
            warnings=_warnings(citations),
            dropped_quotes=len(chosen) - len(citations),
        )

    def abstain(self, question: str, passages: Sequence[Passage]) -> Answer:
        """The abstention answer: no claims, the closest passages as related reading."""
        return Answer(question=question, answer="", abstained=True, citations=[],
                      related=list(passages[: self.settings.answer.passages]), mode="extractive",
                      message=ABSTAIN_MESSAGE)

    def select(self, assessment: Assessment) -> list[Candidate]:
        """The best unit, then units that clear the floor and add something new (at most `answer_max_units`)."""
        if not assessment.ranked:
            return []
        best = self._extend(assessment.ranked[0], assessment)
        chosen = [best]
        floor = max(self.scorer.add_floor, self.scorer.add_ratio * best.score)
        vectors = self.store.unit_vectors()
        for cand in assessment.ranked[1:]:
            if len(chosen) >= self.settings.answer.max_units or cand.score < floor:
                break
            if any(self._redundant(cand, c, vectors) for c in chosen):
                continue
            chosen.append(cand)
        return chosen

    def _extend(self, best: Candidate, assessment: Assessment, max_words: int = 90) -> Candidate:
        """The best sentence joined with the adjacent sentences of its paragraph that complete it.

        A neighbour is taken when the quote would otherwise start or stop mid-thought (the first sentence
        leans back, "In this case, …", "These parameters …"; the next one continues, "It should include…",
        "However, …") or when the scorer rates it at least half as likely to answer. Growing stops at
        `max_words`, at a section's end, and at anything but a sentence; a sentence running over a page
        break joins like any other. The quote stays one verbatim range of the text, so it reads on its own.
        """
        if best.unit.kind is not UnitKind.sentence:
            return best
        units = self.store.units
        prob = {c.row: c.score for c in assessment.ranked}

        def wanted(row: int) -> bool:
            return prob.get(row, 0.0) >= 0.5 * best.score

        lo = hi = best.row
        words = len(best.unit.text.split())
        while lo > 0 and self._adjacent(units[lo - 1], units[lo]) and (
                _ANAPHOR.match(units[lo].text) or wanted(lo - 1)):
            if words + len(units[lo - 1].text.split()) > max_words:
                break
            lo -= 1
            words += len(units[lo].text.split())
        while hi + 1 < len(units) and self._adjacent(units[hi], units[hi + 1]) and (
                _ANAPHOR.match(units[hi + 1].text) or wanted(hi + 1)):
            if words + len(units[hi + 1].text.split()) > max_words:
                break
            hi += 1
            words += len(units[hi].text.split())
        if lo == hi:
            return best
        spans: list[PageSpan] = []
        for row in range(lo, hi + 1):
            for s in units[row].spans:
                if spans and spans[-1].page == s.page:
                    spans[-1] = PageSpan(page=s.page, start=spans[-1].start, end=s.end)
                else:
                    spans.append(s)
        text = _span_text(self.store, best.unit.doc_id, spans)
        if text is None:
            return best
        first, last = units[lo], units[hi]
        merged = best.unit.model_copy(update={
            "text": text, "spans": spans, "unit_id": f"{first.unit_id}+{last.ordinal - first.ordinal}"})
        return replace(best, unit=merged)

    def _adjacent(self, a: QuoteUnit, b: QuoteUnit) -> bool:
        """`b` is the sentence right after sentence `a` in the same section, on the same page or across a
        page break (`a` ends its page, `b` starts the next)."""
        if not (a.doc_id == b.doc_id and a.kind is b.kind is UnitKind.sentence
                and a.section_path == b.section_path):
            return False
        end, start = a.spans[-1], b.spans[0]
        if end.page == start.page:
            return 0 <= start.start - end.end <= 2
        if start.page != end.page + 1 or start.start > 2:
            return False
        page = self.store.page(a.doc_id, end.page)
        return page is not None and len(page.text) - end.end <= 2

    def _redundant(self, a: Candidate, b: Candidate, vectors: np.ndarray) -> bool:
        """Overlapping text, most words shared, or nearly the same meaning."""
        if a.unit.doc_id == b.unit.doc_id and _overlaps(a.unit.spans, b.unit.spans):
            return True
        ta, tb = self.unit_tokens(a.row), self.unit_tokens(b.row)
        union = ta | tb
        if union and len(ta & tb) / len(union) > 0.6:
            return True
        return float(np.dot(vectors[a.row], vectors[b.row])) > 0.92

    def cite(self, chosen: Sequence[Candidate]) -> list[Citation]:
        """Verified citations, grouped by document (documents in order of their best unit), best unit first."""
        order = {c.unit.doc_id: i for i, c in reversed(list(enumerate(chosen)))}
        grouped = sorted(enumerate(chosen), key=lambda ic: (order[ic[1].unit.doc_id], ic[0]))
        citations: list[Citation] = []
        for _, c in grouped:
            citation = self.citation(c.unit, c.passage, len(citations) + 1)
            if citation is not None:
                citations.append(citation)
        return citations

    def citation(self, unit: QuoteUnit, passage: Passage, n: int) -> Citation | None:
        """A citation of `unit` naming only the page(s) it lies on, or None if it fails verification."""
        if not verify_unit(self.store, unit):
            log.warning("dropping unverifiable unit %s", unit.unit_id)
            return None
        pages = unit.pages
        base = citation_from_passage(passage, quote=unit.text, n=n, verified=True)
        labels = [self.store.labels.get((unit.doc_id, p), str(p)) for p in pages]
        return base.model_copy(update={
            "pages": pages, "page_labels": labels, "url": page_url(passage.document, pages[0]),
            "section": unit.section or base.section, "context": unit.context, "note": unit.note,
            "kind": unit.kind.value, "unit_id": unit.unit_id, "spans": list(unit.spans),
        })


def _term_then(term: str, lead: str, verbs: str) -> re.Pattern[str] | None:
    """`lead`, the term's words in order (an optional "(abbreviation)" after them), then one of `verbs`."""
    words = [re.escape(w) for w in term.split() if w]
    if not words:
        return None
    # A footnote marker may follow the term ("potency³ is defined as"); Python counts superscripts as \w.
    return re.compile(lead + r"\W+".join(words) + RAISED + r"*\W*(?:\([^)]{1,40}\)\W*)?(?:" + verbs + ")",
                      re.IGNORECASE)


def _defines_pattern(term: str) -> re.Pattern[str] | None:
    """"<term> is/are/means/refers to/is defined as", case-insensitive, the term's words in order; "is
    defined as" also after a short qualifier ("“significant change” for a drug product is defined as")."""
    return _term_then(term, r"\b", r"is|are|means?|refers? to|(?:is|are) defined as|"
                                   r"(?:is|are) (?:considered|understood) (?:to be|as)|:|"
                                   r"(?:for|of|in) (?:an? |the )?[\w-]+(?: [\w-]+)? (?:is|are) defined as")


def _defining_opening(term: str, lead: str = r"\s*") -> re.Pattern[str] | None:
    """A sentence opening that defines `term`: "<term> is a/an/the …", "<term> means/refers to/is defined as"
    ("Potency is measured …" does not define potency); with `lead` "\\b", the same anywhere in a sentence."""
    return _term_then(term, lead, r"(?:is|are) (?:an?|the)\b|means\b|refers? to\b|(?:is|are) defined as\b")


def _naming_definition(term: str) -> re.Pattern[str] | None:
    """"the word/term/expression <term> means / is interpreted to mean / is defined as / refers to", the term
    possibly in quotes: a text that says what the word means."""
    return _term_then(term, r"\b(?:word|term|expression|phrase)s?\W{1,3}",
                      r"(?:is|are)\s+(?:interpreted|understood|taken|used)\s+(?:to\s+mean|as)\b|means\b|"
                      r"refers?\s+to\b|(?:is|are)\s+defined\s+as\b")


def _overlaps(a: Sequence[PageSpan], b: Sequence[PageSpan]) -> bool:
    return any(x.page == y.page and x.start < y.end and y.start < x.end for x in a for y in b)


def _span_text(store: IndexStore, doc_id: str, spans: Sequence[PageSpan]) -> str | None:
    parts = []
    for s in spans:
        page = store.page(doc_id, s.page)
        if page is None or s.end > len(page.text) or s.start < 0:
            return None
        parts.append(page.text[s.start:s.end])
    return "\n".join(parts)


def verify_unit(store: IndexStore, unit: QuoteUnit) -> bool:
    """The unit's quote and context are exactly the stored page text at their offsets."""
    if not unit.text or _span_text(store, unit.doc_id, unit.spans) != unit.text:
        return False
    return not unit.context or _span_text(store, unit.doc_id, unit.context_spans) == unit.context


def verify_quote(store: IndexStore, doc_id: str, pages: Sequence[int], quote: str) -> bool:
    """True when `quote` occurs verbatim in the stored text of exactly these consecutive pages.

    A one-page quote must be a substring of that page; a quote over a page break must be a
    substring of the pages joined by "\\n" and must not fit on fewer of them (no page is over-claimed).
    """
    if not quote or not pages:
        return False
    if list(pages) != list(range(pages[0], pages[0] + len(pages))):
        return False
    texts = []
    for n in pages:
        page = store.page(doc_id, n)
        if page is None:
            return False
        texts.append(page.text)
    if quote not in "\n".join(texts):
        return False
    # A multi-page quote must need every page it names.
    return len(texts) == 1 or not (quote in "\n".join(texts[1:]) or quote in "\n".join(texts[:-1]))


def quote_text(citation: Citation) -> str:
    """How a citation reads in an answer: its context (term, table headers, lead-in), then the quote."""
    quote = " ".join(citation.quote.split())
    if citation.context:
        context = " ".join(citation.context.split())
        # A term and its definition, a table's row label and its cell ("Premises: Open manipulations …") read
        # as label and text; a lead-in or a table's headers stand apart from the quote.
        labelled = citation.kind in (UnitKind.definition.value, UnitKind.sentence.value)
        quote = f"{context.rstrip(':')}: {quote}" if labelled else f"{context} … {quote}"
    if citation.note:
        quote = f"{quote} … ({citation.note})"
    return quote


def compose(citations: Sequence[Citation]) -> str:
    """The answer text: each quote (whitespace collapsed) followed by its [n]; one paragraph per document."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.doc_id, []).append(c)
    paragraphs = []
    for cites in groups.values():
        body = " ".join(f"{quote_text(c)} [{c.n}]" for c in cites)
        if len(groups) > 1:
            first = cites[0]
            name = source_label(first.issuer, first.reference) or first.title or first.doc_id
            body = f"{name}: {body}"
        paragraphs.append(body)
    return "\n\n".join(paragraphs)


def _warnings(citations: Sequence[Citation]) -> list[str]:
    """One warning per cited draft or superseded document."""
    seen: dict[str, str] = {}
    for c in citations:
        if c.status in (Status.draft, Status.superseded) and c.warning:
            seen.setdefault(c.doc_id, c.warning)
    return list(seen.values())
