"""Tests of the REST API: the Flask test client and, end to end, gunicorn over real HTTP."""
