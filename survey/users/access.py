"""One mechanism for access on every route: each view declares who may open it."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

from survey.users.models import Role

F = TypeVar("F", bound=Callable[..., Any])
ANONYMOUS = "anonymous"
EVERYONE = frozenset({ANONYMOUS, *(r.value for r in Role)})


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow logged-in users with one of these roles (admins always); others get 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = frozenset(str(r) for r in roles) | {Role.ADMIN.value}  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def any_role(view: F) -> F:
    """Allow every logged-in user."""
    return roles_required(*Role)(view)


def public(view: F) -> F:
    """Mark a view as open to everyone, logged in or not (login, logout, OpenRosa handshakes)."""
    view.allowed_roles = EVERYONE  # type: ignore[attr-defined]
    return view


def allowed_roles(view: Callable[..., Any]) -> frozenset[str] | None:
    """Who a view admits, as declared by its decorator (None: undeclared)."""
    return getattr(view, "allowed_roles", None)
