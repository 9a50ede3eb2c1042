"""Run the API on Flask's development server, as the first version of this system ran.

``python app.py`` (from backend/) serves on port 5001, or $PORT. For development and for the
benchmark's comparison only: production runs ``gunicorn -c gunicorn.conf.py``.
"""

import os

from retail_backend import create_app

if __name__ == "__main__":
    create_app().run(
        host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "5001"))
    )
