"""Log in and out, change one's password, manage accounts, read the audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from markupsafe import Markup
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from survey.extensions import db, login_manager
from survey.i18n import format_datetime
from survey.users import audit_words, services, sessions
from survey.users import two_factor as two_factor_module
from survey.users.access import any_role, public, roles_required
from survey.users.forms import (
    ROLE_CHOICES,
    AuditFilterForm,
    CodeForm,
    ConfirmForm,
    LoginForm,
    PasswordChangeForm,
    TwoFactorDisableForm,
    UserCreateForm,
    UserEditForm,
)
from survey.users.models import Role, User, utcnow
from survey.users.tokens import token_hash

bp = Blueprint("users", __name__)

login_manager.login_view = "users.login"
login_manager.login_message = None


def _lifetime() -> sessions.Lifetime:
    config = current_app.config
    return sessions.Lifetime(
        idle=dt.timedelta(minutes=config["IDLE_TIMEOUT_MINUTES"]),
        absolute=dt.timedelta(hours=config["SESSION_ABSOLUTE_HOURS"]),
    )


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the active user whose server-side session this cookie names."""
    token = session.get("sid")
    if not isinstance(token, str) or not user_id.isdigit():
        return None
    # Whatever was pending before the check is committed as before; a request that only read
    # its session row has nothing to commit (a commit would also expire the row and reload it).
    pending = bool(db.session.new or db.session.dirty or db.session.deleted)
    found = sessions.check(token, int(user_id), _lifetime())
    if found.wrote or pending:
        db.session.commit()  # the touch, or the end of an idle session
    if found.record is None:
        g.session_end_reason = found.reason
        return None
    user = db.session.get(User, int(user_id))  # the session's own user: check compared them
    return user if user is not None and user.active else None


SESSION_ENDED_MESSAGES = {
    "idle": _l("You were logged out after a long time without activity."),
    "expired": _l("Your session reached its maximum length. Log in again."),
    "ended": _l("Your session was ended (logged out, or your account changed). Log in again."),
}

# Pages an account that must replace its password (or set up two-factor login) may still open.
SETUP_ENDPOINTS = frozenset(
    {"users.change_password", "users.logout", "users.two_factor", "static", "i18n.set_language"}
)


@bp.before_app_request
def check_login_session() -> Response | None:
    """Check the server-side session of a logged-in cookie; a session ended elsewhere ends here."""
    if "_user_id" not in session or request.endpoint == "static":
        return None
    if current_user.is_authenticated:
        if request.blueprint in {"openrosa", "openrosa_key"}:
            return None
        if current_user.must_change_password and request.endpoint not in SETUP_ENDPOINTS:
            flash(_("Choose a new password of your own before going on."), "info")
            return redirect(url_for("users.change_password"))
        if (
            two_factor_module.required_for(current_user, current_app.config)
            and not current_user.totp_secret
            and request.endpoint not in SETUP_ENDPOINTS
        ):
            flash(_("Your role requires two-factor login. Set it up before going on."), "info")
            return redirect(url_for("users.two_factor"))
        return None
    reason = g.pop("session_end_reason", "")
    logout_user()
    session.clear()
    if reason in SESSION_ENDED_MESSAGES:
        flash(str(SESSION_ENDED_MESSAGES[reason]), "info")
    return None


def _safe_next(target: str | None) -> str:
    """A redirect target on this site: a path, never a scheme, host or control character.

    Browsers drop tabs and newlines inside URLs ('/\t/evil.example' becomes '//evil.example')
    and treat a backslash as a slash, so any of them refuses the target outright.
    """
    fallback = url_for("collection.home")
    if not target or len(target) > 2000:
        return fallback
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c == "\\" for c in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return fallback
    if parts.path.startswith("//"):
        return fallback
    return target


def _first_login_file() -> str | None:
    """The path of instance/first-login.txt while it exists, for admins to be reminded."""
    if not current_user.has_role(Role.ADMIN):
        return None
    path = Path(current_app.instance_path) / "first-login.txt"
    return str(path) if path.exists() else None


def _start_session(user: User) -> None:
    """Log user in with a fresh server-side session (the cookie gets only its random id)."""
    next_target = session.get("login_next")
    chosen = session.get("lang")  # picked on the login page: it follows the account
    session.clear()
    token = sessions.start_session(user, request.user_agent.string)
    login_user(user)
    if chosen in current_app.config["LANGUAGES"]:
        user.language = chosen
    if user.language:
        session["lang"] = g.chosen_language = user.language
    session.permanent = True
    session["sid"] = token
    if next_target:
        session["login_next"] = next_target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> str | Response | tuple[str, int]:
    """Show the login form and log in (then ask for the second factor, if the account has one)."""
    if current_user.is_authenticated:
        return redirect(url_for("collection.home"))
    form = LoginForm()
    if form.validate_on_submit():
        if current_app.config.get("RATELIMIT_ENABLED", True) and services.login_rate_exceeded(
            request.remote_addr or "", current_app.config["LOGIN_ATTEMPTS_PER_MINUTE"]
        ):
            form.password.errors = [
                _("Too many login attempts from this network. Wait a minute and try again.")
            ]
            return render_template("users/login.html", form=form), 429
        username = (form.username.data or "").strip()
        attempt = services.authenticate(username, form.password.data or "")
        if attempt.user is None:
            services.record_audit(
                "login_failed", details=services.failed_login_details(username, attempt)
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
        elif attempt.user.totp_secret:
            db.session.commit()
            chosen = session.get("lang")
            session.clear()
            if chosen:
                session["lang"] = chosen
            session["pending_user"] = attempt.user.id
            session["pending_at"] = utcnow().timestamp()
            session["login_next"] = _safe_next(request.args.get("next"))
            return redirect(url_for("users.login_code"))
        else:
            _start_session(attempt.user)
            services.record_audit("login", user=attempt.user)
            db.session.commit()
            if first_login := _first_login_file():
                flash(
                    _(
                        "The file %(path)s still holds the first admin password. "
                        "Delete it from the server now.",
                        path=first_login,
                    ),
                    "warning",
                )
            return redirect(_safe_next(request.args.get("next")))
    return render_template("users/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Response:
    """Log out (POST only, so a link cannot log anyone out); the session ends on the server."""
    token = session.get("sid")
    if isinstance(token, str):
        sessions.end_session(token)
    if current_user.is_authenticated:
        services.record_audit("logout", user=current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("users.login"))


@bp.route("/account/sessions", methods=["GET", "POST"])
@any_role
def my_sessions() -> str | Response:
    """One's own active sessions; end one, or all of them ("log out everywhere")."""
    user = current_user._get_current_object()
    form = ConfirmForm()
    if form.validate_on_submit():
        if request.form.get("everywhere"):
            count = sessions.end_all_sessions(user)
            services.record_audit(
                "sessions_ended", user=user, details={"count": count, "everywhere": True}
            )
            db.session.commit()
            logout_user()
            session.clear()
            flash(_("You are logged out everywhere."), "info")
            return redirect(url_for("users.login"))
        session_id = request.form.get("session_id", type=int)
        if session_id is not None and sessions.end_session_by_id(user, session_id):
            services.record_audit("sessions_ended", user=user, details={"count": 1})
            db.session.commit()
            flash(_("That session was ended."), "success")
        return redirect(url_for("users.my_sessions"))
    token = session.get("sid")
    current_hash = token_hash(token) if isinstance(token, str) else None
    return render_template(
        "users/sessions.html",
        form=form,
        sessions=sessions.active_sessions(user, _lifetime()),
        current_hash=current_hash,
    )


@bp.route("/account/password", methods=["GET", "POST"])
@any_role
def change_password() -> str | Response:
    """Change one's own password: every other session ends, this one starts afresh."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(user, form.current.data or "", form.new.data or "")
        except services.AccountError as error:
            db.session.rollback()
            form.new.errors = [str(error)]
        else:
            services.record_audit("password_changed", user=user)
            _start_session(user)
            db.session.commit()
            flash(_("Your password was changed. Your other sessions were ended."), "success")
            return redirect(url_for("collection.home"))
    return render_template("users/password.html", form=form)


def may_manage(user: User) -> bool:
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
            user = services.create_user(
                form.username.data or "", password, form.role.data, generated=True
            )
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
    visible = [u for u in services.list_users() if may_manage(u) or u.id == current_user.id]
    return render_template(
        "users/list.html",
        form=form,
        users=visible,
        new_password=new_password,
        role_names={c.value: c.label for c in ROLE_CHOICES},
        first_login_file=_first_login_file(),
    ), (422 if form.errors else 200)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def edit_user(user_id: int) -> Any:
    """Change an account's role or status, or reset its password."""
    user = db.session.get(User, user_id)
    if user is None or not may_manage(user):
        abort(404)
    form = UserEditForm(obj=user)
    if not current_user.has_role(Role.ADMIN):
        form.role.choices = [c for c in ROLE_CHOICES if c.value == "volunteer"]
    new_password = None
    actor = current_user._get_current_object()
    if request.method == "POST" and request.form.get("reset_password"):
        if form.validate():  # CSRF
            new_password = services.generate_password()
            services.set_password(user, new_password, generated=True)
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


PENDING_LOGIN_SECONDS = 300


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code() -> str | Response | tuple[str, int]:
    """The second step of a login: a code from the authenticator app, or a recovery code."""
    if current_user.is_authenticated:
        return redirect(url_for("collection.home"))
    user_id, started = session.get("pending_user"), session.get("pending_at")
    if not isinstance(user_id, int) or not isinstance(started, int | float):
        return redirect(url_for("users.login"))
    if utcnow().timestamp() - started > PENDING_LOGIN_SECONDS:
        session.clear()
        flash(_("The login took too long. Log in again."), "info")
        return redirect(url_for("users.login"))
    user = db.session.get(User, user_id)
    if user is None or not user.active or not user.totp_secret:
        session.clear()
        return redirect(url_for("users.login"))
    form = CodeForm()
    if form.validate_on_submit():
        code = form.code.data or ""
        if services.second_factor_locked(user):
            form.code.errors = [_("Too many wrong codes. Log in again in 15 minutes.")]
            return render_template("users/login_code.html", form=form), 429
        used = "totp" if two_factor_module.code_is_valid(user.totp_secret, code) else None
        if used is None and two_factor_module.use_recovery_code(user, code):
            used = "recovery"
        if used is None:
            services.record_audit("login_failed", user=user, details={"second_factor": True})
            db.session.commit()
            form.code.errors = [_("This code is not valid. Try the newest one.")]
        else:
            services.second_factor_passed(user)
            _start_session(user)
            services.record_audit("login", user=user, details={"second_factor": used})
            db.session.commit()
            if used == "recovery":
                left = len(user.recovery_code_hashes or [])
                flash(_("A recovery code was used; %(n)d are left.", n=left), "info")
            return redirect(session.pop("login_next", None) or url_for("collection.home"))
    return render_template("users/login_code.html", form=form)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@any_role
def two_factor() -> str | Response:
    """Set up, renew or turn off two-factor login for one's own account."""
    user = current_user._get_current_object()
    required = two_factor_module.required_for(user, current_app.config)
    if user.totp_secret:
        form = TwoFactorDisableForm()
        if form.validate_on_submit():
            if required:
                abort(403)
            if not services.password_matches(user, form.password.data or "") or not (
                two_factor_module.code_is_valid(user.totp_secret, form.code.data or "")
            ):
                form.code.errors = [_("The password or the code is wrong.")]
            else:
                two_factor_module.disable(user)
                services.record_audit("two_factor_disabled", user=user)
                db.session.commit()
                flash(_("Two-factor login is off."), "success")
                return redirect(url_for("users.two_factor"))
        return render_template(
            "users/two_factor.html",
            enabled=True,
            required=required,
            form=form,
            left=len(user.recovery_code_hashes or []),
        )
    secret = session.get("totp_setup")
    if not isinstance(secret, str):
        secret = session["totp_setup"] = two_factor_module.new_secret()
    form = CodeForm()
    if form.validate_on_submit():
        if two_factor_module.code_is_valid(secret, form.code.data or ""):
            codes = two_factor_module.enable(user, secret)
            session.pop("totp_setup", None)
            services.record_audit("two_factor_enabled", user=user)
            db.session.commit()
            return render_template("users/recovery_codes.html", codes=codes)
        form.code.errors = [_("This code is not valid. Check the phone's clock and try again.")]
    uri = two_factor_module.provisioning_uri(user.username, secret)
    return render_template(
        "users/two_factor.html",
        enabled=False,
        required=required,
        form=form,
        qr=Markup(two_factor_module.qr_svg(uri)),  # noqa: S704 - segno's SVG of our own URI
        secret=secret,
    )


# Device tokens are account pages too; their routes live in their own module.
from survey.users import device_views  # noqa: E402, F401
