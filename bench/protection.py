"""Protection benchmark: the advocates' protected cube at 10k and 100k submissions.

Per size, on a throwaway SQLite database of demo submissions (bench/dataset.py's `fill`):
the star table (every indicator overall and by each disaggregation), the suppression
(`protect_cube`), the rows and cells hidden (primary and secondary), and, with --audit, the
attacker's linear programme over the whole cube (every hidden figure's interval).

    .venv/bin/python bench/protection.py                        # 10k and 100k
    .venv/bin/python bench/protection.py --sizes 10000 --audit  # with the LP audit
    .venv/bin/python bench/protection.py --keep /tmp/birge-bench

Aim: the cube in a few seconds at 100k, hiding little beyond the primary cells.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dataset as dataset_bench

DEFAULT_SIZES = (10_000, 100_000)


def measure(folder: Path, audit: bool) -> dict[str, Any]:
    """Build the publication cold and report its figures."""
    from reports.analysis.audit import cube_knowledge, narrow_cells, protection_intervals
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
        found = publication_module.publication(instrument, dataset, survey_round.id, 5)
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
            intervals = protection_intervals(knowledge)
            figures["audit_s"] = round(time.perf_counter() - started, 1)
            figures["hidden_figures"] = len(intervals)
            figures["narrow"] = len(narrow_cells(intervals, truth, 5))
            figures["exact"] = int((intervals["high"] - intervals["low"] < 1e-6).sum())
        return figures


def _truth_population(found: Any) -> Any:
    """The respondent counts before suppression (rebuilt from the cube's own rows)."""
    population = found.cube.population.copy()
    population["respondents"] = found.true_population["respondents"].to_numpy()
    return population


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the databases in.")
    parser.add_argument("--audit", action="store_true", help="Also solve the attacker's LP.")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.gettempdir()) / "birge-protection-bench"
    print(f"load average: {os.getloadavg()}, cores: {os.cpu_count()}")
    for size in args.sizes:
        folder = base / str(size)
        rows, fill_s, _bytes = dataset_bench.fill(folder, size)
        figures = measure(folder, args.audit)
        print(f"{size:>7} submissions (filled {rows} in {fill_s:.0f}s): {figures}")
        print(f"         load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
