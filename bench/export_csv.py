"""`survey export --format csv --include-demo`, cold and end to end, against a reference checkout.

Each run is a new process on a database prepared by bench/snapshot.py (`--root`, its SQLite
folder with `instance/`, the snapshot rebuilt), in two conditions interleaved so that the
machine's load falls on both alike:

- reference: another checkout (`--reference`, e.g. `git archive <commit> | tar -x -C /tmp/ref`
  with its compiled catalogues) served by this virtualenv through PYTHONPATH;
- new: this checkout.

    nice .venv/bin/python bench/export_csv.py --root /tmp/birge-snapbench/sqlite \
        --reference /tmp/ref

Printed: the machine and load, the rows exported (the input size), then per condition each run's
and the median wall seconds and CPU seconds (user + system of the command, from
RUSAGE_CHILDREN); on a shared machine the CPU seconds compare. The files of the last run of each
condition are compared: codebook equal, about equal but for its time of writing, respondents
and roster equal as sets of lines once the random `_record` key is cut off (it is drawn anew
by every export, and the rows are written in its order); the disclosure lines printed by the
command equal. The files are deleted at the end (hundreds of MB at 1M).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ingestion  # noqa: E402
from bench.snapshot import environment  # noqa: E402


def run_export(env: dict[str, str], out: Path, cwd: Path) -> tuple[float, float, str]:
    """(wall, CPU, stdout) of one `survey export --format csv --include-demo`, a new process."""
    args = ["export", "--format", "csv", "--include-demo", "--force", "--out", str(out)]
    return ingestion.timed_survey(args, env, cwd)


def digest(folder: Path) -> dict[str, str]:
    """What must be equal between conditions, per file (see the module doc)."""
    out = {}
    for path in sorted(folder.glob("export*.csv")):
        lines = path.read_bytes().split(b"\r\n")
        if path.name.endswith("_about.csv"):
            lines = [x for x in lines if not x.startswith(b"generated_at_utc")]
        elif not path.name.endswith("_codebook.csv"):
            lines = [lines[0], *sorted(x.split(b",", 1)[-1] for x in lines[1:])]
        out[path.name] = hashlib.sha256(b"\n".join(lines)).hexdigest()[:16]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="survey.sqlite3 + instance/")
    parser.add_argument("--database", help="Another database URL (default: the root's SQLite).")
    parser.add_argument("--reference", type=Path, help="Another checkout to run the same way.")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    url = args.database or f"sqlite:///{args.root / 'survey.sqlite3'}"
    env = environment(url, args.root / "instance")
    conditions = {"new": ROOT}
    if args.reference:
        conditions = {"reference": args.reference.resolve(), **conditions}
    print(f"survey export --format csv, cold — {ingestion.machine()}", flush=True)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in conditions}
    said: dict[str, list[str]] = {}
    try:
        for _round in range(args.repeat):
            for name, checkout in conditions.items():
                folder = args.root / f"export-{name}"
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                run_env = {**env, "PYTHONPATH": str(checkout)}
                wall, cpu, stdout = run_export(run_env, folder / "export.csv", checkout)
                times[name].append((wall, cpu))
                said[name] = [x for x in stdout.splitlines() if not x.startswith("wrote ")]
                rows = ", ".join(re.findall(r"^(\w+: \d+) rows$", stdout, re.MULTILINE))
                load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
                print(
                    f"  {name:<10} {wall:7.2f} s [{cpu:6.2f} CPU-s]   {rows}   load {load}",
                    flush=True,
                )
        digests = {name: digest(args.root / f"export-{name}") for name in conditions}
    finally:
        for name in conditions:
            shutil.rmtree(args.root / f"export-{name}", ignore_errors=True)
    if len(conditions) > 1:
        same_files = len({tuple(sorted(d.items())) for d in digests.values()}) == 1
        same_lines = len({tuple(lines) for lines in said.values()}) == 1
        print(
            f"\n  files: {'the same' if same_files else 'DIFFERENT'} "
            f"(records cut off); disclosure lines: {'the same' if same_lines else 'DIFFERENT'}"
        )
    for name, runs in times.items():
        wall = statistics.median(w for w, _c in runs)
        cpu = statistics.median(c for _w, c in runs)
        print(f"  {name:<10} median {wall:7.2f} s [{cpu:6.2f} CPU-s] over {len(runs)} runs")


if __name__ == "__main__":
    main()
