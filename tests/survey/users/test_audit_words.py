"""Every action the code audits has a name in words (the audit page is read in kk, ru, en)."""

from __future__ import annotations

import re
from pathlib import Path

from survey.users.audit_words import ACTIONS

PACKAGE = Path(__file__).resolve().parents[3] / "survey"
AUDITED = re.compile(r'record_audit\(\s*"([a-z0-9_]+)"')


def test_every_audited_action_has_words() -> None:
    audited = {
        match.group(1)
        for path in PACKAGE.rglob("*.py")
        for match in AUDITED.finditer(path.read_text(encoding="utf-8"))
    }
    assert len(audited) > 20  # the scan still finds the calls
    assert sorted(audited - set(ACTIONS)) == []
