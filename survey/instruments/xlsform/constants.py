"""What the importer accepts: XLSForm types as pyxform describes them, appearances, sheets,
limits, and the kinds of identifying data an admin can confirm."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


# What each XLSForm type becomes, decided from pyxform's own description of the type (its
# QUESTION_TYPE_DICT: the XForm control and bind type), so every alias pyxform accepts ('int',
# 'string', 'gps', 'photo', 'select one', 'phone number', ...) is read as pyxform reads it.
INPUT_TYPES = {
    "string": "text",
    "int": "integer",
    "decimal": "decimal",
    "date": "date",
    "time": "time",
    "dateTime": "datetime",
    "geopoint": "geopoint",
    "geotrace": "geotrace",
    "geoshape": "geoshape",
    "barcode": "barcode",
}
# Metadata the device (or the server, for the web form) fills in: ODK's jr:preload parameters.
PRELOAD_TYPES = {
    "start": "start",
    "end": "end",
    "today": "today",
    "deviceid": "deviceid",
    "uri:deviceid": "deviceid",
    "subscriberid": "subscriberid",
    "uri:subscriberid": "subscriberid",
    "simserial": "simserial",
    "uri:simserial": "simserial",
    "phonenumber": "phonenumber",
    "uri:phonenumber": "phonenumber",
    "username": "username",
    "uri:username": "username",
    "email": "email",
    "uri:email": "email",
}
# Device identifiers: identifying data, stored only where the admin confirmed it at import.
DEVICE_ID_TYPES = {"deviceid", "subscriberid", "simserial", "phonenumber", "username", "email"}
MEDIA_TYPES = {"image", "audio", "video", "file", "background-audio", "osm"}
QUESTION_APPEARANCES = {
    # rendered on the web page
    "minimal",
    "multiline",
    "numbers",
    "thousands-sep",
    "autocomplete",
    "search",
    "no-calendar",
    "month-year",
    "year",
    "likert",
    "columns",
    "columns-pack",
    "columns-2",
    "columns-3",
    "columns-4",
    "columns-5",
    "horizontal",
    "horizontal-compact",
    "compact",
    "quick",
    "quickcompact",
    "label",
    "list-nolabel",
    "list",
    "hidden-answer",
    "masked",
    "url",
    # accepted: they change a device's widget (maps, pickers, calendars), not the answer
    "maps",
    "map",
    "placement-map",
    "hide-input",
    "picker",
    "rating",
    "no-buttons",
    "no-ticks",
    "vertical",
    "distress",
    "bearing",
    "counter",
    "new",
    "draw",
    "annotate",
    "signature",
    "selfie",
    "printer",
    "image-map",
    "field-list",
    "table-list",
    "no-calender",
    "ethiopian",
    "coptic",
    "islamic",
    "bikram-sambat",
    "myanmar",
    "persian",
    "buddhist",
}
GROUP_APPEARANCES = {"field-list", "table-list", "compact", "no-collapse"}
# pyxform writes "Specify other." untranslated for or_other; give volunteers their language.
OTHER_LABELS = {"en": "Specify other", "ru": "Укажите другое", "kk": "Басқасын көрсетіңіз"}
OTHER_CHOICE_LABELS = {"en": "Other", "ru": "Другое", "kk": "Басқа"}
MAX_QUESTIONS = 2000
PLAN_SHEETS = ("analysis", "severity")
OLE2_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
NAME_HEADERS = {"name", "value", "tag"}
TYPE_HEADERS = {"type", "command"}
# Kinds of identifying data an admin can confirm at import (issue 9, part 6).
IDENTIFYING_KINDS = ("precise_location", "device_ids", "media", "phone_numbers")
