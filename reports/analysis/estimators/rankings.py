"""Ranked needs: mentions of each need and rank points."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from reports.analysis.conditions import (
    DONT_KNOW,
    PREFER_NOT_TO_ANSWER,
    SPECIAL_CODES,
)
from reports.analysis.design import SurveyDesign
from reports.analysis.errors import AnalysisError
from reports.analysis.estimators.centres import _design_mean_bounds
from reports.analysis.estimators.common import (
    INDICATIVE_N,
    Array,
    Mask,
    _cell_sums,
    _cells,
    _check_frame,
    _divide,
    _effective_n,
    _require,
    _share_columns,
    _share_variance,
    _Shares,
    _stack,
    _weighting,
)
from reports.analysis.estimators.frequencies import FREQUENCY_COLUMNS
from reports.analysis.groups import (
    answer_codes,
    group_blocks,
    label_mask,
)
from reports.analysis.intervals import (
    t_bounds,
)

RANKING_COLUMNS = (
    "group_var",
    "group",
    "category",
    "points",
    "share_top",
    "ci_low",
    "ci_high",
    "n",
    "count",
    "effective_n",
    "dnk",
    "pnta",
    "missing",
    "indicative",
)


@dataclass(frozen=True)
class _Ranked:
    """Ranked columns read once: the codes, each rank's code per row and its first mentions."""

    categories: list[str]
    rank_codes: list[NDArray[np.intp]]
    first: list[Mask]
    valid: Mask
    status: tuple[Mask, Mask, Mask]


def _ranked(
    df: pd.DataFrame,
    columns: Sequence[str],
    points: Sequence[float],
    exclude: Sequence[str],
    codes: Sequence[str] | None,
) -> _Ranked:
    """Read ranked columns (need_1..need_3): codes, per-rank row codes, who ranked anything."""
    _check_frame(df)
    columns = list(columns)
    if not columns or len(points) != len(columns):
        raise AnalysisError(
            f"Ranking needs one points value per ranked column ({len(columns)} columns, "
            f"{len(points)} points)."
        )
    _require(df, columns)
    excluded = {str(code) for code in exclude}
    answers = []  # per ranked column: (row codes, labels), missing answers coded -1
    observed: set[str] = set()
    for name in columns:
        value_codes, labels = answer_codes(df[name])
        used = np.bincount(value_codes + 1, minlength=len(labels) + 1)[1:] > 0
        observed |= {label for label, seen in zip(labels, used, strict=True) if seen}
        answers.append((value_codes, labels))
    categories = [str(code) for code in codes] if codes is not None else []
    categories += sorted(observed - excluded - set(categories))
    position = {label: index for index, label in enumerate(categories)}
    rank_codes = []
    for value_codes, labels in answers:
        lookup = np.array([position.get(label, -1) for label in labels] + [-1], dtype=np.intp)
        rank_codes.append(lookup[np.where(value_codes < 0, len(labels), value_codes)])
    valid = np.logical_or.reduce([code >= 0 for code in rank_codes])
    said = {
        special: np.logical_or.reduce([label_mask(*answer, special) for answer in answers])
        for special in SPECIAL_CODES
    }
    dnk = ~valid & said[DONT_KNOW]
    pnta = ~valid & ~dnk & said[PREFER_NOT_TO_ANSWER]
    # A code counts once per person: only its first mention is counted
    first = []
    for index, code in enumerate(rank_codes):
        new = code >= 0
        for earlier in rank_codes[:index]:
            new = new & (code != earlier)
        first.append(new)
    return _Ranked(categories, rank_codes, first, valid, (dnk, pnta, ~valid & ~dnk & ~pnta))


def _mention_matrix(ranked: _Ranked, scores: Sequence[float]) -> Array:
    """(rows, codes): the score each row gives each code at its first mention (0 if unnamed)."""
    out = np.zeros((len(ranked.valid), len(ranked.categories)))
    rows = np.arange(len(ranked.valid))
    for code, is_first, score in zip(ranked.rank_codes, ranked.first, scores, strict=True):
        out[rows[is_first], code[is_first]] += float(score)
    return out


def ranking(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    points: Sequence[float] = (3, 2, 1),
    by: str | Sequence[str] | None = None,
    exclude: Sequence[str] = SPECIAL_CODES,
    codes: Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """Ranked needs: rank-weighted points per code and the share naming it at any rank.

    columns hold the code ranked 1st, 2nd, … (e.g. need_1..need_3) and points the score of
    each rank. share_top (with a Wilson CI) is among respondents who named at least one code
    not in exclude; count is how many of them named the code. Rows are sorted by points,
    highest first, within each group. A code named twice by one person counts once in the share.
    """
    ranked = _ranked(df, columns, points, exclude, codes)
    categories, rank_codes, first, valid = (
        ranked.categories,
        ranked.rank_codes,
        ranked.first,
        ranked.valid,
    )
    w, arrays = _weighting(df, weight, design)
    unit = np.ones(len(df)) if w is None else w
    size = len(categories)
    # Per rank, independent of the grouping: the points, mention and weighted-mention weights
    rank_weights = [
        (unit * float(score), is_first.astype(float), unit * is_first)
        for score, is_first in zip(points, first, strict=True)
    ]
    named = _mention_matrix(ranked, [1.0] * len(first)) if arrays is not None else None
    parts = []
    for block in group_blocks(df, by):
        shape = (block.size, size)
        scored, mentions, weighted = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        for code, (score_w, first_w, weighted_w) in zip(rank_codes, rank_weights, strict=True):
            cell = _cells(block.codes, code, shape)
            scored += _cell_sums(cell, score_w, shape)
            mentions += _cell_sums(cell, first_w, shape)
            weighted += _cell_sums(cell, weighted_w, shape)
        n = block.sum(valid)
        sums = (
            _Shares(n, n, n, mentions, mentions)
            if w is None
            else _Shares(n, block.sum(w * valid), block.sum(w * w * valid), mentions, weighted)
        )
        variance = _share_variance(arrays, block, sums, named, valid) if named is not None else None
        out = _share_columns(
            block, sums, categories, None, ranked.status, w is not None, confidence, variance
        )
        out["points"] = scored.reshape(-1)
        out["share_top"] = out.pop("estimate")
        # Within each group: points descending, the code order breaking ties
        group_index = np.repeat(np.arange(block.size), size)
        code_index = np.tile(np.arange(size), block.size)
        order = np.lexsort((code_index, -out["points"], group_index))
        parts.append({name: values[order] for name, values in out.items()})
    return _stack(parts, RANKING_COLUMNS)


def rank_points(
    df: pd.DataFrame,
    columns: Sequence[str],
    *,
    points: Sequence[float] = (3, 2, 1),
    by: str | Sequence[str] | None = None,
    exclude: Sequence[str] = SPECIAL_CODES,
    codes: Sequence[str] | None = None,
    weight: str | None = None,
    confidence: float = 0.95,
    design: SurveyDesign | None = None,
) -> pd.DataFrame:
    """Rank-weighted points: the mean score (e.g. 3/2/1 for 1st/2nd/3rd) each code gets.

    Among respondents who ranked at least one code, a code scores the points of the rank it
    was named at (0 when not named); the estimate is the (weighted) mean score, 0 to the top
    points, with a t interval (Kish's effective n, or design-based with a design). `points`
    holds the total points and `count` how many named the code. Sorted by estimate within
    each group, highest first.
    """
    ranked = _ranked(df, columns, points, exclude, codes)
    w, arrays = _weighting(df, weight, design)
    valid = ranked.valid
    scores = _mention_matrix(ranked, points)
    named = _mention_matrix(ranked, [1.0] * len(points)) > 0
    weights = valid.astype(float) if w is None else w * valid
    size = len(ranked.categories)
    parts = []
    for block in group_blocks(df, by):
        n = block.sum(valid)
        total = block.sum(weights)
        plain_sum = np.column_stack([block.sum(scores[:, c]) for c in range(size)])
        weighted_sum = np.column_stack([block.sum(weights * scores[:, c]) for c in range(size)])
        squares = np.column_stack(
            [block.sum(weights * np.square(scores[:, c])) for c in range(size)]
        )
        count = np.column_stack([block.sum(named[:, c] & valid) for c in range(size)])
        centre = _divide(weighted_sum, total[:, None])
        spread = np.maximum(_divide(squares, total[:, None]) - np.square(centre), 0.0)
        effective_n = n if w is None else _effective_n(total, block.sum(np.square(weights)))
        effective = np.broadcast_to(effective_n[:, None], centre.shape)
        low, high = t_bounds(centre, spread, effective, confidence)
        if arrays is not None:
            low, high, effective = _design_mean_bounds(
                arrays, block, scores, valid, centre, spread, confidence
            )
        dnk, pnta, missing = (
            np.repeat(counts, size) for counts in block.count_masks(ranked.status)
        )
        out = {
            "group_var": np.repeat(np.array([block.variable] * block.size, dtype=object), size),
            "group": np.repeat(np.array(block.labels, dtype=object), size),
            "category": np.tile(np.array(ranked.categories, dtype=object), block.size),
            "estimate": centre.reshape(-1),
            "ci_low": low.reshape(-1),
            "ci_high": high.reshape(-1),
            "n": np.repeat(n, size).astype(np.int64),
            "count": count.reshape(-1).astype(np.int64),
            "effective_n": np.asarray(effective, dtype=float).reshape(-1),
            "dnk": dnk.astype(np.int64),
            "pnta": pnta.astype(np.int64),
            "missing": missing.astype(np.int64),
            "indicative": np.repeat(n, size) < INDICATIVE_N,
            "points": plain_sum.reshape(-1),
        }
        group_index = np.repeat(np.arange(block.size), size)
        code_index = np.tile(np.arange(size), block.size)
        order = np.lexsort((code_index, -np.nan_to_num(out["estimate"]), group_index))
        parts.append({name: values[order] for name, values in out.items()})
    return _stack(parts, (*FREQUENCY_COLUMNS, "points"))
