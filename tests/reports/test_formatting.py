"""Numbers and dates per language, on screen and in the paper."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from babel.numbers import format_percent

from reports import formatting


@pytest.mark.parametrize("value", [None, float("nan"), math.inf * 0, pd.NA, np.nan])
def test_missing_numbers_print_as_a_dash(app, value) -> None:
    assert formatting.format_count(value, "en") == "—"
    assert formatting.format_share(value, "ru") == "—"
    assert formatting.format_number(value, "kk") == "—"
    assert formatting.format_interval(value, 0.5, "en", share=True) == "—"


def test_numbers_follow_the_language(app) -> None:
    assert formatting.format_share(0.4567, "en") == "45.7%"
    assert formatting.format_share(0.4567, "ru") == "45,7\u00a0%"
    assert formatting.format_share(0.4567, "kk") == "45,7%"
    assert formatting.format_count(12345, "en") == "12,345"
    assert formatting.format_count(12345, "ru") == "12\u00a0345"
    assert formatting.format_number(3.14, "kk", 1) == "3,1"
    assert formatting.format_interval(0.1, 0.25, "en", share=True) == "10.0–25.0"


def test_numbers_per_language() -> None:
    assert formatting.percent(0.372, "en") == "37%"
    assert formatting.percent(0.372, "ru") == "37\u00a0%"
    for language in ("en", "ru", "kk"):  # the screen's sign (CLDR), in the paper's text too
        assert formatting.percent(0.372, language) == format_percent(0.37, locale=language)
    assert formatting.interval(0.33, 0.421, "kk") == "33–42%"
    assert formatting.count(1358, "en") == "1,358"
    assert formatting.count(1358, "ru") == "1\u00a0358"
    assert formatting.decimal(3.75, "ru") == "3,8"
    assert formatting.decimal(1234.5, "kk") == "1\u00a0234,5"
    assert formatting.date(dt.date(2025, 3, 3), "ru") == "3 марта 2025 г."
    assert formatting.date(dt.date(2025, 3, 3), "kk") == "2025 жылғы 3 наурыз"
