"""Writer benchmark: XLSX at 100k and CSV at 1M interviews, on an already prepared export.

Times only the writers (the dataset load and de-identification are bench/export.py's and
bench/dataset.py's business): it fills (or reuses, with --keep) a SQLite database of --base
demo interviews like bench/dataset.py, loads and de-identifies it once, then repeats its rows
to the sizes asked for. In one run, so that the ratio holds on a busy machine, it prints:

- xlsx: the workbook with the data rows streamed into xlsxwriter's sheet (today's path) at
  --xlsx respondents; then, at --ratio respondents, the same streamed workbook next to the one
  written cell by cell through xlsxwriter's API (the path before, still callable as
  export_xlsx(..., fast_rows=False)), so the ratio is measured without minutes of the old path
  at full size; both are constant-memory;
- csv: the respondents and roster CSV files (the writer is unchanged; with --csv-reference, also
  pandas' DataFrame.to_csv of the same respondents table).

    .venv/bin/python bench/writers.py                                  # xlsx 100k, csv 1M
    .venv/bin/python bench/writers.py --xlsx 20000 --ratio 5000 --csv 100000 --keep /tmp/b
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import dataset as bench_dataset  # noqa: E402 - bench/dataset.py, found through the path above


def timed(action: Any) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds) of a call."""
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, time.perf_counter() - started, time.process_time() - cpu


def repeated(prepared: Any, respondents: int) -> Any:
    """The prepared export with its rows repeated up to `respondents` (roster in proportion)."""
    from dataclasses import replace

    import pandas as pd

    base = len(prepared.tables["respondents"])
    times = -(-respondents // base)
    tables = {}
    for name, frame in prepared.tables.items():
        rows = len(frame) * respondents // base
        tables[name] = pd.concat([frame] * times, ignore_index=True).iloc[:rows]
    return replace(prepared, tables=tables)


def line(label: str, wall: float, cpu: float, path: Path | None = None) -> str:
    size = f"; {path.stat().st_size / 1e6:,.0f} MB" if path is not None and path.exists() else ""
    return f"  {label:<44} {wall:8.1f} s  (CPU {cpu:.1f} s{size})"


def main() -> None:
    """Prepare once, then time each writer at its size; print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=10_000, help="distinct interviews (10000)")
    parser.add_argument("--xlsx", type=int, default=100_000, help="respondents in the workbook")
    parser.add_argument("--csv", type=int, default=1_000_000, help="respondents in the CSV")
    parser.add_argument("--ratio", type=int, default=20_000, help="respondents, old vs new xlsx")
    parser.add_argument("--csv-reference", action="store_true", help="also time pandas to_csv")
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the database in.")
    args = parser.parse_args()
    if not 1_000 <= args.base <= 100_000 or min(args.xlsx, args.csv, args.ratio) < 1:
        parser.error("--base must be 1,000-100,000; --xlsx, --ratio and --csv at least 1")

    from survey.datasets.dataset import load_dataset
    from survey.datasets.deidentify import prepare_export
    from survey.datasets.writers import export_xlsx, write_csv_table

    print(f"writer benchmark — {bench_dataset.machine()}")
    root, temporary = bench_dataset.folders(args)
    try:
        folder = root / f"n{args.base}"
        rows, seconds, _size = bench_dataset.fill(folder, args.base)
        app = bench_dataset.make_app(folder)
        with app.app_context():
            version, _round = bench_dataset.default_version()
            data = load_dataset([version], use_cache=False)
            prepared = prepare_export(data, deidentify=True)
        columns = {t: len(f.columns) for t, f in prepared.tables.items()}
        print(f"{rows:,} distinct interviews (filled in {seconds:.0f} s), de-identified; {columns}")
        with tempfile.TemporaryDirectory(prefix="birge-writers-") as scratch:
            out = Path(scratch)
            for size, reference in ((args.xlsx, False), (args.ratio, True)):
                big = repeated(prepared, size)
                cells = sum(f.size for f in big.tables.values())
                print(f"\nXLSX, {size:,} respondents ({cells / 1e6:.1f} million cells):")
                path = out / "new.xlsx"
                _r, wall, cpu = timed(lambda b=big, p=path: export_xlsx(b, p))
                print(line("streamed rows (this checkout)", wall, cpu, path))
                path.unlink()
                if reference:
                    path = out / "old.xlsx"
                    _r, wall, cpu = timed(lambda b=big, p=path: export_xlsx(b, p, fast_rows=False))
                    print(line("xlsxwriter API cell by cell (before)", wall, cpu, path))
                    path.unlink()
            del big
            big = repeated(prepared, args.csv)
            print(f"\nCSV, {args.csv:,} respondents ({len(big.tables['member']):,} roster rows):")
            paths = {t: out / f"{t}.csv" for t in big.tables}

            def write_all() -> None:
                for table, target in paths.items():
                    write_csv_table(big, table, target)

            _r, wall, cpu = timed(write_all)
            print(line("write_csv_table, every table", wall, cpu, paths["respondents"]))
            for target in paths.values():
                target.unlink()
            if args.csv_reference:
                target = out / "pandas.csv"
                frame = big.tables["respondents"]
                _r, wall, cpu = timed(lambda: frame.to_csv(target, index=False))
                print(line("reference: pandas to_csv, respondents only", wall, cpu, target))
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        peak = bench_dataset.peak_rss_mb()
        print(f"\nload average {load} at the end; peak memory {peak:,.0f} MB")
    finally:
        if temporary is not None:
            temporary.cleanup()


if __name__ == "__main__":
    main()
