"""Protection benchmark: the advocates' protected cube at 10k and 100k submissions.

Per size, on a throwaway SQLite database of demo submissions (bench/dataset.py's `fill`):
the star table (every indicator overall and by each disaggregation), the suppression
(`protect_cube`), the rows and cells hidden (primary and secondary), and, with --audit, the
attacker's linear programme over the whole cube (`decide_intervals`: every hidden figure decided
narrower than k or not, with the LP solves it took).

    .venv/bin/python bench/protection.py                        # 10k and 100k
    .venv/bin/python bench/protection.py --sizes 10000 --audit  # with the LP audit
    .venv/bin/python bench/protection.py --keep /tmp/birge-bench
    .venv/bin/python bench/protection.py --keep /tmp/birge-bench --cold          # cold paths
    .venv/bin/python bench/protection.py --keep /tmp/birge-bench --cold --reference /tmp/main

Aim: the cube in a few seconds at 100k, hiding little beyond the primary cells.

With --cold, per size, each figure in a new process, in three conditions side by side: "old"
(no kept publication: every new process builds the cube, as before survey/dashboards/
cube_store.py), "first" (kept publications on, none on disk yet: this process builds and writes
it) and "kept" (the file written by "first" is read). Measured: an advocate's first dashboard
page after a restart (the dataset from the columnar snapshot, then the cube; the process's own
start is printed apart), a second view and the warm page; the advocate's first report preview;
`survey indicators --public` and `survey report`, end to end (process start included). With
--reference PATH (e.g. `git archive main | tar -x -C /tmp/main`) the two commands also run from
that checkout, on the same database and snapshot. Figures are wall seconds and CPU seconds of
the process [in brackets]: on a shared machine the CPU seconds compare.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset as dataset_bench

DEFAULT_SIZES = (10_000, 100_000)
K_PUBLIC = 5  # the k the publication is built with and audited against


def measure(folder: Path, audit: bool) -> dict[str, Any]:
    """Build the publication cold and report its figures."""
    from reports.analysis.audit import cube_knowledge, decide_intervals, narrow_cells
    from survey.dashboards import publication as publication_module
    from survey.dashboards.cache import page_cache
    from survey.dashboards.filters import instrument_dataset

    app = dataset_bench.make_app(folder)
    with app.app_context():
        version, survey_round = dataset_bench.default_version()
        instrument = version.instrument
        dataset = instrument_dataset(instrument)
        page_cache().clear()
        started = time.perf_counter()
        found = publication_module.publication(instrument, dataset, survey_round.id, K_PUBLIC)
        build_s = time.perf_counter() - started
        cube = found.cube
        table = cube.table
        figures = {
            "respondents": int(found.respondents(None, None) or 0),
            "build_s": round(build_s, 2),
            "rows": len(table),
            "estimates_hidden": int(table["suppressed"].sum()),
            "n_hidden": int(table["n_hidden"].sum()),
            "stats": dict(cube.stats),
        }
        if audit:
            started = time.perf_counter()
            knowledge = cube_knowledge(table, cube.population, cube.out_known, margins=cube.margins)
            truth_table = found.original.assign(unit=table["unit"].to_numpy())
            truth = cube_knowledge(truth_table, _truth_population(found), {}).values
            # Every hidden figure decided (narrower than k or not) without an LP per figure:
            # bound propagation, then solutions shared by all figures, exact solves for the rest.
            intervals = decide_intervals(knowledge, K_PUBLIC)
            figures["audit_s"] = round(time.perf_counter() - started, 1)
            figures["hidden_figures"] = len(intervals)
            figures["narrow"] = len(narrow_cells(intervals, truth, K_PUBLIC))
            # Outer bounds of width 0 are exact too; a figure decided narrow by its bounds is
            # not solved, so this counts the figures shown exactly recovered (at least that many).
            figures["exact"] = int((intervals["high"] - intervals["low"] < 1e-6).sum())
            figures["lp_solves"] = int(intervals.attrs["solves"])
        return figures


def _truth_population(found: Any) -> Any:
    """The respondent counts before suppression (rebuilt from the cube's own rows)."""
    population = found.cube.population.copy()
    population["respondents"] = found.true_population["respondents"].to_numpy()
    return population


# -- cold paths (--cold) -------------------------------------------------------------------------

SECRET = secrets.token_hex(16)
ADVOCATE = ["bench-advocate", "kept-cube " + secrets.token_hex(12)]  # a password per run
PREVIEW_FORM = {
    "title": "Needs of survivors of nuclear testing",
    "submitted_by": "Benchmark coalition",
    "date": "2025-03-03",
    "language": "en",
    "paper_size": "A4",
    "max_quotes": "5",
    "review_statuses": ["approved", "pending"],  # the form asks; the publication decides
    "include_demo": "y",
    "action": "preview",
}
REPORT_SETTINGS = """title = "Needs of survivors of nuclear testing: results of a community survey"
submitted_by = "Benchmark coalition"
symbol = "TPNW/MSP/2025/NGO/23"
date = "2025-03-03"
include_demo = true
"""
CONDITIONS = ("old", "first", "kept")


def _cold_app(folder: Path, kept: bool) -> Any:
    from survey import create_app

    return create_app(
        {
            "SECRET_KEY": SECRET,
            "DATABASE_URL": f"sqlite:///{folder / 'survey.sqlite3'}",
            "RATELIMIT_ENABLED": False,
            "WTF_CSRF_ENABLED": False,
            "PUBLISH_DEMO": True,  # the bench's interviews are demo interviews
            "PUBLICATION_FILES": kept,
        },
        instance_path=str(folder / "instance"),
    )


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> list[float]:
    wall, cpu = _clock()
    return [round(wall - start[0], 3), round(cpu - start[1], 3)]


def child(folder: Path, what: str, kept: bool) -> dict[str, Any]:
    """In this new process: an advocate's first page (what="page") or first preview."""
    started = _clock()
    # What a gunicorn worker loads as it starts (survey/wsgi.py), before its first request
    import scipy.stats  # noqa: F401

    app = _cold_app(folder, kept)
    client = app.test_client()
    response = client.post("/login", data={"username": ADVOCATE[0], "password": ADVOCATE[1]})
    assert response.status_code == 302, response.status_code
    result: dict[str, Any] = {"start": _since(started)}
    if what == "page":
        for name, url in (
            ("first", "/dashboard/indicators"),
            ("other_view", "/dashboard/indicators?by=district"),
        ):
            clock = _clock()
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            result[name] = _since(clock)
        warm = []
        for _ in range(5):
            clock = _clock()
            client.get("/dashboard/indicators")
            warm.append(_since(clock))
        result["warm"] = sorted(warm)[len(warm) // 2]
    else:
        clock = _clock()
        response = client.post("/reports/", data=PREVIEW_FORM)
        if response.status_code != 200:
            (folder / "preview-error.html").write_bytes(response.get_data())
            raise RuntimeError(f"preview: {response.status_code}, see {folder}/preview-error.html")
        result["first"] = _since(clock)
    return result


def _prepare(folder: Path) -> None:
    """The advocate's account (once per database) and the snapshot caught up."""
    from sqlalchemy import select

    from survey.dashboards.filters import instrument_dataset
    from survey.extensions import db
    from survey.users.models import User
    from survey.users.services import create_user, set_password

    app = _cold_app(folder, True)
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=ADVOCATE[0])).scalar()
        if user is None:
            create_user(ADVOCATE[0], ADVOCATE[1], "advocate")
        else:  # this run's password
            set_password(user, ADVOCATE[1])
        db.session.commit()
        version, _round = dataset_bench.default_version()
        instrument_dataset(version.instrument)
        db.engine.dispose()


def _run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[str, list[float]]:
    """stdout and [wall, CPU] seconds of a new process (CPU of it and its children)."""
    import resource
    import subprocess

    def children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    cpu, wall = children(), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command}:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return done.stdout, [round(time.perf_counter() - wall, 2), round(children() - cpu, 2)]


def cold(folder: Path, reference: Path | None) -> dict[str, Any]:
    """Every cold figure of one database, each condition side by side."""
    import shutil

    from survey.dashboards.cube_store import FOLDER

    _prepare(folder)
    cubes = folder / "instance" / "snapshot" / FOLDER
    script = Path(__file__).resolve()
    root = script.parent.parent
    result: dict[str, Any] = {"load": os.getloadavg()}
    for what in ("page", "preview"):
        for condition in CONDITIONS:
            if condition != "kept":
                shutil.rmtree(cubes, ignore_errors=True)
            kept = "yes" if condition != "old" else "no"
            command = [sys.executable, str(script), "--child", str(folder), what, kept]
            command.append(ADVOCATE[1])
            out, _seconds = _run(command, dict(os.environ), root)
            result[f"{what} {condition}"] = json.loads(out.strip().splitlines()[-1])
    env = dict(os.environ)
    env.update(
        {
            "SURVEY_DATABASE_URL": f"sqlite:///{folder / 'survey.sqlite3'}",
            "SURVEY_INSTANCE_PATH": str(folder / "instance"),
            "SURVEY_SECRET_KEY": SECRET,
            "SURVEY_PUBLISH_DEMO": "true",
        }
    )
    settings = folder / "report.toml"
    settings.write_text(REPORT_SETTINGS)
    commands = {
        "indicators --public": ["indicators", "--public", "--force", "--out"],
        "report": ["report", "--settings", str(settings), "--out"],
    }
    targets = {"indicators --public": "indicators.csv", "report": "paper.pdf"}
    cli = [sys.executable, "-c", "from survey.cli import main; main()"]
    for name, args in commands.items():
        runs = [("old", {"SURVEY_PUBLICATION_FILES": "false"}), ("first", {}), ("kept", {})]
        for condition, extra in runs:
            if condition != "kept":
                shutil.rmtree(cubes, ignore_errors=True)
            command = [*cli, *args, str(folder / targets[name])]
            result[f"{name} {condition}"] = _run(command, {**env, **extra}, root)[1]
        if reference is not None:
            shutil.rmtree(cubes, ignore_errors=True)
            command = [*cli, *args, str(folder / targets[name])]
            ref_env = {**env, "PYTHONPATH": str(reference)}
            result[f"{name} reference"] = _run(command, ref_env, reference)[1]
    result["load_after"] = os.getloadavg()
    return result


def show_cold(size: int, r: dict[str, Any]) -> None:
    """The cold figures as a table: wall s [CPU s] per condition."""

    def cell(value: list[float] | None) -> str:
        return "—" if value is None else f"{value[0]:.2f} [{value[1]:.2f}]"

    load = ", ".join(f"{x:.1f}" for x in r["load"])
    after = ", ".join(f"{x:.1f}" for x in r["load_after"])
    print(f"\n{size:,} submissions, load average {load} → {after}; wall s [CPU s]")
    print(f"  {'':42} {'old (no kept cube)':>20} {'first (build+write)':>20} {'kept (read)':>20}")
    rows = [
        ("process start + advocate login", "page", "start"),
        ("advocate page, first request", "page", "first"),
        ("advocate page, another view", "page", "other_view"),
        ("advocate page, warm (median of 5)", "page", "warm"),
        ("report preview, first", "preview", "first"),
    ]
    for label, what, key in rows:
        cells = [cell(r[f"{what} {c}"].get(key)) for c in CONDITIONS]
        print(f"  {label:42} {cells[0]:>20} {cells[1]:>20} {cells[2]:>20}")
    for name in ("indicators --public", "report"):
        cells = [cell(r.get(f"{name} {c}")) for c in CONDITIONS]
        line = f"  {'survey ' + name + ' (end to end)':42} {cells[0]:>20} {cells[1]:>20} "
        line += f"{cells[2]:>20}"
        if f"{name} reference" in r:
            line += f"   reference checkout {cell(r[f'{name} reference'])}"
        print(line)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        folder, what, kept = Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "yes"
        ADVOCATE[1] = sys.argv[5]
        print(json.dumps(child(folder, what, kept)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the databases in.")
    parser.add_argument("--audit", action="store_true", help="Also solve the attacker's LP.")
    parser.add_argument("--cold", action="store_true", help="Cold paths, old and new side by side.")
    parser.add_argument("--reference", type=Path, help="With --cold: also run another checkout.")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.gettempdir()) / "birge-protection-bench"
    print(f"{dataset_bench.machine()}; cores: {os.cpu_count()}")
    for size in args.sizes:
        folder = base / str(size)
        rows, fill_s, _bytes = dataset_bench.fill(folder, size)
        if args.cold:
            show_cold(size, cold(folder, args.reference))
            continue
        figures = measure(folder, args.audit)
        print(f"{size:>7} submissions (filled {rows} in {fill_s:.0f}s): {figures}")
        print(f"         load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
