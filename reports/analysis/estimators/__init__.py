"""Estimators: proportions, means, medians, frequencies, rankings, severity and round changes.

Each function takes the wide DataFrame and options and returns a new tidy DataFrame with one row
per group: first the overall row (group_var "" and group ""), then one block of rows per
disaggregation column (each disaggregated alone, not crossed). Shared output columns:

    group_var, group, [category], estimate, ci_low, ci_high, n, count, effective_n,
    dnk, pnta, missing, indicative

n is the unweighted denominator (answers other than dnk/pnta), count the unweighted numerator,
effective_n Kish's effective n (= n unweighted), dnk/pnta/missing the unweighted counts kept out
of the denominator, indicative True when n < 30. Groups with no rows (unused categories) get a
NaN estimate. Estimates are shares in 0–1, weighted when a weight column is given; their CIs
are Wilson intervals on the effective n.

One module per estimator family (proportions, centres, frequencies, rankings, severity, rounds),
with the output columns and the share arithmetic they all use in `common`.
"""

from __future__ import annotations

from reports.analysis.estimators.centres import (
    mean,
    median,
)
from reports.analysis.estimators.common import (
    ESTIMATE_COLUMNS,
    INDICATIVE_N,
    ProportionSpec,
    answer_status,
)
from reports.analysis.estimators.frequencies import (
    FREQUENCY_COLUMNS,
    frequencies,
    multiple_frequencies,
)
from reports.analysis.estimators.proportions import (
    proportion,
)
from reports.analysis.estimators.rankings import (
    RANKING_COLUMNS,
    rank_points,
    ranking,
)
from reports.analysis.estimators.rounds import (
    ROUND_COLUMNS,
    round_difference,
)
from reports.analysis.estimators.severity import (
    SEVERITY_MAX,
    SEVERITY_MEASURES,
    SEVERITY_OVERALL,
    SEVERITY_PREFIX,
    SeverityRules,
    severity,
    severity_summary,
    validate_severity_rules,
)

__all__ = [
    "ESTIMATE_COLUMNS",
    "FREQUENCY_COLUMNS",
    "INDICATIVE_N",
    "RANKING_COLUMNS",
    "ROUND_COLUMNS",
    "SEVERITY_MAX",
    "SEVERITY_MEASURES",
    "SEVERITY_OVERALL",
    "SEVERITY_PREFIX",
    "ProportionSpec",
    "SeverityRules",
    "answer_status",
    "frequencies",
    "mean",
    "median",
    "multiple_frequencies",
    "proportion",
    "rank_points",
    "ranking",
    "round_difference",
    "severity",
    "severity_summary",
    "validate_severity_rules",
]
