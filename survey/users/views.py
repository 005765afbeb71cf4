"""Log in and out, change one's password, manage accounts, read the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from survey.extensions import db, limiter, login_manager
from survey.i18n import format_datetime
from survey.users import audit_words, services
from survey.users.access import any_role, public, roles_required
from survey.users.forms import (
    ROLE_CHOICES,
    AuditFilterForm,
    LoginForm,
    PasswordChangeForm,
    UserCreateForm,
    UserEditForm,
)
from survey.users.models import Role, User, utcnow

bp = Blueprint("users", __name__)

login_manager.login_view = "users.login"
login_manager.login_message = None


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the active user with this id."""
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


@bp.before_app_request
def end_idle_sessions() -> None:
    """Log out a session left idle longer than IDLE_TIMEOUT_MINUTES."""
    if not current_user.is_authenticated:
        return
    now = utcnow().timestamp()
    limit = current_app.config["IDLE_TIMEOUT_MINUTES"] * 60
    last_seen = session.get("last_seen")
    if isinstance(last_seen, int | float) and now - last_seen > limit:
        logout_user()
        session.clear()
        flash(_("You were logged out after a long time without activity."), "info")
        return
    session["last_seen"] = now


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("collection.home")


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.limit("20 per minute", methods=["POST"])
def login() -> str | Response:
    """Show the login form and log in."""
    if current_user.is_authenticated:
        return redirect(url_for("collection.home"))
    form = LoginForm()
    if form.validate_on_submit():
        username = (form.username.data or "").strip()
        attempt = services.authenticate(username, form.password.data or "")
        if attempt.user is None:
            services.record_audit(
                "login_failed",
                target=username[:80],
                details={"locked": attempt.locked_until is not None},
            )
            db.session.commit()
            if attempt.locked_until is not None:
                form.password.errors = [
                    _(
                        "Too many failed attempts. Try again after %(time)s.",
                        time=format_datetime(attempt.locked_until),
                    )
                ]
            else:
                form.password.errors = [_("Wrong username or password.")]
        else:
            chosen = session.get("lang")  # picked on the login page: it follows the account
            session.clear()
            login_user(attempt.user)
            if chosen in current_app.config["LANGUAGES"]:
                attempt.user.language = chosen
            if attempt.user.language:
                session["lang"] = g.chosen_language = attempt.user.language
            session.permanent = True
            session["last_seen"] = utcnow().timestamp()
            services.record_audit("login", user=attempt.user)
            db.session.commit()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("users/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Response:
    """Log out (POST only, so a link cannot log anyone out)."""
    if current_user.is_authenticated:
        services.record_audit("logout", user=current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("users.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@any_role
def change_password() -> str | Response:
    """Change one's own password."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data or "", form.new.data or "")
        except services.AccountError as error:
            db.session.rollback()
            form.new.errors = [str(error)]
        else:
            services.record_audit("password_changed", user=current_user._get_current_object())
            db.session.commit()
            flash(_("Your password was changed."), "success")
            return redirect(url_for("collection.home"))
    return render_template("users/password.html", form=form)


def _may_manage(user: User) -> bool:
    """Admins manage everyone; coordinators manage volunteers."""
    if current_user.has_role(Role.ADMIN):
        return True
    return user.role == Role.VOLUNTEER


@bp.route("/admin/users", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def users() -> Any:
    """Accounts, and a form to add one (coordinators add volunteers only)."""
    form = UserCreateForm()
    if not current_user.has_role(Role.ADMIN):
        form.role.choices = [c for c in ROLE_CHOICES if c.value == "volunteer"]
    new_password = None
    if form.validate_on_submit():
        password = services.generate_password()
        try:
            user = services.create_user(form.username.data or "", password, form.role.data)
        except services.AccountError as error:
            db.session.rollback()
            form.username.errors = [str(error)]
        else:
            services.record_audit(
                "user_created",
                user=current_user._get_current_object(),
                target=user.username,
                details={"role": user.role},
            )
            db.session.commit()
            new_password = (user.username, password)
            form = UserCreateForm(formdata=None)
    visible = [u for u in services.list_users() if _may_manage(u) or u.id == current_user.id]
    return render_template(
        "users/list.html",
        form=form,
        users=visible,
        new_password=new_password,
        role_names={c.value: c.label for c in ROLE_CHOICES},
    ), (422 if form.errors else 200)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def edit_user(user_id: int) -> Any:
    """Change an account's role or status, or reset its password."""
    user = db.session.get(User, user_id)
    if user is None or not _may_manage(user):
        abort(404)
    form = UserEditForm(obj=user)
    if not current_user.has_role(Role.ADMIN):
        form.role.choices = [c for c in ROLE_CHOICES if c.value == "volunteer"]
    new_password = None
    actor = current_user._get_current_object()
    if request.method == "POST" and request.form.get("reset_password"):
        if form.validate():  # CSRF
            new_password = services.generate_password()
            services.set_password(user, new_password)
            services.record_audit("password_reset", user=actor, target=user.username)
            db.session.commit()
    elif form.validate_on_submit():
        changes = {}
        try:
            if form.role.data != user.role:
                changes["role"] = [user.role, form.role.data]
                services.set_role(user, form.role.data)
            if bool(form.active.data) != user.active:
                changes["active"] = [user.active, bool(form.active.data)]
                services.set_active(user, bool(form.active.data))
        except services.AccountError as error:
            db.session.rollback()
            form.active.errors = [str(error)]
        else:
            if changes:
                services.record_audit(
                    "user_changed", user=actor, target=user.username, details=changes
                )
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("users.users"))
    return render_template("users/edit.html", form=form, user=user, new_password=new_password)


AUDIT_PAGE_SIZE = 100


@bp.route("/audit")
@roles_required(Role.COORDINATOR)
def audit() -> str:
    """The audit log with filters."""
    form = AuditFilterForm(request.args)
    form.action.choices = [SelectChoice("", _("All actions"))] + [
        SelectChoice(a, audit_words.action_label(a)) for a in services.audit_actions()
    ]
    form.validate()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    until = form.until.data + dt.timedelta(days=1) if form.until.data else None
    since = (
        dt.datetime.combine(form.since.data, dt.time(), tzinfo=dt.UTC) if form.since.data else None
    )
    until_at = dt.datetime.combine(until, dt.time(), tzinfo=dt.UTC) if until else None
    entries = services.audit_entries(
        since=since,
        until=until_at,
        action=form.action.data or None,
        username=(form.username.data or "").strip() or None,
        limit=AUDIT_PAGE_SIZE + 1,
        offset=(page - 1) * AUDIT_PAGE_SIZE,
    )
    return render_template(
        "users/audit.html",
        audit_action=audit_words.action_label,
        audit_detail=audit_words.detail_label,
        audit_value=audit_words.readable_value,
        form=form,
        entries=entries[:AUDIT_PAGE_SIZE],
        page=page,
        has_next=len(entries) > AUDIT_PAGE_SIZE,
        filter_args={k: v for k, v in request.args.items() if k != "page"},
    )
