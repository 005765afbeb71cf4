"""The disclosure rules of an instrument: what an intruder may know, what can be coarsened and
what must be blanked together. Read from a plain mapping (a JSON file beside the instrument) and
validated on load, so a mistyped rule stops the export instead of weakening it.

The JSON keys (all required unless marked optional):

- `k` (int ≥ 2): the smallest class allowed; `max_global_risk` (0 < x < 1): a file above it is
  refused; `sampling_fraction` (0 < x ≤ 1): the share of the population interviewed, used for
  the individual risk when the data carry no `weight` column (optional, default none);
- `household`: the household's quasi-identifiers (the respondent's and the household's own);
- `member`: {`table`, `key`, `quasi_identifiers`, `context`, `unlinked_context`}: the roster
  table, the column linking it to its household, the roster's own quasi-identifiers, the columns
  stored beside each roster row that repeat the household's values ({member column: household
  column}), and those of them kept when a roster row is unlinked from its household;
- `importance`: every quasi-identifier and `roster` (the household's link to its roster rows),
  most important first: local suppression blanks from the end of this list;
- `blank_together`: {column: [patterns]}: columns that reveal a blanked value, blanked with it
  (`*` matches any characters; `@roster` unlinks the roster);
- `hierarchy` (optional): {child: parent}, e.g. district → region: a blanked parent blanks the
  child, and a blanked child whose parent has a single child blanks the parent;
- `recodings`: global recodings, `when` `always` or `if_needed`, applied in order: an
  `if_needed` recoding of a key variable while fewer than `key_variables_target` of the
  households share their key variables with k − 1 others (so that local suppression can keep
  them), any other while more than `recode_while_at_risk_above` of the households are at risk;
  each is one of `map` {code: wider code}, `top_code` (a number), `bands` [[low, high or null],
  …] from a numeric `source` column, or `merge_rare` (true; `if_needed` only, for a `hierarchy`
  child): its rarest codes merged into `<parent code>_other`, a few at a time, only while needed;
  `also` (optional): columns holding the same codes, recoded with it (e.g. `_district`);
- `key_variables`: the variables analysts need most; an export keeping fewer than
  `mostly_blanked_below` of their values says so; `key_variables_target` (optional, 0 < x ≤ 1):
  see `recodings`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROSTER = "roster"
ROSTER_LINK = "@roster"
WHEN = ("always", "if_needed")


class RulesError(ValueError):
    """Disclosure rules that cannot be used (the message says where and why)."""


@dataclass(frozen=True)
class Recoding:
    """One global recoding of a column."""

    column: str
    when: str = "always"
    mapping: Mapping[str, str] | None = None
    top_code: float | None = None
    bands: tuple[tuple[int, int | None], ...] | None = None
    source: str | None = None  # the numeric column that `bands` are cut from
    merge_rare: bool = False
    also: tuple[str, ...] = ()  # columns holding the same codes, recoded with `column`

    @property
    def description(self) -> str:
        """What the recoding does, in a few words (for the about file)."""
        if self.merge_rare:
            return f"{self.column}: rare codes merged into their {self.column}'s parent"
        if self.mapping is not None:
            groups: dict[str, list[str]] = {}
            for code, wider in self.mapping.items():
                groups.setdefault(wider, []).append(code)
            return f"{self.column}: " + "; ".join(
                f"{'+'.join(codes)} → {wider}" for wider, codes in groups.items()
            )
        if self.top_code is not None:
            return f"{self.column}: top-coded at {self.top_code:g} ({self.top_code:g} or more)"
        assert self.bands is not None
        shown = ", ".join(f"{lo}–{hi}" if hi is not None else f"{lo}+" for lo, hi in self.bands)
        return f"{self.column}: {self.source} in bands {shown}"


@dataclass(frozen=True)
class MemberRules:
    """The roster table and how it is tied to its household."""

    table: str
    key: str
    quasi_identifiers: tuple[str, ...]
    context: Mapping[str, str] = field(default_factory=dict)
    unlinked_context: tuple[str, ...] = ()


@dataclass(frozen=True)
class DisclosureRules:
    """Validated disclosure rules (see the module docstring for the JSON)."""

    k: int
    max_global_risk: float
    household: tuple[str, ...]
    member: MemberRules | None
    importance: tuple[str, ...]
    blank_together: Mapping[str, tuple[str, ...]]
    recodings: tuple[Recoding, ...]
    key_variables: tuple[str, ...]
    sampling_fraction: float | None = None
    weight: str | None = None
    hierarchy: Mapping[str, str] = field(default_factory=dict)
    recode_while_at_risk_above: float = 0.05
    mostly_blanked_below: float = 0.5
    key_variables_target: float | None = None


_TOP_KEYS = {
    "k",
    "max_global_risk",
    "sampling_fraction",
    "weight",
    "household",
    "member",
    "importance",
    "blank_together",
    "hierarchy",
    "recodings",
    "recode_while_at_risk_above",
    "key_variables",
    "mostly_blanked_below",
    "key_variables_target",
    "about",
}
_REQUIRED = {"k", "max_global_risk", "household", "importance", "recodings", "key_variables"}


def _names(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise RulesError(f"{where} must be a list of column names.")
    if len(set(value)) != len(value):
        raise RulesError(f"{where} names a column twice.")
    return tuple(value)


def _share(value: Any, where: str, *, closed: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (0 < value < 1 or (closed and value == 1)):
        bound = "1" if closed else "below 1"
        raise RulesError(f"{where} must be a number above 0 and {bound}.")
    return float(value)


def _recoding(raw: Any, number: int) -> Recoding:
    where = f"recodings[{number}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("column"), str):
        raise RulesError(f"{where} must be an object with a 'column'.")
    known = {"column", "when", "map", "top_code", "bands", "source", "merge_rare", "also", "note"}
    unknown = set(raw) - known
    if unknown:
        raise RulesError(f"{where} has unknown keys: {', '.join(sorted(unknown))}.")
    when = raw.get("when", "always")
    if when not in WHEN:
        raise RulesError(f"{where}.when must be one of {', '.join(WHEN)}.")
    kinds = [key for key in ("map", "top_code", "bands", "merge_rare") if key in raw]
    if len(kinds) != 1:
        raise RulesError(f"{where} needs exactly one of map, top_code, bands, merge_rare.")
    column = raw["column"]
    also = _names(raw.get("also", []), f"{where}.also")
    if also and "bands" in raw:
        raise RulesError(f"{where}.also cannot be used with bands.")
    if "merge_rare" in raw:
        if raw["merge_rare"] is not True:
            raise RulesError(f"{where}.merge_rare must be true.")
        if when != "if_needed":
            raise RulesError(f"{where} with merge_rare must be 'if_needed'.")
        return Recoding(column, when, merge_rare=True, also=also)
    if "map" in raw:
        mapping = raw["map"]
        if not isinstance(mapping, dict) or not mapping:
            raise RulesError(f"{where}.map must be a non-empty object of code → wider code.")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise RulesError(f"{where}.map must map codes (text) to codes (text).")
        return Recoding(column, when, mapping=dict(mapping), also=also)
    if "top_code" in raw:
        top = raw["top_code"]
        if not isinstance(top, int | float) or isinstance(top, bool) or not math.isfinite(top):
            raise RulesError(f"{where}.top_code must be a number.")
        return Recoding(column, when, top_code=float(top), also=also)
    bands = raw["bands"]
    source = raw.get("source")
    if not isinstance(source, str) or not source:
        raise RulesError(f"{where} with bands needs the numeric 'source' column.")
    if not isinstance(bands, list) or not bands:
        raise RulesError(f"{where}.bands must be a list of [low, high] pairs.")
    parsed: list[tuple[int, int | None]] = []
    for band in bands:
        ok = (
            isinstance(band, list)
            and len(band) == 2
            and isinstance(band[0], int)
            and (band[1] is None or isinstance(band[1], int))
        )
        if not ok or (band[1] is not None and band[1] < band[0]):
            raise RulesError(f"{where}.bands: {band!r} is not a [low, high] pair of whole numbers.")
        if parsed and (parsed[-1][1] is None or band[0] <= parsed[-1][1]):
            raise RulesError(f"{where}.bands overlap or are out of order at {band!r}.")
        parsed.append((band[0], band[1]))
    if any(high is None for _, high in parsed[:-1]):
        raise RulesError(f"{where}.bands: only the last band may be open (null).")
    return Recoding(column, when, bands=tuple(parsed), source=source)


def _member(raw: Any) -> MemberRules | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise RulesError("member must be an object.")
    unknown = set(raw) - {"table", "key", "quasi_identifiers", "context", "unlinked_context"}
    if unknown:
        raise RulesError(f"member has unknown keys: {', '.join(sorted(unknown))}.")
    for name in ("table", "key"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise RulesError(f"member.{name} must be a name.")
    context = raw.get("context", {})
    if not isinstance(context, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in context.items()
    ):
        raise RulesError("member.context must map roster columns to household columns.")
    unlinked = _names(raw.get("unlinked_context", []), "member.unlinked_context")
    stray = [c for c in unlinked if c not in context]
    if stray:
        raise RulesError(f"member.unlinked_context names columns not in context: {stray}.")
    return MemberRules(
        table=raw["table"],
        key=raw["key"],
        quasi_identifiers=_names(raw.get("quasi_identifiers"), "member.quasi_identifiers"),
        context=dict(context),
        unlinked_context=unlinked,
    )


def parse_rules(raw: Mapping[str, Any]) -> DisclosureRules:
    """Rules from a plain mapping, every key checked (RulesError says what is wrong)."""
    if not isinstance(raw, Mapping):
        raise RulesError("The rules must be a JSON object.")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise RulesError(f"Unknown keys: {', '.join(sorted(unknown))}.")
    missing = _REQUIRED - set(raw)
    if missing:
        raise RulesError(f"Missing keys: {', '.join(sorted(missing))}.")
    k = raw["k"]
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise RulesError("k must be a whole number of at least 2.")
    household = _names(raw["household"], "household")
    member = _member(raw.get("member"))
    member_qis = member.quasi_identifiers if member else ()
    importance = _names(raw["importance"], "importance")
    expected = set(household) | set(member_qis) | ({ROSTER} if member else set())
    if set(importance) != expected:
        extra = sorted(set(importance) - expected)
        lacking = sorted(expected - set(importance))
        raise RulesError(
            "importance must list every quasi-identifier"
            + (" and 'roster'" if member else "")
            + " exactly once"
            + (f"; not quasi-identifiers: {', '.join(extra)}" if extra else "")
            + (f"; missing: {', '.join(lacking)}" if lacking else "")
            + "."
        )
    together_raw = raw.get("blank_together", {})
    if not isinstance(together_raw, dict):
        raise RulesError("blank_together must be an object of column → [patterns].")
    together = {
        str(column): _names(patterns, f"blank_together.{column}")
        for column, patterns in together_raw.items()
    }
    hierarchy = raw.get("hierarchy", {})
    if not isinstance(hierarchy, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in hierarchy.items()
    ):
        raise RulesError("hierarchy must map a child column to its parent column.")
    recodings_raw = raw["recodings"]
    if not isinstance(recodings_raw, list):
        raise RulesError("recodings must be a list.")
    recodings = tuple(_recoding(r, i) for i, r in enumerate(recodings_raw))
    key_variables = _names(raw["key_variables"], "key_variables")
    stray = [v for v in key_variables if v not in expected]
    if stray:
        raise RulesError(f"key_variables must be quasi-identifiers: {', '.join(stray)}.")
    for recoding in recodings:
        if recoding.merge_rare and recoding.column not in hierarchy:
            raise RulesError(
                f"recodings: merge_rare of {recoding.column} needs its parent in hierarchy."
            )
    target = raw.get("key_variables_target")
    fraction = raw.get("sampling_fraction")
    weight = raw.get("weight")
    if weight is not None and (not isinstance(weight, str) or not weight):
        raise RulesError("weight must be a column name or null.")
    if fraction is None and weight is None:
        raise RulesError("Give a sampling_fraction, a weight column, or both.")
    return DisclosureRules(
        k=k,
        max_global_risk=_share(raw["max_global_risk"], "max_global_risk"),
        household=household,
        member=member,
        importance=importance,
        blank_together=together,
        recodings=recodings,
        key_variables=key_variables,
        sampling_fraction=None
        if fraction is None
        else _share(fraction, "sampling_fraction", closed=True),
        weight=weight,
        hierarchy=dict(hierarchy),
        recode_while_at_risk_above=_share(
            raw.get("recode_while_at_risk_above", 0.05), "recode_while_at_risk_above"
        ),
        mostly_blanked_below=_share(raw.get("mostly_blanked_below", 0.5), "mostly_blanked_below"),
        key_variables_target=None
        if target is None
        else _share(target, "key_variables_target", closed=True),
    )


def load_rules(path: str | Path) -> DisclosureRules:
    """Rules from a JSON file (RulesError names the file and the problem)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RulesError(f"{path.name}: cannot be read as JSON ({error}).") from None
    try:
        return parse_rules(raw)
    except RulesError as error:
        raise RulesError(f"{path.name}: {error}") from None


def matching_columns(patterns: Sequence[str], columns: Sequence[str]) -> list[str]:
    """The columns a list of patterns names (`*` matches any characters; `@…` are skipped)."""
    import fnmatch

    out: list[str] = []
    for pattern in patterns:
        if pattern.startswith("@"):
            continue
        out += [c for c in columns if fnmatch.fnmatchcase(c, pattern) and c not in out]
    return out
