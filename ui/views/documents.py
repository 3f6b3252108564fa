"""Documents: the guideline catalog, each document's section outline, and a page viewer (text and image).

Everything comes from the service, the page image included (rendered there from the indexed PDF,
with a cited sentence marked when the page was opened from a citation).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from ui.client import ServiceError
from ui.common import client, documents, official_link, require_service, status_badge, status_icon

ready = require_service()
catalog = documents(ready["index"])
by_id = {d["doc_id"]: d for d in catalog}

# A "show page" button elsewhere (Chat) hands over a document, a page and the ranges of its text to mark.
viewer = st.session_state.pop("viewer", None)
if viewer and viewer["doc_id"] in by_id:
    st.session_state["doc_select"] = viewer["doc_id"]
    st.session_state["page_no"] = viewer["page"]
    st.session_state["_page_doc"] = viewer["doc_id"]
    st.session_state["doc_search"] = ""
    st.session_state["highlight"] = {"doc_id": viewer["doc_id"], "page": viewer["page"],
                                     "ranges": [tuple(r) for r in viewer.get("highlight", [])]}
handed_over = bool(viewer)

st.title("Documents")


def _matches(doc: dict[str, Any], query: str) -> bool:
    haystack = " ".join(str(doc.get(f) or "") for f in ("doc_id", "issuer", "reference", "title", "version",
                                                           "status", "status_note", "file"))
    haystack += " " + " ".join(doc.get("topics") or [])
    return all(word in haystack.lower() for word in query.lower().split())


# ---------------------------------------------------------------- catalog table

n_indexed = sum(d["indexed"] for d in catalog)
# Opened from a citation, the page viewer comes first: the catalog folds away above it.
with st.expander(f"Catalog — {len(catalog)} guidelines, {n_indexed} indexed", expanded=not handed_over,
                 icon=":material/list:"):
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


page_col, outline_col = st.columns([3, 2])
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
    mark = st.session_state.get("highlight") or {}
    ranges = mark.get("ranges", []) if (mark.get("doc_id"), mark.get("page")) == (doc_id, page["number"]) else []
    image_tab = "Page image (cited text marked)" if ranges else "Page image"
    text_tab = "Page text (as indexed)"
    # Opened from a citation, the image with the quote marked is what the reader wants to see first.
    shown = st.tabs([text_tab, image_tab], default=image_tab if ranges else text_tab)
    with shown[0]:
        st.code(page["text"] or "(no text on this page)", language=None, wrap_lines=True, height=560)
    with shown[1]:
        if not page.get("image"):
            st.info("No page image: the service holds no copy of the indexed edition of this PDF.",
                    icon=":material/image_not_supported:")
        else:
            try:
                png = client().page_image(doc_id, page["number"], highlight=ranges)
            except ServiceError as exc:
                st.info(f"No page image: {exc}", icon=":material/image_not_supported:")
            else:
                st.image(png, caption=f"{doc['reference']}, PDF page {page['number']}"
                                      + (" — the cited text is marked in yellow" if ranges else ""))
