"""Corpus benchmark: pyxform, Birge's importer and ODK's engine on the largest corpus forms.

For the --n largest forms of tests/survey/instruments/corpus (by survey rows) it prints the time
pyxform takes to convert the workbook, the time Birge's importer takes (into a scratch SQLite
database, as `survey instruments import` does) and whether it imports or refuses, and the time
ODK's engine (tests/odk/fill.mjs) takes to load, fill and serialise the XForm. Issue 9 asks for
the largest form to import in under 5 s.

    .venv/bin/python bench/corpus.py            # the 5 largest forms
    .venv/bin/python bench/corpus.py --n 20
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.odk_engine import engine_missing, fill_batch  # noqa: E402
from tests.survey.instruments.corpus.survey_corpus import (  # noqa: E402
    convert_with_pyxform,
    engine_jobs,
    form_path,
    read_manifest,
)


def main() -> int:
    """Print timings for the largest corpus forms."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5, help="how many of the largest forms")
    options = parser.parse_args()

    from flask_migrate import upgrade

    from survey import create_app
    from survey.extensions import db
    from survey.instruments.services import import_instrument
    from survey.instruments.xlsform import InstrumentImportError

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
            },
            instance_path=f"{folder}/instance",
        )
        with app.app_context():
            upgrade(directory=str(ROOT / "survey" / "migrations"))
            print(f"{'form':58} {'rows':>5} {'pyxform s':>9} {'Birge s':>8}  Birge")
            for form in largest:
                conversions[form] = convert_with_pyxform(form)
                data = form_path(form).read_bytes()
                started = time.perf_counter()
                try:
                    import_instrument(data, form_path(form).name)
                    verdict = "imports"
                except InstrumentImportError as error:
                    count = len(error.problems)
                    verdict = f"refuses ({count} problem{'' if count == 1 else 's'})"
                birge = time.perf_counter() - started
                db.session.rollback()
                print(
                    f"{form:58} {manifest[form]['survey_rows']:>5} "
                    f"{conversions[form].seconds:>9.2f} {birge:>8.2f}  {verdict}"
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
