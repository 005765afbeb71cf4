"""Report benchmark: the full working paper for 10k, 100k and 1M demo submissions.

For each size, a throwaway SQLite database is filled with demo submissions of the default
instrument (the same filling as bench/dataset.py; reuse its databases with --keep), then a fresh
child process times each phase of `survey report`:

1. load     — load_dataset, cold (reading and typing every submission);
2. analysis — the rest of the snapshot: the analysis plan, small-cell suppression, methodology
              counts, labels and quotes (the dataset now comes from the cache);
3. content  — the paper's text, tables and SVG charts (survey.reporting.content);
4. pdf      — HTML and PDF/UA with WeasyPrint.

It also times a second, warm run (dataset cached, as for a second report in the same server
process) and prints pages and words of the paper.

    .venv/bin/python bench/report.py                         # 10k, 100k and 1M
    .venv/bin/python bench/report.py --sizes 10000 100000    # skip the million (minutes to fill)
    .venv/bin/python bench/report.py --keep /tmp/birge-bench # keep (and reuse) the databases
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dataset import fill, folders, machine, make_app, peak_rss_mb, run_child  # noqa: E402
from reports.languages import PAPER_LANGUAGES  # noqa: E402

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SETTINGS = {
    "title": "Needs of survivors of nuclear testing: results of a community survey",
    "submitted_by": "Benchmark coalition",
    "symbol": "TPNW/MSP/2025/NGO/23",
    "date": "2025-03-03",
    "include_demo": True,
}


def measure(folder: Path, language: str) -> dict[str, Any]:
    """In this (fresh) process: each phase of one report, then a warm second report."""
    from pypdf import PdfReader

    from reports.render import render_pdf
    from survey.datasets.dataset import load_dataset
    from survey.reporting.content import build_paper
    from survey.reporting.settings import settings_from_mapping
    from survey.reporting.snapshot import build_snapshot, find_instrument

    app = make_app(folder)
    result: dict[str, Any] = {}
    with app.app_context():
        settings = settings_from_mapping({**SETTINGS, "language": language})
        render_pdf(build_paper(settings, _tiny_snapshot()).paper)  # import and warm WeasyPrint
        started = time.perf_counter()
        instrument = find_instrument()
        dataset = load_dataset(list(instrument.versions), include_demo=True)
        result["load_s"] = time.perf_counter() - started
        result["respondents"] = len(dataset.respondents)
        result["members"] = len(dataset.members)
        started = time.perf_counter()
        snapshot = build_snapshot(settings)
        result["analysis_s"] = time.perf_counter() - started
        started = time.perf_counter()
        content = build_paper(settings, snapshot)
        result["content_s"] = time.perf_counter() - started
        started = time.perf_counter()
        pdf = render_pdf(content.paper)
        result["pdf_s"] = time.perf_counter() - started
        result["pages"] = len(PdfReader(BytesIO(pdf)).pages)
        result["words"] = content.words
        result["snapshot_kb"] = len(json.dumps(snapshot)) / 1000
        started = time.perf_counter()
        render_pdf(build_paper(settings, build_snapshot(settings)).paper)
        result["warm_s"] = time.perf_counter() - started
        result["peak_rss_mb"] = peak_rss_mb()
    return result


def _tiny_snapshot() -> dict[str, Any]:
    """The smallest snapshot a paper can be built from (to load WeasyPrint before timing)."""
    return {
        "k": 5,
        "data": {"period": [dt.date(2025, 1, 1).isoformat()] * 2},
        "indicators": [],
        "labels": {},
        "table": {"columns": [], "rows": []},
        "quotes": [],
    }


def parse() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the databases in.")
    parser.add_argument("--lang", default="en", choices=PAPER_LANGUAGES)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    """Fill and measure each size; print the phases."""
    args = parse()
    if args.child:
        print(json.dumps(measure(args.child, args.lang)))
        return
    root, temporary = folders(args)
    print(f"report benchmark ({args.lang}) — {machine()}")
    try:
        for n in args.sizes:
            folder = root / f"n{n}"
            rows, seconds, size = fill(folder, n)
            print(
                f"\n{rows:,} submissions, database {size / 1e9:.2f} GB (filled in {seconds:.0f} s)"
            )
            r = run_child(folder, Path(__file__), "--lang", args.lang)
            total = r["load_s"] + r["analysis_s"] + r["content_s"] + r["pdf_s"]
            print(
                f"  input            {r['respondents']:,} respondents, "
                f"{r['members']:,} household members"
            )
            print(f"  load dataset     {r['load_s']:8.2f} s   (cold)")
            print(f"  analysis         {r['analysis_s']:8.2f} s   (plan, suppression, counts)")
            print(f"  content          {r['content_s']:8.2f} s   (text, tables, charts)")
            print(
                f"  pdf              {r['pdf_s']:8.2f} s   ({r['pages']} pages, {r['words']} words)"
            )
            print(f"  total            {total:8.2f} s   (cold)")
            print(f"  second report    {r['warm_s']:8.2f} s   (dataset cached)")
            print(
                f"  memory           peak RSS {r['peak_rss_mb']:,.0f} MB; "
                f"snapshot {r['snapshot_kb']:,.0f} kB"
            )
    finally:
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    main()
