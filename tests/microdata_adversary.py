"""The intruder of the microdata tests: restores what blanked values the exported columns give
back, joins the roster to its household, and measures the classes an intruder can form.

It knows the default instrument's derivations (issue 10): household size = roster rows + 1;
refusal reasons reveal a refused certificate; years in the territory reveal generation G1; a
region with a single district reveals the district. It works on exported tables as read back
(text cells, '' for blank)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

REFUSAL_PREFIX = "certificate_refusal_reasons/"


def restore(
    respondents: pd.DataFrame,
    members: pd.DataFrame,
    single_district: Mapping[str, str],
) -> pd.DataFrame:
    """Respondents with blanked values filled back from the columns that reveal them."""
    out = respondents.copy().astype("object").where(respondents.notna(), "")
    out["_roster_rows"] = 0
    if len(members) and "_record" in members.columns:
        linked = members[members["_record"].astype(str) != ""]
        counts = linked.groupby(linked["_record"].astype(str)).size()
        out["_roster_rows"] = out["_record"].astype(str).map(counts).fillna(0).astype(int)
    if "household_size" in out.columns:
        blank = (out["household_size"] == "") & (out["_roster_rows"] > 0)
        out.loc[blank, "household_size"] = (out.loc[blank, "_roster_rows"] + 1).astype(str)
    reasons = [c for c in out.columns if c.startswith(REFUSAL_PREFIX)]
    if reasons and "certificate_status" in out.columns:
        answered = (out[reasons] != "").any(axis=1)
        out.loc[answered & (out["certificate_status"] == ""), "certificate_status"] = "refused"
    if "years_in_territory" in out.columns and "generation" in out.columns:
        lived = out["years_in_territory"] != ""
        out.loc[lived & (out["generation"] == ""), "generation"] = "g1"
    if "region" in out.columns and "district" in out.columns:
        single = out["region"].map(single_district).astype("object").fillna("")
        blank = (out["district"] == "") & (single != "")
        out.loc[blank, "district"] = single[blank]
    return out


def roster_signature(members: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Per record: the sorted list of its linked roster rows' values (the composition)."""
    linked = members[members["_record"].astype(str) != ""]
    if not len(linked):
        return pd.Series(dtype="object")
    rows = linked[list(columns)].astype("object").where(linked[list(columns)].notna(), "")
    text = rows.astype(str).agg("|".join, axis=1)
    return text.groupby(linked["_record"].astype(str)).agg(lambda v: ";".join(sorted(v)))


def smallest_classes(
    respondents: pd.DataFrame,
    members: pd.DataFrame,
    household_qis: Sequence[str],
    member_qis: Sequence[str],
) -> tuple[int, int]:
    """(smallest household class, smallest roster-row class) in the intruder's view: households
    keyed by their quasi-identifiers, roster size and composition; roster rows by their own
    values joined to their household's key (rows cut loose: by their district only)."""
    households = respondents.copy()
    signature = roster_signature(members, member_qis)
    composition = households["_record"].astype(str).map(signature).astype("object")
    households["_composition"] = composition.fillna("")
    key = [*household_qis, "_roster_rows", "_composition"]
    sizes = households.groupby(key, dropna=False)["_record"].transform("size")
    smallest_household = int(sizes.min()) if len(sizes) else 0
    if not len(members):
        return smallest_household, 0
    by_record = households.assign(_record=households["_record"].astype(str)).set_index("_record")
    joined = by_record[key].reindex(members["_record"].astype(str).to_numpy())
    joined = joined.set_axis(members.index)
    own = members[[*member_qis, "_district"]]
    view = pd.concat([joined, own], axis=1).astype("object")
    view = view.where(view.notna(), "")
    member_sizes = view.groupby(list(view.columns), dropna=False).transform("size")
    if isinstance(member_sizes, pd.DataFrame):
        member_sizes = view.groupby(list(view.columns), dropna=False)[view.columns[0]].transform(
            "size"
        )
    return smallest_household, int(member_sizes.min())
