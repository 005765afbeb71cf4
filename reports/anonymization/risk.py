"""Disclosure risk as sdcMicro's `measure_risk` reports it.

- sample frequency f_k: the records sharing a record's key (its quasi-identifiers; a blank is a
  value of its own, see `suppression`);
- population frequency F_k: the sum of the sampling weights of those records (or f_k divided by
  the sampling fraction when the data carry no weights);
- individual risk r_k: the Benedetti–Franconi estimate of 1/F given f_k, in the approximation
  sdcMicro uses (`indivRisk(method = "approx")`), with p_k = f_k / F_k:
  f_k = 1: p/(1-p)·log(1/p); f_k = 2: p/(1-p) − (p/(1-p))²·log(1/p); f_k > 2: p/(f_k − (1-p));
  and 1/f_k where f_k = F_k (a census, or every record its own population);
- global risk: the expected number of re-identifications Σ r_k divided by the number of records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.anonymization.suppression import class_ids


@dataclass(frozen=True)
class RiskMeasures:
    """The risk figures of one table."""

    records: int
    k: int
    sample_uniques: int  # records alone in their class (f_k = 1)
    records_below_k: int  # records in classes smaller than k
    expected_reidentifications: float  # Σ r_k
    global_risk: float  # Σ r_k / records (0 for an empty table)
    max_individual_risk: float
    records_above_threshold: int  # records with r_k above the threshold given to measure_risk


def individual_risk(sample: np.ndarray, population: np.ndarray) -> np.ndarray:
    """Benedetti–Franconi individual risk (sdcMicro's approximation) per record."""
    f = np.asarray(sample, dtype=np.float64)
    big_f = np.maximum(np.asarray(population, dtype=np.float64), f)
    risk = np.zeros(len(f), dtype=np.float64)
    census = big_f <= f
    p = np.where(census, 0.5, f / np.where(big_f > 0, big_f, 1.0))  # 0.5: a placeholder, replaced
    q = 1.0 - p
    log_inv = np.log(1.0 / p)
    one = (f == 1) & ~census
    two = (f == 2) & ~census
    more = (f > 2) & ~census
    risk[one] = (p[one] / q[one]) * log_inv[one]
    odds = p[two] / q[two]
    risk[two] = odds - odds**2 * log_inv[two]
    risk[more] = p[more] / (f[more] - q[more])
    risk[census] = 1.0 / f[census]
    return np.clip(risk, 0.0, 1.0)


def measure_risk(
    frame: pd.DataFrame,
    quasi_identifiers: Sequence[str],
    *,
    k: int,
    weights: pd.Series | np.ndarray | None = None,
    sampling_fraction: float | None = None,
    threshold: float = 0.2,
) -> RiskMeasures:
    """Sample uniques, records below k, individual and global risk of a table."""
    n = len(frame)
    if n == 0:
        return RiskMeasures(0, k, 0, 0, 0.0, 0.0, 0.0, 0)
    if weights is None:
        if sampling_fraction is None:
            raise ValueError("Give sampling weights or a sampling fraction.")
        w = np.full(n, 1.0 / sampling_fraction)
    else:
        w = np.asarray(weights, dtype=np.float64)
        w = np.where(np.isfinite(w) & (w > 0), w, 1.0 / (sampling_fraction or 1.0))
    if k < 1:
        raise ValueError("k must be at least 1")
    missing = [c for c in quasi_identifiers if c not in frame.columns]
    if missing:
        raise KeyError(f"Quasi-identifiers not in the data: {', '.join(missing)}")
    ids = class_ids(frame, list(quasi_identifiers))  # the classes k_anonymity counts
    # A class's records share f_k and F_k, hence r_k: computed once per class.
    class_sizes = np.bincount(ids).astype(np.float64)
    class_risk = individual_risk(class_sizes, np.bincount(ids, weights=w))
    sizes = class_sizes[ids]
    risk = class_risk[ids]
    total = float(risk.sum())
    return RiskMeasures(
        records=n,
        k=k,
        sample_uniques=int((sizes == 1).sum()),
        records_below_k=int((sizes < k).sum()),
        expected_reidentifications=total,
        global_risk=total / n,
        max_individual_risk=float(risk.max()),
        records_above_threshold=int((risk > threshold).sum()),
    )
