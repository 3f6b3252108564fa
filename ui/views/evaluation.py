"""Evaluation: run retrieval metrics on the regulatory set or a BEIR dataset, inspect misses, compare runs.

Runs call `atmp_rag.evaluation.run_evaluation` in this app process, not through the service: an
evaluation is a long local batch job over the same index files (or a BEIR index it builds), it
needs no HTTP round trip per query, and the API has no evaluation route by design (a request
that runs for minutes would tie up a worker and time out at proxies).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from pydantic import ValidationError

from atmp_rag import evaluation as ev
from atmp_rag.evaluation.datasets import is_beir_folder
from atmp_rag.evaluation.report import REPORT_FILE, RESULT_FILE
from atmp_rag.store import IndexNotFound
from ui.common import settings

s = settings()
runs_dir = s.eval_dir / "runs"

st.title("Evaluation")
st.caption(f"Retrieval metrics against gold pages (regulatory set) or qrels (BEIR). Runs locally in this app "
           f"process on the index in `{s.index_dir}`; results are saved under `{runs_dir}`.")


def beir_datasets() -> list[str]:
    """BEIR folders under `settings.benchmarks_dir`."""
    root = s.benchmarks_dir
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and is_beir_folder(p))


def saved_runs() -> list[Path]:
    """Saved run folders, newest first (their names start with a UTC timestamp)."""
    if not runs_dir.is_dir():
        return []
    return sorted((p for p in runs_dir.iterdir() if (p / RESULT_FILE).is_file()), key=lambda p: p.name, reverse=True)


@st.cache_data(show_spinner=False, max_entries=32)
def load(path: str, mtime: float) -> ev.EvaluationResult:
    """A saved run (cached by path and modification time)."""
    try:
        return ev.load_result(Path(path))
    except ValidationError:
        # JSON has no NaN: a significance test without a p-value (identical runs) is saved as null.
        data = json.loads((Path(path) / RESULT_FILE).read_text(encoding="utf-8"))
        for c in data.get("comparisons", []):
            if c.get("p_value") is None:
                c["p_value"] = float("nan")
        return ev.EvaluationResult.model_validate(data)


def load_run(folder: Path) -> ev.EvaluationResult:
    """Read one saved run folder."""
    return load(str(folder), (folder / RESULT_FILE).stat().st_mtime)


# ---------------------------------------------------------------- run

with st.container(border=True):
    st.markdown("**New run**")
    beir = beir_datasets()
    c1, c2, c3 = st.columns([2, 3, 2])
    dataset = c1.selectbox("Dataset", ["regulatory", *beir], key="ev_dataset",
                           format_func=lambda d: "Regulatory questions (gold pages)" if d == "regulatory"
                           else f"BEIR: {d}")
    available = [m for m in ev.EVAL_MODES if not m.endswith("+rerank") or s.rerank_model]
    modes = c2.multiselect("Retrieval modes", available, default=[m for m in ("bm25", "dense", "hybrid")
                                                                    if m in available], key="ev_modes")
    split = c3.radio("Split", ["dev", "test", "all"], index=2, key="ev_split", horizontal=True,
                     help="BEIR: 'all' means the test qrels.")
    c4, c5, c6 = st.columns([2, 3, 2])
    k = c4.number_input("Cutoff k", min_value=1, max_value=100, value=10, key="ev_k")
    limit = c5.number_input("Only the first N queries (0 = all)", min_value=0, value=0, step=10, key="ev_limit",
                            help="For a quick check; limited runs are not comparable with full runs.")
    answers = c6.checkbox("Answer metrics", value=True, key="ev_answers", disabled=dataset != "regulatory",
                          help="Regulatory set: also compose answers and score citations and abstentions.")
    if dataset != "regulatory":
        st.caption("The first run on a BEIR dataset indexes its corpus (dense modes encode every record: minutes); "
                   "later runs reuse the cached index.")
    if st.button("Run evaluation", type="primary", icon=":material/play_arrow:", key="ev_run", disabled=not modes):
        bar = st.progress(0.0, text="starting…")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)

        try:
            result = ev.run_evaluation(dataset, modes, s, progress, k=int(k), split=split,
                                       answers=answers and dataset == "regulatory", limit=int(limit) or None)
        except (FileNotFoundError, IndexNotFound, ValueError) as exc:
            st.error(f"Evaluation failed: {exc}")
        else:
            folder = ev.default_out_dir(result, s.eval_dir)
            ev.write_report(result, folder)
            st.session_state["ev_show"] = folder.name
            st.success(f"Saved to `{folder}` ({result.seconds:.1f} s).", icon=":material/check_circle:")


# ---------------------------------------------------------------- results

runs = saved_runs()
if not runs:
    st.info("No saved runs yet: start one above (or with `atmp-rag eval`).", icon=":material/info:")
    st.stop()
names = [p.name for p in runs]
if st.session_state.get("ev_show") not in names:
    st.session_state["ev_show"] = names[0]
shown = st.selectbox("Show run", names, key="ev_show")
folder = runs_dir / shown
result = load_run(folder)
summary = result.summary()

st.subheader(f"{result.dataset} ({result.split}) — {result.n_queries} judged queries")
st.caption(f"started {result.started_at} · {result.seconds:.1f} s · index `{result.index.get('name')}` "
           f"({result.index.get('chunks')} chunks) · settings `{result.settings_hash}` · "
           f"commit `{(result.git_commit or 'unknown')[:10]}` · embed model `{result.models.get('embed_model')}`")

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

if result.comparisons:
    with st.expander("Significance tests between modes"):
        st.dataframe(pd.DataFrame([c.model_dump() for c in result.comparisons]), hide_index=True, width="stretch")


def _pages(file: str | None, doc_id: str | None, pages: list[int]) -> str:
    name = file or doc_id or "?"
    return f"{name} p. {', '.join(map(str, pages))}" if pages else name


def misses(mode_result: ev.ModeResult) -> list[dict[str, Any]]:
    """Queries whose gold was not in the top 5 (regulatory: no gold page; BEIR: no relevant record)."""
    rows = []
    for q in mode_result.queries:
        if not q.answerable:
            continue
        missed = q.page_hit is False if result.kind == "regulatory" else (q.first_relevant_rank or 10**9) > 5
        if not missed:
            continue
        rows.append({
            "id": q.qid,
            "question": q.query,
            "gold": "; ".join(_pages(g.file, g.doc_id, g.pages) for g in q.gold),
            "retrieved (top 5)": "; ".join(_pages(h.file, h.doc_id, h.pages) for h in q.hits[:5]),
            "first relevant rank": q.first_relevant_rank,
            "abstained": q.abstained,
        })
    return rows


st.markdown("**Misses** — questions whose gold pages are not among the top 5 retrieved passages")
miss_mode = st.radio("Mode", list(result.results), horizontal=True, key="ev_miss_mode")
missed = misses(result.results[miss_mode])
answerable = sum(1 for q in result.results[miss_mode].queries if q.answerable)
st.caption(f"{len(missed)} of {answerable} answerable questions missed in {miss_mode}.")
if missed:
    st.dataframe(pd.DataFrame(missed), hide_index=True, width="stretch",
                 column_config={"question": st.column_config.TextColumn(width="large")})

if result.notes:
    with st.expander(f"Notes ({len(result.notes)})"):
        st.markdown("\n".join(f"- {n}" for n in result.notes[:200]))

st.markdown("**Compare with saved runs**")
others = [n for n in names if n != shown]
same = [n for n in others if n.split("-", 1)[-1].startswith(result.dataset)]
picked = st.multiselect("Runs", others, default=same[:2], key="ev_compare",
                        help="Only runs on the same dataset, split and k are directly comparable.")
if picked:
    rows: dict[str, dict[str, float]] = {}
    for name in [shown, *picked]:
        other = load_run(runs_dir / name)
        for mode, values in other.summary().items():
            rows[f"{name} · {mode}"] = {"dataset": f"{other.dataset}/{other.split}/k={other.k}", **values}
    st.dataframe(pd.DataFrame.from_dict(rows, orient="index"), width="stretch")

d1, d2, _ = st.columns([1, 1, 3])
d1.download_button("result.json", (folder / RESULT_FILE).read_bytes(), file_name=f"{shown}-result.json",
                   mime="application/json", icon=":material/download:", key="ev_dl_json", on_click="ignore")
d2.download_button("report.md", (folder / REPORT_FILE).read_bytes() if (folder / REPORT_FILE).is_file() else b"",
                   file_name=f"{shown}-report.md", mime="text/markdown", icon=":material/download:",
                   key="ev_dl_md", on_click="ignore", disabled=not (folder / REPORT_FILE).is_file())
