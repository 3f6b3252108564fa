"""A newcomer's first run: a taken port is reported in a second, before any slow step, with the way out."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

ATMP_RAG = str(Path(sys.executable).with_name("atmp-rag"))


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def run(args: list[str], cwd: Path = ROOT) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATMP_RAG_")}
    started = time.monotonic()
    out = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    return out, time.monotonic() - started


def test_up_reports_a_taken_api_port_before_syncing_or_building(taken_port: int, tmp_path: Path) -> None:
    out, seconds = run([ATMP_RAG, "up", "--prepare", "--port", str(taken_port), "--index-dir", str(tmp_path)])
    assert out.returncode == 1
    assert f"port {taken_port} on 127.0.0.1 is already in use" in out.stderr
    assert "--port (make up PORT=8010) or ATMP_RAG_SERVICE__PORT" in out.stderr
    assert "corpus sync" not in out.stdout + out.stderr and list(tmp_path.iterdir()) == []  # nothing else ran
    assert seconds < 15


def free_port() -> int:
    """A port nothing listens on now (the API's default 8000 may be taken on a developer's machine)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_up_reports_a_taken_ui_port(taken_port: int) -> None:
    out, _ = run([ATMP_RAG, "up", "--port", str(free_port()), "--ui-port", str(taken_port)])
    assert out.returncode == 1 and "--ui-port (make up UI_PORT=8510) or ATMP_RAG_UI__PORT" in out.stderr


def test_serve_reports_a_taken_port_before_loading_the_model(taken_port: int) -> None:
    out, seconds = run([ATMP_RAG, "serve", "--port", str(taken_port)])
    assert out.returncode == 1 and "already in use" in out.stderr and "ATMP_RAG_SERVICE__PORT" in out.stderr
    assert seconds < 15


def test_make_checks_the_ports_before_installing(taken_port: int) -> None:
    out, seconds = run(["make", "check-ports", f"PORT={taken_port}"])
    assert out.returncode != 0 and f"port {taken_port}" in out.stderr and "make up PORT=8010" in out.stderr
    assert seconds < 10
