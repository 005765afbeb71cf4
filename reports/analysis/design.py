"""Design-based variances: Taylor linearisation with strata and clusters, vectorised.

Where the data carry design weights (and perhaps strata and primary sampling units), the
variance of a weighted share or mean is not the one of a simple random sample: Kish's effective
n only corrects for unequal weights. For a ratio R_g = Σ w·y / Σ w·x in domain g (a
disaggregation group; y the numerator, x the denominator indicator) the linearised variance is

    V(R_g) = Σ_h n_h/(n_h − 1) · Σ_{c in h} (z_gc − z̄_gh)²
    z_gc   = Σ_{i in c, g} w_i (y_i − R_g x_i) / X_g

with h the strata, c the clusters (PSUs) within them, n_h their number, X_g = Σ w·x: the
with-replacement (no finite population correction) estimator of Wolter (2007, ch. 6), as Stata's
`svy`, R's survey package and samplics compute it. Domains are estimated over the whole sample,
so a cluster without rows of the domain still counts (with z = 0). A stratum with a single
cluster adds nothing. Degrees of freedom: clusters − strata.

Arrays: per block, one bincount into a (groups × clusters) table and one product with the
(clusters × strata) indicator matrix, whatever the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from reports.analysis.errors import AnalysisError
from reports.analysis.intervals import validate_weights

Array = NDArray[np.float64]


@dataclass(frozen=True)
class SurveyDesign:
    """Column names of the design: weight (required), strata and clusters (PSUs), optional.

    Without a cluster column each row is its own sampling unit; without strata the sample is
    one stratum.
    """

    weight: str
    strata: str | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        """Names must be non-empty text."""
        for name in ("weight", "strata", "cluster"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise AnalysisError(f"The design's {name} must be a column name.")

    def columns(self) -> tuple[str, ...]:
        """Every column the design reads."""
        return tuple(name for name in (self.weight, self.strata, self.cluster) if name)


@dataclass(frozen=True)
class DesignArrays:
    """A design resolved on one frame: weights, cluster of each row, stratum of each cluster."""

    weights: Array
    cluster: NDArray[np.intp]  # per row, 0..K-1, clusters nested in strata
    indicator: Array  # (K, H) one-hot stratum of each cluster
    factor: Array  # (H,) n_h / (n_h - 1), 0 for strata with one cluster
    degrees_of_freedom: int

    @property
    def clusters(self) -> int:
        """Number of clusters (PSUs) in the sample."""
        return int(self.indicator.shape[0])


def _codes(series: pd.Series, what: str, name: str) -> NDArray[np.intp]:
    """Integer codes of a design column; missing values are refused."""
    codes, _uniques = pd.factorize(series, sort=False, use_na_sentinel=True)
    if (codes < 0).any():
        raise AnalysisError(
            f"The {what} column '{name}' has missing values ({int((codes < 0).sum())} rows)."
        )
    return codes.astype(np.intp)


def resolve_design(df: pd.DataFrame, design: SurveyDesign) -> DesignArrays:
    """The design's arrays for df (AnalysisError for a missing column or missing values)."""
    for name in design.columns():
        if name not in df.columns:
            raise AnalysisError(f"Design column '{name}' is not in the data.")
    weights = validate_weights(df[design.weight].to_numpy(dtype=float, na_value=np.nan))
    size = len(df)
    stratum = (
        _codes(df[design.strata], "strata", design.strata)
        if design.strata
        else np.zeros(size, dtype=np.intp)
    )
    if design.cluster:
        within = _codes(df[design.cluster], "cluster", design.cluster)
        # A cluster code reused in two strata is two clusters (nested design)
        pair = stratum.astype(np.int64) * (int(within.max(initial=0)) + 1) + within
        cluster = pd.factorize(pair, sort=False)[0].astype(np.intp)
    else:
        cluster = np.arange(size, dtype=np.intp)
    clusters = int(cluster.max(initial=-1)) + 1
    strata = int(stratum.max(initial=-1)) + 1
    cluster_stratum = np.zeros(clusters, dtype=np.intp)
    cluster_stratum[cluster] = stratum
    indicator = np.zeros((clusters, max(strata, 1)))
    indicator[np.arange(clusters), cluster_stratum] = 1.0
    per_stratum = indicator.sum(axis=0)
    factor = np.divide(
        per_stratum, per_stratum - 1, out=np.zeros_like(per_stratum), where=per_stratum > 1
    )
    return DesignArrays(weights, cluster, indicator, factor, max(clusters - strata, 1))


def ratio_variance(
    design: DesignArrays,
    groups: NDArray[np.intp],
    size: int,
    numerators: Array,
    denominator: Array,
    ratio: Array,
) -> Array:
    """Linearised variance of R[g, c] = Σ w·y_c / Σ w·x per group g (see the module notes).

    groups: the group of each row (-1: none); numerators: (rows, C) values y; denominator:
    (rows,) values x (1 for rows in the denominator, else 0); ratio: (size, C) estimates.
    Returns (size, C); NaN where a group has no weight in its denominator.
    """
    w = design.weights
    clusters = design.clusters
    inside = groups >= 0
    total = np.bincount(groups[inside], weights=(w * denominator)[inside], minlength=size)
    safe_total = np.where(total > 0, total, 1.0)
    rows = np.flatnonzero(inside)
    group_of_row = groups[rows]
    cell = group_of_row.astype(np.int64) * clusters + design.cluster[rows]
    columns = numerators.shape[1] if numerators.ndim == 2 else 1
    y = numerators.reshape(len(groups), columns)
    out = np.full((size, columns), np.nan)
    for column in range(columns):
        residual = (
            w[rows]
            * (y[rows, column] - np.nan_to_num(ratio[group_of_row, column]) * denominator[rows])
            / safe_total[group_of_row]
        )
        z = np.bincount(cell, weights=residual, minlength=size * clusters).reshape(size, clusters)
        squares = np.square(z) @ design.indicator  # (G, H)
        sums = z @ design.indicator
        per_stratum = design.indicator.sum(axis=0)
        centred = squares - np.square(sums) / np.where(per_stratum > 0, per_stratum, 1.0)
        out[:, column] = np.maximum(centred, 0.0) @ design.factor
    out[total <= 0, :] = np.nan
    return out
