"""Documents: the guideline catalog, each document's section outline, and a page viewer (text and image)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.client import ServiceError
from ui.common import client, documents, official_link, require_service, settings, status_badge, status_icon
from ui.pdf import local_pdf, render_page

ready = require_service()
catalog = documents(ready["index"])
by_id = {d["doc_id"]: d for d in catalog}

# A "show page" button elsewhere (Chat) hands over a document and page.
viewer = st.session_state.pop("viewer", None)
if viewer and viewer["doc_id"] in by_id:
    st.session_state["doc_select"] = viewer["doc_id"]
    st.session_state["page_no"] = viewer["page"]
    st.session_state["_page_doc"] = viewer["doc_id"]
    st.session_state["doc_search"] = ""

st.title("Documents")


def _matches(doc: dict[str, Any], query: str) -> bool:
    haystack = " ".join(str(doc.get(f) or "") for f in ("doc_id", "issuer", "reference", "title", "version",
                                                           "status", "status_note", "file"))
    haystack += " " + " ".join(doc.get("topics") or [])
    return all(word in haystack.lower() for word in query.lower().split())


# ---------------------------------------------------------------- catalog table

left, right = st.columns([4, 1], vertical_alignment="bottom")
query = left.text_input("Search the catalog", key="doc_search",
                        placeholder="reference, title, issuer, topic, status… (all words must match)")
only_indexed = right.toggle("Indexed only", key="doc_indexed_only")
# Indexed guidelines first: they are the ones a question can be answered from.
rows = sorted((d for d in catalog if _matches(d, query) and (d["indexed"] or not only_indexed)),
              key=lambda d: (not d["indexed"], d["issuer"], d["reference"] or d["doc_id"]))
table = pd.DataFrame([{
    "Index": "indexed" if d["indexed"] else "missing",
    "Issuer": d["issuer"],
    "Reference": d["reference"] or d["doc_id"],
    "Title": d["title"],
    "Status": ("⚠️ " if d["status"] != "final" else "") + d["status"],
    "Date": d["effective_date"] or d["version"],
    "Pages": d["pages"],
    "Note": d["status_note"],
} for d in rows], columns=["Index", "Issuer", "Reference", "Title", "Status", "Date", "Pages", "Note"])
table["Pages"] = table["Pages"].astype("Int64")
st.dataframe(table, hide_index=True, width="stretch", height=min(420, 38 + 35 * max(1, len(rows))),
             column_config={"Title": st.column_config.TextColumn(width="large"),
                            "Pages": st.column_config.NumberColumn(format="%d", width="small")})
n_indexed = sum(d["indexed"] for d in catalog)
st.caption(f"{len(rows)} shown · {n_indexed} of {len(catalog)} catalogued guidelines are indexed. "
           "*missing*: the PDF is not in the index (`atmp-rag corpus sync`, then `atmp-rag ingest`).")


# ---------------------------------------------------------------- one document

choices = [d["doc_id"] for d in rows]
if st.session_state.get("doc_select") and st.session_state["doc_select"] not in choices:
    choices.insert(0, st.session_state["doc_select"])  # keep a handed-over choice visible under a search
doc_id = st.selectbox("Document", choices, key="doc_select", index=None, placeholder="Choose a document to read",
                      format_func=lambda i: f"{status_icon(by_id[i]['status'])}{by_id[i]['reference'] or i} — "
                                            f"{by_id[i]['title']}{'' if by_id[i]['indexed'] else ' (not indexed)'}")
if doc_id is None:
    st.stop()

try:
    detail = client().document(doc_id)
except ServiceError as exc:
    st.error(str(exc))
    st.stop()
doc, outline = detail["document"], detail["outline"]

st.subheader(doc["title"] or doc["doc_id"])
st.markdown(f"{doc['issuer']} · reference **{doc['reference']}** · {doc['version']} {status_badge(doc['status'])}")
# The service words the warning once (atmp_rag.cite.status_warning), the same as in chat citations.
if doc["status"] == "superseded":
    st.warning(f"{doc['status_warning']} Check the current version before relying on this text.",
               icon=":material/history:")
elif doc["status"] == "draft":
    st.warning(doc["status_warning"], icon=":material/edit_note:")
elif doc["status_note"]:
    st.caption(doc["status_note"])
links = [f"[Official PDF]({doc['pdf_url']})" if doc["pdf_url"] else "",
         f"[Landing page]({doc['landing_url']})" if doc["landing_url"] else ""]
if any(links):
    st.markdown(" · ".join(x for x in links if x))
if not doc["indexed"]:
    st.info("This guideline is catalogued but not indexed, so it has no outline or page text here.",
            icon=":material/info:")
    st.stop()

n_pages = int(doc["pages"] or 1)
# A newly chosen document opens at its first section rather than at the previous document's page.
if st.session_state.get("_page_doc") != doc_id:
    st.session_state["_page_doc"] = doc_id
    st.session_state["page_no"] = outline[0]["first_page"] if outline else 1
st.session_state["page_no"] = min(max(1, int(st.session_state.get("page_no", 1))), n_pages)


def _goto_section() -> None:
    entry = st.session_state.get("outline_pick")
    if entry is not None:
        st.session_state["page_no"] = outline[entry]["first_page"]


def _step(delta: int) -> None:
    st.session_state["page_no"] = min(max(1, st.session_state["page_no"] + delta), n_pages)


outline_col, page_col = st.columns([2, 3])
with outline_col:
    st.markdown(f"**Section outline** ({len(outline)} sections)")
    st.selectbox("Jump to section", range(len(outline)), key="outline_pick", index=None,
                 placeholder="Choose a section", on_change=_goto_section,
                 format_func=lambda i: f"{outline[i]['section']} (p. {outline[i]['first_page_label']})")
    st.dataframe(pd.DataFrame([{"Section": e["section"], "Page": e["first_page_label"], "PDF page": e["first_page"]}
                               for e in outline], columns=["Section", "Page", "PDF page"]),
                 hide_index=True, width="stretch", height=460)

with page_col:
    nav = st.columns([1, 2, 1], vertical_alignment="bottom")
    nav[0].button("Previous", icon=":material/chevron_left:", on_click=_step, args=(-1,), key="prev_page",
                  disabled=st.session_state["page_no"] <= 1, width="stretch")
    number = nav[1].number_input(f"PDF page (1–{n_pages})", min_value=1, max_value=n_pages, step=1, key="page_no")
    nav[2].button("Next", icon=":material/chevron_right:", on_click=_step, args=(1,), key="next_page",
                  disabled=st.session_state["page_no"] >= n_pages, width="stretch")
    try:
        page = client().page(doc_id, int(number))
    except ServiceError as exc:
        st.error(str(exc))
        st.stop()
    st.markdown(f"**Page {page['label'] or page['number']}** (PDF page {page['number']} of {n_pages})"
                + (f" · {page['kind']} page (not quoted in answers)" if page.get("kind", "content") != "content"
                   else ""))
    st.markdown(official_link(page["url"], page["number"]))
    text_tab, image_tab = st.tabs(["Page text (as indexed)", "Page image"])
    with text_tab:
        st.code(page["text"] or "(no text on this page)", language=None, wrap_lines=True, height=560)
    with image_tab:
        pdf_path, why_not = local_pdf(settings().corpus_dir, doc["file"], doc["sha256"])
        if pdf_path is None:
            st.info(f"No page image: {why_not}.", icon=":material/image_not_supported:")
        else:
            st.image(render_page(str(pdf_path), page["number"]),
                     caption=f"{doc['reference']}, PDF page {page['number']} (rendered from {pdf_path.name})")
