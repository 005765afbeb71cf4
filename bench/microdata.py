"""Microdata benchmark: anonymisation of the default instrument's demo data (the household as the
unit) at 2,000 and 100,000 interviews: time, risk figures and the share kept per key variable.

Writes demo interviews into a throw-away SQLite database per size (or reuses --keep FOLDER),
loads the dataset, then times `prepare_export` (de-identification, global recoding, local
suppression, risk measures). Print `uptime` beside the figures: the machine is shared.

    nice .venv/bin/python bench/microdata.py                 # 2,000 and 100,000
    .venv/bin/python bench/microdata.py --sizes 2000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def measure(size: int, folder: Path) -> dict[str, object]:
    """Fill (if needed) a database of `size` demo interviews and time the export preparation."""
    from flask_migrate import upgrade

    from survey import create_app
    from survey.collection.rounds import create_round
    from survey.datasets.dataset import load_dataset
    from survey.datasets.deidentify import prepare_export
    from survey.demo import write_demo_data
    from survey.extensions import db
    from survey.instruments.services import import_default_instrument, list_instruments

    folder.mkdir(parents=True, exist_ok=True)
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
            "SECRET_KEY": "bench-" + "x" * 40,
        },
        instance_path=str(folder / "instance"),
    )
    with app.app_context():
        upgrade()
        known = [i for i in list_instruments() if i.versions]
        if not known:
            version = import_default_instrument()
            today = dt.date.today()
            survey_round = create_round(
                "Bench", today - dt.timedelta(days=30), today + dt.timedelta(days=30)
            )
            db.session.commit()
            write_demo_data(version, survey_round, size, seed=7)
            known = [i for i in list_instruments() if i.versions]
        dataset = load_dataset(list(known[0].versions), include_demo=True, use_cache=False)
        started = time.perf_counter()
        prepared = prepare_export(dataset, fmt="csv")
        seconds = time.perf_counter() - started
    summary = prepared.report.disclosure
    assert summary is not None
    # "given": exact or coarsened by global recoding; "exact": as answered.
    given = {loss.column: round(loss.available_share, 3) for loss in summary.key_losses()}
    exact = {loss.column: round(loss.kept_share, 3) for loss in summary.key_losses()}
    return {
        "interviews": size,
        "members": prepared.report.rows.get("member"),
        "prepare_s": round(seconds, 1),
        "given": given,
        "exact": exact,
        "recodings": [r.split(":", 1)[0] for r in summary.recodings],
        "kept_together": round(summary.key_variables_kept_together, 3),
        "global_risk_respondents": round(summary.risk_after.global_risk, 5),
        "global_risk_members": round(summary.member_risk_after.global_risk, 5)
        if summary.member_risk_after
        else None,
        "sample_uniques_before": summary.risk_before.sample_uniques,
        "rosters_cut": summary.rosters_unlinked,
        "dropped": summary.households_dropped,
        "verdict": "publishable" if summary.verdict.publishable else "REFUSED",
        "load": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 100_000])
    parser.add_argument("--keep", type=Path, help="Folder for the databases (reused if there).")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="birge-microdata-"))
    for size in args.sizes:
        print(measure(size, base / f"n{size}"), flush=True)


if __name__ == "__main__":
    main()
