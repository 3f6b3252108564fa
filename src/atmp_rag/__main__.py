"""`python -m atmp_rag` runs the CLI."""

from atmp_rag.cli import app

app()
