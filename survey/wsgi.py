"""Entry point for WSGI servers: `gunicorn survey.wsgi:app`."""

from survey import create_app

app = create_app()
