"""Anonymise a household survey: global recoding first, then local suppression by importance, with
the household as the unit.

The intruder's view that the checks use:
- a household's key is its quasi-identifiers plus its roster as a multiset of the roster rows'
  quasi-identifiers (so the number of rows, i.e. the household size, and the composition are
  part of it); a roster row linked to its household is therefore in a class at least as large
  as its household's, which is why the member table joined with its respondent columns needs no
  separate suppression while it stays linked;
- values that reveal each other are blanked together (`blank_together`, `hierarchy`): blanking a
  household size unlinks the roster (its row count would give the size back); a blanked
  district whose region has one district blanks the region;
- a roster row cut from its household keeps only the household columns named in
  `unlinked_context` and is checked with them and its own quasi-identifiers.

Local suppression works on the records in classes smaller than k, blanking one variable at a
time from the least important (the end of `importance`), the roster rows' own characteristics
before the household's, re-checking after each. Records at risk with nothing left to blank are
dropped, with their roster rows; dropping can make other classes small, so the pass repeats.
The key variables are spared by global recoding first (`if_needed` recodings of them, while too
few households share their key variables with k − 1 others), and a household that must lose one
loses the next rather than taking it from others.

One module past 600 lines because it is one procedure over one state (`_State`): recoding,
blanking by importance, dropping and re-checking repeat until no class is below k, and each
step reads what the others did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from reports.anonymization.recoding import age_band, top_code
from reports.anonymization.result import AnonymisationResult, ColumnLoss, Verdict
from reports.anonymization.risk import RiskMeasures, measure_risk
from reports.anonymization.rules import (
    ROSTER,
    ROSTER_LINK,
    DisclosureRules,
    Recoding,
    matching_columns,
)
from reports.anonymization.suppression import _blank, class_ids, k_anonymity, suppress_at_risk

ROSTER_COLUMNS = ("_roster_rows", "_roster_a", "_roster_b")
MAX_PASSES = 20


def apply_recoding(frame: pd.DataFrame, recoding: Recoding) -> pd.DataFrame:
    """The frame with one global recoding applied (a copy; a missing column is left alone),
    to its column and the columns named in `also`."""
    out = _apply_one(frame, recoding)
    for column in recoding.also:
        if column in out.columns:
            out = _apply_one(out, replace(recoding, column=column, also=()), copy=False)
    return out


def _apply_one(frame: pd.DataFrame, recoding: Recoding, *, copy: bool = True) -> pd.DataFrame:
    out = frame.copy() if copy else frame
    if recoding.bands is not None:
        assert recoding.source is not None
        if recoding.source not in out.columns:
            return out
        banded = age_band(out[recoding.source], recoding.bands).rename(recoding.column)
        if recoding.column in out.columns:
            out[recoding.column] = banded
        else:
            out.insert(out.columns.get_loc(recoding.source) + 1, recoding.column, banded)
        return out
    if recoding.column not in out.columns:
        return out
    series = out[recoding.column]
    if recoding.top_code is not None:
        out[recoding.column] = top_code(series, recoding.top_code)
        return out
    if recoding.mapping is None:  # merge_rare: its codes are chosen by `_rare_codes`
        return out
    mapping = recoding.mapping
    if isinstance(series.dtype, pd.CategoricalDtype) and all(
        isinstance(c, str) for c in series.cat.categories
    ):
        # Each category mapped once; the rows' codes follow (missing rows stay missing).
        categories = list(dict.fromkeys(mapping.get(c, c) for c in series.cat.categories))
        position = {c: i for i, c in enumerate(categories)}
        remap = np.array(
            [*(position[mapping.get(c, c)] for c in series.cat.categories), -1], dtype=np.int64
        )
        codes = remap[series.cat.codes.to_numpy()]  # code -1 takes the trailing -1
        out[recoding.column] = pd.Categorical.from_codes(
            codes, dtype=pd.CategoricalDtype(categories, ordered=False)
        )
        return out
    values = series.astype("object")
    mapped = values.map(lambda v: mapping.get(v, v) if isinstance(v, str) else v)
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = list(dict.fromkeys(mapping.get(c, c) for c in series.cat.categories))
        out[recoding.column] = pd.Categorical(mapped, categories=categories)
    else:
        out[recoding.column] = mapped
    return out


def _present(names: Sequence[str], frame: pd.DataFrame | None) -> list[str]:
    return [] if frame is None else [n for n in names if n in frame.columns]


class _State:
    """The tables being anonymised, the roster links, and the checks over them."""

    def __init__(
        self,
        households: pd.DataFrame,
        members: pd.DataFrame | None,
        rules: DisclosureRules,
        parents: Mapping[str, Mapping[Any, Any]],
    ) -> None:
        self.rules = rules
        self.h = households
        self.m = members
        self.hqis = _present(rules.household, households)
        self.mqis = _present(rules.member.quasi_identifiers, members) if rules.member else []
        self.linked = np.ones(len(households), dtype=bool)
        self.m_before: pd.DataFrame | None = None
        if members is not None and rules.member is not None:
            where = pd.Index(households[rules.member.key]).get_indexer(members[rules.member.key])
            self.hpos = np.asarray(where, dtype=np.int64)
        else:
            self.hpos = np.zeros(0, dtype=np.int64)
        self.alive_h = np.ones(len(households), dtype=bool)
        self.alive_m = self.hpos >= 0
        self.single_parent: dict[str, set[Any]] = {}
        for child, parent in rules.hierarchy.items():
            counts: dict[Any, int] = {}
            for value in parents.get(child, {}).values():
                counts[value] = counts.get(value, 0) + 1
            self.single_parent[parent] = {p for p, n in counts.items() if n == 1}
        self.together_h = {
            c: matching_columns(p, list(households.columns))
            for c, p in rules.blank_together.items()
        }
        self.unlinks = {c for c, p in rules.blank_together.items() if ROSTER_LINK in p}
        columns = list(members.columns) if members is not None else []
        self.together_m = {c: matching_columns(p, columns) for c, p in rules.blank_together.items()}

    # -- the intruder's key -----------------------------------------------------------------------

    def roster_key(self) -> pd.DataFrame:
        """Per household: rows, and two random-sum hashes of the rows' quasi-identifier tuples."""
        n = len(self.h)
        if self.m is None or not len(self.m):
            rows = np.zeros(n)
            a = np.zeros(n)
            b = np.zeros(n)
        else:
            use = self.alive_m & self.linked[np.maximum(self.hpos, 0)] & (self.hpos >= 0)
            codes = class_ids(self.m, self.mqis)
            rng = np.random.default_rng(20_251_206)  # fixed: the same data give the same classes
            top = int(codes.max()) + 1 if len(codes) else 1
            first, second = rng.integers(1, 2**31, size=(2, top)).astype(np.float64)
            where = self.hpos[use]
            rows = np.bincount(where, minlength=n).astype(np.float64)
            a = np.bincount(where, weights=first[codes[use]], minlength=n)
            b = np.bincount(where, weights=second[codes[use]], minlength=n)
        # No linked row looks the same whether the household has none or was cut from them.
        unlinked = ~self.linked | (np.asarray(rows) == 0)
        rows, a, b = (np.asarray(v, dtype=np.float64) for v in (rows, a, b))
        for values in (rows, a, b):
            values[unlinked] = np.nan
        return pd.DataFrame(
            dict(zip(ROSTER_COLUMNS, (rows, a, b), strict=True)), index=self.h.index
        )

    def household_frame(self) -> pd.DataFrame:
        """The households still exported, with their roster key columns."""
        parts = [self.h[self.hqis], self.roster_key()]
        weight = self.rules.weight
        if weight and weight in self.h.columns and weight not in self.hqis:
            parts.append(self.h[[weight]])
        return pd.concat(parts, axis=1)[self.alive_h]

    def key_columns(self) -> list[str]:
        return self.hqis + (list(ROSTER_COLUMNS) if self.rules.member else [])

    def at_risk(self) -> np.ndarray:
        """Positions (over all households) of live households in classes smaller than k."""
        frame = self.household_frame()
        report = k_anonymity(frame, self.key_columns(), self.rules.k)
        risk = np.zeros(len(self.h), dtype=bool)
        risk[np.flatnonzero(self.alive_h)[report.at_risk_mask.to_numpy()]] = True
        return risk

    # -- blanking ---------------------------------------------------------------------------------

    def blank_household(self, column: str, rows: np.ndarray) -> None:
        rows = rows & self.h[column].notna().to_numpy()
        if not rows.any():
            return
        self.h[column] = _blank(self.h[column], rows)
        for other in self.together_h.get(column, ()):
            self.h[other] = _blank(self.h[other], rows)
        if column in self.unlinks:
            self.linked &= ~rows
        for child, parent in self.rules.hierarchy.items():
            if column == parent and child in self.h.columns:
                self.blank_household(child, rows)
            if column == child and parent in self.h.columns:
                single = self.h[parent].astype("object").isin(self.single_parent.get(parent, ()))
                self.blank_household(parent, rows & single.to_numpy())

    def rows_to_blank(
        self, column: str, risk: np.ndarray, done: Sequence[str] = (), *, recruit: bool = True
    ) -> np.ndarray:
        """The households whose `column` is blanked at this step: the ones at risk, and, where
        that is not enough to make a class of k (and `recruit`), whole small classes that agree
        with them on everything else (smallest first), so the blanked records land in one class
        of k."""
        frame = self.household_frame()
        keys = self.key_columns()
        others = [c for c in keys if c != column and c not in done]
        live = np.flatnonzero(self.alive_h)
        group = _ids(frame, others)
        value = _ids(frame, keys)
        blank = frame[[column, *done]].isna().all(axis=1).to_numpy()
        at_risk = risk[live]
        table = pd.DataFrame({"group": group, "value": value, "blank": blank, "risk": at_risk})
        classes = table.groupby("value", sort=False).agg(
            group=("group", "first"), blank=("blank", "first"), size=("group", "size")
        )
        k = self.rules.k
        classes["risk"] = classes["size"] < k
        hit = classes.loc[classes["risk"], "group"].unique()
        classes = classes[classes["group"].isin(hit)]
        counted = classes["blank"] | classes["risk"]
        have = classes.loc[counted].groupby("group")["size"].sum()
        whole = classes.groupby("group")["size"].sum()
        need = (k - have.reindex(whole.index, fill_value=0)).where(whole >= k, 0)
        safe = classes[~counted].sort_values(["group", "size"])
        before = safe.groupby("group")["size"].cumsum() - safe["size"]
        recruits = safe.index[(before < safe["group"].map(need)).to_numpy()]
        chosen = set(classes.index[classes["risk"] & ~classes["blank"]])
        if recruit:
            chosen |= set(recruits)
        rows = np.zeros(len(self.h), dtype=bool)
        rows[live[np.isin(value, list(chosen))]] = True
        return rows

    def blank_members(self, column: str, households: np.ndarray) -> None:
        assert self.m is not None
        rows = self.alive_m & (self.hpos >= 0) & households[np.maximum(self.hpos, 0)]
        rows &= self.m[column].notna().to_numpy()
        if not rows.any():
            return
        self.m[column] = _blank(self.m[column], rows)
        for other in self.together_m.get(column, ()):
            self.m[other] = _blank(self.m[other], rows)

    def drop_households(self, rows: np.ndarray) -> None:
        self.alive_h &= ~rows
        if len(self.hpos):
            self.alive_m &= ~((self.hpos >= 0) & rows[np.maximum(self.hpos, 0)])

    def suppress(self) -> None:
        """Local suppression passes until every live household is in a class of at least k."""
        steps = list(reversed(self.rules.importance))
        keys = [s for s in steps if s in self.rules.key_variables and s in self.hqis]
        # A household that must lose a key variable loses the next one too rather than taking
        # one from households that could keep all of theirs; only the last key variable
        # blanked recruits others.
        recruiting = {s for s in steps if s not in keys[:-1]}
        for _ in range(MAX_PASSES):
            risk = self.at_risk()
            if not risk.any():
                return
            done: list[str] = []
            for step in steps:
                if step == ROSTER:
                    has_rows = self.roster_key()["_roster_rows"].fillna(0).to_numpy() > 0
                    self.linked &= ~(risk & has_rows)
                elif step in self.mqis:
                    self.blank_members(step, risk & self.linked)
                elif step in self.hqis:
                    rows = self.rows_to_blank(step, risk, done, recruit=step in recruiting)
                    for column in [*done, step]:
                        self.blank_household(column, rows)
                    done.append(step)
                else:
                    continue
                risk = self.at_risk()
                if not risk.any():
                    return
            self.drop_households(risk)


def _ids(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    return class_ids(frame, columns)


def _weights(frame: pd.DataFrame, rules: DisclosureRules) -> pd.Series | None:
    if rules.weight and rules.weight in frame.columns:
        return pd.to_numeric(frame[rules.weight], errors="coerce")
    return None


def _risk(frame: pd.DataFrame, qis: list[str], rules: DisclosureRules) -> RiskMeasures:
    return measure_risk(
        frame,
        qis,
        k=rules.k,
        weights=_weights(frame, rules),
        sampling_fraction=rules.sampling_fraction,
    )


def _text_codes(series: pd.Series) -> tuple[np.ndarray, list[str]] | None:
    """Each row's value as a code into the texts `str()` gives the values (any code where the
    value is missing), read from categories or from the distinct values; None for a dtype
    whose values are read one by one."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), [str(c) for c in series.cat.categories.tolist()]
    if isinstance(dtype, pd.BooleanDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "b"):
        values = series.to_numpy(dtype=bool, na_value=False)
        return values.view(np.int8), ["False", "True"]
    if isinstance(dtype, pd.api.extensions.ExtensionDtype):
        if not isinstance(dtype, pd.Int64Dtype | pd.Float64Dtype):
            return None
        numbers = series.to_numpy(dtype=dtype.numpy_dtype, na_value=0)
    elif dtype.kind in "iu" or dtype == np.float64:
        numbers = series.to_numpy()
    else:
        return None
    # Distinct floats by their bits: 0.0 and -0.0 are equal numbers but different texts.
    keys = numbers.view(np.int64) if numbers.dtype == np.float64 else numbers
    distinct, codes = np.unique(keys, return_inverse=True)
    if numbers.dtype == np.float64:
        distinct = distinct.view(np.float64)
    return codes.reshape(-1), [str(v) for v in distinct.tolist()]


def _differs(old: pd.Series, new: pd.Series) -> np.ndarray:
    """Per row, whether the two values read differently as text (`str()`); only meaningful
    where both are present."""
    left, right = _text_codes(old), _text_codes(new)
    if left is None or right is None:
        return (
            old.astype("object").astype(str).to_numpy()
            != new.astype("object").astype(str).to_numpy()
        )
    shared: dict[str, int] = {}
    # A trailing entry for code -1 (a missing category): different on each side.
    left_ids = np.array([*(shared.setdefault(t, len(shared)) for t in left[1]), -1])
    right_ids = np.array([*(shared.setdefault(t, len(shared)) for t in right[1]), -2])
    if np.array_equal(left_ids[:-1], np.arange(len(left[1]))):
        # The left texts are distinct: their ids are their codes, one lookup is enough.
        return left[0] != right_ids[right[0]]
    return left_ids[left[0]] != right_ids[right[0]]


def _loss(table: str, before: pd.DataFrame, after: pd.DataFrame, columns: list[str]) -> list[Any]:
    out = []
    present = [c for c in columns if c in before.columns]
    after = after[[c for c in present if c in after.columns]].reindex(before.index)
    for column in present:
        old = before[column]
        had = old.notna().to_numpy()
        if column in after.columns:
            new = after[column]
            has = new.notna().to_numpy()
            differs = _differs(old, new)
        else:
            has = np.zeros(len(old), dtype=bool)
            differs = has
        out.append(
            ColumnLoss(
                table=table,
                column=column,
                values=int(had.sum()),
                recoded=int((had & has & differs).sum()),
                blanked=int((had & ~has).sum()),
            )
        )
    return out


def anonymise(
    households: pd.DataFrame,
    members: pd.DataFrame | None,
    rules: DisclosureRules,
    *,
    parents: Mapping[str, Mapping[Any, Any]] | None = None,
    table_names: tuple[str, str] = ("respondents", "member"),
) -> AnonymisationResult:
    """Recode, then suppress, until no household (with its roster) is in a class below k.

    `parents`: for each `hierarchy` child column, its codes mapped to their parent codes (e.g.
    district → region), so a parent with a single child is blanked with it. Inputs are not
    changed; the frames returned keep the input's index (dropped records are absent), and the
    roster rows cut from their household have the key column blank.
    """
    member_rules = rules.member
    if members is not None and (member_rules is None or member_rules.key not in members.columns):
        members = None
    before_h = households.reset_index(drop=True)
    before_m = members.reset_index(drop=True) if members is not None else None
    h = before_h.copy()
    m = before_m.copy() if before_m is not None else None
    applied: list[Recoding] = []
    for recoding in rules.recodings:
        if recoding.when != "always":
            continue
        target = recoding.source or recoding.column
        if target in h.columns:
            h = apply_recoding(h, recoding)
            applied.append(recoding)
        elif m is not None and target in m.columns:
            m = apply_recoding(m, recoding)
            applied.append(recoding)
    state = _State(h, m, rules, parents or {})
    risk_before = _risk(state.household_frame(), state.key_columns(), rules)
    for recoding in rules.recodings:
        if recoding.when != "if_needed":
            continue
        if rules.key_variables_target is not None and recoding.column in rules.key_variables:
            done = _recode_key_variable(state, recoding, parents or {})
            if done is not None:
                applied.append(done)
            continue
        plain = k_anonymity(state.h, state.hqis, rules.k) if len(state.h) else None
        if plain is None or plain.n_at_risk <= rules.recode_while_at_risk_above * len(state.h):
            continue
        target = recoding.source or recoding.column
        if target in state.h.columns:
            state.h = apply_recoding(state.h, recoding)
        elif state.m is not None and target in state.m.columns:
            state.m = apply_recoding(state.m, recoding)
        else:
            continue
        applied.append(recoding)
    state.mqis = _present(member_rules.quasi_identifiers, state.m) if member_rules else []
    state.m_before = state.m.copy() if state.m is not None else None
    state.suppress()
    final_h = state.h[state.alive_h]
    final_m, member_risk, members_dropped = _finish_members(state, final_h)
    risk_after = _risk(state.household_frame(), state.key_columns(), rules)
    names = {"respondents": table_names[0], "member": table_names[1]}
    losses = _loss(names["respondents"], before_h, final_h, _loss_columns(state, before_h, True))
    if before_m is not None and final_m is not None:
        losses += _loss(names["member"], before_m, final_m, _loss_columns(state, before_m, False))
    if before_m is not None and member_rules is not None:
        linked_before = int(before_m[member_rules.key].notna().sum())
        linked_after = int(final_m[member_rules.key].notna().sum()) if final_m is not None else 0
        losses.append(
            ColumnLoss(
                names["member"], "roster link", linked_before, 0, linked_before - linked_after
            )
        )
    dropped = int((~state.alive_h).sum())
    result_losses = tuple(losses)
    verdict = _verdict(rules, risk_after, member_risk, result_losses, len(before_h), dropped, names)
    return AnonymisationResult(
        households=final_h.set_axis(households.index[final_h.index]),
        members=final_m.set_axis(members.index[final_m.index])
        if final_m is not None and members is not None
        else None,
        risk_before=risk_before,
        risk_after=risk_after,
        member_risk_after=member_risk,
        losses=result_losses,
        recodings=tuple(r.description for r in applied),
        merged_codes=_merged_codes(applied),
        applied=tuple(applied),
        households_dropped=dropped,
        members_dropped=members_dropped,
        rosters_unlinked=int(((~state.linked) & state.alive_h & _has_rows(state)).sum()),
        verdict=verdict,
        key_variables=rules.key_variables,
        quasi_identifiers={
            names["respondents"]: tuple(state.hqis),
            names["member"]: tuple(state.mqis),
        },
    )


def key_variables_share(households: pd.DataFrame, rules: DisclosureRules) -> float:
    """Share of households sharing their key variables with at least k − 1 others: the most
    that local suppression can leave with all their key variables."""
    keys = [c for c in rules.key_variables if c in households.columns]
    if not len(households) or not keys:
        return 1.0
    ids = _ids(households, keys)
    return float((np.bincount(ids)[ids] >= rules.k).mean())


def _recode_key_variable(
    state: _State, recoding: Recoding, parents: Mapping[str, Mapping[Any, Any]]
) -> Recoding | None:
    """Apply an `if_needed` recoding of a key variable while too few households could keep
    their key variables; the recoding done (with the codes chosen), or None."""
    rules = state.rules
    assert rules.key_variables_target is not None
    if recoding.column not in state.h.columns:
        return None
    if key_variables_share(state.h, rules) >= rules.key_variables_target:
        return None
    if not recoding.merge_rare:
        state.h = apply_recoding(state.h, recoding)
        return recoding
    # The codes are chosen on the key columns alone, then applied to the whole table once.
    keys = state.h[[c for c in rules.key_variables if c in state.h.columns]].copy()
    merged: dict[str, str] = {}
    while key_variables_share(keys, rules) < rules.key_variables_target:
        step = _rare_codes(keys[recoding.column], parents.get(recoding.column, {}))
        if not step:
            break
        keys = _apply_one(keys, replace(recoding, mapping=step, merge_rare=False))
        merged.update(step)
    if not merged:
        return None
    chosen = replace(recoding, mapping=merged, merge_rare=False)
    state.h = apply_recoding(state.h, chosen)
    return chosen


def _merged_codes(applied: Sequence[Recoding]) -> dict[str, dict[str, tuple[str, ...]]]:
    """{column: {wider code: the codes it holds}} of the mappings applied, `also` columns
    included, so that a wider code can be labelled from the labels of the codes it holds."""
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for recoding in applied:
        if recoding.mapping is None:
            continue
        for column in (recoding.column, *recoding.also):
            wider = out.setdefault(column, {})
            for code, into in recoding.mapping.items():
                held = wider.get(code, (code,))
                wider[into] = tuple(dict.fromkeys([*wider.get(into, ()), *held]))
                wider.pop(code, None)
    return out


def _rare_codes(series: pd.Series, parent_of: Mapping[Any, Any]) -> dict[str, str]:
    """The next codes to merge into `<parent>_other`: the rarest code not merged yet, with the
    next rarest of its parent when no other code of that parent is merged yet (a merged code
    holding one code would name it). A code whose parent has no other code in the file is left:
    the parent column names it anyway."""
    counts = series.dropna().astype("object").value_counts()
    present = sorted((int(n), str(code)) for code, n in counts.items() if code in parent_of)
    merged_parents = {
        str(code).removesuffix("_other")
        for code in counts.index
        if code not in parent_of and str(code).endswith("_other")
    }
    for _, code in present:
        parent = str(parent_of[code])
        others = [c for _, c in present if c != code and str(parent_of[c]) == parent]
        if parent in merged_parents:
            return {code: f"{parent}_other"}
        if others:
            return {code: f"{parent}_other", others[0]: f"{parent}_other"}
    return {}


def _has_rows(state: _State) -> np.ndarray:
    if not len(state.hpos):
        return np.zeros(len(state.h), dtype=bool)
    counts = np.bincount(state.hpos[state.hpos >= 0], minlength=len(state.h))
    return counts > 0


def _loss_columns(state: _State, before: pd.DataFrame, households: bool) -> list[str]:
    rules = state.rules
    qis = state.hqis if households else state.mqis
    columns = list(qis)
    together = state.together_h if households else state.together_m
    for qi in qis:
        columns += [c for c in together.get(qi, ()) if c not in columns]
    if households:
        columns += [c for c in rules.hierarchy.values() if c in before.columns and c not in columns]
    elif rules.member is not None:
        columns += [c for c in rules.member.context if c in before.columns and c not in columns]
    return columns


def _finish_members(
    state: _State, final_h: pd.DataFrame
) -> tuple[pd.DataFrame | None, RiskMeasures | None, int]:
    """Roster rows: context from the final households; unlinked rows checked on their own."""
    rules = state.rules
    if state.m is None or rules.member is None:
        return None, None, 0
    member = rules.member
    m = state.m
    alive = state.alive_m.copy()
    hpos = np.maximum(state.hpos, 0)
    linked = alive & state.linked[hpos]
    unlinked = alive & ~state.linked[hpos]
    for column, source in member.context.items():
        if column not in m.columns or source not in state.h.columns:
            continue
        values = state.h[source].iloc[hpos].set_axis(m.index)  # (a unique index: by position)
        kept = linked | (unlinked if column in member.unlinked_context else False)
        m[column] = _blank(values, ~kept)
    m[member.key] = _blank(m[member.key], unlinked)
    if state.m_before is not None:
        # Blanks made while the row was linked protected the household; cut loose, the row is
        # checked afresh from its recoded values.
        restore = [*state.mqis, *(c for q in state.mqis for c in state.together_m.get(q, []))]
        for column in dict.fromkeys(restore):
            m[column] = m[column].where(~unlinked, state.m_before[column])
    context = [c for c in member.unlinked_context if c in m.columns]
    qis = context + state.mqis
    loose = m[unlinked]
    dropped_index = pd.Index([])
    if len(loose):
        report = k_anonymity(loose, qis, rules.k)
        if report.n_at_risk:
            order = [q for q in reversed(rules.importance) if q in state.mqis]
            together = {q: state.together_m.get(q, []) for q in state.mqis}
            result = suppress_at_risk(loose, report, qis, order=order, linked=together)
            for column in dict.fromkeys([*qis, *(c for q in together.values() for c in q)]):
                m.loc[result.frame.index, column] = result.frame[column]
            dropped_index = result.dropped_index
    alive[m.index.get_indexer(dropped_index)] = False
    final_m = m[alive]
    members_dropped = int(len(m) - alive.sum())
    # The roster rows as the intruder sees them: linked rows carry their household's key.
    joined = state.household_frame().reindex(state.h.index[hpos[alive]])
    joined = joined.set_axis(final_m.index)
    joined.loc[~linked[alive]] = np.nan
    joined = pd.concat([joined, final_m[qis]], axis=1)
    risk = _risk(joined, state.key_columns() + qis, rules)
    return final_m, risk, members_dropped


def _verdict(
    rules: DisclosureRules,
    households: RiskMeasures,
    members: RiskMeasures | None,
    losses: tuple[ColumnLoss, ...],
    records: int,
    dropped: int,
    names: Mapping[str, str],
) -> Verdict:
    refusals: list[tuple[str, dict[str, Any]]] = []
    warnings: list[tuple[str, dict[str, Any]]] = []
    for table, risk in ((names["respondents"], households), (names["member"], members)):
        if risk is None:
            continue
        if risk.global_risk > rules.max_global_risk:
            refusals.append(
                (
                    "global_risk",
                    {"table": table, "risk": risk.global_risk, "limit": rules.max_global_risk},
                )
            )
        if risk.records_below_k:
            refusals.append(
                ("below_k", {"table": table, "records": risk.records_below_k, "k": rules.k})
            )
    if records == 0 or dropped == records:
        warnings.append(("empty", {"records": records}))
    else:
        if dropped > records / 2:
            warnings.append(("mostly_dropped", {"dropped": dropped, "records": records}))
        for loss in losses:
            key = loss.column in rules.key_variables and loss.values
            # A value coarsened by global recoding is still there: blanks make a file thin.
            if key and loss.available_share < rules.mostly_blanked_below:
                warnings.append(
                    ("mostly_blanked", {"column": loss.column, "kept_share": loss.available_share})
                )
    return Verdict(publishable=not refusals, refusals=tuple(refusals), warnings=tuple(warnings))
