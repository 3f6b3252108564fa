"""The service's own small database: stored answers (permalinks), feedback, baskets, evaluation drafts.

One SQLite file (`settings.service.answers_db`) kept outside the index folder, so an answer asked today
can be reopened after a restart or a rebuild of the index. An answer is stored as the JSON the API
returned (question, citations with their page offsets, excerpts, related reading) together with the
name and settings hash of the index it was answered from; a reader compares that name with the index
served now to say whether the answer may have changed since.

The API serves requests from a thread pool: each thread keeps its own connection (WAL journal, busy
timeout). Connections are kept open because closing the last one checkpoints the journal, an fsync
that would cost every /v1/ask several milliseconds.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from atmp_rag.schemas import AskResponse

log = logging.getLogger(__name__)

Rating = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    index_name TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    answer_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL REFERENCES answers(answer_id),
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    comment TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS baskets (
    basket_id TEXT PRIMARY KEY,
    items_json TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS eval_drafts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question TEXT NOT NULL,
    answer_id TEXT,
    pages_json TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
"""


class UnknownAnswer(LookupError):
    """No answer is stored under this id."""


class StoredAnswer(BaseModel):
    """An answer as it was given: the API response plus when and from which index."""

    answer_id: str
    question: str
    index: str
    settings_hash: str
    created_at: str
    response: AskResponse


class FeedbackRecord(BaseModel):
    """A thumbs up or down on a stored answer, with the answer's question and index."""

    id: int
    answer_id: str
    rating: Rating
    comment: str = ""
    created_at: str
    question: str
    index: str


class EvalDraft(BaseModel):
    """A question a user says was answered badly, with the pages they say are right: for review, not gold."""

    id: int
    question: str
    answer_id: str | None = None
    pages: list[dict[str, Any]] = Field(default_factory=list)
    note: str = ""
    created_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class AnswerStore:
    """The SQLite file of answers, feedback, baskets and evaluation drafts (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._schema_lock = threading.Lock()
        self._ready = False

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, inside one transaction (committed on success, rolled back on error)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10)
            # WAL with NORMAL sync: a commit is no fsync (every /v1/ask writes one) and the file stays consistent.
            conn.execute("PRAGMA synchronous=NORMAL")
            with self._schema_lock:
                if not self._ready:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.executescript(_SCHEMA)
                    self._ready = True
            self._local.conn = conn
        with conn:
            yield conn

    # ------------------------------------------------------------ answers
    def save_answer(self, response: AskResponse, settings_hash: str) -> StoredAnswer:
        """Store an answer under a new id; returns it with the id set on the response too."""
        answer_id = uuid.uuid4().hex
        response = response.model_copy(update={"answer_id": answer_id})
        stored = StoredAnswer(answer_id=answer_id, question=response.question, index=response.index,
                              settings_hash=settings_hash, created_at=_now(), response=response)
        with self._connect() as conn:
            conn.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                         (answer_id, stored.question, stored.index, settings_hash, stored.created_at,
                          response.model_dump_json()))
        return stored

    def answer(self, answer_id: str) -> StoredAnswer | None:
        """The stored answer, or None for an unknown id."""
        with self._connect() as conn:
            row = conn.execute("SELECT answer_id, question, index_name, settings_hash, created_at, answer_json "
                               "FROM answers WHERE answer_id = ?", (answer_id,)).fetchone()
        if row is None:
            return None
        return StoredAnswer(answer_id=row[0], question=row[1], index=row[2], settings_hash=row[3], created_at=row[4],
                            response=AskResponse.model_validate_json(row[5]))

    # ------------------------------------------------------------ feedback
    def add_feedback(self, answer_id: str, rating: Rating, comment: str = "") -> FeedbackRecord:
        """Record a rating of a stored answer; raises UnknownAnswer for an id that was never answered."""
        with self._connect() as conn:
            row = conn.execute("SELECT question, index_name FROM answers WHERE answer_id = ?",
                               (answer_id,)).fetchone()
            if row is None:
                raise UnknownAnswer(answer_id)
            created = _now()
            cur = conn.execute("INSERT INTO feedback (answer_id, rating, comment, created_at) VALUES (?, ?, ?, ?)",
                               (answer_id, rating, comment, created))
            feedback_id = cur.lastrowid
        assert feedback_id is not None
        return FeedbackRecord(id=feedback_id, answer_id=answer_id, rating=rating, comment=comment,
                              created_at=created, question=row[0], index=row[1])

    def feedback(self, limit: int = 100, rating: Rating | None = None) -> list[FeedbackRecord]:
        """The most recent feedback first, with each answer's question and index."""
        sql = ("SELECT f.id, f.answer_id, f.rating, f.comment, f.created_at, a.question, a.index_name "
               "FROM feedback f JOIN answers a ON a.answer_id = f.answer_id")
        args: list[Any] = []
        if rating:
            sql += " WHERE f.rating = ?"
            args.append(rating)
        sql += " ORDER BY f.id DESC LIMIT ?"
        args.append(limit)
        with self._connect() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [FeedbackRecord(id=r[0], answer_id=r[1], rating=r[2], comment=r[3], created_at=r[4], question=r[5],
                               index=r[6]) for r in rows]

    # ------------------------------------------------------------ baskets
    def save_basket(self, basket_id: str, items: list[dict[str, Any]]) -> str:
        """Replace a basket's items (creating the basket); returns the update time."""
        updated = _now()
        with self._connect() as conn:
            conn.execute("INSERT INTO baskets VALUES (?, ?, ?) ON CONFLICT(basket_id) DO UPDATE SET "
                         "items_json = excluded.items_json, updated_at = excluded.updated_at",
                         (basket_id, json.dumps(items), updated))
        return updated

    def basket(self, basket_id: str) -> tuple[list[dict[str, Any]], str] | None:
        """A basket's items and update time, or None when it was never saved."""
        with self._connect() as conn:
            row = conn.execute("SELECT items_json, updated_at FROM baskets WHERE basket_id = ?",
                               (basket_id,)).fetchone()
        return None if row is None else (json.loads(row[0]), row[1])

    # ------------------------------------------------------------ evaluation drafts
    def add_draft(self, question: str, pages: list[dict[str, Any]], answer_id: str | None = None,
                  note: str = "") -> EvalDraft:
        """Save an evaluation question draft for review (never into the gold set)."""
        created = _now()
        with self._connect() as conn:
            cur = conn.execute("INSERT INTO eval_drafts (question, answer_id, pages_json, note, created_at) "
                               "VALUES (?, ?, ?, ?, ?)", (question, answer_id, json.dumps(pages), note, created))
            draft_id = cur.lastrowid
        assert draft_id is not None
        return EvalDraft(id=draft_id, question=question, answer_id=answer_id, pages=pages, note=note,
                         created_at=created)

    def drafts(self, limit: int = 100) -> list[EvalDraft]:
        """The most recent evaluation drafts first."""
        with self._connect() as conn:
            rows = conn.execute("SELECT id, question, answer_id, pages_json, note, created_at FROM eval_drafts "
                                "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [EvalDraft(id=r[0], question=r[1], answer_id=r[2], pages=json.loads(r[3]), note=r[4], created_at=r[5])
                for r in rows]
