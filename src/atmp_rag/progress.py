"""Progress of slow work: rich bars on a terminal, plain timestamped lines in logs and CI.

A build run from `make up | tee log`, a CI job or a service supervisor has no terminal on stderr;
rich then draws nothing and a 7-minute ingest looked hung. `progress()` gives the same small API
(`add_task`, `advance`, `update`) either way: on a terminal a rich bar, otherwise one line per task
at most every `interval` seconds and when it completes, e.g.

    encode 450/1055 chunks · 30.1 chunks/s · ETA 20 s
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO


class ProgressLike(Protocol):
    """What callers use of a progress display (a subset of `rich.progress.Progress`)."""

    def add_task(self, description: str, total: float | None = ..., **fields: Any) -> Any: ...

    def advance(self, task_id: Any, advance: float = 1) -> None: ...

    def update(self, task_id: Any, **fields: Any) -> None: ...


@dataclass
class _Task:
    description: str
    total: float | None
    unit: str
    started: float
    completed: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)
    last_line: float = 0.0
    finished: bool = False


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class PlainProgress:
    """Progress as plain lines: `name done/total unit · rate · ETA`, rate-limited, plus the final line."""

    def __init__(self, stream: TextIO | None = None, interval: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self._tasks: list[_Task] = []

    def add_task(self, description: str, total: float | None = None, unit: str = "", **fields: Any) -> int:
        """Start a task; its first line is printed at once."""
        self._tasks.append(_Task(description, total, unit, time.monotonic(), fields=dict(fields)))
        task_id = len(self._tasks) - 1
        self._emit(self._tasks[task_id], force=True)
        return task_id

    def advance(self, task_id: int, advance: float = 1) -> None:
        """Count work done."""
        task = self._tasks[task_id]
        task.completed += advance
        self._emit(task)

    def update(self, task_id: int, **fields: Any) -> None:
        """Change the description, the completed count or extra fields (e.g. ``pages=120``)."""
        task = self._tasks[task_id]
        task.description = fields.pop("description", task.description)
        if "completed" in fields:
            task.completed = float(fields.pop("completed"))
        if "total" in fields:
            task.total = fields.pop("total")
        task.fields.update(fields)
        self._emit(task)

    def line(self, task: _Task) -> str:
        """The line describing a task now."""
        elapsed = time.monotonic() - task.started
        unit = f" {task.unit}" if task.unit else ""
        done = f"{task.completed:g}/{task.total:g}{unit}" if task.total else f"{task.completed:g}{unit}"
        parts = [f"{task.description} {done}"]
        parts += [f"{v} {k}" for k, v in task.fields.items() if v is not None and k != "unit"]
        if task.completed and elapsed > 0:
            rate = task.completed / elapsed
            parts.append(f"{rate:.1f} {task.unit or 'items'}/s")
            if task.total and task.completed < task.total:
                parts.append(f"ETA {_duration((task.total - task.completed) / rate)}")
        if task.total and task.completed >= task.total:
            parts.append(f"done in {_duration(elapsed)}")
        return " · ".join(parts)

    def _emit(self, task: _Task, force: bool = False) -> None:
        now = time.monotonic()
        complete = bool(task.total) and task.completed >= (task.total or 0)
        if task.finished or not (force or complete or now - task.last_line >= self.interval):
            return
        task.last_line = now
        task.finished = complete
        print(time.strftime("%H:%M:%S ") + self.line(task), file=self.stream, flush=True)


class _Silent:
    def add_task(self, description: str, total: float | None = None, **fields: Any) -> int:
        return 0

    def advance(self, task_id: int, advance: float = 1) -> None:
        return None

    def update(self, task_id: int, **fields: Any) -> None:
        return None


@contextlib.contextmanager
def progress(enabled: bool = True, stream: TextIO | None = None, interval: float = 5.0) -> Iterator[ProgressLike]:
    """A rich progress bar when `stream` (stderr) is a terminal, plain lines otherwise, nothing if not enabled."""
    stream = stream or sys.stderr
    if not enabled:
        yield _Silent()
        return
    if not stream.isatty():
        yield PlainProgress(stream, interval)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[unit]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  console=Console(file=stream), transient=False) as bar:
        original = bar.add_task

        def add_task(description: str, total: float | None = None, unit: str = "", **fields: Any) -> Any:
            return original(description, total=total, unit=unit, **fields)

        bar.add_task = add_task  # type: ignore[method-assign]
        yield bar
