"""The intake blueprint ("collection"): its URL map, with the handlers grouped by audience.

views.py holds the volunteer's pages (the web form, receipts, own submissions, corrections);
manage_views.py the coordinators' and admins' (review, withdrawal, survey rounds).
"""

from flask import Blueprint

bp = Blueprint("collection", __name__)

# Imported for their routes, which register on bp (after bp exists: the modules import it).
from survey.collection import manage_views, views  # noqa: E402, F401
