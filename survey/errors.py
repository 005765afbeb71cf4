"""Error pages: a clear message in the user's language, never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from survey.extensions import db

MESSAGES = {
    400: _l("The request could not be understood. Go back and try again."),
    403: _l("You do not have permission to open this page."),
    404: _l("This page does not exist."),
    405: _l("This action is not allowed here."),
    409: _l("This conflicts with data already saved."),
    413: _l("The file or form is too large."),
    429: _l("Too many attempts. Wait a little and try again."),
    500: _l("Something went wrong on our side. Nothing you typed was saved; try again."),
}


def render_error(code: int, message: str | None = None) -> tuple[str, int]:
    """Render the error page for an HTTP status code."""
    text = message or MESSAGES.get(code, MESSAGES[500])
    return render_template("errors/error.html", code=code, message=text), code


def init_app(app: Flask) -> None:
    """Register handlers for HTTP errors, CSRF failures and unexpected exceptions."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        db.session.rollback()
        return render_error(
            400,
            str(
                _l(
                    "This form expired or was sent twice. Your answers were not saved: "
                    "go back, reload the page and send it again."
                )
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        db.session.rollback()
        code = error.code or 500
        return render_error(code)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception) -> tuple[str, int]:
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return render_error(500)
