"""What the offline-capable form needs from the server: its service worker and fresh CSRF tokens.

The browser side is survey/static/js/offline.js (queue, encryption, sending; its header explains
the design and the threat model), survey/static/js/sw.js (caches) and survey/static/js/login.js
(the per-user key). Interviews queued offline are sent to the form's own URL
(collection.views.fill), which answers JSON when asked for it.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, request
from flask_wtf.csrf import generate_csrf
from werkzeug.wrappers import Response

from survey.users.access import any_role, public

bp = Blueprint("offline", __name__)


@bp.route("/sw.js")
@public
def service_worker() -> Response:
    """The service worker, from the site root so that its scope covers every page."""
    path = Path(current_app.static_folder or "") / "js" / "sw.js"
    response = Response(path.read_bytes(), mimetype="application/javascript")
    response.add_etag()
    response.make_conditional(request)
    response.headers["Service-Worker-Allowed"] = "/"
    # Revalidated on every check, so a new version reaches the field on the next visit.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/collect/token")
@any_role
def token() -> Response:
    """A fresh CSRF token for sending interviews queued while offline."""
    return jsonify(csrf_token=generate_csrf())
