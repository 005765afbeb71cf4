"""Review queue benchmark: the coordinator's /review page over --n submissions (default 100k).

Builds a throwaway SQLite database (or uses --database, a PostgreSQL URL whose tables it fills
and leaves), inserts --n submissions over ten districts, three volunteers and four statuses
(a tenth demo data), then times the queue's pages through the Flask test client as a
coordinator: the default (oldest pending first), a middle and the last page, each filter, a
search by receipt code, and sorting newest first. Prints the median of --repeat requests per
page and the query plan of the default page's query. Aim: every page under 300 ms at 100k.

    .venv/bin/python bench/review.py                 # 100k on SQLite
    .venv/bin/python bench/review.py --n 10000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import select, text  # noqa: E402

from survey import create_app  # noqa: E402
from survey.collection.models import Submission  # noqa: E402
from survey.collection.review import district_choices  # noqa: E402
from survey.collection.rounds import create_round  # noqa: E402
from survey.extensions import db  # noqa: E402
from survey.instruments.services import import_default_instrument  # noqa: E402
from survey.users.services import create_user  # noqa: E402

PASSWORD = "bench-review-" + uuid.uuid4().hex
STATUSES = ["pending"] * 6 + ["approved"] * 2 + ["on_hold", "rejected"]


def fill(n: int, version_id: int, round_id: int, user_ids: list[int], districts: list[str]) -> None:
    """n submissions, one every 30 s from 1 January 2026, inserted in chunks."""
    rng = random.Random(1)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    chunk = []
    for index in range(n):
        chunk.append(
            {
                "instance_id": f"uuid:{uuid.UUID(int=rng.getrandbits(128))}",
                "receipt_code": f"{index:08X}"[:4] + "-" + f"{index:08X}"[4:],
                "instrument_version_id": version_id,
                "round_id": round_id,
                "entered_by_id": rng.choice(user_ids),
                "answers": {},
                "answers_sha256": "0" * 64,
                "language": "kk",
                "source": "web",
                "district": rng.choice(districts),
                "received_at": start + dt.timedelta(seconds=30 * index),
                "review_status": rng.choice(STATUSES),
                "is_demo": rng.random() < 0.1,
            }
        )
        if len(chunk) == 5000:
            db.session.execute(Submission.__table__.insert(), chunk)
            chunk = []
    if chunk:
        db.session.execute(Submission.__table__.insert(), chunk)
    db.session.commit()


def main() -> None:
    """Fill, then time each page of the queue."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--database", help="a PostgreSQL URL (default: SQLite in a temp folder)")
    options = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="birge-review-"))
    url = options.database or f"sqlite:///{folder / 'survey.sqlite3'}"
    app = create_app(
        {"SECRET_KEY": "bench-" + uuid.uuid4().hex, "DATABASE_URL": url, "RATELIMIT_ENABLED": False,
         "WTF_CSRF_ENABLED": False},
        instance_path=str(folder / "instance"),
    )  # fmt: skip
    with app.app_context():
        upgrade(directory=str(ROOT / "survey" / "migrations"))
        version = import_default_instrument()
        survey_round = create_round("2026", dt.date(2026, 1, 1), None)
        coordinator = create_user("bench_coordinator", PASSWORD, "coordinator")
        users = [create_user(f"bench_volunteer_{i}", PASSWORD, "volunteer") for i in range(3)]
        db.session.commit()
        began = time.perf_counter()
        districts = [code for code, _label in district_choices("en")]
        fill(options.n, version.id, survey_round.id, [u.id for u in users], districts)
        print(f"filled {options.n} submissions in {time.perf_counter() - began:.1f} s")
        code = db.session.execute(
            select(Submission.receipt_code).order_by(Submission.id.desc()).limit(1)
        ).scalar_one()
        volunteer, round_id, username = users[0].id, survey_round.id, coordinator.username
        if url.startswith("sqlite"):
            plan = db.session.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT id FROM submissions WHERE review_status = 'pending'"
                    " ORDER BY received_at, id LIMIT 50"
                )
            ).all()
            print("plan of the default page:", "; ".join(str(row[-1]) for row in plan))
    client = app.test_client()
    client.post("/login", data={"username": username, "password": PASSWORD})
    pages = {
        "default (oldest pending first)": "/review",
        "page 500": "/review?page=500",
        "last page": "/review?page=100000",
        "all statuses, newest first": "/review?status=all&sort=newest",
        "district": f"/review?district={districts[3]}",
        "volunteer": f"/review?volunteer={volunteer}",
        "round + dates": (
            f"/review?round={round_id}&received_from=2026-01-10&received_to=2026-01-20"
        ),
        "demo hidden": "/review?demo=real",
        "search receipt code": f"/review?status=all&q={code}",
    }
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    worst = 0.0
    for name, path in pages.items():
        times = []
        for _ in range(options.repeat):
            began = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        median = statistics.median(times)
        worst = max(worst, median)
        print(f"{name:34s} median {median:7.1f} ms   max {max(times):7.1f} ms")
    print(f"worst median {worst:.1f} ms ({'under' if worst < 300 else 'OVER'} 300 ms)")


if __name__ == "__main__":
    main()
