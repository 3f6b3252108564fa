"""Streamlit front end of atmp-rag: a client of the FastAPI service (see `ui/app.py`)."""
