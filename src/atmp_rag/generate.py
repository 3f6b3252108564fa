"""Optional generative answers from an OpenAI-compatible chat endpoint, constrained to the retrieved passages.

Any server speaking `POST /v1/chat/completions` works (llama.cpp server, Ollama, vLLM). The model
sees only the numbered passages and must end every sentence with the [n] of its supporting passage.
What comes back is checked, not trusted:

- a sentence without a marker, or whose marker does not name a given passage (e.g. a bogus [9]
  when five passages were given), is dropped and reported in `warnings`;
- each marker is backed by a verified verbatim quote: the sentence of that passage closest to
  the generated sentences citing it, checked against the stored page text like every citation;
- on a transport error, a timeout, a malformed reply, or when nothing survives the checks, the
  extractive answer is returned with a warning saying why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import httpx

from atmp_rag.answer import Answerer, _warnings
from atmp_rag.cite import source_label
from atmp_rag.config import Settings
from atmp_rag.models import Answer, Citation, Passage, QuoteUnit
from atmp_rag.text.sentences import split

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You answer questions about pharmaceutical regulatory guidelines using ONLY the numbered passages "
    "given by the user. Write 2 to 5 short sentences. End every sentence with the marker of the passage "
    "that supports it, for example [1] or [2]. Use only the markers of the given passages. If the "
    "passages do not answer the question, reply exactly: NOT COVERED"
)
NOT_COVERED = "NOT COVERED"
_MARKER_RE = re.compile(r"\[(\d{1,3})\]")
# "text. [1]" -> "text [1]." so that the marker stays with the sentence it supports.
_TRAILING_MARKERS_RE = re.compile(r"([.!?])((?:\s*\[\d{1,3}\])+)")
_PASSAGE_CHARS = 1500


class GenerationError(RuntimeError):
    """The endpoint could not produce a usable reply."""


def chat_url(base: str) -> str:
    """The chat-completions URL for a configured base URL.

    Accepts the full endpoint, an OpenAI-style base ending in /v1, or a bare server URL.
    """
    base = base.rstrip("/")
    path = urlsplit(base).path
    if path.endswith("/chat/completions"):
        return base
    if path.endswith("/v1"):
        return f"{base}/chat/completions"
    return f"{base}/v1/chat/completions"


def build_messages(question: str, passages: Sequence[Passage]) -> list[dict[str, str]]:
    """The chat messages: system rules, then the numbered passages and the question."""
    blocks = []
    for i, p in enumerate(passages, start=1):
        doc = p.document
        source = source_label(doc.issuer, doc.reference) or doc.title or doc.doc_id
        where = ", ".join(x for x in (p.chunk.section, f"p. {', '.join(p.page_labels)}" if p.page_labels else "") if x)
        text = " ".join(p.chunk.text.split())[:_PASSAGE_CHARS]
        blocks.append(f"[{i}] {source}{f' ({where})' if where else ''}:\n{text}")
    user = "Passages:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}\nAnswer:"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


class Generator:
    """Client of one OpenAI-compatible chat endpoint (thread-safe; one connection pool per process)."""

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        if not settings.generation.url:
            raise ValueError("ATMP_RAG_GENERATION__URL is not set")
        self.settings = settings
        self.url = chat_url(settings.generation.url)
        headers = {"Authorization": f"Bearer {settings.generation.api_key}"} if settings.generation.api_key else {}
        self.client = client or httpx.Client(timeout=settings.generation.timeout, headers=headers)

    def complete(self, messages: list[dict[str, str]]) -> str:
        """One chat completion; raises GenerationError on any transport or protocol problem."""
        body = {"model": self.settings.generation.model, "messages": messages, "temperature": 0.0, "max_tokens": 400,
                "stream": False}
        try:
            response = self.client.post(self.url, json=body)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except httpx.TimeoutException as exc:
            raise GenerationError(
                f"the LLM endpoint did not answer within {self.settings.generation.timeout:g} s") from exc
        except httpx.HTTPStatusError as exc:
            raise GenerationError(f"the LLM endpoint returned HTTP {exc.response.status_code}") from exc
        except httpx.HTTPError as exc:
            raise GenerationError(f"the LLM endpoint is unreachable ({type(exc).__name__})") from exc
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise GenerationError("the LLM endpoint sent a reply that is not a chat completion") from exc
        if not isinstance(content, str):
            raise GenerationError("the LLM endpoint sent a reply without text")
        return content

    def generate(self, question: str, passages: Sequence[Passage], extractive: Answer,
                 answerer: Answerer) -> Answer:
        """A generative answer whose every sentence cites a given passage, or `extractive` with a warning."""
        given = list(passages[: self.settings.answer.passages])
        try:
            reply = self.complete(build_messages(question, given))
        except GenerationError as exc:
            log.warning("generative answer failed: %s", exc)
            return _fallback(extractive, f"generative answer unavailable: {exc}; extractive answer given")
        answer = check_reply(question, reply, given, answerer)
        if answer is None:
            return _fallback(extractive, "the generated answer had no sentence grounded in the passages; "
                                         "extractive answer given")
        return answer.model_copy(update={"related": extractive.related})


def _fallback(extractive: Answer, warning: str) -> Answer:
    return extractive.model_copy(update={"warnings": [*extractive.warnings, warning]})


def reply_sentences(reply: str) -> list[str]:
    """Sentences of a model reply, with markers placed after the final punctuation moved inside it."""
    text = _TRAILING_MARKERS_RE.sub(lambda m: f"{m.group(2)}{m.group(1)}", reply.strip())
    return [" ".join(text[a:b].split()) for a, b in split(text) if b > a]


def check_reply(question: str, reply: str, passages: Sequence[Passage], answerer: Answerer) -> Answer | None:
    """Keep the sentences whose markers all name given passages and can be backed by a verified quote.

    Markers are renumbered to the citations' order. Returns None when nothing usable remains.
    """
    if reply.strip().upper().startswith(NOT_COVERED):
        return None
    warnings: list[str] = []
    kept: list[tuple[str, list[int]]] = []
    for sentence in reply_sentences(reply):
        markers = [int(m) for m in _MARKER_RE.findall(sentence)]
        if not markers:
            if _MARKER_RE.sub("", sentence).strip(" .") and len(sentence.split()) > 2:
                warnings.append(f"dropped a generated sentence without a citation: {sentence!r}")
            continue
        bogus = sorted({m for m in markers if not 1 <= m <= len(passages)})
        if bogus:
            warnings.append(f"dropped a generated sentence citing [{'], ['.join(map(str, bogus))}], "
                            f"which is not one of the {len(passages)} given passages: {sentence!r}")
            continue
        kept.append((sentence, list(dict.fromkeys(markers))))
    if not kept:
        return None

    # Back each cited passage with its sentence closest to what the model said about it.
    said: dict[int, set[str]] = {}
    for sentence, markers in kept:
        tokens = set(answerer.query_terms(_MARKER_RE.sub(" ", sentence)))
        for m in markers:
            said.setdefault(m, set()).update(tokens)
    citations: dict[int, Citation] = {}
    for m in dict.fromkeys(x for _, ms in kept for x in ms):
        unit = _best_unit(answerer, passages[m - 1], said.get(m, set()))
        citation = answerer.citation(unit, passages[m - 1], len(citations) + 1) if unit is not None else None
        if citation is not None:
            citations[m] = citation
        else:
            warnings.append(f"passage [{m}] has no verifiable sentence; sentences citing it were dropped")

    lines = []
    for sentence, markers in kept:
        if not all(m in citations for m in markers):
            continue
        lines.append(_MARKER_RE.sub(lambda x: f"[{citations[int(x.group(1))].n}]", sentence))
    if not lines:
        return None
    cites = sorted(citations.values(), key=lambda c: c.n)
    return Answer(question=question, answer=" ".join(lines), abstained=False, citations=cites, mode="generative",
                  warnings=[*_warnings(cites), *warnings])


def _best_unit(answerer: Answerer, passage: Passage, tokens: set[str]) -> QuoteUnit | None:
    """The passage's unit that shares the most IDF weight with what the model said about it."""
    rows = answerer.passage_units(passage)
    if not rows:
        return None
    weight = {t: answerer.idf(t) for t in tokens}
    best = max(rows, key=lambda r: (sum(weight.get(t, 0.0) for t in answerer.unit_tokens(r)), -r))
    return answerer.store.units[best]
