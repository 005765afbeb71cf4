"""Media answers of questions with long names, on every database engine (PostgreSQL checks
column lengths, SQLite does not)."""

from __future__ import annotations

import io
import uuid

from sqlalchemy import func, select

from survey.collection.models import Submission, SubmissionMedia
from survey.extensions import db
from tests.factories import xlsform_bytes
from tests.survey.collection.test_media import photo_with_gps


def test_a_long_question_name_stores_its_photo(app, client, auth, survey_round) -> None:
    from survey.instruments.media import is_stored_name
    from survey.instruments.services import import_instrument

    name = "photo_of_the_document_that_shows_the_diagnosis_" + "x" * 260
    form = xlsform_bytes(
        [["type", "name", "label"], ["image", name, "Photo"]],
        settings={"form_id": "longname", "version": "1"},
    )
    version, _ = import_instrument(form, "f.xlsx", keep=("media",))
    db.session.commit()
    auth.login("volunteer")
    response = client.post(
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            name: (io.BytesIO(photo_with_gps()), "p.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.status_code
    assert db.session.execute(select(func.count()).select_from(Submission)).scalar() == 1
    stored = db.session.execute(select(SubmissionMedia)).scalar_one()
    assert stored.question == name and len(stored.filename) < 120
    assert is_stored_name(name, stored.filename)
