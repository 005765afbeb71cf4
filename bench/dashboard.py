"""Dashboard benchmark: dataset load + the full analysis plan (10k, 100k, 1M), pages cold and warm.

Per size, in a fresh child process (so peak memory is the run's own), on a throwaway SQLite
database of demo submissions filled by bench/dataset.py's `fill`:

- dataset load: `instrument_dataset` (every version and review status), time and peak RSS;
- the full analysis plan with each indicator's own disaggregations (`run_estimates`, as
  `survey indicators` computes it), the plan overall only (the indicator page's default), and
  the advocates' suppression of the full table (`apply_to_estimates`);
- at the sizes given by --pages-at (default 100k), every dashboard page through the Flask test
  client as a coordinator and as an advocate: the first request (dataset built from the
  database), cold (dataset cached, page not: what a filter change or a new submission costs),
  warm (both cached; median of --repeat requests), and warm with DATASET_FULL_CHECK_SECONDS=60
  (the dataset cache then skips its scan for the newest review or correction).

    .venv/bin/python bench/dashboard.py                              # 10k, 100k and 1M
    .venv/bin/python bench/dashboard.py --sizes 10000 100000         # skip the million
    .venv/bin/python bench/dashboard.py --keep /tmp/birge-dash       # keep and reuse databases

Filling a million submissions takes several minutes; --keep reuses databases between runs (and
those of bench/dataset.py: the same layout). Aim (100k): warm page < 300 ms, cold < 3 s.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset as dataset_bench

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
PAGES = (
    ("overview", "/dashboard/"),
    ("needs", "/dashboard/needs"),
    ("indicators", "/dashboard/indicators"),
    ("indicators by district", "/dashboard/indicators?by=district"),
    ("questions", "/dashboard/questions"),
    ("quality", "/dashboard/quality"),
)


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(action: Any) -> tuple[Any, float]:
    """(result, seconds) of calling action."""
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def measure_analysis(app: Any) -> dict[str, Any]:
    """Dataset load and the full plan, with the peak RSS after each step."""
    from survey.dashboards.estimates import PUBLIC, plan_of, publish, run_estimates
    from survey.dashboards.filters import Filters, instrument_dataset, select_rows

    with app.app_context():
        version, _round = dataset_bench.default_version()
        instrument = version.instrument
        baseline = peak_rss_mb()
        dataset, load_s = timed(lambda: instrument_dataset(instrument))
        after_load = peak_rss_mb()
        selection = select_rows(dataset, Filters())
        plan, _problems = plan_of(dataset.spec)
        (table, problems), plan_s = timed(
            lambda: run_estimates(selection, plan, dataset.spec, None)
        )
        _published, suppress_s = timed(lambda: publish(table, PUBLIC, 5))
        (overall, _problems), overall_s = timed(
            lambda: run_estimates(selection, plan, dataset.spec, ())
        )
        after_plan = peak_rss_mb()
        return {
            "respondents": len(dataset.respondents),
            "respondent_columns": dataset.respondents.shape[1],
            "members": len(dataset.members),
            "indicators": len(plan.indicators),
            "rows": len(table),
            "overall_rows": len(overall),
            "problems": len(problems),
            "load_s": load_s,
            "plan_s": plan_s,
            "overall_s": overall_s,
            "suppress_s": suppress_s,
            "baseline_mb": baseline,
            "load_peak_mb": after_load,
            "plan_peak_mb": after_plan,
        }


def login(app: Any, role: str) -> Any:
    """A test client logged in as a new user with this role."""
    from survey.extensions import db
    from survey.users.services import create_user

    username, password = f"bench-{role}-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex + "Aa1!"
    with app.app_context():
        create_user(username, password, role)
        db.session.commit()
    client = app.test_client()
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, response.status_code
    return client


def get(client: Any, url: str) -> tuple[float, int]:
    """(seconds, bytes) of a GET that must answer 200."""
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")
    return elapsed, len(response.data)


def measure_pages(app: Any, repeat: int) -> dict[str, Any]:
    """First, cold and warm requests of every page, per role."""
    from survey.dashboards.cache import page_cache
    from survey.datasets.cache import invalidate

    results: dict[str, Any] = {}
    for role in ("coordinator", "advocate"):
        client = login(app, role)
        with app.app_context():
            invalidate()
            page_cache().clear()
        first_s, _size = get(client, "/dashboard/")
        pages = {}
        for name, url in PAGES:
            if role == "advocate" and name == "quality":
                continue
            with app.app_context():
                page_cache().clear()
            cold, size = get(client, url)
            app.config["DATASET_FULL_CHECK_SECONDS"] = 0
            warm = statistics.median(get(client, url)[0] for _ in range(repeat))
            app.config["DATASET_FULL_CHECK_SECONDS"] = 60
            get(client, url)
            throttled = statistics.median(get(client, url)[0] for _ in range(repeat))
            app.config["DATASET_FULL_CHECK_SECONDS"] = 0
            pages[name] = {
                "cold_s": cold,
                "warm_s": warm,
                "throttled_s": throttled,
                "kb": size / 1e3,
            }
        results[role] = {"first_s": first_s, "pages": pages}
    results["peak_mb"] = peak_rss_mb()
    return results


def child(folder: Path, pages: bool, repeat: int) -> dict[str, Any]:
    """Everything measured in this (fresh) process."""
    app = dataset_bench.make_app(folder)
    app.config["WTF_CSRF_ENABLED"] = False  # the test client logs in without a form
    result = {"analysis": measure_analysis(app)}
    if pages:
        result["pages"] = measure_pages(app, repeat)
    with app.app_context():
        from survey.extensions import db

        db.engine.dispose()
    return result


def report(n: int, rows: int, size: int, fill_s: float, result: dict[str, Any]) -> None:
    """Print the figures of one size."""
    a = result["analysis"]
    print(f"\n{rows:,} submissions, database {size / 1e9:.2f} GB (filled in {fill_s:.0f} s)")
    print(
        f"  input            {a['respondents']:,} respondents × {a['respondent_columns']} columns, "
        f"{a['members']:,} roster rows; plan of {a['indicators']} indicators"
    )
    print(
        f"  dataset load     {a['load_s']:8.2f} s   peak RSS {a['load_peak_mb']:,.0f} MB "
        f"(before {a['baseline_mb']:,.0f} MB)"
    )
    print(
        f"  full plan        {a['plan_s']:8.2f} s   {a['rows']:,} rows with the plan's "
        f"disaggregations; peak RSS {a['plan_peak_mb']:,.0f} MB"
    )
    print(f"  plan, overall    {a['overall_s']:8.2f} s   {a['overall_rows']:,} rows")
    print(f"  suppression      {a['suppress_s']:8.2f} s   (apply_to_estimates, k=5, full table)")
    if a["problems"]:
        print(f"  ({a['problems']} indicators could not be computed)")
    pages = result.get("pages")
    if not pages:
        return
    for role in ("coordinator", "advocate"):
        first = pages[role]["first_s"]
        print(f"  pages as {role} (first request, dataset built: {first:.2f} s)")
        print("    page                      cold ms   warm ms   warm ms (no scan)   size")
        for name, p in pages[role]["pages"].items():
            print(
                f"    {name:24} {p['cold_s'] * 1000:8.0f}  {p['warm_s'] * 1000:8.0f}  "
                f"{p['throttled_s'] * 1000:12.0f}        {p['kb']:6.0f} kB"
            )
    print(f"  peak RSS with pages {pages['peak_mb']:,.0f} MB")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument(
        "--pages-at",
        type=int,
        nargs="*",
        default=[100_000],
        help="Sizes at which the pages are timed too (default: 100000).",
    )
    parser.add_argument("--repeat", type=int, default=5, help="Warm requests per page.")
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the databases in.")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pages", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> None:
    """Fill and measure each size; print the figures."""
    args = parse()
    if args.child:
        print(json.dumps(child(args.child, args.pages, args.repeat)))
        return
    root, temporary = dataset_bench.folders(args)
    print(f"Dashboard benchmark — {dataset_bench.machine()}")
    try:
        for n in args.sizes:
            folder = root / f"n{n}"
            rows, fill_s, size = dataset_bench.fill(folder, n)
            extra = ["--repeat", str(args.repeat)] + (["--pages"] if n in args.pages_at else [])
            result = dataset_bench.run_child(folder, Path(__file__), *extra)
            report(n, rows, size, fill_s, result)
    finally:
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    main()
