"""The XLSForm conformance corpus (issue 9): real public forms through pyxform, ODK's engine, Birge.

See tests/survey/instruments/corpus/README.md. Forms Birge does not handle yet are listed in
corpus/known_gaps.csv and run as strict xfails, so that each importer fix shrinks the list.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree
from flask import Flask

from tests.factories import csv_export, csv_tables
from tests.odk_engine import engine_missing, fill_batch
from tests.survey.instruments.corpus.survey_corpus import (
    CORPUS,
    MANIFEST_COLUMNS,
    Conversion,
    attachments_of,
    birge_check,
    corpus_forms,
    describe,
    engine_jobs,
    engine_verdict,
    inspect_form,
    keep_of,
    odk_cannot_parse,
    read_known_gaps,
    read_manifest,
    read_sources,
    sha256_of,
)

# The corpus checks the importer and the web form against real forms; storage on PostgreSQL is
# the subject of the collection and dataset tests.
pytestmark = pytest.mark.sqlite_only

FORMS = corpus_forms()
MANIFEST = read_manifest()
SOURCES = read_sources()
KNOWN_GAPS = read_known_gaps()
CONVERTIBLE = [form for form in FORMS if MANIFEST.get(form, {}).get("pyxform_converts") == "yes"]
ENGINE_COLUMNS = {"engine_loads", "engine_message"}
ENGINE_TEST = "test_odk_engine_fills_and_serialises_the_form"


@pytest.fixture(scope="module")
def inspected() -> dict[str, tuple[Conversion, dict[str, str]]]:
    """pyxform's conversion and the manifest row of every corpus form, once, on every core."""
    with ProcessPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return dict(zip(FORMS, pool.map(inspect_form, FORMS), strict=True))


@pytest.fixture(scope="module")
def conversions(
    inspected: dict[str, tuple[Conversion, dict[str, str]]],
) -> dict[str, Conversion]:
    """pyxform's conversion of every corpus form."""
    return {form: conversion for form, (conversion, _row) in inspected.items()}


class EngineRun:
    """ODK's engine over every convertible form, in one node process started in the background.

    The node run (~30 s for the corpus) overlaps with the Birge imports that pytest runs in the
    meantime; the engine tests wait for it.
    """

    def __init__(self, conversions: dict[str, Conversion]) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.jobs = engine_jobs(
            {f: conversions[f] for f in CONVERTIBLE if f in conversions}, Path(self.folder.name)
        )
        self.results: dict[str, dict[str, Any]] = {}
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            results = fill_batch(self.jobs, timeout=600)
            self.results = {
                job["id"]: result for job, result in zip(self.jobs, results, strict=True)
            }
        except BaseException as error:  # handed to the test that waits for it
            self.error = error

    def result(self, form: str) -> dict[str, Any]:
        """The engine's result for one form (waits for the batch)."""
        self.thread.join(timeout=660)
        if self.error is not None:
            raise self.error
        return self.results[form]

    def close(self) -> None:
        """Wait for node and remove the XForms."""
        self.thread.join(timeout=660)
        self.folder.cleanup()


@pytest.fixture(scope="module", autouse=True)
def engine_started(request: pytest.FixtureRequest) -> Iterator[EngineRun | str]:
    """Start ODK's engine on the corpus as soon as pyxform is done, or say why it cannot run.

    Autouse, so that node works while the Birge tests run; only when engine tests are selected.
    """
    if not any(item.name.startswith(ENGINE_TEST) for item in request.session.items):
        yield "no engine test selected"
        return
    missing = engine_missing()
    if missing:
        yield missing
        return
    run = EngineRun(request.getfixturevalue("conversions"))
    yield run
    run.close()


@pytest.fixture
def engine_run(engine_started: EngineRun | str) -> EngineRun:
    """The engine's run over the corpus (skipped where node or the engine is missing, not in CI)."""
    if isinstance(engine_started, str):
        if os.environ.get("CI"):
            pytest.fail(f"ODK's engine must run in CI: {engine_started}")
        pytest.skip(engine_started)
    return engine_started


def _known_gap(form: str) -> list[pytest.MarkDecorator]:
    if form in KNOWN_GAPS:
        return [pytest.mark.xfail(strict=True, reason=f"known gap: {KNOWN_GAPS[form]}")]
    return []


def _engine_gap(form: str) -> list[pytest.MarkDecorator]:
    row = MANIFEST.get(form, {})
    if row.get("engine_loads") == "no":
        return [pytest.mark.xfail(strict=True, reason=f"ODK engine: {row['engine_message']}")]
    return []


# --- the corpus itself -----------------------------------------------------------------------


def test_corpus_is_big_and_varied_enough() -> None:
    real = [form for form in FORMS if not form.startswith("pyxform/")]
    organisations = {SOURCES[form]["organisation"] for form in real}
    repositories = {SOURCES[form]["repository"] for form in real}
    assert len(real) >= 45, len(real)
    assert len(organisations) >= 8, organisations
    assert len(repositories) >= 8, repositories
    assert any(form.startswith("pyxform/") for form in FORMS)
    rows = {form: int(MANIFEST[form]["survey_rows"] or 0) for form in FORMS}
    assert max(rows.values()) >= 300, "the corpus needs a large (several hundred rows) form"
    features = " ".join(
        MANIFEST[f]["question_types"] + " " + MANIFEST[f]["functions"] for f in FORMS
    ).split()
    for feature in ("geopoint", "image", "begin_repeat", "indexed-repeat", "pulldata"):
        assert feature in features, feature
    assert any(int(MANIFEST[f]["max_repeat_depth"] or 0) >= 2 for f in FORMS), "repeat in repeat"
    assert any(MANIFEST[f]["external_files"] for f in FORMS)
    reasons = " ".join(MANIFEST[f]["out_of_scope"] for f in FORMS)
    assert "entities" in reasons
    assert "public_key" in reasons
    assert any(MANIFEST[f]["pyxform_converts"] == "no" for f in FORMS)


def test_manifest_lists_every_form_with_its_current_content() -> None:
    assert sorted(MANIFEST) == FORMS, "run survey_corpus --refresh after changing the corpus"
    stale = [form for form in FORMS if MANIFEST[form]["sha256"] != sha256_of(form)]
    assert not stale, f"changed since the manifest was computed: {stale}"
    columns = list(next(iter(MANIFEST.values())))
    assert columns == MANIFEST_COLUMNS


def test_sources_list_every_file_with_its_origin_and_licence() -> None:
    files = sorted(
        path.relative_to(CORPUS).as_posix()
        for path in CORPUS.rglob("*")
        if path.is_file() and (path.suffix.lower() in (".xls", ".xlsx") or "-media/" in str(path))
    )
    assert sorted(SOURCES) == files
    for file, source in SOURCES.items():
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"]), file
        assert source["organisation"] and source["licence"] and source["form"], file
        assert re.fullmatch(r"[\w.-]+/[\w.-]+", source["repository"]), file


def test_known_gaps_name_corpus_forms_only() -> None:
    assert set(KNOWN_GAPS) <= set(FORMS), set(KNOWN_GAPS) - set(FORMS)
    assert all(reason.strip() for reason in KNOWN_GAPS.values())


# --- pyxform, the reference --------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
def test_pyxform_verdict_and_features_match_the_manifest(
    form: str, inspected: dict[str, tuple[Conversion, dict[str, str]]]
) -> None:
    conversion, row = inspected[form]
    expected = {k: v for k, v in MANIFEST[form].items() if k not in ENGINE_COLUMNS}
    actual = {k: v for k, v in row.items() if k not in ENGINE_COLUMNS}
    assert actual == expected
    if conversion.converts:
        root = ElementTree.fromstring(conversion.xform)
        assert root.tag.endswith("html")


def test_features_are_read_from_the_workbook() -> None:
    features = describe("kobocat/nested_repeats.xls")
    assert features["max_repeat_depth"] == "2"
    assert "geopoint" in features["question_types"].split()


# --- Birge, measured against the corpus --------------------------------------------------------


@pytest.mark.parametrize("form", [pytest.param(form, marks=_known_gap(form)) for form in FORMS])
def test_birge_handles_the_form_as_issue_9_requires(form: str, app: Flask) -> None:
    from survey.instruments.services import import_instrument

    files = attachments_of(form)
    problem = birge_check(
        form,
        MANIFEST[form],
        # The admin confirms the photos, audio and files, and the phone numbers, the form
        # collects (issue 9, part 6).
        lambda data, name: import_instrument(data, name, attachments=files, keep=keep_of(form)),
    )
    assert problem is None, problem


# Last: by now the engine, started in the background, has had the Birge tests' time to run.
# --- ODK's own engine as a client ------------------------------------------------------------


@pytest.mark.parametrize(
    "form", [pytest.param(form, marks=_engine_gap(form)) for form in CONVERTIBLE]
)
def test_odk_engine_fills_and_serialises_the_form(form: str, engine_run: EngineRun) -> None:
    result = engine_run.result(form)
    assert result["status"] in ("ok", "invalid"), result["errors"]
    assert engine_verdict(result) == (
        MANIFEST[form]["engine_loads"],
        MANIFEST[form]["engine_message"],
    ), "the engine's verdict changed: run survey_corpus --refresh and review manifest.csv"
    submission = ElementTree.fromstring(result["submission_xml"])
    assert submission.get("id"), "a submission names its form"
    written = {element.text for element in submission.iter() if element.text}
    for reference, value in result["values"].items():
        if value:
            assert value in written, f"{reference}={value!r} is not in the submission"


def test_manifest_script_prints_the_baseline() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "tests.survey.instruments.corpus.survey_corpus", "--report"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=CORPUS.parents[3],
        check=True,
    )
    assert re.search(r"pyxform converts: \d+ of \d+", completed.stdout), completed.stdout


# --- a complete interview through the web form, found again in the CSV export ----------------

IMPORTED = [
    form
    for form in CONVERTIBLE
    if not MANIFEST[form]["out_of_scope"]
    and form not in KNOWN_GAPS
    and not odk_cannot_parse(MANIFEST[form])
]


class CompleteInterview:
    """Answers every question it may (no skips, no 'don't know'), two entries per repeat."""

    def __new__(cls) -> Any:
        from survey.demo.walker import DemoProfile

        class Profile(DemoProfile):
            skip_optional = 0.0
            dnk = 0.0
            pnta = 0.0

            def entries(self, repeat: Any, state: Any) -> int:
                return 2

            def media(self, question: Any, state: Any) -> Any:
                return MEDIA_SAMPLES[question.type][0]

        return Profile()


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "olive").save(out, "PNG")
    return out.getvalue()


# What a volunteer uploads for each media type (the form's own file names are the server's).
MEDIA_SAMPLES = {
    "image": ("sample.png", _png()),
    "audio": ("sample.mp3", b"ID3 sample"),
    "video": ("sample.mp4", b"\x00\x00\x00\x18ftypmp42"),
    "file": ("sample.pdf", b"%PDF-1.4 sample"),
}


def _posted(value: Any, question: Any = None) -> Any:
    if question is not None and question.type in MEDIA_SAMPLES:
        name, content = MEDIA_SAMPLES[question.type]
        return (io.BytesIO(content), name)
    if isinstance(value, list):
        return [str(v) for v in value]
    return str(value)


def web_form_data(spec: Any, answers: dict[str, Any]) -> dict[str, Any]:
    """The answers as the web form posts them (repeat entries as name-index-question)."""
    data: dict[str, Any] = {}
    questions = spec.questions_by_name

    def post(answers: dict[str, Any], prefix: str) -> None:
        for name, value in answers.items():
            if name in spec.repeats_by_name:  # a repeat inside a repeat too: 'h-0-m-1-age'
                for index, entry in enumerate(value):
                    data[f"{prefix}{name}-{index}-_entry"] = "1"
                    post(entry, f"{prefix}{name}-{index}-")
            else:
                data[prefix + name] = _posted(value, questions.get(name))

    post(answers, "")
    return data


def _exported(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# Forms that import but cannot yet be filled with answers Birge stores: strict xfails.
FILL_GAPS: dict[str, str] = {}


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(form, marks=[pytest.mark.xfail(strict=True, reason=FILL_GAPS[form])])
        if form in FILL_GAPS
        else form
        for form in IMPORTED
    ],
)
def test_birge_fills_the_form_and_exports_the_answers(
    form: str, app: Flask, client: Any, auth: Any, survey_round: Any
) -> None:
    import random
    import uuid

    from survey.collection.services import LOCATION_TYPES, coarsened_location
    from survey.demo.walker import generate_answers
    from survey.extensions import db
    from survey.instruments.registry import parser_for
    from survey.instruments.rules import entries_under
    from survey.instruments.services import import_instrument, spec_for

    path = CORPUS / form
    version, _summary = import_instrument(
        path.read_bytes(), path.name, attachments=attachments_of(form), keep=keep_of(form)
    )
    db.session.commit()
    spec = spec_for(version)
    answers = generate_answers(spec, random.Random(form), profile=CompleteInterview())
    inputs = {q.name for q in spec.iter_questions() if q.has_input and q.repeat is None} & set(
        answers
    )
    auth.login("volunteer")
    response = client.post(
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "_started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            **web_form_data(spec, answers),
        },
    )
    assert response.status_code == 302, _form_errors(response.text)
    assert "/collect/saved/" in response.headers["Location"]
    auth.logout()
    auth.login("admin")
    body = csv_export(client, spec.form_id)
    tables = csv_tables(body)
    rows = tables["respondents"]
    # One table per repeat level, repeats inside repeats too, with a row per entry.
    for repeat in spec.iter_repeats():
        levels = [r.name for r in spec.repeat_chain(repeat.name)]
        entries = entries_under(answers, levels)
        if entries and repeat.name in tables:
            assert len(tables[repeat.name]) == len(entries), repeat.name
    assert len(rows) == 1
    row = rows[0]
    for name in sorted(inputs):
        question = spec.questions_by_name[name]
        value = answers[name]
        if question.type == "select_multiple":
            for code in value:
                assert row.get(f"{name}/{code}") in ("true", "1", "True"), (name, code)
        elif question.type in MEDIA_SAMPLES:
            # Photos and files stay on the server: the export has no column for them.
            assert name not in row, (name, row.get(name))
        elif question.type == "rank":
            assert row.get(name) == " ".join(value), (name, value, row.get(name))
        elif question.type in LOCATION_TYPES:
            # Stored on the ~1 km grid: the admin did not confirm precise locations.
            expected = coarsened_location(parser_for(question)(value))
            assert row.get(name) == expected, (name, value, row.get(name))
        else:
            assert row.get(name) == _exported(value), (name, value, row.get(name))


def _form_errors(page: str) -> str:
    found = re.findall(r'data-error-for="([^"]+)">([^<]+)<', page)
    return "; ".join(f"{key}: {text}" for key, text in found) or page[:300]
