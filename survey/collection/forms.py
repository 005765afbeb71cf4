"""The volunteer's form, built with WTForms from an instrument version, per language."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from babel import support
from flask import current_app, has_request_context
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, Length, Optional

from survey.collection.models import ReviewStatus
from survey.instruments.registry import (
    MultipleChoiceAnswerField,
    RankAnswerField,
    make_field,
)
from survey.instruments.rules import MAX_REPEAT_ENTRIES
from survey.instruments.spec import InstrumentSpec, Repeat

# The words for each review status, wherever one is shown or chosen.
REVIEW_STATUS_LABELS = {
    ReviewStatus.PENDING.value: _l("Pending"),
    ReviewStatus.APPROVED.value: _l("Approved"),
    ReviewStatus.ON_HOLD.value: _l("On hold"),
    ReviewStatus.REJECTED.value: _l("Rejected"),
}
# Question names become HTML names; attributes get a prefix so a question called "data" or
# "validate" cannot shadow a WTForms method.
ATTRIBUTE_PREFIX = "q__"


@functools.lru_cache(maxsize=16)
def _wtforms_translations(locale: str) -> support.Translations:
    """WTForms' own messages in this language, read once: Flask-WTF reads the catalogue again
    on every request that builds a form."""
    return support.Translations.load(messages_path(), [locale], domain="wtforms")


class SubmissionForm(FlaskForm):
    """Fields common to every interview: its identity and timing."""

    instance_id = HiddenField(name="_instance_id")
    started_at = HiddenField(name="_started_at")

    class Meta:
        def get_translations(self, form: Any) -> Any:
            """As Flask-WTF's (the request's language), from a catalogue read once."""
            if (
                not current_app.config.get("WTF_I18N_ENABLED", True)
                or not has_request_context()
                or "babel" not in current_app.extensions
            ):
                return super().get_translations(form)  # type: ignore[misc]
            return _wtforms_translations(str(get_locale()))


class RepeatEntryForm(Form):
    """One entry of a repeat; the marker keeps an entry whose questions are all unanswered."""

    entry_marker = HiddenField(name="_entry", default="1")


@functools.lru_cache(maxsize=64)
def form_class(spec: InstrumentSpec, language: str) -> type[SubmissionForm]:
    """The WTForms class for an instrument version in a language (cached: specs are immutable)."""
    attributes: dict[str, Any] = {}
    for section in spec.sections:
        for item in section.items:
            if isinstance(item, Repeat):
                attributes[ATTRIBUTE_PREFIX + item.name] = _repeat_field(spec, item, language)
            else:
                unbound = make_field(spec, item, language)
                if unbound is not None:
                    attributes[ATTRIBUTE_PREFIX + item.name] = unbound
    return type(f"Form_{spec.form_id}_{language}", (SubmissionForm,), attributes)


def _repeat_field(spec: InstrumentSpec, repeat: Repeat, language: str) -> FieldList:
    entry_attributes: dict[str, Any] = {}
    for question in repeat.questions:
        unbound = make_field(spec, question, language)
        if unbound is not None:
            entry_attributes[ATTRIBUTE_PREFIX + question.name] = unbound
    # A repeat inside a repeat is a list in each entry: 'household-0-member-1-age'.
    for inner in repeat.repeats:
        entry_attributes[ATTRIBUTE_PREFIX + inner.name] = _repeat_field(spec, inner, language)
    entry_class = type(f"Entry_{repeat.name}", (RepeatEntryForm,), entry_attributes)
    return FieldList(FormField(entry_class), name=repeat.name, max_entries=MAX_REPEAT_ENTRIES)


def question_field(form: Form, name: str) -> Any:
    """The bound field of a question, or None (notes and calculates have none)."""
    return getattr(form, ATTRIBUTE_PREFIX + name, None)


def _item_fields(form: SubmissionForm, spec: InstrumentSpec) -> Iterator[tuple[Any, Any]]:
    """Each question or repeat of the form that has a bound field, with that field."""
    for section in spec.sections:
        for item in section.items:
            field = question_field(form, item.name)
            if field is not None:
                yield item, field


def _entry_fields(entry: Any, repeat: Repeat) -> Iterator[tuple[str, Any]]:
    """The bound fields of one repeat entry, by question name."""
    for question in repeat.questions:
        sub = question_field(entry.form, question.name)
        if sub is not None:
            yield question.name, sub


def typed_answers(form: SubmissionForm, spec: InstrumentSpec) -> tuple[dict, dict[str, str]]:
    """The parsed answers as stored, and the typing errors by field name."""
    answers: dict[str, Any] = {}
    errors: dict[str, str] = {}

    def read(field: Any, name: str, target: dict) -> None:
        if field.process_errors:
            errors[field.name] = str(field.process_errors[0])
        if field.data is not None:
            target[name] = field.data

    def read_repeat(field: Any, repeat: Repeat) -> list[dict[str, Any]]:
        entries = []
        for entry in field.entries:
            values: dict[str, Any] = {}
            for name, sub in _entry_fields(entry, repeat):
                read(sub, name, values)
            for inner in repeat.repeats:
                values[inner.name] = read_repeat(question_field(entry.form, inner.name), inner)
            entries.append(values)
        return entries

    for item, field in _item_fields(form, spec):
        if isinstance(item, Repeat):
            answers[item.name] = read_repeat(field, item)
        else:
            read(field, item.name, answers)
    return answers, errors


def repeat_fields(form: SubmissionForm, spec: InstrumentSpec) -> Iterator[tuple[Repeat, Any]]:
    """Every bound repeat list with its repeat, those inside repeat entries included."""

    def walk(repeat: Repeat, field: Any) -> Iterator[tuple[Repeat, Any]]:
        yield repeat, field
        for entry in field.entries:
            for inner in repeat.repeats:
                yield from walk(inner, question_field(entry.form, inner.name))

    for item, field in _item_fields(form, spec):
        if isinstance(item, Repeat):
            yield from walk(item, field)


def list_path(
    form: SubmissionForm, spec: InstrumentSpec, list_name: str
) -> tuple[Repeat, list[tuple[str, int]]] | None:
    """The repeat of a bound list ('member', or 'household-0-member' inside an entry) and the
    (repeat, position) pairs of the entries holding it, outermost first, as rules read them."""

    def walk(
        repeat: Repeat, field: Any, path: list[tuple[str, int]]
    ) -> tuple[Repeat, list[tuple[str, int]]] | None:
        if field is None:
            return None
        if field.name == list_name:
            return repeat, path
        for position, entry in enumerate(field.entries):
            for inner in repeat.repeats:
                found = walk(
                    inner, question_field(entry.form, inner.name), [*path, (repeat.name, position)]
                )
                if found is not None:
                    return found
        return None

    for item, field in _item_fields(form, spec):
        if isinstance(item, Repeat) and (found := walk(item, field, [])) is not None:
            return found
    return None


def uploaded_media(form: SubmissionForm, spec: InstrumentSpec) -> dict[str, Any]:
    """The cleaned files of the form's media questions, by answer (file name)."""
    return {field.media_file.filename: field.media_file for field in _media_uploads(form, spec)}


def upload_field_names(form: SubmissionForm, spec: InstrumentSpec) -> list[str]:
    """The names of the fields ('photo', 'members-0-face') a file was chosen in."""
    return [field.name for field in _media_uploads(form, spec)]


def _media_uploads(form: SubmissionForm, spec: InstrumentSpec) -> list[Any]:
    """The fields of media questions holding a cleaned upload, in form order."""
    found: list[Any] = []
    for item, field in _item_fields(form, spec):
        if not isinstance(item, Repeat):
            found += [field] if getattr(field, "media_file", None) is not None else []
    for repeat, field in repeat_fields(form, spec):
        fields = [sub for entry in field.entries for _name, sub in _entry_fields(entry, repeat)]
        found += [f for f in fields if getattr(f, "media_file", None) is not None]
    return found


def show_errors(form: SubmissionForm, spec: InstrumentSpec, errors: dict[str, list[str]]) -> None:
    """Put the rules' errors on the fields (and only those: non-relevant typos don't count)."""
    for item, field in _item_fields(form, spec):
        if not isinstance(item, Repeat):
            field.errors = errors.get(field.name, [])
    for repeat, field in repeat_fields(form, spec):
        field.errors = errors.get(field.name, [])
        for entry in field.entries:
            for _name, sub in _entry_fields(entry, repeat):
                sub.errors = errors.get(sub.name, [])


def fill_defaults(form: Form, values: dict[str, str]) -> None:
    """Put defaults evaluated at creation (rules.default_values) into the unanswered fields of
    a form or of one repeat entry's form."""
    for name, text in values.items():
        field = question_field(form, name)
        if field is not None and field.data in (None, "", []):
            field.process_data(text)


def enter_defaults(form: Form, values: dict[str, str]) -> None:
    """Put defaults into the unanswered fields of a form (or repeat entry) as if posted: typed
    and parsed like the volunteer's answers, for the rules to read in the same request."""
    for name, text in values.items():
        field = question_field(form, name)
        if field is None or field.data not in (None, "", []):
            continue
        posted = text.split() if _takes_codes(field) else [text]
        field.raw_data = posted
        try:
            field.process_formdata(posted)
        except ValueError as error:
            field.process_errors.append(error.args[0])


def _takes_codes(field: Any) -> bool:
    """Whether a field is posted as one value per code (select_multiple, rank)."""
    return isinstance(field, MultipleChoiceAnswerField | RankAnswerField)


def resize_repeat(form: SubmissionForm, name: str, count: int, spec: Any = None) -> None:
    """Add or drop trailing entries so a repeat has exactly count entries (`name` is the list's
    field name: 'member', or 'household-0-member' for a repeat inside a repeat)."""
    field = question_field(form, name)
    if field is None and spec is not None:
        field = next((f for _r, f in repeat_fields(form, spec) if f.name == name), None)
    if field is None:
        return
    while len(field.entries) < count:
        field.append_entry()
    while len(field.entries) > count:
        field.pop_entry()


class RoundForm(FlaskForm):
    """A new survey round."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    starts_on = DateField(_l("Starts on"), validators=[DataRequired()])
    ends_on = DateField(_l("Ends on"), validators=[Optional()])


class ReviewForm(FlaskForm):
    """A coordinator's decision on a submission."""

    status = SelectField(
        _l("Status"),
        choices=[SelectChoice(status, label) for status, label in REVIEW_STATUS_LABELS.items()],
    )
    comment = TextAreaField(_l("Comment for the volunteer"), validators=[Length(max=2000)])


class WithdrawalForm(FlaskForm):
    """Withdrawal of consent by receipt code."""

    receipt_code = StringField(_l("Receipt code"), validators=[DataRequired(), Length(max=20)])
    confirm = BooleanField(_l("Delete these answers completely"))


class QueueFilterForm(FlaskForm):
    """The review queue's filters, read from the query string (no CSRF: it changes nothing)."""

    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validators=[Optional()])
    district = SelectField(_l("District"), validators=[Optional()])
    volunteer = SelectField(_l("Volunteer"), validators=[Optional()])
    round = SelectField(_l("Round"), validators=[Optional()])
    received_from = DateField(_l("Received from"), validators=[Optional()])
    received_to = DateField(_l("Received to"), validators=[Optional()])
    demo = SelectField(
        _l("Demo data"),
        choices=[
            SelectChoice("", _l("Included")),
            SelectChoice("real", _l("Hidden")),
            SelectChoice("demo", _l("Only demo data")),
        ],
        validators=[Optional()],
    )
    q = StringField(_l("Receipt code or instanceID"), validators=[Optional(), Length(max=80)])
    sort = SelectField(
        _l("Order"),
        choices=[
            SelectChoice("oldest", _l("Oldest first")),
            SelectChoice("newest", _l("Newest first")),
        ],
        validators=[Optional()],
    )
