"""Export benchmark: de-identification and CSV / SPSS / XLSX writing for 10k, 100k, 1M submissions.

Uses the databases of bench/dataset.py (filled the same way, and reused with --keep). In a
fresh child process per size it loads the dataset, then times each step and reports the
process's peak memory:

- prepare: de-identification (generalisation, k-anonymity, local suppression) of both tables;
- csv: respondents and roster written as CSV files in chunks (no zip), codebook and about;
- csv.zip: the bundle the web page sends (the same, deflated into a zip);
- sav: both tables as SPSS files; xlsx: the workbook (only up to --xlsx-max submissions:
  xlsxwriter writes some 100,000 cells a second, so a million interviews take about half an hour).

    .venv/bin/python bench/export.py                               # 10k, 100k and 1M
    .venv/bin/python bench/export.py --sizes 10000 --formats csv
    .venv/bin/python bench/export.py --keep /tmp/birge-bench       # reuse bench/dataset.py's DBs
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset as bench_dataset  # noqa: E402 - bench/dataset.py, found through the path above

FORMATS = ("csv", "csv.zip", "sav", "xlsx")
XLSX_MAX = 100_000


def timed(action: Any) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds) of a call."""
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, time.perf_counter() - started, time.process_time() - cpu


def size_of(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths if p.exists())


def measure(folder: Path, formats: list[str], xlsx_max: int) -> dict[str, Any]:
    """In this (fresh) process: load, prepare, then write each format to a temp folder."""
    from survey.datasets.dataset import load_dataset
    from survey.datasets.deidentify import prepare_export
    from survey.datasets.exports import export_bundle, export_files

    app = bench_dataset.make_app(folder)
    out: dict[str, Any] = {}
    with app.app_context(), tempfile.TemporaryDirectory(prefix="birge-export-") as scratch:
        target = Path(scratch)
        version, _round = bench_dataset.default_version()
        data, out["load_s"], out["load_cpu_s"] = timed(
            lambda: load_dataset([version], use_cache=False)
        )
        n = len(data.respondents)
        out["respondents"], out["members"] = n, len(data.members)
        prepared, out["prepare_s"], out["prepare_cpu_s"] = timed(
            lambda: prepare_export(data, deidentify=True)
        )
        check = prepared.report.checks[0]
        out["at_risk"], out["suppressed"] = check.records_at_risk, check.records_suppressed
        out["columns"] = prepared.report.columns["respondents"]
        for fmt in formats:
            if fmt == "xlsx" and n > xlsx_max:
                continue
            if fmt == "csv.zip":
                path = target / "bundle.zip"
                with path.open("wb") as handle:
                    _r, wall, cpu = timed(lambda h=handle: export_bundle(prepared, "csv", h))
                written = [path]
            else:
                suffix = {"csv": ".csv", "sav": ".sav", "xlsx": ".xlsx"}[fmt]
                paths, wall, cpu = timed(
                    lambda f=fmt, s=suffix: export_files(prepared, f, target / f"export{s}")
                )
                written = list(paths.values())
            out[fmt] = {"s": wall, "cpu_s": cpu, "bytes": size_of(written)}
            for path in written:
                path.unlink(missing_ok=True)
        out["peak_rss_mb"] = bench_dataset.peak_rss_mb()
    return out


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(bench_dataset.DEFAULT_SIZES))
    parser.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    parser.add_argument("--xlsx-max", type=int, default=XLSX_MAX)
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the databases in.")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    """Fill and measure each size; print a table."""
    args = parse()
    if args.child:
        print(json.dumps(measure(args.child, args.formats, args.xlsx_max)))
        return
    root, temporary = bench_dataset.folders(args)
    print(f"export benchmark — {bench_dataset.machine()}")
    try:
        for n in args.sizes:
            folder = root / f"n{n}"
            rows, seconds, size = bench_dataset.fill(folder, n)
            print(
                f"\n{rows:,} submissions, database {size / 1e9:.2f} GB (filled in {seconds:.0f} s)"
            )
            result = bench_dataset.run_child(
                folder,
                Path(__file__),
                "--formats",
                *args.formats,
                "--xlsx-max",
                str(args.xlsx_max),
            )
            print(
                f"  load            {result['load_s']:8.2f} s  (CPU {result['load_cpu_s']:.2f} s; "
                f"{result['respondents']:,} respondents, {result['members']:,} roster rows)"
            )
            print(
                f"  de-identify     {result['prepare_s']:8.2f} s  "
                f"(CPU {result['prepare_cpu_s']:.2f} s; {result['columns']} columns; "
                f"{result['at_risk']:,} at risk, {result['suppressed']:,} suppressed)"
            )
            for fmt in args.formats:
                if fmt in result:
                    step = result[fmt]
                    print(
                        f"  {fmt:<15} {step['s']:8.2f} s  (CPU {step['cpu_s']:.2f} s; "
                        f"{step['bytes'] / 1e6:,.0f} MB written)"
                    )
                else:
                    print(f"  {fmt:<15}   skipped (more than --xlsx-max {args.xlsx_max:,})")
            print(f"  peak memory     {result['peak_rss_mb']:,.0f} MB RSS")
    finally:
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    main()
