"""Save an evaluation run: result JSON, a Markdown report and one PNG bar chart per metric."""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

from atmp_rag.evaluation.runs import EvaluationResult

log = logging.getLogger(__name__)

RESULT_FILE = "result.json"
REPORT_FILE = "report.md"


def default_out_dir(result: EvaluationResult, eval_dir: Path) -> Path:
    """``<eval_dir>/runs/<UTC timestamp>-<dataset>[-<split>]``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.strptime(result.started_at, "%Y-%m-%dT%H:%M:%SZ"))
    suffix = f"-{result.split}" if result.kind == "regulatory" and result.split != "all" else ""
    return eval_dir / "runs" / f"{stamp}-{result.dataset}{suffix}"


def _slug(metric: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", metric.lower()).strip("_")


def write_charts(result: EvaluationResult, folder: Path) -> list[Path]:
    """One bar chart per metric with a bar per mode (PNG, headless matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers or in CI
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    modes = list(summary)
    metrics = list(dict.fromkeys(m for mode in modes for m in summary[mode]))
    paths = []
    for metric in metrics:
        values = [summary[mode].get(metric, 0.0) for mode in modes]
        fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(modes), 3.2), dpi=110)
        bars = ax.bar(modes, values, color=["#4C72B0", "#DD8452", "#55A868", "#C44E52"][: len(modes)])
        ax.bar_label(bars, labels=[f"{v:.3f}" if "latency" not in metric else f"{v:.1f}" for v in values],
                     fontsize=8)
        ax.set_title(f"{result.dataset} ({result.split}): {metric}", fontsize=10)
        if "latency" not in metric:
            ax.set_ylim(0, max(1.0, max(values) * 1.1))
        ax.tick_params(labelsize=8)
        fig.tight_layout()
        path = folder / f"{_slug(metric)}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def render_markdown(result: EvaluationResult, charts: list[Path], base: Path) -> str:
    """The Markdown report: provenance, metric table, latency, significance tests, notes, charts."""
    summary = result.summary()
    modes = list(summary)
    metrics = [m for m in dict.fromkeys(m for mode in modes for m in summary[mode]) if "latency" not in m]
    # Runs saved before settings were grouped hold the retrieval knobs at the top level.
    retrieval = result.settings.get("retrieval") or result.settings
    lines = [
        f"# Evaluation: {result.dataset} ({result.split})",
        "",
        f"- started {result.started_at}, {result.seconds:.1f} s; {result.n_queries} judged queries"
        + (f", {result.n_unanswerable} unanswerable" if result.n_unanswerable else ""),
        f"- dataset `{result.dataset_path}` (sha256 {result.dataset_hash})",
        f"- index `{result.index.get('name')}` ({result.index.get('chunks')} chunks), settings hash "
        f"`{result.settings_hash}`, git commit `{result.git_commit or 'unknown'}`",
        "- models: " + ", ".join(f"{k} = `{v}`" for k, v in result.models.items() if v),
        f"- retrieval depth {result.depth}; fusion {retrieval.get('fusion')} (rrf_k "
        f"{retrieval.get('rrf_k')}, candidates {retrieval.get('candidates')})",
        "",
        "## Metrics",
        "",
        "| metric | " + " | ".join(modes) + " |",
        "|---|" + "---:|" * len(modes),
    ]
    for m in metrics:
        best = max(summary[mode].get(m, 0.0) for mode in modes)
        cells = []
        for mode in modes:
            v = summary[mode].get(m)
            cells.append("" if v is None else (f"**{v:.4f}**" if v == best and len(modes) > 1 else f"{v:.4f}"))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += ["", "## Latency per query (ms)", "",
              "| mode | p50 | p95 | mean | mode total (s) |", "|---|---:|---:|---:|---:|"]
    for mode, res in result.results.items():
        lat = res.latency_ms
        lines.append(f"| {mode} | {lat['p50']:.1f} | {lat['p95']:.1f} | {lat['mean']:.1f} | {res.seconds:.1f} |")
    if any(res.answer_latency_ms for res in result.results.values()):
        lines += ["", "Answer composition (retrieval + extractive answer), ms:", "",
                  "| mode | p50 | p95 |", "|---|---:|---:|"]
        for mode, res in result.results.items():
            if res.answer_latency_ms:
                lines.append(f"| {mode} | {res.answer_latency_ms['p50']:.1f} | {res.answer_latency_ms['p95']:.1f} |")
    if result.comparisons:
        test = "paired Student t-test" if result.stat_test == "student" else "Fisher randomisation test"
        lines += ["", f"## Significance ({test}, ranx `compare`, p < 0.05)", "",
                  "| metric | A | B | A | B | p | W/T/L (A vs B) | significant |",
                  "|---|---|---|---:|---:|---:|---|---|"]
        for c in result.comparisons:
            # ranx's randomisation test reports 0 when no permutation reached the observed difference.
            p = "< 0.001" if c.test == "fisher" and c.p_value == 0 else f"{c.p_value:.4g}"
            lines.append(f"| {c.metric} | {c.a} | {c.b} | {c.a_score:.4f} | {c.b_score:.4f} | {p} | "
                         f"{c.wins}/{c.ties}/{c.losses} | {'yes' if c.significant else 'no'} |")
        lines += ["", "`hit_rate@5` here is page-hit@5 (a chunk is relevant when it meets a gold page)."
                  if result.kind == "regulatory" else ""]
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes[:50]]
        if len(result.notes) > 50:
            lines.append(f"- … and {len(result.notes) - 50} more (see result.json)")
    if charts:
        lines += ["", "## Charts", ""] + [f"![{c.stem}]({c.relative_to(base).as_posix()})" for c in charts]
    return "\n".join(lines).rstrip() + "\n"


def write_report(result: EvaluationResult, out_dir: Path, charts: bool = True) -> Path:
    """Write ``result.json``, ``report.md`` and charts into `out_dir`; return the report path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / RESULT_FILE).write_text(result.model_dump_json(indent=1), encoding="utf-8")
    pngs = write_charts(result, out_dir / "charts") if charts else []
    report = out_dir / REPORT_FILE
    report.write_text(render_markdown(result, pngs, out_dir), encoding="utf-8")
    log.info("evaluation report written to %s", report)
    return report


def load_result(path: Path) -> EvaluationResult:
    """Read a saved run (a result.json or the folder holding it)."""
    file = path / RESULT_FILE if path.is_dir() else path
    return EvaluationResult.model_validate_json(file.read_text(encoding="utf-8"))
