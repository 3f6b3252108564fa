"""Check the regulatory set's evidence quotes against the cleaned page text stored in our index.

The question set was written against raw pypdfium2 text; the index stores *cleaned* text (headers,
footers and line numbers removed, hyphenation joined). A quote that no longer occurs on its page
in our index cannot be cited by the answerer, so this check guards the set and the cleaning alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from atmp_rag.evaluation.datasets import RegulatoryQuestion
from atmp_rag.store import IndexStore

_WS = re.compile(r"\s+")


def normalize_ws(text: str) -> str:
    """Collapse every run of whitespace to one space and trim (line breaks become spaces)."""
    return _WS.sub(" ", text).strip()


@dataclass(frozen=True)
class QuoteCheck:
    """Outcome of checking one evidence quote on its page."""

    question_id: str
    file: str
    page: int
    quote: str
    ok: bool
    reason: str = ""
    found_on: tuple[int, ...] = ()  # other pages of the same document holding the quote, when not on its own


def file_to_doc(store: IndexStore) -> dict[str, str]:
    """Map PDF file names to document ids of the index."""
    return {d.file: d.doc_id for d in store.documents.values() if d.file}


def check_evidence(store: IndexStore, questions: Iterable[RegulatoryQuestion]) -> list[QuoteCheck]:
    """Verify every evidence quote occurs (whitespace-normalised) in the stored text of its page."""
    docs = file_to_doc(store)
    cache: dict[str, dict[int, str]] = {}

    def pages_of(doc_id: str) -> dict[int, str]:
        if doc_id not in cache:
            cache[doc_id] = {p.number: normalize_ws(p.text) for p in store.pages(doc_id)}
        return cache[doc_id]

    results = []
    for q in questions:
        for ev in q.evidence:
            quote = normalize_ws(ev.quote)
            doc_id = docs.get(ev.file)
            if doc_id is None:
                results.append(QuoteCheck(q.id, ev.file, ev.page, ev.quote, False, "document not in index"))
                continue
            pages = pages_of(doc_id)
            if ev.page not in pages:
                results.append(QuoteCheck(q.id, ev.file, ev.page, ev.quote, False, "page not in index"))
                continue
            if quote and quote in pages[ev.page]:
                results.append(QuoteCheck(q.id, ev.file, ev.page, ev.quote, True))
                continue
            elsewhere = tuple(n for n, text in pages.items() if quote and quote in text)
            reason = f"quote found on page(s) {list(elsewhere)} instead" if elsewhere else "quote not on page"
            results.append(QuoteCheck(q.id, ev.file, ev.page, ev.quote, False, reason, elsewhere))
    return results
