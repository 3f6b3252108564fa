"""Real servers for tests: start a command on a free loopback port, wait until healthy, stop it."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from atmp_rag.health import NotHealthy, free_tcp_port, wait_healthy

__all__ = ["free_tcp_port", "running", "wait_http"]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers 200; fail the test early if `proc` exits."""
    try:
        wait_healthy(url, timeout, proc)
    except NotHealthy as exc:
        pytest.fail(str(exc))


@contextlib.contextmanager
def running(cmd: list[str], env: dict[str, str], health_url: str, log: Path, cwd: Path,
            timeout: float = 180, stop_timeout: float = 20) -> Iterator[subprocess.Popen]:
    """Run `cmd` (output to `log`) until the block ends; yields once `health_url` answers 200."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(health_url, timeout, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
