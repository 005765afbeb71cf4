"""Entry point for WSGI servers: `gunicorn survey.wsgi:app`."""

# A web worker computes intervals (SciPy) on most pages: load it as the worker starts, not on its
# first request. The CLI loads it only when it needs it.
import scipy.stats  # noqa: F401

from survey import create_app

app = create_app()
