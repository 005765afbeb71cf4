"""`survey rounds add` and `survey rounds list`."""

from __future__ import annotations

from survey.cli import main


def test_rounds(runner) -> None:
    ok = runner.invoke(main, ["rounds", "add", "2026", "--starts", "2026-01-01"])
    assert ok.exit_code == 0, ok.output
    bad = runner.invoke(
        main, ["rounds", "add", "x", "--starts", "2026-05-01", "--ends", "2026-01-01"]
    )
    assert bad.exit_code == 1 and "cannot end before it starts" in bad.output
    dup = runner.invoke(main, ["rounds", "add", "2026", "--starts", "2026-01-01"])
    assert "already exists" in dup.output
    assert "2026\t2026-01-01" in runner.invoke(main, ["rounds", "list"]).output
