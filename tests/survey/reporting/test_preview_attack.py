"""The advocate's paper previews as an attacker uses them (issue 10, part 2).

Before papers were cut from the advocates' protected cube, an advocate could preview a paper
for any mix of districts, sexes, generations and age bands, each printing "The analysis covers
the answers of N respondents": two previews differing by one generation gave the count of one
district × sex × generation cell, a crossing the cube never publishes, and a group the cube
hides as a complement was printed by its preview. The attacker here tries both.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import pytest
from flask_login import login_user

from survey.dashboards import publication as publication_module
from survey.dashboards.filters import instrument_dataset
from survey.demo import write_demo_data
from survey.reporting.settings import settings_from_mapping
from survey.reporting.snapshot import build_snapshot
from tests.survey.reporting.test_views import FORM

# What an advocate can infer does not depend on the database; the attack takes minutes
pytestmark = pytest.mark.sqlite_only

K = 5
COVERS = re.compile(r"The analysis covers the answers of ([\d,\s\u00a0]+) respondents")


@pytest.fixture
def fieldwork(app: Any, default_instrument: Any, survey_round: Any) -> Any:
    """Three hundred demo interviews (approved and pending, as advocates' figures use)."""
    write_demo_data(default_instrument, survey_round, 300, seed=11)
    return default_instrument


def covered(client: Any, **choices: list[str]) -> int | None:
    """The respondent count a preview prints for these filters (None: refused or not shown)."""
    response = client.post("/reports/", data={**FORM, **choices, "action": "preview"})
    if response.status_code != 200:
        return None
    found = COVERS.search(client.get("/reports/preview").text)
    if found is None:
        return None
    return int(re.sub(r"\D", "", found.group(1)))


def _groups(app: Any, instrument: Any, survey_round: Any) -> Any:
    with app.test_request_context("/?lang=en"):
        dataset = instrument_dataset(instrument.instrument)
        made = publication_module.publication(instrument.instrument, dataset, survey_round.id, K)
        return made.true_population, made.cube.population


def test_differencing_two_previews_reveals_no_count_below_k(
    app: Any, client: Any, auth: Any, fieldwork: Any, survey_round: Any
) -> None:
    truth, _published = _groups(app, fieldwork, survey_round)
    respondents = truth[truth["unit"] == "respondent"]

    def codes(variable: str) -> list[str]:
        part = respondents[
            (respondents["group_var"] == variable) & (respondents["respondents"] > 0)
        ]
        return [str(code) for code in part["group"] if code != "missing"]

    districts = (
        respondents[respondents["group_var"] == "district"]
        .sort_values("respondents", ascending=False)["group"]
        .head(3)
    )
    generations = codes("generation")
    auth.login("advocate")
    # The attack has something to work with: one filter prints its count, two are refused
    assert covered(client, districts=[districts.iloc[0]]) is not None
    assert covered(client, districts=[districts.iloc[0]], sexes=codes("sex")[:1]) is None
    recovered = []
    for district in districts:
        for sex in codes("sex"):
            both = covered(client, districts=[district], sexes=[sex])
            if both is None:
                continue
            for generation in generations:
                rest = [code for code in generations if code != generation]
                fewer = covered(client, districts=[district], sexes=[sex], generations=rest)
                if fewer is not None and 0 < both - fewer < K:
                    recovered.append((district, sex, generation, both - fewer))
    assert recovered == []


def test_an_advocates_paper_is_cut_from_the_cube(
    app: Any, client: Any, auth: Any, fieldwork: Any, survey_round: Any
) -> None:
    """Hidden anywhere, hidden everywhere: every figure of the paper is the cube's own."""
    user = auth.login("advocate")
    settings = settings_from_mapping({"title": "T", "submitted_by": "S", "include_demo": True})
    with app.test_request_context("/?lang=en"):
        login_user(user)
        snapshot = build_snapshot(settings)
        dataset = instrument_dataset(fieldwork.instrument)
        cube = publication_module.publication(
            fieldwork.instrument, dataset, survey_round.id, K
        ).cube
    published = {
        (r["indicator"], r["group_var"], r["group"], r["category"]): r
        for r in cube.table.to_dict("records")
    }
    columns = snapshot["table"]["columns"]
    compared = 0
    for values in snapshot["table"]["rows"]:
        row = dict(zip(columns, values, strict=True))
        if row["indicator"].startswith("_method"):
            continue
        mine = published[(row["indicator"], row["group_var"], row["group"], row["category"])]
        assert bool(row["suppressed"]) == bool(mine["suppressed"]), row
        for name in ("estimate", "n"):
            # What the cube hides the paper hides; what the paper shows is the cube's figure
            if pd.isna(mine[name]):
                assert row[name] is None, row
            elif row[name] is not None:
                assert row[name] == pytest.approx(mine[name]), row
        compared += 1
    assert compared == len(cube.table)
    assert snapshot["data"]["respondents"] == cube.population["respondents"].iloc[0]
