"""Interface language: kk, ru, en; chosen by ?lang= anywhere (the login page included), and
remembered in the session, on the account (users.language) and on the device (a cookie)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user

from reports.formatting import numeric_date
from reports.languages import LANGUAGE_NAMES
from survey.extensions import db

LANGUAGE_COOKIE = "birge_lang"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600


def select_locale() -> str:
    """Pick the interface language for this request."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI commands and background work speak the default
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in languages:
        return chosen
    user_language = getattr(current_user, "language", None)
    if user_language in languages:
        return user_language
    if request.cookies.get(LANGUAGE_COOKIE) in languages:
        return request.cookies[LANGUAGE_COOKIE]
    return (
        request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def current_language() -> str:
    """The two-letter code of the language in use."""
    return str(get_locale() or "en")[:2]


def format_date(value: dt.date | dt.datetime | str | None) -> str:
    """dd.mm.yyyy in kk and ru, ISO 8601 in en (DOMAIN.md §8), in the interface language."""
    return numeric_date(value, current_language())


def format_datetime(value: dt.datetime | None) -> str:
    """Date and minutes, in the same convention as format_date (UTC)."""
    if value is None:
        return ""
    return f"{format_date(value)} {value.strftime('%H:%M')} UTC"


def init_app(app: Flask) -> None:
    """Remember a ?lang= choice and expose language helpers to templates."""

    @app.before_request
    def remember_language() -> None:
        lang = request.args.get("lang")
        if lang in app.config["LANGUAGES"]:
            session["lang"] = lang
            g.chosen_language = lang
            user = current_user._get_current_object() if current_user else None
            if user is not None and user.is_authenticated and user.language != lang:
                user.language = lang
                db.session.commit()

    @app.after_request
    def remember_language_on_device(response: Any) -> Any:
        lang = g.get("chosen_language")
        if lang:
            response.set_cookie(
                LANGUAGE_COOKIE,
                lang,
                max_age=LANGUAGE_COOKIE_AGE,
                samesite="Lax",
                httponly=True,
                secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
            )
        return response

    @app.context_processor
    def language_context() -> dict:
        return {
            "current_language": current_language(),
            "language_names": LANGUAGE_NAMES,
        }

    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
