"""WSGI entry point for gunicorn (``wsgi:app``) and the ``flask`` command run from here."""

from retail_backend import create_app

app = create_app()
