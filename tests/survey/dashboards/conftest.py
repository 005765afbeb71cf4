"""Fixtures of the dashboard tests."""

from __future__ import annotations

import pytest

from survey.demo import write_demo_data


@pytest.fixture
def demo(default_instrument, survey_round):
    """Two hundred demo interviews of the default instrument."""
    write_demo_data(default_instrument, survey_round, 200, seed=5)
    return default_instrument
