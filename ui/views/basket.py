"""Basket: the quotes kept for citing, in the order they will be cited, exported as DOCX, Markdown or references.

Entries are quotes of stored answers (added from Chat) or whole passages; the basket is stored by the
service under this session's basket id (in the URL), so it survives a reload. Exports are made by the
service (`POST /v1/exports`): every quote verbatim, with its numbered reference and status warnings.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.client import ServiceError
from ui.common import (
    EXPORT_FORMATS,
    EXPORT_LABELS,
    basket,
    client,
    page_phrase,
    require_service,
    save_basket,
    status_icon,
    stored_answer,
)

require_service()
items = basket()

st.title("Reference basket")
st.caption("Quotes kept for citing, in citation order. Add them from Chat (“Add to basket” under a source or an "
           "answer); the basket is kept by the service for this browser tab's link, so a reload keeps it.")


def describe(item: dict[str, Any]) -> dict[str, Any] | None:
    """What an entry cites: {"label", "quote", "warning"}, or None when the service no longer has it."""
    if "answer_id" in item:
        answer = stored_answer(item["answer_id"])
        if answer is None:
            return None
        cited = [c for c in answer["citations"] if item.get("n") in (None, c["n"])]
        if not cited:
            return None
        c = cited[0]
        return {"label": f"{status_icon(c['status'])}{c['reference'] or c['doc_id']} · "
                         f"{page_phrase(c['page_labels'], c['pages'])} · from “{answer['question']}”",
                "quote": c["quote"], "warning": c.get("warning", "")}
    try:
        p = client().passage(item["chunk_id"])
    except ServiceError:
        return None
    return {"label": f"{status_icon(p['status'])}{p['reference'] or p['doc_id']} · "
                     f"{page_phrase(p.get('page_labels') or [], p['pages'])}", "quote": p["text"], "warning": ""}


def move(i: int, j: int) -> None:
    """Swap entries i and j and store the new order."""
    order = list(items)
    order[i], order[j] = order[j], order[i]
    save_basket(order)
    st.session_state.pop("_export", None)


if not items:
    st.info("The basket is empty.", icon=":material/shopping_basket:")
    st.stop()

for i, item in enumerate(items):
    shown = describe(item)
    with st.container(border=True):
        text, up, down, remove = st.columns([12, 1, 1, 1])
        if shown is None:
            text.warning(f"[{i + 1}] This entry is no longer available from the service: {item}")
        else:
            quote = " ".join(shown["quote"].split())
            text.markdown(f"**[{i + 1}]** {shown['label']}")
            text.caption(f"“{quote[:400]}{'…' if len(quote) > 400 else ''}”")
            if shown["warning"]:
                text.caption(f":material/warning: {shown['warning']}")
        if up.button("", icon=":material/arrow_upward:", key=f"up-{i}", disabled=i == 0, help="Move up"):
            move(i, i - 1)
            st.rerun()
        if down.button("", icon=":material/arrow_downward:", key=f"down-{i}", disabled=i == len(items) - 1,
                       help="Move down"):
            move(i, i + 1)
            st.rerun()
        if remove.button("", icon=":material/delete:", key=f"remove-{i}", help="Remove from the basket"):
            save_basket(items[:i] + items[i + 1:])
            st.session_state.pop("_export", None)
            st.rerun()

st.subheader("Export")
title = st.text_input("Document title", value="Guideline quotations", key="export_title", max_chars=300)
cols = st.columns(len(EXPORT_FORMATS))
for col, fmt in zip(cols, EXPORT_FORMATS, strict=True):
    if col.button(EXPORT_LABELS[fmt], icon=":material/file_export:", key=f"export-{fmt}"):
        try:
            st.session_state["_export"] = (fmt, *client().export(items, fmt, title))
        except ServiceError as exc:
            st.error(f"Export failed: {exc}", icon=":material/error:")
if "_export" in st.session_state:
    fmt, content, filename, media_type = st.session_state["_export"]
    st.download_button(f"Download {filename}", content, file_name=filename, mime=media_type.split(";")[0],
                       icon=":material/download:", key="export-download", type="primary", on_click="ignore")

if st.button("Empty the basket", icon=":material/delete_sweep:", key="basket-clear"):
    save_basket([])
    st.session_state.pop("_export", None)
    st.rerun()
