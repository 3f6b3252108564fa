"""Chat: ask a question, get verbatim quotes with [n] citations to check against the source page."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from atmp_rag.models import CitationFormat, RetrievalMode
from ui.client import ServiceError
from ui.common import (
    CODE_LANGUAGE,
    FORMAT_LABELS,
    FORMATS,
    add_to_basket,
    answer_html,
    client,
    documents,
    excerpt_html,
    formatted_citations,
    official_link,
    page_phrase,
    plain_html,
    require_service,
    status_badge,
    status_icon,
    stored_answer,
)

EXAMPLES = (
    "What are the recommended long-term stability storage conditions?",
    "What are the two primary principles of quality risk management?",
    "How many batches are needed for stability data of a biotechnological drug substance?",
    "What should a pharmaceutical quality system cover?",
)
#: How the retrieval modes (`atmp_rag.models.RetrievalMode`) are offered, hybrid first.
MODES = {RetrievalMode.hybrid.value: "Hybrid", RetrievalMode.bm25.value: "Lexical (BM25)",
         RetrievalMode.dense.value: "Semantic (dense)"}

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
                                "LLM endpoint configured (ATMP_RAG_GENERATION__URL); its sentences are checked against "
                                "the cited passages.")
    fmt = st.selectbox("Citation format", FORMATS, format_func=FORMAT_LABELS.get, key="cite_fmt")
    if st.button("Clear conversation", icon=":material/delete_sweep:", key="clear", disabled=not messages):
        messages.clear()
        st.session_state.pop("_cited", None)  # formatted citations are keyed by message position
        st.rerun()


# ---------------------------------------------------------------- asking

def ask(question: str) -> dict[str, Any]:
    """Ask the service: one request brings the answer, its citations and the page text around each quote."""
    statuses = [] if include_superseded else ["final", "draft"]
    started = time.perf_counter()
    try:
        answer = client().ask(question, k=k, mode=mode, answer_mode=answer_mode, issuers=issuers, doc_ids=doc_ids,
                              statuses=statuses, history=history())
    except ServiceError as exc:
        return {"role": "assistant", "error": str(exc)}
    return {"role": "assistant", "answer": answer, "seconds": time.perf_counter() - started,
            "settings": {"mode": mode, "k": k, "answer_mode": answer_mode}}


def history(turns: int = 3) -> list[dict[str, Any]]:
    """The last answered turns of this conversation (question and cited passages), for follow-up questions."""
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        if m["role"] == "user" and i + 1 < len(messages) and "answer" in messages[i + 1]:
            cited = [c["chunk_id"] for c in messages[i + 1]["answer"]["citations"]]
            out.append({"question": m["content"], "chunk_ids": cited})
    return out[-turns:]


def open_page(doc_id: str, page: int, highlight: list[tuple[int, int]] | None = None) -> None:
    """Hand a page (and the ranges to mark on it) to the Documents page, which opens at its viewer."""
    st.session_state["viewer"] = {"doc_id": doc_id, "page": page, "highlight": highlight or []}
    st.switch_page("views/documents.py")


# ---------------------------------------------------------------- rendering

def show_citation(citation: dict[str, Any], excerpt: dict[str, Any] | None, cited: dict[str, Any] | None,
                  index: int, key: str, answer_id: str = "") -> None:
    """One expander per citation: source, status, section, page, highlighted quote, link, cite this."""
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
        st.markdown(excerpt_html(excerpt, citation["quote"]), unsafe_allow_html=True)
        if citation.get("note"):
            st.caption(citation["note"].capitalize())
        st.caption(":material/verified: Quote verified verbatim against the stored page text."
                   if citation["verified"] else ":material/error: Quote could not be verified against the page.")
        st.markdown(official_link(citation["url"], pages[0]))
        st.markdown(f"**Cite this** ({FORMAT_LABELS[fmt]})")
        if cited is not None:
            text = cited["items"][index]
            st.code(text, language=CODE_LANGUAGE[fmt], wrap_lines=True)
        cols = st.columns(3)
        if cited is not None:
            cols[0].download_button("Download", text, file_name=cited["filenames"][index],
                                    mime=CitationFormat(fmt).media_type, icon=":material/download:", key=f"dl-{key}",
                                    on_click="ignore")
        if answer_id and cols[2].button("Add to basket", icon=":material/shopping_basket:", key=f"basket-{key}"):
            added = add_to_basket([{"answer_id": answer_id, "n": citation["n"]}])
            st.toast(f"[{citation['n']}] added to the basket." if added else "Already in the basket.")
        if cols[1].button("Open page in Documents", icon=":material/menu_book:", key=f"view-{key}"):
            first = pages[0]
            open_page(citation["doc_id"], first,
                      [(s["start"], s["end"]) for s in citation.get("spans", []) if s["page"] == first])


def show_related(passages: list[dict[str, Any]], key: str) -> None:
    """Related reading of an abstention: the closest passages, each checkable at its page."""
    st.markdown("**Related reading** — the closest passages, not an answer:")
    for i, p in enumerate(passages):
        pages = p["pages"]
        with st.expander(f"{status_icon(p['status'])}{p['reference'] or p['doc_id']} · "
                         f"{page_phrase(p.get('page_labels') or [], pages)} · "
                         f"{p['section'] or 'no section heading'}"):
            st.markdown(f"**{p['title']}** {status_badge(p['status'])}")
            st.markdown(plain_html(p["text"]), unsafe_allow_html=True)
            if pages:
                st.markdown(official_link(p["url"], pages[0]))
            if st.button("Open page in Documents", icon=":material/menu_book:", key=f"rel-{key}-{i}"):
                open_page(p["doc_id"], pages[0] if pages else 1)


def show_answer(message: dict[str, Any], key: str) -> None:
    """An assistant turn: warnings first, then the answer with [n] markers and its citations."""
    if "error" in message:
        st.error(message["error"], icon=":material/error:")
        return
    answer = message["answer"]
    if answer.get("index_changed"):
        st.info(f"This answer was given on {answer.get('created_at', '')[:16].replace('T', ' ')} from index "
                f"`{answer['index']}`; the service now serves `{answer['current_index']}`. It is shown as it was "
                "given: ask again for the answer of the current index.", icon=":material/update:")
    for w in answer.get("warnings", []):
        st.warning(w, icon=":material/warning:")
    if answer["abstained"]:
        st.info(f"**No answer (abstained).** {answer.get('message') or ''}", icon=":material/block:")
        show_related(answer.get("related", []), key)
        return
    if answer.get("retrieval_query"):
        st.caption(f"Read as a follow-up: searched for “{answer['retrieval_query']}”")
    st.markdown(answer_html(answer["answer"]), unsafe_allow_html=True)
    timing = f" · {MODES.get(message['settings']['mode'], '')} retrieval · {message['seconds']:.2f} s" \
        if message.get("seconds") is not None else " · reopened from its permalink"
    st.caption(f"{len(answer['citations'])} verbatim quotes · {answer['mode']} answer{timing}")
    excerpts = {e["n"]: e for e in answer.get("excerpts", [])}
    # One request formats every citation of this answer in the chosen format (cached across reruns).
    cited = formatted_citations(key, answer["citations"], fmt)
    for i, c in enumerate(answer["citations"]):
        show_citation(c, excerpts.get(c["n"]), cited, i, f"{key}-{c['n']}", answer.get("answer_id", ""))
    if cited is not None:
        with st.expander(f"All citations ({FORMAT_LABELS[fmt]})"):
            st.code(cited["citation"], language=CODE_LANGUAGE[fmt], wrap_lines=True)
            st.download_button("Download all", cited["citation"], file_name=cited["filename"],
                               mime=CitationFormat(fmt).media_type, icon=":material/download:", key=f"dl-all-{key}",
                               on_click="ignore")
    if answer.get("answer_id"):
        answer_tools(answer, key)


def answer_tools(answer: dict[str, Any], key: str) -> None:
    """Below an answer: add all its quotes to the basket, its permalink, and a thumbs up or down with a comment."""
    answer_id = answer["answer_id"]
    cols = st.columns([2, 3])
    if cols[0].button("Add answer to basket", icon=":material/shopping_basket:", key=f"basket-all-{key}"):
        added = add_to_basket([{"answer_id": answer_id, "n": c["n"]} for c in answer["citations"]])
        st.toast(f"{added} quote(s) added to the basket." if added else "Already in the basket.")
    cols[1].markdown(f"[:material/link: Permalink](?answer={answer_id})",
                     help="Reopens this answer as it was given, also after the index is rebuilt.")
    sent: dict[str, str] = st.session_state.setdefault("_feedback", {})
    if answer_id in sent:
        st.caption(f"Thanks: your {'thumbs up' if sent[answer_id] == 'up' else 'thumbs down'} was recorded.")
        return
    up, down, comment = st.columns([1, 1, 4])
    text = comment.text_input("Comment", key=f"fb-comment-{key}", max_chars=2000, label_visibility="collapsed",
                              placeholder="What was right or wrong? (optional)")
    for col, rating, label, icon in ((up, "up", "Helpful", ":material/thumb_up:"),
                                     (down, "down", "Not helpful", ":material/thumb_down:")):
        if col.button(label, icon=icon, key=f"fb-{rating}-{key}"):
            try:
                client().feedback(answer_id, rating, text or "")
            except ServiceError as exc:
                st.error(f"Feedback could not be sent: {exc}", icon=":material/error:")
            else:
                sent[answer_id] = rating
                st.rerun()


# ---------------------------------------------------------------- page

# A permalink (?answer=…) reopens a stored answer as the conversation's first turn, once per session.
permalink = st.query_params.get("answer", "")
if permalink and st.session_state.get("_opened_permalink") != permalink:
    st.session_state["_opened_permalink"] = permalink
    reopened = stored_answer(permalink)
    if reopened is not None:
        messages.clear()
        messages += [{"role": "user", "content": reopened["question"]},
                     {"role": "assistant", "answer": reopened, "seconds": None, "settings": {"mode": ""}}]

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
