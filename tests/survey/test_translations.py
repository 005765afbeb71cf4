"""Interface translations: kk and ru catalogs are complete, well-formed and up to date.

English is the source language. When a test here fails after you added or changed a string,
run `make translations-extract`, then translate the new entries in
survey/translations/kk/LC_MESSAGES/messages.po and survey/translations/ru/LC_MESSAGES/messages.po.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "survey" / "translations"
POT = TRANSLATIONS / "messages.pot"
LANGUAGES = ("kk", "ru")
HOW_TO_FIX = (
    "Run `make translations-extract`, then translate the new or changed strings in "
    "survey/translations/kk/LC_MESSAGES/messages.po and "
    "survey/translations/ru/LC_MESSAGES/messages.po."
)
# The extraction command of the Makefile's translations-extract target.
EXTRACT = ["extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_ngettext:1,2"]

# printf-style placeholders: %(name)s, %(n)d, %s, and the escaped percent sign %%.
PLACEHOLDER = re.compile(r"%(?:\([A-Za-z_]\w*\))?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")
LETTERS = re.compile(r"[^\W\d_]+")
LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
KAZAKH_ONLY = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
# Letters that look like і but are not the Kazakh one (U+0456).
WRONG_I = {"\u0457": "ї (Ukrainian yi)", "\u04cf": "ӏ (palochka)", "\u0131": "ı (dotless i)"}
PLURAL_FORMS = {
    "kk": (2, "(n != 1)"),
    "ru": (3, None),  # Babel's CLDR rule: one / few / many
}


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def po_path(lang: str) -> Path:
    return TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"


def entries(catalog: Catalog) -> dict[tuple[object, str | None], Message]:
    """Every real message (not the header), keyed by (msgid, msgctxt)."""
    return {(m.id, m.context): m for m in catalog if m.id}


def describe(keys: set[tuple[object, str | None]]) -> list[str]:
    """The msgids (with their msgctxt, if any) for an error message, sorted."""
    return sorted(
        f"{msgid!r}" + (f" (context {context!r})" if context else "") for msgid, context in keys
    )


def strings_of(message: Message) -> list[str]:
    """The translation, or every plural form of it."""
    if isinstance(message.string, tuple | list):
        return list(message.string)
    return [message.string or ""]


def sources_of(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple | list) else [message.id]


@pytest.fixture(scope="module")
def template() -> Catalog:
    return read_catalog(POT)


@pytest.fixture(scope="module", params=LANGUAGES)
def translated(request: pytest.FixtureRequest) -> tuple[str, Catalog]:
    lang = request.param
    return lang, read_catalog(po_path(lang), locale=lang)


def test_template_is_up_to_date(tmp_path: Path, template: Catalog) -> None:
    fresh_path = tmp_path / "messages.pot"
    result = subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "-q", *EXTRACT, "-o", fresh_path, "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    fresh = read_catalog(fresh_path)
    assert not any(".venv" in loc for m in fresh for loc, _line in m.locations)
    added = describe(entries(fresh).keys() - entries(template).keys())
    removed = describe(entries(template).keys() - entries(fresh).keys())
    changes = added + removed
    assert not changes, (
        f"survey/translations/messages.pot is out of date.\n"
        f"New strings in the code: {added}\nNo longer in the code: {removed}\n{HOW_TO_FIX}"
    )


def test_catalog_has_every_message_translated(
    template: Catalog, translated: tuple[str, Catalog]
) -> None:
    lang, catalog = translated
    expected = entries(template)
    found = entries(catalog)
    missing = describe(expected.keys() - found.keys())
    assert not missing, f"{lang}: not in the .po: {missing}\n{HOW_TO_FIX}"
    stale = describe(found.keys() - expected.keys())
    assert not stale, f"{lang}: in the .po but no longer in the code: {stale}\n{HOW_TO_FIX}"
    untranslated = [
        key
        for key, message in found.items()
        if not all(s.strip() for s in strings_of(message))
        or (message.pluralizable and len(strings_of(message)) != catalog.num_plurals)
    ]
    assert not untranslated, f"{lang}: untranslated: {describe(set(untranslated))}\n{HOW_TO_FIX}"
    fuzzy = describe({key for key, message in found.items() if message.fuzzy})
    assert not fuzzy, f"{lang}: fuzzy (check the translation, then remove the flag): {fuzzy}"


def test_plural_forms_header(translated: tuple[str, Catalog]) -> None:
    lang, catalog = translated
    count, rule = PLURAL_FORMS[lang]
    assert catalog.num_plurals == count
    if rule:
        assert catalog.plural_expr.replace(" ", "") == rule.replace(" ", "")
    assert str(catalog.locale) == lang


def test_placeholders_are_preserved(translated: tuple[str, Catalog]) -> None:
    lang, catalog = translated
    problems = []
    for message in entries(catalog).values():
        wanted = Counter(PLACEHOLDER.findall(sources_of(message)[0]))
        for text in strings_of(message):
            if Counter(PLACEHOLDER.findall(text)) != wanted:
                problems.append((message.id, text))
            # Templates format every translation with %: a lone % would break the page.
            if "%" in PLACEHOLDER.sub("", text):
                problems.append((message.id, text))
    assert not problems, f"{lang}: placeholders differ from the English: {problems}"
    errors = [(m.id, [str(e) for e in errs]) for m, errs in catalog.check()]
    assert not errors, f"{lang}: {errors}"


def test_no_latin_letters_inside_cyrillic_words(translated: tuple[str, Catalog]) -> None:
    lang, catalog = translated
    mixed = [
        (word, text)
        for message in entries(catalog).values()
        for text in strings_of(message)
        for word in LETTERS.findall(text)
        if LATIN.search(word) and CYRILLIC.search(word)
    ]
    assert not mixed, f"{lang}: words mixing Latin and Cyrillic letters: {mixed}"


def test_kazakh_and_russian_alphabets(translated: tuple[str, Catalog]) -> None:
    lang, catalog = translated
    texts = [t for m in entries(catalog).values() for t in strings_of(m)]
    wrong_i = [(WRONG_I[c], t) for t in texts for c in t if c in WRONG_I]
    assert not wrong_i, f"{lang}: use і (U+0456) for the Kazakh і: {wrong_i}"
    if lang == "kk":
        assert any("\u0456" in t for t in texts)
    else:
        kazakh = [t for t in texts if KAZAKH_ONLY & set(t)]
        assert not kazakh, f"ru: Kazakh-only letters in Russian text: {kazakh}"


def test_flask_babel_reads_the_translations_folder(app) -> None:
    from flask_babel import get_babel

    directories = [Path(d) for d in get_babel(app).translation_directories]
    assert TRANSLATIONS in directories


@pytest.mark.parametrize(
    ("lang", "log_in", "username"),
    [("kk", "Кіру", "Пайдаланушы аты"), ("ru", "Войти", "Имя пользователя")],
)
def test_login_page_is_translated(client, lang: str, log_in: str, username: str) -> None:
    page = client.get(f"/login?lang={lang}")
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.text
    assert f"<h1>{log_in}</h1>" in page.text
    assert username in page.text
    assert ">Log in<" not in page.text


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("kk", ["Сәлеметсіз бе, volunteer", "Жаңа сұхбат", "Сұхбатты бастау", "Шығу"]),
        ("ru", ["Здравствуйте, volunteer", "Новое интервью", "Начать интервью", "Выйти"]),
    ],
)
def test_home_page_is_translated(
    client, auth, default_instrument, lang: str, expected: list[str]
) -> None:
    auth.login("volunteer")
    page = client.get(f"/?lang={lang}")
    assert page.status_code == 200
    for text in expected:
        assert text in page.text
    assert "Start interview" not in page.text
    # The choice is remembered for the next page.
    assert expected[-1] in client.get("/submissions").text
