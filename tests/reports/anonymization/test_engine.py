"""The anonymisation engine, its rules and its risk measures, on small hand-built frames."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.anonymization.engine import anonymise
from reports.anonymization.risk import individual_risk, measure_risk
from reports.anonymization.rules import RulesError, parse_rules


def rules_raw(**changes):
    raw = {
        "k": 3,
        "max_global_risk": 0.03,
        "sampling_fraction": 0.1,
        "household": ["region", "district", "sex", "size"],
        "member": {
            "table": "member",
            "key": "id",
            "quasi_identifiers": ["m_sex"],
            "context": {"_district": "district"},
            "unlinked_context": ["_district"],
        },
        "importance": ["region", "district", "sex", "m_sex", "size", "roster"],
        "blank_together": {"sex": ["sex_detail"], "size": ["@roster"]},
        "hierarchy": {"district": "region"},
        "recodings": [{"column": "size", "top_code": 4, "when": "always"}],
        "key_variables": ["district", "sex"],
    }
    raw.update(changes)
    return raw


PARENTS = {"district": {"a": "north", "b": "north", "c": "south"}}


def frames(rows, members):
    households = pd.DataFrame(
        rows, columns=["id", "region", "district", "sex", "sex_detail", "size"]
    )
    roster = pd.DataFrame(members, columns=["id", "m_sex", "_district"])
    return households, roster


def test_individual_risk_matches_sdcmicro_formulas() -> None:
    p = 0.1
    f = np.array([1, 2, 4, 3])
    big_f = np.array([10, 20, 40, 3])
    risk = individual_risk(f, big_f)
    assert risk[0] == pytest.approx(p / (1 - p) * math.log(1 / p))
    assert risk[1] == pytest.approx(p / (1 - p) - (p / (1 - p)) ** 2 * math.log(1 / p))
    assert risk[2] == pytest.approx(p / (4 - (1 - p)))
    assert risk[3] == pytest.approx(1 / 3)  # f = F: a census


def test_global_risk_is_expected_reidentifications_over_n() -> None:
    frame = pd.DataFrame({"a": ["x"] * 5 + ["y"] * 2 + ["z"]})
    risk = measure_risk(frame, ["a"], k=5, sampling_fraction=1.0)
    assert risk.sample_uniques == 1 and risk.records_below_k == 3
    assert risk.expected_reidentifications == pytest.approx(3.0)  # one per class in a census
    assert risk.global_risk == pytest.approx(3 / 8)


def test_a_blanked_district_blanks_a_single_district_region_and_size_unlinks_roster() -> None:
    rows = [(i, "north", "a" if i < 4 else "b", "f", "x", 2) for i in range(8)]
    rows.append((8, "south", "c", "f", "x", 2))  # alone: its region gives its district away
    members = [(i, "m", None) for i in range(9)]
    households, roster = frames(rows, members)
    result = anonymise(households, roster, parse_rules(rules_raw()), parents=PARENTS)
    alone = result.households.loc[result.households["id"] == 8]
    if len(alone):
        row = alone.iloc[0]
        assert pd.isna(row["district"]) or not pd.isna(row["region"])
        if pd.isna(row["district"]):
            assert pd.isna(row["region"])  # south has one district
    kept = result.households
    sizes = kept.groupby(["region", "district", "sex", "size"], dropna=False)["id"].size()
    assert (sizes >= 3).all()
    linked = result.members[result.members["id"].notna()]
    blank_size = set(kept.loc[kept["size"].isna(), "id"])
    assert not blank_size & set(linked["id"])  # no roster row gives a blanked size back


def test_rare_districts_merge_into_their_region_only_while_key_variables_need_it() -> None:
    rows = [(i, "north", "a", "f" if i % 2 else "m", "x", 2) for i in range(10)]
    rows += [(10 + i, "north", "b", "f", "x", 2) for i in range(2)]
    rows += [(12 + i, "south", "c", "f", "x", 2) for i in range(5)]
    households, roster = frames(rows, [])
    households["_district"] = households["district"]
    merge = {"column": "district", "when": "if_needed", "merge_rare": True, "also": ["_district"]}
    needed = parse_rules(rules_raw(key_variables_target=0.9, recodings=[merge]))
    result = anonymise(households, roster, needed, parents=PARENTS)
    # b (2 households) cannot keep its district at k = 3: it is merged with a, the only other
    # district of its region, and the copy of the district beside it is merged too.
    out = result.households.set_index("id")
    assert set(out.loc[range(12), "district"]) == {"north_other"}
    assert (out.loc[range(12), "_district"] == "north_other").all()
    assert set(out.loc[range(12, 17), "district"]) == {"c"}  # alone in its region: left
    assert result.recodings == ("district: b+a → north_other",)
    assert result.key_variables_kept_together() == 1.0
    # 15 of 17 households already share their key variables with two others: not needed.
    enough = parse_rules(rules_raw(key_variables_target=0.85, recodings=[merge]))
    result = anonymise(households, roster, enough, parents=PARENTS)
    assert result.recodings == () and "north_other" not in set(result.households["district"])


def test_chained_recodings_say_which_codes_a_wider_code_holds() -> None:
    rows = [(i, "north", "a", "f" if i % 3 else "m", "x", 2) for i in range(12)]
    households, roster = frames(rows, [])
    first = {"column": "sex", "when": "always", "map": {"f": "fm"}, "also": ["sex_detail"]}
    second = {"column": "sex", "when": "always", "map": {"fm": "any", "m": "any"}}
    rules = parse_rules(rules_raw(recodings=[first, second]))
    result = anonymise(households, roster, rules)
    assert result.merged_codes["sex"] == {"any": ("f", "m")}
    assert result.merged_codes["sex_detail"] == {"fm": ("f",)}


def test_a_household_losing_a_key_variable_does_not_take_it_from_others() -> None:
    """Blanking one household's sex used to blank it for the six others of its district too,
    so that the blanks formed a class; blanking its district as well costs fewer households."""
    places = [("north", "a")] * 7 + [("north", "b")] * 7 + [("south", "c")] * 5
    sexes = (["f"] * 6 + ["m"]) * 2 + ["f"] * 5
    rows = [
        (i, *place, sex, "x", 2) for i, (place, sex) in enumerate(zip(places, sexes, strict=True))
    ]
    households, roster = frames(rows, [])
    rules = parse_rules(rules_raw(recodings=[]))
    result = anonymise(households, roster, rules, parents=PARENTS)
    assert result.risk_after.records_below_k == 0
    assert result.key_variables_kept_together() >= 11 / 19


def test_a_key_variable_coarsened_for_everyone_is_not_mostly_blanked() -> None:
    rows = [(i, "north", "a", "f" if i % 2 else "m", "x", 2) for i in range(12)]
    households, roster = frames(rows, [])
    wider = {"column": "sex", "when": "always", "map": {"f": "person", "m": "person"}}
    result = anonymise(households, roster, parse_rules(rules_raw(recodings=[wider])))
    assert result.loss("sex").recoded == 12
    assert not [code for code, _ in result.verdict.warnings if code == "mostly_blanked"]


hh_values = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.sampled_from(["f", "m"]),
    st.sampled_from(["x", "y", None]),
    st.integers(min_value=1, max_value=6),
)


@settings(max_examples=40, deadline=None)
@given(
    households=st.lists(hh_values, min_size=0, max_size=40),
    member_sexes=st.lists(st.sampled_from(["f", "m"]), max_size=60),
    k=st.integers(min_value=2, max_value=5),
)
def test_engine_leaves_no_class_below_k_and_keeps_inputs(households, member_sexes, k) -> None:
    rows = [
        (i, PARENTS["district"][d], d, s, detail, size)
        for i, (d, s, detail, size) in enumerate(households)
    ]
    members = [(i % max(len(rows), 1), sex, None) for i, sex in enumerate(member_sexes)]
    if not rows:
        members = []
    frame, roster = frames(rows, members)
    before = (frame.copy(), roster.copy())
    rules = parse_rules(rules_raw(k=k))
    result = anonymise(frame, roster, rules, parents=PARENTS)
    pd.testing.assert_frame_equal(frame, before[0])
    pd.testing.assert_frame_equal(roster, before[1])
    # Rebuild the intruder's key and check every class.
    key = result.households[["region", "district", "sex", "size"]]
    linked = result.members[result.members["id"].notna()]
    counts = linked.groupby("id").size()
    composition = linked.groupby("id")["m_sex"].agg(lambda v: ",".join(sorted(map(str, v))))
    view = key.assign(
        rows=result.households["id"].map(counts).fillna(0),
        comp=result.households["id"].map(composition).astype("object").fillna(""),
    ).astype("object")
    sizes = view.where(view.notna(), "").groupby(list(view.columns))["sex"].transform("size")
    assert (sizes >= k).all()
    # A blanked sex took its detail along.
    assert result.households.loc[result.households["sex"].isna(), "sex_detail"].isna().all()
    assert 0.0 <= result.global_risk <= 1.0
    assert len(result.households) + result.households_dropped == len(frame)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"k": 1}, "k must be"),
        ({"max_global_risk": 3}, "max_global_risk"),
        ({"importance": ["district"]}, "importance must list"),
        ({"recodings": [{"column": "size", "when": "later", "top_code": 3}]}, "when"),
        ({"recodings": [{"column": "age", "bands": [[0, 10], [5, 20]], "source": "a"}]}, "overlap"),
        ({"key_variables": ["income"]}, "key_variables"),
        ({"sampling_fraction": None}, "sampling_fraction"),
        ({"surprise": 1}, "Unknown keys"),
        (
            {
                "hierarchy": {},
                "recodings": [{"column": "district", "when": "if_needed", "merge_rare": True}],
            },
            "needs its parent in hierarchy",
        ),
        ({"recodings": [{"column": "district", "merge_rare": True}]}, "must be 'if_needed'"),
        ({"key_variables_target": 1.5}, "key_variables_target"),
    ],
)
def test_rules_are_validated_on_load(change, message) -> None:
    with pytest.raises(RulesError, match=message):
        parse_rules(rules_raw(**change))


@given(st.dictionaries(st.sampled_from(list(rules_raw())), st.none() | st.integers() | st.text()))
def test_broken_rules_raise_only_rules_errors(changes) -> None:
    with contextlib.suppress(RulesError):
        parse_rules(rules_raw(**changes))


def test_the_default_instrument_rules_load() -> None:
    from pathlib import Path

    from reports.anonymization.rules import load_rules

    path = Path(__file__).parents[3] / "survey/instruments/default/disclosure.json"
    rules = load_rules(path)
    assert rules.k == 5 and rules.max_global_risk == 0.03
    assert rules.importance[:4] == ("region", "district", "sex", "age_band")
