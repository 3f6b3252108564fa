"""Helpers shared by the pages: settings, the API client, service checks, citation rendering.

Rendering helpers return strings (HTML or Markdown) so they stay testable without Streamlit.
"""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

import streamlit as st

from atmp_rag.cite import FORMATS, format_citation, format_citations
from atmp_rag.config import Settings
from ui.client import ApiClient, ServiceDown, ServiceError, as_citation, as_document

FORMAT_LABELS = {"text": "Text", "markdown": "Markdown", "bibtex": "BibTeX", "ris": "RIS", "csl-json": "CSL-JSON"}
FORMAT_FILES = {  # extension and MIME type of a downloaded citation
    "text": ("txt", "text/plain"),
    "markdown": ("md", "text/markdown"),
    "bibtex": ("bib", "application/x-bibtex"),
    "ris": ("ris", "application/x-research-info-systems"),
    "csl-json": ("json", "application/vnd.citationstyles.csl+json"),
}
CODE_LANGUAGE = {"text": None, "markdown": "markdown", "bibtex": "latex", "ris": None, "csl-json": "json"}
assert set(FORMAT_LABELS) == set(FORMATS)

#: Page-wide CSS: highlighted quotes and citation markers must stand out for someone checking sources.
CSS = """
<style>
mark.quote {background: #fff1a8; padding: 0 .1em; border-radius: 2px;}
.passage {font-size: 0.92rem; line-height: 1.5; border-left: 3px solid #d0d7de; padding-left: .75rem;
          color: #24292f;}
.answer {font-size: 1.02rem; line-height: 1.6;}
.answer .cite-n {color: #0b5cad; font-weight: 600; white-space: nowrap;}
</style>
"""


@st.cache_resource
def settings() -> Settings:
    """Settings from `ATMP_RAG_*` (read once per app process)."""
    return Settings()


def client() -> ApiClient:
    """The API client for this session (one connection pool per browser session)."""
    s = settings()
    key = (s.api_url, s.api_key)
    if st.session_state.get("_client_key") != key:
        st.session_state["_client"] = ApiClient(s.api_url, s.api_key)
        st.session_state["_client_key"] = key
    return st.session_state["_client"]


def require_service() -> dict[str, Any]:
    """The service's /readyz; on failure explain what to do and stop the page."""
    try:
        return client().ready()
    except ServiceDown as exc:
        st.error(f"**Service unavailable.** {exc}", icon=":material/cloud_off:")
    except ServiceError as exc:
        st.error(str(exc), icon=":material/error:")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises; this keeps type checkers honest


@st.cache_data(ttl=300, show_spinner=False)
def _documents(base_url: str, api_key: str | None, index: str) -> list[dict[str, Any]]:
    # Keyed by index name: a newly published index brings a new catalog snapshot.
    return ApiClient(base_url, api_key).documents()


def documents(index: str) -> list[dict[str, Any]]:
    """The catalog with indexed flags, cached per index."""
    s = settings()
    return _documents(s.api_url, s.api_key, index)


# ---------------------------------------------------------------- status badges

def status_badge(status: str) -> str:
    """A Markdown badge for a guideline's status (draft and superseded must be noticed)."""
    return {"draft": ":orange-badge[:material/edit_note: Draft]",
            "superseded": ":red-badge[:material/history: Superseded]"}.get(status, ":green-badge[Final]")


def status_icon(status: str) -> str:
    """A short marker for labels where badges are not rendered (expander titles, select boxes)."""
    return {"draft": "⚠️ DRAFT · ", "superseded": "⚠️ SUPERSEDED · "}.get(status, "")


def page_phrase(labels: list[str], pages: list[int]) -> str:
    """'p. 7 (PDF p. 13)': the printed label users cite and the PDF index the link opens."""
    printed = "–".join(dict.fromkeys([labels[0], labels[-1]])) if labels else ""
    pdf = "–".join(str(p) for p in dict.fromkeys([pages[0], pages[-1]])) if pages else "?"
    return f"p. {printed} (PDF p. {pdf})" if printed and printed != pdf else f"PDF p. {pdf}"


# ---------------------------------------------------------------- text rendering

_MARKER_RE = re.compile(r"\[(\d+)\]")
_MARKER_HTML = r'<span class="cite-n">[\1]</span>'


#: A PDF line break worth keeping: after a sentence or colon, or before a bullet, enumerator or heading number.
_KEEP_BREAK_RE = re.compile(r"(?<=[.:;])\n|\n(?=\s*(?:[•●▪■◦○·\-–—*]|\(?[a-z0-9]{1,3}\)|\d+(?:\.\d+)*\.?\s))")


def _html_lines(text: str) -> str:
    # PDF line breaks inside a sentence only make the passage ragged; sentence and list breaks stay.
    # Output is one physical line: a blank line would end the HTML block and the rest be read as Markdown.
    text = _KEEP_BREAK_RE.sub("\x00", text.replace("\r", ""))
    text = re.sub(r"[ \t]*\n[ \t]*", " ", text)
    return html.escape(text).replace("\x00", "<br>")


def answer_html(answer: str) -> str:
    """The answer text as HTML: escaped verbatim, paragraphs kept, [n] markers emphasised."""
    paragraphs = [" ".join(p.split()) for p in answer.split("\n\n") if p.strip()]
    body = "".join(f"<p>{_MARKER_RE.sub(_MARKER_HTML, html.escape(p))}</p>" for p in paragraphs)
    return f'<div class="answer">{body}</div>'


def locate_quote(text: str, quote: str) -> tuple[int, int] | None:
    """Character span of `quote` in `text`, tolerant to differing whitespace/line breaks; None if absent."""
    words = quote.split()
    if not words:
        return None
    match = re.search(r"\s+".join(re.escape(w) for w in words), text)
    return (match.start(), match.end()) if match else None


def highlighted_html(text: str, quote: str, window: int | None = None) -> str | None:
    """`text` as HTML with `quote` marked; None when the quote is not in the text.

    `window` trims the text to that many characters either side of the quote (long page texts).
    """
    span = locate_quote(text, quote)
    if span is None:
        return None
    a, b = span
    start = 0 if window is None else max(0, a - window)
    end = len(text) if window is None else min(len(text), b + window)
    before = ("… " if start > 0 else "") + text[start:a]
    after = text[b:end] + (" …" if end < len(text) else "")
    return (f'<div class="passage">{_html_lines(before)}<mark class="quote">{_html_lines(text[a:b])}</mark>'
            f"{_html_lines(after)}</div>")


def plain_html(text: str) -> str:
    """A passage without a highlight, escaped."""
    return f'<div class="passage">{_html_lines(text)}</div>'


# ---------------------------------------------------------------- citations

def cite_as(citation: dict[str, Any], document: dict[str, Any] | None, fmt: str) -> str:
    """One answer citation in `fmt`, with the answer's verified quote and its own page(s).

    Formatted here with `atmp_rag.cite` rather than via /v1/passages/{id}/cite, because that route
    cites the whole stored passage (all its pages), while an answer cites one sentence on its page.
    """
    c = as_citation(citation)
    doc = as_document(document) if document else _document_from_citation(citation)
    return format_citation(c, doc, fmt, accessed=date.today())


def cite_all(citations: list[dict[str, Any]], docs: dict[str, dict[str, Any]], fmt: str) -> str:
    """All citations of an answer as a bibliography in `fmt`."""
    pairs = [(as_citation(c), as_document(docs[c["doc_id"]]) if c["doc_id"] in docs
              else _document_from_citation(c)) for c in citations]
    return format_citations(pairs, fmt, accessed=date.today())


def _document_from_citation(citation: dict[str, Any]):
    # Fallback when the catalog snapshot lacks the document: the citation carries the essentials.
    from atmp_rag.models import Document

    return Document(doc_id=citation["doc_id"], file=citation.get("file"), issuer=citation.get("issuer", ""),
                    reference=citation.get("reference", ""), title=citation.get("title", ""),
                    version=citation.get("version", ""), status=citation.get("status", "final"))


def citation_filename(citation: dict[str, Any], fmt: str) -> str:
    """Download name, e.g. 'ICH_Q1A_R2_p7_1.bib'."""
    ref = re.sub(r"[^A-Za-z0-9]+", "_", citation.get("reference") or citation["doc_id"]).strip("_")
    label = re.sub(r"[^A-Za-z0-9]+", "-", (citation.get("page_labels") or [""])[0]) or str(citation["pages"][0])
    return f"{ref}_p{label}_{citation['n']}.{FORMAT_FILES[fmt][0]}"


def official_link(url: str, page: int) -> str:
    """Markdown link to the official source, saying whether it opens the page itself."""
    if not url:
        return "No official URL in the catalog for this document."
    if "#page=" in url:
        return f"[:material/open_in_new: Official PDF at PDF page {page}]({url})"
    return (f"[:material/open_in_new: Official source page]({url}) — the catalog lists no direct PDF link; "
            f"open the PDF there and go to PDF page {page}.")
