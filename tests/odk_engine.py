"""ODK's own form engine (@getodk/xforms-engine, run under node) as a test client.

tests/odk/fill.mjs loads an XForm in the engine, fills it (from a mapping of node references to
values, or automatically from the form's own choices and constraints, repeats included) and
serialises the submission. These helpers run it and return its JSON result; `make test` installs
the engine with `npm ci --prefix tests/odk`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ODK = Path(__file__).resolve().parent / "odk"
FILL = ODK / "fill.mjs"
ENGINE = ODK / "node_modules" / "@getodk" / "xforms-engine"


class EngineError(RuntimeError):
    """The node script could not run or did not answer in JSON."""


def engine_missing() -> str | None:
    """Why the engine cannot run here (no node, not installed), or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not ENGINE.is_dir():
        return "the ODK engine is not installed: run `npm ci --prefix tests/odk` (make test does)"
    return None


def _run(arguments: list[str], timeout: float) -> Any:
    missing = engine_missing()
    if missing:
        raise EngineError(missing)
    try:
        completed = subprocess.run(
            ["node", str(FILL), *arguments],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ODK,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise EngineError(f"the ODK engine did not finish within {timeout:.0f} s") from error
    if completed.returncode != 0:
        raise EngineError(f"fill.mjs exited {completed.returncode}: {completed.stderr[-2000:]}")
    try:
        return json.loads(completed.stdout)
    except json.JSONDecodeError as error:
        raise EngineError(f"fill.mjs printed no JSON: {completed.stdout[-500:]!r}") from error


def fill_form(
    xform: str | Path,
    answers: dict[str, Any] | None = None,
    attachments: Path | None = None,
    repeats: int = 2,
    timeout: float = 60,
) -> dict[str, Any]:
    """Fill one XForm (XML text or a path) and return fill.mjs's result object.

    Keys: status ("ok", "invalid", "load-error", "error"), submission_xml, attachments (name,
    type, size, base64), values (reference → value written), errors, warnings, seconds.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(xform) if isinstance(xform, Path) else Path(folder) / "form.xml"
        if not isinstance(xform, Path):
            path.write_text(xform, encoding="utf-8")
        arguments = [str(path), "--repeats", str(repeats)]
        if attachments is not None:
            arguments += ["--attachments", str(attachments)]
        if answers is not None:
            answers_path = Path(folder) / "answers.json"
            answers_path.write_text(json.dumps(answers), encoding="utf-8")
            arguments += ["--answers", str(answers_path)]
        return _run(arguments, timeout)


def fill_batch(jobs: list[dict[str, Any]], timeout: float = 300) -> list[dict[str, Any]]:
    """Fill many forms in one node process; jobs are {form, attachments, answers, repeats}.

    Returns one result per job, in order (see fill_form).
    """
    if not jobs:
        return []
    with tempfile.TemporaryDirectory() as folder:
        batch = Path(folder) / "jobs.json"
        batch.write_text(json.dumps(jobs), encoding="utf-8")
        return _run(["--batch", str(batch)], timeout)["results"]
