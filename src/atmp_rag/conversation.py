"""Follow-up questions: a question read in the context of the turns before it.

"And for biotech products?" means nothing alone. The rule, applied before retrieval:

1. A question is a *follow-up* when there is an earlier turn and the question starts with a
   connective ("and", "but", "what about", "what if", "how about", "also", "then", "same"…), refers
   back ("it", "this", "these", "they", "that", "the same", "such"…), or has at most three content
   words of its own.
2. A follow-up is searched as the question followed by the content words of the earlier questions it
   continues: the previous turn's, and the turns before it as long as each of those was itself a
   follow-up (at most three turns back). The user's question is kept as asked; the query used is
   reported in `Answer.retrieval_query`.
3. Passages of the documents cited in the previous turn get their fused retrieval score multiplied by
   `FOLLOW_UP_DOC_BOOST` (1.2): the conversation stays with its documents unless another one clearly
   matches better.

A question that is not a follow-up is answered as if it were the first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from bm25s.stopwords import STOPWORDS_EN

from atmp_rag.models import Turn
from atmp_rag.text.headings import wordset
from atmp_rag.text.lexical import QUESTION_WORDS

__all__ = ["FOLLOW_UP_DOC_BOOST", "Contextualized", "content_words", "contextualize", "is_follow_up"]

#: Multiplier of the fused score of passages from documents the previous answer cited.
FOLLOW_UP_DOC_BOOST = 1.2
_CONNECTIVE = re.compile(
    r"^\s*(?:and|but|or|also|then|so|same|what about|how about|what if|and if|what else|in that case|"
    r"in this case|if so|otherwise|instead|likewise)\b",
    re.IGNORECASE,
)
_BACK_REFERENCE = re.compile(r"\b(?:it|its|this|that|these|those|they|them|their|there|the same|such|the latter|"
                             r"the former|above)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9][\w\-/().%°±]*")
_SKIP = frozenset(STOPWORDS_EN) | wordset(QUESTION_WORDS) | wordset(
    "and but or also then so same what about how if else case instead likewise otherwise it its this that "
    "these those they them their there such latter former above is are be for in of on to with"
)


def content_words(text: str) -> list[str]:
    """The words of `text` that say what it is about (stop words and question words removed), in order."""
    seen: dict[str, str] = {}
    for m in _WORD.finditer(text):
        word = m.group(0).strip("().")
        if word and word.lower() not in _SKIP and word.lower() not in seen:
            seen[word.lower()] = word
    return list(seen.values())


def is_follow_up(question: str, history: Sequence[Turn]) -> bool:
    """Whether `question` continues the conversation (see the module docstring)."""
    if not history:
        return False
    return bool(_CONNECTIVE.match(question) or _BACK_REFERENCE.search(question)
                or len(content_words(question)) <= 3)


@dataclass
class Contextualized:
    """How a question is searched: the query, per-document score multipliers, and whether it is a follow-up."""

    query: str
    doc_boost: dict[str, float] = field(default_factory=dict)
    follow_up: bool = False


def contextualize(question: str, history: Sequence[Turn], doc_of_chunk: dict[str, str]) -> Contextualized:
    """The search query and document preference for `question` after `history` (oldest turn first).

    `doc_of_chunk` maps the cited chunk ids of the history to their documents (unknown ids, e.g. of an
    index rebuilt since, are ignored).
    """
    if not is_follow_up(question, history):
        return Contextualized(question)
    earlier: list[str] = []
    for i in range(len(history) - 1, max(-1, len(history) - 4), -1):
        earlier.insert(0, history[i].question)
        if not is_follow_up(history[i].question, history[:i]):
            break
    words = content_words(question)
    extra = [w for q in earlier for w in content_words(q) if w.lower() not in {x.lower() for x in words}]
    extra = list(dict.fromkeys(extra))
    query = f"{question.strip()} {' '.join(extra)}".strip()
    cited = {doc_of_chunk[c] for c in history[-1].chunk_ids if c in doc_of_chunk}
    return Contextualized(query, {d: FOLLOW_UP_DOC_BOOST for d in sorted(cited)}, True)
