"""Dataset benchmark: load time and peak memory of load_dataset for 10k, 100k and 1M submissions.

Builds a throwaway SQLite database per size (migrations, the default instrument, a round), fills
it with demo submissions of the default instrument, then measures in a fresh child process
(so the peak memory is the load's own): a cold load, a cached load (one aggregate query), and the
incremental append of 1,000 new submissions.

    .venv/bin/python bench/dataset.py                          # 10k, 100k and 1M
    .venv/bin/python bench/dataset.py --sizes 10000 100000     # skip the million
    .venv/bin/python bench/dataset.py --keep /tmp/birge-bench  # keep (and reuse) the databases

Filling: the demo generator makes up to 20,000 distinct interviews (with every rule checked);
bigger sizes repeat them with new instance ids and receipt codes. Answers are serialised once
and inserted with SQLAlchemy Core in batches, so a million rows take a few minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DISTINCT = 20_000  # interviews the generator makes; larger sizes repeat them
BATCH = 5_000
APPENDED = 1_000
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def make_app(folder: Path) -> Any:
    """The app on `folder/survey.sqlite3` (created by the migrations if missing)."""
    from survey import create_app

    database = folder / "survey.sqlite3"
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": uuid.uuid4().hex,
            "DATABASE_URL": f"sqlite:///{database}",
            "RATELIMIT_ENABLED": False,
        },
        instance_path=str(folder / "instance"),
    )


def default_version() -> Any:
    """The default instrument's version (imported if needed) and a survey round."""
    from sqlalchemy import select

    from survey.collection.models import SurveyRound
    from survey.collection.rounds import create_round
    from survey.extensions import db
    from survey.instruments.models import InstrumentVersion
    from survey.instruments.services import import_default_instrument

    version = db.session.execute(select(InstrumentVersion)).scalars().first()
    if version is None:  # a kept database keeps the version its rows were made with
        version = import_default_instrument()
    survey_round = db.session.execute(select(SurveyRound)).scalars().first()
    if survey_round is None:
        today = dt.date.today()
        survey_round = create_round("bench", today - dt.timedelta(days=365), today)
    db.session.commit()
    return version, survey_round


def submission_table() -> Any:
    """The submissions table with `answers` as plain text: rows carry pre-serialised JSON."""
    from sqlalchemy import JSON, Text, column, table

    from survey.collection.models import Submission

    columns = [
        column(c.name, Text if isinstance(c.type, JSON) else c.type)
        for c in Submission.__table__.columns
        if c.name != "id"
    ]
    return table("submissions", *columns)


def insert_rows(base: list[dict[str, Any]], start: int, count: int) -> None:
    """Insert `count` submissions numbered from `start`, cycling through the base rows."""
    from sqlalchemy import insert

    from survey.extensions import db

    target = submission_table()
    epoch = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    for first in range(start, start + count, BATCH):
        batch = []
        for number in range(first, min(first + BATCH, start + count)):
            row = dict(base[number % len(base)])
            row["instance_id"] = f"uuid:{uuid.UUID(int=number + 1, version=4)}"
            row["receipt_code"] = f"B{number:015d}"
            row["received_at"] = epoch + dt.timedelta(seconds=number)
            batch.append(row)
        db.session.execute(insert(target), batch)
        db.session.commit()


def base_rows(version: Any, survey_round: Any, n: int) -> list[dict[str, Any]]:
    """Distinct demo rows, answers already serialised to JSON text."""
    from survey.demo import default_workers, iter_demo_rows

    rows = []
    for row in iter_demo_rows(
        version, survey_round, min(n, DISTINCT), seed=1, workers=default_workers(min(n, DISTINCT))
    ):
        row["answers"] = json.dumps(row["answers"])
        row.pop("receipt_code", None)
        rows.append(row)
    return rows


def fill(folder: Path, n: int) -> tuple[int, float, int]:
    """A database of n demo submissions (reused when it has them); (rows, seconds, bytes)."""
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from survey.collection.models import Submission
    from survey.extensions import db

    folder.mkdir(parents=True, exist_ok=True)
    app = make_app(folder)
    started = time.perf_counter()
    with app.app_context():
        upgrade(directory=str(ROOT / "survey" / "migrations"))
        version, survey_round = default_version()
        have = db.session.execute(select(func.count(Submission.id))).scalar() or 0
        if have < n:
            base = base_rows(version, survey_round, n)
            insert_rows(base, have, n - have)
        rows = db.session.execute(select(func.count(Submission.id))).scalar() or 0
        db.engine.dispose()
    size = (folder / "survey.sqlite3").stat().st_size
    return rows, time.perf_counter() - started, size


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(folder: Path) -> dict[str, Any]:
    """In this (fresh) process: cold load, cached load, append of new submissions."""
    from survey.datasets.dataset import load_dataset
    from survey.extensions import db

    app = make_app(folder)
    with app.app_context():
        version, survey_round = default_version()
        baseline = peak_rss_mb()
        started, cpu = time.perf_counter(), time.process_time()
        data = load_dataset([version], include_demo=True)
        cold, cold_cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = peak_rss_mb()
        frames = (
            data.respondents.memory_usage(deep=True).sum()
            + data.members.memory_usage(deep=True).sum()
        )
        started = time.perf_counter()
        load_dataset([version])
        cached = time.perf_counter() - started
        app.config["DATASET_FULL_CHECK_SECONDS"] = 60
        load_dataset([version])  # this one scans; the next skips the scan for 60 s
        started = time.perf_counter()
        load_dataset([version])
        throttled = time.perf_counter() - started
        app.config["DATASET_FULL_CHECK_SECONDS"] = 0
        from sqlalchemy import func, select

        from survey.collection.models import Submission

        have = db.session.execute(select(func.count(Submission.id))).scalar() or 0
        insert_rows(base_rows(version, survey_round, APPENDED), have, APPENDED)
        started, cpu = time.perf_counter(), time.process_time()
        appended = load_dataset([version])
        append, append_cpu = time.perf_counter() - started, time.process_time() - cpu
        result = {
            "respondents": len(data.respondents),
            "respondent_columns": data.respondents.shape[1],
            "members": len(data.members),
            "member_columns": data.members.shape[1],
            "cold_s": cold,
            "cold_cpu_s": cold_cpu,
            "append_cpu_s": append_cpu,
            "cached_s": cached,
            "throttled_s": throttled,
            "append_s": append,
            "appended_rows": len(appended.respondents) - len(data.respondents),
            "baseline_rss_mb": baseline,
            "peak_rss_mb": peak,
            "frames_mb": frames / 1e6,
        }
        # Remove the appended rows so the database keeps its size for the next run.
        db.session.execute(Submission.__table__.delete().where(Submission.id > have))
        db.session.commit()
        db.engine.dispose()
    return result


def run_child(folder: Path, script: Path, *extra: str) -> dict[str, Any]:
    """Run `script --child FOLDER` in a fresh interpreter and read its JSON line."""
    output = subprocess.run(
        [sys.executable, str(script), "--child", str(folder), *extra],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def machine() -> str:
    """One line about where the figures were measured (CPU time is shown too: on a busy
    machine wall time measures the neighbours)."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = os.getloadavg()[0]
    return (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {memory:.0f} GB RAM, SQLite, load average {load:.1f}"
    )


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the databases in.")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def folders(args: argparse.Namespace) -> tuple[Path, tempfile.TemporaryDirectory | None]:
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        return args.keep, None
    temporary = tempfile.TemporaryDirectory(prefix="birge-bench-")
    return Path(temporary.name), temporary


def main() -> None:
    """Fill and measure each size; print a table."""
    args = parse()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    root, temporary = folders(args)
    print(f"load_dataset benchmark — {machine()}")
    try:
        for n in args.sizes:
            folder = root / f"n{n}"
            rows, seconds, size = fill(folder, n)
            print(
                f"\n{rows:,} submissions, database {size / 1e9:.2f} GB (filled in {seconds:.0f} s)"
            )
            result = run_child(folder, Path(__file__))
            print(
                f"  cold load        {result['cold_s']:8.2f} s   "
                f"(CPU {result['cold_cpu_s']:.2f} s; "
                f"{result['respondents']:,} × {result['respondent_columns']} respondents, "
                f"{result['members']:,} × {result['member_columns']} roster rows)"
            )
            print(
                f"  cached load      {result['cached_s']:8.3f} s   "
                "(index queries + scan for the newest review/correction)"
            )
            print(
                f"  cached, no scan  {result['throttled_s']:8.3f} s   "
                "(DATASET_FULL_CHECK_SECONDS=60: index queries only)"
            )
            print(
                f"  append {result['appended_rows']:,} new {result['append_s']:8.2f} s   "
                f"(CPU {result['append_cpu_s']:.2f} s; read new rows, concatenate)"
            )
            print(
                f"  memory           peak RSS {result['peak_rss_mb']:,.0f} MB "
                f"(before loading {result['baseline_rss_mb']:,.0f} MB); "
                f"frames {result['frames_mb']:,.0f} MB"
            )
    finally:
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    main()
