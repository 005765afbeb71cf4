"""The languages Birge speaks, Kazakh, Russian and English: defined once, for the app and the
paper.
"""

from __future__ import annotations

from typing import Literal

# A language code as a type (keep it in step with LANGUAGES).
Language = Literal["kk", "ru", "en"]

# In the order people choose from (the state language first).
LANGUAGES = ("kk", "ru", "en")
# Each language in its own words, as the language switcher and the forms show it.
LANGUAGE_NAMES = {"kk": "Қазақша", "ru": "Русский", "en": "English"}
# The six official languages of the United Nations, in the UN's order.
UN_OFFICIAL_LANGUAGES = ("ar", "zh", "en", "fr", "ru", "es")
# The working paper goes to a UN meeting: the UN's languages first (English, Russian), then ours.
# Also the order in which a label missing in the paper's language is looked for elsewhere.
PAPER_LANGUAGES = tuple(
    sorted(
        LANGUAGES,
        key=lambda code: (
            code not in UN_OFFICIAL_LANGUAGES,
            UN_OFFICIAL_LANGUAGES.index(code) if code in UN_OFFICIAL_LANGUAGES else 0,
        ),
    )
)
