"""OpenRosa endpoints for ODK Collect and KoboCollect: form list, form download, submission.

Authentication is HTTP Basic with the app's own accounts (volunteers, coordinators, admins), and
only over HTTPS: Basic sends the password readable by anyone on the path otherwise. HTTP Digest,
the other scheme OpenRosa allows, is impossible here: the server would need each password in clear
(or MD5(user:realm:password)), and passwords are stored only as argon2id hashes.
`OPENROSA_ALLOW_HTTP = True` accepts plain HTTP for local testing only, never in the field.

Every request carries its own credentials: no browser session is used or created, so a logged-in
browser is treated as anonymous here, and CSRF protection (which guards sessions) does not apply.
A submission goes to the same intake service as the web form (services.receive_interview): the
instrument's rules, the identifier screening, refusals, one row per instanceID, the same answer to
a resend or a race.

Messages reach the person holding the device, so they are in the account's own language, else the
one the device asks for (Accept-Language), like the web pages.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from survey.collection import openrosa, services
from survey.collection.openrosa import SubmissionError, openrosa_response
from survey.extensions import csrf, db, limiter
from survey.i18n import current_language
from survey.instruments import media as media_files
from survey.instruments import services as instruments
from survey.instruments.models import InstrumentVersion
from survey.instruments.rules import Outcome, evaluate_answers
from survey.instruments.spec import InstrumentSpec
from survey.users import devices
from survey.users import services as users
from survey.users.models import Role, User

bp = Blueprint("openrosa", __name__)
csrf.exempt(bp)  # authenticated per request; there is no session cookie for a forged request to use

REALM = "Birge"
XML_PART = "xml_submission_file"
INCOMPLETE_PART = "*isIncomplete*"
SUBMITTING_ROLES = (Role.VOLUNTEER, Role.COORDINATOR)  # admins are always admitted too
# Counts only refused credentials, per client address: password guessing across many accounts
# (the per-account lockout covers one account). Generous, since a field team may share one NAT.
failed_auth_limit = limiter.shared_limit(
    "60 per minute", scope="openrosa-auth", deduct_when=lambda response: response.status_code == 401
)

ERROR_MESSAGES = {
    400: _l("The request could not be understood."),
    404: _l("Not found on this server."),
    405: _l("This method is not allowed here."),
    429: _l("Too many failed logins from this network. Wait a minute and try again."),
}


def basic_auth(view: Callable[..., Response]) -> Callable[..., Response]:
    """Admit HTTPS requests of a volunteer, coordinator or admin: Basic credentials, or a device
    token in the URL (the same routes under /key/<token>/)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        token = kwargs.pop("token", None)
        user = _authenticate() if token is None else _authenticate_device(token)
        if isinstance(user, Response):
            return user
        if user.language in current_app.config["LANGUAGES"]:
            with force_locale(user.language):
                return view(user, *args, **kwargs)
        return view(user, *args, **kwargs)

    # Declared for the route × role test and the README table (survey.users.access).
    wrapped.allowed_roles = frozenset(str(r) for r in SUBMITTING_ROLES) | {Role.ADMIN.value}  # type: ignore[attr-defined]
    wrapped.auth = "basic"  # type: ignore[attr-defined]
    return wrapped


def _https_required() -> str:
    return _("HTTPS is required. Set the server URL in ODK Collect to the https:// address.")


def _challenge(message: str) -> Response:
    response = openrosa_response(message, 401)
    response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return response


def _authenticate() -> User | Response:
    """The account named by the Basic credentials, or the response refusing the request."""
    if not (request.is_secure or current_app.config.get("OPENROSA_ALLOW_HTTP")):
        # Checked before credentials are even read: over plain HTTP they are already exposed.
        return openrosa_response(_https_required(), 403)
    credentials = request.authorization
    if credentials is None or credentials.type != "basic" or not credentials.username:
        return _challenge(_("Log in with your Birge username and password."))
    username = credentials.username.strip()
    attempt = users.authenticate(username, credentials.password or "")
    if attempt.user is None:
        users.record_audit(
            "login_failed", details=users.failed_login_details(username, attempt, via="openrosa")
        )
        db.session.commit()
        if attempt.locked_until is not None:
            until = attempt.locked_until.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
            return _challenge(
                _("Too many failed attempts. Try again after %(until)s.", until=until)
            )
        return _challenge(_("Wrong username or password."))
    db.session.commit()  # the reset failure count must stick even if nothing else is stored
    if not attempt.user.has_role(*SUBMITTING_ROLES):
        return openrosa_response(
            _(
                "This account may not download forms or send interviews. Ask a coordinator for "
                "a volunteer account."
            ),
            403,
        )
    return attempt.user


def _authenticate_device(token: str) -> User | Response:
    """The account of the device whose token is in the URL, or the response refusing it."""
    if not (request.is_secure or current_app.config.get("OPENROSA_ALLOW_HTTP")):
        return openrosa_response(_https_required(), 403)
    found = devices.device_for_token(token)
    if found is None:
        db.session.rollback()
        return openrosa_response(
            _(
                "This device's key is not valid (it may have been revoked). Ask a coordinator "
                "for a new QR code."
            ),
            401,
        )
    db.session.commit()  # last_used_at
    _device, user = found
    if not user.has_role(*SUBMITTING_ROLES):
        return openrosa_response(_("This account may not download forms or send interviews."), 403)
    return user


def _route_arguments() -> dict[str, str]:
    """The device token of this request's URL, to build links under the same /key/<token>/."""
    token = (request.view_args or {}).get("token")
    return {"token": token} if token else {}


@bp.after_request
def add_headers(response: Response) -> Response:
    """Every response on these routes carries the OpenRosa headers."""
    return openrosa.add_openrosa_headers(response)


@bp.errorhandler(HTTPException)
def protocol_error(error: HTTPException) -> Response:
    """Errors as OpenRosaResponse documents that Collect shows, not as HTML pages."""
    db.session.rollback()
    code = error.code or 500
    if code == 413:
        limit = openrosa.accept_content_length()
        message = _(
            "The submission is larger than this server accepts (%(limit)s bytes). It was not "
            "stored.",
            limit=limit,
        )
    else:
        message = str(ERROR_MESSAGES.get(code, error.name))
    response = openrosa_response(message, code)
    for name, value in error.get_headers():
        if name.lower() not in {"content-type", "content-length"}:
            response.headers[name] = value
    return response


def _find_version(form_id: str, version: str | None) -> InstrumentVersion | Response:
    """The stored version a form ID and version attribute name, or a 404 saying which is unknown."""
    instrument = instruments.find_instrument(form_id)
    if instrument is None or not instrument.versions:
        return openrosa_response(
            _(
                "This server has no form with the ID '%(form_id)s'. Get the current blank forms "
                "again, then fill in a new copy.",
                form_id=form_id,
            ),
            404,
        )
    for candidate in reversed(instrument.versions):
        # A form without a version attribute matches the (latest) import whose XForm has none.
        if candidate.version == version or (
            version is None and openrosa.declared_version(candidate.xform) is None
        ):
            return candidate
    return openrosa_response(
        _(
            "The form '%(form_id)s' has no version '%(version)s' on this server. Get the "
            "current blank form again, then fill in a new copy.",
            form_id=form_id,
            version=version or _("(none)"),
        ),
        404,
    )


@bp.route("/formList")
@failed_auth_limit
@basic_auth
def form_list(user: User) -> Response:
    """The OpenRosa form list: every instrument's latest version, or only ?formID=.

    With ?listAllVersions=true (OpenRosa Form List API), every version of every instrument.
    """
    wanted = request.args.get("formID")
    all_versions = request.args.get("listAllVersions", "").strip().lower() == "true"
    versions = [
        version
        for instrument in instruments.list_instruments()
        if wanted is None or instrument.form_id == wanted
        for version in (
            instrument.versions if all_versions else [instruments.latest_version(instrument)]
        )
        if version is not None
    ]
    with_files = instruments.versions_with_attachments([v.id for v in versions])
    document = openrosa.form_list_xml(
        versions,
        lambda form_id, version: url_for(
            f"{request.blueprint}.form_xml",
            form_id=form_id,
            version=version,
            _external=True,
            **_route_arguments(),
        ),
        lambda version: (
            url_for(
                f"{request.blueprint}.form_manifest",
                form_id=version.instrument.form_id,
                version=version.version,
                _external=True,
                **_route_arguments(),
            )
            if version.id in with_files
            else None
        ),
    )
    return Response(document, content_type="text/xml; charset=utf-8")


@bp.route("/forms/<form_id>/<version>/manifest")
@failed_auth_limit
@basic_auth
def form_manifest(user: User, form_id: str, version: str) -> Response:
    """The OpenRosa manifest: each attachment of the version with its md5 and download URL."""
    found = _find_version(form_id, version)
    if isinstance(found, Response):
        return found
    files = [
        (
            item.filename,
            item.md5,
            url_for(
                f"{request.blueprint}.form_media",
                form_id=form_id,
                version=version,
                filename=item.filename,
                _external=True,
                **_route_arguments(),
            ),
        )
        for item in instruments.attachments_of(found)
    ]
    return Response(openrosa.manifest_xml(files), content_type="text/xml; charset=utf-8")


@bp.route("/forms/<form_id>/<version>/media/<path:filename>")
@failed_auth_limit
@basic_auth
def form_media(user: User, form_id: str, version: str, filename: str) -> Response:
    """One attachment of a version, as the manifest lists it."""
    found = _find_version(form_id, version)
    if isinstance(found, Response):
        return found
    item = instruments.attachment(found, filename)
    if item is None:
        return openrosa_response(
            _("The form has no attachment '%(name)s'.", name=filename[:120]), 404
        )
    response = Response(item.data, content_type=item.content_type)
    # Never rendered by a browser as a page of this site (an SVG or HTML could carry script).
    response.headers["Content-Disposition"] = "attachment"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.route("/forms/<form_id>/<version>/form.xml")
@failed_auth_limit
@basic_auth
def form_xml(user: User, form_id: str, version: str) -> Response:
    """The XForm of one version, byte for byte what the form list's hash describes."""
    found = _find_version(form_id, version)
    if isinstance(found, Response):
        return found
    return Response(found.xform, content_type="text/xml; charset=utf-8")


def _media_request_limit() -> None:
    """Let /submission take the files of the largest media form offered (the form is named
    inside the body, so it cannot be known first); the limit is announced to the device in
    X-OpenRosa-Accept-Content-Length, which reads it from the request."""
    allowances = [
        media_files.request_allowance(instruments.spec_for(version))
        for instrument in instruments.list_instruments()
        if (version := instruments.latest_version(instrument)) is not None
    ]
    request.max_content_length = max([request.max_content_length or 0, *allowances])


@bp.route("/submission", methods=["GET", "HEAD"])
@failed_auth_limit
@basic_auth
def submission_check(user: User) -> Response:
    """The pre-flight HEAD (authentication, size limit): 204 No Content, as Collect expects."""
    _media_request_limit()
    return Response(status=204)


def _submission_document() -> bytes | Response:
    """The bytes of the xml_submission_file part, or the response refusing the request.

    Other parts are the files of media answers (named by the file name the answer gives);
    _attach_media() reads them."""
    if request.mimetype != "multipart/form-data":
        return openrosa_response(
            _(
                "Send the interview as multipart/form-data with the XML in a part named %(part)s.",
                part=XML_PART,
            ),
            400,
        )
    files = request.files  # reading the body here raises 413 beyond MAX_CONTENT_LENGTH
    others = sorted(set(request.form.keys()) - {XML_PART})
    if INCOMPLETE_PART in others:
        # Collect splits an interview whose files exceed the announced size over several
        # requests; this server stores an interview only whole, from one request.
        return openrosa_response(
            _(
                "Nothing was stored: the interview and its files are larger than this server "
                "accepts in one request (%(limit)s bytes). Take smaller photos (Collect's "
                "settings: image size) or ask the administrator to raise the limit.",
                limit=openrosa.accept_content_length(),
            ),
            413,
        )
    if others:
        return openrosa_response(
            _(
                "Nothing was stored: this server takes the form's XML and the files its answers "
                "name, nothing else. Unexpected parts: %(parts)s",
                parts=", ".join(others[:10]),
            ),
            400,
        )
    parts = files.getlist(XML_PART) or request.form.getlist(XML_PART)
    if len(parts) != 1:
        return openrosa_response(
            _("Send exactly one part named %(part)s holding the form's XML.", part=XML_PART), 400
        )
    part = parts[0]
    return part.encode("utf-8") if isinstance(part, str) else part.read()


def _field_label(spec: InstrumentSpec, key: str) -> str:
    """'Household 1, Member 2: How old is this person? [age]' for a field key
    ('household-0-member-1-age'), entries numbered from 1 at each level."""
    language = current_language()
    entries: list[str] = []
    candidates = [r for r in spec.repeats_by_name.values() if r.repeat is None]
    rest = key
    while True:
        for repeat in candidates:
            index, _sep, name = rest.removeprefix(repeat.name + "-").partition("-")
            if rest.startswith(repeat.name + "-") and index.isdigit() and name:
                entries.append(
                    f"{spec.label(repeat.labels, language) or repeat.name} {int(index) + 1}"
                )
                candidates, rest = list(repeat.repeats), name
                break
        else:
            break
    item = spec.questions_by_name.get(rest) or spec.repeats_by_name.get(rest)
    label = spec.label(item.labels, language) if item is not None else ""
    text = f"{label} [{rest}]" if label else rest
    return f"{', '.join(entries)}: {text}" if entries else text


def _problems_message(spec: InstrumentSpec, errors: dict[str, list[str]]) -> str:
    lines = [f"- {_field_label(spec, key)}: {' '.join(texts)}" for key, texts in errors.items()]
    return (
        _("Not stored. Correct these answers, then send the form again:") + "\n" + "\n".join(lines)
    )


@bp.route("/submission", methods=["POST"])
@failed_auth_limit
@basic_auth
def submit(user: User) -> Response:
    """Receive one interview from ODK Collect: check it like the web form, store it once."""
    _media_request_limit()
    document = _submission_document()
    if isinstance(document, Response):
        return document
    try:
        root = openrosa.read_xml(document)
        form_id, version_text = openrosa.form_identity(root)
    except SubmissionError as error:
        return openrosa_response(str(error), 400)
    version = _find_version(form_id, version_text)
    if isinstance(version, Response):
        return version
    spec = instruments.spec_for(version)
    try:
        parsed = openrosa.parse_submission(root, spec)
    except SubmissionError as error:
        return openrosa_response(str(error), 400)
    attached = _attach_media(spec, parsed.answers, request.files)
    if isinstance(attached, Response):
        return attached
    answers, media = attached
    parsed = dataclasses.replace(parsed, answers=answers)
    outcome = evaluate_answers(
        spec, parsed.answers, language=current_language(), type_errors=parsed.type_errors
    )
    _reason, errors = services.screened(spec, outcome)
    if errors:
        return openrosa_response(_problems_message(spec, errors), 400)
    if parsed.deprecated_id and services.find_by_instance_id(parsed.deprecated_id):
        return openrosa_response(
            _(
                "This is an edited copy of an interview the server already has. Edits are not "
                "accepted from the phone: ask a coordinator to correct the stored interview."
            ),
            409,
        )
    return _store(user, version, spec, parsed, outcome, media)


def _attach_media(
    spec: InstrumentSpec, answers: dict[str, Any], files: Mapping[str, FileStorage]
) -> tuple[dict[str, Any], dict[str, media_files.MediaFile]] | Response:
    """Clean the file of each media answer; the answer becomes the stored file's name."""
    media: dict[str, media_files.MediaFile] = {}
    used: set[str] = set()
    problems: list[str] = []

    def swap(values: dict[str, Any]) -> dict[str, Any]:
        out = dict(values)
        for name, value in values.items():
            if name in spec.repeats_by_name and isinstance(value, list):
                out[name] = [swap(entry) for entry in value]
                continue
            question = spec.questions_by_name.get(name)
            if question is None or question.type not in media_files.MEDIA_TYPES or not value:
                continue
            part = files.get(str(value))
            if part is None:
                problems.append(
                    f"- {_field_label(spec, name)}: "
                    + _("the file %(name)s was not sent.", name=str(value))
                )
                out[name] = None
                continue
            used.add(str(value))
            try:
                cleaned = media_files.clean_upload(
                    name,
                    question.type,
                    str(value),
                    part.stream.read(media_files.max_bytes(question.type) + 1),
                )
            except media_files.MediaRefused as error:
                problems.append(f"- {_field_label(spec, name)}: {error}")
                continue
            media[cleaned.filename] = cleaned
            out[name] = cleaned.filename
        return out

    rewritten = swap(answers)
    unexpected = sorted(set(files.keys()) - used - {XML_PART})
    if unexpected:
        problems.append(
            _(
                "The answers name no attachments called %(names)s.",
                names=", ".join(unexpected[:10]),
            )
        )
    if problems:
        return openrosa_response(
            _("Not stored. Send the form again with these files:") + "\n" + "\n".join(problems),
            400,
        )
    return rewritten, media


def _store(
    user: User,
    version: InstrumentVersion,
    spec: InstrumentSpec,
    parsed: openrosa.ParsedSubmission,
    outcome: Outcome,
    media: Mapping[str, media_files.MediaFile] | None = None,
) -> Response:
    """Hand the interview to intake; answer 201 only after the commit (a resend: the same)."""
    language = request.accept_languages.best_match(spec.languages) or spec.default_language
    acknowledgement = services.receive_interview(
        services.Interview(
            version=version,
            spec=spec,
            outcome=outcome,
            instance_id=parsed.instance_id,
            language=language,
            entered_by=user,
            source="openrosa",
            started_at=parsed.started_at,
            ended_at=parsed.ended_at,
            media=media or {},
        )
    )
    if not acknowledgement.stored:
        db.session.rollback()
        if acknowledgement.status == "no_round":
            return openrosa_response(
                _("No survey round is open. Ask an administrator to add one, then send again."),
                409,
            )
        if acknowledgement.status == "invalid":  # checked above; kept for completeness
            return openrosa_response(_problems_message(spec, dict(acknowledgement.errors)), 400)
        return openrosa_response(
            _(
                "An interview with this instanceID was already received with different "
                "answers. Nothing was overwritten. Fill in a new copy of the form for these "
                "answers."
            ),
            409,
        )
    db.session.commit()
    if acknowledgement.status == "refusal":
        return openrosa_response(_("Refusal recorded, no answers stored."), 201)
    if acknowledgement.receipt_code is None:
        # The receipt code is the respondent's key to withdrawal: only its volunteer sees it.
        return openrosa_response(_("Already received."), 201)
    return openrosa_response(
        _("Saved. Receipt code: %(code)s", code=acknowledgement.receipt_code), 201
    )
