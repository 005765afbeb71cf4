"""The advocate as attacker: collect every figure the role can reach, then solve for the rest.

Used by tests/survey/dashboards/test_attack.py. The attacker logs in as an advocate, walks
every view the dashboards offer the role (no filter, each value of each filter, each
disaggregation, each round) on the indicator and needs pages and their CSV, also tries the
views the role must not get (a filter with a disaggregation, other review statuses, no demo
data, a version, all rounds), and reads `survey indicators --public`. A figure published
anywhere is known. The attacker then decides, for EVERY figure still hidden, whether the
linear programme of `reports.analysis.audit` narrows it below k (`decide_intervals`: bound
propagation, solutions of the programme, exact HiGHS solves), and compares with the truth.
"""

from __future__ import annotations

import csv
import io
import os
import pickle
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from reports.analysis.audit import Knowledge, cube_knowledge, decide_intervals, narrow_cells

ANALYSED = re.compile(r"Submissions analysed: ([^<]+)</strong>")
COVERS = re.compile(r"The analysis covers the answers of ([\d,\s\u00a0]+) respondents")
# A dashboard filter → the paper setting that selects the same group
PAPER_FILTERS = {
    "district": "districts",
    "sex": "sexes",
    "generation": "generations",
    "age_band": "age_bands",
}


@dataclass
class Collected:
    """What the attacker got: CSV rows, respondent counts per view, refused attempts."""

    rows: list[dict[str, str]] = field(default_factory=list)
    respondents: dict[tuple[str, str], float | None] = field(default_factory=dict)
    served_forbidden: list[str] = field(default_factory=list)
    requests: int = 0


def views(
    filters: Mapping[str, Iterable[str]], disaggregations: Iterable[str]
) -> list[dict[str, str]]:
    """Every view an advocate may ask for: none, one filter value, or one disaggregation."""
    out: list[dict[str, str]] = [{}]
    for name, values in filters.items():
        out += [{name: value} for value in values]
    out += [{"by": name} for name in disaggregations]
    return out


def collect(
    client: Any,
    form_id: str,
    rounds: Iterable[str],
    filters: Mapping[str, Iterable[str]],
    disaggregations: Iterable[str],
) -> Collected:
    """Walk every allowed view (pages and CSV) and try the forbidden ones."""
    found = Collected()
    filters = {name: list(values) for name, values in filters.items()}
    disaggregations = list(disaggregations)
    for survey_round in rounds:
        for view in views(filters, disaggregations):
            query = {"instrument": form_id, "survey_round": survey_round, "lang": "en", **view}
            # The needs page shows the same cube's rankings and severity: the CSV has them all.
            pages = (
                ("/dashboard/indicators",)
                if view
                else ("/dashboard/indicators", "/dashboard/needs")
            )
            for page in pages:
                response = client.get(page, query_string=query)
                found.requests += 1
                assert response.status_code == 200, (page, query, response.status_code)
                match = ANALYSED.search(response.text)
                if match and "by" not in view:
                    key = next(iter(view.items()), ("", ""))
                    found.respondents[key] = _count(match.group(1))
            response = client.get("/dashboard/indicators.csv", query_string=query)
            found.requests += 1
            assert response.status_code == 200, (query, response.status_code)
            found.rows += list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
        forbidden = [
            {"district": next(iter(filters.get("district", [""]))), "by": "sex"},
            {"status": "rejected"},
            {"status": ["approved", "pending", "rejected"]},
            {"demo": "exclude"},
            {"version": "1"},
            {"survey_round": "all"},
            {"date_from": "2020-01-01"},
        ]
        for attempt in forbidden:
            query = {"instrument": form_id, "survey_round": survey_round, "lang": "en", **attempt}
            for page in ("/dashboard/indicators", "/dashboard/indicators.csv"):
                response = client.get(page, query_string=query)
                found.requests += 1
                if response.status_code == 200 and (
                    page.endswith(".csv") or ANALYSED.search(response.text)
                ):
                    found.served_forbidden.append(f"{page} {attempt}")
    return found


def collect_previews(
    client: Any, form: Mapping[str, Any], filters: Mapping[str, Iterable[str]]
) -> Collected:
    """Preview a paper for no filter and for each value of each filter; try two at once.

    The respondents covered that each preview prints are keyed as the dashboards' counts; a
    preview that prints a count for two filters at once is served forbidden.
    """
    found = Collected()
    settings = {name: list(filters.get(name, ())) for name in PAPER_FILTERS}
    for name, values in settings.items():
        for value in values:
            found.respondents[(name, str(value))] = _preview(
                client, {**form, PAPER_FILTERS[name]: [value]}
            )
            found.requests += 1
    found.respondents[("", "")] = _preview(client, dict(form))
    for district in settings["district"][:3]:
        for sex in settings["sex"]:
            shown = _preview(client, {**form, "districts": [district], "sexes": [sex]})
            found.requests += 1
            if shown is not None:
                found.served_forbidden.append(f"preview district={district} sex={sex}")
    return found


def _preview(client: Any, data: Mapping[str, Any]) -> float | None:
    """The respondents covered a paper preview prints (None: refused)."""
    response = client.post("/reports/", data={**data, "action": "preview"})
    if response.status_code != 200:
        return None
    match = COVERS.search(client.get("/reports/preview").text)
    return None if match is None else _count(match.group(1))


def add_csv(found: Collected, text: str) -> None:
    """Rows of a CSV the attacker got some other way (`survey indicators --public`)."""
    found.rows += list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def _count(text: str) -> float | None:
    text = text.strip().replace(",", "").replace("\u00a0", "").replace(" ", "")
    return float(text) if text.isdigit() else None


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    return float(text)


def _count_from_share(share: float | None, n: float | None) -> float | None:
    """The count behind a share rounded to 0.1 point, when only one count fits."""
    if share is None or n is None or n <= 0:
        return None
    centre = round(share * n)
    fits = [c for c in range(max(0, centre - 2), centre + 3) if round(c / n, 3) == share]
    return float(fits[0]) if len(fits) == 1 else None


def published_table(found: Collected, kinds: Mapping[str, str]) -> pd.DataFrame:
    """Every figure collected, merged: a figure shown anywhere is known."""
    merged: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for row in found.rows:
        key = (row["indicator"], row["group_var"], row["group"], row["category"])
        record = merged.setdefault(
            key,
            {
                "indicator": row["indicator"],
                "kind": kinds.get(row["indicator"], "proportion"),
                "group_var": row["group_var"],
                "group": row["group"],
                "category": row["category"],
                "n": None,
                "count": None,
                "dnk": None,
                "pnta": None,
                "missing": None,
            },
        )
        n = _number(row.get("n"))
        share = _number(row.get("estimate"))
        values = {
            "n": n,
            # A points estimate is a mean score, not a share: its count is not behind it
            "count": _count_from_share(share, n)
            if record["kind"] not in ("mean", "median", "points")
            else None,
            **{name: _number(row.get(name)) for name in ("dnk", "pnta", "missing")},
        }
        for name, value in values.items():
            if value is not None:
                record[name] = value
    table = pd.DataFrame(list(merged.values()))
    for name in ("n", "count", "dnk", "pnta", "missing"):
        table[name] = table[name].astype(float)
    return table.assign(unit="respondent")


def knowledge(
    found: Collected,
    kinds: Mapping[str, str],
    units: Mapping[str, str],
    margins: Mapping[str, str],
) -> tuple[Knowledge, pd.DataFrame]:
    """The attacker's relations over everything collected."""
    table = published_table(found, kinds)
    table["unit"] = [units.get(i, "respondent") for i in table["indicator"]]
    population = pd.DataFrame(
        [
            {"unit": "respondent", "group_var": var, "group": group, "respondents": value}
            for (var, group), value in found.respondents.items()
        ]
    )
    population["respondents"] = population["respondents"].astype(float)
    out_known = _infer_out_known(table, population)
    return cube_knowledge(table, population, out_known, margins=margins), table


def _infer_out_known(table: pd.DataFrame, population: pd.DataFrame) -> dict[str, bool]:
    """Indicators whose n + non-response equals the respondent count wherever both show."""
    counts = {
        (str(v), str(g)): c
        for v, g, c in zip(
            population["group_var"], population["group"], population["respondents"], strict=True
        )
    }
    out: dict[str, bool] = {}
    for indicator, part in table.groupby("indicator"):
        seen = False
        equal = True
        for record in part.drop_duplicates(["group_var", "group"]).to_dict("records"):
            values = [record["n"], record["dnk"], record["pnta"], record["missing"]]
            count = counts.get((record["group_var"], record["group"]))
            if count is None or np.isnan(count) or any(np.isnan(v) for v in values):
                continue
            seen = True
            equal &= abs(sum(values) - count) < 0.5
        out[str(indicator)] = seen and equal
    return out


def attack(
    found: Collected,
    truth: Mapping[Any, float],
    *,
    kinds: Mapping[str, str],
    units: Mapping[str, str],
    margins: Mapping[str, str],
    k: int,
) -> dict[str, Any]:
    """The attack's results: narrow hidden figures and small published counts."""
    known, _table = knowledge(found, kinds, units, margins)
    if os.environ.get("BIRGE_ATTACK_DUMP"):
        with open(os.environ["BIRGE_ATTACK_DUMP"], "wb") as handle:
            pickle.dump((known, dict(truth)), handle)
    # Every hidden figure, whatever its true value: the attacker does not know which are small
    intervals = decide_intervals(known, k)
    narrow = narrow_cells(intervals, truth, k)
    small = [
        key
        for key, value in known.values.items()
        if value is not None and 0 < value < k and key[0] not in ("P",)
    ]
    small += [
        key for key, value in known.values.items() if key[0] == "P" and value and 0 < value < k
    ]
    return {
        "hidden": sum(value is None for value in known.values.values()),
        "decided": len(intervals),
        "how": intervals["how"].value_counts().to_dict(),
        "solves": intervals.attrs["solves"],
        "narrow_zeros": int(
            (
                (intervals["high"] - intervals["low"] < k - 1e-6)
                & (intervals["key"].map(lambda key: truth.get(key, 0.0)) == 0)
            ).sum()
        ),
        "narrow": narrow,
        "small_published": small,
        "served_forbidden": list(found.served_forbidden),
    }
