"""The dashboard's filter form (GET, no CSRF: it changes nothing) and the district-target form."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget

from survey.collection.models import ANALYSED_STATUSES, REVIEW_STATUSES
from survey.dashboards.filters import Filters
from survey.dashboards.labels import STATUS_LABELS
from survey.dashboards.options import FilterOptions
from survey.dashboards.publication import public_scope

ALL = "all"
LOCAL_DATE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
MAX_TARGET = 1_000_000


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def parse_day(text: str | None) -> dt.date | None:
    """A date typed as yyyy-mm-dd (the date picker) or dd.mm.yyyy; '' is None.

    Raises ValueError for anything else, or for a day that does not exist.
    """
    text = (text or "").strip()
    if not text:
        return None
    match = LOCAL_DATE.match(text)
    if match:
        day, month, year = (int(part) for part in match.groups())
        return dt.date(year, month, day)
    return dt.date.fromisoformat(text)


def _choices(pairs: Any, first: tuple[str, Any] | None = None) -> list[SelectChoice]:
    """(value, label) pairs as SelectChoice objects, optionally after a first 'all' choice."""
    items = [first] if first is not None else []
    return [SelectChoice(value, label) for value, label in [*items, *pairs]]


class FilterForm(Form):
    """Which submissions a dashboard page shows, and how it breaks them down."""

    class Meta:
        csrf = False

    instrument = SelectField(_l("Questionnaire"), validate_choice=False)
    version = SelectField(_l("Questionnaire version"), validate_choice=False, default="")
    survey_round = SelectField(_l("Survey round"), validate_choice=False)
    district = SelectField(_l("District"), validate_choice=False, default="")
    date_from = StringField(_l("Received from"))
    date_to = StringField(_l("Received until"))
    sex = SelectField(_l("Sex"), validate_choice=False, default="")
    age_band = SelectField(_l("Age group"), validate_choice=False, default="")
    generation = SelectField(_l("Generation"), validate_choice=False, default="")
    status = MultiCheckboxField(
        _l("Review status"),
        choices=[SelectChoice(status, STATUS_LABELS[status]) for status in REVIEW_STATUSES],
        validate_choice=False,
    )
    demo = SelectField(
        _l("Demo data"),
        choices=[
            SelectChoice("exclude", _l("Leave demo data out")),
            SelectChoice("include", _l("Include demo data (synthetic, not survey results)")),
        ],
        validate_choice=False,
        default="exclude",
    )
    by = SelectField(_l("Disaggregate by"), validate_choice=False, default="")
    indicator = SelectField(_l("Indicator"), validate_choice=False, default="")
    question = SelectField(_l("Question"), validate_choice=False, default="")

    def __init__(
        self,
        formdata: MultiDict,
        options: FilterOptions,
        *,
        statuses: tuple[str, ...] = REVIEW_STATUSES,
        public: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(formdata=formdata, **kwargs)
        self.options = options
        self.public = public
        self.allowed_statuses = statuses
        self.status.choices = [c for c in self.status.choices if c.value in statuses]
        # What the advocates' publication holds is the settings' choice, never theirs
        self.public_demo = "include" if public and public_scope()[1] else "exclude"
        if "demo" not in formdata:
            # Synthetic interviews are never survey results: coordinators ask for them
            self.demo.data = self.public_demo if public else "exclude"
        self.instrument.choices = _choices(options.instruments)
        if not self.instrument.data and options.instruments:
            self.instrument.data = options.instruments[0][0]
        self.version.choices = _choices(options.versions, ("", _("All versions")))
        self.survey_round.choices = _choices(options.rounds, (ALL, _("All rounds")))
        if not self.survey_round.data:
            self.survey_round.data = options.default_round
        if public and options.rounds:
            # Advocates see one round at a time: "all" would be the sum of the rounds' cubes.
            self.survey_round.choices = _choices(options.rounds)
            if self.survey_round.data == ALL and "survey_round" not in formdata:
                self.survey_round.data = options.rounds[0][0]
        self.district.choices = _choices(options.districts, ("", _("All districts")))
        for name in ("sex", "age_band", "generation"):
            getattr(self, name).choices = _choices(options.answers.get(name, ()), ("", _("All")))
        if not self.status.data:
            self.status.data = [s for s in ANALYSED_STATUSES if s in statuses]
        self.by.choices = _choices(options.disaggregations, ("", _("No disaggregation")))
        self.indicator.choices = _choices(options.indicators)
        if not self.indicator.data:
            self.indicator.data = options.default_indicator
        self.question.choices = _choices(options.questions)
        if not self.question.data and options.questions:
            self.question.data = options.questions[0][0]

    def _check_choice(self, field: SelectField, message: str) -> None:
        """Add `message` to the field's errors unless its value is one it offers."""
        allowed = {str(choice.value) for choice in field.choices}
        if field.data not in (None, "") and str(field.data) not in allowed:
            field.errors.append(message)

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        """Every value must be one the form offers; dates must be real days, in order."""
        super().validate(extra_validators)
        self._check_choice(self.instrument, _("Unknown questionnaire: choose one from the list."))
        self._check_choice(self.version, _("Unknown version: choose one from the list."))
        self._check_choice(self.survey_round, _("Unknown survey round: choose one from the list."))
        self._check_choice(self.district, _("Unknown district: choose one from the list."))
        for name in ("sex", "age_band", "generation"):
            self._check_choice(getattr(self, name), _("Unknown answer: choose one from the list."))
        self._check_choice(self.demo, _("Choose whether to include demo data."))
        self._check_choice(self.by, _("Unknown disaggregation: choose one from the list."))
        self._check_choice(self.indicator, _("Unknown indicator: choose one from the list."))
        self._check_choice(self.question, _("Unknown question: choose one from the list."))
        unknown = [s for s in self.status.data or [] if s not in self.allowed_statuses]
        if unknown:
            self.status.errors.append(_("Unknown review status: choose from the list."))
        days = {}
        for field in (self.date_from, self.date_to):
            try:
                days[field.name] = parse_day(field.data)
            except ValueError:
                field.errors.append(_("Enter a date as dd.mm.yyyy, for example 31.12.2025."))
        since, until = days.get("date_from"), days.get("date_to")
        if since and until and since > until:
            self.date_to.errors.append(_("The end date is before the start date."))
        if self.public:
            self._check_public()
        return not self.errors

    def _check_public(self) -> None:
        """Advocates' filters: no tracker through day-by-day or many-way slices.

        Each page hides small cells of its own tables, but the difference between two
        filtered totals (two date ranges a day apart, or women 75+ with and without "G1") can
        be a single respondent. Advocates therefore filter by round and by at most one
        characteristic; date ranges stay with coordinators.
        """
        for field in (self.date_from, self.date_to):
            if field.data:
                field.errors.append(
                    _("Date ranges are for coordinators: choose a survey round instead.")
                )
        if self.survey_round.data == ALL and self.options.rounds:
            self.survey_round.errors.append(
                _("Choose one survey round: advocates see the rounds one at a time.")
            )
        if self.version.data:
            self.version.errors.append(
                _("Questionnaire versions are for coordinators: advocates see all versions.")
            )
        if list(self.status.data or ()) != list(self.allowed_statuses) or (
            self.demo.data != self.public_demo
        ):
            self.status.errors.append(
                _(
                    "Advocates always see the same interviews, those the settings publish, so "
                    "that two selections cannot be compared."
                )
            )
        chosen = [
            field
            for field in (self.district, self.sex, self.age_band, self.generation)
            if field.data
        ]
        if len(chosen) + int(bool(self.by.data)) > 1:
            (chosen[-1] if chosen else self.by).errors.append(
                _(
                    "Choose one filter or one disaggregation, not both: the published "
                    "figures show one characteristic at a time, so that no respondent can "
                    "be singled out by combining them."
                )
            )

    def filters(self) -> Filters:
        """The validated filters (call after validate() returned True)."""
        round_value = self.survey_round.data or ALL
        return Filters(
            round_id=None if round_value == ALL else int(round_value),
            version=self.version.data or None,
            district=self.district.data or None,
            since=parse_day(self.date_from.data),
            until=parse_day(self.date_to.data),
            sex=self.sex.data or None,
            age_band=self.age_band.data or None,
            generation=self.generation.data or None,
            statuses=tuple(s for s in REVIEW_STATUSES if s in (self.status.data or ())),
            include_demo=self.demo.data != "exclude",
        )

    def query(self, *, page_fields: tuple[str, ...] = ()) -> dict[str, Any]:
        """The valid filters as URL query arguments (for links between pages)."""
        args: dict[str, Any] = {"instrument": self.instrument.data}
        for name in ("version", "district", "sex", "age_band", "generation", "by", *page_fields):
            value = getattr(self, name).data
            if value:
                args[name] = value
        args["survey_round"] = self.survey_round.data or ALL
        for name in ("date_from", "date_to"):
            day = parse_day(getattr(self, name).data)
            if day is not None:
                args[name] = day.isoformat()
        if list(self.status.data or ()) != list(ANALYSED_STATUSES):
            args["status"] = list(self.status.data or ())
        if self.demo.data == "include" and not self.public:
            args["demo"] = "include"
        return args

    def active(self) -> int:
        """How many filters differ from their defaults (for the filter box's summary)."""
        count = sum(
            1
            for name in (
                "version",
                "district",
                "sex",
                "age_band",
                "generation",
                "date_from",
                "date_to",
            )
            if getattr(self, name).data
        )
        count += int((self.survey_round.data or ALL) != self.options.default_round)
        count += int(list(self.status.data or ()) != list(ANALYSED_STATUSES))
        count += int(self.demo.data == "include" and not self.public)
        return count


class TargetsForm(FlaskForm):
    """Interview targets per district (fields added per district by the view)."""


def parse_targets(
    formdata: Mapping[str, str], districts: list[tuple[str, str]]
) -> tuple[dict[str, int | None], dict[str, str]]:
    """District code → target (None = no target) from `target-<code>` fields, and errors."""
    targets: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for code, label in districts:
        raw = (formdata.get(f"target-{code}") or "").strip().replace(" ", "").replace("\u00a0", "")
        if not raw:
            targets[code] = None
            continue
        if not raw.isdigit() or int(raw) > MAX_TARGET:
            errors[code] = _(
                "%(district)s: enter a whole number from 0 to %(max)s, or leave it empty.",
                district=label,
                max=f"{MAX_TARGET:,}",
            )
            continue
        targets[code] = int(raw)
    return targets, errors
