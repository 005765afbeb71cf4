"""The advocate as attacker (Done when of issue 10): everything the role can reach, one LP.

The attacker (tests/reports/analysis/attacker.py) walks every view the dashboards offer an
advocate, downloads every CSV, reads `survey indicators --public`, previews a paper for each
filter (papers are cut from the same cube), tries the views and previews it must not get, and
decides for every hidden figure (all of them, not a sample) how narrow the linear programme
makes it. With the protected cube nothing hidden is narrower than k and no count 1..k-1 is
shown; with complements switched off, the same attack finds the hidden counts: the test can
fail.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from sqlalchemy import select, update

from reports.analysis import protection
from reports.analysis.audit import cube_knowledge
from survey.collection.models import Submission
from survey.dashboards import estimates
from survey.dashboards import publication as publication_module
from survey.dashboards.commands import indicators_command
from survey.dashboards.filters import instrument_dataset
from survey.dashboards.options import filter_options
from survey.demo import write_demo_data
from survey.extensions import db
from tests.reports.analysis import attacker
from tests.survey.dashboards.frequencies import add_frequencies

# What an advocate can infer does not depend on the database
pytestmark = pytest.mark.sqlite_only

K = 5
PAPER_FORM = {
    "title": "Needs of survivors",
    "submitted_by": "An advocates' organisation",
    "date": "2025-03-03",
    "language": "en",
    "paper_size": "A4",
    "review_statuses": ["approved", "pending"],
    "include_demo": "y",
    "max_quotes": "0",
}


@pytest.fixture
def fieldwork(app, default_instrument, survey_round):
    """150 interviews, a few of them rejected or on hold (the statuses must not leak)."""
    write_demo_data(default_instrument, survey_round, 150, seed=11)
    ids = db.session.execute(select(Submission.id).order_by(Submission.id)).scalars().all()
    db.session.execute(
        update(Submission).where(Submission.id.in_(ids[:6])).values(review_status="rejected")
    )
    db.session.execute(
        update(Submission).where(Submission.id.in_(ids[6:9])).values(review_status="on_hold")
    )
    db.session.execute(
        update(Submission).where(Submission.id.in_(ids[9:40])).values(review_status="approved")
    )
    db.session.commit()
    return default_instrument


def _campaign(app, client, runner, tmp_path, instrument, previews=False):
    """Collect everything an advocate can reach, and the truth the server knows.

    With previews, the attacker also previews a paper for each filter the dashboards offer
    (and tries two filters at once): every respondent count a preview prints is known.
    """
    with app.test_request_context("/?lang=en"):
        dataset = instrument_dataset(instrument.instrument)
        options = filter_options(instrument.instrument, dataset, "en")
        plan, _problems = estimates.plan_of(dataset.spec)
        rounds = [value for value, _label in options.rounds]
        filters = {"district": [code for code, _label in options.districts]}
        for name, answers in options.answers.items():
            filters[name] = [code for code, _label in answers]
        disaggregations = [name for name, _label in options.disaggregations]
    started = time.perf_counter()
    found = attacker.collect(
        client, instrument.instrument.form_id, rounds, filters, disaggregations
    )
    if previews:
        papers = attacker.collect_previews(client, PAPER_FORM, filters)
        found.requests += papers.requests
        found.served_forbidden += papers.served_forbidden
        for key, value in papers.respondents.items():
            if value is None:
                continue
            shown = found.respondents.get(key)
            # A preview must print the cube's figure or nothing
            assert shown is None or shown == value, (key, shown, value)
            found.respondents[key] = value
    print(f"collected {found.requests} responses in {time.perf_counter() - started:.0f}s")
    out = tmp_path / "public.csv"
    result = runner.invoke(indicators_command, ["--public", "--out", str(out)])
    assert result.exit_code == 0, result.output
    attacker.add_csv(found, out.read_text(encoding="utf-8"))
    with app.test_request_context("/?lang=en"):
        dataset = instrument_dataset(instrument.instrument)
        made = publication_module.publication(instrument.instrument, dataset, int(rounds[0]), K)
        truth_table = made.original.assign(
            unit=[
                {i.id: i.unit for i in plan.indicators}.get(i, "respondent")
                for i in made.original["indicator"]
            ]
        )
        truth = {
            key: value
            for key, value in cube_knowledge(truth_table, made.true_population, {}).values.items()
            if value is not None
        }
    table = made.cube.table
    frequency = table[
        (table["kind"] == "frequency")
        & ~table["indicator"].isin(list(made.cube.margins))
        & ~table["category"].isin(["dnk", "pnta"])
    ]
    mixed = frequency.groupby(["indicator", "group_var", "group"])["suppressed"].agg(
        lambda hidden: 0 < hidden.sum() < len(hidden)
    )
    kinds = {i.id: i.kind for i in plan.indicators}
    units = {i.id: i.unit for i in plan.indicators}
    started = time.perf_counter()
    results = attacker.attack(
        found, truth, kinds=kinds, units=units, margins=made.cube.margins, k=K
    )
    print(
        f"{results['hidden']} hidden figures, {results['decided']} decided ({results['how']}) "
        f"with {results['solves']} LP solves in {time.perf_counter() - started:.0f}s; "
        f"{results['narrow_zeros']} hidden zeros narrower than k"
    )
    results["frequency_rows_mixed"] = int(mixed.sum())
    return results


def test_the_advocate_learns_no_count_below_k(
    app, client, auth, runner, tmp_path, fieldwork, monkeypatch
):
    # Frequencies of single-choice questions too: their cells are protected one by one
    add_frequencies(monkeypatch)
    auth.login("advocate")
    results = _campaign(app, client, runner, tmp_path, fieldwork, previews=True)
    assert results["frequency_rows_mixed"] > 0  # a hidden category beside shown ones
    assert results["served_forbidden"] == []
    assert results["small_published"] == []
    assert results["hidden"] > 0
    # Every hidden figure is decided, not a sample of the small ones
    assert results["decided"] == results["hidden"]
    assert "infeasible" not in results["how"]  # the attacker's relations fit the truth
    narrow = results["narrow"]
    assert narrow.empty, narrow.head(10).to_string()


def test_the_attack_finds_the_counts_when_complements_are_off(
    app, client, auth, runner, tmp_path, fieldwork, monkeypatch
):
    """Only primary suppression (no complements): the same attack pins hidden counts."""

    def primary_only(block, k):
        return False

    monkeypatch.setattr(protection, "_complete", primary_only)
    monkeypatch.setattr(
        protection, "_protect_population", lambda populations, k: _small_groups(populations, k)
    )
    auth.login("advocate")
    results = _campaign(app, client, runner, tmp_path, fieldwork)
    narrow = results["narrow"]
    assert results["decided"] == results["hidden"]
    assert len(narrow) > 0
    assert (narrow["width"] < 1e-6).any()  # some exactly recovered
    # Hidden figures of k or more pinned too (a row's "no" beside its small "yes"): a sample of
    # the small counts never looked at them
    assert (narrow["value"] >= K).any()


def _small_groups(populations, k):
    values = populations["respondents"].to_numpy(dtype=float)
    small = (values > 0) & (values < k)
    return {
        (str(u), str(v), str(g))
        for u, v, g, hide in zip(
            populations["unit"],
            populations["group_var"],
            populations["group"],
            small,
            strict=True,
        )
        if hide
    }


def test_nothing_is_reachable_beyond_the_publication(app, client, auth, fieldwork) -> None:
    """An advocate's CSV is the cube: the same figures, whatever the filters asked for."""
    auth.login("advocate")
    first = client.get("/dashboard/indicators.csv").text
    second = client.get("/dashboard/indicators.csv?sex=female").text
    assert first == second
    assert np.isfinite(len(first))
