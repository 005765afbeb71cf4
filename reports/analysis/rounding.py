"""Published estimates are rounded: a share printed to 17 digits times its n gives the count.

Shares (0–1) are published to 0.1 percentage point (three decimals), means, medians and rank
points to two decimals, effective n to one: precise enough for any reader, too coarse to turn
an estimate back into an exact hidden count once n is large enough to be published at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SHARE_KINDS = frozenset({"proportion", "frequency", "multiple", "ranking", "severity"})
SHARE_DECIMALS = 3  # 0.1 percentage point
OTHER_DECIMALS = 2
ESTIMATE_COLUMNS = ("estimate", "ci_low", "ci_high")


def round_published(table: pd.DataFrame, *, kind: str | None = None) -> pd.DataFrame:
    """A copy of a tidy table with estimates and intervals rounded for publication.

    The kind of each row comes from a `kind` column, else the argument (default: a share).
    """
    out = table.copy()
    if "kind" in out.columns:
        share = out["kind"].astype(str).isin(SHARE_KINDS).to_numpy()
    else:
        share = np.full(len(out), kind is None or kind in SHARE_KINDS)
    for name in ESTIMATE_COLUMNS:
        if name in out.columns:
            values = pd.to_numeric(out[name], errors="coerce").to_numpy(dtype=float)
            out[name] = np.where(
                share, np.round(values, SHARE_DECIMALS), np.round(values, OTHER_DECIMALS)
            )
    if "effective_n" in out.columns:
        out["effective_n"] = np.round(pd.to_numeric(out["effective_n"]).to_numpy(float), 1)
    return out
