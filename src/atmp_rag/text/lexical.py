"""One tokenizer and one IDF for every lexical use: the BM25 index, query terms and answer scoring.

Index time and query time must tokenise alike (lowercase, English stop words, Snowball stemmer), so
both go through `Tokenizer`. Document frequencies are counted by us from the same token lists that
feed BM25 and stored with the index (`store.write_index`), so IDF never depends on a library's
internal data layout.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import bm25s

from atmp_rag.text.sentences import SUPERSCRIPT_DIGITS

#: Words of a question that ask rather than say what is asked about ("what", "which", "describe").
QUESTION_WORDS = (
    "what which who whom whose when where why how does do did doing done can could would should shall must may "
    "might need needs needed we our ours us you your i me my have has had having any some about according "
    "guideline guidelines guidance ich document documents say says said state states stated describe describes "
    "mean means meant tell explain list give expected expect also other than were been being its those them "
    "much many please regarding kind type types way ways define"
)


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Any:
    if not language:
        return None
    import Stemmer

    return Stemmer.Stemmer(language)


#: Superscripts (footnote markers, exponents) end a word: "Cumene¹" is the token "cumene".
_SUPERSCRIPT_BREAK = str.maketrans(dict.fromkeys(SUPERSCRIPT_DIGITS + "⁺⁻", " "))


def bm25_tokenize(texts: Sequence[str], stemmer: str, stopwords: str) -> list[list[str]]:
    """Lowercased, stop-word-free, stemmed tokens of each text (bm25s' public tokenizer)."""
    return bm25s.tokenize(
        [t.translate(_SUPERSCRIPT_BREAK) for t in texts],
        stopwords=stopwords or None,
        stemmer=_stemmer(stemmer),
        return_ids=False,
        show_progress=False,
    )


class Tokenizer:
    """The lexical tokenizer of one index (its stemmer and stop-word settings).

    `one` remembers the last few hundred texts it tokenised: a request tokenises its question for
    BM25, for the answer's query terms and for phrase matching, and bm25s' batch tokenizer costs about
    a millisecond per call however short the text.
    """

    def __init__(self, stemmer: str = "english", stopwords: str = "en", cache_size: int = 512) -> None:
        self.stemmer = stemmer
        self.stopwords = stopwords
        self._one = lru_cache(maxsize=cache_size)(self._tokenize_one)

    def __call__(self, texts: Sequence[str]) -> list[list[str]]:
        """Tokens of each text."""
        return bm25_tokenize(texts, self.stemmer, self.stopwords) if texts else []

    def _tokenize_one(self, text: str) -> tuple[str, ...]:
        return tuple(self([text])[0])

    def one(self, text: str) -> list[str]:
        """Tokens of one text."""
        return list(self._one(text))


def document_frequencies(token_lists: Iterable[Sequence[str]]) -> Counter[str]:
    """How many of the token lists contain each token."""
    df: Counter[str] = Counter()
    for tokens in token_lists:
        df.update(set(tokens))
    return df


class Idf:
    """BM25-style IDF, log(1 + (N - df + 0.5) / (df + 0.5)), over the chunks of one index.

    A token the corpus never uses gets the IDF of a token found in a single chunk: as telling as
    the rarest term there is.
    """

    def __init__(self, df: Mapping[str, int], n_docs: int) -> None:
        self.n = max(1, n_docs)
        self._idf = {t: self._value(d) for t, d in df.items() if t}
        self.unseen = self._value(1)

    def _value(self, df: int) -> float:
        return math.log(1.0 + (self.n - df + 0.5) / (df + 0.5))

    def __call__(self, token: str) -> float:
        """IDF of a stemmed token."""
        return self._idf.get(token, self.unseen)

    def __len__(self) -> int:
        return len(self._idf)


class QueryTerms:
    """The weighted content terms of a question: stemmed tokens minus question words, IDF-weighted."""

    def __init__(self, tokenizer: Tokenizer, idf: Idf) -> None:
        self.tokenizer = tokenizer
        self.idf = idf
        self._question_words = frozenset(tokenizer.one(QUESTION_WORDS))

    def __call__(self, text: str) -> dict[str, float]:
        """{stemmed term: IDF} of `text`'s content terms, in first-seen order."""
        terms = [t for t in self.tokenizer.one(text) if t not in self._question_words]
        return {t: self.idf(t) for t in dict.fromkeys(terms)}


def coverage(terms: Mapping[str, float], tokens: Iterable[str]) -> float:
    """IDF-weighted share of `terms` present in `tokens` (0 when there are no terms)."""
    total = sum(terms.values())
    if not total:
        return 0.0
    present = tokens if isinstance(tokens, (set, frozenset)) else set(tokens)
    return sum(w for t, w in terms.items() if t in present) / total
