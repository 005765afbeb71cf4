"""Entry point for WSGI servers: `gunicorn survey.wsgi:app`."""

import os

# One BLAS thread per worker, set before numpy loads (see survey/cli.py): gunicorn already runs
# a worker per core.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# A web worker computes intervals (SciPy) on most pages: load it as the worker starts, not on its
# first request. The CLI loads it only when it needs it.
import scipy.stats  # noqa: F401

from survey import create_app

app = create_app()
