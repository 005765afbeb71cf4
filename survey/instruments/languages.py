"""XLSForm language names ('Kazakh (kk)') to language codes."""

from __future__ import annotations

import re

LANGUAGE_NAMES = {
    "english": "en",
    "russian": "ru",
    "русский": "ru",
    "kazakh": "kk",
    "қазақша": "kk",
    "қазақ": "kk",
}


def language_code(name: str) -> str:
    """'Kazakh (kk)' → 'kk'; 'Russian' → 'ru'; unknown names lower-cased."""
    match = re.search(r"\(([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)\)\s*$", name)
    if match:
        return match.group(1).lower()
    return LANGUAGE_NAMES.get(name.strip().lower(), name.strip().lower())
