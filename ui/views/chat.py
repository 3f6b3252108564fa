"""Chat: ask a question, get verbatim quotes with [n] citations to check against the source page."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from atmp_rag.cite import FORMATS, page_url
from ui.client import ServiceError, as_document
from ui.common import (
    CODE_LANGUAGE,
    FORMAT_FILES,
    FORMAT_LABELS,
    answer_html,
    citation_filename,
    cite_all,
    cite_as,
    client,
    documents,
    highlighted_html,
    official_link,
    page_phrase,
    plain_html,
    require_service,
    status_badge,
    status_icon,
)

EXAMPLES = (
    "What are the recommended long-term stability storage conditions?",
    "What are the two primary principles of quality risk management?",
    "How many batches are needed for stability data of a biotechnological drug substance?",
    "What should a pharmaceutical quality system cover?",
)
MODES = {"hybrid": "Hybrid", "bm25": "Lexical (BM25)", "dense": "Semantic (dense)"}

ready = require_service()
catalog = documents(ready["index"])
docs_by_id = {d["doc_id"]: d for d in catalog}
indexed = [d for d in catalog if d["indexed"]]
messages: list[dict[str, Any]] = st.session_state.setdefault("messages", [])


# ---------------------------------------------------------------- sidebar: what to search, how to cite

with st.sidebar:
    st.caption(f"Index `{ready['index']}` · {ready['documents']} guidelines · {ready['chunks']} passages")
    issuers = st.multiselect("Issuer", sorted({d["issuer"] for d in indexed}), key="f_issuers",
                             placeholder="All issuers")
    doc_ids = st.multiselect("Documents", [d["doc_id"] for d in indexed], key="f_docs", placeholder="All documents",
                             format_func=lambda i: f"{status_icon(docs_by_id[i]['status'])}"
                                                   f"{docs_by_id[i]['reference'] or i} — {docs_by_id[i]['title']}")
    include_superseded = st.toggle("Include superseded guidelines", value=True, key="f_superseded",
                                   help="Superseded guidelines stay searchable for history; their citations "
                                        "carry a warning.")
    k = st.slider("Passages (k)", 1, 20, 5, key="f_k", help="How many passages are retrieved as related reading.")
    mode = st.radio("Retrieval mode", list(MODES), format_func=MODES.get, key="f_mode")
    # Offer the generative mode only when the service has an LLM endpoint to use.
    answer_modes = ["extractive", "generative"] if ready.get("generative") else ["extractive"]
    answer_mode = st.radio("Answer mode", answer_modes, key="f_answer_mode",
                           format_func=str.capitalize,
                           help="Extractive: verbatim quotes only. Generative is offered when the service has an "
                                "LLM endpoint configured (ATMP_RAG_LLM_URL); its sentences are checked against "
                                "the cited passages.")
    fmt = st.selectbox("Citation format", FORMATS, format_func=FORMAT_LABELS.get, key="cite_fmt")
    if st.button("Clear conversation", icon=":material/delete_sweep:", key="clear", disabled=not messages):
        messages.clear()
        st.rerun()


# ---------------------------------------------------------------- asking

def ask(question: str) -> dict[str, Any]:
    """Ask the service and prepare everything the citation panels show (no further calls on rerun)."""
    statuses = [] if include_superseded else ["final", "draft"]
    api = client()
    started = time.perf_counter()
    try:
        answer = api.ask(question, k=k, mode=mode, answer_mode=answer_mode, issuers=issuers, doc_ids=doc_ids,
                         statuses=statuses, history=history())
    except ServiceError as exc:
        return {"role": "assistant", "error": str(exc)}
    elapsed = time.perf_counter() - started
    texts = {p["chunk"]["chunk_id"]: p["chunk"]["text"] for p in answer.get("related", [])}
    contexts: dict[int, str] = {}
    for c in answer["citations"]:
        contexts[c["n"]] = _context(api, c, texts)
    return {"role": "assistant", "answer": answer, "contexts": contexts, "seconds": elapsed,
            "settings": {"mode": mode, "k": k, "answer_mode": answer_mode}}


def history(turns: int = 3) -> list[dict[str, Any]]:
    """The last answered turns of this conversation (question and cited passages), for follow-up questions."""
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if m["role"] == "user" and i + 1 < len(messages) and "answer" in messages[i + 1]:
            cited = [c["chunk_id"] for c in messages[i + 1]["answer"]["citations"]]
            out.append({"question": m["content"], "chunk_ids": cited})
    return out[-turns:]


def _context(api: Any, citation: dict[str, Any], texts: dict[str, str]) -> str:
    """The cited passage with the quote highlighted; the page text around it if the passage cuts the quote."""
    try:
        if citation["chunk_id"] not in texts:
            texts[citation["chunk_id"]] = api.passage(citation["chunk_id"])["text"]
        shown = highlighted_html(texts[citation["chunk_id"]], citation["quote"])
        if shown is None:  # the sentence runs past the passage's end: show it on its page(s) instead
            page_text = "\n".join(api.page(citation["doc_id"], p)["text"] for p in citation["pages"])
            shown = highlighted_html(page_text, citation["quote"], window=700)
    except ServiceError:
        shown = None
    return shown or plain_html(citation["quote"])


# ---------------------------------------------------------------- rendering

def show_citation(citation: dict[str, Any], context: str, key: str) -> None:
    """One expander per citation: source, status, section, page, highlighted quote, link, cite this."""
    doc = docs_by_id.get(citation["doc_id"])
    pages, labels = citation["pages"], citation["page_labels"]
    label = (f"[{citation['n']}] {status_icon(citation['status'])}{citation['reference'] or citation['doc_id']} · "
             f"{page_phrase(labels, pages)} · {citation['section'] or 'no section heading'}")
    with st.expander(label):
        st.markdown(f"**{citation['title']}**  \n{citation['issuer']} · reference **{citation['reference']}** · "
                    f"{citation['version']} {status_badge(citation['status'])}")
        if citation.get("warning"):
            st.warning(citation["warning"], icon=":material/warning:")
        st.markdown(f"**Section:** {citation['section'] or '—'}  \n"
                    f"**Page:** {', '.join(dict.fromkeys(labels))} (PDF page {', '.join(map(str, pages))})")
        if citation.get("context"):
            st.caption(f"Read with: {' '.join(citation['context'].split())}")
        st.markdown(context, unsafe_allow_html=True)
        if citation.get("note"):
            st.caption(citation["note"].capitalize())
        st.caption(":material/verified: Quote verified verbatim against the stored page text."
                   if citation["verified"] else ":material/error: Quote could not be verified against the page.")
        st.markdown(official_link(citation["url"], pages[0]))
        st.markdown(f"**Cite this** ({FORMAT_LABELS[fmt]})")
        text = cite_as(citation, doc, fmt)
        st.code(text, language=CODE_LANGUAGE[fmt], wrap_lines=True)
        cols = st.columns(2)
        cols[0].download_button("Download", text, file_name=citation_filename(citation, fmt),
                                mime=FORMAT_FILES[fmt][1], icon=":material/download:", key=f"dl-{key}",
                                on_click="ignore")
        if cols[1].button("Open page in Documents", icon=":material/menu_book:", key=f"view-{key}"):
            st.session_state["viewer"] = {"doc_id": citation["doc_id"], "page": pages[0]}
            st.switch_page("views/documents.py")


def show_related(passages: list[dict[str, Any]], key: str) -> None:
    """Related reading of an abstention: the closest passages, each checkable at its page."""
    st.markdown("**Related reading** — the closest passages, not an answer:")
    for i, p in enumerate(passages):
        chunk, doc = p["chunk"], p["document"]
        pages = sorted({s["page"] for s in chunk["spans"]})
        with st.expander(f"{status_icon(doc['status'])}{doc['reference'] or doc['doc_id']} · "
                         f"{page_phrase(p.get('page_labels') or [], pages)} · "
                         f"{' › '.join(chunk['section_path']) or 'no section heading'}"):
            st.markdown(f"**{doc['title']}** {status_badge(doc['status'])}")
            st.markdown(plain_html(chunk["text"]), unsafe_allow_html=True)
            if pages:
                st.markdown(official_link(page_url(as_document(doc), pages[0]), pages[0]))
            if st.button("Open page in Documents", icon=":material/menu_book:", key=f"rel-{key}-{i}"):
                st.session_state["viewer"] = {"doc_id": doc["doc_id"], "page": pages[0] if pages else 1}
                st.switch_page("views/documents.py")


def show_answer(message: dict[str, Any], key: str) -> None:
    """An assistant turn: warnings first, then the answer with [n] markers and its citations."""
    if "error" in message:
        st.error(message["error"], icon=":material/error:")
        return
    answer = message["answer"]
    for w in answer.get("warnings", []):
        st.warning(w, icon=":material/warning:")
    if answer["abstained"]:
        st.info(f"**No answer (abstained).** {answer.get('message') or ''}", icon=":material/block:")
        show_related(answer.get("related", []), key)
        return
    if answer.get("retrieval_query"):
        st.caption(f"Read as a follow-up: searched for “{answer['retrieval_query']}”")
    st.markdown(answer_html(answer["answer"]), unsafe_allow_html=True)
    st.caption(f"{len(answer['citations'])} verbatim quotes · {answer['mode']} answer · "
               f"{MODES.get(message['settings']['mode'], '')} retrieval · {message['seconds']:.2f} s")
    for c in answer["citations"]:
        show_citation(c, message["contexts"][c["n"]], f"{key}-{c['n']}")
    with st.expander(f"All citations ({FORMAT_LABELS[fmt]})"):
        bibliography = cite_all(answer["citations"], docs_by_id, fmt)
        st.code(bibliography, language=CODE_LANGUAGE[fmt], wrap_lines=True)
        st.download_button("Download all", bibliography, file_name=f"citations.{FORMAT_FILES[fmt][0]}",
                           mime=FORMAT_FILES[fmt][1], icon=":material/download:", key=f"dl-all-{key}",
                           on_click="ignore")


# ---------------------------------------------------------------- page

st.title("Ask the guidelines")
question = st.chat_input("Ask a regulatory question (e.g. about stability, quality risk management, GMP)…",
                         key="question")

if not messages and not question:
    st.markdown("Answers are **verbatim sentences** from the indexed EMA/ICH guidelines. Each carries a "
                "[n] marker; open the source below the answer to check the quote on its page, follow the link "
                "to the official PDF, and copy the citation. When the guidelines do not cover a question the "
                "app says so and lists related reading instead of guessing.")
    st.markdown("**Try an example:**")
    cols = st.columns(2)
    for i, example in enumerate(EXAMPLES):
        if cols[i % 2].button(example, key=f"example-{i}", width="stretch"):
            question = example

for i, message in enumerate(messages):
    with st.chat_message(message["role"]):
        if message["role"] == "user":
            st.markdown(message["content"])
        else:
            show_answer(message, str(i))

if question:
    messages.append({"role": "user", "content": question})
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"), st.spinner("Searching the guidelines…"):
        reply = ask(question)
    messages.append(reply)
    # Rerun so the new turn renders through the same path as history (and the intro disappears).
    st.rerun()
