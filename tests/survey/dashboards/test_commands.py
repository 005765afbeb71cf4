"""`survey indicators`: the analysis plan as one tidy, always suppressed table (CSV and HXL)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import select

from survey.dashboards.commands import indicators_command
from survey.demo import write_demo_data
from survey.extensions import db
from survey.users.models import AuditEntry

SMALL = {"1", "2", "3", "4"}


@pytest.fixture
def demo(default_instrument, survey_round):
    """A hundred and fifty demo interviews: many disaggregated cells are small."""
    write_demo_data(default_instrument, survey_round, 150, seed=21)
    return default_instrument


def read(path: Path, *, hxl: bool = False) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """Header, hashtag row (HXL) and records of a written file."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    header, tags = rows[0], rows[1] if hxl else []
    body = rows[2:] if hxl else rows[1:]
    return header, tags, [dict(zip(header, row, strict=True)) for row in body]


@pytest.mark.sqlite_only
def test_csv_has_every_indicator_suppressed(runner, demo, tmp_path) -> None:
    out = tmp_path / "indicators.csv"
    result = runner.invoke(indicators_command, ["--out", str(out), "--include-demo"])
    assert result.exit_code == 0, result.output
    header, _tags, records = read(out)
    assert header[:13] == [
        "indicator",
        "indicator_label",
        "group_var",
        "group",
        "group_label",
        "category",
        "category_label",
        "estimate",
        "ci_low",
        "ci_high",
        "n",
        "indicative",
        "suppressed",
    ]
    assert {"count", "dnk", "pnta", "missing"} <= set(header)  # the team's working file
    assert {"certificate_held", "top_needs", "member_chronic"} <= {r["indicator"] for r in records}
    assert {"sex", "district"} <= {r["group_var"] for r in records}
    hidden = [r for r in records if r["suppressed"] == "true"]
    assert hidden, "150 interviews by district must have small cells"
    for record in records:
        for column in ("n", "count", "dnk", "pnta", "missing"):
            assert record[column] not in SMALL, (column, record)
    for record in hidden:
        assert record["estimate"] == record["ci_low"] == record["ci_high"] == ""
    assert "suppressed" in result.output and f"wrote {out}" in result.output


@pytest.mark.sqlite_only
def test_public_hxl(runner, demo, tmp_path) -> None:
    out = tmp_path / "indicators.hxl.csv"
    result = runner.invoke(
        indicators_command, ["--out", str(out), "--public", "--include-demo", "--lang", "ru"]
    )
    assert result.exit_code == 0, result.output
    header, tags, records = read(out, hxl=True)
    # Non-response counts are published as on the advocates' pages, under the same rule
    assert "count" not in header and "effective_n" not in header
    assert tags[header.index("indicator")] == "#indicator+code"
    assert tags[header.index("estimate")] == "#indicator+value+num"
    assert all(tag.startswith("#") for tag in tags)
    assert any(r["suppressed"] == "true" for r in records)
    assert not {r["n"] for r in records} & SMALL
    labels = {r["indicator"]: r["indicator_label"] for r in records}
    assert labels["certificate_held"] == "Имеют удостоверение полигона (бумажное или цифровое)"
    estimates = [float(r["estimate"]) for r in records if r["estimate"]]
    assert estimates


def test_exports_are_audited(runner, demo, tmp_path) -> None:
    out = tmp_path / "public.csv"
    assert runner.invoke(indicators_command, ["--out", str(out), "--public"]).exit_code == 0
    entry = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "export_made")
    ).scalar_one()
    assert entry.details["kind"] == "indicators"
    assert entry.details["public"] is True and entry.details["via"] == "cli"
    # --public writes the advocates' publication, demo data included as on their pages
    assert entry.details["include_demo"] is True
    assert entry.details["review_statuses"] == ["pending", "approved"]


def test_public_refuses_a_choice_of_statuses(runner, demo, tmp_path) -> None:
    out = tmp_path / "public.csv"
    result = runner.invoke(
        indicators_command, ["--out", str(out), "--public", "--status", "rejected"]
    )
    assert result.exit_code != 0 and "no --status" in result.output
    assert not out.exists()


def test_refuses_bad_arguments(runner, demo, tmp_path) -> None:
    wrong = runner.invoke(indicators_command, ["--out", str(tmp_path / "x.xlsx")])
    assert wrong.exit_code != 0 and ".csv" in wrong.output
    out = tmp_path / "x.csv"
    out.write_text("keep me")
    exists = runner.invoke(indicators_command, ["--out", str(out)])
    assert exists.exit_code != 0 and "--force" in exists.output
    assert out.read_text() == "keep me"
    unknown = runner.invoke(indicators_command, ["--out", str(out), "--force", "--form-id", "x"])
    assert unknown.exit_code != 0 and "birge_needs_assessment" in unknown.output
    no_round = runner.invoke(indicators_command, ["--out", str(out), "--force", "--round", "x"])
    assert no_round.exit_code != 0 and "Test round" in no_round.output
    missing_folder = runner.invoke(indicators_command, ["--out", str(tmp_path / "no" / "x.csv")])
    assert missing_folder.exit_code != 0
    exports = select(AuditEntry).where(AuditEntry.action == "export_made")
    assert not db.session.execute(exports).first()


def test_each_cell_is_written_by_its_own_value_and_type() -> None:
    """Equal values of other types (True, 1, 1.0) are written apart; text "nan" is missing."""
    import io

    import numpy as np
    import pandas as pd

    from survey.dashboards.exports import write_indicator_csv

    values = [True, 1, 1.0, 1.5, -0.0, np.nan, None, "nan", "-1", "1", True, 1.0, "-1"]
    handle = io.StringIO()
    write_indicator_csv(pd.DataFrame({"value": pd.Series(values, dtype=object)}), handle, hxl=False)
    written = handle.getvalue().splitlines()[1:]
    # (csv writes a row of one empty cell as "")
    empty = '""'
    expected = ["true", "1", "1", "1.5", "0", empty, empty, empty, "'-1", "1", "true", "1", "'-1"]
    assert written == expected
