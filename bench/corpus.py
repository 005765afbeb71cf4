"""Corpus benchmark: pyxform, Birge's importer and ODK's engine on the largest corpus forms.

For the --n largest forms of tests/survey/instruments/corpus (by survey rows) it prints the time
pyxform takes to convert the workbook, the time Birge's importer takes (into a scratch SQLite
database, as `survey instruments import` does) and whether it imports or refuses, and the time
ODK's engine (tests/odk/fill.mjs) takes to load, fill and serialise the XForm, and the volunteer's
form page of each imported form: its first render and the median of 10 warm renders (through the
Flask test client, logged in). Issue 9 asks for the largest form to import in under 5 s and for
its form page to render in under 300 ms warm.

    .venv/bin/python bench/corpus.py            # the 5 largest forms
    .venv/bin/python bench/corpus.py --n 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.odk_engine import engine_missing, fill_batch  # noqa: E402
from tests.survey.instruments.corpus.survey_corpus import (  # noqa: E402
    attachments_of,
    convert_with_pyxform,
    engine_jobs,
    form_path,
    keep_of,
    read_manifest,
)

PASSWORD = secrets.token_urlsafe(16)  # a scratch account in a temporary database


def page_timings(client: object, version_id: int, warm: int = 10) -> tuple[float, float]:
    """The form page's first render and the median of `warm` renders after it, in seconds."""
    times = []
    for _ in range(warm + 1):
        started = time.perf_counter()
        response = client.get(f"/collect/v/{version_id}")  # type: ignore[attr-defined]
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    return times[0], statistics.median(times[1:])


def main() -> int:
    """Print timings for the largest corpus forms."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5, help="how many of the largest forms")
    options = parser.parse_args()

    from flask_migrate import upgrade

    from survey import create_app
    from survey.collection.rounds import create_round
    from survey.extensions import db
    from survey.instruments.services import import_instrument
    from survey.instruments.xlsform import InstrumentImportError
    from survey.users.services import create_user

    manifest = read_manifest()
    largest = sorted(manifest, key=lambda f: -int(manifest[f]["survey_rows"] or 0))[: options.n]
    print(
        f"machine: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    conversions = {}
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench-corpus",
                "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
            },
            instance_path=f"{folder}/instance",
        )
        with app.app_context():
            upgrade(directory=str(ROOT / "survey" / "migrations"))
            create_user("volunteer", PASSWORD, "volunteer")
            today = dt.date.today()
            create_round("Bench", today - dt.timedelta(days=1), today + dt.timedelta(days=1))
            db.session.commit()
            client = app.test_client()
            client.post("/login", data={"username": "volunteer", "password": PASSWORD})
            print(
                f"{'form':58} {'rows':>5} {'pyxform s':>9} {'Birge s':>8} "
                f"{'page 1st ms':>11} {'warm ms':>8}  Birge"
            )
            for form in largest:
                conversions[form] = convert_with_pyxform(form)
                data = form_path(form).read_bytes()
                started = time.perf_counter()
                try:
                    version, _summary = import_instrument(
                        data,
                        form_path(form).name,
                        attachments=attachments_of(form),
                        keep=keep_of(form),
                    )
                    db.session.commit()
                    verdict = "imports"
                except InstrumentImportError as error:
                    version = None
                    count = len(error.problems)
                    verdict = f"refuses ({count} problem{'' if count == 1 else 's'})"
                    db.session.rollback()
                birge = time.perf_counter() - started
                first, warm = page_timings(client, version.id) if version else (None, None)
                pages = (
                    f"{first * 1000:>11.0f} {warm * 1000:>8.0f}"
                    if first is not None
                    else f"{'-':>11} {'-':>8}"
                )
                print(
                    f"{form:58} {manifest[form]['survey_rows']:>5} "
                    f"{conversions[form].seconds:>9.2f} {birge:>8.2f} {pages}  {verdict}"
                )
            db.engine.dispose()
        missing = engine_missing()
        if missing:
            print(f"ODK engine not run: {missing}")
            return 0
        jobs = engine_jobs(conversions, Path(folder))
        started = time.perf_counter()
        results = fill_batch(jobs, timeout=900)
        total = time.perf_counter() - started
    print(f"\nODK engine, one node process for {len(jobs)} forms: {total:.2f} s in all")
    for job, result in zip(jobs, results, strict=True):
        print(f"  {job['id']:58} {result['seconds']:>6.2f} s  {result['status']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
