"""What anonymisation did and what it left: the frames, risk before and after, information loss per
column, the verdict and the warnings. Plain values only, so the app can show and audit them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from reports.anonymization.risk import RiskMeasures
from reports.anonymization.rules import Recoding


@dataclass(frozen=True)
class ColumnLoss:
    """How much of one column survived: values recoded (coarsened) or blanked (or dropped)."""

    table: str
    column: str
    values: int  # non-blank values before anonymisation
    recoded: int
    blanked: int  # blanked, or in a dropped record

    @property
    def kept(self) -> int:
        """Values left as they were."""
        return self.values - self.recoded - self.blanked

    @property
    def kept_share(self) -> float:
        """Share of values left as they were (1 for a column that had none)."""
        return self.kept / self.values if self.values else 1.0

    @property
    def lost_share(self) -> float:
        """Share of values recoded or blanked (sdcMicro's per-variable information loss)."""
        return 1.0 - self.kept_share

    @property
    def available_share(self) -> float:
        """Share of values still given, exactly or coarsened."""
        return (self.values - self.blanked) / self.values if self.values else 1.0


@dataclass(frozen=True)
class Verdict:
    """Whether the file may be published, and the problems that say why not or what to know.

    `refusals` and `warnings` are (code, figures) pairs; the app turns them into sentences.
    Codes: refusal `global_risk` {risk, limit}, `below_k` {records, k}; warning `empty`,
    `mostly_blanked` {column, kept_share: the share given, exactly or coarsened}, `mostly_dropped`
    {dropped, records}.
    """

    publishable: bool
    refusals: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    warnings: tuple[tuple[str, Mapping[str, Any]], ...] = ()


@dataclass(frozen=True)
class AnonymisationResult:
    """The anonymised tables and the figures that describe them."""

    households: pd.DataFrame
    members: pd.DataFrame | None
    risk_before: RiskMeasures
    risk_after: RiskMeasures
    member_risk_after: RiskMeasures | None
    losses: tuple[ColumnLoss, ...]
    recodings: tuple[str, ...]  # descriptions of the global recodings applied
    households_dropped: int
    members_dropped: int
    rosters_unlinked: int  # households whose roster rows were cut from them
    verdict: Verdict
    key_variables: tuple[str, ...] = ()
    quasi_identifiers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # {column: {wider code: the codes it holds}}, from the global recodings applied
    merged_codes: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    # The recodings applied, for callers that word them in another language than `recodings`
    applied: tuple[Recoding, ...] = ()

    @property
    def global_risk(self) -> float:
        """The larger global risk of the two tables."""
        member = self.member_risk_after.global_risk if self.member_risk_after else 0.0
        return max(self.risk_after.global_risk, member)

    def loss(self, column: str, table: str = "respondents") -> ColumnLoss | None:
        """The loss figures of one column."""
        for item in self.losses:
            if item.column == column and item.table == table:
                return item
        return None

    def key_variables_kept_together(self) -> float:
        """Share of households whose key variables are all kept as they were."""
        present = [c for c in self.key_variables if c in self.households.columns]
        total = len(self.households) + self.households_dropped
        if not total or not present:
            return 1.0
        return float(self.households[present].notna().all(axis=1).sum()) / total
