"""Protection intervals: what an attacker can infer about each hidden figure of a publication.

The attacker knows every published figure and the linear relations between them (the
tau-Argus model: rows add up to their n, groups to the overall row, non-response plus n to the
group's respondent count) and that counts are ≥ 0. For each hidden figure the smallest and
largest values consistent with all of that are found by linear programming (HiGHS through
highspy: one model per part, re-solved with a new objective and a warm start). A figure is
safe when its interval is at least k wide (DOMAIN §6).

The programme is split into independent parts (hidden figures that share no relation), so a
publication of thousands of hidden cells solves as many small programmes.

One module past 600 lines because it is one auditor: the relations it builds from what is
published and the two ways of deciding intervals over them (exact per figure, and
`decide_intervals` for every figure at once) must read those relations identically. It shares
no reasoning with `protection`, on purpose: it is the independent check of it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import highspy
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from reports.analysis.conditions import SPECIAL_CODES
from reports.analysis.protection import CENTRE, NON_RESPONSE, PER_CATEGORY

Key = Hashable


@dataclass
class Knowledge:
    """Figures (known value or None when hidden) and the relations an attacker knows."""

    values: dict[Key, float | None] = field(default_factory=dict)
    equal: list[tuple[tuple[Key, ...], Key]] = field(default_factory=list)  # sum(parts) == total
    at_most: list[tuple[tuple[Key, ...], Key]] = field(default_factory=list)  # sum(parts) <= total

    def figure(self, key: Key, value: float | None) -> None:
        """Record a figure; a value published anywhere is known (hidden anywhere is not enough)."""
        if value is not None and not np.isnan(value):
            self.values[key] = float(value)
        else:
            self.values.setdefault(key, None)


def protection_intervals(
    knowledge: Knowledge, targets: Iterable[Key] | None = None
) -> pd.DataFrame:
    """key, low, high for every hidden figure (low == high: recovered exactly).

    targets limits the programmes solved to these hidden figures (all relations still count).
    """
    hidden, rows = _relations(knowledge)
    wanted = None if targets is None else set(targets)
    if not hidden:
        return pd.DataFrame({"key": [], "low": [], "high": []})
    parent = list(range(len(hidden)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for coefficients, _rhs, _eq in rows:
        first, *rest = coefficients
        for other in rest:
            parent[find(other)] = find(first)
    members: dict[int, list[int]] = {}
    for i in range(len(hidden)):
        members.setdefault(find(i), []).append(i)
    by_root: dict[int, list[int]] = {}
    for number, (coefficients, _rhs, _eq) in enumerate(rows):
        by_root.setdefault(find(next(iter(coefficients))), []).append(number)
    low = np.zeros(len(hidden))
    high = np.full(len(hidden), np.inf)
    solver = _quiet_highs()
    for root, variables in members.items():
        local = {v: i for i, v in enumerate(variables)}
        matrix_rows, lower, upper = [], [], []
        for number in by_root.get(root, []):
            coefficients, rhs, is_equal = rows[number]
            matrix_rows.append({local[c]: v for c, v in coefficients.items()})
            lower.append(rhs if is_equal else -highspy.kHighsInf)
            upper.append(rhs)
        model = _model(matrix_rows, lower, upper, len(variables))
        solver.clearModel()
        solver.passModel(model)
        for position, variable in enumerate(variables):
            if wanted is not None and hidden[variable] not in wanted:
                low[variable], high[variable] = np.nan, np.nan
                continue
            # Only the cost changes between solves, so HiGHS starts from the last basis
            for sign in (1.0, -1.0):
                solver.changeColCost(position, sign)
                solver.run()
                optimal = solver.getModelStatus() == highspy.HighsModelStatus.kOptimal
                value = solver.getInfo().objective_function_value
                if sign > 0:
                    low[variable] = value if optimal else 0.0
                else:
                    high[variable] = -value if optimal else np.inf
            solver.changeColCost(position, 0.0)
    out = pd.DataFrame({"key": hidden, "low": np.round(low, 6), "high": np.round(high, 6)})
    return out if wanted is None else out[out["key"].isin(wanted)].reset_index(drop=True)


def _relations(
    knowledge: Knowledge,
) -> tuple[list[Key], list[tuple[dict[int, float], float, bool]]]:
    """The hidden figures and the relations over them: (coefficients, right side, is equal).

    A relation sum(parts) − total (==, ≤) 0 becomes coefficients · hidden (==, ≤) the known
    figures moved to the right; relations with no hidden figure say nothing and are left out.
    """
    hidden = [key for key, value in knowledge.values.items() if value is None]
    column = {key: i for i, key in enumerate(hidden)}
    rows: list[tuple[dict[int, float], float, bool]] = []
    for relations, is_equal in ((knowledge.equal, True), (knowledge.at_most, False)):
        for parts, total in relations:
            coefficients: dict[int, float] = {}
            constant = 0.0
            for key, sign in [*((p, 1.0) for p in parts), (total, -1.0)]:
                value = knowledge.values.get(key)
                if key in column:
                    coefficients[column[key]] = coefficients.get(column[key], 0.0) + sign
                else:
                    constant += sign * (value or 0.0)
            coefficients = {c: v for c, v in coefficients.items() if v != 0}
            if coefficients:
                rows.append((coefficients, -constant, is_equal))
    return hidden, rows


def _quiet_highs() -> highspy.Highs:
    """A HiGHS instance that prints nothing (its banner is written at construction)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            solver = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    solver.setOptionValue("output_flag", False)
    solver.setOptionValue("presolve", "on")
    return solver


def _model(
    rows: Sequence[Mapping[int, float]], lower: list[float], upper: list[float], width: int
) -> highspy.HighsLp:
    """An LP over `width` counts ≥ 0 with lower ≤ rows · x ≤ upper (no objective yet)."""
    model = highspy.HighsLp()
    model.num_col_ = width
    model.num_row_ = len(rows)
    model.col_cost_ = np.zeros(width)
    model.col_lower_ = np.zeros(width)
    model.col_upper_ = np.full(width, highspy.kHighsInf)
    model.row_lower_ = np.asarray(lower, dtype=float)
    model.row_upper_ = np.asarray(upper, dtype=float)
    starts, indices, values = [0], [], []
    for row in rows:
        for column, value in row.items():
            indices.append(column)
            values.append(value)
        starts.append(len(indices))
    model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    model.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
    model.a_matrix_.index_ = np.asarray(indices, dtype=np.int32)
    model.a_matrix_.value_ = np.asarray(values, dtype=float)
    return model


def cube_knowledge(
    table: pd.DataFrame,
    population: pd.DataFrame,
    out_known: Mapping[str, bool],
    knowledge: Knowledge | None = None,
    margins: Mapping[str, str] | None = None,
) -> Knowledge:
    """What a published star table and respondent counts tell an attacker, as relations.

    table: published tidy rows (indicator, kind, group_var, group, category, n, count, dnk,
    pnta, missing; NaN = hidden). Several publications may be fed into one Knowledge.
    out_known: indicator → True when its base (n + non-response) is the respondent count.
    """
    knowledge = knowledge or Knowledge()
    units = {}
    for record in population.to_dict("records"):
        unit, variable, group = str(record["unit"]), str(record["group_var"]), str(record["group"])
        units.setdefault(unit, {}).setdefault(variable, []).append(group)
        knowledge.figure(("P", unit, variable, group), _number(record["respondents"]))
    for unit, variables in units.items():
        for variable, groups in variables.items():
            if variable:
                parts = tuple(("P", unit, variable, g) for g in groups)
                knowledge.equal.append((parts, ("P", unit, "", "")))
    groups_of: dict[str, dict[str, list[str]]] = {}
    cells_of: dict[str, list[str]] = {}
    kind_of: dict[str, str] = {}
    unit_of: dict[str, str] = {}
    for record in table.to_dict("records"):
        indicator, kind = str(record["indicator"]), str(record["kind"])
        variable, group = str(record["group_var"]), str(record["group"])
        category = str(record.get("category") or "")
        kind_of[indicator] = kind
        unit_of.setdefault(indicator, str(record.get("unit") or "respondent"))
        groups = groups_of.setdefault(indicator, {}).setdefault(variable, [])
        if group not in groups:
            groups.append(group)
        row = (indicator, variable, group)
        # A category of a PER_CATEGORY kind has its own n and non-response (severity's in need
        # and acute differ); categories that share them are linked below.
        base_row = (*row, category) if kind in PER_CATEGORY else row
        knowledge.figure(("n", *base_row), _number(record.get("n")))
        for name in NON_RESPONSE:
            if name in record:
                knowledge.figure((name, *base_row), _number(record.get(name)))
        cells = cells_of.setdefault(indicator, [])
        if category not in cells:
            cells.append(category)
        if kind in CENTRE or category in SPECIAL_CODES:
            continue
        count = _number(record.get("count"))
        n = _number(record.get("n"))
        knowledge.figure(("yes", *row, category), count)
        if kind in PER_CATEGORY:
            rest = None if count is None or n is None else n - count
            knowledge.figure(("no", *row, category), rest)
    for indicator, variables in groups_of.items():
        kind = kind_of[indicator]
        per_category = kind in PER_CATEGORY
        every = cells_of.get(indicator, [])
        categories = sorted(c for c in every if c not in SPECIAL_CODES)
        bases = [(c,) for c in every] if per_category else [()]
        for variable, groups in variables.items():
            for group in groups:
                row = (indicator, variable, group)
                if per_category and kind not in CENTRE:
                    for category in categories:
                        knowledge.equal.append(
                            (
                                (("yes", *row, category), ("no", *row, category)),
                                ("n", *row, category),
                            )
                        )
                elif kind not in CENTRE and categories:
                    knowledge.equal.append(
                        (tuple(("yes", *row, c) for c in categories), ("n", *row))
                    )
                population_key = ("P", unit_of[indicator], variable, group)
                for extra in bases:
                    base = (("n", *row, *extra), *((name, *row, *extra) for name in NON_RESPONSE))
                    if population_key in knowledge.values:
                        relation = (
                            knowledge.equal if out_known.get(indicator) else knowledge.at_most
                        )
                        relation.append((base, population_key))
            if not variable:
                continue
            for extra in bases:
                for name in ["n", *NON_RESPONSE]:
                    knowledge.equal.append(
                        (
                            tuple((name, indicator, variable, g, *extra) for g in groups),
                            (name, indicator, "", "", *extra),
                        )
                    )
            if kind not in CENTRE:
                for category in categories:
                    for name in ("yes", "no") if per_category else ("yes",):
                        knowledge.equal.append(
                            (
                                tuple((name, indicator, variable, g, category) for g in groups),
                                (name, indicator, "", "", category),
                            )
                        )
        if per_category:
            _link_shared_columns(knowledge, indicator, variables, every)
    for indicator, variable in (margins or {}).items():
        # A frequency of a star variable counts the same people as the respondent counts
        unit = unit_of.get(indicator, "respondent")
        for category in cells_of.get(indicator, ()):
            population_key = ("P", unit, variable, category)
            if population_key in knowledge.values:
                knowledge.equal.append(((("yes", indicator, "", "", category),), population_key))
    return knowledge


def _link_shared_columns(
    knowledge: Knowledge,
    indicator: str,
    variables: Mapping[str, list[str]],
    categories: Sequence[str],
) -> None:
    """Categories whose n and non-response agree wherever shown share them (one question).

    The attacker sees a multiple choice's n repeated in every option: where two categories
    show the same figures in every row both publish, and hide the same rows, the hidden ones
    are equal too.
    """
    rows = [(variable, group) for variable, groups in variables.items() for group in groups]
    names = ["n", *NON_RESPONSE]

    def column(category: str) -> tuple:
        return tuple(
            knowledge.values.get((name, indicator, v, g, category))
            for name in names
            for v, g in rows
        )

    seen: dict[tuple, str] = {}
    for category in categories:
        shown = column(category)
        if all(value is None for value in shown):
            continue
        first = seen.setdefault(shown, category)
        if first == category or all(value is not None for value in shown):
            continue
        for name in names:
            for v, g in rows:
                mine = (name, indicator, v, g, category)
                if knowledge.values.get(mine) is None:
                    knowledge.equal.append((((name, indicator, v, g, first),), mine))


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(number) else number


def narrow_cells(intervals: pd.DataFrame, truth: Mapping[Key, float], k: int) -> pd.DataFrame:
    """The hidden non-zero figures whose interval is narrower than k (with their true value)."""
    if not len(intervals):
        return intervals.assign(value=[])
    values = [truth.get(key, np.nan) for key in intervals["key"]]
    out = intervals.assign(value=values, width=intervals["high"] - intervals["low"])
    return out[(out["value"] > 0) & (out["width"] < k - 1e-6)].reset_index(drop=True)


def cube_truth(table: pd.DataFrame, population: pd.DataFrame) -> dict[Key, float]:
    """The true value of every figure of an unpublished (complete) star table, keyed as above."""
    knowledge = cube_knowledge(table, population, {})
    return {key: value for key, value in knowledge.values.items() if value is not None}


# --- every hidden figure, decided ---------------------------------------------------------------

_EPSILON = 1e-6
_RAY_TOLERANCE = 1e-9


def decide_intervals(
    knowledge: Knowledge,
    k: float,
    links: Callable[[Key], bool] = lambda key: isinstance(key, tuple) and key[:1] == ("P",),
) -> pd.DataFrame:
    """key, low, high, how for EVERY hidden figure: whether its interval is narrower than k.

    Solving min and max for each of thousands of hidden figures takes tens of minutes; most are
    decided without that:

    - "bounds": bound propagation over the relations (as LP presolvers do) gives an interval
      that contains the attacker's; narrower than k, the figure is narrow whatever the LP says;
    - "points": two solutions of the programme (each a table the attacker cannot rule out)
      differ by k or more in the figure: its interval is at least that wide. Every solution
      found is kept and read for every figure at once; the figures linking otherwise separate
      parts (`links`: the hidden respondent counts) are held at a solution's values so that
      each part is solved on its own, which still gives solutions of the whole programme.
      Each solve pushes every figure still open up or down (signs drawn at random, seeded),
      the next one the other way, while that decides more; a solve found unbounded gives a
      ray that raises figures without end (each of them wide);
    - "exact": the rest, min and max by HiGHS over their whole connected part.

    low and high are the outer bounds ("bounds"), the two solutions ("points") or the exact
    interval; the width is below k exactly for the figures narrower than k. A part whose
    relations no table satisfies is "infeasible" (0 to ∞: nothing follows from a contradiction;
    an attacker's model that says so is wrong). attrs["solves"] counts the LP solves.
    """
    hidden, rows = _relations(knowledge)
    size = len(hidden)
    out = pd.DataFrame({"key": hidden, "low": np.zeros(size), "high": np.zeros(size)})
    out["how"] = ""
    out.attrs["solves"] = 0
    if not size:
        return out
    matrix = sparse.csr_matrix(
        (
            [v for coefficients, _r, _e in rows for v in coefficients.values()],
            (
                [i for i, (coefficients, _r, _e) in enumerate(rows) for _ in coefficients],
                [c for coefficients, _r, _e in rows for c in coefficients],
            ),
        ),
        shape=(len(rows), size),
    )
    upper = np.array([rhs for _c, rhs, _e in rows], dtype=float)
    lower = np.where([is_equal for _c, _r, is_equal in rows], upper, -np.inf)
    bound_low, bound_high = _propagate(matrix, lower, upper)
    state = _Search(
        matrix,
        lower,
        upper,
        bound_high,
        k,
        _quiet_highs(),
        np.full(size, np.inf),
        np.full(size, -np.inf),
    )
    state.solver.setOptionValue("presolve", "off")  # each re-solve starts from the last basis
    # Crossed bounds: the relations contradict each other (the LP below says so)
    crossed = bound_low > bound_high + _EPSILON
    narrow = (bound_high - bound_low < k - _EPSILON) & ~crossed
    exact_low = np.full(size, np.nan)
    exact_high = np.full(size, np.nan)
    infeasible = np.zeros(size, dtype=bool)
    is_link = np.array([links(key) for key in hidden], dtype=bool)
    for part in _parts(matrix, np.ones(size, dtype=bool)):
        if narrow[part].all():
            continue
        # Two solutions of the whole part: everything low, everything high
        whole = state.model(part)
        for sign in (1.0, -1.0):
            state.solve(whole, part, sign * state.open_costs(part, narrow, sign))
            if state.solver.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
                break
        if state.solver.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
            # No table fits what is published: the attacker's relations are wrong, and
            # nothing can be said about these figures (as protection_intervals: 0 to ∞)
            infeasible[part] = True
            narrow[part] = False
            continue
        cut = is_link[part]
        if cut.any() and state.points_for(part):
            base = state.best_point()
            for block in _parts(matrix, ~is_link, part[~cut]):
                state.screen_block(block, part, base, narrow)
        # The figures beside the linking ones move only with them: more solutions of the
        # whole part, each pushing every figure still open one way or the other
        state.spread(whole, part, narrow)
        # What is still open: exact min and max over the whole part
        for variable in part:
            if narrow[variable] or state.wide(variable):
                continue
            position = int(np.searchsorted(part, variable))
            high = state.solve(whole, part, _unit(len(part), position, -1.0))
            exact_high[variable] = np.inf if high is None else -high
            if state.wide(variable):
                continue
            low = state.solve(whole, part, _unit(len(part), position, 1.0))
            exact_low[variable] = 0.0 if low is None else low
    seen = state.seen_high - state.seen_low
    wide = seen >= k - _EPSILON
    solved = ~np.isnan(exact_low) & ~np.isnan(exact_high)
    out["how"] = np.where(
        infeasible,
        "infeasible",
        np.where(wide, "points", np.where(solved, "exact", "bounds")),
    )
    low = np.where(wide, state.seen_low, np.where(solved, exact_low, bound_low))
    high = np.where(wide, state.seen_high, np.where(solved, exact_high, bound_high))
    out["low"] = np.round(np.where(infeasible, 0.0, low), 6)
    out["high"] = np.round(np.where(infeasible, np.inf, high), 6)
    undecided = ~wide & ~solved & ~narrow & ~infeasible
    if undecided.any():  # cannot happen: every open figure is solved above
        raise RuntimeError(f"{int(undecided.sum())} hidden figures were left undecided")
    out.attrs["solves"] = state.solves
    return out


def _unit(width: int, position: int, value: float) -> np.ndarray:
    cost = np.zeros(width)
    cost[position] = value
    return cost


@dataclass
class _Search:
    """The programme, one HiGHS instance, and the smallest and largest value seen per figure."""

    matrix: sparse.csr_matrix
    lower: np.ndarray
    upper: np.ndarray
    bound_high: np.ndarray
    k: float
    solver: highspy.Highs
    seen_low: np.ndarray
    seen_high: np.ndarray
    solves: int = 0
    points: list[np.ndarray] = field(default_factory=list)
    loaded: object = None
    # Signs for `spread`: seeded, so that the same publication is decided the same way
    random: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    def wide(self, variable: int) -> bool:
        """Two solutions already differ by k in this figure."""
        return bool(self.seen_high[variable] - self.seen_low[variable] >= self.k - _EPSILON)

    def spread(
        self,
        model: highspy.HighsLp,
        columns: np.ndarray,
        narrow: np.ndarray,
        base: np.ndarray | None = None,
    ) -> None:
        """Solutions pushing each open figure up or down at random, then the other way.

        One pair of solves decides many figures at once where a figure's own min and max
        would take two solves each; rounds go on while a round decides something.
        """
        while True:
            todo = ~narrow[columns] & (self.seen_high[columns] - self.seen_low[columns] < self.k)
            if not todo.any():
                return
            signs = np.where(self.random.random(len(columns)) < 0.5, 1.0, -1.0)
            for flip in (1.0, -1.0):
                up = (flip * signs < 0) & np.isfinite(self.bound_high[columns])
                cost = np.where(todo & up, -1.0, np.where(todo & (flip * signs > 0), 1.0, 0.0))
                if cost.any():
                    self.solve(model, columns, cost, base)
            left = ~narrow[columns] & (self.seen_high[columns] - self.seen_low[columns] < self.k)
            if left.sum() == todo.sum():
                return

    def open_costs(self, columns: np.ndarray, narrow: np.ndarray, sign: float) -> np.ndarray:
        """1 for the figures not yet decided (only bounded ones when maximising)."""
        todo = ~narrow[columns] & (self.seen_high[columns] - self.seen_low[columns] < self.k)
        if sign < 0:
            todo &= np.isfinite(self.bound_high[columns])
        return todo.astype(float)

    def model(
        self, columns: np.ndarray, fixed: np.ndarray | None = None, point: np.ndarray | None = None
    ) -> highspy.HighsLp:
        """The relations over `columns`; with `fixed`, those figures held at `point`."""
        rows = np.unique(self.matrix[:, columns].nonzero()[0])
        block = self.matrix[rows][:, columns].tocsr()
        lower, upper = self.lower[rows], self.upper[rows]
        if fixed is not None and point is not None and len(fixed):
            held = self.matrix[rows][:, fixed] @ point[fixed]
            lower, upper = lower - held, upper - held
        # The propagated bounds are implied by the relations: they keep maximising bounded
        high = np.where(
            np.isfinite(self.bound_high[columns]), self.bound_high[columns], highspy.kHighsInf
        )
        model = highspy.HighsLp()
        model.num_col_ = len(columns)
        model.num_row_ = len(rows)
        model.col_cost_ = np.zeros(len(columns))
        model.col_lower_ = np.zeros(len(columns))
        model.col_upper_ = high
        model.row_lower_ = np.where(np.isfinite(lower), lower, -highspy.kHighsInf)
        model.row_upper_ = upper
        model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        model.a_matrix_.start_ = block.indptr.astype(np.int32)
        model.a_matrix_.index_ = block.indices.astype(np.int32)
        model.a_matrix_.value_ = block.data.astype(float)
        return model

    def solve(
        self,
        model: highspy.HighsLp,
        columns: np.ndarray,
        cost: np.ndarray,
        base: np.ndarray | None = None,
    ) -> float | None:
        """Minimise cost · x; record the solution (completed by `base` outside columns)."""
        if self.loaded is not model:
            self.solver.clearModel()
            self.solver.passModel(model)
            self.loaded = model
        self.solver.changeColsCost(len(columns), np.arange(len(columns), dtype=np.int32), cost)
        self.solver.run()
        self.solves += 1
        status = self.solver.getModelStatus()
        if status == highspy.HighsModelStatus.kUnbounded:
            self.follow_ray(columns)
        if status != highspy.HighsModelStatus.kOptimal:
            return None
        values = np.asarray(self.solver.getSolution().col_value, dtype=float)
        self.seen_low[columns] = np.minimum(self.seen_low[columns], values)
        self.seen_high[columns] = np.maximum(self.seen_high[columns], values)
        if base is None:
            point = np.full(len(self.seen_low), np.nan)
            point[columns] = values
            self.points.append(point)
        return float(self.solver.getInfo().objective_function_value)

    def follow_ray(self, columns: np.ndarray) -> None:
        """Every figure the unbounded programme's ray raises can be as large as one likes.

        The ray d (d ≥ 0, A d = 0 on the relations that are equal, A d ≤ 0 on the others)
        added to any solution gives solutions without end: each figure it raises is wide once
        one solution is known (so is unbounded, found in one solve instead of one per figure).
        A ray that does not check out to the tolerance is not used.
        """
        status, has_ray, values = self.solver.getPrimalRay()
        if status != highspy.HighsStatus.kOk or not has_ray:
            return
        ray = np.asarray(values, dtype=float)[: len(columns)]
        top = ray.max(initial=0.0)
        if top <= 0 or ray.min(initial=0.0) < -_RAY_TOLERANCE * top:
            return
        ray = np.where(ray > _RAY_TOLERANCE * top, ray / top, 0.0)
        moved = self.matrix[:, columns] @ ray
        equal = np.isfinite(self.lower)
        if (
            np.abs(moved[equal]).max(initial=0.0) > _RAY_TOLERANCE
            or moved.max(initial=0.0) > _RAY_TOLERANCE
        ):
            return
        raised = columns[ray > 0]
        self.seen_high[raised] = np.inf

    def points_for(self, columns: np.ndarray) -> bool:
        """A whole-part solution exists to hold the linking figures at."""
        return bool(self.points) and not np.isnan(self.points[-1][columns]).any()

    def best_point(self) -> np.ndarray:
        """The last whole-part solution."""
        return self.points[-1]

    def screen_block(
        self, block: np.ndarray, part: np.ndarray, base: np.ndarray, narrow: np.ndarray
    ) -> None:
        """Solutions of one block with the linking figures held at `base` (so of the whole)."""
        fixed = np.setdiff1d(part, block)
        model = self.model(block, fixed, base)
        for sign in (1.0, -1.0):
            cost = self.open_costs(block, narrow, sign)
            if cost.any():
                self.solve(model, block, sign * cost, base)
        self.spread(model, block, narrow, base)


def _parts(
    matrix: sparse.csr_matrix, usable: np.ndarray, columns: np.ndarray | None = None
) -> list[np.ndarray]:
    """Connected parts of the figures in `columns` (sorted), linked through `usable` figures."""
    size = matrix.shape[1]
    columns = np.arange(size) if columns is None else columns
    keep = np.zeros(size, dtype=bool)
    keep[columns] = True
    keep &= usable
    sub = matrix[:, keep]
    # Figures are linked when they share a relation: components of Aᵀ A's pattern
    pattern = (abs(sub).T @ abs(sub)).tocsr()
    count, labels = csgraph.connected_components(pattern, directed=False)
    chosen = np.flatnonzero(keep)
    return [chosen[labels == label] for label in range(count)]


def _propagate(
    matrix: sparse.csr_matrix, lower: np.ndarray, upper: np.ndarray, rounds: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on each figure implied by lower ≤ A x ≤ upper and x ≥ 0 (outer, never too tight).

    Each round bounds a figure in each relation by what the relation's other figures can
    contribute; stopping early only leaves the bounds wider.
    """
    size = matrix.shape[1]
    low, high = np.zeros(size), np.full(size, np.inf)
    entries = matrix.tocoo()
    row, col, a = entries.row, entries.col, entries.data
    count = matrix.shape[0]
    positive = a > 0
    for _round in range(rounds):
        with np.errstate(invalid="ignore"):
            least = np.where(positive, a * low[col], a * high[col])
            most = np.where(positive, a * high[col], a * low[col])
        least_inf, most_inf = np.isinf(least), np.isinf(most)
        least_sum = np.bincount(row, np.where(least_inf, 0.0, least), count)
        most_sum = np.bincount(row, np.where(most_inf, 0.0, most), count)
        least_count = np.bincount(row, least_inf, count)
        most_count = np.bincount(row, most_inf, count)
        # What the other figures of the relation contribute at least and at most
        others_least = np.where(
            least_inf,
            np.where(least_count[row] == 1, least_sum[row], -np.inf),
            np.where(least_count[row] == 0, least_sum[row] - least, -np.inf),
        )
        others_most = np.where(
            most_inf,
            np.where(most_count[row] == 1, most_sum[row], np.inf),
            np.where(most_count[row] == 0, most_sum[row] - most, np.inf),
        )
        with np.errstate(invalid="ignore"):
            floor = (lower[row] - others_most) / a
            ceiling = (upper[row] - others_least) / a
        new_low = np.where(positive, floor, ceiling)
        new_high = np.where(positive, ceiling, floor)
        new_low = np.nan_to_num(new_low, nan=-np.inf, posinf=np.inf, neginf=-np.inf)
        new_high = np.nan_to_num(new_high, nan=np.inf, posinf=np.inf, neginf=-np.inf)
        next_low, next_high = low.copy(), high.copy()
        np.maximum.at(next_low, col, new_low)
        np.minimum.at(next_high, col, new_high)
        # Rounding noise must not tighten anything: keep a margin
        next_low = np.maximum(low, next_low - 1e-9)
        next_high = np.minimum(high, next_high + 1e-9)
        with np.errstate(invalid="ignore"):
            tightened = np.where(np.isinf(high) & np.isinf(next_high), 0.0, high - next_high)
        moved = (next_low - low).max(initial=0.0) > 1e-7 or tightened.max(initial=0.0) > 1e-7
        low, high = next_low, next_high
        if not moved:
            break
    return low, high
