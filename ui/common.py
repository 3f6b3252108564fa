"""Helpers shared by the pages: settings, the API client, service checks, text rendering.

Rendering helpers return strings (HTML or Markdown) so they stay testable without Streamlit. Nothing
here formats citations or reads PDFs: the service does (`/v1/cite`, `/v1/documents/…/image`).
"""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import streamlit as st

from atmp_rag.config import Settings
from atmp_rag.models import CitationFormat, ExportFormat
from ui.client import ApiClient, ServiceDown, ServiceError

#: Citation formats in the order offered (names, labels, file types: `atmp_rag.models.CitationFormat`).
FORMATS = [f.value for f in CitationFormat]
FORMAT_LABELS = {f.value: f.label for f in CitationFormat}
#: Export formats of a basket, in the order offered (`atmp_rag.models.ExportFormat`).
EXPORT_FORMATS = [f.value for f in ExportFormat]
EXPORT_LABELS = {"docx": "Word (DOCX)", "md": "Markdown", "bibtex": "BibTeX", "ris": "RIS", "csl-json": "CSL-JSON"}
CODE_LANGUAGE = {"text": None, "markdown": "markdown", "bibtex": "latex", "ris": None, "csl-json": "json"}

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
    key = (s.ui.api_url, s.ui.api_key)
    if st.session_state.get("_client_key") != key:
        st.session_state["_client"] = ApiClient(s.ui.api_url, s.ui.api_key)
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
    return _documents(s.ui.api_url, s.ui.api_key, index)


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


def plain_html(text: str) -> str:
    """A passage without a highlight, escaped."""
    return f'<div class="passage">{_html_lines(text)}</div>'


# ---------------------------------------------------------------- citations

def excerpt_html(excerpt: dict[str, Any] | None, quote: str) -> str:
    """A citation's quote highlighted in the page text around it (`excerpts` of /v1/ask)."""
    if not excerpt:
        return plain_html(quote)
    return (f'<div class="passage">{_html_lines(excerpt["before"])}<mark class="quote">'
            f'{_html_lines(excerpt["quote"])}</mark>{_html_lines(excerpt["after"])}</div>')


def formatted_citations(answer_key: str, citations: list[dict[str, Any]], fmt: str) -> dict[str, Any] | None:
    """An answer's citations in `fmt` from the service, one request per answer and format (kept for reruns).

    Returns {"citation": bibliography, "items": [each citation], "filename", "media_type"}, or None with an
    error shown when the service cannot format them.
    """
    cache: dict[tuple[str, str], dict[str, Any]] = st.session_state.setdefault("_cited", {})
    if (answer_key, fmt) not in cache:
        try:
            cache[(answer_key, fmt)] = client().cite(citations, fmt)
        except ServiceError as exc:
            st.error(f"Citations could not be formatted: {exc}", icon=":material/error:")
            return None
    return cache[(answer_key, fmt)]


def official_link(url: str, page: int) -> str:
    """Markdown link to the official source, saying whether it opens the page itself."""
    if not url:
        return "No official URL in the catalog for this document."
    if "#page=" in url:
        return f"[:material/open_in_new: Official PDF at PDF page {page}]({url})"
    return (f"[:material/open_in_new: Official source page]({url}) — the catalog lists no direct PDF link; "
            f"open the PDF there and go to PDF page {page}.")


# ---------------------------------------------------------------- the reference basket

_BASKET_ID_RE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def basket_id() -> str:
    """This session's basket id, also kept in the URL (`?basket=…`) so that a reload finds the same basket.

    The basket itself is stored by the service (`/v1/baskets/{id}`): it survives reloads and restarts of
    the app, and the URL can be bookmarked to come back to it.
    """
    bid = st.session_state.get("basket_id") or st.query_params.get("basket", "")
    if not _BASKET_ID_RE.fullmatch(bid):
        bid = uuid.uuid4().hex
    st.session_state["basket_id"] = bid
    if st.query_params.get("basket") != bid:
        st.query_params["basket"] = bid
    return bid


def basket() -> list[dict[str, Any]]:
    """The basket's entries in order ({"answer_id", "n"} or {"chunk_id"}), read from the service once a session."""
    if "basket" not in st.session_state:
        try:
            st.session_state["basket"] = client().basket(basket_id())
        except ServiceError as exc:
            st.error(f"The basket could not be loaded: {exc}", icon=":material/error:")
            return []
    return st.session_state["basket"]


def save_basket(items: list[dict[str, Any]]) -> bool:
    """Store the basket's entries (in this order) with the service; False, with the error shown, if it failed."""
    try:
        client().save_basket(basket_id(), items)
    except ServiceError as exc:
        st.error(f"The basket could not be saved: {exc}", icon=":material/error:")
        return False
    st.session_state["basket"] = list(items)
    return True


def add_to_basket(entries: list[dict[str, Any]]) -> int:
    """Append entries not already in the basket; returns how many were added."""
    items = basket()
    new = [e for e in entries if e not in items]
    if new and not save_basket([*items, *new]):
        return 0
    return len(new)


def stored_answer(answer_id: str) -> dict[str, Any] | None:
    """A stored answer from the service (kept for the session), or None with the error shown."""
    cache: dict[str, dict[str, Any]] = st.session_state.setdefault("_answers", {})
    if answer_id not in cache:
        try:
            cache[answer_id] = client().answer(answer_id)
        except ServiceError as exc:
            st.error(f"Answer {answer_id} could not be opened: {exc}", icon=":material/error:")
            return None
    return cache[answer_id]
