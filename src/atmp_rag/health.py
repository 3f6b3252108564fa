"""Local servers: is a port free before a long start, is a URL healthy, wait until it is.

One definition for the CLI (`serve`, `ui`, `up`), the tests and the benchmarks.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
import time


def port_problem(host: str, port: int) -> str | None:
    """Why `host:port` cannot be bound right now (e.g. another program listens there), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # Same option uvicorn and Streamlit use, so a port in TIME_WAIT does not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use (another atmp-rag or another program)"
            if exc.errno == errno.EACCES:
                return f"port {port} on {host} needs privileges this user does not have"
            return f"cannot bind {host}:{port} ({exc.strerror or exc})"
    return None


def free_tcp_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def is_healthy(url: str, timeout: float = 1.0) -> bool:
    """Whether `url` answers 200 now."""
    import httpx

    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class NotHealthy(RuntimeError):
    """A server did not become healthy in time, or its process exited first."""


def wait_healthy(url: str, timeout: float, proc: subprocess.Popen | None = None, interval: float = 0.2) -> float:
    """Poll `url` until it answers 200; returns the seconds waited. Raises NotHealthy on timeout or if `proc` exits."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc is not None and proc.poll() is not None:
            raise NotHealthy(f"process for {url} exited with code {proc.returncode}")
        if is_healthy(url, timeout=2.0):
            return time.monotonic() - started
        time.sleep(interval)
    raise NotHealthy(f"{url} not ready after {timeout:.0f} s")


def main(argv: list[str]) -> int:
    """`python -m atmp_rag.health PORT…`: exit 1 naming the first taken port on 127.0.0.1 (stdlib only, so
    `make up` can check before installing anything)."""
    for arg in argv:
        problem = port_problem("127.0.0.1", int(arg))
        if problem is not None:
            print(f"error: {problem}; choose others with make up PORT=8010 UI_PORT=8510 "
                  "(or ATMP_RAG_SERVICE__PORT / ATMP_RAG_UI__PORT)", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
