"""Figures the docker group measures (times, sizes, failed requests), reported after the run.

Tests record them here; ``tests/docker/conftest.py`` prints them at the end of the session and
writes them to ``test-output/docker-figures.json``, so the numbers a note quotes come from the
run that proved them.
"""

from __future__ import annotations

import json
from pathlib import Path

FIGURES: dict[str, object] = {}


def record(name: str, value: object) -> None:
    """Keep one figure (a later value of the same name replaces the earlier one)."""
    FIGURES[name] = round(value, 2) if isinstance(value, float) else value


def report_lines() -> list[str]:
    """Return the figures as aligned lines."""
    width = max((len(name) for name in FIGURES), default=0)
    return [f"{name:<{width}}  {value}" for name, value in FIGURES.items()]


def write_json(path: Path) -> None:
    """Write the figures to ``path`` as JSON."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(FIGURES, indent=2) + "\n", encoding="utf-8")
