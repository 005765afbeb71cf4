"""OpenRosa 1.0 for ODK Collect and KoboCollect: the form list, reading a submission, responses.

Follows the specifications at docs.getodk.org: "Form List API", "Form Submission API",
"HTTP Requests and Responses" (OpenRosa Request). Submissions are parsed with defusedxml only, with
DTDs forbidden: a document that declares a DTD or an entity is refused before anything is read.
Answers come out typed exactly as the web form types them (survey.instruments.registry), so both
channels hand the same values to rules.evaluate_answers.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Only used to *build* response documents from our own values; parsing goes through defusedxml.
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as safe_xml
from defusedxml import DefusedXmlException
from flask import Response, current_app, has_request_context, request
from flask_babel import get_locale
from flask_babel import gettext as _

from survey.collection.services import valid_instance_id
from survey.instruments.models import InstrumentVersion
from survey.instruments.registry import clean_text, parser_for
from survey.instruments.rules import field_key
from survey.instruments.spec import InstrumentSpec, Question, Repeat

OPENROSA_VERSION = "1.0"
FORM_LIST_NAMESPACE = "http://openrosa.org/xforms/xformsList"
MANIFEST_NAMESPACE = "http://openrosa.org/xforms/xformsManifest"
RESPONSE_NAMESPACE = "http://openrosa.org/http/response"
XFORMS_NAMESPACE = "http://www.w3.org/2002/xforms"
JAVAROSA_NAMESPACE = "http://openrosa.org/javarosa"
XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8' ?>\n"
# Used only when the app sets no MAX_CONTENT_LENGTH; the header is required on success.
FALLBACK_ACCEPT_CONTENT_LENGTH = 10 * 1024 * 1024


class SubmissionError(ValueError):
    """A submission document the server cannot read; the message tells the device why."""


@dataclass(frozen=True)
class ParsedSubmission:
    """One submission read from its XML: identity, typed answers, typing errors, timing."""

    form_id: str
    version: str | None
    instance_id: str
    answers: dict[str, Any]
    type_errors: dict[str, str] = field(default_factory=dict)
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    deprecated_id: str | None = None


# -- responses -----------------------------------------------------------------------------------


def accept_content_length() -> int:
    """The largest POST body this server accepts, announced in X-OpenRosa-Accept-Content-Length."""
    # The request's own limit: the submission routes raise it for forms with media questions.
    limit = request.max_content_length if has_request_context() else None
    return int(
        limit or current_app.config.get("MAX_CONTENT_LENGTH") or FALLBACK_ACCEPT_CONTENT_LENGTH
    )


def add_openrosa_headers(response: Response) -> Response:
    """Set the headers every OpenRosa response carries (the server adds Date itself)."""
    response.headers["X-OpenRosa-Version"] = OPENROSA_VERSION
    response.headers["X-OpenRosa-Accept-Content-Length"] = str(accept_content_length())
    return response


def openrosa_response(message: str, status: int, nature: str | None = None) -> Response:
    """An OpenRosaResponse envelope with one message for the person holding the device."""
    root = Element("OpenRosaResponse", xmlns=RESPONSE_NAMESPACE)
    item = SubElement(
        root, "message", nature=nature or ("submit_success" if status < 300 else "error")
    )
    item.text = str(message)
    response = Response(
        XML_DECLARATION + tostring(root, encoding="unicode"),
        status=status,
        content_type="text/xml; charset=utf-8",
    )
    # Messages are in the account's language, else the one the device asks for (i18n).
    response.headers["Content-Language"] = str(get_locale() or "en")[:2]
    return add_openrosa_headers(response)


# -- form list -----------------------------------------------------------------------------------


def xform_hash(xml: str | bytes) -> str:
    """The form list's hash of a form definition: MD5 of the exact bytes served, 'md5:<hex>'."""
    data = xml.encode("utf-8") if isinstance(xml, str) else xml
    return "md5:" + hashlib.md5(data, usedforsecurity=False).hexdigest()


def form_list_xml(
    versions: Iterable[InstrumentVersion],
    url_for: Callable[[str, str], str],
    manifest_url: Callable[[InstrumentVersion], str | None] | None = None,
) -> str:
    """The <xforms> document listing these versions; url_for(form_id, version) → download URL;
    manifest_url(version) → the manifest of a version with attachments (None without)."""
    root = Element("xforms", xmlns=FORM_LIST_NAMESPACE)
    for version in versions:
        form_id = version.instrument.form_id
        entry = SubElement(root, "xform")
        for tag, text in (
            ("formID", form_id),
            ("name", version.title),
            ("version", version.version),
            ("hash", xform_hash(version.xform)),
            ("downloadUrl", url_for(form_id, version.version)),
        ):
            SubElement(entry, tag).text = text
        manifest = manifest_url(version) if manifest_url is not None else None
        if manifest:
            SubElement(entry, "manifestUrl").text = manifest
    return XML_DECLARATION + tostring(root, encoding="unicode")


def manifest_xml(files: Iterable[tuple[str, str, str]]) -> str:
    """The OpenRosa manifest of a form's attachments: (file name, md5 hex, download URL)."""
    root = Element("manifest", xmlns=MANIFEST_NAMESPACE)
    for filename, md5, url in files:
        entry = SubElement(root, "mediaFile")
        SubElement(entry, "filename").text = filename
        SubElement(entry, "hash").text = f"md5:{md5}"
        SubElement(entry, "downloadUrl").text = url
    return XML_DECLARATION + tostring(root, encoding="unicode")


@functools.lru_cache(maxsize=64)
def declared_version(xform: str) -> str | None:
    """The version attribute an XForm's primary instance declares (None when it has none)."""
    root = safe_xml.fromstring(xform.encode("utf-8"), forbid_dtd=True)
    instance = root.find(f".//{{{XFORMS_NAMESPACE}}}model/{{{XFORMS_NAMESPACE}}}instance")
    if instance is None or len(instance) == 0:
        return None
    return instance[0].get("version") or None


# -- submissions ---------------------------------------------------------------------------------


def local_name(element: Element) -> str:
    """An element's name without its namespace: clients differ in which namespaces they write."""
    return str(element.tag).rpartition("}")[2]


def read_xml(data: bytes) -> Element:
    """Parse a submission safely; SubmissionError for malformed XML, DTDs and entities."""
    try:
        return safe_xml.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise SubmissionError(
            _(
                "The submission declares a DTD or entities, which this server refuses. Send "
                "the form's XML as ODK Collect writes it."
            )
        ) from error
    except (safe_xml.ParseError, ValueError) as error:
        raise SubmissionError(
            _("The submission is not well-formed XML (%(error)s).", error=str(error))
        ) from error


def form_identity(root: Element) -> tuple[str, str | None]:
    """(form ID, version) from the root element's id and version attributes."""
    form_id = (root.get("id") or "").strip()
    if not form_id:
        raise SubmissionError(
            _("The submission's root element has no 'id' attribute, so the form is unknown.")
        )
    version = (root.get("version") or "").strip()
    return form_id, version or None


def typed_value(question: Question, text: str) -> Any:
    """An answer's text as the web form stores it; ValueError (translatable) when mistyped."""
    if question.type == "select_one":
        return clean_text(text) or None
    if question.type in {"select_multiple", "rank"}:
        # XForms separates chosen codes with spaces; the web form gets them as a list.
        codes: list[str] = []
        for raw in text.split():
            code = clean_text(raw)
            if code and code not in codes:
                codes.append(code)
        return codes or None
    if question.type == "acknowledge":
        return "OK" if text.strip() else None
    parser = parser_for(question)
    if parser is None:
        return None
    return parser(text)


def _timestamp(text: str | None) -> dt.datetime | None:
    if not text or not text.strip():
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None  # a device clock's odd format must not cost the interview
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def instance_paths(spec: InstrumentSpec) -> dict[str, Question | Repeat | None]:
    """Every element path of a submission the spec knows ('section/group/question'), mapped to
    its question or repeat, and to None for the groups in between.

    Versions stored before groups could nest have no paths: there a question may sit at the
    top or in its section, as before.
    """
    paths: dict[str, Question | Repeat | None] = {}

    def add(path: str, item: Question | Repeat) -> None:
        paths[path] = item
        parts = path.split("/")
        for depth in range(1, len(parts)):
            paths.setdefault("/".join(parts[:depth]), None)

    for section in spec.sections:
        for item in section.items:
            members = item.questions if isinstance(item, Repeat) else ()
            if item.path:
                add(item.path, item)
            else:
                add(item.name, item)
                add(f"{section.name}/{item.name}", item)
            if isinstance(item, Repeat):
                # Repeats inside repeats, and their questions (imported with paths always).
                for inner in list(item.iter_repeats())[1:]:
                    add(inner.path or inner.name, inner)
                    for question in inner.questions:
                        add(question.path or question.name, question)
            for question in members:
                if question.path:
                    add(question.path, question)
                else:
                    for base in (item.name, f"{section.name}/{item.name}"):
                        add(f"{base}/{question.name}", question)
    return paths


class _Reader:
    """Walks the instance along the paths the spec knows: groups are flattened (each question
    has its own key), repeats become lists."""

    def __init__(self, spec: InstrumentSpec) -> None:
        self.spec = spec
        self.paths = instance_paths(spec)
        self.answers: dict[str, Any] = {}
        self.type_errors: dict[str, str] = {}
        self.meta: dict[str, str] = {}
        self.seen: set[str] = set()

    def read(self, root: Element) -> None:
        self.walk(root, "", None, self.answers)

    def walk(
        self,
        parent: Element,
        base: str,
        entry: tuple[Repeat, int, str] | None,
        target: dict[str, Any],
    ) -> None:
        """Read the children of `parent`; inside a repeat, `entry` is its repeat, the entry's
        number and the field name of its list ('household-0-member' for a repeat inside a
        repeat), and `target` the entry's answers."""
        # Only paths the spec knows are followed, so the depth of the walk is the form's.
        for child in parent:
            name = local_name(child)
            path = f"{base}/{name}" if base else name
            known = path in self.paths
            item = self.paths.get(path)
            if not base and name == "meta" and not known:
                for element in child:
                    self.meta.setdefault(local_name(element), (element.text or "").strip())
            elif isinstance(item, Repeat) and item.repeat == (entry[0].name if entry else None):
                if child.get(f"{{{JAVAROSA_NAMESPACE}}}template") is not None:
                    continue  # a form's blank template, never an entry
                entries = target.setdefault(item.name, [])
                values: dict[str, Any] = {}
                entries.append(values)
                list_name = f"{entry[2]}-{entry[1]}-{item.name}" if entry else item.name
                self.walk(child, path, (item, len(entries) - 1, list_name), values)
            elif isinstance(item, Question):
                repeat = entry[0].name if entry else None
                if item.repeat != repeat:
                    continue
                key = field_key(item.name, entry[2], entry[1]) if entry else item.name
                self.answer(item, child, key, target)
            elif known and item is None:
                self.walk(child, path, entry, target)
            elif not base and name in {"start", "end"}:
                self.meta.setdefault(
                    "timeStart" if name == "start" else "timeEnd", child.text or ""
                )
            # Anything else is ignored, as the web form ignores fields it does not know.

    def answer(
        self, question: Question, element: Element, key: str, target: dict[str, Any]
    ) -> None:
        if key in self.seen:
            raise SubmissionError(_("The answer to '%(key)s' appears more than once.", key=key))
        self.seen.add(key)
        if not question.has_input:
            return  # notes hold nothing and calculations are recomputed by the server
        if len(element):
            raise SubmissionError(
                _("The answer to '%(key)s' holds elements instead of a value.", key=key)
            )
        try:
            value = typed_value(question, element.text or "")
        except ValueError as error:
            self.type_errors[key] = str(error)
            return
        if value is not None:
            target[question.name] = value


def parse_submission(xml: bytes | Element, spec: InstrumentSpec) -> ParsedSubmission:
    """Read a submission (bytes, or a root already parsed by read_xml) against its instrument."""
    root = read_xml(bytes(xml)) if isinstance(xml, bytes | bytearray) else xml
    form_id, version = form_identity(root)
    reader = _Reader(spec)
    reader.read(root)
    instance_id = valid_instance_id(reader.meta.get("instanceID"))
    if instance_id is None:
        raise SubmissionError(
            _("The submission has no valid meta/instanceID (expected 'uuid:' and a UUID).")
        )
    return ParsedSubmission(
        form_id=form_id,
        version=version,
        instance_id=instance_id,
        answers=reader.answers,
        type_errors=reader.type_errors,
        started_at=_timestamp(reader.meta.get("timeStart")),
        ended_at=_timestamp(reader.meta.get("timeEnd")),
        deprecated_id=valid_instance_id(reader.meta.get("deprecatedID")),
    )
