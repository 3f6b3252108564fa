"""Evaluation: start runs on the service, follow their progress and ETA, inspect misses, compare runs.

Runs are jobs of the service (`/v1/eval/runs`): they use its index and encoder, keep running when
this page is closed, and are saved where the service keeps evaluation runs.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from ui.client import ServiceError
from ui.common import client, documents, require_service

#: Seconds between two looks at a running job.
POLL_SECONDS = 1.0

ready = require_service()
api = client()

st.title("Evaluation")
st.caption(f"Retrieval and answer metrics against gold pages (regulatory set) or qrels (BEIR), computed by the "
           f"service on its index `{ready['index']}`; runs are saved there and listed below.")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60:02d} s"


def follow(job: dict[str, Any], bar: Any) -> dict[str, Any]:
    """Poll a job until it is done or failed, showing progress, elapsed time and the ETA."""
    while job["status"] in ("queued", "running"):
        bar.progress(min(max(float(job["progress"]), 0.0), 1.0),
                     text=f"{job['message'] or job['status']} · {_duration(job['elapsed_seconds'])} elapsed · "
                          f"ETA {_duration(job['eta_seconds']) if job['status'] == 'running' else 'after the queue'}")
        time.sleep(POLL_SECONDS)
        job = api.eval_run(job["id"])
    return job


# ---------------------------------------------------------------- run

try:
    options = api.eval_options()
except ServiceError as exc:
    st.error(str(exc))
    st.stop()

with st.container(border=True):
    st.markdown("**New run**")
    c1, c2, c3 = st.columns([2, 3, 2])
    dataset = c1.selectbox("Dataset", options["datasets"], key="ev_dataset",
                           format_func=lambda d: "Regulatory questions (gold pages)" if d == "regulatory"
                           else f"BEIR: {d}")
    modes = c2.multiselect("Retrieval modes", options["modes"],
                           default=[m for m in ("bm25", "dense", "hybrid") if m in options["modes"]], key="ev_modes")
    split = c3.radio("Split", options["splits"], index=options["splits"].index("all"), key="ev_split",
                     horizontal=True, help="BEIR: 'all' means the test qrels.")
    c4, c5, c6 = st.columns([2, 3, 2])
    k = c4.number_input("Cutoff k", min_value=1, max_value=100, value=10, key="ev_k")
    limit = c5.number_input("Only the first N queries (0 = all)", min_value=0, value=0, step=10, key="ev_limit",
                            help="For a quick check; limited runs are not comparable with full runs.")
    answers = c6.checkbox("Answer metrics", value=True, key="ev_answers", disabled=dataset != "regulatory",
                          help="Regulatory set: also compose answers and score citations and abstentions.")
    if dataset != "regulatory":
        st.caption("The first run on a BEIR dataset indexes its corpus on the service (dense modes encode every "
                   "record: minutes); later runs reuse the cached index.")
    if st.button("Run evaluation", type="primary", icon=":material/play_arrow:", key="ev_run", disabled=not modes):
        try:
            job = api.eval_start(dataset=dataset, modes=modes, split=split, k=int(k), limit=int(limit) or None,
                                 answers=bool(answers) and dataset == "regulatory")
            job = follow(job, st.progress(0.0, text="submitted…"))
        except ServiceError as exc:
            st.error(f"Evaluation failed: {exc}")
        else:
            if job["status"] == "failed":
                st.error(f"Evaluation failed: {job['error']}")
            else:
                st.session_state["ev_show"] = job["id"]
                st.success(f"Run `{job['id']}` finished in {job['elapsed_seconds']:.1f} s; saved on the service.",
                           icon=":material/check_circle:")


# ---------------------------------------------------------------- user feedback -> question drafts

def parse_pages(text: str) -> list[int]:
    """PDF page numbers from "12, 14-15" (raises ValueError saying what is wrong)."""
    pages: list[int] = []
    for part in (p.strip() for p in text.replace(";", ",").split(",")):
        if not part:
            continue
        first, _, last = part.partition("-")
        if not first.strip().isdigit() or (last and not last.strip().isdigit()):
            raise ValueError(f"“{part}” is not a page number or range (e.g. 12 or 14-15)")
        a, b = int(first), int(last or first)
        if a < 1 or b < a or b - a > 50:
            raise ValueError(f"“{part}” is not a valid page range")
        pages += range(a, b + 1)
    if not pages:
        raise ValueError("name at least one page")
    return list(dict.fromkeys(pages))


with st.expander("User feedback", expanded=True):
    try:
        feedback = api.feedback_list(limit=50)
    except ServiceError as exc:
        st.error(f"Feedback could not be read: {exc}")
        feedback = []
    if not feedback:
        st.caption("No feedback yet: thumbs up or down under an answer in Chat lands here.")
    else:
        st.dataframe(pd.DataFrame([{"when": f["created_at"].replace("T", " ")[:16], "rating": "👍" if f["rating"] ==
                                    "up" else "👎", "question": f["question"], "comment": f["comment"],
                                    "answer": f["answer_id"], "index": f["index"]} for f in feedback]),
                     hide_index=True, width="stretch",
                     column_config={"question": st.column_config.TextColumn(width="large")})
    down = [f for f in feedback if f["rating"] == "down"]
    if down:
        st.markdown("**Turn a thumbs-down question into an evaluation question draft** — saved on the service for "
                    "review; it never enters the gold set by itself.")
        pick = st.selectbox("Question", range(len(down)), key="draft_pick",
                            format_func=lambda i: f"{down[i]['question']} ({down[i]['created_at'][:10]})")
        indexed = [d for d in documents(ready["index"]) if d["indexed"]]
        doc = st.selectbox("Document that answers it", [d["doc_id"] for d in indexed], key="draft_doc")
        pages_text = st.text_input("PDF pages that answer it", key="draft_pages", placeholder="e.g. 12, 14-15")
        if st.button("Save draft", icon=":material/note_add:", key="draft_save"):
            try:
                pages = parse_pages(pages_text)
                draft = api.eval_draft(down[pick]["question"], [{"doc_id": doc, "page": p} for p in pages],
                                       answer_id=down[pick]["answer_id"], note=down[pick]["comment"])
            except (ValueError, ServiceError) as exc:
                st.error(f"Draft not saved: {exc}")
            else:
                st.success(f"Draft {draft['id']} saved for review.", icon=":material/check_circle:")
    try:
        drafts = api.eval_drafts()
    except ServiceError:
        drafts = []
    if drafts:
        st.markdown(f"**Evaluation question drafts awaiting review** ({len(drafts)})")
        st.dataframe(pd.DataFrame([{"id": d["id"], "question": d["question"],
                                    "pages": "; ".join(f"{p['doc_id']} p. {p['page']}" for p in d["pages"]),
                                    "note": d["note"], "saved": d["created_at"][:16]} for d in drafts]),
                     hide_index=True, width="stretch")


# ---------------------------------------------------------------- runs

try:
    listed = api.eval_runs()
except ServiceError as exc:
    st.error(str(exc))
    st.stop()
live = [r for r in listed if r["status"] in ("queued", "running")]
for r in live:
    st.progress(float(r["progress"]), text=f"`{r['id']}` {r['status']}: {r['message']} · ETA "
                                           f"{_duration(r['eta_seconds'])}")
if live:
    st.button("Refresh", icon=":material/refresh:", key="ev_refresh")
for r in (r for r in listed if r["status"] == "failed"):
    st.warning(f"Run `{r['id']}` failed: {r['error']}", icon=":material/error:")
saved = {r["id"]: r for r in listed if r["status"] == "done"}
if not saved:
    st.info("No saved runs yet: start one above (or with `atmp-rag eval` where the service runs).",
            icon=":material/info:")
    st.stop()
names = list(saved)
if st.session_state.get("ev_show") not in names:
    st.session_state["ev_show"] = names[0]
shown = st.selectbox("Show run", names, key="ev_show")


@st.cache_data(show_spinner=False, max_entries=16)
def load_result(base_url: str, run_id: str) -> dict[str, Any]:
    """The full result of a finished run (a finished run never changes: cached by id)."""
    return api.eval_result(run_id)


try:
    result = load_result(api.base_url, shown)
except ServiceError as exc:
    st.error(str(exc))
    st.stop()
summary = saved[shown]["summary"]

st.subheader(f"{result['dataset']} ({result['split']}) — {result['n_queries']} judged queries")
st.caption(f"started {result['started_at']} · {result['seconds']:.1f} s · index `{result['index'].get('name')}` "
           f"({result['index'].get('chunks')} chunks) · settings `{result['settings_hash']}` · "
           f"commit `{(result['git_commit'] or 'unknown')[:10]}` · embed model `{result['models'].get('embed_model')}`")

metrics = list(dict.fromkeys(m for values in summary.values() for m in values))
table = pd.DataFrame({mode: [summary[mode].get(m) for m in metrics] for mode in summary}, index=metrics)
st.markdown("**Metrics** (latency in ms per query)")
st.dataframe(table.style.format("{:.4f}", na_rep="—").highlight_max(axis=1, color="#d8f0d8",
                                                                     subset=pd.IndexSlice[
                                                                         [m for m in metrics if "latency" not in m],
                                                                         :]),
             width="stretch", height=38 + 35 * len(metrics))

st.markdown("**Per mode**")
quality = [m for m in metrics if "latency" not in m]
chart_cols = st.columns(min(3, len(summary)) or 1)
for i, (mode, values) in enumerate(summary.items()):
    with chart_cols[i % len(chart_cols)]:
        st.caption(mode)
        st.bar_chart(pd.DataFrame({"value": [values.get(m, 0.0) for m in quality]}, index=quality),
                     horizontal=True, height=60 + 22 * len(quality), y_label="", x_label="", sort=False)

if result["comparisons"]:
    with st.expander("Significance tests between modes"):
        st.dataframe(pd.DataFrame(result["comparisons"]), hide_index=True, width="stretch")


def _pages(file: str | None, doc_id: str | None, pages: list[int]) -> str:
    name = file or doc_id or "?"
    return f"{name} p. {', '.join(map(str, pages))}" if pages else name


def misses(mode_result: dict[str, Any]) -> list[dict[str, Any]]:
    """Queries whose gold was not in the top 5 (regulatory: no gold page; BEIR: no relevant record)."""
    rows = []
    for q in mode_result["queries"]:
        if not q["answerable"]:
            continue
        missed = q["page_hit"] is False if result["kind"] == "regulatory" else (q["first_relevant_rank"] or 10**9) > 5
        if not missed:
            continue
        rows.append({
            "id": q["qid"],
            "question": q["query"],
            "gold": "; ".join(_pages(g["file"], g["doc_id"], g["pages"]) for g in q["gold"]),
            "retrieved (top 5)": "; ".join(_pages(h["file"], h["doc_id"], h["pages"]) for h in q["hits"][:5]),
            "first relevant rank": q["first_relevant_rank"],
            "abstained": q["abstained"],
        })
    return rows


st.markdown("**Misses** — questions whose gold pages are not among the top 5 retrieved passages")
miss_mode = st.radio("Mode", list(result["results"]), horizontal=True, key="ev_miss_mode")
missed = misses(result["results"][miss_mode])
answerable = sum(1 for q in result["results"][miss_mode]["queries"] if q["answerable"])
st.caption(f"{len(missed)} of {answerable} answerable questions missed in {miss_mode}.")
if missed:
    st.dataframe(pd.DataFrame(missed), hide_index=True, width="stretch",
                 column_config={"question": st.column_config.TextColumn(width="large")})

if result["notes"]:
    with st.expander(f"Notes ({len(result['notes'])})"):
        st.markdown("\n".join(f"- {n}" for n in result["notes"][:200]))

st.markdown("**Compare with saved runs**")
others = [n for n in names if n != shown]
same = [n for n in others if saved[n]["request"]["dataset"] == result["dataset"]]
picked = st.multiselect("Runs", others, default=same[:2], key="ev_compare",
                        help="Only runs on the same dataset, split and k are directly comparable.")
if picked:
    rows: dict[str, dict[str, Any]] = {}
    for name in [shown, *picked]:
        req = saved[name]["request"]
        for mode, values in saved[name]["summary"].items():
            rows[f"{name} · {mode}"] = {"dataset": f"{req['dataset']}/{req['split']}/k={req['k']}", **values}
    st.dataframe(pd.DataFrame.from_dict(rows, orient="index"), width="stretch")

d1, d2, _ = st.columns([1, 1, 3])
d1.download_button("result.json", lambda: api.eval_file(shown, "result"), file_name=f"{shown}-result.json",
                   mime="application/json", icon=":material/download:", key="ev_dl_json", on_click="ignore")
d2.download_button("report.md", lambda: api.eval_file(shown, "report"), file_name=f"{shown}-report.md",
                   mime="text/markdown", icon=":material/download:", key="ev_dl_md", on_click="ignore")
