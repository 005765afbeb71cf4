"""Log in and out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from survey.extensions import db, limiter, login_manager
from survey.users import services
from survey.users.forms import LoginForm
from survey.users.models import User

bp = Blueprint("users", __name__)

login_manager.login_view = "users.login"
login_manager.login_message = None


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the active user with this id."""
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("collection.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login() -> str | Response:
    """Show the login form and log in."""
    if current_user.is_authenticated:
        return redirect(url_for("collection.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.username.data or "", form.password.data or "")
        if user is None:
            services.record_audit("login_failed", target=(form.username.data or "")[:80])
            db.session.commit()
            form.password.errors = [_("Wrong username or password.")]
        else:
            login_user(user)
            services.record_audit("login", user=user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("users/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    """Log out (POST only, so a link cannot log anyone out)."""
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("users.login"))
