"""Entry point for WSGI servers: `gunicorn survey.wsgi:app`."""

# A web worker draws charts (matplotlib) and computes intervals (SciPy) on most pages: load them
# as the worker starts, not on its first request. The CLI loads them only when it needs them.
import matplotlib.figure  # noqa: F401
import scipy.stats  # noqa: F401

from survey import create_app

app = create_app()
