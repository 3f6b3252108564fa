"""Retrieval evaluation: datasets (regulatory set, BEIR folders), runs, ranx metrics, reports.

Typical use (CLI, Streamlit page, tests)::

    result = run_evaluation("regulatory", "bm25,dense,hybrid", settings, progress=cb, split="dev")
    result.summary()                    # {mode: {metric: value}}
    write_report(result, out_dir)       # result.json, report.md, charts/*.png
"""

from atmp_rag.evaluation.datasets import (
    REGULATORY,
    BeirDataset,
    DatasetRef,
    Evidence,
    GoldPages,
    RegulatoryQuestion,
    beir_index,
    load_beir,
    load_questions,
    regulatory_questions_path,
    resolve_dataset,
)
from atmp_rag.evaluation.metrics import Comparison, compare_runs, evaluate_run, ranking_metrics
from atmp_rag.evaluation.quotes import QuoteCheck, check_evidence, normalize_ws
from atmp_rag.evaluation.report import default_out_dir, load_result, write_report
from atmp_rag.evaluation.runs import (
    EVAL_MODES,
    EvaluationResult,
    Hit,
    ModeResult,
    ProgressFn,
    QueryDetail,
    parse_modes,
    run_evaluation,
)

__all__ = [
    "EVAL_MODES",
    "REGULATORY",
    "BeirDataset",
    "Comparison",
    "DatasetRef",
    "EvaluationResult",
    "Evidence",
    "GoldPages",
    "Hit",
    "ModeResult",
    "ProgressFn",
    "QueryDetail",
    "QuoteCheck",
    "RegulatoryQuestion",
    "beir_index",
    "check_evidence",
    "compare_runs",
    "default_out_dir",
    "evaluate_run",
    "load_beir",
    "load_questions",
    "load_result",
    "normalize_ws",
    "parse_modes",
    "ranking_metrics",
    "regulatory_questions_path",
    "resolve_dataset",
    "run_evaluation",
    "write_report",
]
