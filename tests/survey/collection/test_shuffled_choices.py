"""Choices shown shuffled (`randomize=true` in the parameters column, issue 9 part 2): with a
seed in ODK Collect's order, without one in an order kept for the interview; answers unchanged."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from sqlalchemy import select

from survey.collection.models import Submission
from survey.collection.page import choice_order
from survey.extensions import db
from survey.instruments import expressions, xlsform
from survey.instruments.rules import text_context
from tests.factories import xlsform_bytes

SURVEY = [
    ["type", "name", "label", "parameters", "required"],
    ["integer", "n", "Seed", "", ""],
    ["select_one fruit", "fixed", "Fruit (seed 42)", "randomize=true seed=42", ""],
    ["select_multiple fruit", "picked", "Fruits (seed n)", "randomize=true seed=${n}", ""],
    ["select_one fruit", "any", "Fruit (no seed)", "randomize=true", ""],
    ["select_one fruit", "plain", "Fruit", "", "yes"],
]
CHOICES = [["list_name", "name", "label"]] + [
    ["fruit", code, code.title()] for code in ("apple", "banana", "cherry", "date", "elder", "fig")
]
CODES = ["apple", "banana", "cherry", "date", "elder", "fig"]

pytestmark = pytest.mark.sqlite_only


def _randomize(seed: str) -> list[str]:
    """What ODK's randomize() gives for the same choices and seed, as the engine evaluates it."""
    spec = xlsform.load_xlsform(xlsform_bytes(survey=SURVEY, choices=CHOICES)).spec
    tree = expressions.parse(f"randomize(instance('fruit')/root/item/name, {seed})")
    return list(expressions.evaluate(tree, text_context(spec, {}, "en", dt.date.today())))


def test_a_seeded_order_is_odks_randomize_of_the_same_choices() -> None:
    spec = xlsform.load_xlsform(xlsform_bytes(survey=SURVEY, choices=CHOICES)).spec
    context = text_context(spec, {"n": 7}, "en", dt.date.today())
    fixed = spec.questions_by_name["fixed"]
    picked = spec.questions_by_name["picked"]
    assert choice_order(fixed, CODES, context) == _randomize("42") != CODES
    assert choice_order(picked, CODES, context) == _randomize("7") != _randomize("42")
    # Without a seed: the interview's own order, the same on each of its pages.
    any_ = spec.questions_by_name["any"]
    first = choice_order(any_, CODES, context, "uuid:a")
    assert first == choice_order(any_, CODES, context, "uuid:a")
    assert sorted(first) == CODES
    others = {tuple(choice_order(any_, CODES, context, f"uuid:{i}")) for i in range(20)}
    assert len(others) > 5
    assert choice_order(spec.questions_by_name["plain"], CODES, context, "uuid:a") == CODES


def test_the_import_no_longer_warns_about_randomize() -> None:
    imported = xlsform.load_xlsform(xlsform_bytes(survey=SURVEY, choices=CHOICES))
    assert not [w for w in imported.warnings if "randomize" in str(w) or "shuffled" in str(w)]


def _shown(page: str, name: str) -> list[str]:
    block = page.split(f'data-question="{name}"', 1)[1].split("</fieldset>", 1)[0]
    return re.findall(r'data-choice="([^"]+)"', block)


def test_the_page_shows_the_shuffled_order_without_javascript(
    client, create_instrument, survey_round, auth
) -> None:
    version = create_instrument(survey=SURVEY, choices=CHOICES, settings={"form_id": "shuffle"})
    auth.login("volunteer")
    page = client.get(f"/collect/v/{version.id}").text
    assert _shown(page, "fixed") == _randomize("42")
    assert _shown(page, "plain") == CODES
    assert sorted(_shown(page, "any")) == CODES
    # A post that comes back with errors: the seed's answer re-orders, the rest stays.
    instance = re.search(r'name="_instance_id" type="hidden" value="([^"]+)"', page)
    instance_id = instance.group(1) if instance else f"uuid:{uuid.uuid4()}"
    data = {"_instance_id": instance_id, "_started_at": "2025-01-10T10:00:00+00:00"}
    back = client.post(f"/collect/v/{version.id}", data={**data, "n": "7", "any": "fig"})
    assert back.status_code == 422
    assert _shown(back.text, "picked") == _randomize("7")
    again = client.post(f"/collect/v/{version.id}", data={**data, "n": "7", "any": "fig"})
    assert _shown(again.text, "any") == _shown(back.text, "any")
    # Only the display changes: the answer is stored as the codes chosen, in the sheet's order
    # (checkboxes post in the order shown) as if the choices had not been shuffled.
    saved = client.post(
        f"/collect/v/{version.id}",
        data={**data, "n": "7", "picked": ["fig", "apple"], "plain": "date", "any": "elder"},
    )
    assert saved.status_code == 302, saved.text[-2000:]
    answers = db.session.execute(select(Submission)).scalar_one().answers
    assert (answers["picked"], answers["any"], answers["plain"]) == (
        ["apple", "fig"],
        "elder",
        "date",
    )
