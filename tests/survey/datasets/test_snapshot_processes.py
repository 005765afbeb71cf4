"""Two app processes on one database, each with its own snapshot (as two hosts behind a proxy):
a submission and a withdrawal made through one show in the other's dashboard within the check
interval. Runs on PostgreSQL when SURVEY_TEST_DATABASE_URL is set (the national deployment), and
on SQLite (two processes on one host)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.extensions import db
from tests.factories import PASSWORD
from tests.survey.collection.test_openrosa import web_form_data

CHECK_SECONDS = 2.0

# One app process: its own app (own instance folder, so its own snapshot), driven by JSON lines.
_APP_PROCESS = """
import json, re, sys, time
from survey import create_app

url, instance, check = sys.argv[1], sys.argv[2], float(sys.argv[3])
app = create_app(
    {
        "SECRET_KEY": "test-secret-key-not-for-production",
        "DATABASE_URL": url,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SNAPSHOT_CHECK_SECONDS": check,
    },
    instance_path=instance,
)
client = app.test_client()
response = client.post("/login", data={"username": "coordinator", "password": sys.argv[4]})
assert response.status_code == 302, response.status_code
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    command = json.loads(line)
    started = time.perf_counter()
    if command["do"] == "submit":
        response = client.post(command["url"], data=command["data"])
        out = {"status": response.status_code}
    elif command["do"] == "withdraw":
        response = client.post(
            "/withdrawal", data={"receipt_code": command["code"], "confirm": "y"}
        )
        out = {"status": response.status_code}
    else:
        response = client.get("/dashboard/?demo=include&instrument=" + command["form_id"])
        html = response.get_data(as_text=True)
        found = re.search(r'<span class="stat-value">([^<]*)</span>', html)
        out = {"status": response.status_code, "analysed": found.group(1) if found else None}
    out["seconds"] = time.perf_counter() - started
    print(json.dumps(out), flush=True)
"""


class AppProcess:
    def __init__(self, app: Any, instance: Path, check: float) -> None:
        instance.mkdir(parents=True)
        self.log = (instance / "stderr.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _APP_PROCESS,
                app.config["SQLALCHEMY_DATABASE_URI"],
                str(instance),
                str(check),
                PASSWORD,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            cwd=Path(__file__).resolve().parents[3],
        )
        assert json.loads(self.process.stdout.readline()) == {"ready": True}

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()
        self.log.close()


def _seen_within(other: AppProcess, form_id: str, expected: str, limit: float) -> float:
    """Seconds until the other process's dashboard shows `expected` (fails after `limit`)."""
    started = time.perf_counter()
    while True:
        answer = other.ask(do="count", form_id=form_id)
        assert answer["status"] == 200
        elapsed = time.perf_counter() - started
        if answer["analysed"] == expected:
            return elapsed
        assert elapsed < limit, f"still {answer['analysed']} after {elapsed:.1f} s"
        time.sleep(0.1)


@pytest.mark.slow
def test_two_app_processes_see_each_others_writes(
    app, default_instrument, survey_round, create_user, tmp_path
) -> None:
    from survey.demo import write_demo_data

    write_demo_data(default_instrument, survey_round, 8, seed=11)
    create_user("coordinator", role="coordinator")
    answers = db.session.execute(select(Submission.answers).limit(1)).scalar_one()
    form_id = default_instrument.instrument.form_id
    one = AppProcess(app, tmp_path / "host-one", CHECK_SECONDS)
    other = AppProcess(app, tmp_path / "host-two", CHECK_SECONDS)
    try:
        assert one.ask(do="count", form_id=form_id)["analysed"] == "8"
        first = other.ask(do="count", form_id=form_id)
        assert first["analysed"] == "8"
        warm = other.ask(do="count", form_id=form_id)  # within the interval: from its cache
        instance_id = f"uuid:{uuid.uuid4()}"
        sent = one.ask(
            do="submit",
            url=f"/collect/v/{default_instrument.id}",
            data=web_form_data(answers, instance_id),
        )
        assert sent["status"] in (200, 302), sent
        # Allowed: the check interval, plus one page built with the new data.
        limit = CHECK_SECONDS + 2 * max(first["seconds"], warm["seconds"]) + 1.0
        _seen_within(other, form_id, "9", limit)
        code = db.session.execute(
            select(Submission.receipt_code).where(Submission.instance_id == instance_id)
        ).scalar_one()
        db.session.rollback()
        assert one.ask(do="withdraw", code=code)["status"] in (200, 302)
        _seen_within(other, form_id, "8", limit)
        assert one.ask(do="count", form_id=form_id)["analysed"] == "8"
    finally:
        one.close()
        other.close()
    # Each process kept its own snapshot, as two hosts would.
    assert (tmp_path / "host-one" / "snapshot" / "manifest.json").exists()
    assert (tmp_path / "host-two" / "snapshot" / "manifest.json").exists()
