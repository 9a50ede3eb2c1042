"""Flask extension objects, created unbound so nothing imports the app at import time."""

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
