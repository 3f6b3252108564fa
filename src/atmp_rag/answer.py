"""Grounded, extractive answers: verbatim sentences of the retrieved passages, each with a verified citation.

How an answer is made
1. Every indexed document is split once into sentences over its *page texts* (the same text the
   store keeps), so a quote is always an exact substring of one page, or of two consecutive pages
   joined by a line break when a sentence runs over a page break. Sentences are tokenised with the
   BM25 tokenizer (same stemmer and stop words as the index) and cached per store.
2. For a question, the sentences lying in the top passages are scored by IDF-weighted coverage of
   the question's content terms (IDF from the BM25 index), times a small prior for the passage's
   rank and a quality factor that demotes headings, table fragments and very short or long
   sentences. No sentence is encoded at request time: a batch encode costs more than the whole
   latency budget of /v1/ask.
3. Abstention: the evidence score combines the best dense cosine of the retrieved passages with
   the best sentence coverage; below `settings.abstain_threshold` the answer abstains and lists
   the closest passages as related reading (threshold calibrated by eval/calibrate_abstention.py).
4. Each chosen sentence becomes a `Citation` with only the page(s) it lies on, and is re-checked
   against `store.page(...).text`; a sentence that fails the check is never returned.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from atmp_rag.cite import citation_from_passage, page_url, source_label
from atmp_rag.config import Settings
from atmp_rag.embed import Embedder
from atmp_rag.models import Answer, Citation, Passage, Status
from atmp_rag.store import IndexStore, bm25_tokenize

log = logging.getLogger(__name__)

ABSTAIN_MESSAGE = (
    "The indexed guidelines do not appear to cover this question. "
    "The closest passages are listed as related reading."
)

# --------------------------------------------------------------------------------------------
# sentence splitting

#: Words that end in a full stop without ending a sentence ("e.g.", "No. 5", "Ph. Eur.").
ABBREVIATIONS = frozenset(
    {
        "e.g", "eg", "i.e", "ie", "viz", "cf", "vs", "al", "no", "nos", "nr", "ph", "eur", "fig", "figs", "ref",
        "refs", "vol", "vols", "approx", "ca", "dr", "mr", "mrs", "ms", "prof", "art", "arts", "sect", "sects",
        "para", "paras", "incl", "min", "max", "resp", "rev", "corr", "ed", "eds", "pp", "p", "ch", "chap",
        "app", "std", "co", "ltd", "inc", "corp", "dept", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
        "sep", "sept", "oct", "nov", "dec", "st", "u.s", "e.u", "op", "cit", "ibid", "et", "seq", "sec", "ser",
        "suppl", "sq"
    }
)
_BULLET = r"[•●▪■◦○·\-–—*]|\(?[a-z]\)|\(?[ivx]{1,4}\)|\(?\d{1,2}\)|o(?=\s)"
# A list item or numbered paragraph ("2. Any degradation…") also starts a new unit.
_BULLET_RE = re.compile(rf"^\s*(?:{_BULLET}|\d{{1,2}}\.(?=\s+[A-Z]))\s+")
# "4.3 Risk Assessment", "2. SCOPE", "Annex I", "A.1 General": a numbered or named heading line.
_HEADING_START_RE = re.compile(
    r"^\s*(?:(?:\d+(?:\.\d+)*\.?|[IVXLC]+\.|[A-Z]\.\d+(?:\.\d+)*\.?)\s+\S|(?:annex|appendix|part|chapter|section|"
    r"glossary|references|attachment)\b)",
    re.IGNORECASE,
)
_LEADING_ENUM_RE = re.compile(rf"^(?:{_BULLET}|\d+(?:\.\d+)+\.?|\d+\.)\s+")
# A candidate sentence end: terminal punctuation, optional closing quote/bracket, then whitespace.
_END_RE = re.compile(r"[.!?][\"'”’)\]]*(?=\s)")
_WORD_RE = re.compile(r"[^\W\d_][\w\-']*")
# What may separate the items of a list: line breaks, spaces and a bullet or enumerator.
_LIST_GAP_RE = re.compile(rf"\s*\n\s*(?:(?:{_BULLET}|\d{{1,2}}\.)\s+)?")


def _is_heading(line: str, next_line: str) -> bool:
    """A short line without final punctuation that starts a numbered/named heading, or an ALL-CAPS line."""
    stripped = line.strip()
    if not stripped or len(stripped) > 90 or stripped[-1] in ".;,:":
        return False
    words = stripped.split()
    letters = [c for c in stripped if c.isalpha()]
    if len(letters) >= 4 and sum(c.isupper() for c in letters) / len(letters) > 0.8 and len(words) <= 12:
        return True
    if not _HEADING_START_RE.match(stripped) or len(words) > 12:
        return False
    # A wrapped numbered paragraph continues in lower case; a heading is followed by a new sentence.
    nxt = next_line.strip()
    return not nxt or not nxt[0].islower()


def _ends_sentence(text: str, dot: int, end: int, unit_start: int = 0) -> bool:
    """Whether the punctuation at `dot` (its match ending at `end`) ends a sentence, not an abbreviation or initial.

    `unit_start` is where the current sentence began: an enumerator ("1.") before any word ends nothing.
    """
    if not _WORD_RE.search(text, unit_start, dot):
        return False
    if text[dot] in "!?":
        return True
    start = dot
    while start > 0 and not text[start - 1].isspace() and text[start - 1] not in "([\"'“‘":
        start -= 1
    word = text[start:dot].lower().rstrip(".")
    if not word:
        return False
    if word in ABBREVIATIONS or word.replace(".", "") in ABBREVIATIONS:
        return False
    # "A." or "J." initials; "e.g" style dotted abbreviations; "1." enumerators at a line start.
    if len(word) == 1 and word.isalpha():
        return False
    if "." in word and all(len(part) <= 2 for part in word.split(".")) and word.replace(".", "").isalpha():
        return False
    rest = text[end:].lstrip()
    if not rest:
        return True
    first = rest[0]
    # A sentence starts with a capital, a digit, an opening quote/bracket or a bullet, never lower case.
    return not first.islower()


@dataclass(frozen=True)
class Unit:
    """A sentence-like span [start, end) of a text and how quotable it is (0 = never)."""

    start: int
    end: int
    quality: float
    heading: bool = False


def _quality(text: str, bullet: bool) -> float:
    """Demote what reads badly as a quoted answer: fragments, tables, run-ons."""
    words = _WORD_RE.findall(text)
    n = len(words)
    if n < 3:
        return 0.0
    q = 1.0
    if n < 6:
        q *= 0.45
    elif n < 9:
        q *= 0.8
    if n > 70:
        q *= 0.6
    if n > 110:
        q *= 0.5
    visible = [c for c in text if not c.isspace()]
    alpha = sum(c.isalpha() for c in visible) / max(1, len(visible))
    if alpha < 0.6:
        q *= 0.4  # numeric tables, reference lists
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if len(lines) >= 3 and sum(len(ln) for ln in lines) / len(lines) < 30:
        q *= 0.5  # short ragged lines: a table or a form flowing into text
    stripped = text.rstrip()
    if not bullet and stripped[-1:] not in ".!?:;\"”":
        q *= 0.75  # no end: probably cut off by a table or a page furniture line
        if n < 9:
            q *= 0.6  # a short line without an end: a table header or a caption
    if text[:1].islower() and not bullet:
        q *= 0.6  # starts mid-sentence
    if "...." in text or "…" in text:
        q *= 0.3  # dot leaders: a table of contents
    return q


def split_sentences(text: str) -> list[Unit]:
    """Split regulatory text into sentence units with character offsets into `text`.

    Handles wrapped lines (a line break is not a boundary), headings on their own line, bullets
    and enumerations ("•", "-", "(a)", "i)") as their own units, and full stops that do not end a
    sentence: abbreviations ("e.g.", "i.e.", "No.", "Ph. Eur."), initials, section numbers and
    decimals ("4.3", "25 °C ± 2 °C"). Offsets exclude surrounding whitespace and leading bullets
    or section numbers, so `text[u.start:u.end]` is a clean verbatim quote.
    """
    lines: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        lines.append((pos, pos + len(line)))
        pos += len(line) + 1

    # Blocks: runs of lines that may hold running sentences; headings and bullets start new blocks.
    blocks: list[tuple[int, int, bool, bool]] = []  # start, end, heading, bullet
    cur: list[int] | None = None
    cur_bullet = False
    for i, (a, b) in enumerate(lines):
        line = text[a:b]
        nxt = text[lines[i + 1][0]:lines[i + 1][1]] if i + 1 < len(lines) else ""
        if not line.strip():
            if cur is not None:
                blocks.append((cur[0], cur[1], False, cur_bullet))
                cur = None
            continue
        if _is_heading(line, nxt):
            if cur is not None:
                blocks.append((cur[0], cur[1], False, cur_bullet))
                cur = None
            blocks.append((a, b, True, False))
            continue
        bullet = bool(_BULLET_RE.match(line))
        if bullet and cur is not None:
            blocks.append((cur[0], cur[1], False, cur_bullet))
            cur = None
        if cur is None:
            cur, cur_bullet = [a, b], bullet
        else:
            cur[1] = b
    if cur is not None:
        blocks.append((cur[0], cur[1], False, cur_bullet))

    units: list[Unit] = []
    for a, b, heading, bullet in blocks:
        if heading:
            s, e = _trim(text, a, b)
            if e > s:
                units.append(Unit(s, e, 0.0, heading=True))
            continue
        block = text[a:b]
        start = 0
        for m in _END_RE.finditer(block):
            if _ends_sentence(block, m.start(), m.end(), start):
                _add_unit(units, text, a + start, a + m.end(), bullet and start == 0)
                start = m.end()
        _add_unit(units, text, a + start, b, bullet and start == 0)
    return units


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _add_unit(units: list[Unit], text: str, a: int, b: int, bullet: bool) -> None:
    a, b = _trim(text, a, b)
    m = _LEADING_ENUM_RE.match(text[a:b])
    if m and m.end() < b - a:
        a, b = _trim(text, a + m.end(), b)
    if b <= a:
        return
    units.append(Unit(a, b, _quality(text[a:b], bullet)))


# --------------------------------------------------------------------------------------------
# per-document sentence cache


@dataclass(frozen=True)
class Sentence:
    """One quotable sentence of a document, located in the document text (pages joined by "\\n")."""

    doc_id: str
    start: int
    end: int
    text: str
    pages: tuple[int, ...]
    tokens: frozenset[str]
    quality: float


@dataclass
class DocSentences:
    """A document's text as the pages joined by "\\n", its page offsets and its sentences in order."""

    doc_id: str
    text: str
    page_start: dict[int, int]
    page_bounds: list[tuple[int, int, int]]  # (page number, start, end) in document text
    sentences: list[Sentence]
    starts: np.ndarray  # sentence start offsets, for bisecting

    def pages_of(self, start: int, end: int) -> tuple[int, ...]:
        """PDF pages whose text the range [start, end) touches."""
        return tuple(n for n, a, b in self.page_bounds if a < end and start < b)


#: Question words that carry no topic; stemmed and removed from the query before scoring coverage.
QUESTION_WORDS = (
    "what which who whom whose when where why how does do did doing done can could would should shall must may "
    "might need needs needed we our ours us you your i me my have has had having any some about according "
    "guideline guidelines guidance ich document documents say says said state states stated describe describes "
    "mean means meant tell explain list give expected expect also other than were been being its those them "
    "much many please regarding kind type types way ways"
)


class Answerer:
    """Composes extractive answers over one IndexStore (caches sentences per document)."""

    def __init__(self, store: IndexStore, settings: Settings, embedder: Embedder | None = None) -> None:
        self.store = store
        self.settings = settings
        self.embedder = embedder
        self._docs: dict[str, DocSentences] = {}
        self._lock = threading.Lock()
        self._idf, self._idf_max = self._load_idf()
        self._question_words = frozenset(self._tokens(QUESTION_WORDS))

    # ------------------------------------------------------------ lexical statistics
    def _tokens(self, text: str) -> list[str]:
        s = self.settings
        return bm25_tokenize([text], s.bm25_stemmer, s.bm25_stopwords)[0]

    def _load_idf(self) -> tuple[dict[str, float], float]:
        """IDF per stemmed token from the BM25 index's document frequencies (no re-tokenising)."""
        bm25 = self.store.bm25
        n_docs = max(1, len(self.store.chunks))
        try:
            indptr = np.asarray(bm25.scores["indptr"])
            df = np.diff(indptr)
            vocab = bm25.vocab_dict
        except (AttributeError, KeyError, TypeError):  # pragma: no cover - other bm25s layouts
            log.warning("BM25 index has no readable vocabulary; using uniform IDF")
            return {}, 1.0
        idf = {tok: math.log(1.0 + (n_docs - int(df[i]) + 0.5) / (int(df[i]) + 0.5))
               for tok, i in vocab.items() if tok and i < len(df)}
        # A term the corpus never uses is as telling as the rarest term there is.
        return idf, math.log(1.0 + (n_docs - 0.5) / 1.5)

    def idf(self, token: str) -> float:
        """IDF of a stemmed token; unseen tokens get the IDF of a term found in one chunk."""
        return self._idf.get(token, self._idf_max) if self._idf else 1.0

    def query_terms(self, question: str) -> dict[str, float]:
        """Stemmed content terms of the question with their IDF weights."""
        terms = [t for t in self._tokens(question) if t not in self._question_words]
        return {t: self.idf(t) for t in dict.fromkeys(terms)}

    # ------------------------------------------------------------ sentences
    def document(self, doc_id: str) -> DocSentences:
        """Sentences of one document (split and tokenised once, then cached)."""
        doc = self._docs.get(doc_id)
        if doc is not None:
            return doc
        with self._lock:
            doc = self._docs.get(doc_id)
            if doc is None:
                doc = self._build(doc_id)
                self._docs[doc_id] = doc
        return doc

    def warm(self) -> None:
        """Split every indexed document now, so the first requests do not pay for it."""
        for doc_id in sorted({c.doc_id for c in self.store.chunks}):
            self.document(doc_id)

    def _build(self, doc_id: str) -> DocSentences:
        pages = self.store.pages(doc_id)
        parts: list[str] = []
        page_start: dict[int, int] = {}
        bounds: list[tuple[int, int, int]] = []
        toc: list[tuple[int, int]] = []
        pos = 0
        for p in pages:
            page_start[p.number] = pos
            bounds.append((p.number, pos, pos + len(p.text)))
            if p.is_toc:
                toc.append((pos, pos + len(p.text)))
            parts.append(p.text)
            pos += len(p.text) + 1
        text = "\n".join(parts)
        units = [u for u in split_sentences(text) if u.quality > 0
                 and not any(a <= u.start < b for a, b in toc)]
        s = self.settings
        token_lists = bm25_tokenize([text[u.start:u.end] for u in units], s.bm25_stemmer, s.bm25_stopwords) \
            if units else []
        doc = DocSentences(doc_id, text, page_start, bounds, [], np.zeros(0, dtype=np.int64))
        sentences = [
            Sentence(doc_id, u.start, u.end, text[u.start:u.end], doc.pages_of(u.start, u.end), frozenset(toks),
                     u.quality)
            for u, toks in zip(units, token_lists, strict=True)
        ]
        doc.sentences = sentences
        doc.starts = np.array([x.start for x in sentences], dtype=np.int64)
        return doc

    def passage_sentences(self, passage: Passage) -> list[Sentence]:
        """Sentences of the document that lie (mostly) inside the passage's chunk."""
        doc = self.document(passage.chunk.doc_id)
        found: dict[int, Sentence] = {}
        for span in passage.chunk.spans:
            base = doc.page_start.get(span.page)
            if base is None:
                continue
            a, b = base + span.start, base + span.end
            i = max(0, int(np.searchsorted(doc.starts, a, side="right")) - 1)
            while i < len(doc.sentences) and doc.sentences[i].start < b:
                sent = doc.sentences[i]
                inside = min(sent.end, b) - max(sent.start, a)
                # A sentence cut by the chunk edge still counts when most of it was retrieved.
                if inside > 0 and inside >= 0.5 * (sent.end - sent.start):
                    found[sent.start] = sent
                i += 1
        return [found[k] for k in sorted(found)]

    # ------------------------------------------------------------ scoring
    def assess(self, question: str, passages: Sequence[Passage]) -> Assessment:
        """Score the sentences of the top passages and the evidence for answering at all."""
        terms = self.query_terms(question)
        total = sum(terms.values())
        top = list(passages[: self.settings.answer_passages])
        scored: dict[tuple[str, int], Scored] = {}
        for passage in top:
            prior = 1.0 / (1.0 + 0.12 * (passage.rank - 1))
            for sent in self.passage_sentences(passage):
                hit = sum(w for t, w in terms.items() if t in sent.tokens)
                coverage = hit / total if total else 0.0
                score = coverage * sent.quality * prior
                key = (sent.doc_id, sent.start)
                if key not in scored or scored[key].score < score:
                    scored[key] = Scored(sent, passage, coverage, score)
        ranked = sorted(scored.values(), key=lambda x: (-x.score, x.sentence.doc_id, x.sentence.start))
        best_coverage = max((x.coverage for x in ranked if x.sentence.quality >= 0.5), default=0.0)
        top_dense = self._top_dense(question, top)
        evidence = evidence_score(top_dense, best_coverage)
        return Assessment(terms, ranked, top_dense, best_coverage, evidence)

    def _top_dense(self, question: str, passages: Sequence[Passage]) -> float:
        """Best dense cosine of the passages; encodes the question only if retrieval did not (bm25 mode)."""
        scores = [p.dense_score for p in passages if p.dense_score is not None]
        if scores:
            return float(max(scores))
        if not passages or self.embedder is None:
            return 0.0
        qvec = self.embedder.encode_queries([question])[0]
        vectors = self.store.vectors()
        rows = [self.store.row_of[p.chunk.chunk_id] for p in passages]
        return float(max(float(np.dot(vectors[r], qvec)) for r in rows))

    # ------------------------------------------------------------ composing
    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        """An extractive answer of verified quotes, or an abstention with related reading."""
        assessment = self.assess(question, passages)
        if not passages or assessment.evidence < self.settings.abstain_threshold:
            return self.abstain(question, passages, assessment)
        chosen = self.select(assessment)
        citations = self.cite(chosen)
        if not citations:
            return self.abstain(question, passages, assessment)
        return Answer(
            question=question,
            answer=compose(citations),
            abstained=False,
            citations=citations,
            related=list(passages[: self.settings.answer_passages]),
            mode="extractive",
            warnings=_warnings(citations),
        )

    def abstain(self, question: str, passages: Sequence[Passage], assessment: Assessment | None = None) -> Answer:
        """The abstention answer: no claims, the closest passages as related reading."""
        return Answer(question=question, answer="", abstained=True, citations=[],
                      related=list(passages[: self.settings.answer_passages]), mode="extractive",
                      message=ABSTAIN_MESSAGE)

    def select(self, assessment: Assessment) -> list[Scored]:
        """Pick 1..answer_max_sentences sentences: the best, then those close to it, without repeats."""
        ranked = [x for x in assessment.ranked if x.coverage > 0 and x.sentence.quality >= 0.3]
        if not ranked:
            return []
        best = ranked[0].score
        chosen: list[Scored] = []
        for cand in ranked:
            if len(chosen) >= self.settings.answer_max_sentences:
                break
            # The second sentence is held to a lower bar so that most answers have some context.
            bar = 0.5 if len(chosen) >= 2 else 0.35
            if chosen and cand.score < bar * best:
                break
            if any(_similar(cand.sentence, c.sentence) for c in chosen):
                continue
            chosen.append(cand)
        return chosen

    def cite(self, chosen: Sequence[Scored]) -> list[Citation]:
        """Verified citations for the chosen sentences, grouped by document, numbered in reading order."""
        order: dict[str, float] = {}
        for c in chosen:
            order[c.sentence.doc_id] = max(order.get(c.sentence.doc_id, 0.0), c.score)
        grouped = sorted(chosen, key=lambda c: (-order[c.sentence.doc_id], c.sentence.doc_id, c.sentence.start))
        citations: list[Citation] = []
        for c in grouped:
            citation = self.citation(self.with_list(c.sentence), c.passage, len(citations) + 1)
            if citation is not None:
                citations.append(citation)
        return citations

    def with_list(self, sentence: Sentence, max_items: int = 8, max_chars: int = 900) -> Sentence:
        """A sentence that introduces a list ("… are:") extended over the list items that follow it.

        Quoting only the lead-in would cite the promise of an answer without the answer. The items are
        taken while nothing but white space and list markers separates them, so the quote stays one
        verbatim span of the page text.
        """
        if not sentence.text.rstrip().endswith(":"):
            return sentence
        doc = self.document(sentence.doc_id)
        i = int(np.searchsorted(doc.starts, sentence.start))
        end, tokens = sentence.end, set(sentence.tokens)
        for nxt in doc.sentences[i + 1:i + 1 + max_items]:
            gap = doc.text[end:nxt.start]
            if not _LIST_GAP_RE.fullmatch(gap) or nxt.end - sentence.start > max_chars:
                break
            end, tokens = nxt.end, tokens | nxt.tokens
            if nxt.text.rstrip().endswith((".", "!", "?")):
                break  # the last item of the list ends with a full stop
        if end == sentence.end:
            return sentence
        return Sentence(sentence.doc_id, sentence.start, end, doc.text[sentence.start:end],
                        doc.pages_of(sentence.start, end), frozenset(tokens), sentence.quality)

    def citation(self, sentence: Sentence, passage: Passage, n: int) -> Citation | None:
        """A citation of `sentence` naming only the page(s) it lies on, or None if it fails verification."""
        pages = list(sentence.pages)
        if not pages or not verify_quote(self.store, sentence.doc_id, pages, sentence.text):
            log.warning("dropping unverifiable quote from %s pages %s", sentence.doc_id, pages)
            return None
        base = citation_from_passage(passage, quote=sentence.text, n=n, verified=True)
        labels = [self.store.labels.get((sentence.doc_id, p), str(p)) for p in pages]
        return base.model_copy(update={"pages": pages, "page_labels": labels,
                                       "url": page_url(passage.document, pages[0])})


@dataclass
class Scored:
    """A candidate sentence with the passage it came from, its question coverage and final score."""

    sentence: Sentence
    passage: Passage
    coverage: float
    score: float


@dataclass
class Assessment:
    """What `Answerer.assess` found: query terms, ranked sentences and the abstention features."""

    terms: dict[str, float]
    ranked: list[Scored] = field(default_factory=list)
    top_dense: float = 0.0
    best_coverage: float = 0.0
    evidence: float = 0.0


def evidence_score(top_dense: float, best_coverage: float) -> float:
    """How well the index covers a question, in [0, 1]: the mean of best dense cosine and best coverage.

    Both inputs grow monotonically with evidence, and neither alone suffices: paraphrased questions
    have low lexical coverage but a close passage; out-of-corpus questions that share vocabulary
    have a plausible passage but leave their rare, specific terms uncovered.
    """
    return 0.5 * max(0.0, top_dense) + 0.5 * best_coverage


def _similar(a: Sentence, b: Sentence) -> bool:
    if a.doc_id == b.doc_id and a.start < b.end and b.start < a.end:
        return True
    union = a.tokens | b.tokens
    return bool(union) and len(a.tokens & b.tokens) / len(union) > 0.7


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


def compose(citations: Sequence[Citation]) -> str:
    """The answer text: each quote (whitespace collapsed) followed by its [n]; one paragraph per document."""
    groups: dict[str, list[Citation]] = {}
    for c in citations:
        groups.setdefault(c.doc_id, []).append(c)
    paragraphs = []
    for cites in groups.values():
        body = " ".join(f"{' '.join(c.quote.split())} [{c.n}]" for c in cites)
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
