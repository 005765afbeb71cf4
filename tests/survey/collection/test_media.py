"""Photo, audio, video and file questions (issue 9, parts 2 and 6): confirmed at import, uploaded
over the web form (without JavaScript too) and over OpenRosa, pictures stripped of EXIF and GPS,
kept on the server only, deleted by withdrawal."""

from __future__ import annotations

import datetime as dt
import io
import uuid
import zipfile
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from survey.collection.models import Submission, SubmissionMedia
from survey.extensions import db
from survey.instruments.xlsform import InstrumentImportError
from tests.factories import PASSWORD, csv_export, csv_tables, xlsform_bytes
from tests.survey.collection.test_openrosa import collect_submission

pytestmark = pytest.mark.sqlite_only

HTTPS = "https://localhost"
SURVEY = [
    ["type", "name", "label", "appearance"],
    ["text", "village", "Village", ""],
    ["integer", "households", "Households", ""],
    ["image", "photo", "Photo of the water point", ""],
    ["image", "sign", "Signature", "signature"],
    ["audio", "voice", "Recording", ""],
]
FORM = xlsform_bytes(SURVEY, settings={"form_id": "wells", "version": "1"})


def photo_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG whose EXIF names a camera and a GPS position."""
    picture = Image.new("RGB", size, "teal")
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (43.0, 15.0, 0.0), 3: "E", 4: (76.0, 54.0, 0.0)}
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


@pytest.fixture
def version(app, survey_round) -> Any:
    from survey.instruments.services import import_instrument

    imported, summary = import_instrument(FORM, "wells.xlsx", keep=("media",))
    db.session.commit()
    assert any("Photos, audio, video and files (photo, sign, voice)" in line for line in summary)
    return imported


def stored_media() -> list[SubmissionMedia]:
    return list(db.session.execute(select(SubmissionMedia)).scalars())


def test_import_refuses_media_questions_unless_confirmed(app) -> None:
    from survey.instruments.services import import_instrument

    with pytest.raises(InstrumentImportError) as refused:
        import_instrument(FORM, "wells.xlsx")
    (problem,) = refused.value.problems
    assert "Sheet 'survey', column 'type'" in problem
    assert "'photo' (row 4), 'sign' (row 5), 'voice' (row 6)" in problem
    assert "Confirm that this form must collect them" in problem


def test_the_import_page_asks_for_the_confirmation(client, auth) -> None:
    auth.login("admin")

    def upload(**extra: str):
        return client.post(
            "/admin/instruments/",
            data={"xlsform": (io.BytesIO(FORM), "wells.xlsx"), **extra},
            content_type="multipart/form-data",
        )

    refused = upload()
    assert refused.status_code == 422 and "can identify people" in refused.text
    assert upload(keep_media="y").status_code == 302


def test_web_upload_strips_exif_and_gps_and_stays_out_of_exports(client, auth, version) -> None:
    auth.login("volunteer")
    page = client.get(f"/collect/v/{version.id}")
    assert 'enctype="multipart/form-data"' in page.text
    assert "data-offline-form" in page.text  # offline.js queues the files too
    assert 'type="file" name="photo"' in page.text and 'accept="image/*"' in page.text
    original = photo_with_gps()
    response = client.post(
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "_started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "village": "Aul",
            "households": "12",
            "photo": (io.BytesIO(original), "IMG_2024_Aigerim.jpg", "image/jpeg"),
            "voice": (io.BytesIO(b"ID3fake-mp3"), "voice.mp3", "audio/mpeg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text[:500]
    submission = db.session.execute(select(Submission)).scalar_one()
    (photo, voice) = sorted(stored_media(), key=lambda m: m.question)
    assert submission.answers["photo"] == photo.filename
    assert photo.filename.startswith("photo-") and photo.filename.endswith(".jpg")
    assert "Aigerim" not in photo.filename  # the volunteer's file name is not kept
    assert photo.data != original
    cleaned = Image.open(io.BytesIO(photo.data))
    assert cleaned.size == (64, 48)
    assert not cleaned.getexif()  # no camera, no GPS
    assert b"PhoneMaker" not in photo.data and b"Exif" not in photo.data
    assert voice.data == b"ID3fake-mp3" and voice.content_type == "audio/mpeg"
    auth.logout()

    auth.login("admin")
    body = csv_export(client, "wells")
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert not any(name.endswith((".jpg", ".mp3", ".png")) for name in archive.namelist())
    assert photo.data not in body
    rows = csv_tables(body)["respondents"]
    assert rows[0]["village"] == "Aul"
    assert not {"photo", "sign", "voice"} & set(rows[0])  # not even the stored file's name


@pytest.mark.app_config({"MEDIA_MAX_BYTES": 2000, "MEDIA_MAX_IMAGE_BYTES": 2000})
def test_an_oversize_upload_is_refused_and_the_other_answers_stay(client, auth, version) -> None:
    auth.login("volunteer")
    response = client.post(
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "village": "Kent",
            "households": "7",
            "photo": (io.BytesIO(b"\xff\xd8" + b"0" * 5000), "big.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "The file is larger than 1.95 kB" in response.text and "your other answers are kept" in (
        response.text
    )
    assert 'value="Kent"' in response.text and 'value="7"' in response.text
    assert db.session.execute(select(func.count()).select_from(Submission)).scalar() == 0
    not_a_picture = client.post(
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "village": "Kent",
            "photo": (io.BytesIO(b"GIF89a-not-really"), "x.gif", "image/gif"),
        },
        content_type="multipart/form-data",
    )
    assert not_a_picture.status_code == 422
    assert "not a picture" in not_a_picture.text


def send(client, document: bytes, files: dict[str, bytes]):
    data: dict[str, Any] = {
        "xml_submission_file": (io.BytesIO(document), "submission.xml", "text/xml")
    }
    for name, content in files.items():
        data[name] = (io.BytesIO(content), name, "application/octet-stream")
    return client.post(
        "/submission",
        data=data,
        content_type="multipart/form-data",
        auth=("volunteer", PASSWORD),
        headers={"X-OpenRosa-Version": "1.0"},
        base_url=HTTPS,
    )


def test_openrosa_submission_with_attachments_and_withdrawal(client, create_user, version) -> None:
    from survey.collection.review import withdraw_submission

    create_user("volunteer", "volunteer")
    xform = version.xform.encode()
    values = {"village": "Aul", "households": "3", "photo": "1700000000.jpg"}
    document = collect_submission(xform, values, instanceID=f"uuid:{uuid.uuid4()}")
    missing = send(client, document, {})
    assert missing.status_code == 400 and "the file 1700000000.jpg was not sent" in missing.text
    extra = send(client, document, {"1700000000.jpg": photo_with_gps(), "other.jpg": b"x"})
    assert extra.status_code == 400 and "no attachments called other.jpg" in extra.text
    saved = send(client, document, {"1700000000.jpg": photo_with_gps((4000, 3000))})
    assert saved.status_code == 201, saved.text
    (photo,) = stored_media()
    picture = Image.open(io.BytesIO(photo.data))
    assert max(picture.size) == 2048 and not picture.getexif()
    submission = db.session.execute(select(Submission)).scalar_one()
    assert submission.answers["photo"] == photo.filename
    assert send(client, document, {"1700000000.jpg": photo_with_gps((4000, 3000))}).status_code == (
        201
    )  # a resend is acknowledged, nothing stored twice
    assert len(stored_media()) == 1

    withdraw_submission(submission)
    db.session.commit()
    db.session.expire_all()
    assert db.session.execute(select(func.count()).select_from(SubmissionMedia)).scalar() == 0


def test_a_lost_upload_is_asked_again_and_a_correction_keeps_the_files(
    client, auth, version
) -> None:
    auth.login("volunteer")
    instance = f"uuid:{uuid.uuid4()}"
    base = {"_instance_id": instance, "village": "Aul", "households": "2"}
    # A name typed instead of a file (or a file lost with an earlier error) is asked for again.
    forged = client.post(
        f"/collect/v/{version.id}",
        data={**base, "photo": "photo-0123456789abcdef0123.jpg"},
        content_type="multipart/form-data",
    )
    assert forged.status_code == 422
    assert "The file did not arrive with the interview: choose it again." in forged.text
    assert 'type="file" name="photo"' in forged.text
    saved = client.post(
        f"/collect/v/{version.id}",
        data={**base, "photo": (io.BytesIO(photo_with_gps()), "p.jpg", "image/jpeg")},
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302
    submission = db.session.execute(select(Submission)).scalar_one()
    stored = submission.answers["photo"]
    shown = client.get(f"/submissions/{submission.id}")
    link = f"/submissions/{submission.id}/media/{stored}"
    assert link in shown.text
    download = client.get(link)
    assert download.status_code == 200 and download.headers["Cache-Control"] == "no-store"
    assert download.data == stored_media()[0].data
    from survey.users.models import AuditEntry

    (viewed,) = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "submission_media_viewed")
    ).scalars()
    assert viewed.details == {"file": stored}
    page = client.get(f"/submissions/{submission.id}/correct")
    assert f'type="hidden" name="photo" value="{stored}"' in page.text
    corrected = client.post(
        f"/submissions/{submission.id}/correct",
        data={**base, "households": "3", "_reason": "typo"},
        content_type="multipart/form-data",
    )
    assert corrected.status_code == 302, corrected.text[:300]
    db.session.expire_all()
    submission = db.session.execute(select(Submission)).scalar_one()
    assert submission.answers["households"] == 3
    assert submission.answers["photo"] == stored  # the photo stays, though not posted again
    assert [m.filename for m in stored_media()] == [stored]


def test_the_media_refusal_comes_in_the_same_pass_as_other_problems(app) -> None:
    from survey.instruments.services import import_instrument

    broken = xlsform_bytes(
        [
            ["type", "name", "label", "relevant"],
            ["image", "photo", "Photo", ""],
            ["text", "t", "T", "frobnicate() = 1"],
        ]
    )
    with pytest.raises(InstrumentImportError) as refused:
        import_instrument(broken, "wells.xlsx")
    problems = " ".join(refused.value.problems)
    assert "row 3, column 'relevant': Unknown function 'frobnicate()'" in problems
    assert "Confirm that this form must collect them" in problems


def test_a_split_submission_is_refused_with_the_reason(client, create_user, version) -> None:
    create_user("volunteer", "volunteer")
    document = collect_submission(
        version.xform.encode(), {"village": "Aul"}, instanceID=f"uuid:{uuid.uuid4()}"
    )
    response = client.post(
        "/submission",
        data={
            "xml_submission_file": (io.BytesIO(document), "submission.xml", "text/xml"),
            "*isIncomplete*": "yes",
        },
        content_type="multipart/form-data",
        auth=("volunteer", PASSWORD),
        base_url=HTTPS,
    )
    assert response.status_code == 413
    assert "larger than this server accepts in one request" in response.text
    assert db.session.execute(select(func.count()).select_from(Submission)).scalar() == 0


def padded_photo(total: int) -> bytes:
    """A phone-sized upload: a real JPEG followed by bytes up to `total` (Pillow ignores them)."""
    picture = photo_with_gps((800, 600))
    return picture + b"\0" * (total - len(picture))


def post_large(client, url: str, data: dict[str, Any]):
    """A multipart post of several megabytes; the test client spools such a body to a temporary
    file it leaves open, so it is closed here."""
    response = client.post(url, data=data, content_type="multipart/form-data")
    response.request.environ["wsgi.input"].close()
    return response


def test_phone_sized_photos_pass_the_default_request_limit(client, auth, version) -> None:
    auth.login("volunteer")
    response = post_large(
        client,
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "village": "Kent",
            "households": "7",
            "photo": (io.BytesIO(padded_photo(6 * 1024 * 1024)), "IMG.jpg", "image/jpeg"),
            "sign": (io.BytesIO(padded_photo(3 * 1024 * 1024)), "sign.jpg", "image/jpeg"),
        },
    )
    assert response.status_code == 302, response.text[:500]
    assert len(stored_media()) == 2
    assert all(Image.open(io.BytesIO(m.data)).size == (800, 600) for m in stored_media())


def test_a_photo_over_the_default_limit_keeps_the_answers(client, auth, version) -> None:
    auth.login("volunteer")
    response = post_large(
        client,
        f"/collect/v/{version.id}",
        data={
            "_instance_id": f"uuid:{uuid.uuid4()}",
            "village": "Kent",
            "households": "7",
            "photo": (io.BytesIO(padded_photo(16 * 1024 * 1024)), "IMG.jpg", "image/jpeg"),
        },
    )
    assert response.status_code == 422
    assert "The file is larger than 15 MB" in response.text
    assert 'value="Kent"' in response.text and 'value="7"' in response.text
    assert db.session.execute(select(func.count()).select_from(Submission)).scalar() == 0


def test_a_correction_that_removes_a_repeat_entry_keeps_photos_with_their_entry(app) -> None:
    from survey.collection.views import _with_stored_media
    from survey.instruments.xlsform import load_xlsform

    spec = load_xlsform(
        xlsform_bytes(
            [
                ["type", "name", "label"],
                ["begin_repeat", "members", "Members"],
                ["text", "who", "Who"],
                ["image", "face", "Photo"],
                ["end_repeat", "", ""],
            ]
        )
    ).spec
    stored = {"members": [{"who": "A", "face": "face-a.jpg"}, {"who": "B", "face": "face-b.jpg"}]}
    removed_a = {"members": [{"who": "B", "face": "face-b.jpg"}]}
    assert _with_stored_media(spec, stored, removed_a)["members"] == [
        {"who": "B", "face": "face-b.jpg"}
    ]
    # A name that is not one of this submission's files of the question is not kept.
    forged = {"members": [{"who": "B", "face": "face-c.jpg"}, {"who": "C", "face": None}]}
    assert _with_stored_media(spec, stored, forged)["members"] == [
        {"who": "B", "face": None},
        {"who": "C", "face": None},
    ]


def test_a_png_with_too_many_pixels_is_refused_cheaply(app) -> None:
    from survey.instruments.media import MediaRefused, clean_upload

    out = io.BytesIO()
    Image.new("L", (7000, 7000)).save(out, "PNG")
    with pytest.raises(MediaRefused, match="too many pixels"):
        clean_upload("photo", "image", "big.png", out.getvalue())


def test_collect_sends_a_phone_sized_photo_under_the_announced_limit(
    client, create_user, version
) -> None:
    create_user("volunteer", "volunteer")
    head = client.head(
        "/submission",
        auth=("volunteer", PASSWORD),
        headers={"X-OpenRosa-Version": "1.0"},
        base_url=HTTPS,
    )
    # Two pictures at 15 MB, a recording at 4 MB and 1 MB for the rest.
    assert int(head.headers["X-OpenRosa-Accept-Content-Length"]) == 35 * 1024 * 1024
    values = {"village": "Aul", "photo": "1700000000.jpg"}
    document = collect_submission(version.xform.encode(), values, instanceID=f"uuid:{uuid.uuid4()}")
    saved = send(client, document, {"1700000000.jpg": padded_photo(6 * 1024 * 1024)})
    saved.request.environ["wsgi.input"].close()
    assert saved.status_code == 201, saved.text
    assert len(stored_media()) == 1


def test_a_correction_removing_a_repeat_entry_over_http_keeps_each_photo_with_its_entry(
    client, auth, survey_round
) -> None:
    from survey.instruments.services import import_instrument

    form = xlsform_bytes(
        [
            ["type", "name", "label"],
            ["begin_repeat", "members", "Members"],
            ["text", "who", "Who"],
            ["image", "face", "Photo"],
            ["end_repeat", "", ""],
        ],
        settings={"form_id": "members", "version": "1"},
    )
    imported, _summary = import_instrument(form, "members.xlsx", keep=("media",))
    db.session.commit()
    auth.login("volunteer")
    instance = f"uuid:{uuid.uuid4()}"
    saved = client.post(
        f"/collect/v/{imported.id}",
        data={
            "_instance_id": instance,
            "members-0-who": "A",
            "members-0-face": (io.BytesIO(photo_with_gps((60, 40))), "a.jpg", "image/jpeg"),
            "members-1-who": "B",
            "members-1-face": (io.BytesIO(photo_with_gps((40, 60))), "b.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert saved.status_code == 302, saved.text[:500]
    submission = db.session.execute(select(Submission)).scalar_one()
    face_a, face_b = (entry["face"] for entry in submission.answers["members"])
    assert face_a != face_b
    base = {"_instance_id": instance, "_reason": "A is not a member"}
    # Choosing a file in a correction is refused on its question, even a phone-sized one.
    replaced = post_large(
        client,
        f"/submissions/{submission.id}/correct",
        data={
            **base,
            "members-0-who": "B",
            "members-0-face": (io.BytesIO(padded_photo(6 * 1024 * 1024)), "c.jpg", "image/jpeg"),
        },
    )
    assert replaced.status_code == 422
    assert "A file cannot be replaced in a correction." in replaced.text
    corrected = client.post(
        f"/submissions/{submission.id}/correct",
        data={**base, "members-0-who": "B", "members-0-face": face_b},
        content_type="multipart/form-data",
    )
    assert corrected.status_code == 302, corrected.text[:500]
    db.session.expire_all()
    submission = db.session.execute(select(Submission)).scalar_one()
    assert submission.answers["members"] == [{"who": "B", "face": face_b}]


def test_the_request_allowance_counts_each_media_question_and_repeats_five_times(app) -> None:
    from survey.instruments.media import request_allowance
    from survey.instruments.xlsform import load_xlsform

    megabyte = 1024 * 1024
    spec = load_xlsform(
        xlsform_bytes(
            [
                ["type", "name", "label"],
                ["image", "p", "P"],
                ["begin_repeat", "m", "M"],
                ["begin_group", "g", "G"],
                ["audio", "v", "V"],
                ["end_group", "", ""],
                ["end_repeat", "", ""],
            ]
        )
    ).spec
    assert request_allowance(spec) == (15 + 5 * 4 + 1) * megabyte
    plain = load_xlsform(xlsform_bytes([["type", "name", "label"], ["text", "t", "T"]])).spec
    assert request_allowance(plain) == 0


@pytest.mark.app_config({"MEDIA_MAX_BYTES": 2000, "MEDIA_MAX_IMAGE_BYTES": 2000})
def test_a_post_far_over_the_allowance_is_not_read_and_says_why(client, auth, version) -> None:
    auth.login("volunteer")
    data = {
        "_instance_id": f"uuid:{uuid.uuid4()}",
        "village": "Kent",
        "photo": (io.BytesIO(padded_photo(3 * 1024 * 1024)), "IMG.jpg", "image/jpeg"),
    }
    page = post_large(client, f"/collect/v/{version.id}", data)
    assert page.status_code == 413
    assert "the files chosen are together larger than 2 MB" in page.text
    data["photo"] = (io.BytesIO(padded_photo(3 * 1024 * 1024)), "IMG.jpg", "image/jpeg")
    queued = client.post(
        f"/collect/v/{version.id}",
        data=data,
        content_type="multipart/form-data",
        headers={"Accept": "application/json"},
    )
    queued.request.environ["wsgi.input"].close()
    assert queued.status_code == 413 and queued.json["status"] == "invalid"
    assert db.session.execute(select(func.count()).select_from(Submission)).scalar() == 0


def test_small_files_share_the_posts_allowance_by_what_they_hold(app) -> None:
    # The allowance was handed out as each file's whole limit: with a photo, a video and a file
    # question the third small file found nothing left and was refused as "together too large".
    from survey.instruments import media

    factory = media.capped_stream_factory(3 * 1000)
    streams = [factory() for _ in range(3)]
    for stream in streams:
        stream.write(b"x" * 900)
    assert [s.overflowed for s in streams] == [False, False, False]
    last = factory()
    last.write(b"x" * 400)  # 2,700 bytes kept so far: 300 left
    assert last.overflowed
    for stream in [*streams, last]:
        stream.close()
