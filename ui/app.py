"""atmp-rag Streamlit app: Chat, Documents, Basket and Evaluation pages, a pure HTTP client of the FastAPI service.

Run with `atmp-rag ui` (or `atmp-rag up` for service and app together). Configuration comes from
`ATMP_RAG_*` variables: ATMP_RAG_UI__API_URL (default http://127.0.0.1:8000), ATMP_RAG_UI__API_KEY (or
ATMP_RAG_API_KEY). The app imports nothing that loads a model, an index or a PDF: it needs only
`pip install 'atmp-rag[ui]'` and a reachable service.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run ui/app.py` puts ui/ on sys.path, not the repository root; pages import `ui.*`.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ui.common import CSS, basket_id  # noqa: E402

HERE = Path(__file__).resolve().parent

st.set_page_config(page_title="atmp-rag", page_icon=":material/biotech:", layout="wide")
st.markdown(CSS, unsafe_allow_html=True)
# The basket's id rides in the URL on every page, so a reload (or a bookmark) finds the same basket.
basket_id()

pages = [
    st.Page(HERE / "views" / "chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page(HERE / "views" / "documents.py", title="Documents", icon=":material/description:"),
    st.Page(HERE / "views" / "basket.py", title="Basket", icon=":material/shopping_basket:"),
    st.Page(HERE / "views" / "evaluation.py", title="Evaluation", icon=":material/monitoring:"),
]
st.navigation(pages).run()
