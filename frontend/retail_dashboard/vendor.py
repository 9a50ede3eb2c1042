"""Third-party browser code installed by npm, served by the app itself (no CDN).

Chart.js lives in ``node_modules/chart.js/dist`` beside the app (``npm ci`` puts it there in
development and in the image); ``CHARTJS_DIR`` points elsewhere when needed.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, send_from_directory

from .config import current_settings

bp = Blueprint("vendor", __name__)
CHARTJS_FILE = "chart.umd.min.js"  # the UMD build: defines window.Chart


@bp.get("/static/vendor/chart.js")
def chartjs() -> Response:
    """Serve Chart.js's UMD build; 404 (and the page draws no charts) if it is not installed."""
    directory = current_settings().chartjs_dir
    if not (directory / CHARTJS_FILE).is_file():
        abort(404, description="Chart.js is not installed (run npm ci in frontend/).")
    return send_from_directory(directory, CHARTJS_FILE, mimetype="text/javascript", max_age=3600)
