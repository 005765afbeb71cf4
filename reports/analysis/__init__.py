"""Indicators with confidence intervals, the analysis-plan runner and small-cell suppression.

Pure functions (DataFrame, options) -> DataFrame: no I/O, no globals, inputs never mutated.
"""

from reports.analysis.conditions import (
    condition_columns,
    evaluate_condition,
    evaluate_known,
    parse_condition_text,
    render_condition,
    validate_condition,
)
from reports.analysis.design import SurveyDesign
from reports.analysis.errors import AnalysisError
from reports.analysis.estimators import (
    ProportionSpec,
    frequencies,
    mean,
    median,
    multiple_frequencies,
    proportion,
    rank_points,
    ranking,
    round_difference,
    severity,
    severity_summary,
)
from reports.analysis.intervals import (
    difference_interval,
    kish_effective_n,
    mean_interval,
    median_interval,
    validate_weights,
    wilson_interval,
)
from reports.analysis.plan import (
    AnalysisPlan,
    Indicator,
    PlanResult,
    automatic_plan,
    plan_from_mapping,
    plan_to_mapping,
    run_plan,
)
from reports.analysis.suppression import apply_to_estimates, suppress_small_cells, suppressed_view

__all__ = [
    "AnalysisError",
    "AnalysisPlan",
    "Indicator",
    "PlanResult",
    "ProportionSpec",
    "SurveyDesign",
    "apply_to_estimates",
    "automatic_plan",
    "condition_columns",
    "difference_interval",
    "evaluate_condition",
    "evaluate_known",
    "frequencies",
    "kish_effective_n",
    "mean",
    "mean_interval",
    "median",
    "median_interval",
    "multiple_frequencies",
    "parse_condition_text",
    "plan_from_mapping",
    "plan_to_mapping",
    "proportion",
    "rank_points",
    "ranking",
    "render_condition",
    "round_difference",
    "run_plan",
    "severity",
    "severity_summary",
    "suppress_small_cells",
    "suppressed_view",
    "validate_condition",
    "validate_weights",
    "wilson_interval",
]
