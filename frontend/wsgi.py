"""The WSGI entry point gunicorn loads (``wsgi:app``)."""

from retail_dashboard import create_app

app = create_app()
