"""Design-based intervals (Taylor linearisation) checked against samplics and statsmodels.

The sample in data/design_sample.csv is a small stratified cluster sample (3 strata, 19 PSUs,
147 rows, unequal weights) written once by a seeded generator; the references are computed on
the spot by two independent implementations.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

with warnings.catch_warnings():
    # samplics warns on import that it is archived: it is a test reference only (dev extra)
    warnings.simplefilter("ignore", FutureWarning)
    from samplics import PopParam, TaylorEstimator

from reports.analysis import (
    AnalysisPlan,
    Indicator,
    ProportionSpec,
    SurveyDesign,
    frequencies,
    mean,
    proportion,
    run_plan,
)
from reports.analysis.errors import AnalysisError

DATA = Path(__file__).parent / "data" / "design_sample.csv"
DESIGN = SurveyDesign("weight", "stratum", "psu")
UNMET = ProportionSpec({"column": "unmet", "in": ["yes"]}, answered_column="unmet")


@pytest.fixture
def sample() -> pd.DataFrame:
    return pd.read_csv(DATA)


def _samplics(param, sample: pd.DataFrame, y, x=None, *, domain=None, psu="psu", strata=True):
    estimator = TaylorEstimator(param)
    estimator.estimate(
        y=np.asarray(y, dtype=float),
        x=None if x is None else np.asarray(x, dtype=float),
        samp_weight=sample["weight"].to_numpy(),
        stratum=sample["stratum"].to_numpy() if strata else None,
        psu=sample[psu].to_numpy(),
        domain=None if domain is None else sample[domain].to_numpy(),
    )
    return estimator


def _standard_error(row: pd.Series) -> float:
    """The SE behind a design-based Wilson interval: sqrt(p(1-p) / design effective n)."""
    return float(np.sqrt(row.estimate * (1 - row.estimate) / row.effective_n))


def test_shares_by_domain_match_samplics(sample: pd.DataFrame) -> None:
    table = proportion(sample, UNMET, by="sex", design=DESIGN)
    yes = (sample["unmet"] == "yes").astype(float)
    answered = (sample["unmet"] != "dnk").astype(float)
    overall = _samplics(PopParam.ratio, sample, yes, answered)
    domains = _samplics(PopParam.ratio, sample, yes, answered, domain="sex")
    first = table.iloc[0]
    assert first.estimate == pytest.approx(overall.point_est, rel=1e-12)
    assert _standard_error(first) == pytest.approx(overall.stderror, rel=1e-9)
    for _, row in table.iloc[1:].iterrows():
        assert row.estimate == pytest.approx(domains.point_est[row.group], rel=1e-12)
        assert _standard_error(row) == pytest.approx(domains.stderror[row.group], rel=1e-9)
    # Clustering makes the design effective n well below the n of 137 answers
    assert first.effective_n < 0.5 * first.n


def test_means_by_domain_match_samplics_including_the_t_interval(sample: pd.DataFrame) -> None:
    table = mean(sample, "spending", by="sex", design=DESIGN)
    reference = _samplics(PopParam.mean, sample, sample["spending"], domain="sex")
    for _, row in table.iloc[1:].iterrows():
        assert row.estimate == pytest.approx(reference.point_est[row.group], rel=1e-12)
        assert row.ci_low == pytest.approx(float(reference.lower_ci[row.group]), rel=1e-9)
        assert row.ci_high == pytest.approx(float(reference.upper_ci[row.group]), rel=1e-9)


def test_frequencies_match_samplics(sample: pd.DataFrame) -> None:
    table = frequencies(sample, "unmet", design=DESIGN)
    answered = (sample["unmet"] != "dnk").astype(float)
    for code in ("yes", "no"):
        row = table[(table.group == "") & (table.category == code)].iloc[0]
        hit = (sample["unmet"] == code).astype(float)
        reference = _samplics(PopParam.ratio, sample, hit, answered)
        assert _standard_error(row) == pytest.approx(reference.stderror, rel=1e-9)


def test_clusters_without_strata_match_statsmodels_cluster_robust_errors(
    sample: pd.DataFrame,
) -> None:
    # One stratum: the linearised variance is the cluster-robust sandwich of a weighted mean,
    # times G/(G-1) (statsmodels without its small-sample correction)
    spending = sample["spending"].to_numpy()
    fit = sm.WLS(spending, np.ones(len(sample)), weights=sample["weight"].to_numpy()).fit(
        cov_type="cluster",
        cov_kwds={"groups": pd.factorize(sample["psu"])[0], "use_correction": False},
    )
    clusters = sample["psu"].nunique()
    reference = float(np.sqrt(fit.cov_params()[0, 0] * clusters / (clusters - 1)))
    row = mean(sample, "spending", design=SurveyDesign("weight", cluster="psu")).iloc[0]
    half = stats.t.isf(0.025, clusters - 1) * reference
    assert row.estimate == pytest.approx(float(fit.params[0]), rel=1e-12)
    assert row.ci_high - row.estimate == pytest.approx(half, rel=1e-9)


def test_without_clusters_each_row_is_its_own_unit(sample: pd.DataFrame) -> None:
    design = SurveyDesign("weight")
    row = proportion(sample, UNMET, design=design).iloc[0]
    yes = (sample["unmet"] == "yes").astype(float)
    answered = (sample["unmet"] != "dnk").astype(float)
    reference = _samplics(
        PopParam.ratio,
        sample.assign(row=np.arange(len(sample))),
        yes,
        answered,
        psu="row",
        strata=False,
    )
    assert _standard_error(row) == pytest.approx(reference.stderror, rel=1e-9)


def test_roster_rows_are_clustered_in_their_household(sample: pd.DataFrame) -> None:
    # Respondents of the sample, each with two or three roster members sharing the answer
    respondents = sample.assign(_submission_id=np.arange(len(sample)))
    sizes = 2 + (np.arange(len(sample)) % 2)
    members = pd.DataFrame(
        {
            "_submission_id": np.repeat(respondents["_submission_id"], sizes),
            "member_unmet": np.repeat(respondents["unmet"], sizes),
        }
    ).reset_index(drop=True)
    indicator = Indicator(
        "member_unmet",
        {},
        "proportion",
        numerator={"column": "member_unmet", "in": ["yes"]},
        answered="member_unmet",
        unit="member",
    )
    design = SurveyDesign("weight", "stratum")
    result = run_plan(respondents, members, AnalysisPlan((indicator,), design=design))
    assert not result.problems
    row = result.table.iloc[0]
    joined = members.merge(respondents[["_submission_id", "weight", "stratum"]])
    reference = _samplics(
        PopParam.ratio,
        joined,
        (joined["member_unmet"] == "yes").astype(float),
        (joined["member_unmet"] != "dnk").astype(float),
        psu="_submission_id",
    )
    assert row.estimate == pytest.approx(reference.point_est, rel=1e-12)
    assert _standard_error(row) == pytest.approx(reference.stderror, rel=1e-9)


def test_design_problems_are_named(sample: pd.DataFrame) -> None:
    with pytest.raises(AnalysisError, match="'psu'"):
        proportion(sample.drop(columns="psu"), UNMET, design=DESIGN)
    with pytest.raises(AnalysisError, match="missing values"):
        proportion(sample.assign(stratum=None), UNMET, design=DESIGN)
