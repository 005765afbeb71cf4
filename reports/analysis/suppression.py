"""Small-cell suppression: hide counts 1..k-1 and enough other cells that none can be worked out.

Every published count goes through here. A table is seen as entries (cells and totals) tied by
linear relations ("these cells add up to that total"). Suppression runs in three steps:

1. primary: every entry whose count is 1..k-1 is hidden (zeros stay: DOMAIN §6, "1–4");
2. complementary, line by line: a relation with exactly one hidden entry would give it away by
   subtraction, so the smallest other non-zero entry of that relation is hidden too (cells
   before totals; a total only when nothing else is left); repeated until stable;
3. audit: a hidden entry can still be pinned down by combining several relations (two
   protected blocks joined by one hidden cell in a 2-D table). The audit solves the relations
   as a linear system: an entry is exactly recoverable iff its unit vector lies in the row space
   of the hidden part, i.e. its row of the null space is zero. Each such entry gets one more
   complement, chosen so that it is no longer recoverable; then back to step 2.

Zeros are never chosen as complements: a reader may know a cell is zero (no men reporting
pregnancy outcomes) and a hidden zero then protects nothing.

All hidden cells are shown with one marker. Marking the primary cells "<5" and complements
differently would leak: a hidden 1 next to a complementary 5 in a row whose hidden part sums to
6 could then only be 1.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from reports.analysis.conditions import SPECIAL_CODES
from reports.analysis.errors import AnalysisError

DEFAULT_K = 5
DEFAULT_MARKER = "x"
SUPPRESSED = "suppressed"
HIDDEN_WITH_ESTIMATE = ("estimate", "share_top", "ci_low", "ci_high", "points", "effective_n")


# --- the engine -----------------------------------------------------------------------------


@dataclass
class Relations:
    """Entries (cells, totals) and the relations between them: sum(parts) == total.

    cost orders complements (cheap first: ordinary cells 0, totals 1, …); a fixed entry is
    published elsewhere and can never be hidden; links say "hiding this hides those too".
    """

    values: list[float] = field(default_factory=list)
    cost: list[int] = field(default_factory=list)
    fixed: list[bool] = field(default_factory=list)
    lines: list[tuple[tuple[int, ...], int]] = field(default_factory=list)
    links: dict[int, set[int]] = field(default_factory=dict)
    index: dict[Hashable, int] = field(default_factory=dict)

    def entry(self, key: Hashable, value: float, *, cost: int = 0, fixed: bool = False) -> int:
        """The entry for key, created on first use."""
        if key not in self.index:
            self.index[key] = len(self.values)
            self.values.append(float(value))
            self.cost.append(cost)
            self.fixed.append(fixed)
        return self.index[key]

    def relation(self, parts: Iterable[int], total: int) -> None:
        """Record that the parts add up to the total."""
        self.lines.append((tuple(parts), total))

    def link(self, trigger: int, hidden: Iterable[int]) -> None:
        """Hiding trigger must hide every entry of hidden as well."""
        self.links.setdefault(trigger, set()).update(hidden)


def _check_k(k: int) -> None:
    """k is the smallest count that may be published."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise AnalysisError(f"The suppression threshold k must be a whole number ≥ 1 (got {k!r}).")


def protect(relations: Relations, k: int = DEFAULT_K, forced: Sequence[int] = ()) -> np.ndarray:
    """Boolean mask of the entries to hide: primary, complementary and audited."""
    _check_k(k)
    values = np.asarray(relations.values, dtype=float)
    if values.size == 0:
        return np.zeros(0, dtype=bool)
    if np.isnan(values).any() or (values < 0).any():
        raise AnalysisError("Counts to protect must be whole numbers ≥ 0.")
    # The same tables are protected again and again (a preview, then the paper; every page of a
    # dashboard under the same filters), and the audit's null spaces dominate the analysis time.
    problem = _Problem(
        tuple(relations.values),
        tuple(relations.cost),
        tuple(relations.fixed),
        tuple(relations.lines),
        tuple(
            sorted((trigger, tuple(sorted(hidden))) for trigger, hidden in relations.links.items())
        ),
        k,
        tuple(sorted(set(forced))),
    )
    return _solve(problem).copy()


@dataclass(frozen=True)
class _Problem:
    """A suppression problem in hashable form: what `protect` depends on, nothing else."""

    values: tuple[float, ...]
    cost: tuple[int, ...]
    fixed: tuple[bool, ...]
    lines: tuple[tuple[tuple[int, ...], int], ...]
    links: tuple[tuple[int, tuple[int, ...]], ...]
    k: int
    forced: tuple[int, ...]


@lru_cache(maxsize=4096)
def _solve(problem: _Problem) -> np.ndarray:
    """The mask for one problem (cached; read-only, so callers get copies)."""
    mask = _search(
        Relations(
            values=list(problem.values),
            cost=list(problem.cost),
            fixed=list(problem.fixed),
            lines=list(problem.lines),
            links={trigger: set(hidden) for trigger, hidden in problem.links},
        ),
        problem.k,
        problem.forced,
    )
    mask.setflags(write=False)
    return mask


def _search(relations: Relations, k: int, forced: Sequence[int]) -> np.ndarray:
    """Primary, complementary and audited suppression (see the module notes)."""
    values = np.asarray(relations.values, dtype=float)
    fixed = np.asarray(relations.fixed, dtype=bool)
    mask = (values >= 1) & (values < k) & ~fixed
    mask[list(forced)] = True
    lines = [np.array((*parts, total), dtype=np.intp) for parts, total in relations.lines]
    member: list[list[int]] = [[] for _ in range(values.size)]
    for number, line in enumerate(lines):
        for entry in line:
            member[entry].append(number)

    def exposed_lines(entry: int) -> int:
        return sum(int(mask[lines[number]].sum()) == 1 for number in member[entry])

    def rank(entry: int) -> tuple[int, bool, float, int]:
        # Cheapest first; among equals one that also mends another exposed line; then smallest
        return relations.cost[entry], exposed_lines(entry) == 0, values[entry], entry

    def candidates(entries: Iterable[int]) -> list[int]:
        found = {int(e) for e in entries if not mask[e] and not fixed[e] and values[e] > 0}
        return sorted(found, key=rank)

    hopeless: set[int] = set()
    while True:
        _follow_links(mask, relations.links)
        # One complement at a time, so each choice sees the ones made before it
        exposed = next(
            (
                choice
                for line in lines
                if int(mask[line].sum()) == 1 and (choice := candidates(line))
            ),
            None,
        )
        if exposed:
            mask[exposed[0]] = True
            continue
        recoverable = [e for e in _recoverable(mask, lines) if e not in hopeless]
        if not recoverable:
            return mask
        target = recoverable[0]
        near = candidates(np.concatenate([lines[n] for n in member[target]] or [[]]))
        far = [e for e in candidates(range(values.size)) if e not in near]
        for choice in near + far:
            trial = mask.copy()
            trial[choice] = True
            _follow_links(trial, relations.links)
            if target not in _recoverable(trial, lines):
                mask = trial
                break
        else:
            hopeless.add(target)  # every other entry is fixed or zero: nothing more can help


def _follow_links(mask: np.ndarray, links: dict[int, set[int]]) -> None:
    """Hide what hidden entries drag along, until nothing changes."""
    changed = True
    while changed:
        changed = False
        for trigger, hidden in links.items():
            if mask[trigger]:
                for entry in hidden:
                    if not mask[entry]:
                        mask[entry] = True
                        changed = True


def _recoverable(mask: np.ndarray, lines: Sequence[np.ndarray]) -> list[int]:
    """Hidden entries that the published values and the relations determine exactly."""
    hidden = np.flatnonzero(mask)
    if hidden.size == 0:
        return []
    column = {int(entry): position for position, entry in enumerate(hidden)}
    rows = []
    for line in lines:
        *parts, total = (int(e) for e in line)
        if not any(mask[e] for e in (*parts, total)):
            continue
        row = np.zeros(hidden.size)
        for entry in parts:
            if mask[entry]:
                row[column[entry]] += 1.0
        if mask[total]:
            row[column[total]] -= 1.0
        rows.append(row)
    if not rows:
        return []
    from scipy.linalg import null_space  # loaded on first use, as scipy.stats is

    basis = null_space(np.vstack(rows))
    if basis.shape[1] == 0:
        return [int(entry) for entry in hidden]
    free = np.abs(basis).max(axis=1) > 1e-9
    return [int(entry) for entry, is_free in zip(hidden, free, strict=True) if not is_free]


# --- plain count tables ---------------------------------------------------------------------


def suppress_small_cells(
    table: pd.DataFrame,
    *,
    k: int = DEFAULT_K,
    count_columns: Sequence[str] | None = None,
    row_total: str | None = None,
    col_total: Hashable | None = None,
) -> pd.DataFrame:
    """A copy of table with a boolean `<col>_suppressed` column beside each count column.

    1-D: rows are codes, one count column, and (optionally) a totals row named by col_total.
    2-D: rows are groups, count_columns the categories; row_total names the column of row
    totals and col_total the index label of the totals row (both published). Counts 1..k-1 are
    hidden, then complements so no hidden count follows from the totals (see the module notes).
    The returned frame still holds every number: publish it only through suppressed_view().
    """
    _check_k(k)
    if not isinstance(table, pd.DataFrame):
        raise AnalysisError("Suppression needs a table (DataFrame).")
    if row_total is not None and row_total not in table.columns:
        raise AnalysisError(f"Row total column '{row_total}' is not in the table.")
    if col_total is not None and col_total not in table.index:
        raise AnalysisError(f"Totals row '{col_total}' is not in the table.")
    if not table.index.is_unique:
        raise AnalysisError("Table rows must have distinct labels.")
    if count_columns is None:
        count_columns = [
            name
            for name in table.columns
            if name != row_total and pd.api.types.is_numeric_dtype(table[name].dtype)
        ]
    columns = list(count_columns)
    for name in columns:
        if name not in table.columns:
            raise AnalysisError(f"Count column '{name}' is not in the table.")
    published = [*columns, *([row_total] if row_total is not None else [])]
    counts = _counts(table, published)
    body = [label for label in table.index if col_total is None or label != col_total]
    relations = Relations()
    for label in table.index:
        is_total_row = col_total is not None and label == col_total
        for name in published:
            is_total = is_total_row or name == row_total
            relations.entry((label, name), counts.at[label, name], cost=int(is_total))
    if row_total is not None:
        for label in table.index:
            parts = [relations.index[(label, name)] for name in columns]
            relations.relation(parts, relations.index[(label, row_total)])
    if col_total is not None:
        for name in published:
            parts = [relations.index[(label, name)] for label in body]
            relations.relation(parts, relations.index[(col_total, name)])
    mask = protect(relations, k)
    result = table.copy()
    for name in published:
        flags = [bool(mask[relations.index[(label, name)]]) for label in table.index]
        result[f"{name}_{SUPPRESSED}"] = pd.Series(flags, index=table.index, dtype=bool)
    return result


def _counts(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The count columns as floats, refusing missing, negative or fractional counts."""
    counts = pd.DataFrame(index=table.index)
    for name in columns:
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        bad = np.isnan(values) | (values < 0) | (values != np.round(values))
        if bad.any():
            raise AnalysisError(f"Column '{name}' must hold whole-number counts ≥ 0.")
        counts[name] = values
    return counts


def suppressed_view(
    table: pd.DataFrame,
    mask: pd.DataFrame | None = None,
    k: int = DEFAULT_K,
    *,
    marker: str = DEFAULT_MARKER,
) -> pd.DataFrame:
    """The publishable table: hidden cells replaced by marker, the originals gone.

    mask is a boolean frame aligned with table (columns = the count columns), or None to use
    the `<col>_suppressed` columns that suppress_small_cells added (they are dropped). Raises
    AnalysisError if a published count in the masked columns lies in 1..k-1, so a mask that
    missed a small cell can never reach a report.
    """
    _check_k(k)
    if mask is None:
        flagged = [c for c in table.columns if isinstance(c, str) and c.endswith(f"_{SUPPRESSED}")]
        mask = pd.DataFrame(
            {c[: -len(SUPPRESSED) - 1]: table[c].to_numpy(dtype=bool) for c in flagged},
            index=table.index,
        )
        table = table.drop(columns=flagged)
    if not mask.index.equals(table.index):
        raise AnalysisError("The suppression mask does not match the table's rows.")
    view = pd.DataFrame(index=table.index)
    for name in table.columns:
        values = table[name].to_numpy(dtype=object)
        if name in mask.columns:
            hidden = mask[name].to_numpy(dtype=bool)
            numbers = pd.to_numeric(table[name], errors="coerce").to_numpy(
                dtype=float, na_value=np.nan
            )
            small = ~hidden & (numbers >= 1) & (numbers < k)
            if small.any():
                raise AnalysisError(f"Column '{name}' would publish a count below {k}.")
            # A fresh object array: the view never shares memory with the original numbers
            values = np.where(hidden, marker, values).astype(object)
        view[name] = pd.Series(values, index=table.index, dtype=object)
    return view


# --- estimator outputs ----------------------------------------------------------------------

_EXCLUSIVE = "frequency"
_CENTRE = ("mean", "median")
_NON_ANSWERS = ("dnk", "pnta", "missing")


def apply_to_estimates(
    estimates: pd.DataFrame, *, k: int = DEFAULT_K, kind: str | None = None
) -> pd.DataFrame:
    """A copy of an estimator (or run_plan) table with small cells and their giveaways hidden.

    A row's estimate, CI, count, points and effective n become NaN and `suppressed` True when its
    count or n − count is 1..k-1, when n < k, or when they are complements protecting such a
    cell: groups of one disaggregation add up to the overall row, so a hidden group needs a
    second hidden group. n, dnk, pnta and missing counts are protected the same way and shown
    as NaN when hidden. Rows with n < 30 keep their estimate and their `indicative` flag.

    Tables are protected per indicator (columns indicator / sector / measure when present).
    kind ("proportion", "frequency", "mean", …) comes from a `kind` column, else this argument,
    else the shape: no counts → mean; dnk and pnta category rows → frequency; else proportion.
    Frequency categories add up to n; other categories (multiple choice, ranking) stand alone.
    """
    _check_k(k)
    needed = {"group_var", "group", "n"}
    if not needed <= set(estimates.columns):
        raise AnalysisError("Estimates need the columns group_var, group and n.")
    result = estimates.copy()
    hide = np.zeros(len(result), dtype=bool)
    hidden_fields: dict[str, np.ndarray] = {
        name: np.zeros(len(result), dtype=bool)
        for name in ("n", "count", *_NON_ANSWERS)
        if name in result.columns
    }
    keys = [name for name in ("indicator", "sector", "measure") if name in result.columns]
    positions = np.arange(len(result))
    blocks = (
        [positions]
        if not keys
        else [
            positions[list(rows)]
            for rows in result.reset_index(drop=True)
            .groupby(keys, sort=False, dropna=False)
            .indices.values()
        ]
    )
    for rows in blocks:
        block = result.iloc[rows]
        block_kind = _kind_of(block, kind)
        row_hidden, fields = _protect_block(block, block_kind, k)
        hide[rows] |= row_hidden
        for name, flags in fields.items():
            if name in hidden_fields:
                hidden_fields[name][rows] |= flags
    for name in HIDDEN_WITH_ESTIMATE:
        if name in result.columns:
            result[name] = result[name].astype(float).mask(hide)
    for name, flags in hidden_fields.items():
        if name == "count":
            flags = flags | hide
        result[name] = result[name].astype(float).mask(flags)
    result[SUPPRESSED] = hide
    return result


def _kind_of(block: pd.DataFrame, kind: str | None) -> str:
    """The estimate kind of a block: explicit, from a kind column, or from the table's shape."""
    if "kind" in block.columns and block["kind"].notna().any():
        return str(block["kind"].dropna().iloc[0])
    if kind is not None:
        return kind
    if "count" not in block.columns or block["count"].isna().all():
        return "mean"
    if "category" in block.columns and set(SPECIAL_CODES) <= set(block["category"].astype(str)):
        return _EXCLUSIVE
    return "proportion"


@dataclass
class _BlockEntries:
    """Where each row of an indicator's table sits among the relations' entries."""

    relations: Relations
    n: list[int | None]  # the row's denominator
    count: list[int | None]  # its numerator (a category count for frequencies)
    rest: list[int | None]  # n − count (proportion-like kinds only)
    other: list[dict[str, int]]  # dnk, pnta, missing of the row's group
    special: np.ndarray  # frequency rows listing dnk or pnta


def _block_entries(block: pd.DataFrame, kind: str) -> _BlockEntries:
    """The counts of one indicator's table and how they add up.

    Per row: count + rest = n (proportion-like) or the categories of a group add up to n
    (frequency); across groups: each count adds up to the overall row's. Hiding n hides the
    row's counts too, since estimate × n would give them back.
    """
    size = len(block)
    variables = block["group_var"].astype(str).to_numpy()
    groups = block["group"].astype(str).to_numpy()
    categories = (
        block["category"].astype(str).to_numpy()
        if "category" in block.columns
        else np.full(size, "")
    )
    n = _whole(block["n"])
    count = _whole(block["count"]) if "count" in block.columns else np.full(size, np.nan)
    extra = {name: _whole(block[name]) for name in _NON_ANSWERS if name in block.columns}
    special = np.isin(categories, SPECIAL_CODES) if kind == _EXCLUSIVE else np.zeros(size, bool)
    # One n entry per group when all its categories share it (the usual case)
    shared = shared_within_groups(variables, groups, {"n": n, **extra})
    shared_n = shared["n"]
    relations = Relations()
    entries = _BlockEntries(relations, [], [], [], [], special)
    for row in range(size):
        group = (variables[row], groups[row])
        overall = int(variables[row] == "")  # hiding the overall row costs most
        n_entry = count_entry = rest_entry = None
        if not np.isnan(n[row]):
            key = ("n", *group) if shared_n else ("n", *group, categories[row])
            n_entry = relations.entry(key, n[row], cost=1 + overall)
        countable = kind not in _CENTRE and not special[row] and not np.isnan(count[row])
        if countable and n_entry is not None:
            cell = (*group, categories[row])
            count_entry = relations.entry(("count", *cell), count[row], cost=overall)
            if kind != _EXCLUSIVE:
                rest_entry = relations.entry(("rest", *cell), n[row] - count[row], cost=overall)
                relations.relation([count_entry, rest_entry], n_entry)
            relations.link(n_entry, [e for e in (count_entry, rest_entry) if e is not None])
        # Non-answers are per group, unless they differ by category (severity's in need and
        # acute rows leave different people out): then each category's are protected
        others = {
            name: relations.entry(
                (name, *group) if shared[name] else (name, *group, categories[row]),
                values[row],
                cost=overall,
            )
            for name, values in extra.items()
            if not np.isnan(values[row])
        }
        entries.n.append(n_entry)
        entries.count.append(count_entry)
        entries.rest.append(rest_entry)
        entries.other.append(others)
    if kind == _EXCLUSIVE and shared_n:
        for group in dict.fromkeys(zip(variables, groups, strict=True)):
            parts = [
                relations.index[("count", *group, category)]
                for category in dict.fromkeys(categories)
                if ("count", *group, category) in relations.index
            ]
            if parts:
                relations.relation(parts, relations.index[("n", *group)])
    _add_group_relations(relations)
    return entries


def shared_within_groups(
    variables: np.ndarray, groups: np.ndarray, columns: Mapping[str, np.ndarray]
) -> dict[str, bool]:
    """Per column, whether every (variable, group) holds a single value, NaN counting as one.

    What `groupby([variables, groups]).nunique(dropna=False) <= 1` says, without building a
    frame and a groupby for the few dozen rows of each indicator.
    """
    keys = list(zip(variables.tolist(), groups.tolist(), strict=True))
    shared = {}
    for name, values in columns.items():
        first: dict[tuple[Any, Any], float] = {}
        shared[name] = True
        for key, value in zip(keys, np.asarray(values, dtype=float).tolist(), strict=True):
            seen = first.setdefault(key, value)
            if seen != value and not (math.isnan(seen) and math.isnan(value)):
                shared[name] = False
                break
    return shared


def _protect_block(
    block: pd.DataFrame, kind: str, k: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Suppression for one indicator: (rows whose estimate is hidden, hidden count fields)."""
    entries = _block_entries(block, kind)
    mask = protect(entries.relations, k)
    size = len(block)
    fields = {name: np.zeros(size, dtype=bool) for name in ("n", "count", *_NON_ANSWERS)}

    def hidden(entry: int | None) -> bool:
        return entry is not None and bool(mask[entry])

    categories = block["category"].astype(str).to_numpy() if "category" in block.columns else None
    for row in range(size):
        fields["n"][row] = hidden(entries.n[row])
        fields["count"][row] = hidden(entries.count[row])
        for name, entry in entries.other[row].items():
            fields[name][row] = hidden(entry)
        if entries.special[row] and categories is not None:
            # A dnk or pnta row of a frequency table shows that count
            fields["count"][row] = fields[categories[row]][row]
    rest = np.array([hidden(entry) for entry in entries.rest], dtype=bool)
    row_hidden = fields["n"] | fields["count"] | rest
    return row_hidden, fields


def _add_group_relations(relations: Relations) -> None:
    """Groups of each disaggregation add up to the overall row (a fixed total if absent)."""
    by_total: dict[tuple[object, ...], list[int]] = {}
    for key, entry in list(relations.index.items()):
        if not isinstance(key, tuple):
            continue
        field_name, variable, _group, *rest = key
        if variable == "":
            continue
        by_total.setdefault((field_name, variable, *rest), []).append(entry)
    for (field_name, _variable, *rest), parts in by_total.items():
        total_key = (field_name, "", "", *rest)
        if total_key not in relations.index:
            # The overall figure may be published elsewhere: treat it as known
            value = sum(relations.values[entry] for entry in parts)
            relations.entry(total_key, value, cost=2, fixed=True)
        relations.relation(parts, relations.index[total_key])


def _whole(series: pd.Series) -> np.ndarray:
    """A count column as floats (NaN stays NaN), refusing negative or fractional counts."""
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    finite = ~np.isnan(values)
    if (values[finite] < 0).any() or (values[finite] != np.round(values[finite])).any():
        raise AnalysisError(f"Column '{series.name}' must hold whole-number counts ≥ 0.")
    return values
