"""Snapshot benchmark: cold and warm paths at 100k and 1M submissions, SQLite and PostgreSQL.

For each database and size, printed next to the old JSON path (or the JSON-parse floor where the
old path would take minutes), in one run, with the machine and its load:
- `survey snapshot rebuild`: building the snapshot from the answers' JSON (once per host);
- first dashboard page after a restart of gunicorn (2 workers), the snapshot on disk;
- a warm dashboard page (median of 10) and the page after one new submission (catch-up);
- `survey indicators`, `survey report` and `survey export --format csv`, cold, end to end (new
  processes);
- memory: RSS and PSS of gunicorn's master and 2 workers once both have served the page.

    .venv/bin/python bench/snapshot.py --root /tmp/birge-snapbench \
        --postgres postgresql://postgres@127.0.0.1:5432/birge_snapshot_2

Filling: 100k submissions by the demo generator's rows (bench/dataset.py `fill`: 20,000 distinct
interviews, repeated); 1M by copying them in SQL (INSERT ... SELECT with new instance ids and
receipt codes, the change-number trigger off during each copy and the numbers given in the copy:
1M rows in about 3 minutes on either database). `--root` keeps the databases for the next run;
`--keep-snapshot` measures with the snapshot already there (no rebuild). The PostgreSQL database
named in `--postgres` is emptied and migrated: never point it at real data.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ingestion  # noqa: E402
from bench.dataset import base_rows, default_version  # noqa: E402

ingestion.REQUEST_TIMEOUT = 1800  # the old path's first page takes minutes at 1M
COORDINATOR = "bench_coordinator"
PASSWORD = uuid.uuid4().hex + "Aa1!"
SECRET = uuid.uuid4().hex
FORM_ID = ingestion.demo.DEFAULT_FORM_ID
DASHBOARD = f"/dashboard/?instrument={FORM_ID}"
REPORT_SETTINGS = """title = "Needs of survivors of nuclear testing: results of a community survey"
submitted_by = "Benchmark coalition"
symbol = "TPNW/MSP/2025/NGO/23"
date = "2025-03-03"
include_demo = true
"""


def environment(url: str, instance: Path, snapshot: bool = True) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SURVEY_DATABASE_URL": url,
            "SURVEY_INSTANCE_PATH": str(instance),
            "SURVEY_SECRET_KEY": SECRET,
            "SURVEY_RATELIMIT_ENABLED": "false",
            "SURVEY_SNAPSHOT_ENABLED": "true" if snapshot else "false",
        }
    )
    return env


def app_for(url: str, instance: Path) -> Any:
    from survey import create_app

    return create_app(
        {"SECRET_KEY": SECRET, "DATABASE_URL": url, "RATELIMIT_ENABLED": False},
        instance_path=str(instance),
    )


_COLUMNS = (
    "instrument_version_id, round_id, entered_by_id, answers, answers_sha256, language, source, "
    "district, started_at, ended_at, received_at, review_status, review_comment, "
    "reviewed_by_id, reviewed_at, updated_at, is_demo"
)


def _copy_rows(copy: int, source_upto: int, dialect: str) -> str:
    """SQL copying the first `source_upto` submissions once more, with new unique keys.

    The change number is given here (the counter's value + the source row's id, the counter
    moved past them by `copy_without_triggers`), not by the per-row trigger: in PostgreSQL each
    row's bump of the one counter row, all in one transaction, made the copy quadratic (160,000
    rows per 15 minutes).
    """
    padded = "printf('%013d', id)" if dialect == "sqlite" else "lpad(CAST(id AS TEXT), 13, '0')"
    return (
        f"INSERT INTO submissions (instance_id, receipt_code, change_seq, {_COLUMNS}) "
        f"SELECT instance_id || '-c{copy}', 'C{copy:02d}' || {padded}, "
        f"(SELECT value FROM snapshot_sequence WHERE id = 1) + id, {_COLUMNS} "
        f"FROM submissions WHERE id <= {source_upto} ORDER BY id"
    )


def copy_without_triggers(connection: Any, copy: int, source_upto: int) -> None:
    """One benchmark copy with the change-number trigger off, the counter moved past it.

    A benchmark fill only (never real data): the trigger is dropped (SQLite) or disabled
    (PostgreSQL) inside the copy's transaction and back before its commit.
    """
    from sqlalchemy import text

    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("ALTER TABLE submissions DISABLE TRIGGER submissions_change"))
        connection.execute(text(_copy_rows(copy, source_upto, dialect)))
        connection.execute(text("ALTER TABLE submissions ENABLE TRIGGER submissions_change"))
    else:
        name = "submissions_change_insert"
        (sql,) = connection.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
            {"name": name},
        ).one()
        connection.execute(text(f"DROP TRIGGER {name}"))
        connection.execute(text(_copy_rows(copy, source_upto, dialect)))
        connection.execute(text(sql))
    connection.execute(
        text(f"UPDATE snapshot_sequence SET value = value + {source_upto} WHERE id = 1")
    )


def seed_rows(source: Path, version_id: int, round_id: int) -> list[dict[str, Any]]:
    """The first 20,000 submissions of another benchmark database (SQLite), to copy."""
    import datetime as dt
    import sqlite3

    if not source.exists():
        return []
    names = ["instance_id", "receipt_code", *(c.strip() for c in _COLUMNS.split(","))]
    connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        found = connection.execute(
            f"SELECT {', '.join(names)} FROM submissions ORDER BY id LIMIT 20000"
        ).fetchall()
    finally:
        connection.close()
    rows = []
    for values in found:
        row = dict(zip(names, values, strict=True))
        row["answers"] = json.loads(row["answers"])
        row["instrument_version_id"], row["round_id"] = version_id, round_id
        row["entered_by_id"] = row["reviewed_by_id"] = None
        row["is_demo"] = bool(row["is_demo"])
        for name in ("started_at", "ended_at", "received_at", "reviewed_at", "updated_at"):
            if row[name] is not None:
                row[name] = dt.datetime.fromisoformat(row[name])
        rows.append(row)
    return rows


def fill(url: str, instance: Path, n: int, seed: Path | None = None) -> tuple[int, float]:
    """The database holds at least n submissions (and a coordinator); (rows, seconds)."""
    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select, text

    from survey.collection.models import Submission
    from survey.extensions import db
    from survey.users.models import User
    from survey.users.services import create_user

    started = time.perf_counter()
    app = app_for(url, instance)
    with app.app_context():
        upgrade(directory=str(ROOT / "survey" / "migrations"))
        version, survey_round = default_version()
        if db.session.execute(select(User).where(User.username == COORDINATOR)).first() is None:
            create_user(COORDINATOR, PASSWORD, "coordinator")
        else:
            from survey.users.services import set_password

            user = db.session.execute(select(User).where(User.username == COORDINATOR)).scalar_one()
            set_password(user, PASSWORD)
        db.session.commit()
        have = db.session.execute(select(func.count(Submission.id))).scalar() or 0
        if have == 0:
            rows = seed_rows(seed, version.id, survey_round.id) if seed else []
            if not rows:
                rows = base_rows(version, survey_round, 20_000)
                for row in rows:
                    row["answers"] = json.loads(row["answers"])
                    row["receipt_code"] = "B" + uuid.uuid4().hex[:15]
            for first in range(0, len(rows), 2000):
                db.session.execute(insert(Submission.__table__), rows[first : first + 2000])
                db.session.commit()
            have = len(rows)
        while have < n:
            take = min(have, n - have)
            copy = 1 + have // 10_000  # distinct for every copy this database ever gets
            copy_without_triggers(db.session.connection(), copy, take)
            db.session.commit()
            have = db.session.execute(select(func.count(Submission.id))).scalar() or 0
            print(f"  [{time.strftime('%H:%M:%S')}] {have:,} submissions", flush=True)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE submissions"))
        db.engine.dispose()
    return have, time.perf_counter() - started


CPU_TIMES: dict[str, float] = {}  # command or page → CPU seconds of its last run


def children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these processes (utime + stime from /proc)."""
    total = 0
    for pid in pids:
        with suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def gunicorn_pids(process: subprocess.Popen) -> list[int]:
    pids = [process.pid]
    with suppress(OSError):
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        pids += [int(p) for p in children]
    return pids


def survey(args: list[str], env: dict[str, str]) -> float:
    """Seconds a `survey` command takes, end to end (a new process); its CPU in CPU_TIMES."""
    cpu = children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [ingestion.venv_tool("survey"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"survey {' '.join(args)}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    elapsed = time.perf_counter() - started
    CPU_TIMES[args[0] + " " + args[1]] = children_cpu() - cpu
    return elapsed


def json_floor(url: str, instance: Path, limit: int) -> dict[str, float]:
    """Reading `limit` answers as text and parsing them with the stdlib: the JSON path's floor."""
    from sqlalchemy import Text, cast, select

    from survey.collection.models import Submission
    from survey.extensions import db

    app = app_for(url, instance)
    with app.app_context():
        statement = (
            select(cast(Submission.answers, Text)).order_by(Submission.id).limit(limit)
        ).execution_options(yield_per=5000)
        started = time.perf_counter()
        texts = [t for (t,) in db.session.connection().execute(statement)]
        read = time.perf_counter() - started
        started = time.perf_counter()
        for first in range(0, len(texts), 5000):
            json.loads("[" + ",".join(texts[first : first + 5000]) + "]")
        parsed = time.perf_counter() - started
        db.engine.dispose()
    return {"read_s": read, "parse_s": parsed, "rows": len(texts)}


@contextmanager
def server(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen]:
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                ingestion.venv_tool("gunicorn"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "1800",
                "survey.wsgi:app",
            ],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        ingestion.wait_until_up(port, process, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def logged_in(port: int) -> dict[str, str]:
    client = ingestion.Client(port)
    _status, _headers, page = client.request("GET", "/login")
    body = urllib.parse.urlencode(
        {
            "username": COORDINATOR,
            "password": PASSWORD,
            "csrf_token": ingestion.csrf_token(page),
        }
    ).encode()
    status, _headers, _page = client.request("POST", "/login", body)
    if status != 302:
        raise RuntimeError(f"login answered {status}")
    client.close()
    return client.cookies


def timed_get(client: ingestion.Client, path: str) -> float:
    started = time.perf_counter()
    status, _headers, _page = client.request("GET", path)
    if status != 200:
        raise RuntimeError(f"{path} answered {status}")
    return time.perf_counter() - started


def memory(process: subprocess.Popen) -> dict[str, float]:
    """RSS and PSS (shared pages divided among their users) of gunicorn's processes, MB."""
    pids = [process.pid]
    with suppress(OSError):
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        pids += [int(p) for p in children]
    out = {"rss_mb": 0.0, "pss_mb": 0.0, "workers": []}
    for pid in pids:
        values = {}
        with suppress(OSError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                parts = line.split()
                if parts and parts[0] in ("Rss:", "Pss:"):
                    values[parts[0]] = int(parts[1]) / 1024
        out["rss_mb"] += values.get("Rss:", 0.0)
        out["pss_mb"] += values.get("Pss:", 0.0)
        if pid != process.pid:
            out["workers"].append(round(values.get("Rss:", 0.0)))
    return out


def add_one_submission(url: str, instance: Path) -> None:
    from sqlalchemy import text

    from survey.extensions import db

    app = app_for(url, instance)
    with app.app_context():
        db.session.execute(
            text(
                f"INSERT INTO submissions (instance_id, receipt_code, {_COLUMNS}) "
                f"SELECT '{uuid.uuid4()}', 'N{uuid.uuid4().hex[:15]}', {_COLUMNS} "
                "FROM submissions WHERE id = 1"
            )
        )
        db.session.commit()
        db.engine.dispose()


def pages(env: dict[str, str], folder: Path, warm: bool) -> dict[str, Any]:
    """First page after a restart, the other worker's first page, warm pages, memory."""
    port = ingestion.free_port()
    with server(env, port, folder / "gunicorn.log") as process:
        cookies = logged_in(port)
        first_client = ingestion.Client(port, cookies)
        cpu = process_cpu(gunicorn_pids(process))
        result: dict[str, Any] = {"first_s": timed_get(first_client, DASHBOARD)}
        result["first_cpu_s"] = process_cpu(gunicorn_pids(process)) - cpu
        # Other connections, until the other worker has served the page too (its memory as
        # large as the first's: four connections may all land on the same worker).
        seconds = []
        served = max(memory(process)["workers"] or [0])
        for _attempt in range(30):
            other = ingestion.Client(port, cookies)
            seconds.append(timed_get(other, DASHBOARD))
            other.close()
            if len(seconds) >= 4 and min(memory(process)["workers"] or [0]) >= 0.8 * served:
                break
        result["other_connections_s"] = seconds
        if warm:
            result["memory"] = memory(process)
            cpu = process_cpu(gunicorn_pids(process))
            result["warm_s"] = statistics.median(
                timed_get(first_client, DASHBOARD) for _ in range(10)
            )
            result["warm_cpu_s"] = (process_cpu(gunicorn_pids(process)) - cpu) / 10
            add_one_submission(env["SURVEY_DATABASE_URL"], Path(env["SURVEY_INSTANCE_PATH"]))
            cpu = process_cpu(gunicorn_pids(process))
            result["after_submission_s"] = timed_get(first_client, DASHBOARD)
            result["after_submission_cpu_s"] = process_cpu(gunicorn_pids(process)) - cpu
            result["warm_again_s"] = statistics.median(
                timed_get(first_client, DASHBOARD) for _ in range(5)
            )
        first_client.close()
    return result


def settings_file(folder: Path) -> Path:
    path = folder / "report.toml"
    path.write_text(REPORT_SETTINGS)
    return path


def progress(step: str, result: dict[str, Any]) -> None:
    """Each figure as soon as it is measured (a long 1M run may not reach the table)."""
    figures = {k: v for k, v in result.items() if k.startswith(step) or k == step}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"  [{time.strftime('%H:%M:%S')} load {load}] {json.dumps(figures)}", flush=True)


def measure(
    url: str, instance: Path, n: int, old_path: bool, verify: bool, rebuild: bool = True
) -> dict[str, Any]:
    folder = instance.parent
    snapshot_env = environment(url, instance)
    old_env = environment(url, instance, snapshot=False)
    result: dict[str, Any] = {"load": os.getloadavg()}
    if rebuild:
        result["rebuild_s"] = survey(["snapshot", "rebuild"], snapshot_env)
        result["rebuild_cpu_s"] = CPU_TIMES["snapshot rebuild"]
        progress("rebuild", result)
    result["floor"] = json_floor(url, instance, min(n, 100_000))
    progress("floor", result)
    result["pages"] = pages(snapshot_env, folder, warm=True)
    progress("pages", result)
    if old_path:
        result["old_pages"] = pages(old_env, folder, warm=False)
    indicators = ["indicators", "--out", str(folder / "indicators.csv"), "--force"]
    indicators.append("--include-demo")
    report = ["report", "--out", str(folder / "paper.pdf"), "--settings"]
    report.append(str(settings_file(folder)))
    export = ["export", "--format", "csv", "--out", str(folder / "export.csv"), "--force"]
    export.append("--include-demo")
    for name, args in (("indicators", indicators), ("report", report), ("export", export)):
        try:
            result[f"{name}_s"] = survey(args, snapshot_env)
        except RuntimeError as error:  # a refused export must not lose the other figures
            result[f"{name}_error"] = str(error)[-500:]
            print(f"  ({name} failed: {str(error)[-500:]})", flush=True)
            continue
        finally:
            for written in folder.glob("export*.csv"):  # 1M rows: hundreds of MB
                written.unlink()
        result[f"{name}_cpu_s"] = CPU_TIMES[args[0] + " " + args[1]]
        progress(name, result)
        if old_path and name != "export":
            result[f"old_{name}_s"] = survey(args, old_env)
            result[f"old_{name}_cpu_s"] = CPU_TIMES[args[0] + " " + args[1]]
    if verify:  # reads every answer's JSON again: minutes at 1M
        result["verify_s"] = survey(["snapshot", "verify"], snapshot_env)
    result["load_after"] = os.getloadavg()
    return result


def show(backend: str, n: int, r: dict[str, Any]) -> None:
    floor = r["floor"]
    scale = n / floor["rows"]
    floor_s = (floor["read_s"] + floor["parse_s"]) * scale
    note = "" if scale == 1 else f" (measured on {floor['rows']:,} rows, × {scale:.0f})"
    p = r["pages"]
    old = r.get("old_pages")
    load = ", ".join(f"{x:.1f}" for x in r["load"])
    after = ", ".join(f"{x:.1f}" for x in r["load_after"])
    print(f"\n{backend}, {n:,} submissions (load average {load} → {after})")
    print("  (wall seconds; CPU seconds of the processes doing the work in brackets)")
    print(f"  JSON floor (read + parse answers)   {floor_s:8.1f} s{note}")
    if "rebuild_s" in r:
        print(
            f"  snapshot rebuild (from the JSON)    {r['rebuild_s']:8.1f} s "
            f"[{r['rebuild_cpu_s']:.1f}]"
        )
    line = f"  first page after restart            {p['first_s']:8.2f} s [{p['first_cpu_s']:.2f}]"
    if old:
        line += f"   old path {old['first_s']:8.2f} s [{old['first_cpu_s']:.2f}]"
    else:
        line += f"   JSON floor {floor_s:.1f} s"
    print(line)
    others = ", ".join(f"{s:.2f}" for s in p["other_connections_s"])
    print(f"  next connections (other worker)     {others} s")
    print(
        f"  warm page (median of 10)            {p['warm_s'] * 1000:8.0f} ms "
        f"[{p['warm_cpu_s'] * 1000:.0f} ms]"
    )
    print(
        f"  page after one new submission       {p['after_submission_s']:8.2f} s "
        f"[{p['after_submission_cpu_s']:.2f}]"
    )
    print(f"  warm again (median of 5)            {p['warm_again_s'] * 1000:8.0f} ms")
    m = p["memory"]
    workers = ", ".join(f"{w:,}" for w in m["workers"])
    print(
        f"  memory, gunicorn + 2 workers        RSS {m['rss_mb']:,.0f} MB "
        f"(workers {workers}), PSS {m['pss_mb']:,.0f} MB"
    )
    for name in ("indicators", "report", "export"):
        if name + "_s" not in r:
            continue
        label = "export csv" if name == "export" else name
        line = (
            f"  survey {label:<11} cold             {r[name + '_s']:8.1f} s "
            f"[{r[name + '_cpu_s']:.1f}]"
        )
        if f"old_{name}_s" in r:
            line += (
                f"   old path {r['old_' + name + '_s']:8.1f} s [{r['old_' + name + '_cpu_s']:.1f}]"
            )
        print(line)
    if "verify_s" in r:
        print(f"  survey snapshot verify              {r['verify_s']:8.1f} s (equal)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--postgres", help="A PostgreSQL URL to empty and use (never real data).")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--old-path-upto", type=int, default=100_000)
    parser.add_argument(
        "--keep-snapshot",
        action="store_true",
        help="Measure with the snapshot already under --root (its rebuild timed before).",
    )
    args = parser.parse_args()
    print(f"snapshot benchmark — {ingestion.machine()}")
    backends = [] if args.no_sqlite else [("SQLite", None)]
    if args.postgres:
        backends.append(("PostgreSQL", args.postgres))
    # Every backend at the smaller size first: the 100k figures come before the long 1M runs.
    for n in sorted(args.sizes):
        for backend, url in backends:
            folder = args.root / backend.lower()
            folder.mkdir(parents=True, exist_ok=True)
            instance = folder / "instance"
            url = url or f"sqlite:///{folder / 'survey.sqlite3'}"
            seed = args.root / "sqlite" / "survey.sqlite3" if backend == "PostgreSQL" else None
            rows, seconds = fill(url, instance, n, seed)
            print(f"\n[{backend}: {rows:,} submissions ready in {seconds:.0f} s]", flush=True)
            result = measure(
                url,
                instance,
                rows,
                old_path=n <= args.old_path_upto,
                verify=n <= 100_000,
                rebuild=not args.keep_snapshot,
            )
            (folder / f"result-{n}.json").write_text(json.dumps(result, indent=1))
            try:
                show(backend, rows, result)
            except (KeyError, TypeError, ZeroDivisionError) as error:  # the JSON is kept
                print(f"  (could not print: {error!r}; see {folder}/result-{n}.json)")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
