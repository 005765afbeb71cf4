"""The report settings form: masthead, language and format, data filters, narrative."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from reports.languages import LANGUAGE_NAMES, PAPER_LANGUAGES
from survey.collection.forms import REVIEW_STATUS_LABELS
from survey.reporting import sentences
from survey.reporting.settings import (
    DEFAULT_REVIEW_STATUSES,
    MAX_NARRATIVE,
    MAX_QUOTES,
    MAX_TEXT,
    NARRATIVE_FIELDS,
    SYMBOL_PATTERN,
    ReportSettings,
    SettingsError,
    settings_from_mapping,
)


def group_choices(group: str, language: str) -> list[SelectChoice]:
    """The groups a paper may be cut to (sentences.GROUPS: "generation", "age_band"), labelled
    in the language."""
    return [
        SelectChoice(code, labels.get(language, labels["en"]))
        for code, labels in sentences.GROUPS[group].items()
    ]


LANGUAGE_CHOICES = [SelectChoice(code, LANGUAGE_NAMES[code]) for code in PAPER_LANGUAGES]
STATUS_CHOICES = [
    *(SelectChoice(status, REVIEW_STATUS_LABELS[status]) for status in DEFAULT_REVIEW_STATUSES),
    *(
        SelectChoice(status, label)
        for status, label in REVIEW_STATUS_LABELS.items()
        if status not in DEFAULT_REVIEW_STATUSES
    ),
]


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        """Accept only offered codes (the settings check the codes against the data too)."""
        offered = {str(choice[0]) for choice in self.iter_choices()}
        unknown = [value for value in self.data or [] if value not in offered]
        if unknown:
            # ValidationError, not ValueError: WTForms turns only the former into a message
            raise ValidationError(_l("“%(code)s” is not one of the choices.", code=unknown[0]))


def _text(label: Any, *, required: bool = False, limit: int = MAX_TEXT) -> StringField:
    """A one-line text field."""
    checks = [DataRequired()] if required else [Optional()]
    return StringField(label, validators=[*checks, Length(max=limit)])


class ReportForm(FlaskForm):
    """Everything `ReportSettings` holds, as a web form."""

    symbol = StringField(
        _l("Document symbol"),
        validators=[
            Optional(),
            Length(max=MAX_TEXT),
            Regexp(
                SYMBOL_PATTERN,
                message=_l(
                    "Write letters and digits separated by “/”, like TPNW/MSP/2025/NGO/23, or "
                    "leave it empty for a draft."
                ),
            ),
        ],
    )
    title = _text(_l("Title"), required=True)
    submitted_by = _text(_l("Submitted by (organization)"), required=True)
    date = DateField(_l("Date of the paper"), validators=[DataRequired()])
    meeting = _text(_l("Meeting"))
    place_and_dates = _text(_l("Place and dates of the meeting"))
    agenda_item = _text(_l("Agenda item"))
    agenda_title = _text(_l("Title of the agenda item"))
    agenda_footnote = _text(_l("Footnote to the agenda item (symbol of the agenda)"))
    language = SelectField(_l("Language of the paper"), choices=LANGUAGE_CHOICES, default="en")
    paper_size = SelectField(
        _l("Paper size"), choices=[SelectChoice("A4", "A4"), SelectChoice("Letter", "Letter")]
    )
    instrument = SelectField(_l("Questionnaire"), choices=[], default="")
    rounds = MultiCheckboxField(_l("Survey rounds (none ticked: all)"), choices=[])
    districts = MultiCheckboxField(_l("Districts (none ticked: all)"), choices=[])
    generations = MultiCheckboxField(_l("Generations (none ticked: all)"), choices=[])
    sexes = MultiCheckboxField(_l("Sex (none ticked: all)"), choices=[])
    age_bands = MultiCheckboxField(_l("Age groups (none ticked: all)"), choices=[])
    review_statuses = MultiCheckboxField(
        _l("Review statuses"),
        choices=STATUS_CHOICES,
        default=list(DEFAULT_REVIEW_STATUSES),
        validators=[DataRequired(message=_l("Choose at least one review status."))],
    )
    include_demo = BooleanField(_l("Include demo data"), default=False)
    include_annex = BooleanField(_l("Add an annex with every indicator table"), default=False)
    max_quotes = IntegerField(
        _l("Quotes to include (at most)"),
        default=5,
        validators=[Optional(), NumberRange(min=0, max=MAX_QUOTES)],
    )
    introduction = TextAreaField(_l("I. Introduction"), validators=[Length(max=MAX_NARRATIVE)])
    background = TextAreaField(_l("II. Background"), validators=[Length(max=MAX_NARRATIVE)])
    recommendations_government = TextAreaField(
        _l("V.A. Recommendations to the Government"), validators=[Length(max=MAX_NARRATIVE)]
    )
    recommendations_states = TextAreaField(
        _l("V.B. Recommendations to States parties"), validators=[Length(max=MAX_NARRATIVE)]
    )
    recommendations_organizations = TextAreaField(
        _l("V.C. Recommendations to international organizations"),
        validators=[Length(max=MAX_NARRATIVE)],
    )

    def set_choices(
        self,
        *,
        instruments: list[SelectChoice],
        rounds: list[str],
        districts: list[SelectChoice],
        sexes: list[SelectChoice],
        language: str,
    ) -> None:
        """Offer the choices the data have (labels in the interface language)."""
        self.instrument.choices = [SelectChoice("", _l("The default questionnaire")), *instruments]
        self.rounds.choices = [SelectChoice(name, name) for name in rounds]
        self.districts.choices = districts
        self.sexes.choices = sexes
        self.generations.choices = group_choices("generation", language)
        self.age_bands.choices = group_choices("age_band", language)

    def allow_statuses(self, allowed: tuple[str, ...]) -> None:
        """Offer only the review statuses this user's papers may draw on."""
        self.review_statuses.choices = [c for c in STATUS_CHOICES if c.value in allowed]
        if not self.is_submitted():
            self.review_statuses.data = [s for s in self.review_statuses.data or [] if s in allowed]

    def fill(self, settings: ReportSettings) -> None:
        """Show saved settings (a draft) in the form."""
        for field in dataclasses.fields(settings):
            value = getattr(settings, field.name)
            form_field = getattr(self, field.name, None)
            if form_field is not None:
                form_field.data = list(value) if isinstance(value, tuple) else value
        offered = {choice.value for choice in self.review_statuses.choices}
        self.review_statuses.data = [s for s in self.review_statuses.data or [] if s in offered]

    def defaults_for(self, language: str, day: dt.date) -> dict[str, str]:
        """The texts an empty masthead field takes in a paper of this language and date (shown
        as placeholders): the meeting the paper's date comes before."""
        return sentences.meeting_defaults(language, day)

    def settings(self) -> ReportSettings | None:
        """The checked settings, or None with the problems put on the fields."""
        data: dict[str, Any] = {}
        for field in dataclasses.fields(ReportSettings):
            form_field = getattr(self, field.name, None)
            if form_field is None:
                continue
            value = form_field.data
            if field.name == "date" and value is not None:
                value = value.isoformat()
            if field.name == "max_quotes" and value is None:
                value = 5
            if field.name in NARRATIVE_FIELDS and value is None:
                value = ""
            data[field.name] = value
        try:
            return settings_from_mapping(data)
        except SettingsError as error:
            for name, message in error.problems.items():
                form_field = getattr(self, name, None)
                if form_field is not None:
                    form_field.errors = [*form_field.errors, message]
            return None


class QuoteForm(FlaskForm):
    """Approve or revoke one answer (each row's buttons post the submission and question)."""

    submission_id = IntegerField(validators=[DataRequired()])
    question = StringField(validators=[DataRequired(), Length(max=100)])
    action = SelectField(
        choices=[
            SelectChoice("approve", _l("Approve")),
            SelectChoice("revoke", _l("Revoke")),
            SelectChoice("translate", _l("Save translations")),
        ]
    )
    translation_en = TextAreaField(validators=[Optional(), Length(max=MAX_TEXT * 10)])
    translation_ru = TextAreaField(validators=[Optional(), Length(max=MAX_TEXT * 10)])
    translation_kk = TextAreaField(validators=[Optional(), Length(max=MAX_TEXT * 10)])

    def translations(self) -> dict[str, str]:
        """Paper language → the translation typed (empty ones included: they clear)."""
        return {code: getattr(self, f"translation_{code}").data or "" for code in PAPER_LANGUAGES}


class RegenerateForm(FlaskForm):
    """Rebuild one past report from its snapshot."""

    report = IntegerField(validators=[DataRequired()])
