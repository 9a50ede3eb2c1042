"""Headless Chromium for the browser tests: where it is, how it starts, what the pages show.

Debian's Chromium through Playwright (no browser download), kept off the closed network: no
background connections, no component updates, no sync.
"""

from __future__ import annotations

import os
import re

from tests.conftest import require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip (fail under CI) when Playwright or Chromium is missing."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        require("playwright", exc)
    if not os.access(CHROMIUM, os.X_OK):
        require("Chromium", FileNotFoundError(CHROMIUM))


def launch(playwright):
    """Start Chromium, or skip (fail under CI) when it cannot start."""
    try:
        return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception as exc:  # noqa: BLE001 - any launch failure means no usable browser
        require("Chromium (launch)", exc)


def digits(text: str) -> str:
    """Keep the digits of a figure (``1,234.50`` -> ``123450``)."""
    return re.sub(r"\D", "", text)


def canvas_is_drawn(page, canvas_id: str) -> None:
    """Wait until Chart.js owns the canvas and has painted at least one pixel on it."""
    page.wait_for_function(
        """id => {
            const canvas = document.getElementById(id);
            if (!canvas || !window.Chart || !window.Chart.getChart(canvas)) return false;
            if (!canvas.width || !canvas.height) return false;
            const pixels = canvas.getContext("2d")
                .getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
            return false;
        }""",
        arg=canvas_id,
    )
