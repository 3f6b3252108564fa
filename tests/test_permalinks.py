"""Answer permalinks against real `atmp-rag serve` processes: they survive a restart and a new published index."""

from __future__ import annotations

import time

import httpx

from tests.conftest import ROOT, service_env
from tests.servers import free_tcp_port, running
from tests.test_chaos import private_copy, publish_revision, serve_cmd

QUESTION = "How many batches of drug substance are needed for stability data?"


def test_a_permalink_survives_a_restart_and_a_new_index(session_settings, session_index, tmp_path) -> None:
    s = private_copy(tmp_path, session_settings).replace({"service.answers_db": tmp_path / "var" / "answers.sqlite"})
    env = service_env(s)
    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    with running(serve_cmd(port), env, f"{url}/readyz", tmp_path / "serve1.log", ROOT, stop_timeout=15):
        asked = httpx.post(f"{url}/v1/ask", json={"question": QUESTION}, timeout=60).json()
        assert asked["answer_id"] and asked["citations"]
    assert s.service.answers_db.is_file(), "the answers database is where the setting says"

    port = free_tcp_port()
    url = f"http://127.0.0.1:{port}"
    with running(serve_cmd(port), env, f"{url}/readyz", tmp_path / "serve2.log", ROOT, stop_timeout=15):
        reopened = httpx.get(f"{url}/v1/answers/{asked['answer_id']}", timeout=30)
        assert reopened.status_code == 200, reopened.text
        first = reopened.json()
        assert first["index_changed"] is False
        assert {k: first[k] for k in asked} == asked, "the restart changes nothing of the answer"

        new_build = publish_revision(s, 1)
        # The service checks for a newly published index at most once a second.
        after = None
        for _ in range(50):
            after = httpx.get(f"{url}/v1/answers/{asked['answer_id']}", timeout=30).json()
            if after["index_changed"]:
                break
            time.sleep(0.2)
        assert after is not None and after["index_changed"] is True
        assert after["current_index"] == new_build.name and after["index"] == asked["index"]
        assert after["citations"] == asked["citations"]
        assert httpx.get(f"{url}/v1/answers/{'0' * 32}", timeout=30).status_code == 404
