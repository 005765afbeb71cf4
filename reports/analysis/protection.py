"""The protected cube: every figure advocates may see for one publication, suppressed together.

A publication is a STAR: for each indicator the grand total and one one-way table per
disaggregation variable, all over one fixed selection of interviews. Nothing else is published
(no two variables crossed, no second status or date selection), so the attacker's knowledge is
exactly these linear relations (the tau-Argus model):

- per row (one group of one variable): yes + no = n (or the categories add up to n), and
  n + don't know + prefer not + missing = the row's base, which is the group's published
  respondent count when the indicator has no denominator condition;
- per variable: every entry of the groups adds up to the overall row's entry;
- the respondent counts per group (the population table) are shared by every indicator.

Suppression works on rows at three levels: "count" (the yes/no or category counts, hence the
share and its interval; n stays), "nr" (the non-response counts) and "full" (n too: then every
figure of the row). A row is primary at a level when one of its counts there is 1..k-1 (zeros
are published: DOMAIN §6 protects 1–4). Complements are whole rows of the same variable,
smallest first. The hidden rows of one variable and level form a two-way table (rows × the
level's columns) whose margins the attacker knows; the interval he can infer for a cell is
then given by Fréchet's bounds, [max(0, r + c − N), min(r, c)], which are sharp for a two-way
table with known margins. Complements are added until every hidden non-zero cell has an
interval at least k wide. Treating each row's sum as known makes the check conservative.

A group whose respondent count is hidden (1..k-1, or its complement) is hidden at full level in
every indicator: hidden anywhere, hidden everywhere. So is a row whose n is hidden in one
indicator in every indicator with the same n column (same denominator). `reports.analysis.audit`
checks the result with a linear programme over everything published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from reports.analysis.conditions import SPECIAL_CODES
from reports.analysis.errors import AnalysisError

DEFAULT_K = 5
SHARE_DECIMALS = 3  # a share rounded to 0.1 percentage point
NON_RESPONSE = ("dnk", "pnta", "missing")
LEVELS = ("count", "nr", "full")
PROPORTION_LIKE = frozenset({"proportion", "multiple", "ranking", "severity"})
# Kinds whose every category is a yes/no table of its own (count ≤ n): each is protected as a
# cell, so that one small category hides that category only. Points count the respondents
# naming a code, as rankings do (their total points are hidden with that count).
PER_CATEGORY = PROPORTION_LIKE | {"points"}
CENTRE = frozenset({"mean", "median"})
OVERALL = ("", "")
HIDDEN_WITH_COUNTS = ("estimate", "ci_low", "ci_high", "points", "count")

Group = tuple[str, str]


@dataclass(frozen=True)
class ProtectedCube:
    """One publication: the indicator table and respondent counts as advocates may see them.

    table: the tidy table with hidden figures as NaN, shares rounded, and flags `suppressed`
    (estimate hidden), `n_hidden`, `nr_hidden`; population: unit, group_var, group,
    respondents (NaN when hidden), hidden; stats: cells hidden, primary and secondary.
    """

    table: pd.DataFrame
    population: pd.DataFrame
    k: int
    stats: Mapping[str, int] = field(default_factory=dict)
    out_known: Mapping[str, bool] = field(default_factory=dict)
    margins: Mapping[str, str] = field(default_factory=dict)

    def slice(self, group_var: str | None = None, group: str | None = None) -> pd.DataFrame:
        """The rows of one view: the overall rows and one disaggregation, or one group alone."""
        table = self.table
        if group_var and group is not None:
            return table[(table["group_var"] == group_var) & (table["group"] == group)]
        keep = table["group_var"] == ""
        if group_var:
            keep |= table["group_var"] == group_var
        return table[keep]


@dataclass
class _Block:
    """One indicator's rows (or one category's, for PER_CATEGORY kinds) as suppression sees them."""

    indicator: str
    kind: str
    unit: str
    groups: list[Group]  # overall first
    n: dict[Group, float]
    nr: dict[Group, dict[str, float]]
    # count tables: name -> {group: {column: value}}
    tables: dict[str, dict[Group, dict[str, float]]]
    out_zero: bool  # base = respondent count in every group (no denominator condition)
    hidden: dict[str, set[Group]] = field(default_factory=dict)
    primary: dict[str, set[Group]] = field(default_factory=dict)
    n_min: dict[Group, float] = field(default_factory=dict)  # the smallest category n
    category: str | None = None  # the one category of a PER_CATEGORY block
    free: set[Group] = field(default_factory=set)  # groups whose respondent count is hidden
    # Cells of a frequency shown although their row is hidden at count level (see _open_cells)
    shown: set[tuple[Group, str]] = field(default_factory=set)

    def base(self, group: Group) -> float:
        """n plus the non-response counts of a group."""
        return self.n[group] + sum(self.nr[group].values())


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise AnalysisError(f"The suppression threshold k must be a whole number ≥ 1 (got {k!r}).")


def population_table(frame: pd.DataFrame, variables: Sequence[str], unit: str) -> pd.DataFrame:
    """Respondent (or member) counts per group of each variable, the overall count first.

    Every row must belong to one group of each variable (give missing values a code first):
    the groups of a variable add up to the overall count, and the attacker knows it.
    """
    rows = [{"unit": unit, "group_var": "", "group": "", "respondents": len(frame)}]
    for name in variables:
        if name not in frame.columns:
            continue
        if frame[name].isna().any():
            raise AnalysisError(f"Column '{name}' has missing values: give them a group first.")
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            # Counted on the codes: turning every row into text took a tenth of a publication
            order = [str(c) for c in column.cat.categories]
            tallies = np.bincount(column.cat.codes.to_numpy(), minlength=len(order))
            counts: dict[str, int] = {}
            for label, tally in zip(order, tallies.tolist(), strict=True):
                counts[label] = counts.get(label, 0) + tally
        else:
            counts = column.astype("string").value_counts(dropna=True).to_dict()
            order = sorted(str(c) for c in counts)
        for code in order:
            rows.append(
                {
                    "unit": unit,
                    "group_var": name,
                    "group": code,
                    "respondents": int(counts.get(code, 0)),
                }
            )
    return pd.DataFrame(rows, columns=["unit", "group_var", "group", "respondents"])


def _blocks(table: pd.DataFrame, units: Mapping[str, str]) -> list[_Block]:
    """The star table as blocks: one per category of PER_CATEGORY kinds, else per indicator.

    A category of a proportion, multiple choice, ranking, points or severity indicator is a
    table of its own (yes + no = its n, its own non-response): hiding it leaves the other
    categories of the row published. Blocks that share a column (the same n, non-response or
    counts in every group) are hidden together afterwards.
    """
    blocks = []
    frame = table.reset_index(drop=True)
    for indicator, rows in frame.groupby("indicator", sort=False).indices.items():
        part = frame.iloc[rows]
        kind = str(part["kind"].iloc[0])
        unit = units.get(str(indicator), "respondent")
        if kind in PER_CATEGORY:
            categories = part["category"].astype(str).to_numpy()
            for category in dict.fromkeys(categories):
                block = _block(str(indicator), kind, unit, part[categories == category])
                block.category = category
                blocks.append(block)
        else:
            blocks.append(_block(str(indicator), kind, unit, part))
    return blocks


def _block(indicator: str, kind: str, unit: str, part: pd.DataFrame) -> _Block:
    groups: list[Group] = [OVERALL]
    n: dict[Group, float] = {}
    nr: dict[Group, dict[str, float]] = {}
    tables: dict[str, dict[Group, dict[str, float]]] = {}
    smallest: dict[Group, float] = {}
    for record in part.to_dict("records"):
        group = (str(record["group_var"]), str(record["group"]))
        if group not in n:
            if group != OVERALL:
                groups.append(group)
            n[group] = float(record["n"])
            nr[group] = {name: _value(record.get(name)) for name in NON_RESPONSE}
        else:
            n[group] = max(n[group], float(record["n"]))
            for name in NON_RESPONSE:
                value = _value(record.get(name))
                if value and (not nr[group][name] or value < nr[group][name]):
                    nr[group][name] = value
        smallest[group] = min(smallest.get(group, float(record["n"])), float(record["n"]))
        category = str(record.get("category") or "")
        if kind in CENTRE or category in SPECIAL_CODES:
            continue
        count = _value(record.get("count"))
        if kind in PER_CATEGORY:
            cell = {"yes": count, "no": float(record["n"]) - count}
            tables.setdefault(f"c:{category}", {})[group] = cell
        else:
            tables.setdefault("freq", {}).setdefault(group, {})[category] = count
    if OVERALL not in n:
        raise AnalysisError(f"Indicator '{indicator}' has no overall row.")
    return _Block(indicator, kind, unit, groups, n, nr, tables, False, n_min=smallest)


def _value(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if np.isnan(number) else number


def _small(value: float, k: int) -> bool:
    return 0 < value < k


# --- Fréchet widths ---------------------------------------------------------------------------


def _narrow(
    cells: Mapping[Group, Mapping[str, float]],
    sums: Mapping[Group, float],
    hidden: Iterable[Group],
    k: int,
    unknown: set[Group] = frozenset(),  # type: ignore[assignment]
    free: set[Group] = frozenset(),  # type: ignore[assignment]
) -> bool:
    """Whether a hidden non-zero cell of this two-way table has an interval narrower than k.

    sums are the rows' totals, known to the attacker except for rows in `unknown` (hidden
    at a higher level), where they are only an upper bound, and rows in `free`, whose total
    is a hidden respondent count: only the column totals bound their cells.
    """
    rows = list(hidden)
    if not rows:
        return False
    if len(rows) == 1 and not (unknown | free) & set(rows):
        return any(v > 0 for v in cells[rows[0]].values())
    total = sum(sums[g] for g in rows)
    columns: dict[str, float] = {}
    for g in rows:
        for name, value in cells[g].items():
            columns[name] = columns.get(name, 0.0) + value
    if free & set(rows):
        return _narrow_free(cells, sums, rows, columns, k, unknown | free, free)
    for g in rows:
        r = sums[g]
        for name, value in cells[g].items():
            c = columns[name]
            if c <= 0:
                continue  # a column of zeros: nothing to protect
            low = max(0.0, c - (total - r)) if g in unknown else max(0.0, r + c - total)
            if value > 0 and min(r, c) - low < k:
                return True
    return False


def _narrow_free(
    cells: Mapping[Group, Mapping[str, float]],
    sums: Mapping[Group, float],
    rows: Sequence[Group],
    columns: Mapping[str, float],
    k: int,
    bounded: set[Group],
    free: set[Group],
) -> bool:
    """_narrow's bounds when some rows have no known total (Fréchet's, cell by cell).

    A cell lies between what the column leaves when every other hidden row takes its most
    and its own most: min(row total, column total), or the column total for a free row.
    """
    for g in rows:
        for name, value in cells[g].items():
            c = columns[name]
            if c <= 0 or value <= 0:
                continue

            def most(h: Group, column: float = c) -> float:
                return column if h in free else min(sums[h], column)

            high = most(g)
            low = max(0.0, c - sum(most(h) for h in rows if h != g))
            if g not in bounded:
                rest = sum(columns[other] for other in columns if other != name)
                low = max(low, sums[g] - rest)
            if high - low < k:
                return True
    return False


def _level_tables(block: _Block, level: str, variable: str) -> list[tuple[dict, dict]]:
    """(cells, row sums) of the two-way tables of one variable at one level.

    A row hidden at full level has an unknown sum at the lower levels: its base bounds it.
    """
    rows = [g for g in block.groups if g[0] == variable]
    full = block.hidden.get("full", set())
    if level == "count":
        out = []
        for table in block.tables.values():
            cells = {g: dict(table.get(g, {})) for g in rows}
            sums = {g: block.base(g) if g in full else block.n[g] for g in rows}
            out.append((cells, sums))
        return out
    if level == "nr":
        cells = {g: dict(block.nr[g]) for g in rows}
        sums = {g: block.base(g) if g in full else sum(block.nr[g].values()) for g in rows}
        return [(cells, sums)]
    if OVERALL in block.hidden["nr"]:
        # The overall non-response counts are hidden (only their total, base − n, is known):
        # each count's protection is the nr level's; here n against the non-response total
        cells = {g: {"n": block.n[g], "nr": sum(block.nr[g].values())} for g in rows}
    else:
        cells = {g: {"n": block.n[g], **block.nr[g]} for g in rows}
    sums = {g: block.base(g) for g in rows}
    return [(cells, sums)]


def _row_sum(block: _Block, level: str, group: Group) -> float:
    if level == "count":
        return block.n[group]
    if level == "nr":
        return sum(block.nr[group].values())
    return block.base(group)


# --- the suppression ----------------------------------------------------------------------------


def _primary(block: _Block, k: int, forced_full: set[Group]) -> None:
    """Rows hidden for their own small counts (and groups hidden in the population table)."""
    hidden = {level: set() for level in LEVELS}
    for group in [OVERALL, *block.groups[1:]]:
        counts = [v for table in block.tables.values() for v in table.get(group, {}).values()]
        if _small(block.n[group], k) or _small(block.n_min.get(group, 0.0), k):
            hidden["full"].add(group)
        if group in forced_full:
            hidden["full"].add(group)
        if any(_small(v, k) for v in counts):
            hidden["count"].add(group)
        if any(_small(v, k) for v in block.nr[group].values()):
            hidden["nr"].add(group)
            if _small(sum(block.nr[group].values()), k):
                hidden["full"].add(group)  # the non-response total itself needs hiding
    block.primary = {level: set(rows) for level, rows in hidden.items()}
    block.hidden = hidden


def _close_levels(block: _Block) -> None:
    """A row hidden at full level is hidden at every level."""
    for level in ("count", "nr"):
        block.hidden[level] |= block.hidden["full"]


def _complete(block: _Block, k: int) -> bool:
    """Add complements until every variable's hidden rows are safe; True if anything changed."""
    changed = False
    variables = list(dict.fromkeys(g[0] for g in block.groups[1:]))
    for level in ("full", "nr", "count"):
        _close_levels(block)
        for _round in range(len(block.groups) + 2):
            step = False
            overall_hidden = OVERALL in block.hidden[level]
            for variable in variables:
                step |= _complete_variable(block, level, variable, k, overall_hidden)
            if not step:
                break
            changed = True
            _close_levels(block)
    return changed


def _complete_variable(
    block: _Block, level: str, variable: str, k: int, overall_hidden: bool
) -> bool:
    """Complements for one variable at one level; escalate to the overall row if need be."""
    rows = [g for g in block.groups if g[0] == variable]
    hidden = block.hidden[level]
    mine = [g for g in rows if g in hidden]
    if not mine and not overall_hidden:
        return False
    tables = _level_tables(block, level, variable)

    def unsafe(chosen: list[Group]) -> bool:
        if overall_hidden:
            return sum(_row_sum(block, level, g) for g in chosen) < k
        unknown = block.hidden["full"] if level != "full" else set()
        # A row whose respondent count is hidden has no known total (n and its base are hidden
        # with it): only the column totals bound its cells
        free = block.free
        return any(_narrow(cells, sums, chosen, k, unknown, free) for cells, sums in tables)

    if not unsafe(mine):
        return False
    candidates = sorted(
        (g for g in rows if g not in hidden and _row_sum(block, level, g) > 0),
        key=lambda g: (_row_sum(block, level, g), g),
    )
    for group in candidates:
        hidden.add(group)
        mine.append(group)
        if not unsafe(mine):
            return True
    # Every row of the variable is hidden and still too narrow: hide the overall row too
    if not overall_hidden:
        hidden.add(OVERALL)
        return True
    if level != "full" and not ({*mine, OVERALL} <= block.hidden["full"]):
        block.hidden["full"] |= {*mine, OVERALL}
        return True
    return False  # nothing more can be hidden: the audit reports what is left


def protect_cube(
    table: pd.DataFrame,
    populations: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
    margins: Mapping[str, str] | None = None,
    k: int = DEFAULT_K,
) -> ProtectedCube:
    """Suppress a star table (overall + one-way tables per variable) as one publication.

    table: run_plan's tidy table computed with the star's disaggregations; populations:
    population_table() rows for each unit; units: indicator id → "respondent"/"member";
    margins: indicator id → the star variable it counts (a frequency of that variable).
    """
    _check_k(k)
    units = dict(units or {})
    needed = {"indicator", "kind", "group_var", "group", "n"}
    if len(table) and not needed <= set(table.columns):
        raise AnalysisError("The cube needs the columns indicator, kind, group_var, group and n.")
    margins = dict(margins or {})
    population_hidden = _protect_population(populations, k)
    # A frequency of a star variable is that variable's respondent counts: only its overall
    # row is published (its breakdowns would cross two variables), hidden with them.
    is_margin = np.zeros(len(table), dtype=bool)
    if len(table):
        drop = (
            table["indicator"].isin(list(margins)).to_numpy()
            & (table["group_var"] != "").to_numpy()
        )
        table = table[~drop].reset_index(drop=True)
        is_margin = table["indicator"].isin(list(margins)).to_numpy()
    blocks = _blocks(table[~is_margin], units) if len(table) else []
    respondents = {
        (str(r["unit"]), str(r["group_var"]), str(r["group"])): float(r["respondents"])
        for r in populations.to_dict("records")
    }
    tiny = {
        str(u)
        for u, v, c in zip(
            populations["unit"], populations["group_var"], populations["respondents"], strict=True
        )
        if v == "" and float(c) < k
    }
    for block in blocks:
        block.out_zero = all(
            block.base(g) == respondents.get((block.unit, *g), -1) for g in block.groups
        )
        forced = {g for g in block.groups if (block.unit, *g) in population_hidden}
        block.free = set(forced)
        if block.unit in tiny or "respondent" in tiny:
            forced = set(block.groups)  # fewer than k interviews: nothing is published
        _primary(block, k, forced)
    # Hidden anywhere, hidden everywhere: a column shown in several blocks (the same n in
    # every category of a multiple choice, the same non-response, a ranking's counts repeated
    # by its points) is hidden in all of them where it is hidden in one.
    families = _families(blocks)
    for _round in range(50):
        for block in blocks:
            _complete(block, k)
        changed = False
        for level, family in families:
            union = set().union(*(b.hidden[level] for b in family))
            for block in family:
                if not union <= block.hidden[level]:
                    block.hidden[level] |= union
                    changed = True
        if not changed:
            break
    for block in blocks:
        _open_cells(block, k)
    published = _publish(table[~is_margin], blocks, k) if len(table) else table.copy()
    if is_margin.any():
        published = pd.concat(
            [published, _publish_margins(table[is_margin], margins, units, population_hidden)]
        )
        order = {name: i for i, name in enumerate(dict.fromkeys(table["indicator"]))}
        published = published.iloc[
            np.argsort(published["indicator"].map(order).to_numpy(), kind="stable")
        ].reset_index(drop=True)
    published["unit"] = [units.get(str(i), "respondent") for i in published["indicator"]]
    for name in ("suppressed", "n_hidden", "nr_hidden"):
        if name not in published.columns:
            published[name] = pd.Series(dtype=bool)
    population = populations.copy()
    population["hidden"] = [
        (str(u), str(v), str(g)) in population_hidden
        for u, v, g in zip(
            population["unit"], population["group_var"], population["group"], strict=True
        )
    ]
    population["respondents"] = population["respondents"].astype(float).mask(population["hidden"])
    stats = _stats(blocks, population_hidden, populations, k)
    out_known: dict[str, bool] = {}
    for block in blocks:
        out_known[block.indicator] = out_known.get(block.indicator, True) and block.out_zero
    return ProtectedCube(published, population, k, stats, out_known, margins)


def _open_cells(block: _Block, k: int) -> None:
    """Publish again the cells of a frequency's hidden rows that nothing needs hidden.

    Row suppression hides every category of a row with one small category. A single choice's
    rows of one variable form a two-way table whose row totals (n) and column totals (the
    overall row) the attacker knows, so a hidden cell is protected by a rectangle of four
    hidden cells (two rows, two categories): adding t to two opposite corners and taking it
    from the other two keeps every total, so the cell can move over at least
    min(a, d) + min(b, c) ≥ k. Cells are shown again, largest first, while every hidden
    non-zero cell keeps such a rectangle; rows whose n is hidden keep all their cells, and a
    frequency whose overall row is hidden keeps its rows hidden.
    """
    table = block.tables.get("freq")
    if block.kind in PER_CATEGORY or block.kind in CENTRE or not table:
        return
    if OVERALL in block.hidden["count"]:
        return
    categories = list(table.get(OVERALL, {}))
    full = block.hidden["full"]
    for variable in dict.fromkeys(g[0] for g in block.groups[1:]):
        rows = [g for g in block.groups if g[0] == variable and g in block.hidden["count"]]
        hidden = {(g, c) for g in rows for c in categories}
        if not rows or not _rectangles_hold(table, hidden, k):
            continue
        cells = sorted(
            (cell for cell in hidden if cell[0] not in full and not _small(_cell(table, cell), k)),
            key=lambda cell: (-_cell(table, cell), cell),
        )
        # A whole category first (with two hidden rows, one cell shown pins the other), then
        # cell by cell
        columns = [
            {cell for cell in cells if cell[1] == category}
            for category in sorted(categories, key=lambda c: -_cell(table, (OVERALL, c)))
        ]
        for candidate in [*columns, *({cell} for cell in cells)]:
            trial = hidden - candidate
            if candidate and candidate <= hidden and _rectangles_hold(table, trial, k):
                hidden = trial
        block.shown |= {(g, c) for g in rows for c in categories} - hidden


def _cell(table: Mapping[Group, Mapping[str, float]], cell: tuple[Group, str]) -> float:
    return float(table.get(cell[0], {}).get(cell[1], 0.0))


def _rectangles_hold(
    table: Mapping[Group, Mapping[str, float]], hidden: set[tuple[Group, str]], k: int
) -> bool:
    """Every hidden non-zero cell is a corner of a hidden rectangle that moves it by ≥ k."""
    for group, category in hidden:
        a = _cell(table, (group, category))
        if a <= 0:
            continue
        safe = False
        for other, other_category in hidden:
            if other == group or other_category == category:
                continue
            if (group, other_category) not in hidden or (other, category) not in hidden:
                continue
            d = _cell(table, (other, other_category))
            b = _cell(table, (group, other_category))
            c = _cell(table, (other, category))
            if min(a, d) + min(b, c) >= k:
                safe = True
                break
        if not safe:
            return False
    return True


def _families(blocks: Sequence[_Block]) -> list[tuple[str, list[_Block]]]:
    """Blocks that publish the same column, per level: they must hide it in the same rows.

    full: the same n in every group; nr: the same n and non-response; count: the same n and
    counts (a ranking and its points).
    """
    keys: dict[tuple, list[_Block]] = {}
    for block in blocks:
        groups = sorted(block.groups)
        n = tuple((g, block.n[g]) for g in groups)
        keys.setdefault(("full", block.unit, n), []).append(block)
        nr = tuple(tuple(block.nr[g].values()) for g in groups)
        if any(any(values) for values in nr):
            keys.setdefault(("nr", block.unit, n, nr), []).append(block)
        counts = tuple(
            tuple(sorted(table.get(g, {}).items()))
            for table in block.tables.values()
            for g in groups
        )
        if block.tables:
            keys.setdefault(("count", block.unit, n, counts), []).append(block)
    return [(key[0], family) for key, family in keys.items() if len(family) > 1]


def _publish_margins(
    table: pd.DataFrame,
    margins: Mapping[str, str],
    units: Mapping[str, str],
    population_hidden: set[tuple[str, str, str]],
) -> pd.DataFrame:
    """The overall rows of the star variables' frequencies, hidden cell by cell as those counts.

    A count is hidden where the respondent count is; n (the sum of the answer codes) where
    one of those codes is hidden, and then every share too, since share × n gives n back.
    """
    out = table.reset_index(drop=True).copy()
    categories = out["category"].astype(str).to_numpy()
    keys = [
        (units.get(str(i), "respondent"), margins[str(i)]) for i in out["indicator"].astype(str)
    ]
    cell_hidden = np.array(
        [(*key, c) in population_hidden for key, c in zip(keys, categories, strict=True)]
    )
    # Fewer than k in the whole publication: the margins say nothing either
    tiny = np.array([(key[0], "", "") in population_hidden for key in keys], dtype=bool)
    cell_hidden = cell_hidden | tiny
    special = np.isin(categories, list(SPECIAL_CODES))
    n_hidden = np.zeros(len(out), dtype=bool)
    for indicator in out["indicator"].unique():
        mine = (out["indicator"] == indicator).to_numpy()
        # n = total − non-response: it says something only when both sides hide a count
        key = (units.get(str(indicator), "respondent"), margins[str(indicator)])
        special_hidden = any((*key, name) in population_hidden for name in NON_RESPONSE)
        n_hidden[mine] = bool((cell_hidden & mine & ~special).any()) and special_hidden
    n_hidden |= tiny
    nr_hidden = {
        name: np.array([(*key, name) in population_hidden for key in keys], dtype=bool) | tiny
        for name in NON_RESPONSE
    }
    out["count"] = out["count"].astype(float).mask(cell_hidden)
    estimate_hidden = cell_hidden | n_hidden
    for name in ("estimate", "ci_low", "ci_high", "points"):
        if name in out.columns:
            out[name] = out[name].astype(float).mask(estimate_hidden).round(SHARE_DECIMALS)
    for name in ("n", "effective_n"):
        if name in out.columns:
            out[name] = out[name].astype(float).mask(n_hidden)
    for name, flags in nr_hidden.items():
        if name in out.columns:
            out[name] = out[name].astype(float).mask(flags)
    out["suppressed"] = estimate_hidden
    out["n_hidden"] = n_hidden
    out["nr_hidden"] = np.logical_or.reduce(list(nr_hidden.values()))
    return out


def _protect_population(populations: pd.DataFrame, k: int) -> set[tuple[str, str, str]]:
    """Hidden groups of the respondent (and member) counts: small ones and their complements."""
    hidden: set[tuple[str, str, str]] = set()
    totals = populations[populations["group_var"] == ""]
    if (totals["respondents"].astype(float) < k).any():
        # Fewer than k interviews (or members): every count of the publication is hidden
        return {
            (str(u), str(v), str(g))
            for u, v, g in zip(
                populations["unit"], populations["group_var"], populations["group"], strict=True
            )
        }
    for (unit, variable), part in populations.groupby(["unit", "group_var"], sort=False):
        if variable == "":
            total = float(part["respondents"].iloc[0])
            if _small(total, k):
                # Too few interviews for anything: every group of the unit is hidden
                hidden |= {
                    (str(unit), str(v), str(g))
                    for v, g in zip(
                        populations.loc[populations["unit"] == unit, "group_var"],
                        populations.loc[populations["unit"] == unit, "group"],
                        strict=True,
                    )
                }
            continue
        counts = {str(g): float(c) for g, c in zip(part["group"], part["respondents"], strict=True)}
        mine = [g for g, c in counts.items() if _small(c, k)]
        if not mine:
            continue
        others = sorted((c, g) for g, c in counts.items() if c > 0 and g not in mine)
        while (len(mine) < 2 or sum(counts[g] for g in mine) < k) and others:
            mine.append(others.pop(0)[1])
        hidden |= {(str(unit), str(variable), g) for g in mine}
    return hidden


def _publish(table: pd.DataFrame, blocks: Sequence[_Block], k: int) -> pd.DataFrame:
    """The tidy table with hidden figures blanked and shares rounded."""
    out = table.reset_index(drop=True).copy()
    size = len(out)
    counts_hidden = np.zeros(size, dtype=bool)
    n_hidden = np.zeros(size, dtype=bool)
    nr_hidden = np.zeros(size, dtype=bool)
    by_id = {(b.indicator, b.category): b for b in blocks}
    categories = out["category"].astype(str).to_numpy() if "category" in out else np.full(size, "")
    for position, (indicator, kind, var, group) in enumerate(
        zip(out["indicator"], out["kind"], out["group_var"], out["group"], strict=True)
    ):
        category = categories[position] if str(kind) in PER_CATEGORY else None
        block = by_id[(str(indicator), category)]
        key = (str(var), str(group))
        n_hidden[position] = key in block.hidden["full"]
        nr_hidden[position] = key in block.hidden["nr"]
        counts_hidden[position] = (
            key in block.hidden["count"] and (key, str(categories[position])) not in block.shown
        ) or n_hidden[position]
    kinds = out["kind"].astype(str).to_numpy()
    centre = np.isin(kinds, list(CENTRE))
    estimate_hidden = np.where(centre, n_hidden, counts_hidden)
    special = np.isin(categories, list(SPECIAL_CODES))
    estimate_hidden = estimate_hidden | (special & nr_hidden)
    for name in HIDDEN_WITH_COUNTS:
        if name in out.columns:
            out[name] = out[name].astype(float).mask(estimate_hidden)
    for name in ("n", "effective_n"):
        if name in out.columns:
            out[name] = out[name].astype(float).mask(n_hidden)
    for name in NON_RESPONSE:
        if name in out.columns:
            out[name] = out[name].astype(float).mask(nr_hidden)
    shares = ~centre
    for name in ("estimate", "ci_low", "ci_high"):
        if name in out.columns:
            values = out[name].astype(float)
            out[name] = np.where(shares, values.round(SHARE_DECIMALS), values.round(2))
    out["suppressed"] = estimate_hidden
    out["n_hidden"] = n_hidden
    out["nr_hidden"] = nr_hidden
    return out


def _stats(
    blocks: Sequence[_Block],
    population_hidden: set,
    populations: pd.DataFrame,
    k: int,
) -> dict[str, int]:
    """Rows (indicator × group) hidden for their own counts and as complements, per level."""
    stats = {"rows": 0, "primary": 0, "secondary": 0}
    for level in LEVELS:
        stats[f"{level}_primary"] = 0
        stats[f"{level}_secondary"] = 0
    for block in blocks:
        stats["rows"] += len(block.groups)
        hidden_any = set().union(*block.hidden.values())
        primary_any = set().union(*block.primary.values())
        stats["primary"] += len(primary_any)
        stats["secondary"] += len(hidden_any - primary_any)
        for level in LEVELS:
            stats[f"{level}_primary"] += len(block.primary[level])
            stats[f"{level}_secondary"] += len(block.hidden[level] - block.primary[level])
    small = sum(1 for c in populations["respondents"] if _small(float(c), k))
    stats["population_rows"] = len(populations)
    stats["population_primary"] = small
    stats["population_secondary"] = len(population_hidden) - small
    return stats
