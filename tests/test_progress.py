"""Progress without a terminal: plain lines with counts, rate and ETA (what `make up | tee log` shows)."""

from __future__ import annotations

import io
import re

from atmp_rag.progress import PlainProgress, progress


def test_plain_lines_carry_counts_rate_and_eta() -> None:
    out = io.StringIO()
    bar = PlainProgress(out, interval=0.0)
    task = bar.add_task("encode", total=100, unit="chunks")
    bar.advance(task, 40)
    bar.update(task, description="encode", pages=12)
    bar.advance(task, 60)
    bar.advance(task, 5)  # past the end: nothing more is printed
    lines = out.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert re.fullmatch(r"\d\d:\d\d:\d\d encode 0/100 chunks", lines[0])
    assert re.search(r"encode 40/100 chunks · [\d.]+ chunks/s · ETA \d+ s$", lines[1])
    assert "· 12 pages ·" in lines[2]
    assert re.search(r"encode 100/100 chunks · 12 pages · [\d.]+ chunks/s · done in \d+ s$", lines[3])


def test_plain_lines_are_rate_limited() -> None:
    out = io.StringIO()
    bar = PlainProgress(out, interval=3600)
    task = bar.add_task("extract", total=1000, unit="documents")
    for _ in range(999):
        bar.advance(task)
    assert len(out.getvalue().splitlines()) == 1  # the start line only
    bar.advance(task)
    assert out.getvalue().splitlines()[-1].split(" ", 1)[1].startswith("extract 1000/1000 documents")


def test_without_a_terminal_progress_is_plain_and_disabled_progress_is_silent() -> None:
    out = io.StringIO()  # not a TTY
    with progress(True, stream=out, interval=0) as bar:
        task = bar.add_task("extract", total=2, unit="documents")
        bar.advance(task, 2)
    assert "extract 2/2 documents" in out.getvalue()
    quiet = io.StringIO()
    with progress(False, stream=quiet) as bar:
        bar.advance(bar.add_task("extract", total=2), 2)
    assert quiet.getvalue() == ""
