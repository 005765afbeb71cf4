"""`survey report`, cold and end to end: the first paper of a data state, a kept paper, a reference.

Each run is a new process on a database prepared by bench/snapshot.py (`--root`, its SQLite
folder, or `--database` with the instance folder of that run), in three conditions, interleaved
so that the machine's load falls on all of them alike:

- reference: another checkout (`--reference`, e.g. `git archive <commit> | tar -x -C /tmp/ref`
  with its compiled catalogues) served by this virtualenv through PYTHONPATH;
- first: this checkout with no kept paper (instance/reports/kept emptied): analysis, charts
  and layout all paid, as for the first paper of a data state;
- other words: this checkout, another title on the same data: the kept analysis is read,
  the charts and layout are paid;
- kept: this checkout again, the kept paper of the same settings and data on disk.

    nice .venv/bin/python bench/paper.py --root /tmp/birge-snapbench/sqlite --reference /tmp/ref

Printed: the machine and load, then per condition the median wall seconds and CPU seconds
(user + system of the command, from RUSAGE_CHILDREN) and each run's; on a shared machine the
CPU seconds compare.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ingestion  # noqa: E402
from bench.snapshot import environment, settings_file  # noqa: E402


def run_report(env: dict[str, str], out: Path, settings: Path, cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one `survey report`, a new process."""
    args = ["report", "--out", str(out), "--settings", str(settings)]
    wall, cpu, _stdout = ingestion.timed_survey(args, env, cwd)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="survey.sqlite3 + instance/")
    parser.add_argument("--database", help="Another database URL (default: the root's SQLite).")
    parser.add_argument("--reference", type=Path, help="Another checkout to run the same way.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    instance = args.root / "instance"
    url = args.database or f"sqlite:///{args.root / 'survey.sqlite3'}"
    env = environment(url, instance)
    settings = settings_file(args.root)
    other = args.root / "report-other.toml"
    other.write_text(settings.read_text().replace('title = "', 'title = "Other words: ', 1))
    conditions = {"first": ROOT, "other words": ROOT, "kept": ROOT}
    if args.reference:
        conditions = {"reference": args.reference.resolve(), **conditions}
    kept = instance / "reports" / "kept"
    print(f"survey report, cold — {ingestion.machine()}", flush=True)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in conditions}
    for _round in range(args.repeat):
        for name, checkout in conditions.items():
            # No kept paper, no kept analysis: the reference could otherwise read the analysis
            # the other conditions kept, whenever its name does not cover the code that differs.
            if name in ("reference", "first"):
                shutil.rmtree(kept, ignore_errors=True)
                for analysis in (instance / "snapshot" / "cubes").glob("paper-analysis-*"):
                    analysis.unlink()
            run_env = {**env, "PYTHONPATH": str(checkout)}
            out = args.root / f"paper-{name.replace(' ', '-')}.pdf"
            chosen = other if name == "other words" else settings
            wall, cpu = run_report(run_env, out, chosen, checkout)
            times[name].append((wall, cpu))
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"  {name:<12} {wall:7.2f} s [{cpu:5.2f} CPU-s]   load {load}", flush=True)
    papers = {
        name: (args.root / f"paper-{name}.pdf").read_bytes()
        for name in conditions
        if name != "other words"
    }
    same = len(set(papers.values())) == 1
    print(f"\n  the {len(papers)} conditions wrote {'the same' if same else 'DIFFERENT'} PDF")
    for name, runs in times.items():
        wall = statistics.median(w for w, _c in runs)
        cpu = statistics.median(c for _w, c in runs)
        print(f"  {name:<12} median {wall:7.2f} s [{cpu:5.2f} CPU-s] over {len(runs)} runs")


if __name__ == "__main__":
    main()
